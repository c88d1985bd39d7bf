"""Failing-direction edges of ``parse_action`` on OpenAI message dicts (issue 19, mutation testing).

What a malformed call keeps for the agent's error message (its raw excerpt), which content
parts count as text, and how calls past ``max_calls`` are counted.
"""

from __future__ import annotations

import json

from astra_gym.parsers import parse_action
from astra_gym.parsers.json_calls import safe_dump
from astra_gym.parsers.text import clip


def message(**fields):
    return {"role": "assistant", **fields}


def tool_call(name="f", arguments='{"a": 1}', **extra):
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments},
            **extra}


def test_text_parts_without_a_type_and_output_text_parts_are_text_others_are_not():
    content = [{"text": "untyped"}, {"type": "output_text", "text": "output"},
               {"type": "image_url", "text": "not text", "image_url": {"url": "x"}},
               {"type": "text", "text": 3}, "plain"]
    turn = parse_action(message(content=content))
    assert turn.is_final
    assert turn.content == "untyped\noutput\nplain"


def test_a_well_formed_openai_call_carries_no_raw_excerpt():
    turn = parse_action(message(content=None, tool_calls=[tool_call()]))
    (call,) = turn.calls
    assert call.error is None and call.arguments == {"a": 1} and call.call_id == "c1"
    assert call.raw == ""


def test_a_failed_openai_call_keeps_its_function_object_as_the_raw_excerpt():
    function = {"name": "f", "arguments": "[1, 2]"}
    turn = parse_action(message(tool_calls=[{"id": "c9", "type": "function",
                                             "function": function}]))
    (call,) = turn.calls
    assert call.error == '"arguments" must be a JSON object, got array'
    assert call.name == "f" and call.call_id == "c9"
    assert call.raw == clip(safe_dump(function))


def test_a_tool_call_entry_that_is_not_an_object_keeps_itself_as_the_raw_excerpt():
    turn = parse_action(message(tool_calls=["get_weather(city='Oslo')", {"function": 7}]))
    first, second = turn.calls
    assert first.error == "tool call 0 is not an object (got string)"
    assert first.raw == clip(safe_dump("get_weather(city='Oslo')"))
    assert first.arguments == {}
    # a "function" that is not an object: the excerpt is that value, the message names its kind
    assert second.error == 'tool call 1 has no "function" object (got number)'
    assert second.raw == "7"


def test_an_entry_without_a_function_keeps_the_whole_entry_and_adds_no_kind():
    entry = {"id": "c3", "type": "function", "args": {"a": 1}}
    (call,) = parse_action(message(tool_calls=[entry])).calls
    assert call.error == 'tool call 0 has no "function" object'
    assert call.raw == clip(safe_dump(entry)) and json.loads(call.raw) == entry
    assert call.call_id == "c3" and call.arguments == {}


def test_exactly_max_calls_tool_calls_drop_nothing_and_more_are_counted():
    calls = [tool_call(name=f"f{i}") for i in range(3)]
    turn = parse_action(message(tool_calls=calls), max_calls=3)
    assert [c.name for c in turn.calls] == ["f0", "f1", "f2"] and turn.dropped == 0
    turn = parse_action(message(tool_calls=[*calls, tool_call(name="f3")]), max_calls=3)
    assert [c.name for c in turn.calls] == ["f0", "f1", "f2"] and turn.dropped == 1
    turn = parse_action(message(tool_calls=calls), max_calls=1)
    assert [c.name for c in turn.calls] == ["f0"] and turn.dropped == 2
    assert not turn.is_final


def test_a_legacy_function_call_alone_drops_nothing():
    turn = parse_action(message(function_call={"name": "f", "arguments": "{}"}))
    assert [c.name for c in turn.calls] == ["f"] and turn.format == "openai"
    assert turn.dropped == 0


def test_tool_calls_or_a_function_call_of_the_wrong_kind_keep_themselves_as_raw():
    (call,) = parse_action(message(tool_calls={"name": "f"})).calls
    assert call.error == '"tool_calls" must be a list, got object'
    assert call.raw == '{"name": "f"}' and call.arguments == {}
    (call,) = parse_action(message(function_call="f(1)")).calls
    assert call.error == '"function_call" must be an object, got string'
    assert call.raw == '"f(1)"' and call.arguments == {}


def only_error(action):
    turn = parse_action(action)
    (call,) = turn.calls
    assert turn.format == "openai" and not turn.is_final and call.arguments == {}
    assert call.raw == clip(safe_dump(action))
    return call.error


def test_a_malformed_message_says_exactly_what_is_wrong_and_how_to_write_it():
    assert only_error({"role": "user", "content": "hi"}) == (
        "an action message must have role 'assistant', not 'user' (tool results come from "
        "the env)")
    assert only_error(message(content=7)) == (
        '"content" must be a string, null or a list of text parts, not number')
    assert only_error({"role": "assistant"}) == (
        'the message has no content and no tool call; a final answer is {"role": '
        '"assistant", "content": "..."} and calls go in "tool_calls"')
    assert only_error(message(name="f", arguments="{}")) == (
        "the message has unknown key(s) 'arguments' and no tool call, so it was not taken as "
        'a final answer. It looks like a bare call: put it in "tool_calls": [{"type": '
        '"function", "function": {"name": ..., "arguments": "<JSON>"}}].')
    assert only_error(message(content="x", arguments="{}")) == (
        "the message has unknown key(s) 'arguments' and no tool call, so it was not taken as "
        'a final answer. Calls go in "tool_calls"; a final answer is {"role": "assistant", '
        '"content": "..."}.')


def test_unknown_keys_are_named_sorted_and_at_most_five():
    keys = {key: 1 for key in ("g", "b", "f", "a", "e", "d", "c")}
    error = only_error(message(content="x", **keys))
    assert error.startswith("the message has unknown key(s) 'a', 'b', 'c', 'd', 'e' and no "
                            "tool call")
