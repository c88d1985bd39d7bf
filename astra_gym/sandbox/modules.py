"""Whitelisted standard-library modules, behind read-only proxies.

``import X`` inside a tool returns a :class:`ModuleProxy` exposing only vetted
members of ``X``. What would break determinism is replaced: ``datetime.now()``,
``date.today()`` and ``time.time()`` read the session's frozen clock, ``random``
is the session's own seeded ``random.Random`` (never the host's module), and
``uuid.uuid4()`` draws from it. What iterates or allocates in C without bound
(``itertools.count()`` fed to ``sorted``, ``math.factorial(10**7)``,
``json.dumps(x, indent=10**9)``, ``re.sub`` with a huge replacement, ...) is
wrapped so it ticks or is size-checked first. Anything not listed is an
``ImportError``.
"""

from __future__ import annotations

import calendar as _calendar
import collections as _collections
import copy as _copy
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
import typing as _typing
import uuid as _uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .builtins import guarded_type
from .meter import Meter
from .ordering import SET_TYPES, ordered, ordered_if_set

__all__ = ["ALLOWED_MODULES", "DECIMAL_CONTEXT", "ModuleProxy", "ModuleTable",
           "frozen_time_modules"]

ALLOWED_MODULES = (
    "math", "json", "re", "datetime", "time", "random", "string", "collections", "itertools",
    "functools", "statistics", "decimal", "fractions", "typing", "copy", "calendar",
    "textwrap", "uuid", "hashlib",
)
_POINTER = 8
_EXPONENT = _re.compile(r"[eE]\s*([+-]?\d+)")


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


def _pick(module: Any, names: str) -> dict[str, Any]:
    return {name: getattr(module, name) for name in names.split() if hasattr(module, name)}


