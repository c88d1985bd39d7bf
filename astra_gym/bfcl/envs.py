"""The ``astra/bfcl-mt-<category>-v0`` env ids, built on first use from the installed bfcl-eval.

``import astra_gym`` registers the four ids without importing bfcl-eval.
``gym.make("astra/bfcl-mt-base-v0")`` then imports the category into the
user cache (``$ASTRA_GYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/astra-gym``, else
``~/.cache/astra-gym``, under ``bfcl/<bfcl-eval version>-i<importer version>/``)
once, and opens the pack from there; a missing bfcl-eval is a clear error
naming the install command. Once a category is in the cache (``gym.make`` or
``astra-gym import bfcl`` without ``--out`` put it there), its id also names
the pack directory (``spec.kwargs["pack"]``), so ``astra-gym eval`` and
``astra-gym validate`` take the id.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym

__all__ = ["BFCL_ENV_KWARGS", "ENTRY_POINT", "ENV_CATEGORIES", "bfcl_env_id", "cache_root",
           "cached_pack_path", "ensure_pack", "make_bfcl_env", "register_bfcl_envs"]

#: What the ids make (:func:`make_bfcl_env`).
ENTRY_POINT = "astra_gym.bfcl.envs:make_bfcl_env"
#: Category -> the name part of its env id.
ENV_CATEGORIES = {"base": "base", "long_context": "long-context", "miss_func": "miss-func",
                  "miss_param": "miss-param"}
#: Defaults of the BFCL envs: BFCL has no per-step call limit (long-context turns hold up to
#: 34 calls), and ends a user turn itself after 20 steps with calls (the task says so).
BFCL_ENV_KWARGS: dict[str, Any] = {"max_calls_per_turn": 64}


def bfcl_env_id(category: str) -> str:
    """``astra/bfcl-mt-long-context-v0`` for ``long_context``.

    Raises:
        ValueError: For an unknown category.
    """
    if category not in ENV_CATEGORIES:
        raise ValueError(f"unknown BFCL multi-turn category {category!r}; choose from "
                         f"{', '.join(ENV_CATEGORIES)}")
    return f"astra/bfcl-mt-{ENV_CATEGORIES[category]}-v0"


def cache_root() -> Path:
    """The directory the lazily built packs go to (see the module docs)."""
    from ..cachedir import default_cache_dir

    return default_cache_dir()


def cached_pack_path(category: str, version: str,
                     root: str | os.PathLike[str] | None = None) -> Path:
    """Where the pack of a category for a bfcl-eval version lives in the cache (built or not)."""
    from .importer import IMPORTER_VERSION, pack_name

    base = Path(root) if root is not None else cache_root()
    return base / "bfcl" / f"{version}-i{IMPORTER_VERSION}" / pack_name(category)


def ensure_pack(category: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The pack directory of a category in the cache, importing it first if needed.

    Args:
        category: One of the four categories.
        root: The cache root (default :func:`cache_root`).

    Returns:
        The pack directory.

    Raises:
        BfclMissingError: When bfcl-eval is not installed.
    """
    from .importer import import_bfcl
    from .source import require_bfcl

    target = cached_pack_path(category, require_bfcl(), root)
    if (target / "manifest.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built aside and moved in whole: a concurrent or killed build never leaves half a pack.
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        built = import_bfcl(scratch, [category], packaging=False)[category]
        try:
            os.rename(built, target)
        except OSError:
            if not (target / "manifest.json").is_file():  # not another process's win
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def make_bfcl_env(category: str, **kwargs: Any) -> Any:
    """The entry point of the BFCL env ids: an :class:`~astra_gym.env.AstraEnv` of the category.

    Args:
        category: One of the four categories.
        **kwargs: ``AstraEnv`` options. ``pack`` is the cached pack the
            registration found; it is rebuilt when it has gone missing.

    Returns:
        The env.
    """
    from ..env import AstraEnv

    pack = kwargs.pop("pack", None)
    if pack is None or not (Path(pack) / "manifest.json").is_file():
        pack = ensure_pack(category)
    return AstraEnv(pack, **{**BFCL_ENV_KWARGS, **kwargs})


def register_bfcl_envs() -> list[str]:
    """Register the four ids (cheap: nothing is imported or built until ``gym.make``).

    An id that a pack already holds (an imported pack installed with pip) is
    kept. Calling it again refreshes the ids' ``pack`` (after a build).

    Returns:
        The ids registered by this call.
    """
    try:
        version: str | None = metadata.version("bfcl-eval")
    except metadata.PackageNotFoundError:
        version = None
    ids = []
    for category in ENV_CATEGORIES:
        env_id = bfcl_env_id(category)
        existing = gym.registry.get(env_id)
        if existing is not None and existing.entry_point != ENTRY_POINT:
            continue  # a pack holds it
        kwargs: dict[str, Any] = {"category": category}
        if version is not None:
            path = cached_pack_path(category, version)
            if (path / "manifest.json").is_file():
                kwargs["pack"] = str(path)
        if existing is not None:
            del gym.registry[env_id]
        gym.register(id=env_id, entry_point=ENTRY_POINT, kwargs=kwargs)
        ids.append(env_id)
    return ids
