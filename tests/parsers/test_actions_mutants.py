"""What ``parse_action`` refuses, word for word, and what it never reads (issue 19, mutmut).

The messages of its ``ValueError``/``TypeError`` name the bad value and the choices, and
``tool_calls`` entries past ``max_calls`` are counted without being read, so a turn of many
calls costs no more than one of ``max_calls``.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from astra_gym.parsers import parse_action
from astra_gym.parsers.actions import ACTION_FORMATS


def message(**fields):
    return {"role": "assistant", **fields}


def tool_call(name="f", arguments='{"a": 1}'):
    return {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_an_unknown_action_format_is_refused_with_the_choices_listed():
    """The ValueError names the bad format and every choice, comma-separated."""
    with pytest.raises(ValueError) as error:
        parse_action("hi", "xml")
    assert str(error.value) == ("unknown action_format 'xml'; choose one of "
                                + ", ".join(ACTION_FORMATS))
    assert "auto, openai, hermes, json, python" in str(error.value)


@pytest.mark.parametrize(("action", "kind"), [(None, "NoneType"), (3, "int"),
                                              (b"bytes", "bytes"), (["a list"], "list")])
def test_an_action_of_another_type_is_refused_naming_its_type(action, kind):
    """The TypeError says what an action must be and names the type it got."""
    with pytest.raises(TypeError) as error:
        parse_action(action)
    assert str(error.value) == ("an action must be the assistant's text (str) or an OpenAI "
                                f"assistant message (a dict/Mapping), not {kind}")


@pytest.mark.parametrize("max_calls", [0, -1, 1.5, "3", 2.0])
def test_max_calls_must_be_a_positive_int(max_calls):
    """0, negatives and non-ints are refused (ValueError, not TypeError), naming the value."""
    with pytest.raises(ValueError) as error:
        parse_action("hi", max_calls=max_calls)
    assert str(error.value) == f"max_calls must be a positive int or None, got {max_calls!r}"
    with pytest.raises(ValueError):
        parse_action(message(tool_calls=[tool_call()]), max_calls=max_calls)


def test_max_calls_of_one_is_accepted():
    """The smallest valid limit: one call kept, the rest counted."""
    turn = parse_action(message(tool_calls=[tool_call("a"), tool_call("b")]), max_calls=1)
    assert [call.name for call in turn.calls] == ["a"] and turn.dropped == 1


class Unreadable(Mapping):
    """A tool-call entry that fails when read: it must never be read."""

    def __getitem__(self, key):
        raise AssertionError("an entry past max_calls was read")

    def __iter__(self):
        raise AssertionError("an entry past max_calls was read")

    def __len__(self):
        raise AssertionError("an entry past max_calls was read")


def test_tool_calls_past_max_calls_are_counted_not_read():
    """Entries beyond ``max_calls`` are sliced off before parsing: only their number counts.

    Were they parsed and capped afterwards, reading the unreadable entries would end in
    an "internal parser error" call instead of the two real calls.
    """
    entries = [tool_call("a"), tool_call("b"), *[Unreadable() for _ in range(5)]]
    turn = parse_action(message(content="x", tool_calls=entries), max_calls=2)
    assert turn.format == "openai" and turn.content == "x"
    assert [(call.name, call.arguments, call.error) for call in turn.calls] == [
        ("a", {"a": 1}, None), ("b", {"a": 1}, None)]
    assert turn.dropped == 5


def test_a_malformed_message_is_one_error_call_with_no_visible_text():
    """The refused message's text is not shown: content ``""``, one call, the message as raw."""
    action = {"role": "user", "content": "hi"}
    turn = parse_action(action)
    assert turn.content == "" and turn.format == "openai" and turn.dropped == 0
    (call,) = turn.calls
    assert call.name is None and call.arguments == {} and call.call_id is None
    assert call.raw == '{"role": "user", "content": "hi"}'
    assert call.error == ("an action message must have role 'assistant', not 'user' "
                          "(tool results come from the env)")
    turn = parse_action(message(content="visible?", tool_call={"name": "f"}))
    assert turn.content == "" and not turn.is_final


def test_a_function_call_beyond_max_calls_is_dropped_after_the_tool_calls():
    """``tool_calls`` are cut to ``max_calls`` first; a ``function_call`` on top is dropped too."""
    action = message(content="x", tool_calls=[tool_call("a"), tool_call("b"), tool_call("c")],
                     function_call={"name": "legacy", "arguments": "{}"})
    turn = parse_action(action, max_calls=2)
    assert [call.name for call in turn.calls] == ["a", "b"] and turn.dropped == 2
    turn = parse_action(message(tool_calls="oops", function_call={"name": "legacy"}),
                        max_calls=1)
    assert [call.error for call in turn.calls] == ['"tool_calls" must be a list, got string']
    assert turn.dropped == 1


class Exploding(Mapping):
    """A message whose every read fails with an unexpected error."""

    def __getitem__(self, key):
        raise RuntimeError("boom")

    def __iter__(self):
        raise RuntimeError("boom")

    def __len__(self):
        return 1


def test_an_unexpected_failure_is_one_error_call_with_empty_content():
    """A parser failure never raises: it is a ``"none"``-format turn of one error call, no text."""
    turn = parse_action(Exploding())
    assert turn.content == "" and turn.format == "none" and turn.dropped == 0
    (call,) = turn.calls
    assert call.name is None and call.arguments == {} and call.raw == ""
    assert call.error == "internal parser error: RuntimeError: boom"
    assert not turn.is_final
