"""The validation checks: small named functions, one property of a sound env each.

Every check takes a :class:`TaskContext` (one task of one env) and returns
``None`` (or a dict of figures for the report) when the property holds; it
raises :class:`CheckFailed` with a message that says what is wrong and where to
look when it does not. Any other exception means the check itself could not
run (``errored``).

A check may also raise :class:`CheckWarning` (a finding that is reported but
does not fail validation, whatever the check's severity) or
:class:`NotApplicable` (the property cannot be checked on this task, and why).
Ids, severities and what each check guarantees are in
:mod:`astra_gym.validation.policy`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from ..agents.oracle import OracleAgent
from ..agents.random_agent import RandomAgent
from ..answers import contains_answer, find_answer
from ..argcheck import schema_key
from ..env import AstraEnv
from ..evidence import argument_values
from ..failures import INJECTED_FAILURE
from ..runner import run_episode
from ..toolspec import read_signature, schema_problems, signature_problems
from .adversaries import ADVERSARIES
from .policy import POLICY

__all__ = ["CHECKS", "CheckFailed", "CheckOptions", "CheckWarning", "NotApplicable",
           "TaskContext", "episode_digest"]

#: Error kinds a schema-valid call may end in without the tool being broken:
#: a deliberate ``ValueError`` (defensive validation), a calling-convention
#: mismatch (``bad_arguments``, which ``schema_agreement`` reports), or a failure
#: the env injected on purpose (``failures=``; the tool did not run).
_ACCEPTED_FAILURES = ("bad_arguments", INJECTED_FAILURE)
_DELIBERATE_EXCEPTIONS = ("ValueError",)

#: A wall-clock ``timeout`` (``process`` isolation only) is the one outcome that
#: depends on the machine rather than on the tool: a worker descheduled on a busy
#: host misses its deadline on a call that takes milliseconds on an idle one.
#: ``fuzz`` repeats such a step this many times and judges the last outcome, so
#: load does not fail a sound tool, while a tool that really runs past the limit
#: still times out every time and still fails.
_WALL_CLOCK_RETRIES = 2


class CheckFailed(AssertionError):
    """A check found the property violated; the message says how.

    Attributes:
        details: Figures behind the verdict (JSON data; in the report).
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class CheckWarning(Exception):
    """A finding worth reporting that does not fail validation (status ``warning``)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class NotApplicable(Exception):
    """The check cannot apply to this task; the message says why (status ``not_applicable``)."""



@dataclass(frozen=True)
class CheckOptions:
    """Knobs shared by the checks.

    Attributes:
        seed: Base seed for episodes and agents.
        max_examples: Generated inputs per property in ``fuzz`` (valid and invalid
            arguments of each tool, and turns), drawn in batches (at least this many).
        floor_episodes: Random-agent episodes in ``floor``.
        floor_ratio: ``floor`` fails when the random agent's mean return
            reaches this fraction of the gold return.
        gold_seeds: Episode seeds the gold path must succeed under
            (``seed``, ``seed + 1``, ...): a tool may draw from the sandbox's
            seeded RNG, but never so that the answer changes.
        gameability_margin: ``gameability`` fails when an adversary scores
            more than the gold return minus this.
        fuzz_seconds: Time box of the generated calls of one tool in ``fuzz``;
            past it, the check stops generating and warns, naming the tool.
    """

    seed: int = 0
    max_examples: int = 25
    floor_episodes: int = 5
    floor_ratio: float = 0.5
    gold_seeds: int = 3
    gameability_margin: float = 0.5
    fuzz_seconds: float = 60.0

    def __post_init__(self) -> None:
        # Refused here, once, not as an error of ``fuzz`` on every task.
        if isinstance(self.max_examples, bool) or not isinstance(self.max_examples, int) \
                or self.max_examples < 1:
            raise ValueError(f"max_examples must be a positive int (generated calls per "
                             f"property in fuzz), got {self.max_examples!r}")


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
    """Replaying the gold calls solves every sub-task under several seeds; success, F1 1."""
    env = ctx.make()
    try:
        task = env.pack.task(ctx.task_id)
        no_call = [sub.id for sub in task.subtasks if sub.needs_tool and sub.gold_call is None]
        if no_call:
            raise NotApplicable(
                f"sub-task(s) {', '.join(no_call)} have answers but no gold call (a released "
                "RL row): there are no calls to replay. The other checks still run; "
                "`astra-gym run --agent openai` or your own agent shows whether the task "
                "can be solved")
        for seed in range(ctx.options.seed, ctx.options.seed + ctx.options.gold_seeds):
            _gold_once(env, task, ctx.task_id, seed)
    finally:
        env.close()


def _gold_once(env: AstraEnv, task: Any, task_id: str, seed: int) -> None:
    result = run_episode(env, OracleAgent(env.pack), seed=seed, task_id=task_id)
    where = f"under episode seed {seed} (reset(seed={seed}))"
    solved = set(result.components["solved"])
    missing = [f"{sub.id} (answer {sub.answer!r}, gold call "
               f"{sub.gold_call.name if sub.gold_call else 'none'})"
               for sub in task.subtasks if sub.needs_tool and sub.id not in solved]
    if missing:
        raise CheckFailed(f"{where}, the gold calls leave sub-task(s) unsolved: "
                          f"{'; '.join(missing)}. Replay them with `astra-gym run --agent "
                          "oracle` and read the tool results: the answer must appear in a "
                          "successful, not error-shaped result, and not only where the result "
                          "repeats the call's arguments (docs/env.md)")
    if abs(result.reward - 1.0) > 1e-9 or abs(result.components["f1"] - 1.0) > 1e-9:
        raise CheckFailed(f"{where}, the gold replay returned {result.reward:.6f} (F1 "
                          f"{result.components['f1']:.6f}), not 1.0")
    if not result.success:
        raise CheckFailed(f"{where}, the gold replay solved every sub-task but is not a "
                          f"success: the final answer {task.final_answer!r} was not accepted")


def check_noop(ctx: TaskContext) -> None:
    """Answering at once earns nothing; repeating the question is not a success."""
    env = ctx.make()
    try:
        observation, _ = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        question = next(m["content"] for m in reversed(observation) if m["role"] == "user")
        user_turns = 1 + len(env.pack.task(ctx.task_id).turns)
        for answer in ("I don't know.", question):
            env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
            reward, terminated = 0.0, False
            for _ in range(user_turns):  # every user turn answered without a call
                _, step, terminated, _, info = env.step(answer)
                reward += step
                if terminated:
                    break
            if not terminated:
                turns = ("a turn" if user_turns == 1 else
                         f"{user_turns} user turns each answered")
                raise CheckFailed(f"{turns} without tool calls ({answer[:40]!r}) did not end "
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


def check_gameability(ctx: TaskContext) -> dict[str, Any]:
    """Scripted reward hackers stay a clear margin below the gold return (1.0).

    Each adversary of :mod:`astra_gym.validation.adversaries` plays one
    episode. Its score is its F1 return, or 1.0 when the episode is a success
    (an ``outcome`` reward would pay that), except for ``spam``, which replays
    the gold path and has earned its success: only its F1 counts. The gap is
    the gold return minus the best score; the check fails when it is below
    ``gameability_margin``.
    """
    # Injected failures (failures=) forgive failed calls at random, adversaries' too: the
    # margin is measured on the task itself, without that noise.
    env = ctx.make(reward="f1", failures=None)
    scores: dict[str, float] = {}
    try:
        for name, (make_agent, success_counts) in ADVERSARIES.items():
            result = run_episode(env, make_agent(env.pack, ctx.options.seed),
                                 seed=ctx.options.seed, task_id=ctx.task_id)
            score = float(result.components["f1"])
            if success_counts and result.success:
                score = 1.0
            scores[name] = round(score, 6)
    finally:
        env.close()
    best = max(scores, key=lambda name: scores[name])
    gap = round(1.0 - scores[best], 6)
    details = {"gap": gap, "scores": scores}
    if gap < ctx.options.gameability_margin:
        raise CheckFailed(
            f"the {best!r} adversary scores {scores[best]:.3f} against the gold return 1.0 "
            f"(gap {gap:.3f} < margin {ctx.options.gameability_margin}); scores: "
            + ", ".join(f"{name} {value:.3f}" for name, value in scores.items())
            + ". " + _GAMING_HINTS[best], details)
    return details


_GAMING_HINTS = {
    "spam": "Repeating calls is cheap here: a task with many sub-tasks per call keeps "
            "precision high; check the sub-task count",
    "guess": "Guessed arguments find the answers: the mock data answers almost any call, "
             "or a tool without required parameters returns the answer",
    "echo": "Passing the answer in makes a tool return it in a way the echo rule does not "
            "see (transformed, or in a field the tool derives from the argument)",
    "dump": "Guessed calls plus a dump of every result pass: the mock data gives the "
            "answers away to any call",
    "question": "Repeating the question is a success: the answers are in the prompt",
}


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


def check_seed_dependence(ctx: TaskContext) -> None:
    """Tool results of the gold path are the same under two episode seeds."""
    seed = ctx.options.seed
    outputs = []
    for episode_seed in (seed, seed + 1):
        env = ctx.make(failures=None)  # injected failures differ by seed on purpose
        try:
            run_episode(env, OracleAgent(env.pack), seed=episode_seed, task_id=ctx.task_id)
            outputs.append([m["content"] for m in env.messages if m["role"] == "tool"])
        finally:
            env.close()
    if outputs[0] != outputs[1]:
        changed = next(i for i, (a, b) in enumerate(zip(*outputs, strict=False)) if a != b)
        raise CheckFailed(f"gold call {changed + 1} returns different results under different "
                          f"episode seeds ({outputs[0][changed][:80]!r} vs "
                          f"{outputs[1][changed][:80]!r}): the tool draws from the sandbox's "
                          "seeded random generator. That is legitimate (the `gold` check runs "
                          "the gold path under several seeds), but it makes transcripts "
                          "seed-specific; make the tool a function of its arguments if it "
                          "need not be random")


def check_leakage(ctx: TaskContext) -> None:
    """No gold sub-answer or final answer appears where the agent can read it."""
    env = ctx.make()
    try:
        observation, info = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        task = env.task
        # Sampled distractors: the seed's episode lists a few; other episodes list others.
        possible = env.unwrapped.possible_distractors(ctx.task_id)
    finally:
        env.close()
    assert task is not None
    places = [(f"{m['role']} message", m["content"]) for m in observation]
    listed_names = {listed["function"]["name"] for listed in info["tools"]}
    unlisted = [(tool, "distractor tool {!r} (listed in other episodes; {})")
                for tool in possible if tool["function"]["name"] not in listed_names]
    # The task's tools and this episode's distractors as the agent sees them, then the rest.
    for listed, label in [*((tool, "tool {!r} ({})") for tool in info["tools"]), *unlisted]:
        tool = listed["function"]
        places.append((label.format(tool["name"], "name and description"),
                       f"{tool['name']}: {tool.get('description', '')}"))
        places.append((label.format(tool["name"], "parameters"),
                       json.dumps(tool.get("parameters", {}), ensure_ascii=False)))
    answers = [(f"sub-task {sub.id}", sub.answer) for sub in task.subtasks]
    if task.final_answer:
        answers.append(("the final answer", task.final_answer))
    leaks = [f"{label} {answer!r} appears in the {where}"
             for label, answer in answers for where, text in places
             if contains_answer(text, answer)]
    for sub in task.subtasks:
        # The solving rule never pays for an answer the call passed in itself: a gold call
        # that does cannot be solved, and tells the agent what the answer must be.
        if sub.gold_call is not None and any(
                find_answer(value, sub.answer)
                for value in argument_values(sub.gold_call.arguments)):
            leaks.append(f"sub-task {sub.id}'s gold call {sub.gold_call.name} passes its own "
                         f"answer {sub.answer!r} as an argument")
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


def _clip_repr(value: Any, limit: int = 120) -> str:
    """``repr(value)``, at most ``limit`` characters (a generated turn can be long)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _crash(record: dict[str, Any], message: str) -> str | None:
    """Why a schema-valid call's outcome means a broken tool, or None."""
    kind = record["error_kind"]
    if record["ok"] or kind in _ACCEPTED_FAILURES:
        return None
    if kind == "exception" and message.removeprefix("Error: ").split(":", 1)[0].split(" (")[
            0] in _DELIBERATE_EXCEPTIONS:
        return None
    return f"{kind}: {message[:200]}"


