"""The user cache directory of astra-gym (indices, embeddings, imported packs).

One place decides it, so every cache moves together with one variable.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_cache_dir"]


def default_cache_dir() -> Path:
    """Where astra-gym keeps what it can rebuild (nothing here is ever needed).

    Returns:
        ``$ASTRA_GYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/astra-gym``, else
        ``~/.cache/astra-gym``.
    """
    explicit = os.environ.get("ASTRA_GYM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "astra-gym"
