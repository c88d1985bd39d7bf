"""Judging a multi-turn episode the way BFCL's ``multi_turn_checker`` does, as it happens.

One :class:`TurnJudge` per episode of a task with a trusted backend. It holds
three sets of fresh backend instances:

* the agent's, which every tool call of the episode runs on;
* the ground truth's, replayed one user turn at a time when that turn ends,
  exactly as BFCL's checker replays it;
* a reference replay of the whole ground truth made up front, for the
  expected result of every ground-truth call (the per-call process reward).

When a user turn ends, the turn is checked as BFCL checks it: a turn whose
ground truth has calls fails when the agent made no call in it
(``multi_turn:empty_turn_model_response``), when any public attribute of any
instance differs from the ground truth's (``multi_turn:instance_state_mismatch``),
or when some ground-truth result of the turn is missing from the agent's
results of the episode so far, counted as a multiset in any order
(``multi_turn:execution_response_mismatch``). A turn whose ground truth is empty
is not checked (its calls still run). The episode is valid when every turn
passed and every turn was played (BFCL: ``multi_turn:force_terminated``
otherwise).

Process reward: the sub-tasks are the ground-truth calls. One is credited
(solved) by an agent call of the same method, made in the same user turn,
whose result text equals the reference result (each agent call credits at
most one). The credit stands only if the turn passes: when a checked turn
fails, the credits of its calls are withdrawn at the turn's end, so the dense
F1 reward of that step is negative. The episode's F1 therefore counts the
ground-truth calls reproduced in turns that BFCL's checks pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..pack import Task
from .backend import BackendInstances

__all__ = ["EMPTY_TURN", "FORCE_TERMINATED", "RESPONSE_MISMATCH", "STATE_MISMATCH",
           "TurnJudge", "TurnVerdict", "ground_truth_by_turn"]

EMPTY_TURN = "multi_turn:empty_turn_model_response"
STATE_MISMATCH = "multi_turn:instance_state_mismatch"
RESPONSE_MISMATCH = "multi_turn:execution_response_mismatch"
FORCE_TERMINATED = "multi_turn:force_terminated"


def ground_truth_by_turn(task: Task) -> list[list[tuple[str, str, dict[str, Any]]]]:
    """The ground-truth calls of each user turn: ``(sub-task id, method, arguments)``.

    Args:
        task: A task whose sub-tasks carry gold calls and turns.

    Returns:
        One list per user turn (``1 + len(task.turns)``), in sub-task order.
    """
    turns: list[list[tuple[str, str, dict[str, Any]]]] = [[] for _ in range(1 + len(task.turns))]
    for sub in task.subtasks:
        if sub.gold_call is not None and sub.needs_tool:
            turns[sub.turn].append((sub.id, sub.gold_call.name, sub.gold_call.arguments))
    return turns


@dataclass(frozen=True)
class TurnVerdict:
    """How one user turn was judged.

    Attributes:
        turn: The user turn index.
        checked: False when the turn's ground truth is empty (BFCL skips it).
        valid: Whether the turn passed (True for unchecked turns).
        error_type: BFCL's error type when it failed, else None.
        detail: What differed (an attribute, the missing results), for logs.
        revoked: Credited ground-truth calls of a failed turn, withdrawn.
    """

    turn: int
    checked: bool
    valid: bool
    error_type: str | None = None
    detail: str | None = None
    revoked: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {"turn": self.turn, "checked": self.checked, "valid": self.valid,
                "error_type": self.error_type, "detail": self.detail,
                "revoked": list(self.revoked)}


class TurnJudge:
    """Runs an episode's calls on fresh backend instances and judges each user turn.

    Args:
        task: A task with a ``backend``.

    Raises:
        UntrustedBackendError: For a backend outside the allowlist.
        BackendUnavailable: When the backend is not installed.
    """

    def __init__(self, task: Task) -> None:
        backend = task.backend
        if backend is None:
            raise ValueError(f"task {task.task_id!r} has no backend")
        self.truth_calls = ground_truth_by_turn(task)
        self.agent = BackendInstances(backend)
        self._truth = BackendInstances(backend)
        reference = BackendInstances(backend)
        #: Per user turn: (sub-task id, method, expected result text) of each ground-truth call.
        self.expected = [[(sub_id, name, reference.call(name, dict(arguments))[1])
                          for sub_id, name, arguments in calls] for calls in self.truth_calls]
        self.turn = 0
        self.results: list[str] = []
        self.verdicts: list[TurnVerdict] = []
        self.error_type: str | None = None
        self._matched: set[str] = set()
        #: Sub-tasks of the reward: the ground-truth calls.
        self.n = sum(len(calls) for calls in self.truth_calls)

    @property
    def turns(self) -> int:
        """User turns of the task."""
        return len(self.truth_calls)

    @property
    def valid(self) -> bool:
        """BFCL's verdict so far: every turn played and passed."""
        return self.error_type is None and len(self.verdicts) == self.turns

    def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, str, list[str]]:
        """Run an agent's call on its instances.

        Args:
            name: The method.
            arguments: JSON keyword arguments (already checked against the schema).

        Returns:
            ``(ok, text, solved)``: the result and the ground-truth call of this
            user turn it credits (at most one).
        """
        ok, text = self.agent.call(name, arguments)
        self.results.append(text)
        if self.turn < self.turns:
            for sub_id, method, expected in self.expected[self.turn]:
                if sub_id not in self._matched and method == name and expected == text:
                    self._matched.add(sub_id)
                    return ok, text, [sub_id]
        return ok, text, []

    def end_turn(self, made_calls: bool) -> TurnVerdict:
        """Judge the current user turn and move to the next.

        Args:
            made_calls: Whether the agent made any (parsed) call in this turn.

        Returns:
            The verdict.
        """
        index = self.turn
        calls = self.truth_calls[index] if index < self.turns else []
        truth_results = [self._truth.call(name, dict(arguments))[1]
                         for _, name, arguments in calls]
        self.turn += 1
        if not calls:
            verdict = TurnVerdict(index, checked=False, valid=True)
        elif not made_calls:
            verdict = TurnVerdict(index, True, False, EMPTY_TURN, "no tool call in this turn")
        elif (where := self.agent.state_mismatch(self._truth)) is not None:
            verdict = TurnVerdict(index, True, False, STATE_MISMATCH, where)
        elif missing := _missing(truth_results, self.results):
            verdict = TurnVerdict(index, True, False, RESPONSE_MISMATCH,
                                  f"{len(missing)} ground-truth result(s) missing, e.g. "
                                  f"{missing[0][:200]!r}")
        else:
            verdict = TurnVerdict(index, True, True)
        if not verdict.valid:
            revoked = tuple(sub_id for sub_id, _, _ in calls if sub_id in self._matched)
            verdict = TurnVerdict(verdict.turn, verdict.checked, False, verdict.error_type,
                                  verdict.detail, revoked)
            if self.error_type is None:
                self.error_type = verdict.error_type
        self.verdicts.append(verdict)
        return verdict

    def force_quit(self) -> None:
        """The agent ran out of steps in a turn: the episode is invalid (BFCL's force-quit)."""
        if self.error_type is None:
            self.error_type = FORCE_TERMINATED


def _missing(expected: list[str], results: list[str]) -> list[str]:
    """Expected items not in ``results``, as a multiset in any order (BFCL's rule)."""
    pool = list(results)
    missing = []
    for item in expected:
        try:
            pool.remove(item)
        except ValueError:
            missing.append(item)
    return missing
