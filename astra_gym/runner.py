"""Running agents over envs: episodes, summaries, the table ``astra-gym run`` prints."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import gymnasium as gym

from .agents.base import Agent

__all__ = ["EpisodeResult", "format_summary", "run_episode", "run_episodes", "summarize"]


@dataclass(frozen=True)
class EpisodeResult:
    """One finished episode.

    Attributes:
        task_id: The task played.
        seed: The reset seed (None when the stream continued).
        reward: The episode return (sum of step rewards).
        success: All sub-tasks solved and the final answer right.
        terminated: The agent gave a final answer (else it was truncated).
        turns: Steps taken.
        calls: Tool-call attempts.
        components: The final ``reward_components``.
        rewards: The reward of every step.
    """

    task_id: str
    seed: int | None
    reward: float
    success: bool
    terminated: bool
    turns: int
    calls: int
    components: dict[str, Any]
    rewards: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_episode(env: gym.Env, agent: Agent, *, seed: int | None = None,
                task_id: str | None = None) -> EpisodeResult:
    """Play one episode of ``agent`` in ``env``.

    Args:
        env: An astra env (from ``gym.make`` or direct).
        agent: Anything with ``reset(observation, info)`` and ``act(observation, info)``.
        seed: Reset seed.
        task_id: Play this task instead of drawing one.

    Returns:
        The episode's result.
    """
    options = {"task_id": task_id} if task_id is not None else None
    observation, info = env.reset(seed=seed, options=options)
    agent.reset(observation, info)
    episode_task = info["task_id"]
    rewards: list[float] = []
    while True:
        action = agent.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        rewards.append(float(reward))
        if terminated or truncated:
            components = info["reward_components"]
            return EpisodeResult(episode_task, seed, sum(rewards), bool(info["success"]),
                                 bool(terminated), len(rewards), int(components["calls"]),
                                 components, tuple(rewards))


def run_episodes(env: gym.Env, agent: Agent, episodes: int | str = 1, *, seed: int = 0,
                 on_episode: Callable[[EpisodeResult], None] | None = None
                 ) -> list[EpisodeResult]:
    """Play several episodes.

    Args:
        env: An astra env.
        agent: The agent.
        episodes: A number of episodes (tasks drawn with the env's generator,
            seeded once with ``seed``), or ``"all"``: every task of the env
            once, in pack order, reset with ``seed + index``.
        seed: The base seed.
        on_episode: Called after each episode (progress bars, JSON lines).

    Returns:
        The results in play order.
    """
    plan: Iterable[tuple[int | None, str | None]]
    if episodes == "all":
        task_ids = env.unwrapped.task_ids  # type: ignore[attr-defined]
        plan = [(seed + index, task_id) for index, task_id in enumerate(task_ids)]
    else:
        count = int(episodes)
        if count < 1:
            raise ValueError(f"episodes must be >= 1 or 'all', got {episodes!r}")
        plan = [(seed if index == 0 else None, None) for index in range(count)]
    results = []
    for episode_seed, task_id in plan:
        result = run_episode(env, agent, seed=episode_seed, task_id=task_id)
        results.append(result)
        if on_episode is not None:
            on_episode(result)
    return results


def summarize(results: list[EpisodeResult]) -> dict[str, Any]:
    """Means over episodes: reward, success rate, calls, turns, recall, precision, F1."""
    if not results:
        return {"episodes": 0}

    def mean(values: Iterable[float]) -> float:
        return statistics.fmean(values)

    return {
        "episodes": len(results),
        "mean_reward": mean(r.reward for r in results),
        "success_rate": mean(float(r.success) for r in results),
        "mean_f1": mean(r.components["f1"] for r in results),
        "mean_recall": mean(r.components["recall"] for r in results),
        "mean_precision": mean(r.components["precision"] for r in results),
        "mean_calls": mean(r.calls for r in results),
        "mean_turns": mean(r.turns for r in results),
        "truncated": sum(not r.terminated for r in results),
    }


def format_summary(rows: dict[str, dict[str, Any]]) -> str:
    """A fixed-width table, one row per agent (name → summary)."""
    header = (f"{'agent':<10} {'episodes':>8} {'reward':>7} {'success':>8} {'F1':>6} "
              f"{'recall':>7} {'precision':>9} {'calls':>6} {'turns':>6}")
    lines = [header, "-" * len(header)]
    for name, s in rows.items():
        if not s.get("episodes"):
            lines.append(f"{name:<10} {0:>8}")
            continue
        lines.append(f"{name:<10} {s['episodes']:>8} {s['mean_reward']:>7.3f} "
                     f"{s['success_rate']:>7.1%} {s['mean_f1']:>6.3f} {s['mean_recall']:>7.3f} "
                     f"{s['mean_precision']:>9.3f} {s['mean_calls']:>6.2f} {s['mean_turns']:>6.2f}")
    return "\n".join(lines)
