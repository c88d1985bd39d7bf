"""Hermes ``<tool_call>`` blocks."""

from __future__ import annotations

import json

import pytest

from astra_gym.parsers import ParsedCall, parse_hermes
from astra_gym.parsers.hermes import find_hermes_blocks, remove_hermes_blocks


def ok(name, arguments=None):
    return (name, arguments or {}, None)


def summary(calls):
    return [(call.name, call.arguments, call.error) for call in calls]


@pytest.mark.parametrize("text, expected", [
    ('<tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>', [ok("f", {"a": 1})]),
    ('<tool_call>\n  {"name": "f", "arguments": {"a": 1}}  \n</tool_call>', [ok("f", {"a": 1})]),
    # several per turn, prose around them
    ('I will look.\n<tool_call>{"name": "f", "arguments": {}}</tool_call>\n'
     '<tool_call>{"name": "g", "arguments": {"b": [1, 2]}}</tool_call>\nDone.',
     [ok("f"), ok("g", {"b": [1, 2]})]),
    # a code fence inside the tag
    ('<tool_call>\n```json\n{"name": "f", "arguments": {"a": "x"}}\n```\n</tool_call>',
     [ok("f", {"a": "x"})]),
    ('<tool_call>```\n{"name": "f", "arguments": {}}\n```</tool_call>', [ok("f")]),
    # missing final closing tag
    ('<tool_call>{"name": "f", "arguments": {"a": 1}}', [ok("f", {"a": 1})]),
    ('<tool_call>{"name": "f", "arguments": {}}\n<tool_call>{"name": "g", "arguments": {}}',
     [ok("f"), ok("g")]),
    ('<tool_call>{"name": "f", "arguments": {}}<tool_call>{"name": "g", "arguments": {}}'
     '</tool_call>', [ok("f"), ok("g")]),
    # arguments as a JSON string, "parameters" alias, missing / null arguments
    ('<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>', [ok("f", {"a": 1})]),
    ('<tool_call>{"name": "f", "arguments": ""}</tool_call>', [ok("f")]),
    ('<tool_call>{"name": "f", "parameters": {"a": 1}}</tool_call>', [ok("f", {"a": 1})]),
    ('<tool_call>{"name": "f", "parameters": "{\\"a\\": 2}"}</tool_call>', [ok("f", {"a": 2})]),
    ('<tool_call>{"name": "f"}</tool_call>', [ok("f")]),
    ('<tool_call>{"name": "f", "arguments": null}</tool_call>', [ok("f")]),
    # the OpenAI "function" wrapper, a list, objects back to back
    ('<tool_call>{"type": "function", "function": {"name": "f", "arguments": "{}"}}</tool_call>',
     [ok("f")]),
    ('<tool_call>[{"name": "f", "arguments": {}}, {"name": "g", "arguments": {}}]</tool_call>',
     [ok("f"), ok("g")]),
    ('<tool_call>{"name": "f", "arguments": {}}\n{"name": "g", "arguments": {}}</tool_call>',
     [ok("f"), ok("g")]),
    ("no tags at all", []),
])
def test_parses(text, expected):
    assert summary(parse_hermes(text)) == expected


