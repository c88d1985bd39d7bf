"""GRPO data flow on CPU, no model: vector env, G rollouts per task, adaptive batch filling.

    python examples/grpo_loop.py [--steps 8] [--group-size 4] [--batch 4] [--vectorization sync]

Everything a GRPO trainer does around its model, with a toy policy in the model's place:

1. a vector env of G copies of ``astra/demo-v0``, with ASTRA's banded distractors and
   tool-failure injection (``distractors=``, ``failures=``);
2. ``rollout(task_ids)``: for each task, G episodes at once in the vector env, one group;
3. :class:`astra_gym.training.AdaptiveBatchFiller`: keeps only groups whose rewards vary,
   rolls out until the batch is full, carries the surplus to the next step (paper Fig. 5);
4. group-normalised advantages (:func:`astra_gym.training.group_advantages`) and a
   policy-gradient update;
5. a log line per step: F1, recall, precision, turns, success, and the filler's figures.

The toy policy has one number, its skill: the probability of making the right move (the
oracle's next hop, retrying injected failures) at each turn; otherwise it calls a random
listed tool (distractors included) or gives up. Its gradient is REINFORCE on those
Bernoulli choices. As it learns, more groups come out flat (every rollout solved, or none)
and the filler has to roll out more to fill a batch. A real trainer replaces ``ToyPolicy``:
see docs/training.md.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

import astra_gym
from astra_gym.agents import OracleAgent, RandomAgent
from astra_gym.pack import Pack
from astra_gym.training import AdaptiveBatchFiller, Group, group_advantages

ENV_ID = "astra/demo-v0"
ENV_OPTIONS: dict[str, Any] = {
    "sandbox": {"isolation": "inprocess"},     # the demo pack is vetted: microsecond calls
    "distractors": {"k": 2},                   # up to 2 irrelevant tools per similarity band
    "failures": {"p": 0.1},                    # 10% of calls time out, are refused, or 503
    "max_turns": 8,
}


@dataclass
class Rollout:
    """One episode: what the trainer keeps (a real one: tokens and log-probs)."""

    task_id: str
    reward: float = 0.0
    components: dict[str, Any] = field(default_factory=dict)
    turns: int = 0
    success: bool = False
    right: int = 0       # turns where the policy chose the right move
    decisions: int = 0   # turns where it chose at all


class ToyPolicy:
    """A stand-in for an LLM: one logit, the probability of making the right move.

    Args:
        pack: The env's pack (the right moves come from its gold calls).
        seed: Seeds the policy's own sampling.
        logit: The initial logit.
    """

    def __init__(self, pack: Any, seed: int, logit: float = -0.5) -> None:
        self.pack = pack
        self.rng = np.random.default_rng(seed)
        self.logit = logit

    @property
    def p_right(self) -> float:
        return 1.0 / (1.0 + math.exp(-self.logit))

    def update(self, groups: list[Group], lr: float = 0.5) -> None:
        """REINFORCE with GRPO advantages: d log p / d logit = right - decisions * p."""
        p = self.p_right
        terms = [advantage * (r.right - r.decisions * p)
                 for group in groups
                 for advantage, r in zip(group_advantages(group.rewards), group.rollouts,
                                         strict=True)]
        self.logit += lr * float(np.mean(terms))


def rollout_groups(envs: Any, policy: ToyPolicy, task_ids: list[str], seed: int) -> list[Group]:
    """G rollouts of each task in the vector env, one group per task (the ``rollout`` callable).

    A real trainer generates each turn with its model here (one batched call for the
    G sub-envs) and keeps the token ids and log-probs in the rollouts.
    """
    size = envs.num_envs
    groups = []
    for offset, task_id in enumerate(task_ids):
        seeds = [seed * 1000 + offset * size + i for i in range(size)]
        observations, infos = envs.reset(seed=seeds, options={"task_id": task_id})
        oracles = [OracleAgent(policy.pack) for _ in range(size)]
        randoms = [RandomAgent(seed=s, call_probability=1.0) for s in seeds]
        oracle_info: list[dict[str, Any]] = []
        for i in range(size):
            info = {"task_id": task_id, "tools": infos["tools"][i]}
            oracles[i].reset(observations[i], info)
            randoms[i].reset(observations[i], info)
            oracle_info.append(info)
        rollouts = [Rollout(task_id) for _ in range(size)]
        done = np.zeros(size, dtype=bool)
        while not done.all():
            actions = []
            followed = []
            for i in range(size):
                if done[i]:  # its episode is over: a final answer that runs nothing
                    actions.append("I don't know.")
                    followed.append(False)
                    continue
                right = bool(policy.rng.random() < policy.p_right)
                rollouts[i].decisions += 1
                rollouts[i].right += right
                if right:
                    actions.append(oracles[i].act(observations[i], oracle_info[i]))
                elif policy.rng.random() < 0.8:  # a random listed tool (maybe a distractor)
                    actions.append(randoms[i].act(observations[i], {}))
                else:
                    actions.append("I don't know.")
                followed.append(right)
            observations, rewards, terminated, truncated, step_infos = envs.step(actions)
            for i in range(size):
                if done[i]:
                    continue
                rollout = rollouts[i]
                rollout.reward += float(rewards[i])
                rollout.turns += 1
                if followed[i]:  # the oracle retries what failed in *its* last turn
                    oracle_info[i] = {"calls": step_infos["calls"][i]}
                if terminated[i] or truncated[i]:
                    done[i] = True
                    components = step_infos["reward_components"]
                    rollout.components = {key: float(components[key][i])
                                          for key in ("recall", "precision", "f1")}
                    rollout.success = bool(step_infos["success"][i])
        groups.append(Group(task_id, tuple(rollouts), tuple(r.reward for r in rollouts)))
    return groups


def log_line(step: int, batch: list[Group], filler: AdaptiveBatchFiller,
             policy: ToyPolicy) -> dict[str, float]:
    rollouts = [r for group in batch for r in group.rollouts]
    figures = {name: float(np.mean([r.components[name] for r in rollouts]))
               for name in ("f1", "recall", "precision")}
    figures["turns"] = float(np.mean([r.turns for r in rollouts]))
    figures["success"] = float(np.mean([r.success for r in rollouts]))
    stats = filler.last_stats
    assert stats is not None
    p_right = policy.p_right
    print(f"step {step:2d} | F1 {figures['f1']:.3f} recall {figures['recall']:.3f} "
          f"precision {figures['precision']:.3f} turns {figures['turns']:.2f} "
          f"success {figures['success']:.2f} | groups {len(batch)} from {stats.rounds} "
          f"round(s), {stats.rollouts} rollouts, filtered {stats.filtered_fraction:.0%}, "
          f"carried {stats.carried_in}->{stats.carried_over} | p(right) {p_right:.2f}")
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--group-size", type=int, default=4, help="G: rollouts per task")
    parser.add_argument("--batch", type=int, default=4, help="groups per update")
    parser.add_argument("--vectorization", choices=["sync", "async"], default="sync")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    envs = astra_gym.make_vec(ENV_ID, args.group_size, vectorization=args.vectorization,
                              **ENV_OPTIONS)
    try:
        pack = Pack(gym.spec(ENV_ID).kwargs["pack"])
        policy = ToyPolicy(pack, seed=args.seed)
        task_rng = np.random.default_rng(args.seed)
        rounds = iter(range(1, 10**9))

        def sample() -> list[str]:  # the prompts of one rollout round
            picks = task_rng.choice(len(pack.task_ids), size=args.batch, replace=False)
            return [pack.task_ids[int(i)] for i in picks]

        def rollout(task_ids: list[str]) -> list[Group]:
            return rollout_groups(envs, policy, task_ids, seed=args.seed * 7919 + next(rounds))

        filler = AdaptiveBatchFiller(args.batch, sample, rollout, delta=0.0)
        history = []
        for step in range(1, args.steps + 1):
            batch = filler.next_batch()     # full: every group's rewards vary
            history.append(log_line(step, batch, filler, policy))
            policy.update(batch)            # a real trainer: the GRPO loss on these groups
    finally:
        envs.close()
    first, last = history[0]["f1"], np.mean([h["f1"] for h in history[-3:]])
    totals = filler.totals
    print(f"\n{args.steps} steps in {time.perf_counter() - start:.1f} s: {totals['rollouts']} "
          f"rollouts, {totals['groups_generated']} groups, "
          f"{totals['groups_filtered'] / max(1, totals['groups_generated']):.0%} filtered as "
          f"flat; batch F1 {first:.3f} at step 1, {last:.3f} over the last 3 steps")


if __name__ == "__main__":
    main()
