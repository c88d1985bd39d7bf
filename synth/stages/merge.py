"""Stage 5: merge same-intent tools into one (research/astra.md A.5).

Over a step-4 row (``env_result`` keyed by ``_uuid``, one synthesized tool
per tool-needing sub-question):

1. **Check every environment.** Each non-null env must have a tool document
   with ``name``/``description``/``parameters``, code and a call statement, and
   the statement must replay in the sandbox with a result that solves the
   sub-question under the env's rule (:func:`astra_gym.evidence.result_solves`:
   the sub-answer under :func:`astra_gym.answers.contains_answer`, never a raw
   substring; not error-shaped; not only an echo of the arguments). A
   tool-needing sub-question without an env fails too. Any violation fails
   the row.
2. **Cluster by intent** with one LLM call (``merge_cluster``). The reply must
   assign every tool-needing ``_uuid`` to exactly one cluster: exhaustive, no
   duplicates, no unknown ids; otherwise it is re-asked (at most
   :data:`~synth.stages.base.MAX_ASKS` asks) and then the row fails (fail-closed).
3. **Merge each cluster of several members.** The base is the first member's
   tool. The model edits only the base code's mock data (``merge_code``); the
   merged function must keep the base signature exactly and compile under the
   sandbox policy. Then it writes one call per member (``merge_calls``); each
   must call the base tool, satisfy its schema and, replayed in one sandbox
   session in cluster order, return its member's answer. A failed attempt is
   retried with the failures fed back, up to ``max_attempts``; a cluster that
   never passes fails the row (ASTRA drops it).
4. **Output.** The row gains ``clusters`` (every cluster, ids as in the trace)
   and ``aggregated_env`` (one entry per merged cluster, ASTRA's fields);
   merged members' envs get the merged code, the base document, their new
   call and ``merge_flag = True``; the other envs keep their tool with
   ``merge_flag = False``.

Sandbox calls run in a worker thread (``asyncio.to_thread``) so the event loop
keeps serving other records; :class:`~astra_gym.sandbox.Sandbox` serializes
calls to its worker process itself.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from astra_gym.evidence import unsolved_reason
from astra_gym.parsers.python_call import CallSyntaxError, bind_arguments, parse_python_call
from astra_gym.sandbox import Sandbox, SandboxSession
from astra_gym.toolspec import FunctionSignature, read_signature
from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.trace import TraceNode, node_id

from .base import (
    ID_SCHEMA,
    CallTally,
    StageFailure,
    ask,
    provenance_entry,
    valid_trace,
    with_provenance,
)

__all__ = ["CALLS_SCHEMA", "CLUSTER_SCHEMA", "CODE_SCHEMA", "MAX_ATTEMPTS", "REPLAY_SEED",
           "STAGE", "merge_tools"]

STAGE = "merge"

MAX_ATTEMPTS = 10
"""The most merge attempts per cluster a caller may ask for (ASTRA allowed 20)."""

REPLAY_SEED = 0
"""The session seed calls are replayed with (the compiler's too)."""

CLUSTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["clusters"],
    "properties": {"clusters": {"type": "array", "minItems": 1, "items": {
        "type": "object",
        "required": ["intent_summary", "_uuids", "reason"],
        "properties": {
            "intent_summary": {"type": "string"},
            "_uuids": {"type": "array", "minItems": 1, "items": ID_SCHEMA},
            "reason": {"type": "string"},
        },
    }}},
}
"""The JSON schema of an intent-clustering reply."""

CODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["merged_code"],
    "properties": {"merged_code": {"type": "string", "minLength": 1}},
}
"""The JSON schema of a merged-code reply."""

CALLS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["_uuid", "tool_call_statement"],
        "properties": {"_uuid": ID_SCHEMA, "tool_call_statement": {"type": "string"}},
    },
}
"""The JSON schema of a merged-calls reply."""

_SHOWN = 200


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


@dataclass(frozen=True)
class _Env:
    """One checked environment: a tool-needing sub-question and its tool."""

    node: TraceNode
    uuid: Any  # the _uuid as written in the trace
    doc: dict[str, Any]
    code: str
    statement: str
    signature: FunctionSignature


