"""What OS-level confinement costs at sandbox worker start-up, measured in one run.

A worker starts a fresh interpreter, imports the sandbox and reports ready;
with confinement it also calls ``confine_current_process`` before reporting.
The start times are interleaved (one plain, one confined, ...) so that machine
noise falls on both alike. Also the confine call alone, timed inside the child,
and each layer on its own (the seccomp layer includes importing pyseccomp,
whose ``find_library`` runs ``ldconfig``).

Usage:
    python benchmarks/bench_confine.py [--reps 15] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from astra_gym.sandbox.confine import worker_environment

CHILD = r"""
import json, sys, time
import astra_gym.sandbox  # what the worker imports before it serves
from astra_gym.sandbox.confine import ConfinementOptions, confine_current_process
options = json.loads(sys.argv[1])
took, layers = 0.0, {}
if options is not None:
    start = time.perf_counter()
    layers = confine_current_process(ConfinementOptions(**options))
    took = time.perf_counter() - start
print(json.dumps({"confine_s": took, "layers": {k: str(v) for k, v in layers.items()}}),
      flush=True)
sys.stdin.read()  # stay up until the parent has its number, as a worker would
"""

LAYER_FLAGS = {"network_namespace": "network_namespace", "rlimits": "rlimits",
               "no_new_privs": "no_new_privs", "capabilities": "drop_capabilities",
               "landlock": "landlock", "seccomp": "seccomp"}


def start_once(options: dict[str, Any] | None, cwd: str) -> tuple[float, dict[str, Any]]:
    """Seconds from spawn to the child's ready line, and what the child reported."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(options)], cwd=cwd,
                            env=worker_environment(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.stdin.close()
    proc.wait(timeout=30)
    if not line:
        raise RuntimeError(f"child exited with {proc.returncode} before it was ready")
    return elapsed, json.loads(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="astra-confine-bench-") as cwd:
        start_once(None, cwd)  # warm the page cache and .pyc files
        plain, confined, call = [], [], []
        layers: dict[str, str] = {}
        for _ in range(args.reps):
            plain.append(start_once(None, cwd)[0])
            elapsed, report = start_once({}, cwd)
            confined.append(elapsed)
            call.append(report["confine_s"])
            layers = report["layers"]
        per_layer = {}
        off = {flag: False for flag in LAYER_FLAGS.values()}
        for layer, flag in LAYER_FLAGS.items():
            runs = [start_once({**off, flag: True}, cwd)[1] for _ in range(max(3, args.reps // 2))]
            per_layer[layer] = statistics.median(r["confine_s"] for r in runs)

    ms = 1000.0
    figures = {
        "python": platform.python_version(), "machine": platform.platform(), "reps": args.reps,
        "start_plain_ms": statistics.median(plain) * ms,
        "start_confined_ms": statistics.median(confined) * ms,
        "confine_call_ms": statistics.median(call) * ms,
        "per_layer_ms": {k: v * ms for k, v in per_layer.items()},
        "layers": layers,
    }
    figures["ratio"] = figures["start_confined_ms"] / figures["start_plain_ms"]

    print(f"Worker start with and without confinement ({args.reps} starts each, medians; "
          f"Python {figures['python']}, {figures['machine']})\n")
    print("| measurement | median |")
    print("| --- | ---: |")
    print(f"| start to ready, no confinement | {figures['start_plain_ms']:.1f} ms |")
    print(f"| start to ready, confined | {figures['start_confined_ms']:.1f} ms |")
    print(f"| ratio confined / plain | {figures['ratio']:.2f}x |")
    print(f"| `confine_current_process` call alone | {figures['confine_call_ms']:.1f} ms |")
    for layer, value in figures["per_layer_ms"].items():
        print(f"| ... {layer} alone | {value:.2f} ms |")
    print("\nLayers: " + "; ".join(f"{k} {v}" for k, v in layers.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
