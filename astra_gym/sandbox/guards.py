"""The hooks that policy-compiled code calls, bound to one session's meter.

RestrictedPython turns ``a.b``, ``a[k]``, ``for x in it``, ``a[k] = v``,
``x += y`` and ``f(*a)`` into calls of ``_getattr_``, ``_getitem_``,
``_getiter_``, ``_write_``, ``_inplacevar_`` and ``_apply_``; our policy adds
``_tick_``, the operator guards, ``_fv_``, ``_str_``/``_repr_``, ``_star_``
and ``_haystack_``. :func:`build_hooks` returns all of them as closures over
one session's :class:`Meter`, so each call costs one Python-level function call
and no dictionary lookups.

The method guards (``str.ljust``, ``list.insert``, ``Pattern.sub``, the clock
readers, ...) do not depend on the session: they are built once per process
(:func:`_guard_table`) and take the session's context (:class:`_Ctx`) as
their first argument. ``_getattr_`` hands tool code a closure over the guard,
*its own* session's context and the receiver, so a guard always charges the
session whose code holds it, whenever it runs (a later call, or a finalizer
the garbage collector runs during another session's call). That keeps
creating a session to a few dozen closures.

Two ideas run through this module:

* **Size before work.** Every operation that can allocate or compute in C in
  proportion to its operands (``'a' * n``, big-int ``//``, ``x in big_list``,
  ``s.upper()`` on a 10 MB string, ``lst.insert(0, x)``) is sized and charged
  *before* it runs, so one tick can never hide seconds of C work and the
  budget stays a bound on wall time, not just on bytecode.
* **Attribute names are the choke point.** Method calls reach C through
  attribute loads, and RestrictedPython hands every attribute name to the
  policy at compile time; names in :data:`GUARDED_METHODS` keep the
  ``_getattr_`` hook, which binds the guarded version for the receiver's type
  (looked up along the MRO, classes included, so ``str.upper(big)`` and
  ``big.upper()`` are charged alike).
"""

from __future__ import annotations

import calendar
import collections
import contextlib
import datetime as _dt
import operator
import re
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

from RestrictedPython.Guards import full_write_guard

from . import costs
from .formatting import format_value, percent_format, safe_format
from .meter import Meter
from .ordering import SET_TYPES, ordered, stable_repr, stable_str
from .standins import exact_text, mro_of, real_type
from .textcodecs import codec_name

__all__ = ["GUARDED_METHODS", "MAX_TIME_DATA", "MAX_TIME_FORMAT", "WRITABLE_TYPES", "build_hooks",
           "check_time_data", "check_time_format", "clock_methods", "epoch_seconds_spelled_out",
           "instance_clock_methods", "regex_substitute"]

#: Objects tool code may assign items/attributes on (besides its own classes).
WRITABLE_TYPES = frozenset({dict, list, collections.defaultdict, collections.OrderedDict,
                            collections.Counter, collections.deque})

_SEQUENCE_TYPES = (str, bytes, list, tuple, bytearray, collections.deque)
_DICT_SET_VIEWS = (type({}.keys()), type({}.items()))
_INT_TYPES = (int, bool)
_SET_OR_DICT = (set, frozenset, dict)
_POINTER = 8  # bytes per list item, for charging
_NONE_TYPE = type(None)
_SCALARS = frozenset({str, int, float, bool, _NONE_TYPE, complex})
#: Strings and bytes up to this length run their O(n) methods natively (a few
#: microseconds at most); longer ones pay one operation per 32 characters.
_SMALL = 4096
_DIGITS_PER_BIT = 0.30103


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# O(n) methods of immutable sequences: charged by the receiver's length.
_STR_LINEAR = _words("""find rfind index rindex count partition rpartition upper lower
    casefold title capitalize swapcase isalnum isalpha isascii isdecimal isdigit isidentifier
    islower isnumeric isprintable isspace istitle isupper removeprefix removesuffix hex""")
_CASE_MAPPINGS = _words("upper lower casefold title capitalize swapcase")
# Output lists of one small string per piece: charged like the list they build.
_STR_SPLITS = _words("split rsplit splitlines")
# strip(chars) tests every stripped character against every char of ``chars``.
_STR_STRIPS = _words("strip lstrip rstrip")
# Error handlers that expand one character into many (``\N{...}`` names, escapes).
_HANDLER_GROWTH = {"namereplace": 100, "backslashreplace": 10, "xmlcharrefreplace": 10}
# O(n) methods of mutable sequences (always bound through a guard: the receiver
# may grow after the method was bound).
_LIST_LINEAR = _words("""index count remove insert pop reverse sort rotate""")
_SET_LINEAR = _words("""union intersection difference symmetric_difference issubset
    issuperset isdisjoint intersection_update difference_update symmetric_difference_update""")
_REGEX_SCANS = _words("""search match fullmatch findall finditer split""")
# startswith/endswith take a tuple of affixes: one comparison per item, in C.
_AFFIX_TESTS = _words("startswith endswith")
# Clock and time-zone readers of date/datetime classes and instances: the
# session's frozen clock and UTC, never the host's.
_CLOCK_METHODS = _words("""now today utcnow fromtimestamp utcfromtimestamp timestamp
    astimezone strptime strftime""")

#: Method names whose loads keep the ``_getattr_`` hook (the policy compiles
#: every other constant attribute name to a native load).
GUARDED_METHODS = frozenset({
    "ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "format",
    "format_map", "translate", "extend", "extendleft", "copy", "update", "fromkeys", "pop",
    "elements", "most_common", "subtract", "mro", "to_bytes", "from_bytes", "encode", "decode",
    "sub", "subn", "expand",
} | _STR_LINEAR | _STR_SPLITS | _STR_STRIPS | _LIST_LINEAR | _SET_LINEAR | _REGEX_SCANS
    | _CLOCK_METHODS | _AFFIX_TESTS | _words("""sqrt exp ln log10 limit_denominator from_float
    from_decimal obj maketrans fromhex total"""))

_MISSING = object()
_REFUSED_OBJ = ("'obj' of an exception is not available in the sandbox (it is the object "
                "whose attribute was missing: often a host object)")
_STRPTIME = _dt.datetime.__dict__["strptime"]  # the classmethod descriptor


def _hash_types() -> tuple[type, ...]:
    import hashlib

    return tuple({type(getattr(hashlib, name)()) for name in (
        "md5", "sha1", "sha256", "sha512", "sha3_256", "blake2b", "blake2s")})


def _seq_bytes(value: Any, n: int) -> int:
    return n * (_POINTER if isinstance(value, list | tuple | collections.deque) else 1)


def _bits(value: Any) -> int:
    return value.bit_length() if type(value) is int else 0


def _decimal_digits(value: Any) -> int:
    """Coefficient digits of a finite Decimal (0 for anything else)."""
    if type(value) is not Decimal or not value.is_finite():
        return 0
    return len(value.as_tuple().digits)


