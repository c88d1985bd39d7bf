"""Allowlisted standard-library modules, behind read-only proxies.

``import X`` inside a tool returns a :class:`ModuleProxy` exposing exactly the
members :data:`.allowlist.ALLOWLIST` lists for ``X``: the real object for a
``safe`` entry, a wrapper from this module for a ``wrapped`` one, nothing for
a ``removed`` one. What would break determinism is replaced: ``datetime.now()``,
``date.today()`` and ``time.time()`` read the session's frozen clock, time
zones are UTC, ``random`` is the session's own seeded ``random.Random`` (never
the host's module), and ``uuid.uuid4()`` draws from it. What iterates,
computes or allocates in C (or in host Python) in proportion to its arguments
is wrapped so it ticks, or is sized and charged first. Anything not listed is
an ``ImportError``.
"""

from __future__ import annotations

import calendar as _calendar
import collections as _collections
import datetime as _dt
import decimal as _decimal
import fractions as _fractions
import functools as _functools
import hashlib as _hashlib
import itertools as _itertools
import json as _json
import math as _math
import random as _random
import re as _re
import statistics as _statistics
import string as _string
import textwrap as _textwrap
import time as _time
import types as _types
import typing as _typing
import uuid as _uuid
import warnings as _warnings
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from . import costs
from .allowlist import ALLOWLIST, SAFE, WRAPPED, names
from .builtins import LAZY_C_ITERATORS, ticking
from .copier import Copier
from .guards import check_time_data, check_time_format, epoch_seconds_spelled_out, regex_substitute
from .meter import Meter
from .ordering import SET_TYPES, ordered, ordered_if_set
from .standins import exact_text, guarded_type, mro_of

__all__ = ["ALLOWED_MODULES", "DECIMAL_CONTEXT", "ModuleProxy", "ModuleTable",
           "frozen_time_modules"]

ALLOWED_MODULES = tuple(name for name in ALLOWLIST if name != "builtins")
_REAL_MODULES = {
    "math": _math, "json": _json, "re": _re, "datetime": _dt, "time": _time,
    "random": _random, "string": _string, "collections": _collections,
    "itertools": _itertools, "functools": _functools, "statistics": _statistics,
    "decimal": _decimal, "fractions": _fractions, "typing": _typing, "copy": None,
    "calendar": _calendar, "textwrap": _textwrap, "uuid": _uuid, "hashlib": _hashlib,
}
_POINTER = 8
_EXPONENT = _re.compile(r"[eE]\s*([+-]?\d+)")
_TOOL_FILE = "<tool>"
_MAX_FIELDS = 256  # namedtuple fields
_MAX_FRACTION_TEXT = 10_000  # characters of Fraction("...")
_MAX_NAME = 64
#: Largest |exponent| of a Decimal inside the sandbox (about 100,000 bits).
DECIMAL_EXP_LIMIT = 30_000
#: Longest Decimal coefficient, in digits. Arithmetic rounds to the context's 28
#: digits, but construction is exact and ``**``/``ln``/``log10`` work on the full
#: coefficient first: a few milliseconds at 400 digits, seconds beyond ~600.
DECIMAL_DIGITS_LIMIT = 400
#: The decimal context active during calls of sessions that imported decimal:
#: the default precision and rounding, with exponents bounded so arithmetic
#: overflows (a clean error) instead of building huge numbers.
DECIMAL_CONTEXT = _decimal.Context(prec=28, rounding=_decimal.ROUND_HALF_EVEN,
                                   Emax=DECIMAL_EXP_LIMIT, Emin=-DECIMAL_EXP_LIMIT,
                                   traps=[_decimal.InvalidOperation, _decimal.DivisionByZero,
                                          _decimal.Overflow])


class ModuleProxy:
    """A read-only view of a module's vetted members.

    It deliberately has no ``__name__``: when ``from X import Y`` finds no
    attribute ``Y``, CPython falls back to ``sys.modules[X.__name__ + ".Y"]``,
    which would hand out real submodules (``from json import decoder``).
    """

    __slots__ = ("_label", "_members")

    def __init__(self, name: str, members: dict[str, Any]) -> None:
        object.__setattr__(self, "_label", name)
        object.__setattr__(self, "_members", members)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._members[name]
        except KeyError:
            raise AttributeError(
                f"module '{self._label}' has no attribute '{name}' in the sandbox") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"module '{self._label}' is read-only in the sandbox")

    __delattr__ = __setattr__

    def __repr__(self) -> str:
        return f"<module '{self._label}' (sandboxed)>"


def _quiet_compiler() -> Callable[[Any, Any], Any]:
    """``re.compile`` that keeps sre_parse's FutureWarnings to itself.

    sre_parse warns about character-class syntax a future Python will read
    differently, attributing the warning to the frame that called
    ``re.compile``: the warning would reach the host's stderr (or its
    ``-W error`` filters), and ``warnings`` records a ``__warningregistry__``
    in that frame's module. This function's globals are a private dict, so the
    registry lands there and no module of the host changes.
    """
    namespace: dict[str, Any] = {"__name__": "astra-sandbox-regex", "_re": _re,
                                 "_warnings": _warnings}
    source = ("def compile_quietly(pattern, flags):\n"
              "    with _warnings.catch_warnings():\n"
              "        _warnings.simplefilter('ignore')\n"
              "        return _re.compile(pattern, flags)\n")
    exec(compile(source, "<astra-sandbox-regex>", "exec"), namespace)  # our code, no input
    return namespace["compile_quietly"]


_compile_quietly = _quiet_compiler()


def _may_warn(pattern: str | bytes) -> bool:
    """Whether compiling ``pattern`` might emit sre_parse's FutureWarning about sets.

    Deliberately over-inclusive (a nested ``[`` or a doubled set operator
    anywhere): a false positive only costs a ``catch_warnings`` block.
    """
    text = pattern if isinstance(pattern, str) else pattern.decode("latin-1")
    return "[" in text and (text.count("[") > 1 or any(
        token in text for token in ("--", "&&", "~~", "||")))


def _bound_to(method: Callable[..., Any], receiver: Any) -> Callable[..., Any]:
    """``method`` bound to ``receiver`` as a closure (a partial would expose ``.args``)."""

    def bound(*args: Any, **kwargs: Any) -> Any:
        return method(receiver, *args, **kwargs)
    bound.__name__ = bound.__qualname__ = getattr(method, "__name__", "method")
    return bound


def _is_tool_function(value: Any) -> bool:
    return type(value) is _types.FunctionType and value.__code__.co_filename == _TOOL_FILE


