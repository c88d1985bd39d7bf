"""Envs for the eval loop, stepped in one dedicated thread.

An env step costs micro- to milliseconds (the sandbox call), far less than a
model request, so one thread serves every episode in flight. It keeps env work
off the event loop (a tool that runs into its time limit must not stall the
other episodes' requests), and every env is made, stepped and closed by that
same thread, so the sandbox never sees two threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["EnvPool"]

T = TypeVar("T")


class EnvPool:
    """Reusable envs of one env id, made on demand, all driven by one thread.

    Args:
        env_id: The registered env id.
        env_kwargs: ``gym.make`` keyword arguments.
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any]) -> None:
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="astra-eval-env")
        self._free: list[Any] = []
        self._all: list[Any] = []

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, float]:
        """Run ``function(*args, **kwargs)`` in the env thread.

        Returns:
            Its result and the seconds it took there.
        """
        def timed() -> tuple[T, float]:
            start = time.perf_counter()
            result = function(*args, **kwargs)
            return result, time.perf_counter() - start

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(timed))

    def _make(self) -> Any:
        import gymnasium as gym

        return gym.make(self.env_id, **self.env_kwargs)

    async def acquire(self) -> Any:
        """A free env, or a new one.

        Raises:
            Exception: Whatever ``gym.make`` raises for unusable keyword arguments.
        """
        if self._free:
            return self._free.pop()
        env, _ = await self.run(self._make)
        self._all.append(env)
        return env

    def release(self, env: Any) -> None:
        """Give back an env whose episode ended (not one cancelled mid-step)."""
        self._free.append(env)

    def close(self) -> None:
        """Close every env in the env thread (after any step still running) and stop it."""
        envs, self._all, self._free = self._all, [], []

        def close_all() -> None:
            for env in envs:
                with contextlib.suppress(Exception):  # must not hide the run's outcome
                    env.close()

        self._executor.submit(close_all)
        self._executor.shutdown(wait=True)
