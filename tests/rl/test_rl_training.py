"""Adaptive batch filling (paper Fig. 5) and the GRPO group helpers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astra_gym.training import (
    AdaptiveBatchFiller,
    BatchFillError,
    Group,
    batch_advantages,
    filter_groups,
    group_advantages,
    group_stats,
    summarize_groups,
)

# A rollout round: per prompt, a group of rewards (each drawn from a few levels, so flat
# groups are common), possibly fewer groups than prompts.
rewards_lists = st.lists(st.sampled_from([0.0, 0.25, 1.0]), min_size=1, max_size=4)
rounds = st.lists(st.lists(rewards_lists, min_size=0, max_size=6), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(rounds=rounds, batch_size=st.integers(1, 5), steps=st.integers(1, 6),
       delta=st.sampled_from([0.0, 0.1, 0.4]))
def test_every_batch_is_full_valid_and_nothing_is_lost_or_duplicated(rounds, batch_size, steps,
                                                                    delta):
    ids = itertools.count()
    script = itertools.cycle(rounds)
    generated: list[Group] = []

    def sample() -> list[int]:
        return [next(ids) for _ in range(4)]

    def rollout(prompts: list[int]) -> list[Group]:
        groups = [Group(prompt, tuple(range(len(rewards))), rewards)
                  for prompt, rewards in zip(prompts, next(script), strict=False)]
        generated.extend(groups)
        return groups

    filler = AdaptiveBatchFiller(batch_size, sample, rollout, delta=delta, max_rounds=50)
    batches = []
    for _ in range(steps):
        buffered = list(filler.buffer)
        try:
            batch = filler.next_batch()
        except BatchFillError:
            break  # every group of the script is flat: the valid ones stay in the buffer
        assert len(batch) == batch_size                              # full
        assert all(np.std(group.rewards) > delta for group in batch)  # learning-active
        assert batch[:len(buffered)] == buffered[:batch_size]         # the buffer comes first
        stats = filler.last_stats
        assert stats.carried_in == len(buffered)
        assert stats.carried_over == len(filler.buffer)
        assert stats.groups_valid + stats.groups_filtered == stats.groups_generated
        batches.append(batch)
    valid = [g for g in generated if np.std(g.rewards) > delta]
    used = [g.prompt for batch in batches for g in batch] + [g.prompt for g in filler.buffer]
    assert sorted(used) == sorted(g.prompt for g in valid)             # nothing lost
    assert len(used) == len(set(used))                                  # nothing duplicated
    assert filler.totals["groups_generated"] == len(generated)


def test_surplus_is_carried_and_stats_are_counted():
    def sample():
        return ["a", "b", "c"]

    def rollout(prompts):
        return [Group(p, ("x", "y"), (0.0, 1.0)) for p in prompts]

    filler = AdaptiveBatchFiller(2, sample, rollout)
    first = filler.next_batch()
    assert [g.prompt for g in first] == ["a", "b"] and [g.prompt for g in filler.buffer] == ["c"]
    stats = filler.last_stats
    assert (stats.rounds, stats.prompts, stats.groups_generated, stats.rollouts) == (1, 3, 3, 6)
    assert stats.as_dict()["carried_over"] == 1
    second = filler.next_batch()
    assert [g.prompt for g in second] == ["c", "a"]
    assert filler.last_stats.carried_in == 1 and filler.totals["steps"] == 2


def test_flat_groups_are_filtered_and_counted():
    levels = itertools.cycle([(1.0, 1.0), (0.0, 1.0), (0.0, 0.0)])

    def rollout(prompts):
        return [Group(p, ("x", "y"), next(levels)) for p in prompts]

    filler = AdaptiveBatchFiller(2, lambda: ["p"], rollout)
    batch = filler.next_batch()
    assert all(g.rewards == (0.0, 1.0) for g in batch)
    assert filler.last_stats.rounds == 5 and filler.last_stats.groups_filtered == 3
    assert filler.last_stats.filtered_fraction == pytest.approx(0.6)


def test_all_flat_stops_after_max_rounds_and_keeps_the_valid_groups():
    calls = itertools.count()

    def rollout(prompts):
        return [Group("first", "xy", (0.0, 1.0))] if next(calls) == 0 else \
            [Group("flat", "xy", (1.0, 1.0))]

    filler = AdaptiveBatchFiller(3, lambda: ["p"], rollout, max_rounds=4)
    with pytest.raises(BatchFillError, match="4 rollout rounds gave 1 of 3"):
        filler.next_batch()
    assert [g.prompt for g in filler.buffer] == ["first"]
    with pytest.raises(ValueError):
        AdaptiveBatchFiller(0, list, list)


def test_plain_dict_groups_and_a_custom_reward_reader():
    filler = AdaptiveBatchFiller(1, lambda: [1], lambda p: [{"rewards": [0, 1]}])
    assert filler.next_batch() == [{"rewards": [0, 1]}]
    custom = AdaptiveBatchFiller(1, lambda: [1], lambda p: [([0.0, 2.0], "traj")],
                                 rewards=lambda group: group[0])
    assert custom.next_batch() == [([0.0, 2.0], "traj")]


def test_group_helpers():
    advantages = group_advantages([1.0, 0.0, 0.5, 0.5])
    assert advantages.mean() == pytest.approx(0.0)
    assert advantages.std() == pytest.approx(1.0, abs=1e-4)
    assert group_advantages([0.3, 0.3]).tolist() == [0.0, 0.0]
    assert group_advantages([2.0, 0.0], scale=False).tolist() == [1.0, -1.0]
    groups = [Group("a", "xy", (0.0, 1.0)), Group("b", "xy", (1.0, 1.0)),
              Group("c", "xyz", (0.0, 0.1, 0.0))]
    kept, dropped = filter_groups(groups)
    assert [g.prompt for g in kept] == ["a", "c"] and [g.prompt for g in dropped] == ["b"]
    kept, _ = filter_groups(groups, delta=0.1)
    assert [g.prompt for g in kept] == ["a"]
    assert [a.tolist() for a in batch_advantages(groups[:2])] == [
        pytest.approx([-1.0, 1.0], abs=1e-5), [0.0, 0.0]]
    stats = group_stats([0.0, 1.0, 1.0, 0.0])
    assert (stats.size, stats.mean, stats.std, stats.min, stats.max) == (4, 0.5, 0.5, 0.0, 1.0)
    summary = summarize_groups(groups)
    assert summary["groups"] == 3 and summary["rollouts"] == 7 and summary["zero_variance"] == 1
    with pytest.raises(ValueError, match="one reward per rollout"):
        Group("a", ("x",), (1.0, 2.0))
