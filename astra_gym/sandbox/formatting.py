"""Size-checked string formatting: ``str.format``, ``%``, ``format()`` and f-strings.

Format specs allocate in C before anything can look at the result:
``f"{1:>1000000000}"`` or ``'%.1000000000f' % 1`` each ask for a gigabyte. The
helpers here parse the spec first, estimate the output size, charge it to the
meter and only then format. ``str.format`` additionally refuses attribute
access in replacement fields (``'{0.__class__}'.format(x)``, CVE-2023-41039)
and ``_``-prefixed keys.
"""

from __future__ import annotations

import _string
import datetime as _dt
import decimal
import fractions
import re
import string
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .meter import Meter
from .standins import exact_text

__all__ = ["estimate_len", "format_value", "percent_format", "safe_format"]

# [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_SPEC_RE = re.compile(
    r"(?:.?[<>=^])?[+\- ]?z?#?0?(?P<width>\d+)?[,_]?(?:\.(?P<prec>\d+))?[a-zA-Z%]?", re.DOTALL)
# %[(key)][flags][width|*][.precision|*][length]type
_PERCENT_RE = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?[hlL]?(?P<type>.)",
    re.DOTALL)
_SCALARS = (int, float, bool, complex, type(None))
# Values whose own str/repr/format are bounded by their size and deterministic:
# they format natively. Everything else renders through the session's stable,
# charged renderer (sets ordered, no addresses, shared nodes charged).
_LEAVES = frozenset({str, int, float, bool, complex, type(None), decimal.Decimal,
                     fractions.Fraction, _dt.date, _dt.datetime, _dt.time, _dt.timedelta,
                     _dt.timezone, uuid.UUID, range})
Renderer = Callable[[Any], str]


def estimate_len(value: Any) -> int:
    """A cheap upper-bound guess of ``len(str(value))`` for size accounting."""
    t = type(value)
    if t is str:
        return len(value)
    if t is bytes:
        return 4 * len(value) + 3
    if t is int:
        return value.bit_length() // 3 + 2
    if t in _SCALARS:
        return 32
    try:
        size = len(value)
    except TypeError:
        return 64
    return 64 + 16 * size


@lru_cache(maxsize=1024)
def _spec_len(spec: str) -> int:
    """Characters a format spec can add on its own (width, precision)."""
    if not spec:
        return 0
    match = _SPEC_RE.fullmatch(spec)
    if match is None:
        # A custom __format__ (datetime's strftime-style spec, Decimal, ...):
        # output grows with the spec, a few dozen characters per directive.
        return 32 * len(spec)
    width = int(match["width"] or 0)
    prec = int(match["prec"] or 0)
    return max(width, prec + 32)


def _checked_spec(meter: Meter, spec: str) -> int:
    if len(spec) > 64:
        meter.trip(f"format spec of {len(spec):,} characters is too long")
    extra = _spec_len(spec) if type(spec) is str else _spec_len.__wrapped__(spec)
    meter.check_len(extra, "formatted field")
    return extra


class _StableView:
    """Stands in for a value inside formatting so it renders through the session."""

    __slots__ = ("_to_repr", "_to_str", "_value")

    def __init__(self, value: Any, to_str: Renderer, to_repr: Renderer) -> None:
        self._value = value
        self._to_str = to_str
        self._to_repr = to_repr

    def __str__(self) -> str:
        return self._to_str(self._value)

    def __repr__(self) -> str:
        return self._to_repr(self._value)

    def __format__(self, spec: str) -> str:
        return format(self._to_str(self._value), spec)


def stable(value: Any, to_str: Renderer, to_repr: Renderer) -> Any:
    """``value`` when it formats safely on its own, else a view that renders stably."""
    if type(value) in _LEAVES:
        return value
    return _StableView(value, to_str, to_repr)


def format_value(meter: Meter, value: Any, spec: str, to_str: Renderer,
                 to_repr: Renderer) -> str:
    """``format(value, spec)`` with the spec's size checked and charged."""
    if type(spec) is not str:
        spec = exact_text(spec)  # the spec parser's cache keeps it
    extra = _checked_spec(meter, spec)
    size = max(extra, estimate_len(value))
    meter.check_len(size, "formatted value")
    meter.charge(size)
    return format(stable(value, to_str, to_repr), spec)


_CACHED_FORMAT = 4096  # longer templates are parsed every time, never kept in the cache


def _parse_format(fmt: str) -> tuple[tuple[str | None, str, str | None], ...] | str:
    """Parse a ``str.format`` template; a str result is the refusal reason.

    Short templates (the usual case) are parsed once and cached; a long one
    would pin megabytes in a process-wide cache long after its session ended.
    """
    if type(fmt) is str and len(fmt) <= _CACHED_FORMAT:
        return _parse_format_cached(fmt)
    return _parse_format_uncached(fmt)


@lru_cache(maxsize=1024)
def _parse_format_cached(fmt: str) -> tuple[tuple[str | None, str, str | None], ...] | str:
    return _parse_format_uncached(fmt)


