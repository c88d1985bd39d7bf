"""Stable iteration order and rendering of sandbox values.

A set of strings iterates in an order that depends on ``PYTHONHASHSEED``, and a
default ``repr`` shows a memory address, so the same tool call could print
``{'a', 'b'}`` or ``<Foo object at 0x7f..>`` differently in every process.
Everywhere the sandbox hands a set's elements on in sequence (``for`` loops,
``list()``, ``join``, rendering, ...) it goes through :func:`ordered` first, and
every rendering of a value (``str``, ``repr``, f-strings, ``%``, ``format``,
error messages, results) goes through :func:`stable_repr` /
:func:`stable_str`, which build the text themselves for every container-like
type the sandbox can produce (sets sorted at every depth, shared sub-structures
charged per visit, cycles shown as ``[...]``) and mask addresses in whatever
they delegate to ``repr``.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable
from typing import Any

__all__ = ["CONTAINER_TYPES", "SET_TYPES", "mask_addresses", "ordered", "ordered_if_set",
           "stable_repr", "stable_str"]

SET_TYPES = (set, frozenset)
#: Containers whose str()/repr() the sandbox renders itself (exact types; subclasses of
#: these are recognised by isinstance in :func:`stable_repr`).
CONTAINER_TYPES = frozenset({
    list, tuple, dict, set, frozenset, collections.deque, collections.Counter,
    collections.OrderedDict, collections.defaultdict,
    type({}.keys()), type({}.values()), type({}.items()),
    type(collections.OrderedDict().keys()), type(collections.OrderedDict().values()),
    type(collections.OrderedDict().items()),
})
# Element types whose natural order is total, so plain sorted() is stable.
_TOTAL_ORDER_KINDS = (frozenset({str}), frozenset({bytes}), frozenset({int}),
                      frozenset({int, float}), frozenset({float}), frozenset({int, bool}))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SCALARS = frozenset({str, int, float, bool, type(None), complex, bytes})
_VIEW_NAMES = {
    type({}.keys()): "dict_keys", type({}.values()): "dict_values",
    type({}.items()): "dict_items",
    type(collections.OrderedDict().keys()): "odict_keys",
    type(collections.OrderedDict().values()): "odict_values",
    type(collections.OrderedDict().items()): "odict_items",
}


def _no_charge(nbytes: int) -> None:
    return None


def mask_addresses(text: str) -> str:
    """``text`` with every `` at 0x...`` address replaced by `` at 0x?``."""
    return _ADDRESS.sub(" at 0x?", text) if " at 0x" in text else text


def ordered(values: set | frozenset, charge: Callable[[int], None] = _no_charge) -> list:
    """The elements of a set in a PYTHONHASHSEED-independent order.

    Strings, bytes and numbers sort naturally; anything else (mixed types,
    tuples, nested frozensets, whose ``<`` is only a partial order) sorts by
    ``(type name, stable repr)``. Objects that render alike keep the set's
    own order, which for instances of tool classes is deterministic too (the
    sandbox gives them sequence-number hashes).

    Args:
        values: The set.
        charge: Paid n log n (and the rendering of each key) before sorting: a
            ``for`` loop over a set of ten million items sorts for seconds.
    """
    n = len(values)
    if n > 1:
        charge(n * 8 * n.bit_length())
    kinds = frozenset(map(type, values))
    if kinds in _TOTAL_ORDER_KINDS:
        return sorted(values)
    return sorted(values, key=lambda value: (type(value).__name__, stable_repr(value, charge)))


def ordered_if_set(value: Any, charge: Callable[[int], None] = _no_charge) -> Any:
    """``value`` itself, or its ordered elements when it is a set."""
    if type(value) in SET_TYPES:
        return ordered(value, charge)
    return value


def _int_repr(value: int) -> str:
    try:
        return repr(value)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        return f"<int of {value.bit_length():,} bits>"


class _Renderer:
    """One rendering: a charge callback and the containers on the current path."""

    __slots__ = ("charge", "path")

    def __init__(self, charge: Callable[[int], None]) -> None:
        self.charge = charge
        self.path: set[int] = set()

    def items(self, values: Any, size: int) -> str:
        self.charge(8 * size + 64)
        return ", ".join([self.repr(v) for v in values])

    def repr(self, value: Any) -> str:
        kind = type(value)
        if kind in _SCALARS:
            if kind is str or kind is bytes:
                self.charge(len(value))  # before the copy: [s] * 600 of a 1 MB string
            return _int_repr(value) if kind is int else repr(value)
        key = id(value)
        if key in self.path:
            return "[...]" if isinstance(value, list) else "{...}"
        self.path.add(key)
        try:
            return self._container(value, kind)
        finally:
            self.path.discard(key)

    def _container(self, value: Any, kind: type) -> str:
        if kind is list:
            return f"[{self.items(value, len(value))}]"
        if kind is tuple:
            inner = self.items(value, len(value))
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if kind is dict:
            return f"{{{self.pairs(value)}}}"
        if kind is set or kind is frozenset:
            inner = self.items(ordered(value, self.charge), len(value))
            if kind is frozenset:
                return f"frozenset({{{inner}}})" if value else "frozenset()"
            return f"{{{inner}}}" if value else "set()"
        view = _VIEW_NAMES.get(kind)
        if view is not None:
            return f"{view}([{self.items(value, len(value))}])"
        if isinstance(value, BaseException):
            return f"{kind.__name__}({self.items(value.args, len(value.args))})"
        if isinstance(value, collections.deque):
            inner = f"{kind.__name__}([{self.items(value, len(value))}]"
            return inner + (f", maxlen={value.maxlen})" if value.maxlen is not None else ")")
        if isinstance(value, collections.Counter):
            if not value:
                return f"{kind.__name__}()"
            inner = ", ".join([f"{self.repr(k)}: {self.repr(v)}"
                               for k, v in value.most_common()])
            self.charge(16 * len(value) + 64)
            return f"{kind.__name__}({{{inner}}})"
        if isinstance(value, collections.OrderedDict):
            if not value:
                return f"{kind.__name__}()"
            return f"{kind.__name__}([{self.items(value.items(), len(value))}])"
        if isinstance(value, collections.defaultdict):
            return (f"{kind.__name__}({self.repr(value.default_factory)}, "
                    f"{{{self.pairs(value)}}})")
        if isinstance(value, tuple) and hasattr(kind, "_fields"):  # a namedtuple
            self.charge(16 * len(value) + 64)
            inner = ", ".join([f"{name}={self.repr(v)}"
                               for name, v in zip(kind._fields, value, strict=False)])
            return f"{kind.__name__}({inner})"
        if isinstance(value, list):
            return f"[{self.items(value, len(value))}]"
        if isinstance(value, tuple):
            return f"({self.items(value, len(value))})"
        if isinstance(value, dict):
            return f"{{{self.pairs(value)}}}"
        if isinstance(value, SET_TYPES):
            return f"{kind.__name__}({{{self.items(ordered(value, self.charge), len(value))}}})"
        return mask_addresses(repr(value))

    def pairs(self, mapping: Any) -> str:
        self.charge(16 * len(mapping) + 64)
        return ", ".join([f"{self.repr(k)}: {self.repr(v)}" for k, v in mapping.items()])


def stable_repr(value: Any, charge: Callable[[int], None] = _no_charge) -> str:
    """``repr(value)``, deterministic and charged.

    Args:
        value: Any object. Containers, ``collections`` types, dict views,
            namedtuples and exceptions are rendered here; other objects use
            their own ``repr`` with memory addresses masked.
        charge: Called with an allocation estimate for every container visited,
            so a structure whose rendering expands exponentially (a DAG of
            shared nodes) runs out of budget instead of memory.
    """
    return _Renderer(charge).repr(value)


def stable_str(value: Any, charge: Callable[[int], None] = _no_charge) -> str:
    """``str(value)``, deterministic and charged (see :func:`stable_repr`).

    Exceptions render like ``BaseException.__str__``: nothing, their one
    argument's ``str``, or the ``repr`` of their arguments (``KeyError`` shows
    its key's ``repr``).
    """
    kind = type(value)
    if kind is str:
        return value
    if kind in _SCALARS:
        if kind is bytes:
            charge(len(value))
        return _int_repr(value) if kind is int else str(value)
    if isinstance(value, BaseException):
        args = value.args
        if type(args) is not tuple:  # pragma: no cover - CPython keeps args a tuple
            args = tuple(args)
        if not args:
            return ""
        if len(args) == 1:
            if isinstance(value, KeyError):
                return stable_repr(args[0], charge)
            return stable_str(args[0], charge)
        return stable_repr(args, charge)
    if kind in CONTAINER_TYPES or isinstance(value, (list, tuple, dict, set, frozenset,
                                                     collections.deque)):
        return stable_repr(value, charge)
    return mask_addresses(str(value))
