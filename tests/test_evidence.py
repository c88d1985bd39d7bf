"""The solving rule (astra_gym.evidence): error-shaped results and echoed arguments."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.answers import bounded_occurrence, normalize_text, normalized_answer
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


def test_non_ascii_arguments_are_echoed_as_the_sandbox_renders_them():
    # The sandbox renders a dict result with ensure_ascii=False (astra_gym.sandbox.render):
    # "Zürich" reads "Zürich" there, never "Z\u00fcrich", so no escaped variant is added.
    assert argument_values({"q": "Zürich"}) == ["zürich"]
    assert argument_values({"q": 'Zürich "alt"'}) == ['zürich "alt"', 'zürich \\"alt\\"']
    assert not result_solves('{"q": "Zürich Hbf"}', "Zürich Hbf", {"q": "Zürich Hbf"})


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


def test_unsolved_reasons_read_as_written():
    # The compiler and synthesis quote these after "the call returned <result>, which".
    assert unsolved_reason('{"v": "Paris"}', "Rome") == "does not contain the answer 'Rome'"
    assert unsolved_reason('{"error": "Paris"}', "Paris") == (
        "reports an error (an error-shaped result never solves a sub-task)")
    assert unsolved_reason('{"c": "Paris"}', "Paris", {"c": "Paris"}) == (
        "contains the answer 'Paris' only where it repeats the call's own arguments")


def test_every_occurrence_counts_not_only_the_first_and_last():
    # "luz" three times: inside the echo, as data, inside the echo again.
    output = '{"q": "Hotel Luz", "booked": "Luz", "echo": "Hotel Luz"}'
    assert result_solves(output, "Luz", {"q": "Hotel Luz"})
    # An echo in a list argument covers too, whichever item it is.
    output = '{"a": "Hotel Sol", "b": "Hotel Luz", "c": "Hotel Mar"}'
    assert not result_solves(output, "Luz", {"names": ["Hotel Sol", "Hotel Luz", "Hotel Mar"],
                                             "all": "Hotel"})
    text = normalize_text("hotel x | hotel luz | hotel y")
    assert solves(text, "Luz", ["hotel"])  # an echo around the answer covers, not beside it
    assert not solves(text, "Luz", ["hotel luz"])
    assert solves(text, "Luz", ["hotel x", "hotel y"])


def test_occurrences_may_overlap():
    # The answer occurs at 2 and again one character later; only the first lies in the echo.
    assert solves("x aaaaa", "aaaa", ["x aaaa"])
    # An echoed value found twice, one character apart, covers both stretches: every
    # occurrence of "zzzz" in "zzzzzz" lies in one of the two "zzzzz".
    assert not solves("zzzzzz", "zzzz", ["zzzzz"])
    assert solves("zzzzzz", "zzzz", ["zzz"])  # a shorter echo covers no occurrence


def _reference_solves(text: str, answer: str, echoed: list[str]) -> bool:
    """The rule by brute force: every start position of the answer and of each echo."""
    needle = normalized_answer(answer)
    if not needle:
        return False

    def spans(value: str) -> list[tuple[int, int]]:
        return [(i, i + len(value)) for i in range(len(text)) if text.startswith(value, i)]

    covers = [span for value in echoed if value for span in spans(value)]
    return any(bounded_occurrence(text, start, end, needle)
               and not any(a <= start and end <= b for a, b in covers)
               for start, end in spans(needle))


small = st.text(alphabet="ab 1.", max_size=14)


@st.composite
def pieces(draw, text: str) -> str:
    """A slice of ``text`` (so it occurs), or any small text."""
    if text and draw(st.booleans()):
        start = draw(st.integers(0, len(text) - 1))
        return text[start:start + draw(st.integers(1, 6))]
    return draw(small)


@settings(max_examples=1000, deadline=None, database=None)
@given(raw=small, data=st.data())
def test_solves_is_the_brute_force_rule(raw, data):
    """Property: solves() agrees with a brute-force reading of the rule, on texts of a tiny
    alphabet where answers and echoes occur many times and overlap."""
    text = normalize_text(raw)
    answer = data.draw(pieces(text))
    echoed = data.draw(st.lists(pieces(text), max_size=3))
    assert solves(text, answer, echoed) == _reference_solves(text, answer, echoed)


# -- the pre-check of is_error_shaped keeps the rule's semantics -------------------------

def _error_shaped_by_parsing(output: str) -> bool:
    """The rule as it was before the substring pre-check (always parses)."""
    from astra_gym.evidence import _FAILURE_FLAGS, ERROR_KEYS, ERROR_STATUSES

    text = output.lstrip()
    if text[:6].casefold() == "error:":
        return True
    if not text.startswith("{"):
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if isinstance(key, str) and key.casefold() in ERROR_KEYS and item:
            return True
    status = value.get("status")
    if isinstance(status, str) and status.strip().casefold() in ERROR_STATUSES:
        return True
    return any(value.get(flag) is False for flag in _FAILURE_FLAGS)


# Keys near the error keys: case, the long s (casefolds to "s"), the Kelvin sign, a
# dotless i, and plain data keys.
_KEYS = st.sampled_from(["error", "Error", "ERRORS", "errors", "error_message", "ErrorMessage",
                         "erroſ", "errorſ", "error_meſſage", "status", "Status", "ſtatus",
                         "success", "ok", "OK", "ıok", "city", "temperature", "msg", "errno",
                         "\u212aelvin", "résumé"]) | st.text(max_size=8)
_VALUES = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from(
    ["", "error", " Failed ", "FAIL", "ok", "done", "ſ"]) | st.text(max_size=6)


@settings(max_examples=1500, derandomize=True)
@given(st.dictionaries(_KEYS, _VALUES, max_size=5), st.booleans(), st.sampled_from(["", " \n"]))
def test_the_error_pre_check_agrees_with_always_parsing(obj, ascii_only, lead):
    text = lead + json.dumps(obj, ensure_ascii=ascii_only)  # ascii: keys as \\u escapes
    assert is_error_shaped(text) == _error_shaped_by_parsing(text)


@pytest.mark.parametrize("text", [
    '{"\\u0065rror": "boom"}',           # a key spelled with an escape
    '{"ERROR": 1}', '{"errorſ": 1}',      # upper case; the long s folds to "s"
    '{"status": "Failed"}', '{"success": false}', '{"ok": false}',
    '{"errorMessage": "x", "city": "Paris"}',
])
def test_every_way_of_naming_an_error_key_still_parses(text):
    assert is_error_shaped(text) and _error_shaped_by_parsing(text)


def test_a_result_without_any_error_key_is_not_parsed(monkeypatch):
    import astra_gym.evidence as evidence

    def no_parsing(_text):
        raise AssertionError("parsed a result that cannot name an error")

    monkeypatch.setattr(evidence.json, "loads", no_parsing)
    assert not is_error_shaped('{"city": "Paris", "temperature": "18.5 °C"}')
    with pytest.raises(AssertionError, match="parsed"):
        is_error_shaped('{"city": "Paris", "Status": "x", "status": "ok"}')
