"""The hedge rule (astra_gym.finals): final answers that list candidates do not commit."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.finals import _NESTING, MAX_LEAVES, HedgeRule, hedge_reason, result_leaves

FLIGHTS = json.dumps({"flights": [
    {"number": "TP 1352", "depart": "07:15", "price_eur": 89},
    {"number": "TP 1354", "depart": "11:40", "price_eur": 112},
    {"number": "FR 8341", "depart": "14:05", "price_eur": 64},
    {"number": "U2 7712", "depart": "19:30", "price_eur": 71},
]})


def test_leaves_take_their_list_key_and_skip_booleans():
    leaves = list(result_leaves('{"a": [1, "x", true, null], "b": {"c": 2.5}}'))
    assert leaves == [("a", "1"), ("a", "x"), ("c", "2.5")]
    assert list(result_leaves("plain text")) == [("", "plain text")]
    assert len(list(result_leaves(json.dumps(list(range(100))), limit=7))) == 7


def test_a_committed_answer_with_context_is_no_hedge():
    assert hedge_reason("Take FR 8341 at 14:05 for 64 EUR.", "FR 8341", [FLIGHTS]) is None
    # One or two competitors named for comparison are fine.
    assert hedge_reason("FR 8341 (64 EUR) beats U2 7712 (71 EUR) and TP 1352.", "FR 8341",
                        [FLIGHTS]) is None


def test_listing_the_flight_numbers_is_a_hedge():
    reason = hedge_reason("TP 1352, TP 1354, FR 8341 or U2 7712", "FR 8341", [FLIGHTS])
    assert reason and "3 competing candidates" in reason


def test_a_computed_answer_is_hedged_against_values_of_its_kind():
    # 64 is a leaf here, so competitors are the other prices; a total (153) is no leaf,
    # so every number is a candidate.
    assert hedge_reason("Maybe 153, 89, 112 or 71", "153", [FLIGHTS])
    assert hedge_reason("In total 153 EUR (89 + 64).", "153", [FLIGHTS]) is None


def test_dumping_the_results_is_a_hedge_even_without_competitors():
    single = json.dumps({"id": "R-1", "name": "Casa Azul", "street": "Rua Augusta",
                         "city": "Lisbon", "phone": "+351 21 000", "stars": 4,
                         "opened": "1998-05-02", "rooms": 41, "chef": "Ana Reis",
                         "manager": "Rui Costa", "rating": 8.7, "code": "CAZ"})
    assert hedge_reason(single, "Casa Azul", [single])
    assert hedge_reason("Casa Azul, Rua Augusta, Lisbon.", "Casa Azul", [single]) is None


def test_answers_and_the_prompt_never_count_as_candidates():
    answer = "TP 1352, TP 1354 and FR 8341 all leave before 15:00; FR 8341 is cheapest."
    assert hedge_reason(answer, "FR 8341", [FLIGHTS],
                        subtask_answers=["TP 1352", "TP 1354"]) is None
    assert hedge_reason(answer, "FR 8341", [FLIGHTS],
                        prompt="Of TP 1352 and TP 1354, which is cheaper?") is None
    assert hedge_reason(answer, "FR 8341", [FLIGHTS]) is None  # 2 competitors
    assert hedge_reason(answer + " Or U2 7712.", "FR 8341", [FLIGHTS])


def test_the_thresholds_are_configurable_and_checked():
    answer = "FR 8341 or U2 7712"
    assert hedge_reason(answer, "FR 8341", [FLIGHTS]) is None
    assert hedge_reason(answer, "FR 8341", [FLIGHTS], rule=HedgeRule(max_candidates=1))
    with pytest.raises(ValueError, match="max_candidates"):
        HedgeRule(max_candidates=0)


def test_huge_results_are_read_up_to_a_bound():
    huge = json.dumps([{"n": f"name {i}"} for i in range(100_000)])
    # Only the first leaves are read; the call returns.
    assert hedge_reason("name 1, name 2, name 3, name 4", "name 0", [huge])


# -- the failing direction, edge by edge (each test below kills mutants that survived the
# suite before; docs/testing.md lists them) ------------------------------------------------

@pytest.mark.parametrize("value", [0, -1, True, 2.5, "3", None])
@pytest.mark.parametrize("name", ["max_candidates", "max_values", "min_chars"])
def test_every_threshold_must_be_a_positive_integer(name, value):
    # bool is an int subclass, and a float or text threshold would compare by accident:
    # all are refused with the same ValueError, never a TypeError from a comparison.
    with pytest.raises(ValueError, match=f"HedgeRule.{name} must be a positive integer"):
        HedgeRule(**{name: value})
    assert getattr(HedgeRule(**{name: 1}), name) == 1


def test_a_top_level_value_or_list_has_the_empty_key():
    assert list(result_leaves("42")) == [("", "42")]
    assert list(result_leaves('"Casa Azul"')) == [("", "Casa Azul")]
    assert list(result_leaves('[1, ["x", 2.5]]')) == [("", "1"), ("", "x"), ("", "2.5")]
    assert list(result_leaves("[true, null, {}, []]")) == []


def _in_lists(depth: int) -> str:
    return "[" * depth + '"deep"' + "]" * depth


def _in_dicts(depth: int) -> str:
    value: object = "deep"
    for _ in range(depth):
        value = {"k": value}
    return json.dumps(value)


@pytest.mark.parametrize("nest", [_in_lists, _in_dicts])
def test_leaves_are_read_down_to_the_nesting_bound_and_no_deeper(nest):
    key = "k" if nest is _in_dicts else ""
    assert list(result_leaves(nest(_NESTING))) == [(key, "deep")]
    assert list(result_leaves(nest(_NESTING + 1))) == []
    # Mixed nesting counts every level alike.
    mixed = json.dumps({"a": json.loads(_in_lists(_NESTING - 1))})
    assert list(result_leaves(mixed)) == [("a", "deep")]
    assert list(result_leaves(json.dumps({"a": json.loads(_in_lists(_NESTING))}))) == []


def test_a_number_answer_in_lakh_grouping_is_a_number():
    # "12,34,567" keeps its commas through normalisation (they are not thousands
    # separators), yet it is a number: the other numbers of the results compete with it.
    results = [json.dumps({"totals": [100000, 250000, 375000]})]
    answer = "12,34,567 or 100000 or 250000 or 375000"
    reason = hedge_reason(answer, "12,34,567", results)
    assert reason and "3 competing candidates" in reason
    # ... and a text answer is not hedged by numbers.
    assert hedge_reason("Casa Azul, not 100000, 250000 or 375000", "Casa Azul", results) is None


def test_the_prompt_excuses_values_it_names():
    answer = "TP 1352, TP 1354, U2 7712 and FR 8341 leave before 20:00; FR 8341 is cheapest."
    assert hedge_reason(answer, "FR 8341", [FLIGHTS])  # three competitors
    prompt = "Which is cheapest: TP 1352, TP 1354, U2 7712 or FR 8341?"
    assert hedge_reason(answer, "FR 8341", [FLIGHTS], prompt=prompt) is None
    # A prompt that names only one of them leaves two: still no hedge; none: a hedge.
    assert hedge_reason(answer, "FR 8341", [FLIGHTS], prompt="Is TP 1352 cheap?") is None
    assert hedge_reason(answer, "FR 8341", [FLIGHTS], prompt="Which flight?")


def test_without_a_prompt_no_value_is_excused():
    # Values made of x's (clothing sizes) are substrings of no prompt, including the
    # default one: leaving the prompt out is the same as an empty prompt.
    results = [json.dumps({"size": ["XS", "XX", "XXX", "XXXX", "M"]})]
    answer = "Size M, or XX, XXX or XXXX"
    reason = hedge_reason(answer, "M", results, rule=HedgeRule(min_chars=1))
    assert reason and "'xx', 'xxx', 'xxxx'" in reason
    assert reason == hedge_reason(answer, "M", results, prompt="", rule=HedgeRule(min_chars=1))


def test_an_empty_leaf_does_not_stop_the_reading():
    results = [json.dumps({"hotel": ["", "  ", "Hotel Luz", "Casa Azul", "Bela Vista",
                                     "Sol Mar"]})]
    reason = hedge_reason("Hotel Luz, Casa Azul, Bela Vista or Sol Mar", "Hotel Luz", results)
    assert reason and "3 competing candidates" in reason


# The leaf budget: MAX_LEAVES leaves are read from all results of an episode together.
# Filler numbers are no candidates for a text answer and are never named.
ANSWER = "Hotel Luz or Casa Azul"
ONE = HedgeRule(max_candidates=1)  # one named competitor is a hedge: shows what was read


def _filler(count: int) -> str:
    return json.dumps(list(range(100, 100 + count)))


def test_the_last_leaf_within_the_budget_is_read_even_in_a_later_result():
    results = [_filler(MAX_LEAVES - 1), '"Casa Azul"']
    assert hedge_reason(ANSWER, "Hotel Luz", results, rule=ONE)


def test_no_leaf_beyond_the_budget_is_read_in_a_later_result():
    assert hedge_reason(ANSWER, "Hotel Luz", [_filler(MAX_LEAVES), '"Casa Azul"'],
                        rule=ONE) is None
    assert hedge_reason(ANSWER, "Hotel Luz", [_filler(MAX_LEAVES), "Casa Azul"],
                        rule=ONE) is None  # a text result is a leaf too
    # The budget holds inside a later result as well: its first leaf is the last one read.
    results = [_filler(MAX_LEAVES - 1), '["Sol Mar", "Casa Azul"]']
    assert hedge_reason(ANSWER, "Hotel Luz", results, rule=ONE) is None
    assert hedge_reason("Hotel Luz or Sol Mar", "Hotel Luz", results, rule=ONE)


def test_a_spent_budget_still_judges_what_was_read():
    first = json.dumps(["Casa Azul", *range(100, 100 + MAX_LEAVES)])
    assert hedge_reason(ANSWER, "Hotel Luz", [first, '"Sol Mar"'], rule=ONE)


# The reason names the candidates, in the order the results give them, at most five.
HOTELS = ["Hotel Luz", "Casa Azul", "Bela Vista", "Sol Mar", "Vila Nova", "Quinta Real",
          "Mar Alto"]


def _hedge_over(count: int) -> str | None:
    names = HOTELS[:count + 1]
    results = [json.dumps([{"hotel": name} for name in names])]
    return hedge_reason(", ".join(names), "Hotel Luz", results)


def test_the_reason_lists_the_candidates():
    assert _hedge_over(3) == ("names 3 competing candidates besides the answer "
                              "('casa azul', 'bela vista', 'sol mar')")
    assert _hedge_over(5) == ("names 5 competing candidates besides the answer "
                              "('casa azul', 'bela vista', 'sol mar', 'vila nova', "
                              "'quinta real')")
    assert _hedge_over(6) == ("names 6 competing candidates besides the answer "
                              "('casa azul', 'bela vista', 'sol mar', 'vila nova', "
                              "'quinta real', ...)")


def test_the_dump_reason_counts_the_values():
    single = json.dumps({f"field{i}": f"value {chr(97 + i)}" for i in range(12)})
    answer = ", ".join(f"value {chr(97 + i)}" for i in range(12))
    assert hedge_reason(answer, "value a", [single]) == (
        "names 11 distinct values from the tool results besides the answers "
        "(a dump of what the tools returned)")


# -- property: result_leaves is a depth-first walk of the JSON value --------------------
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=4),
                           max_leaves=25)


def _walk(value, key=""):
    """The reference: every string and non-bool number, lists passing their key down."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)
    elif isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool)):
        yield key, str(value)


@settings(max_examples=300, deadline=None, database=None)
@given(value=json_values, limit=st.integers(1, 30))
def test_result_leaves_walks_the_json_depth_first(value, limit):
    output = json.dumps(value)
    expected = list(_walk(json.loads(output)))
    assert list(result_leaves(output)) == expected
    assert list(result_leaves(output, limit)) == expected[:limit]
