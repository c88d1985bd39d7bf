"""The answer-matching rule shared by the compiler and the rewards."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.answers import (
    answer_needles,
    contains_answer,
    could_contain,
    find_answer,
    normalize_text,
)

FOUND = [
    ('{"total": "1,234.50 USD"}', "1234.5 usd"),
    ('{"total": 1234.5}', "1,234.50"),
    ("price 3.0 today", "3"),
    ("Reservation ID: RES987654", "reservation id: res987654"),
    ("Ｆｕｌｌ-width １２３４", "full-width 1234"),
    ("STRASSE", "straße"),
    ("a  b\n\t c", "a b c"),
    ('{"ok": "yes"}', "Yes"),
    ('{"city": "北京"}', "北京"),
    ("2026-01-15", "2026-01-15"),
    ("value: -12.50", "-12.5"),
    ("72.5°F", "72.50°F"),
    # Separated numbers of a million and more: every group is joined, not only the first.
    ("total 2,136,230 units", "2136230"),
    ("2136230", "2,136,230"),
    ("12,345,678.90 EUR", "12345678.9 eur"),
    ("1,000,000", "1000000"),
    # A full stop after a number, or a dot before one that follows no digit, continues
    # nothing: only a digit on the far side of the dot makes it a decimal point.
    ("Total: 12. Thanks.", "12"),
    ("ref.2048", "2048"),
    ("see p.12", "12"),
    # A short answer at the very start or end of the text (nothing beyond to touch).
    ("yes, I can", "yes"),
    ("I can: yes", "yes"),
    ("7 days", "7"),
]
NOT_FOUND = [
    ('{"count": 123}', "12"),
    ('{"count": 123}', "23"),
    ("13.55", "3.5"),
    ("3.55", "3.5"),
    ("yesterday", "yes"),
    ("north", "no"),
    ("北京市", "北京"),
    ("anything", ""),
    ("anything", "   "),
    # A decimal point *before* the match continues the number: "3.25" is not "25".
    ("x 3.25 y", "25"),
    ("3.25", "25"),
    ("0.125", "125"),
    # ... and a partially joined big number must not match its tail.
    ("2,136,230", "136230"),
    # The underscore joins words like a letter does: a short answer inside an identifier.
    ("user_id: 7", "id"),
    ("no_show", "no"),
    # ... one character in still touches.
    ("B2", "2"),
    ("ano", "no"),
]


@pytest.mark.parametrize("text, answer", FOUND)
def test_found(text, answer):
    assert contains_answer(text, answer)


@pytest.mark.parametrize("text, answer", NOT_FOUND)
def test_not_found(text, answer):
    assert not contains_answer(text, answer)


def test_long_answers_need_no_token_boundary():
    # Four characters and more: ASTRA's substring semantics (ids inside words).
    assert contains_answer("ticketRES9876", "res9876")


def test_a_later_occurrence_can_satisfy_the_boundary():
    assert contains_answer("123 and 12", "12")
    # ... any later one, not only the last: here the middle one of three.
    assert contains_answer("123, 12 and 125", "12")
    assert not contains_answer("123, 312 and 125", "12")


def test_number_formats_normalise_to_one_form():
    # Whole numbers lose the point with their zeros ("3.0" is "3", not "3."), so a unit
    # after them still matches.
    assert normalize_text("3.0 kg, 72.50, 1.000, 10.0, 0.50") == "3 kg, 72.5, 1, 10, 0.5"
    assert contains_answer("total 3.0 kg", "3 kg")
    assert normalize_text("1,234,567.80 and 12,345") == "1234567.8 and 12345"


def test_find_answer_takes_pre_normalised_text():
    text = normalize_text('{"total": "1,234.50 USD"}')
    assert find_answer(text, "1234.5 USD") and not find_answer(text, "1234")


texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


@given(texts)
def test_normalisation_is_idempotent(text):
    once = normalize_text(text)
    assert normalize_text(once) == once


@given(st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20))
def test_an_answer_is_found_standing_on_its_own(answer):
    assert contains_answer(f'{{"result": "{answer}"}}', answer)


# -- the fast pre-check ----------------------------------------------------------------
# Texts built from what normalisation touches: digits, separators, zeros, case, spaces.
NUMBERISH = st.text(alphabet="0123456789,.  \taAbBzZ-:", min_size=0, max_size=40)


def reference(text: str, answer: str) -> bool:
    """The exact rule, without the pre-check."""
    return find_answer(normalize_text(text), answer)


@settings(max_examples=3000, deadline=None)
@given(NUMBERISH, st.data())
def test_the_precheck_never_rejects_a_text_the_rule_accepts(text, data):
    # Answers: slices of the text's own normalised form (so the rule often accepts),
    # or free strings of the same alphabet.
    normalized = normalize_text(text)
    start = data.draw(st.integers(0, len(normalized)))
    answer = data.draw(st.just(normalized[start:start + data.draw(st.integers(1, 12))])
                       | NUMBERISH)
    if reference(text, answer):
        assert could_contain(text.lower(), answer), (text, answer, answer_needles(answer))
    assert contains_answer(text, answer) == reference(text, answer)


def test_the_precheck_reaches_both_outcomes():
    assert could_contain("total: 1,234.50 usd", "1234.5 USD")
    assert not could_contain("total: 1,234.50 usd", "1234.5 EUR")
    assert not could_contain("plain ascii", "北京")  # no ASCII text holds a CJK answer
    assert could_contain(None, "北京")  # non-ASCII text: nothing is ruled out
    assert not could_contain("anything", "   ")
