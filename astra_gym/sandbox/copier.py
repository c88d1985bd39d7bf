"""``copy.copy`` and ``copy.deepcopy`` for sandbox data.

The stdlib copier follows ``__reduce_ex__`` and rebuilds objects by calling
what it returns and ``setattr()``-ing state in host frames: with the right
object it writes attributes of shared classes, and it walks any structure in
C-speed host Python that no tick sees. Tools copy *data*: containers of
scalars, the ``collections`` types, dates, decimals, and instances of classes
they defined themselves. This copier handles exactly those, ticks and charges
per node, keeps shared references and cycles shared (a memo, as the stdlib),
and refuses everything else with a clear error.
"""

from __future__ import annotations

import collections
import datetime as _dt
import decimal
import fractions
import re
import types
import uuid
from collections.abc import Callable
from typing import Any

from .meter import Meter

__all__ = ["Copier"]

_POINTER = 8
# Immutable values that are their own copy.
_ATOMIC = frozenset({
    type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis),
    type(NotImplemented), decimal.Decimal, fractions.Fraction, _dt.date, _dt.datetime,
    _dt.time, _dt.timedelta, _dt.timezone, uuid.UUID, re.Pattern, types.FunctionType,
    types.BuiltinFunctionType, types.MethodType, type,
})


class Copier:
    """The copy functions of one session.

    Args:
        meter: The session's meter (a tick per node, bytes charged per container).
        tool_classes: Classes defined by the session's tool code; their instances
            are copied attribute by attribute.
    """

    def __init__(self, meter: Meter, tool_classes: set[type]) -> None:
        self._meter = meter
        self._classes = tool_classes

    def _atomic(self, value: Any) -> bool:
        kind = type(value)
        return kind in _ATOMIC or isinstance(value, type) or (
            callable(value) and kind not in self._classes)

    def copy(self, value: Any) -> Any:
        """A shallow copy."""
        if self._atomic(value):
            return value
        kind = type(value)
        if hasattr(value, "__len__"):
            self._meter.charge(len(value) * _POINTER)
        if kind is list or kind is dict or kind is set or kind in (
                collections.OrderedDict, collections.Counter):
            return kind(value)
        if kind is tuple or kind is frozenset:
            return value
        if kind is collections.deque:
            return collections.deque(value, value.maxlen)
        if kind is collections.defaultdict:
            return collections.defaultdict(value.default_factory, value)
        if isinstance(value, tuple) and hasattr(kind, "_fields"):
            return value
        if kind in self._classes:
            return self._new_instance(value, dict(value.__dict__))
        raise TypeError(self._refusal(value))

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        """A deep copy. A caller's ``memo`` is not used: it is keyed by ``id()``,
        and memory addresses must never reach tool code (results would differ
        from run to run)."""
        return self._deep(value, {})

    def _deep(self, value: Any, memo: dict[int, Any]) -> Any:
        self._meter.tick()
        if self._atomic(value):
            return value
        key = id(value)
        if key in memo:
            return memo[key]
        kind = type(value)
        copy_of: Callable[[Any], Any] = lambda item: self._deep(item, memo)  # noqa: E731
        if hasattr(value, "__len__"):
            self._meter.charge(len(value) * _POINTER)
        if kind is list:
            result: Any = []
            memo[key] = result
            result.extend([copy_of(item) for item in value])
        elif kind is dict or kind is collections.OrderedDict or kind is collections.Counter:
            result = kind()
            memo[key] = result
            for k, v in value.items():
                result[copy_of(k)] = copy_of(v)
        elif kind is collections.defaultdict:
            result = collections.defaultdict(value.default_factory)
            memo[key] = result
            for k, v in value.items():
                result[copy_of(k)] = copy_of(v)
        elif kind is collections.deque:
            result = collections.deque(maxlen=value.maxlen)
            memo[key] = result
            result.extend([copy_of(item) for item in value])
        elif kind is set:
            result = set()
            memo[key] = result
            result.update([copy_of(item) for item in value])
        elif kind is tuple or kind is frozenset:
            items = [copy_of(item) for item in value]
            if key in memo:  # a cycle through a mutable member already made the copy
                return memo[key]
            result = kind(items)
            if all(a is b for a, b in zip(items, value, strict=True)):
                result = value
        elif isinstance(value, tuple) and hasattr(kind, "_fields"):
            result = kind(*[copy_of(item) for item in value])
        elif kind in self._classes:
            result = self._new_instance(value, None)
            memo[key] = result
            result.__dict__.update({k: copy_of(v) for k, v in value.__dict__.items()
                                    if k != "_astra_seq"})
            if isinstance(value, BaseException):
                result.args = tuple(copy_of(arg) for arg in value.args)
            return result
        else:
            raise TypeError(self._refusal(value))
        memo[key] = result
        return result

    def _new_instance(self, value: Any, state: dict[str, Any] | None) -> Any:
        kind = type(value)
        if isinstance(value, BaseException):
            result = BaseException.__new__(kind)
            result.args = value.args
        elif kind.__new__ is object.__new__:
            result = object.__new__(kind)
        else:
            raise TypeError(self._refusal(value))
        if state is not None:
            state.pop("_astra_seq", None)
            result.__dict__.update(state)
        return result

    @staticmethod
    def _refusal(value: Any) -> str:
        return (f"copy: {type(value).__name__} objects cannot be copied in the sandbox "
                "(copies cover containers, scalars, dates, decimals and instances of classes "
                "the tool defines)")
