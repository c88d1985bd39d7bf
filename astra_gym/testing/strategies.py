"""Hypothesis strategies for tool arguments and assistant turns.

Tool schemas (an OpenAI tool's ``parameters``) use a small subset of JSON
Schema. :func:`arguments` generates values straight from that subset
(``type``, lists of types, ``properties``, ``required``,
``additionalProperties``, ``items``, ``enum``, ``const``, the numeric bounds,
``minLength``/``maxLength``, ``minItems``/``maxItems``, ``uniqueItems``,
``pattern``; ``format`` is an annotation and only steers strings towards
realistic values). Local ``$ref``, ``allOf``, ``anyOf`` and ``oneOf`` are
followed on a best-effort basis, and any other keyword is left to a filter:
every example is checked against the whole schema (with the same answers as
``jsonschema.Draft202012Validator(schema).is_valid``), so an example is always
valid, and a schema the generator understands poorly only costs rejected draws.

:func:`invalid_arguments` is the mirror image (every example is invalid),
:func:`action_texts` writes whole assistant turns in every format the env
parses, :func:`final_answers` writes turns without any call attempt, and
:func:`malformed_tool_calls` writes broken ones. Strategies built from the
same schema or tool list are cached, so calling these functions once per test
step is cheap.

Example (in a test module)::

    from hypothesis import given
    from astra_gym.testing import arguments

    SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"]}

    @given(arguments(SCHEMA))
    def test_weather_tool_never_crashes(args):
        assert "temperature" in get_weather(**args)
"""

from __future__ import annotations

import json
import keyword
import math
import re
import string
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

import jsonschema
from hypothesis import reject
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ..argcheck import ArgumentValidator
from ..parsers import parse_action

__all__ = [
    "action_texts",
    "arguments",
    "final_answers",
    "invalid_arguments",
    "malformed_tool_calls",
    "tool_call",
]

Json = Any

#: How deep generated objects and arrays grow past their required parts.
_MAX_DEPTH = 4
#: How deep ``$ref``/combinator expansion may recurse before giving up on a branch.
_MAX_EXPANSION = 12
#: Default range of unbounded integers and numbers (realistic, and far from overflow).
_INT_RANGE = 2**31
_FLOAT_RANGE = 1e12
_CACHE_SIZE = 1024

# -- realistic text ------------------------------------------------------------------------------

_WORDS = (
    "Paris", "London", "New York", "Springfield, IL", "Grand Junction", "Tokyo", "北京", "上海",
    "深圳", "東京", "München", "São Paulo", "café", "O'Brien", "Alice Chen", "张伟", "weather",
    "price", "order", "refund", "express", "ground", "standard", "blue", "large", "AAPL",
    "TSLA", "USD", "EUR", "CNY", "GBP", "HTL-4471", "ORD-00017", "SKU-AB-1234", "CUST-10233",
    "SEL-042", "1Z84F22A0391", "DD202603140001", "2026-03-14", "2025-12-31", "14:30",
    "alice@example.com", "https://example.com/a?b=1", "42", "3.5", "0", "-1", "100%",
    "yes", "no", "none", "null", "true", "N/A", "订单", "快递", "整存整取", "😀",
)
_PLAIN_WORDS = (
    "the", "a", "order", "price", "is", "was", "for", "my", "of", "in", "total", "about",
    "delivery", "hotel", "flight", "weather", "today", "tomorrow", "account", "balance",
    "please", "check", "Paris", "Tokyo", "北京", "订单", "的", "是", "2026-03-14", "42",
    "USD", "3.5%", "ok", "thanks", "answer", "result", "value", "f(x)", "=", "2x",
)
_KEY_NAMES = ("foo", "extra", "unexpected", "debug", "verbose", "x", "_id", "options",
              "limit", "token", "额外")
_UNKNOWN_TOOLS = ("get_weather", "search", "web_search", "lookup", "calculator",
                  "python", "get_time", "send_email", "book_hotel", "get_Weather")
_ANSWER_KEYS = ("answer", "result", "total", "city", "date", "status", "items", "price",
                "value", "note")

_UPPER, _LOWER, _DIGITS = string.ascii_uppercase, string.ascii_lowercase, string.digits


def _chars(alphabet: str, low: int, high: int) -> SearchStrategy[str]:
    """``[alphabet]{low,high}``: the fixed-shape patterns below, without ``st.from_regex``.

    ``from_regex`` costs about twice a plain ``st.text`` per draw, and ``fuzz`` draws
    thousands of these; each pattern is spelled out next to its strategy.
    """
    return st.text(alphabet, min_size=low, max_size=high)


def _joined(*parts: SearchStrategy[str] | str) -> SearchStrategy[str]:
    """The concatenation of ``parts`` (strategies, or literal text)."""
    return st.tuples(*(st.just(part) if isinstance(part, str) else part
                       for part in parts)).map("".join)


_DATES = st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31))
_IDS = _joined(_chars(_UPPER, 2, 4), "-", _chars(_DIGITS, 3, 6))  # [A-Z]{2,4}-[0-9]{3,6}
_SENTENCES = st.lists(st.sampled_from(_PLAIN_WORDS), min_size=1, max_size=12).map(" ".join)
_REALISTIC_STRINGS = st.one_of(
    st.sampled_from(_WORDS),
    _DATES.map(date.isoformat),
    _IDS,
    st.integers(0, 10**7).map(str),
    st.lists(st.sampled_from(_WORDS), min_size=1, max_size=3).map(" ".join),
)
_STRINGS = st.one_of(_REALISTIC_STRINGS, _REALISTIC_STRINGS, st.text(max_size=30))


def _datetimes() -> SearchStrategy[str]:
    return st.builds(lambda day, seconds: (datetime.combine(day, datetime.min.time())
                                           + timedelta(seconds=seconds)).isoformat(),
                     _DATES, st.integers(0, 86_399))


_FORMATS: dict[str, SearchStrategy[str]] = {
    "date": _DATES.map(date.isoformat),
    "date-time": _datetimes(),
    "time": st.builds(lambda h, m, s: f"{h:02d}:{m:02d}:{s:02d}", st.integers(0, 23),
                      st.integers(0, 59), st.integers(0, 59)),
    # [a-z]{1,8}(\.[a-z]{1,6})?@example\.(com|org|cn)
    "email": _joined(_chars(_LOWER, 1, 8), st.just("") | _joined(".", _chars(_LOWER, 1, 6)),
                     "@example.", st.sampled_from(("com", "org", "cn"))),
    # https://example\.com/[a-z0-9/]{0,12}
    "uri": _joined("https://example.com/", _chars(_LOWER + _DIGITS + "/", 0, 12)),
    "uuid": st.uuids().map(str),
}
_FORMATS["url"] = _FORMATS["uri"]

