"""Bare JSON tool calls: detected only when the whole turn is call objects."""

from __future__ import annotations

import json

import pytest

from astra_gym.parsers import parse_json_calls
from astra_gym.parsers.json_calls import call_from_object, coerce_arguments


def summary(calls):
    return [(call.name, call.arguments, call.error, call.call_id) for call in calls]


@pytest.mark.parametrize("text, expected", [
    ('{"name": "f", "arguments": {"a": 1}}', [("f", {"a": 1}, None, None)]),
    ('  {"name": "f", "parameters": {"a": 1}}\n', [("f", {"a": 1}, None, None)]),
    ('{"name": "f", "arguments": "{\\"a\\": 1}", "id": "c1", "type": "function"}',
     [("f", {"a": 1}, None, None)]),
    ('{"type": "function", "function": {"name": "f", "arguments": "{}"}, "id": "c1"}',
     [("f", {}, None, "c1")]),
    ('{"function": {"name": "f"}}', [("f", {}, None, None)]),
    ('[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {"b": 2}}]',
     [("f", {}, None, None), ("g", {"b": 2}, None, None)]),
    ('{"tool_calls": [{"id": "c1", "type": "function", '
     '"function": {"name": "f", "arguments": "{\\"a\\": 1}"}}]}',
     [("f", {"a": 1}, None, "c1")]),
    ('{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f"}}]}',
     [("f", {}, None, None)]),
    # one fence, untagged or json, with nothing around it
    ('```json\n{"name": "f", "arguments": {"a": 1}}\n```', [("f", {"a": 1}, None, None)]),
    ('```\n[{"name": "f", "arguments": {}}]\n```', [("f", {}, None, None)]),
])
def test_parses(text, expected):
    assert summary(parse_json_calls(text)) == expected


@pytest.mark.parametrize("text", [
    "",
    "Paris",
    "42",
    '"a string"',
    "null",
    "[]",
    "{}",
    # a final answer that is JSON but not a call
    '{"answer": 42}',
    '{"name": "Ada Lovelace", "born": 1815}',
    '{"name": "Ada Lovelace"}',
    '[{"name": "Ada"}, {"name": "Alan"}]',
    '[{"name": "f", "arguments": {}}, 3]',
    '{"name": "f", "arguments": {}, "reason": "extra keys mean data, not a call"}',
    '{"name": "get_weather", "description": "a tool schema", "parameters": {}}',
    '{"function": "sqrt"}',
    '{"tool_calls": []}',
    '{"tool_calls": "f"}',
    '{"tool_calls": [{"name": "f"}], "other": 1}',
    # prose around JSON, another fence language, several fences
    'Call: {"name": "f", "arguments": {}}',
    'Here you go:\n```json\n{"name": "f", "arguments": {}}\n```',
    '```python\n{"name": "f", "arguments": {}}\n```',
    '```json\n{"name": "f", "arguments": {}}\n```\n```json\n{"name": "g", "arguments": {}}\n```',
    # broken JSON that does not look like a call is not a call either
    '{"answer": 42',
    "[1, 2",
    "{" * 10_000,
    "{" + " " * 200_000 + "}",
])
def test_not_calls(text):
    assert parse_json_calls(text) is None


@pytest.mark.parametrize("text, name, error", [
    ('{"name": "f", "arguments": {"a": 1}', "f", "invalid JSON: Expecting ',' delimiter"),
    ('{"name": "f\\u00e9", "arguments": {"a": }}', "fé", "invalid JSON: Expecting value"),
    ('{"tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]', "f", "invalid JSON"),
    ('{"function": {"name": "f", "arguments": }}', "f", "invalid JSON"),
    ('{"name": "f", "arguments": [1]}', "f", '"arguments" must be a JSON object, got array'),
    ('{"name": null, "arguments": {}}', None, 'the call has no "name"'),
    ('{"name": "f", "arguments": "{oops"}', "f", '"arguments" is not valid JSON'),
    ('{"name": "f", "arguments": {"a": Infinity}}', "f",
     "invalid JSON: Infinity is not valid JSON"),
    ('{"name": "f", "arguments": {"a": "' + "x" * 100_000 + '"}}', "f", "the call is too long"),
])
def test_errors(text, name, error):
    (call,) = parse_json_calls(text)
    assert call.name == name
    assert call.arguments == {}
    assert call.error is not None and call.error.startswith(error), call.error


def test_tool_calls_wrapper_reports_bad_entries():
    calls = parse_json_calls(json.dumps({"tool_calls": [
        {"function": {"name": "f", "arguments": "{}"}}, 3, {"function": {"arguments": "{}"}}]}))
    assert summary(calls) == [
        ("f", {}, None, None),
        (None, {}, 'expected a JSON object with "name" and "arguments", got number', None),
        (None, {}, 'the call has no "name"', None)]


def test_raw_is_the_call_text():
    (call,) = parse_json_calls('{"name": "f", "arguments": {"a": 1}}')
    assert call.raw == '{"name": "f", "arguments": {"a": 1}}'
    first, second = parse_json_calls('[{"name": "f", "arguments": {}}, '
                                     '{"name": "g", "arguments": {"q": "' + "x" * 300 + '"}}]')
    assert first.raw == '{"name": "f", "arguments": {}}'
    assert len(second.raw) == 200 and second.raw.endswith("...")


def test_coerce_arguments():
    assert coerce_arguments(None) == ({}, None)
    assert coerce_arguments("  ") == ({}, None)
    assert coerce_arguments({"a": (1, 2)}) == ({"a": [1, 2]}, None)
    assert coerce_arguments({1: 2})[1] == '"arguments" has a non-string key 1'
    assert coerce_arguments({"a": {1, 2}})[1].startswith('"arguments" is not JSON data')
    assert coerce_arguments({"a": float("nan")})[1].startswith('"arguments" is not JSON data')
    assert coerce_arguments("x" * 100_001)[1].startswith('"arguments" is too long')


def test_arguments_are_copied():
    arguments = {"a": [1]}
    call = call_from_object({"name": "f", "arguments": arguments}, raw="")
    arguments["a"].append(2)
    assert call.arguments == {"a": [1]}
