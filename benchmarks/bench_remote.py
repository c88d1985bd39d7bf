"""Per-step latency of an astra env in-process, in a Ray actor, and over OpenEnv, in one run.

The same episode start and gold step, repeated: ``reset(task_id=demo-weather-001)``
then its gold call (one tool call in the sandbox), with the env's default sandbox
(the confined worker pool) in every case:

* ``in-process``: ``gym.make("astra/demo-v0")`` in this process;
* ``Ray actor``: :class:`~astra_gym.integrations.ray_vector.RayVectorEnv` with one
  sub-env on a local Ray (``ray.get`` of the actor's ``step``);
* ``OpenEnv``: ``astra-gym serve`` in a subprocess and
  :class:`~astra_gym.integrations.openenv.AstraEnvClient` (a WebSocket session on
  loopback).

Reports the median and p90 of ``step`` and of ``reset`` over ``--rounds`` repetitions,
and each transport's extra latency over in-process.

Usage:
    python benchmarks/bench_remote.py [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
TASK = "demo-weather-001"


def gold_action() -> dict:
    from astra_gym.pack import Pack, demo_pack_path

    task = Pack(demo_pack_path()).task(TASK)
    call = task.subtasks[0].gold_call
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]}


def measure(reset: Callable[[], object], step: Callable[[], float], rounds: int
            ) -> dict[str, list[float]]:
    resets, steps = [], []
    for _ in range(10):  # warm up: worker start, tool compile
        reset()
        step()
    for _ in range(rounds):
        start = time.perf_counter()
        reset()
        middle = time.perf_counter()
        reward = step()
        end = time.perf_counter()
        assert reward == 1.0
        resets.append(middle - start)
        steps.append(end - middle)
    return {"reset": resets, "step": steps}


def in_process(rounds: int) -> dict[str, list[float]]:
    import gymnasium as gym

    import astra_gym  # noqa: F401 - registers astra/demo-v0

    env = gym.make("astra/demo-v0")
    action = gold_action()
    try:
        return measure(lambda: env.reset(seed=0, options={"task_id": TASK}),
                       lambda: env.step(action)[1], rounds)
    finally:
        env.close()


def over_ray(rounds: int) -> dict[str, list[float]]:
    import ray

    from astra_gym.integrations.ray_vector import RayVectorEnv

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    envs = RayVectorEnv("astra/demo-v0", 1)
    action = gold_action()
    try:
        return measure(lambda: envs.reset(seed=0, options={"task_id": TASK}),
                       lambda: float(envs.step([action])[1][0]), rounds)
    finally:
        envs.close()
        ray.shutdown()


def over_openenv(rounds: int) -> dict[str, list[float]]:
    from astra_gym.integrations.openenv import AstraAction, AstraEnvClient

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "astra_gym.cli", "serve", "astra/demo-v0",
                               "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        message = gold_action()
        action = AstraAction(content=None, tool_calls=message["tool_calls"])
        with AstraEnvClient(base_url=url).sync() as client:
            return measure(lambda: client.reset(seed=0, task_id=TASK),
                           lambda: client.step(action).reward, rounds)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    results = {}
    for name, run in (("in-process", in_process), ("OpenEnv (WebSocket)", over_openenv),
                      ("Ray actor", over_ray)):
        results[name] = run(args.rounds)
        print(f"{name}: step {statistics.median(results[name]['step']) * 1e3:.2f} ms",
              flush=True)

    def p(values: list[float], q: float) -> float:
        return sorted(values)[int(q * (len(values) - 1))] * 1e3

    base = statistics.median(results["in-process"]["step"]) * 1e3
    print(f"\n{args.rounds} rounds of reset + one gold step (demo-weather-001), default sandbox\n")
    print("| transport | step median | step p90 | reset median | reset p90 | step over "
          "in-process |")
    print("|---|---|---|---|---|---|")
    for name, data in results.items():
        step = statistics.median(data["step"]) * 1e3
        print(f"| {name} | {step:.2f} ms | {p(data['step'], 0.9):.2f} ms | "
              f"{statistics.median(data['reset']) * 1e3:.2f} ms | "
              f"{p(data['reset'], 0.9):.2f} ms | +{step - base:.2f} ms |")


if __name__ == "__main__":
    main()
