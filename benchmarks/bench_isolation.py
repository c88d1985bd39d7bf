"""What process isolation costs, against in-process, in one run.

Figures (medians; every ratio is against a baseline measured in the same run):

* **step cost**: one ``env.step`` with one demo tool call, in-process vs. the
  shared, confined worker pool (the default), vs. an unconfined pool; the tool
  called as plain Python; and a bare pipe round trip between two processes
  with a message of the same shape, the floor of any process isolation on this
  machine (its scheduler wake-up latency dominates, and varies from run to run);
* **oracle episodes**: whole episodes (reset, every gold call, the final
  answer) per second, in-process vs. process;
* **pool throughput on this machine**: calls per second with 1, 2, 4 and 8
  threads each driving its own session, through a pool of 1 worker and of
  ``cpu_count`` workers;
* **worker start**: start-to-first-result of a new worker, confined vs.
  unconfined, and the cost of rebuilding a session (replaying a 10-call log)
  after its worker was killed.

Usage:
    python benchmarks/bench_isolation.py [--quick] [--only-many-envs]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import threading
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sandbox import machine

import astra_gym  # noqa: F401
from astra_gym.agents.oracle import OracleAgent
from astra_gym.env import AstraEnv
from astra_gym.pack import Pack, demo_pack_path
from astra_gym.runner import run_episode
from astra_gym.sandbox import Sandbox, WorkerPool

TASK = "demo-weather-003"
STATEFUL = "S = {'n': 0}\ndef bump(x):\n    S['n'] += x\n    return {'n': S['n']}\n"


def median_us(func, number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def _message(gold) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]}


def pipe_round_trip(number: int, repeat: int) -> float:
    """A request/reply over two pipes to a forked echo process (the floor), in µs."""
    import select
    from multiprocessing.connection import Connection

    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the echo child
        inbox = Connection(to_child_r, writable=False)
        outbox = Connection(from_child_w, readable=False)
        while (message := inbox.recv()) is not None:
            outbox.send(("result", message))
        os._exit(0)
    outbox = Connection(to_child_w, readable=False)
    inbox = Connection(from_child_r, writable=False)
    poller = select.poll()
    poller.register(from_child_r, select.POLLIN)
    message = ("call", 1, None, "k" * 64, None, "get_alert_details",
               {"alert_id": "BUF-WSW-2026-0031"}, ())

    def once() -> None:
        outbox.send(message)
        poller.poll(1000)
        inbox.recv()

    figure = median_us(once, number, repeat)
    outbox.send(None)
    os.waitpid(pid, 0)
    return figure


def step_costs(number: int, repeat: int) -> dict[str, float]:
    envs = {
        "inprocess": AstraEnv(demo_pack_path(), max_turns=10**9,
                              sandbox={"isolation": "inprocess"}),
        "process (confined, default)": AstraEnv(demo_pack_path(), max_turns=10**9),
        "process (unconfined)": AstraEnv(demo_pack_path(), max_turns=10**9, sandbox=Sandbox(
            isolation="process", pool=WorkerPool(1, confine=False))),
    }
    figures: dict[str, float] = {}
    for name, env in envs.items():
        env.reset(seed=0, options={"task_id": TASK})
        gold = env.task.subtasks[0].gold_call
        action = _message(gold)
        env.step(action)  # compile and warm
        figures[f"env.step, {name}"] = median_us(lambda env=env, a=action: env.step(a),
                                                 number, repeat)
    tool = envs["inprocess"].task.tool(gold.name)
    namespace: dict = {}
    exec(compile(tool.source, "<tool>", "exec"), namespace)  # trusted demo code: the floor
    plain = namespace[tool.function]
    figures["plain Python tool call"] = median_us(lambda: plain(**gold.arguments), number,
                                                  repeat)
    figures["bare pipe round trip (the floor of process isolation)"] = pipe_round_trip(
        number, repeat)
    for env in envs.values():
        env.close()
    return figures


def oracle_episodes(episodes: int) -> dict[str, float]:
    pack = Pack(demo_pack_path())
    task_ids = list(pack.task_ids)
    figures = {}
    for name, sandbox in (("inprocess", {"isolation": "inprocess"}),
                          ("process (default)", None)):
        env = AstraEnv(pack, sandbox=sandbox)
        agent = OracleAgent(pack)
        for task_id in task_ids:  # warm: compile every tool once
            run_episode(env, agent, task_id=task_id)
        started = time.perf_counter()
        for i in range(episodes):
            run_episode(env, agent, task_id=task_ids[i % len(task_ids)])
        figures[f"oracle episodes/s, {name}"] = episodes / (time.perf_counter() - started)
        env.close()
    return figures


def throughput(calls_per_thread: int) -> dict[str, float]:
    cores = os.cpu_count() or 1
    figures = {}
    for size in sorted({1, cores}):
        with WorkerPool(size) as pool:
            sandbox = Sandbox(isolation="process", pool=pool)
            for threads in (1, 2, 4, 8):
                sessions = [sandbox.session(seed=i) for i in range(threads)]
                for session in sessions:
                    session.call(STATEFUL, "bump", {"x": 1})

                def drive(session) -> None:
                    for _ in range(calls_per_thread):
                        session.call(STATEFUL, "bump", {"x": 1})

                workers = [threading.Thread(target=drive, args=(s,)) for s in sessions]
                started = time.perf_counter()
                for worker in workers:
                    worker.start()
                for worker in workers:
                    worker.join()
                elapsed = time.perf_counter() - started
                figures[f"calls/s, pool of {size}, {threads} thread(s)"] = \
                    threads * calls_per_thread / elapsed
                for session in sessions:
                    session.close()
    return figures


def worker_start(repeat: int) -> dict[str, float]:
    figures = {}
    for confine in (False, True):
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            with WorkerPool(1, confine=confine) as pool:
                Sandbox(isolation="process", pool=pool).run(STATEFUL, "bump", {"x": 1})
                times.append(time.perf_counter() - started)
        figures[f"new worker to first result, {'confined' if confine else 'unconfined'} (ms)"] = \
            statistics.median(times) * 1e3
    rebuilds = []
    with WorkerPool(1) as pool:
        session = Sandbox(isolation="process", pool=pool).session(seed=1)
        for _ in range(repeat):
            session.reset()
            for _ in range(10):
                session.call(STATEFUL, "bump", {"x": 1})
            os.kill(pool.workers[0].pid, signal.SIGKILL)
            started = time.perf_counter()
            session.call(STATEFUL, "bump", {"x": 1})
            rebuilds.append(time.perf_counter() - started)
    figures["kill, restart and replay a 10-call session, then call (ms)"] = \
        statistics.median(rebuilds) * 1e3
    return figures


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def many_envs(count: int) -> dict[str, float]:
    """``count`` envs in process mode on the default pool: workers, memory, per-call cost.

    The per-call overhead is taken against two in-process baselines from the same
    rounds: ``count`` in-process envs stepped in the same round-robin order (the
    like-for-like one: the parent walks as many envs, observations and transcripts
    either way), and one in-process env stepped ``count`` times (warm caches; the
    figure reported before the like-for-like baseline existed).
    """
    envs = [AstraEnv(demo_pack_path(), max_turns=10**9) for _ in range(count)]
    locals_ = [AstraEnv(demo_pack_path(), max_turns=10**9, sandbox={"isolation": "inprocess"})
               for _ in range(count)]
    local = locals_[0]
    pids = set()
    start = time.perf_counter()
    for index, env in enumerate(envs):
        env.reset(seed=index, options={"task_id": TASK})
    resets = (time.perf_counter() - start) / count * 1e6
    for index, env in enumerate(locals_):
        env.reset(seed=index, options={"task_id": TASK})
    action = _message(envs[0].task.subtasks[0].gold_call)
    for env in envs:
        env.step(action)  # each env's first call: its session opens in its worker
        pids.add(env._session.worker_pid)
    for env in locals_:
        env.step(action)
    rounds, local_rounds, one_rounds = [], [], []

    def round_robin(group: list[AstraEnv]) -> float:
        start = time.perf_counter()
        for env in group:
            env.step(action)
        return (time.perf_counter() - start) / count * 1e6

    for _ in range(7):
        rounds.append(round_robin(envs))
        local_rounds.append(round_robin(locals_))
        start = time.perf_counter()
        for _ in range(count):
            local.step(action)
        one_rounds.append((time.perf_counter() - start) / count * 1e6)
    figures = {
        "envs": float(count), "workers": float(len(pids)),
        "worker RSS, all workers (MB)": sum(_rss_mb(pid) for pid in pids if pid),
        "reset per env (µs)": resets,
        "env.step over 1,000 envs, process (µs)": statistics.median(rounds),
        "env.step over 1,000 envs, in-process (µs)": statistics.median(local_rounds),
        "env.step, one in-process env (µs)": statistics.median(one_rounds),
    }
    figures["per-call overhead of process isolation, vs 1,000 in-process envs (µs)"] = (
        figures["env.step over 1,000 envs, process (µs)"]
        - figures["env.step over 1,000 envs, in-process (µs)"])
    figures["per-call overhead of process isolation, vs one in-process env (µs)"] = (
        figures["env.step over 1,000 envs, process (µs)"]
        - figures["env.step, one in-process env (µs)"])
    for env in [*envs, *locals_]:
        env.close()
    return figures


def _print_many_envs() -> None:
    scale = many_envs(1000)
    print(f"\n| 1,000 envs in process mode (cpu_count = {os.cpu_count()}) | value |\n|---|---:|")
    for name, value in scale.items():
        print(f"| {name} | {value:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only-many-envs", action="store_true",
                        help="run only the 1,000-env process-mode figures")
    args = parser.parse_args()
    number, repeat = (200, 5) if args.quick else (1000, 7)
    print(f"machine: {machine()}")
    if args.only_many_envs:
        _print_many_envs()
        return
    figures = step_costs(number, repeat)
    base = figures["env.step, inprocess"]
    print("\n| step (one demo tool call) | median µs | vs in-process |\n|---|---:|---:|")
    for name, value in figures.items():
        print(f"| {name} | {value:.1f} | {value / base:.2f}x |")
    episodes = oracle_episodes(66 if args.quick else 264)
    base = episodes["oracle episodes/s, inprocess"]
    print("\n| whole episodes | per second | vs in-process |\n|---|---:|---:|")
    for name, value in episodes.items():
        print(f"| {name} | {value:.0f} | {value / base:.2f}x |")
    rates = throughput(300 if args.quick else 1500)
    base = rates["calls/s, pool of 1, 1 thread(s)"]
    print("\n| pool throughput | calls/s | vs 1 worker, 1 thread |\n|---|---:|---:|")
    for name, value in rates.items():
        print(f"| {name} | {value:.0f} | {value / base:.2f}x |")
    _print_many_envs()
    starts = worker_start(5 if args.quick else 15)
    base = starts["new worker to first result, unconfined (ms)"]
    print("\n| worker start | ms | vs unconfined start |\n|---|---:|---:|")
    for name, value in starts.items():
        print(f"| {name} | {value:.0f} | {value / base:.2f}x |")


if __name__ == "__main__":
    main()