#: Outcomes of fuzzing one tool: ``key -> (failure message or None, time-box notes,
#: notes on failures that did not repeat)``.
#: Packs repeat tools across tasks (the demo pack: 161 tool slots, 114 distinct tools);
#: a tool's fuzz run depends only on its definition, the env and the options, and with
#: ``derandomize`` the same tool gets the same examples, so it runs once per process.
_FuzzOutcome = tuple[str | None, tuple[str, ...], tuple[str, ...]]
_TOOL_FUZZ: dict[tuple[Any, ...], _FuzzOutcome] = {}
_TOOL_FUZZ_SIZE = 4096


def _tool_fuzz_key(ctx: TaskContext, tool: Any) -> tuple[Any, ...]:
    options = ctx.options
    return (ctx.env_id, gym.spec(ctx.env_id).kwargs.get("pack"), tool.name, tool.function,
            tool.source, schema_key(tool.parameters), options.seed, options.max_examples,
            options.fuzz_seconds)


def _remember_tool_fuzz(key: tuple[Any, ...], outcome: _FuzzOutcome) -> None:
    if len(_TOOL_FUZZ) >= _TOOL_FUZZ_SIZE:
        _TOOL_FUZZ.pop(next(iter(_TOOL_FUZZ)))
    _TOOL_FUZZ[key] = outcome