_NAME_HINTS: tuple[tuple[str, SearchStrategy[str]], ...] = (
    ("date", _FORMATS["date"]),
    ("time", _FORMATS["time"]),
    ("email", _FORMATS["email"]),
    ("url", _FORMATS["uri"]),
    ("city", st.sampled_from(("Paris", "London", "Tokyo", "北京", "上海", "Springfield, IL"))),
    ("currency", st.sampled_from(("USD", "EUR", "CNY", "JPY", "GBP"))),
    ("ticker", st.sampled_from(("AAPL", "TSLA", "MSFT", "600519"))),
    ("id", _IDS),
    ("no", _joined(_chars(_UPPER, 0, 3), _chars(_DIGITS, 6, 14))),  # [A-Z]{0,3}[0-9]{6,14}
    ("code", _chars(_UPPER + _DIGITS, 3, 10)),  # [A-Z0-9]{3,10}
    ("number", _chars(_UPPER + _DIGITS, 6, 14)),  # [A-Z0-9]{6,14}
)

_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-1000, 10**6),
                    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), _STRINGS)
_ANY_JSON = st.recursive(
    _LEAVES,
    lambda children: st.one_of(st.lists(children, max_size=3),
                               st.dictionaries(st.sampled_from(_KEY_NAMES) | st.text(max_size=8),
                                               children, max_size=3)),
    max_leaves=6)


# -- schema helpers ------------------------------------------------------------------------------

_KIND_KEYWORDS: dict[str, frozenset[str]] = {
    "object": frozenset({"properties", "required", "additionalProperties", "minProperties",
                         "maxProperties", "patternProperties", "propertyNames",
                         "dependentRequired", "dependentSchemas", "unevaluatedProperties"}),
    "array": frozenset({"items", "minItems", "maxItems", "uniqueItems", "prefixItems",
                        "contains", "minContains", "maxContains", "unevaluatedItems"}),
    "string": frozenset({"minLength", "maxLength", "pattern", "format", "contentEncoding",
                         "contentMediaType"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
                         "multipleOf"}),
}
_JSON_TYPES = ("string", "integer", "number", "boolean", "null", "array", "object")


