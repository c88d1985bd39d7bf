"""Running the checks over every task of an env: in parallel, with a summary.

Tasks are independent, so they are spread over a pool of worker processes
(``--jobs``); each worker runs every selected check on its tasks. For
``determinism`` the runner first computes every task's episode digest in one
separate interpreter with a different ``PYTHONHASHSEED``, and each worker
compares against it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from ..pack import Pack
from ..progress import Progress
from ..registration import register_pack
from .checks import CHECKS, CheckFailed, CheckOptions, TaskContext

__all__ = ["CheckResult", "ValidationReport", "resolve_target", "run_checks", "validate"]


@dataclass(frozen=True)
class CheckResult:
    """One check on one task.

    Attributes:
        task_id: The task.
        check: The check's name.
        status: ``passed``, ``failed`` or ``errored`` (the check could not run).
        message: Why it failed or errored ("" when it passed).
        seconds: How long it took.
    """

    task_id: str
    check: str
    status: str
    message: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checks(ctx: TaskContext, checks: Sequence[str]) -> list[CheckResult]:
    """Run checks on one task; never raises for a failing or broken check."""
    results = []
    for name in checks:
        start = time.perf_counter()
        try:
            CHECKS[name](ctx)
            status, message = "passed", ""
        except CheckFailed as exc:
            status, message = "failed", str(exc)
        except Exception as exc:  # a check that cannot run must not stop the others
            status, message = "errored", f"{type(exc).__name__}: {exc}"
        results.append(CheckResult(ctx.task_id, name, status, message,
                                   time.perf_counter() - start))
    return results


def resolve_target(target: str | os.PathLike[str]) -> tuple[str, Path]:
    """An env id or a pack directory → (registered env id, pack directory).

    Raises:
        ValueError: When the target is neither a pack directory nor a
            registered astra env id.
    """
    path = Path(target)
    if path.is_dir():
        return register_pack(path), path.resolve()
    env_id = str(target)
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"{env_id!r} is neither a pack directory nor a registered env id "
                         f"({exc})") from None
    pack = (spec.kwargs or {}).get("pack")
    if pack is None:
        raise ValueError(f"{env_id!r} is not an astra env (its spec has no 'pack')")
    return env_id, Path(str(pack))


def _digest_in_other_process(env_id: str, pack: Path, task_ids: Sequence[str],
                             seed: int) -> dict[str, str]:
    other = "7" if os.environ.get("PYTHONHASHSEED") != "7" else "11"
    env = {**os.environ, "PYTHONHASHSEED": other}
    done = subprocess.run(
        [sys.executable, "-m", "astra_gym.validation.digest", env_id, str(pack), str(seed),
         *task_ids], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the digest process failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


_worker: dict[str, Any] = {}


def _check_task(item: tuple[str, str, str | None]) -> list[CheckResult]:
    task_id, env_id, digest = item
    ctx = TaskContext(env_id, task_id, _worker["options"], digest)
    return run_checks(ctx, _worker["checks"])


def _init_worker(env_id: str, pack: str, checks: Sequence[str], options: CheckOptions) -> None:
    if env_id not in gym.registry:  # spawned workers start with a fresh registry
        register_pack(pack)
    _worker.update(checks=list(checks), options=options)


@dataclass
class ValidationReport:
    """Results of a validation run, task by task and check by check."""

    env_id: str
    pack: Path
    checks: list[str]
    results: list[CheckResult]
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every check passed on every task."""
        return all(result.status == "passed" for result in self.results)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per check: passed / failed / errored counts and the first failing task ids."""
        table: dict[str, dict[str, Any]] = {
            name: {"passed": 0, "failed": 0, "errored": 0, "first_failures": []}
            for name in self.checks}
        for result in self.results:
            row = table[result.check]
            row[result.status] += 1
            if result.status != "passed" and len(row["first_failures"]) < 3:
                row["first_failures"].append(result.task_id)
        return table

    def format_table(self) -> str:
        """The summary as a fixed-width table (what the CLI prints)."""
        header = f"{'check':<17} {'passed':>6} {'failed':>6} {'errored':>7}  first failing tasks"
        lines = [header, "-" * len(header)]
        for name, row in self.summary().items():
            lines.append(f"{name:<17} {row['passed']:>6} {row['failed']:>6} "
                         f"{row['errored']:>7}  {', '.join(row['first_failures'])}")
        tasks = len({result.task_id for result in self.results})
        lines.append(f"{tasks} tasks x {len(self.checks)} checks in {self.seconds:.1f} s: "
                     f"{'all passed' if self.ok else 'FAILED'}")
        return "\n".join(lines)

    def manifest_summary(self) -> dict[str, Any]:
        """What ``--write-manifest`` stores under ``validation.checks``."""
        return {name: {k: row[k] for k in ("passed", "failed", "errored")}
                for name, row in self.summary().items()}


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def validate(target: str | os.PathLike[str], checks: Iterable[str] | None = None, *,
             options: CheckOptions | None = None, jobs: int = 1,
             task_ids: Sequence[str] | None = None, progress: bool | None = None,
             on_result: Callable[[CheckResult], None] | None = None) -> ValidationReport:
    """Run validation checks over every task of an env or pack.

    Args:
        target: A registered env id (``astra/demo-v0``) or a pack directory.
        checks: Check names (default: all of :data:`CHECKS`, in order).
        options: Check options (seed, examples, floor settings).
        jobs: Worker processes.
        task_ids: Validate only these tasks.
        progress: Draw a progress bar (default: on a terminal).
        on_result: Called with each result as it arrives (JSON lines).

    Returns:
        The report.

    Raises:
        ValueError: For an unknown check or an unusable target.
    """
    start = time.perf_counter()
    selected = list(CHECKS) if checks is None else list(checks)
    unknown = [name for name in selected if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(CHECKS)}")
    options = options or CheckOptions()
    env_id, pack = resolve_target(target)
    ids = list(task_ids) if task_ids is not None else list(Pack(pack).task_ids)
    digests: dict[str, str] = {}
    if "determinism" in selected:
        digests = _digest_in_other_process(env_id, pack, ids, options.seed)
    items = [(task_id, env_id, digests.get(task_id)) for task_id in ids]
    results: list[CheckResult] = []
    with Progress(len(items), f"validate {env_id}", enabled=progress) as bar:
        def collect(task_results: list[CheckResult]) -> None:
            for result in task_results:
                results.append(result)
                if on_result is not None:
                    on_result(result)
            bar.update()

        if jobs <= 1 or len(items) <= 1:
            _init_worker(env_id, str(pack), selected, options)
            for item in items:
                collect(_check_task(item))
        else:
            with ProcessPoolExecutor(max_workers=min(jobs, len(items)),
                                     mp_context=_pool_context(), initializer=_init_worker,
                                     initargs=(env_id, str(pack), selected, options)) as pool:
                for task_results in pool.map(_check_task, items, chunksize=1):
                    collect(task_results)
    return ValidationReport(env_id, pack, selected, results, time.perf_counter() - start)
