"""BFCL multi-turn (base, long context, missing function, missing parameter) as astra envs.

``astra-gym import bfcl --out DIR`` writes a pack per category from the data in
the installed ``bfcl-eval`` wheel; ``gym.make("astra/bfcl-mt-base-v0")`` builds
it into the user cache on first use. The tools run on BFCL's own classes as
*trusted backends* (:mod:`astra_gym.bfcl.backend`): fresh instances per
episode, calls dispatched to public methods, nothing ever ``eval``-ed. Each user
turn is judged as BFCL's ``multi_turn_checker`` judges it
(:mod:`astra_gym.bfcl.judge`). See docs/bfcl.md.

Install bfcl-eval without its 6 GB of dependencies::

    python -m pip install --no-deps "bfcl-eval==2026.3.23" mpmath

This package imports nothing from bfcl-eval until it is used.
"""

from __future__ import annotations

from .envs import ENV_CATEGORIES, bfcl_env_id, ensure_pack, make_bfcl_env, register_bfcl_envs
from .source import CATEGORIES, INSTALL_COMMAND, BfclMissingError, require_bfcl

__all__ = ["CATEGORIES", "ENV_CATEGORIES", "INSTALL_COMMAND", "BfclMissingError",
           "bfcl_env_id", "ensure_pack", "import_bfcl", "make_bfcl_env", "register_bfcl_envs",
           "require_bfcl"]


def import_bfcl(*args, **kwargs):  # type: ignore[no-untyped-def]
    """See :func:`astra_gym.bfcl.importer.import_bfcl` (imported on first use)."""
    from .importer import import_bfcl as run

    return run(*args, **kwargs)
