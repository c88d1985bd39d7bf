"""RayVectorEnv on a local Ray: the same transcript as SyncVectorEnv, gold pays the same."""

from __future__ import annotations

import os
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest

from astra_gym.agents import OracleAgent
from astra_gym.pack import demo_pack_path

INPROCESS = {"sandbox": {"isolation": "inprocess"}}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """One small local Ray, started once for this module and always shut down.

    Module scope: later modules fork sandbox workers, and forking after
    ``ray.init`` is unsafe (Ray's threads); tests/pipeline/test_ray_executor.py
    does the same.
    """
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def play(envs, steps: int) -> list[tuple]:
    """The oracle in every sub-env for ``steps`` vector steps (autoresets included)."""
    observations, infos = envs.reset(seed=11)
    agents = [OracleAgent(demo_pack_path()) for _ in range(envs.num_envs)]
    for index, agent in enumerate(agents):
        agent.reset(observations[index], {"task_id": infos["task_id"][index]})
    pending = np.zeros(envs.num_envs, dtype=bool)
    trace = []
    for _ in range(steps):
        actions = [agent.act(observations[i], {}) if not pending[i] else "ignored"
                   for i, agent in enumerate(agents)]
        observations, rewards, terminated, truncated, infos = envs.step(actions)
        trace.append((observations, rewards.tolist(), terminated.tolist(), truncated.tolist(),
                      list(infos["task_id"]),
                      [float(infos["reward_components"]["f1"][i])
                       if infos.get("_reward_components", [False] * envs.num_envs)[i] else None
                       for i in range(envs.num_envs)]))
        for index, agent in enumerate(agents):
            if pending[index]:  # this step was the autoreset: a new episode starts
                agent.reset(observations[index], {"task_id": infos["task_id"][index]})
        pending = np.logical_or(terminated, truncated)
    return trace


@pytest.mark.slow
def test_ray_vector_env_matches_sync_vector_env(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    ray_envs = RayVectorEnv("astra/demo-v0", 3, env_kwargs=INPROCESS)
    sync_envs = gym.make_vec("astra/demo-v0", 3, **INPROCESS)
    try:
        got, expected = play(ray_envs, 14), play(sync_envs, 14)
        assert got == expected
        # Gold trajectories: every finished episode paid F1 = 1 and a return of 1.
        finished = [f1 for step in got for f1, done in zip(step[5], step[2], strict=True)
                    if done]
        assert finished and all(f1 == 1.0 for f1 in finished)
        assert {pid for _, pid in ray_envs.where()}.isdisjoint({os.getpid()})
        assert len({pid for _, pid in ray_envs.where()}) == 3  # one process per sub-env
    finally:
        ray_envs.close()
        sync_envs.close()


@pytest.mark.slow
def test_ray_vector_env_with_the_default_sandbox_and_a_pack_dir(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    envs = RayVectorEnv(str(demo_pack_path()), 2)  # the confined worker pool, in the actors
    try:
        observations, _ = envs.reset(seed=0, options={"task_id": "demo-weather-001"})
        agent = OracleAgent(demo_pack_path())
        agent.reset(observations[0], {"task_id": "demo-weather-001"})
        action = agent.act(observations[0], {})
        _, rewards, terminated, _, _ = envs.step([action, action])
        assert rewards.tolist() == [1.0, 1.0] and not terminated.any()
    finally:
        envs.close()


def test_bad_arguments_are_refused(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    with pytest.raises(ValueError, match="num_envs"):
        RayVectorEnv("astra/demo-v0", 0)
    with pytest.raises(ValueError):
        RayVectorEnv("astra/nope-v0", 1)
    with pytest.raises(ValueError, match="max_turns"):
        RayVectorEnv("astra/demo-v0", 1, env_kwargs={"max_turns": 0})
