"""Stage ``rollout``: an agent solves each task against real, emulated or env-pack tools.

The agent is any OpenAI-compatible chat model (the run's
:class:`~synth.llm.LLMClient`: cached, retrying, bounded). By default it is
given the tools natively (the request's ``tools``) and calls them with
``tool_calls``; ``mode="text"`` is for models without native tool calling:
the tools and the ``<tool_call>`` format are in the system prompt and each
turn's text is read by the env's parsers (:func:`astra_gym.parsers.parse_action`,
every family's format). Several calls in one turn run in parallel.

Per trajectory (research/astra.md §C.8): at most ``max_llm_calls`` (20) agent
calls, at most ``task_timeout`` (240 s) of wall time. Reasoning the model
writes as ``<think>…</think>``, and what the endpoint returns in its own
``reasoning_content`` (or ``reasoning``) field, is kept as the message's
``reasoning_content`` (and not sent back to the model).

Backends (:mod:`~synth.sft.backends`): ``mcp`` (the real server of the task
row, executed for real), ``emulated`` (an LLM plays each tool), ``env`` (the
episode runs inside :class:`astra_gym.AstraEnv`, whose rule-verified reward
components become the trajectory's ``labels``). On ``mcp`` and ``emulated``
each valid call fails on purpose with probability ``injection_p`` (0.2),
seeded (:mod:`~synth.sft.inject`).

Failures (``{"stage": "rollout", "code", "reason"}``): ``llm_error`` (an
agent call failed for good), ``llm_call_cap`` (no final answer within
``max_llm_calls``), ``rollout_timeout``, ``unparsable_call`` (a call whose
arguments are not a JSON object, or text-mode markup that cannot be read: it
cannot be written as OpenAI ``tool_calls``), ``emulator_error`` (the
emulator never gave a result that fits its schema: fail-closed),
``mcp_unavailable`` (the server did not start), ``env_error``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from synth.llm import LLMClient, LLMError
from synth.prompts import load_prompt

from .backends import (
    CallResult,
    EmulatedBackend,
    McpBackend,
    ToolBackend,
    ToolBackendError,
    check_call,
    mcp_target,
)
from .common import SftFailure, make_id
from .emulator import DEFAULT_HISTORY, DEFAULT_QUERY_P, EmulatorError, shows_query
from .inject import DEFAULT_INJECTION_KINDS, DEFAULT_INJECTION_P, FailureInjector

__all__ = ["DEFAULT_MAX_LLM_CALLS", "DEFAULT_TASK_TIMEOUT", "MODES", "STAGE",
           "env_records", "rollout_stage", "split_reasoning", "task_records"]

STAGE = "rollout"
MODES = ("native", "text")
DEFAULT_MAX_LLM_CALLS = 20
"""The release's ``MAX_LLM_CALL_PER_RUN``."""
DEFAULT_TASK_TIMEOUT = 240.0
"""The release's per-task timeout (seconds)."""
_THINK = re.compile(r"<think>(.*?)</think>", re.DOTALL)
_TASK_KEYS = ("task_id", "mode", "question", "target_tools", "language", "server_id", "server",
              "source", "chain_id", "chain", "scores", "augmentation")


def split_reasoning(text: str) -> tuple[str, str | None]:
    """``(visible content, reasoning)`` of an assistant text with ``<think>`` blocks.

    Args:
        text: The assistant's text.

    Returns:
        The text without its reasoning blocks (stripped), and the reasoning
        (blocks joined by a blank line), or ``None`` when there is none. A
        closing tag without an opening one (templates that put ``<think>`` in
        the prompt) makes everything before it reasoning.

    Example:
        >>> split_reasoning("<think>plan</think>Hello")
        ('Hello', 'plan')
        >>> split_reasoning("Hello")
        ('Hello', None)
    """
    blocks = [block.strip() for block in _THINK.findall(text)]
    visible = _THINK.sub("", text)
    if "</think>" in visible:
        head, _, visible = visible.rpartition("</think>")
        blocks.insert(0, head.replace("<think>", "").strip())
    blocks = [block for block in blocks if block]
    return visible.strip(), ("\n\n".join(blocks) if blocks else None)