def _decimal_ops(*values: Any) -> int:
    """What exact Decimal work (powers, logarithms) on these operands costs.

    libmpdec computes ``**``, ``ln``, ``log10``, ``exp`` and ``sqrt`` exactly on
    the operands' full coefficients before rounding to the context precision:
    milliseconds at a few hundred digits (the sandbox caps coefficients at
    400), nothing at the usual 28.
    """
    digits = max(_decimal_digits(v) for v in values)
    return digits * digits // 2 if digits > 28 else 0


#: Longest strftime/strptime format (CPython lets strftime output grow to 256x the format).
MAX_TIME_FORMAT = 1024


def epoch_seconds_spelled_out(fmt: str, seconds: int) -> str:
    """``fmt`` with glibc's ``%s`` replaced by ``seconds`` (``%%`` left alone)."""
    return re.sub(r"%(.)", lambda m: str(seconds) if m[1] == "s" else m[0], fmt,
                  flags=re.DOTALL)


#: Longest string strptime parses (dates are short; a failure message reprs it all).
MAX_TIME_DATA = 4096


def check_time_data(data: Any) -> None:
    """Refuse strptime input longer than :data:`MAX_TIME_DATA` characters."""
    if isinstance(data, str) and len(data) > MAX_TIME_DATA:
        raise ValueError(f"time data of {len(data):,} characters is too long for the sandbox "
                         f"(limit {MAX_TIME_DATA:,})")


def check_time_format(fmt: Any, *, parsing: bool) -> None:
    """Refuse time formats the sandbox cannot run deterministically and cheaply.

    Args:
        fmt: A strftime/strptime format.
        parsing: True for strptime, whose ``%Z`` accepts the host's zone names.

    Raises:
        ValueError: the format is too long, or it is a strptime format with ``%Z``.
    """
    if not isinstance(fmt, str):
        return
    if len(fmt) > MAX_TIME_FORMAT:
        raise ValueError(f"time format of {len(fmt):,} characters is too long for the sandbox "
                         f"(limit {MAX_TIME_FORMAT:,})")
    if parsing and re.search(r"(?<!%)(?:%%)*%Z", fmt):
        raise ValueError("strptime %Z is not available in the sandbox: the time zone names "
                         "it accepts come from the host; use %z (a UTC offset)")


class _RangeHaystack:
    """A ``range`` on the right of ``in``: the needle decides what the test costs.

    ``5 in range(10**7)`` is arithmetic, but ``0.5 in range(10**7)`` (any needle
    that is not exactly an int or a bool) compares the needle with every item
    in C: that test is charged by the range's length.
    """

    __slots__ = ("_charge", "_range")

    def __init__(self, values: range, charge: Callable[[int], None]) -> None:
        self._range = values
        self._charge = charge

    def __contains__(self, needle: Any) -> bool:
        t = type(needle)
        if t is not int and t is not bool:
            self._charge(len(self._range) * 4)
        return needle in self._range


def _bind(guard: Callable[..., Any], h: _Ctx, receiver: Any) -> Callable[..., Any]:
    """``guard`` bound to one session's context ``h`` and to ``receiver``, as a closure.

    Not a ``functools.partial``: a partial's ``.func`` and ``.args`` are plain
    attributes, which would hand tool code the raw guard (callable on any
    object) and the receiver (for module members: the session's own RNG).
    """

    def bound(*args: Any, **kwargs: Any) -> Any:
        return guard(h, receiver, *args, **kwargs)
    return bound


def _unbound(guard: Callable[..., Any], h: _Ctx, kind: type, name: str) -> Callable[..., Any]:
    """``guard`` for access through the class: it refuses receivers of another type.

    The guards call methods of ``type(self)``; on a foreign receiver they would
    look up attributes of host classes (and a failed lookup's
    ``AttributeError.obj`` is that class).
    """

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(self, kind):
            raise TypeError(f"descriptor {name!r} for {kind.__name__!r} objects doesn't apply "
                            f"to a {type(self).__name__!r} object")
        return guard(h, self, *args, **kwargs)
    return method



class _Ctx:
    """What the process-wide method guards read of one session.

    The guards themselves (``str.ljust``, ``list.insert``, ``Pattern.sub``, ...)
    are built once per process; :func:`_bind` hands tool code a closure over
    the guard, *its own session's* context and the receiver, so a guard charges
    the meter of the session whose code holds it, whenever it runs.
    """

    __slots__ = ("_clock_guards", "charge", "check_bits", "check_fraction", "check_len",
                 "clock", "int_result", "meter", "spend", "star", "to_repr", "to_str")

    def __init__(self, meter: Meter, clock: _dt.datetime) -> None:
        self.meter = meter
        self.charge = meter.charge
        self.spend = meter.spend
        self.check_len = meter.check_len
        self.check_bits = meter.check_bits
        self.clock = clock
        self._clock_guards: dict[str, Callable[..., Any]] | None = None
        # set by build_hooks once the session's hooks exist
        self.star: Callable[[Any], Any] = _unset
        self.to_str: Callable[[Any], str] = _unset
        self.to_repr: Callable[[Any], str] = _unset
        self.int_result: Callable[[Any, str], Any] = _unset
        self.check_fraction: Callable[[Fraction], None] = _unset

    def clock_guards(self) -> dict[str, Callable[..., Any]]:
        """The clock readers of this session's clock (made on first use)."""
        guards = self._clock_guards
        if guards is None:
            guards = self._clock_guards = clock_methods(self.clock)
        return guards


def _unset(*args: Any) -> Any:  # pragma: no cover - replaced before any tool code runs
    raise RuntimeError("the session's hooks are not built yet")

# ------------------------------------------------------------- methods
def _s_pad(name: str) -> Callable[..., Any]:
    def pad(h: _Ctx, self: Any, width: Any, *fill: Any) -> Any:
        if type(width) in _INT_TYPES and width > len(self):
            h.check_len(width, f"str.{name}")
            h.charge(width)
        return getattr(type(self), name)(self, width, *fill)
    return pad


def _s_zfill(h: _Ctx, self: Any, width: Any) -> Any:
    if type(width) in _INT_TYPES and width > len(self):
        h.check_len(width, "zfill")
        h.charge(width)
    return type(self).zfill(self, width)


def _s_expandtabs(h: _Ctx, self: Any, tabsize: Any = 8) -> Any:
    if type(tabsize) in _INT_TYPES:
        # A tab size of 1 or less still copies the whole text (tabs become one space or
        # nothing): charged like any copy, or a loop of them ran free of the budget.
        n = len(self)
        if tabsize > 1:
            n += self.count("\t" if type(self) is str else b"\t") * tabsize
            h.check_len(n, "expandtabs")
        h.charge(n)
    return type(self).expandtabs(self, tabsize)


def _s_replace(h: _Ctx, self: Any, old: Any, new: Any, count: Any = -1) -> Any:
    kind = type(self)
    h.charge(len(self))
    if type(old) is kind and type(new) is kind and len(new) > len(old):
        hits = self.count(old) if old else len(self) + 1
        if type(count) in _INT_TYPES and count >= 0:
            hits = min(hits, count)
        n = len(self) + hits * (len(new) - len(old))
        h.check_len(n, "replace")
        h.charge(n)
    return kind.replace(self, old, new, count)


