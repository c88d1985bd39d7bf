"""The curated builtins of the sandbox, built from the reviewed allowlist.

RestrictedPython 9 ships neither ``sorted`` nor ``zip`` nor ``dict`` (they
iterate in C and skip its iteration hook), yet LLM-written tools use them
everywhere. We ship our own set (:data:`.allowlist.ALLOWLIST` ``"builtins"``):
the constructors and reducers materialise through the session's meter
(charged, capped, sets in a stable order), ``range`` is capped, ``pow`` is the
size-guarded one, ``str``/``repr``/``ascii`` render stably, ``int`` refuses
results beyond ``max_int_bits``, and ``hash``, ``id``, ``open``, ``getattr``,
``type``, ``vars``, ``globals``, ``eval``, ``exec`` and friends are simply
absent. The container types (``list``, ``dict``, ``set``, ``str``, ``int``...)
are stand-ins from :func:`~.standins.guarded_type` whose *calls* are metered
while ``isinstance`` checks still see the real type.
"""

from __future__ import annotations

import builtins as _py
import functools
from collections.abc import Callable
from typing import Any

from .allowlist import SAFE, WRAPPED, names
from .meter import Meter
from .ordering import SET_TYPES, ordered
from .standins import guarded_type

__all__ = ["LAZY_C_ITERATORS", "build_builtins", "guarded_type", "ticking"]

_POINTER = 8
_NUMBERS = frozenset({int, float, bool})
_SMALL = 64
_MAX_CLASSINFO = 256  # classes in one isinstance/issubclass tuple (nesting included)
#: Lazy iterators implemented in C whose ``__next__`` calls their source's in C:
#: nested a hundred thousand deep they overflow the C stack when iterated.
LAZY_C_ITERATORS = frozenset({map, filter, zip, enumerate, reversed})


def ticking(iterator: Any, tick: Callable[[], Any]) -> Any:
    """``iterator``, one tick per item, advanced from a Python frame."""
    for item in iterator:
        tick()
        yield item


