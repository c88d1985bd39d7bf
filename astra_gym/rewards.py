"""Rule-verified process rewards: pure functions, no LLM.

ASTRA's trajectory reward (arXiv 2601.21558, Eqs. 29–31): with ``n`` tool-needing
sub-tasks, ``n̂`` of them solved and ``c`` tool calls made,

- recall ``r = n̂ / n``,
- precision ``p = min(1, n̂ / c)`` (0 when ``c = 0``),
- ``F1 = 2pr / (p + r)`` (0 when ``p + r = 0``).

Choices the paper leaves open, made explicit here:

- *Solved* follows :mod:`astra_gym.evidence`: a **successful** tool result
  that is not error-shaped contains the sub-task's gold answer under
  :mod:`astra_gym.answers`, and not only where it repeats the call's own
  arguments (error results never solve anything). A sub-task with a gold call
  must be solved by a call of *its* tool; an answer-only sub-task (released
  RL rows) may be solved by any call. Each sub-task counts once.
- ``c`` counts every call attempt, invalid ones included (unknown tool,
  unparsable or schema-violating arguments): spamming calls costs precision.
  Calls to distractor tools count too. Failures the env injected on purpose
  (``failures=`` of the env, :mod:`astra_gym.failures`) do not: the agent is
  not at fault and retrying is right, so ``c`` excludes them; they are
  reported apart, as ``injected_failures``.
- Precision is capped at 1: one call may legitimately solve several
  sub-tasks (a merged tool answering parallel sub-questions).
- The final answer does not enter the reward (as in the paper); it enters
  ``success`` instead.

Reward modes (:data:`REWARD_MODES`):

========== ==================================================================
``f1``       dense (default): each step pays the change in running F1, so
             the episode return equals the trajectory F1.
``f1_terminal`` 0 on every step, the trajectory F1 on the last.
``recall``   dense, like ``f1`` but on recall.
``precision`` dense, like ``f1`` but on precision.
``outcome``  0 on every step, 1 on the last when the episode is a success.
========== ==================================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .answers import could_contain, find_answer, normalize_cached
from .evidence import argument_values, is_error_shaped, solves
from .pack.model import SubTask

__all__ = ["REWARD_MODES", "RewardComponents", "components", "f1_score", "precision",
           "recall", "solved_by_result", "step_reward"]

REWARD_MODES = ("f1", "f1_terminal", "recall", "precision", "outcome")


def recall(solved: int, total: int) -> float:
    """Sub-task recall ``solved / total`` (0 when there is nothing to solve).

    Example:
        >>> recall(3, 4)
        0.75
    """
    return solved / total if total > 0 else 0.0


def precision(solved: int, calls: int) -> float:
    """Tool-call precision ``min(1, solved / calls)`` (0 when no call was made).

    Example:
        >>> precision(4, 6)
        0.6666666666666666
    """
    return min(1.0, solved / calls) if calls > 0 else 0.0


def f1_score(recall_value: float, precision_value: float) -> float:
    """The harmonic mean of recall and precision (0 when both are 0).

    Example:
        >>> round(f1_score(recall(4, 4), precision(4, 6)), 6)  # the paper's example: 0.8
        0.8
    """
    total = recall_value + precision_value
    return 2 * recall_value * precision_value / total if total > 0 else 0.0


@dataclass(frozen=True)
class RewardComponents:
    """Everything the reward is computed from (``info["reward_components"]``).

    Attributes:
        n: Tool-needing sub-tasks.
        solved: Ids of the solved ones, in the order they were solved.
        calls: Tool-call attempts so far (invalid ones included).
        invalid_calls: Attempts that never reached a tool (unknown tool,
            unparsable or schema-violating arguments).
        recall: ``n̂ / n``.
        precision: ``min(1, n̂ / c)`` with ``c = calls - injected_failures``.
        f1: Their harmonic mean.
        injected_failures: Calls the env failed on purpose (failure
            injection): counted in ``calls`` but not against precision.
        distractor_calls: Calls to injected distractor tools (logging only:
            they are ordinary calls for the reward and never solve anything).
    """

    n: int
    solved: tuple[str, ...]
    calls: int
    invalid_calls: int
    recall: float
    precision: float
    f1: float
    injected_failures: int = 0
    distractor_calls: int = 0

    @property
    def n_solved(self) -> int:
        return len(self.solved)

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``info`` and JSON logs."""
        return {"n": self.n, "n_solved": self.n_solved, "solved": list(self.solved),
                "calls": self.calls, "invalid_calls": self.invalid_calls,
                "recall": self.recall, "precision": self.precision, "f1": self.f1,
                "injected_failures": self.injected_failures,
                "distractor_calls": self.distractor_calls}