def _utc_time_format(fmt: Any, struct: Any) -> Any:
    """``fmt`` with %Z, %z and %s spelled out for UTC.

    A struct_time's zone fields, and glibc's %s (which runs mktime()), read
    the host's time zone.
    """
    if not isinstance(fmt, str):
        return fmt
    check_time_format(fmt, parsing=False)
    if "%s" in fmt:
        fmt = epoch_seconds_spelled_out(fmt, _calendar.timegm(tuple(struct)[:6]))
    return _re.sub(r"%(.)", lambda m: {"Z": "UTC", "z": "+0000"}.get(m[1], m[0]), fmt,
                   flags=_re.DOTALL)


# ------------------------------------------------------------------ clock
@lru_cache(maxsize=64)
def frozen_time_modules(clock: _dt.datetime) -> tuple[type, type, dict[str, Any]]:
    """Frozen ``datetime``/``date`` classes and ``time`` members for ``clock``.

    ``clock`` is naive and read as UTC. Cached per clock, so sessions that
    share the default clock share the classes; nothing tool code can reach
    writes to them (attribute writes on classes are refused, and the
    stdlib helpers that could, such as ``functools.total_ordering``, only
    accept the tool's own classes).
    """
    aware = clock.replace(tzinfo=_dt.UTC) if clock.tzinfo is None else clock
    naive_utc = aware.astimezone(_dt.UTC).replace(tzinfo=None)
    epoch = aware.timestamp()

    class datetime(_dt.datetime):
        @classmethod
        def _from(cls, value: _dt.datetime) -> _dt.datetime:
            return cls(value.year, value.month, value.day, value.hour, value.minute,
                       value.second, value.microsecond, value.tzinfo, fold=value.fold)

        @classmethod
        def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:
            return cls._from(naive_utc if tz is None else aware.astimezone(tz))

        @classmethod
        def today(cls) -> _dt.datetime:
            return cls._from(naive_utc)

        @classmethod
        def utcnow(cls) -> _dt.datetime:
            return cls._from(naive_utc)

    class date(_dt.date):
        @classmethod
        def today(cls) -> _dt.date:
            return cls(naive_utc.year, naive_utc.month, naive_utc.day)

    for cls, name in ((datetime, "datetime"), (date, "date")):
        cls.__module__ = "datetime"
        cls.__qualname__ = name

    def _struct(secs: float | None = None) -> _time.struct_time:
        return _time.gmtime(epoch if secs is None else secs)

    def strftime(fmt: Any, t: Any = None) -> str:
        struct = _struct(None) if t is None else t
        return _time.strftime(_utc_time_format(fmt, struct), struct)

    def strptime(string: Any, fmt: Any = "%a %b %d %H:%M:%S %Y") -> _time.struct_time:
        fmt = exact_text(fmt)  # _strptime caches a regex per format
        check_time_format(fmt, parsing=True)
        check_time_data(string)
        return _time.strptime(exact_text(string), fmt)

    time_members = {
        "time": lambda: epoch,
        "time_ns": lambda: int(epoch * 1_000_000_000),
        "monotonic": lambda: 0.0,
        "monotonic_ns": lambda: 0,
        "perf_counter": lambda: 0.0,
        "perf_counter_ns": lambda: 0,
        "process_time": lambda: 0.0,
        "sleep": lambda secs: None,
        "gmtime": _struct,
        "localtime": _struct,
        "mktime": lambda t: float(_calendar.timegm(t)),
        "strftime": strftime,
        "strptime": strptime,
        "asctime": lambda t=None: _time.asctime(_struct(None) if t is None else t),
        "ctime": lambda secs=None: _time.asctime(_struct(secs)),
        "struct_time": _time.struct_time,
        "timezone": 0, "altzone": 0, "daylight": 0, "tzname": ("UTC", "UTC"),
    }
    return datetime, date, time_members


