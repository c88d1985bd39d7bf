"""Statistics of an evaluation: means with confidence intervals, pass@k, breakdowns.

Pure functions over episode records (the dicts of ``episodes.jsonl``); no
numpy or scipy needed.

Confidence intervals are Student-t intervals over **per-task means**: the
rollouts of one task are not independent samples (an easy task is easy for
every rollout), so the task, not the episode, is the unit of sampling. With
one rollout per task this is the ordinary t interval over episodes.

Example:
    >>> round(pass_at_k(n=4, c=1, k=2), 4)   # 1 - C(3,2)/C(4,2)
    0.5
    >>> mean_ci([1.0, 0.0, 1.0, 1.0])["mean"]
    0.75
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = ["BOUNDED", "CI_LEVEL", "METRICS", "breakdown", "k_values", "mean_ci", "metric_table",
           "pass_at_k", "pass_hat_k", "percentiles", "rollout_metrics", "summarize_episodes",
           "t_quantile"]

CI_LEVEL = 0.95
"""The confidence level of every interval in ``summary.json``."""

METRICS: dict[str, Callable[[Mapping[str, Any]], float]] = {
    "reward": lambda e: float(e["reward"]),
    "success": lambda e: float(bool(e["success"])),
    "f1": lambda e: float(e["components"]["f1"]),
    "recall": lambda e: float(e["components"]["recall"]),
    "precision": lambda e: float(e["components"]["precision"]),
    "turns": lambda e: float(e["turns"]),
    "calls": lambda e: float(e["components"]["calls"]),
    "invalid_calls": lambda e: float(e["components"]["invalid_calls"]),
    "truncated": lambda e: float(bool(e["truncated"])),
    "prompt_tokens": lambda e: float(e["usage"]["prompt_tokens"]),
    "completion_tokens": lambda e: float(e["usage"]["completion_tokens"]),
    "episode_seconds": lambda e: float(e["timings"]["episode_s"]),
}
"""What ``summary.json`` averages, and how each is read from an episode record."""

BOUNDED = frozenset({"success", "f1", "recall", "precision", "truncated"})
"""Rates, in [0, 1]: their intervals are clipped to it."""


# -- Student's t ----------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def _t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Args:
        p: A probability in (0, 1).
        df: Degrees of freedom (> 0).

    Returns:
        The quantile, to about 1e-10.

    Example:
        >>> round(t_quantile(0.975, 4), 3), round(t_quantile(0.975, 1e9), 3)
        (2.776, 1.96)
    """
    if not 0.0 < p < 1.0 or df <= 0:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df > 0, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