def _failure_text(exc: AssertionError) -> str:
    notes = "; ".join(note for note in getattr(exc, "__notes__", [])
                      if not note.startswith("You can reproduce"))
    return f"{exc}{' [' + notes + ']' if notes else ''}"


def _unsteady_text(exc: BaseException) -> str:
    """What a hypothesis ``Flaky`` error says: the first failure, without the boilerplate."""
    inner = getattr(exc, "exceptions", ())
    first = inner[0] if inner else exc
    text = _failure_text(first) if isinstance(first, AssertionError) else repr(first)
    text = " ".join(text.split())
    return f"a generated call failed once and passed when repeated ({text[:300]})"


class _Defect(AssertionError):
    """A fuzz property found a defect.

    Raised explicitly, not with ``assert``: ``python -O`` strips assertions (the
    check would pass everything), and under pytest, which rewrites the asserts of
    an installed plugin's package, the message would change.
    """


#: Generated inputs per Hypothesis example in ``fuzz``. Hypothesis's own work per
#: example (about 1 ms here, more than the env step it wraps) is paid once for a batch;
#: drawing five inputs in one example costs about a third of five examples
#: (docs/benchmarks.md, "Validating the demo pack").
_FUZZ_BATCH = 5


def _fuzz_batch(inputs: int) -> int:
    """Generated inputs per Hypothesis example for ``inputs`` in all (``max_examples``)."""
    return min(_FUZZ_BATCH, inputs)


