"""Stage 4: synthesize and verify one tool per tool-needing sub-question (research/astra.md A.4).

For every trace item with ``tool_necessity`` true, four LLM steps build a tool:

1. **document** (``tool_document.md``): an OpenAI function-schema body
   ``{name, description, parameters}``;
2. **scaling** (``tool_scaling.md``): a refined, richer document that replaces it;
3. **call** (``tool_call.md``): one Python call expression with keyword arguments;
4. **code** (``tool_code.md``): a self-contained, stdlib-only function.

Each step's reply is validated (JSON schema, then :func:`~astra_gym.toolspec.schema_problems`,
:func:`~astra_gym.parsers.parse_python_call`, :func:`~astra_gym.toolspec.read_signature` /
:func:`~astra_gym.toolspec.signature_problems`), and the call is then **replayed** in the
sandbox (``sandbox.session(seed=0)``; use ``process`` isolation, since the code is fresh from
a model): it passes only when the call returns normally and its output solves the
sub-question under the env's rule, :func:`~astra_gym.evidence.result_solves` (the
sub-answer under :func:`~astra_gym.answers.contains_answer`, not a raw substring test; not
an error-shaped result; not only where the output repeats the call's own arguments).

Anything that goes wrong is a failed *attempt* with its reason, logged in
``extra_info.attempts``; the next attempt's prompts carry that reason (and the attempt
number, so a cached reply is never replayed for a retry). An attempt reuses the accepted
document and redoes steps 3-4; when the document itself was rejected (or the model said
the tool cannot answer the step) the attempt starts again from step 1. At most
``max_attempts`` attempts are made per sub-question (the released code could loop for
ever); when none passes, the whole row fails with a :class:`StageFailure` naming the
sub-question and the last failure. Rows are never written with a ``null`` environment for
a tool-needing sub-question (unlike the released code).

Anti-leakage: a document whose description or parameter schema contains the sub-answer
(``contains_answer``) is rejected, and so is one whose parameter descriptions, defaults or
examples reuse a literal value of the question (a number, a quoted text, a whole name such
as ``Harbor View Hotel``; ordinary nouns such as "hotel" are not literals): the rule is
stated precisely in :mod:`synth.stages.literals`.

Tool names: a tool name must be unique within the row. A document whose name is already
used by an earlier sub-question's tool is rejected (the reason asks for another name), so
different tools never share a name; tools that do the same thing are step 5's business
(merging), not this stage's.

Sub-questions are synthesized one at a time, hop by hop (trace order within a hop), so
the name check is deterministic. For ``hop_level > 1`` sub-questions, the question/answer
pairs of its dependencies (looked up by ``_uuid``, never by list position) are given to
every prompt.

The output row adds ``env_result`` keyed by ``str(_uuid)``, in ASTRA's shape::

    {"question", "answer", "env_synthesis_result": {
        "data": {"tool_document", "tool_call_statement", "code", "tool_call_ans"},
        "extra_info": {"tool_document_generation_result": {"content", "analysis"},
                       "tool_document_complexity_scaling_result": {...},
                       "tool_call_statement_result": {...},
                       "tool_deployment_result": {...},
                       "attempts": [{"attempt", "step", "ok", "reason"}, ...]}}}

and ``None`` for sub-questions that need no tool.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from astra_gym.answers import contains_answer
from astra_gym.evidence import unsolved_reason
from astra_gym.parsers import CallSyntaxError, parse_python_call
from astra_gym.sandbox import Sandbox, ToolResult
from astra_gym.toolspec import read_signature, schema_problems, signature_problems
from synth.llm import LLMClient
from synth.prompts import Prompt, load_prompt
from synth.trace import TraceNode, node_id

from .base import CallTally, StageFailure, ask, provenance_entry, valid_trace, with_provenance
from .literals import question_literal_in_examples

__all__ = ["CALL_REPLY_SCHEMA", "CODE_REPLY_SCHEMA", "DOCUMENT_REPLY_SCHEMA",
           "REPLAY_SEED", "SCALING_REPLY_SCHEMA", "STAGE", "TOOL_DOCUMENT_SCHEMA",
           "synthesize_tools"]

STAGE = "tools"

REPLAY_SEED = 0
"""The sandbox session seed of the replay (the compiler replays with the same seed)."""

_OUTPUT_PREVIEW = 300

TOOL_DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "description", "parameters"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
        "description": {"type": "string", "minLength": 1},
        "parameters": {"type": "object"},
    },
}
"""A tool document: an OpenAI function-schema body (not wrapped in ``{"type": "function"}``)."""

DOCUMENT_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["tool"],
    "properties": {"analysis": {"type": "string"}, "tool": TOOL_DOCUMENT_SCHEMA},
}
"""The JSON schema of a step-1 (document) reply."""

SCALING_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["refined_version"],
    "properties": {"analysis": {"type": "string"}, "refined_version": TOOL_DOCUMENT_SCHEMA},
}
"""The JSON schema of a step-2 (complexity scaling) reply."""

CALL_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["call"],
    "properties": {"analysis": {"type": "string"}, "call": {"type": ["string", "null"]}},
}
"""The JSON schema of a step-3 (call statement) reply."""

CODE_REPLY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["function"],
    "properties": {"analysis": {"type": "string"}, "function": {"type": "string", "minLength": 1}},
}
"""The JSON schema of a step-4 (code) reply."""


class _Rejected(Exception):
    """One attempt failed at ``step`` for ``reason``; ``restart`` drops the document."""

    def __init__(self, step: str, reason: str, *, restart: bool = False) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason
        self.restart = restart


@dataclass
class _Job:
    """What one sub-question's synthesis needs, and what it has so far."""

    node: TraceNode
    answer: Any
    dependencies: str
    client: LLMClient
    sandbox: Sandbox
    taken: Mapping[str, str]
    temperature: float | None
    max_tokens: int | None
    tally: CallTally
    extra: dict[str, Any] = field(default_factory=dict)


