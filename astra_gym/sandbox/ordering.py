"""Stable iteration order for sets.

A set of strings iterates in an order that depends on ``PYTHONHASHSEED``, so
the same tool call could print ``{'a', 'b'}`` in one process and ``{'b', 'a'}``
in the next. Everywhere the sandbox hands a set's elements on in sequence
(``for`` loops, ``list()``, ``join``, rendering, ...) it goes through
:func:`ordered` first, which sorts them; incomparable elements fall back to a
``(type name, repr)`` key.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SET_TYPES", "ordered", "ordered_if_set"]

SET_TYPES = (set, frozenset)
_KEYS_TYPE = type({}.keys())


def _fallback_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, repr(value))


def ordered(values: set | frozenset) -> list:
    """The elements of a set in a PYTHONHASHSEED-independent order."""
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=_fallback_key)


def ordered_if_set(value: Any) -> Any:
    """``value`` itself, or its ordered elements when it is a set."""
    if type(value) in SET_TYPES:
        return ordered(value)
    return value
