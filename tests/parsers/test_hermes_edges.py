"""Failing-direction edges of the Hermes and bare-JSON call parsers (issue 19, mutation testing).

Each test names the rule it pins: the shapes that must *not* be read as calls, the bounds
of what is scanned, and what an error call keeps for the message shown to the agent.
"""

from __future__ import annotations

import json

import pytest

from astra_gym.parsers.hermes import render_hermes
from astra_gym.parsers.json_calls import (
    ParsedCall,
    is_call_object,
    parse_json_calls,
    too_long,
)
from astra_gym.parsers.markup import RenderCall
from astra_gym.parsers.text import MAX_CALL_CHARS, RAW_CHARS


def test_render_hermes_writes_a_non_ascii_tool_name_as_is():
    text = render_hermes([RenderCall("météo_北京", {"a": 1}, '{"a": 1}')])
    assert '"name": "météo_北京"' in text
    assert "\\u" not in text


def test_a_too_long_call_keeps_a_clipped_raw_excerpt():
    text = '{"name": "f", "arguments": {"x": "' + "a" * (MAX_CALL_CHARS + 10) + '"}}'
    call = too_long(text, "f")
    assert call.name == "f" and call.arguments == {}
    assert call.raw and len(call.raw) <= RAW_CHARS and call.raw.startswith('{"name": "f"')
    assert call.error == (f"the call is too long ({len(text)} characters; "
                          f"the limit is {MAX_CALL_CHARS})")
    # the same through the bare-JSON parser
    (parsed,) = parse_json_calls(text)
    assert parsed.error == call.error and parsed.raw == call.raw


def test_a_call_object_may_carry_every_accepted_key_at_once():
    value = {"name": "f", "arguments": {}, "parameters": {}, "id": "c1", "type": "function"}
    assert is_call_object(value)
    assert not is_call_object({**value, "extra": 1})
    (call,) = parse_json_calls(json.dumps(value))
    assert call == ParsedCall("f", {}, raw=json.dumps(value))


def test_broken_json_with_a_name_but_no_arguments_key_is_not_a_call():
    # a final answer that is (broken) JSON about a person: no "arguments" or "parameters"
    assert parse_json_calls('{"name": "Ada Lovelace", "born": 1815') is None
    assert parse_json_calls('{"arguments": "none", "born": 1815') is None
    # with both keys it is plainly meant as a call: one error call
    (call,) = parse_json_calls('{"name": "f", "arguments": {"a": 1}')
    assert call.name == "f" and call.error.startswith("invalid JSON: ")


@pytest.mark.parametrize("pad, is_call", [(4968, False), (4967, True)])
def test_call_hints_are_looked_for_in_the_first_5000_characters_only(pad, is_call):
    # '{"arguments": 1, ' + padding, then '"name":' whose colon sits at index 4999 or 5000;
    # the text is broken JSON (no closing brace), so only the hint decides.
    head = '{"arguments": 1, "p": "' + "x" * pad + '", '
    text = head + '"name": "f"'
    colon = text.index('"name":') + len('"name"')
    assert colon == (5000 if not is_call else 4999)
    result = parse_json_calls(text)
    if is_call:
        assert result is not None and result[0].error.startswith("invalid JSON: ")
    else:
        assert result is None


def test_error_messages_name_the_json_kind_of_a_wrong_value():
    from astra_gym.parsers.json_calls import call_from_object

    assert call_from_object({"name": True}, raw="").error == (
        '"name" must be a non-empty string, got boolean')
    assert call_from_object({"name": "f", "arguments": {1, 2}}, raw="").error == (
        '"arguments" must be a JSON object, got set')


def test_a_name_is_recovered_from_broken_json_even_with_an_unknown_escape():
    (call,) = parse_json_calls('{"name": "we\\qird", "arguments": {')
    assert call.name == "we\\qird" and call.error.startswith("invalid JSON: ")
    (call,) = parse_json_calls('{"name": "   ", "arguments": {')
    assert call.name is None  # a blank name is no name


@pytest.mark.parametrize("pad, found", [(4963, True), (4964, False)])
def test_a_name_is_recovered_from_the_first_5000_characters_only(pad, found):
    # '{"arguments": 1, "p": "' (23) + pad + '", ' (3) + '"name": "f"' (11 characters):
    # the closing quote of "f" is character 5000 (pad 4963) or 5001 (pad 4964)
    text = '{"arguments": 1, "p": "' + "x" * pad + '", "name": "f"'
    assert len(text) == 5000 + (pad - 4963)
    (call,) = parse_json_calls(text)
    assert call.error.startswith("invalid JSON: ")
    assert call.name == ("f" if found else None)