def _prompts() -> dict[str, Prompt]:
    return {name: load_prompt(name)
            for name in ("tool_document", "tool_scaling", "tool_call", "tool_code")}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _feedback(attempt: int, max_attempts: int, last: _Rejected | None) -> str:
    """The retry note for a prompt: empty on the first attempt."""
    if last is None:
        return ""
    return (f"\nThis is attempt {attempt} of {max_attempts}. The previous attempt failed at the "
            f"{last.step} step: {last.reason}\nAvoid that mistake this time.\n")


async def _ask(job: _Job, step: str, content: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """One validated completion; an LLM failure becomes a rejected attempt."""
    try:
        return await ask(job.client, STAGE, step, content, schema=schema,
                         temperature=job.temperature, max_tokens=job.max_tokens, tally=job.tally)
    except StageFailure as failure:
        raise _Rejected(step, failure.reason.removeprefix(f"{step}: "),
                        restart=step in ("document", "scaling")) from failure


# The question-literal rule lives in its own module (the rule is stated precisely there).
_question_literal_in_examples = question_literal_in_examples


def _check_document(job: _Job, step: str, doc: dict[str, Any]) -> None:
    """Reject a document with a broken schema, a leaked answer, or a name already in use."""
    problems = schema_problems(doc["parameters"])
    if problems:
        raise _Rejected(step, "the tool document's parameters are invalid: " + "; ".join(problems),
                        restart=True)
    answer = job.node.answer
    if answer.strip() and (contains_answer(doc["description"], answer)
                           or contains_answer(_dumps(doc["parameters"]), answer)):
        raise _Rejected(step, f"the tool document leaks the answer {answer!r} in its "
                              "description or parameter schema; describe kinds of values, "
                              "never the answer", restart=True)
    literal = _question_literal_in_examples(job.node.question or "", doc["parameters"])
    if literal is not None:
        raise _Rejected(step, f"the parameter descriptions or examples reuse {literal!r} from "
                              "the question; a tool must generalise to similar questions, so "
                              "describe kinds of values instead", restart=True)
    owner = job.taken.get(doc["name"])
    if owner is not None:
        raise _Rejected(step, f"the tool name {doc['name']!r} is already used by the tool of "
                              f"sub-question {owner}; choose a different name", restart=True)


async def _document(job: _Job, prompts: Mapping[str, Prompt], feedback: str) -> dict[str, Any]:
    """Steps 1-2: the document, then its refined version (both checked)."""
    reply = await _ask(job, "document", prompts["tool_document"].render(
        question=job.node.question, dependencies=job.dependencies, feedback=feedback),
        DOCUMENT_REPLY_SCHEMA)
    doc = reply["tool"]
    _check_document(job, "document", doc)
    job.extra["tool_document_generation_result"] = {"content": doc,
                                                    "analysis": reply.get("analysis", "")}
    reply = await _ask(job, "scaling", prompts["tool_scaling"].render(
        question=job.node.question, dependencies=job.dependencies,
        document=_dumps(doc), feedback=feedback), SCALING_REPLY_SCHEMA)
    refined = reply["refined_version"]
    _check_document(job, "scaling", refined)
    job.extra["tool_document_complexity_scaling_result"] = {
        "content": refined, "analysis": reply.get("analysis", "")}
    return refined


def _check_call(doc: dict[str, Any], statement: str | None) -> tuple[str, dict[str, Any]]:
    """Parse the call statement and check it against the document."""
    if statement is None:
        raise _Rejected("call", "the model said the tool cannot answer this step (call is "
                                "null)", restart=True)
    try:
        call = parse_python_call(statement)
    except CallSyntaxError as exc:
        raise _Rejected("call", f"cannot parse the call {statement!r}: {exc}") from None
    if call.name != doc["name"]:
        raise _Rejected("call", f"the call names {call.name!r} but the tool is named "
                                f"{doc['name']!r}")
    if call.args:
        raise _Rejected("call", f"the call {statement!r} passes positional arguments; pass "
                                "every argument by keyword")
    properties = doc["parameters"].get("properties") or {}
    unknown = sorted(set(call.kwargs) - set(properties))
    if unknown:
        raise _Rejected("call", f"the call passes {unknown}, which the tool document does not "
                                "declare as parameters")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(doc["parameters"]).iter_errors(call.kwargs))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "arguments"
        raise _Rejected("call", f"the call {statement!r} violates the tool's schema ({where}: "
                                f"{error.message})")
    return statement.strip(), call.kwargs


