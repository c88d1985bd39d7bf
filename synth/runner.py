"""The synthesis runner: the stages over JSONL files, resumable, ending in a compiled pack.

A run directory holds, per stage ``NN_<stage>``:

* ``NN_<stage>.jsonl``: the stage's **journal**, one line per record appended
  as soon as the record finishes, in completion order (a group commit: the
  records that finish while one batch is being fsynced are written and
  fsynced together next, off the event loop; a record counts as done only
  once its batch is durable),
  successes and failures alike (a failure line is the stage's input record
  plus ``"failure": {"stage", "reason"}``; a generate failure also gets the
  ``uuid`` its row would have had). On start a stage drops a torn last line
  (a run killed mid-write) and skips every record whose key is already in
  the journal, so a killed run restarts with no lost and no duplicated rows
  (``retry_failed`` runs the failed ones again; the later line wins).
* ``NN_<stage>.ok.jsonl`` and ``NN_<stage>.failed.jsonl``: the **final views**,
  rewritten (atomically) each time the stage ends: the journal's successes,
  and its failures, in *input order*, with the cache-dependent provenance
  fields (``cached``, ``attempts``, ``usage``) removed. They do not depend on
  completion order or on what the LLM cache already held, so an
  uninterrupted run, a killed and resumed one and an offline replay write
  byte-identical views. The next stage reads the previous one's ``.ok`` view.
* ``03_verify.kept.jsonl``: the verified rows kept by ``threshold`` or
  ``keep_percentile`` (:func:`synth.stages.keep_rows`), applied once every row
  is verified; without either, every verified row is kept. Tools reads it.
* ``pack/``: the compiled env pack (``compile_files`` over ``05_merge.ok.jsonl``).

Record keys: a generate record's key is the ``uuid`` of the row it makes
(:func:`synth.stages.generate.row_uuid`, a hash of the input row, the attempt
and the hop range); identical input rows are processed once. Later stages key
by the input record's ``uuid``.
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
from synth.executors import Executor, LocalExecutor, Outcome, StageSpec

__all__ = ["STAGES", "STAGE_OPTIONS", "RunInputError", "RunSummary", "parse_stages",
           "run_pipeline", "stats"]

STAGES: tuple[str, ...] = ("generate", "necessity", "verify", "tools", "merge", "compile")
"""Every stage, in pipeline order."""

STAGE_OPTIONS: tuple[str, ...] = ("temperature", "max_tokens")
"""The per-stage sampling options :func:`run_pipeline` passes to the LLM stages."""

_FILES = {name: f"{index:02d}_{name}" for index, name in enumerate(STAGES[:-1], start=1)}
_VOLATILE = ("cached", "attempts", "usage")
PACK_DIR = "pack"


class RunInputError(ValueError):
    """The run's input is unusable (missing file, invalid JSON, no rows, missing stage file)."""


@dataclass
class RunSummary:
    """What a :func:`run_pipeline` call did.

    Attributes:
        out: The run directory.
        stages: Per stage run: ``{"input", "skipped", "ok", "failed"}`` (``skipped``:
            already in the journal), plus ``"kept"`` for verify and
            ``"compiled"``/``"rejected"`` for compile.
        offline_misses: Records left unfinished because the offline cache had
            no reply for them (the run stopped after that stage).
        duplicates: Identical input rows dropped by generate.
        pack: The pack directory, when the compile stage wrote one.
    """

    out: Path
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    offline_misses: int = 0
    duplicates: int = 0
    pack: Path | None = None
    reasons: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Whether every record of every stage run got a line (no offline miss)."""
        return self.offline_misses == 0

    @property
    def dead_end(self) -> str | None:
        """The first stage that had records and let none through (every one failed).

        A run that ends there produced nothing, which a caller must not report
        as success; ``None`` when every stage run passed something on.
        """
        for name, counts in self.stages.items():
            passed = counts.get("compiled") if name == "compile" else counts.get("ok")
            if counts.get("input", 0) > 0 and not passed:
                return name
        return None

    def top_reasons(self, limit: int = 5) -> list[tuple[str, str, int]]:
        """The most common failure reasons of the run's stages: ``(stage, reason, count)``."""
        ranked = [(name, reason, count) for name, counter in self.reasons.items()
                  for reason, count in counter.items()]
        ranked.sort(key=lambda item: (-item[2], STAGES.index(item[0]), item[1]))
        return ranked[:limit]

    def format(self) -> str:
        """A few readable lines."""
        lines = [f"synth run {self.out}"]
        for name, counts in self.stages.items():
            lines.append(f"  {name:<10} " + " ".join(f"{k}={v}" for k, v in counts.items()))
        if self.offline_misses:
            lines.append(f"  incomplete: {self.offline_misses} record(s) missing from the "
                         "offline cache")
        if self.pack is not None:
            lines.append(f"  pack: {self.pack}")
        return "\n".join(lines)