# ------------------------------------------------------------------ clock
@lru_cache(maxsize=64)
def frozen_time_modules(clock: _dt.datetime) -> tuple[type, type, dict[str, Any]]:
    """Frozen ``datetime``/``date`` classes and ``time`` members for ``clock``.

    ``clock`` is naive and read as UTC. Cached per clock, so sessions that
    share the default clock share the classes.
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
        "strftime": lambda fmt, t=None: _time.strftime(fmt, _struct(None) if t is None else t),
        "strptime": _time.strptime,
        "asctime": lambda t=None: _time.asctime(_struct(None) if t is None else t),
        "ctime": lambda secs=None: _time.asctime(_struct(secs)),
        "struct_time": _time.struct_time,
        "timezone": 0, "altzone": 0, "daylight": 0, "tzname": ("UTC", "UTC"),
    }
    return datetime, date, time_members



#: Largest |exponent| of a Decimal inside the sandbox (about 100,000 bits).
DECIMAL_EXP_LIMIT = 30_000
#: The decimal context active during calls of sessions that imported decimal:
#: the default precision and rounding, with exponents bounded so arithmetic
#: overflows (a clean error) instead of building huge numbers.
DECIMAL_CONTEXT = _decimal.Context(prec=28, rounding=_decimal.ROUND_HALF_EVEN,
                                   Emax=DECIMAL_EXP_LIMIT, Emin=-DECIMAL_EXP_LIMIT,
                                   traps=[_decimal.InvalidOperation, _decimal.DivisionByZero,
                                          _decimal.Overflow])


class ModuleTable:
    """The modules one session can import, built lazily on first import."""

    uses_decimal = False

    def __init__(self, meter: Meter, rng: _random.Random, seed: int, clock: _dt.datetime,
                 hooks: dict[str, Any]) -> None:
        self._meter = meter
        self._rng = rng
        self._seed = seed
        self._clock = clock
        self._hooks = hooks
        self._built: dict[str, ModuleProxy] = {}

    def get(self, name: str) -> ModuleProxy | None:
        proxy = self._built.get(name)
        if proxy is None and name in ALLOWED_MODULES:
            proxy = ModuleProxy(name, getattr(self, f"_build_{name}")())
            self._built[name] = proxy
        return proxy

    # -- helpers ------------------------------------------------------------
    def _ticking(self, iterator: Any) -> Any:
        tick = self._meter.tick
        for item in iterator:
            tick()
            yield item

    def _wrap_iter(self, func: Callable[..., Any]) -> Callable[..., Any]:
        ticking = self._ticking

        @_functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return ticking(func(*[ordered_if_set(a) for a in args], **kwargs))
        return wrapper

    def _ordered_args(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @_functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*[ordered_if_set(a) for a in args], **kwargs)
        return wrapper

    # -- modules ------------------------------------------------------------
    def _build_math(self) -> dict[str, Any]:
        meter = self._meter
        members = _pick(_math, """acos acosh asin asinh atan atan2 atanh cbrt ceil copysign cos
            cosh degrees dist e erf erfc exp exp2 expm1 fabs floor fmod frexp fsum gamma gcd hypot
            inf isclose isfinite isinf isnan isqrt lcm ldexp lgamma log log10 log1p log2 modf nan
            nextafter pi pow radians remainder sin sinh sqrt tan tanh tau trunc ulp""")

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
                bits = steps * bits_of(n)
                meter.check_bits(bits, "perm")
                meter.charge(bits // 8)
            return _math.perm(n, k)

        mul = self._hooks["_mul_"]
        tick = meter.tick

        def prod(iterable: Any, *, start: Any = 1) -> Any:
            result = start
            for item in iterable:
                tick()
                result = mul(result, item)
            return result

        def lcm(*integers: Any) -> int:
            result = 1
            for value in integers:
                tick()
                result = _math.lcm(result, value)
                bits = result.bit_length()
                if bits > meter.max_int_bits:
                    meter.check_bits(bits, "lcm")
                meter.charge(bits // 8)  # each step costs time in proportion
            return result

        members.update(factorial=factorial, comb=comb, perm=perm, prod=prod, lcm=lcm,
                       fsum=self._ordered_args(_math.fsum))
        return members

    def _build_json(self) -> dict[str, Any]:
        meter = self._meter

        def default_for(user_default: Any) -> Callable[[Any], Any]:
            def default(value: Any) -> Any:
                if type(value) in SET_TYPES:
                    return ordered(value)
                if user_default is not None:
                    return user_default(value)
                raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
            return default

        def dumps(obj: Any, *, indent: Any = None, default: Any = None, **kwargs: Any) -> str:
            if isinstance(indent, int) and not isinstance(indent, bool) and indent > 16:
                raise ValueError("json.dumps indent above 16 is not allowed in the sandbox")
            if isinstance(indent, str) and len(indent) > 16:
                raise ValueError("json.dumps indent strings above 16 characters are not allowed")
            kwargs.pop("cls", None)
            text = _json.dumps(obj, indent=indent, default=default_for(default), **kwargs)
            meter.check_len(len(text), "json.dumps output")
            meter.charge(len(text))
            return text

        def loads(text: Any, **kwargs: Any) -> Any:
            kwargs.pop("cls", None)
            if isinstance(text, str | bytes):
                meter.charge(len(text) * 4)
            return _json.loads(text, **kwargs)

        return {"dumps": dumps, "loads": loads, "JSONDecodeError": _json.JSONDecodeError}

    def _build_re(self) -> dict[str, Any]:
        meter = self._meter
        members = _pick(_re, """compile search match fullmatch findall finditer split escape
            error Pattern Match I IGNORECASE M MULTILINE S DOTALL X VERBOSE A ASCII U UNICODE
            NOFLAG""")

        def sub_checked(subn: bool) -> Callable[..., Any]:
            def sub(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
                compiled = _re.compile(pattern, flags) if not isinstance(pattern, _re.Pattern) \
                    else pattern
                if isinstance(string, str | bytes) and isinstance(repl, str | bytes):
                    hits = 0
                    for _ in compiled.finditer(string):
                        meter.tick()
                        hits += 1
                        if count and hits >= count:
                            break
                    per_hit = len(repl) * (len(string) + 1 if "\\" in str(repl) else 1)
                    size = len(string) + hits * per_hit
                    meter.check_len(size, "re.sub output")
                    meter.charge(size)
                elif callable(repl):
                    user = repl

                    def repl(match: Any) -> Any:
                        out = user(match)
                        if isinstance(out, str | bytes):
                            meter.charge(len(out))
                        return out
                result = compiled.subn(repl, string, count) if subn else \
                    compiled.sub(repl, string, count)
                return result
            return sub

        members.update(sub=sub_checked(False), subn=sub_checked(True))
        return members

    def _build_datetime(self) -> dict[str, Any]:
        datetime, date, _ = frozen_time_modules(self._clock)
        members = _pick(_dt, "timedelta timezone time tzinfo MINYEAR MAXYEAR UTC")
        members.update(datetime=datetime, date=date)
        return members

    def _build_time(self) -> dict[str, Any]:
        return dict(frozen_time_modules(self._clock)[2])

    def _build_random(self) -> dict[str, Any]:
        rng = self._rng
        meter = self._meter
        seed = self._seed

        def reseed(value: Any = None, version: int = 2) -> None:
            rng.seed(seed if value is None else value, version)

        def capped(n: Any, what: str) -> None:
            if isinstance(n, int):
                meter.check_len(n, what)
                meter.charge(n * _POINTER)

        def choices(population: Any, weights: Any = None, *, cum_weights: Any = None,
                    k: int = 1) -> list:
            capped(k, "random.choices")
            return rng.choices(ordered_if_set(population), weights, cum_weights=cum_weights, k=k)

        def sample(population: Any, k: int, *, counts: Any = None) -> list:
            capped(k, "random.sample")
            return rng.sample(ordered_if_set(population), k, counts=counts)

        def getrandbits(k: int) -> int:
            meter.check_bits(k, "random.getrandbits")
            return rng.getrandbits(k)

        def randbytes(n: int) -> bytes:
            capped(n, "random.randbytes")
            return rng.randbytes(n)

        class Random(_random.Random):
            """A private generator; unseeded ones draw their seed from the session."""

            def __init__(self, x: Any = None) -> None:
                super().__init__(rng.getrandbits(64) if x is None else x)

            def seed(self, a: Any = None, version: int = 2) -> None:
                super().seed(rng.getrandbits(64) if a is None else a, version)

        members = {name: getattr(rng, name) for name in (
            "random", "uniform", "randint", "randrange", "choice", "shuffle", "gauss",
            "normalvariate", "triangular", "betavariate", "expovariate", "lognormvariate",
            "vonmisesvariate", "gammavariate", "paretovariate", "weibullvariate")}
        members.update(seed=reseed, choices=choices, sample=sample, getrandbits=getrandbits,
                       randbytes=randbytes, Random=Random)
        return members

    def _build_string(self) -> dict[str, Any]:
        return _pick(_string, """ascii_letters ascii_lowercase ascii_uppercase digits hexdigits
            octdigits printable punctuation whitespace capwords Template""")

    def _build_collections(self) -> dict[str, Any]:
        return _pick(_collections, "Counter defaultdict OrderedDict deque namedtuple ChainMap")

    def _build_itertools(self) -> dict[str, Any]:
        wrap = self._wrap_iter
        meter = self._meter
        members = {name: wrap(getattr(_itertools, name)) for name in (
            "count", "cycle", "repeat", "islice", "zip_longest", "starmap", "takewhile",
            "dropwhile", "filterfalse", "compress", "pairwise", "groupby", "permutations",
            "combinations", "combinations_with_replacement", "batched")
            if hasattr(_itertools, name)}
        add = self._hooks["_add_"]
        star = self._hooks["_star_"]

        def accumulate(iterable: Any, func: Any = None, *, initial: Any = None) -> Any:
            return self._ticking(_itertools.accumulate(
                ordered_if_set(iterable), add if func is None else func, initial=initial))

        def product(*iterables: Any, repeat: int = 1) -> Any:
            pools = [star(it) for it in iterables]
            size = sum(len(p) for p in pools) * max(repeat, 0)
            meter.check_len(size, "itertools.product pools")
            return self._ticking(_itertools.product(*pools, repeat=repeat))

        def tee(iterable: Any, n: int = 2) -> tuple:
            meter.check_len(n, "itertools.tee")
            return _itertools.tee(self._ticking(ordered_if_set(iterable)), n)

        def chain(*iterables: Any) -> Any:
            return self._ticking(_itertools.chain(*[ordered_if_set(i) for i in iterables]))

        def from_iterable(iterables: Any) -> Any:
            return self._ticking(_itertools.chain.from_iterable(
                ordered_if_set(i) for i in ordered_if_set(iterables)))

        chain.from_iterable = from_iterable  # type: ignore[attr-defined]
        members.update(accumulate=accumulate, product=product, tee=tee, chain=chain)
        return members

    def _build_functools(self) -> dict[str, Any]:
        tick = self._meter.tick
        _missing = object()

        def reduce(function: Any, iterable: Any, initial: Any = _missing) -> Any:
            items = iter(ordered_if_set(iterable))
            if initial is _missing:
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

        members = _pick(_functools, "partial lru_cache cache cmp_to_key total_ordering wraps")
        members["reduce"] = reduce
        return members

    def _build_statistics(self) -> dict[str, Any]:
        names = """mean fmean geometric_mean harmonic_mean median median_low median_high
            median_grouped mode multimode quantiles pstdev pvariance stdev variance correlation
            covariance linear_regression"""
        members = {name: self._ordered_args(func)
                   for name, func in _pick(_statistics, names).items()}
        quantiles = members["quantiles"]
        meter = self._meter

        def guarded_quantiles(data: Any, *, n: int = 4, method: str = "exclusive") -> list:
            if isinstance(n, int):
                meter.check_len(n, "statistics.quantiles")
                meter.charge(n * _POINTER)
            return quantiles(data, n=n, method=method)

        members["quantiles"] = guarded_quantiles
        members["StatisticsError"] = _statistics.StatisticsError
        return members

    def _build_decimal(self) -> dict[str, Any]:
        meter = self._meter
        real = _decimal.Decimal
        self.uses_decimal = True  # the session installs DECIMAL_CONTEXT during calls

        def build(value: Any = "0", context: Any = None) -> _decimal.Decimal:
            # Construction is exact (no context applies), so an exponent like
            # Decimal('1e1000000000') must be refused here; it would make
            # int(), floor(), format(':f') and friends allocate gigabytes.
            result = real(value)
            if result.is_finite() and result and abs(result.adjusted()) > DECIMAL_EXP_LIMIT:
                meter.trip(f"Decimal exponent {result.adjusted():,} is beyond the sandbox "
                           f"limit of ±{DECIMAL_EXP_LIMIT:,}")
            return result

        members = _pick(_decimal, """InvalidOperation DivisionByZero DecimalException
            Overflow Underflow Inexact Rounded ROUND_UP ROUND_DOWN ROUND_CEILING ROUND_FLOOR
            ROUND_HALF_UP ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_05UP""")
        members["Decimal"] = guarded_type(real, build)
        return members

    def _build_fractions(self) -> dict[str, Any]:
        meter = self._meter
        real = _fractions.Fraction

        def exponent_digits(value: Any) -> int:
            if isinstance(value, str):
                match = _EXPONENT.search(value)
                return abs(int(match[1])) if match else 0
            if isinstance(value, _decimal.Decimal) and value.is_finite():
                return abs(value.as_tuple().exponent) + len(value.as_tuple().digits)
            return 0

        def build(numerator: Any = 0, denominator: Any = None) -> _fractions.Fraction:
            # Fraction("1e100000000") and Fraction(Decimal(...)) compute
            # 10 ** exponent in C before anything can look at the result.
            digits = max(exponent_digits(numerator), exponent_digits(denominator))
            if digits:
                meter.check_bits(int(digits / 0.30103), "Fraction")
            return real(numerator, denominator)

        return {"Fraction": guarded_type(real, build)}

    def _build_typing(self) -> dict[str, Any]:
        return _pick(_typing, """Any Optional Union List Dict Tuple Set FrozenSet Callable
            Iterable Iterator Sequence Mapping MutableMapping Literal TypeVar Generic cast
            Generator Final ClassVar DefaultDict Type NamedTuple TypedDict""")

    def _build_copy(self) -> dict[str, Any]:
        meter = self._meter

        def copy(value: Any) -> Any:
            if hasattr(value, "__len__"):
                meter.charge(len(value) * _POINTER)
            return _copy.copy(value)

        def deepcopy(value: Any, memo: Any = None) -> Any:
            if hasattr(value, "__len__"):
                meter.charge(len(value) * _POINTER * 4)
            return _copy.deepcopy(value)

        return {"copy": copy, "deepcopy": deepcopy}

    def _build_calendar(self) -> dict[str, Any]:
        members = _pick(_calendar, """isleap leapdays monthrange weekday monthcalendar
            month_name month_abbr day_name day_abbr MONDAY TUESDAY WEDNESDAY THURSDAY FRIDAY
            SATURDAY SUNDAY timegm""")

        def month(theyear: int, themonth: int, w: int = 0, l: int = 0) -> str:  # noqa: E741
            if not (0 <= w <= 20 and 0 <= l <= 10):
                raise ValueError("calendar.month widths above 20 are not allowed in the sandbox")
            return _calendar.month(theyear, themonth, w, l)

        members["month"] = month
        return members

    def _build_textwrap(self) -> dict[str, Any]:
        meter = self._meter

        def bounded(text: Any, *pads: Any) -> None:
            if isinstance(text, str):
                extra = sum(len(p) for p in pads if isinstance(p, str))
                size = len(text) + (text.count("\n") + 1) * extra
                meter.check_len(size, "textwrap output")
                meter.charge(size)

        def wrap(text: str, width: int = 70, **kwargs: Any) -> list:
            bounded(text, kwargs.get("initial_indent", ""), kwargs.get("subsequent_indent", ""),
                    kwargs.get("placeholder", ""))
            return _textwrap.wrap(text, width, **kwargs)

        def fill(text: str, width: int = 70, **kwargs: Any) -> str:
            return "\n".join(wrap(text, width, **kwargs))

        def shorten(text: str, width: int, **kwargs: Any) -> str:
            bounded(text, kwargs.get("placeholder", ""))
            return _textwrap.shorten(text, width, **kwargs)

        def indent(text: str, prefix: str, predicate: Any = None) -> str:
            bounded(text, prefix)
            return _textwrap.indent(text, prefix, predicate)

        return {"wrap": wrap, "fill": fill, "shorten": shorten, "indent": indent,
                "dedent": _textwrap.dedent}

    def _build_uuid(self) -> dict[str, Any]:
        rng = self._rng

        def uuid4() -> _uuid.UUID:
            return _uuid.UUID(int=rng.getrandbits(128), version=4)

        members = _pick(_uuid, "UUID uuid3 uuid5 NAMESPACE_DNS NAMESPACE_URL NAMESPACE_OID "
                               "NAMESPACE_X500")
        members["uuid4"] = uuid4
        return members

    def _build_hashlib(self) -> dict[str, Any]:
        return _pick(_hashlib, """md5 sha1 sha224 sha256 sha384 sha512 sha3_224 sha3_256
            sha3_384 sha3_512 blake2b blake2s""")
