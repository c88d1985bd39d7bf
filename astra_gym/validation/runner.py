"""Running the checks over every task of an env: in parallel, with a summary.

Tasks are independent, so they are spread over a pool of worker processes
(``--jobs``); each worker runs every selected check on its tasks. For
``determinism`` the runner first computes every task's episode digest in one
separate interpreter with a different ``PYTHONHASHSEED``, and each worker
compares against it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from ..pack import Pack
from ..progress import Progress
from ..registration import NAMESPACE, register_pack, unknown_env_message
from .checks import CHECKS, CheckFailed, CheckOptions, CheckWarning, NotApplicable, TaskContext
from .digest import DIGEST_KWARGS_VARIABLE
from .policy import POLICY, POLICY_VERSION, STATUSES

__all__ = ["CheckResult", "ValidationReport", "installed_location", "resolve_target",
           "run_checks", "validate", "write_manifest_summary"]


@dataclass(frozen=True)
class CheckResult:
    """One check on one task.

    Attributes:
        task_id: The task.
        check: The check's id.
        status: One of :data:`~.policy.STATUSES`: ``passed``; ``failed`` (an
            ``error``-severity check found the property violated);
            ``warning`` (a ``warning``-severity check did, or any check
            reported a finding that does not fail); ``not_applicable`` (the
            message says why); ``errored`` (the check could not run).
        message: Why it did not pass ("" when it passed).
        seconds: How long it took.
        severity: The check's severity under the policy.
        details: Figures behind the verdict (``gameability``: the gap and
            every adversary's score).
    """

    task_id: str
    check: str
    status: str
    message: str
    seconds: float
    severity: str = "error"
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checks(ctx: TaskContext, checks: Sequence[str]) -> list[CheckResult]:
    """Run checks on one task; never raises for a failing or broken check."""
    results = []
    for name in checks:
        severity = POLICY[name].severity
        start = time.perf_counter()
        details: dict[str, Any] = {}
        try:
            details = CHECKS[name](ctx) or {}
            status, message = "passed", ""
        except CheckFailed as exc:
            status = "failed" if severity == "error" else "warning"
            message, details = str(exc), exc.details
        except CheckWarning as exc:
            status, message, details = "warning", str(exc), exc.details
        except NotApplicable as exc:
            status, message = "not_applicable", str(exc)
        except Exception as exc:  # a check that cannot run must not stop the others
            status, message = "errored", f"{type(exc).__name__}: {exc}"
        results.append(CheckResult(ctx.task_id, name, status, message,
                                   time.perf_counter() - start, severity, details))
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
    if env_id not in gym.registry:
        if os.sep in env_id.removeprefix(f"{NAMESPACE}/") or env_id.startswith("."):
            raise ValueError(f"no pack directory at {env_id!r} (and it is not an env id)")
        raise ValueError(unknown_env_message(env_id))
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
    # An id registered here with options (distractors=, failures=) gets the same options
    # there; options that are not JSON are left out (the pack's plain env is digested).
    with contextlib.suppress(TypeError, ValueError, gym.error.Error):
        env[DIGEST_KWARGS_VARIABLE] = json.dumps(gym.spec(env_id).kwargs or {})
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
    keep_hypothesis_out_of_cwd()
    _worker.update(checks=list(checks), options=options)


def _cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "astra-gym" / "hypothesis"


def keep_hypothesis_out_of_cwd() -> None:
    """Point hypothesis's storage at a cache directory, not ``./.hypothesis``.

    The fuzz check keeps no example database, but hypothesis still caches
    what it learns about the code under test in its storage directory, which
    defaults to the working directory: ``astra-gym validate`` must not leave
    files where it is run. A user's own ``HYPOTHESIS_STORAGE_DIRECTORY`` wins.
    """
    if os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY"):
        return
    from hypothesis.configuration import set_hypothesis_home_dir

    home = _cache_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:  # no writable home: a private temporary directory
        import tempfile

        home = Path(tempfile.mkdtemp(prefix="astra-gym-hypothesis-"))
    set_hypothesis_home_dir(home)


@dataclass
class ValidationReport:
    """Results of a validation run, task by task and check by check.

    Attributes:
        env_id: The env validated.
        pack: Its pack directory.
        checks: The check ids run.
        results: One result per task and check.
        seconds: Wall time.
        problems: Pack-level problems (an empty pack); each fails the run.
        policy_version: The policy the checks ran under.
    """

    env_id: str
    pack: Path
    checks: list[str]
    results: list[CheckResult]
    seconds: float
    problems: list[str] = field(default_factory=list)
    policy_version: str = POLICY_VERSION

    @property
    def ok(self) -> bool:
        """No pack problem, no failed and no errored check (warnings are allowed)."""
        return not self.problems and all(
            result.status not in ("failed", "errored") for result in self.results)

    @property
    def strict_ok(self) -> bool:
        """:attr:`ok`, and no warning either (``--strict``)."""
        return self.ok and all(result.status != "warning" for result in self.results)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per check: its severity, a count per status and the first tasks that did not pass."""
        table: dict[str, dict[str, Any]] = {
            name: {"severity": POLICY[name].severity, **dict.fromkeys(STATUSES, 0),
                   "first_failures": []}
            for name in self.checks}
        for result in self.results:
            row = table[result.check]
            row[result.status] += 1
            if result.status not in ("passed", "not_applicable") and len(
                    row["first_failures"]) < 3:
                row["first_failures"].append(result.task_id)
        return table

    def gaps(self) -> dict[str, float]:
        """The ``gameability`` gap (gold return minus the best adversary's score) per task."""
        return {result.task_id: result.details["gap"] for result in self.results
                if result.check == "gameability" and "gap" in result.details}

    def format_table(self) -> str:
        """The summary as a fixed-width table (what the CLI prints)."""
        header = (f"{'check':<17} {'severity':<8} {'passed':>6} {'failed':>6} {'warn':>5} "
                  f"{'n/a':>5} {'errored':>7}  first tasks not passing")
        lines = [header, "-" * len(header)]
        for name, row in self.summary().items():
            lines.append(f"{name:<17} {row['severity']:<8} {row['passed']:>6} "
                         f"{row['failed']:>6} {row['warning']:>5} {row['not_applicable']:>5} "
                         f"{row['errored']:>7}  {', '.join(row['first_failures'])}")
        gaps = self.gaps()
        if gaps:
            worst = min(gaps, key=lambda task: gaps[task])
            ordered = sorted(gaps.values())
            lines.append(f"gameability gap (gold return - best adversary): smallest "
                         f"{gaps[worst]:.2f} ({worst}), median {ordered[len(ordered) // 2]:.2f}")
        lines.extend(f"PACK PROBLEM: {problem}" for problem in self.problems)
        tasks = len({result.task_id for result in self.results})
        warnings = sum(result.status == "warning" for result in self.results)
        verdict = "FAILED" if not self.ok else (
            f"passed with {warnings} warning(s)" if warnings else "all passed")
        lines.append(f"{tasks} tasks x {len(self.checks)} checks in {self.seconds:.1f} s "
                     f"(policy {self.policy_version}): {verdict}")
        return "\n".join(lines)

    def manifest_summary(self) -> dict[str, Any]:
        """What ``--write-manifest`` stores under ``validation.checks``."""
        return {name: {k: row[k] for k in ("severity", *STATUSES)}
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
    # The bytes are hashed against the manifest here, never taken from the index cache.
    opened = Pack(pack, index_cache=False)
    all_ids = opened.task_ids
    ids = list(task_ids) if task_ids is not None else list(all_ids)
    waivers = pack_waivers(opened.manifest)
    if not ids:
        problem = ("the pack has no tasks: nothing to train on (did every row fail to "
                   "compile? see the compile report)" if task_ids is None else
                   "no task selected")
        return ValidationReport(env_id, pack, selected, [], time.perf_counter() - start,
                                [problem])
    keep_hypothesis_out_of_cwd()
    digests: dict[str, str] = {}
    if "determinism" in selected:
        digests = _digest_in_other_process(env_id, pack, ids, options.seed)
    items = [(task_id, env_id, digests.get(task_id)) for task_id in ids]
    results: list[CheckResult] = []
    with Progress(len(items), f"validate {env_id}", enabled=progress) as bar:
        def collect(task_results: list[CheckResult]) -> None:
            for result in task_results:
                result = apply_waiver(result, waivers)
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


def pack_waivers(manifest: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """The manifest's ``validation_waivers``: ``(task_id, check) -> reason``.

    A waiver is written by the pack's builder for a failure it knows and keeps
    on purpose (a BFCL entry whose data makes it gameable, kept so that scores
    stay comparable with BFCL's), with the reason.
    """
    return {(entry["task_id"], entry["check"]): entry["reason"]
            for entry in manifest.get("validation_waivers") or ()}


def apply_waiver(result: CheckResult, waivers: Mapping[tuple[str, str], str]) -> CheckResult:
    """A failed result that the pack waives becomes a warning that says so.

    Only ``failed`` turns into ``warning`` (never ``errored``: a check that could
    not run proves nothing), and ``--strict`` still fails on it.
    """
    reason = waivers.get((result.task_id, result.check))
    if reason is None or result.status != "failed":
        return result
    return dataclasses.replace(result, status="warning",
                               message=f"waived by the pack ({reason}): {result.message}")


def installed_location(path: str | os.PathLike[str]) -> str | None:
    """Where ``path`` was installed by pip, or None for a source directory.

    A pack is installed when it lies in a site directory (purelib, platlib,
    a site or user site directory), or when a ``*.dist-info`` next to it or
    up to three directories above lists its files in ``RECORD`` (``pip
    install --target``, a packaged pack inside another package). An editable
    install leaves the source directory a source directory.

    Args:
        path: A pack directory.

    Returns:
        The site directory or the ``*.dist-info`` directory that claims the
        path, or None.
    """
    import site
    import sysconfig

    resolved = Path(path).resolve()
    roots = {sysconfig.get_paths().get(key) for key in ("purelib", "platlib")}
    roots.update(getattr(site, "getsitepackages", list)())
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    roots.add(user_site if isinstance(user_site, str) else None)
    for root in sorted(r for r in roots if r):
        if resolved.is_relative_to(Path(root).resolve()):
            return root
    for ancestor in [resolved, *resolved.parents][:4]:
        for info in sorted(ancestor.glob("*.dist-info")):
            try:
                record = (info / "RECORD").read_text(encoding="utf-8")
            except OSError:
                continue
            for line in record.splitlines():
                name = line.split(",", 1)[0]
                if name and (ancestor / name).resolve().is_relative_to(resolved):
                    return str(info)
    return None


def write_manifest_summary(report: ValidationReport) -> Path:
    """Store the report's per-check summary and policy version in the pack's manifest.

    Args:
        report: A finished validation report.

    Returns:
        The manifest path written.

    Raises:
        PermissionError: The pack lies in an installed package: its files
            belong to pip (a reinstall would undo the change, an uninstall
            would leave it behind), so write the summary into the pack's
            source directory and reinstall.
    """
    from ..pack import MANIFEST_FILE, validate_manifest

    where = installed_location(report.pack)
    if where is not None:
        raise PermissionError(
            f"{report.pack} is part of an installed package (in {where}); --write-manifest "
            "never edits installed files. Validate the pack's source directory instead "
            "(astra-gym validate path/to/pack --write-manifest) and reinstall it")
    path = report.pack / MANIFEST_FILE
    manifest = json.loads(path.read_text(encoding="utf-8"))
    validation = manifest.setdefault("validation", {})
    validation["checks"] = report.manifest_summary()
    validation["policy"] = report.policy_version
    validate_manifest(manifest, str(path))
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
