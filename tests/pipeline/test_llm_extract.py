"""synth.llm.extract: tolerant about where the JSON is, fail-closed about what it is."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.llm import ExtractionError, OutputInvalid, check_schema, extract_json, validate_output

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

EXTRACTED = [
    # plain JSON, any value
    ('{"a": 1}', {"a": 1}),
    ("  [1, 2, 3]\n", [1, 2, 3]),
    ("42", 42),
    ('"just a string"', "just a string"),
    # reasoning blocks
    ('<think>{"draft": 1}</think>{"final": 2}', {"final": 2}),
    ('<think>\nhmm [1]\n</think>\n\n<think>more</think>{"a": 1}', {"a": 1}),
    ('the template opened the block {"draft": 1}</think>\n{"final": 2}', {"final": 2}),
    ('  \n<think>r</think>\n<think>s</think>\n[1]', [1]),
    ('Intro <think>draft {"a": 1}</think> final {"a": 2}', {"a": 2}),  # skipped by the scanner
    # think tags that are data, not reasoning, are kept
    ('{"t": "<think>x</think>"}', {"t": "<think>x</think>"}),
    ('Sure:\n```json\n{"t": "<think>x</think> y"}\n```', {"t": "<think>x</think> y"}),
    ('{"t": "</think>"}', {"t": "</think>"}),
    ('Here:\n```json\n{"a": "x</think>", "b": {"c": 1}}\n```', {"a": "x</think>", "b": {"c": 1}}),
    ('I think {"a": 1} is wrong</think>{"a": "</think>"}', {"a": "</think>"}),
    # fences
    ('```json\n{"a": 1}\n```', {"a": 1}),
    ('Here you go:\n```JSON\n{"a": 1}\n```\nDone.', {"a": 1}),
    ('```\n[1, 2]\n```', [1, 2]),
    ('Example:\n```python\nx = {"no": 1}\n```\n```json\n{"yes": 2}\n```', {"yes": 2}),
    ('```json\n{"a": 1,}\n```\n```json\n{"b": 2}\n```', {"b": 2}),  # first json fence broken
    ('```json\n{"a": 1}\n```\n```json\n{"b": 2}\n```', {"a": 1}),  # the first one that decodes
    ('  ```json\n  {"a": 1}\n  ```', {"a": 1}),  # indented fence
    ('{"code": "```json\\n[1]\\n```"}', {"code": "```json\n[1]\n```"}),  # fence inside a string
    ('{"code": "```1```"}', {"code": "```1```"}),
    # prose around the JSON
    ('Sure! The answer is {"a": 1}. Hope that helps.', {"a": 1}),
    ('Result:\n[{"x": 1}, {"x": 2}]\nThat is all.', [{"x": 1}, {"x": 2}]),
    ('I used {curly braces} loosely; the answer: {"a": 1}', {"a": 1}),
    ('{"a": 1} and then {"b": 2}', {"a": 1}),
    # brackets and quotes inside strings do not confuse the scanner
    ('Answer: {"s": "}{ ][ \\" {", "t": [1]} end', {"s": '}{ ][ " {', "t": [1]}),
    ('Answer: {"path": "C:\\\\dir\\\\"} end', {"path": "C:\\dir\\"}),
    ('Note {"a": "x\\\\"} ok', {"a": "x\\"}),
    # a wrong closer or a string over a line break abandons a span, the search goes on
    ('Oops { ] then {"a": 1}', {"a": 1}),
    ('See {the "notes\nfor more} and {"a": 1}', {"a": 1}),
    ('Nested: {"o": {"inner": [1, {"deep": true}]}}', {"o": {"inner": [1, {"deep": True}]}}),
    ('unicode {"名前": "値", "e": "\\u00e9"}', {"名前": "値", "e": "é"}),
]

FAILS = [
    ("", "empty"),
    ("   \n ", "empty"),
    ("<think>all reasoning</think>", "no text after its reasoning"),
    ("<think>cut off while thinking {\"a\": 1}", "no text after its reasoning"),
    ("No JSON here at all.", "no balanced"),
    ('{"a": 1', "never closed"),  # truncated
    ('[{"a": 1}, {"a": 2}, {"a":', "never closed"),  # complete items inside a cut-off array
    ('```json\n{"a": [1, 2\n```', "```json block is not JSON"),
    ("{'a': 1}", "no balanced {...} or [...] in it decodes"),  # Python, not JSON
    ('{"a": NaN}', "decodes"),
    ('{"a": Infinity}', "decodes"),
    ('{"a": 1, }', "decodes"),  # broken outer span: its valid parts are not the answer
    ('{"bad": [1, 2}, "inner": {"b": 2}}', "decodes"),
    ("[" * 5000 + "]" * 5000, "decodes"),  # nests too deeply to decode
    ("[" * 100_000, "never closed"),
    ('{"a": "unterminated}', "never closed"),
    ('Intro <think>draft {"a": 1}', "never closed"),
    ('{\n "a": "unterminated\n "b": {"c": 1}\n}', "decodes"),  # no fragment of a broken value
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTED)
def test_extracts(text: str, expected: object) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(("text", "reason"), FAILS)
def test_fails_closed_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_json(text)
    assert reason in info.value.reason
    assert isinstance(info.value, ValueError)


def test_nothing_but_strict_json() -> None:
    # True/None, single quotes, trailing commas: Python literals never pass
    for text in ["{'a': True}", "[None]", "(1, 2)", "{a: 1}"]:
        with pytest.raises(ExtractionError):
            extract_json(text)


def test_not_text() -> None:
    with pytest.raises(ExtractionError, match="not text"):
        extract_json(b'{"a": 1}')  # type: ignore[arg-type]


def test_long_hostile_input_fails_cleanly() -> None:
    """Deep nesting and a long unterminated string: an ExtractionError, no RecursionError.

    That the cost grows linearly is measured, not asserted (machines are noisy):
    benchmarks/bench_extract.py, figures in docs/benchmarks.md.
    """
    text = "{[" * 50_000 + '"' + "\\" * 10_001
    with pytest.raises(ExtractionError):
        extract_json(text)


# -- properties ------------------------------------------------------------------

FRAGMENTS = st.sampled_from([
    "<think>", "</think>", "```", "```json\n", "\n```\n", "{", "}", "[", "]", '"', "\\",
    ":", ",", "\n", " ", "1", "null", "NaN", '{"a": 1}', "[1, 2]", "é", "\x00", "\r",
])
TEXTS = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=4)),
                                      max_size=40).map("".join))


@SETTINGS
@given(TEXTS)
def test_only_extraction_error_escapes(text: str) -> None:
    try:
        value = extract_json(text)
    except ExtractionError as exc:
        assert exc.reason
    else:
        json.dumps(value, allow_nan=False)  # strict JSON data, nothing else


LEAVES = st.one_of(st.none(), st.booleans(), st.integers(),
                   st.floats(allow_nan=False, allow_infinity=False),
                   st.text(), st.sampled_from(["<think>", "</think>", "```", "```json\n"]))
VALUES = st.recursive(LEAVES, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.text(max_size=5), children, max_size=4)), max_leaves=20)
CONTAINERS = st.one_of(st.lists(VALUES, max_size=4),
                       st.dictionaries(st.text(max_size=5), VALUES, max_size=4))
PROSE = st.text(st.characters(blacklist_characters='{}[]"`<\\'), max_size=30)


@SETTINGS
@given(PROSE, CONTAINERS, PROSE, st.booleans(), st.booleans(), st.sampled_from(["", "<think>",
                                                                                  "open"]))
def test_finds_a_value_wherever_it_sits(before: str, value: object, after: str, indent: bool,
                                        fenced: bool, reasoning: str) -> None:
    body = json.dumps(value, indent=2 if indent else None, ensure_ascii=False)
    if fenced:
        body = f"\n```json\n{body}\n```\n"
    if reasoning:  # a closed think block, or only its end (template-opened)
        before = f"{'<think>' if reasoning == '<think>' else ''}{before} [draft {{1}}</think>"
    assert extract_json(f"{before}{body}{after}") == value


# -- validation ------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "required": ["items"],
    "additionalProperties": False,
    "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string"}, "hops": {"type": "integer"}}}}},
}


def test_valid_output_is_returned() -> None:
    value = {"items": [{"name": "a", "hops": 2}]}
    assert validate_output(value, SCHEMA) is value


@pytest.mark.parametrize(("value", "reason"), [
    ({}, "$: 'items' is a required property"),
    ({"items": [{"hops": 1}]}, "$.items[0]: 'name' is a required property"),
    ({"items": [{"name": "a", "hops": "2"}]}, "$.items[0].hops: '2' is not of type 'integer'"),
    ({"items": [], "extra": 1},
     "$: Additional properties are not allowed ('extra' was unexpected)"),
    ([], "$: [] is not of type 'object'"),
])
def test_invalid_output_names_path_and_problem(value: object, reason: str) -> None:
    with pytest.raises(OutputInvalid) as info:
        validate_output(value, SCHEMA)
    assert info.value.reason == reason


def test_several_errors_are_counted() -> None:
    with pytest.raises(OutputInvalid, match=r"\(and 1 more error\)"):
        validate_output({"items": [{"name": 1}, {"name": 2}]}, SCHEMA)


def test_long_messages_are_clipped() -> None:
    with pytest.raises(OutputInvalid) as info:
        validate_output({"items": "x" * 5000}, SCHEMA)
    assert len(info.value.reason) < 400


def test_bad_schema_is_a_schema_error() -> None:
    with pytest.raises(jsonschema.SchemaError):
        check_schema({"type": "thing"})
    with pytest.raises(jsonschema.SchemaError):
        validate_output({}, {"type": 3})


def test_schema_draft_is_honoured() -> None:
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#",
              "type": "array", "items": [{"type": "integer"}], "additionalItems": False}
    assert validate_output([1], draft7) == [1]
    with pytest.raises(OutputInvalid):
        validate_output([1, 2], draft7)


# -- the fast check: the same verdict as jsonschema ---------------------------------------

def _stage_schemas() -> list[dict]:
    from synth.stages import generate, merge, necessity, tools, verify

    found = []
    for module in (generate, merge, necessity, tools, verify):
        for name in dir(module):
            value = getattr(module, name)
            if name.endswith("SCHEMA") and isinstance(value, dict):
                found.append(value)
    return found


EVERY_KEYWORD = {
    "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "t",
    "type": "object", "required": ["a", "b"], "additionalProperties": {"type": "boolean"},
    "properties": {
        "a": {"type": ["integer", "null"], "description": "d"},
        "b": {"type": "array", "minItems": 1, "maxItems": 3,
              "items": {"anyOf": [{"type": "string", "minLength": 2, "maxLength": 4,
                                   "pattern": "^x"}, {"type": "number"}, True]}},
        "c": {"type": "object", "additionalProperties": False,
              "properties": {"d": False, "e": {"type": "string"}}},
        "f": {"minLength": 1, "minItems": 2},  # keywords of other types are ignored
    },
}
JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False)
                    | st.sampled_from([0.0, 1.0, 2.5]) | st.text("xab", max_size=5),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e", "f", "z"]),
                                      inner, max_size=4), max_leaves=12)


def _near(schema: object, depth: int = 0) -> st.SearchStrategy:
    """Values shaped by ``schema``, mostly valid: any node is random JSON one time in ten."""
    if not isinstance(schema, dict) or depth > 6:
        return JSON
    options = []
    if "anyOf" in schema:
        options += [_near(sub, depth + 1) for sub in schema["anyOf"]]
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "object" in types or "properties" in schema:
        props, required = schema.get("properties", {}), schema.get("required", [])
        options.append(st.fixed_dictionaries(
            {key: _near(props.get(key, True), depth + 1) for key in required},
            optional={**{key: _near(sub, depth + 1) for key, sub in props.items()
                         if key not in required}, "zz": JSON}))
    if "array" in types or "items" in schema:
        low = schema.get("minItems", 0)
        options.append(st.lists(_near(schema.get("items", True), depth + 1),
                                min_size=low, max_size=low + 3))
    if "string" in types:
        low = schema.get("minLength", 0)
        options.append(st.text("xab ", min_size=low, max_size=low + 4))
    if "integer" in types:
        options.append(st.integers(-2, 5) | st.sampled_from([1.0, -3.0]))
    if "number" in types:
        options.append(st.floats(-2, 5))
    if "boolean" in types:
        options.append(st.booleans())
    if "null" in types:
        options.append(st.none())
    shaped = st.one_of(options) if options else JSON
    return st.integers(0, 9).flatmap(lambda roll: JSON if roll == 0 else shaped)


@pytest.mark.parametrize("schema", [EVERY_KEYWORD, SCHEMA, *_stage_schemas()])
@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_fast_check_agrees_with_jsonschema(schema: dict, data: st.DataObject) -> None:
    from synth.llm.extract import _compile, _validator

    fast = _compile(schema, root=True)
    assert fast is not None  # every stage schema is in the fast subset
    validator, cached = _validator(schema)
    assert cached is not None
    value = data.draw(_near(schema))
    assert fast(value) == validator.is_valid(value), value
    if validator.is_valid(value):
        assert validate_output(value, schema) is value


@pytest.mark.parametrize("schema", [
    {"type": "object", "patternProperties": {"^a": {}}},
    {"enum": [1, 2]},
    {"prefixItems": [{"type": "integer"}], "items": False},
    {"$ref": "#/$defs/x", "$defs": {"x": {}}},
    {"type": "object", "properties": {"a": {"oneOf": [{}]}}},
])
def test_schemas_outside_the_subset_use_jsonschema_alone(schema: dict) -> None:
    from synth.llm.extract import _compile

    assert _compile(schema, root=True) is None
    check_schema(schema)