def task_records(rows: Sequence[Mapping[str, Any]], *, backend: str, samples: int, seed: int,
                 model: str, resolve: Callable[[str, Any], str]) -> list[dict[str, Any]]:
    """Rollout records for part-1 task rows (``07_score.ok.jsonl``).

    Args:
        rows: The kept task rows.
        backend: ``auto``, ``mcp`` or ``emulated`` (per row by ``resolve``).
        samples: Trajectories per task.
        seed: The run's seed.
        model: The agent model (part of the trajectory id).
        resolve: ``resolve(backend, call_info) -> "mcp" | "emulated"``.

    Returns:
        ``{"rollout": {"trajectory_id", "backend", "sample", "seed"}, "task": row}``
        records, task by task.
    """
    records = []
    for row in rows:
        kind = resolve(backend, row.get("call_info"))
        for sample in range(samples):
            trajectory_id = make_id("trj", row["task_id"], kind, sample, seed, model)
            records.append({"rollout": {"trajectory_id": trajectory_id, "backend": kind,
                                        "sample": sample, "seed": seed},
                            "task": dict(row)})
    return records


def env_records(pack_path: str, env_id: str, task_ids: Sequence[str], *, samples: int,
                seed: int, model: str) -> list[dict[str, Any]]:
    """Rollout records for the tasks of an astra env pack (backend 3).

    Args:
        pack_path: The pack directory.
        env_id: Its env id (``astra/demo-v0``), for provenance.
        task_ids: The tasks to roll out.
        samples: Trajectories per task.
        seed: The run's seed.
        model: The agent model.

    Returns:
        ``{"rollout": {...}, "env": {"pack", "env_id", "task_id"}}`` records.
    """
    records = []
    for task_id in task_ids:
        for sample in range(samples):
            trajectory_id = make_id("trj", env_id, task_id, "env", sample, seed, model)
            records.append({"rollout": {"trajectory_id": trajectory_id, "backend": "env",
                                        "sample": sample, "seed": seed},
                            "env": {"pack": pack_path, "env_id": env_id, "task_id": task_id}})
    return records


# -- one trajectory ---------------------------------------------------------------------


@dataclass
class _Trace:
    """What a rollout accumulates."""

    transcript: list[dict[str, Any]]
    request: list[dict[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)
    llm_calls: int = 0
    usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0,
                                                           "completion_tokens": 0})
    cached: int = 0
    attempts: int = 0
    backend_usage: dict[str, int] = field(default_factory=lambda: {"prompt_tokens": 0,
                                                                   "completion_tokens": 0})

    def add_usage(self, target: dict[str, int], usage: Mapping[str, Any]) -> None:
        for name in target:
            value = usage.get(name, 0)
            target[name] += int(value) if isinstance(value, int) else 0


TurnRunner = Callable[[dict[str, Any], str, list[dict[str, Any]]],
                      Awaitable[list[dict[str, Any]]]]


def _sampling_seed(seed: int, sample: int) -> int:
    return (seed * 1_000_003 + sample) % (2**31 - 1)


async def _agent_turn(client: LLMClient, trace: _Trace, *, tools: list[dict[str, Any]] | None,
                      temperature: float | None, max_tokens: int | None,
                      seed: int) -> tuple[str, list[dict[str, Any]], str | None]:
    """One agent call: ``(raw text, native tool calls, the server's reasoning field)``."""
    try:
        completion = await client.complete(trace.request, temperature=temperature,
                                           max_tokens=max_tokens, tools=tools, seed=seed)
    except LLMError as exc:
        raise SftFailure(STAGE, "llm_error", f"agent call {trace.llm_calls + 1}: LLM call "
                                             f"failed: {exc.reason} (after {exc.attempts} "
                                             "attempt(s))") from exc
    trace.llm_calls += 1
    trace.cached += int(completion.cached)
    trace.attempts += completion.attempts
    trace.add_usage(trace.usage, completion.usage)
    return completion.text, [dict(call) for call in completion.tool_calls], completion.reasoning


