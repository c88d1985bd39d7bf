"""Run one hostile payload and report how it was contained.

Used by the abuse tests and by ``benchmarks/bench_abuse.py``. In-process
payloads run in a forked child, so each one starts from the same clean state,
its peak RSS can be measured on its own (``/proc/self/clear_refs`` resets the
high-water mark), and a payload that escaped the guards could only take down
the child. Process-mode payloads go through a real process-isolated sandbox.
"""

from __future__ import annotations

import json
import math
import os
import random
import select
import signal
import time
from dataclasses import dataclass
from typing import Any

from astra_gym.sandbox import Limits, Sandbox

NORMAL_TOOL = "def tool(x):\n    return {'double': x * 2}\n"
NORMAL_OUTPUT = '{"double": 4}'
HANG_GUARD_S = 15.0  # liveness only: far above any contained payload


@dataclass
class Containment:
    """What happened when a payload ran."""

    ok: bool | None          # the payload's ToolResult.ok (None: no result came back)
    error_kind: str | None
    error: str | None
    output: str
    wall_s: float
    rss_growth_mb: float | None   # None when the worker was killed (bounded by RLIMIT_AS)
    next_call_ok: bool
    host_intact: bool
    host_diff: str
    note: str = ""


def _status_kb(field: str, pid: int | str = "self") -> int | None:
    """A ``/proc/<pid>/status`` memory field (``VmHWM``, ``VmRSS``) in KiB."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak(pid: int | str = "self") -> None:
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def host_snapshot() -> dict[str, Any]:
    """Host state a payload must not change."""
    import calendar
    import copyreg
    import decimal
    import hashlib
    import json as host_json
    import json.decoder
    import time as host_time

    return {
        "decimal_context": repr(decimal.getcontext()),
        "calendar_firstweekday": calendar.firstweekday(),
        "hashlib_algorithms": sorted(hashlib.algorithms_available),
        "copyreg_dispatch": sorted(map(repr, copyreg.dispatch_table)),
        "json_backslash": dict(json.decoder.BACKSLASH),
        "random_state": hash(random.getstate()),
        "math_pi": math.pi,
        "json_dumps": id(host_json.dumps),
        "time_time": id(host_time.time),
        "str_upper": id(str.upper),
        "cwd": os.getcwd(),
        "builtins": sorted(__builtins__ if isinstance(__builtins__, dict)
                           else vars(__builtins__)),
    }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    return ", ".join(k for k in before if before[k] != after[k])


def run_inprocess(source: str, kwargs: dict | None, limits: Limits | None = None) -> Containment:
    """Run a payload with in-process isolation inside a forked child."""
    read_fd, write_fd = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        report: dict[str, Any]
        try:
            sandbox = Sandbox(isolation="inprocess", limits=limits)
            sandbox.run(NORMAL_TOOL, "tool", {"x": 1})  # warm imports outside the measurement
            before = host_snapshot()
            _reset_peak()
            base = _status_kb("VmRSS") or 0
            t0 = time.perf_counter()
            result = sandbox.run(source, "tool", kwargs)
            wall = time.perf_counter() - t0
            peak = _status_kb("VmHWM") or 0
            after = host_snapshot()
            following = sandbox.run(NORMAL_TOOL, "tool", {"x": 2})
            report = {"ok": result.ok, "error_kind": result.error_kind, "error": result.error,
                      "output": result.output[:2000], "wall_s": wall,
                      "rss_growth_mb": (peak - base) / 1024,
                      "next_call_ok": following.ok and following.output == NORMAL_OUTPUT,
                      "host_diff": _diff(before, after)}
        except BaseException as exc:  # report, never raise in the child
            report = {"crash": type(exc).__name__}  # not str(exc): that can raise too
        try:
            data = json.dumps(report).encode()
            view = memoryview(data)
            while view:
                written = os.write(write_fd, view)
                view = view[written:]
        finally:
            os._exit(0)  # never fall back into the test runner's stack
    os.close(write_fd)
    chunks = []
    deadline = start + HANG_GUARD_S
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_fd)
            return Containment(None, None, None, "", HANG_GUARD_S, None, False, False, "",
                               note="payload hung: child killed by the hang guard")
        ready, _, _ = select.select([read_fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(read_fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        return Containment(None, None, None, "", time.perf_counter() - start, None, False, False,
                           "", note=f"child died without reporting (wait status {status})")
    report = json.loads(b"".join(chunks))
    if "crash" in report:
        return Containment(None, None, None, "", time.perf_counter() - start, None, False, False,
                           "", note=f"harness crash: {report['crash']}")
    return Containment(report["ok"], report["error_kind"], report["error"], report["output"],
                       report["wall_s"], report["rss_growth_mb"], report["next_call_ok"],
                       not report["host_diff"], report["host_diff"])


def run_process(sandbox: Sandbox, source: str, kwargs: dict | None) -> Containment:
    """Run a payload in a process-isolated sandbox's worker."""
    warm = sandbox.run(NORMAL_TOOL, "tool", {"x": 1})  # make sure a worker is up
    assert warm.ok, warm
    pool = sandbox.pool
    assert pool.size == 1, "run_process measures the one worker of a private pool"
    pid = pool.workers[0].pid
    before = host_snapshot()
    _reset_peak(pid)
    base = _status_kb("VmRSS", pid) or 0
    parent_base = _status_kb("VmRSS") or 0
    t0 = time.perf_counter()
    result = sandbox.run(source, "tool", kwargs)
    wall = time.perf_counter() - t0
    alive = any(worker.pid == pid for worker in pool.workers)
    alive_peak = _status_kb("VmHWM", pid) if alive else None
    growth = None if alive_peak is None else (alive_peak - base) / 1024
    parent_growth = ((_status_kb("VmRSS") or 0) - parent_base) / 1024
    following = sandbox.run(NORMAL_TOOL, "tool", {"x": 2})
    after = host_snapshot()
    diff = _diff(before, after)
    return Containment(result.ok, result.error_kind, result.error, result.output[:2000], wall,
                       growth if growth is None else max(growth, parent_growth),
                       following.ok and following.output == NORMAL_OUTPUT, not diff, diff)