def _s_join(h: _Ctx, self: Any, iterable: Any) -> Any:
    items = list(h.star(iterable))
    n = len(self) * max(len(items) - 1, 0)
    for item in items:
        n += len(item) if type(item) in (str, bytes) else 0
    h.check_len(n, "join")
    h.charge(n)
    return type(self).join(self, items)


def _s_translate(h: _Ctx, self: Any, table: Any) -> Any:
    widest = 1
    if isinstance(table, list | tuple):
        # a sequence table maps code point i to table[i]
        h.charge(len(table) * _POINTER)
        for value in table:
            if type(value) in (str, bytes) and len(value) > widest:
                widest = len(value)
    elif isinstance(table, dict):
        if type(self) is str and hasattr(type(table), "__missing__"):
            # A defaultdict makes its values inside the C loop: look up every
            # distinct character first, in the order translate would, so the
            # values exist (and can be measured) before the output is built.
            h.charge(len(self) * 2)
            lookup = {}
            for char in dict.fromkeys(self):
                h.meter.tick()
                with contextlib.suppress(LookupError):  # translate leaves such chars
                    lookup[ord(char)] = table[ord(char)]
            table = lookup
        h.charge(len(table) * _POINTER)
        for value in table.values():
            if type(value) is str and len(value) > widest:
                widest = len(value)
    n = len(self) * widest
    h.check_len(n, "translate")
    h.charge(n)
    return type(self).translate(self, table)