class _Context:
    """The root schema (for local ``$ref``) of one generation."""

    def __init__(self, root: Any) -> None:
        self.root = root

    def resolve(self, ref: str) -> Any:
        """A local JSON pointer (``#/$defs/x``); ``True`` (anything) when not resolvable."""
        if not ref.startswith("#"):
            return True
        node = self.root
        for part in ref[1:].lstrip("/").split("/") if ref != "#" else ():
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return True
        return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _declared_types(schema: Mapping[str, Any]) -> list[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    listed = [declared] if isinstance(declared, str) else declared
    if not isinstance(listed, list):
        return None
    return [name for name in dict.fromkeys(listed) if name in _JSON_TYPES]


def _merge(first: Mapping[str, Any], second: Any) -> Any:
    """Both schemas at once, roughly (exactness is left to the final filter)."""
    if second is True:
        return dict(first)
    if not isinstance(second, Mapping):
        return second  # False (or junk): nothing valid
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
        elif key == "properties" and isinstance(value, Mapping) and isinstance(
                merged[key], Mapping):
            properties = dict(merged[key])
            for name, sub in value.items():
                properties[name] = ({"allOf": [properties[name], sub]} if name in properties
                                    else sub)
            merged[key] = properties
        elif key == "required" and isinstance(value, list) and isinstance(merged[key], list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "type":
            one, two = _declared_types(merged), _declared_types(second)
            if one is not None and two is not None:
                both = [name for name in one if name in two or (name == "integer"
                                                                 and "number" in two)]
                both += [name for name in two if name == "integer" and "number" in one
                         and name not in both]
                merged["type"] = both
        else:
            merged[key] = value
    return merged


def _expand(schema: Any, ctx: _Context, level: int) -> list[Any]:
    """Alternatives without ``$ref``/``allOf``/``anyOf``/``oneOf`` at the top."""
    if level > _MAX_EXPANSION:
        return [False]
    if not isinstance(schema, Mapping):
        return [schema]
    schema = dict(schema)
    ref = schema.pop("$ref", None)
    if isinstance(ref, str):
        target = ctx.resolve(ref)
        return [alternative for option in _expand(target, ctx, level + 1)
                for alternative in _expand(_merge(schema, option), ctx, level + 1)]
    all_of = schema.pop("allOf", None)
    if isinstance(all_of, list):
        merged: Any = schema
        for part in all_of:
            options = _expand(part, ctx, level + 1)
            merged = _merge(merged, options[0]) if isinstance(merged, Mapping) else merged
        return _expand(merged, ctx, level + 1)
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            rest = {name: value for name, value in schema.items() if name != key}
            return [alternative for branch in branches
                    for alternative in _expand(_merge(rest, branch), ctx, level + 1)]
    return [schema]


def _choice(*options: SearchStrategy[Any]) -> SearchStrategy[Any]:
    """Draw from one of ``options``, each equally likely.

    ``st.one_of`` flattens nested ``one_of`` branches (and pushes filters into
    them), so a branch made of many alternatives would crowd out the others.
    """
    return st.sampled_from(options).flatmap(lambda strategy: strategy)


@st.composite
def _such_that(draw: st.DrawFn, strategy: SearchStrategy[Any],
               predicate: Callable[[Any], bool], tries: int = 3) -> Any:
    """``strategy.filter(predicate)`` without Hypothesis's ``repr`` of the strategy.

    A rejected ``.filter`` draw records an event holding the strategy's
    ``repr``, which for a large schema is tens of kilobytes (and a warning).
    """
    for _ in range(tries):
        value = draw(strategy)
        if predicate(value):
            return value
    reject()


def _labelled(strategy: SearchStrategy[Any], label: str) -> SearchStrategy[Any]:
    """``strategy`` with a short ``repr``.

    Hypothesis writes the ``repr`` of a test's strategy into error notes
    (and warns when it is huge); ours nest whole schemas, so they get a label.
    """
    def definition() -> SearchStrategy[Any]:
        return strategy

    definition.__name__ = definition.__qualname__ = label
    return st.deferred(definition)


def _describe(schema: Any) -> str:
    if isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping):
        names = list(schema["properties"])
        shown = ", ".join(map(str, names[:4])) + (", ..." if len(names) > 4 else "")
        return f"<schema with properties {shown}>" if names else "<schema>"
    return "<schema>"


def _fit(text: str, low: int, high: int | None) -> str:
    if len(text) < low:
        text += "x" * (low - len(text))
    if high is not None and len(text) > high:
        text = text[:high]
    return text


def _count(value: Any, default: int | None) -> int | None:
    return value if type(value) is int and value >= 0 else default


# -- valid values --------------------------------------------------------------------------------

def _string_values(schema: Mapping[str, Any], name: str | None) -> SearchStrategy[str]:
    low = _count(schema.get("minLength"), 0) or 0
    high = _count(schema.get("maxLength"), None)
    if high is not None and high < low:
        return st.nothing()
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            regex = re.compile(pattern)
            matching = st.from_regex(regex, fullmatch=False)
        except (re.error, ValueError):
            return st.nothing()
        return matching.filter(lambda text: low <= len(text) and (high is None
                                                                  or len(text) <= high))
    options = [_STRINGS]
    format_ = schema.get("format")
    if isinstance(format_, str) and format_ in _FORMATS:
        options = [_FORMATS[format_], _FORMATS[format_], _STRINGS]
    elif name:
        lowered = name.lower()
        for hint, strategy in _NAME_HINTS:
            if hint in lowered:
                options.append(strategy)
                break
    strings = st.one_of(options)
    if low or high is not None:
        strings = strings.map(lambda text: _fit(text, low, high))
    return strings


def _integer_values(schema: Mapping[str, Any]) -> SearchStrategy[int]:
    lower: int | None = None
    upper: int | None = None
    if _is_number(schema.get("minimum")):
        lower = math.ceil(schema["minimum"])
    if _is_number(schema.get("exclusiveMinimum")):
        bound = math.floor(schema["exclusiveMinimum"]) + 1
        lower = bound if lower is None else max(lower, bound)
    if _is_number(schema.get("maximum")):
        upper = math.floor(schema["maximum"])
    if _is_number(schema.get("exclusiveMaximum")):
        bound = math.ceil(schema["exclusiveMaximum"]) - 1
        upper = bound if upper is None else min(upper, bound)
    low = lower if lower is not None else min(-_INT_RANGE, (upper or 0) - _INT_RANGE)
    high = upper if upper is not None else max(_INT_RANGE - 1, (lower or 0) + _INT_RANGE)
    if low > high:
        return st.nothing()
    small_low = min(max(low, 0), high)
    small_high = min(high, small_low + 100)
    return st.one_of(st.integers(small_low, small_high), st.integers(low, high))


def _number_values(schema: Mapping[str, Any]) -> SearchStrategy[float | int]:
    lower: float | None = None
    upper: float | None = None
    exclude_low = exclude_high = False
    if _is_number(schema.get("minimum")):
        lower = schema["minimum"]
    bound = schema.get("exclusiveMinimum")
    if _is_number(bound) and (lower is None or bound >= lower):
        lower, exclude_low = bound, True
    if _is_number(schema.get("maximum")):
        upper = schema["maximum"]
    bound = schema.get("exclusiveMaximum")
    if _is_number(bound) and (upper is None or bound <= upper):
        upper, exclude_high = bound, True
    largest = sys.float_info.max
    low = lower if lower is not None else -min(largest, max(
        _FLOAT_RANGE, 2 * abs(upper) if upper is not None else 0.0))
    high = upper if upper is not None else min(largest, max(
        _FLOAT_RANGE, 2 * abs(lower) if lower is not None else 0.0))
    if low > high or (low == high and (exclude_low or exclude_high)):
        return st.nothing()
    floats = st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False,
                       exclude_min=exclude_low, exclude_max=exclude_high)
    # rounding may step over a bound: the final filter catches the rare case
    options: list[SearchStrategy[Any]] = [floats, floats.map(lambda value: round(value, 2))]
    int_low = math.floor(low) + 1 if exclude_low else math.ceil(low)
    int_high = math.ceil(high) - 1 if exclude_high else math.floor(high)
    if int_low <= int_high:
        small_low = min(max(int_low, 0), int_high)
        options.append(st.integers(small_low, min(int_high, small_low + 1000)))
    return st.one_of(options)


def _array_values(schema: Mapping[str, Any], ctx: _Context, depth: int,
                  level: int) -> SearchStrategy[list[Any]]:
    low = _count(schema.get("minItems"), 0) or 0
    high = _count(schema.get("maxItems"), None)
    if high is not None and high < low:
        return st.nothing()
    grow = 0 if depth >= _MAX_DEPTH else 3
    top = low + grow if high is None else min(high, low + grow)
    items = schema.get("items", True)
    if not isinstance(items, Mapping | bool):
        items = True  # a draft-4 tuple: left to the filter
    elements = _values(items, ctx, depth + 1, level)
    if schema.get("uniqueItems") is True:
        return st.lists(elements, min_size=low, max_size=top, unique_by=_canonical)
    return st.lists(elements, min_size=low, max_size=top)


def _object_values(schema: Mapping[str, Any], ctx: _Context, depth: int,
                   level: int) -> SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    required = [name for name in required if isinstance(name, str)] \
        if isinstance(required, list) else []
    additional = schema.get("additionalProperties", True)
    fixed: dict[str, SearchStrategy[Any]] = {}
    for name in required:
        if name in properties:
            fixed[name] = _values(properties[name], ctx, depth + 1, level, name)
        elif additional is False:
            return st.nothing()
        else:
            fixed[name] = _values(additional if isinstance(additional, Mapping) else True,
                                  ctx, depth + 1, level, name)
    optional: dict[str, SearchStrategy[Any]] = {}
    if depth < _MAX_DEPTH:
        optional = {name: _values(sub, ctx, depth + 1, level, name)
                    for name, sub in properties.items()
                    if isinstance(name, str) and name not in fixed}
    objects = st.fixed_dictionaries(fixed, optional=optional)
    if isinstance(additional, Mapping) and depth < _MAX_DEPTH:
        taken = set(properties) | set(fixed)
        keys = (st.sampled_from(_KEY_NAMES) | st.text(min_size=1, max_size=10)).filter(
            lambda key: key not in taken)
        extras = st.dictionaries(keys, _values(additional, ctx, depth + 1, level), max_size=2)
        objects = st.builds(lambda base, more: {**more, **base}, objects, extras)
    return objects