def components(n: int, solved: Sequence[str], calls: int, invalid_calls: int,
               injected_failures: int = 0, distractor_calls: int = 0) -> RewardComponents:
    """Build the reward components from counts.

    Args:
        n: Tool-needing sub-tasks.
        solved: Ids of solved sub-tasks.
        calls: All call attempts (injected failures included).
        invalid_calls: Attempts that never reached a tool.
        injected_failures: Calls the env failed on purpose; precision leaves them out.
        distractor_calls: Calls to injected distractor tools (reported only).

    Returns:
        The components with recall, precision and F1 filled in.

    Example:
        >>> components(4, ["1", "2", "3"], 4, 0).f1
        0.75
        >>> components(4, ["1", "2", "3", "4"], 6, 0, injected_failures=2).f1  # two retries
        1.0
    """
    r = recall(len(solved), n)
    p = precision(len(solved), calls - injected_failures)
    return RewardComponents(n, tuple(solved), calls, invalid_calls, r, p, f1_score(r, p),
                            injected_failures, distractor_calls)


def solved_by_result(subtasks: Iterable[SubTask], tool: str, output: str,
                     already_solved: Iterable[str] = (), arguments: Any = None) -> list[str]:
    """Which open sub-tasks one successful tool result solves.

    Args:
        subtasks: The task's sub-tasks.
        tool: The name of the tool that produced the result.
        output: The result text (only pass *successful* results).
        already_solved: Ids that are solved already (each counts once).
        arguments: The call's arguments: an answer the result only repeats
            from them solves nothing (:mod:`astra_gym.evidence`).

    Returns:
        Ids of newly solved sub-tasks, in sub-task order.

    Example:
        >>> from astra_gym.pack import SubTask
        >>> subs = [SubTask("1", "q", "1,234.50 USD", tool="quote"),
        ...         SubTask("2", "q", "ACME", tool=None, gold_call=None)]
        >>> solved_by_result(subs, "quote", '{"close": "1234.5 USD", "ticker": "ACME"}')
        ['1', '2']
        >>> solved_by_result(subs, "quote", '{"close": "1234.5 USD", "ticker": "ACME"}',
        ...                  arguments={"ticker": "acme"})
        ['1']
    """
    done = set(already_solved)
    text: str | None = None
    lowered: str | bool | None = False  # not computed yet
    echoed: list[str] | None = None
    newly = []
    for sub in subtasks:
        if not sub.needs_tool or sub.id in done:
            continue
        if sub.gold_call is not None and sub.tool != tool:
            continue
        if lowered is False:
            lowered = output.lower() if output.isascii() else None
        if not could_contain(lowered, sub.answer):
            continue  # ruled out at C speed, without normalising the result
        if text is None:
            text = normalize_cached(output)  # once per result, not per sub-task
        if not find_answer(text, sub.answer):
            continue
        if echoed is None:  # only results that contain an answer pay for these
            if is_error_shaped(output):
                return []
            echoed = argument_values(arguments) if arguments is not None else []
        if solves(text, sub.answer, echoed):
            newly.append(sub.id)
    return newly


def step_reward(mode: str, before: RewardComponents, after: RewardComponents, *,
                done: bool, success: bool) -> float:
    """The reward of one step under a reward mode.

    Args:
        mode: One of :data:`REWARD_MODES`.
        before: Components before the step.
        after: Components after it.
        done: Whether the episode ends with this step (terminated or truncated).
        success: Whether the episode is a success (read only when ``done``).

    Returns:
        The step reward. Dense modes telescope: summed over an episode they
        give the final value.

    Raises:
        ValueError: For an unknown mode.
    """
    if mode == "f1":
        return after.f1 - before.f1
    if mode == "recall":
        return after.recall - before.recall
    if mode == "precision":
        return after.precision - before.precision
    if mode == "f1_terminal":
        return after.f1 if done else 0.0
    if mode == "outcome":
        return 1.0 if done and success else 0.0
    raise ValueError(f"unknown reward mode {mode!r}; choose one of {', '.join(REWARD_MODES)}")