def _s_format(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> str:
    return safe_format(h.meter, self, args, kwargs, h.to_str, h.to_repr)


def _s_format_map(h: _Ctx, self: Any, mapping: Any) -> str:
    return safe_format(h.meter, self, (), mapping, h.to_str, h.to_repr)


def _l_extend(h: _Ctx, self: Any, iterable: Any) -> None:
    items = h.star(iterable)
    n = len(self) + len(items)
    h.check_len(n, "extend")
    type(self).extend(self, items)


def _d_extendleft(h: _Ctx, self: Any, iterable: Any) -> None:
    items = h.star(iterable)
    h.check_len(len(self) + len(items), "extendleft")
    self.extendleft(items)


def _copy(h: _Ctx, self: Any) -> Any:
    h.charge(len(self) * _POINTER)
    return type(self).copy(self)


def _d_update(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> None:
    for other in args:
        if hasattr(other, "__len__"):
            h.charge(len(other) * 2 * _POINTER)
    h.charge(len(kwargs) * 2 * _POINTER)
    type(self).update(self, *[h.star(a) if not isinstance(a, dict) and not
                              hasattr(a, "keys") else a for a in args], **kwargs)
    h.check_len(len(self), "mapping")


def _counter_subtract(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> None:
    for other in args:
        if hasattr(other, "__len__"):
            h.charge(len(other) * 4 * _POINTER)  # a host-Python loop per item
    collections.Counter.subtract(self, *[h.star(a) if not isinstance(a, dict) else a
                                         for a in args], **kwargs)


def _counter_most_common(h: _Ctx, self: Any, n: Any = None) -> list:
    size = len(self)
    h.charge(size * _POINTER * max(size.bit_length(), 1))
    return collections.Counter.most_common(self, n)


def _d_fromkeys(h: _Ctx, cls: Any, iterable: Any, value: Any = None) -> Any:
    keys = h.star(iterable)
    h.charge(len(keys) * 2 * _POINTER)
    return cls.fromkeys(keys, value)


def _set_pop(h: _Ctx, self: Any) -> Any:
    if not self:
        return self.pop()  # the usual KeyError
    first = ordered(self, h.charge)[0]
    self.remove(first)
    return first


def _counter_elements(h: _Ctx, self: Any) -> Any:
    for element, count in self.items():
        for _ in range(count):
            h.meter.tick()
            yield element


def _to_bytes(h: _Ctx, self: Any, length: Any = 1, *args: Any, **kwargs: Any) -> bytes:
    if type(length) in _INT_TYPES and length > 0:
        h.check_len(length, "int.to_bytes")
        h.charge(length)
    return int.to_bytes(self, length, *args, **kwargs)


def _from_bytes(h: _Ctx, cls: Any, data: Any, *args: Any, **kwargs: Any) -> int:
    if hasattr(data, "__len__"):
        if len(data) * 8 > h.meter.max_int_bits:
            h.check_bits(len(data) * 8, "int.from_bytes")
        h.charge(len(data))
    return h.int_result(cls.from_bytes(data, *args, **kwargs), "int.from_bytes")


def _handler_growth(h: _Ctx, size: int, errors: Any) -> None:
    growth = _HANDLER_GROWTH.get(errors, 4) if isinstance(errors, str) else 4
    if growth > 4:
        h.check_len(size * growth, f"text with the {errors!r} error handler")
    h.charge(size * growth)


def _s_encode(h: _Ctx, self: Any, encoding: Any = "utf-8", errors: str = "strict") -> bytes:
    _handler_growth(h, len(self), errors)
    return str.encode(self, codec_name(encoding), errors)


def _b_decode(h: _Ctx, self: Any, encoding: Any = "utf-8", errors: str = "strict") -> str:
    if not isinstance(self, bytes | bytearray):
        raise TypeError("decoding to str: need a bytes-like object, "
                        f"{type(self).__name__} found")
    _handler_growth(h, len(self), errors)
    return bytes.decode(self, codec_name(encoding), errors)


# --- O(n) methods, charged by size (the receiver's for immutable types)
def _linear(real: Callable[..., Any], weight: int) -> Callable[..., Any]:
    def charged(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(self, "__len__"):
            h.charge(len(self) * weight)
        return real(self, *args, **kwargs)
    return charged


def _case_mapping(real: Callable[..., Any]) -> Callable[..., Any]:
    def mapped(h: _Ctx, self: Any) -> Any:
        n = len(self)
        # Unicode case mappings can triple a string ('\ufb03'.upper() == 'FFI')
        if type(self) is str and not self.isascii():
            h.check_len(3 * n, f"str.{real.__name__}")
            n *= 3
        h.charge(n)
        return real(self)
    return mapped


def _set_linear(real: Callable[..., Any]) -> Callable[..., Any]:
    def charged(h: _Ctx, self: Any, *others: Any) -> Any:
        size = len(self)
        for other in others:
            size += len(other) if hasattr(other, "__len__") else 0
        h.charge(size * _POINTER)
        result = real(self, *[h.star(o) if not hasattr(o, "__len__") else o
                              for o in others])
        if hasattr(result, "__len__"):
            h.check_len(len(result), "set")
        return result
    return charged


def _strip(real: Callable[..., Any]) -> Callable[..., Any]:
    def strip(h: _Ctx, self: Any, chars: Any = None) -> Any:
        n = len(self)
        width = len(chars) if isinstance(chars, str | bytes) else 1
        h.charge(n + n * width // 64)
        return real(self, chars)
    return strip


def _list_sort(h: _Ctx, self: Any, *, key: Any = None, reverse: bool = False) -> None:
    n = len(self)
    h.charge(n * _POINTER * max(n.bit_length(), 1))
    type(self).sort(self, key=key, reverse=reverse)


def _regex_scan(name: str) -> Callable[..., Any]:
    real = getattr(re.Pattern, name)

    def scan(h: _Ctx, self: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
        if hasattr(string, "__len__"):
            h.charge(len(string))
        return real(self, string, *args, **kwargs)
    return scan


def _pattern_sub(subn: bool) -> Callable[..., Any]:
    def sub(h: _Ctx, self: Any, repl: Any, string: Any, count: int = 0) -> Any:
        return regex_substitute(h.meter, self, repl, string, count, subn, h.to_str)
    return sub


def _match_expand(h: _Ctx, self: Any, template: Any) -> Any:
    template = exact_text(template)  # re caches a compiled template per text
    if isinstance(template, str | bytes):
        refs = template.count("\\" if isinstance(template, str) else b"\\") + 1
        size = len(template) + refs * len(self.string)
        h.check_len(size, "Match.expand output")
        h.charge(size)
    return re.Match.expand(self, template)


def _strftime(h: _Ctx, self: Any, fmt: Any) -> str:
    check_time_format(fmt, parsing=False)
    if isinstance(fmt, str) and "%s" in fmt:
        # glibc's %s (seconds since the epoch) runs mktime(): the host's time zone
        if isinstance(self, _dt.datetime):
            aware = self if self.tzinfo is not None else self.replace(tzinfo=_dt.UTC)
            seconds = int(aware.timestamp() // 1)
        elif isinstance(self, _dt.date):
            seconds = calendar.timegm(self.timetuple())
        else:
            seconds = calendar.timegm((1900, 1, 1, self.hour, self.minute, self.second))
        fmt = epoch_seconds_spelled_out(fmt, seconds)
    return type(self).strftime(self, fmt)


def _decimal_method(name: str) -> Callable[..., Any]:
    real = getattr(Decimal, name)

    def exact(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> Any:
        h.spend(_decimal_ops(self))
        return real(self, *args, **kwargs)
    return exact


def _decimal_from_float(h: _Ctx, cls: Any, value: Any) -> Any:
    # exact: a tiny float has hundreds of digits (5e-324 has 751)
    result = cls.from_float(value)
    if _decimal_digits(result) > 400:
        h.meter.trip(f"Decimal of {_decimal_digits(result):,} digits is beyond the sandbox "
                   "limit of 400")
    return result


def _limit_denominator(h: _Ctx, self: Any, max_denominator: Any = 1000000) -> Any:
    # a continued-fraction loop of big-int divisions in host Python
    bits = self.numerator.bit_length() + self.denominator.bit_length()
    if bits > costs.BIG_BITS:
        h.spend(100 * costs.gcd_ops(bits, bits))
    return Fraction.limit_denominator(self, max_denominator)


def _maketrans(h: _Ctx, cls: Any, *args: Any) -> Any:
    # str.maketrans(x, y[, z]) / bytes.maketrans(a, b): a table built in C per call
    size = 0
    for arg in args:
        if hasattr(arg, "__len__"):
            size += len(arg)
    h.charge(size * 4 * _POINTER)
    return cls.maketrans(*args)


def _fromhex(h: _Ctx, cls: Any, text: Any) -> Any:
    # float.fromhex / bytes.fromhex parse the whole text in C on every call
    if hasattr(text, "__len__"):
        h.charge(len(text))
    return cls.fromhex(text)


def _fraction_from(name: str) -> Callable[..., Any]:
    def convert(h: _Ctx, cls: Any, value: Any) -> Any:
        # Fraction.from_decimal computes 10 ** exponent, then a gcd of that size
        if type(value) is Decimal and value.is_finite():
            bits = int((abs(value.adjusted()) + _decimal_digits(value)) / _DIGITS_PER_BIT)
            if bits > h.meter.max_int_bits:
                h.check_bits(bits, "Fraction")
            if bits > costs.BIG_BITS:
                h.spend(2 * costs.gcd_ops(bits, bits))
        result = getattr(cls, name)(value)
        h.check_fraction(result)
        return result
    return convert


def _affix(real: Callable[..., Any]) -> Callable[..., Any]:
    def test(h: _Ctx, self: Any, affix: Any, *args: Any) -> Any:
        if type(affix) is tuple:
            size = 0
            for item in affix:
                size += len(item) if hasattr(item, "__len__") else 1
            h.charge(len(affix) * _POINTER + size)
        return real(self, affix, *args)
    return test


def _counter_total(h: _Ctx, self: Any) -> Any:
    h.charge(len(self) * _POINTER)  # sum() over the values, in C
    return collections.Counter.total(self)


def _range_scan(real: Callable[..., Any]) -> Callable[..., Any]:
    def scan(h: _Ctx, self: Any, value: Any, *args: Any) -> Any:
        # O(1) for an int; anything else is compared with every item, in C
        if type(value) is not int and type(value) is not bool:
            h.charge(len(self) * 4)
        return real(self, value, *args)
    return scan


def _hash_update(h: _Ctx, self: Any, data: Any) -> None:
    if hasattr(data, "__len__"):
        h.charge(len(data))
    self.update(data)


# ------------------------------------------------------------------- tables
def _clock_guard(name: str) -> Callable[..., Any]:
    """A class-method guard that answers from the session's own clock."""

    def guard(h: _Ctx, cls: Any, *args: Any, **kwargs: Any) -> Any:
        return h.clock_guards()[name](cls, *args, **kwargs)
    return guard


def _context_free(func: Callable[..., Any]) -> Callable[..., Any]:
    def guard(h: _Ctx, self: Any, *args: Any, **kwargs: Any) -> Any:
        return func(self, *args, **kwargs)
    return guard


def _build_guard_table() -> dict[tuple[int, str], tuple[str, Any, type]]:
    """(id(type), name) -> (kind, guard, type) for every guarded method of a host type.

    Kinds: ``refused`` (a data attribute tool code must not hold), ``method``
    (a guard for instances, also reachable through the class for instances of
    it), ``class`` (a class method), ``linear`` (``(small, guard)``: an O(n)
    method of an immutable str/bytes, native below ``small``).

    Looked up by the *identity* of a type, never by its own ``__eq__``/``__hash__``
    (a metaclass could make a class equal to ``str`` and hash like it). The keyed
    types are the host's own and the entries keep them alive.
    """
    method_guards: dict[tuple[type, str], Callable[..., Any]] = {}
    for kind in (str, bytes, bytearray):
        method_guards.update({
            (kind, "ljust"): _s_pad("ljust"), (kind, "rjust"): _s_pad("rjust"),
            (kind, "center"): _s_pad("center"), (kind, "zfill"): _s_zfill,
            (kind, "expandtabs"): _s_expandtabs, (kind, "replace"): _s_replace,
            (kind, "join"): _s_join, (kind, "translate"): _s_translate,
        })
    method_guards[(str, "format")] = _s_format
    method_guards[(str, "format_map")] = _s_format_map
    for kind in (list, collections.deque):
        method_guards[(kind, "extend")] = _l_extend
        method_guards[(kind, "copy")] = _copy
        for name in _LIST_LINEAR:
            real = getattr(kind, name, None)
            if real is not None:
                method_guards[(kind, name)] = _linear(real, 4 if name in (
                    "index", "count", "remove") else 1)
    method_guards[(list, "sort")] = _list_sort
    method_guards[(collections.deque, "extendleft")] = _d_extendleft
    for kind in (dict, set, frozenset, collections.OrderedDict, collections.defaultdict,
                 collections.Counter):
        method_guards[(kind, "copy")] = _copy
    for kind in (dict, collections.OrderedDict, collections.defaultdict, collections.Counter):
        method_guards[(kind, "update")] = _d_update
    for kind in (set, frozenset):
        for name in _SET_LINEAR:
            real = getattr(kind, name, None)
            if real is not None:
                method_guards[(kind, name)] = _set_linear(real)
    method_guards[(set, "update")] = _set_linear(set.update)
    for kind in _DICT_SET_VIEWS:
        # the other operand is iterated (and looked up) in C
        method_guards[(kind, "isdisjoint")] = _set_linear(kind.isdisjoint)
    for kind in (str, bytes, bytearray):
        for name in _AFFIX_TESTS:
            method_guards[(kind, name)] = _affix(getattr(kind, name))
    for name in ("count", "index"):
        method_guards[(tuple, name)] = _linear(getattr(tuple, name), 4)
        method_guards[(range, name)] = _range_scan(getattr(range, name))
    if hasattr(collections.Counter, "total"):
        method_guards[(collections.Counter, "total")] = _counter_total
    method_guards[(set, "pop")] = _set_pop
    method_guards[(collections.Counter, "elements")] = _counter_elements
    method_guards[(collections.Counter, "most_common")] = _counter_most_common
    method_guards[(collections.Counter, "subtract")] = _counter_subtract
    method_guards[(int, "to_bytes")] = _to_bytes
    method_guards[(str, "encode")] = _s_encode
    method_guards[(bytes, "decode")] = _b_decode
    method_guards[(bytearray, "decode")] = _b_decode
    for name in _REGEX_SCANS:
        method_guards[(re.Pattern, name)] = _regex_scan(name)
    method_guards[(re.Pattern, "sub")] = _pattern_sub(False)
    method_guards[(re.Pattern, "subn")] = _pattern_sub(True)
    method_guards[(re.Match, "expand")] = _match_expand
    for name in ("sqrt", "exp", "ln", "log10"):
        method_guards[(Decimal, name)] = _decimal_method(name)
    method_guards[(Fraction, "limit_denominator")] = _limit_denominator
    for kind in _hash_types():
        method_guards[(kind, "update")] = _hash_update
    class_methods: dict[tuple[type, str], Callable[..., Any]] = {
        (kind, "fromkeys"): _d_fromkeys
        for kind in (dict, collections.OrderedDict, collections.Counter)
    }
    class_methods[(int, "from_bytes")] = _from_bytes
    for kind in (str, bytes, bytearray):
        class_methods[(kind, "maketrans")] = _maketrans
    for kind in (float, bytes, bytearray):
        class_methods[(kind, "fromhex")] = _fromhex
    for name in ("from_decimal", "from_float"):
        class_methods[(Fraction, name)] = _fraction_from(name)
    class_methods[(Decimal, "from_float")] = _decimal_from_float
    for name in clock_methods(_dt.datetime(2000, 1, 1)):
        for kind in (_dt.date, _dt.datetime):
            if hasattr(kind, name):
                class_methods[(kind, name)] = _clock_guard(name)
    for name, guard in instance_clock_methods().items():
        method_guards[(_dt.datetime, name)] = _context_free(guard)
    for kind in (_dt.date, _dt.time):
        method_guards[(kind, "strftime")] = _strftime
    # O(n) methods of immutable receivers bind natively when the receiver is small
    # (a few microseconds at most); bigger receivers, and access through the
    # class, get a guard that charges every call. (small limit, guard)
    immutable: dict[tuple[type, str], tuple[int, Callable[..., Any]]] = {}
    for kind in (str, bytes):
        for name in _STR_LINEAR:
            if hasattr(kind, name):
                guard = (_case_mapping(getattr(kind, name)) if name in _CASE_MAPPINGS
                         else _linear(getattr(kind, name), 1))
                immutable[(kind, name)] = (_SMALL, guard)
        for name in _STR_SPLITS:
            immutable[(kind, name)] = (_SMALL, _linear(getattr(kind, name), _POINTER))
        for name in _STR_STRIPS:
            # strip(chars) costs len(self) x len(chars): only tiny receivers go native
            immutable[(kind, name)] = (64, _strip(getattr(kind, name)))
    for name in _STR_STRIPS:
        method_guards[(bytearray, name)] = _strip(getattr(bytearray, name))

    # Data attributes that hand out objects tool code must not hold.
    refused: dict[tuple[type, str], str] = {(BaseException, "obj"): _REFUSED_OBJ}
    table: dict[tuple[int, str], tuple[str, Any, type]] = {}
    for label, source in (("refused", refused), ("method", method_guards),
                          ("class", class_methods), ("linear", immutable)):
        for (kind, name), value in source.items():
            table.setdefault((id(kind), name), (label, value, kind))
    return table


_GUARD_TABLE: dict[tuple[int, str], tuple[str, Any, type]] = {}
_table_lock = threading.Lock()


def _guard_table() -> dict[tuple[int, str], tuple[str, Any, type]]:
    """The process-wide guard table (built on first use: it imports hashlib)."""
    if not _GUARD_TABLE:
        with _table_lock:
            if not _GUARD_TABLE:
                _GUARD_TABLE.update(_build_guard_table())
    return _GUARD_TABLE


def build_hooks(meter: Meter, writable_classes: set[type],
                clock: _dt.datetime) -> dict[str, Any]:
    """Create the guard hooks of one session.

    Args:
        meter: The session's operation meter.
        writable_classes: Classes defined by the session's tool code; their
            instances accept attribute writes.
        clock: The session's frozen "now" (naive, UTC).

    Returns:
        A mapping of hook name to callable, to merge into tool globals.
    """
    h = _Ctx(meter, clock)
    charge = meter.charge
    spend = meter.spend
    check_len = meter.check_len
    check_bits = meter.check_bits
    table = _guard_table()

    # ----------------------------------------------------------- numbers
    def _int_result(value: Any, what: str) -> Any:
        if type(value) is int and value.bit_length() > meter.max_int_bits:
            check_bits(value.bit_length(), what)
        return value

    def _check_fraction(value: Fraction) -> None:
        bits = value.numerator.bit_length() + value.denominator.bit_length()
        if bits > meter.max_int_bits:
            check_bits(bits, "fraction")
        # Fraction arithmetic runs a gcd on results of this size.
        spend(costs.gcd_ops(bits, bits) if bits > costs.BIG_BITS else bits // 64)

    def _fraction_args(a: Any, b: Any) -> None:
        # Charged before the work: the operands' gcds cost in proportion to their size.
        bits = 0
        for x in (a, b):
            if type(x) is Fraction:
                bits = max(bits, x.numerator.bit_length() + x.denominator.bit_length())
            elif type(x) is int:
                bits = max(bits, x.bit_length())
        if bits > costs.BIG_BITS:
            spend(2 * costs.gcd_ops(bits, bits))

    def _arith(a: Any, b: Any, op: Callable[[Any, Any], Any], model: Callable[[int, int], int],
               what: str) -> Any:
        """The slow path shared by the arithmetic guards."""
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            abits, bbits = a.bit_length(), b.bit_length()
            if abits > costs.BIG_BITS or bbits > costs.BIG_BITS:
                spend(model(abits, bbits))
            return op(a, b)
        if ta is Fraction or tb is Fraction:
            _fraction_args(a, b)
            result = op(a, b)
            if type(result) is Fraction:
                _check_fraction(result)
            return result
        if hasattr(a, "__len__") or hasattr(b, "__len__"):
            # set algebra, dict views, Counter arithmetic (a host-Python loop per
            # key), dict union: O(len) before anything is built
            size = (len(a) if hasattr(a, "__len__") else 0) + \
                (len(b) if hasattr(b, "__len__") else 0)
            weight = 4 * _POINTER if isinstance(a, collections.Counter) else _POINTER
            charge(size * weight)
            result = op(a, b)
            if hasattr(result, "__len__"):
                check_len(len(result), what)
            return result
        return op(a, b)

    def _linear_model(a_bits: int, b_bits: int) -> int:
        return costs.linear_ops(max(a_bits, b_bits))

    def _mul_(a: Any, b: Any) -> Any:
        ta = type(a)
        tb = type(b)
        if ta is float or tb is float:
            return a * b
        if ta is int and tb is int:
            abits, bbits = a.bit_length(), b.bit_length()
            if abits + bbits > costs.BIG_BITS:
                if abits + bbits > meter.max_int_bits:
                    check_bits(abits + bbits, "integer product")
                spend(costs.multiply_ops(abits, bbits))
            return a * b
        if tb in _INT_TYPES and hasattr(a, "__len__"):
            _repeat_guard(a, b)
        elif ta in _INT_TYPES and hasattr(b, "__len__"):
            _repeat_guard(b, a)
        elif ta is Fraction or tb is Fraction:
            _fraction_args(a, b)
        result = a * b
        if type(result) is Fraction:
            _check_fraction(result)
        return result

    def _repeat_guard(seq: Any, times: Any) -> None:
        if times > 0:
            n = len(seq) * times
            check_len(n, f"{type(seq).__name__} repetition")
            charge(_seq_bytes(seq, n))

    def _floordiv_(a: Any, b: Any) -> Any:
        if type(a) is float or type(b) is float:
            return a // b
        return _arith(a, b, operator.floordiv, costs.divide_ops, "floor division")

    def _truediv_(a: Any, b: Any) -> Any:
        if type(a) is float or type(b) is float:
            return a / b
        return _arith(a, b, operator.truediv, costs.divide_ops, "division")

    def _sub_(a: Any, b: Any) -> Any:
        ta = type(a)
        if (ta is float or ta is int) and type(b) in (int, float):
            # one pass over the longer operand, whichever side it is on (inline: hot path)
            if ta is int and type(b) is int and (a.bit_length() > costs.BIG_BITS
                                                 or b.bit_length() > costs.BIG_BITS):
                spend(costs.linear_ops(max(a.bit_length(), b.bit_length())))
            return a - b
        return _arith(a, b, operator.sub, _linear_model, "difference")

    def _or_(a: Any, b: Any) -> Any:
        return _arith(a, b, operator.or_, _linear_model, "union")

    def _and_(a: Any, b: Any) -> Any:
        return _arith(a, b, operator.and_, _linear_model, "intersection")

    def _xor_(a: Any, b: Any) -> Any:
        return _arith(a, b, operator.xor, _linear_model, "symmetric difference")

    def _divmod(a: Any, b: Any) -> Any:
        return _arith(a, b, divmod, costs.divide_ops, "divmod")

    def _pow_(a: Any, b: Any, mod: Any = None) -> Any:
        ta = type(a)
        if ta is Decimal or type(b) is Decimal:
            spend(_decimal_ops(a, b))
        if mod is not None:
            if type(mod) in _INT_TYPES and type(b) in _INT_TYPES:
                mbits = max(mod.bit_length(), _bits(a) if ta is int else 0)
                if b < 0 and mbits > 64:
                    # a modular inverse first: an extended gcd, ~30x a plain gcd in C
                    spend(32 * costs.gcd_ops(mbits, mbits))
                if mbits > 64 or b.bit_length() > 64:
                    spend(costs.modpow_ops(abs(b).bit_length(), mbits))
            return pow(a, b, mod)
        if type(b) in _INT_TYPES and b > 1 and ta in (int, bool, Fraction):
            base_bits = (a.bit_length() if ta is not Fraction
                         else a.numerator.bit_length() + a.denominator.bit_length())
            if base_bits > 1:
                bits = base_bits * b
                if bits > meter.max_int_bits:
                    check_bits(bits, "power")
                spend(costs.multiply_ops(bits, bits) if bits > costs.BIG_BITS else bits // 256)
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
            # one pass over the longer operand, whichever side it is on (inline: hot path)
            if ta is int and type(b) is int and (a.bit_length() > costs.BIG_BITS
                                                 or b.bit_length() > costs.BIG_BITS):
                spend(costs.linear_ops(max(a.bit_length(), b.bit_length())))
            return a + b
        if isinstance(a, _SEQUENCE_TYPES) and isinstance(b, _SEQUENCE_TYPES):
            n = len(a) + len(b)
            check_len(n, f"{ta.__name__} concatenation")
            charge(_seq_bytes(a, n))
            return a + b
        if ta is Fraction or type(b) is Fraction:
            _fraction_args(a, b)
        elif isinstance(a, dict):  # Counter + Counter: a host-Python loop over both
            charge((len(a) + (len(b) if hasattr(b, "__len__") else 0)) * 4 * _POINTER)
        result = a + b
        if type(result) is Fraction:
            _check_fraction(result)
        elif isinstance(result, dict):
            check_len(len(result), "mapping")
        return result

    def _mod_(a: Any, b: Any) -> Any:
        ta = type(a)
        if ta is float:
            return a % b
        if ta is int:
            if type(b) is int and a.bit_length() > costs.BIG_BITS:
                spend(costs.divide_ops(a.bit_length(), b.bit_length()))
            return a % b
        if isinstance(a, str | bytes):
            return percent_format(meter, a, b, _str_, _repr_)
        return _arith(a, b, operator.mod, costs.divide_ops, "remainder")

    # `x op= y` keeps in-place semantics for mutable containers (aliases see
    # the change) and goes through the binary guards for everything else.
    binary_ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": _add_, "*=": _mul_, "**=": _pow_, "<<=": _lshift_, "%=": _mod_, "-=": _sub_,
        "/=": _truediv_, "//=": _floordiv_, "|=": _or_, "&=": _and_, "^=": _xor_,
        ">>=": operator.irshift, "@=": operator.imatmul,
    }
    inplace_container_ops: dict[str, Callable[[Any, Any], Any]] = {
        "|=": operator.ior, "&=": operator.iand, "-=": operator.isub, "^=": operator.ixor,
    }

    def _inplacevar_(op: str, x: Any, y: Any) -> Any:
        kind = type(x)
        if kind is list or kind is collections.deque or kind is bytearray:
            if op == "+=":
                items = y if type(y) in (bytes, bytearray) else _star_(y)
                check_len(len(x) + len(items), kind.__name__)
                x += items
                return x
            if op == "*=" and type(y) in _INT_TYPES:
                _repeat_guard(x, y)
                x *= y
                return x
        elif op in inplace_container_ops and isinstance(x, _SET_OR_DICT):
            size = len(x) + (len(y) if hasattr(y, "__len__") else 0)
            charge(size * _POINTER)
            result = inplace_container_ops[op](x, y)
            check_len(len(result), kind.__name__)
            return result
        return binary_ops[op](x, y)

    # ------------------------------------------------------------ strings
    def _str_(value: Any) -> str:
        t = type(value)
        if t is str:
            return value
        if t in _SCALARS:
            return str(value)
        text = stable_str(value, charge)
        check_len(len(text), "string")
        charge(len(text))
        return text

    def _repr_(value: Any) -> str:
        t = type(value)
        if t is str or t is bytes:
            # an escaped character takes up to 10 characters (\U0010ffff)
            check_len(len(value) * (10 if t is str else 4), "repr")
            charge(len(value) * 4)
            return repr(value)
        if t in _SCALARS:
            return repr(value)
        text = stable_repr(value, charge)
        check_len(len(text), "string")
        charge(len(text))
        return text

    def _ascii(value: Any) -> str:
        text = _repr_(value)
        charge(len(text) * 4)
        return text.encode("ascii", "backslashreplace").decode("ascii")

    def _fv_(value: Any, conversion: int, spec: str) -> Any:
        if conversion == 114:  # !r
            value = _repr_(value)
        elif conversion == 115:  # !s
            value = _str_(value)
        elif conversion == 97:  # !a
            value = _ascii(value)
        if not spec:
            t = type(value)
            if t is str:
                return value
            if t in _SCALARS:
                return value
            return _str_(value)
        return format_value(meter, value, spec, _str_, _repr_)

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
        return format_value(meter, value, spec, _str_, _repr_)

    # ------------------------------------------------ hooks of their own
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
        spend(ops)

    def _decode(self: Any, encoding: Any = "utf-8", errors: str = "strict") -> str:
        return _b_decode(h, self, encoding, errors)

    # ------------------------------------------------------- attributes
    # (type, name) -> resolution for receivers whose metaclass is `type`, else
    # (id(type), name) -> (type, resolution), checked against the type it was made
    # for (the entry keeps that type alive, so its id cannot be reused meanwhile).
    # Per session: tool classes are keys too, and must not outlive it.
    resolved: dict[tuple[Any, str], Any] = {}

    def _resolve(mro: tuple[type, ...], name: str) -> Any:
        for base in mro:
            found = table.get((id(base), name))
            if found is not None:
                return found
        return None

    def _getattr_(obj: Any, name: str, *default: Any) -> Any:
        # Attribute names come from compiled code, where RestrictedPython has
        # already refused "_" names; this is defence in depth.
        if name[:1] == "_":
            raise AttributeError(f"attribute {name!r} is not accessible in the sandbox")
        if name in GUARDED_METHODS:
            if name == "mro":  # on classes, and on aliases that forward to one (P[int].mro)
                raise AttributeError("'mro' is not available in the sandbox")
            is_class = isinstance(obj, type)
            if is_class:
                # The stand-in's real type by identity (its metaclass), and the
                # class's true MRO: nothing a tool class's attributes or a
                # metaclass property could make up.
                real = real_type(obj)
                found = _resolve(mro_of(real), name)
            else:
                receiver = type(obj)
                if name == "obj" and isinstance(obj, BaseException):
                    # every exception, without the cache (AttributeError.obj is the
                    # object whose attribute was missing: often a host object)
                    raise AttributeError(_REFUSED_OBJ)
                if type(receiver) is type:
                    # `type` compares and hashes classes by identity: the class
                    # itself is a safe key (the usual case, and the fast one)
                    found = resolved.get((receiver, name), _MISSING)
                    if found is _MISSING:
                        found = resolved[(receiver, name)] = _resolve(mro_of(receiver), name)
                else:
                    # a metaclass may define __eq__/__hash__: key by identity
                    key = (id(receiver), name)
                    entry = resolved.get(key)
                    if entry is not None and entry[0] is receiver:
                        found = entry[1]
                    else:
                        found = _resolve(mro_of(receiver), name)
                        resolved[key] = (receiver, found)
            if found is not None:
                kind, guard, base = found
                if kind == "refused":
                    raise AttributeError(guard)
                if kind == "method":
                    return _unbound(guard, h, base, name) if is_class else _bind(guard, h, obj)
                if kind == "class":
                    return _bind(guard, h, real if is_class else type(obj))
                # "linear": an O(n) method of an immutable str/bytes
                small, charged = guard
                if is_class:
                    return _unbound(charged, h, base, name)
                if len(obj) <= small:
                    return getattr(obj, name)
                return _bind(charged, h, obj)
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
            return iter(ordered(obj, charge))
        return obj

    def _star_(obj: Any) -> Any:
        """Materialise ``*obj``: stable for sets, charged, capped."""
        t = type(obj)
        if t is list or t is tuple:
            items = obj
        elif t in SET_TYPES:
            items = ordered(obj, charge)
        elif t is dict or t is str or t is range:
            items = obj
        else:
            # Charged as it grows (each item may be a new object: map(str, ...)),
            # so the budget stops it long before max_len items exist.
            items = []
            append = items.append
            step = 4096
            for item in obj:
                append(item)
                if len(items) % step == 0:
                    check_len(len(items), "unpacked iterable")
                    charge(step * 8 * _POINTER)
            charge((len(items) % step) * 8 * _POINTER)
            return items
        charge(len(items) * _POINTER)
        return items

    def _haystack_(obj: Any) -> Any:
        """The right operand of ``in``: charged by what the membership test scans."""
        t = type(obj)
        if t is dict or t is set or t is frozenset:
            return obj
        if t is range:
            # O(1) for an int needle; any other needle is compared with every item
            return _RangeHaystack(obj, charge)
        if t is str or t is bytes:
            if len(obj) > _SMALL:
                charge(len(obj))
            return obj
        if t is list or t is tuple or t is collections.deque:
            if len(obj) > 64:
                charge(len(obj) * 4)
            return obj
        if isinstance(obj, _SET_OR_DICT):
            return obj
        if hasattr(obj, "__len__") and not isinstance(obj, type):
            charge(len(obj) * 4)
        return obj

    def _setslice_(obj: Any, lower: Any, upper: Any, step: Any, value: Any) -> None:
        """``obj[lower:upper:step] = value``: the new items materialised and charged first."""
        items = value if type(value) in (bytes, bytearray, str) else _star_(value)
        if hasattr(obj, "__len__"):
            check_len(len(obj) + len(items), f"{type(obj).__name__} slice assignment")
            charge(len(obj) * _POINTER)  # the items after the slice move
        obj[lower:upper:step] = items

    def _unpack_sequence_(it: Any, spec: Any, getiter: Any) -> Any:
        if type(it) is tuple or type(it) is list:
            return it
        return _star_(it)

    def _iter_unpack_sequence_(it: Any, spec: Any, getiter: Any) -> Any:
        return _getiter_(it)

    def _apply_(func: Any, *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    h.star = _star_
    h.to_str = _str_
    h.to_repr = _repr_
    h.int_result = _int_result
    h.check_fraction = _check_fraction
    return {
        "_tick_": meter.tick,
        "_mul_": _mul_, "_pow_": _pow_, "_lshift_": _lshift_, "_add_": _add_, "_mod_": _mod_,
        "_sub_": _sub_, "_floordiv_": _floordiv_, "_truediv_": _truediv_, "_or_": _or_,
        "_and_": _and_, "_xor_": _xor_,
        "_inplacevar_": _inplacevar_, "_handler_": _handler_,
        "_fv_": _fv_, "_fvs_": _fvs_, "_str_": _str_, "_repr_": _repr_, "_star_": _star_,
        "_haystack_": _haystack_, "_setslice_": _setslice_,
        "_getattr_": _getattr_, "_getitem_": _getitem_, "_write_": _write_,
        "_getiter_": _getiter_, "_unpack_sequence_": _unpack_sequence_,
        "_iter_unpack_sequence_": _iter_unpack_sequence_, "_apply_": _apply_,
        # used by builtins.py and modules.py
        "format": _format_builtin, "round": _round, "ascii": _ascii, "divmod": _divmod,
        "int_result": _int_result, "decode": _decode,
        "check_fraction": _check_fraction,
        # used by the session's reset(): the resolution cache holds the classes it saw
        "forget_classes": resolved.clear,
    }


def regex_substitute(meter: Meter, pattern: Any, repl: Any, string: Any, count: Any,
                     subn: bool, to_str: Callable[[Any], str]) -> Any:
    """``pattern.sub(repl, string, count)`` with its output sized before it is built.

    A string replacement is expanded once per match (group references copy up
    to the whole string each); a callable replacement is charged for what it
    returns, as it returns it.
    """
    repl = exact_text(repl)  # re caches a compiled template per replacement text
    if isinstance(string, str | bytes):
        meter.charge(len(string))
        if isinstance(repl, str | bytes):
            if ("\\" if isinstance(repl, str) else b"\\") in repl:
                meter.spend(len(repl) * 4)  # the template is parsed in host Python
            hits = 0
            for _ in pattern.finditer(string):
                meter.tick()
                hits += 1
                if count and hits >= count:
                    break
            refs = repl.count("\\" if isinstance(repl, str) else b"\\")
            per_hit = len(repl) + refs * (len(string) + 1)
            size = len(string) + hits * per_hit
            meter.check_len(size, "re.sub output")
            meter.charge(size)
        elif callable(repl):
            user = repl
            total = [len(string)]

            def repl(match: Any) -> Any:
                out = user(match)
                if isinstance(out, str | bytes):
                    total[0] += len(out)
                    meter.check_len(total[0], "re.sub output")
                    meter.charge(len(out))
                return out
    return pattern.subn(repl, string, count) if subn else pattern.sub(repl, string, count)


def clock_methods(clock: _dt.datetime) -> dict[str, Callable[..., Any]]:
    """Guards for the clock and time-zone readers of ``date``/``datetime``.

    They receive the class (for an instance, its class) first. ``now`` and
    friends on a *real* ``datetime`` (``datetime.max.now()``, ``d.date().today()``)
    would read the host's clock; naive ``timestamp``/``astimezone`` and
    ``fromtimestamp`` would read the host's time zone. The session's frozen
    classes (:mod:`.modules`) answer the clock; UTC answers the time zone.
    """
    utc = _dt.UTC
    aware = clock.replace(tzinfo=utc) if clock.tzinfo is None else clock.astimezone(utc)
    naive_utc = aware.replace(tzinfo=None)

    def _as(cls: type, value: _dt.datetime) -> Any:
        if issubclass(cls, _dt.datetime):
            return cls(value.year, value.month, value.day, value.hour, value.minute,
                       value.second, value.microsecond, value.tzinfo, fold=value.fold)
        return cls(value.year, value.month, value.day)

    def now(cls: type, tz: Any = None) -> Any:
        return _as(cls, naive_utc if tz is None else aware.astimezone(tz))

    def today(cls: type) -> Any:
        return _as(cls, naive_utc)

    def utcnow(cls: type) -> Any:
        return _as(cls, naive_utc)

    def fromtimestamp(cls: type, timestamp: Any, tz: Any = None) -> Any:
        value = _dt.datetime.fromtimestamp(timestamp, utc if tz is None else tz)
        return _as(cls, value.replace(tzinfo=None) if tz is None else value)

    def utcfromtimestamp(cls: type, timestamp: Any) -> Any:
        return _as(cls, _dt.datetime.fromtimestamp(timestamp, utc).replace(tzinfo=None))

    def strptime(cls: type, string: Any, fmt: Any) -> Any:
        check_time_format(fmt, parsing=True)
        check_time_data(string)
        return _STRPTIME.__get__(None, cls)(exact_text(string), exact_text(fmt))

    return {"now": now, "today": today, "utcnow": utcnow, "fromtimestamp": fromtimestamp,
            "utcfromtimestamp": utcfromtimestamp, "strptime": strptime}


def instance_clock_methods() -> dict[str, Callable[..., Any]]:
    """Guards for ``timestamp``/``astimezone`` on datetime instances (naive = UTC)."""
    utc = _dt.UTC

    def timestamp(self: Any) -> float:
        if self.tzinfo is None:
            self = self.replace(tzinfo=utc)
        return _dt.datetime.timestamp(self)

    def astimezone(self: Any, tz: Any = None) -> Any:
        if self.tzinfo is None:
            self = self.replace(tzinfo=utc)
        return _dt.datetime.astimezone(self, utc if tz is None else tz)

    return {"timestamp": timestamp, "astimezone": astimezone}