def _text_calls(text: str, tools: Mapping[str, Mapping[str, Any]], turn: int
                ) -> tuple[str, list[dict[str, Any]]]:
    """Text mode: the visible content and the OpenAI ``tool_calls`` of a turn's text."""
    from astra_gym.parsers import parse_action

    schemas = {name: tool.get("parameters") or {} for name, tool in tools.items()}
    parsed = parse_action(text, "auto", list(tools), tool_schemas=schemas)
    if parsed.errors or parsed.dropped:
        reason = parsed.errors[0] if parsed.errors else f"{parsed.dropped} call(s) dropped"
        raise SftFailure(STAGE, "unparsable_call", f"turn {turn}: a tool call cannot be read: "
                                                   f"{reason}")
    calls = []
    for index, call in enumerate(parsed.calls):
        arguments = dict(call.arguments)
        if call.args:
            raise SftFailure(STAGE, "unparsable_call", f"turn {turn}: {call.name}() was called "
                                                       "with positional arguments")
        calls.append({"id": f"call_{turn}_{index}", "type": "function",
                      "function": {"name": call.name,
                                   "arguments": json.dumps(arguments, ensure_ascii=False)}})
    return parsed.content, calls


async def _loop(client: LLMClient, trace: _Trace, *, mode: str,
                tools: list[dict[str, Any]], max_llm_calls: int, temperature: float | None,
                max_tokens: int | None, seed: int, run_turn: TurnRunner) -> None:
    """The agent loop: ask, run the turn's calls, until a final answer or the cap.

    ``run_turn`` returns one ``{"content"}`` per call; for a turn without calls, the
    messages of the next user turn when the conversation goes on (an env task with
    several user turns; it may add to ``tools`` in place), else nothing.
    """
    while trace.llm_calls < max_llm_calls:
        by_name = {tool["function"]["name"]: tool["function"] for tool in tools}
        turn = trace.llm_calls + 1
        text, native, served_reasoning = await _agent_turn(
            client, trace, tools=tools if mode == "native" else None,
            temperature=temperature, max_tokens=max_tokens, seed=seed)
        if mode == "native":
            content, reasoning = split_reasoning(text)
            calls = []
            for index, call in enumerate(native):
                check = check_call(call["function"]["name"], call["function"]["arguments"],
                                   by_name)
                if check.kind == "unparsable":
                    raise SftFailure(STAGE, "unparsable_call", f"turn {turn}: {check.error}")
                # Ids are the endpoint's choice (random on most servers): normalised, so
                # the transcript, the requests built from it and their cache keys are
                # reproducible, and unique within the trajectory.
                calls.append({"id": f"call_{turn}_{index}", "type": "function",
                              "function": {"name": call["function"]["name"],
                                           "arguments": call["function"]["arguments"]}})
        else:
            visible, reasoning = split_reasoning(text)
            content, calls = _text_calls(text, by_name, turn)
            content = content if calls else visible
        message: dict[str, Any] = {"role": "assistant", "content": content or None}
        # The server's own field first (vLLM/DeepSeek reasoning parsers), then <think> text.
        reasoning = "\n\n".join(part for part in (served_reasoning, reasoning) if part) or None
        if reasoning:
            message["reasoning_content"] = reasoning
        if calls:
            message["tool_calls"] = calls
        trace.transcript.append(message)
        if mode == "native":
            sent = {"role": "assistant", "content": content or None}
            if calls:
                sent["tool_calls"] = calls
            trace.request.append(sent)
        else:
            trace.request.append({"role": "assistant", "content": text})
        results = await run_turn(message, text, calls)
        if not calls:
            if not content:
                raise SftFailure(STAGE, "empty_answer", f"turn {turn}: the final answer is empty")
            if not results:
                return
            trace.transcript.extend(dict(m) for m in results)  # the next user turn
            trace.request.extend(dict(m) for m in results)
            continue
        tool_messages = [{"role": "tool", "tool_call_id": call["id"],
                          "name": call["function"]["name"], "content": result["content"]}
                         for call, result in zip(calls, results, strict=True)]
        trace.transcript.extend(tool_messages)
        if mode == "native":
            trace.request.extend({k: v for k, v in m.items() if k != "name"}
                                 for m in tool_messages)
        else:
            trace.request.append({"role": "user", "content": "\n".join(
                f"<tool_response>\n{m['content']}\n</tool_response>" for m in tool_messages)})
    raise SftFailure(STAGE, "llm_call_cap", f"no final answer within {max_llm_calls} LLM calls")