def parse_stages(text: str, stages: Sequence[str] = STAGES) -> tuple[str, ...]:
    """Stage names from ``"a..b"`` (a range, either end may be left out), ``"a,b"`` or one name.

    Args:
        text: The specification.
        stages: The pipeline's stages in order (default: the synthesis pipeline's; the
            SFT pipeline passes its own).

    Returns:
        The stages, in pipeline order.

    Raises:
        ValueError: An unknown stage name or an empty/backwards range.

    Example:
        >>> parse_stages("verify..merge")
        ('verify', 'tools', 'merge')
        >>> parse_stages("compile,generate")
        ('generate', 'compile')
    """
    order = tuple(stages)
    listed = ", ".join(order)
    if ".." in text:
        first, _, last = (part.strip() for part in text.partition(".."))
        first, last = first or order[0], last or order[-1]
        for name in (first, last):
            if name not in order:
                raise ValueError(f"unknown stage {name!r} (stages: {listed})")
        names = order[order.index(first): order.index(last) + 1]
        if not names:
            raise ValueError(f"empty stage range {text!r}")
        return names
    wanted = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(wanted - set(order))
    if unknown or not wanted:
        raise ValueError(f"unknown stage(s) {unknown or text!r} (stages: {listed})")
    return tuple(name for name in order if name in wanted)


# -- files -----------------------------------------------------------------------

