"""Env step cost: one tool call through env.step against the tool alone, in one run.

For one demo task's first gold call, the median time of:

* plain Python: the tool function called directly (compiled with ``exec``);
* sandbox call: ``SandboxSession.call`` of the same tool (in-process
  isolation: policy-compiled code, budget, rendering): the tool's own run
  time as the env runs it;
* ``env.step`` with the call as an OpenAI message dict, and as hermes text
  (parse, schema check, sandbox call, reward, tool message, info);

so ``step - sandbox call`` is what the env adds per step. Also ``reset`` time
and vector-env throughput (steps/s) for 1 and 8 envs, sync and async.

Usage:
    python benchmarks/bench_env.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gymnasium as gym
from bench_sandbox import machine

import astra_gym  # noqa: F401
from astra_gym.env import AstraEnv
from astra_gym.pack import demo_pack_path

TASK = "demo-weather-003"


#: The figures are of the in-process sandbox (the default is the confined worker pool;
#: benchmarks/bench_isolation.py compares the two).
INPROCESS = {"isolation": "inprocess"}


def median_us(func, number: int, repeat: int) -> float:
    return statistics.median(timeit.repeat(func, number=number, repeat=repeat)) / number * 1e6


def step_figures(number: int, repeat: int) -> dict[str, float]:
    env = AstraEnv(demo_pack_path(), max_turns=10**9, sandbox=INPROCESS)
    env.reset(seed=0, options={"task_id": TASK})
    task = env.task
    gold = task.subtasks[0].gold_call
    tool = task.tool(gold.name)
    namespace: dict = {}
    exec(compile(tool.source, "<tool>", "exec"), namespace)  # trusted demo code: the baseline
    plain = namespace[tool.function]
    session = env._session
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]}
    hermes = f'<tool_call>{json.dumps({"name": gold.name, "arguments": gold.arguments})}' \
             "</tool_call>"
    figures = {
        "plain": median_us(lambda: plain(**gold.arguments), number, repeat),
        "sandbox_call": median_us(lambda: session.call(tool.source, tool.function,
                                                       gold.arguments), number, repeat),
        "step_message": median_us(lambda: env.step(message), number, repeat),
        "step_hermes": median_us(lambda: env.step(hermes), number, repeat),
        "reset": median_us(lambda: env.reset(options={"task_id": TASK}), number // 4, repeat),
    }
    env.close()
    return figures


def vector_steps_per_s(num_envs: int, mode: str, steps: int) -> float:
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    envs = gym.make_vec("astra/demo-v0", num_envs=num_envs, vectorization_mode=mode,
                        max_turns=10**9, task_ids=[TASK], sandbox=INPROCESS, **kwargs)
    envs.reset(seed=0)
    gold = AstraEnv(demo_pack_path()).pack.task(TASK).subtasks[0].gold_call
    action = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]}
    actions = [action] * num_envs
    for _ in range(10):
        envs.step(actions)
    start = time.perf_counter()
    for _ in range(steps):
        envs.step(actions)
    elapsed = time.perf_counter() - start
    envs.close()
    return steps * num_envs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    number, repeat, steps = (200, 5, 100) if args.quick else (2000, 7, 500)
    print(f"machine: {machine()}")
    figures = step_figures(number, repeat)
    print(f"task {TASK}, first gold call; median of {repeat} rounds x {number} calls")
    for name, value in figures.items():
        print(f"  {name:<14} {value:9.2f} us")
    print(f"  step overhead beyond the sandbox call: message "
          f"{figures['step_message'] - figures['sandbox_call']:.2f} us, hermes "
          f"{figures['step_hermes'] - figures['sandbox_call']:.2f} us")
    print(f"  step / plain: {figures['step_message'] / figures['plain']:.1f}x")
    for mode in ("sync", "async"):
        for num_envs in (1, 8):
            rate = vector_steps_per_s(num_envs, mode, steps)
            print(f"  {mode:<5} {num_envs} envs: {rate:9.0f} env-steps/s")


if __name__ == "__main__":
    main()