def build_builtins(meter: Meter, hooks: dict[str, Any]) -> dict[str, Any]:
    """The ``__builtins__`` mapping of one session.

    Args:
        meter: The session's meter (charges and caps).
        hooks: The session's guard hooks (:func:`~.guards.build_hooks`).

    Returns:
        A fresh dict; tool code cannot reach or modify another session's.
    """
    charge = meter.charge
    check_len = meter.check_len
    star = hooks["_star_"]
    add = hooks["_add_"]
    to_str = hooks["_str_"]
    tick = meter.tick
    int_result = hooks["int_result"]

    def materialise(iterable: Any) -> Any:
        items = star(iterable)
        check_len(len(items), "collection")
        return items

    def _list(iterable: Any = ()) -> list:
        return list(materialise(iterable))

    def _tuple(iterable: Any = ()) -> tuple:
        return tuple(materialise(iterable))

    def _set(iterable: Any = ()) -> set:
        items = materialise(iterable)
        charge(len(items) * 3 * _POINTER)
        return set(items)

    def _frozenset(iterable: Any = ()) -> frozenset:
        items = materialise(iterable)
        charge(len(items) * 3 * _POINTER)
        return frozenset(items)

    def _dict(*args: Any, **kwargs: Any) -> dict:
        if args:
            source = args[0]
            if not isinstance(source, dict) and not hasattr(source, "keys"):
                source = materialise(source)
            charge(len(source) * 3 * _POINTER)
            args = (source, *args[1:])
        charge(len(kwargs) * 3 * _POINTER)
        return dict(*args, **kwargs)

    def _sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list:
        items = materialise(iterable)
        n = len(items)
        charge(n * _POINTER * max(n.bit_length(), 1))
        return sorted(items, key=key, reverse=reverse)

    def _range(*args: Any) -> range:
        r = range(*args)
        check_len(len(r), "range")
        return r

    def _lazy_arg(value: Any) -> Any:
        kind = type(value)
        if kind in SET_TYPES:
            return ordered(value, charge)
        if kind in LAZY_C_ITERATORS:
            return ticking(value, tick)
        return value

    def _enumerate(iterable: Any, start: int = 0) -> Any:
        return enumerate(_lazy_arg(iterable), start)

    def _zip(*iterables: Any, strict: bool = False) -> Any:
        return zip(*[_lazy_arg(it) for it in iterables], strict=strict)

    def _map(func: Any, *iterables: Any) -> Any:
        return map(func, *[_lazy_arg(it) for it in iterables])

    def _filter(func: Any, iterable: Any) -> Any:
        return filter(func, _lazy_arg(iterable))

    def _iter(obj: Any) -> Any:
        return iter(_lazy_arg(obj))

    def _scanned(iterable: Any) -> Any:
        """An argument a C reducer will walk: charged when it is a big container."""
        kind = type(iterable)
        if kind in SET_TYPES:
            iterable = ordered(iterable, charge)
        elif kind in LAZY_C_ITERATORS:
            return ticking(iterable, tick)
        if hasattr(iterable, "__len__") and len(iterable) > _SMALL:
            charge(len(iterable) * _POINTER)
        return iterable

    def _min(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_scanned(args[0]),)
        return min(*args, **kwargs)

    def _max(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_scanned(args[0]),)
        return max(*args, **kwargs)

    def _all(iterable: Any) -> bool:
        return all(_scanned(iterable))

    def _any(iterable: Any) -> bool:
        return any(_scanned(iterable))

    def _sum(iterable: Any, /, start: Any = 0) -> Any:
        if type(start) is not int and hasattr(start, "__len__"):
            # sum(lists, []) concatenates: quadratic and unbounded; charge it.
            items = materialise(iterable)
            total = len(start) + sum(len(x) for x in items if hasattr(x, "__len__"))
            check_len(total, "sum of sequences")
            charge(total * _POINTER * max(len(items), 1))
            return sum(items, start)
        items = star(iterable)
        bits = 0
        for item in items:
            kind = type(item)
            if kind not in _NUMBERS:
                break
            if kind is int:
                bits += item.bit_length()
        else:
            if type(start) in _NUMBERS:
                charge(bits // 2)  # each addition is linear in the operands' size
                return int_result(sum(items, start), "sum")
        # Fractions, Decimals, ...: add through the size-checked `+` with a
        # tick per item (stdlib __add__ runs in host frames no tick sees).
        total = start
        for item in items:
            tick()
            total = add(total, item)
        return total

    def _classinfo(classinfo: Any) -> None:
        """A tuple of classes, walked (it may nest, and share sub-tuples) and bounded."""
        seen = 0
        stack = [classinfo]
        while stack:
            item = stack.pop()
            if type(item) is tuple:
                seen += len(item)
                if seen > _MAX_CLASSINFO:
                    raise TypeError(f"isinstance/issubclass: more than {_MAX_CLASSINFO} "
                                    "classes in the sandbox")
                stack.extend(item)

    def _isinstance(obj: Any, classinfo: Any) -> bool:
        if type(classinfo) is tuple:
            _classinfo(classinfo)
        return isinstance(obj, classinfo)

    def _issubclass(cls: Any, classinfo: Any) -> bool:
        if type(classinfo) is tuple:
            _classinfo(classinfo)
        return issubclass(cls, classinfo)

    def _hasattr(obj: Any, name: Any) -> bool:
        if type(name) is not str or name.startswith("_"):
            return False
        return hasattr(obj, name)

    def _str(*args: Any, **kwargs: Any) -> str:
        if not kwargs and len(args) == 1:
            return to_str(args[0])
        if not args and not kwargs:
            return ""
        # str(object=b'', encoding='utf-8', errors='strict')
        params = dict(zip(("object", "encoding", "errors"), args, strict=False))
        params.update(kwargs)
        if set(params) - {"object", "encoding", "errors"}:
            raise TypeError("str() got an unexpected keyword argument")
        if "encoding" not in params and "errors" not in params:
            return to_str(params.get("object", ""))
        return hooks["decode"](params.get("object", b""), params.get("encoding", "utf-8"),
                               params.get("errors", "strict"))

    def _int(*args: Any, **kwargs: Any) -> int:
        if args and isinstance(args[0], str | bytes | bytearray):
            charge(len(args[0]))
        return int_result(int(*args, **kwargs), "int()")

    def _parsed(real: type) -> Callable[..., Any]:
        # float('1' * 10**7) parses ten million characters on every call
        def build(*args: Any, **kwargs: Any) -> Any:
            if args and isinstance(args[0], str | bytes | bytearray):
                charge(len(args[0]))
            return real(*args, **kwargs)
        return build

    wrapped: dict[str, Any] = {
        "str": guarded_type(str, _str),
        "int": guarded_type(int, _int),
        "float": guarded_type(float, _parsed(float)),
        "complex": guarded_type(complex, _parsed(complex)),
        "list": guarded_type(list, _list),
        "tuple": guarded_type(tuple, _tuple),
        "set": guarded_type(set, _set),
        "frozenset": guarded_type(frozenset, _frozenset),
        "dict": guarded_type(dict, _dict),
        "range": guarded_type(range, _range),
        "sorted": _sorted,
        "enumerate": _enumerate,
        "zip": _zip,
        "map": _map,
        "filter": _filter,
        "iter": _iter,
        "min": _min,
        "max": _max,
        "sum": _sum,
        "all": _all,
        "any": _any,
        "hasattr": _hasattr,
        "isinstance": _isinstance,
        "issubclass": _issubclass,
        "pow": hooks["_pow_"],
        "format": hooks["format"],
        "round": hooks["round"],
        "repr": hooks["_repr_"],
        "ascii": hooks["ascii"],
        "divmod": hooks["divmod"],
    }
    if _CHECKED is None:
        _check_wrappers(wrapped)
    table = _safe_builtins().copy()
    table.update(wrapped)
    return table


_CHECKED: bool | None = None


def _check_wrappers(wrapped: dict[str, Any]) -> None:
    """The wrappers are exactly the allowlist's WRAPPED builtins (checked once)."""
    global _CHECKED
    expected = names("builtins", WRAPPED)
    if set(wrapped) != expected:  # pragma: no cover - a development-time consistency check
        raise RuntimeError(f"builtins wrappers {sorted(set(wrapped) ^ expected)} disagree with "
                           "the allowlist")
    _CHECKED = True


@functools.cache
def _safe_builtins() -> dict[str, Any]:
    """The real objects of the allowlist's SAFE builtins (copied into each session)."""
    return {name: getattr(_py, name) for name in names("builtins", SAFE)}
