"""Static tool checks: schema validity and schema/signature agreement."""

from __future__ import annotations

import json

import pytest

from astra_gym.toolspec import read_signature, schema_problems, signature_problems

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                           "days": {"type": "integer"}}, "required": ["city"]}


def test_agreeing_signature_has_no_problems():
    sig = read_signature("def f(city, days=1):\n    pass\n", "f")
    assert signature_problems(sig, SCHEMA) == []


@pytest.mark.parametrize("source, problem", [
    ("def f(city):\n    pass\n", "schema property 'days' is not a parameter of f()"),
    ("def f(city, days):\n    pass\n", "parameter 'days' has no default"),
    ("def f(city, /, days=1):\n    pass\n", "'city' is positional-only"),
    ("def f(city, days=1, *, unit):\n    pass\n", "parameter 'unit' has no default"),
])
def test_disagreements(source, problem):
    problems = signature_problems(read_signature(source, "f"), SCHEMA)
    assert any(problem in p for p in problems), problems


def test_unparsable_source_raises_syntax_error():
    with pytest.raises(SyntaxError):
        read_signature("def f(city, days=1, extra):\n    pass\n", "f")


def test_var_keyword_accepts_any_property():
    sig = read_signature("def f(city, **options):\n    pass\n", "f")
    assert signature_problems(sig, SCHEMA) == []
    assert sig.var_keyword and not sig.var_positional


def test_missing_function_and_last_definition_wins():
    assert read_signature("def g():\n    pass\n", "f") is None
    sig = read_signature("def f(a):\n    pass\ndef f(a, b=2):\n    pass\n", "f")
    assert [p.name for p in sig.parameters] == ["a", "b"]
    assert sig.positional_names == ("a", "b")


@pytest.mark.parametrize("schema, fragment", [
    ([], "must be a JSON object"),
    ({"type": "array"}, "must have type 'object'"),
    ({"type": "object", "properties": {"x": {"type": "text"}}}, "not a valid JSON Schema"),
    ({"type": "object", "properties": {}, "required": ["x"]}, "'x', which is not in"),
    ({"type": "object", "properties": []}, "'properties' must be an object"),
])
def test_schema_problems(schema, fragment):
    assert any(fragment in p for p in schema_problems(schema)), schema_problems(schema)


def test_valid_schema_has_no_problems():
    assert schema_problems(SCHEMA) == []
    assert schema_problems({"type": "object"}) == []


def test_schema_problems_are_cached_per_schema_and_fresh_per_call(monkeypatch):
    import jsonschema

    bad = {"type": "object", "properties": {"n": {"type": "integer", "minimum": "zero"}}}
    first = schema_problems(bad)
    assert first and "not a valid JSON Schema at properties/n/minimum" in first[0]
    first.append("caller's own")

    def forbidden(*args, **kwargs):
        raise AssertionError("the metaschema check ran again for a schema it has seen")

    monkeypatch.setattr(jsonschema.Draft202012Validator, "check_schema", forbidden)
    again = schema_problems(json.loads(json.dumps(bad)))
    assert again == first[:-1]
