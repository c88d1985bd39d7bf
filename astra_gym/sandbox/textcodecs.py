"""The text codecs tool code may name, resolved without touching the host's codec registry.

``codecs.lookup(name)`` with a name the tool chooses imports ``encodings.<name>``
modules and caches every miss in ``encodings._cache``: a loop over random names
grows the host's ``sys.modules`` and caches without bound. Names are therefore
resolved here, against a fixed table built once at import from the standard
library's own alias list, and only the C-implemented codecs are allowed
(pure-Python ones such as punycode or idna do superlinear work in host frames
that no tick sees).
"""

from __future__ import annotations

import codecs
import encodings.aliases
from typing import Any

__all__ = ["ALLOWED_CODECS", "codec_name"]

#: Canonical names of the codecs tool code may use.
ALLOWED_CODECS = ("utf-8", "ascii", "latin-1", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                  "utf-32-le", "utf-32-be", "cp1252", "gbk", "gb2312", "gb18030", "big5",
                  "shift_jis", "euc_jp", "euc_kr")
_MAX_NAME = 64


def _normalize(name: str) -> str:
    # encodings.normalize_encoding, plus case folding and '-' -> '_' (what the
    # registry's own search does before it consults the alias table).
    chars = [c if c.isalnum() or c == "." else "_" for c in name.strip().lower()]
    return "_".join(part for part in "".join(chars).split("_") if part)


def _build_table() -> dict[str, str]:
    table: dict[str, str] = {}
    modules = {}
    for canonical in ALLOWED_CODECS:
        codecs.lookup(canonical)  # a fixed set: the registry caches each once, here
        name = _normalize(canonical)
        module = encodings.aliases.aliases.get(name, name)  # what encodings would import
        modules[module] = canonical
        table[name] = canonical
        table[module] = canonical
        table[_normalize(codecs.lookup(canonical).name)] = canonical
    for alias, module in encodings.aliases.aliases.items():
        if module in modules:
            table[_normalize(alias)] = modules[module]
    return table


_TABLE = _build_table()


def codec_name(encoding: Any) -> str:
    """The canonical allowed codec for ``encoding``, or an error.

    Raises:
        TypeError: ``encoding`` is not a string.
        LookupError: the codec is unknown or not allowed in the sandbox.
    """
    if not isinstance(encoding, str):
        raise TypeError(f"encoding must be str, not {type(encoding).__name__}")
    found = _TABLE.get(_normalize(encoding[:_MAX_NAME])) if len(encoding) <= _MAX_NAME else None
    if found is None:
        shown = encoding if len(encoding) <= 40 else encoding[:40] + "..."
        raise LookupError(f"codec {shown!r} is not available in the sandbox (available: "
                          f"{', '.join(ALLOWED_CODECS)})")
    return found
