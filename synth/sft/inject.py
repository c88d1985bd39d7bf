"""Seeded tool-failure injection for rollouts on real and emulated tools (backends 1 and 2).

The paper says emulated calls fail with probability 20% (timeouts, unreachable
servers); the release never implemented it (research/astra.md §C.8). Here each
*valid* call (a known tool, arguments that pass its schema) fails with
probability ``p`` **instead of** running: the agent gets a realistic error
message (the texts of :data:`astra_gym.failures.FAILURE_KINDS`), the tool does
not run, and the trajectory records the kind per call, so the data teaches
recovery.

A draw depends only on ``(seed, trajectory_id, ordinal)``: the same run, a
resumed one and an offline replay fail the same calls, in any process.

Example:
    >>> injector = FailureInjector(p=0.5, seed=0)
    >>> [injector.draw("trj-1", i) for i in range(4)]
    ['connection_refused', 'connection_refused', None, 'service_unavailable']
    >>> injector.message("connection_refused", "git_status")[:40]
    'Error: ConnectionRefusedError: [Errno 11'
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from astra_gym.failures import FAILURE_KINDS

__all__ = ["DEFAULT_INJECTION_KINDS", "DEFAULT_INJECTION_P", "FailureInjector"]

DEFAULT_INJECTION_P = 0.2
"""The paper's failure rate for tool calls."""

DEFAULT_INJECTION_KINDS = ("timeout", "connection_refused", "service_unavailable")
"""Timeouts, an unreachable server and a 5xx-style error, drawn uniformly."""


@dataclass(frozen=True)
class FailureInjector:
    """Which calls fail on purpose, and with what message.

    Args:
        p: The probability that a valid call fails (0 switches injection off).
        seed: The run's seed.
        kinds: Failure kinds (keys of :data:`astra_gym.failures.FAILURE_KINDS`).

    Raises:
        ValueError: ``p`` outside [0, 1], an unknown or empty ``kinds``.
    """

    p: float = DEFAULT_INJECTION_P
    seed: int = 0
    kinds: tuple[str, ...] = DEFAULT_INJECTION_KINDS

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, int | float) \
                or not 0.0 <= self.p <= 1.0:
            raise ValueError(f"the failure-injection probability must be in [0, 1], not "
                             f"{self.p!r}")
        unknown = [kind for kind in self.kinds if kind not in FAILURE_KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"unknown failure kind(s) {unknown}; choose from "
                             f"{', '.join(FAILURE_KINDS)}" if unknown
                             else "the failure kinds are empty")

    def draw(self, trajectory_id: str, ordinal: int) -> str | None:
        """Whether the ``ordinal``-th valid call of a trajectory fails, and how.

        Args:
            trajectory_id: The trajectory.
            ordinal: The call's position among the trajectory's valid calls (0-based).

        Returns:
            The failure kind, or ``None`` when the call runs.
        """
        if self.p <= 0.0:
            return None
        rng = random.Random(f"inject:{self.seed}:{trajectory_id}:{ordinal}")
        if rng.random() >= self.p:
            return None
        return self.kinds[rng.randrange(len(self.kinds))]

    @staticmethod
    def message(kind: str, tool: str) -> str:
        """The tool message of an injected failure.

        Args:
            kind: The failure kind.
            tool: The tool's name.

        Returns:
            The error text the agent sees.
        """
        return FAILURE_KINDS[kind].format(tool=tool)