def _dumps(row: Mapping[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _write_atomic(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(_dumps(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class Journal:
    """An append-only JSONL file of finished records, keyed, safe against a kill mid-write.

    Two ways to append: :meth:`append` writes one line durably right away
    (write, flush, fsync), and :meth:`submit` hands a line to a **group
    commit** for code on an event loop: the lines submitted while one batch
    is being made durable are written together as the next batch, with one
    ``write`` and one ``fsync``, in a worker thread, so the loop never waits
    on the disk. A submitted line counts as appended (it enters :attr:`rows`
    and its ``on_durable`` callback runs) only once its batch's ``fsync`` has
    returned, exactly as if :meth:`append` had returned; :meth:`drain` waits
    for every submitted line.

    Args:
        path: The journal file (created when missing).
        key: The key of a journal line.

    Attributes:
        path: The journal file.
        rows: Every durable line by key (a later line with the same key supersedes).
        batches: Group-commit batches written (each one ``fsync``).
    """

    def __init__(self, path: Path, key: Callable[[Mapping[str, Any]], str]) -> None:
        self.path = path
        self.rows: dict[str, dict[str, Any]] = {}
        self.batches = 0
        self._key = key
        self._queue: list[tuple[str, dict[str, Any], Callable[[], None] | None]] = []
        self._committer: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._repair()
        for row in _read_jsonl(self.path):
            self.rows[key(row)] = row  # a retried record's later line supersedes the old one

    def _repair(self) -> None:
        """Drop a torn (unterminated or unparsable) last line."""
        if not self.path.exists():
            self.path.touch()
            return
        data = self.path.read_bytes()
        keep = len(data)
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
        else:
            last = data[: keep - 1].rfind(b"\n") + 1 if data else 0
            try:
                if data[last:keep].strip():
                    json.loads(data[last:keep])
            except ValueError:
                keep = last
        if keep != len(data):
            with self.path.open("r+b") as handle:
                handle.truncate(keep)
                handle.flush()
                os.fsync(handle.fileno())

    def append(self, row: dict[str, Any]) -> None:
        """Write one line durably (one write, flush, fsync)."""
        self._write(_dumps(row) + "\n")
        self.rows[self._key(row)] = row

    def _write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def submit(self, row: dict[str, Any], on_durable: Callable[[], None] | None = None) -> None:
        """Queue one line for the group commit (call from a running event loop).

        The line is serialized now (later changes to ``row`` are not
        written). It enters :attr:`rows`, and ``on_durable()`` runs, after its
        batch is written and fsynced. A failed write is raised by
        :meth:`drain` (and by every later :meth:`submit`).

        Raises:
            OSError: An earlier batch could not be written.
        """
        if self._error is not None:
            raise self._error
        self._queue.append((_dumps(row) + "\n", row, on_durable))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.get_running_loop().create_task(self._commit())

    async def _commit(self) -> None:
        """Write the queued lines batch by batch until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await asyncio.to_thread(self._write, "".join(line for line, _, _ in batch))
            except Exception as exc:
                self._error = exc
                self._queue.clear()
                raise
            self.batches += 1
            for _, row, on_durable in batch:
                self.rows[self._key(row)] = row
                if on_durable is not None:
                    on_durable()

    async def drain(self) -> None:
        """Wait until every submitted line is durable.

        Raises:
            OSError: A batch could not be written (its lines and every line
                queued after it are not in :attr:`rows`).
        """
        while self._committer is not None and not self._committer.done():
            await asyncio.shield(self._committer)
        if self._error is not None:
            raise self._error


def _normalized(row: Mapping[str, Any]) -> dict[str, Any]:
    """The row without the cache-dependent provenance fields."""
    out = dict(row)
    if isinstance(out.get("provenance"), list):
        out["provenance"] = [{k: v for k, v in entry.items() if k not in _VOLATILE}
                             if isinstance(entry, dict) else entry
                             for entry in out["provenance"]]
    return out


def _taxonomy_rows(path: Path, text: str, mode: str | None) -> list[dict[str, Any]] | None:
    """A ``.json`` taxonomy file's leaf rows, or ``None`` when it is not a taxonomy."""
    from synth.taxonomy import is_taxonomy, taxonomy_leaves

    if path.suffix != ".json":
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if mode == "taxonomy":
            raise RunInputError(f"{path}: invalid taxonomy JSON: {exc}") from exc
        return None
    if not is_taxonomy(data):
        if mode == "taxonomy":
            raise RunInputError(f"{path}: not a taxonomy (no leaf with a description or "
                                "examples)")
        return None
    return taxonomy_leaves(data, path.stem)


def _read_inputs(inputs: Sequence[Path], mode: str | None = None) -> list[dict[str, Any]]:
    if not inputs:
        raise RunInputError("no input files given")
    rows: list[dict[str, Any]] = []
    for path in inputs:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RunInputError(f"cannot read {path}: {exc}") from exc
        leaves = _taxonomy_rows(Path(path), text, mode)
        if leaves is not None:
            rows.extend(leaves)
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise RunInputError(f"{path}:{number}: invalid JSON: {exc}") from exc
            if not isinstance(row, dict):
                raise RunInputError(f"{path}:{number}: a row must be a JSON object")
            rows.append(row)
    if not rows:
        raise RunInputError("the input files hold no rows")
    return rows


# -- stages ----------------------------------------------------------------------

@dataclass
class _Item:
    key: str
    record: dict[str, Any]


class _OfflineGap(Exception):
    pass


async def _run_stage(name: str, items: list[_Item], journal: Journal, spec: StageSpec,
                     executor: Executor, client: Any, sandbox: Callable[[], Any],
                     failed_row: Callable[[_Item, dict[str, str]], dict[str, Any]],
                     limit: int, progress: bool | None, summary: RunSummary, *,
                     retry_failed: bool = False) -> list[dict[str, Any]]:
    """Run one stage over its items; return its successes in input order."""
    todo = [item for item in items if item.key not in journal.rows
            or (retry_failed and "failure" in journal.rows[item.key])]
    counts = {"input": len(items), "skipped": len(items) - len(todo), "ok": 0, "failed": 0}
    misses = 0

    with Progress(len(items), f"synth {name}", enabled=progress) as bar:
        bar.update(counts["skipped"])

        def done(index: int, outcome: Outcome) -> None:
            nonlocal misses
            kind, value = outcome
            if kind == "miss":
                misses += 1
                return
            row = value if kind == "ok" else failed_row(todo[index], value)
            journal.submit(row, bar.update)  # counted once its group commit is durable

        try:
            await executor.map(spec, [item.record for item in todo], client=client,
                               sandbox=sandbox, limit=limit, done=done)
        except BaseException:
            with contextlib.suppress(Exception):
                await journal.drain()  # keep what finished; the first error is the one to see
            raise
        await journal.drain()

    ok, failed = [], []
    for item in items:
        row = journal.rows.get(item.key)
        if row is None:
            continue
        (failed if "failure" in row else ok).append(_normalized(row))
    counts["ok"], counts["failed"] = len(ok), len(failed)
    summary.reasons[name] = Counter(str((row.get("failure") or {}).get("reason"))
                                    for row in failed)
    stem = journal.path.name.removesuffix(".jsonl")
    _write_atomic(journal.path.with_name(f"{stem}.ok.jsonl"), ok)
    _write_atomic(journal.path.with_name(f"{stem}.failed.jsonl"), failed)
    summary.stages[name] = counts
    if misses:
        summary.offline_misses += misses
        raise _OfflineGap
    return ok


def _uuid_key(row: Mapping[str, Any]) -> str:
    return str(row.get("uuid"))


def _items_by_uuid(rows: list[dict[str, Any]]) -> list[_Item]:
    items, seen = [], set()
    for row in rows:
        key = _uuid_key(row)
        if key not in seen:
            seen.add(key)
            items.append(_Item(key, row))
    return items


def _previous(out: Path, name: str) -> list[dict[str, Any]]:
    path = out / ("03_verify.kept.jsonl" if name == "verify" else f"{_FILES[name]}.ok.jsonl")
    if not path.exists():
        raise RunInputError(f"{path} is missing: run the {name} stage first")
    return _read_jsonl(path)


async def run_pipeline(inputs: Sequence[Path], out: Path, client: Any, *,
                       stages: Sequence[str] = STAGES, min_hops: int = 1, max_hops: int = 5,
                       threshold: float | None = None, keep_percentile: float | None = None,
                       pack_name: str = "synth", jobs: int = 1,
                       progress: bool | None = None,
                       executor: Executor | None = None, mode: str | None = None,
                       stage_options: Mapping[str, Mapping[str, Any]] | None = None,
                       retry_failed: bool = False) -> RunSummary:
    """Run the synthesis stages over JSONL files, resuming whatever a previous run finished.

    Args:
        inputs: Input JSONL files (rows for the generate stage); a ``.json``
            file holding a taxonomy tree (:mod:`synth.taxonomy`) is expanded
            to one row per leaf example.
        out: The run directory (created).
        client: The :class:`~synth.llm.LLMClient` every stage uses; its
            ``concurrency`` bounds the requests in flight, and the records in
            flight per stage (times the executor's ``records_per_request``:
            twice as many with the local executor, so records writing their
            results to disk never leave a request slot idle).
        stages: The stages to run (a contiguous tail of the pipeline can start
            from an earlier run's files).
        min_hops: The least trace depth asked of generate.
        max_hops: The most trace depth asked of generate.
        threshold: Keep verified rows scoring at least this.
        keep_percentile: Or keep rows at or above this percentile of the run's scores.
        pack_name: The compiled pack's name.
        jobs: Worker processes for the compiler's replays.
        progress: Progress bars (default: when stderr is a terminal).
        executor: Where the records of a stage run (default:
            :class:`~synth.executors.LocalExecutor`). Every executor writes the
            same files; the caller closes it.
        mode: The generate mode (``"knowledge"``, ``"question"``,
            ``"taxonomy"``; ``None`` or ``"auto"``: from each row's keys).
        stage_options: Per-stage keyword arguments for the stage functions,
            ``{stage: {"temperature": t, "max_tokens": n}}``; a stage or
            option left out keeps the stage's default.
        retry_failed: Run again the records a stage's journal holds as
            failed, instead of skipping them. Their LLM calls that failed are
            asked again; the calls that succeeded come from the cache, so a
            failure that was a property of the record (a low score, a tool
            that never returned the answer) fails the same way again. The
            new line is appended and supersedes the old one.

    Returns:
        The run summary.

    Raises:
        RunInputError: Unusable input (missing or invalid files, no rows, an
            earlier stage's file missing).
        ValueError: Bad arguments (unknown stage, both threshold and percentile).
    """
    from astra_gym.sandbox import Sandbox
    from synth.stages import keep_rows
    from synth.stages.generate import row_uuid

    unknown = [name for name in stages if name not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage(s) {unknown}")
    if threshold is not None and keep_percentile is not None:
        raise ValueError("give threshold or keep_percentile, not both")
    from synth.stages.generate import MODES

    if mode not in (None, "auto", *MODES):
        raise ValueError(f"unknown mode {mode!r} (modes: auto, {', '.join(MODES)})")
    options = {name: dict(values) for name, values in (stage_options or {}).items()}
    for name, values in options.items():
        if name not in STAGES[:-1]:
            raise ValueError(f"unknown stage {name!r} in stage options (stages: "
                             f"{', '.join(STAGES[:-1])})")
        extra = sorted(set(values) - set(STAGE_OPTIONS))
        if extra:
            raise ValueError(f"unknown option(s) {extra} for stage {name!r} (options: "
                             f"{', '.join(STAGE_OPTIONS)})")
    if not 1 <= min_hops <= max_hops:
        raise ValueError(f"need 1 <= min_hops <= max_hops, got {min_hops}..{max_hops}")
    out = Path(out)
    summary = RunSummary(out=out)
    executor = executor if executor is not None else LocalExecutor()
    limit = getattr(client, "concurrency", 1) * max(1, getattr(executor, "records_per_request", 1))
    wanted = [name for name in STAGES if name in stages]
    raw_inputs = (_read_inputs([Path(p) for p in inputs], mode) if "generate" in wanted
                  else [])
    out.mkdir(parents=True, exist_ok=True)

    sandbox: Sandbox | None = None

    def shared_sandbox() -> Sandbox:
        nonlocal sandbox
        if sandbox is None:
            sandbox = Sandbox(isolation="process")
        return sandbox

    try:
        rows: list[dict[str, Any]] | None = None
        for name in wanted:
            if name == "compile":
                summary.pack = _compile(out, pack_name, jobs, progress, summary)
                continue
            if rows is None:
                rows = raw_inputs if name == "generate" else _previous(out, STAGES[
                    STAGES.index(name) - 1])
            journal = Journal(out / f"{_FILES[name]}.jsonl", _uuid_key)
            if name == "generate":
                items, seen = [], set()
                for record in rows:
                    key = row_uuid(record, 0, min_hops, max_hops)
                    if key in seen:
                        summary.duplicates += 1
                        continue
                    seen.add(key)
                    items.append(_Item(key, record))

                def failed(item: _Item, failure: dict[str, str]) -> dict[str, Any]:
                    return {**item.record, "uuid": item.key, "failure": failure}
            else:
                items = _items_by_uuid(rows)

                def failed(item: _Item, failure: dict[str, str]) -> dict[str, Any]:
                    return {**item.record, "failure": failure}

            spec = StageSpec(name, min_hops=min_hops, max_hops=max_hops,
                             mode=mode if name == "generate" else None,
                             options=tuple(sorted(options.get(name, {}).items())))
            try:
                rows = await _run_stage(name, items, journal, spec, executor, client,
                                        shared_sandbox, failed, limit, progress, summary,
                                        retry_failed=retry_failed)
            except _OfflineGap:
                break
            if name == "verify":
                if threshold is None and keep_percentile is None:
                    kept = list(rows)
                else:
                    kept = [dict(row) for row in keep_rows(rows, threshold=threshold,
                                                           percentile=keep_percentile)]
                _write_atomic(out / "03_verify.kept.jsonl", kept)
                summary.stages[name]["kept"] = len(kept)
                rows = kept
    finally:
        if sandbox is not None:
            sandbox.close()
    return summary


def _compile(out: Path, pack_name: str, jobs: int, progress: bool | None,
             summary: RunSummary) -> Path | None:
    from synth.compiler import compile_files

    source = out / f"{_FILES['merge']}.ok.jsonl"
    if not source.exists():
        raise RunInputError(f"{source} is missing: run the merge stage first")
    if not _read_jsonl(source):
        summary.stages["compile"] = {"input": 0, "compiled": 0, "rejected": 0}
        return None
    result = compile_files([source], pack_name, out / PACK_DIR, jobs=jobs,
                           progress=bool(progress) if progress is not None else None)
    summary.stages["compile"] = {"input": len(result.outcomes), "compiled": result.compiled,
                                 "rejected": result.rejected}
    summary.reasons["compile"] = Counter(f"{reason.code}: {reason.message}"
                                         for outcome in result.outcomes
                                         for reason in outcome.reasons[:1])
    return out / PACK_DIR


# -- stats -----------------------------------------------------------------------

def stats(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts, failure reasons, histograms and tokens of a run directory.

    Args:
        run_dir: The run directory.

    Returns:
        ``{"stages": {name: {"ok", "failed", "reasons": {reason: n}}},
        "kept": n | None, "hops": {depth: n}, "domains": {domain: n},
        "surviving_stage": name | None, "tokens": {"prompt_tokens",
        "completion_tokens", "by_stage": {...}}, "pack": {...} | None}``; hop
        and domain histograms count the rows of the last stage with successes.

    Raises:
        FileNotFoundError: ``run_dir`` is not a directory.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no run directory {root}")
    result: dict[str, Any] = {"stages": {}, "kept": None, "hops": {}, "domains": {},
                              "surviving_stage": None,
                              "tokens": {"prompt_tokens": 0, "completion_tokens": 0,
                                         "by_stage": {}}, "pack": None}
    survivors: list[dict[str, Any]] = []
    for name, stem in _FILES.items():
        path = root / f"{stem}.jsonl"
        if not path.exists():
            continue
        journal = Journal(path, _uuid_key)
        reasons: Counter[str] = Counter()
        ok = []
        tokens = {"prompt_tokens": 0, "completion_tokens": 0}
        for row in journal.rows.values():
            if "failure" in row:
                reasons[str(row["failure"].get("reason"))] += 1
                continue
            ok.append(row)
            entries = [e for e in row.get("provenance") or [] if isinstance(e, dict)
                       and e.get("stage") == name]
            usage = entries[-1].get("usage") if entries else None
            for field_name in tokens:
                tokens[field_name] += int((usage or {}).get(field_name, 0) or 0)
        result["stages"][name] = {"ok": len(ok), "failed": sum(reasons.values()),
                                  "reasons": dict(reasons.most_common())}
        result["tokens"]["by_stage"][name] = tokens
        for field_name in ("prompt_tokens", "completion_tokens"):
            result["tokens"][field_name] += tokens[field_name]
        if name == "verify" and (root / "03_verify.kept.jsonl").exists():
            result["kept"] = len(_read_jsonl(root / "03_verify.kept.jsonl"))
        if ok:
            survivors, result["surviving_stage"] = ok, name
    hops: Counter[int] = Counter()
    domains: Counter[str] = Counter()
    for row in survivors:
        levels = [item.get("hop_level") for item in row.get("decomposition_trace") or []
                  if isinstance(item, dict) and isinstance(item.get("hop_level"), int)]
        if levels:
            hops[max(levels)] += 1
        domains[str((row.get("_metadata") or {}).get("domain", "?"))] += 1
    result["hops"] = {str(k): v for k, v in sorted(hops.items())}
    result["domains"] = dict(sorted(domains.items()))
    report = root / PACK_DIR / "report.json"
    if report.exists():
        data = json.loads(report.read_text(encoding="utf-8"))
        entries = data.get("entries", []) if isinstance(data, dict) else []
        statuses = Counter(r.get("status") for r in entries if isinstance(r, dict))
        result["pack"] = {"compiled": statuses.get("compiled", 0),
                          "rejected": statuses.get("rejected", 0)}
    return result


def format_stats(data: Mapping[str, Any]) -> str:
    """:func:`stats` as a readable table.

    Args:
        data: The output of :func:`stats`.

    Returns:
        Text lines.
    """
    lines = [f"{'stage':<10} {'ok':>6} {'failed':>7} {'prompt tok':>11} {'compl tok':>10}"]
    for name, counts in data["stages"].items():
        tokens = data["tokens"]["by_stage"].get(name, {})
        lines.append(f"{name:<10} {counts['ok']:>6} {counts['failed']:>7} "
                     f"{tokens.get('prompt_tokens', 0):>11} "
                     f"{tokens.get('completion_tokens', 0):>10}")
    tokens = data["tokens"]
    lines.append(f"{'total':<10} {'':>6} {'':>7} {tokens['prompt_tokens']:>11} "
                 f"{tokens['completion_tokens']:>10}")
    if data.get("kept") is not None:
        lines.append(f"kept after verify: {data['kept']}")
    if data.get("pack"):
        lines.append(f"pack: {data['pack']['compiled']} compiled, "
                     f"{data['pack']['rejected']} rejected")
    for name, counts in data["stages"].items():
        for reason, count in counts["reasons"].items():
            lines.append(f"  {name} failure x{count}: {reason[:200]}")
    if data.get("hops"):
        lines.append("hops: " + ", ".join(f"{k}: {v}" for k, v in data["hops"].items()))
    if data.get("domains"):
        lines.append("domains: " + ", ".join(f"{k}: {v}" for k, v in data["domains"].items()))
    return "\n".join(lines)
