"""The SFT-trajectory runner: tool sources to scored tasks (part 1), rollouts and judgements
(part 2), resumable.

Stages, in order (:data:`SFT_STAGES`), and the files each writes in the run
directory (``NN_<stage>``, as in env synthesis):

========  =====================================  ============================================
stage     reads                                  writes
========  =====================================  ============================================
harvest   ``--tools`` files, live MCP servers    ``01_harvest.jsonl`` (journal of the live
                                                 MCP sources), ``01_harvest.ok.jsonl`` (one
                                                 server row per kept server),
                                                 ``01_harvest.failed.jsonl`` (MCP sources
                                                 that could not be harvested),
                                                 ``01_harvest.report.json`` (the filters)
graph     ``01_harvest.ok.jsonl``                ``02_graph.{jsonl,ok.jsonl,failed.jsonl}``,
                                                 ``graphs/<server_id>.json``
walks     ``02_graph.ok.jsonl``                  ``03_walks.ok.jsonl`` (one chain row per
                                                 walk), ``03_walks.failed.jsonl`` (servers
                                                 without a walk); no journal: recomputed
verify    ``03_walks.ok.jsonl``                  ``04_verify.{jsonl,ok.jsonl,failed.jsonl}``
tasks     ``04_verify.ok.jsonl`` and             ``05_tasks.{jsonl,ok.jsonl,failed.jsonl}``
          ``01_harvest.ok.jsonl``
augment   ``05_tasks.ok.jsonl``                  ``06_augment.{jsonl,ok.jsonl,failed.jsonl}``
score     ``05_tasks.ok.jsonl`` and              ``07_score.jsonl`` (every score),
          ``06_augment.ok.jsonl``                ``07_score.ok.jsonl`` (**the kept tasks**),
                                                 ``07_score.failed.jsonl`` (failed or below
                                                 a threshold)
rollout   ``07_score.ok.jsonl`` and/or env       ``08_rollout.{jsonl,ok.jsonl,failed.jsonl}``
          packs (``SftOptions.env``)             (one trajectory row per rollout)
judge     ``08_rollout.ok.jsonl``                ``09_judge.jsonl`` (every judgement),
                                                 ``09_judge.ok.jsonl`` (**the kept
                                                 trajectories**), ``09_judge.failed.jsonl``
                                                 (unscored, or not kept)
========  =====================================  ============================================

Journals (``NN_<stage>.jsonl``) are appended as records finish, in completion
order (group commits, :class:`synth.runner.Journal`); a rerun skips every record
already in one (a failure is a result too; ``retry_failed`` runs failures
again and the later line supersedes). Views (``*.ok.jsonl``, ``*.failed.jsonl``)
are rewritten atomically in input order when a stage ends, without the
cache-dependent provenance fields (``cached``, ``attempts``, ``usage``), so an
uninterrupted run, a killed and resumed one, a Ray run and an ``--offline``
replay write byte-identical views. A failure line is the input record plus
``"failure": {"stage", "code", "reason"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from astra_gym.progress import Progress
from synth.executors import Executor, Outcome, StageSpec
from synth.runner import Journal, parse_stages

from . import FILES, LLM_STAGES, SFT_STAGES
from .augment import AXES, augment_records
from .backends import resolve_backend
from .executors import SftLocalExecutor
from .inject import DEFAULT_INJECTION_KINDS, DEFAULT_INJECTION_P
from .judges import DEFAULT_MIN_SCORE, keep_reasons
from .mcp_harvest import HarvestError, McpSource, harvest
from .normalize import MIN_TOOLS, normalize_servers
from .personas import BUILTIN_PERSONAS
from .rollout import DEFAULT_MAX_LLM_CALLS, DEFAULT_TASK_TIMEOUT, MODES, env_records
from .rollout import task_records as rollout_task_records
from .score import DEFAULT_THRESHOLDS, DIMENSIONS, below_thresholds
from .sources import SourceError, read_tool_files
from .tasks import task_records
from .trajectory_executors import trajectory_executor
from .walks import chain_rows

__all__ = ["FILES", "LLM_STAGES", "ROLLOUT_BACKENDS", "SFT_STAGES", "SftInputError", "SftOptions",
           "SftRunSummary", "SftSources", "parse_sft_stages", "read_jsonl", "resolve_env",
           "run_sft"]

GRAPHS_DIR = "graphs"
HARVEST_CONCURRENCY = 4
"""Live MCP servers harvested at once."""
_VOLATILE = ("cached", "attempts", "usage", "wall_s")
ROLLOUT_BACKENDS = ("auto", "mcp", "emulated")
"""``SftOptions.backend`` for task rows: ``auto`` (a row with a reachable MCP server gets its real
tools, the others emulated ones), ``mcp`` or ``emulated`` for every row."""


class SftInputError(ValueError):
    """The run's input is unusable (a missing or invalid file, an earlier stage's file missing)."""


@dataclass(frozen=True)
class SftSources:
    """Where the tools come from.

    Attributes:
        tools: JSONL files of ASTRA ``mcp_servers.jsonl`` rows or ``{server, tools}`` rows.
        mcp_stdio: Commands that start a stdio MCP server (``"CMD ARGS"``).
        mcp_url: Streamable-HTTP MCP server URLs.
    """

    tools: tuple[str, ...] = ()
    mcp_stdio: tuple[str, ...] = ()
    mcp_url: tuple[str, ...] = ()

    def mcp(self) -> list[tuple[McpSource, int]]:
        """The live sources, stdio first.

        Returns:
            ``(source, index among the sources of its kind)`` pairs.
        """
        return ([(McpSource("mcp-stdio", command), index)
                 for index, command in enumerate(self.mcp_stdio)]
                + [(McpSource("mcp-http", url), index) for index, url in enumerate(self.mcp_url)])


@dataclass(frozen=True)
class SftOptions:
    """Every knob of the SFT stages (the CLI flags), with the documented defaults.

    Attributes:
        min_tools: Servers with fewer usable tools are dropped.
        mcp_timeout: Seconds to harvest one live MCP server.
        graph_samples: Graph requests per server.
        seed: The walk and persona seed.
        min_length: The fewest tools on a walk.
        max_length: The most tools on a walk.
        max_walks: The most walks per server.
        acyclic: Walks never revisit a tool.
        votes: Chain-verification votes.
        vote: Run the vote filter.
        back_translation: Run the back-translation filter.
        task_samples: Tasks per verified chain and per (server, k).
        server_tools: The ``k`` of server-only tasks (empty: none).
        chain_tasks: Make chain-conditioned tasks.
        augment: Augmentation axes (empty: none).
        variations: Variations per task and axis.
        personas: The persona pool (``None``: the built-in one).
        thresholds: ``{dimension: least score}`` a kept task reaches.
        stage_options: ``{stage: {"temperature": t, "max_tokens": n}}``.
        backend: The rollout backend of the task rows (:data:`ROLLOUT_BACKENDS`).
        backend_for: ``{server name or server_id: backend}`` overriding ``backend``.
        env: Env ids (``astra/demo-v0``) or pack directories rolled out on backend 3.
        env_tasks: The most tasks per env pack (``None``: all), in pack order.
        samples: Trajectories per task.
        rollout_mode: ``native`` (OpenAI ``tools``) or ``text`` (calls parsed from text).
        max_llm_calls: Agent calls per trajectory.
        task_timeout: Seconds of wall time per trajectory.
        rollout_concurrency: Trajectories in flight (``None``: the client's concurrency).
        injection_p: Probability that a valid call fails on purpose (backends 1, 2).
        injection_kinds: The failure kinds drawn.
        emulator_history: (call, result) pairs the emulator sees.
        query_p: Probability that a trajectory's emulator sees the user query.
        emulator_temperature: The emulator's sampling temperature.
        env_sandbox: The env's sandbox isolation (``process`` or ``inprocess``).
        min_score: The least overall judge score of a kept trajectory.
        require_success: Env-pack trajectories are kept only when the env verified success.
        min_f1: Env-pack trajectories are kept only with at least this F1.
    """

    min_tools: int = MIN_TOOLS
    mcp_timeout: float = 30.0
    graph_samples: int = 3
    seed: int = 0
    min_length: int = 2
    max_length: int = 5
    max_walks: int = 20
    acyclic: bool = True
    votes: int = 3
    vote: bool = True
    back_translation: bool = True
    task_samples: int = 2
    server_tools: tuple[int, ...] = (1, 2, 3)
    chain_tasks: bool = True
    augment: tuple[str, ...] = AXES
    variations: int = 1
    personas: tuple[dict[str, Any], ...] | None = None
    thresholds: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    stage_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    backend: str = "auto"
    backend_for: Mapping[str, str] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    env_tasks: int | None = None
    samples: int = 1
    rollout_mode: str = "native"
    max_llm_calls: int = DEFAULT_MAX_LLM_CALLS
    task_timeout: float = DEFAULT_TASK_TIMEOUT
    rollout_concurrency: int | None = None
    injection_p: float = DEFAULT_INJECTION_P
    injection_kinds: tuple[str, ...] = DEFAULT_INJECTION_KINDS
    emulator_history: int = 5
    query_p: float = 0.5
    emulator_temperature: float = 1.0
    env_sandbox: str = "process"
    min_score: float = DEFAULT_MIN_SCORE
    require_success: bool = False
    min_f1: float | None = None

    def check(self) -> None:
        """Check every setting.

        Raises:
            ValueError: A setting out of range, an unknown axis, dimension or stage.
        """
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError(f"need 1 <= --min-length <= --max-length, got "
                             f"{self.min_length}..{self.max_length}")
        for name in ("min_tools", "graph_samples", "max_walks", "votes", "task_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.variations < 0:
            raise ValueError("variations must be at least 0")
        if any(k < 1 for k in self.server_tools):
            raise ValueError("server-only tasks need k >= 1 tools")
        unknown = sorted(set(self.augment) - set(AXES))
        if unknown:
            raise ValueError(f"unknown augmentation axis {unknown} (axes: {', '.join(AXES)})")
        unknown = sorted(set(self.thresholds) - set(DIMENSIONS))
        if unknown:
            raise ValueError(f"unknown score dimension {unknown} (dimensions: "
                             f"{', '.join(DIMENSIONS)})")
        for name, least in self.thresholds.items():
            if not isinstance(least, int) or not 1 <= least <= 5:
                raise ValueError(f"the {name} threshold must be an integer 1..5, not {least!r}")
        for stage, values in self.stage_options.items():
            if stage not in LLM_STAGES:
                raise ValueError(f"unknown stage {stage!r} in stage options (stages: "
                                 f"{', '.join(LLM_STAGES)})")
            extra = sorted(set(values) - {"temperature", "max_tokens"})
            if extra:
                raise ValueError(f"unknown option(s) {extra} for stage {stage!r}")
        self._check_rollout()

    def _check_rollout(self) -> None:
        from .inject import FailureInjector

        for name, value in [("backend", self.backend), *self.backend_for.items()]:
            if value not in ROLLOUT_BACKENDS:
                raise ValueError(f"unknown backend {value!r} for {name} (backends: "
                                 f"{', '.join(ROLLOUT_BACKENDS)})")
        if self.rollout_mode not in MODES:
            raise ValueError(f"unknown rollout mode {self.rollout_mode!r} ({', '.join(MODES)})")
        for name in ("samples", "max_llm_calls"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', '-')} must be at least 1")
        if self.env_tasks is not None and self.env_tasks < 1:
            raise ValueError("env-tasks must be at least 1")
        if self.rollout_concurrency is not None and self.rollout_concurrency < 1:
            raise ValueError("rollout-concurrency must be at least 1")
        if not self.task_timeout > 0:
            raise ValueError("task-timeout must be positive")
        if self.emulator_history < 0:
            raise ValueError("emulator-history must be at least 0")
        if not 0.0 <= self.query_p <= 1.0:
            raise ValueError(f"query-p must be in [0, 1], not {self.query_p!r}")
        FailureInjector(p=self.injection_p, kinds=tuple(self.injection_kinds))
        if self.env_sandbox not in ("process", "inprocess"):
            raise ValueError(f"env-sandbox must be process or inprocess, not "
                             f"{self.env_sandbox!r}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min-score must be in [0, 1], not {self.min_score!r}")
        if self.min_f1 is not None and not 0.0 <= self.min_f1 <= 1.0:
            raise ValueError(f"min-f1 must be in [0, 1], not {self.min_f1!r}")


@dataclass
class SftRunSummary:
    """What a :func:`run_sft` call did.

    Attributes:
        out: The run directory.
        stages: Per stage run: ``{"input", "skipped", "ok", "failed"}`` (plus
            ``"dropped"`` for harvest and ``"scored"``, ``"below_threshold"`` for score).
        offline_misses: Records left unfinished because the offline cache (or
            a harvest snapshot) had no answer; the run stopped after that stage.
        reasons: Per stage, failure counts by ``"code: reason"``.
    """

    out: Path
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    offline_misses: int = 0
    reasons: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every record got a result (no offline miss)."""
        return self.offline_misses == 0

    @property
    def dead_end(self) -> str | None:
        """Where a run that produced nothing ran dry, or ``None`` when it produced rows.

        A run produced nothing when the last stage it ran passed no row on;
        the stage named is the first that had input and let none through
        (``augment`` is optional and never named: scoring goes on without it).
        """
        if not self.stages or list(self.stages.values())[-1].get("ok"):
            return None
        for name, counts in self.stages.items():
            if name != "augment" and counts.get("input", 0) > 0 and not counts.get("ok"):
                return name
        return None

    def top_reasons(self, limit: int = 5) -> list[tuple[str, str, int]]:
        """The most common failure reasons.

        Args:
            limit: The most reasons returned.

        Returns:
            ``(stage, "code: reason", count)``, most common first.
        """
        ranked = [(name, reason, count) for name, counter in self.reasons.items()
                  for reason, count in counter.items()]
        ranked.sort(key=lambda item: (-item[2], SFT_STAGES.index(item[0]), item[1]))
        return ranked[:limit]

    def format(self) -> str:
        """The summary as a few readable lines.

        Returns:
            The text.
        """
        lines = [f"sft run {self.out}"]
        for name, counts in self.stages.items():
            lines.append(f"  {name:<8} " + " ".join(f"{k}={v}" for k, v in counts.items()))
        if self.offline_misses:
            lines.append(f"  incomplete: {self.offline_misses} record(s) missing from the "
                         "offline cache")
        score = self.out / f"{FILES['score']}.ok.jsonl"
        if "score" in self.stages and score.exists():
            lines.append(f"  kept tasks: {score}")
        judged = self.out / f"{FILES['judge']}.ok.jsonl"
        if "judge" in self.stages and judged.exists():
            lines.append(f"  kept trajectories: {judged}")
        return "\n".join(lines)


def parse_sft_stages(text: str) -> tuple[str, ...]:
    """Stage names from ``"a..b"`` (a range, either end may be left out), ``"a,b"`` or one name.

    Args:
        text: The specification.

    Returns:
        The stages, in pipeline order.

    Raises:
        ValueError: An unknown stage or an empty range.

    Example:
        >>> parse_sft_stages("harvest..walks")
        ('harvest', 'graph', 'walks')
        >>> parse_sft_stages("score,graph")
        ('graph', 'score')
    """
    return parse_stages(text, SFT_STAGES)


# -- files -----------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL file (blank lines skipped).

    Args:
        path: The file.

    Returns:
        The rows.
    """
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    _write_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def _write_json(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _normalized(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row without the cache-dependent provenance fields."""
    out = dict(row)
    if isinstance(out.get("provenance"), list):
        out["provenance"] = [{k: v for k, v in entry.items() if k not in _VOLATILE}
                             if isinstance(entry, dict) else entry
                             for entry in out["provenance"]]
    return out


def _previous(out: Path, stage: str, *, kind: str = "ok") -> list[dict[str, Any]]:
    path = out / f"{FILES[stage]}.{kind}.jsonl"
    if not path.exists():
        raise SftInputError(f"{path} is missing: run the {stage} stage first")
    return read_jsonl(path)


# -- running records -------------------------------------------------------------------


class _OfflineGap(Exception):
    pass


@dataclass
class _Context:
    out: Path
    client: Any
    executor: Executor
    limit: int
    progress: bool | None
    retry_failed: bool
    summary: SftRunSummary


def _count_reasons(ctx: _Context, name: str, failed: Sequence[Mapping[str, Any]]) -> None:
    ctx.summary.reasons[name] = Counter(
        f"{(row.get('failure') or {}).get('code')}: {(row.get('failure') or {}).get('reason')}"
        for row in failed)


async def _run_records(ctx: _Context, name: str, items: list[tuple[str, dict[str, Any]]],
                       key: Callable[[Mapping[str, Any]], str],
                       options: Mapping[str, Any], *, executor: Executor | None = None,
                       limit: int | None = None) -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]], dict[str, int]]:
    """Run an LLM stage over its records; ``(ok rows, failed rows, counts)`` in input order."""
    unique: dict[str, dict[str, Any]] = {}
    for item_key, record in items:
        unique.setdefault(item_key, record)
    journal = Journal(ctx.out / f"{FILES[name]}.jsonl", key)
    todo = [(item_key, record) for item_key, record in unique.items()
            if item_key not in journal.rows
            or (ctx.retry_failed and "failure" in journal.rows[item_key])]
    counts = {"input": len(unique), "skipped": len(unique) - len(todo), "ok": 0, "failed": 0}
    misses = 0
    spec = StageSpec(name, options=tuple(sorted(options.items())))
    with Progress(len(unique), f"sft {name}", enabled=ctx.progress) as bar:
        bar.update(counts["skipped"])

        def done(index: int, outcome: Outcome) -> None:
            nonlocal misses
            kind, value = outcome
            if kind == "miss":
                misses += 1
                return
            row = value if kind == "ok" else {**todo[index][1], "failure": value}
            journal.submit(row, bar.update)

        try:
            await (executor or ctx.executor).map(
                spec, [record for _, record in todo], client=ctx.client, sandbox=lambda: None,
                limit=limit or ctx.limit, done=done)
        except BaseException:
            with contextlib.suppress(Exception):
                await journal.drain()
            raise
        await journal.drain()
    ok, failed = [], []
    for item_key in unique:
        row = journal.rows.get(item_key)
        if row is not None:
            (failed if "failure" in row else ok).append(_normalized(row))
    counts["ok"], counts["failed"] = len(ok), len(failed)
    ctx.summary.offline_misses += misses
    if misses:
        counts["missing"] = misses
    return ok, failed, counts


