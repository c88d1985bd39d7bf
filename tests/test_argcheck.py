"""The argument validator: its fast path never disagrees with jsonschema."""

from __future__ import annotations

import copy
import json
import math
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from astra_gym.argcheck import ArgumentValidator, compile_schema
from astra_gym.pack import demo_pack_path

NAN = float("nan")

# (schema, instance, valid) -- each row is also checked against jsonschema itself.
CASES: list[tuple[Any, Any, bool]] = [
    # type
    ({"type": "string"}, "x", True),
    ({"type": "string"}, 1, False),
    ({"type": "string"}, None, False),
    ({"type": "number"}, 1, True),
    ({"type": "number"}, 1.5, True),
    ({"type": "number"}, True, False),
    ({"type": "number"}, "1", False),
    ({"type": "integer"}, 3, True),
    ({"type": "integer"}, 2.0, True),
    ({"type": "integer"}, -0.0, True),
    ({"type": "integer"}, 2.5, False),
    ({"type": "integer"}, math.inf, False),
    ({"type": "integer"}, NAN, False),
    ({"type": "integer"}, False, False),
    ({"type": "boolean"}, True, True),
    ({"type": "boolean"}, 0, False),
    ({"type": "null"}, None, True),
    ({"type": "null"}, 0, False),
    ({"type": "object"}, {}, True),
    ({"type": "object"}, [], False),
    ({"type": "array"}, [], True),
    ({"type": "array"}, (), False),
    ({"type": "array"}, {}, False),
    ({"type": ["string", "null"]}, None, True),
    ({"type": ["string", "null"]}, "x", True),
    ({"type": ["string", "null"]}, 1, False),
    ({"type": ["integer", "boolean"]}, 1.0, True),
    ({"type": ["number", "string"]}, True, False),
    ({"type": []}, None, False),
    # enum and const: True != 1, 1 == 1.0, containers compared structurally
    ({"enum": ["a", "b"]}, "a", True),
    ({"enum": ["a", "b"]}, "c", False),
    ({"enum": ["1"]}, 1, False),
    ({"enum": [1, "a"]}, 1.0, True),
    ({"enum": [1]}, True, False),
    ({"enum": [0]}, False, False),
    ({"enum": [True]}, 1, False),
    ({"enum": [None]}, None, True),
    ({"enum": [[1, 2]]}, [1.0, 2], True),
    ({"enum": [[1]]}, [True], False),
    ({"enum": [[False]]}, [0], False),
    ({"enum": [{"a": 1}]}, {"a": 1.0}, True),
    ({"enum": [{"a": 1}]}, {"a": True}, False),
    ({"enum": [{"a": 1}]}, {"a": 1, "b": 2}, False),
    ({"enum": []}, "a", False),
    ({"enum": [NAN]}, NAN, True),  # the same object: jsonschema compares identity first
    ({"enum": [NAN]}, float("nan"), False),
    ({"type": "string", "enum": ["a", 1]}, 1, False),
    ({"const": "a"}, "a", True),
    ({"const": 1}, 1.0, True),
    ({"const": 1}, True, False),
    ({"const": False}, 0, False),
    ({"const": None}, None, True),
    ({"const": None}, False, False),
    ({"const": [1, {"b": [True]}]}, [1.0, {"b": [True]}], True),
    ({"const": [1, {"b": [True]}]}, [1, {"b": [1]}], False),
    # numeric bounds apply to numbers only
    ({"minimum": 2}, 2, True),
    ({"minimum": 2}, 1.99, False),
    ({"minimum": 2}, "1", True),
    ({"minimum": 2}, False, True),
    ({"maximum": 2.5}, 2.5, True),
    ({"maximum": 2.5}, 3, False),
    ({"exclusiveMinimum": 2}, 2, False),
    ({"exclusiveMinimum": 2}, 2.01, True),
    ({"exclusiveMaximum": 2}, 2.0, False),
    ({"exclusiveMaximum": 2}, 1, True),
    ({"type": "integer", "minimum": 1, "maximum": 3}, 3.0, True),
    ({"type": "integer", "minimum": 1, "maximum": 3}, 4, False),
    ({"type": "number", "minimum": 0}, NAN, True),  # NaN passes every bound in jsonschema
    ({"type": "string", "minimum": 5}, "a", True),
    ({"type": "string", "minimum": 5}, 9, False),
    # string length (code points) and pattern (re.search)
    ({"minLength": 2}, "ab", True),
    ({"minLength": 2}, "a", False),
    ({"minLength": 2}, 1, True),
    ({"maxLength": 2}, "abc", False),
    ({"maxLength": 2}, "é😀", True),
    ({"maxLength": 1}, "😀", True),
    ({"maxLength": 0}, "", True),
    ({"pattern": "^a"}, "abc", True),
    ({"pattern": "^a"}, "bac", False),
    ({"pattern": "b"}, "abc", True),
    ({"pattern": "^[0-9]{3}$"}, "123", True),
    ({"pattern": "^[0-9]{3}$"}, "1234", False),
    ({"pattern": "^a"}, 5, True),
    ({"type": "string", "pattern": "x", "minLength": 2}, "xx", True),
    ({"type": "string", "pattern": "x", "minLength": 2}, "x", False),
    # arrays
    ({"type": "array", "items": {"type": "integer"}}, [1, 2.0], True),
    ({"type": "array", "items": {"type": "integer"}}, [1, "2"], False),
    ({"items": {"type": "integer"}}, "not an array", True),
    ({"items": False}, [], True),
    ({"items": False}, [1], False),
    ({"minItems": 1}, [], False),
    ({"minItems": 1}, [0], True),
    ({"maxItems": 1}, [0, 1], False),
    ({"maxItems": 1}, "ab", True),
    ({"uniqueItems": True}, [1, 2], True),
    ({"uniqueItems": True}, [1, 1.0], False),
    ({"uniqueItems": True}, [1, True], True),
    ({"uniqueItems": True}, [0, False], True),
    ({"uniqueItems": True}, [[1], [True]], True),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
    ({"uniqueItems": True}, ["a", 1, "a"], False),
    ({"uniqueItems": True}, [1, NAN, 1], True),  # jsonschema's sorted scan misses it
    ({"uniqueItems": False}, [1, 1], True),
    # objects
    ({"properties": {"a": {"type": "string"}}}, {"a": 1}, False),
    ({"properties": {"a": {"type": "string"}}}, {"b": 1}, True),
    ({"properties": {"a": {"type": "string"}}}, "not an object", True),
    ({"properties": {"a": False}}, {"a": 1}, False),
    ({"properties": {"a": False}}, {}, True),
    ({"required": ["a"]}, {"a": None}, True),
    ({"required": ["a"]}, {"b": 1}, False),
    ({"required": ["a"]}, ["a"], True),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1}, True),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}, False),
    ({"additionalProperties": False}, {}, True),
    ({"additionalProperties": False}, [1], True),
    ({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}, {"a": "x", "b": 1},
     True),
    ({"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}, {"b": "x"}, False),
    ({"additionalProperties": True}, {"z": 1}, True),
    ({"type": "object", "properties": {"p": {"type": "object", "properties": {
        "q": {"type": "array", "items": {"enum": ["x"]}}}, "required": ["q"]}}},
     {"p": {"q": ["x", "x"]}}, True),
    ({"type": "object", "properties": {"p": {"type": "object", "properties": {
        "q": {"type": "array", "items": {"enum": ["x"]}}}, "required": ["q"]}}},
     {"p": {"q": ["x", "y"]}}, False),
    # annotations never affect validity; format is not asserted
    ({"format": "email"}, "not an email", True),
    ({"type": "string", "format": "date"}, "yesterday", True),
    ({"title": "t", "description": "d", "default": 5, "examples": [1], "$comment": "c",
      "deprecated": True, "readOnly": True, "writeOnly": False}, "anything", True),
    # boolean and empty schemas
    (True, {"a": 1}, True),
    (False, None, False),
    ({}, [1, "x"], True),
]


@pytest.mark.parametrize(("schema", "instance", "valid"), CASES)
def test_keyword_semantics_match_jsonschema(schema, instance, valid):
    assert Draft202012Validator(schema).is_valid(instance) is valid  # the table itself
    check = compile_schema(schema)
    assert check is not None
    assert check(instance) is valid
    validator = ArgumentValidator(schema)
    assert validator.fast
    assert validator.is_valid(instance) is valid
    assert (validator.error(instance) is None) is valid


WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "City name"},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "stops": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}}, "required": ["name"], "additionalProperties": False}},
    },
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(("arguments", "message"), [
    ({"city": "Oslo", "days": "x"}, "argument 'days': 'x' is not of type 'integer'"),
    ({"days": 3}, "missing required argument 'city'"),
    ({"city": "Oslo", "foo": 1}, "unexpected argument 'foo'"),
    ({"city": "Oslo", "foo": 1, "bar": 2}, "unexpected arguments 'bar', 'foo'"),
    ({"city": "Oslo", "days": 9}, "argument 'days': 9 is greater than the maximum of 7"),
    ({"city": "Oslo", "units": "kelvin"},
     "argument 'units': 'kelvin' is not one of ['metric', 'imperial']"),
    ({"city": "Oslo", "stops": [{"name": "a"}, {}]},
     "argument 'stops[1]': missing required property 'name'"),
    ({"city": "Oslo", "stops": [{"name": "a", "x": 1}]},
     "argument 'stops[0]': unexpected property 'x'"),
    ({"city": "Oslo", "stops": [{"name": 5}]},
     "argument 'stops[0].name': 5 is not of type 'string'"),
    (["Oslo"], "arguments: ['Oslo'] is not of type 'object'"),
    ({"city": "Oslo", "days": 2}, None),
])
def test_error_wording(arguments, message):
    assert ArgumentValidator(WEATHER).error(arguments) == message


