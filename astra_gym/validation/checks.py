"""The validation checks: small named functions, one property of a sound env each.

Every check takes a :class:`TaskContext` (one task of one env) and returns
nothing when the property holds; it raises :class:`CheckFailed` with a
message that says what is wrong and where to look when it does not. Any other
exception means the check itself could not run (``errored``).

The checks and what they catch:

============== ==============================================================
gold           the gold calls, hop by hop, solve every sub-task: success, F1 1
noop           answering at once (or repeating the question) earns nothing
floor          a seeded random agent stays far below the gold return
determinism    same seed and actions, same transcript (also in another process
               with another PYTHONHASHSEED); tool results do not depend on the
               episode seed
leakage        no gold answer in the prompt, system prompt or any tool doc
schema_agreement every tool's JSON Schema agrees with its function signature
fuzz           schema-valid arguments never crash a tool; invalid ones never
               reach it; arbitrary and malformed turns never break the env
isolation      an episode leaves no state behind for the next reset
check_env      Gymnasium's own checker, on the env made through ``gym.make``
============== ==============================================================
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from ..agents.oracle import OracleAgent
from ..agents.random_agent import RandomAgent
from ..answers import contains_answer
from ..env import AstraEnv
from ..runner import run_episode
from ..toolspec import read_signature, schema_problems, signature_problems

__all__ = ["CHECKS", "CheckFailed", "CheckOptions", "TaskContext", "episode_digest"]

#: Error kinds a schema-valid call may end in without the tool being broken:
#: a deliberate ``ValueError`` (defensive validation) or a calling-convention
#: mismatch (``bad_arguments``, which ``schema_agreement`` reports).
_ACCEPTED_FAILURES = ("bad_arguments",)
_DELIBERATE_EXCEPTIONS = ("ValueError",)


class CheckFailed(AssertionError):
    """A check found the property violated; the message says how."""


@dataclass(frozen=True)
class CheckOptions:
    """Knobs shared by the checks.

    Attributes:
        seed: Base seed for episodes and agents.
        max_examples: Hypothesis examples per tool (and for action texts) in ``fuzz``.
        floor_episodes: Random-agent episodes in ``floor``.
        floor_ratio: ``floor`` fails when the random agent's mean return
            reaches this fraction of the gold return.
    """

    seed: int = 0
    max_examples: int = 25
    floor_episodes: int = 5
    floor_ratio: float = 0.5


@dataclass
class TaskContext:
    """One task of one registered env, as the checks see it.

    Attributes:
        env_id: A registered astra env id.
        task_id: The task.
        options: Check options.
        reference_digest: The task's episode digest computed in another
            process (for ``determinism``), when available.
    """

    env_id: str
    task_id: str
    options: CheckOptions = field(default_factory=CheckOptions)
    reference_digest: str | None = None

    def make(self, **kwargs: Any) -> AstraEnv:
        """A fresh env restricted to this task (the unwrapped env of ``gym.make``)."""
        return gym.make(self.env_id, task_ids=[self.task_id], **kwargs).unwrapped


def episode_digest(env_factory: Callable[[], AstraEnv], task_id: str, seed: int) -> str:
    """A digest of two scripted episodes (random agent, then oracle), each on a fresh env.

    Args:
        env_factory: Makes an env of the task.
        task_id: The task.
        seed: Episode and agent seed.

    Returns:
        The JSON text of both transcripts and reward lists: equal digests mean
        byte-identical episodes.
    """
    record = []
    for make_agent in (lambda env: RandomAgent(seed=seed), lambda env: OracleAgent(env.pack)):
        env = env_factory()
        try:
            result = run_episode(env, make_agent(env), seed=seed, task_id=task_id)
            record.append({"messages": env.messages, "rewards": list(result.rewards)})
        finally:
            env.close()
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


# -- the checks ----------------------------------------------------------------------

def check_gold(ctx: TaskContext) -> None:
    """Replaying the gold calls solves every sub-task; success and an F1 return of 1."""
    env = ctx.make()
    try:
        result = run_episode(env, OracleAgent(env.pack), seed=ctx.options.seed,
                             task_id=ctx.task_id)
        task = env.task
    finally:
        env.close()
    assert task is not None
    solved = set(result.components["solved"])
    missing = [f"{sub.id} (answer {sub.answer!r}, gold call "
               f"{sub.gold_call.name if sub.gold_call else 'none'})"
               for sub in task.subtasks if sub.needs_tool and sub.id not in solved]
    if missing:
        raise CheckFailed(f"the gold calls leave sub-task(s) unsolved: {'; '.join(missing)}. "
                          "Replay them with `astra-gym run --agent oracle` and read the tool "
                          "results: the answer must appear in a successful result")
    if abs(result.reward - 1.0) > 1e-9 or abs(result.components["f1"] - 1.0) > 1e-9:
        raise CheckFailed(f"the gold replay returned {result.reward:.6f} (F1 "
                          f"{result.components['f1']:.6f}), not 1.0")
    if not result.success:
        raise CheckFailed(f"the gold replay solved every sub-task but is not a success: the "
                          f"final answer {task.final_answer!r} was not accepted")


def check_noop(ctx: TaskContext) -> None:
    """Answering at once earns nothing; repeating the question is not a success."""
    env = ctx.make()
    try:
        observation, _ = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        question = next(m["content"] for m in reversed(observation) if m["role"] == "user")
        for answer in ("I don't know.", question):
            env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
            _, reward, terminated, _, info = env.step(answer)
            if not terminated:
                raise CheckFailed(f"a turn without tool calls ({answer[:40]!r}) did not end "
                                  "the episode")
            if reward != 0.0 or info["success"]:
                raise CheckFailed(f"answering at once with {answer[:60]!r} earned reward "
                                  f"{reward} (success {info['success']}); a task must need "
                                  "its tools")
    finally:
        env.close()


def check_floor(ctx: TaskContext) -> None:
    """A seeded random agent stays far below the gold return (1.0)."""
    env = ctx.make()
    agent = RandomAgent(seed=ctx.options.seed)
    returns = []
    try:
        for episode in range(ctx.options.floor_episodes):
            returns.append(run_episode(env, agent, seed=ctx.options.seed + episode,
                                       task_id=ctx.task_id).reward)
    finally:
        env.close()
    mean = sum(returns) / len(returns)
    if mean >= ctx.options.floor_ratio:
        raise CheckFailed(f"a random agent averages {mean:.3f} over {len(returns)} episodes "
                          f"(>= {ctx.options.floor_ratio} of the gold return 1.0): random calls "
                          "find the answers, so the task rewards luck")


def check_determinism(ctx: TaskContext) -> None:
    """Same seed and actions give the same transcript, here and in another process."""
    seed = ctx.options.seed
    first = hashlib.sha256(episode_digest(ctx.make, ctx.task_id, seed).encode()).hexdigest()
    second = hashlib.sha256(episode_digest(ctx.make, ctx.task_id, seed).encode()).hexdigest()
    if second != first:
        raise CheckFailed("two runs with the same seed and actions gave different transcripts "
                          "in this process")
    if ctx.reference_digest is not None and ctx.reference_digest != first:
        raise CheckFailed("the same seed and actions gave a different transcript in a process "
                          "with another PYTHONHASHSEED")
    outputs = []
    for episode_seed in (seed, seed + 1):
        env = ctx.make()
        try:
            run_episode(env, OracleAgent(env.pack), seed=episode_seed, task_id=ctx.task_id)
            outputs.append([m["content"] for m in env.messages if m["role"] == "tool"])
        finally:
            env.close()
    if outputs[0] != outputs[1]:
        changed = next(i for i, (a, b) in enumerate(zip(*outputs, strict=False)) if a != b)
        raise CheckFailed(f"gold call {changed + 1} returns different results under different "
                          f"episode seeds ({outputs[0][changed][:80]!r} vs "
                          f"{outputs[1][changed][:80]!r}): the tool depends on the sandbox's "
                          "random generator; tools must be functions of their arguments")


def check_leakage(ctx: TaskContext) -> None:
    """No gold sub-answer or final answer appears where the agent can read it."""
    env = ctx.make()
    try:
        observation, _ = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        task = env.task
    finally:
        env.close()
    assert task is not None
    places = [(f"{m['role']} message", m["content"]) for m in observation]
    for tool in task.all_tools:
        places.append((f"tool {tool.name!r} (name and description)",
                       f"{tool.name}: {tool.description}"))
        places.append((f"tool {tool.name!r} (parameters)",
                       json.dumps(tool.parameters, ensure_ascii=False)))
    answers = [(f"sub-task {sub.id}", sub.answer) for sub in task.subtasks]
    if task.final_answer:
        answers.append(("the final answer", task.final_answer))
    leaks = [f"{label} {answer!r} appears in the {where}"
             for label, answer in answers for where, text in places
             if contains_answer(text, answer)]
    if leaks:
        raise CheckFailed("; ".join(leaks[:5]) + (f" (and {len(leaks) - 5} more)"
                                                  if len(leaks) > 5 else ""))


def check_schema_agreement(ctx: TaskContext) -> None:
    """Every tool's JSON Schema is valid and agrees with its function's signature."""
    env = ctx.make()
    try:
        task = env.pack.task(ctx.task_id)
    finally:
        env.close()
    problems = []
    for tool in task.all_tools:
        problems += [f"tool {tool.name!r}: {p}" for p in schema_problems(tool.parameters)]
        try:
            signature = read_signature(tool.source, tool.function)
        except SyntaxError as exc:
            problems.append(f"tool {tool.name!r}: the source does not parse ({exc.msg})")
            continue
        if signature is None:
            problems.append(f"tool {tool.name!r}: the source defines no function "
                            f"{tool.function!r}")
            continue
        problems += [f"tool {tool.name!r}: {p}"
                     for p in signature_problems(signature, tool.parameters)]
    if problems:
        raise CheckFailed("; ".join(problems))


def _call_message(name: str, arguments: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "fuzz", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}]}


def _crash(record: dict[str, Any], message: str) -> str | None:
    """Why a schema-valid call's outcome means a broken tool, or None."""
    kind = record["error_kind"]
    if record["ok"] or kind in _ACCEPTED_FAILURES:
        return None
    if kind == "exception" and message.removeprefix("Error: ").split(":", 1)[0].split(" (")[
            0] in _DELIBERATE_EXCEPTIONS:
        return None
    return f"{kind}: {message[:200]}"


