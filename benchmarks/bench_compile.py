"""Compile throughput: rows per second on the demo source, with 1 and 2 jobs.

Each round compiles every ``generated_envs/demo/source/*.jsonl`` row into a
fresh directory with ``compile_files`` (reading, static checks, sandbox
compile, process-isolated replay of every gold call, writing the pack), so
the figure includes pool and sandbox-worker start-up, as a user's run does.
Rounds alternate between job counts so machine noise hits both alike.
``--copies K`` compiles K copies of the source (uuids suffixed), to show how
the pool's start-up cost amortises on larger inputs.

Usage:
    python benchmarks/bench_compile.py [--rounds 5] [--jobs 1 2] [--copies 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

from synth.compiler import compile_files

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "generated_envs" / "demo" / "source"


def copies(inputs: list[Path], count: int, out: Path) -> Path:
    """Write ``count`` copies of every row, each with a distinct uuid."""
    lines = []
    for copy in range(count):
        for path in inputs:
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                row["uuid"] = f"{row['uuid']}-copy{copy}"
                lines.append(json.dumps(row, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--baseline", help="another checkout (a git worktree of an older "
                        "commit) to measure first, in the same run, for ratios")
    args = parser.parse_args()
    baseline = _baseline_figures(args) if args.baseline else None
    inputs = sorted(SOURCE.glob("*.jsonl"))
    times: dict[int, list[float]] = {jobs: [] for jobs in args.jobs}
    rows = calls = 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.copies > 1:
            inputs = [copies(inputs, args.copies, Path(tmp) / "copies.jsonl")]
        for round_ in range(args.rounds):
            for jobs in args.jobs:
                start = time.perf_counter()
                result = compile_files(inputs, "demo", Path(tmp) / f"r{round_}j{jobs}",
                                       jobs=jobs, progress=False)
                times[jobs].append(time.perf_counter() - start)
                rows = len(result.outcomes)
                calls = result.manifest["validation"]["gold_calls_replayed"]
    print(f"machine: {machine()}")
    print(f"demo source: {rows} rows, {calls} gold calls replayed, {args.rounds} rounds")
    figures = {"machine": machine(), "rows": rows, "gold_calls": calls, "jobs": {}}
    base = statistics.median(times[args.jobs[0]])
    for jobs in args.jobs:
        median = statistics.median(times[jobs])
        figures["jobs"][jobs] = {"median_s": median, "rows_per_s": rows / median,
                                 "speedup": base / median, "all_s": times[jobs]}
        print(f"jobs={jobs}: median {median:.3f} s  {rows / median:7.1f} rows/s  "
              f"x{base / median:.2f} vs jobs={args.jobs[0]}  "
              f"(min {min(times[jobs]):.3f}, max {max(times[jobs]):.3f})")
    if baseline is not None:
        figures["baseline"] = baseline
        for jobs in args.jobs:
            old = baseline["jobs"][str(jobs)]["rows_per_s"]
            now = figures["jobs"][jobs]["rows_per_s"]
            print(f"jobs={jobs}: baseline {old:7.1f} rows/s, now {now:7.1f} rows/s: "
                  f"x{now / old:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


def _baseline_figures(args: argparse.Namespace) -> dict:
    """Run this script against ``args.baseline`` in a subprocess and read its figures."""
    import os
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "baseline.json"
        child = [sys.executable, str(Path(__file__).resolve()), "--rounds", str(args.rounds),
                 "--copies", str(args.copies), "--json", str(out),
                 "--jobs", *map(str, args.jobs)]
        env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
        subprocess.run(child, env=env, cwd=args.baseline, check=True,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


if __name__ == "__main__":
    main()
