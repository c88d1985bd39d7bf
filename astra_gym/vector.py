"""Vector envs of astra packs, with Gymnasium's explicit-reset bug worked around.

Text observations need ``AsyncVectorEnv(shared_memory=False)``. In that mode
Gymnasium (checked up to 1.4) does not clear a sub-env's pending autoreset
when you call ``reset()`` yourself: a sub-env whose episode ended at the last
``step()`` is reset by you, and then its next ``step()`` silently becomes
*another* reset (your action is dropped, the task changes, the reward is 0).
The worker's flag is private to its process, so :class:`AstraAsyncVectorEnv`
flushes it before an explicit reset: it sends the pending autoreset to the
finished sub-envs itself (a ``step`` the worker turns into ``reset()``),
keeping their random generators as they were, then resets as asked. Results
are then the same as ``SyncVectorEnv``'s, seed for seed.

:func:`make_vec` builds one (or a sync one) for a pack or env id; every astra
env id is registered with it as its ``vector_entry_point``, so
``gym.make_vec("astra/demo-v0", 8, vectorization="async")`` gets the fixed
class too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv

__all__ = ["AstraAsyncVectorEnv", "make_vec", "vector_entry_point"]

VECTORIZATIONS = ("sync", "async")


class AstraAsyncVectorEnv(AsyncVectorEnv):
    """``AsyncVectorEnv`` for text observations (``shared_memory=False`` by default).

    An explicit ``reset()`` really resets every sub-env it names, also those
    whose episode ended at the last ``step()`` (see the module docstring for
    the Gymnasium bug this works around).
    """

    def __init__(self, env_fns: Sequence[Any], *, shared_memory: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(env_fns, shared_memory=shared_memory, **kwargs)
        self._finished = np.zeros(self.num_envs, dtype=np.bool_)

    def step_wait(self, timeout: float | None = None) -> tuple[Any, ...]:
        """Wait for the step results, remembering which sub-envs' episodes ended."""
        result = super().step_wait(timeout)
        if self.autoreset_mode == AutoresetMode.NEXT_STEP and not self.shared_memory:
            self._finished = np.logical_or(result[2], result[3])
        return result

    def reset_async(self, seed: int | list[int | None] | None = None,
                    options: dict[str, Any] | None = None) -> None:
        """Flush the pending autoresets of the sub-envs to reset, then send the resets."""
        if self._finished.any():
            mask = None if options is None else options.get("reset_mask")
            targets = self._finished.copy() if mask is None else self._finished & np.asarray(mask)
            seeds = seed if isinstance(seed, list) else [seed] * self.num_envs
            self._flush_autoresets([int(i) for i in np.flatnonzero(targets)], seeds)
            self._finished = self._finished & ~targets
        super().reset_async(seed=seed, options=options)

    def _flush_autoresets(self, indices: list[int], seeds: list[Any]) -> None:
        """Let each worker in ``indices`` run its pending autoreset now.

        A sub-env reset without a seed draws from its generator, so the
        generator is saved first and put back: the explicit reset that follows
        then draws exactly what it would have drawn without the flush.
        """
        self._assert_is_running()
        for index in indices:
            keep_rng = seeds[index] is None
            if keep_rng:
                generator = self._request(index, ("_call", ("np_random", (), {})))
            self._request(index, ("step", None))  # the worker turns it into reset()
            if keep_rng:
                self._request(index, ("_setattr", ("np_random", generator)))

    def _request(self, index: int, message: tuple[str, Any]) -> Any:
        pipe = self.parent_pipes[index]
        pipe.send(message)
        result, success = pipe.recv()
        if not success:
            successes = [True] * self.num_envs
            successes[index] = False
            self._raise_if_errors(successes)
        return result


def _env_fn(env: str, env_kwargs: dict[str, Any]) -> Any:
    def make() -> gym.Env:
        return gym.make(env, **env_kwargs)
    return make


def make_vec(env: str | os.PathLike[str], num_envs: int, *, vectorization: str = "async",
             vector_kwargs: dict[str, Any] | None = None, **env_kwargs: Any) -> VectorEnv:
    """A vector env of ``num_envs`` copies of an astra env.

    Args:
        env: An env id (``"astra/demo-v0"``) or a pack directory.
        num_envs: Number of sub-envs.
        vectorization: ``"async"`` (one process per sub-env,
            :class:`AstraAsyncVectorEnv`) or ``"sync"`` (all in this process).
        vector_kwargs: Passed to the vector env's constructor (e.g.
            ``{"autoreset_mode": "SameStep"}``, ``{"context": "spawn"}``).
        **env_kwargs: Passed to every sub-env (``gym.make`` kwargs such as
            ``action_format`` or ``sandbox``).

    Returns:
        The vector env.

    Raises:
        ValueError: For an unknown ``vectorization`` or ``num_envs < 1``.
    """
    if vectorization not in VECTORIZATIONS:
        raise ValueError(f"vectorization must be one of {VECTORIZATIONS}, got {vectorization!r}")
    if num_envs < 1:
        raise ValueError(f"num_envs must be at least 1, got {num_envs}")
    env_id = str(env)
    if env_id not in gym.registry:
        from .registration import register_pack

        env_id = register_pack(env)
    fns = [_env_fn(env_id, dict(env_kwargs)) for _ in range(num_envs)]
    vector_class = AstraAsyncVectorEnv if vectorization == "async" else SyncVectorEnv
    return vector_class(fns, **(vector_kwargs or {}))


def vector_entry_point(num_envs: int, *, pack: str, vectorization: str = "sync",
                       vector_options: dict[str, Any] | None = None,
                       **env_kwargs: Any) -> VectorEnv:
    """The ``vector_entry_point`` of every astra env id (used by ``gym.make_vec``).

    ``gym.make_vec(id, n)`` keeps Gymnasium's default (``"sync"``);
    ``gym.make_vec(id, n, vectorization="async")`` gets
    :class:`AstraAsyncVectorEnv`. Gymnasium refuses ``vector_kwargs`` in this
    mode, so the vector env's own options travel as ``vector_options``; every
    other kwarg goes to every sub-env.
    """
    env_kwargs.pop("max_episode_steps", None)  # astra envs end episodes with max_turns
    return make_vec(pack, num_envs, vectorization=vectorization,
                    vector_kwargs=vector_options, **env_kwargs)