def _system(mode: str, tools: list[dict[str, Any]], override: str | None) -> tuple[str, str]:
    """The agent's system prompt and its version (``{name: version}`` as text)."""
    system = load_prompt("sft_rollout_system")
    versions = {system.name: system.version}
    tool_format = ""
    if mode == "text":
        text = load_prompt("sft_rollout_text")
        versions[text.name] = text.version
        tool_format = "\n\n" + text.render(tools=json.dumps(tools, ensure_ascii=False)).strip()
    if override is not None:
        return override + tool_format, "custom" if mode == "native" else \
            f"custom+{text.name}:{text.version}"
    rendered = system.render(tool_format=tool_format).strip()
    if mode == "native":
        return rendered, system.version
    return rendered, ",".join(f"{name}:{version}" for name, version in versions.items())


async def _tools_rollout(record: Mapping[str, Any], client: LLMClient, trace: _Trace,
                         options: Mapping[str, Any]) -> dict[str, Any]:
    """Backends 1 and 2: the agent loop with checked, injected, parallel calls."""
    meta = record["rollout"]
    row = record["task"]
    trajectory_id = meta["trajectory_id"]
    tools = [copy.deepcopy(tool) for tool in row["tools"]]
    by_name = {tool["function"]["name"]: tool["function"] for tool in tools}
    injector = FailureInjector(p=options["injection_p"], seed=meta["seed"],
                               kinds=tuple(options["injection_kinds"]))
    sees_query = None
    backend: ToolBackend
    if meta["backend"] == "mcp":
        target = mcp_target(row.get("call_info"))
        if target is None:
            raise SftFailure(STAGE, "mcp_unavailable", "the task row names no MCP server")
        backend = McpBackend(target, trajectory_id=trajectory_id,
                             cache_dir=options.get("cache_dir"),
                             offline=bool(options.get("offline")),
                             timeout=options["mcp_timeout"])
    else:
        sees_query = shows_query(meta["seed"], trajectory_id, options["query_p"])
        mcp_tools = ((row.get("extra") or {}).get("mcp_tools") or {})
        backend = EmulatedBackend(
            client, tools=by_name, server=row.get("server") or {},
            query=row["question"] if sees_query else None,
            output_schemas={name: extra["outputSchema"] for name, extra in mcp_tools.items()
                            if isinstance(extra, dict) and extra.get("outputSchema")},
            window=options["history"], temperature=options["emulator_temperature"],
            max_tokens=options.get("max_tokens"))
    history: list[dict[str, Any]] = []
    executed = [0]

    async def run_turn(message: dict[str, Any], text: str,
                       calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not calls:
            return []
        planned = []
        for call in calls:
            check = check_call(call["function"]["name"], call["function"]["arguments"], by_name)
            entry: dict[str, Any] = {"turn": trace.llm_calls, "id": call["id"],
                                     "name": check.name, "arguments": check.arguments,
                                     "outcome": None, "injected": None, "error": None}
            if check.error is not None:
                entry.update(outcome="invalid", error=check.kind)
                planned.append((entry, None, check.error))
                continue
            ordinal = executed[0]
            executed[0] += 1
            kind = injector.draw(trajectory_id, ordinal)
            entry["ordinal"] = ordinal
            if kind is not None:
                entry.update(outcome="injected", injected=kind, error=kind)
                planned.append((entry, None, injector.message(kind, check.name)))
            else:
                planned.append((entry, ordinal, None))
        if any(ordinal is not None for _, ordinal, _ in planned):
            await backend.prepare()
        snapshot = list(history)

        async def one(entry: dict[str, Any], ordinal: int | None, text: str | None
                      ) -> dict[str, Any]:
            if ordinal is None:
                return {"content": text}
            result: CallResult = await backend.call(entry["name"], entry["arguments"],
                                                    ordinal, snapshot)
            trace.add_usage(trace.backend_usage, result.usage)
            entry["outcome"] = "ok" if result.ok else "tool_error"
            return {"content": result.content}

        results = await asyncio.gather(*(one(*item) for item in planned),
                                       return_exceptions=True)
        for result in results:  # the first failure in call order, not in time: reproducible
            if isinstance(result, BaseException):
                raise result
        for (entry, ordinal, _), result in zip(planned, results, strict=True):
            trace.calls.append(entry)
            if ordinal is not None:
                history.append({"name": entry["name"], "arguments": entry["arguments"],
                                "result": result["content"]})
        return list(results)

    system, version = _system(options["mode"], tools, options.get("system_prompt"))
    trace.transcript[:] = [{"role": "system", "content": system},
                           {"role": "user", "content": row["question"]}]
    trace.request[:] = [dict(message) for message in trace.transcript]
    try:
        async with backend:
            await _loop(client, trace, mode=options["mode"], tools=tools,
                        max_llm_calls=options["max_llm_calls"],
                        temperature=options.get("temperature"),
                        max_tokens=options.get("max_tokens"),
                        seed=_sampling_seed(meta["seed"], meta["sample"]), run_turn=run_turn)
    except EmulatorError as exc:
        raise SftFailure(STAGE, "emulator_error", str(exc)) from exc
    except ToolBackendError as exc:
        raise SftFailure(STAGE, "mcp_unavailable", str(exc)) from exc
    task = {key: row.get(key) for key in _TASK_KEYS}
    return {"tools": tools, "task": task, "labels": None, "prompt_version": version,
            "seeds": {"seed": meta["seed"], "sampling_seed":
                      _sampling_seed(meta["seed"], meta["sample"]),
                      "injection_seed": meta["seed"], "emulator_sees_query": sees_query},
            "injection": {"p": injector.p, "kinds": list(injector.kinds)},
            "provenance": row.get("provenance") or []}


def _resolve_env(pack_path: str, sandbox: str) -> Any:
    from astra_gym.env import AstraEnv

    return lambda **kwargs: AstraEnv(pack_path, sandbox={"isolation": sandbox},
                                     shuffle_tools=False, **kwargs)


async def _env_rollout(record: Mapping[str, Any], client: LLMClient, trace: _Trace,
                       options: Mapping[str, Any]) -> dict[str, Any]:
    """Backend 3: the agent loop inside :class:`astra_gym.AstraEnv`; its components are labels."""
    meta, where = record["rollout"], record["env"]
    mode = options["mode"]
    system, version = None, "env"  # text mode: the env's own prompt, tools and call format
    if mode == "native":
        system, version = _system(mode, [], options.get("system_prompt"))
    make = _resolve_env(where["pack"], options["env_sandbox"])
    env_seed = _sampling_seed(meta["seed"], meta["sample"])
    try:
        env = make(system_prompt=system, tools_in_prompt=mode == "text",
                   action_format="openai" if mode == "native" else "auto")
        observation, info = env.reset(seed=env_seed, options={"task_id": where["task_id"]})
    except Exception as exc:
        raise SftFailure(STAGE, "env_error", f"the env could not start: "
                                             f"{type(exc).__name__}: {exc}") from exc
    tools = info["tools"]
    labels: dict[str, Any] = {}

    async def run_turn(message: dict[str, Any], text: str,
                       calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        action: Any = text if mode == "text" else {
            "role": "assistant", "content": message.get("content"),
            **({"tool_calls": calls} if calls else {})}
        try:
            obs, _, terminated, truncated, step_info = await asyncio.to_thread(env.step, action)
        except Exception as exc:
            raise SftFailure(STAGE, "env_error", f"env.step failed: {type(exc).__name__}: "
                                                 f"{exc}") from exc
        records = step_info.get("calls") or []
        if any(item.get("error_kind") == "parse_error" for item in records):
            raise SftFailure(STAGE, "unparsable_call", "the env could not parse a tool call")
        labels.clear()
        labels.update(step_info["reward_components"])
        labels["success"] = bool(step_info["success"])
        labels["terminated"] = bool(terminated)
        if truncated and not terminated:
            raise SftFailure(STAGE, "llm_call_cap", "the env truncated the episode (max_turns)")
        if not calls:
            if terminated:
                return []
            # a task with several user turns: the answer ended this one, the next begins
            users = [{"role": "user", "content": m["content"]} for m in obs
                     if m.get("role") == "user"]
            if not users:
                raise SftFailure(STAGE, "env_error", "the env neither ended the episode nor "
                                                     "opened a user turn")
            if isinstance(step_info.get("tools"), list):
                tools[:] = step_info["tools"]
            return users
        if len(obs) != len(calls):
            raise SftFailure(STAGE, "env_error", f"the env ran {len(obs)} call(s) of "
                                                 f"{len(calls)}")
        for call, item in zip(calls, records, strict=True):
            kind = item.get("error_kind")
            trace.calls.append({"turn": trace.llm_calls, "id": call["id"], "name": item["name"],
                                "arguments": json.loads(call["function"]["arguments"] or "{}"),
                                "outcome": "ok" if item.get("ok") else (
                                    "invalid" if kind in ("unknown_tool", "invalid_arguments")
                                    else "injected" if kind == "injected_failure"
                                    else "tool_error"),
                                "injected": item.get("failure"), "error": kind,
                                "solved": item.get("solved", [])})
        return [{"content": m["content"]} for m in obs]

    trace.transcript[:] = [dict(message) for message in observation]
    trace.request[:] = [dict(message) for message in observation]
    try:
        await _loop(client, trace, mode=mode, tools=tools, max_llm_calls=options["max_llm_calls"],
                    temperature=options.get("temperature"), max_tokens=options.get("max_tokens"),
                    seed=env_seed, run_turn=run_turn)
    finally:
        env.close()
    task_row = env.task
    task = {"task_id": where["task_id"], "question": observation[-1]["content"],
            "language": getattr(task_row, "language", None),
            "domain": getattr(task_row, "domain", None), "env_id": where["env_id"],
            "target_tools": [sub.tool for sub in getattr(task_row, "subtasks", ())
                             if getattr(sub, "tool", None)]}
    return {"tools": tools, "task": task, "labels": dict(labels), "prompt_version": version,
            "seeds": {"seed": meta["seed"], "sampling_seed": env_seed, "env_seed": env_seed,
                      "episode_seed": info.get("episode_seed")},
            "injection": None, "provenance": []}


async def rollout_stage(record: Mapping[str, Any], client: LLMClient, *,
                        mode: str = "native", max_llm_calls: int = DEFAULT_MAX_LLM_CALLS,
                        task_timeout: float = DEFAULT_TASK_TIMEOUT,
                        temperature: float | None = None, max_tokens: int | None = None,
                        injection_p: float = DEFAULT_INJECTION_P,
                        injection_kinds: Sequence[str] = DEFAULT_INJECTION_KINDS,
                        history: int = DEFAULT_HISTORY, query_p: float = DEFAULT_QUERY_P,
                        emulator_temperature: float | None = 1.0, mcp_timeout: float = 30.0,
                        cache_dir: str | None = None, offline: bool = False,
                        env_sandbox: str = "process",
                        system_prompt: str | None = None) -> dict[str, Any]:
    """Roll out one trajectory.

    Args:
        record: A record of :func:`task_records` or :func:`env_records`; not modified.
        client: The agent's (and the emulator's) LLM client.
        mode: ``native`` (OpenAI ``tools``) or ``text`` (calls parsed from text).
        max_llm_calls: Agent calls per trajectory.
        task_timeout: Seconds of wall time per trajectory.
        temperature: The agent's sampling temperature (``None``: the server's).
        max_tokens: Completion length cap (agent and emulator).
        injection_p: Probability that a valid call fails on purpose (backends 1, 2).
        injection_kinds: The failure kinds drawn.
        history: (call, result) pairs the emulator sees.
        query_p: Probability that a trajectory's emulator sees the user query.
        emulator_temperature: The emulator's sampling temperature.
        mcp_timeout: Seconds to start an MCP server, and per MCP call.
        cache_dir: Where MCP call results are recorded.
        offline: MCP results from the records only.
        env_sandbox: The env's sandbox isolation (``process`` or ``inprocess``).
        system_prompt: Replaces the agent's system prompt (text mode keeps the
            tool list and call format after it).

    Returns:
        The trajectory row (see docs/sft_rollouts.md).

    Raises:
        SftFailure: See the module docstring for the codes.
        OfflineMiss: Offline, and the cache lacks an answer.
    """
    if mode not in MODES:
        raise ValueError(f"unknown rollout mode {mode!r} ({', '.join(MODES)})")
    options = dict(mode=mode, max_llm_calls=max_llm_calls, temperature=temperature,
                   max_tokens=max_tokens, injection_p=injection_p,
                   injection_kinds=injection_kinds, history=history, query_p=query_p,
                   emulator_temperature=emulator_temperature, mcp_timeout=mcp_timeout,
                   cache_dir=cache_dir, offline=offline, env_sandbox=env_sandbox,
                   system_prompt=system_prompt)
    meta = record["rollout"]
    trace = _Trace([], [])
    run = _env_rollout if meta["backend"] == "env" else _tools_rollout
    started = time.monotonic()
    try:
        async with asyncio.timeout(task_timeout):
            made = await run(record, client, trace, options)
    except TimeoutError:
        raise SftFailure(STAGE, "rollout_timeout", f"the trajectory took more than "
                                                   f"{task_timeout:g} s") from None
    wall = round(time.monotonic() - started, 3)
    injected = sum(1 for call in trace.calls if call["outcome"] == "injected")
    entry = {"stage": STAGE, "model": client.model, "prompt_version": made.pop("prompt_version"),
             "calls": trace.llm_calls, "attempts": trace.attempts,
             "cached": trace.llm_calls > 0 and trace.cached == trace.llm_calls,
             "usage": dict(trace.usage), "wall_s": wall}
    return {"trajectory_id": meta["trajectory_id"], "task_id": made["task"]["task_id"],
            "backend": meta["backend"], "mode": mode, "sample": meta["sample"],
            "model": client.model, "status": "final",
            "messages": trace.transcript, "tools": made["tools"], "calls": trace.calls,
            "llm_calls": trace.llm_calls, "injected_failures": injected,
            "tokens": {"agent": dict(trace.usage), "backend": dict(trace.backend_usage)},
            "labels": made["labels"], "seeds": made["seeds"], "injection": made["injection"],
            "task": made["task"],
            "provenance": [*copy.deepcopy(made["provenance"]), entry]}