def _check_code(doc: dict[str, Any], code: str) -> None:
    """Static checks: the function exists and its signature agrees with the schema."""
    try:
        signature = read_signature(code, doc["name"])
    except SyntaxError as exc:
        raise _Rejected("code", f"the code is not valid Python (line {exc.lineno}: "
                                f"{exc.msg})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise _Rejected("code", f"the code cannot be parsed ({type(exc).__name__})") from None
    if signature is None:
        raise _Rejected("code", f"the code does not define a top-level function "
                                f"{doc['name']!r}")
    problems = signature_problems(signature, doc["parameters"])
    if problems:
        raise _Rejected("code", "the function's signature disagrees with the tool document: "
                                + "; ".join(problems))


def _replay(sandbox: Sandbox, code: str, name: str, kwargs: dict[str, Any]) -> ToolResult:
    with sandbox.session(seed=REPLAY_SEED) as session:
        return session.call(code, name, kwargs)


def _preview(text: str) -> str:
    return text if len(text) <= _OUTPUT_PREVIEW else text[:_OUTPUT_PREVIEW] + "..."


async def _attempt(job: _Job, prompts: Mapping[str, Prompt], doc: dict[str, Any],
                   feedback: str) -> dict[str, Any]:
    """Steps 3-4 and the replay; returns the ``data`` of the environment."""
    reply = await _ask(job, "call", prompts["tool_call"].render(
        question=job.node.question, dependencies=job.dependencies, document=_dumps(doc),
        feedback=feedback), CALL_REPLY_SCHEMA)
    job.extra["tool_call_statement_result"] = {"content": reply["call"],
                                               "analysis": reply.get("analysis", "")}
    statement, kwargs = _check_call(doc, reply["call"])

    reply = await _ask(job, "code", prompts["tool_code"].render(
        document=_dumps(doc), question=job.node.question, answer=job.node.answer,
        dependencies=job.dependencies, call=statement, feedback=feedback), CODE_REPLY_SCHEMA)
    code = reply["function"]
    job.extra["tool_deployment_result"] = {"content": code, "analysis": reply.get("analysis", "")}
    _check_code(doc, code)

    result = await asyncio.to_thread(_replay, job.sandbox, code, doc["name"], kwargs)
    if not result.ok:
        raise _Rejected("replay", f"running {statement} in the sandbox failed "
                                  f"({result.error_kind}): {_preview(result.error or '')}")
    problem = unsolved_reason(result.output, job.node.answer, kwargs)
    if problem is not None:
        raise _Rejected("replay", f"running {statement} returned {_preview(result.output)!r}, "
                                  f"which {problem}")
    return {"tool_document": doc, "tool_call_statement": statement, "code": code,
            "tool_call_ans": result.output}


async def _synthesize_one(job: _Job, prompts: Mapping[str, Prompt],
                          max_attempts: int) -> dict[str, Any]:
    """All attempts for one sub-question; the ``env_result`` entry, or a failure."""
    doc: dict[str, Any] | None = None
    last: _Rejected | None = None
    log: list[dict[str, Any]] = []
    for attempt in range(1, max_attempts + 1):
        feedback = _feedback(attempt, max_attempts, last)
        try:
            if doc is None:
                doc = await _document(job, prompts, feedback)
            data = await _attempt(job, prompts, doc, feedback)
        except _Rejected as rejected:
            log.append({"attempt": attempt, "step": rejected.step, "ok": False,
                        "reason": rejected.reason})
            last = rejected
            if rejected.restart:
                doc = None
            continue
        log.append({"attempt": attempt, "step": "replay", "ok": True, "reason": None})
        return {"question": job.node.question, "answer": job.answer,
                "env_synthesis_result": {"data": data,
                                         "extra_info": {**job.extra, "attempts": log}}}
    assert last is not None
    raise StageFailure(STAGE, f"sub-question {job.node.id}: no working tool after "
                              f"{max_attempts} attempt{'s' if max_attempts != 1 else ''}; "
                              f"last failure ({last.step}): {last.reason}")


async def synthesize_tools(record: Mapping[str, Any], client: LLMClient, sandbox: Sandbox, *,
                           max_attempts: int = 3, temperature: float | None = 0.7,
                           max_tokens: int | None = None) -> dict[str, Any]:
    """Build, and verify by replay, one tool per tool-needing sub-question.

    Args:
        record: A row that went through the necessity stage (not modified).
        client: The LLM client.
        sandbox: Where the calls are replayed (``Sandbox(isolation="process")``
            for model-written code).
        max_attempts: Attempts per sub-question (at least 1); each attempt
            redoes the call and the code, and the document when it was rejected.
        temperature: Sampling temperature.
        max_tokens: Completion length cap (``None``: the server's).

    Returns:
        The row with ``env_result`` (keyed by ``str(_uuid)``, ``None`` for
        sub-questions needing no tool) and a provenance entry (a new dict).

    Raises:
        StageFailure: The row is not legitimate or was not labelled by the
            necessity stage, its trace is invalid, or some sub-question got no
            working tool within ``max_attempts`` attempts (the reason names it
            and its last failure).
        ValueError: ``max_attempts`` is below 1.
    """
    if max_attempts < 1:
        raise ValueError(f"max_attempts must be at least 1, got {max_attempts}")
    if record.get("tool_necessity_legitimacy") is not True:
        state = record.get("tool_necessity_legitimacy")
        raise StageFailure(STAGE, "tool_necessity_legitimacy is false: a sub-question others "
                                  "depend on needs no tool" if state is False else
                                  "the row has no tool_necessity_legitimacy: run the necessity "
                                  "stage first")
    nodes = valid_trace(record, STAGE)
    unlabelled = [node.id for node in nodes if node.needs_tool is None]
    if unlabelled:
        raise StageFailure(STAGE, f"sub-questions {unlabelled} have no boolean tool_necessity: "
                                  "run the necessity stage first")
    by_id = {node.id: node for node in nodes}
    raw = {node_id(item.get("_uuid")): item for item in record["decomposition_trace"]}
    prompts = _prompts()
    tally = CallTally()
    taken: dict[str, str] = {}
    env_result: dict[str, Any] = {}
    attempts: dict[str, int] = {}
    for node in sorted(nodes, key=lambda n: n.hop_level):  # stable: trace order within a hop
        if not node.needs_tool:
            env_result[node.id] = None
            continue
        dependencies = [{"question": by_id[dep].question, "answer": by_id[dep].answer}
                        for dep in node.depends_on if dep in by_id]
        job = _Job(node, copy.deepcopy(raw[node.id].get("sub_answer")), _dumps(dependencies),
                   client, sandbox, taken, temperature, max_tokens, tally)
        entry = await _synthesize_one(job, prompts, max_attempts)
        env_result[node.id] = entry
        taken[entry["env_synthesis_result"]["data"]["tool_document"]["name"]] = node.id
        attempts[node.id] = len(entry["env_synthesis_result"]["extra_info"]["attempts"])

    row = copy.deepcopy(dict(record))
    row["env_result"] = {node.id: env_result[node.id] for node in nodes}  # trace order
    entry = provenance_entry(STAGE, client, list(prompts.values()), tally)
    entry["tool_attempts"] = attempts
    row["provenance"] = with_provenance(record, entry)
    return row
