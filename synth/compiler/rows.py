"""Turning one ASTRA row into a draft task, with every reason it is unusable.

Three shapes are recognised per row:

- ``step4``: ``decomposition_trace`` + ``env_result`` (ASTRA step 4 output);
- ``step5``: the same plus ``clusters`` / ``aggregated_env`` / ``merge_flag``
  (step 5: merged tools shared by several sub-questions);
- ``rl``: the released RL shape (``prompt``, ``tool_schema``, ``tool_dict``,
  ``sub_qa_dict``), whose sub-tasks are answer-only.

Everything here is static: the sandbox replay of gold calls happens in
:mod:`synth.compiler.replay`. Problems are collected, not raised one by one,
so a rejected row's report lists every reason at once.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from astra_gym.argcheck import validator_for
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool
from astra_gym.parsers import CallSyntaxError, bind_arguments, parse_python_call
from astra_gym.toolspec import read_signature, schema_problems, signature_problems

from ..language import detect_language
from ..trace import TraceNode, answer_text, check_dag, node_id, read_trace
from .background import KNOWN_HEADING, user_context
from .inputs import SourceRow

__all__ = ["Draft", "Reason", "Replay", "RowRejected", "detect_shape", "draft_task"]

_TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Reason:
    """Why a row was rejected: a stable ``code`` (for counting) and a readable message."""

    code: str
    message: str


class RowRejected(Exception):
    """A row cannot become a task; ``reasons`` lists why."""

    def __init__(self, reasons: list[Reason], task_id: str | None = None) -> None:
        super().__init__("; ".join(reason.message for reason in reasons))
        self.reasons = reasons
        self.task_id = task_id


@dataclass(frozen=True)
class Replay:
    """A gold call to run in the sandbox, and the answer its result must contain."""

    subtask_id: str
    tool: str
    arguments: dict[str, Any]
    answer: str

    def call_text(self) -> str:
        args = ", ".join(f"{key}={json.dumps(value, ensure_ascii=False)}"
                         for key, value in self.arguments.items())
        return f"{self.tool}({args})"


@dataclass
class Draft:
    """A task that passed the static checks, with the gold calls still to replay."""

    task: Task
    shape: str
    replays: list[Replay]
    notes: list[str] = field(default_factory=list)


# -- small helpers --------------------------------------------------------------

def _maybe_json(value: Any, what: str, reasons: list[Reason], code: str) -> Any:
    """Decode ``value`` when it is a JSON string (ASTRA stores many fields that way)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            reasons.append(Reason(code, f"{what} is a string that is not valid JSON ({exc.msg})"))
            return None
    return value


def _row_id(row: Any) -> str:
    canonical = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
    return "row-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _language(metadata: dict[str, Any], text: str) -> str:
    language = metadata.get("language")
    if isinstance(language, str) and language.strip():
        return language.strip().lower()
    return detect_language(text)


def detect_shape(row: Any) -> str:
    """Which of the three input shapes a row has.

    Args:
        row: A parsed input row.

    Returns:
        ``"step5"``, ``"step4"`` or ``"rl"``.

    Raises:
        RowRejected: When it is none of them (the reason names the keys it has).
    """
    if isinstance(row, dict):
        if "tool_dict" in row and "sub_qa_dict" in row:
            return "rl"
        if "decomposition_trace" in row and "env_result" in row:
            if any(key in row for key in ("clusters", "aggregated_env", "merge_flag")):
                return "step5"
            return "step4"
        keys = ", ".join(sorted(map(str, row))[:8]) or "none"
        message = ("not an ASTRA row: expected decomposition_trace + env_result (step 4/5) or "
                   f"prompt + tool_schema + tool_dict + sub_qa_dict (RL); it has keys: {keys}")
    else:
        message = f"not an ASTRA row: expected a JSON object, got {type(row).__name__}"
    raise RowRejected([Reason("shape", message)])