# -- replaying calls --------------------------------------------------------------

def _call_problem(statement: Any, doc: Mapping[str, Any], signature: FunctionSignature,
                  code: str, answer: str, session: SandboxSession) -> tuple[str | None, str]:
    """Check and replay one call statement.

    Returns:
        ``(problem, output)``: ``problem`` is None when the call parses, calls
        the tool, satisfies its schema, returns normally and its result
        contains ``answer``; ``output`` is the tool's result text, if it ran.
    """
    if not isinstance(statement, str) or not statement.strip():
        return "the call statement is empty", ""
    try:
        call = parse_python_call(statement)
        if call.name != doc["name"]:
            return (f"the call {statement!r} calls {call.name!r}, not the tool "
                    f"{doc['name']!r}"), ""
        arguments = bind_arguments(call, signature.positional_names)
    except CallSyntaxError as exc:
        return f"cannot parse the call {statement!r}: {exc}", ""
    try:
        error = jsonschema.exceptions.best_match(
            jsonschema.Draft202012Validator(doc["parameters"]).iter_errors(arguments))
    except jsonschema.SchemaError as exc:
        return f"the tool's parameters are not a valid JSON Schema: {exc.message}", ""
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "arguments"
        return f"the call {statement!r} violates the tool's schema ({where}: {error.message})", ""
    result = session.call(code, doc["name"], arguments)
    if not result.ok:
        return (f"the call {statement!r} failed ({result.error_kind}): "
                f"{_short(result.error or '')}"), result.output
    problem = unsolved_reason(result.output, answer, arguments)
    if problem is not None:
        return (f"the call {statement!r} returned {_short(result.output)!r}, which {problem}"
                ), result.output
    return None, result.output


def _replay_one(sandbox: Sandbox, env: _Env) -> str | None:
    with sandbox.session(seed=REPLAY_SEED) as session:
        problem, _ = _call_problem(env.statement, env.doc, env.signature, env.code,
                                   env.node.answer, session)
    return problem


def _replay_cluster(sandbox: Sandbox, doc: Mapping[str, Any], signature: FunctionSignature,
                    code: str, members: Sequence[_Env],
                    statements: Mapping[str, str]) -> list[dict[str, Any]]:
    """Replay each member's new call in one session, in cluster order."""
    results = []
    with sandbox.session(seed=REPLAY_SEED) as session:
        for env in members:
            problem, output = _call_problem(statements[env.node.id], doc, signature, code,
                                            env.node.answer, session)
            if problem is None:
                results.append({"uuid": env.uuid, "status": "passed", "stdout": output})
            else:
                results.append({"uuid": env.uuid, "status": "failed", "reason": problem})
    return results


# -- step 1: the environments -----------------------------------------------------

def _env_result(record: Mapping[str, Any]) -> dict[str, Any]:
    raw = record.get("env_result")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StageFailure(STAGE, f"env_result is not valid JSON: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise StageFailure(STAGE, "env_result must be an object keyed by _uuid")
    return {str(key).strip(): value for key, value in raw.items()}


def _env_data(entry: Any) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        return None
    result = entry.get("env_synthesis_result")
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, dict) else None


def _read_env(node: TraceNode, uuid: Any, entry: Any) -> _Env:
    """An env's static checks; raises :class:`StageFailure` naming the first problem."""
    owner = f"env of sub-question {node.id}"
    data = _env_data(entry)
    if data is None:
        raise StageFailure(STAGE, f"{owner} has no env_synthesis_result.data object")
    doc = data.get("tool_document")
    if not isinstance(doc, dict):
        raise StageFailure(STAGE, f"{owner}: tool_document is missing or not an object")
    missing = [key for key in ("name", "description", "parameters") if not doc.get(key)]
    if missing or not isinstance(doc["name"], str) or not isinstance(doc["parameters"], dict):
        raise StageFailure(STAGE, f"{owner}: tool_document lacks a valid "
                                  f"{', '.join(missing) or 'name or parameters object'}")
    code, statement = data.get("code"), data.get("tool_call_statement")
    if not isinstance(code, str) or not code.strip():
        raise StageFailure(STAGE, f"{owner} has no code")
    if not isinstance(statement, str) or not statement.strip():
        raise StageFailure(STAGE, f"{owner} has no tool_call_statement")
    try:
        signature = read_signature(code, doc["name"])
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise StageFailure(STAGE, f"{owner}: its code does not parse "
                                  f"({type(exc).__name__})") from exc
    if signature is None:
        raise StageFailure(STAGE, f"{owner}: its code does not define {doc['name']}()")
    return _Env(node, uuid, doc, code, statement, signature)


