"""Scripted agents for multi-user-turn tasks: replay given calls turn by turn.

:class:`ScriptedTurnsAgent` plays a script (per user turn, a list of steps, each a
list of ``(name, arguments)`` calls) and ends each user turn with a message
without a tool call. :func:`ground_truth_script` is a task's ground truth as
such a script, so ``ScriptedTurnsAgent(ground_truth_script(task))`` is the
oracle of a multi-turn task (BFCL's ground truth replayed through the env).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..pack import Pack, Task

__all__ = ["GroundTruthAgent", "Script", "ScriptedTurnsAgent", "ground_truth_script"]

#: Per user turn, a list of steps; each step a list of (tool name, JSON arguments).
Script = list[list[list[tuple[str, dict[str, Any]]]]]


def ground_truth_script(task: Task, calls_per_step: int | None = None) -> Script:
    """A task's gold calls as a script: one step per hop level within each user turn.

    Args:
        task: A (multi-turn) task whose sub-tasks have gold calls.
        calls_per_step: Split steps longer than this (None: one step per hop).

    Returns:
        The script, one entry per user turn (``1 + len(task.turns)``).
    """
    script: Script = [[] for _ in range(1 + len(task.turns))]
    hops: dict[tuple[int, int], list[tuple[str, dict[str, Any]]]] = {}
    for sub in task.subtasks:
        if sub.gold_call is not None:
            hops.setdefault((sub.turn, sub.hop_level), []).append(
                (sub.gold_call.name, dict(sub.gold_call.arguments)))
    for (turn, _), calls in sorted(hops.items()):
        size = calls_per_step or len(calls)
        script[turn].extend(calls[i:i + size] for i in range(0, len(calls), size))
    return script


def _message(calls: list[tuple[str, dict[str, Any]]], step: int) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{step}_{index}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
        for index, (name, arguments) in enumerate(calls)]}


class ScriptedTurnsAgent:
    """Plays a fixed script, one step per ``act``; a user turn ends with a plain message.

    Args:
        script: Per user turn, the steps of calls (see :data:`Script`).
        answer: The text of the message that ends a user turn.
    """

    def __init__(self, script: Script, answer: str = "Done.") -> None:
        self.script = script
        self.answer = answer
        self._turn = 0
        self._step = 0
        self._count = 0

    def reset(self, observation: list[dict[str, Any]], info: dict[str, Any]) -> None:
        self._turn = 0
        self._step = 0
        self._count = 0

    def act(self, observation: list[dict[str, Any]], info: dict[str, Any]) -> Any:
        steps = self.script[self._turn] if self._turn < len(self.script) else []
        self._count += 1
        if self._step < len(steps):
            self._step += 1
            return _message(steps[self._step - 1], self._count)
        self._turn += 1
        self._step = 0
        return self.answer


class GroundTruthAgent(ScriptedTurnsAgent):
    """Replays each episode's ground truth (the task's gold calls, turn by turn).

    Args:
        pack: The pack the env runs (a path or an open pack).
        calls_per_step: Split steps longer than this (the env's ``max_calls_per_turn``).
    """

    def __init__(self, pack: str | os.PathLike[str] | Pack,
                 calls_per_step: int | None = None) -> None:
        super().__init__([])
        self.pack = pack if isinstance(pack, Pack) else Pack(pack)
        self.calls_per_step = calls_per_step

    def reset(self, observation: list[dict[str, Any]], info: dict[str, Any]) -> None:
        self.script = ground_truth_script(self.pack.task(info["task_id"]), self.calls_per_step)
        super().reset(observation, info)
