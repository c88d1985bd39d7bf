"""The hooks that policy-compiled code calls, bound to one session's meter.

RestrictedPython turns ``a.b``, ``a[k]``, ``for x in it``, ``a[k] = v``,
``x += y`` and ``f(*a)`` into calls of ``_getattr_``, ``_getitem_``,
``_getiter_``, ``_write_``, ``_inplacevar_`` and ``_apply_``; our policy adds
``_tick_``, the operator guards, ``_fv_``, ``_str_``/``_repr_`` and ``_star_``.
:func:`build_hooks` returns all of them as closures over one :class:`Meter`, so
each call costs one Python-level function call and no dictionary lookups.
"""

from __future__ import annotations

import codecs
import collections
import operator
import sys
from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Any

from RestrictedPython.Guards import full_write_guard

from .formatting import format_value, percent_format, safe_format
from .meter import Meter
from .ordering import CONTAINER_TYPES, SET_TYPES, ordered, stable_repr

__all__ = ["GUARDED_METHODS", "WRITABLE_TYPES", "build_hooks"]

#: Objects tool code may assign items/attributes on (besides its own classes).
WRITABLE_TYPES = frozenset({dict, list, collections.defaultdict, collections.OrderedDict,
                            collections.Counter, collections.deque})

_SEQUENCE_TYPES = (str, bytes, list, tuple, bytearray)
_INT_TYPES = (int, bool)
_POINTER = 8  # bytes per list item, for charging
_NONE_TYPE = type(None)
_SCALARS = frozenset({str, int, float, bool, _NONE_TYPE, complex})

# Method names whose calls are routed through a size guard. Checking membership
# in this set first keeps ordinary attribute access at one getattr().
GUARDED_METHODS = frozenset({
    "ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "format",
    "format_map", "translate", "extend", "extendleft", "copy", "update", "fromkeys", "pop",
    "elements", "mro", "to_bytes", "encode", "decode",
})
# C-implemented codecs only: pure-Python ones (punycode, idna, ...) do
# superlinear work in host frames that no tick sees.
_SAFE_CODECS = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "utf-16", "utf-16-le",
                          "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "cp1252", "gbk",
                          "gb2312", "gb18030", "big5", "shift_jis", "euc_jp", "euc_kr"})
_DIGITS_PER_BIT = 0.30103


def _seq_bytes(value: Any, n: int) -> int:
    return n * (_POINTER if type(value) in (list, tuple) else 1)


