"""The oracle: replays a task's gold calls hop by hop, then gives the gold answer.

It is the upper bound every sound task must reach (F1 = 1.0, success), so it
doubles as a check of a pack (``astra-gym run --agent oracle``) and as a
reference policy in examples. It reads the gold data from the pack by the
``task_id`` the env reports; it never looks at the env's internals.
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..failures import is_injected
from ..pack import Pack, Task
from .base import Action, Message

__all__ = ["ORACLE_FORMATS", "OracleAgent"]

ORACLE_FORMATS = ("openai", "hermes", "json", "python")


class OracleAgent:
    """Calls every gold call, one hop level per turn (parallel calls together).

    Sub-tasks without a gold call (answer-only rows) cannot be replayed; the
    oracle then answers with what it has. A call the env failed on purpose
    (``failures=``, :mod:`astra_gym.failures`) is retried in the next turn,
    before the next hop, so the oracle still reaches F1 = 1.0.

    Args:
        pack: The pack the env runs (a path or an open pack).
        action_format: How to write calls: ``openai`` (message dicts, the
            default) or as text in ``hermes``, ``json`` or ``python`` syntax
            (handy for testing an env's parsers end to end).
    """

    def __init__(self, pack: str | os.PathLike[str] | Pack, action_format: str = "openai") -> None:
        if action_format not in ORACLE_FORMATS:
            raise ValueError(f"unknown action_format {action_format!r}; choose one of "
                             f"{', '.join(ORACLE_FORMATS)}")
        self.pack = pack if isinstance(pack, Pack) else Pack(pack)
        self.action_format = action_format
        self._task: Task | None = None
        self._hops: list[list[tuple[str, dict[str, Any]]]] = []
        self._last: list[tuple[str, dict[str, Any]]] = []

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        self._task = self.pack.task(info["task_id"])
        # Per user turn (sub-task ``turn``; one turn for single-turn tasks), the hops.
        by_turn: dict[int, dict[int, list[tuple[str, dict[str, Any]]]]] = {}
        for sub in self._task.subtasks:
            if sub.gold_call is None:
                continue
            call = (sub.gold_call.name, sub.gold_call.arguments)
            calls = by_turn.setdefault(sub.turn, {}).setdefault(sub.hop_level, [])
            # A merged tool may answer two sub-questions at once; a backend task's
            # repeated call (BFCL's cd('..') twice) is meant.
            if call not in calls or self._task.backend is not None:
                calls.append(call)
        turns = [by_turn.get(turn, {}) for turn in range(1 + len(self._task.turns))]
        self._turns = [[hops[hop] for hop in sorted(hops)] for hops in turns]
        self._hops = self._turns.pop(0)
        self._last = []

    def _final_answer(self) -> str:
        assert self._task is not None
        if self._task.final_answer is not None:
            return self._task.final_answer
        return "; ".join(sub.answer for sub in self._task.subtasks)

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        if self._task is None:
            raise RuntimeError("call reset() first")
        # The step's records follow the calls in order: retry the injected failures.
        calls = [call for call, failed in zip(self._last, is_injected(info.get("calls", ())),
                                              strict=False) if failed]
        if not calls:
            if not self._hops:
                self._last = []
                if self._turns:  # this user turn is done: answer it; the next one follows
                    self._hops = self._turns.pop(0)
                return self._final_answer()
            calls = self._hops.pop(0)
        self._last = calls
        if self.action_format == "openai":
            return {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"oracle_{index}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
                for index, (name, args) in enumerate(calls)]}
        if self.action_format == "hermes":
            return "".join("<tool_call>" + json.dumps({"name": name, "arguments": args},
                                                      ensure_ascii=False) + "</tool_call>"
                           for name, args in calls)
        if self.action_format == "json":
            return json.dumps([{"name": name, "arguments": args} for name, args in calls],
                              ensure_ascii=False)
        return "\n".join(f"{name}(" + ", ".join(f"{key}={value!r}" for key, value in args.items())
                         + ")" for name, args in calls)