async def _check_envs(record: Mapping[str, Any], nodes: list[TraceNode],
                      sandbox: Sandbox) -> tuple[dict[str, Any], list[_Env]]:
    """Step 1: every non-null env is complete and its own call yields its answer.

    Returns:
        ``env_result`` (keys as text) and the tool-needing sub-questions' envs
        in trace order.
    """
    env_result = _env_result(record)
    raw_ids = {node_id(item.get("_uuid")): item.get("_uuid")
               for item in record["decomposition_trace"] if isinstance(item, dict)}
    checked: list[_Env] = []
    for node in nodes:
        entry = env_result.get(node.id)
        needs_tool = node.needs_tool if node.needs_tool is not None else entry is not None
        if entry is None:
            if needs_tool:
                raise StageFailure(STAGE, f"sub-question {node.id} needs a tool but has no env")
            continue
        env = _read_env(node, raw_ids[node.id], entry)
        problem = await asyncio.to_thread(_replay_one, sandbox, env)
        if problem is not None:
            raise StageFailure(STAGE, f"env of sub-question {node.id}: {problem}")
        if needs_tool:
            checked.append(env)
    if not checked:
        raise StageFailure(STAGE, "no sub-question needs a tool: nothing to merge or train on")
    return env_result, checked


# -- step 2: intent clusters ------------------------------------------------------

def _cluster_items(envs: Sequence[_Env]) -> str:
    return "\n".join(json.dumps({
        "_uuid": env.uuid, "question": env.node.question, "answer": env.node.answer,
        "tool": {"name": env.doc["name"], "description": env.doc["description"],
                 "parameters": env.doc["parameters"]},
        "call": env.statement}, ensure_ascii=False) for env in envs)


def _validate_clusters(reply: Mapping[str, Any], envs: Sequence[_Env],
                       ) -> list[tuple[dict[str, Any], list[_Env]]]:
    """Each cluster with its members; fails unless the assignment is exact."""
    by_id = {env.node.id: env for env in envs}
    seen: dict[str, int] = {}
    clusters = []
    for position, cluster in enumerate(reply["clusters"], 1):
        members = []
        for raw in cluster["_uuids"]:
            uid = node_id(raw)
            if uid not in by_id:
                raise StageFailure(STAGE, f"clustering: cluster {position} names _uuid {raw!r}, "
                                          "which is not a tool-needing sub-question")
            if uid in seen:
                raise StageFailure(STAGE, f"clustering: _uuid {raw!r} is in cluster "
                                          f"{seen[uid]} and cluster {position}")
            seen[uid] = position
            members.append(by_id[uid])
        clusters.append((dict(cluster), members))
    missing = [env.uuid for env in envs if env.node.id not in seen]
    if missing:
        raise StageFailure(STAGE, f"clustering: not exhaustive, no cluster holds _uuids {missing}")
    return clusters


# -- step 3: merging one cluster --------------------------------------------------

def _code_problems(code: str, base: _Env) -> list[str]:
    """Why merged code cannot stand in for the base tool (empty when it can)."""
    name = base.doc["name"]
    try:
        signature = read_signature(code, name)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return [f"the merged code does not parse ({type(exc).__name__}: {exc})"]
    if signature is None:
        return [f"the merged code does not define {name}()"]
    if signature != base.signature:
        return [f"the merged code changes the signature of {name}(): expected parameters "
                f"{_signature_text(base.signature)}, got {_signature_text(signature)}; edit "
                "only the mock data"]
    errors = Sandbox.check(code)
    if errors:
        return [f"the merged code is rejected by the sandbox policy: {'; '.join(errors[:3])}"]
    return []