def _finish(ctx: _Context, name: str, ok: list[dict[str, Any]], failed: list[dict[str, Any]],
            counts: dict[str, int]) -> None:
    _write_rows(ctx.out / f"{FILES[name]}.ok.jsonl", ok)
    _write_rows(ctx.out / f"{FILES[name]}.failed.jsonl", failed)
    _count_reasons(ctx, name, failed)
    ctx.summary.stages[name] = counts
    if counts.get("missing"):
        raise _OfflineGap


def _llm_options(options: SftOptions, stage: str, **fixed: Any) -> dict[str, Any]:
    return {**fixed, **dict(options.stage_options.get(stage, {}))}


# -- the stages ------------------------------------------------------------------------


async def _harvest(ctx: _Context, sources: SftSources, options: SftOptions,
                   cache_dir: Path | None, offline: bool) -> None:
    try:
        file_raws = read_tool_files(sources.tools)
    except SourceError as exc:
        raise SftInputError(str(exc)) from exc
    live = sources.mcp()
    journal = Journal(ctx.out / f"{FILES['harvest']}.jsonl", lambda row: str(row["source_key"]))
    todo = [(source, index) for source, index in live
            if source.key not in journal.rows
            or (ctx.retry_failed and "failure" in journal.rows[source.key])]
    misses = 0
    semaphore = asyncio.Semaphore(HARVEST_CONCURRENCY)
    with Progress(len(live), "sft harvest", enabled=ctx.progress) as bar:
        bar.update(len(live) - len(todo))

        async def one(source: McpSource, index: int) -> None:
            nonlocal misses
            async with semaphore:
                line: dict[str, Any] = {"source_key": source.key,
                                        "source": source.as_dict(index)}
                try:
                    line["raw"] = await harvest(source, index, cache_dir=cache_dir,
                                                offline=offline, timeout=options.mcp_timeout)
                except LookupError:
                    misses += 1
                    return
                except HarvestError as exc:
                    line["failure"] = {"stage": "harvest", "code": "harvest_failed",
                                       "reason": f"{source.kind} {source.target!r}: {exc}"}
            journal.submit(line, bar.update)

        try:
            await asyncio.gather(*(one(source, index) for source, index in todo))
        finally:
            with contextlib.suppress(Exception):
                await journal.drain()
        await journal.drain()
    raws, failed = list(file_raws), []
    for source, index in live:
        line = journal.rows.get(source.key)
        if line is None:
            continue
        if "failure" in line:
            failed.append({"source_key": source.key, "source": source.as_dict(index),
                           "failure": line["failure"]})
        else:
            raws.append({**line["raw"], "source": source.as_dict(index)})
    kept, report = normalize_servers(raws, min_tools=options.min_tools)
    report["failed_sources"] = [{"source": row["source"], **row["failure"]} for row in failed]
    out = ctx.out
    _write_rows(out / f"{FILES['harvest']}.ok.jsonl", kept)
    _write_rows(out / f"{FILES['harvest']}.failed.jsonl", failed)
    _write_json(out / f"{FILES['harvest']}.report.json", report)
    ctx.summary.stages["harvest"] = {
        "input": len(file_raws) + len(live), "skipped": len(live) - len(todo),
        "ok": len(kept), "failed": len(failed), "dropped": report["servers"]["dropped"]}
    reasons = Counter(f"{row['failure']['code']}: {row['failure']['reason']}" for row in failed)
    for entry in report["entries"]:
        for code, reason in zip(entry["reason_codes"], entry["reasons"], strict=True):
            reasons[f"{code}: {reason}"] += 1
    ctx.summary.reasons["harvest"] = reasons
    ctx.summary.offline_misses += misses
    if misses:
        ctx.summary.stages["harvest"]["missing"] = misses
        raise _OfflineGap