def _values(schema: Any, ctx: _Context, depth: int = 0, level: int = 0,
            name: str | None = None) -> SearchStrategy[Any]:
    """Values meant to satisfy ``schema`` (almost always; the caller filters)."""
    if schema is True:
        return _ANY_JSON
    if not isinstance(schema, Mapping):
        return st.nothing()  # False, or not a schema at all
    alternatives = _expand(schema, ctx, level)
    if len(alternatives) > 1:
        return st.one_of([_values(option, ctx, depth, level + 1, name)
                          for option in alternatives])
    schema = alternatives[0]
    if schema is True or not isinstance(schema, Mapping):
        return _values(schema, ctx, depth, level + 1, name)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        values = schema["enum"]
        return st.sampled_from(values) if isinstance(values, list) and values else st.nothing()
    types = _declared_types(schema)
    if types is None:
        types = [kind for kind, keywords in _KIND_KEYWORDS.items()
                 if not keywords.isdisjoint(schema)]
        if not types:
            return _ANY_JSON
    options: list[SearchStrategy[Any]] = []
    for kind in types:
        if kind == "string":
            options.append(_string_values(schema, name))
        elif kind == "integer":
            options.append(_integer_values(schema))
        elif kind == "number":
            options.append(_number_values(schema))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array":
            options.append(_array_values(schema, ctx, depth, level))
        elif kind == "object":
            options.append(_object_values(schema, ctx, depth, level))
    return st.one_of(options) if options else st.nothing()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _schema_key(schema: Any) -> str | None:
    try:
        return json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None


def _validator(schema: Any) -> Callable[[Any], bool]:
    jsonschema.Draft202012Validator.check_schema(schema)
    return ArgumentValidator(schema).is_valid


def _build_arguments(schema: Any) -> SearchStrategy[Any]:
    is_valid = _validator(schema)
    return _labelled(_such_that(_values(schema, _Context(schema)), is_valid),
                     f"arguments({_describe(schema)})")


@lru_cache(maxsize=_CACHE_SIZE)
def _cached_arguments(key: str) -> SearchStrategy[Any]:
    return _build_arguments(json.loads(key))


def arguments(schema: Mapping[str, Any]) -> SearchStrategy[dict[str, Any]]:
    """Schema-valid arguments for a tool.

    Required properties are always present and optional ones sometimes;
    extra properties appear only where ``additionalProperties`` is a schema.
    Strings are often realistic (words, dates such as ``2026-03-14``, ids
    such as ``HTL-4471``, CJK such as ``北京``, values matching ``format`` or
    hinted by the property's name) and sometimes arbitrary text; unbounded
    integers stay within ±2**31 and numbers within ±1e12. Every example
    satisfies the schema exactly as ``jsonschema.Draft202012Validator`` judges
    it (keywords the generator does not understand are enforced by filtering).

    Args:
        schema: The tool's ``parameters`` JSON Schema (Draft 2020-12).

    Returns:
        A strategy of argument values (dicts for object schemas).

    Raises:
        jsonschema.SchemaError: When ``schema`` is not a valid JSON Schema.
    """
    key = _schema_key(schema)
    if key is not None:
        return _cached_arguments(key)
    return _build_arguments(schema)


# -- invalid values ------------------------------------------------------------------------------

_WRONG_TYPE_SAMPLES: dict[str, SearchStrategy[Any]] = {
    "string": st.one_of(st.sampled_from(("x", "", "42", "true", "null", "Paris", "[]")),
                        st.text(max_size=10)),
    "integer": st.one_of(st.sampled_from((0, 1, -1, 42)), st.integers(-10**6, 10**6)),
    "number": st.one_of(st.sampled_from((0.5, -2.25, 3.14159, 1e-7)),
                        st.floats(-1e6, 1e6, allow_nan=False).filter(
                            lambda value: not value.is_integer())),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(_LEAVES, max_size=3),
    "object": st.dictionaries(st.sampled_from(_KEY_NAMES), _LEAVES, max_size=3),
}
_NOT_OBJECTS = st.one_of(
    st.lists(_LEAVES, max_size=3), _WRONG_TYPE_SAMPLES["string"], st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False), st.none(), st.booleans())


def _wrong_types(types: list[str]) -> list[SearchStrategy[Any]]:
    wrong = []
    for kind, sample in _WRONG_TYPE_SAMPLES.items():
        if kind in types or (kind == "integer" and "number" in types):
            continue
        wrong.append(sample)
    return wrong


def _other_than(values: list[Any]) -> SearchStrategy[Any]:
    variants: list[Any] = []
    for value in values[:20]:
        if isinstance(value, str):
            variants += [value + "_x", value.upper() if value.upper() != value
                         else value.lower(), f" {value}", ""]
        elif _is_number(value):
            variants += [value + 1, -value - 1, str(value)]
        elif isinstance(value, bool) or value is None:
            variants += [str(value).lower(), 0]
        else:
            variants.append(_canonical(value))
    return st.one_of(st.sampled_from(variants or ["x"]), st.text(max_size=10), st.integers())


def _bound_violations(schema: Mapping[str, Any]) -> list[SearchStrategy[Any]]:
    out: list[SearchStrategy[Any]] = []
    if _is_number(schema.get("minimum")):
        low = schema["minimum"]
        out.append(st.sampled_from((math.floor(low) - 1, low - 0.5, low - 1000)))
    if _is_number(schema.get("maximum")):
        high = schema["maximum"]
        out.append(st.sampled_from((math.ceil(high) + 1, high + 0.5, high + 1000)))
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if _is_number(schema.get(key)):
            out.append(st.just(schema[key]))
    low = _count(schema.get("minLength"), 0) or 0
    if low > 0:
        out.append(st.text(max_size=low - 1))
    high = _count(schema.get("maxLength"), None)
    if high is not None and high <= 10_000:
        out.append(_STRINGS.map(lambda text: _fit(text, high + 1, None) + "x" * 3))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            regex = re.compile(pattern)
        except re.error:
            regex = None
        if regex is not None:
            candidates = [text for text in ("", " ", "x", "0", "!!!", "ZZZ-zz", "北京",
                                            "2026-03-14", "a b c", "\n")
                          if regex.search(text) is None]
            if candidates:
                out.append(st.sampled_from(candidates))
    return out


