"""Eval episodes whose envs run in Ray actors: ``astra-gym eval --ray-address``.

The model client stays on the driver (one event loop, as without Ray); only
the env steps move. The envs live in a few Ray actors (processes on any node),
each actor holding several envs, and an episode awaits its actor's reply
without blocking the loop. That spreads an evaluation's env work (the
sandboxed tool runs) over a cluster's CPU nodes.

Why several envs per actor: an eval env is idle while its episode waits for
the model (hundreds of milliseconds per turn against a few milliseconds of
stepping), so one actor per episode in flight would reserve a CPU share, a
process and a sandbox worker pool for an env that is mostly waiting. An actor
runs its calls one at a time, which is what the env needs anyway.

:class:`RayEnvPool` has the interface of :class:`~astra_gym.eval.envs.EnvPool`
(``acquire``, ``run``, ``release``, ``close``), and its envs
(:class:`RemoteEnv`) answer ``reset``, ``step``, ``unwrapped.messages`` and
``unwrapped.task`` as a local env would, so :func:`~astra_gym.eval.episode.play_episode`
is the same code for both. The records are the same too: an episode's seed
fixes its transcript wherever its env runs (tested against the in-process run).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

try:
    import ray
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('astra-gym eval --ray-address needs ray: pip install "astra-gym[ray]"'
                      ) from exc

__all__ = ["EnvHost", "RayEnvPool", "RemoteEnv", "connect", "default_actor_count"]

T = TypeVar("T")

#: Ray CPUs of one env actor (an actor steps one env at a time); less when more
#: actors are asked for than the cluster has CPUs, so that all of them can be placed.
ACTOR_CPUS = 1.0

#: Seconds an actor may take to start and make an env before the run gives up
#: (an actor the cluster cannot place would otherwise stall its episode for ever).
ACTOR_START_S = 120.0


class EnvHost:
    """A Ray actor's envs (made with ``ray.remote(EnvHost)``), one per slot.

    ``eval_reset`` returns, besides the env's own return, the env's transcript
    (``unwrapped.messages``) and the task, and ``eval_step`` the messages the
    step added, so the driver's :class:`RemoteEnv` mirrors them.

    Args:
        env_id: The env id.
        pack_dir: Its pack directory (registered in the actor's process when
            the id is not registered there: a pack that is not installed).
        env_kwargs: ``gym.make`` keyword arguments.
    """

    def __init__(self, env_id: str, pack_dir: str, env_kwargs: dict[str, Any]) -> None:
        import gymnasium as gym

        import astra_gym

        if env_id not in gym.registry:
            astra_gym.register_pack(pack_dir)
        self.env_id = env_id
        self.env_kwargs = env_kwargs
        self.envs: dict[int, Any] = {}

    def add(self, slot: int) -> None:
        """Make the env of ``slot``."""
        import gymnasium as gym

        self.envs[slot] = gym.make(self.env_id, **self.env_kwargs)

    def eval_reset(self, slot: int, seed: int | None, options: dict[str, Any] | None
                   ) -> tuple[Any, Any, list[dict[str, Any]], Any]:
        """``env.reset`` plus the transcript and the task."""
        env = self.envs[slot]
        observation, info = env.reset(seed=seed, options=options)
        unwrapped = env.unwrapped
        return observation, info, [dict(m) for m in unwrapped.messages], unwrapped.task

    def eval_step(self, slot: int, action: Any) -> tuple[Any, ...]:
        """``env.step`` plus the messages it added to the transcript (a step only appends)."""
        env = self.envs[slot]
        before = len(env.unwrapped.messages)
        result = env.step(action)
        return (*result, [dict(m) for m in env.unwrapped.messages[before:]])

    def where(self) -> tuple[str, int]:
        """The node and process this actor runs in."""
        return ray.get_runtime_context().get_node_id(), os.getpid()

    def close(self) -> None:
        """Close every env of the actor."""
        for env in self.envs.values():
            with contextlib.suppress(Exception):
                env.close()
        self.envs.clear()


class RemoteEnv:
    """The driver's handle of one env in an :class:`EnvHost` actor.

    ``reset`` and ``step`` are coroutines (awaiting the actor); ``messages`` and
    ``task`` are the actor env's, as of the last call.
    """

    def __init__(self, actor: Any, slot: int) -> None:
        self.actor = actor
        self.slot = slot
        self.messages: list[dict[str, Any]] = []
        self.task: Any = None

    @property
    def unwrapped(self) -> RemoteEnv:
        """Itself: it holds what an episode reads from ``env.unwrapped``."""
        return self

    async def reset(self, *, seed: int | None = None,
                    options: dict[str, Any] | None = None) -> tuple[Any, Any]:
        """``env.reset`` in the actor."""
        observation, info, messages, task = await self.actor.eval_reset.remote(
            self.slot, seed, options)
        self.messages, self.task = messages, task
        return observation, info

    async def step(self, action: Any) -> tuple[Any, ...]:
        """``env.step`` in the actor."""
        *result, added = await self.actor.eval_step.remote(self.slot, action)
        self.messages = [*self.messages, *added]
        return tuple(result)


def connect(address: str) -> bool:
    """Join (or start) Ray for an evaluation.

    Args:
        address: ``local`` (start a Ray on this machine), ``auto`` (the Ray
            already running on this machine's cluster), or a cluster address
            (``ray://head:10001``, ``head:6379``).

    Returns:
        Whether this call started the connection (then the caller shuts it down).

    Raises:
        ValueError: Ray could not connect (its message says why).
    """
    if ray.is_initialized():
        return False
    try:
        ray.init(address=None if address == "local" else address,
                 include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ValueError(f"--ray-address {address}: cannot connect to Ray: {exc}") from exc
    return True


def default_actor_count(concurrency: int) -> int:
    """Env actors for ``concurrency`` episodes: one per CPU of the cluster.

    Args:
        concurrency: Episodes in flight.

    Returns:
        ``min(concurrency, cluster CPUs / ACTOR_CPUS)``, at least 1.
    """
    cpus = float(ray.cluster_resources().get("CPU", 1.0))
    return max(1, min(concurrency, int(cpus / ACTOR_CPUS)))


class RayEnvPool:
    """At most ``max_envs`` envs of one env id, spread over ``actors`` Ray actors.

    Envs are made on demand, on the actor with the fewest, and reused across
    episodes; when ``max_envs`` exist, an episode waits for one to be released.

    Args:
        env_id: The registered env id.
        pack_dir: Its pack directory (it must exist at that path on every node,
            or the pack be installed there).
        env_kwargs: ``gym.make`` keyword arguments (checked here first, so
            unusable ones fail with the env's own error).
        actors: Env actors.
        max_envs: The most envs at once (the run's concurrency).
    """

    def __init__(self, env_id: str, pack_dir: str, env_kwargs: dict[str, Any],
                 actors: int, max_envs: int) -> None:
        import gymnasium as gym

        if actors < 1 or max_envs < 1:
            raise ValueError(f"actors and max_envs must be at least 1, got {actors}, "
                             f"{max_envs}")
        gym.make(env_id, **env_kwargs).close()  # unusable keyword arguments fail here, plainly
        self.env_id = env_id
        self.max_envs = max_envs
        count = min(actors, max_envs)
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        self.actor_cpus = min(ACTOR_CPUS, cpus / count)
        remote = ray.remote(num_cpus=self.actor_cpus)(EnvHost)
        self.actors = [remote.remote(env_id, pack_dir, dict(env_kwargs)) for _ in range(count)]
        self._all: list[RemoteEnv] = []
        self._free: asyncio.Queue[RemoteEnv] | None = None

    async def run(self, function: Callable[..., Awaitable[T]], *args: Any,
                  **kwargs: Any) -> tuple[T, float]:
        """Await ``function(*args, **kwargs)`` (a :class:`RemoteEnv` method).

        Returns:
            Its result and the seconds it took, the round trip to the actor included.
        """
        start = time.perf_counter()
        result = await function(*args, **kwargs)
        return result, time.perf_counter() - start

    async def acquire(self) -> RemoteEnv:
        """A free env, a new one while under ``max_envs``, else the next one released.

        Raises:
            ValueError: The env's actor failed (the pack is not at ``pack_dir`` on
                its node, for one) or could not be placed in time.
        """
        if self._free is None:
            self._free = asyncio.Queue()
        if self._free.empty() and len(self._all) < self.max_envs:
            slot = len(self._all)
            env = RemoteEnv(self.actors[slot % len(self.actors)], slot)
            self._all.append(env)
            try:
                await asyncio.wait_for(env.actor.add.remote(slot), ACTOR_START_S)
            except BaseException as exc:
                self._all.remove(env)
                if isinstance(exc, ray.exceptions.RayError):
                    raise ValueError(f"an env actor failed: {exc}") from exc
                if isinstance(exc, asyncio.TimeoutError):
                    raise ValueError(
                        f"an env actor did not start within {ACTOR_START_S:.0f} s: the cluster "
                        f"may lack the {self.actor_cpus:g} CPU it asks for (fewer "
                        "--ray-actors, or more nodes)") from None
                raise
            return env
        return await self._free.get()

    def release(self, env: RemoteEnv) -> None:
        """Give back an env whose episode ended."""
        if self._free is None:
            self._free = asyncio.Queue()
        self._free.put_nowait(env)

    def where(self) -> list[tuple[str, int]]:
        """The node and process of every actor."""
        return ray.get([actor.where.remote() for actor in self.actors])

    def close(self) -> None:
        """Close every env and end the actors."""
        actors, self.actors, self._all = self.actors, [], []
        with contextlib.suppress(Exception):  # must not hide the run's outcome
            ray.get([actor.close.remote() for actor in actors], timeout=30)
        for actor in actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
