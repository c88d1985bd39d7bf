"""What ASTRA's RL mechanisms cost per reset and per step: distractors and failure injection.

Four env variants of the demo pack, in-process sandbox, measured in the same run with
the rounds interleaved (so load on the machine hits all of them alike), medians over
rounds:

* ``plain``: ``gym.make("astra/demo-v0")``;
* ``distractors``: ``distractors={"k": 3}`` (up to 3 per band: up to 9 more tools);
* ``failures``: ``failures={"p": 0.2}``;
* ``both``: the two together.

Figures:

* ``reset``: a warm, unseeded ``reset()`` (as in a training loop), per call;
* ``step``: the oracle's steps over every demo task (gold calls, retries of injected
  failures, the final answer), per step; and per episode;
* ``call``: one step making one call with random schema-valid arguments, to an injected
  distractor (the pool tool runs) and to one of the task's own tools;
* index: building the demo pack's band index with the default TF-IDF embedder (embed
  + band, no cache), loading it from its file, and ``gym.make`` with the index cached.

Usage:
    python benchmarks/bench_rl.py [--rounds 25] [--resets 400] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from typing import Any

import gymnasium as gym
import numpy as np

import astra_gym  # noqa: F401  (registers astra/demo-v0)
from astra_gym.agents import OracleAgent
from astra_gym.agents.random_agent import random_value
from astra_gym.distractors import build_index, index_path, load_index
from astra_gym.distractors import index as index_module
from astra_gym.pack import Pack, demo_pack_path

VARIANTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "distractors": {"distractors": {"k": 3}},
    "failures": {"failures": {"p": 0.2}},
    "both": {"distractors": {"k": 3}, "failures": {"p": 0.2}},
}


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make(variant: str) -> Any:
    return gym.make("astra/demo-v0", sandbox={"isolation": "inprocess"}, **VARIANTS[variant])


def reset_us(env: Any, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        env.reset()
    return (time.perf_counter() - start) / count * 1e6


def oracle_steps(env: Any, task_ids: tuple[str, ...], seed: int) -> tuple[float, int, int]:
    """Seconds spent in ``step`` over every task's oracle episode, steps, episodes."""
    oracle = OracleAgent(env.unwrapped.pack)
    spent, steps = 0.0, 0
    for index, task_id in enumerate(task_ids):
        observation, info = env.reset(seed=seed + index, options={"task_id": task_id})
        oracle.reset(observation, info)
        while True:
            action = oracle.act(observation, info)
            start = time.perf_counter()
            observation, _, terminated, truncated, info = env.step(action)
            spent += time.perf_counter() - start
            steps += 1
            if terminated or truncated:
                assert info["reward_components"]["f1"] == 1.0
                break
    return spent, steps, len(task_ids)