class ModuleTable:
    """The modules one session can import, built lazily on first import.

    Args:
        meter: The session's meter.
        rng: The session's seeded generator.
        seed: The session seed (``random.seed()`` without an argument goes back to it).
        clock: The session's frozen "now".
        hooks: The session's guard hooks.
        tool_classes: Classes the session's tool code defined.
    """

    uses_decimal = False

    def __init__(self, meter: Meter, rng: _random.Random, seed: int, clock: _dt.datetime,
                 hooks: dict[str, Any], tool_classes: set[type]) -> None:
        self._meter = meter
        self._rng = rng
        self._seed = seed
        self._clock = clock
        self._hooks = hooks
        self._classes = tool_classes
        self._built: dict[str, ModuleProxy] = {}

    def get(self, name: str) -> ModuleProxy | None:
        proxy = self._built.get(name)
        if proxy is None and name in ALLOWED_MODULES:
            proxy = ModuleProxy(name, self.members(name))
            self._built[name] = proxy
        return proxy

    def members(self, name: str) -> dict[str, Any]:
        """Every member of module ``name``: the real object or its wrapper, per the allowlist."""
        wrappers = getattr(self, f"_wrap_{name}")()
        expected = names(name, WRAPPED)
        stray = set(wrappers) - expected
        if stray:  # pragma: no cover - a development-time consistency check
            raise RuntimeError(f"{name}: wrappers {sorted(stray)} are not in the allowlist")
        real = _REAL_MODULES[name]
        source = self._rng if name == "random" else real
        members = {member: getattr(source, member) for member in names(name, SAFE)
                   if hasattr(source, member)}  # some members are version-dependent
        members.update(wrappers)
        return members

    # -- helpers ------------------------------------------------------------
    def _ticking(self, iterator: Any) -> Any:
        return ticking(iterator, self._meter.tick)

    def _lazy(self, value: Any) -> Any:
        kind = type(value)
        if kind in SET_TYPES:
            return ordered(value, self._meter.charge)
        if kind in LAZY_C_ITERATORS:
            return self._ticking(value)
        return value

    def _materialised(self, value: Any) -> list:
        items = self._hooks["_star_"](value)
        self._meter.check_len(len(items), "collection")
        return items

    def _charged_len(self, value: Any, weight: int = _POINTER) -> Any:
        if hasattr(value, "__len__"):
            self._meter.charge(len(value) * weight)
        return value

    # -- modules ------------------------------------------------------------
    def _wrap_math(self) -> dict[str, Any]:
        meter = self._meter
        spend = meter.spend

        def bits_of(n: Any) -> int:
            return max(int(n), 2).bit_length()

        def factorial(n: Any) -> int:
            if isinstance(n, int) and n > 2:
                meter.check_bits(n * bits_of(n), "factorial")
                meter.charge(n * bits_of(n) // 8)
            return _math.factorial(n)

        def comb(n: Any, k: Any) -> int:
            if isinstance(n, int) and isinstance(k, int) and 0 < k < n:
                bits = min(k, n - k) * bits_of(n)
                meter.check_bits(bits, "comb")
                meter.charge(bits // 8)
            return _math.comb(n, k)

        def perm(n: Any, k: Any = None) -> int:
            if isinstance(n, int) and n > 0:
                steps = n if k is None else min(k, n) if isinstance(k, int) else n
                steps = max(steps, 0)  # a negative k: perm() raises its own ValueError
                bits = steps * bits_of(n)
                meter.check_bits(bits, "perm")
                meter.charge(bits // 8)
            return _math.perm(n, k)

        mul = self._hooks["_mul_"]
        tick = meter.tick

        def prod(iterable: Any, *, start: Any = 1) -> Any:
            result = start
            for item in self._lazy(iterable):
                tick()
                result = mul(result, item)
            return result

        def lcm(*integers: Any) -> int:
            result = 1
            for value in integers:
                tick()
                if isinstance(value, int) and value.bit_length() > costs.BIG_BITS:
                    spend(costs.gcd_ops(value.bit_length(), result.bit_length()))
                result = _math.lcm(result, value)
                bits = result.bit_length()
                if bits > meter.max_int_bits:
                    meter.check_bits(bits, "lcm")
                meter.charge(bits // 8)
            return result

        def gcd(*integers: Any) -> int:
            widest = max((v.bit_length() for v in integers if isinstance(v, int)), default=0)
            if widest > costs.BIG_BITS:
                spend(len(integers) * costs.gcd_ops(widest, widest))
            return _math.gcd(*integers)

        def isqrt(n: Any) -> int:
            if isinstance(n, int) and n.bit_length() > costs.BIG_BITS:
                spend(costs.root_ops(n.bit_length()))
            return _math.isqrt(n)

        def fsum(iterable: Any) -> float:
            return _math.fsum(self._charged_len(self._lazy(iterable)))

        def dist(p: Any, q: Any) -> float:
            self._charged_len(p)
            self._charged_len(q)
            return _math.dist(p, q)

        return {"factorial": factorial, "comb": comb, "perm": perm, "prod": prod, "lcm": lcm,
                "gcd": gcd, "isqrt": isqrt, "fsum": fsum, "dist": dist}

    def _wrap_json(self) -> dict[str, Any]:
        meter = self._meter

        def default_for(user_default: Any) -> Callable[[Any], Any]:
            def default(value: Any) -> Any:
                if type(value) in SET_TYPES:
                    return ordered(value, meter.charge)
                if user_default is not None:
                    return user_default(value)
                raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
            return default

        def check_padding(name: str, value: Any) -> None:
            if isinstance(value, int) and not isinstance(value, bool) and value > 16:
                raise ValueError(f"json.dumps {name} above 16 is not allowed in the sandbox")
            if isinstance(value, str) and len(value) > 16:
                raise ValueError(f"json.dumps {name} strings above 16 characters are not "
                                 "allowed in the sandbox")

        def dumps(obj: Any, *, skipkeys: bool = False, ensure_ascii: bool = True,
                  check_circular: bool = True, allow_nan: bool = True, indent: Any = None,
                  separators: Any = None, default: Any = None, sort_keys: bool = False,
                  **kwargs: Any) -> str:
            kwargs.pop("cls", None)
            if kwargs:
                raise TypeError(f"json.dumps() got an unexpected keyword argument "
                                f"{sorted(kwargs)[0]!r}")
            check_padding("indent", indent)
            if separators is not None:
                for part in separators:
                    check_padding("separators", part)
            encoder = _json.JSONEncoder(
                skipkeys=skipkeys, ensure_ascii=ensure_ascii, check_circular=check_circular,
                allow_nan=allow_nan, indent=indent, separators=separators,
                default=default_for(default), sort_keys=sort_keys)
            # The chunked (pure-Python) encoder: a tick per chunk and a running
            # size check, so indentation, separators and shared sub-structures
            # cannot multiply the output beyond the limits before we look.
            chunks = []
            total = 0
            limit = meter.max_len
            spend = meter.spend
            for chunk in encoder.iterencode(obj):
                spend(4)  # the pure-Python encoder: about 0.2 us a chunk
                total += len(chunk)
                if total > limit:
                    meter.check_len(total, "json.dumps output")
                chunks.append(chunk)
            meter.charge(total)
            return "".join(chunks)

        def loads(text: Any, **kwargs: Any) -> Any:
            kwargs.pop("cls", None)
            text = exact_text(text)
            if isinstance(text, str | bytes | bytearray):
                meter.charge(len(text) * 4)
            return _json.loads(text, **kwargs)

        return {"dumps": dumps, "loads": loads}

    def _wrap_re(self) -> dict[str, Any]:
        meter = self._meter
        to_str = self._hooks["_str_"]

        def compile(pattern: Any, flags: Any = 0) -> Any:
            if isinstance(pattern, _re.Pattern):
                return _re.compile(pattern, flags)
            pattern = exact_text(pattern)  # re's process-wide cache keeps the pattern
            if isinstance(pattern, str | bytes):
                meter.spend(len(pattern) * 16)  # sre_parse runs in host Python
                if _may_warn(pattern):
                    return _compile_quietly(pattern, flags)
            return _re.compile(pattern, flags)

        def scanner(name: str, weight: int) -> Callable[..., Any]:
            method = getattr(_re.Pattern, name)

            def scan(pattern: Any, string: Any, *args: Any, **kwargs: Any) -> Any:
                compiled = compile(pattern, kwargs.pop("flags", 0))
                if isinstance(string, str | bytes):
                    meter.charge(len(string) * weight)
                return method(compiled, string, *args, **kwargs)
            scan.__name__ = name
            return scan

        def substituter(subn: bool) -> Callable[..., Any]:
            def sub(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
                return regex_substitute(meter, compile(pattern, flags), repl, string, count,
                                        subn, to_str)
            return sub

        def escape(pattern: Any) -> Any:
            # re.escape calls pattern.translate(<the host's escape table>)
            pattern = exact_text(pattern)
            if isinstance(pattern, str | bytes):
                meter.check_len(2 * len(pattern), "re.escape output")
                meter.charge(4 * len(pattern))
            return _re.escape(pattern)

        members = {name: scanner(name, 1) for name in ("search", "match", "fullmatch",
                                                       "finditer")}
        members["escape"] = escape
        members.update({name: scanner(name, _POINTER) for name in ("findall", "split")})
        members.update(compile=compile, sub=substituter(False), subn=substituter(True))
        return members

    def _wrap_datetime(self) -> dict[str, Any]:
        datetime, date, _ = frozen_time_modules(self._clock)
        return {"datetime": datetime, "date": date}

    def _wrap_time(self) -> dict[str, Any]:
        members = dict(frozen_time_modules(self._clock)[2])
        members.pop("struct_time")
        return members

    def _wrap_random(self) -> dict[str, Any]:
        rng = self._rng
        meter = self._meter
        seed = self._seed

        def charged_seed(value: Any) -> Any:
            value = exact_text(value)  # seed() calls value.encode()
            if isinstance(value, str | bytes | bytearray):
                meter.charge(len(value) * 2)  # hashed with sha512 on every call
            return value

        def reseed(value: Any = None, version: int = 2) -> None:
            rng.seed(seed if value is None else charged_seed(value), version)

        checked = _checked_random_methods(meter)

        class Random(_random.Random):
            """A private generator; unseeded ones draw their seed from the session."""

            def __init__(self, x: Any = None) -> None:
                super().__init__(rng.getrandbits(64) if x is None else charged_seed(x))

            def seed(self, a: Any = None, version: int = 2) -> None:
                super().seed(rng.getrandbits(64) if a is None else charged_seed(a), version)

        for name, method in checked.items():
            setattr(Random, name, method)
        Random.__module__ = "random"
        members = {name: _bound_to(method, rng) for name, method in checked.items()}
        members.update(seed=reseed, Random=Random)
        return members

    def _wrap_string(self) -> dict[str, Any]:
        meter = self._meter
        to_str = self._hooks["_str_"]

        class Template(_string.Template):
            """``string.Template`` whose output is rendered stably and sized first."""

            def __init_subclass__(cls) -> None:
                # string.Template's hook, with the pattern compiled quietly
                # (a tool's pattern may use set syntax sre_parse warns about).
                if "pattern" in cls.__dict__:
                    pattern = exact_text(cls.pattern)
                else:
                    delim = _re.escape(exact_text(cls.delimiter))
                    ident = cls.idpattern
                    braced = cls.braceidpattern or cls.idpattern
                    pattern = fr"""
                    {delim}(?:
                      (?P<escaped>{delim})  |   # Escape sequence of two delimiters
                      (?P<named>{ident})      |   # delimiter and a Python identifier
                      {{(?P<braced>{braced})}} |   # delimiter and a braced identifier
                      (?P<invalid>)             # Other ill-formed delimiter exprs
                    )
                    """
                if isinstance(pattern, str | bytes):
                    meter.spend(len(pattern) * 16)
                cls.pattern = _compile_quietly(pattern, cls.flags | _re.VERBOSE)

            def _text(self) -> str:
                # the template's own count() would decide what is charged (a
                # negative count gave budget back): exact strings only
                text = self.template
                if type(text) is not str:
                    if not isinstance(text, str):
                        raise TypeError("string.Template: the template must be a str")
                    text = self.template = str.__str__(text)
                return text

            def _checked(self, substitute: Callable[..., str], mapping: Any,
                         kws: dict[str, Any]) -> str:
                merged = dict(mapping) if mapping is not None else {}
                merged.update(kws)
                meter.charge(len(merged) * 3 * _POINTER)
                values = {key: to_str(value) for key, value in merged.items()}
                widest = max((len(v) for v in values.values()), default=0)
                text = self._text()
                fields = text.count(self.delimiter)
                size = len(text) + fields * widest
                meter.check_len(size, "Template output")
                meter.charge(size)
                meter.spend(16 * fields)  # a host-Python callback per field
                return substitute(values)

            def substitute(self, mapping: Any = None, /, **kws: Any) -> str:
                return self._checked(super().substitute, mapping, kws)

            def safe_substitute(self, mapping: Any = None, /, **kws: Any) -> str:
                return self._checked(super().safe_substitute, mapping, kws)

            def get_identifiers(self) -> list:
                meter.spend(16 * self._text().count(self.delimiter))
                return super().get_identifiers()

            def is_valid(self) -> bool:
                meter.spend(16 * self._text().count(self.delimiter))
                return super().is_valid()

        Template.__module__ = "string"

        def capwords(s: Any, sep: Any = None) -> str:
            s, sep = exact_text(s), exact_text(sep)  # capwords calls s.split(sep)
            if isinstance(s, str):
                meter.charge(len(s) * 16)  # split, capitalize each word, join: lists of words
            return _string.capwords(s, sep)

        return {"Template": Template, "capwords": capwords}

    def _wrap_collections(self) -> dict[str, Any]:
        meter = self._meter
        materialised = self._materialised

        def mapping_source(source: Any) -> Any:
            if isinstance(source, dict) or hasattr(source, "keys"):
                meter.charge(len(source) * 3 * _POINTER)
                return source
            items = materialised(source)
            meter.charge(len(items) * 3 * _POINTER)
            return items

        def counter(iterable: Any = None, /, **kwds: Any) -> _collections.Counter:
            meter.charge(len(kwds) * 3 * _POINTER)
            if iterable is None:
                return _collections.Counter(**kwds)
            return _collections.Counter(mapping_source(iterable), **kwds)

        def deque(iterable: Any = (), maxlen: Any = None) -> _collections.deque:
            return _collections.deque(materialised(iterable), maxlen)

        def ordered_dict(*args: Any, **kwargs: Any) -> _collections.OrderedDict:
            meter.charge(len(kwargs) * 3 * _POINTER)
            return _collections.OrderedDict(*[mapping_source(a) for a in args], **kwargs)

        def defaultdict(default_factory: Any = None, *args: Any,
                        **kwargs: Any) -> _collections.defaultdict:
            meter.charge(len(kwargs) * 3 * _POINTER)
            return _collections.defaultdict(default_factory,
                                            *[mapping_source(a) for a in args], **kwargs)

        def namedtuple(typename: Any, field_names: Any, *, rename: bool = False,
                       defaults: Any = None, module: Any = None) -> type:
            typename, field_names = exact_text(typename), exact_text(field_names)
            if isinstance(field_names, str):
                fields = field_names.replace(",", " ").split()
            else:
                fields = list(materialised(field_names))
            if len(fields) > _MAX_FIELDS:
                raise ValueError(f"namedtuple: {len(fields):,} fields; the sandbox allows "
                                 f"{_MAX_FIELDS}")
            for name in (typename, *fields):
                if isinstance(name, str) and len(name) > _MAX_NAME:
                    raise ValueError(f"namedtuple: names are limited to {_MAX_NAME} "
                                     "characters in the sandbox")
            meter.spend(200 * (len(fields) + 1))  # source built and exec()d in host Python
            if defaults is not None:
                defaults = materialised(defaults)
            return _collections.namedtuple(typename, fields, rename=rename, defaults=defaults,
                                           module="tool" if module is None else module)

        self._namedtuple = namedtuple
        return {
            "Counter": guarded_type(_collections.Counter, counter),
            "deque": guarded_type(_collections.deque, deque),
            "OrderedDict": guarded_type(_collections.OrderedDict, ordered_dict),
            "defaultdict": guarded_type(_collections.defaultdict, defaultdict),
            "namedtuple": namedtuple,
        }

    def _wrap_itertools(self) -> dict[str, Any]:
        meter = self._meter
        materialised = self._materialised
        add = self._hooks["_add_"]
        lazy = self._lazy
        ticking_ = self._ticking

        def fed(value: Any) -> Any:
            """An iterable argument, advanced from a ticking Python frame.

            itertools' C loops (``filterfalse``, ``compress``, ``islice``'s skip,
            ``groupby``) would otherwise scan a ten-million-item list within one
            ``next()``.
            """
            return ticking_(lazy(value))

        def wrapped(name: str, iterable_args: tuple[int, ...] | str) -> Callable[..., Any]:
            real = getattr(_itertools, name)

            def function(*args: Any, **kwargs: Any) -> Any:
                args = tuple(fed(a) if iterable_args == "all" or i in iterable_args else a
                             for i, a in enumerate(args))
                return ticking_(real(*args, **kwargs))
            function.__name__ = name
            return function

        members = {name: wrapped(name, positions) for name, positions in (
            ("count", ()), ("cycle", (0,)), ("repeat", ()), ("zip_longest", "all"),
            ("starmap", (1,)), ("takewhile", (1,)), ("dropwhile", (1,)),
            ("filterfalse", (1,)), ("compress", (0, 1)), ("pairwise", (0,)),
            ("groupby", (0,))) if hasattr(_itertools, name)}

        def islice(iterable: Any, *args: Any) -> Any:
            return ticking_(_itertools.islice(fed(iterable), *args))

        def sized_items(iterator: Any, width: int) -> Any:
            # each item is a fresh tuple of ``width`` elements
            spend = meter.spend
            cost = max(width // 32, 1)
            for item in iterator:
                spend(cost)
                yield item

        def pooled(name: str) -> Callable[..., Any]:
            real = getattr(_itertools, name)

            def combinatoric(iterable: Any, r: Any = None) -> Any:
                pool = materialised(iterable)
                width = len(pool) if r is None else r
                if isinstance(width, int):
                    meter.check_len(max(width, 0), f"itertools.{name} r")
                return sized_items(real(pool) if r is None else real(pool, r),
                                   width if isinstance(width, int) else 1)
            combinatoric.__name__ = name
            return combinatoric

        for name in ("permutations", "combinations", "combinations_with_replacement"):
            members[name] = pooled(name)

        def accumulate(iterable: Any, func: Any = None, *, initial: Any = None) -> Any:
            return ticking_(_itertools.accumulate(lazy(iterable), add if func is None else func,
                                                  initial=initial))

        def product(*iterables: Any, repeat: int = 1) -> Any:
            pools = [materialised(it) for it in iterables]
            width = len(pools) * max(repeat, 0) if isinstance(repeat, int) else 1
            meter.check_len(sum(len(p) for p in pools) * max(repeat, 0), "itertools.product pools")
            return sized_items(_itertools.product(*pools, repeat=repeat), width)

        def tee(iterable: Any, n: int = 2) -> tuple:
            if isinstance(n, int):
                n_ = max(n, 0)  # negative: tee() raises its own ValueError
                meter.check_len(n_, "itertools.tee")
                meter.charge(n_ * 64)
            return _itertools.tee(fed(iterable), n)

        def chain(*iterables: Any) -> Any:
            return ticking_(_itertools.chain(*[lazy(i) for i in iterables]))

        def from_iterable(iterables: Any) -> Any:
            return ticking_(_itertools.chain.from_iterable(lazy(i) for i in lazy(iterables)))

        chain.from_iterable = from_iterable  # type: ignore[attr-defined]
        members.update(accumulate=accumulate, product=product, tee=tee, chain=chain,
                       islice=islice)
        if hasattr(_itertools, "batched"):  # Python 3.12+
            def batched(iterable: Any, n: Any) -> Any:
                if isinstance(n, int):
                    meter.check_len(max(n, 0), "itertools.batched n")
                return sized_items(_itertools.batched(fed(iterable), n),
                                   n if isinstance(n, int) else 1)
            members["batched"] = batched
        return members

    def _wrap_functools(self) -> dict[str, Any]:
        tick = self._meter.tick
        classes = self._classes
        missing = object()

        def reduce(function: Any, iterable: Any, initial: Any = missing) -> Any:
            items = iter(self._lazy(iterable))
            if initial is missing:
                try:
                    value = next(items)
                except StopIteration:
                    raise TypeError("reduce() of empty iterable with no initial value") from None
            else:
                value = initial
            for item in items:
                tick()
                value = function(value, item)
            return value

        def tool_function(func: Any, what: str) -> Any:
            if not _is_tool_function(func):
                raise TypeError(f"functools.{what} in the sandbox takes a function defined by "
                                "the tool")
            return func

        def lru_cache(maxsize: Any = 128, typed: bool = False) -> Any:
            if callable(maxsize) and not isinstance(maxsize, bool):
                return _functools.lru_cache(tool_function(maxsize, "lru_cache"))
            real = _functools.lru_cache(maxsize, typed)
            return lambda func: real(tool_function(func, "lru_cache"))

        def cache(func: Any) -> Any:
            return _functools.lru_cache(None)(tool_function(func, "cache"))

        def wraps(wrapped: Any, assigned: Any = missing, updated: Any = missing) -> Any:
            if assigned is not missing or updated is not missing:
                raise TypeError("functools.wraps: 'assigned' and 'updated' are not available in "
                                "the sandbox (they name attributes to copy)")

            def decorate(wrapper: Any) -> Any:
                if _is_tool_function(wrapped) and _is_tool_function(wrapper):
                    wrapper.__name__ = wrapped.__name__
                    wrapper.__qualname__ = wrapped.__qualname__
                    wrapper.__doc__ = wrapped.__doc__
                return wrapper
            return decorate

        def total_ordering(cls: Any) -> Any:
            if cls not in classes:
                raise TypeError("functools.total_ordering in the sandbox takes a class defined "
                                "by the tool")
            return _functools.total_ordering(cls)

        return {"reduce": reduce, "lru_cache": lru_cache, "cache": cache, "wraps": wraps,
                "total_ordering": total_ordering}

    def _wrap_statistics(self) -> dict[str, Any]:
        meter = self._meter
        materialised = self._materialised

        def cost(data: list) -> int:
            # statistics converts every item to an exact fraction in host Python
            ops = 20 * len(data)
            for item in data:
                kind = type(item)
                if kind is int:
                    bits = item.bit_length()
                elif kind is _fractions.Fraction:
                    # exact sums of fractions grow their denominators as they go
                    ops += 200
                    bits = item.numerator.bit_length() + item.denominator.bit_length()
                elif kind is _decimal.Decimal and item.is_finite():
                    ops += 200
                    bits = int(3.33 * (abs(item.adjusted()) + 30))
                else:
                    continue
                if bits > costs.BIG_BITS:
                    ops += 2 * costs.gcd_ops(bits, bits)
            return ops

        def wrap(func: Callable[..., Any], datasets: int = 1) -> Callable[..., Any]:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                args = list(args)
                for i in range(min(datasets, len(args))):
                    args[i] = materialised(args[i])
                    meter.spend(cost(args[i]))
                return func(*args, **kwargs)
            wrapper.__name__ = func.__name__
            return wrapper

        members = {name: wrap(getattr(_statistics, name)) for name in names("statistics",
                                                                              WRAPPED)
                   if hasattr(_statistics, name)}
        for name in ("correlation", "covariance", "linear_regression"):
            if hasattr(_statistics, name):
                members[name] = wrap(getattr(_statistics, name), datasets=2)
        quantiles = members["quantiles"]

        def guarded_quantiles(data: Any, *, n: int = 4, method: str = "exclusive") -> list:
            if isinstance(n, int):
                n_ = max(n, 0)  # below 1: quantiles() raises its own StatisticsError
                meter.check_len(n_, "statistics.quantiles")
                meter.charge(n_ * _POINTER)
            return quantiles(data, n=n, method=method)

        members["quantiles"] = guarded_quantiles
        return members

    def _wrap_decimal(self) -> dict[str, Any]:
        meter = self._meter
        real = _decimal.Decimal
        self.uses_decimal = True  # the session installs DECIMAL_CONTEXT during calls

        def build(value: Any = "0", context: Any = None) -> _decimal.Decimal:
            # Construction is exact (no context applies), so an exponent like
            # Decimal('1e1000000000') or a million-digit coefficient must be
            # refused here: int(), as_integer_ratio(), Fraction(...) and
            # format(':f') of them would build huge numbers.
            if isinstance(value, str) and len(value) > DECIMAL_EXP_LIMIT + DECIMAL_DIGITS_LIMIT:
                meter.trip(f"Decimal literal of {len(value):,} characters is beyond the "
                           f"sandbox limit of {DECIMAL_DIGITS_LIMIT:,} digits")
            if type(value) is int and value.bit_length() > DECIMAL_DIGITS_LIMIT * 3.33:
                meter.trip(f"Decimal of an integer of {value.bit_length():,} bits is beyond the "
                           f"sandbox limit of {DECIMAL_DIGITS_LIMIT:,} digits")
            if isinstance(value, tuple | list) and len(value) == 3 and \
                    hasattr(value[1], "__len__") and len(value[1]) > DECIMAL_DIGITS_LIMIT:
                meter.trip(f"Decimal coefficient of {len(value[1]):,} digits is beyond the "
                           f"sandbox limit of {DECIMAL_DIGITS_LIMIT:,}")
            result = real(value)
            if result.is_finite() and result:
                if abs(result.adjusted()) > DECIMAL_EXP_LIMIT:
                    meter.trip(f"Decimal exponent {result.adjusted():,} is beyond the sandbox "
                               f"limit of ±{DECIMAL_EXP_LIMIT:,}")
                digits = len(result.as_tuple().digits)
                if digits > DECIMAL_DIGITS_LIMIT:
                    meter.trip(f"Decimal of {digits:,} digits is beyond the sandbox limit of "
                               f"{DECIMAL_DIGITS_LIMIT:,}")
            return result

        return {"Decimal": guarded_type(real, build)}

    def _wrap_fractions(self) -> dict[str, Any]:
        meter = self._meter
        real = _fractions.Fraction
        check_fraction = self._hooks["check_fraction"]

        def exponent_digits(value: Any) -> int:
            if isinstance(value, str):
                match = _EXPONENT.search(value)
                return abs(int(match[1])) if match else 0
            if isinstance(value, _decimal.Decimal) and value.is_finite():
                return abs(value.adjusted()) + DECIMAL_DIGITS_LIMIT
            return 0

        def build(numerator: Any = 0, denominator: Any = None) -> _fractions.Fraction:
            # Fraction("1e100000000") and Fraction(Decimal(...)) compute
            # 10 ** exponent in C before anything can look at the result; two
            # big ints cost a gcd.
            for value in (numerator, denominator):
                if isinstance(value, str):
                    # parsed by a backtracking regex: ~0.4 us a character; a fraction
                    # longer than this has more digits than int() accepts anyway
                    if len(value) > _MAX_FRACTION_TEXT:
                        raise ValueError(f"Fraction text of {len(value):,} characters is too "
                                         f"long for the sandbox (limit {_MAX_FRACTION_TEXT:,})")
                    meter.spend(len(value) // 2)
            digits = max(exponent_digits(numerator), exponent_digits(denominator))
            if digits:
                meter.check_bits(int(digits / 0.30103), "Fraction")
            bits = max((v.bit_length() for v in (numerator, denominator)
                        if type(v) is int), default=0)
            if bits > costs.BIG_BITS:
                meter.spend(costs.gcd_ops(bits, bits))
            result = real(numerator, denominator)
            check_fraction(result)
            return result

        return {"Fraction": guarded_type(real, build)}

    def _wrap_typing(self) -> dict[str, Any]:
        materialised = self._materialised

        def named_tuple(typename: Any, fields: Any = None, /, **kwargs: Any) -> type:
            items = list(materialised(fields)) if fields is not None else list(kwargs.items())
            if len(items) > _MAX_FIELDS:
                raise ValueError(f"NamedTuple: {len(items):,} fields; the sandbox allows "
                                 f"{_MAX_FIELDS}")
            self.get("collections")  # builds the capped namedtuple
            names_ = [name for name, _type in items]
            return self._namedtuple(typename, names_)

        named_tuple.__mro_entries__ = lambda bases: (_typing._NamedTuple,)  # type: ignore
        members: dict[str, Any] = {"NamedTuple": named_tuple}
        for name in names("typing", WRAPPED) - {"NamedTuple"}:
            members[name] = _TypingForm(getattr(_typing, name))
        return members

    def _wrap_copy(self) -> dict[str, Any]:
        copier = Copier(self._meter, self._classes)
        return {"copy": copier.copy, "deepcopy": copier.deepcopy}

    def _wrap_calendar(self) -> dict[str, Any]:
        def month(theyear: int, themonth: int, w: int = 0, l: int = 0) -> str:  # noqa: E741
            if not (0 <= w <= 20 and 0 <= l <= 10):
                raise ValueError("calendar.month widths above 20 are not allowed in the sandbox")
            return _calendar.month(theyear, themonth, w, l)

        return {"month": month}

    def _wrap_textwrap(self) -> dict[str, Any]:
        meter = self._meter

        def sized(text: Any, width: Any, pads: tuple[Any, ...], tabsize: Any = 8) -> None:
            """Charge textwrap's host-Python work and size its output, before it runs.

            Measured: a few hundred ns per chunk and per output line, and a long
            word broken to the width costs quadratic time in its length.
            """
            if not isinstance(text, str):
                return
            pad = max((len(p) for p in pads if isinstance(p, str)), default=0)
            if isinstance(tabsize, int) and tabsize > 1:
                text_size = len(text) + text.count("\t") * tabsize
            else:
                text_size = len(text)
            usable = max((width if isinstance(width, int) else 70) - pad, 1)
            lines = text_size // usable + text.count("\n") + 1
            size = text_size + lines * (pad + 1)
            meter.check_len(size, "textwrap output")
            longest = max(map(len, text.split()), default=0) if len(text) > 4096 else 0
            meter.spend(len(text) * 4 + lines * 60 + longest * longest // 100_000)
            meter.charge(size)

        def texts(kwargs: dict[str, Any]) -> dict[str, Any]:
            # textwrap calls text.translate(<the host's whitespace table>) and
            # methods of the indents and placeholder: exact strings only
            return {key: exact_text(value) for key, value in kwargs.items()}

        def wrap(text: Any, width: Any = 70, **kwargs: Any) -> list:
            text, kwargs = exact_text(text), texts(kwargs)
            sized(text, width, (kwargs.get("initial_indent", ""),
                                kwargs.get("subsequent_indent", ""),
                                kwargs.get("placeholder", "")), kwargs.get("tabsize", 8))
            return _textwrap.wrap(text, width, **kwargs)

        def fill(text: Any, width: Any = 70, **kwargs: Any) -> str:
            return "\n".join(wrap(text, width, **kwargs))

        def shorten(text: Any, width: Any, **kwargs: Any) -> str:
            text, kwargs = exact_text(text), texts(kwargs)
            sized(text, width, (kwargs.get("placeholder", ""),))
            return _textwrap.shorten(text, width, **kwargs)

        def indent(text: Any, prefix: Any, predicate: Any = None) -> str:
            text, prefix = exact_text(text), exact_text(prefix)
            sized(text, 1 << 30, (prefix,))
            if isinstance(text, str):
                meter.spend(4 * text.count("\n"))  # a host generator step per line
            return _textwrap.indent(text, prefix, predicate)

        def dedent(text: Any) -> str:
            text = exact_text(text)
            sized(text, 1 << 30, ())
            if isinstance(text, str):
                meter.spend(12 * text.count("\n"))  # regex and prefix work per line
            return _textwrap.dedent(text)

        return {"wrap": wrap, "fill": fill, "shorten": shorten, "indent": indent,
                "dedent": dedent}

    def _wrap_uuid(self) -> dict[str, Any]:
        rng = self._rng

        def uuid4() -> _uuid.UUID:
            return _uuid.UUID(int=rng.getrandbits(128), version=4)

        def build(hex: Any = None, *args: Any, **kwargs: Any) -> _uuid.UUID:
            hex = exact_text(hex)  # UUID() calls hex.replace(...)
            if isinstance(hex, str) and len(hex) > 100:
                raise ValueError("badly formed hexadecimal UUID string")
            return _uuid.UUID(hex, *args, **kwargs)

        meter = self._meter

        def named(real: Callable[..., Any]) -> Callable[..., Any]:
            def uuid_from_name(namespace: Any, name: Any) -> _uuid.UUID:
                if isinstance(name, str | bytes):
                    meter.charge(len(name) * 2)
                return real(namespace, name)
            uuid_from_name.__name__ = real.__name__
            return uuid_from_name

        return {"uuid4": uuid4, "UUID": guarded_type(_uuid.UUID, build),
                "uuid3": named(_uuid.uuid3), "uuid5": named(_uuid.uuid5)}

    def _wrap_hashlib(self) -> dict[str, Any]:
        meter = self._meter

        def constructor(name: str) -> Callable[..., Any]:
            real = getattr(_hashlib, name)

            def new(data: Any = b"", **kwargs: Any) -> Any:
                if hasattr(data, "__len__"):
                    meter.charge(len(data))
                return real(data, **kwargs)
            new.__name__ = name
            return new

        return {name: constructor(name) for name in names("hashlib", WRAPPED)}


class _TypingForm:
    """A subscriptable typing construct (``List``, ``Literal``, ...) with bounded parameters.

    ``typing`` caches every subscription in process-wide LRU caches keyed by
    the parameters: ``Literal[tuple_of_a_million_strings]`` would stay in the
    host's memory long after the session ended, and building it runs host
    Python per parameter. Subscripting returns the real typing object, so
    annotations and ``Generic[T]`` bases work as usual.
    """

    __slots__ = ("_real",)
    MAX_PARAMETERS = 64
    MAX_PARAMETER_LENGTH = 256

    def __init__(self, real: Any) -> None:
        object.__setattr__(self, "_real", real)

    def __getitem__(self, parameters: Any) -> Any:
        return _TypingAlias(self._real[bounded_parameters(self._real, parameters)])

    def __or__(self, other: Any) -> Any:
        return _TypingAlias(self._real | _unwrapped(other))

    def __ror__(self, other: Any) -> Any:
        return _TypingAlias(_unwrapped(other) | self._real)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("typing constructs are read-only in the sandbox")

    def __repr__(self) -> str:
        return repr(self._real)


class _TypingAlias(_TypingForm):
    """A subscripted typing construct (``List[int]``) that forwards nothing.

    typing's aliases forward every attribute that does not start with ``_``
    to their origin (``List[int].mro()`` is the real ``list``'s,
    ``Mapping[str, int].register`` is ``collections.abc.Mapping.register``)
    and write every such attribute to it: a way to the real, unguarded types
    and to host state. This wrapper offers what annotations and ``Generic[T]``
    bases need: subscription, ``|``, equality and ``__mro_entries__``.
    """

    __slots__ = ()

    def __mro_entries__(self, bases: tuple) -> tuple:
        entries = self._real.__mro_entries__(bases)
        for entry in entries:
            # typing.Type[X] hands out the real `type`: a subclass would be a
            # metaclass the tool could call with a namespace of any names.
            # Iterable/Mapping/Callable/... hand out collections.abc classes,
            # whose register() changes isinstance() answers process-wide.
            if isinstance(entry, type) and (type in mro_of(entry) or type(entry) is not type):
                raise TypeError(f"{self._real!r} cannot be a base class in the sandbox")
        return entries

    def __eq__(self, other: Any) -> bool:
        return self._real == _unwrapped(other)

    def __hash__(self) -> int:
        return hash(self._real)


def bounded_parameters(owner: Any, parameters: Any) -> Any:
    """``parameters`` of a typing subscription, checked and unwrapped.

    typing caches subscriptions process-wide and turns string parameters into
    ``ForwardRef`` objects (a host ``compile()`` of the text): at most
    :attr:`_TypingForm.MAX_PARAMETERS` parameters, strings of at most
    :attr:`_TypingForm.MAX_PARAMETER_LENGTH` characters, exact ``str``/``bytes``.
    """
    items = parameters if type(parameters) is tuple else (parameters,)
    if len(items) > _TypingForm.MAX_PARAMETERS:
        raise TypeError(f"{owner!r}: {len(items):,} parameters; the sandbox allows "
                        f"{_TypingForm.MAX_PARAMETERS}")
    items = tuple(exact_text(item) for item in items)  # typing's caches keep them
    parameters = items if type(parameters) is tuple else items[0]
    for item in items:
        if isinstance(item, str | bytes) and len(item) > _TypingForm.MAX_PARAMETER_LENGTH:
            raise TypeError(f"{owner!r}: a parameter of {len(item):,} characters; the "
                            f"sandbox allows {_TypingForm.MAX_PARAMETER_LENGTH}")
    return _unwrapped(parameters)


def _uncached(function: Any) -> Any:
    """A typing function without its process-wide cache (``functools.wraps`` keeps it).

    The cache would keep tool classes, and the sessions they belong to, alive
    after the session ended.
    """
    return getattr(function, "__wrapped__", function)


_GENERIC_GETITEM = _uncached(_typing.Generic.__dict__["__class_getitem__"].__func__)


class ToolGenericAlias(_TypingAlias):
    """``Box[int]`` for a tool's own ``Generic`` class: callable as the class, nothing more.

    typing's real alias forwards every public attribute to its origin, read and
    write, past the sandbox's per-type attribute guards (``L[int].extend`` of a
    ``list`` subclass would be the raw, unmetered ``list.extend``). This wrapper
    subscripts (``Pair[int, K][str]``), serves as a base class and as an
    annotation, and calls the class itself.
    """

    __slots__ = ()

    def __getitem__(self, parameters: Any) -> Any:
        real = self._real
        getitem = _uncached(type(real).__getitem__)
        return ToolGenericAlias(getitem(real, bounded_parameters(real, parameters)))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._real.__origin__(*args, **kwargs)


def tool_generic_getitem(cls: type, parameters: Any) -> ToolGenericAlias:
    """``__class_getitem__`` of a tool class that derives from ``typing.Generic``."""
    return ToolGenericAlias(_GENERIC_GETITEM(cls, bounded_parameters(cls, parameters)))


def _unwrapped(value: Any) -> Any:
    """Typing parameters with the sandbox's wrappers taken off (nested lists included)."""
    if isinstance(value, _TypingForm):
        return value._real
    if type(value) is tuple:
        return tuple(_unwrapped(item) for item in value)
    if type(value) is list:
        return [_unwrapped(item) for item in value]
    return value


def _checked_random_methods(meter: Meter) -> dict[str, Callable[..., Any]]:
    """``random.Random`` methods that are sized first; they take the generator first."""

    def capped(n: Any, what: str, weight: int = _POINTER) -> None:
        if isinstance(n, int):
            n = max(n, 0)  # negative: choices() draws nothing, the others raise
            meter.check_len(n, what)
            meter.charge(n * weight)

    def choices(rng: Any, population: Any, weights: Any = None, *, cum_weights: Any = None,
                k: int = 1) -> list:
        # about 0.8 us a draw, plus a bisection over the weights when there are any
        size = len(population) if hasattr(population, "__len__") else 1
        per_draw = 16 + (8 * max(size, 1).bit_length() if weights is not None
                         or cum_weights is not None else 0)
        capped(k, "random.choices", per_draw * meter.alloc_unit)
        for seq in (population, weights, cum_weights):
            if hasattr(seq, "__len__"):
                meter.charge(len(seq) * 2 * _POINTER)
        return _random.Random.choices(rng, ordered_if_set(population, meter.charge), weights,
                                      cum_weights=cum_weights, k=k)

    def sample(rng: Any, population: Any, k: int, *, counts: Any = None) -> list:
        capped(k, "random.sample", 32 * meter.alloc_unit)  # about 1.5 us a draw
        for seq in (population, counts):
            if hasattr(seq, "__len__"):
                meter.charge(len(seq) * 2 * _POINTER)
        return _random.Random.sample(rng, ordered_if_set(population, meter.charge), k,
                                     counts=counts)

    def shuffle(rng: Any, x: Any) -> None:
        if hasattr(x, "__len__"):
            meter.spend(len(x) * 20)  # a host-Python loop: one draw and one swap per item
        _random.Random.shuffle(rng, x)

    def getrandbits(rng: Any, k: int) -> int:
        meter.check_bits(k, "random.getrandbits")
        return _random.Random.getrandbits(rng, k)

    def randbytes(rng: Any, n: int) -> bytes:
        capped(n, "random.randbytes", 1)
        return _random.Random.randbytes(rng, n)

    def randrange(rng: Any, start: Any, stop: Any = None, step: Any = 1) -> int:
        for value in (start, stop, step):
            if value is not None and type(value) not in (int, bool):
                raise TypeError("randrange() arguments must be integers in the sandbox")
        return _random.Random.randrange(rng, start, stop, step)

    return {"choices": choices, "sample": sample, "shuffle": shuffle, "getrandbits": getrandbits,
            "randbytes": randbytes, "randrange": randrange}