def check_fuzz(ctx: TaskContext) -> None:
    """Generated arguments and turns: tools do not crash, the env does not break."""
    try:
        from hypothesis import HealthCheck, given, settings

        from ..testing.strategies import (
            action_texts,
            arguments,
            invalid_arguments,
            malformed_tool_calls,
        )
    except ImportError as exc:  # pragma: no cover - hypothesis is a dev/testing extra
        raise RuntimeError("the fuzz check needs hypothesis: pip install "
                           f"'astra-gym[testing]' ({exc})") from None
    env = ctx.make()
    examples = settings(max_examples=ctx.options.max_examples, deadline=None, database=None,
                        derandomize=True, suppress_health_check=list(HealthCheck))

    def fresh_step(action: Any) -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
        env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        observation, reward, _, _, info = env.step(action)
        return observation, reward, info

    def tool_properties(name: str, schema: dict[str, Any]) -> list[Callable[[], None]]:
        @examples
        @given(arguments(schema))
        def valid_arguments_do_not_crash(args: Any) -> None:
            observation, _, info = fresh_step(_call_message(name, args))
            assert len(observation) == 1 and observation[0]["role"] == "tool"
            crash = _crash(info["calls"][0], observation[0]["content"])
            assert crash is None, f"tool {name!r} with {args!r} -> {crash}"

        @examples
        @given(invalid_arguments(schema))
        def invalid_arguments_never_reach_the_tool(args: Any) -> None:
            observation, _, info = fresh_step(_call_message(name, args))
            # Not an object at all is a parse error; a bad object fails the schema.
            assert info["calls"][0]["error_kind"] in ("invalid_arguments", "parse_error"), (
                f"tool {name!r} accepted schema-invalid arguments {args!r}")
            assert observation[0]["content"].startswith("Error: ")

        return [valid_arguments_do_not_crash, invalid_arguments_never_reach_the_tool]

    try:
        _, info = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        tools = info["tools"]

        @examples
        @given(action_texts(tools) | malformed_tool_calls(tools))
        def any_turn_is_handled(action: Any) -> None:
            observation, reward, info = fresh_step(action)
            assert observation in env.observation_space
            assert len(observation) == len(info["calls"])
            assert all(m["role"] == "tool" for m in observation)
            assert -1.0 <= reward <= 1.0

        with warnings.catch_warnings():
            # Strategies built from a task's tool list have huge reprs; hypothesis
            # warns when it formats them, which says nothing about the env.
            warnings.filterwarnings("ignore", message="Generating overly large repr")
            for tool in tools:
                for prop in tool_properties(tool["function"]["name"],
                                            tool["function"]["parameters"]):
                    prop()
            any_turn_is_handled()
    except AssertionError as exc:
        notes = "; ".join(getattr(exc, "__notes__", []))
        raise CheckFailed(f"{exc}{' [' + notes + ']' if notes else ''}") from None
    finally:
        env.close()


