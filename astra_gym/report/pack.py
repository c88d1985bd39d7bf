"""The report of an env pack: what its tasks are made of, and how it validated."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from . import figures as fig
from .page import Page, Section, table

__all__ = ["pack_page"]

_STATUSES = ("passed", "failed", "warning", "not_applicable", "errored")


def _counted(counter: Counter[Any]) -> tuple[list[str], list[int]]:
    def order(item: Any) -> tuple[int, float, str]:
        try:
            return (0, float(item), "")
        except (TypeError, ValueError):
            return (1, 0.0, str(item))

    keys = sorted(counter, key=order)
    return [str(k) for k in keys], [counter[k] for k in keys]


def pack_page(pack_dir: Path, env_id: str | None = None,
              checks: dict[str, dict[str, Any]] | None = None) -> Page:
    """The page for a pack directory.

    Args:
        pack_dir: The pack.
        env_id: Its env id, for the heading.
        checks: A validation summary to show (``ValidationReport.manifest_summary()``
            of a fresh run); default: what ``validate --write-manifest`` stored
            in the manifest, if anything.

    Returns:
        The page.
    """
    from ..pack import Pack

    pack = Pack(pack_dir)
    manifest = pack.manifest
    tasks = list(pack)
    domains = Counter(task.domain for task in tasks)
    languages = Counter(task.language for task in tasks)
    hops = Counter(task.hops for task in tasks)
    offered = [len(task.all_tools) for task in tasks]
    subtasks = [sum(sub.needs_tool for sub in task.subtasks) for task in tasks]
    needed_by_domain: dict[str, list[int]] = defaultdict(list)
    distractors_by_domain: dict[str, list[int]] = defaultdict(list)
    for task in tasks:
        needed_by_domain[task.domain].append(len(task.tools))
        distractors_by_domain[task.domain].append(len(task.distractor_tools))
    domain_names = sorted(needed_by_domain)

    labels, values = _counted(domains)
    hop_labels, hop_values = _counted(hops)
    lang_labels, lang_values = _counted(languages)
    shape = Section("Tasks", figures=[
        fig.bars("domains", "Tasks per domain", labels, values, ylabel="tasks",
                 caption="How many tasks each domain has."),
        fig.bars("hops", "Tasks per hop count", hop_labels, hop_values, ylabel="tasks",
                 caption="Hops: the depth of the task's sub-question DAG."),
        fig.histogram("tools-per-task", "Tools per task", [float(n) for n in offered],
                      xlabel="tools offered (needed + distractors)", integer=True,
                      caption="The size of the tool list an agent sees.", ylabel="tasks"),
        fig.stacked_bars("tools-by-domain", "Needed and distractor tools by domain",
                         domain_names,
                         {"needed": [statistics.fmean(needed_by_domain[d])
                                     for d in domain_names],
                          "distractors": [statistics.fmean(distractors_by_domain[d])
                                          for d in domain_names]},
                         ylabel="tools per task (mean)"),
        fig.bars("languages", "Tasks per language", lang_labels, lang_values, ylabel="tasks"),
        fig.histogram("subtasks-per-task", "Tool-needing sub-tasks per task",
                      [float(n) for n in subtasks], xlabel="sub-tasks", integer=True,
                      caption="The n of recall = solved / n.", ylabel="tasks"),
    ], blocks=[table(["domain", "tasks", "needed tools (mean)", "distractors (mean)"],
                     [[d, domains[d], statistics.fmean(needed_by_domain[d]),
                       statistics.fmean(distractors_by_domain[d])] for d in domain_names])])

    validation = manifest.get("validation") or {}
    checks = checks if checks is not None else validation.get("checks")
    blocks = [table(["compile", "count"], [[key, validation[key]] for key in
                                           ("rows", "compiled", "rejected",
                                            "gold_calls_replayed") if key in validation])]
    reasons = validation.get("rejection_reasons") or {}
    if reasons:
        blocks.append(table(["rejection reason", "rows"], sorted(reasons.items(),
                                                                 key=lambda kv: -kv[1])))
    figures = [fig.bars("compile", "Compile: rows compiled and rejected",
                        ["compiled", "rejected"],
                        [validation.get("compiled", len(tasks)), validation.get("rejected", 0)],
                        ylabel="rows", caption="What the compiler kept of its input rows.")]
    if checks:
        names = list(checks)
        figures.append(fig.stacked_bars(
            "validation-checks", "Validation checks", names,
            {status: [checks[name].get(status, 0) for name in names] for status in _STATUSES},
            ylabel="tasks", caption="Per check, the tasks by status (astra-gym validate)."))
        blocks.append(table(["check", "severity", *_STATUSES],
                            [[name, row.get("severity"), *(row.get(s, 0) for s in _STATUSES)]
                             for name, row in checks.items()]))
    else:
        blocks.append('<p class="note">No validation checks recorded: run <code>astra-gym '
                      "validate PACK --write-manifest</code>, or <code>astra-gym report PACK "
                      "--validate</code>.</p>")
    section = Section("Validation", blocks, figures)
    subtitle = [f"{env_id or manifest['name']}: {len(tasks)} tasks, "
                f"{manifest.get('tool_count', sum(offered))} tools, "
                f"{len(domains)} domains, {len(languages)} languages",
                manifest.get("description") or "", f"pack: {pack_dir}",
                f"content hash: {manifest.get('content_hash')}"]
    return Page(f"astra-gym pack: {manifest['name']} v{manifest['version']}",
                [line for line in subtitle if line], [shape, section])