def test_broken_json_calls_keep_a_clipped_raw_excerpt_and_no_arguments():
    text = '{"name": "f", "arguments": {"city": "Zürich", "x": "' + "y" * 400 + '"'
    (call,) = parse_json_calls(text)
    assert call.arguments == {} and call.name == "f"
    assert call.raw == text[:RAW_CHARS - 3] + "..."


def test_raw_excerpts_keep_non_ascii_and_fall_back_on_repr_or_the_type_name():
    from astra_gym.parsers.json_calls import safe_dump

    assert safe_dump({"city": "Zürich"}) == '{"city": "Zürich"}'
    assert safe_dump({"when": object}) == '{"when": "<class \'object\'>"}'
    circular: list = []
    circular.append(circular)
    assert safe_dump(circular) == "<list>"


def test_a_call_of_exactly_the_length_limit_is_decoded():
    head = '{"name": "f", "arguments": {"x": "'
    text = head + "a" * (MAX_CALL_CHARS - len(head) - 3) + '"}}'
    assert len(text) == MAX_CALL_CHARS
    (call,) = parse_json_calls(text)
    assert call.error is None and len(call.arguments["x"]) == MAX_CALL_CHARS - len(head) - 3


def test_text_that_does_not_open_with_a_brace_or_bracket_is_never_a_json_call():
    assert parse_json_calls('X {"name": "f", "arguments": {}}') is None
    assert parse_json_calls('XX{"name": "f", "arguments": {') is None


def test_hermes_error_calls_keep_the_block_text_as_their_raw_excerpt():
    from astra_gym.parsers import parse_hermes

    (empty,) = parse_hermes("<tool_call>  \n </tool_call>")
    assert empty.error == "empty <tool_call> block" and empty.raw == ""
    (fenced,) = parse_hermes("<tool_call>```json\n```</tool_call>")
    assert fenced.error == "empty <tool_call> block" and fenced.raw == "```json\n```"
    (broken,) = parse_hermes('<tool_call>{"name": "f", "arguments": {]}</tool_call>')
    assert broken.raw == '{"name": "f", "arguments": {]}' and broken.arguments == {}
    (empty_list,) = parse_hermes("<tool_call>[]</tool_call>")
    assert empty_list.error == "empty list in <tool_call>" and empty_list.raw == "[]"


def test_each_call_of_a_list_in_one_block_keeps_its_own_raw_excerpt():
    from astra_gym.parsers import parse_hermes

    first, second = parse_hermes('<tool_call>[{"name": "f", "arguments": {"a": 1}}, '
                                 '{"name": "g", "arguments": [1]}]</tool_call>')
    assert (first.name, first.arguments, first.error) == ("f", {"a": 1}, None)
    assert first.raw == '{"name": "f", "arguments": {"a": 1}}'
    assert second.error == '"arguments" must be a JSON object, got array'
    assert second.raw == '{"name": "g", "arguments": [1]}'


def test_a_hermes_block_of_exactly_the_length_limit_is_decoded():
    from astra_gym.parsers import parse_hermes

    head = '{"name": "f", "arguments": {"x": "'
    body = head + "a" * (MAX_CALL_CHARS - len(head) - 3) + '"}}'
    assert len(body) == MAX_CALL_CHARS
    (call,) = parse_hermes("<tool_call>" + body + "</tool_call>")
    assert call.error is None and call.name == "f"
    (call,) = parse_hermes("<tool_call>" + body + "x</tool_call>")
    assert call.error.startswith("the call is too long (100001 characters")


def test_arguments_text_of_exactly_the_length_limit_is_decoded():
    from astra_gym.parsers.json_calls import coerce_arguments

    text = '{"x": "' + "a" * (MAX_CALL_CHARS - 9) + '"}'
    assert len(text) == MAX_CALL_CHARS
    arguments, error = coerce_arguments(text)
    assert error is None and len(arguments["x"]) == MAX_CALL_CHARS - 9
    assert coerce_arguments(text + " x")[1] == (
        f'"arguments" is too long ({MAX_CALL_CHARS + 2} characters; the limit is '
        f"{MAX_CALL_CHARS})")


def test_argument_errors_quote_at_most_60_and_100_characters():
    from astra_gym.parsers.json_calls import coerce_arguments

    key = tuple(range(40))
    assert coerce_arguments({key: 1}) == (
        {}, '"arguments" has a non-string key ' + safe_dump_of(key)[:60])
    odd = type("Unserialisable" + "X" * 120, (), {})()
    arguments, error = coerce_arguments({"x": odd})
    message = f"Object of type {type(odd).__name__} is not JSON serializable"
    assert arguments == {} and error == '"arguments" is not JSON data: ' + message[:100]


def safe_dump_of(value):
    from astra_gym.parsers.json_calls import safe_dump

    return safe_dump(value)


QUOTING = '<tool_call>{"name": "say", "arguments": {"text": "a </tool_call> b"}}</tool_call>'