def _invalid_values(schema: Any, ctx: _Context, depth: int) -> list[SearchStrategy[Any]]:
    """Strategies of values that mostly violate ``schema`` (the caller filters)."""
    if schema is True:
        return []
    if schema is False or not isinstance(schema, Mapping):
        return [_ANY_JSON]
    alternatives = _expand(schema, ctx, 0)
    if len(alternatives) != 1 or not isinstance(alternatives[0], Mapping):
        # anyOf/oneOf: break the shared parts; the filter keeps what is invalid
        shared = {key: value for key, value in schema.items()
                  if key not in ("anyOf", "oneOf", "$ref")}
        return _invalid_values(shared, ctx, depth) if shared else []
    schema = alternatives[0]
    out: list[SearchStrategy[Any]] = []
    types = _declared_types(schema)
    if types:
        wrong = _wrong_types(types)
        if wrong:
            out.append(st.one_of(wrong))
    if "enum" in schema and isinstance(schema["enum"], list):
        out.append(_other_than(schema["enum"]))
    if "const" in schema:
        out.append(_other_than([schema["const"]]))
    bounds = _bound_violations(schema)
    if bounds:
        out.append(_choice(*bounds))
    if depth >= _MAX_DEPTH:
        return out
    kinds = types if types is not None else [
        kind for kind, keywords in _KIND_KEYWORDS.items() if not keywords.isdisjoint(schema)]
    if "array" in kinds:
        out += _invalid_arrays(schema, ctx, depth)
    if "object" in kinds:
        out += _invalid_objects(schema, ctx, depth)
    return out


def _invalid_arrays(schema: Mapping[str, Any], ctx: _Context,
                    depth: int) -> list[SearchStrategy[Any]]:
    out: list[SearchStrategy[Any]] = []
    valid = _array_values(schema, ctx, depth, 0)
    items = schema.get("items", True)
    low = _count(schema.get("minItems"), 0) or 0
    high = _count(schema.get("maxItems"), None)
    elements = _values(items if isinstance(items, Mapping | bool) else True, ctx, depth + 1)
    if low > 0:
        out.append(st.lists(elements, max_size=low - 1))
    if high is not None and high <= 100:
        out.append(st.lists(elements, min_size=high + 1, max_size=high + 2))
    if isinstance(items, Mapping | bool):
        bad_items = _invalid_values(items, ctx, depth + 1)
        if bad_items:
            out.append(st.builds(lambda base, bad, index: [*base[:index], bad, *base[index:]],
                                 valid, _choice(*bad_items), st.integers(0, 3)))
    if schema.get("uniqueItems") is True:
        out.append(st.builds(lambda base, element: [*base, element, element], valid, elements))
    return out


def _invalid_objects(schema: Mapping[str, Any], ctx: _Context,
                     depth: int) -> list[SearchStrategy[Any]]:
    out: list[SearchStrategy[Any]] = []
    valid = _object_values(schema, ctx, depth, 0)
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    required = [name for name in required if isinstance(name, str)] \
        if isinstance(required, list) else []
    if required:
        out.append(st.builds(lambda base, name: {k: v for k, v in base.items() if k != name},
                             valid, st.sampled_from(required)))
    broken = []
    for name, sub in properties.items():
        bad = _invalid_values(sub, ctx, depth + 1)
        if bad:
            broken.append(st.builds(lambda base, value, name=name: {**base, name: value},
                                    valid, _choice(*bad)))
    if broken:  # one property broken (twice as likely as the other kinds of violation)
        out += [_choice(*broken)] * 2
    additional = schema.get("additionalProperties", True)
    if additional is not True:
        keys = (st.sampled_from(_KEY_NAMES) | st.text(min_size=1, max_size=10)).filter(
            lambda key: key not in properties)
        bad_extra = [] if additional is False else _invalid_values(additional, ctx, depth + 1)
        values = _ANY_JSON if additional is False else (
            _choice(*bad_extra) if bad_extra else st.nothing())
        out.append(st.builds(lambda base, key, value: {**base, key: value}, valid, keys, values))
    return out


def _build_invalid(schema: Any) -> SearchStrategy[Any]:
    is_valid = _validator(schema)
    if schema is True or schema == {}:
        raise ValueError("the schema accepts every value: there are no invalid arguments")
    ctx = _Context(schema)
    options = [_NOT_OBJECTS, *_invalid_values(schema, ctx, 0)]
    return _labelled(_such_that(_choice(*options), lambda value: not is_valid(value)),
                     f"invalid_arguments({_describe(schema)})")


@lru_cache(maxsize=_CACHE_SIZE)
def _cached_invalid(key: str) -> SearchStrategy[Any]:
    return _build_invalid(json.loads(key))


def invalid_arguments(schema: Mapping[str, Any]) -> SearchStrategy[Any]:
    """Argument values that violate a tool's schema.

    Each example is one of: a valid object with a required property removed,
    a property of the wrong type (nested ones included), a value outside an
    ``enum``/``const``, a bound, a length or a ``pattern``, an unknown
    property where ``additionalProperties`` is ``false`` (or an extra value
    breaking its schema), or not an object at all (a list, a string, a
    number, ``null``). Every example is invalid as
    ``jsonschema.Draft202012Validator`` judges it.

    Note that the env reports non-object arguments as *parse* errors
    (``error_kind == "parse_error"``), the others as ``"invalid_arguments"``.

    Args:
        schema: The tool's ``parameters`` JSON Schema (Draft 2020-12).

    Returns:
        A strategy of invalid argument values (JSON data).

    Raises:
        ValueError: When the schema accepts every value (``{}`` or ``true``).
        jsonschema.SchemaError: When ``schema`` is not a valid JSON Schema.
    """
    key = _schema_key(schema)
    if key is not None:
        return _cached_invalid(key)
    return _build_invalid(schema)


