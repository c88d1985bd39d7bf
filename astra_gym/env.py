"""The Gymnasium env: one pack, one task per episode, tool calls run in the sandbox.

``gym.make("astra/<pack>-v<N>")`` builds an :class:`AstraEnv`. Each
``reset`` draws a task with ``self.np_random`` (or takes
``options={"task_id": ...}``) and opens a sandbox session seeded from the
episode; each ``step`` takes the assistant's turn, runs every tool call it
contains and answers each with a ``role: "tool"`` message. A turn without a
tool call is the final answer. Rewards are rule-verified
(:mod:`astra_gym.rewards`); nothing here calls an LLM.

A task may hold several user turns (``Task.turns``): a turn without a tool
call then ends the current user turn, and the next user message is the
observation, until the last turn's answer ends the episode. A task with a
trusted ``backend`` (BFCL's multi-turn classes, :mod:`astra_gym.bfcl`) runs its
tools on fresh library instances instead of the sandbox and is judged turn by
turn as BFCL judges it (docs/bfcl.md).

Example:
    >>> import gymnasium as gym
    >>> import astra_gym
    >>> env = gym.make("astra/demo-v0")
    >>> messages, info = env.reset(seed=0)
    >>> [m["role"] for m in messages], len(info["tools"]) > 0
    (['system', 'user'], True)
    >>> obs, reward, terminated, truncated, info = env.step("I don't know.")
    >>> terminated, reward, info["success"]
    (True, 0.0, False)
    >>> env.close()
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Mapping
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym

from .answers import contains_answer
from .distractors import DistractorMixer
from .failures import INJECTED_FAILURE, EpisodeFailures, FailureInjector
from .finals import DEFAULT_HEDGE_RULE, HedgeRule, hedge_reason
from .pack import Pack, Task
from .parsers import ACTION_FORMATS, ParsedCall, ParsedTurn, parse_action
from .rewards import REWARD_MODES, RewardComponents, components, solved_by_result, step_reward
from .runtime import TaskRuntime, ToolRuntime, task_runtime
from .sandbox import DEFAULT_ISOLATION, Limits, Sandbox, SandboxSession
from .spaces import AssistantTurnSpace, MessagesSpace

#: ``info["bfcl"]["error_type"]`` of an episode that ended before its last user turn.
FORCE_TERMINATED_ERROR = "multi_turn:force_terminated"

__all__ = ["DEFAULT_MAX_ACTION_CHARS", "DEFAULT_MAX_CALLS_PER_TURN", "DEFAULT_MAX_TURNS",
           "DEFAULT_SYSTEM_PROMPT", "AstraEnv", "open_pack"]

#: ASTRA's turn limit (paper §3.2.2).
DEFAULT_MAX_TURNS = 32
#: Tool calls run per turn; further calls in the same turn are dropped (and counted).
DEFAULT_MAX_CALLS_PER_TURN = 32
#: Longest turn the env parses, in characters (the text, or a message's content and arguments).
DEFAULT_MAX_ACTION_CHARS = 1_000_000

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the user's question by calling the tools you are "
    "given; tool results come back in the next message.\n"
    "To call a tool, write <tool_call>{\"name\": \"<tool name>\", \"arguments\": {<JSON "
    "arguments>}}</tool_call>. You may make several calls in one turn.\n"
    "When you know the answer, reply with the answer and no tool call."
)


@lru_cache(maxsize=64)
def _cached_pack(path: str) -> Pack:
    return Pack(path)


def open_pack(pack: str | os.PathLike[str] | Pack) -> Pack:
    """A :class:`Pack` for a path (shared by every env of the process) or the pack itself."""
    if isinstance(pack, Pack):
        return pack
    return _cached_pack(str(Path(pack).resolve()))


def _sandbox_from_options(options: Any) -> Sandbox:
    if isinstance(options, Sandbox):
        return options
    options = dict(options or {})
    isolation = options.pop("isolation", DEFAULT_ISOLATION)
    pool = options.pop("pool", None)
    limit_names = {field.name for field in fields(Limits)}
    unknown = sorted(set(options) - limit_names)
    if unknown:
        raise ValueError(f"unknown sandbox option(s) {', '.join(unknown)}; use 'isolation', "
                         f"'pool' or Limits fields: {', '.join(sorted(limit_names))}")
    return Sandbox(isolation=isolation, limits=Limits(**options), pool=pool)


class AstraEnv(gym.Env[list, Any]):
    """A tool-use episode per task of an env pack.

    Observations are lists of OpenAI chat messages: ``reset`` returns the
    system and user messages, ``step`` the new ``role: "tool"`` messages. The
    full transcript (assistant turns included) is in :attr:`messages`.

    Args:
        pack: A pack directory or an open :class:`~astra_gym.pack.Pack`.
        task_ids: Restrict the tasks ``reset`` draws from.
        reward: One of :data:`~astra_gym.rewards.REWARD_MODES` (default ``f1``: dense).
        max_turns: Steps before the episode is truncated (default 32, as in ASTRA).
        action_format: How text actions are parsed: ``auto`` (default: the
            format is detected by its markers), ``openai`` (message dicts
            only), or one family's native format: ``hermes``, ``json``,
            ``python``, ``llama3``, ``mistral``, ``deepseek``, ``glm45``,
            ``qwen3_coder``, ``kimi_k2``, ``granite``, ``harmony`` (see
            :data:`~astra_gym.parsers.ACTION_FORMATS` and docs/env.md).
        system_prompt: The system message (default: :data:`DEFAULT_SYSTEM_PROMPT`).
        tools_in_prompt: Append the tool list (JSON) to the system prompt, for
            agents that are not given ``info["tools"]`` natively.
        sandbox: Sandbox options: ``{"isolation": "process"|"inprocess", "pool":
            None|int, <Limits field>: value, ...}``, or a
            :class:`~astra_gym.sandbox.Sandbox`. The default runs tools in the
            process-wide pool of confined, crash-safe workers (policy-generated
            arguments for days of training must not be able to hang or crash the
            run); ``"inprocess"`` is faster and meant for vetted packs.
        render_mode: ``None`` or ``"ansi"`` (``render()`` returns the transcript).
        shuffle_tools: Give the tool list in a new order each episode, drawn
            with ``np_random`` (default). In a pack, a task's distractor tools
            come after the tools it needs; an agent must not learn that order.
        hedge_rule: When a final answer that contains the gold answer is still
            no success because it lists candidates instead of committing
            (:mod:`astra_gym.finals`); ``None`` turns the rule off.
        max_calls_per_turn: Tool calls run per turn (default 32). Further calls
            in the same turn are not run and not parsed; each still counts as an
            invalid call (so spamming calls lowers precision), and the last tool
            message says how many were dropped.
        max_action_chars: Longest turn the env reads (default 1,000,000
            characters). A longer turn runs nothing: it is answered with one
            error message and counts as one invalid call (not a final answer).
        distractors: Banded irrelevant tools mixed into each episode's tool list
            (:class:`~astra_gym.distractors.DistractorMixer` options: ``k``,
            ``pool``, ``embedder``, ``thresholds``, ``cache_dir``, ``index``,
            ``build``); ``None`` (default) adds none. A call to one counts as a
            call and never solves a sub-task; ``info["distractor_tools"]``
            names the listed distractors.
        failures: Tool-failure injection (:class:`~astra_gym.failures.FailureInjector`
            options: ``p``, ``kinds``): a valid call fails with a realistic error
            instead of running, with probability ``p``, seeded per episode. Not
            counted against precision (``injected_failures`` in the components).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, pack: str | os.PathLike[str] | Pack, *,
                 task_ids: list[str] | tuple[str, ...] | None = None, reward: str = "f1",
                 max_turns: int = DEFAULT_MAX_TURNS, action_format: str = "auto",
                 system_prompt: str | None = None, tools_in_prompt: bool = False,
                 sandbox: dict[str, Any] | Sandbox | None = None,
                 render_mode: str | None = None,
                 max_calls_per_turn: int = DEFAULT_MAX_CALLS_PER_TURN,
                 max_action_chars: int = DEFAULT_MAX_ACTION_CHARS,
                 shuffle_tools: bool = True,
                 hedge_rule: HedgeRule | None = DEFAULT_HEDGE_RULE,
                 distractors: dict[str, Any] | DistractorMixer | None = None,
                 failures: dict[str, Any] | FailureInjector | None = None) -> None:
        if reward not in REWARD_MODES:
            raise ValueError(f"unknown reward mode {reward!r}; choose one of "
                             f"{', '.join(REWARD_MODES)}")
        if action_format not in ACTION_FORMATS:
            raise ValueError(f"unknown action_format {action_format!r}; choose one of "
                             f"{', '.join(ACTION_FORMATS)}")
        for name, value in (("max_turns", max_turns), ("max_calls_per_turn", max_calls_per_turn),
                            ("max_action_chars", max_action_chars)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if hedge_rule is not None and not isinstance(hedge_rule, HedgeRule):
            raise TypeError(f"hedge_rule must be a HedgeRule or None, not "
                            f"{type(hedge_rule).__name__}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"unknown render_mode {render_mode!r}; use None or 'ansi'")
        self.pack = open_pack(pack)
        all_ids = self.pack.task_ids
        if task_ids is None:
            self.task_ids: tuple[str, ...] = all_ids
        else:
            missing = [task_id for task_id in task_ids if task_id not in self.pack]
            if missing:
                raise KeyError(f"pack {self.pack.name!r} has no task(s) {missing[:5]}")
            if not task_ids:
                raise ValueError("task_ids is empty: give at least one task id, or None for all")
            self.task_ids = tuple(task_ids)
        if not self.task_ids:
            raise ValueError(f"pack {self.pack.name!r} has no tasks")
        self.reward_mode = reward
        self.max_turns = max_turns
        self.max_calls_per_turn = max_calls_per_turn
        self.max_action_chars = max_action_chars
        self.action_format = action_format
        self.system_prompt = DEFAULT_SYSTEM_PROMPT if system_prompt is None else system_prompt
        self.tools_in_prompt = tools_in_prompt
        self.shuffle_tools = bool(shuffle_tools)
        self.hedge_rule = hedge_rule
        self.render_mode = render_mode
        self.observation_space = MessagesSpace()
        self.action_space = AssistantTurnSpace()
        self._distractors = DistractorMixer.from_options(distractors, self.pack)
        self._failures = FailureInjector.from_options(failures)
        self._sandbox = _sandbox_from_options(sandbox)
        self._runtime: TaskRuntime | None = None
        # This episode's injected distractors (name -> band) and failure draws.
        self._episode_distractors: dict[str, str] = {}
        self._episode_failures: EpisodeFailures | None = None
        self._session: SandboxSession | None = None
        self._components: RewardComponents | None = None
        self._turn = 0
        self._done = False
        self._episode_seed = 0
        self._tools: list[dict[str, Any]] = []
        # This episode's successful results (for the hedge rule) and every call that
        # reached the sandbox (to rebuild the session after unpickling).
        self._results: list[str] = []
        self._sandbox_calls: list[tuple[str, dict[str, Any]]] = []
        # Multi-user-turn state: the current user turn, steps and parsed calls in it, and
        # the judge of a task with a trusted backend.
        self._user_turn = 0
        self._turn_steps = 0
        self._turn_calls = 0
        # Hidden tools that cannot be called yet: all of them, except for a backend task,
        # whose classes answer every method whether listed or not (as in BFCL).
        self._blocked: frozenset[str] = frozenset()
        self._judge: Any = None
        #: The whole conversation of the current episode, assistant turns included.
        self.messages: list[dict[str, Any]] = []

    # -- episode -------------------------------------------------------------------
    @property
    def task(self) -> Task | None:
        """The current episode's task (None before the first reset)."""
        return None if self._runtime is None else self._runtime.task

    def _task_runtime(self, task_id: str) -> TaskRuntime:
        return task_runtime(self.pack, task_id)  # shared by every env of the process

    def _system_message(self) -> str:
        if not self.tools_in_prompt:
            return self.system_prompt
        tools = json.dumps(self._tools, ensure_ascii=False)
        return f"{self.system_prompt}\n\nAvailable tools (OpenAI format):\n{tools}"

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[list, dict[str, Any]]:
        """Start an episode.

        Args:
            seed: Seeds ``np_random`` (task draw and sandbox seed).
            options: ``{"task_id": ...}`` picks the task instead of drawing one.

        Returns:
            The system and user messages, and ``info`` with ``task_id``,
            ``tools`` (OpenAI format, in this episode's order), ``pack``,
            ``domain``, ``language`` and ``episode_seed``; for a task with several
            user turns also ``user_turn`` (0) and ``user_turns``.
        """
        super().reset(seed=seed)
        task_id = (options or {}).get("task_id")
        if task_id is None:
            task_id = self.task_ids[int(self.np_random.integers(len(self.task_ids)))]
        elif task_id not in self.pack:
            raise KeyError(f"pack {self.pack.name!r} has no task {task_id!r}")
        episode_seed = int(self.np_random.integers(0, 2**31 - 1))
        runtime = self._task_runtime(task_id)
        task = runtime.task
        tools = runtime.openai_tools()  # a fresh copy: info["tools"] is the caller's
        hidden = task.hidden_tools
        if hidden:
            tools = [tool for tool in tools if tool["function"]["name"] not in hidden]
        # A backend task's tools run on library instances: no sandbox, no distractors.
        drawn = [] if self._distractors is None or task.backend is not None else \
            self._distractors.sample(task, self.np_random)
        if drawn:
            tools = self._distractors.mix(tools, [name for name, _ in drawn], self.np_random,
                                          shuffled=self.shuffle_tools)
        if self.shuffle_tools and len(tools) > 1:
            tools = [tools[int(i)] for i in self.np_random.permutation(len(tools))]
        judge = None
        if task.backend is not None:
            from .bfcl.judge import TurnJudge  # imported only for backend tasks

            judge = TurnJudge(task)
        elif self._session is not None:
            # Reused: resetting a session costs a fraction of opening one, with the
            # same results as a new session of this seed.
            self._session.reset(episode_seed)
        else:
            self._session = self._sandbox.session(seed=episode_seed)
        self._episode_seed = episode_seed
        self._runtime = runtime
        self._tools = tools
        self._judge = judge
        self._components = components(runtime.n if judge is None else judge.n, (), 0, 0)
        self._turn = 0
        self._user_turn = 0
        self._turn_steps = 0
        self._turn_calls = 0
        self._blocked = hidden if judge is None else frozenset()
        self._done = False
        self._results = []
        self._sandbox_calls = []
        self._episode_distractors = dict(drawn)
        self._episode_failures = None if self._failures is None else \
            self._failures.episode(episode_seed)
        first = [{"role": "system", "content": self._system_message()},
                 *({"role": m["role"], "content": m["content"]} for m in runtime.task.prompt)]
        self.messages = [dict(message) for message in first]
        info = {"task_id": task.task_id, "tools": tools,
                "pack": self.pack.name, "domain": task.domain, "language": task.language,
                "episode_seed": episode_seed}
        if task.turns:
            info["user_turn"] = 0
            info["user_turns"] = 1 + len(task.turns)
        info.update(self._distractor_info(tools, task))
        return first, info

    def _distractor_info(self, tools: list[dict[str, Any]], task: Task) -> dict[str, Any]:
        """Which listed tools are distractors (for logging), in list order, and their bands.

        Injected ones carry their band (``high``/``medium``/``low``); a pack's
        own distractor tools have the band ``pack``.
        """
        own = {tool.name for tool in task.distractor_tools}
        names, bands = [], []
        for tool in tools:
            name = tool["function"]["name"]
            band = self._episode_distractors.get(name) or ("pack" if name in own else None)
            if band is not None:
                names.append(name)
                bands.append(band)
        return {"distractor_tools": names, "distractor_bands": bands}

    def possible_distractors(self, task_id: str) -> list[dict[str, Any]]:
        """Every injected distractor an episode of ``task_id`` can list, in OpenAI form.

        One episode lists a sample of them (``distractors=``); validation reads them
        all, so that an answer leaking into a distractor is found under any seed.

        Args:
            task_id: One of the env's task ids.

        Returns:
            Tool dicts as in ``info["tools"]`` (empty without ``distractors=``, and for
            tasks with a trusted backend, which get none).
        """
        if self._distractors is None:
            return []
        task = self.pack.task(task_id)
        if task.backend is not None:
            return []
        return [self._distractors.openai(name) for name in self._distractors.candidates(task)]

    def listed_tool(self, name: str) -> ToolRuntime | None:
        """A tool listed this episode: the task's own or an injected distractor (else None).

        Args:
            name: The tool name as the agent sees it.

        Returns:
            Its runtime (``.tool`` is the definition), or None.
        """
        runtime = self._runtime
        assert runtime is not None
        if name in self._blocked:  # a later user turn reveals it
            return None
        tool = runtime.tools.get(name)
        if tool is None and name in self._episode_distractors:
            assert self._distractors is not None
            tool = self._distractors.tool(name)
        return tool

    def _tool_names(self) -> Any:
        """Names of every listed tool (for the parsers and the unknown-tool message)."""
        assert self._runtime is not None
        if self._blocked:
            return [name for name in self._runtime.tools if name not in self._blocked]
        if not self._episode_distractors:
            return self._runtime.tools.keys()
        return [*self._runtime.tools, *self._episode_distractors]

    def _tool_schemas(self) -> Mapping[str, Any]:
        """Tool name -> parameters schema of every listed tool (types XML-style values)."""
        assert self._runtime is not None
        schemas = self._runtime.schemas
        if self._blocked:
            return {name: schema for name, schema in schemas.items() if name not in self._blocked}
        if not self._episode_distractors:
            return schemas
        extra = {name: tool.tool.parameters for name in self._episode_distractors
                 if (tool := self.listed_tool(name)) is not None}
        return {**schemas, **extra}

    def _run_call(self, call: ParsedCall, solved: list[str]) -> tuple[str, dict[str, Any]]:
        """Run one call; returns the tool message content and the call's record."""
        runtime = self._runtime
        assert runtime is not None and (self._session is not None or self._judge is not None)
        record: dict[str, Any] = {"name": call.name, "ok": False, "error_kind": None,
                                  "solved": [], "distractor": False}
        if call.error is not None:
            record["error_kind"] = "parse_error"
            return f"Error: could not parse the tool call: {call.error}", record
        tool = self.listed_tool(call.name or "")
        if tool is None:
            record["error_kind"] = "unknown_tool"
            names = ", ".join(sorted(self._tool_names()))
            return f"Error: unknown tool {call.name!r}. Available tools: {names}", record
        arguments = call.arguments
        if call.args:
            if len(call.args) > len(tool.positional):
                record["error_kind"] = "invalid_arguments"
                return (f"Error: {call.name}() takes at most {len(tool.positional)} positional "
                        "arguments; pass arguments by name"), record
            overlap = set(tool.positional[:len(call.args)]) & set(arguments)
            if overlap:
                record["error_kind"] = "invalid_arguments"
                return (f"Error: {call.name}() got {sorted(overlap)[0]!r} both by position and "
                        "by name"), record
            arguments = {**dict(zip(tool.positional, call.args, strict=False)), **arguments}
        # A backend task's methods get any JSON arguments, as BFCL passes them (its own
        # ground truth does not always match the docs); a bad one is the method's error.
        if self._judge is None and not tool.validator.is_valid(arguments):
            record["error_kind"] = "invalid_arguments"
            return (f"Error: invalid arguments for {call.name!r}: "
                    f"{tool.validator.error(arguments)}"), record
        distractor = tool.tool.name in self._episode_distractors
        record["distractor"] = distractor
        failure = None if self._episode_failures is None else \
            self._episode_failures.draw(tool.tool.name)
        if failure is not None:  # injected: the tool does not run, the agent may retry
            record["error_kind"] = INJECTED_FAILURE
            record["failure"] = failure[0]
            return failure[1], record
        if self._judge is not None:  # a trusted backend: a method call, never the sandbox
            ok, text, newly = self._judge.call(tool.tool.function, arguments)
            record["ok"] = ok
            record["error_kind"] = None if ok else "exception"
            solved.extend(newly)
            record["solved"] = newly
            return text, record
        self._sandbox_calls.append((tool.tool.name, arguments))
        result = self._session.call(tool.tool.source, tool.tool.function, arguments)
        record["ok"] = result.ok
        record["error_kind"] = result.error_kind
        if result.ok and distractor:  # a distractor's result never solves anything
            self._results.append(result.output)
        elif result.ok:
            self._results.append(result.output)
            newly = solved_by_result(runtime.task.subtasks, tool.tool.name, result.output, solved,
                                     arguments)
            solved.extend(newly)
            record["solved"] = newly
        return result.text, record

    def step(self, action: Any) -> tuple[list, float, bool, bool, dict[str, Any]]:
        """Play one assistant turn.

        Args:
            action: Raw assistant text, or an OpenAI assistant message dict
                (``content`` and ``tool_calls`` with JSON-string ``arguments``).

        Returns:
            The new tool messages, the reward, ``terminated`` (the turn had no
            tool call: it is the final answer), ``truncated`` (``max_turns``
            reached) and ``info`` (``reward_components``, ``success``,
            ``calls``, ``parse_errors``, ``turn``, ``task_id``). In a task with
            several user turns, a turn without a tool call before the last user
            turn is not final: the observation is the next user message, and
            ``info`` has ``user_turn`` (and ``tools``/``tools_added`` when the
            turn reveals tools). A backend task's turn ends also add
            ``turn_verdict``, and its last step ``bfcl`` (``valid``, ``error_type``).

        Raises:
            RuntimeError: Before ``reset`` or after the episode ended.
            TypeError: When the action is neither text nor a dict.
        """
        runtime = self._runtime
        if runtime is None or self._components is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode is over (terminated or truncated): call reset()")
        if self._session is None and self._judge is None:  # unpickled mid-episode
            self._restore_session()
        oversized = self._action_size(action)
        if oversized:
            turn = ParsedTurn("", (ParsedCall(None, {}, error=(
                f"the turn is too long ({oversized:,} characters; the limit is "
                f"{self.max_action_chars:,}, max_action_chars): nothing in it was run")),),
                "none")
        else:
            turn = parse_action(action, self.action_format, self._tool_names(),
                                max_calls=self.max_calls_per_turn,
                                tool_schemas=self._tool_schemas())
        self._turn += 1
        self._turn_steps += 1
        before = self._components
        solved = list(before.solved)
        observation: list[dict[str, Any]] = []
        records = []
        tool_calls = []
        invalid = 0
        used_ids: set[str] = set()
        for index, call in enumerate(turn.calls):
            call_id = call.call_id
            if call_id is None or call_id in used_ids:
                # Tool messages are matched to calls by id: ids must be unique in a turn.
                call_id = f"call_{self._turn}_{index}"
                while call_id in used_ids:
                    call_id += "_"
            used_ids.add(call_id)
            content, record = self._run_call(call, solved)
            record["id"] = call_id
            invalid += record["error_kind"] in ("parse_error", "unknown_tool",
                                                "invalid_arguments")
            records.append(record)
            observation.append({"role": "tool", "tool_call_id": call_id,
                                "name": call.name or "", "content": content})
            if not isinstance(action, str):
                tool_calls.append(self._transcript_call(action, index, call_id, call))
        if turn.dropped:
            note = (f"Error: {turn.dropped:,} more tool call(s) in this turn were not run: at "
                    f"most {self.max_calls_per_turn} calls run per turn (max_calls_per_turn)")
            observation[-1]["content"] = f"{observation[-1]['content']}\n{note}"
            invalid += turn.dropped
        after = components(before.n, solved, before.calls + len(turn.calls) + turn.dropped,
                           before.invalid_calls + invalid,
                           before.injected_failures + sum(
                               record["error_kind"] == INJECTED_FAILURE for record in records),
                           before.distractor_calls + sum(
                               bool(record.get("distractor")) for record in records))
        task = runtime.task
        judge = self._judge
        self._turn_calls += sum(call.error is None for call in turn.calls)
        next_turn = None
        verdict = None
        forced = False
        if turn.is_final:
            if judge is not None:
                verdict = judge.end_turn(self._turn_calls > 0)
                if verdict.revoked:  # a failed turn: its calls' credit is withdrawn
                    after = components(after.n, [sub for sub in after.solved
                                                 if sub not in verdict.revoked],
                                       after.calls, after.invalid_calls,
                                       after.injected_failures, after.distractor_calls)
            if self._user_turn < len(task.turns):
                next_turn = task.turns[self._user_turn]
        elif judge is not None and task.backend is not None and \
                task.backend.max_steps_per_turn is not None and \
                self._turn_steps > task.backend.max_steps_per_turn:
            forced = True  # BFCL's force-quit: too many steps in one user turn
            judge.force_quit()
        terminated = turn.is_final and next_turn is None
        # max_turns counts the steps of one user turn (all of them for a single-turn task).
        truncated = not terminated and (forced or (next_turn is None
                                                   and self._turn_steps >= self.max_turns))
        final_answer = task.final_answer
        hedge = None
        if judge is not None:
            success = bool(terminated and judge.valid)
        else:
            success = bool(terminated and after.n_solved == after.n and (
                final_answer is None or contains_answer(turn.content, final_answer)))
        if success and final_answer is not None and self.hedge_rule is not None:
            hedge = self._hedge(turn.content, final_answer)
            success = hedge is None
        reward = step_reward(self.reward_mode, before, after, done=terminated or truncated,
                             success=success)
        self._components = after
        self._done = terminated or truncated
        self.messages.append(self._assistant_message(action, turn.content, tool_calls))
        self.messages.extend(dict(message) for message in observation)
        info: dict[str, Any] = {
            "task_id": runtime.task.task_id, "turn": self._turn,
            "reward_components": after.as_dict(), "success": success, "calls": records,
            "parse_errors": list(turn.errors), "action_format": turn.format,
            "dropped_calls": turn.dropped}
        if verdict is not None:
            info["turn_verdict"] = verdict.as_dict()
        if judge is not None and (terminated or truncated):
            # BFCL's verdict: an episode cut short is force-terminated, whatever came before.
            error = judge.error_type or (None if terminated else FORCE_TERMINATED_ERROR)
            info["bfcl"] = {"valid": success, "error_type": error}
        if next_turn is not None:
            observation = self._next_user_turn(next_turn, info)
        if terminated:
            info["final_answer"] = turn.content
            info["hedged"] = hedge is not None
            if hedge is not None:
                info["hedge_reason"] = hedge
        return observation, float(reward), terminated, truncated, info

    def _next_user_turn(self, next_turn: Any, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Open the next user turn: reveal its tools; its user messages are the observation."""
        runtime = self._runtime
        assert runtime is not None
        self._user_turn += 1
        self._turn_steps = 0
        self._turn_calls = 0
        messages = [{"role": "user", "content": m["content"]} for m in next_turn.messages]
        if next_turn.reveal_tools:
            revealed = set(next_turn.reveal_tools)
            self._blocked = self._blocked - revealed
            added = [tool for tool in runtime.openai_tools()
                     if tool["function"]["name"] in revealed]
            self._tools = [*self._tools, *added]  # appended, as BFCL extends its list
            info["tools"] = pickle.loads(pickle.dumps(self._tools))  # the caller's copy
            info["tools_added"] = [tool["function"]["name"] for tool in added]
            if self.tools_in_prompt:  # text agents see the new docs, as in BFCL's prompt mode
                docs = json.dumps(added, ensure_ascii=False)
                messages[0]["content"] = f"{docs}\n{messages[0]['content']}"
        info["user_turn"] = self._user_turn
        self.messages.extend(dict(message) for message in messages)
        return messages

    def _hedge(self, content: str, final_answer: str) -> str | None:
        """Why a final answer that contains the gold answer is a hedge (None: it commits)."""
        runtime = self._runtime
        assert runtime is not None and self.hedge_rule is not None
        prompt = "\n".join(m["content"] for m in runtime.task.prompt)
        return hedge_reason(content, final_answer, self._results,
                            subtask_answers=[sub.answer for sub in runtime.task.subtasks],
                            prompt=prompt, rule=self.hedge_rule)

    # -- pickling --------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Picklable state (Ray actors, spawn-based vector envs, checkpoints).

        The sandbox session is a live worker handle and is not pickled: the copy
        opens a new one with the episode's seed and replays the episode's calls
        into it on its first step, so its tools see the same state.
        """
        state = self.__dict__.copy()
        state["pack"] = str(self.pack.path)
        state["_runtime"] = None if self._runtime is None else self._runtime.task.task_id
        state["_session"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        task_id = state.pop("_runtime")
        self.__dict__.update(state)
        self.pack = open_pack(state["pack"])
        self._runtime = None if task_id is None else self._task_runtime(task_id)

    def _restore_session(self) -> None:
        runtime = self._runtime
        assert runtime is not None
        session = self._sandbox.session(seed=self._episode_seed)
        for name, arguments in self._sandbox_calls:
            found = self.listed_tool(name)
            assert found is not None
            tool = found.tool
            session.call(tool.source, tool.function, arguments)
        self._session = session

    def _action_size(self, action: Any) -> int:
        """The action's size in characters when it is over ``max_action_chars``, else 0.

        Only what a parser would read is counted, and the count stops early.
        """
        limit = self.max_action_chars
        if isinstance(action, str):
            return len(action) if len(action) > limit else 0
        if not isinstance(action, dict):
            return 0
        content = action.get("content")
        size = len(content) if isinstance(content, str) else 0
        entries = action.get("tool_calls")
        if isinstance(entries, list):
            for entry in entries[:self.max_calls_per_turn]:
                function = entry.get("function") if isinstance(entry, dict) else None
                arguments = function.get("arguments") if isinstance(function, dict) else None
                if isinstance(arguments, str):
                    size += len(arguments)
        return size if size > limit else 0

    @staticmethod
    def _transcript_call(action: Any, index: int, call_id: str,
                         call: ParsedCall) -> dict[str, Any]:
        """A normalised ``tool_calls`` entry, reusing the agent's own argument text."""
        arguments = None
        entries = action.get("tool_calls")
        if isinstance(entries, list) and index < len(entries) and isinstance(entries[index], dict):
            function = entries[index].get("function")
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                arguments = function["arguments"]
        if arguments is None:
            arguments = json.dumps(call.arguments, ensure_ascii=False)
        return {"id": call_id, "type": "function",
                "function": {"name": call.name or "", "arguments": arguments}}

    @staticmethod
    def _assistant_message(action: Any, content: str,
                           tool_calls: list[dict[str, Any]]) -> dict[str, Any]:
        """The transcript's copy of the turn.

        Text stays as written (its tool calls are in the text; the tool
        messages carry the ids the env gave them). A message dict keeps its
        content and gets normalised ``tool_calls`` with the ids used.
        """
        if isinstance(action, str):
            return {"role": "assistant", "content": action}
        original = action.get("content")
        message = {"role": "assistant",
                   "content": original if isinstance(original, str) else (content or None)}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return message

    # -- rendering and cleanup ----------------------------------------------------------
    def render(self) -> str | None:
        """With ``render_mode="ansi"``, the transcript as text."""
        if self.render_mode != "ansi":
            return None
        lines = []
        for message in self.messages:
            content = message.get("content") or ""
            extra = "".join(f"\n  -> {call['function']['name']}({call['function']['arguments']})"
                            for call in message.get("tool_calls") or [])
            lines.append(f"[{message['role']}] {content}{extra}")
        return "\n".join(lines)

    def close(self) -> None:
        """Close the sandbox session and worker (safe to call twice)."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self._sandbox.close()
        super().close()