def test_error_is_one_bounded_line():
    validator = ArgumentValidator({"type": "object", "properties": {"q": {"type": "string"}}})
    message = validator.error({"q": ["line\nbreak", *range(1000)]})
    assert message is not None and "\n" not in message and len(message) <= 500
    assert message.startswith("argument 'q': ['line\\nbreak', 0, 1, 2")
    assert ArgumentValidator({"type": "object", "properties": {"a\nb": {"type": "string"}}}
                             ).error({"a\nb": 1}) == "argument 'a\\nb': 1 is not of type 'string'"


def test_validator_pickles_and_copies():
    validator = ArgumentValidator(WEATHER)
    for clone in (pickle.loads(pickle.dumps(validator)), copy.deepcopy(validator)):
        assert clone.fast and clone.schema == WEATHER
        assert clone.error({"days": 3}) == "missing required argument 'city'"
        assert clone.is_valid({"city": "Oslo"})


UNSUPPORTED = [
    {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    {"oneOf": [{"type": "string"}]},
    {"allOf": [{"type": "string"}]},
    {"not": {"type": "string"}},
    {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"minimum": 0}},
    {"$ref": "#/$defs/s", "$defs": {"s": {"type": "string"}}},
    {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
    {"type": "array", "prefixItems": [{"type": "string"}]},
    {"type": "array", "contains": {"type": "string"}},
    {"type": "object", "dependentRequired": {"a": ["b"]}},
    {"type": "object", "minProperties": 1},
    {"type": "object", "propertyNames": {"maxLength": 3}},
    {"type": "number", "multipleOf": 2},
    {"type": "object", "unevaluatedProperties": False},
    {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"},
    {"$id": "urn:tool", "type": "string"},
    {"type": "string", "x-unknown": 1},
    # nested anywhere
    {"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}},
    {"type": "array", "items": {"type": "object", "minProperties": 1}},
    {"type": "object", "additionalProperties": {"oneOf": [{"type": "string"}]}},
    # malformed keyword values: let jsonschema decide (or raise) as it would
    {"type": "text"},
    {"type": "object", "required": "a"},
    {"minLength": "3"},
    {"minLength": -1},
    {"minimum": True},
    {"minimum": None},
    {"maxLength": None},
    {"maxItems": None},
    {"required": [1]},
    {"properties": {"a": None}},
    {"additionalProperties": None},
    {"maxItems": 1.0},
    {"pattern": 5},
    {"pattern": "("},
    {"enum": "abc"},
    {"uniqueItems": 1},
    {"properties": []},
    {"items": [{"type": "string"}]},
    {"type": "string", "minimum": "3"},  # inapplicable to strings, but still malformed
]


@pytest.mark.parametrize("schema", UNSUPPORTED)
def test_unsupported_keywords_fall_back(schema):
    assert compile_schema(schema) is None
    assert ArgumentValidator(schema).fast is False


@pytest.mark.parametrize(("schema", "instance", "valid"), [
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 3, True),
    ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 3.5, False),
    ({"$ref": "#/$defs/s", "$defs": {"s": {"type": "string"}}}, "x", True),
    ({"$ref": "#/$defs/s", "$defs": {"s": {"type": "string"}}}, 1, False),
    ({"type": "object", "patternProperties": {"^x": {"type": "integer"}},
      "additionalProperties": False}, {"x1": 1}, True),
    ({"type": "object", "patternProperties": {"^x": {"type": "integer"}},
      "additionalProperties": False}, {"y": 1}, False),
    ({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}, {"a": 1}, False),
    ({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}, {"a": "1"}, True),
    ({"type": "number", "multipleOf": 0.5}, 1.5, True),
    ({"type": "number", "multipleOf": 0.5}, 1.2, False),
])
def test_fallback_still_validates(schema, instance, valid):
    validator = ArgumentValidator(schema)
    assert not validator.fast
    assert validator.is_valid(instance) is valid
    assert (validator.error(instance) is None) is valid


def test_fallback_error_wording():
    validator = ArgumentValidator({"type": "object", "properties": {
        "when": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "dependentRequired": {"a": ["b"]}})
    assert validator.error({"when": 1.5}) == ("argument 'when': 1.5 is not valid under any of "
                                              "the given schemas")
    assert validator.error({"a": 1}) == "arguments: 'b' is a dependency of 'a'"


# -- differential test -------------------------------------------------------------------------

NAMES = ["a", "b", "city", "days"]
TEXT = st.text(alphabet="ab1 é", max_size=4)
TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"]
PATTERNS = ["^a", "b$", "[0-9]", "^$", "a+b?", "^(a|b)*$", " ", "é"]
SPECIAL_FLOATS = st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.0, 0.5, -2.5, 1e300, math.inf, NAN])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), SPECIAL_FLOATS,
                    st.floats(allow_nan=True), st.integers(), TEXT, st.sampled_from(NAMES))
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(NAMES) | TEXT, children, max_size=3),
    max_leaves=6,
)
ENUM_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0]),
                        TEXT, st.lists(st.integers(0, 1) | st.booleans(), max_size=2),
                        st.dictionaries(st.sampled_from(NAMES), st.integers(0, 1) | st.booleans(),
                                        max_size=1))