def call_us(env: Any, count: int, distractor: bool) -> float:
    """Median of one step making one call with schema-valid random arguments.

    ``distractor``: the call goes to one of the episode's injected distractors, else
    to one of the task's own tools. Arguments are built before the clock starts.
    """
    rng = np.random.default_rng(0)
    samples = []
    for seed in range(count):
        _, info = env.reset(seed=seed)
        names = [t["function"]["name"] for t in info["tools"]
                 if (t["function"]["name"] in info["distractor_tools"]) == distractor]
        name = names[int(rng.integers(len(names)))]
        tool = next(t for t in info["tools"] if t["function"]["name"] == name)
        arguments = random_value(tool["function"]["parameters"], rng)
        action = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "d", "type": "function", "function": {
                "name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}]}
        start = time.perf_counter()
        env.step(action)
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def index_figures(rounds: int) -> dict[str, float]:
    pack = Pack(demo_pack_path())
    list(pack)  # tasks parsed once, as a build in a warm process
    builds = []
    for _ in range(rounds):
        start = time.perf_counter()
        index = build_index(pack, [pack])
        builds.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as cache:
        path = index.save(index_path(cache, pack, index.key))
        loads = []
        for _ in range(rounds):
            start = time.perf_counter()
            load_index(path)
            loads.append(time.perf_counter() - start)
        makes = []
        old = os.environ.get("ASTRA_GYM_CACHE_DIR")
        os.environ["ASTRA_GYM_CACHE_DIR"] = cache
        try:
            for _ in range(rounds):
                index_module._loaded.clear()  # a fresh process: only the file is there
                start = time.perf_counter()
                make("distractors").close()
                makes.append(time.perf_counter() - start)
            plain = []
            for _ in range(rounds):
                start = time.perf_counter()
                make("plain").close()
                plain.append(time.perf_counter() - start)
        finally:
            if old is None:
                os.environ.pop("ASTRA_GYM_CACHE_DIR", None)
            else:
                os.environ["ASTRA_GYM_CACHE_DIR"] = old
        size = path.stat().st_size
    return {"build_s": statistics.median(builds), "load_ms": statistics.median(loads) * 1e3,
            "make_cached_ms": statistics.median(makes) * 1e3,
            "make_plain_ms": statistics.median(plain) * 1e3, "index_kb": size / 1024,
            "pool_tools": len(index.pool), "in_scope": len(index.bands)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--resets", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    envs = {name: make(name) for name in VARIANTS}
    task_ids = envs["plain"].unwrapped.task_ids
    for env in envs.values():  # warm: every task's runtime, the index, the tool modules
        env.reset(seed=0)
        reset_us(env, 200)
        oracle_steps(env, task_ids, seed=0)
    resets: dict[str, list[float]] = {name: [] for name in VARIANTS}
    steps: dict[str, list[float]] = {name: [] for name in VARIANTS}
    episodes: dict[str, list[float]] = {name: [] for name in VARIANTS}
    per_episode_steps: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for round_ in range(args.rounds):
        for name, env in envs.items():
            resets[name].append(reset_us(env, args.resets))
            spent, count, played = oracle_steps(env, task_ids, seed=1000 * round_)
            steps[name].append(spent / count * 1e6)
            episodes[name].append(spent / played * 1e6)
            per_episode_steps[name].append(count / played)
    call = call_us(envs["distractors"], 400, distractor=True)
    own_call = call_us(envs["distractors"], 400, distractor=False)
    for env in envs.values():
        env.close()
    index = index_figures(args.rounds)

    rows = {name: {"reset_us": statistics.median(resets[name]),
                   "step_us": statistics.median(steps[name]),
                   "episode_steps_us": statistics.median(episodes[name]),
                   "steps_per_episode": statistics.median(per_episode_steps[name])}
            for name in VARIANTS}
    if args.json:
        print(json.dumps({"variants": rows, "distractor_call_us": call,
                          "task_tool_call_us": own_call, "index": index}))
        return
    base = rows["plain"]
    print(f"{_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.rounds} rounds, {args.resets} resets and 66 oracle episodes per round")
    print("| variant | reset | vs plain | step | vs plain | steps/episode | step time/episode |")
    print("|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['reset_us']:.1f} µs | {row['reset_us'] / base['reset_us']:.2f}x "
              f"| {row['step_us']:.1f} µs | {row['step_us'] / base['step_us']:.2f}x | "
              f"{row['steps_per_episode']:.2f} | {row['episode_steps_us']:.0f} µs |")
    print(f"\none call with random valid arguments (one step): to a distractor {call:.1f} µs, "
          f"to a task's own tool {own_call:.1f} µs (medians)")
    print(f"index: build {index['build_s'] * 1e3:.0f} ms ({index['pool_tools']} pool tools, "
          f"{index['in_scope']} in-scope), file {index['index_kb']:.0f} KB, load "
          f"{index['load_ms']:.1f} ms; gym.make with the index cached "
          f"{index['make_cached_ms']:.1f} ms vs plain {index['make_plain_ms']:.1f} ms")


if __name__ == "__main__":
    main()
