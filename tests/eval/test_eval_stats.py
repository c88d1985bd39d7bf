"""The statistics of summary.json: t intervals over tasks, pass@k / pass^k / avg@k, breakdowns."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astra_gym.eval.stats import (
    breakdown,
    k_values,
    mean_ci,
    pass_at_k,
    pass_hat_k,
    rollout_metrics,
    summarize_episodes,
    t_quantile,
)


@pytest.mark.parametrize(("p", "df", "expected"), [
    (0.975, 1, 12.7062), (0.975, 2, 4.3027), (0.975, 4, 2.7764), (0.975, 10, 2.2281),
    (0.975, 30, 2.0423), (0.95, 5, 2.0150), (0.995, 20, 2.8453), (0.975, 1e9, 1.9600),
])
def test_t_quantile_matches_the_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-4)


def test_t_quantile_refuses_nonsense():
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


def test_mean_ci_is_the_t_interval():
    values = [0.2, 0.4, 0.9, 0.5, 0.7]
    result = mean_ci(values)
    half = 2.7764451 * statistics.stdev(values) / math.sqrt(5)
    assert result["mean"] == pytest.approx(0.54)
    assert result["ci"] == pytest.approx([0.54 - half, 0.54 + half])
    assert result["n"] == 5
    assert mean_ci([0.3])["ci"] is None and mean_ci([])["mean"] is None


def test_rates_are_clipped_to_their_range():
    values = [1.0] * 9 + [0.0]
    assert mean_ci(values)["ci"][1] > 1.0
    assert mean_ci(values, bounds=(0.0, 1.0))["ci"][1] == 1.0


def _brute_pass(n: int, c: int, k: int, every: bool) -> float:
    outcomes = [True] * c + [False] * (n - c)
    draws = list(itertools.combinations(range(n), k))
    hits = sum((all if every else any)(outcomes[i] for i in draw) for draw in draws)
    return hits / len(draws)


@given(st.integers(1, 8).flatmap(lambda n: st.tuples(
    st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_and_pass_hat_k_are_the_exact_draw_probabilities(case):
    n, c, k = case
    assert pass_at_k(n, c, k) == pytest.approx(_brute_pass(n, c, k, every=False))
    assert pass_hat_k(n, c, k) == pytest.approx(_brute_pass(n, c, k, every=True))


def test_pass_at_k_refuses_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_k_values():
    assert k_values(1) == [1]
    assert k_values(4) == [1, 2, 4]
    assert k_values(6) == [1, 2, 4, 6]


def episode(task_id, success, *, reward=None, domain="d", hops=1, language="en", turns=2,
            calls=1):
    reward = float(success) if reward is None else reward
    return {"task_id": task_id, "success": success, "reward": reward, "domain": domain,
            "hops": hops, "language": language, "turns": turns, "truncated": False,
            "components": {"f1": reward, "recall": reward, "precision": reward, "calls": calls,
                           "invalid_calls": 0},
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                      "requests": turns},
            "timings": {"episode_s": 0.5}, "steps": [{"latency_s": 0.1}] * turns}


def test_rollout_metrics_average_over_tasks():
    # task a: 1 of 4 rollouts succeeds; task b: all 4; task c: only 2 rollouts finished.
    eps = ([episode("a", i == 0) for i in range(4)] + [episode("b", True) for _ in range(4)]
           + [episode("c", False), episode("c", True)])
    result = rollout_metrics(eps, 4)
    assert result["tasks_with_k"] == {"1": 3, "2": 3, "4": 2}
    assert result["pass_at_k"]["1"] == pytest.approx((0.25 + 1 + 0.5) / 3)
    assert result["pass_at_k"]["2"] == pytest.approx((pass_at_k(4, 1, 2) + 1 + 1) / 3)
    assert result["pass_at_k"]["4"] == pytest.approx(1.0)
    assert result["pass_hat_k"]["4"] == pytest.approx((0 + 1) / 2)
    assert result["avg_at_k"]["success"] == pytest.approx((0.25 + 1 + 0.5) / 3)


def test_interval_is_over_task_means_not_episodes():
    # Two tasks, 10 identical rollouts each: 2 samples, not 20.
    eps = [episode("a", True) for _ in range(10)] + [episode("b", False) for _ in range(10)]
    summary = summarize_episodes(eps, rollouts=10)
    success = summary["metrics"]["success"]
    assert success["n"] == 2 and success["mean"] == 0.5
    assert success["ci"] == [0.0, 1.0]  # t(0.975, 1) * 0.707 / 1.41 = 6.35: clipped


def test_breakdowns_group_by_domain_hops_and_language():
    eps = [episode("a", True, domain="x", hops=1, language="en"),
           episode("b", False, domain="x", hops=2, language="zh"),
           episode("c", True, domain="y", hops=10, language="en")]
    summary = summarize_episodes(eps, rollouts=1)
    assert list(summary["by_hops"]) == ["1", "2", "10"]  # numeric order
    assert summary["by_domain"]["x"]["success"]["mean"] == 0.5
    assert summary["by_domain"]["x"]["tasks"] == 2
    assert summary["by_language"]["zh"]["episodes"] == 1
    assert summary["by_domain"]["y"]["pass@1"] == 1.0
    assert summary["usage"]["total_tokens"] == 36 and summary["usage"]["requests"] == 6
    assert summary["latency_s"]["p50"] == pytest.approx(0.1)
    assert breakdown([], "domain", 1) == {}