def normalize_tool_document(doc: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """Accept a tool document as a dict, a JSON string, or OpenAI-wrapped.

    Args:
        doc: ``{"name", "description", "parameters"}``, its JSON text, or
            ``{"type": "function", "function": {...}}``.

    Returns:
        The bare document (``parameters`` defaulted to an empty object
        schema) and a list of problems; the document is None when unusable.
    """
    if isinstance(doc, str):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            return None, [f"tool document is a string that is not valid JSON ({exc.msg})"]
    if isinstance(doc, dict) and doc.get("type") == "function" and isinstance(
            doc.get("function"), dict):
        doc = doc["function"]
    if not isinstance(doc, dict):
        return None, [f"tool document must be an object, not {type(doc).__name__}"]
    name = doc.get("name")
    if not isinstance(name, str) or not _TOOL_NAME.match(name):
        return None, [f"tool document has no valid name (got {name!r}); a tool name must be a "
                      "Python identifier of at most 64 characters"]
    problems = []
    description = doc.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append(f"tool {name!r} has no description")
        description = ""
    parameters = doc.get("parameters", {"type": "object", "properties": {}})
    problems += [f"tool {name!r}: {problem}" for problem in schema_problems(parameters)]
    clean = {"name": name, "description": description.strip(), "parameters": parameters}
    return clean, problems


class _ToolSet:
    """The tools of one task: shares identical tools, renames clashing ones."""

    def __init__(self) -> None:
        self.tools: dict[str, Tool] = {}
        self.notes: list[str] = []

    def add(self, tool: Tool, owner: str) -> Tool:
        existing = self.tools.get(tool.name)
        if existing is None:
            self.tools[tool.name] = tool
            return tool
        if (existing.description, existing.parameters, existing.source, existing.function) == (
                tool.description, tool.parameters, tool.source, tool.function):
            return existing  # a merged tool: one tool, several sub-questions
        suffix = 2
        while f"{tool.name}_{suffix}" in self.tools:
            suffix += 1
        renamed = Tool(f"{tool.name}_{suffix}", tool.description, tool.parameters, tool.source,
                       tool.function)
        self.notes.append(f"tool name {tool.name!r} of {owner} clashes with a different tool of "
                          f"the same name; renamed it to {renamed.name!r}")
        self.tools[renamed.name] = renamed
        return renamed


def _check_tool_code(doc: dict[str, Any], code: Any, owner: str) -> tuple[Any, list[Reason]]:
    """Static checks of one tool's code against its document."""
    name = doc["name"]
    if not isinstance(code, str) or not code.strip():
        return None, [Reason("code", f"{owner}: tool {name!r} has no code")]
    try:
        signature = read_signature(code, name)
    except SyntaxError as exc:
        return None, [Reason("code", f"{owner}: the code of tool {name!r} is not valid Python "
                                     f"(line {exc.lineno}: {exc.msg})")]
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, [Reason("code", f"{owner}: the code of tool {name!r} cannot be parsed "
                                     f"({type(exc).__name__})")]
    if signature is None:
        return None, [Reason("signature", f"{owner}: the code does not define the function "
                                          f"{name!r} named in the tool document")]
    return signature, [Reason("signature", f"{owner}: tool {name!r}: {problem}")
                       for problem in signature_problems(signature, doc["parameters"])]


def _schema_violation(parameters: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    try:
        error = validator_for(parameters).best_error(arguments)
    except jsonschema.SchemaError:
        return None  # reported by schema_problems already
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "arguments"
    return f"{where}: {error.message}"


# -- step 4 / step 5 rows ---------------------------------------------------------

def _read_trace(trace: Any, reasons: list[Reason]) -> list[TraceNode]:
    nodes, problems = read_trace(trace)
    reasons += [Reason(problem.code, problem.message) for problem in problems]
    return nodes


def _check_dag(nodes: list[TraceNode], reasons: list[Reason]) -> None:
    reasons += [Reason(problem.code, problem.message) for problem in check_dag(nodes)]


def _apply_merges(row: dict[str, Any], env_result: dict[str, Any],
                  reasons: list[Reason]) -> None:
    """Make ``env_result`` reflect step 5's merged tools (idempotent when it already does)."""
    aggregated = row.get("aggregated_env") or []
    if not isinstance(aggregated, list):
        reasons.append(Reason("merge", "aggregated_env must be a list"))
        return
    for position, cluster in enumerate(aggregated, 1):
        if not isinstance(cluster, dict):
            reasons.append(Reason("merge", f"aggregated_env item {position} is not an object"))
            continue
        members = [node_id(uid) for uid in cluster.get("_uuids") or []]
        if len(members) < 2:
            continue
        label = "[" + ", ".join(str(m) for m in members) + "]"
        verification = cluster.get("verification") or {}
        passed = verification.get("all_tests_passed") if isinstance(verification, dict) else None
        if cluster.get("status") not in (None, "success") or passed is False:
            reasons.append(Reason("merge", f"merged tool cluster {label} did not pass step 5 "
                                           f"verification (status {cluster.get('status')!r})"))
            continue
        code = cluster.get("merged_code")
        doc = cluster.get("tool_document")
        for statement in cluster.get("tool_call_statements") or []:
            if not isinstance(statement, dict):
                continue
            member = node_id(statement.get("_uuid"))
            entry = env_result.get(member) if member is not None else None
            data = ((entry or {}).get("env_synthesis_result") or {}).get("data")
            if not isinstance(data, dict):
                continue  # reported as a missing environment later
            if isinstance(code, str) and code.strip():
                data["code"] = code
            if doc is not None:
                data["tool_document"] = doc
            if isinstance(statement.get("tool_call_statement"), str):
                data["tool_call_statement"] = statement["tool_call_statement"]


def _env_data(env_result: dict[str, Any], subtask_id: str) -> dict[str, Any] | None:
    entry = env_result.get(subtask_id)
    if not isinstance(entry, dict):
        return None
    result = entry.get("env_synthesis_result")
    data = result.get("data") if isinstance(result, dict) else None
    return data if isinstance(data, dict) else None


def _tool_subtask(node: TraceNode, data: dict[str, Any], tools: _ToolSet,
                  reasons: list[Reason]) -> tuple[SubTask | None, Replay | None]:
    owner = f"sub-question {node.id}"
    doc, doc_problems = normalize_tool_document(data.get("tool_document"))
    reasons += [Reason("schema", f"{owner}: {problem}") for problem in doc_problems]
    if doc is None:
        return None, None
    signature, code_reasons = _check_tool_code(doc, data.get("code"), owner)
    reasons += code_reasons
    statement = data.get("tool_call_statement")
    if not isinstance(statement, str) or not statement.strip():
        reasons.append(Reason("call", f"{owner} has no tool_call_statement"))
        return None, None
    try:
        call = parse_python_call(statement)
    except CallSyntaxError as exc:
        reasons.append(Reason("call", f"{owner}: cannot parse its gold call {statement!r}: {exc}"))
        return None, None
    if call.name != doc["name"]:
        reasons.append(Reason("call", f"{owner}: its gold call calls {call.name!r} but its tool "
                                      f"is named {doc['name']!r}"))
        return None, None
    if signature is None or code_reasons or doc_problems:
        return None, None
    try:
        arguments = bind_arguments(call, signature.positional_names)
    except CallSyntaxError as exc:
        reasons.append(Reason("call", f"{owner}: gold call {statement!r}: {exc}"))
        return None, None
    violation = _schema_violation(doc["parameters"], arguments)
    if violation is not None:
        reasons.append(Reason("call", f"{owner}: gold call {statement!r} violates its tool's "
                                      f"schema ({violation})"))
        return None, None
    tool = tools.add(Tool(doc["name"], doc["description"], doc["parameters"],
                          data["code"], doc["name"]), owner)
    gold = GoldCall(tool.name, arguments)
    subtask = SubTask(node.id, node.question, node.answer, node.depends_on, node.hop_level,
                      True, tool.name, gold)
    return subtask, Replay(node.id, tool.name, arguments, node.answer)


def _draft_step_row(source: SourceRow, shape: str) -> Draft:
    row = source.data
    reasons: list[Reason] = []
    uuid = node_id(row.get("uuid"))
    task_id = uuid or _row_id(row)
    metadata = row.get("_metadata") if isinstance(row.get("_metadata"), dict) else {}
    question = row.get("main_question")
    if not isinstance(question, str) or not question.strip():
        reasons.append(Reason("question", "main_question is missing or empty"))
        question = ""
    if row.get("tool_necessity_legitimacy") is False:
        reasons.append(Reason("legitimacy", "tool_necessity_legitimacy is false: ASTRA step 2 "
                                            "found a non-leaf sub-question that needs no tool"))
    nodes = _read_trace(row.get("decomposition_trace"), reasons)
    _check_dag(nodes, reasons)
    non_leaf = {dep for node in nodes for dep in node.depends_on}
    for node in nodes:
        if node.id in non_leaf and node.needs_tool is False:
            reasons.append(Reason("legitimacy", f"sub-question {node.id} needs no tool but others "
                                                "depend on it; only leaves may be tool-free"))
    env_result = _maybe_json(row.get("env_result"), "env_result", reasons, "environment")
    if not isinstance(env_result, dict):
        reasons.append(Reason("environment", "env_result must be an object keyed by _uuid"))
        env_result = {}
    env_result = {str(key): value for key, value in env_result.items()}
    if shape == "step5":
        env_result = copy.deepcopy(env_result)  # merges edit it; the caller's row stays as read
        _apply_merges(row, env_result, reasons)

    tools = _ToolSet()
    subtasks: list[SubTask] = []
    replays: list[Replay] = []
    for node in nodes:
        data = _env_data(env_result, node.id)
        needs_tool = node.needs_tool if node.needs_tool is not None else data is not None
        if not needs_tool:
            subtasks.append(SubTask(node.id, node.question, node.answer, node.depends_on,
                                    node.hop_level, False, None, None))
            continue
        if data is None:
            reasons.append(Reason("environment", f"sub-question {node.id} needs a tool but has no "
                                                 "synthesized environment (env_result is null)"))
            continue
        subtask, replay = _tool_subtask(node, data, tools, reasons)
        if subtask is not None and replay is not None:
            subtasks.append(subtask)
            replays.append(replay)
    if not any(sub.needs_tool for sub in subtasks) and not reasons:
        reasons.append(Reason("environment", "no sub-question needs a tool: nothing to train on"))
    if reasons:
        raise RowRejected(reasons, task_id)

    content = question.strip()
    answers = [sub.answer for sub in subtasks]
    final_answer = answer_text(row.get("final_answer"))
    if final_answer:
        answers.append(final_answer)
    background = row.get("background", metadata.get("background"))
    if isinstance(background, str) and background.strip():
        content = f"{background.strip()}\n\n{content}"
    else:
        known, dropped = user_context(metadata.get("knowledge_corpus"), answers)
        if known is not None:
            content = f"{KNOWN_HEADING} {known}\n\n{content}"
        if dropped:
            tools.notes.append(f"{dropped} clause(s) of the user's known information contain "
                               "a gold answer and were left out of the prompt")
    domain = metadata.get("domain", row.get("domain"))
    task = Task(
        task_id=task_id, source=TaskSource(source.file, source.line, uuid),
        domain=domain.strip() if isinstance(domain, str) and domain.strip() else "general",
        language=_language(metadata, question),
        prompt=({"role": "user", "content": content},),
        final_answer=final_answer, subtasks=tuple(subtasks),
        tools=tuple(tools.tools.values()),
        scenario_type=row.get("scenario_type") if isinstance(row.get("scenario_type"), str)
        else None)
    replays.sort(key=lambda r: next(s.hop_level for s in subtasks if s.id == r.subtask_id))
    return Draft(task, shape, replays, tools.notes)


# -- released RL rows -------------------------------------------------------------

def _read_prompt(value: Any, reasons: list[Reason]) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [{"role": "user", "content": value}]  # a bare question
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not value:
        reasons.append(Reason("question", "prompt must be a non-empty list of chat messages"))
        return []
    messages = []
    for position, message in enumerate(value, 1):
        content = message.get("content") if isinstance(message, dict) else None
        role = message.get("role", "user") if isinstance(message, dict) else None
        if not isinstance(content, str) or role not in ("system", "user", "assistant"):
            reasons.append(Reason("question", f"prompt message {position} needs a role "
                                              "(system/user/assistant) and text content"))
            continue
        messages.append({"role": role, "content": content})
    return messages


def _draft_rl_row(source: SourceRow) -> Draft:
    row = source.data
    reasons: list[Reason] = []
    uuid = node_id(row.get("uuid"))
    task_id = uuid or _row_id(row)
    prompt = _read_prompt(row.get("prompt"), reasons)
    schemas = _maybe_json(row.get("tool_schema"), "tool_schema", reasons, "schema")
    codes = _maybe_json(row.get("tool_dict"), "tool_dict", reasons, "code")
    answers = _maybe_json(row.get("sub_qa_dict"), "sub_qa_dict", reasons, "answer")
    if not isinstance(schemas, list):
        reasons.append(Reason("schema", "tool_schema must be a list of OpenAI tools"))
        schemas = []
    if not isinstance(codes, dict):
        reasons.append(Reason("code", "tool_dict must map tool names to Python source"))
        codes = {}
    if not isinstance(answers, dict) or not answers:
        reasons.append(Reason("answer", "sub_qa_dict must map tool names to gold answers"))
        answers = {}

    docs: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    for position, raw in enumerate(schemas, 1):
        doc, problems = normalize_tool_document(raw)
        reasons += [Reason("schema", f"tool_schema item {position}: {p}") for p in problems]
        if doc is None:
            continue
        previous = docs.get(doc["name"])
        if previous is None:
            docs[doc["name"]] = doc
        elif previous == doc:
            notes.append(f"tool_schema lists {doc['name']!r} twice; kept one copy")
        else:
            reasons.append(Reason("name_clash", f"tool_schema has two different tools named "
                                                f"{doc['name']!r}, and tool_dict has one code for "
                                                "that name, so neither can be trusted"))
    for name in answers:
        if name not in docs:
            reasons.append(Reason("environment", f"sub_qa_dict names tool {name!r}, which is not "
                                                 "in tool_schema"))
    extra = sorted(set(codes) - set(docs))
    if extra:
        notes.append(f"tool_dict has code for tools that have no schema (ignored): "
                     f"{', '.join(map(str, extra))}")

    needed: list[Tool] = []
    distractors: list[Tool] = []
    for name, doc in docs.items():
        signature, code_reasons = _check_tool_code(doc, codes.get(name), f"tool {name!r}")
        reasons += code_reasons
        if signature is None or code_reasons:
            continue
        tool = Tool(name, doc["description"], doc["parameters"], codes[name], name)
        (needed if name in answers else distractors).append(tool)

    subtasks: list[SubTask] = []
    for name, gold in answers.items():
        gold_list = gold if isinstance(gold, list) else [gold]
        texts = [answer_text(answer) for answer in gold_list]
        if not texts or any(text is None for text in texts):
            reasons.append(Reason("answer", f"sub_qa_dict[{name!r}] must be a non-empty list of "
                                            "non-empty answers"))
            continue
        subtasks += [SubTask(f"{name}#{index}", None, text, (), 1, True, name, None)
                     for index, text in enumerate(texts, 1) if text is not None]
    if reasons:
        raise RowRejected(reasons, task_id)
    user_text = " ".join(message["content"] for message in prompt if message["role"] == "user")
    metadata = row.get("_metadata") if isinstance(row.get("_metadata"), dict) else {}
    domain = row.get("domain", metadata.get("domain"))
    task = Task(task_id=task_id, source=TaskSource(source.file, source.line, uuid),
                domain=domain if isinstance(domain, str) and domain.strip() else "general",
                language=_language(metadata, user_text), prompt=tuple(prompt),
                final_answer=answer_text(row.get("final_answer")), subtasks=tuple(subtasks),
                tools=tuple(needed), distractor_tools=tuple(distractors))
    return Draft(task, "rl", [], notes)


def draft_task(source: SourceRow) -> Draft:
    """Statically check one row and build its task.

    Args:
        source: The input row.

    Returns:
        The draft task and the gold calls to replay.

    Raises:
        RowRejected: With every reason the row is unusable.
    """
    if source.data is None:
        raise RowRejected([Reason("json", source.error or "line is not valid JSON")])
    shape = detect_shape(source.data)
    if shape == "rl":
        return _draft_rl_row(source)
    return _draft_step_row(source, shape)
