"""``astra-gym sft export``: the kept trajectories as SFT data a trainer loads directly.

Each line of ``train.jsonl`` / ``test.jsonl`` is ``{"messages", "tools",
"metadata"}``: OpenAI chat messages (``system``, ``user``, ``assistant`` with
``tool_calls`` whose ``arguments`` are JSON strings and, when the model wrote
reasoning, ``reasoning_content``; ``tool`` messages with ``tool_call_id``),
the OpenAI tool list, and the trajectory's provenance. This is the shape
``datasets.load_dataset("json", data_files=...)`` reads and chat templates
with tool support (``apply_chat_template(messages, tools=tools)``) accept.
Neither ``datasets`` nor a tokenizer is a dependency, so every line is checked
against the message grammar instead (:func:`grammar_problems`); a line that
breaks it is not exported (``invalid_grammar``).

Rows are selected from the judged trajectories (``09_judge.*.jsonl``) by
``min_score`` (and, for env-pack trajectories, ``require_success`` /
``min_f1``), deduplicated by the sha256 of their canonical ``messages`` +
``tools``, and split by that hash (deterministic, independent of row order).
``README.md`` is a dataset card: counts, drop reasons, per-backend figures and
score histograms.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.runner import Journal

from . import FILES
from .common import canonical
from .judges import DEFAULT_MIN_SCORE, DIMENSIONS, keep_reasons

__all__ = ["EXPORT_FORMATS", "ExportError", "ExportSummary", "export_run", "grammar_problems",
           "sft_example"]

EXPORT_FORMATS = ("openai",)
_ROLES = ("system", "user", "assistant", "tool")


class ExportError(ValueError):
    """The run directory cannot be exported (nothing judged, bad options)."""


def _tool_problems(tools: Any) -> tuple[list[str], set[str]]:
    problems: list[str] = []
    names: set[str] = set()
    if not isinstance(tools, list):
        return ["tools is not a list"], names
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function" \
                or not isinstance(function, Mapping):
            problems.append(f"tools[{index}] is not {{'type': 'function', 'function': {{...}}}}")
            continue
        name = function.get("name")
        if not isinstance(name, str) or not name:
            problems.append(f"tools[{index}] has no name")
        elif name in names:
            problems.append(f"tools[{index}]: duplicate name {name!r}")
        else:
            names.add(name)
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            problems.append(f"tools[{index}] ({name}): parameters is not an object")
    return problems, names


def _call_problems(where: str, call: Any, ids: set[str]) -> list[str]:
    function = call.get("function") if isinstance(call, Mapping) else None
    if not isinstance(call, Mapping) or call.get("type") != "function" \
            or not isinstance(function, Mapping):
        return [f"{where} is not {{'id', 'type': 'function', 'function': {{...}}}}"]
    problems = []
    call_id = call.get("id")
    if not isinstance(call_id, str) or not call_id:
        problems.append(f"{where} has no id")
    elif call_id in ids:
        problems.append(f"{where}: the id {call_id!r} is used twice")
    else:
        ids.add(call_id)
    if not isinstance(function.get("name"), str) or not function["name"]:
        problems.append(f"{where} has no function name")
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        problems.append(f"{where}: arguments are not a JSON string")
    else:
        try:
            decoded = json.loads(arguments)
        except ValueError:
            problems.append(f"{where}: arguments are not valid JSON")
        else:
            if not isinstance(decoded, dict):
                problems.append(f"{where}: arguments are not a JSON object")
    return problems


def grammar_problems(messages: Any, tools: Any) -> list[str]:
    """What keeps a conversation from being valid OpenAI tool-calling SFT data.

    The grammar: a list of messages with roles ``system`` (first only),
    ``user``, ``assistant`` and ``tool``; a user message before the first
    assistant one; text content (``None`` allowed only on an assistant
    message with calls); each ``tool_calls`` entry ``{"id", "type":
    "function", "function": {"name", "arguments"}}`` with a unique id and
    ``arguments`` a JSON string holding an object; after an assistant message
    with calls, exactly one ``tool`` message per call id (any order) before
    anything else, and tool messages nowhere else; the last message an
    assistant answer without calls. The tools: OpenAI function tools with
    unique names and object ``parameters``.

    Args:
        messages: The messages.
        tools: The tool list.

    Returns:
        The problems, in order (empty: valid).

    Example:
        >>> grammar_problems([{"role": "user", "content": "hi"},
        ...                   {"role": "assistant", "content": "hello"}], [])
        []
        >>> grammar_problems([{"role": "user", "content": "hi"}], [])
        ['the last message is not an assistant answer']
    """
    problems, _ = _tool_problems(tools)
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages is not a non-empty list"]
    ids: set[str] = set()
    pending: set[str] = set()
    seen_user = False
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, Mapping) or message.get("role") not in _ROLES:
            problems.append(f"{where} has no valid role")
            continue
        role, content = message["role"], message.get("content")
        if pending and role != "tool":
            problems.append(f"{where}: tool call(s) {sorted(pending)} have no tool message")
            pending = set()
        if role == "system" and index != 0:
            problems.append(f"{where}: a system message after the first message")
        if role == "user":
            seen_user = True
        if role in ("system", "user") and not isinstance(content, str):
            problems.append(f"{where}: {role} content is not text")
        if role == "assistant":
            if not seen_user:
                problems.append(f"{where}: an assistant message before any user message")
            calls = message.get("tool_calls")
            if calls is not None and (not isinstance(calls, list) or not calls):
                problems.append(f"{where}: tool_calls is not a non-empty list")
                calls = None
            if content is None and not calls:
                problems.append(f"{where}: an assistant message with neither content nor calls")
            elif content is not None and not isinstance(content, str):
                problems.append(f"{where}: assistant content is not text")
            reasoning = message.get("reasoning_content")
            if reasoning is not None and not isinstance(reasoning, str):
                problems.append(f"{where}: reasoning_content is not text")
            for number, call in enumerate(calls or []):
                found = _call_problems(f"{where}.tool_calls[{number}]", call, ids)
                problems.extend(found)
                if not found:
                    pending.add(call["id"])
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                problems.append(f"{where}: tool_call_id {call_id!r} answers no pending call")
            else:
                pending.discard(call_id)
            if not isinstance(content, str):
                problems.append(f"{where}: tool content is not text")
    if pending:
        problems.append(f"tool call(s) {sorted(pending)} have no tool message")
    last = messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "assistant" \
            or last.get("tool_calls") or not isinstance(last.get("content"), str) \
            or not last["content"].strip():
        problems.append("the last message is not an assistant answer")
    return problems


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    role = message["role"]
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.get("tool_call_id"),
                "name": message.get("name", ""), "content": message.get("content")}
    out: dict[str, Any] = {"role": role, "content": message.get("content")}
    if role == "assistant":
        if message.get("reasoning_content"):
            out["reasoning_content"] = message["reasoning_content"]
        if message.get("tool_calls"):
            out["tool_calls"] = [{"id": call.get("id"), "type": "function",
                                  "function": {"name": call["function"].get("name"),
                                               "arguments": call["function"].get("arguments")}}
                                 for call in message["tool_calls"]]
    return out


def sft_example(row: Mapping[str, Any], *, wall_s: float | None = None) -> dict[str, Any]:
    """One judged trajectory row as an SFT line ``{"messages", "tools", "metadata"}``.

    Args:
        row: A judged trajectory row.
        wall_s: The rollout's wall time (from the journal), if known.

    Returns:
        The line (``metadata.content_hash`` is the sha256 of ``messages`` + ``tools``).
    """
    messages = [_message(message) for message in row["messages"]]
    tools = [{"type": "function", "function": dict(tool["function"])} for tool in row["tools"]]
    digest = hashlib.sha256(canonical({"messages": messages, "tools": tools}).encode("utf-8")
                            ).hexdigest()
    task = row.get("task") or {}
    judgement = row.get("judgement") or {}
    metadata = {
        "trajectory_id": row["trajectory_id"], "task_id": row.get("task_id"),
        "backend": row.get("backend"), "mode": row.get("mode"), "model": row.get("model"),
        "sample": row.get("sample"), "seeds": row.get("seeds"),
        "question": task.get("question"), "language": task.get("language"),
        "server": (task.get("server") or {}).get("name") if task.get("server") else None,
        "server_id": task.get("server_id"), "env_id": task.get("env_id"),
        "llm_calls": row.get("llm_calls"), "tool_calls": len(row.get("calls") or []),
        "injected_failures": [{"id": call["id"], "name": call["name"], "kind": call["injected"]}
                              for call in row.get("calls") or [] if call.get("injected")],
        "tokens": row.get("tokens"), "wall_s": wall_s, "labels": row.get("labels"),
        "judge": {"overall": judgement.get("overall"), "scores": judgement.get("scores")},
        "provenance": [{key: value for key, value in entry.items()
                        if key not in ("cached", "attempts", "usage", "wall_s")}
                       for entry in row.get("provenance") or [] if isinstance(entry, Mapping)],
        "content_hash": digest}
    return {"messages": messages, "tools": tools, "metadata": metadata}


@dataclass
class ExportSummary:
    """What :func:`export_run` wrote.

    Attributes:
        out: The output folder.
        scored: Judged trajectories read.
        kept: Lines written (all splits).
        splits: Lines per split file.
        dropped: Not exported, by reason code (``below_min_score``,
            ``env_unsuccessful``, ``below_min_f1``, ``invalid_grammar``, ``duplicate``).
        unscored: Trajectories the judges could not score (never exported).
    """

    out: Path
    scored: int = 0
    kept: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)
    unscored: int = 0

    def format(self) -> str:
        """The summary as readable lines.

        Returns:
            The text.
        """
        lines = [f"sft export {self.out}: {self.kept} of {self.scored} judged trajectories "
                 f"({', '.join(f'{name} {n}' for name, n in self.splits.items())})"]
        for code, count in self.dropped.most_common():
            lines.append(f"  dropped x{count}: {code}")
        if self.unscored:
            lines.append(f"  unscored (not exported): {self.unscored}")
        return "\n".join(lines)


def _histogram(values: Sequence[float]) -> dict[str, int]:
    bins = Counter(min(int(value * 10), 9) for value in values)
    return {f"{b / 10:.1f}-{(b + 1) / 10:.1f}": bins.get(b, 0) for b in range(10)}


def _card(summary: ExportSummary, scored: Sequence[Mapping[str, Any]],
          kept: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]) -> str:
    files = [f"    - split: {name}\n      path: {name}.jsonl" for name in summary.splits]
    lines = ["---", "configs:", "  - config_name: default", "    data_files:", *files,
             "tags: [sft, tool-use, function-calling, astra-gym]", "---", "",
             "# SFT trajectories (astra-gym)", "",
             "Tool-use conversations rolled out by `astra-gym sft` against real MCP tools, "
             "emulated tools or astra env packs, judged on seven dimensions (QU, QP, TCU, TCP, "
             "TCS, TC, FA) and filtered. Each line is `{\"messages\", \"tools\", \"metadata\"}` "
             "(OpenAI format).", "", "## Selection", "",
             "| setting | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in settings.items()]
    lines += ["", "## Counts", "", "| | trajectories |", "|---|---|",
              f"| judged (scored) | {summary.scored} |",
              f"| unscored (judge failed; never exported) | {summary.unscored} |"]
    lines += [f"| dropped: {code} | {count} |" for code, count in sorted(summary.dropped.items())]
    lines += [f"| **{name}** | {count} |" for name, count in summary.splits.items()]
    lines += ["", "## Exported, per backend", "",
              "| backend | trajectories | mean turns | mean tool calls | injected failures |",
              "|---|---|---|---|---|"]
    backends = Counter(str(row["metadata"]["backend"]) for row in kept)
    for backend in sorted(backends):
        rows = [row for row in kept if row["metadata"]["backend"] == backend]
        turns = [sum(m["role"] == "assistant" for m in row["messages"]) for row in rows]
        calls = [row["metadata"]["tool_calls"] for row in rows]
        injected = sum(len(row["metadata"]["injected_failures"]) for row in rows)
        lines.append(f"| {backend} | {len(rows)} | {sum(turns) / len(rows):.2f} | "
                     f"{sum(calls) / len(rows):.2f} | {injected} |")
    lines += ["", "## Judge scores of every judged trajectory", "",
              "Bins of width 0.1 (the last includes 1.0); `n/a`: the dimension had nothing to "
              "judge.", "", "| dimension | " + " | ".join(_histogram([]).keys()) + " | n/a |",
              "|---|" + "---|" * 11]
    for name in ("overall", *DIMENSIONS):
        values = [row["judgement"]["overall"] if name == "overall"
                  else row["judgement"]["scores"].get(name) for row in scored]
        present = [float(v) for v in values if isinstance(v, int | float)]
        histogram = _histogram(present)
        lines.append(f"| {name} | " + " | ".join(str(n) for n in histogram.values())
                     + f" | {len(values) - len(present)} |")
    lines += ["", "Load it with `datasets.load_dataset(\"json\", data_files={...})`; render a "
              "line with `tokenizer.apply_chat_template(line[\"messages\"], "
              "tools=line[\"tools\"])`.", ""]
    return "\n".join(lines)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export_run(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], *,
               min_score: float = DEFAULT_MIN_SCORE, split: float = 0.95,
               export_format: str = "openai", require_success: bool = False,
               min_f1: float | None = None) -> ExportSummary:
    """Export the judged trajectories of a run directory.

    Args:
        run_dir: The run directory (with ``09_judge.ok.jsonl`` / ``.failed.jsonl``).
        out: The output folder (created): ``train.jsonl``, ``test.jsonl`` (when
            ``split`` < 1) and ``README.md``.
        min_score: The least overall judge score.
        split: The train fraction, by content hash (1.0: ``train.jsonl`` only).
        export_format: ``openai`` (the only format).
        require_success: Env-pack trajectories need rule-verified success.
        min_f1: Env-pack trajectories need at least this F1.

    Returns:
        The summary.

    Raises:
        ExportError: No judged trajectories in ``run_dir``, or a bad option.
    """
    if export_format not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {export_format!r} ({', '.join(EXPORT_FORMATS)})")
    if not 0.0 < split <= 1.0:
        raise ExportError(f"--split must be in (0, 1], not {split!r}")
    if not 0.0 <= min_score <= 1.0:
        raise ExportError(f"--min-score must be in [0, 1], not {min_score!r}")
    if min_f1 is not None and not 0.0 <= min_f1 <= 1.0:
        raise ExportError(f"--min-f1 must be in [0, 1], not {min_f1!r}")
    root = Path(run_dir)
    stem = FILES["judge"]
    paths = [root / f"{stem}.ok.jsonl", root / f"{stem}.failed.jsonl"]
    if not root.is_dir() or not any(path.exists() for path in paths):
        raise ExportError(f"{root} holds no judged trajectories ({paths[0].name}): run the "
                          "rollout and judge stages first")
    rows: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
    order = {}
    rollout = root / f"{FILES['rollout']}.ok.jsonl"
    if rollout.exists():
        for index, line in enumerate(rollout.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                order[json.loads(line)["trajectory_id"]] = index
    rows.sort(key=lambda row: (order.get(row.get("trajectory_id"), len(order)),
                               str(row.get("trajectory_id"))))
    walls: dict[str, float] = {}
    journal = root / f"{FILES['rollout']}.jsonl"
    if journal.exists():
        for row in Journal(journal, lambda r: str(r.get("trajectory_id"))).rows.values():
            for entry in row.get("provenance") or []:
                if isinstance(entry, Mapping) and entry.get("stage") == "rollout":
                    walls[str(row.get("trajectory_id"))] = entry.get("wall_s")
    summary = ExportSummary(Path(out))
    scored = [row for row in rows if isinstance((row.get("judgement") or {}).get("overall"),
                                                int | float)]
    summary.scored = len(scored)
    summary.unscored = len(rows) - len(scored)
    kept: list[dict[str, Any]] = []
    hashes: set[str] = set()
    for row in scored:
        reasons = keep_reasons(row, min_score=min_score, require_success=require_success,
                               min_f1=min_f1)
        if reasons:
            summary.dropped[reasons[0][0]] += 1
            continue
        example = sft_example(row, wall_s=walls.get(row["trajectory_id"]))
        if grammar_problems(example["messages"], example["tools"]):
            summary.dropped["invalid_grammar"] += 1
            continue
        digest = example["metadata"]["content_hash"]
        if digest in hashes:
            summary.dropped["duplicate"] += 1
            continue
        hashes.add(digest)
        kept.append(example)
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    names = ("train", "test") if split < 1.0 else ("train",)
    parts: dict[str, list[str]] = {name: [] for name in names}
    for example in kept:
        fraction = int(example["metadata"]["content_hash"][:8], 16) / 0x100000000
        name = "train" if fraction < split else "test"
        parts[name].append(json.dumps(example, ensure_ascii=False) + "\n")
    for name, lines in parts.items():
        _write(target / f"{name}.jsonl", "".join(lines))
        summary.splits[name] = len(lines)
    summary.kept = len(kept)
    settings = {"min_score": min_score, "require_success (env packs)": require_success,
                "min_f1 (env packs)": min_f1, "split (train fraction)": split,
                "format": export_format, "dedupe": "sha256 of messages + tools"}
    _write(target / "README.md", _card(summary, scored, kept, settings))
    return summary
