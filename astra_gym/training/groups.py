"""GRPO group helpers: groups of rollouts, group-normalised advantages, variance filtering.

A *group* is the G rollouts of one prompt (one task) with their rewards.
GRPO's advantage of rollout ``i`` is its reward standardised within the group,
``A_i = (R_i − mean(R)) / (std(R) + ε)``; a group whose rewards are all equal
gives every rollout zero advantage and so no gradient, which is why ASTRA keeps
only groups with ``std(R) > δ`` (paper §3.1; :mod:`astra_gym.training.filler`).
``std`` here is the population standard deviation (``ddof=0``) throughout.

Example:
    >>> group = Group("demo-weather-001", ("a", "b", "c", "d"), (1.0, 0.5, 0.5, 0.0))
    >>> group_advantages(group.rewards).round(3).tolist()
    [1.414, 0.0, 0.0, -1.414]
    >>> kept, dropped = filter_groups([group, Group("t2", ("e", "f"), (1.0, 1.0))])
    >>> [g.prompt for g in kept], [g.prompt for g in dropped]
    (['demo-weather-001'], ['t2'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Group", "GroupStats", "batch_advantages", "filter_groups", "group_advantages",
           "group_stats", "rewards_of", "summarize_groups"]


@dataclass(frozen=True)
class Group:
    """The rollouts of one prompt and their rewards.

    Attributes:
        prompt: What was rolled out (a task id, a prompt; anything).
        rollouts: The G trajectories (anything a trainer needs: token ids,
            messages, log-probs).
        rewards: One scalar per rollout.
        info: Free-form per-group data (e.g. per-rollout reward components).
    """

    prompt: Any
    rollouts: tuple[Any, ...]
    rewards: tuple[float, ...]
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rollouts", tuple(self.rollouts))
        object.__setattr__(self, "rewards", tuple(float(r) for r in self.rewards))
        if len(self.rollouts) != len(self.rewards):
            raise ValueError(f"a group needs one reward per rollout: {len(self.rollouts)} "
                             f"rollouts, {len(self.rewards)} rewards")

    @property
    def std(self) -> float:
        """The population standard deviation of the rewards (0 for fewer than 2)."""
        return float(np.std(self.rewards)) if len(self.rewards) > 1 else 0.0


def rewards_of(group: Any) -> Sequence[float]:
    """A group's rewards: its ``rewards`` attribute, or its ``"rewards"`` key.

    Args:
        group: A :class:`Group`, any object with ``rewards``, or a mapping.

    Returns:
        The rewards.

    Raises:
        TypeError: When the group has neither.
    """
    rewards = getattr(group, "rewards", None)
    if rewards is None and isinstance(group, dict):
        rewards = group.get("rewards")
    if rewards is None:
        raise TypeError(f"cannot read rewards from a {type(group).__name__}; pass rewards=")
    return rewards


def _std(rewards: Sequence[float]) -> float:
    return float(np.std(np.asarray(rewards, dtype=np.float64))) if len(rewards) > 1 else 0.0


def group_advantages(rewards: Sequence[float], *, epsilon: float = 1e-6,
                     scale: bool = True) -> np.ndarray:
    """GRPO's group-normalised advantages.

    Args:
        rewards: The group's rewards.
        epsilon: Added to the std (a zero-variance group gives zeros, not NaN).
        scale: Divide by the std (GRPO); ``False`` only centres (Dr. GRPO).

    Returns:
        One advantage per rollout (float64).

    Example:
        >>> group_advantages([1.0, 1.0, 1.0]).tolist()
        [0.0, 0.0, 0.0]
        >>> group_advantages([1.0, 0.0], scale=False).tolist()
        [0.5, -0.5]
    """
    values = np.asarray(rewards, dtype=np.float64)
    if values.size == 0:
        return values
    centred = values - values.mean()
    return centred / (values.std() + epsilon) if scale else centred


def batch_advantages(groups: Iterable[Any], *, epsilon: float = 1e-6, scale: bool = True,
                     rewards: Callable[[Any], Sequence[float]] = rewards_of) -> list[np.ndarray]:
    """Advantages of every group of a batch (each normalised within its own group).

    Args:
        groups: The batch.
        epsilon: See :func:`group_advantages`.
        scale: See :func:`group_advantages`.
        rewards: Reads a group's rewards (default :func:`rewards_of`).

    Returns:
        One array per group, in order.
    """
    return [group_advantages(rewards(group), epsilon=epsilon, scale=scale) for group in groups]


def filter_groups(groups: Iterable[Any], delta: float = 0.0, *,
                  rewards: Callable[[Any], Sequence[float]] = rewards_of
                  ) -> tuple[list[Any], list[Any]]:
    """Split groups into learning-active ones (``std > delta``) and the rest.

    Args:
        groups: Groups of rollouts.
        delta: The std a group must exceed (0: drop exactly the zero-variance ones).
        rewards: Reads a group's rewards.

    Returns:
        ``(kept, dropped)``, each in the input order.
    """
    kept, dropped = [], []
    for group in groups:
        (kept if _std(rewards(group)) > delta else dropped).append(group)
    return kept, dropped


@dataclass(frozen=True)
class GroupStats:
    """Reward statistics of one group.

    Attributes:
        size: Rollouts.
        mean: Mean reward.
        std: Population std.
        min: Lowest reward.
        max: Highest reward.
    """

    size: int
    mean: float
    std: float
    min: float
    max: float


def group_stats(rewards: Sequence[float]) -> GroupStats:
    """Statistics of one group's rewards.

    Args:
        rewards: The group's rewards.

    Returns:
        Size, mean, population std, min and max (zeros for an empty group).

    Example:
        >>> group_stats([0.0, 1.0])
        GroupStats(size=2, mean=0.5, std=0.5, min=0.0, max=1.0)
    """
    values = np.asarray(rewards, dtype=np.float64)
    if values.size == 0:
        return GroupStats(0, 0.0, 0.0, 0.0, 0.0)
    return GroupStats(int(values.size), float(values.mean()), float(values.std()),
                      float(values.min()), float(values.max()))


def summarize_groups(groups: Sequence[Any], *,
                     rewards: Callable[[Any], Sequence[float]] = rewards_of) -> dict[str, float]:
    """Batch-level figures for logging: groups, rollouts, reward mean, mean group std.

    Args:
        groups: The batch.
        rewards: Reads a group's rewards.

    Returns:
        ``groups``, ``rollouts``, ``reward_mean``, ``group_std_mean`` and
        ``zero_variance`` (groups with std 0).
    """
    stats = [group_stats(rewards(group)) for group in groups]
    rollouts = sum(s.size for s in stats)
    return {"groups": len(stats), "rollouts": rollouts,
            "reward_mean": (sum(s.mean * s.size for s in stats) / rollouts) if rollouts else 0.0,
            "group_std_mean": float(np.mean([s.std for s in stats])) if stats else 0.0,
            "zero_variance": sum(s.std == 0.0 for s in stats)}
