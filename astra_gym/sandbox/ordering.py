"""Stable iteration order and rendering for sets.

A set of strings iterates in an order that depends on ``PYTHONHASHSEED``, so
the same tool call could print ``{'a', 'b'}`` in one process and ``{'b', 'a'}``
in the next. Everywhere the sandbox hands a set's elements on in sequence
(``for`` loops, ``list()``, ``join``, rendering, ...) it goes through
:func:`ordered` first, and container renderings go through
:func:`stable_repr`, which builds the repr itself with sets sorted at every
depth (dict keys included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CONTAINER_TYPES", "SET_TYPES", "ordered", "ordered_if_set", "stable_repr"]

SET_TYPES = (set, frozenset)
#: Containers whose str()/repr() the sandbox renders itself (stable_repr).
CONTAINER_TYPES = frozenset({list, tuple, dict, set, frozenset})
# Element types whose natural order is total, so plain sorted() is stable.
_TOTAL_ORDER_KINDS = (frozenset({str}), frozenset({bytes}), frozenset({int}),
                      frozenset({int, float}), frozenset({float}), frozenset({int, bool}))


def _no_charge(nbytes: int) -> None:
    return None


def ordered(values: set | frozenset) -> list:
    """The elements of a set in a PYTHONHASHSEED-independent order.

    Strings, bytes and numbers sort naturally; anything else (mixed types,
    tuples, nested frozensets, whose ``<`` is only a partial order) sorts by
    ``(type name, stable repr)``.
    """
    kinds = frozenset(map(type, values))
    if kinds in _TOTAL_ORDER_KINDS:
        return sorted(values)
    return sorted(values, key=_stable_key)


def _stable_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, stable_repr(value))


def ordered_if_set(value: Any) -> Any:
    """``value`` itself, or its ordered elements when it is a set."""
    if type(value) in SET_TYPES:
        return ordered(value)
    return value


def stable_repr(value: Any, charge: Callable[[int], None] = _no_charge) -> str:
    """``repr(value)`` with every set inside rendered in a stable order.

    Args:
        value: Any object; containers are walked, other values use ``repr``.
        charge: Called with an allocation estimate for every container visited,
            so a pathological structure (a DAG that expands exponentially)
            runs out of budget instead of memory.
    """
    kind = type(value)
    if kind is list or kind is tuple:
        charge(8 * len(value) + 64)
        inner = ", ".join([stable_repr(v, charge) for v in value])
        if kind is list:
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if kind is dict:
        charge(16 * len(value) + 64)
        inner = ", ".join([f"{stable_repr(k, charge)}: {stable_repr(v, charge)}"
                           for k, v in value.items()])
        return f"{{{inner}}}"
    if kind in SET_TYPES:
        charge(8 * len(value) + 64)
        inner = ", ".join([stable_repr(v, charge) for v in ordered(value)])
        if kind is frozenset:
            return f"frozenset({{{inner}}})" if value else "frozenset()"
        return f"{{{inner}}}" if value else "set()"
    return repr(value)