def mean_ci(values: Sequence[float], level: float = CI_LEVEL,
            bounds: tuple[float, float] | None = None) -> dict[str, Any]:
    """The mean of ``values`` with a Student-t confidence interval.

    Args:
        values: The samples (per-task means, in an evaluation).
        level: The confidence level.
        bounds: The range the quantity lies in (a rate in [0, 1]): the
            interval is clipped to it (a t interval around 0.97 can pass 1).

    Returns:
        ``{"mean", "ci": [low, high], "std", "n"}``; with fewer than two
        samples the interval is ``null`` (nothing to estimate a spread from).
    """
    n = len(values)
    if n == 0:
        return {"mean": None, "ci": None, "std": None, "n": 0}
    mean = statistics.fmean(values)
    if n < 2:
        return {"mean": mean, "ci": None, "std": None, "n": n}
    std = statistics.stdev(values)
    half = t_quantile(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds is not None:
        low, high = max(bounds[0], low), min(bounds[1], high)
    return {"mean": mean, "ci": [low, high], "std": std, "n": n}


def percentiles(values: Sequence[float], points: Iterable[int] = (50, 90, 99)
                ) -> dict[str, float | None]:
    """Nearest-rank percentiles (``{"p50": ...}``), ``None`` for no values."""
    ordered = sorted(values)
    out: dict[str, float | None] = {}
    for point in points:
        if not ordered:
            out[f"p{point}"] = None
            continue
        rank = max(1, math.ceil(point / 100 * len(ordered)))
        out[f"p{point}"] = ordered[rank - 1]
    return out


# -- pass@k ------------------------------------------------------------------------------

def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate of one task: P(at least one of k draws succeeds).

    Drawn without replacement from ``n`` rollouts of which ``c`` succeeded
    (Chen et al. 2021, "Evaluating Large Language Models Trained on Code").

    Args:
        n: Rollouts of the task.
        c: Successful rollouts.
        k: Draws (``k <= n``).

    Returns:
        ``1 - C(n-c, k) / C(n, k)``.
    """
    _check_counts(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """The unbiased pass^k estimate of one task: P(all of k draws succeed).

    The consistency measure of tau-bench (Yao et al. 2024): ``C(c, k) / C(n, k)``.

    Args:
        n: Rollouts of the task.
        c: Successful rollouts.
        k: Draws (``k <= n``).

    Returns:
        The estimate.
    """
    _check_counts(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def _check_counts(n: int, c: int, k: int) -> None:
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")


def k_values(rollouts: int) -> list[int]:
    """The k reported for ``rollouts`` per task: powers of two up to it, and itself.

    Example:
        >>> k_values(5)
        [1, 2, 4, 5]
    """
    ks = [1 << i for i in range(rollouts.bit_length()) if (1 << i) <= rollouts]
    if rollouts >= 1 and ks[-1] != rollouts:
        ks.append(rollouts)
    return ks


def rollout_metrics(episodes: Sequence[Mapping[str, Any]], rollouts: int) -> dict[str, Any]:
    """pass@k, pass^k and avg@k over the rollouts of each task.

    A task enters the estimate for ``k`` when it has at least ``k`` finished
    rollouts; ``tasks_with_k`` says how many did, per k.

    Args:
        episodes: Finished episode records.
        rollouts: Rollouts per task of the run (G).

    Returns:
        ``{"pass_at_k": {k: mean}, "pass_hat_k": {k: mean}, "tasks_with_k": {k: count},
        "avg_at_k": {"k": G, "success": ..., "reward": ...}}`` with string keys.
    """
    groups = _by_task(episodes)
    pass_at: dict[str, float | None] = {}
    pass_hat: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for k in k_values(max(1, rollouts)):
        estimates, hats = [], []
        for group in groups.values():
            n = len(group)
            if n < k:
                continue
            c = sum(bool(e["success"]) for e in group)
            estimates.append(pass_at_k(n, c, k))
            hats.append(pass_hat_k(n, c, k))
        counts[str(k)] = len(estimates)
        pass_at[str(k)] = statistics.fmean(estimates) if estimates else None
        pass_hat[str(k)] = statistics.fmean(hats) if hats else None
    avg_success = [statistics.fmean(float(bool(e["success"])) for e in g)
                   for g in groups.values()]
    avg_reward = [statistics.fmean(float(e["reward"]) for e in g) for g in groups.values()]
    return {"pass_at_k": pass_at, "pass_hat_k": pass_hat, "tasks_with_k": counts,
            "avg_at_k": {"k": rollouts,
                         "success": statistics.fmean(avg_success) if avg_success else None,
                         "reward": statistics.fmean(avg_reward) if avg_reward else None}}


def _by_task(episodes: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for episode in episodes:
        groups[episode["task_id"]].append(episode)
    return dict(groups)


def _task_means(episodes: Sequence[Mapping[str, Any]],
                read: Callable[[Mapping[str, Any]], float]) -> list[float]:
    return [statistics.fmean(read(e) for e in group) for group in _by_task(episodes).values()]


def metric_table(episodes: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every metric of :data:`METRICS`: its mean and CI over per-task means."""
    return {name: mean_ci(_task_means(episodes, read),
                          bounds=(0.0, 1.0) if name in BOUNDED else None)
            for name, read in METRICS.items()}


def breakdown(episodes: Sequence[Mapping[str, Any]], key: str, rollouts: int
              ) -> dict[str, dict[str, Any]]:
    """Per-group figures of the episodes grouped by ``key`` (domain, hops, language).

    Args:
        episodes: Finished episode records.
        key: The record field to group by.
        rollouts: Rollouts per task (for pass@G).

    Returns:
        Group value (as text, sorted) to ``episodes``, ``tasks``, the success
        rate and mean reward with CIs, mean F1, turns and calls, and pass@G.
    """
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for episode in episodes:
        groups[str(episode.get(key))].append(episode)
    out: dict[str, dict[str, Any]] = {}
    for value in sorted(groups, key=_natural):
        group = groups[value]
        metrics = rollout_metrics(group, rollouts)
        out[value] = {
            "episodes": len(group),
            "tasks": len({e["task_id"] for e in group}),
            "success": mean_ci(_task_means(group, METRICS["success"]), bounds=(0.0, 1.0)),
            "reward": mean_ci(_task_means(group, METRICS["reward"])),
            "f1": statistics.fmean(METRICS["f1"](e) for e in group),
            "turns": statistics.fmean(METRICS["turns"](e) for e in group),
            "calls": statistics.fmean(METRICS["calls"](e) for e in group),
            f"pass@{rollouts}": metrics["pass_at_k"].get(str(rollouts)),
        }
    return out


def _natural(text: str) -> tuple[int, float, str]:
    """Sort numbers (hop counts) numerically, before text."""
    try:
        return (0, float(text), text)
    except ValueError:
        return (1, 0.0, text)


def summarize_episodes(episodes: Sequence[Mapping[str, Any]], *, rollouts: int
                       ) -> dict[str, Any]:
    """The statistical part of ``summary.json`` for finished (``status: ok``) episodes.

    Args:
        episodes: Finished episode records.
        rollouts: Rollouts per task of the run.

    Returns:
        ``metrics`` (mean and CI of each of :data:`METRICS`), the rollout
        metrics (:func:`rollout_metrics`), ``by_domain``, ``by_hops``,
        ``by_language``, token ``usage`` totals and request ``latency``
        percentiles.
    """
    usage = {key: sum(int(e["usage"].get(key, 0)) for e in episodes)
             for key in ("prompt_tokens", "completion_tokens", "total_tokens", "requests")}
    latencies = [float(step["latency_s"]) for e in episodes for step in e.get("steps", ())
                 if step.get("latency_s") is not None]
    return {
        "tasks": len({e["task_id"] for e in episodes}),
        "metrics": metric_table(episodes),
        **rollout_metrics(episodes, rollouts),
        "by_domain": breakdown(episodes, "domain", rollouts),
        "by_hops": breakdown(episodes, "hops", rollouts),
        "by_language": breakdown(episodes, "language", rollouts),
        "usage": usage,
        "latency_s": {"mean": statistics.fmean(latencies) if latencies else None,
                      **percentiles(latencies)},
    }
