"""Whole episodes, as a trainer pays for them: oracle episodes, reset, first step, big packs.

Figures (in-process sandbox unless named), each a median over rounds:

* ``plain``: the demo pack's gold path in plain Python (each gold call's tool
  function run directly, fresh module per episode): the floor;
* ``episodes``: oracle episodes per second through ``AstraEnv`` (reset, every
  hop, the final answer), over every demo task;
* ``reset``: a warm ``reset()`` (task played before; no seed, as in a training
  loop after the first reset) and a seeded one;
* ``first_step`` / ``repeat_step``: the first gold call of an episode (the tool
  module loads into the new session) against the same call repeated;
* ``match``: answer matching per character on a 90 KB ASCII result that does
  not hold the answer (what every step pays while a sub-task is open);
* big pack (``--big N``, default 100,000 synthetic tasks cloned from the demo
  pack): first index (open) time, a cold reset (task never played) against a
  warm one, and RSS growth over 10,000 resets on fresh tasks.

``--baseline DIR`` runs the same script against another checkout (a git
worktree of an older commit) in a subprocess, in the same run, and prints
both with ratios.

Usage:
    python benchmarks/bench_episode.py [--quick] [--big N] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_episode_us(pack: Any, rounds: int) -> float:
    """The gold path of every demo task in plain Python, per episode.

    Tool modules are compiled once (the sandbox caches compiled code too) and
    executed afresh per episode (each episode gets its own mock state).
    """
    tasks = [pack.task(task_id) for task_id in pack.task_ids]
    code = {}
    plans = []
    for task in tasks:
        calls = [(task.tool(sub.gold_call.name), sub.gold_call.arguments)
                 for sub in task.subtasks if sub.gold_call is not None]
        for tool, _ in calls:
            code.setdefault(tool.source, compile(tool.source, "<tool>", "exec"))  # trusted demo
        plans.append(calls)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for calls in plans:
            modules: dict[str, dict] = {}
            for tool, arguments in calls:
                namespace = modules.get(tool.source)
                if namespace is None:
                    namespace = modules[tool.source] = {}
                    exec(code[tool.source], namespace)  # trusted demo tools
                json.dumps(namespace[tool.function](**arguments), default=str)
        samples.append((time.perf_counter() - start) / len(plans) * 1e6)
    return _median(samples)


def env_figures(rounds: int) -> dict[str, float]:
    import astra_gym  # noqa: F401
    from astra_gym.agents import OracleAgent
    from astra_gym.env import AstraEnv
    from astra_gym.pack import Pack, demo_pack_path
    from astra_gym.runner import run_episode

    pack = Pack(demo_pack_path())
    figures: dict[str, float] = {"plain_episode_us": plain_episode_us(pack, rounds)}
    env = AstraEnv(demo_pack_path(), sandbox={"isolation": "inprocess"}, max_turns=10**6)
    agent = OracleAgent(env.pack)
    ids = list(pack.task_ids)
    for task_id in ids:  # warm every task
        run_episode(env, agent, seed=0, task_id=task_id)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for task_id in ids:
            run_episode(env, agent, task_id=task_id)
        samples.append(len(ids) / (time.perf_counter() - start))
    figures["episodes_per_s"] = _median(samples)
    figures["episode_us"] = 1e6 / figures["episodes_per_s"]

    task_id = "demo-weather-003"
    options = {"task_id": task_id}
    for name, seed in (("reset_us", None), ("reset_seeded_us", 0)):
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(500):
                env.reset(seed=seed, options=options)
            samples.append((time.perf_counter() - start) / 500 * 1e6)
        figures[name] = _median(samples)

    gold = pack.task(task_id).subtasks[0].gold_call
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]}
    first, repeat = [], []
    for _ in range(rounds):
        for _ in range(300):
            env.reset(options=options)
            start = time.perf_counter()
            env.step(call)
            middle = time.perf_counter()
            env.step(call)
            end = time.perf_counter()
            first.append((middle - start) * 1e6)
            repeat.append((end - middle) * 1e6)
    figures["first_step_us"] = _median(first)
    figures["repeat_step_us"] = _median(repeat)
    env.close()

    from astra_gym.answers import contains_answer
    result = json.dumps({"records": [{"id": f"R-{i:06d}", "city": "Lisbon", "price": i * 1.5,
                                      "note": "standard room, breakfast included"}
                                     for i in range(1200)]})
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(20):
            contains_answer(result, "Hotel Luz at 87.50 EUR")
        samples.append((time.perf_counter() - start) / 20 / len(result) * 1e9)
    figures["match_ns_per_char"] = _median(samples)
    figures["match_result_kb"] = len(result) / 1024
    return figures


def _big_pack(path: Path, size: int) -> None:
    """A synthetic pack of ``size`` tasks cloned from the demo pack (new ids)."""
    import dataclasses

    from astra_gym.pack import Pack, demo_pack_path, write_pack

    demo = Pack(demo_pack_path())
    originals = [demo.task(task_id) for task_id in demo.task_ids]
    tasks = (dataclasses.replace(originals[n % len(originals)], task_id=f"big-{n:06d}")
             for n in range(size))
    kwargs = {"validation": {"rows": size, "compiled": size, "rejected": 0}}
    try:  # the demo tasks passed the schema; clones differ only in their id
        write_pack(path, "big", 0, tasks, prevalidated=True, **kwargs)
    except TypeError:  # an older write_pack
        write_pack(path, "big", 0, tasks, **kwargs)


def big_figures(size: int, resets: int, workdir: Path) -> dict[str, float]:
    import astra_gym  # noqa: F401
    from astra_gym.env import AstraEnv
    from astra_gym.pack import Pack

    pack_dir = workdir / f"big-{size}"
    if not (pack_dir / "manifest.json").is_file():
        _big_pack(pack_dir, size)
    figures: dict[str, float] = {}
    try:  # reading and hashing the whole file (what an open without an index cache does)
        start = time.perf_counter()
        Pack(pack_dir, index_cache=False).task_ids  # noqa: B018
        figures["big_open_uncached_s"] = time.perf_counter() - start
    except TypeError:  # a release without the index cache: every open reads the file
        pass
    gc.collect()
    rss0 = _rss_mb()
    start = time.perf_counter()
    pack = Pack(pack_dir)
    ids = pack.task_ids  # builds the index: the first thing a reset needs
    figures.update({"big_open_s": time.perf_counter() - start, "big_tasks": float(len(ids)),
                    "big_rss_open_mb": _rss_mb() - rss0})
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"})
    env.reset(seed=0, options={"task_id": ids[0]})
    warm = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(200):
            env.reset(options={"task_id": ids[0]})
        warm.append((time.perf_counter() - start) / 200 * 1e6)
    figures["big_warm_reset_us"] = _median(warm)
    gc.collect()
    rss1 = _rss_mb()
    cold = []
    step = max(1, len(ids) // resets)
    for index in range(resets):
        task_id = ids[(1 + index * step) % len(ids)]
        start = time.perf_counter()
        env.reset(options={"task_id": task_id})
        cold.append((time.perf_counter() - start) * 1e6)
    gc.collect()
    figures["big_cold_reset_us"] = _median(cold)
    figures["big_rss_growth_mb"] = _rss_mb() - rss1
    env.close()
    return figures


def measure(args: argparse.Namespace) -> dict[str, float]:
    figures = env_figures(args.rounds)
    if args.big:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        figures.update(big_figures(args.big, args.resets, workdir))
    return figures


LABELS = [
    ("plain_episode_us", "plain Python gold path, per episode (µs)"),
    ("episode_us", "oracle episode through AstraEnv (µs)"),
    ("episodes_per_s", "oracle episodes per second"),
    ("reset_us", "warm reset, no seed (µs)"),
    ("reset_seeded_us", "warm reset, seeded (µs)"),
    ("first_step_us", "first step of an episode (µs)"),
    ("repeat_step_us", "the same call repeated (µs)"),
    ("match_ns_per_char", "answer matching, 90 KB result without the answer (ns/char)"),
    ("big_open_s", "big pack: open and index (s)"),
    ("big_open_uncached_s", "big pack: open, reading and hashing the whole file (s)"),
    ("big_warm_reset_us", "big pack: warm reset (µs)"),
    ("big_cold_reset_us", "big pack: cold reset, task never played (µs)"),
    ("big_rss_open_mb", "big pack: RSS growth from opening it (MB)"),
    ("big_rss_growth_mb", "big pack: RSS growth over the cold resets (MB)"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--big", type=int, default=100_000, help="0 skips the big pack")
    parser.add_argument("--resets", type=int, default=10_000)
    parser.add_argument("--baseline", help="another checkout to measure in the same run")
    parser.add_argument("--workdir", default=str(Path(tempfile.gettempdir()) / "astra-bench"))
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.rounds = 3 if args.quick else 7
    if args.quick:
        args.big, args.resets = min(args.big, 20_000), min(args.resets, 2_000)
    if args.json:  # the child run of --baseline
        print(json.dumps(measure(args)))
        return 0
    baseline = None
    if args.baseline:
        child = [sys.executable, str(Path(__file__).resolve()), "--json", "--big",
                 str(args.big), "--resets", str(args.resets),
                 "--workdir", str(Path(args.workdir) / "baseline")]
        if args.quick:
            child.append("--quick")
        env = {**os.environ, "PYTHONPATH": str(Path(args.baseline).resolve())}
        done = subprocess.run(child, env=env, capture_output=True, text=True,
                              cwd=args.baseline, check=False)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        baseline = json.loads(done.stdout.strip().splitlines()[-1])
    current = measure(args)
    sys.path.insert(0, str(HERE))
    from bench_sandbox import machine

    print(f"# {machine()}")
    header = f"{'what':<62} {'baseline':>12} {'now':>12} {'ratio':>7}"
    print(header)
    for key, label in LABELS:
        if key not in current:
            continue
        now = current[key]
        if baseline and key in baseline:
            old = baseline[key]
            ratio = old / now if key != "episodes_per_s" else now / old
            print(f"{label:<62} {old:>12.2f} {now:>12.2f} {ratio:>6.2f}x")
        else:
            print(f"{label:<62} {'':>12} {now:>12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
