"""SFT rollouts against a slow endpoint: trajectories/s at concurrency 1, 16 and 64.

The endpoint is ``tests/llm_server.py``'s :class:`ScriptedLLMServer` (one thread
per connection) in its **own process**; every chat request sleeps a fixed
latency L there, then answers. Each trajectory is the real rollout path,
:func:`synth.sft.runner.run_sft` with ``stages=("rollout",)`` over N task rows
(emulated tools, the default native tool calling, failure injection off so
every trajectory has the same shape), through the part-2 local executor, an
:class:`~synth.llm.LLMClient` with a cache folder (one cache entry per request)
and the stage journal (one line per trajectory), then the views. A trajectory
is 3 sequential requests: the agent calls one tool, the emulator answers it,
the agent answers. Each run starts from an empty cache and run folder.

Per concurrency C (1, 16, 64; the client's concurrency and the trajectories in
flight are both C), with N = C x R trajectories (R = ``--rounds``):

* ``ideal wall`` = ceil(N / C) x 3 L: the endpoint's latency alone;
* ``traj/s`` = N / measured wall; ``ideal traj/s`` = C / (3 L);
* ``overhead`` = (measured wall - ideal wall) / ideal wall, in percent;
* ``cpu/traj`` = the process CPU time over the run, per trajectory.

Usage:
    python benchmarks/bench_sft_rollout.py [--latency-ms 200] [--rounds 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CONCURRENCY = (1, 16, 64)
TOOL = {"type": "function", "function": {
    "name": "find_city", "description": "Find a city by name and return its id",
    "parameters": {"type": "object", "properties": {"city_name": {"type": "string"}},
                   "required": ["city_name"]}}}


class _Discard(list):
    def append(self, item: Any) -> None:
        pass


def serve(latency_ms: float) -> int:
    """Run the scripted endpoint until stdin closes; print its base URL first."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from llm_server import ScriptedLLMServer

    delay = latency_ms / 1000

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        if messages[0]["role"] == "system":  # the agent
            if messages[-1]["role"] == "tool":
                return {"content": "Porto has the id porto-1.", "delay": delay}
            return {"content": None, "delay": delay,
                    "tool_calls": [{"name": "find_city", "arguments": {"city_name": "Porto"}}]}
        return {"content": json.dumps({"result": {"city_id": "porto-1"}}), "delay": delay}

    with ScriptedLLMServer(answer) as server:
        server.requests = _Discard()
        print(server.base_url, flush=True)
        sys.stdin.read()
    return 0


def start_server(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, str(Path(__file__).resolve()),
                                f"--serve={latency_ms}"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, cwd=str(HERE.parent))
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _tasks(path: Path, count: int) -> None:
    server = {"name": "weather", "title": None, "description": "Forecasts by city.",
              "domain": None, "version": None, "language": "en"}
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            handle.write(json.dumps({
                "task_id": f"tsk-{index:06d}", "mode": "server", "server_id": "srv-bench",
                "server": server, "tools": [TOOL], "call_info": None, "source": {},
                "extra": {}, "question": f"Which id does Porto have? (request {index})",
                "target_tools": ["find_city"], "language": "en", "provenance": []}) + "\n")


def one_run(base_url: str, concurrency: int, rounds: int, workdir: Path) -> dict[str, float]:
    """One rollout stage over N = concurrency x rounds fresh tasks; wall and CPU."""
    from synth.llm import LLMClient
    from synth.sft.runner import SftOptions, run_sft

    root = Path(tempfile.mkdtemp(prefix="run-", dir=workdir))
    try:
        count = concurrency * rounds
        _tasks(root / "07_score.ok.jsonl", count)
        client = LLMClient("bench", base_url=base_url, api_key="k", cache_dir=root / "cache",
                           concurrency=concurrency, timeout=120.0, max_retries=0)
        options = SftOptions(backend="emulated", injection_p=0.0,
                             rollout_concurrency=concurrency)

        async def main() -> tuple[float, float, Any]:
            async with client:
                wall0, cpu0 = time.perf_counter(), time.process_time()
                summary = await run_sft(root, client, stages=("rollout",), options=options,
                                        progress=False)
                return time.perf_counter() - wall0, time.process_time() - cpu0, summary

        wall, cpu, summary = asyncio.run(main())
        assert summary.stages["rollout"]["ok"] == count, summary.format()
        return {"wall": wall, "cpu": cpu, "count": count}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=4, help="trajectories per slot")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting (median)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        return serve(float(args.serve))
    sys.path.insert(0, str(HERE.parent))
    latency = args.latency_ms / 1000
    process, base_url = start_server(args.latency_ms)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sft-rollout-"))
    try:
        one_run(base_url, 4, 1, workdir)  # warm up imports, the SDK client, the server
        print(f"latency {args.latency_ms:g} ms per request, 3 requests per trajectory, "
              f"{args.rounds} trajectories per slot, median of {args.repeats}")
        print("| concurrency | trajectories | ideal wall | wall | traj/s | ideal traj/s | "
              "overhead | cpu/traj |")
        print("|---|---|---|---|---|---|---|---|")
        for concurrency in CONCURRENCY:
            runs = [one_run(base_url, concurrency, args.rounds, workdir)
                    for _ in range(args.repeats)]
            wall = statistics.median(run["wall"] for run in runs)
            cpu = statistics.median(run["cpu"] for run in runs)
            count = runs[0]["count"]
            ideal = math.ceil(count / concurrency) * 3 * latency
            print(f"| {concurrency} | {count} | {ideal:.2f} s | {wall:.2f} s | "
                  f"{count / wall:.1f} | {concurrency / (3 * latency):.1f} | "
                  f"{(wall - ideal) / ideal * 100:+.1f}% | {cpu / count * 1000:.1f} ms |",
                  flush=True)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
