"""Tool-failure injection: some calls fail the way real services do, on purpose.

Real tools time out, refuse connections and answer 503; a policy trained only
on tools that always work never learns to retry. With
``gym.make(id, failures={"p": 0.2})`` each valid call (a known tool, arguments
that pass the schema) fails with probability ``p`` *instead of* running: the
agent gets a realistic error message, the tool does not run (so its state and
the sandbox's call log are untouched), and nothing is solved.

The draws come from a generator seeded by the episode (``info["episode_seed"]``)
and separate from the sandbox's, so the same seed and actions fail the same
calls, in any process and after unpickling.

An injected failure is not the agent's fault: it counts in
``reward_components["calls"]`` and in ``injected_failures``, but not against
precision (:func:`astra_gym.rewards.components`). Retrying is right, and a
retry that succeeds pays exactly as if the first call had.

Example:
    >>> injector = FailureInjector(p=0.5, kinds=("service_unavailable",))
    >>> episode = injector.episode(seed=7)
    >>> outcomes = [episode.draw("get_weather") for _ in range(6)]
    >>> [o is None for o in outcomes]  # None: the call runs
    [True, False, True, False, False, True]
    >>> print(outcomes[1][1])  # doctest: +ELLIPSIS
    Error: HTTP 503 Service Unavailable: the get_weather service is temporarily unavailable...
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_FAILURE_KINDS", "FAILURE_KINDS", "INJECTED_FAILURE", "EpisodeFailures",
           "FailureInjector", "is_injected"]

#: The ``error_kind`` of an injected failure in ``info["calls"]``.
INJECTED_FAILURE = "injected_failure"

#: Failure kind -> the tool message (``{tool}`` is the tool's name).
FAILURE_KINDS: dict[str, str] = {
    "timeout": "Error: TimeoutError: the request to the {tool} service timed out after "
               "30 seconds (read timeout)",
    "connection_refused": "Error: ConnectionRefusedError: [Errno 111] Connection refused: "
                          "could not connect to the {tool} service",
    "service_unavailable": "Error: HTTP 503 Service Unavailable: the {tool} service is "
                           "temporarily unavailable; try again later",
    "rate_limited": "Error: HTTP 429 Too Many Requests: rate limit exceeded for the {tool} "
                    "service; retry after 1 second",
    "bad_gateway": "Error: HTTP 502 Bad Gateway: the upstream server of the {tool} service "
                   "returned an invalid response",
}
#: The kinds drawn when ``kinds`` is not given.
DEFAULT_FAILURE_KINDS = ("timeout", "connection_refused", "service_unavailable")

# Mixed into the episode seed so failure draws are independent of every other stream.
_STREAM = 0xFA11


@dataclass(frozen=True)
class FailureInjector:
    """What fails and how often (the env's ``failures=`` option).

    Attributes:
        p: Probability that a valid call fails, in ``[0, 1]``.
        kinds: Failure kinds drawn uniformly (keys of :data:`FAILURE_KINDS`).
    """

    p: float = 0.2
    kinds: tuple[str, ...] = DEFAULT_FAILURE_KINDS

    def __post_init__(self) -> None:
        if isinstance(self.p, bool) or not isinstance(self.p, int | float) \
                or not 0.0 <= self.p <= 1.0:
            raise ValueError(f"failures: p must be a probability in [0, 1], got {self.p!r}")
        kinds = (self.kinds,) if isinstance(self.kinds, str) else tuple(self.kinds)
        unknown = [kind for kind in kinds if kind not in FAILURE_KINDS]
        if unknown or not kinds:
            raise ValueError(f"failures: unknown kind(s) {unknown}; choose from "
                             f"{', '.join(FAILURE_KINDS)}" if unknown else
                             "failures: kinds is empty")
        object.__setattr__(self, "kinds", kinds)

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | FailureInjector | None
                     ) -> FailureInjector | None:
        """The injector for an env's ``failures=`` argument.

        Args:
            options: ``None`` (no injection), a :class:`FailureInjector`, or a
                dict with ``p`` and optionally ``kinds``.

        Returns:
            The injector, or None when injection is off.

        Raises:
            ValueError: For unknown keys, a ``p`` outside ``[0, 1]`` or an
                unknown kind.
            TypeError: When ``options`` is neither a dict nor an injector.
        """
        if options is None or isinstance(options, FailureInjector):
            return options
        if not isinstance(options, Mapping):
            raise TypeError(f"failures must be a dict such as {{'p': 0.2}}, not "
                            f"{type(options).__name__}")
        unknown = sorted(set(options) - {"p", "kinds"})
        if unknown:
            raise ValueError(f"unknown failures option(s) {', '.join(unknown)}; use 'p' and "
                             "'kinds'")
        return cls(**dict(options))

    def episode(self, seed: int) -> EpisodeFailures:
        """The failure draws of one episode.

        Args:
            seed: The episode seed.

        Returns:
            A picklable stream of draws, one per valid call.
        """
        return EpisodeFailures(self, int(seed))

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the options that rebuild it)."""
        return {"p": self.p, "kinds": list(self.kinds)}


class EpisodeFailures:
    """One episode's stream of failure draws (a seeded generator; it pickles).

    The generator (``random.Random``: seeding it costs about a microsecond) is
    made on the first draw, so an episode without calls pays nothing.
    """

    __slots__ = ("injector", "rng", "seed")

    def __init__(self, injector: FailureInjector, seed: int) -> None:
        self.injector = injector
        self.seed = seed
        self.rng: random.Random | None = None

    def draw(self, tool: str) -> tuple[str, str] | None:
        """Whether the next valid call fails.

        Args:
            tool: The called tool's name (it goes into the message).

        Returns:
            None when the call runs, else ``(kind, tool message)``.
        """
        injector = self.injector
        if injector.p <= 0.0:
            return None
        rng = self.rng
        if rng is None:
            rng = self.rng = random.Random((self.seed << 16) ^ _STREAM)
        if rng.random() >= injector.p:
            return None
        kinds = injector.kinds
        kind = kinds[rng.randrange(len(kinds))] if len(kinds) > 1 else kinds[0]
        return kind, FAILURE_KINDS[kind].format(tool=tool)

    def __getstate__(self) -> dict[str, Any]:
        return {"injector": self.injector, "seed": self.seed, "rng": self.rng}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.injector = state["injector"]
        self.seed = state["seed"]
        self.rng = state["rng"]


def is_injected(records: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Which of a step's ``info["calls"]`` records are injected failures.

    Args:
        records: ``info["calls"]`` of a step.

    Returns:
        One flag per record.
    """
    return [record.get("error_kind") == INJECTED_FAILURE for record in records]
