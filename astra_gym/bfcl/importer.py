"""``astra-gym import bfcl``: BFCL's multi-turn categories as env packs.

One pack per category (``bfcl-mt-base``, ``bfcl-mt-long-context``,
``bfcl-mt-miss-func``, ``bfcl-mt-miss-param``), one task per BFCL entry:

* the first user turn is the prompt, later ones are ``turns``; a
  missing-function turn (empty in BFCL's data) gets BFCL's own user message
  and reveals the held-out function (``reveal_tools``);
* the tools are the function docs of the entry's classes, converted to JSON
  Schema (BFCL's ``dict``/``float``/``tuple``/... mapped with its own
  ``GORILLA_TO_OPENAPI``); each tool's ``source`` is a signature stub read from
  the method itself (it never runs: the backend runs the method);
* the ground truth becomes one sub-task per call, with its user turn, its gold
  call (positional arguments bound to parameter names), BFCL's call text as
  the question and, as the answer, ``<method> returns <result text>`` from a
  replay of the ground truth (a record: what is solved is decided by
  :mod:`astra_gym.bfcl.judge` on live replays);
* the ``backend`` names the classes (module, class, initial state).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from ..pack import (
    Backend,
    BackendClass,
    GoldCall,
    PackFormatError,
    SubTask,
    Task,
    TaskSource,
    Tool,
    UserTurn,
    validate_task,
    write_pack,
    write_packaging,
)
from ..pack.schemas import load_schema
from ..parsers import parse_python_call
from ..parsers.python_call import bind_arguments
from .backend import BackendInstances, load_class
from .source import (
    CATEGORIES,
    backend_module,
    category_files,
    holdout_prompt,
    is_stateless,
    load_category,
    load_func_docs,
    require_bfcl,
    step_limit,
)

__all__ = [
    "HOP_CALLS",
    "IMPORTER_VERSION",
    "KNOWN_WAIVERS",
    "build_task",
    "call_string",
    "convert_schema",
    "import_bfcl",
    "pack_name",
    "signature_stub",
]

#: Bumped whenever the packs this importer writes change (it versions the user cache).
IMPORTER_VERSION = 2

_WATCHLIST_139 = ("BFCL's initial state already has ZETA on the watchlist, so any "
                  "add_to_watchlist call returns the ground-truth result and leaves the "
                  "ground-truth state, and BFCL's own checker passes the turn for any argument; "
                  "kept so that accuracies stay comparable with BFCL's (docs/bfcl.md)")
#: Validation failures of BFCL's own data, kept on purpose: (task id, check) -> reason.
#: Found by validating all 800 entries; ``astra-gym validate`` reports them as warnings.
KNOWN_WAIVERS = {
    ("multi_turn_base_139", "gameability"): _WATCHLIST_139,
    ("multi_turn_long_context_139", "gameability"): _WATCHLIST_139,
    ("multi_turn_miss_param_139", "gameability"): _WATCHLIST_139,
}
#: Ground-truth calls per hop (one oracle step); BFCL has turns of up to 34 calls.
HOP_CALLS = 16


def pack_name(category: str) -> str:
    """The pack name of a category: ``bfcl-mt-long-context`` for ``long_context``.

    Raises:
        ValueError: For an unknown category.
    """
    category_files(category)  # validates the name
    return "bfcl-mt-" + category.replace("_", "-")


def _type_map() -> dict[str, str]:
    from bfcl_eval.constants.type_mappings import GORILLA_TO_OPENAPI

    return dict(GORILLA_TO_OPENAPI)


def convert_schema(node: Any, types: dict[str, str] | None = None) -> Any:
    """Convert a BFCL parameter schema to JSON Schema (``dict`` -> ``object``, ...).

    Args:
        node: A BFCL schema node (``{"type": "dict", "properties": {...}}``).
        types: BFCL type name -> JSON Schema type (default: BFCL's own mapping).

    Returns:
        A new JSON Schema node; ``properties`` maps are walked by value, so a
        parameter that happens to be called ``type`` is left alone.

    Raises:
        ValueError: For a type name the mapping does not know.
    """
    types = _type_map() if types is None else types
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            if value not in types:
                raise ValueError(f"unknown BFCL type name {value!r}")
            out[key] = types[value]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: convert_schema(sub, types) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = convert_schema(value, types)
        else:
            out[key] = value
    return out


def signature_stub(cls: type, method: str) -> str:
    """Python source of a stub with the method's parameters (never run; read for binding).

    Args:
        cls: The backend class.
        method: A public method name.

    Returns:
        ``def method(a, b=...):`` with the method's own parameter order and
        literal defaults (others become ``None``).
    """
    parameters = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]
    parts = []
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            parts.append(parameter.name)
            continue
        default = parameter.default
        literal = default if default is None or isinstance(default, bool | int | float | str) \
            else None
        parts.append(f"{parameter.name}={literal!r}")
    return (f"def {method}({', '.join(parts)}):\n"
            f"    \"\"\"Runs {cls.__name__}.{method} of the trusted backend; this stub never "
            "runs.\"\"\"\n    raise NotImplementedError\n")


def call_string(name: str, arguments: dict[str, Any]) -> str:
    """A call as BFCL writes it (``convert_to_function_call``): ``name(key=value!r,...)``."""
    return f"{name}({','.join(f'{key}={value!r}' for key, value in arguments.items())})"


def _method_parameters(cls_by_method: dict[str, type], name: str) -> list[str]:
    cls = cls_by_method[name]
    return [p.name for p in list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


@lru_cache(maxsize=64)
def _class_tools(class_name: str, module: str) -> tuple[type, tuple[Tool, ...]]:
    """A backend class and its tools (docs converted, stubs read), built once per class."""
    cls = load_class(BackendClass(class_name, module, None))
    return cls, tuple(
        Tool(name=doc["name"], description=doc.get("description", ""),
             parameters=convert_schema(doc["parameters"]),
             source=signature_stub(cls, doc["name"]), function=doc["name"])
        for doc in load_func_docs(class_name))


def _user_messages(turn: Sequence[dict[str, Any]], where: str) -> tuple[dict[str, str], ...]:
    messages = []
    for message in turn:
        if message.get("role") != "user" or not isinstance(message.get("content"), str):
            raise ValueError(f"{where}: only user messages with text are supported")
        messages.append({"role": "user", "content": message["content"]})
    return tuple(messages)


def build_task(entry: dict[str, Any], ground_truth: list[list[str]], category: str,
               line: int) -> Task:
    """Turn one BFCL entry and its ground truth into a task.

    Args:
        entry: The entry (``id``, ``question``, ``initial_config``, ``involved_classes``,
            optional ``missed_function``).
        ground_truth: Call strings per user turn.
        category: Its category (one of :data:`~astra_gym.bfcl.source.CATEGORIES`).
        line: Its 1-based line in BFCL's file.

    Returns:
        The task.

    Raises:
        ValueError: When the entry does not fit (turn counts, unparsable calls, ...).
    """
    entry_id = entry["id"]
    questions = entry["question"]
    if len(questions) != len(ground_truth):
        raise ValueError(f"{entry_id}: {len(questions)} turns but {len(ground_truth)} "
                         "ground-truth turns")
    missed = {int(index): list(names) for index, names in entry.get("missed_function", {}).items()}
    classes = list(entry["involved_classes"])
    backend = Backend(
        classes=tuple(BackendClass(name, backend_module(name), None if is_stateless(name)
                                   else json.dumps(entry.get("initial_config", {}).get(name, {}),
                                                   ensure_ascii=False))
                      for name in classes),
        long_context=category == "long_context", max_steps_per_turn=step_limit(),
        source_id=entry_id)
    tools: dict[str, Tool] = {}
    cls_by_method: dict[str, type] = {}
    for spec in backend.classes:
        cls, class_tools = _class_tools(spec.name, spec.module)
        for tool in class_tools:
            tools.pop(tool.name, None)  # a later class wins, as in BFCL's dispatch
            cls_by_method[tool.name] = cls
            tools[tool.name] = tool
    hidden = {name for names in missed.values() for name in names}
    unknown = sorted(hidden - set(tools))
    if unknown:
        raise ValueError(f"{entry_id}: missing function(s) {unknown} are not tools of its classes")
    turns = []
    for index, question in enumerate(questions[1:], start=1):
        if index in missed:
            if question:
                raise ValueError(f"{entry_id}: the holdout turn {index} has a user message")
            messages: tuple[dict[str, str], ...] = ({"role": "user",
                                                     "content": holdout_prompt()},)
        else:
            messages = _user_messages(question, f"{entry_id} turn {index}")
            if not messages:
                raise ValueError(f"{entry_id}: turn {index} has no user message")
        turns.append(UserTurn(messages, tuple(missed.get(index, ()))))
    if 0 in missed or not questions[0]:
        raise ValueError(f"{entry_id}: the first turn must be a user message")
    subtasks = _subtasks(entry_id, ground_truth, cls_by_method, backend)
    return Task(task_id=entry_id, source=TaskSource(category_files(category)[0], line, entry_id),
                domain="+".join(classes), language="en",
                prompt=_user_messages(questions[0], f"{entry_id} turn 0"), final_answer=None,
                subtasks=tuple(subtasks), tools=tuple(tools.values()), turns=tuple(turns),
                backend=backend, scenario_type=f"BFCL multi-turn {category}")


def _subtasks(entry_id: str, ground_truth: list[list[str]], cls_by_method: dict[str, type],
              backend: Backend) -> list[SubTask]:
    """One sub-task per ground-truth call, answered by its result in a replay."""
    replay = BackendInstances(backend)
    subtasks = []
    hop = 0
    for turn, calls in enumerate(ground_truth):
        for index, text in enumerate(calls):
            if index % HOP_CALLS == 0:
                hop += 1
            call = parse_python_call(text)
            if call.name not in cls_by_method:
                raise ValueError(f"{entry_id}: ground-truth call {text!r} names no tool")
            arguments = bind_arguments(call, _method_parameters(cls_by_method, call.name))
            _, result = replay.call(call.name, arguments)
            # The answer records what the call returns in the ground-truth replay; the
            # judge (live replays), not this text, decides what is solved. It never starts
            # like a call: an answer read back as a final answer must not parse as one.
            subtasks.append(SubTask(
                id=f"t{turn}.c{index}", question=call_string(call.name, arguments),
                answer=f"{call.name} returns {result}", hop_level=hop,
                needs_tool=True, tool=call.name, gold_call=GoldCall(call.name, arguments),
                turn=turn))
    if not subtasks:
        raise ValueError(f"{entry_id}: the ground truth has no call")
    return subtasks


def _check_tasks(tasks: list[Task]) -> None:
    """Check every task against ``task.schema.json``, each distinct tool only once.

    The same check as ``write_pack``'s, in a fraction of the time: BFCL's tasks
    repeat the same few dozen tools, and checking them is most of the cost.

    Raises:
        PackFormatError: When a task or tool does not match the schema.
    """
    schema = load_schema("task")
    tool_validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/tool",
                                                      "$defs": schema["$defs"]})
    seen: set[str] = set()
    for task in tasks:
        data = task.to_dict()
        for tool in data["tools"]:
            key = json.dumps(tool, sort_keys=True)
            if key not in seen:
                error = jsonschema.exceptions.best_match(tool_validator.iter_errors(tool))
                if error is not None:
                    raise PackFormatError(f"task {task.task_id!r} tool {tool.get('name')!r} "
                                          f"does not match the task schema: {error.message}")
                seen.add(key)
        data["tools"] = []
        validate_task(data, f"task {task.task_id!r}")


def import_bfcl(out: str | os.PathLike[str], categories: Iterable[str] = tuple(CATEGORIES), *,
                limit: int | None = None, packaging: bool = True,
                on_pack: Callable[[str, Path, int], None] | None = None) -> dict[str, Path]:
    """Write one pack per category under ``out`` (``out/<pack name>/``).

    Args:
        out: The output directory.
        categories: Categories to import (default: all four).
        limit: Import only the first ``limit`` entries of each (tests, quick looks).
        packaging: Also write ``pyproject.toml`` and ``__init__.py`` (pip-installable).
        on_pack: Called with (category, pack directory, task count) after each pack.

    Returns:
        Category -> pack directory.

    Raises:
        BfclMissingError: When bfcl-eval is not installed.
        ValueError: For an unknown category or data that does not fit.
    """
    from .. import __version__

    version = require_bfcl()
    categories = list(dict.fromkeys(categories))
    for category in categories:
        category_files(category)
    written = {}
    for category in categories:
        rows = load_category(category)
        if limit is not None:
            rows = rows[:limit]
        tasks = [build_task(entry, truth, category, line)
                 for line, (entry, truth) in enumerate(rows, start=1)]
        name = pack_name(category)
        directory = Path(out) / name
        calls = sum(len(task.subtasks) for task in tasks)
        _check_tasks(tasks)
        ids = {task.task_id for task in tasks}
        waivers = [{"task_id": task_id, "check": check, "reason": reason}
                   for (task_id, check), reason in KNOWN_WAIVERS.items() if task_id in ids]
        write_pack(directory, name, 0, tasks, prevalidated=True, validation_waivers=waivers,
                   validation={"rows": len(rows), "compiled": len(tasks), "rejected": 0,
                               "gold_calls_replayed": calls},
                   sources=list(category_files(category)),
                   compiler={"importer": "astra_gym.bfcl", "importer_version": IMPORTER_VERSION,
                             "bfcl_eval": version, "astra_gym": __version__},
                   description=f"BFCL v4 multi-turn {category} (bfcl-eval {version}), "
                               "trusted backends, judged as BFCL's multi_turn_checker")
        if packaging:
            write_packaging(directory, name, 0, len(tasks), __version__)
        written[category] = directory
        if on_pack is not None:
            on_pack(category, directory, len(tasks))
    return written
