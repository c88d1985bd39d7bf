"""A Hypothesis state machine that checks an astra env's invariants under random play.

:class:`AstraEnvMachine` resets the env (random seeds, sometimes a chosen
``task_id``) and steps it with generated turns in every action format,
malformed turns and final answers, in random interleavings; after every rule
it checks what must always hold:

* observations are in ``observation_space``;
* a step answers every call attempt with exactly one ``role: "tool"``
  message (``len(info["calls"]) == len(observation)``), in order, with
  ``tool_call_id`` values unique within the step;
* a step is terminated exactly when it holds no call attempt;
* ``0 <= recall, precision, f1 <= 1``, ``calls >= invalid_calls``, and
  ``calls`` grows by the number of call attempts (it never decreases within
  an episode);
* rewards are finite and in ``[-1, 1]``; in the dense ``f1`` mode an
  episode's rewards sum to the last ``reward_components["f1"]``;
* ``env.unwrapped.messages`` grows by the assistant turn plus the tool
  messages on every step;
* once an episode is terminated or truncated, ``step`` raises
  ``RuntimeError`` (and changes nothing) until the next ``reset``.

:func:`env_machine` binds the machine to an env factory::

    TestMyPack = env_machine(lambda: gym.make("astra/mypack-v0")).TestCase
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
from hypothesis import settings as Settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from .strategies import action_texts, final_answers, malformed_tool_calls

__all__ = ["AstraEnvMachine", "env_machine"]

#: Absolute tolerance of the dense-F1 telescoping check.
F1_TOLERANCE = 1e-9
_SEEDS = st.one_of(st.none(), st.integers(0, 2**31 - 1))


@dataclass
class _Step:
    """What the last rule saw, for the invariants."""

    kind: str  # "reset" or "step"
    observation: Any
    info: dict[str, Any]
    reward: float = 0.0
    terminated: bool = False
    truncated: bool = False
    messages_before: int = 0
    calls_before: int = 0
    invalid_before: int = 0
    turn_before: int = 0


class AstraEnvMachine(RuleBasedStateMachine):
    """Random resets and steps of an env, with its invariants checked after every rule.

    Subclass it with :func:`env_machine` (or set :attr:`env_factory` on a
    subclass) and run its ``TestCase`` under pytest or unittest. The env must
    behave like :class:`~astra_gym.env.AstraEnv`: observations are message
    lists, ``info["tools"]`` holds the OpenAI tool list, ``info["calls"]`` and
    ``info["reward_components"]`` are reported on every step, and
    ``env.unwrapped`` has ``messages`` (and, optionally, ``task_ids`` and
    ``reward_mode``).

    Attributes:
        env_factory: Builds the env under test (one per run of the machine).
    """

    env_factory: ClassVar[Callable[[], gym.Env] | None] = None

    def __init__(self) -> None:
        super().__init__()
        factory = type(self).env_factory
        if factory is None:
            raise TypeError("AstraEnvMachine needs an env factory: use "
                            "env_machine(lambda: gym.make(...)).TestCase")
        self.env = factory()
        self.base: Any = self.env.unwrapped
        self.tools: list[dict[str, Any]] = []
        self.done = False
        self.episode_return = 0.0
        self.last: _Step | None = None

    # -- helpers -----------------------------------------------------------------------------
    def _components(self) -> dict[str, Any]:
        if self.last is None or self.last.kind == "reset":
            return {"calls": 0, "invalid_calls": 0}
        return self.last.info["reward_components"]

    def _gold_calls(self) -> list[tuple[str, dict[str, Any]]]:
        """The current task's gold calls (``env.unwrapped.task.subtasks``), if the env has any."""
        task = getattr(self.base, "task", None)
        calls = []
        for subtask in getattr(task, "subtasks", ()) or ():
            gold = getattr(subtask, "gold_call", None)
            if gold is not None:
                calls.append((gold.name, dict(gold.arguments)))
        return calls

    def _reset(self, seed: int | None, data: st.DataObject) -> None:
        options = None
        task_ids = tuple(getattr(self.base, "task_ids", ()) or ())
        if task_ids:
            task_id = data.draw(st.one_of(st.none(), st.sampled_from(task_ids)), label="task_id")
            if task_id is not None:
                options = {"task_id": task_id}
        observation, info = self.env.reset(seed=seed, options=options)
        assert isinstance(info.get("tools"), list), "reset info has no 'tools' list"
        if options is not None:
            assert info.get("task_id") == options["task_id"], (
                f"reset(options={options}) started task {info.get('task_id')!r}")
        self.tools = info["tools"]
        self.done = False
        self.episode_return = 0.0
        self.last = _Step("reset", observation, info)

    def _step(self, action: Any) -> _Step:
        components = self._components()
        turn_before = 0 if self.last is None or self.last.kind == "reset" else \
            self.last.info.get("turn", 0)
        messages_before = len(self.base.messages)
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.last = _Step("step", observation, info, reward, terminated, truncated,
                          messages_before, components["calls"], components["invalid_calls"],
                          turn_before)
        self.done = bool(terminated or truncated)
        self.episode_return += float(reward)
        return self.last

    # -- rules -------------------------------------------------------------------------------
    @initialize(seed=st.integers(0, 2**31 - 1), data=st.data())
    def first_reset(self, seed: int, data: st.DataObject) -> None:
        """Every run starts with a seeded reset (later ones may pass ``seed=None``).

        The first seed must be drawn: an unseeded env draws its task from OS
        entropy, and Hypothesis needs every run to replay exactly.
        """
        self._reset(seed, data)

    @rule(seed=_SEEDS, data=st.data())
    def reset(self, seed: int | None, data: st.DataObject) -> None:
        """Reset at any time, mid-episode included."""
        self._reset(seed, data)

    @precondition(lambda self: not self.done)
    @rule(data=st.data())
    def step_any_turn(self, data: st.DataObject) -> None:
        """Step with a generated turn in any action format (final answers included)."""
        self._step(data.draw(action_texts(self.tools), label="action"))

    @precondition(lambda self: not self.done)
    @rule(data=st.data())
    def step_malformed_turn(self, data: st.DataObject) -> None:
        """Step with a broken turn."""
        self._step(data.draw(malformed_tool_calls(self.tools), label="action"))

    @precondition(lambda self: not self.done)
    @rule(data=st.data())
    def step_final_answer(self, data: st.DataObject) -> None:
        """A turn without any call attempt ends the episode."""
        step = self._step(data.draw(final_answers(self.tools), label="action"))
        assert step.terminated, "a final answer did not terminate the episode"
        assert step.observation == [], f"a final answer got tool messages {step.observation}"
        assert "final_answer" in step.info, "info has no 'final_answer' on the final turn"

    @precondition(lambda self: not self.done and bool(self._gold_calls()))
    @rule(data=st.data())
    def step_gold_calls(self, data: st.DataObject) -> None:
        """Step with some of the task's gold calls, so that rewards move (and F1 rises)."""
        gold = self._gold_calls()
        chosen = data.draw(st.lists(st.sampled_from(gold), min_size=1, max_size=3),
                           label="gold calls")
        if data.draw(st.booleans(), label="as text"):
            action: Any = "\n".join(
                "<tool_call>" + json.dumps({"name": name, "arguments": arguments},
                                           ensure_ascii=False) + "</tool_call>"
                for name, arguments in chosen)
        else:
            action = {"role": "assistant", "content": None, "tool_calls": [
                {"id": f"call_gold_{index}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(arguments)}}
                for index, (name, arguments) in enumerate(chosen)]}
        step = self._step(action)
        assert not step.terminated and len(step.observation) == len(chosen)
        kinds = {call["error_kind"] for call in step.info["calls"]}
        assert not kinds & {"parse_error", "unknown_tool", "invalid_arguments"}, (
            f"a gold call was refused: {step.observation}")

    @precondition(lambda self: self.done)
    @rule(data=st.data())
    def step_after_the_end_raises(self, data: st.DataObject) -> None:
        """After ``terminated``/``truncated``, ``step`` raises until ``reset``."""
        action = data.draw(st.one_of(action_texts(self.tools), final_answers(self.tools)),
                           label="action")
        messages = len(self.base.messages)
        try:
            self.env.step(action)
        except RuntimeError:
            pass
        else:
            raise AssertionError("step() after the episode ended did not raise RuntimeError")
        assert len(self.base.messages) == messages, "a refused step changed the transcript"

    # -- invariants ------------------------------------------------------------------------------
    @invariant()
    def observation_is_in_the_space(self) -> None:
        if self.last is not None:
            assert self.last.observation in self.env.observation_space, (
                f"observation not in {self.env.observation_space}: {self.last.observation!r}"
                [:500])

    @invariant()
    def one_tool_message_per_call_attempt(self) -> None:
        step = self.last
        if step is None or step.kind != "step":
            return
        calls = step.info["calls"]
        assert len(calls) == len(step.observation), (
            f"{len(calls)} call attempts but {len(step.observation)} tool messages")
        for message, call in zip(step.observation, calls, strict=True):
            assert message["role"] == "tool", f"a step returned a {message['role']!r} message"
            assert message.get("tool_call_id") == call["id"], (
                f"tool message id {message.get('tool_call_id')!r} != call id {call['id']!r}")

    @invariant()
    def tool_call_ids_are_unique(self) -> None:
        step = self.last
        if step is None or step.kind != "step":
            return
        ids = [message.get("tool_call_id") for message in step.observation]
        assert len(set(ids)) == len(ids), f"duplicate tool_call_id in one step: {ids}"

    @invariant()
    def terminated_exactly_without_call_attempts(self) -> None:
        step = self.last
        if step is None or step.kind != "step":
            return
        assert step.terminated == (not step.observation), (
            f"terminated={step.terminated} with {len(step.observation)} call attempts")
        assert not (step.terminated and step.truncated), "both terminated and truncated"
        assert step.info["turn"] == step.turn_before + 1, "info['turn'] did not count the step"
        max_turns = getattr(self.base, "max_turns", None)
        if isinstance(max_turns, int) and not step.terminated:
            assert step.truncated == (step.info["turn"] >= max_turns), (
                f"truncated={step.truncated} at turn {step.info['turn']} of {max_turns}")

    @invariant()
    def reward_components_are_consistent(self) -> None:
        step = self.last
        if step is None or step.kind != "step":
            return
        parts = step.info["reward_components"]
        for name in ("recall", "precision", "f1"):
            assert 0.0 <= parts[name] <= 1.0, f"{name} = {parts[name]} is outside [0, 1]"
        assert 0 <= parts["n_solved"] <= parts["n"], f"n_solved out of range: {parts}"
        assert parts["calls"] >= parts["invalid_calls"] >= 0, f"more invalid calls: {parts}"
        assert parts["calls"] == step.calls_before + len(step.observation), (
            f"calls went from {step.calls_before} to {parts['calls']} with "
            f"{len(step.observation)} call attempts")
        assert step.invalid_before <= parts["invalid_calls"] <= (
            step.invalid_before + len(step.observation)), (
            f"invalid_calls went from {step.invalid_before} to {parts['invalid_calls']}")

    @invariant()
    def rewards_are_bounded(self) -> None:
        step = self.last
        if step is None or step.kind != "step":
            return
        assert isinstance(step.reward, float) and math.isfinite(step.reward), step.reward
        assert -1.0 <= step.reward <= 1.0, f"reward {step.reward} is outside [-1, 1]"

    @invariant()
    def dense_f1_rewards_sum_to_the_f1(self) -> None:
        step = self.last
        if step is None or step.kind != "step" or getattr(self.base, "reward_mode",
                                                          None) != "f1":
            return
        f1 = step.info["reward_components"]["f1"]
        assert abs(self.episode_return - f1) <= F1_TOLERANCE, (
            f"the episode's rewards sum to {self.episode_return!r}, its F1 is {f1!r}")

    @invariant()
    def transcript_grows_by_the_turn_and_its_tool_messages(self) -> None:
        step = self.last
        if step is None:
            return
        messages = self.base.messages
        if step.kind == "reset":
            assert len(messages) == len(step.observation), (
                "after reset, env.messages is not the reset observation")
            return
        assert len(messages) == step.messages_before + 1 + len(step.observation), (
            f"env.messages grew from {step.messages_before} to {len(messages)} with "
            f"{len(step.observation)} tool messages")
        assert messages[step.messages_before]["role"] == "assistant", (
            "the step's first transcript message is not the assistant turn")

    def teardown(self) -> None:
        self.env.close()


def env_machine(env_factory: Callable[[], gym.Env], *,
                settings: Settings | None = None,
                name: str = "EnvMachine") -> type[AstraEnvMachine]:
    """An :class:`AstraEnvMachine` subclass bound to an env factory.

    Args:
        env_factory: Builds a fresh env (called once per run of the machine;
            the env is closed at the end of the run).
        settings: Hypothesis settings for the machine (e.g.
            ``settings(max_examples=25, stateful_step_count=15, deadline=None)``);
            they can also be set later on its ``TestCase``.
        name: The subclass's name (shown in failure reports).

    Returns:
        The machine class; its ``TestCase`` attribute is a
        :class:`unittest.TestCase` that pytest collects when assigned to a
        ``Test*`` name.
    """
    machine = type(name, (AstraEnvMachine,), {"env_factory": staticmethod(env_factory),
                                              "__module__": AstraEnvMachine.__module__})
    if settings is not None:
        machine = settings(machine)
    return machine
