"""Wall time to contain each hostile payload of the abuse corpus, per isolation mode.

The abuse tests assert containment without timing thresholds (CI machines are
shared); this benchmark measures how long containment takes: median, 95th
percentile and maximum wall time of the payload call, and the slowest payloads.

Usage:
    python benchmarks/bench_abuse.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "sandbox"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_sandbox import machine  # noqa: E402
from containment import run_inprocess, run_process  # noqa: E402
from corpus_abuse import ABUSE_CASES  # noqa: E402

from astra_gym.sandbox import Limits, Sandbox  # noqa: E402


def summarise(label: str, timings: list[tuple[float, str]]) -> None:
    walls = sorted(t for t, _ in timings)
    p95 = walls[int(0.95 * (len(walls) - 1))]
    over = sum(1 for t in walls if t >= 1.0)
    print(f"| {label} | {len(walls)} | {statistics.median(walls) * 1000:.2f} ms "
          f"| {p95 * 1000:.1f} ms | {walls[-1] * 1000:.0f} ms | {over} |")


def main() -> None:
    inproc, proc = [], []
    for case in ABUSE_CASES:
        if not case.process_only:
            outcome = run_inprocess(case.source, case.kwargs)
            inproc.append((outcome.wall_s, case.name))
    with Sandbox(isolation="process", pool=1) as sandbox:
        for case in ABUSE_CASES:
            outcome = run_process(sandbox, case.source, case.kwargs)
            proc.append((outcome.wall_s, case.name))
    print(f"machine: {machine()}; process-mode watchdog: {Limits().timeout} s\n")
    print("| mode | payloads | median | p95 | max | >= 1 s |")
    print("|---|---|---|---|---|---|")
    summarise("in-process", inproc)
    summarise("process", proc)
    for label, timings in (("in-process", inproc), ("process", proc)):
        slow = ", ".join(f"{name} {t * 1000:.0f} ms" for t, name in sorted(timings)[-5:][::-1])
        print(f"\nslowest {label}: {slow}")


if __name__ == "__main__":
    main()