def tool_call(name: str, schema: Mapping[str, Any], *,
              valid: bool | None = True) -> SearchStrategy[tuple[str, Any]]:
    """``(name, arguments)`` pairs for one tool.

    Args:
        name: The tool's name.
        schema: Its ``parameters`` JSON Schema.
        valid: ``True`` for schema-valid arguments, ``False`` for invalid
            ones (:func:`invalid_arguments`), ``None`` for both (two thirds
            valid; only valid ones when the schema accepts everything).

    Returns:
        A strategy of ``(name, arguments)`` tuples.
    """
    if valid is None:
        values = (_choice(arguments(schema), arguments(schema), invalid_arguments(schema))
                  if _has_invalid(schema) else arguments(schema))
    elif valid:
        values = arguments(schema)
    else:
        values = invalid_arguments(schema)
    return st.tuples(st.just(name), values)  # small repr: values is labelled


# -- assistant turns -----------------------------------------------------------------------------

def _tool_schemas(tools: Sequence[Mapping[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """``(name, parameters)`` of OpenAI tools (or plain ``{"name", "parameters"}`` dicts)."""
    out = []
    for tool in tools:
        function = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ValueError(f"not an OpenAI tool (no function name): {tool!r}"[:200])
        parameters = function.get("parameters")
        if parameters is None:
            parameters = {"type": "object", "properties": {}}
        out.append((function["name"], parameters))
    return tuple(out)


def _has_invalid(schema: Any) -> bool:
    return schema is not True and schema != {}


def _calls(entries: tuple[tuple[str, Any], ...],
           unknown_tools: bool = True) -> SearchStrategy[tuple[str, Any]]:
    """Calls of the known tools (mostly valid), and of unknown tools when asked."""
    unknown = st.tuples(st.sampled_from(_UNKNOWN_TOOLS).filter(
        lambda name: name not in {known for known, _ in entries}),
        st.dictionaries(st.sampled_from(_KEY_NAMES), _LEAVES, max_size=3))
    if not entries:
        return unknown if unknown_tools else st.nothing()
    valid = st.one_of([tool_call(name, schema) for name, schema in entries])
    options = [valid, valid, valid]
    invalid = [tool_call(name, schema, valid=False) for name, schema in entries
               if _has_invalid(schema)]
    if invalid:
        options.append(st.one_of(invalid))
    if unknown_tools:
        options.append(unknown)
    return _choice(*options)


def _dumps(value: Any, ascii_only: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


# The strategies the turn composites draw from, built once: a strategy made inside a
# draw is a new object each time (``sampled_from`` and ``map`` are not memoised), which
# Hypothesis validates and labels before drawing from it, at a cost of the same order as
# the draw itself. Same strategies, so the same values for the same choices.
_CALL_IDS = _joined("call_", _chars(string.ascii_letters + _DIGITS, 8, 24))
_CONTENTS = st.one_of(st.none(), st.just(""), _SENTENCES)
_ARGUMENT_KEYS = st.sampled_from(("arguments", "arguments", "arguments", "parameters"))
_NEWLINES = st.sampled_from(("", "\n"))
_INDENTS = st.sampled_from((None, 2))
_JSON_FENCES = st.sampled_from((None, None, "json", ""))
_PYTHON_FENCES = st.sampled_from((None, None, "python", "py", "tool_code", ""))


@st.composite
def _openai_turns(draw: st.DrawFn, calls: SearchStrategy[tuple[str, Any]]) -> dict[str, Any]:
    chosen = draw(st.lists(calls, min_size=1, max_size=3))
    ids = draw(st.lists(_CALL_IDS, min_size=len(chosen), max_size=len(chosen), unique=True))
    ascii_only = draw(st.booleans())
    entries = [{"id": call_id, "type": "function",
                "function": {"name": name, "arguments": _dumps(args, ascii_only)}}
               for (name, args), call_id in zip(chosen, ids, strict=True)]
    content = draw(_CONTENTS)
    return {"role": "assistant", "content": content, "tool_calls": entries}


def _hermes_object(draw: st.DrawFn, name: str, args: Any) -> str:
    key = draw(_ARGUMENT_KEYS)
    value = _dumps(args) if draw(st.integers(0, 4)) == 0 else args
    return _dumps({"name": name, key: value}, draw(st.booleans()))


@st.composite
def _hermes_turns(draw: st.DrawFn, calls: SearchStrategy[tuple[str, Any]]) -> str:
    chosen = draw(st.lists(calls, min_size=1, max_size=3))
    newline = draw(_NEWLINES)
    blocks = [f"<tool_call>{newline}{_hermes_object(draw, name, args)}{newline}</tool_call>"
              for name, args in chosen]
    parts = []
    if draw(st.booleans()):
        parts.append(f"<think>{draw(_SENTENCES)}</think>")
    if draw(st.booleans()):
        parts.append(draw(_SENTENCES))
    parts.append("\n".join(blocks))
    if draw(st.integers(0, 3)) == 0:
        parts.append(draw(_SENTENCES))
    return "\n".join(parts)


@st.composite
def _json_turns(draw: st.DrawFn, calls: SearchStrategy[tuple[str, Any]]) -> str:
    chosen = draw(st.lists(calls, min_size=1, max_size=3))
    objects = [{"name": name, "arguments": args} for name, args in chosen]
    shape = draw(st.integers(0, 2))
    value: Any = objects if len(objects) > 1 or shape == 1 else objects[0]
    if shape == 2:
        value = {"tool_calls": [{"type": "function", "function": {
            "name": name, "arguments": _dumps(args)}} for name, args in chosen]}
    text = json.dumps(value, ensure_ascii=draw(st.booleans()),
                      indent=draw(_INDENTS))
    fence = draw(_JSON_FENCES)
    if fence is not None:
        text = f"```{fence}\n{text}\n```"
    if draw(st.booleans()):
        text = f"<think>{draw(_SENTENCES)}</think>\n{text}"
    return text


def _python_call_text(name: str, args: Any) -> str:
    if not isinstance(args, Mapping):
        return f"{name}({args!r})"  # a positional argument
    if all(key.isidentifier() and not keyword.iskeyword(key) for key in args):
        return f"{name}({', '.join(f'{key}={value!r}' for key, value in args.items())})"
    return f"{name}(**{dict(args)!r})"  # no keyword syntax for these names: an error call


@st.composite
def _python_turns(draw: st.DrawFn, calls: SearchStrategy[tuple[str, Any]]) -> str:
    # ``calls`` name known tools only: calls of unknown names are prose, not calls
    chosen = draw(st.lists(calls, min_size=1, max_size=3))
    texts = [_python_call_text(name, args) for name, args in chosen]
    text = (f"[{', '.join(texts)}]" if len(texts) > 1 and draw(st.booleans())
            else "\n".join(texts))
    fence = draw(_PYTHON_FENCES)
    if fence is not None:
        text = f"```{fence}\n{text}\n```"
    if draw(st.booleans()):
        text = f"<think>{draw(_SENTENCES)}</think>\n{text}"
    return text


@lru_cache(maxsize=_CACHE_SIZE)
def _cached_final_answers(names: frozenset[str]) -> SearchStrategy[str | dict[str, Any]]:
    json_answers = st.dictionaries(st.sampled_from(_ANSWER_KEYS), _LEAVES, min_size=1,
                                   max_size=3).map(_dumps)
    texts = st.one_of(
        _SENTENCES,
        _SENTENCES,
        st.sampled_from(("The answer is f(x) = 2x.", "I don't know.", "北京的天气是晴天。",
                         "It is expected to arrive on 2026-02-13.", "", "42", "[]", "{}",
                         "None of the tools can answer that.")),
        st.builds(lambda prose, blob: f"{prose}\n{blob}", _SENTENCES, json_answers),
        json_answers,
        st.builds(lambda thought, prose: f"<think>{thought}</think>\n{prose}",
                  _SENTENCES, _SENTENCES),
        st.text(max_size=80),
    )
    messages = st.builds(lambda content: {"role": "assistant", "content": content},
                         st.one_of(texts, st.none()))
    return _labelled(_such_that(_choice(texts, texts, messages),
                                lambda action: parse_action(action, tool_names=names).is_final),
                     f"final_answers(<{len(names)} tools>)")


def final_answers(tools: Sequence[Mapping[str, Any]] = ()) -> SearchStrategy[str | dict]:
    """Assistant turns without any call attempt: the env takes them as final answers.

    Prose (English and Chinese), prose with JSON that is not a call, bare
    JSON answers, reasoning followed by an answer, arbitrary text, and
    message dicts without ``tool_calls``. Every example parses as a final
    answer for the given tools.

    Args:
        tools: The env's OpenAI tool list (``info["tools"]``).

    Returns:
        A strategy of texts and assistant message dicts.
    """
    return _cached_final_answers(frozenset(name for name, _ in _tool_schemas(tools)))


@lru_cache(maxsize=256)
def _cached_action_texts(key: str) -> SearchStrategy[str | dict[str, Any]]:
    entries = tuple((name, schema) for name, schema in json.loads(key))
    names = frozenset(name for name, _ in entries)
    calls = _calls(entries)
    formats: list[SearchStrategy[Any]] = [_openai_turns(calls), _hermes_turns(calls),
                                          _json_turns(calls)]
    if entries:
        formats.append(_python_turns(_calls(entries, unknown_tools=False)))
    formats.append(_cached_final_answers(names))
    return _labelled(_choice(*formats), f"action_texts(<{len(entries)} tools>)")


def action_texts(tools: Sequence[Mapping[str, Any]]) -> SearchStrategy[str | dict]:
    """Assistant turns in every format the env parses.

    One of: an OpenAI assistant message dict (1-3 ``tool_calls`` with ids and
    JSON-string ``arguments``), hermes text (1-3 ``<tool_call>`` blocks,
    sometimes with ``<think>`` and prose around), a bare JSON call object, list
    or ``{"tool_calls": [...]}`` (sometimes fenced), Python call syntax (one
    call per line or a list, sometimes fenced), or a final answer (see
    :func:`final_answers`). Calls name the given tools with valid (mostly) or
    invalid arguments, or unknown tools. Call ids are unique within a turn.

    Args:
        tools: The env's OpenAI tool list (``info["tools"]`` from ``reset``):
            ``[{"type": "function", "function": {"name", "description",
            "parameters"}}]``.

    Returns:
        A strategy of actions for ``env.step`` (texts and message dicts).
    """
    entries = _tool_schemas(tools)
    key = _schema_key([[name, schema] for name, schema in entries])
    if key is None:
        raise ValueError("tool parameters must be JSON data")
    return _cached_action_texts(key)


# -- malformed turns -----------------------------------------------------------------------------

_BROKEN_JSON = st.sampled_from((
    "{", "{name: get_weather}", '{"name": "f", "arguments": {]}', "{'name': 'f'}",
    '{"name": "f", "arguments": {"a": 1}', '{"name": "f",, "arguments": {}}', "[{]",
    '{"name": "f", "arguments": NaN}', '{"name": "f" "arguments": {}}', "null", "[]",
    '"just a string"', "42", "{}", "not json at all", '{"name": "", "arguments": {}}',
    '{"name": 42, "arguments": {}}', '{"name": ["f"], "arguments": {}}',
))
_BROKEN_ARGUMENT_STRINGS = st.sampled_from((
    "{", '{"a": 1', "{'a': 1}", "[1, 2]", '"text"', "42", "null", "true", "{a: 1}",
    '{"a": NaN}', '{"a": 1}}', "\x00", "{\"a\": \"unterminated}",
))


def _names(tools: Sequence[Mapping[str, Any]]) -> SearchStrategy[str]:
    known = tuple(name for name, _ in _tool_schemas(tools))
    return st.sampled_from((*known, "get_weather", "search"))


def _deep(depth: int, leaf: Any = 1) -> str:
    return "[" * depth + json.dumps(leaf) + "]" * depth


def _malformed_texts(names: SearchStrategy[str]) -> SearchStrategy[str]:
    good_block = st.builds(
        lambda name, args: f'<tool_call>{_dumps({"name": name, "arguments": args})}</tool_call>',
        names, st.dictionaries(st.sampled_from(_KEY_NAMES), _LEAVES, max_size=3))
    truncated = st.builds(lambda block, cut: block[:max(len("<tool_call>"),
                                                        int(len(block) * cut))],
                          good_block, st.floats(0.0, 0.99))
    unclosed = good_block.map(lambda block: block.removesuffix("</tool_call>"))
    in_tag = st.builds(lambda body, newline: f"<tool_call>{newline}{body}{newline}</tool_call>",
                       _BROKEN_JSON, st.sampled_from(("", "\n")))
    arguments_not_object = st.builds(
        lambda name, args: f"<tool_call>{_dumps({'name': name, 'arguments': args})}</tool_call>",
        names, st.one_of(st.lists(_LEAVES, max_size=3), st.integers(), st.booleans(),
                         _BROKEN_ARGUMENT_STRINGS))
    missing_name = st.builds(
        lambda args: f"<tool_call>{_dumps({'arguments': args})}</tool_call>",
        st.dictionaries(st.sampled_from(_KEY_NAMES), _LEAVES, max_size=2))
    bare_broken = st.builds(
        lambda name: f'{{"name": "{name}", "arguments": {{"a": 1}}', names)
    bare_bad_arguments = st.builds(
        lambda name, args: _dumps([{"name": name, "arguments": args}]),
        names, st.one_of(_BROKEN_ARGUMENT_STRINGS, st.lists(_LEAVES, max_size=2)))
    python_broken = st.builds(lambda name, tail: f"{name}{tail}", names, st.sampled_from((
        "(a=1", "(a=some_variable)", "(**{'a': 1})", "(*args)", "(a=1, a=2)",
        "(lambda: 1)", "(a=float('nan'))", "(a={1, 2})", "(a=b'x')", ")(")))
    deep = st.builds(
        lambda name, depth: (f'<tool_call>{{"name": "{name}", "arguments": '
                             f'{{"a": {_deep(depth)}}}}}</tool_call>'),
        names, st.integers(50, 3_000))
    huge = st.builds(
        lambda name, size: (f'<tool_call>{{"name": "{name}", "arguments": '
                            f'{{"a": "{"x" * size}"}}}}</tool_call>'),
        names, st.sampled_from((1_000, 99_990, 100_050)))
    many = st.builds(lambda block, count: block * count, good_block, st.integers(10, 30))
    noise = st.one_of(
        st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
        st.binary(max_size=200).map(lambda raw: raw.decode("utf-8", "replace")),
        st.binary(max_size=100).map(lambda raw: "<tool_call>" + raw.decode("latin-1")),
    )
    stray = st.sampled_from(("<tool_call>", "</tool_call>", "<tool_call></tool_call>",
                             "<tool_call>\n\n</tool_call>", "</think><tool_call>{",
                             "<tool_call>```json\n{\"name\": \"f\"\n```</tool_call>"))
    return _choice(truncated, unclosed, in_tag, arguments_not_object, missing_name,
                   bare_broken, bare_bad_arguments, python_broken, deep, huge, many, noise,
                   stray)


def _malformed_messages(names: SearchStrategy[str]) -> SearchStrategy[dict[str, Any]]:
    content = st.one_of(st.none(), st.just(""), _SENTENCES)
    not_a_list = st.one_of(st.text(max_size=20), st.integers(), st.just({}),
                           st.builds(lambda name: {"function": {"name": name}}, names))
    bad_entry = st.one_of(st.none(), st.integers(), st.text(max_size=10),
                          st.lists(_LEAVES, max_size=2))
    bad_function = st.one_of(
        st.builds(lambda name, text: {"name": name, "arguments": text}, names,
                  _BROKEN_ARGUMENT_STRINGS),
        st.builds(lambda name, value: {"name": name, "arguments": value}, names,
                  st.one_of(st.lists(_LEAVES, max_size=2), st.integers(), st.booleans())),
        st.builds(lambda args: {"arguments": _dumps(args)},
                  st.dictionaries(st.sampled_from(_KEY_NAMES), _LEAVES, max_size=2)),
        st.builds(lambda name: {"name": name}, st.one_of(st.just(""), st.integers(),
                                                         st.none())),
        st.one_of(st.none(), st.text(max_size=10), st.lists(_LEAVES, max_size=2)),
    )
    entries = st.one_of(
        bad_entry,
        st.builds(lambda function: {"type": "function", "function": function}, bad_function),
        st.just({"type": "function"}),  # no function at all
    )

    @st.composite
    def with_entries(draw: st.DrawFn) -> dict[str, Any]:
        chosen = draw(st.lists(entries, min_size=1, max_size=3))
        for index, entry in enumerate(chosen):  # ids, when given, are unique in the turn
            if isinstance(entry, dict) and draw(st.booleans()):
                chosen[index] = {**entry, "id": f"call_m{index}x{draw(st.integers(0, 10**6))}"}
        return {"role": "assistant", "content": draw(content), "tool_calls": chosen}

    return _choice(
        st.builds(lambda text, calls: {"role": "assistant", "content": text,
                                       "tool_calls": calls}, content, not_a_list),
        with_entries(),
        st.builds(lambda value: {"role": "assistant", "content": None,
                                 "function_call": value},
                  st.one_of(st.text(max_size=10), st.integers(), bad_function)),
    )


@lru_cache(maxsize=256)
def _cached_malformed(names: tuple[str, ...]) -> SearchStrategy[str | dict[str, Any]]:
    tools = [{"name": name} for name in names]
    strategy = _names(tools)
    return _labelled(_choice(_malformed_texts(strategy), _malformed_texts(strategy),
                             _malformed_messages(strategy)),
                     f"malformed_tool_calls(<{len(names)} tools>)")


def malformed_tool_calls(tools: Sequence[Mapping[str, Any]] = ()) -> SearchStrategy[str | dict]:
    """Broken assistant turns: what a weak or truncated model writes.

    Truncated and unclosed ``<tool_call>`` blocks, invalid JSON in a tag or
    as a bare call, ``arguments`` that is not an object or a broken JSON
    string, calls without a name, Python calls that do not parse or use
    non-literals, message dicts whose ``tool_calls`` is not a list or holds
    entries that are not call objects, deeply nested (up to 3,000 levels)
    and oversized (just over the parser's 100,000-character limit) JSON,
    many calls in one turn, and random bytes decoded as text. Most examples
    are call attempts that the env must answer with an error tool message;
    random noise may also read as a final answer.

    Args:
        tools: The env's OpenAI tool list; its names are used in the broken calls.

    Returns:
        A strategy of texts and assistant message dicts.
    """
    return _cached_malformed(tuple(name for name, _ in _tool_schemas(tools)))
