"""The curated builtins of the sandbox.

RestrictedPython 9 ships neither ``sorted`` nor ``zip`` nor ``dict`` (they
iterate in C and skip its iteration hook), yet LLM-written tools use them
everywhere. We ship our own set: the constructors and reducers materialise
through the session's meter (charged, capped, sets in a stable order), ``range``
is capped, ``pow`` is the size-guarded one, ``slice`` is absent (so every
slice is syntactic and goes through the charged ``_getitem_``), and ``hash``, ``id``, ``open``,
``getattr``, ``type``, ``vars``, ``globals``, ``eval``, ``exec`` and friends are
simply absent. Scalar types (``int``, ``str``, ...) are the real types; the container types
(``list``, ``dict``, ``set``, ...) are stand-ins from :func:`guarded_type`
whose *calls* are metered while ``isinstance`` checks still see the real type.
"""

from __future__ import annotations

import builtins as _py
from collections.abc import Callable
from typing import Any

from .meter import Meter
from .ordering import SET_TYPES, ordered

__all__ = ["build_builtins", "guarded_type"]

_POINTER = 8
_NUMBERS = frozenset({int, float, bool})

_PLAIN_NAMES = (
    "abs", "ascii", "bin", "bool", "callable", "chr", "complex", "divmod", "float", "hex",
    "int", "isinstance", "issubclass", "len", "oct", "ord", "str",
    "staticmethod", "classmethod", "property", "all", "any", "next", "NotImplemented",
    "Ellipsis", "True", "False", "None",
    # class statements: RestrictedPython adds metaclass=__metaclass__ (ours)
    "__build_class__",
)
_EXCEPTIONS = (
    "ArithmeticError", "AssertionError", "AttributeError", "Exception", "FloatingPointError",
    "IndexError", "KeyError", "LookupError", "NameError", "NotImplementedError",
    "OverflowError", "RecursionError", "RuntimeError", "StopIteration", "TypeError",
    "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "ValueError",
    "ZeroDivisionError", "Warning", "UserWarning", "DeprecationWarning",
)


def guarded_type(real: type, build: Callable[..., Any]) -> type:
    """A subclass-free stand-in for a container type.

    ``isinstance(x, list)`` must keep working for tool code, so the name ``list``
    has to stay bound to something ``isinstance`` accepts as ``list``. A
    metaclass with ``__instancecheck__`` gives exactly that while routing
    ``list(iterable)`` through the meter.
    """

    class _Meta(type):
        def __call__(cls, *args: Any, **kwargs: Any) -> Any:
            return build(*args, **kwargs)

        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, real)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, real)

        def __getattr__(cls, name: str) -> Any:
            return getattr(real, name)

        def __repr__(cls) -> str:
            return repr(real)

    return _Meta(real.__name__, (), {"__slots__": (), "_astra_real": real})


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
    tick = meter.tick

    def materialise(iterable: Any) -> Any:
        items = star(iterable)
        check_len(len(items), "collection")
        return items

    def _list(iterable: Any = ()) -> list:
        items = materialise(iterable)
        charge(len(items) * _POINTER)
        return list(items)

    def _tuple(iterable: Any = ()) -> tuple:
        items = materialise(iterable)
        charge(len(items) * _POINTER)
        return tuple(items)

    def _set(iterable: Any = ()) -> set:
        items = materialise(iterable)
        charge(len(items) * 4 * _POINTER)
        return set(items)

    def _frozenset(iterable: Any = ()) -> frozenset:
        items = materialise(iterable)
        charge(len(items) * 4 * _POINTER)
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

    def _ordered_arg(value: Any) -> Any:
        return ordered(value) if type(value) in SET_TYPES else value

    def _enumerate(iterable: Any, start: int = 0) -> Any:
        return enumerate(_ordered_arg(iterable), start)

    def _zip(*iterables: Any, strict: bool = False) -> Any:
        return zip(*[_ordered_arg(it) for it in iterables], strict=strict)

    def _map(func: Any, *iterables: Any) -> Any:
        return map(func, *[_ordered_arg(it) for it in iterables])

    def _filter(func: Any, iterable: Any) -> Any:
        return filter(func, _ordered_arg(iterable))

    def _iter(obj: Any) -> Any:
        return iter(_ordered_arg(obj))

    def _min(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_ordered_arg(args[0]),)
        return min(*args, **kwargs)

    def _max(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            args = (_ordered_arg(args[0]),)
        return max(*args, **kwargs)

    def _sum(iterable: Any, /, start: Any = 0) -> Any:
        if type(start) is not int and hasattr(start, "__len__"):
            # sum(lists, []) concatenates: quadratic and unbounded; charge it.
            items = materialise(iterable)
            total = len(start) + sum(len(x) for x in items if hasattr(x, "__len__"))
            check_len(total, "sum of sequences")
            charge(total * _POINTER * max(len(items), 1))
            return sum(items, start)
        items = star(iterable)
        if type(start) in _NUMBERS and all(type(x) in _NUMBERS for x in items):
            return sum(items, start)
        # Fractions, Decimals, ...: add through the size-checked `+` with a
        # tick per item (stdlib __add__ runs in host frames no tick sees).
        total = start
        for item in items:
            tick()
            total = add(total, item)
        return total

    def _hasattr(obj: Any, name: Any) -> bool:
        if type(name) is not str or name.startswith("_"):
            return False
        return hasattr(obj, name)

    table: dict[str, Any] = {name: getattr(_py, name) for name in _PLAIN_NAMES}
    table.update({name: getattr(_py, name) for name in _EXCEPTIONS})
    table.update({
        "list": guarded_type(list, _list),
        "tuple": guarded_type(tuple, _tuple),
        "set": guarded_type(set, _set),
        "frozenset": guarded_type(frozenset, _frozenset),
        "dict": guarded_type(dict, _dict),
        "range": guarded_type(range, _range),
        "sorted": _sorted,
        "reversed": reversed,
        "enumerate": _enumerate,
        "zip": _zip,
        "map": _map,
        "filter": _filter,
        "iter": _iter,
        "min": _min,
        "max": _max,
        "sum": _sum,
        "hasattr": _hasattr,
        "pow": hooks["_pow_"],
        "format": hooks["format"],
        "round": hooks["round"],
        "repr": hooks["_repr_"],
    })
    return table
