"""What ``call_from_object`` keeps on every path, and what ``decode_json`` says (issue 19, mutmut).

Every call it returns, error calls included, carries the caller's ``call_id`` and the
clipped raw text; a top-level ``name`` wins over a ``function`` field and ``arguments`` over
``parameters``; a decode that runs out of memory is a ``ValueError`` with its own message.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from astra_gym.parsers import json_calls, parse_json_calls
from astra_gym.parsers.json_calls import ParsedCall, call_from_object, decode_json


def test_a_value_that_is_not_an_object_keeps_the_call_id_and_the_raw_text():
    """The error call for a non-object still names the caller's id and its raw text."""
    assert call_from_object(3, raw="3", call_id="c9") == ParsedCall(
        None, {}, raw="3", call_id="c9",
        error='expected a JSON object with "name" and "arguments", got number')


@pytest.mark.parametrize(("call_id", "expected_id"), [("c9", "c9"), (None, "w1")])
def test_a_function_field_that_is_not_an_object_keeps_the_call_id_and_the_raw_text(
        call_id, expected_id):
    """The error call for ``"function": [1]`` keeps raw and the caller's id, else the wrapper's."""
    wrapper = {"id": "w1", "type": "function", "function": [1]}
    assert call_from_object(wrapper, raw="R", call_id=call_id) == ParsedCall(
        None, {}, raw="R", call_id=expected_id,
        error='"function" must be an object with "name" and "arguments", got array')


@pytest.mark.parametrize(("obj", "error"), [
    ({"arguments": {"a": 1}}, 'the call has no "name"'),
    ({"name": "  ", "arguments": {}}, '"name" must be a non-empty string, got string (empty)'),
])
def test_a_call_without_a_usable_name_keeps_the_call_id_and_the_raw_text(obj, error):
    """The error calls for a missing or blank name keep the caller's id and the raw text."""
    assert call_from_object(obj, raw="R", call_id="c9") == ParsedCall(
        None, {}, raw="R", call_id="c9", error=error)


def test_a_top_level_name_wins_over_a_function_field():
    """Only an object without ``name`` is unwrapped: else ``function`` and ``id`` are not read."""
    obj = {"name": "f", "arguments": {"a": 1}, "id": "w1",
           "function": {"name": "g", "arguments": {"b": 2}}}
    assert call_from_object(obj, raw="R") == ParsedCall("f", {"a": 1}, raw="R")


def test_arguments_wins_over_parameters_when_both_are_given():
    """``parameters`` is read only when ``arguments`` is absent, and errors name the key read."""
    both = {"name": "f", "arguments": {"a": 1}, "parameters": {"b": 2}}
    assert call_from_object(both, raw="R") == ParsedCall("f", {"a": 1}, raw="R")
    bad = {"name": "f", "arguments": "[1]", "parameters": {"b": 2}}
    assert call_from_object(bad, raw="R") == ParsedCall(
        "f", {}, raw="R", error='"arguments" must be a JSON object, got array')
    (call,) = parse_json_calls('{"name": "f", "arguments": {"a": 1}, "parameters": {"b": 2}}')
    assert (call.name, call.arguments, call.error) == ("f", {"a": 1}, None)


def test_a_decode_that_runs_out_of_memory_is_a_value_error_saying_so(monkeypatch):
    """``MemoryError`` while decoding becomes ``ValueError("the JSON is too large to decode")``."""
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(json_calls, "json", SimpleNamespace(loads=exhausted))
    with pytest.raises(ValueError) as error:
        decode_json('{"a": 1}')
    assert str(error.value) == "the JSON is too large to decode"
    assert error.value.__suppress_context__
