"""Finding packs: the one embedded in astra-gym and those installed with pip."""

from __future__ import annotations

import warnings
from importlib import metadata, resources
from pathlib import Path

from .packaging import ENTRY_POINT_GROUP

__all__ = ["EMBEDDED_PACKS", "demo_pack_path", "embedded_pack_path", "installed_packs"]

#: Packs shipped inside the astra_gym package itself.
EMBEDDED_PACKS = ("demo",)


def embedded_pack_path(name: str) -> Path:
    """The directory of a pack shipped inside astra-gym.

    Args:
        name: One of :data:`EMBEDDED_PACKS`.

    Returns:
        The pack directory.

    Raises:
        KeyError: For an unknown name.
    """
    if name not in EMBEDDED_PACKS:
        raise KeyError(f"no embedded pack {name!r}; embedded packs: {', '.join(EMBEDDED_PACKS)}")
    return Path(str(resources.files("astra_gym").joinpath("packs", name)))


def demo_pack_path() -> Path:
    """The embedded demo pack (there right after ``pip install astra-gym``)."""
    return embedded_pack_path("demo")


def installed_packs() -> dict[str, Path]:
    """Packs installed through the ``astra_gym.packs`` entry-point group.

    Each entry point names a callable that returns the pack directory. A
    broken entry point is skipped with a warning naming its distribution,
    so one bad pack cannot stop ``import astra_gym``.

    Returns:
        Entry-point name → pack directory, sorted by name.
    """
    found: dict[str, Path] = {}
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            target = entry.load()
            path = Path(target() if callable(target) else target)
        except Exception as exc:  # a third-party pack must not break astra_gym's import
            dist = entry.dist.name if entry.dist is not None else "unknown distribution"
            warnings.warn(f"skipping astra-gym pack entry point {entry.name!r} from {dist}: "
                          f"{type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)
            continue
        found.setdefault(entry.name, path)
    return found
