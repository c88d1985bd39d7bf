"""Validating the demo pack end to end, with default settings, on 1 and 2 jobs.

What ``astra-gym validate astra/demo-v0`` does: every check on every task,
including the digest process for cross-process determinism and hypothesis
fuzzing at the default 25 examples per tool. Rounds alternate job counts.

Usage:
    python benchmarks/bench_validate.py [--rounds 3] [--jobs 1 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

from astra_gym.validation import validate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    wall: dict[int, list[float]] = {jobs: [] for jobs in args.jobs}
    per_check: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):
        for jobs in args.jobs:
            start = time.perf_counter()
            report = validate("astra/demo-v0", jobs=jobs, progress=False)
            wall[jobs].append(time.perf_counter() - start)
            assert report.ok, report.format_table()
            if jobs == 1:
                totals: dict[str, float] = defaultdict(float)
                for result in report.results:
                    totals[result.check] += result.seconds
                for name, seconds in totals.items():
                    per_check[name].append(seconds)
    print(f"machine: {machine()}")
    tasks = len({r.task_id for r in report.results})
    print(f"astra/demo-v0: {tasks} tasks x {len(report.checks)} checks, {args.rounds} rounds")
    base = statistics.median(wall[args.jobs[0]])
    for jobs in args.jobs:
        median = statistics.median(wall[jobs])
        print(f"jobs={jobs}: median {median:.2f} s (x{base / median:.2f} vs jobs={args.jobs[0]};"
              f" min {min(wall[jobs]):.2f}, max {max(wall[jobs]):.2f})")
    if per_check:
        print("time per check over all tasks (jobs=1, median):")
        for name, values in per_check.items():
            print(f"  {name:<17} {statistics.median(values):6.2f} s")


if __name__ == "__main__":
    main()
