"""Quickstart: make the demo env, run the oracle and a random agent over every task.

    python examples/quickstart.py

The oracle replays each task's gold calls hop by hop and answers: it must reach
F1 = 1.0 and succeed on every task. The random agent calls random tools with
schema-valid random arguments: the floor a trained policy must beat.
"""

from __future__ import annotations

import gymnasium as gym

import astra_gym  # noqa: F401  (registers astra/demo-v0)
from astra_gym.agents import OracleAgent, RandomAgent
from astra_gym.runner import format_summary, run_episodes, summarize


def main() -> None:
    env = gym.make("astra/demo-v0")

    # One episode by hand: what a training loop sees.
    observation, info = env.reset(seed=0)
    print("task:", info["task_id"], "| tools:", [t["function"]["name"] for t in info["tools"]])
    print("user:", observation[-1]["content"])
    oracle = OracleAgent(env.unwrapped.pack)
    oracle.reset(observation, info)
    while True:
        action = oracle.act(observation, info)
        observation, reward, terminated, truncated, info = env.step(action)
        for message in observation:
            print(f"  tool {message['name']}: {message['content'][:90]}")
        print(f"  reward {reward:+.3f}  components {info['reward_components']['f1']:.3f} F1")
        if terminated or truncated:
            print("final answer:", info["final_answer"], "| success:", info["success"])
            break

    # Every task, both agents.
    summaries = {
        "oracle": summarize(run_episodes(env, OracleAgent(env.unwrapped.pack), "all", seed=0)),
        "random": summarize(run_episodes(env, RandomAgent(seed=0), "all", seed=0)),
    }
    env.close()
    print()
    print(format_summary(summaries))
    assert summaries["oracle"]["success_rate"] == 1.0 and summaries["oracle"]["mean_f1"] == 1.0


if __name__ == "__main__":
    main()
