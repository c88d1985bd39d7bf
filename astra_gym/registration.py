"""Registering packs as Gymnasium env ids (``astra/<pack>-v<version>``).

Gymnasium 1.x no longer loads plugins from entry points, so ``import
astra_gym`` registers the embedded demo pack and every pack installed in the
``astra_gym.packs`` entry-point group itself. Registration reads only the
manifest: no task is parsed and no tool compiled until an env is made.
"""

from __future__ import annotations

import difflib
import json
import os
import warnings
from pathlib import Path

import gymnasium as gym

from .pack import EMBEDDED_PACKS, MANIFEST_FILE, Pack, embedded_pack_path, installed_packs

__all__ = ["ENTRY_POINT", "NAMESPACE", "VECTOR_ENTRY_POINT", "astra_env_ids", "env_id",
           "register_installed_packs", "register_pack", "unknown_env_message"]

#: Every astra env id lives in this namespace.
NAMESPACE = "astra"
#: The env class Gymnasium builds.
ENTRY_POINT = "astra_gym.env:AstraEnv"
#: What ``gym.make_vec`` builds (see :mod:`astra_gym.vector`).
VECTOR_ENTRY_POINT = "astra_gym.vector:vector_entry_point"


def env_id(name: str, version: int) -> str:
    """The env id of a pack (``astra/demo-v0``)."""
    return f"{NAMESPACE}/{name}-v{version}"


def _content_hash(path: str | os.PathLike[str]) -> str | None:
    try:
        manifest = json.loads((Path(path) / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("content_hash")


def register_pack(path: str | os.PathLike[str], *, override: bool = True) -> str:
    """Register a pack directory as a Gymnasium env.

    Args:
        path: The pack directory (``manifest.json`` + ``tasks.jsonl``).
        override: When another pack already holds the id: replace it (the
            default for explicit calls), or keep it and warn.

    Returns:
        The env id, ``astra/<name>-v<version>``.

    Raises:
        FileNotFoundError: When the directory is not a pack.
        PackFormatError: When its manifest is invalid.

    Example:
        >>> from astra_gym.pack import demo_pack_path
        >>> register_pack(demo_pack_path())
        'astra/demo-v0'
    """
    pack = Pack(path)  # reads and validates the manifest only
    resolved = str(Path(path).resolve())
    new_id = env_id(pack.name, pack.version)
    existing = gym.registry.get(new_id)
    if existing is not None:
        old_path = (existing.kwargs or {}).get("pack")
        if old_path == resolved:
            return new_id
        same_content = old_path is not None and \
            _content_hash(old_path) == pack.manifest["content_hash"]
        if same_content:
            return new_id  # the same pack installed twice (embedded + pip twin)
        if not override:
            warnings.warn(f"not registering pack at {resolved}: {new_id} is already registered "
                          f"for a different pack at {old_path}", RuntimeWarning, stacklevel=2)
            return new_id
        del gym.registry[new_id]
    gym.register(id=new_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                 kwargs={"pack": resolved})
    return new_id


def register_installed_packs() -> list[str]:
    """Register the embedded packs, every pip-installed pack, then the BFCL ids.

    The BFCL multi-turn ids (``astra/bfcl-mt-<category>-v0``) build their pack
    from the installed bfcl-eval on first ``gym.make`` (:mod:`astra_gym.bfcl.envs`).

    A pack that fails to load is skipped with a warning: one broken
    third-party pack must not break ``import astra_gym``.

    Returns:
        The env ids registered.
    """
    ids = []
    candidates = [embedded_pack_path(name) for name in EMBEDDED_PACKS]
    candidates += list(installed_packs().values())
    for path in candidates:
        try:
            ids.append(register_pack(path, override=False))
        except Exception as exc:  # a bad third-party pack must not break the import
            warnings.warn(f"skipping astra-gym pack at {path}: {type(exc).__name__}: {exc}",
                          RuntimeWarning, stacklevel=2)
    # BFCL's multi-turn categories: ids only, built from bfcl-eval on the first gym.make.
    from .bfcl.envs import register_bfcl_envs

    ids += register_bfcl_envs()
    return ids


def astra_env_ids() -> list[str]:
    """Every registered astra env id (``astra/...``), sorted."""
    return sorted(key for key in gym.registry if key.startswith(f"{NAMESPACE}/"))


def _pack_part(env_id: str) -> str:
    """``demo`` for ``astra/demo-v0`` (and for ``demo-v0`` or ``demo``)."""
    name = env_id.rsplit("/", 1)[-1]
    base, sep, version = name.rpartition("-v")
    return base if sep and version.isdigit() else name


def unknown_env_message(name: str) -> str | None:
    """Why ``name`` is not a registered env id, with the close matches and what exists.

    A mistyped id is the first thing a new user hits; Gymnasium's own error
    names neither the ids that exist nor the one that was meant.

    Args:
        name: The env id the user gave.

    Returns:
        ``None`` when ``name`` is registered, else one line: the unknown id,
        up to three close matches (difflib) and the available astra env ids.

    Example:
        >>> unknown_env_message("astra/demo-v0") is None
        True
        >>> print(unknown_env_message("astra/dmeo-v0"))  # doctest: +ELLIPSIS
        unknown env id 'astra/dmeo-v0'. Did you mean astra/demo-v0? Available: ...astra/demo-v0...
    """
    if name in gym.registry:
        return None
    available = astra_env_ids()
    # Compare the pack names only: the shared "astra/" and "-vN" would make every id look close.
    by_name: dict[str, list[str]] = {}
    for key in available:
        by_name.setdefault(_pack_part(key), []).append(key)
    close = [key for match in difflib.get_close_matches(_pack_part(name), list(by_name), n=3,
                                                        cutoff=0.75)
             for key in by_name[match]][:3]
    message = f"unknown env id {name!r}."
    if close:
        message += f" Did you mean {' or '.join(close)}?"
    # Packs first, then the ids built on first use (BFCL's categories).
    available.sort(key=lambda key: (gym.registry[key].entry_point != ENTRY_POINT, key))
    listed = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
    return f"{message} Available: {listed or 'none'} (or give a pack directory)."