#: Enum values of the schema's own kind (often next to values of other kinds).
ENUM_OF = {
    "string": TEXT, "number": st.integers(-2, 2) | st.sampled_from([0.5, 1.0]),
    "integer": st.integers(-2, 2) | st.sampled_from([1.0]), "boolean": st.booleans(),
    "null": st.none(), "array": st.lists(st.integers(0, 1) | st.booleans() | TEXT, max_size=2),
    "object": st.dictionaries(st.sampled_from(NAMES), st.integers(0, 1) | st.booleans(),
                              max_size=2),
}
BOUNDS = st.integers(-3, 3) | st.sampled_from([-1.5, 0.0, 0.5, 2.0])
COUNTS = st.integers(0, 3)


def _one_in(draw: Any, n: int) -> bool:
    # A middle value: Hypothesis draws the ends of a range more often.
    return draw(st.integers(0, n - 1)) == n // 2


@st.composite
def schemas(draw, depth: int = 3, tool: bool = True) -> Any:
    """A random schema in the supported subset, nested at most ``depth`` levels.

    With ``tool``, the top level is an object half of the time, as for tools.
    """
    if _one_in(draw, 16):
        return draw(st.booleans())
    kinds = TYPES if depth > 0 else ["string", "number", "integer", "boolean", "null"]
    # Tool schemas are objects at the top: make that the common case there.
    kind = "object" if tool and draw(st.booleans()) else draw(st.sampled_from(kinds))
    schema: dict[str, Any] = {}
    mode = draw(st.sampled_from(["single", "single", "single", "list", "none"]))
    if mode == "single":
        schema["type"] = kind
    elif mode == "list":
        schema["type"] = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3,
                                       unique=True))
    # Mostly the declared kind's keywords, sometimes another kind's (which must not apply).
    keyword_kinds = {kind} | set(draw(st.lists(st.sampled_from(kinds), max_size=1)))
    maybe = st.booleans()
    if "string" in keyword_kinds:
        if draw(maybe):
            schema["minLength"] = draw(COUNTS)
        if draw(maybe):
            schema["maxLength"] = draw(COUNTS)
        if draw(maybe):
            schema["pattern"] = draw(st.sampled_from(PATTERNS))
    if keyword_kinds & {"number", "integer"}:
        for name in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if _one_in(draw, 3):
                schema[name] = draw(BOUNDS)
    if "array" in keyword_kinds:
        if draw(maybe):
            schema["items"] = draw(schemas(depth - 1, tool=False))
        if draw(maybe):
            schema["minItems"] = draw(COUNTS)
        if draw(maybe):
            schema["maxItems"] = draw(COUNTS)
        if draw(maybe):
            schema["uniqueItems"] = draw(st.integers(0, 3)) > 0
    if "object" in keyword_kinds:
        names = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
        if names or draw(maybe):
            schema["properties"] = {name: draw(schemas(depth - 1, tool=False)) for name in names}
        if draw(maybe):
            schema["required"] = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
        additional = draw(st.sampled_from(["closed", "absent", "schema", "open"]))
        if additional == "closed":
            schema["additionalProperties"] = False
        elif additional == "open":
            schema["additionalProperties"] = True
        elif additional == "schema":
            schema["additionalProperties"] = draw(schemas(depth - 1, tool=False))
    if _one_in(draw, 8):
        values = st.one_of(ENUM_VALUES, ENUM_OF[kind], ENUM_OF[kind])
        schema["enum"] = draw(st.lists(values, max_size=4))
    if _one_in(draw, 16):
        schema["const"] = draw(st.one_of(ENUM_VALUES, ENUM_OF[kind]))
    if _one_in(draw, 5):
        annotations = {"description": TEXT, "title": TEXT, "default": JSON,
                       "examples": st.lists(JSON, max_size=2),
                       "format": st.sampled_from(["date", "email", "uri", "ipv4"]),
                       "$comment": TEXT, "deprecated": st.booleans(), "readOnly": st.booleans(),
                       "writeOnly": st.booleans()}
        for name in draw(st.lists(st.sampled_from(sorted(annotations)), max_size=3)):
            schema[name] = draw(annotations[name])
    return schema