def _write_graphs(out: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    folder = out / GRAPHS_DIR
    folder.mkdir(exist_ok=True)
    wanted = set()
    for row in rows:
        graph = row["graph"]
        name = f"{row['server_id']}.json"
        wanted.add(name)
        _write_json(folder / name, {"server_id": row["server_id"],
                                    "server": row["server"]["name"], "nodes": graph["nodes"],
                                    "edges": graph["edges"], "samples": graph["samples"]})
    for stale in folder.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()


async def _graph(ctx: _Context, options: SftOptions) -> None:
    servers = _previous(ctx.out, "harvest")
    ok, failed, counts = await _run_records(
        ctx, "graph", [(row["server_id"], row) for row in servers],
        lambda row: str(row["server_id"]),
        _llm_options(options, "graph", samples=options.graph_samples))
    _write_graphs(ctx.out, ok)
    _finish(ctx, "graph", ok, failed, counts)


def _walks(ctx: _Context, options: SftOptions) -> None:
    graphs = _previous(ctx.out, "graph")
    ok, failed = [], []
    for row in graphs:
        chains = chain_rows(row, seed=options.seed, min_length=options.min_length,
                            max_length=options.max_length, max_walks=options.max_walks,
                            acyclic=options.acyclic)
        if chains:
            ok.extend(chains)
        else:
            failed.append({**row, "failure": {
                "stage": "walks", "code": "no_walks",
                "reason": f"no walk of {options.min_length}..{options.max_length} tools in a "
                          f"graph of {len(row['graph']['edges'])} edge(s)"
                          + (" (acyclic)" if options.acyclic else "")}})
    counts = {"input": len(graphs), "skipped": 0, "ok": len(ok), "failed": len(failed)}
    _finish(ctx, "walks", ok, failed, counts)


async def _verify(ctx: _Context, options: SftOptions) -> None:
    chains = _previous(ctx.out, "walks")
    ok, failed, counts = await _run_records(
        ctx, "verify", [(row["chain_id"], row) for row in chains],
        lambda row: str(row["chain_id"]),
        _llm_options(options, "verify", votes=options.votes, vote=options.vote,
                     back_translation=options.back_translation))
    _finish(ctx, "verify", ok, failed, counts)


async def _tasks(ctx: _Context, options: SftOptions) -> None:
    chains = _previous(ctx.out, "verify") if options.chain_tasks else []
    servers = _previous(ctx.out, "harvest") if options.server_tools else []
    records = task_records(chains, servers, samples=options.task_samples,
                           server_tools=options.server_tools, chain_tasks=options.chain_tasks)
    ok, failed, counts = await _run_records(
        ctx, "tasks", [(row["task_id"], row) for row in records],
        lambda row: str(row["task_id"]), _llm_options(options, "tasks"))
    _finish(ctx, "tasks", ok, failed, counts)


async def _augment(ctx: _Context, options: SftOptions) -> None:
    tasks = _previous(ctx.out, "tasks")
    records = augment_records(tasks, axes=options.augment, variations=options.variations,
                              seed=options.seed,
                              personas=options.personas if options.personas is not None
                              else BUILTIN_PERSONAS) if options.variations else []
    ok, failed, counts = await _run_records(
        ctx, "augment", [(row["task_id"], row) for row in records],
        lambda row: str(row["task_id"]), _llm_options(options, "augment"))
    _finish(ctx, "augment", ok, failed, counts)


async def _score(ctx: _Context, options: SftOptions) -> None:
    rows = _previous(ctx.out, "tasks")
    augmented = ctx.out / f"{FILES['augment']}.ok.jsonl"
    if augmented.exists():
        rows += read_jsonl(augmented)
    scored, failed, counts = await _run_records(
        ctx, "score", [(row["task_id"], row) for row in rows],
        lambda row: str(row["task_id"]), _llm_options(options, "score"))
    kept, below = [], []
    for row in scored:
        misses = below_thresholds(row["scores"], options.thresholds)
        if misses:
            below.append({**row, "failure": {"stage": "score", "code": "below_threshold",
                                             "reason": ", ".join(misses)}})
        else:
            kept.append(row)
    order = {row["task_id"]: index for index, row in enumerate(rows)}
    rejected = sorted(failed + below, key=lambda row: order[row["task_id"]])
    counts.update(ok=len(kept), failed=len(rejected), scored=len(scored),
                  below_threshold=len(below))
    _finish(ctx, "score", kept, rejected, counts)


def _trajectory_key(row: Mapping[str, Any]) -> str:
    """The journal key of a rollout or judge line (a trajectory row, or a failed record)."""
    if "trajectory_id" in row:
        return str(row["trajectory_id"])
    return str(row["rollout"]["trajectory_id"])


def resolve_env(spec: str) -> tuple[str, str]:
    """An env id (``astra/demo-v0``) or a pack directory as ``(pack directory, env id)``.

    Args:
        spec: The id or the path.

    Returns:
        The pack's directory and its env id.

    Raises:
        SftInputError: Neither a registered astra env nor a pack directory.
    """
    import gymnasium as gym

    import astra_gym  # noqa: F401 - registers the packs
    from astra_gym.registration import register_pack

    if Path(spec).is_dir():
        try:
            return str(Path(spec).resolve()), register_pack(spec)
        except (OSError, ValueError) as exc:
            raise SftInputError(f"--env {spec}: not a pack directory ({exc})") from None
    name = spec.split(":", 1)[1] if ":" in spec else spec
    entry = gym.registry.get(name)
    pack = (entry.kwargs or {}).get("pack") if entry is not None else None
    if pack is None:
        raise SftInputError(f"--env {spec}: no such astra env (an id like astra/demo-v0, or a "
                            "pack directory)")
    return str(pack), name


def _rollout_records(ctx: _Context, options: SftOptions) -> list[dict[str, Any]]:
    from astra_gym.pack import Pack

    kept = ctx.out / f"{FILES['score']}.ok.jsonl"
    if not kept.exists() and not options.env:
        raise SftInputError(f"{kept} is missing: run the score stage first, or roll out an env "
                            "pack (--env)")
    model = getattr(ctx.client, "model", "")
    records = []
    if kept.exists():
        rows = read_jsonl(kept)
        for row in rows:
            server = row.get("server") or {}
            wanted = options.backend_for.get(str(row.get("server_id"))) \
                or options.backend_for.get(str(server.get("name"))) or options.backend
            records += rollout_task_records(
                [row], backend=wanted, samples=options.samples, seed=options.seed, model=model,
                resolve=lambda want, info: want if want != "auto" else resolve_backend(want,
                                                                                       info))
    for spec in options.env:
        pack_path, env_id = resolve_env(spec)
        task_ids = list(Pack(pack_path).task_ids)
        if options.env_tasks is not None:
            task_ids = task_ids[:options.env_tasks]
        records += env_records(pack_path, env_id, task_ids, samples=options.samples,
                               seed=options.seed, model=model)
    return records


async def _rollout(ctx: _Context, options: SftOptions, cache_dir: Path, offline: bool) -> None:
    records = _rollout_records(ctx, options)
    stage = dict(options.stage_options.get("rollout", {}))
    settings = {
        "mode": options.rollout_mode, "max_llm_calls": options.max_llm_calls,
        "task_timeout": options.task_timeout, "injection_p": options.injection_p,
        "injection_kinds": tuple(options.injection_kinds), "history": options.emulator_history,
        "query_p": options.query_p, "emulator_temperature": options.emulator_temperature,
        "mcp_timeout": options.mcp_timeout, "cache_dir": str(cache_dir), "offline": offline,
        "env_sandbox": options.env_sandbox,
        **stage}
    executor = trajectory_executor(ctx.executor)
    try:
        ok, failed, counts = await _run_records(
            ctx, "rollout", [(_trajectory_key(record), record) for record in records],
            _trajectory_key, settings, executor=executor,
            limit=options.rollout_concurrency or getattr(ctx.client, "concurrency", 1))
    finally:
        if executor is not ctx.executor:
            executor.close()
    _finish(ctx, "rollout", ok, failed, counts)


async def _judge(ctx: _Context, options: SftOptions) -> None:
    rows = _previous(ctx.out, "rollout")
    executor = trajectory_executor(ctx.executor)
    try:
        judged, failed, counts = await _run_records(
            ctx, "judge", [(_trajectory_key(row), row) for row in rows], _trajectory_key,
            _llm_options(options, "judge"), executor=executor)
    finally:
        if executor is not ctx.executor:
            executor.close()
    kept, dropped = [], []
    for row in judged:
        reasons = keep_reasons(row, min_score=options.min_score,
                               require_success=options.require_success, min_f1=options.min_f1)
        if reasons:
            dropped.append({**row, "failure": {"stage": "judge", "code": reasons[0][0],
                                               "reason": "; ".join(r for _, r in reasons)}})
        else:
            kept.append(row)
    order = {_trajectory_key(row): index for index, row in enumerate(rows)}
    rejected = sorted(failed + dropped, key=lambda row: order[_trajectory_key(row)])
    counts.update(ok=len(kept), failed=len(rejected), scored=len(judged),
                  not_kept=len(dropped))
    _finish(ctx, "judge", kept, rejected, counts)


# -- the run ---------------------------------------------------------------------------


async def run_sft(out: str | os.PathLike[str], client: Any, *,
                  sources: SftSources = SftSources(), stages: Sequence[str] = SFT_STAGES,
                  options: SftOptions | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, offline: bool = False,
                  executor: Executor | None = None, progress: bool | None = None,
                  retry_failed: bool = False) -> SftRunSummary:
    """Run the SFT stages, resuming whatever an earlier run in ``out`` finished.

    Args:
        out: The run directory (created).
        client: The :class:`~synth.llm.LLMClient` of the LLM stages (``None``
            when only ``harvest`` and ``walks`` run); its ``concurrency``
            bounds the requests in flight.
        sources: The tool sources (read by ``harvest``).
        stages: The stages to run; a later stage reads the earlier ones' views.
        options: The stage settings (default: :class:`SftOptions`).
        cache_dir: Where live MCP harvests are snapshotted for offline
            replays (default: the client's cache folder, else ``out/cache``).
        offline: Harvest from snapshots only, never starting an MCP server
            (the client must be offline too for the LLM stages).
        executor: Where LLM records run (default :class:`~synth.sft.executors.SftLocalExecutor`).
        progress: Progress bars (default: when stderr is a terminal).
        retry_failed: Run again the records the journals hold as failed.

    Returns:
        The summary.

    Raises:
        SftInputError: A source file is unusable, or a stage's input view is missing.
        ValueError: Bad stages or options, or LLM stages without a client.
    """
    options = options or SftOptions()
    options.check()
    unknown = [name for name in stages if name not in SFT_STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}")
    wanted = [name for name in SFT_STAGES if name in stages]
    if client is None and any(name in LLM_STAGES for name in wanted):
        raise ValueError("the LLM stages need a client")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cache_dir is None:
        cache = getattr(client, "cache", None)
        cache_dir = getattr(cache, "directory", None) or out / "cache"
    executor = executor if executor is not None else SftLocalExecutor()
    limit = getattr(client, "concurrency", 1) * max(1, executor.records_per_request)
    ctx = _Context(out, client, executor, limit, progress, retry_failed, SftRunSummary(out))
    steps: dict[str, Callable[[], Any]] = {
        "harvest": lambda: _harvest(ctx, sources, options, Path(cache_dir), offline),
        "graph": lambda: _graph(ctx, options),
        "walks": lambda: _walks(ctx, options),
        "verify": lambda: _verify(ctx, options),
        "tasks": lambda: _tasks(ctx, options),
        "augment": lambda: _augment(ctx, options),
        "score": lambda: _score(ctx, options),
        "rollout": lambda: _rollout(ctx, options, Path(cache_dir), offline),
        "judge": lambda: _judge(ctx, options),
    }
    for name in wanted:
        try:
            result = steps[name]()
            if asyncio.iscoroutine(result):
                await result
        except _OfflineGap:
            break
    return ctx.summary
