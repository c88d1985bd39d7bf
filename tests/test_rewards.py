"""The reward functions: pure, rule-verified, ASTRA's F1."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
    assert f1_score(0.0, 0.0) == 0.0 and f1_score(1.0, 0.5) == pytest.approx(2 / 3)


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
    with pytest.raises(ValueError, match="unknown reward mode"):
        step_reward("score", c, c, done=True, success=False)


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
