"""Sandbox call cost against the alternatives, measured in one run.

For a 5-line lookup tool and a ~40-line flight-search tool, the median time of
one call:

* plain Python: the function called directly (the floor);
* plain Python + render: the same plus turning the dict into JSON text, which
  the sandbox always does (the like-for-like baseline);
* sandboxed execution: the policy-compiled function under a fresh budget,
  without rendering (the guard overhead alone);
* in-process sandbox: ``SandboxSession.call`` (compile cached, rendered);
* process sandbox: the same through the isolated worker (pipe round trip);
* subprocess per call: a fresh ``python -c`` running the tool, as several peer
  libraries execute tool code.

Also compile time of each tool, cold and cached.

Usage:
    python benchmarks/bench_sandbox.py [--quick] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tools import ITINERARY_CALL, ITINERARY_TOOL, LOOKUP_CALL, LOOKUP_TOOL

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.policy import clear_cache, compile_tool

_ENCODER = json.JSONEncoder(ensure_ascii=False)


def median_us(func, number: int, repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean per-call time of ``number`` calls."""
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def bench_tool(label: str, source: str, func_name: str, kwargs: dict, quick: bool) -> dict:
    n, repeat = (2_000, 5) if quick else (20_000, 9)
    namespace: dict = {}
    exec(source, namespace)
    plain_fn = namespace[func_name]

    clear_cache()
    t0 = time.perf_counter()
    compile_tool(source)
    compile_cold_us = (time.perf_counter() - t0) * 1e6
    compile_cached_us = median_us(lambda: compile_tool(source), n, repeat)

    plain = median_us(lambda: plain_fn(**kwargs), n, repeat)
    plain_render = median_us(lambda: _ENCODER.encode(plain_fn(**kwargs)), n, repeat)

    session = Sandbox(isolation="inprocess").session()
    assert session.call(source, func_name, kwargs).ok
    inproc = median_us(lambda: session.call(source, func_name, kwargs), n, repeat)
    local = session._local
    sandboxed_fn = local._namespace(source)[func_name]
    execution = median_us(lambda: local._run(sandboxed_fn, (), kwargs), n, repeat)

    with Sandbox(isolation="process") as sandbox:
        psession = sandbox.session()
        assert psession.call(source, func_name, kwargs).ok
        pn = max(n // 20, 200)
        process = median_us(lambda: psession.call(source, func_name, kwargs), pn, repeat)

    script = (source + "\nimport json, sys\n"
              f"print(json.dumps({func_name}(**json.loads(sys.argv[1])), ensure_ascii=False))\n")
    args = [sys.executable, "-c", script, json.dumps(kwargs)]
    runs = []
    for _ in range(5 if quick else 15):
        t0 = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        runs.append(time.perf_counter() - t0)
    subproc = statistics.median(runs) * 1e6

    return {
        "tool": label, "lines": source.strip().count("\n") + 1,
        "plain_us": plain, "plain_render_us": plain_render, "execution_us": execution,
        "inprocess_us": inproc,
        "process_us": process, "subprocess_us": subproc,
        "compile_cold_us": compile_cold_us, "compile_cached_us": compile_cached_us,
        "execution_vs_plain": execution / plain,
        "inprocess_vs_plain": inproc / plain,
        "inprocess_vs_plain_render": inproc / plain_render,
        "subprocess_vs_inprocess": subproc / inproc,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    rows = [bench_tool("lookup (5 lines)", LOOKUP_TOOL, *LOOKUP_CALL, quick=args.quick),
            bench_tool("flight search (~40 lines)", ITINERARY_TOOL, *ITINERARY_CALL,
                       quick=args.quick)]
    print(f"machine: {machine()}\n")
    print("| tool | plain | plain + render | sandboxed execution | in-process sandbox "
          "| process sandbox | subprocess per call | compile cold | compile cached |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tool']} | {r['plain_us']:.2f} µs | {r['plain_render_us']:.2f} µs "
              f"| {r['execution_us']:.2f} µs "
              f"| {r['inprocess_us']:.2f} µs | {r['process_us']:.1f} µs "
              f"| {r['subprocess_us'] / 1000:.1f} ms | {r['compile_cold_us'] / 1000:.2f} ms "
              f"| {r['compile_cached_us']:.2f} µs |")
    print("\n| tool | execution / plain | in-process / plain | in-process / (plain + render) "
          "| subprocess / in-process |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['tool']} | {r['execution_vs_plain']:.2f}x | {r['inprocess_vs_plain']:.2f}x "
              f"| {r['inprocess_vs_plain_render']:.2f}x | {r['subprocess_vs_inprocess']:,.0f}x |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
