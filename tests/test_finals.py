"""The hedge rule (astra_gym.finals): final answers that list candidates do not commit."""

from __future__ import annotations

import json

import pytest

from astra_gym.finals import HedgeRule, hedge_reason, result_leaves

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