def _signature_text(signature: FunctionSignature) -> str:
    parts = [p.name + ("=…" if p.has_default else "") for p in signature.parameters]
    if signature.var_positional:
        parts.append("*args")
    if signature.var_keyword:
        parts.append("**kwargs")
    return "(" + ", ".join(parts) + ")"


def _statements(reply: list[dict[str, Any]], members: Sequence[_Env],
                ) -> tuple[dict[str, str], list[str]]:
    """The reply's call per member id, and what is wrong with the reply as a whole."""
    wanted = {env.node.id for env in members}
    statements: dict[str, str] = {}
    problems = []
    for item in reply:
        uid = node_id(item.get("_uuid"))
        if uid not in wanted:
            problems.append(f"the calls name _uuid {item.get('_uuid')!r}, which is not in "
                            "this cluster")
        elif uid in statements:
            problems.append(f"the calls give _uuid {item.get('_uuid')!r} twice")
        else:
            statements[uid] = item["tool_call_statement"]
    missing = [env.uuid for env in members if env.node.id not in statements]
    if missing:
        problems.append(f"the calls give no statement for _uuids {missing}")
    return statements, problems


def _feedback(attempt: int, attempts: int, failures: Sequence[str]) -> str:
    if not failures:
        return ""
    lines = "\n".join(f"- {failure}" for failure in failures)
    return (f"\nThis is attempt {attempt} of {attempts}. The previous attempt failed:\n{lines}\n"
            "Fix these problems.\n")


async def _merge_cluster(cluster: Mapping[str, Any], members: Sequence[_Env],
                         client: LLMClient, sandbox: Sandbox, *, max_attempts: int,
                         temperature: float | None, max_tokens: int | None,
                         tally: CallTally) -> dict[str, Any]:
    """Merge one cluster's tools into its base tool; the ``aggregated_env`` entry."""
    base = members[0]
    label = f"cluster {[env.uuid for env in members]} ({cluster['intent_summary']!r})"
    doc_json = json.dumps(base.doc, ensure_ascii=False, indent=1)
    code_members = "\n".join(json.dumps({
        "_uuid": env.uuid, "question": env.node.question, "answer": env.node.answer,
        "working_call": env.statement, "own_tool_code": env.code}, ensure_ascii=False)
        for env in members)
    call_members = "\n".join(json.dumps({
        "_uuid": env.uuid, "question": env.node.question, "answer": env.node.answer},
        ensure_ascii=False) for env in members)
    failures: list[str] = []
    for attempt in range(1, max_attempts + 1):
        feedback = _feedback(attempt, max_attempts, failures)
        content = load_prompt("merge_code").render(
            tool_name=base.doc["name"], tool_document=doc_json, base_code=base.code,
            members=code_members, feedback=feedback)
        reply = await ask(client, STAGE, f"merged code of {label}", content, schema=CODE_SCHEMA,
                          temperature=temperature, max_tokens=max_tokens, tally=tally)
        code = reply["merged_code"]
        failures = _code_problems(code, base)
        if failures:
            continue
        content = load_prompt("merge_calls").render(
            tool_name=base.doc["name"], tool_document=doc_json, merged_code=code,
            members=call_members, feedback=feedback)
        calls = await ask(client, STAGE, f"merged calls of {label}", content,
                          schema=CALLS_SCHEMA, temperature=temperature, max_tokens=max_tokens,
                          tally=tally)
        statements, failures = _statements(calls, members)
        if failures:
            continue
        results = await asyncio.to_thread(_replay_cluster, sandbox, base.doc, base.signature,
                                          code, members, statements)
        failures = [f"_uuid {r['uuid']}: {r['reason']}" for r in results
                    if r["status"] != "passed"]
        if failures:
            continue
        return {
            "intent_summary": cluster["intent_summary"], "reason": cluster["reason"],
            "main_uuid": base.uuid, "_uuids": [env.uuid for env in members],
            "status": "success", "merged_code": code, "tool_names": [base.doc["name"]],
            "tool_document": copy.deepcopy(base.doc),
            "tool_call_statements": [
                {"_uuid": env.uuid, "tool_call_statement": statements[env.node.id],
                 "question": env.node.question, "answer": env.node.answer}
                for env in members],
            "verification": {"all_tests_passed": True, "test_results": results,
                             "retry_count": attempt - 1, "passed_count": len(results),
                             "total_count": len(results)},
        }
    raise StageFailure(STAGE, f"{label} failed to merge after {max_attempts} attempt"
                              f"{'s' if max_attempts != 1 else ''}: " + "; ".join(failures))