def _parse_format_uncached(fmt: str) -> tuple[tuple[str | None, str, str | None], ...] | str:
    try:
        fields = tuple((name, spec or "", conv)
                       for _, name, spec, conv in string.Formatter().parse(fmt))
    except ValueError as exc:
        return f"ValueError: {exc}"
    for name, spec, _conv in fields:
        if name is None:
            continue
        if "{" in spec:
            continue  # nested fields: checked after substitution (slow path)
        _first, rest = _string.formatter_field_name_split(name)
        for is_attr, key in rest:
            if is_attr:
                return ("attribute access in format fields is not allowed in the sandbox "
                        f"(field {{{name}}})")
            if isinstance(key, str) and key.startswith("_"):
                return f"format field key {key!r} is not allowed"
    return fields


class _CheckedFormatter(string.Formatter):
    """Slow path for templates with nested fields in their specs."""

    def __init__(self, meter: Meter, to_str: Renderer, to_repr: Renderer) -> None:
        self.meter = meter
        self.to_str = to_str
        self.to_repr = to_repr

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        if "." in field_name:
            raise ValueError("attribute access in format fields is not allowed in the sandbox")
        return super().get_field(field_name, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "r":
            return self.to_repr(value)
        if conversion == "s":
            return self.to_str(value)
        if conversion == "a":
            return self.to_repr(value).encode("ascii", "backslashreplace").decode("ascii")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        return format_value(self.meter, value, format_spec, self.to_str, self.to_repr)


def _resolve(name: str, args: tuple, kwargs: dict, auto: list[int]) -> Any:
    first, rest = _string.formatter_field_name_split(name)
    if first == "":
        first = auto[0]
        auto[0] += 1
    obj = args[first] if isinstance(first, int) else kwargs[first]
    for _is_attr, key in rest:
        obj = obj[key]
    return obj


def safe_format(meter: Meter, fmt: str, args: tuple, kwargs: Any, to_str: Renderer,
                to_repr: Renderer) -> str:
    """``fmt.format(*args, **kwargs)``, refusing attribute walks and huge output."""
    # An exact str: the template is the key of a process-wide parse cache (a str
    # subclass would stay there with whatever the tool attached to it).
    if type(fmt) is not str:
        fmt = exact_text(fmt)
    parsed = _parse_format(fmt)
    if isinstance(parsed, str):
        raise ValueError(parsed)
    total = len(fmt)
    nested = False
    auto = [0]
    try:
        for name, spec, _conv in parsed:
            if name is None:
                continue
            if "{" in spec:
                nested = True
                break
            value = _resolve(name, args, kwargs, auto)
            total += max(_checked_spec(meter, spec), estimate_len(value))
    except (IndexError, KeyError, TypeError):
        nested = True  # let str.format raise its own precise error below
    if nested:
        return _CheckedFormatter(meter, to_str, to_repr).vformat(fmt, args, kwargs)
    meter.check_len(total, "formatted string")
    meter.charge(total)
    args = tuple(stable(a, to_str, to_repr) for a in args)
    kwargs = {k: stable(v, to_str, to_repr) for k, v in kwargs.items()}
    return fmt.format(*args, **kwargs)


def percent_format(meter: Meter, fmt: str, values: Any, to_str: Renderer,
                   to_repr: Renderer) -> str:
    """``fmt % values`` with widths, precisions and argument sizes checked."""
    if type(fmt) is not str:
        fmt = exact_text(fmt)
    total = len(fmt)
    if isinstance(values, dict):
        # ``%(key)s`` looks keys up one by one, in the format's order: do the
        # same first (a defaultdict makes its values here, where they can be
        # measured), then format from what was found.
        resolved: dict[Any, Any] = {}
        for match in _PERCENT_RE.finditer(fmt):
            key = match["key"]
            if key is not None and key not in resolved:
                resolved[key] = values[key]
        values = resolved
    if type(values) is tuple:
        positional = list(values)
    elif isinstance(values, dict):
        positional = []
    else:
        positional = [values]
    index = 0
    for match in _PERCENT_RE.finditer(fmt):
        if match["type"] == "%":
            continue
        extra = 0
        for part in ("width", "prec"):
            text = match[part]
            if text == "*":
                star = positional[index] if index < len(positional) else 0
                index += 1
                extra += star if type(star) is int and star > 0 else 0
            elif text:
                extra += int(text)
        if match["key"] is not None and isinstance(values, dict):
            arg = values.get(match["key"])
        else:
            arg = positional[index] if index < len(positional) else None
            index += 1
        total += max(extra + 32, estimate_len(arg))
    meter.check_len(total, "%-formatted string")
    meter.charge(total)
    if type(values) is tuple:
        values = tuple(stable(v, to_str, to_repr) for v in values)
    elif isinstance(values, dict):
        values = {key: stable(value, to_str, to_repr) for key, value in values.items()}
    else:
        values = stable(values, to_str, to_repr)
    return fmt % values
