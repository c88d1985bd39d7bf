"""The solving rule (astra_gym.evidence): error-shaped results and echoed arguments."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.answers import normalize_text
from astra_gym.evidence import (
    argument_values,
    is_error_shaped,
    result_solves,
    solves,
    unsolved_reason,
)


@pytest.mark.parametrize("output", [
    '{"error": "unknown city"}', '{"Error": "x"}', '{"errors": ["bad"]}',
    '{"error_message": "x", "data": 1}', '{"errorMessage": "x"}',
    '{"success": false, "data": "Paris"}', '{"ok": false}', '{"status": "error"}',
    '{"status": " Failed "}', '{"status": "failure"}', "Error: boom", "  error: boom",
])
def test_error_shaped_results(output):
    assert is_error_shaped(output)


@pytest.mark.parametrize("output", [
    '{"error": null, "city": "Paris"}', '{"error": "", "x": 1}', '{"errors": []}',
    '{"success": true}', '{"ok": 1}', '{"success": 0}', '{"status": "confirmed"}',
    '{"result": {"error": "nested errors are data"}}', '["error"]', '"Error: quoted"',
    "The error was fixed.", "{not json", '{"status": 3}', "",
])
def test_not_error_shaped_results(output):
    assert not is_error_shaped(output)


def test_argument_values_walks_every_string_and_number():
    values = argument_values({"a": "Paris", "b": [1, 2.50, {"c": "X"}], "d": True, "e": None,
                              "f": ""})
    assert sorted(values) == sorted(["paris", "1", "2.5", "x"])
    # A quote or backslash also appears as JSON writes it inside a dict result.
    assert argument_values({"q": 'say "hi"'}) == ['say "hi"', 'say \\"hi\\"']


def test_an_answer_inside_an_echoed_argument_does_not_solve():
    query = {"query": "weather in Paris"}
    assert not result_solves('{"query": "weather in Paris"}', "Paris", query)
    assert not result_solves('{"q": "say \\"Paris\\""}', "Paris", {"q": 'say "Paris"'})
    assert not result_solves('{"echo": 21}', "21", {"n": 21})


def test_an_answer_outside_the_echo_solves():
    assert result_solves('{"city": "Paris", "temp": 21}', "21", {"city": "Paris"})
    assert result_solves('{"query": "capital of France", "answer": "Paris"}', "Paris",
                         {"query": "capital of France"})
    # The answer inside an echo and again as data: the data counts.
    assert result_solves('{"hotel": "Luz", "booked": "Luz"}', "Luz", {"name": "Hotel Luz"})


def test_the_answer_boundaries_still_apply_outside_the_echo():
    # "12" occurs only inside "123" outside the echo: not a bounded occurrence.
    assert not result_solves('{"in": "12", "out": 123}', "12", {"x": "12"})


def test_no_arguments_means_no_echo():
    assert result_solves('{"v": "Paris"}', "Paris")
    assert result_solves('{"v": "Paris"}', "Paris", {})


def test_unsolved_reason_names_each_failure():
    assert "does not contain the answer 'Rome'" in unsolved_reason('{"v": "Paris"}', "Rome")
    assert "reports an error" in unsolved_reason('{"error": "Paris"}', "Paris")
    assert "repeats the call's own arguments" in unsolved_reason('{"c": "Paris"}', "Paris",
                                                                 {"c": "Paris"})
    assert unsolved_reason('{"v": "Paris"}', "Paris", {"c": "France"}) is None


words = st.text(alphabet="abcdefghij ", min_size=1, max_size=12).filter(lambda t: t.strip())


@settings(max_examples=200, deadline=None, database=None)
@given(answer=words, argument=words, extra=words)
def test_echoing_the_arguments_never_solves(answer, argument, extra):
    """Property: a result made only of the call's own arguments (in any JSON shape) never
    solves a sub-task, whatever the answer is."""
    arguments = {"a": argument, "b": [extra]}
    for result in (json.dumps(arguments), json.dumps([extra, argument]), argument,
                   json.dumps({"echo": arguments})):
        text = normalize_text(result)
        assert not solves(text, answer, argument_values(arguments)) or (
            # only when the answer occurs in a piece that is no argument (JSON punctuation
            # and keys are not argument text): e.g. the answer "a" as the key "a"
            normalize_text(answer) in normalize_text(result.replace(argument, "").replace(
                extra, "")))
