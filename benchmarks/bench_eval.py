"""``astra-gym eval`` throughput against an endpoint of fixed latency, and its overhead.

The scripted OpenAI-compatible server (``tests/llm_server.py``) runs in its
own process and answers every chat request after a fixed delay (the model's
latency, ``--latency``) with the demo pack's gold calls, hop by hop, then the
gold answer (``tests/eval/eval_support.oracle_script``). Episodes run through
the whole stack: ``evaluate`` -> ``openai.AsyncOpenAI`` -> HTTP -> the env
(default sandbox: the confined worker pool) -> ``episodes.jsonl``.

For each concurrency (1, 16, 64 by default) it reports:

* ``episodes/s``: finished episodes over the run's wall time (median of rounds);
* ``ideal``: what zero overhead would give: the run's own episodes, in the
  run's order, each taking exactly ``turns x latency``, handed to
  ``concurrency`` slots as they free up (the same schedule as the runner's,
  simulated without any cost but the model's);
* ``overhead``: wall time over the ideal, minus one;
* ``request``: the client-side seconds of a request, median, minus the latency
  (HTTP, the SDK, the event loop);
* ``env step``: the median seconds of an env step in the env thread.

With ``--ray-address local`` (or a cluster's address) the envs run in Ray
actors (``astra-gym eval --ray-address``) and each concurrency is measured
both ways in the same run: in-process first, then over Ray.

Usage:
    python benchmarks/bench_eval.py [--latency 0.2] [--rounds 3] [--concurrency 1 16 64]
                                    [--ray-address local]
"""

from __future__ import annotations

import argparse
import heapq
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "eval")]


def serve(latency: float, ready: Any, stop: Any) -> None:
    """The server process: answer like the oracle after ``latency`` seconds."""
    from eval_support import oracle_script
    from llm_server import ScriptedLLMServer

    with ScriptedLLMServer(oracle_script(delay=latency), model="bench") as server:
        ready.put(server.base_url)
        stop.wait()


def episodes_for(concurrency: int) -> tuple[int, int]:
    """(tasks, rollouts) for a run: long enough that the tail is a small part of it."""
    if concurrency == 1:
        return 12, 1
    if concurrency <= 16:
        return 66, 2
    return 66, 5


def ideal_makespan(durations: list[float], slots: int) -> float:
    """When the last episode ends if each takes exactly its duration, ``slots`` at a time."""
    free = [0.0] * slots
    heapq.heapify(free)
    end = 0.0
    for duration in durations:
        start = heapq.heappop(free)
        end = max(end, start + duration)
        heapq.heappush(free, start + duration)
    return end


def one_run(base_url: str, concurrency: int, latency: float,
            ray_address: str | None = None) -> dict[str, float]:
    from astra_gym.eval import EvalConfig, evaluate, load_episodes, plan_episodes
    from astra_gym.pack import Pack, demo_pack_path

    tasks, rollouts = episodes_for(concurrency)
    with tempfile.TemporaryDirectory() as out:
        config = EvalConfig("astra/demo-v0", "bench", base_url=base_url,
                            concurrency=concurrency, rollouts=rollouts, limit=tasks,
                            timeout=60.0, ray_address=ray_address)
        start = time.perf_counter()
        outcome = evaluate(config, out, progress=False)
        wall = time.perf_counter() - start
        assert outcome.complete, outcome.aborted
        episodes = load_episodes(out)
    turns = [e["turns"] for e in episodes]
    by_key = {(e["task_id"], e["rollout"]): e["turns"] for e in episodes}
    plan = [by_key[(item.task_id, item.rollout)]
            for item in plan_episodes(list(Pack(demo_pack_path()).task_ids)[:tasks],
                                      EvalConfig("astra/demo-v0", "x", rollouts=rollouts))]
    ideal = ideal_makespan([n * latency for n in plan], concurrency)
    requests = [s["latency_s"] for e in episodes for s in e["steps"]]
    env_steps = [s["env_s"] for e in episodes for s in e["steps"]]
    return {"episodes": len(episodes), "turns": statistics.fmean(turns), "wall": wall,
            "eps": len(episodes) / wall, "ideal_eps": len(episodes) / ideal,
            "overhead": wall / ideal - 1, "request_extra": statistics.median(requests) - latency,
            "env_step": statistics.median(env_steps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--ray-address", help="also run the envs in Ray actors (local, auto "
                        "or an address), same run")
    args = parser.parse_args()
    transports: list[str | None] = [None]
    if args.ray_address:
        import os

        import ray

        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address=None if args.ray_address == "local" else args.ray_address,
                 include_dashboard=False, log_to_driver=False)
        transports.append(args.ray_address)

    context = multiprocessing.get_context("spawn")
    ready, stop = context.Queue(), context.Event()
    server = context.Process(target=serve, args=(args.latency, ready, stop), daemon=True)
    server.start()
    base_url = ready.get(timeout=60)
    try:
        for transport in transports:  # warm up: imports, sandbox workers, tool compiles
            one_run(base_url, 4, args.latency, transport)
        rows = []
        for concurrency in args.concurrency:
            for transport in transports:
                runs = [one_run(base_url, concurrency, args.latency, transport)
                        for _ in range(args.rounds)]

                def median(key: str, runs: list[dict[str, float]] = runs) -> float:
                    return statistics.median(run[key] for run in runs)

                where = "in-process" if transport is None else "Ray actors"
                rows.append((concurrency, where, runs[0]["episodes"], median("turns"),
                             median("eps"), median("ideal_eps"), median("overhead"),
                             median("request_extra"), median("env_step"),
                             min(r["overhead"] for r in runs), max(r["overhead"] for r in runs)))
                print(f"concurrency {concurrency} ({where}): {median('eps'):.2f} episodes/s",
                      flush=True)
    finally:
        stop.set()
        server.join(timeout=10)
    print(f"\nlatency {args.latency * 1000:.0f} ms per request, {args.rounds} rounds "
          "(median; overhead range min-max)\n")
    print("| concurrency | envs | episodes | turns/episode | episodes/s | ideal | overhead | "
          "request - latency | env step |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (concurrency, where, episodes, turns, eps, ideal, overhead, extra, env_step, low,
         high) in rows:
        print(f"| {concurrency} | {where} | {episodes} | {turns:.2f} | {eps:.2f} | {ideal:.2f} | "
              f"{overhead:+.1%} ({low:+.1%} to {high:+.1%}) | {extra * 1000:.1f} ms | "
              f"{env_step * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