@pytest.mark.parametrize("text, name, error", [
    ("<tool_call></tool_call>", None, "empty <tool_call> block"),
    ("<tool_call>  \n </tool_call>", None, "empty <tool_call> block"),
    ("<tool_call>```json\n```</tool_call>", None, "empty <tool_call> block"),
    ('<tool_call>{"name": "f", "arguments": {"a": 1}</tool_call>', "f",
     "invalid JSON in <tool_call>: Expecting ',' delimiter"),
    ('<tool_call>{"name": "f", "arguments": {}}}</tool_call>', "f",
     "invalid JSON in <tool_call>: Extra data"),
    ("<tool_call>{'name': 'f', 'arguments': {}}</tool_call>", None,
     "invalid JSON in <tool_call>: Expecting property name enclosed in double quotes"),
    ("<tool_call>get_weather(city='Paris')</tool_call>", None, "invalid JSON in <tool_call>"),
    ('<tool_call>{"name": "f", "arguments": {"x": NaN}}</tool_call>', "f",
     "invalid JSON in <tool_call>: NaN is not valid JSON"),
    ('<tool_call>{"arguments": {"a": 1}}</tool_call>', None, 'the call has no "name"'),
    ('<tool_call>{"name": 3, "arguments": {}}</tool_call>', None,
     '"name" must be a non-empty string, got number'),
    ('<tool_call>{"name": "  ", "arguments": {}}</tool_call>', None,
     '"name" must be a non-empty string, got string (empty)'),
    ('<tool_call>{"name": "f", "arguments": [1, 2]}</tool_call>', "f",
     '"arguments" must be a JSON object, got array'),
    ('<tool_call>{"name": "f", "arguments": 3}</tool_call>', "f",
     '"arguments" must be a JSON object, got number'),
    ('<tool_call>{"name": "f", "parameters": "x"}</tool_call>', "f",
     '"parameters" is not valid JSON: Expecting value'),
    ('<tool_call>{"name": "f", "arguments": "[1]"}</tool_call>', "f",
     '"arguments" must be a JSON object, got array'),
    ('<tool_call>"f"</tool_call>', None,
     'expected a JSON object with "name" and "arguments", got string'),
    ("<tool_call>[]</tool_call>", None, "empty list in <tool_call>"),
    ('<tool_call>{"function": "f"}</tool_call>', None,
     '"function" must be an object with "name" and "arguments", got string'),
    ('<tool_call>{"name": "f", "arguments": ' + "[" * 5000 + "]" * 5000 + "}</tool_call>", "f",
     "invalid JSON in <tool_call>: the JSON nests too deeply"),
    ('<tool_call>{"name": "f", "arguments": {"a": "' + "x" * 100_000 + '"}}</tool_call>', "f",
     "the call is too long"),
])
def test_errors(text, name, error):
    (call,) = parse_hermes(text)
    assert call.name == name
    assert call.arguments == {}
    assert call.error is not None and call.error.startswith(error), call.error
    assert len(call.raw) <= 200


def test_error_calls_keep_their_place_among_good_ones():
    calls = parse_hermes('<tool_call>{"name": "f", "arguments": {}}</tool_call>'
                         "<tool_call>{oops}</tool_call>"
                         '<tool_call>{"name": "g", "arguments": {}}</tool_call>')
    assert [(call.name, call.error is None) for call in calls] == [
        ("f", True), (None, False), ("g", True)]


def test_raw_keeps_the_block_text():
    (call,) = parse_hermes('<tool_call> {"name": "f", "arguments": {"a": 1}} </tool_call>')
    assert call == ParsedCall("f", {"a": 1}, raw='{"name": "f", "arguments": {"a": 1}}')


def test_blocks_and_removal():
    text = 'A<tool_call>{"name": "f"}</tool_call>B<tool_call>{"name": "g"}'
    blocks = find_hermes_blocks(text)
    assert [block.body for block in blocks] == ['{"name": "f"}', '{"name": "g"}']
    assert remove_hermes_blocks(text, blocks) == "AB"
    assert remove_hermes_blocks("stray </tool_call> tag") == "stray  tag"
    assert remove_hermes_blocks('```xml\n<tool_call>{"name": "f"}</tool_call>\n```') == ""


def test_many_unclosed_tags_stay_fast():
    calls = parse_hermes("<tool_call>" * 100_000)
    assert len(calls) == 100_000
    assert all(call.error == "empty <tool_call> block" for call in calls)


@pytest.mark.parametrize("argument", ["</tool_call>", "<tool_call>", "a</tool_call>b<tool_call>c"])
def test_tags_quoted_inside_arguments(argument):
    body = json.dumps({"name": "f", "arguments": {"code": argument}})
    text = f"<tool_call>{body}</tool_call>\n<tool_call>{body}"
    calls = parse_hermes(text)
    assert summary(calls) == [ok("f", {"code": argument})] * 2
    assert remove_hermes_blocks(text) == ""


def test_quoted_tags_stay_linear():
    # each block is broken JSON whose strings hold tags: only a few get the JSON-aware scan
    text = '<tool_call>["' + '<tool_call>", "' * 20_000
    calls = parse_hermes(text)
    assert len(calls) == 20_001
    assert all(call.error is not None for call in calls)
