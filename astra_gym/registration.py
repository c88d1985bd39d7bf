"""Registering packs as Gymnasium env ids (``astra/<pack>-v<version>``).

Gymnasium 1.x no longer loads plugins from entry points, so ``import
astra_gym`` registers the embedded demo pack and every pack installed in the
``astra_gym.packs`` entry-point group itself. Registration reads only the
manifest: no task is parsed and no tool compiled until an env is made.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import gymnasium as gym

from .pack import EMBEDDED_PACKS, MANIFEST_FILE, Pack, embedded_pack_path, installed_packs

__all__ = ["ENTRY_POINT", "NAMESPACE", "env_id", "register_installed_packs", "register_pack"]

#: Every astra env id lives in this namespace.
NAMESPACE = "astra"
#: The env class Gymnasium builds.
ENTRY_POINT = "astra_gym.env:AstraEnv"


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
    gym.register(id=new_id, entry_point=ENTRY_POINT, kwargs={"pack": resolved})
    return new_id


def register_installed_packs() -> list[str]:
    """Register the embedded packs, then every pip-installed pack.

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
    return ids