def _bounds(schema: dict[str, Any]) -> tuple[float, float]:
    low = max([schema.get("minimum", -5), schema.get("exclusiveMinimum", -5.5) + 0.5])
    high = min([schema.get("maximum", 5), schema.get("exclusiveMaximum", 5.5) - 0.5])
    return low, high


def instances(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances that mostly satisfy ``schema``; at every level, some are perturbed or random."""
    near = _near_valid(schema, depth)
    perturbed = near.flatmap(lambda value: st.sampled_from(_variants(value)))
    # Less noise inside than at the top, so that an argument dict is often
    # wrong in exactly one place.
    return st.integers(0, 7 if depth == 0 else 15).flatmap(
        lambda roll: JSON if roll == 3 else perturbed if roll in (4, 5 - depth) else near)


def _variants(value: Any) -> list[Any]:
    """Values close to ``value`` that JSON Schema may tell apart from it (or not)."""
    if isinstance(value, bool):
        return [int(value), float(value), not value]
    if isinstance(value, int):
        return [float(value), value + 1, *([bool(value)] if value in (0, 1) else [])]
    if isinstance(value, float):
        return [value + 0.5, *([int(value)] if value.is_integer() else [])]
    if isinstance(value, str):
        return [value + "a", value[:-1], 1]
    if isinstance(value, list):
        if not value:
            return [[None], {}]
        first = _variants(value[0])
        return [[*value, value[0]], value[:-1], [first[0], *value[1:]],
                *([*value, variant] for variant in first)]
    if isinstance(value, dict):
        out: list[Any] = [{**value, "zz": 1}, {**value, NAMES[len(value) % len(NAMES)]: 1}, []]
        for key in value:
            out += [{k: v for k, v in value.items() if k != key},
                    {**value, key: _variants(value[key])[0]}]
        return out
    return [False, 0, "", []]


def _near_valid(schema: Any, depth: int) -> st.SearchStrategy[Any]:
    if not isinstance(schema, dict):
        return JSON
    if "const" in schema:
        return st.just(schema["const"])
    if schema.get("enum"):
        return st.sampled_from(schema["enum"])
    declared = schema.get("type")
    kinds = [declared] if isinstance(declared, str) else declared or TYPES
    options = []
    for kind in kinds:
        if kind == "string":
            low = schema.get("minLength", 0)
            high = max(low, schema.get("maxLength", low + 3))
            text = st.text(alphabet="ab1 é", min_size=low, max_size=high)
            if "pattern" in schema:
                text |= st.from_regex(schema["pattern"], alphabet="ab1 é")
            options.append(text)
        elif kind in ("number", "integer"):
            low, high = _bounds(schema)
            edges = [schema[name] for name in ("minimum", "maximum", "exclusiveMinimum",
                                                "exclusiveMaximum") if name in schema]
            if edges:
                options.append(st.sampled_from(edges))
            whole = (st.integers(math.ceil(low), math.floor(high))
                     if math.ceil(low) <= math.floor(high) else st.integers(-3, 3))
            options.append(whole | whole.map(float))
            if kind == "number" and low <= high:
                options.append(st.floats(low, high))
        elif kind == "boolean":
            options.append(st.booleans())
        elif kind == "null":
            options.append(st.none())
        elif kind == "array" and depth < 4:
            low = schema.get("minItems", 0)
            high = min(max(low, schema.get("maxItems", 3)), 4)
            options.append(st.lists(instances(schema.get("items", True), depth + 1),
                                    min_size=low, max_size=high,
                                    unique_by=json.dumps if schema.get("uniqueItems") else None))
        elif kind == "object" and depth < 4:
            options.append(_objects(schema, depth))
    return st.one_of(options) if options else JSON


def _objects(schema: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    fixed = {name: instances(properties.get(name, True), depth + 1) for name in required}
    optional = {name: instances(sub, depth + 1) for name, sub in properties.items()
                if name not in fixed}
    base = st.fixed_dictionaries(fixed, optional=optional)
    additional = schema.get("additionalProperties", True)
    if additional is False:
        return base
    extra = st.dictionaries(TEXT, instances(additional, depth + 1), max_size=2)
    return st.tuples(extra, base).map(lambda pair: {**pair[0], **pair[1]})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_path_agrees_with_jsonschema(data):
    _agree(data, data.draw(schemas(), label="schema"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fast_path_agrees_on_shallow_schemas(data):
    _agree(data, data.draw(schemas(depth=1, tool=False), label="schema"))


EQUALITY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-1, 2) | st.sampled_from([0.0, 1.0, 1.5, NAN])
    | st.sampled_from(["", "a", "1"]),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b"]), children, max_size=2),
    max_leaves=5,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_equality_agrees_with_jsonschema(data):
    """enum, const and uniqueItems on values that Python's == confuses (1, 1.0, True...)."""
    values = data.draw(st.lists(EQUALITY_VALUES, min_size=1, max_size=3), label="values")
    near = st.sampled_from(values).flatmap(lambda value: st.sampled_from([value,
                                                                           *_variants(value)]))
    others = data.draw(st.lists(near | EQUALITY_VALUES, min_size=1, max_size=4), label="others")
    for schema in ({"enum": values}, {"const": values[0]}, {"uniqueItems": True}):
        check, reference = compile_schema(schema), Draft202012Validator(schema)
        assert check is not None
        for instance in [*others, values + others, others + values]:
            assert check(instance) is reference.is_valid(instance), (schema, instance)


def _agree(data: Any, schema: Any) -> None:
    Draft202012Validator.check_schema(schema)  # the strategy writes valid schemas
    check = compile_schema(schema)
    assert check is not None
    reference = Draft202012Validator(schema)
    validator = ArgumentValidator(schema)
    for instance in data.draw(st.lists(instances(schema), min_size=2, max_size=6),
                              label="instances"):
        valid = reference.is_valid(instance)
        assert check(instance) is valid, (schema, instance)
        assert (validator.error(instance) is None) is valid, (schema, instance)


# -- the real schemas --------------------------------------------------------------------------

def _demo_tasks() -> list[dict[str, Any]]:
    lines = (demo_pack_path() / "tasks.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_every_demo_tool_compiles_to_the_fast_path():
    tasks = _demo_tasks()
    tools = [tool for task in tasks for tool in task["tools"]]
    assert len(tools) > 100
    blocked = {tool["name"]: sorted(tool["parameters"]) for tool in tools
               if not ArgumentValidator(tool["parameters"]).fast}
    assert not blocked


def test_demo_gold_calls_are_valid_on_both_paths():
    checked = 0
    for task in _demo_tasks():
        tools = {tool["name"]: tool["parameters"] for tool in task["tools"]}
        for sub in task["subtasks"]:
            call = sub.get("gold_call")
            if not call:
                continue
            schema = tools[call["name"]]
            validator = ArgumentValidator(schema)
            assert validator.is_valid(call["arguments"]), (task["task_id"], call)
            assert Draft202012Validator(schema).is_valid(call["arguments"])
            bad = {**call["arguments"], "unexpected_argument_x": 1}
            assert validator.is_valid(bad) is Draft202012Validator(schema).is_valid(bad)
            checked += 1
    assert checked > 100


def test_validator_for_shares_one_validator_per_schema_text():
    from astra_gym.argcheck import validator_for

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    shared = validator_for(schema)
    assert validator_for(json.loads(json.dumps(schema))) is shared
    assert shared.is_valid({"q": "x"}) and not shared.is_valid({})
    assert shared.best_error({"q": "x"}) is None
    assert "'q' is a required property" in shared.best_error({}).message
    other = validator_for({**schema, "required": []})
    assert other is not shared and other.is_valid({})
