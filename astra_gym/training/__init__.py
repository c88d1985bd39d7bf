"""Framework-neutral RL helpers: ASTRA's adaptive batch filling and GRPO group math.

Plain callables in, plain data out, so any trainer (TRL, verl, SkyRL, your
own loop) can use them: see ``docs/training.md`` and ``examples/grpo_loop.py``.

- :class:`AdaptiveBatchFiller`: full batches of groups whose rewards vary
  (paper Fig. 5), with per-step statistics.
- :func:`group_advantages`, :func:`batch_advantages`: GRPO advantages.
- :func:`filter_groups`, :func:`group_stats`, :func:`summarize_groups`:
  zero-variance filtering and per-group statistics.
"""

from .filler import AdaptiveBatchFiller, BatchFillError, FillStats
from .groups import (
    Group,
    GroupStats,
    batch_advantages,
    filter_groups,
    group_advantages,
    group_stats,
    rewards_of,
    summarize_groups,
)

__all__ = [
    "AdaptiveBatchFiller",
    "BatchFillError",
    "FillStats",
    "Group",
    "GroupStats",
    "batch_advantages",
    "filter_groups",
    "group_advantages",
    "group_stats",
    "rewards_of",
    "summarize_groups",
]