def _fuzz_examples(inputs: int) -> int:
    """Hypothesis examples for at least ``inputs`` generated inputs in batches.

    One more than the batches needed: Hypothesis's first example is the simplest
    one, whose batch repeats a single input (see :func:`_distinct`).
    """
    batch = _fuzz_batch(inputs)
    return -(-inputs // batch) + (batch > 1)


def _distinct(drawn: list[Any]) -> list[Any]:
    """``drawn`` without repeats (by ``repr``, so ``1``, ``1.0`` and ``True`` differ).

    A repeated input replays a step already judged (each starts from a fresh reset).
    Repeats are dropped only within one batch, never across examples: Hypothesis
    replays a failing example to confirm it, and that replay must make the same calls.
    """
    seen: set[str] = set()
    out = []
    for value in drawn:
        key = repr(value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


class _OutOfTime(Exception):
    """The fuzz time box of one property is spent."""


def check_fuzz(ctx: TaskContext) -> None:
    """Generated arguments and turns: tools do not crash, the env does not break."""
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
        from hypothesis.errors import Flaky

        from ..testing.strategies import (
            action_texts,
            arguments,
            invalid_arguments,
            malformed_tool_calls,
        )
    except ImportError as exc:  # pragma: no cover - hypothesis is a runtime dependency
        raise RuntimeError(f"the fuzz check needs hypothesis: pip install hypothesis ({exc})"
                           ) from None
    env = ctx.make()
    # No shrinking: a failing example is reported as found. Shrinking re-runs the tool
    # hundreds of times, and a tool that exhausts its time budget made that take minutes.
    batch = _fuzz_batch(ctx.options.max_examples)
    examples = settings(max_examples=_fuzz_examples(ctx.options.max_examples), deadline=None,
                        database=None, derandomize=True, suppress_health_check=list(HealthCheck),
                        phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False,
                        print_blob=False)

    def batches(strategy: Any) -> Any:
        return st.lists(strategy, min_size=batch, max_size=batch)
    clock: dict[str, float] = {"start": 0.0}
    slow: list[str] = []
    unsteady: list[str] = []

    def fresh_step(action: Any) -> tuple[list[dict[str, Any]], float, dict[str, Any]]:
        if time.monotonic() - clock["start"] > ctx.options.fuzz_seconds:
            raise _OutOfTime
        clock["calls"] = clock.get("calls", 0) + 1
        for _ in range(1 + _WALL_CLOCK_RETRIES):
            env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
            observation, reward, _, _, info = env.step(action)
            if not any(record["error_kind"] == "timeout" for record in info["calls"]):
                break
        return observation, reward, info

    def run_boxed(prop: Callable[[], None], what: str) -> None:
        clock.update(start=time.monotonic(), calls=0)
        try:
            prop()
        except _OutOfTime:
            elapsed = time.monotonic() - clock["start"]
            slow.append(f"{what}: {clock['calls']} examples in {elapsed:.0f} s "
                        f"({elapsed / max(1, clock['calls']):.2f} s each)")

    def tool_properties(name: str, schema: dict[str, Any]) -> list[Callable[[], None]]:
        @examples
        @given(batches(arguments(schema)))
        def valid_arguments_do_not_crash(drawn: list[Any]) -> None:
            for args in _distinct(drawn):
                observation, _, info = fresh_step(_call_message(name, args))
                if len(observation) != 1 or observation[0]["role"] != "tool":
                    raise _Defect(f"tool {name!r} with {args!r}: one call gave "
                                  f"{[m.get('role') for m in observation]}, not one tool "
                                  "message")
                crash = _crash(info["calls"][0], observation[0]["content"])
                if crash is not None:
                    raise _Defect(f"tool {name!r} with {args!r} -> {crash}")

        @examples
        @given(batches(invalid_arguments(schema)))
        def invalid_arguments_never_reach_the_tool(drawn: list[Any]) -> None:
            for args in _distinct(drawn):
                observation, _, info = fresh_step(_call_message(name, args))
                # Not an object at all is a parse error; a bad object fails the schema.
                if info["calls"][0]["error_kind"] not in ("invalid_arguments", "parse_error"):
                    raise _Defect(f"tool {name!r} accepted schema-invalid arguments {args!r}")
                if not observation[0]["content"].startswith("Error: "):
                    raise _Defect(f"tool {name!r} refused schema-invalid arguments {args!r} "
                                  "with a message that does not start with 'Error: '")

        if backend:  # library methods get any JSON arguments and may raise, as in BFCL
            return []
        return [valid_arguments_do_not_crash, invalid_arguments_never_reach_the_tool]

    try:
        _, info = env.reset(seed=ctx.options.seed, options={"task_id": ctx.task_id})
        tools = info["tools"]
        backend = env.task is not None and env.task.backend is not None

        @examples
        @given(batches(action_texts(tools) | malformed_tool_calls(tools)))
        def any_turn_is_handled(drawn: list[Any]) -> None:
            for action in _distinct(drawn):
                one_turn_is_handled(action)

        def one_turn_is_handled(action: Any) -> None:
            observation, reward, info = fresh_step(action)
            if observation not in env.observation_space:
                raise _Defect(f"the turn {_clip_repr(action)} gave an observation outside "
                              "the observation space")
            roles = [m.get("role") for m in observation]
            if "user_turn" in info and not info["calls"]:  # the next user turn opened
                if roles != ["user"] * len(observation):
                    raise _Defect(f"the turn {_clip_repr(action)} opened the next user turn "
                                  f"with messages {roles}")
            elif roles != ["tool"] * len(info["calls"]):
                raise _Defect(f"the turn {_clip_repr(action)} made {len(info['calls'])} "
                              f"call(s) and got messages {roles}, not one tool message per "
                              "call")
            if not -1.0 <= reward <= 1.0:
                raise _Defect(f"the turn {_clip_repr(action)} paid {reward!r}, outside "
                              "[-1, 1]")

        with warnings.catch_warnings():
            # Strategies built from a task's tool list have huge reprs; hypothesis
            # warns when it formats them, which says nothing about the env.
            warnings.filterwarnings("ignore", message="Generating overly large repr")
            for tool in tools:
                name = tool["function"]["name"]
                listed = env.listed_tool(name)  # the task's own, or a distractor
                assert listed is not None, f"listed tool {name!r} has no definition"
                key = _tool_fuzz_key(ctx, listed.tool)
                outcome = _TOOL_FUZZ.get(key)
                if outcome is None:
                    before, failure, unsteady_notes = len(slow), None, []
                    for prop in tool_properties(name, tool["function"]["parameters"]):
                        try:
                            run_boxed(prop, f"tool {name!r}")
                        except AssertionError as exc:
                            failure = _failure_text(exc)
                            break
                        except Flaky as exc:
                            # Failed once, passed when hypothesis replayed it: not
                            # reproducible, so no verdict on the tool (``determinism``
                            # judges repeatability); its other properties still run.
                            unsteady_notes.append(f"tool {name!r}: {_unsteady_text(exc)}")
                    outcome = (failure, tuple(slow[before:]), tuple(unsteady_notes))
                    _remember_tool_fuzz(key, outcome)
                else:
                    slow.extend(outcome[1])
                unsteady.extend(outcome[2])
                if outcome[0] is not None:
                    raise CheckFailed(outcome[0])
            try:
                run_boxed(any_turn_is_handled, "generated turns")
            except Flaky as exc:
                unsteady.append(f"generated turns: {_unsteady_text(exc)}")
    except AssertionError as exc:
        raise CheckFailed(_failure_text(exc)) from None
    finally:
        env.close()
    if slow or unsteady:
        found = []
        if slow:
            found.append(f"fuzzing stopped at the {ctx.options.fuzz_seconds:g} s time box "
                         f"for: {'; '.join(slow)}. Slow tools make every episode slow; a "
                         "call near the sandbox's time limit usually loops over its input")
        if unsteady:
            found.append(f"{'; '.join(unsteady)}. A failure that does not repeat comes from "
                         "the machine (load, memory) or from state the tool keeps; the "
                         "determinism and isolation checks judge the tool's repeatability")
        raise CheckWarning(". ".join(found), {"slow": slow, "unsteady": unsteady})


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
        raise CheckFailed("check_env warned: " + " | ".join(
            _ANSI.sub("", str(w.message)) for w in caught))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # gymnasium colours its warnings


#: Every check by id, in the order they run (ids and severities: :data:`~.policy.POLICY`).
CHECKS: dict[str, Callable[[TaskContext], dict[str, Any] | None]] = {
    "gold": check_gold,
    "noop": check_noop,
    "floor": check_floor,
    "gameability": check_gameability,
    "determinism": check_determinism,
    "seed_dependence": check_seed_dependence,
    "leakage": check_leakage,
    "schema_agreement": check_schema_agreement,
    "fuzz": check_fuzz,
    "isolation": check_isolation,
    "check_env": check_gymnasium,
}
assert list(CHECKS) == list(POLICY), "every check needs a policy entry, in the same order"
