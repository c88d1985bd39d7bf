"""A Gymnasium ``VectorEnv`` of Ray actors: envs on CPU nodes, the trainer elsewhere.

:class:`RayVectorEnv` runs each sub-env in its own Ray actor (a process, on any
node of the cluster), so the tools run in the sandbox there while the policy
runs on GPU nodes. It follows ``SyncVectorEnv`` exactly: the same observations
(a tuple of message lists), rewards, flags and infos for the same seeds and
actions, and Gymnasium's default ``NEXT_STEP`` autoreset (the step after an
episode ended resets that sub-env and ignores its action). ``step`` sends
every sub-env its action at once and waits for all, so the latency of a step
is one round trip, not ``num_envs``.

Works on a local Ray (``address=None`` starts one) and on a cluster
(``address="ray://head:10001"`` or ``"auto"``). A pack directory must exist at
the same path on every node (or be installed there as a package: then use its
env id).

Example (needs ``pip install "astra-gym[ray]"``)::

    from astra_gym.integrations.ray_vector import RayVectorEnv

    envs = RayVectorEnv("astra/demo-v0", num_envs=8, address="auto")
    observations, infos = envs.reset(seed=0)
    observations, rewards, terminations, truncations, infos = envs.step(actions)
    envs.close()
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

try:
    import ray
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('RayVectorEnv needs ray: pip install "astra-gym[ray]"') from exc

__all__ = ["EnvActor", "RayVectorEnv"]


class EnvActor:
    """One astra env in a Ray actor (made with ``ray.remote(EnvActor)``).

    Args:
        env_id: The env id.
        pack_dir: Its pack directory (registered in the actor's process when
            the id is not registered there: a pack that is not installed).
        env_kwargs: ``gym.make`` keyword arguments.
    """

    def __init__(self, env_id: str, pack_dir: str, env_kwargs: dict[str, Any]) -> None:
        import astra_gym

        if env_id not in gym.registry:
            astra_gym.register_pack(pack_dir)
        self.env = gym.make(env_id, **env_kwargs)
        self.pid = os.getpid()

    def reset(self, seed: int | None, options: dict[str, Any] | None) -> tuple[Any, Any]:
        """``env.reset``."""
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, ...]:
        """``env.step``."""
        return self.env.step(action)

    def where(self) -> tuple[str, int]:
        """The node and process this env runs in."""
        return ray.get_runtime_context().get_node_id(), self.pid

    def close(self) -> None:
        """``env.close``."""
        self.env.close()


class RayVectorEnv(VectorEnv):
    """``num_envs`` astra envs in Ray actors, as one Gymnasium vector env.

    Args:
        env_id: An env id or a pack directory.
        num_envs: Sub-envs (actors).
        address: The Ray cluster (``None``: the running Ray, else a new local one).
        env_kwargs: ``gym.make`` keyword arguments of every sub-env.
        actor_options: ``ray.remote`` options of the actors (default ``{"num_cpus": 0.5}``).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}  # noqa: RUF012

    def __init__(self, env_id: str, num_envs: int, *, address: str | None = None,
                 env_kwargs: dict[str, Any] | None = None,
                 actor_options: dict[str, Any] | None = None) -> None:
        from ..validation import resolve_target

        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        resolved, pack_dir = resolve_target(env_id)
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        spec_env = gym.make(resolved, **dict(env_kwargs or {}))  # checks the kwargs here
        self.single_observation_space = spec_env.observation_space
        self.single_action_space = spec_env.action_space
        spec_env.close()
        self.num_envs = num_envs
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.env_id = resolved
        remote = ray.remote(**(actor_options or {"num_cpus": 0.5}))(EnvActor)
        self.actors = [remote.remote(resolved, str(pack_dir), dict(env_kwargs or {}))
                       for _ in range(num_envs)]
        self._autoreset = np.zeros(num_envs, dtype=np.bool_)
        self._closed_actors = False

    def reset(self, *, seed: int | Sequence[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Reset every sub-env (seeds as in ``SyncVectorEnv``: ``seed + i``, or a list)."""
        if seed is None or isinstance(seed, int):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"{len(seeds)} seeds for {self.num_envs} envs")
        results = ray.get([actor.reset.remote(s, options)
                           for actor, s in zip(self.actors, seeds, strict=True)])
        self._autoreset[:] = False
        infos: dict[str, Any] = {}
        for index, (_, info) in enumerate(results):
            infos = self._add_info(infos, info, index)
        return tuple(observation for observation, _ in results), infos

    def step(self, actions: Sequence[Any]) -> tuple[Any, ...]:
        """Step every sub-env at once (a finished one is reset instead, ``NEXT_STEP``)."""
        refs = [actor.reset.remote(None, None) if self._autoreset[index]
                else actor.step.remote(actions[index])
                for index, actor in enumerate(self.actors)]
        results = ray.get(refs)
        observations, infos = [], {}
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=np.bool_)
        truncations = np.zeros(self.num_envs, dtype=np.bool_)
        for index, result in enumerate(results):
            if self._autoreset[index]:
                observation, info = result
            else:
                observation, reward, terminated, truncated, info = result
                rewards[index] = reward
                terminations[index] = terminated
                truncations[index] = truncated
            observations.append(observation)
            infos = self._add_info(infos, info, index)
        self._autoreset = np.logical_or(terminations, truncations)
        return tuple(observations), rewards, terminations, truncations, infos

    def where(self) -> list[tuple[str, int]]:
        """(Ray node id, process id) of every sub-env."""
        return ray.get([actor.where.remote() for actor in self.actors])

    def close_extras(self, **kwargs: Any) -> None:
        """Close the envs and end the actors."""
        if self._closed_actors:
            return
        self._closed_actors = True
        try:
            ray.get([actor.close.remote() for actor in self.actors])
        finally:
            for actor in self.actors:
                ray.kill(actor)
