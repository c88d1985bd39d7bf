"""Distractor indices built by these tests go to a temporary cache, not ~/.cache."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _distractor_cache(tmp_path_factory):
    old = os.environ.get("ASTRA_GYM_CACHE_DIR")
    os.environ["ASTRA_GYM_CACHE_DIR"] = str(tmp_path_factory.mktemp("astra-cache"))
    yield
    if old is None:
        os.environ.pop("ASTRA_GYM_CACHE_DIR", None)
    else:
        os.environ["ASTRA_GYM_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    """The band tests' env pack and pool pack (known embeddings: rl_packs.VECTORS)."""
    from rl_packs import write_band_packs

    from astra_gym.pack import Pack

    env_pack, pool_pack = write_band_packs(tmp_path_factory.mktemp("bands"))
    return Pack(env_pack), Pack(pool_pack)
