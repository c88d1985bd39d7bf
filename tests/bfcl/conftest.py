"""Shared fixtures of the BFCL adapter tests: the four packs, imported once per session.

Most of these tests need bfcl-eval installed without its heavy dependencies (CI
does it): ``python -m pip install --no-deps "bfcl-eval==2026.3.23" mpmath``;
without it they are skipped with that command as the reason.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bfcl_packs(tmp_path_factory):
    """Category -> pack directory, all four categories imported from the installed wheel."""
    from astra_gym.bfcl.importer import import_bfcl

    return import_bfcl(tmp_path_factory.mktemp("bfcl-packs"), packaging=False)


@pytest.fixture()
def lazy_bfcl_ids():
    """The four BFCL ids as ``import astra_gym`` registers them, restored afterwards.

    Other tests register imported pack directories under the same ids
    (``register_pack`` replaces them); tests of the lazy ids start from a clean slate.
    """
    import gymnasium as gym

    from astra_gym.bfcl.envs import ENV_CATEGORIES, bfcl_env_id, register_bfcl_envs

    ids = [bfcl_env_id(category) for category in ENV_CATEGORIES]
    saved = {env_id: gym.registry.pop(env_id, None) for env_id in ids}
    register_bfcl_envs()
    yield ids
    for env_id, spec in saved.items():
        gym.registry.pop(env_id, None)
        if spec is not None:
            gym.registry[env_id] = spec
