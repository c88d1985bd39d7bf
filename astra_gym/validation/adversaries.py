"""Scripted reward hackers for the ``gameability`` check.

An RL policy trained for days finds every cheap way to be paid. Each agent
here plays one such way on purpose, so ``astra-gym validate`` can show that a
task's reward keeps it a clear margin below the gold return:

=========== ==================================================================
``spam``     the gold calls, each repeated ``copies`` times (it knows the gold
             path: only precision may stop it), then the gold final answer
``guess``    every tool, three turns, schema-valid guessed arguments, then
             "I don't know"
``echo``     for each sub-task, its tool (or every tool for an answer-only
             sub-task) called with the *gold answer* in every text argument
             (and numeric one, for a numeric answer): a policy that guessed
             right and hopes the tool repeats its guess; then the gold final
             answer
``dump``     the guessed calls, then a final answer that dumps every tool
             result and the question
``question`` no call; the question repeated as the final answer
=========== ==================================================================

The ``echo`` and ``spam`` agents read the gold data from the pack (like
:class:`~astra_gym.agents.OracleAgent`), by the task id the env reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from ..agents.base import Action, Message
from ..agents.random_agent import random_value
from ..argcheck import ArgumentValidator
from ..pack import Pack, Task

__all__ = ["ADVERSARIES", "DumpAgent", "EchoAgent", "GuessAgent", "QuestionAgent", "SpamAgent"]

_GUESS_TURNS = 3


def _message(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"adv_{index}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)}}
        for index, (name, args) in enumerate(calls)]}


def _chunks(calls: list[tuple[str, dict[str, Any]]], size: int = 16) -> list[Action]:
    return [_message(calls[start:start + size]) for start in range(0, len(calls), size)]


def _question(observation: list[Message]) -> str:
    return next((m["content"] for m in reversed(observation)
                 if m["role"] == "user" and isinstance(m.get("content"), str)), "")


class _Scripted:
    """Plays a list of turns prepared at reset, then a final answer."""

    def __init__(self) -> None:
        self._turns: list[Action] = []
        self._final: Callable[[], str] = lambda: "I don't know."

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        return self._turns.pop(0) if self._turns else self._final()


class SpamAgent(_Scripted):
    """The gold calls, each ``copies`` times in its hop's turn, then the gold final answer."""

    def __init__(self, pack: Pack, copies: int = 4) -> None:
        super().__init__()
        self.pack, self.copies = pack, copies

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        task = self.pack.task(info["task_id"])
        hops: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        for sub in task.subtasks:
            if sub.gold_call is not None:
                hops.setdefault(sub.hop_level, []).extend(
                    [(sub.gold_call.name, sub.gold_call.arguments)] * self.copies)
        self._turns = [turn for hop in sorted(hops) for turn in _chunks(hops[hop])]
        self._final = lambda: task.final_answer or "; ".join(s.answer for s in task.subtasks)


def _guessed_calls(tools: list[dict[str, Any]], rng: np.random.Generator
                   ) -> list[list[tuple[str, dict[str, Any]]]]:
    turns = []
    for _ in range(_GUESS_TURNS):
        turn = []
        for tool in tools:
            function = tool["function"]
            turn.append((function["name"], random_value(function["parameters"], rng)))
        turns.append(turn)
    return turns


class GuessAgent(_Scripted):
    """Every tool with seeded, schema-valid guessed arguments, three turns; then gives up."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.seed = seed

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        rng = np.random.default_rng(self.seed)
        self._turns = [turn for calls in _guessed_calls(info["tools"], rng)
                       for turn in _chunks(calls)]


class DumpAgent(GuessAgent):
    """The guessed calls, then every tool result and the question as the final answer."""

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        super().reset(observation, info)
        question = _question(observation)
        seen: list[str] = []
        self._seen = seen
        self._final = lambda: "\n".join([*seen, question])

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        self._seen.extend(m["content"] for m in observation if m.get("role") == "tool")
        return super().act(observation, info)


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _echo_arguments(schema: dict[str, Any], base: dict[str, Any], answer: str,
                    rng: np.random.Generator) -> dict[str, Any] | None:
    """``base`` (or guessed arguments) with the answer in every text (or numeric) property."""
    arguments = dict(base) if base else random_value(schema, rng)
    if not isinstance(arguments, dict):
        return None
    numeric = _is_number(answer)
    changed = False
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        kinds = kind if isinstance(kind, list) else [kind]
        if "string" in kinds or kind is None:
            arguments[name] = answer
            changed = True
        elif numeric and ("number" in kinds or "integer" in kinds):
            value = float(answer.replace(",", ""))
            arguments[name] = int(value) if "integer" in kinds and value.is_integer() else value
            changed = True
    if not changed or not ArgumentValidator(schema).is_valid(arguments):
        return None
    return arguments


class EchoAgent(_Scripted):
    """Passes each gold answer as the arguments of the tool meant to find it.

    For a sub-task with a gold call: its tool, with the gold arguments, every
    text property set to the answer. For an answer-only sub-task: every tool.
    Calls the schema refuses are skipped. Then the gold final answer.
    """

    def __init__(self, pack: Pack, seed: int = 0) -> None:
        super().__init__()
        self.pack, self.seed = pack, seed

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        task: Task = self.pack.task(info["task_id"])
        rng = np.random.default_rng(self.seed)
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in info["tools"]}
        calls = []
        for sub in task.subtasks:
            if not sub.needs_tool:
                continue
            if sub.gold_call is not None:
                targets = [(sub.gold_call.name, sub.gold_call.arguments)]
            else:
                targets = [(name, {}) for name in schemas]
            for name, base in targets:
                if name not in schemas:
                    continue
                arguments = _echo_arguments(schemas[name], base, sub.answer, rng)
                if arguments is not None:
                    calls.append((name, arguments))
        self._turns = _chunks(calls)
        self._final = lambda: task.final_answer or "; ".join(s.answer for s in task.subtasks)


class QuestionAgent(_Scripted):
    """No call: repeats the question as its final answer."""

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        question = _question(observation)
        self._final = lambda: question


#: name -> (factory(pack, seed), whether a success counts in its score).
#: ``spam`` replays the gold path, so its success is earned; only its F1 is scored.
ADVERSARIES: dict[str, tuple[Callable[[Pack, int], Any], bool]] = {
    "spam": (lambda pack, seed: SpamAgent(pack), False),
    "guess": (lambda pack, seed: GuessAgent(seed), True),
    "echo": (lambda pack, seed: EchoAgent(pack, seed), True),
    "dump": (lambda pack, seed: DumpAgent(seed), True),
    "question": (lambda pack, seed: QuestionAgent(), True),
}
