"""The compiler: ASTRA rows in, an env pack and ``report.json`` out.

Each row is checked statically (:mod:`.rows`), every tool is compiled under
the sandbox policy and every gold call replayed in ``process`` isolation
(:mod:`.replay`). Rows are independent, so with ``jobs > 1`` they are spread
over a pool of worker processes, each owning one sandbox worker; results are
collected in input order, so the pack is byte-identical whatever the number
of jobs. A rejected row never stops the run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astra_gym import __version__
from astra_gym.pack import Task, write_pack, write_packaging
from astra_gym.progress import Progress
from astra_gym.sandbox import POLICY_VERSION, Sandbox

from .inputs import SourceRow, read_rows
from .replay import check_compiles, replay_gold_calls
from .rows import Reason, RowRejected, detect_shape, draft_task

__all__ = ["REPORT_FILE", "CompileResult", "RowOutcome", "compile_files", "compile_row"]

REPORT_FILE = "report.json"


@dataclass
class RowOutcome:
    """What became of one input row (one entry of ``report.json``)."""

    source: str
    uuid: str | None
    task_id: str | None
    shape: str | None
    reasons: list[Reason] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    task: Task | None = None
    gold_calls: int = 0

    @property
    def status(self) -> str:
        return "compiled" if self.task is not None else "rejected"

    def to_report(self) -> dict[str, Any]:
        return {"source": self.source, "uuid": self.uuid, "status": self.status,
                "task_id": self.task_id, "shape": self.shape,
                "reasons": [reason.message for reason in self.reasons],
                "reason_codes": sorted({reason.code for reason in self.reasons}),
                "notes": self.notes}


def _row_uuid(row: Any) -> str | None:
    if isinstance(row, dict) and isinstance(row.get("uuid"), str | int) \
            and not isinstance(row.get("uuid"), bool):
        return str(row["uuid"])
    return None


def compile_row(source: SourceRow, sandbox: Sandbox) -> RowOutcome:
    """Check one row, compile its tools and replay its gold calls.

    Args:
        source: The input row.
        sandbox: Where gold calls run (use ``process`` isolation).

    Returns:
        The outcome: a task, or every reason the row was rejected. Never raises
        for bad input.
    """
    uuid = _row_uuid(source.data)
    shape = None
    try:
        if source.data is not None:
            shape = detect_shape(source.data)
        draft = draft_task(source)
    except RowRejected as rejected:
        return RowOutcome(source.origin, uuid, rejected.task_id or uuid, shape, rejected.reasons)
    outcome = RowOutcome(source.origin, uuid, draft.task.task_id, draft.shape,
                         notes=list(draft.notes), gold_calls=len(draft.replays))
    outcome.reasons = check_compiles(draft)
    if not outcome.reasons:
        outcome.reasons = replay_gold_calls(draft, sandbox)
    if not outcome.reasons:
        outcome.task = draft.task
    return outcome


# -- the worker pool ---------------------------------------------------------------

_worker_sandbox: Sandbox | None = None


def _init_worker() -> None:
    global _worker_sandbox
    _worker_sandbox = Sandbox(isolation="process")


def _compile_in_worker(source: SourceRow) -> RowOutcome:
    assert _worker_sandbox is not None, "worker not initialised"
    return compile_row(source, _worker_sandbox)


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork starts workers with astra_gym already imported (fast); the pool is
    # created before any thread of ours exists. Elsewhere, spawn.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _outcomes(rows: Sequence[SourceRow], jobs: int) -> Iterator[RowOutcome]:
    if jobs <= 1 or len(rows) <= 1:
        with Sandbox(isolation="process") as sandbox:
            for row in rows:
                yield compile_row(row, sandbox)
        return
    workers = min(jobs, len(rows))
    chunk = max(1, min(8, len(rows) // (workers * 4)))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(),
                             initializer=_init_worker) as pool:
        yield from pool.map(_compile_in_worker, rows, chunksize=chunk)


# -- the run ------------------------------------------------------------------------

@dataclass
class CompileResult:
    """A finished compile: the outcomes in input order and the manifest written."""

    outcomes: list[RowOutcome]
    manifest: dict[str, Any]
    out: Path

    @property
    def compiled(self) -> int:
        return sum(outcome.task is not None for outcome in self.outcomes)

    @property
    def rejected(self) -> int:
        return len(self.outcomes) - self.compiled

    def reason_counts(self) -> dict[str, int]:
        counts = Counter(reason.code for outcome in self.outcomes for reason in outcome.reasons)
        return dict(sorted(counts.items()))

    @property
    def answer_only(self) -> list[str]:
        """Compiled tasks with a tool-needing sub-task that has no gold call."""
        return [outcome.task.task_id for outcome in self.outcomes
                if outcome.task is not None and _has_answer_only(outcome.task)]

    @property
    def warnings(self) -> list[str]:
        """What compiled but deserves attention (printed by the CLI, kept in report.json)."""
        found = []
        answer_only = self.answer_only
        if answer_only:
            found.append(
                f"{len(answer_only)} compiled task(s) have answer-only sub-tasks (released RL "
                f"rows: gold answers, no gold calls), e.g. {answer_only[0]}. There is no gold "
                "path to replay, so `astra-gym validate` reports `gold` as not applicable for "
                "them and nothing proves they are solvable")
        return found

    def summary(self) -> str:
        """A short human summary (what the CLI prints)."""
        lines = [f"compiled {self.compiled} of {len(self.outcomes)} rows into pack "
                 f"{self.manifest['name']!r} v{self.manifest['version']} at {self.out}",
                 f"  rejected: {self.rejected}"]
        for code, count in self.reason_counts().items():
            lines.append(f"    {code}: {count}")
        domains = ", ".join(f"{k} {v}" for k, v in self.manifest["domains"].items())
        hops = ", ".join(f"{k}:{v}" for k, v in self.manifest["hop_histogram"].items())
        languages = ", ".join(f"{k} {v}" for k, v in self.manifest["languages"].items())
        lines += [f"  domains: {domains or '-'}", f"  languages: {languages or '-'}",
                  f"  hops: {hops or '-'}", f"  report: {self.out / REPORT_FILE}"]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def _has_answer_only(task: Task) -> bool:
    return any(sub.needs_tool and sub.gold_call is None for sub in task.subtasks)


def _dedupe_task_ids(outcomes: list[RowOutcome]) -> None:
    first: dict[str, str] = {}
    for outcome in outcomes:
        if outcome.task is None:
            continue
        earlier = first.setdefault(outcome.task.task_id, outcome.source)
        if earlier != outcome.source:
            outcome.reasons.append(Reason("duplicate", f"task_id {outcome.task.task_id!r} was "
                                                       f"already compiled from {earlier}"))
            outcome.task = None


def compile_files(inputs: Iterable[str | os.PathLike[str]], name: str,
                  out: str | os.PathLike[str], *, version: int = 0, jobs: int = 1,
                  progress: bool | None = None, description: str | None = None) -> CompileResult:
    """Compile ASTRA rows into a pip-installable env pack.

    Args:
        inputs: JSONL/JSON files of step-4, step-5 or RL rows (mixed is fine).
        name: Pack name (the env id becomes ``astra/<name>-v<version>``).
        out: Output directory; pack files are replaced, other files kept.
        version: The pack's major version.
        jobs: Worker processes for the sandbox replays.
        progress: Draw a progress bar (default: when stderr is a terminal).
        description: One-line description for the manifest.

    Returns:
        The outcomes and the manifest.

    Raises:
        InputError: When the input is unusable (missing file, no rows).
        ValueError: When ``name`` is not a valid pack name.
    """
    paths = [Path(path) for path in inputs]
    rows = read_rows(paths)
    outcomes: list[RowOutcome] = []
    with Progress(len(rows), f"compile {name}", enabled=progress) as bar:
        for outcome in _outcomes(rows, jobs):
            outcomes.append(outcome)
            bar.update()
    _dedupe_task_ids(outcomes)
    tasks = [outcome.task for outcome in outcomes if outcome.task is not None]
    validation = {
        "rows": len(outcomes), "compiled": len(tasks), "rejected": len(outcomes) - len(tasks),
        "gold_calls_replayed": sum(o.gold_calls for o in outcomes if o.task is not None),
        "rejection_reasons": dict(sorted(Counter(
            code for o in outcomes for code in {r.code for r in o.reasons}).items())),
    }
    out_dir = Path(out)
    manifest = write_pack(out_dir, name, version, tasks, validation=validation,
                          sources=[path.name for path in paths], description=description,
                          compiler={"astra_gym": __version__, "sandbox_policy": POLICY_VERSION})
    write_packaging(out_dir, name, version, len(tasks), __version__)
    report = {"name": name, "version": version, "rows": len(outcomes),
              "compiled": len(tasks), "rejected": len(outcomes) - len(tasks),
              "rejection_reasons": validation["rejection_reasons"],
              "entries": [outcome.to_report() for outcome in outcomes]}
    result = CompileResult(outcomes, manifest, out_dir)
    report["warnings"] = result.warnings
    report["answer_only_tasks"] = result.answer_only
    (out_dir / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")
    return result