def check_isolation(ctx: TaskContext) -> None:
    """An episode leaves no state behind: the next reset replays identically."""
    seed = ctx.options.seed
    env = ctx.make()
    try:
        transcripts = []
        for _ in range(2):
            for agent in (OracleAgent(env.pack), RandomAgent(seed=seed)):
                run_episode(env, agent, seed=seed, task_id=ctx.task_id)
                transcripts.append(json.dumps(env.messages, ensure_ascii=False))
    finally:
        env.close()
    if transcripts[:2] != transcripts[2:]:
        raise CheckFailed("replaying the same episodes after a reset gave different "
                          "transcripts: state from an earlier episode (tool mock data, "
                          "module globals) leaked into the next one")


def check_gymnasium(ctx: TaskContext) -> None:
    """``gymnasium.utils.env_checker.check_env`` on the env made through ``gym.make``."""
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ctx.env_id, task_ids=[ctx.task_id])
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped)
    finally:
        env.close()
    if caught:
        raise CheckFailed("check_env warned: " + " | ".join(str(w.message) for w in caught))


#: Every check by name, in the order they run.
CHECKS: dict[str, Callable[[TaskContext], None]] = {
    "gold": check_gold,
    "noop": check_noop,
    "floor": check_floor,
    "determinism": check_determinism,
    "leakage": check_leakage,
    "schema_agreement": check_schema_agreement,
    "fuzz": check_fuzz,
    "isolation": check_isolation,
    "check_env": check_gymnasium,
}