def said(text):
    from astra_gym.parsers import parse_hermes

    return [(c.name, c.arguments, c.error) for c in parse_hermes(text)]


def test_a_quoted_closing_tag_is_read_whole_after_many_valid_blocks():
    # valid blocks do not spend the budget of rescans that quoted tags may use
    valid = '<tool_call>{"name": "f", "arguments": {}}</tool_call>' * 12
    assert said(valid + QUOTING)[-1] == ("say", {"text": "a </tool_call> b"}, None)


def test_a_quoted_closing_tag_is_read_whole_far_into_a_long_turn():
    prose = "word " * 30_000  # 150,000 characters before the call
    assert said(prose + QUOTING) == [("say", {"text": "a </tool_call> b"}, None)]


def test_a_quoted_closing_tag_is_read_whole_with_space_before_the_real_one():
    text = QUOTING.replace("}}</tool_call>", "}}  \n </tool_call>")
    assert said(text) == [("say", {"text": "a </tool_call> b"}, None)]


def test_a_block_of_one_call_keeps_its_text_and_back_to_back_calls_their_own_json():
    from astra_gym.parsers import parse_hermes

    (one,) = parse_hermes('<tool_call> {"name":"f",   "arguments":{}} </tool_call>')
    assert one.raw == '{"name":"f",   "arguments":{}}'  # as written
    first, second = parse_hermes('<tool_call>{"name":"f","arguments":{}} '
                                 '{"name":"g","arguments":{"a":1}}</tool_call>')
    assert first.raw == '{"name": "f", "arguments": {}}'
    assert second.raw == '{"name": "g", "arguments": {"a": 1}}'


def test_blocks_that_are_not_json_do_not_spend_the_rescan_budget():
    prose = "<tool_call>get_weather(city='Oslo')</tool_call>" * 12
    assert said(prose + QUOTING)[-1] == ("say", {"text": "a </tool_call> b"}, None)


def test_an_unclosed_last_block_of_exactly_the_length_limit_is_decoded():
    head = '{"name": "f", "arguments": {"x": "'
    body = head + "a" * (MAX_CALL_CHARS - len(head) - 3) + '"}}'
    assert said("<tool_call>" + body) == [("f", {"x": "a" * (MAX_CALL_CHARS - len(head) - 3)},
                                           None)]


# -- the rescan budget of find_hermes_blocks ---------------------------------------------
# A block whose JSON quotes a closing tag is rescued by decoding past the tag, for the
# first _JSON_RETRIES (8) broken blocks of a turn only: that keeps a hostile turn of many
# broken blocks linear. These pin which blocks spend the budget.

_QUOTING = '<tool_call>{"name": "f", "arguments": {"x": "a</tool_call>b"}}</tool_call>'
_RESCUED = '{"name": "f", "arguments": {"x": "a</tool_call>b"}}'
_BROKEN = '<tool_call>{"name": </tool_call>'  # starts like JSON, cannot be decoded or extended


def _last_body(text: str) -> str:
    from astra_gym.parsers.hermes import find_hermes_blocks

    return find_hermes_blocks(text)[-1].body


def test_seven_broken_blocks_leave_the_budget_for_one_more_rescue():
    from astra_gym.parsers.hermes import _JSON_RETRIES

    assert _JSON_RETRIES == 8
    assert _last_body(_BROKEN * 7 + _QUOTING) == _RESCUED


@pytest.mark.parametrize("broken", [
    _BROKEN,
    '<tool_call>{"a": 1} junk</tool_call>',  # decodes, but ends before the tag: no rescue
])
def test_eight_broken_blocks_spend_the_budget_and_the_next_is_cut_at_its_quoted_tag(broken):
    assert _last_body(broken * 8 + _QUOTING) == '{"name": "f", "arguments": {"x": "a'
    assert _last_body(broken * 7 + _QUOTING) == _RESCUED


def test_blocks_that_are_not_json_or_are_valid_json_spend_nothing():
    not_json = "<tool_call>X</tool_call>"
    valid = '<tool_call>{"name": "g"}</tool_call>'
    assert _last_body(not_json * 20 + _QUOTING) == _RESCUED
    assert _last_body(valid * 20 + _QUOTING) == _RESCUED


def test_a_rescued_value_may_be_exactly_max_call_chars_and_no_longer():
    from astra_gym.parsers.hermes import MAX_CALL_CHARS

    def quoting_value(size: int) -> str:
        head = '{"name": "f", "arguments": {"x": "</tool_call>", "p": "'
        value = head + "a" * (size - len(head) - 3) + '"}}'
        assert len(value) == size
        return value

    at_limit = quoting_value(MAX_CALL_CHARS)
    assert _last_body(f"<tool_call>{at_limit}</tool_call>") == at_limit
    over = quoting_value(MAX_CALL_CHARS + 1)
    assert _last_body(f"<tool_call>{over}</tool_call>") != over