# -- the stage ----------------------------------------------------------------------

async def merge_tools(record: Mapping[str, Any], client: LLMClient, sandbox: Sandbox, *,
                      max_attempts: int = 3, temperature: float | None = 0.0,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """Cluster the row's tools by intent and merge each cluster into one tool.

    Args:
        record: A step-4 row with ``env_result`` (not modified).
        client: The LLM client.
        sandbox: Where calls are replayed (use ``process`` isolation: the code
            comes from an LLM).
        max_attempts: Merge attempts per multi-member cluster, 1 to
            :data:`MAX_ATTEMPTS`.
        temperature: Sampling temperature.
        max_tokens: Completion length cap (``None``: the server's).

    Returns:
        The row with ``clusters``, ``aggregated_env``, merged members' envs
        rewritten with ``merge_flag`` True (the other envs' ``merge_flag``
        False), and a provenance entry (a new dict).

    Raises:
        StageFailure: The trace is invalid; an env is incomplete or its call
            does not yield its answer; the clustering reply is invalid or not
            an exact partition of the tool-needing sub-questions; an LLM call
            failed; or a cluster could not be merged within ``max_attempts``.
        ValueError: ``max_attempts`` is out of range.
    """
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise ValueError(f"max_attempts must be between 1 and {MAX_ATTEMPTS}, got "
                         f"{max_attempts}")
    nodes = valid_trace(record, STAGE)
    env_result, envs = await _check_envs(record, nodes, sandbox)
    tally = CallTally()
    prompts = [load_prompt(name) for name in ("merge_cluster", "merge_code", "merge_calls")]

    if len(envs) == 1:  # nothing to cluster: no call needed
        only = envs[0]
        reply: dict[str, Any] = {"clusters": [{
            "intent_summary": only.node.question, "_uuids": [only.uuid],
            "reason": "the only tool-needing sub-question"}]}
    else:
        content = prompts[0].render(main_question=record.get("main_question", ""),
                                    items=_cluster_items(envs))
        reply = await ask(client, STAGE, "intent clustering", content, schema=CLUSTER_SCHEMA,
                          temperature=temperature, max_tokens=max_tokens, tally=tally,
                          check=lambda value: _validate_clusters(value, envs))
    clusters = _validate_clusters(reply, envs)

    aggregated = []
    for cluster, members in clusters:
        if len(members) > 1:
            aggregated.append(await _merge_cluster(
                cluster, members, client, sandbox, max_attempts=max_attempts,
                temperature=temperature, max_tokens=max_tokens, tally=tally))

    row = copy.deepcopy(dict(record))
    row["env_result"] = env_result = copy.deepcopy(env_result)
    for env in envs:
        env_result[env.node.id]["merge_flag"] = False
    for entry in aggregated:
        for statement in entry["tool_call_statements"]:
            member = env_result[str(node_id(statement["_uuid"]))]
            data = member["env_synthesis_result"]["data"]
            data["code"] = entry["merged_code"]
            data["tool_document"] = copy.deepcopy(entry["tool_document"])
            data["tool_call_statement"] = statement["tool_call_statement"]
            member["merge_flag"] = True
    row["clusters"] = [{"intent_summary": cluster["intent_summary"],
                        "_uuids": [env.uuid for env in members], "reason": cluster["reason"]}
                       for cluster, members in clusters]
    row["aggregated_env"] = aggregated
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompts, tally))
    return row
