"""Astra envs as Ray actors: a Gymnasium vector env whose sub-envs run in other processes.

On a cluster the actors land on CPU nodes (``RayVectorEnv(..., address="auto",
actor_options={"num_cpus": 1})``) while the trainer holds the GPUs; here a local
Ray with two CPUs. The oracle plays one task in each of two sub-envs.

Run: ``pip install "astra-gym[ray]"`` then ``python examples/ray_vector_env.py``.
"""

from __future__ import annotations

import os

import numpy as np
import ray

from astra_gym.agents import OracleAgent
from astra_gym.integrations.ray_vector import RayVectorEnv
from astra_gym.pack import demo_pack_path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
envs = RayVectorEnv("astra/demo-v0", num_envs=2)
try:
    observations, infos = envs.reset(seed=4)
    tasks = list(infos["task_id"])
    agents = [OracleAgent(demo_pack_path()) for _ in range(envs.num_envs)]
    for index, agent in enumerate(agents):
        agent.reset(observations[index], {"task_id": infos["task_id"][index]})
    returns = np.zeros(envs.num_envs)
    done = np.zeros(envs.num_envs, dtype=bool)
    while not done.all():
        actions = [agent.act(observations[i], {}) if not done[i] else "(finished)"
                   for i, agent in enumerate(agents)]
        observations, rewards, terminations, truncations, infos = envs.step(actions)
        returns += np.where(done, 0.0, rewards)
        done |= terminations | truncations
    print("tasks:", tasks, "returns:", returns.tolist())  # gold play: 1.0 each
    print("actors (node, pid):", [(node[:8], pid) for node, pid in envs.where()])
finally:
    envs.close()
    ray.shutdown()