def build_hooks(meter: Meter, writable_classes: set[type]) -> dict[str, Any]:
    """Create the guard hooks of one session.

    Args:
        meter: The session's operation meter.
        writable_classes: Classes defined by the session's tool code; their
            instances accept attribute writes.

    Returns:
        A mapping of hook name to callable, to merge into tool globals.
    """
    charge = meter.charge
    check_len = meter.check_len
    check_bits = meter.check_bits

    # ----------------------------------------------------------- operators
    def _repeat_guard(seq: Any, times: Any) -> None:
        if times > 0:
            n = len(seq) * times
            check_len(n, f"{type(seq).__name__} repetition")
            charge(_seq_bytes(seq, n))

    def _mul_(a: Any, b: Any) -> Any:
        ta = type(a)
        tb = type(b)
        if ta is float or tb is float:
            return a * b
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > meter.max_int_bits:
                check_bits(a.bit_length() + b.bit_length(), "integer product")
            return a * b
        if tb in _INT_TYPES and hasattr(a, "__len__"):
            _repeat_guard(a, b)
        elif ta in _INT_TYPES and hasattr(b, "__len__"):
            _repeat_guard(b, a)
        result = a * b
        if type(result) is Fraction:
            _check_fraction(result)
        return result

    def _check_fraction(value: Fraction) -> None:
        bits = value.numerator.bit_length() + value.denominator.bit_length()
        if bits > meter.max_int_bits:
            check_bits(bits, "fraction")
        charge(bits // 8)  # Fraction arithmetic costs time in proportion to its size

    def _pow_(a: Any, b: Any, mod: Any = None) -> Any:
        if mod is not None:
            return pow(a, b, mod)  # modular pow stays as small as `mod`
        ta = type(a)
        if type(b) in _INT_TYPES and b > 1 and ta in (int, bool, Fraction):
            base_bits = (a.bit_length() if ta is not Fraction
                         else a.numerator.bit_length() + a.denominator.bit_length())
            if base_bits > 1:
                bits = base_bits * b
                if bits > meter.max_int_bits:
                    check_bits(bits, "power")
                charge(bits // 8)
        return a**b

    def _lshift_(a: Any, b: Any) -> Any:
        if type(a) in _INT_TYPES and type(b) in _INT_TYPES and b > 0 and a:
            bits = a.bit_length() + b
            if bits > meter.max_int_bits:
                check_bits(bits, "left shift")
            charge(bits // 8)
        return a << b

    def _add_(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is int or ta is float:
            return a + b
        if isinstance(a, _SEQUENCE_TYPES) and isinstance(b, _SEQUENCE_TYPES):
            n = len(a) + len(b)
            check_len(n, f"{ta.__name__} concatenation")
            charge(_seq_bytes(a, n))
            return a + b
        result = a + b
        if type(result) is Fraction:
            _check_fraction(result)
        elif isinstance(result, dict):  # Counter + Counter
            check_len(len(result), "mapping")
        return result

    def _mod_(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is int or ta is float:
            return a % b
        if isinstance(a, str | bytes):
            return percent_format(meter, a, b)
        return a % b

    inplace_ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": _add_, "*=": _mul_, "**=": _pow_, "<<=": _lshift_, "%=": _mod_,
        "-=": operator.isub, "/=": operator.itruediv, "//=": operator.ifloordiv,
        ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior,
        "^=": operator.ixor, "@=": operator.imatmul,
    }

    def _inplacevar_(op: str, x: Any, y: Any) -> Any:
        if op == "+=" and type(x) is list:
            items = _star_(y)
            n = len(x) + len(items)
            check_len(n, "list")
            charge(len(items) * _POINTER)
            x += items
            return x
        return inplace_ops[op](x, y)

    # ------------------------------------------------------------ strings
    def _str_(value: Any) -> str:
        t = type(value)
        if t is str:
            return value
        if t in _SCALARS:
            return str(value)
        # Containers render through stable_repr (sets sorted at any depth,
        # each node charged); other objects keep their own str().
        text = stable_repr(value, charge) if t in CONTAINER_TYPES else str(value)
        check_len(len(text), "string")
        charge(len(text))
        return text

    def _repr_(value: Any) -> str:
        if type(value) in _SCALARS:
            return repr(value)
        text = stable_repr(value, charge)
        check_len(len(text), "string")
        charge(len(text))
        return text

    def _fv_(value: Any, conversion: int, spec: str) -> Any:
        if conversion == 114:  # !r
            value = _repr_(value)
        elif conversion == 115:  # !s
            value = _str_(value)
        elif conversion == 97:  # !a
            value = ascii(_repr_(value))
        if not spec:
            t = type(value)
            if t is str:
                return value
            if t in _SCALARS:
                return value
            return _str_(value)
        return format_value(meter, value, spec)

    def _fvs_(value: Any) -> Any:
        t = type(value)
        if t is str:
            if len(value) > 1024:  # f"{s}{s}" doubling: pay for what is copied
                charge(len(value))
            return value
        if t in _SCALARS:
            return value
        return _str_(value)

    def _format_builtin(value: Any, spec: str = "") -> str:
        if not spec:
            return _str_(value)
        return format_value(meter, value, spec)

    # ------------------------------------------------------------- methods
    def _s_pad(name: str) -> Callable[..., Any]:
        def pad(self: Any, width: Any, *fill: Any) -> Any:
            if type(width) in _INT_TYPES and width > len(self):
                check_len(width, f"str.{name}")
                charge(width)
            return getattr(type(self), name)(self, width, *fill)
        return pad

    def _s_zfill(self: Any, width: Any) -> Any:
        if type(width) in _INT_TYPES and width > len(self):
            check_len(width, "zfill")
            charge(width)
        return type(self).zfill(self, width)

    def _s_expandtabs(self: Any, tabsize: Any = 8) -> Any:
        if type(tabsize) in _INT_TYPES and tabsize > 1:
            n = len(self) + self.count("\t" if type(self) is str else b"\t") * tabsize
            check_len(n, "expandtabs")
            charge(n)
        return type(self).expandtabs(self, tabsize)

    def _s_replace(self: Any, old: Any, new: Any, count: Any = -1) -> Any:
        kind = type(self)
        if type(old) is kind and type(new) is kind and len(new) > len(old):
            hits = self.count(old) if old else len(self) + 1
            if type(count) in _INT_TYPES and count >= 0:
                hits = min(hits, count)
            n = len(self) + hits * (len(new) - len(old))
            check_len(n, "replace")
            charge(n)
        return kind.replace(self, old, new, count)

    def _s_join(self: Any, iterable: Any) -> Any:
        items = list(_star_(iterable))
        n = len(self) * max(len(items) - 1, 0)
        for item in items:
            n += len(item) if type(item) in (str, bytes) else 0
        check_len(n, "join")
        charge(n)
        return type(self).join(self, items)

    def _s_translate(self: Any, table: Any) -> Any:
        widest = 1
        if isinstance(table, dict):
            charge(len(table) * _POINTER)
            for value in table.values():
                if type(value) is str and len(value) > widest:
                    widest = len(value)
        n = len(self) * widest
        check_len(n, "translate")
        charge(n)
        return type(self).translate(self, table)

    def _s_format(self: Any, *args: Any, **kwargs: Any) -> str:
        return safe_format(meter, self, args, kwargs)

    def _s_format_map(self: Any, mapping: Any) -> str:
        return safe_format(meter, self, (), mapping)

    def _l_extend(self: Any, iterable: Any) -> None:
        items = iterable if type(iterable) in (list, tuple) else _star_(iterable)
        n = len(self) + len(items)
        check_len(n, "extend")
        charge(len(items) * _POINTER)
        type(self).extend(self, items)

    def _d_extendleft(self: Any, iterable: Any) -> None:
        items = _star_(iterable)
        charge(len(items) * _POINTER)
        self.extendleft(items)

    def _copy(self: Any) -> Any:
        charge(len(self) * _POINTER)
        return type(self).copy(self)

    def _d_update(self: Any, *args: Any, **kwargs: Any) -> None:
        for other in args:
            if hasattr(other, "__len__"):
                charge(len(other) * 2 * _POINTER)
        charge(len(kwargs) * 2 * _POINTER)
        type(self).update(self, *[ordered(a) if type(a) in SET_TYPES else a for a in args],
                          **kwargs)
        check_len(len(self), "mapping")

    def _d_fromkeys(cls: Any, iterable: Any, value: Any = None) -> Any:
        keys = _star_(iterable)
        charge(len(keys) * 2 * _POINTER)
        return cls.fromkeys(keys, value)

    def _set_pop(self: Any) -> Any:
        if not self:
            return self.pop()  # the usual KeyError
        first = ordered(self)[0]
        self.remove(first)
        return first

    def _counter_elements(self: Any) -> Any:
        for element, count in self.items():
            for _ in range(count):
                meter.tick()
                yield element

    def _to_bytes(self: Any, length: Any = 1, *args: Any, **kwargs: Any) -> bytes:
        if type(length) in _INT_TYPES and length > 0:
            check_len(length, "int.to_bytes")
            charge(length)
        return int.to_bytes(self, length, *args, **kwargs)

    def _codec(encoding: Any) -> str:
        name = codecs.lookup(encoding).name if isinstance(encoding, str) else encoding
        if name not in _SAFE_CODECS:
            raise LookupError(f"codec {encoding!r} is not available in the sandbox")
        return name

    def _s_encode(self: Any, encoding: Any = "utf-8", errors: str = "strict") -> bytes:
        charge(len(self) * 4)
        return str.encode(self, _codec(encoding), errors)

    def _b_decode(self: Any, encoding: Any = "utf-8", errors: str = "strict") -> str:
        charge(len(self) * 4)
        return type(self).decode(self, _codec(encoding), errors)

    def _round(number: Any, ndigits: Any = None) -> Any:
        # int.__round__ and Fraction.__round__ compute 10 ** |ndigits| in C.
        if (type(ndigits) in _INT_TYPES and type(number) in (int, bool, Fraction)
                and abs(ndigits) / _DIGITS_PER_BIT > meter.max_int_bits):
            check_bits(int(abs(ndigits) / _DIGITS_PER_BIT), "round()")
        return round(number) if ndigits is None else round(number, ndigits)

    def _handler_(ops: int) -> None:
        # Every raise walks the __context__ chain (cycle check), and a raise
        # inside a handler links to the handled exception, so catch-and-retry
        # code grows the chain without bound: quadratic time per tick. Cutting
        # the handled exception's context keeps chains at length <= 2; tool
        # error messages never show chained context anyway.
        exc = sys.exception()
        if exc is not None:
            exc.__context__ = None
        meter.spend(ops)

    string_methods: dict[str, Callable[..., Any]] = {
        "ljust": _s_pad("ljust"), "rjust": _s_pad("rjust"), "center": _s_pad("center"),
        "zfill": _s_zfill, "expandtabs": _s_expandtabs, "replace": _s_replace,
        "join": _s_join, "translate": _s_translate,
    }
    method_guards: dict[tuple[type, str], Callable[..., Any]] = {}
    for kind in (str, bytes, bytearray):
        for name, guard in string_methods.items():
            method_guards[(kind, name)] = guard
    method_guards[(str, "format")] = _s_format
    method_guards[(str, "format_map")] = _s_format_map
    for kind in (list, collections.deque):
        method_guards[(kind, "extend")] = _l_extend
        method_guards[(kind, "copy")] = _copy
    method_guards[(collections.deque, "extendleft")] = _d_extendleft
    for kind in (dict, set, frozenset, collections.OrderedDict, collections.defaultdict,
                 collections.Counter):
        method_guards[(kind, "copy")] = _copy
    for kind in (dict, collections.OrderedDict, collections.defaultdict, collections.Counter):
        method_guards[(kind, "update")] = _d_update
    method_guards[(set, "pop")] = _set_pop
    method_guards[(collections.Counter, "elements")] = _counter_elements
    method_guards[(int, "to_bytes")] = _to_bytes
    method_guards[(str, "encode")] = _s_encode
    method_guards[(bytes, "decode")] = _b_decode
    method_guards[(bytearray, "decode")] = _b_decode
    class_methods: dict[tuple[type, str], Callable[..., Any]] = {
        (kind, "fromkeys"): _d_fromkeys
        for kind in (dict, collections.OrderedDict, collections.Counter)
    }

    def _getattr_(obj: Any, name: str, *default: Any) -> Any:
        # Attribute names come from compiled code, where RestrictedPython has
        # already refused "_" names; this is defence in depth.
        if name[:1] == "_":
            raise AttributeError(f"attribute {name!r} is not accessible in the sandbox")
        if name in GUARDED_METHODS:
            is_class = isinstance(obj, type)
            if is_class:
                if name == "mro":
                    raise AttributeError("'mro' is not available in the sandbox")
                obj = getattr(obj, "_astra_real", obj)
            for base in (obj.__mro__ if is_class else type(obj).__mro__):
                guard = method_guards.get((base, name))
                if guard is not None:
                    return guard if is_class else partial(guard, obj)
                cm = class_methods.get((base, name))
                if cm is not None:
                    return partial(cm, obj if is_class else type(obj))
        return getattr(obj, name, *default)

    # -------------------------------------------------------- item access
    def _getitem_(obj: Any, key: Any) -> Any:
        if type(key) is slice:
            result = obj[key]
            if hasattr(result, "__len__"):
                charge(_seq_bytes(result, len(result)))
            return result
        return obj[key]

    def _write_(obj: Any) -> Any:
        kind = type(obj)
        if kind in WRITABLE_TYPES or kind in writable_classes:
            return obj
        return full_write_guard(obj)

    # ---------------------------------------------------------- iteration
    def _getiter_(obj: Any) -> Any:
        if type(obj) in SET_TYPES:
            return iter(ordered(obj))
        return obj

    def _star_(obj: Any) -> Any:
        """Materialise ``*obj``: stable for sets, charged, capped."""
        t = type(obj)
        if t is list or t is tuple:
            return obj
        if t in SET_TYPES:
            items = ordered(obj)
        elif t is dict or t is str or t is range:
            items = obj
        else:
            items = []
            append = items.append
            limit = meter.max_len
            for item in obj:
                append(item)
                if len(items) > limit:
                    check_len(len(items), "unpacked iterable")
        charge(len(items) * _POINTER)
        return items

    def _unpack_sequence_(it: Any, spec: Any, getiter: Any) -> Any:
        if type(it) is tuple or type(it) is list:
            return it
        return _star_(it)

    def _iter_unpack_sequence_(it: Any, spec: Any, getiter: Any) -> Any:
        return _getiter_(it)

    def _apply_(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return {
        "_tick_": meter.tick,
        "_mul_": _mul_, "_pow_": _pow_, "_lshift_": _lshift_, "_add_": _add_, "_mod_": _mod_,
        "_inplacevar_": _inplacevar_, "_handler_": _handler_,
        "_fv_": _fv_, "_fvs_": _fvs_, "_str_": _str_, "_repr_": _repr_, "_star_": _star_,
        "_getattr_": _getattr_, "_getitem_": _getitem_, "_write_": _write_,
        "_getiter_": _getiter_, "_unpack_sequence_": _unpack_sequence_,
        "_iter_unpack_sequence_": _iter_unpack_sequence_, "_apply_": _apply_,
        # used by builtins.py
        "format": _format_builtin, "round": _round,
    }
