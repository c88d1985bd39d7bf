"""The reward functions: pure, rule-verified, ASTRA's F1."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.evidence import result_solves
from astra_gym.pack import GoldCall, SubTask
from astra_gym.rewards import (
    REWARD_MODES,
    components,
    f1_score,
    precision,
    recall,
    solved_by_result,
    step_reward,
)

SUBS = [SubTask("1", "q", "1,234.50 USD", tool="quote", gold_call=GoldCall("quote", {})),
        SubTask("2", "q", "88.25 USD", tool="quote", gold_call=GoldCall("quote", {})),
        SubTask("3", "q", "ACME", tool="lookup", gold_call=None),
        SubTask("4", "q", "summary", needs_tool=False)]


@pytest.mark.parametrize("n, solved, calls, f1", [
    (4, 4, 4, 1.0), (4, 4, 6, 0.8), (4, 3, 4, 0.75), (4, 0, 0, 0.0), (4, 0, 5, 0.0),
    (2, 2, 1, 1.0),  # one call answered two sub-tasks: precision capped at 1
])
def test_paper_examples(n, solved, calls, f1):
    assert components(n, [str(i) for i in range(solved)], calls, 0).f1 == pytest.approx(f1)


def test_building_blocks():
    assert recall(0, 0) == 0.0 and precision(3, 0) == 0.0 and precision(3, 2) == 1.0
    assert recall(1, 1) == 1.0 and recall(0, 1) == 0.0 and recall(1, 4) == 0.25
    assert precision(1, 1) == 1.0 and precision(0, 1) == 0.0 and precision(1, 4) == 0.25
    assert f1_score(0.0, 0.0) == 0.0 and f1_score(1.0, 0.5) == pytest.approx(2 / 3)
    # Recall and precision that sum to 1 or less still have a harmonic mean.
    assert f1_score(0.5, 0.25) == pytest.approx(1 / 3)
    assert f1_score(0.5, 0.5) == pytest.approx(0.5)
    assert components(4, ["1"], 4, 0).f1 == pytest.approx(0.25)


def test_components_as_plain_data():
    data = components(4, ["2", "1"], 5, 1).as_dict()
    core = {"n": 4, "n_solved": 2, "solved": ["2", "1"], "calls": 5, "invalid_calls": 1,
            "recall": 0.5, "precision": 0.4, "f1": pytest.approx(4 / 9)}
    assert {key: data[key] for key in core} == core
    assert json.loads(json.dumps(data)) == data  # plain JSON for info and logs


def test_a_gold_call_subtask_needs_its_own_tool():
    assert solved_by_result(SUBS, "other_tool", '{"close": "1234.5 USD"}') == []
    assert solved_by_result(SUBS, "quote", '{"close": "1234.5 USD"}') == ["1"]


def test_answer_only_subtasks_take_any_tool_and_tool_free_ones_never_count():
    assert solved_by_result(SUBS, "anything", "ACME summary") == ["3"]


def test_each_answer_counts_once():
    assert solved_by_result(SUBS, "quote", "1,234.50 USD and 88.25 USD",
                            already_solved=["1"]) == ["2"]


def test_unknown_mode():
    c = components(1, [], 0, 0)
    with pytest.raises(ValueError) as error:
        step_reward("score", c, c, done=True, success=False)
    assert str(error.value) == ("unknown reward mode 'score'; choose one of "
                                "f1, f1_terminal, recall, precision, outcome")


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12),
       st.integers(1, 6), st.sampled_from(REWARD_MODES), st.booleans())
def test_dense_modes_telescope_and_everything_stays_in_range(steps, n, mode, success):
    before = components(n, [], 0, 0)
    solved: list[str] = []
    calls = 0
    total = 0.0
    for index, (new_solved, new_calls) in enumerate(steps):
        new_calls = max(new_calls, 1) if new_solved else new_calls
        for _ in range(new_solved):
            if len(solved) < n:
                solved.append(str(len(solved)))
        calls += new_calls
        after = components(n, solved, calls, 0)
        for value in (after.recall, after.precision, after.f1):
            assert 0.0 <= value <= 1.0
        done = index == len(steps) - 1
        reward = step_reward(mode, before, after, done=done, success=success)
        assert -1.0 <= reward <= 1.0
        total += reward
        before = after
    expected = {"f1": before.f1, "f1_terminal": before.f1, "recall": before.recall,
                "precision": before.precision, "outcome": float(success)}[mode]
    assert total == pytest.approx(expected)


def test_a_subtask_ruled_out_does_not_stop_the_later_ones():
    # Sub-task 1's answer is not in the result (its digits are not even there): sub-task 2
    # is still checked.
    assert solved_by_result(SUBS, "quote", '{"close": "88.25 USD"}') == ["2"]
    # Sub-task 1 passes the fast pre-check (usd, 234 and 5 all occur) but its answer is
    # not there; a non-ASCII result skips the pre-check. Either way sub-task 2 solves.
    assert solved_by_result(SUBS, "quote", "12345 USD, then 88.25 USD") == ["2"]
    assert solved_by_result(SUBS, "quote", "Preis — 88.25 USD") == ["2"]
    assert solved_by_result(SUBS, "quote", "1 234,50 USD — 88.25 USD") == ["2"]


# -- property: solved_by_result is the evidence rule applied sub-task by sub-task -------
# Its pre-check (a substring test at C speed), its early exits and its one normalisation
# per result are optimisations: the ids must be exactly those the rule gives.
TOKENS = ["1,234.50 USD", "1234.5 usd", "88.25 USD", "12345 USD", "12", "123", "3.5",
          "13.55", "ACME", "acme corp", "yes", "yesterday", "Paris", "Париж", "—", "1 234,50"]
token = st.sampled_from(TOKENS)


@st.composite
def subtask_lists(draw):
    count = draw(st.integers(1, 5))
    subs = []
    for index in range(count):
        tool = draw(st.sampled_from(["quote", "lookup"]))
        gold = draw(st.booleans())
        subs.append(SubTask(str(index), "q", draw(token), tool=tool,
                            gold_call=GoldCall(tool, {}) if gold else None,
                            needs_tool=draw(st.booleans() | st.just(True))))
    return subs


outputs = st.one_of(
    st.lists(token, max_size=5).map(" ".join),
    st.dictionaries(st.sampled_from(["close", "name", "note"]), token, max_size=3).map(json.dumps),
    st.dictionaries(st.sampled_from(["close", "name"]), token, max_size=2).map(
        lambda d: json.dumps({"error": "failed", **d})),
)


@settings(max_examples=400, deadline=None, database=None)
@given(subs=subtask_lists(), tool=st.sampled_from(["quote", "lookup", "other"]), output=outputs,
       arguments=st.none() | st.dictionaries(st.just("q"), token, max_size=1),
       data=st.data())
def test_solved_by_result_is_the_evidence_rule_per_subtask(subs, tool, output, arguments, data):
    already = data.draw(st.sets(st.sampled_from([s.id for s in subs])))
    expected = [s.id for s in subs
                if s.needs_tool and s.id not in already
                and (s.gold_call is None or s.tool == tool)
                and result_solves(output, s.answer, arguments)]
    assert solved_by_result(subs, tool, output, already, arguments) == expected
