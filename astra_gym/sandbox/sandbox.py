"""The public face of the sandbox: :class:`Sandbox` and :class:`SandboxSession`."""

from __future__ import annotations

import datetime as _dt
import itertools
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .limits import Limits
from .policy import compile_tool
from .pool import PoolSession, WorkerPool, default_pool
from .result import ErrorKind, ToolResult
from .session import DEFAULT_CLOCK, InProcessSession

__all__ = ["DEFAULT_ISOLATION", "Isolation", "Sandbox", "SandboxSession"]

Isolation = Literal["inprocess", "process"]
_ISOLATIONS = ("inprocess", "process")
#: Tool code is LLM-written and the arguments come from a policy that explores
#: for days: a hang or a segfault in a step would kill a training run, so the
#: default runs tools in confined, crash-safe worker processes. In-process is
#: for vetted packs where microseconds matter (docs/sandbox.md, "Threat model").
DEFAULT_ISOLATION: Isolation = "process"


class SandboxSession:
    """Tool state for one episode: seeded RNG, frozen clock, tool namespaces.

    Create with :meth:`Sandbox.session`. Calls within a session share tool
    module state (mock data a tool mutates stays mutated for the episode);
    separate sessions share nothing.
    """

    def __init__(self, sandbox: Sandbox, seed: int, clock: _dt.datetime) -> None:
        self._sandbox = sandbox  # keeps the sandbox (and its private pool) alive with us
        self.seed = seed
        self.clock = clock
        self._local: InProcessSession | None = None
        self._remote: PoolSession | None = None
        if sandbox.isolation == "inprocess":
            self._local = InProcessSession(seed, clock, sandbox.limits)
        else:
            self._remote = sandbox.pool.session(seed, clock, sandbox.limits)
        self._closed = False

    def call(self, source: str, func_name: str, kwargs: Mapping[str, Any] | None = None,
             args: Sequence[Any] = ()) -> ToolResult:
        """Run ``func_name`` from ``source`` with the given arguments.

        Args:
            source: Python source defining the tool function.
            func_name: Name of the function to call.
            kwargs: Keyword arguments.
            args: Positional arguments.

        Returns:
            The :class:`ToolResult`. Never raises for anything the tool does.
        """
        if self._local is not None:
            return self._local.call(source, func_name, kwargs, args)
        if self._remote is not None:
            return self._remote.call(source, func_name, kwargs, args)
        return ToolResult.failure(ErrorKind.SESSION_LOST, "the session is closed")

    @property
    def worker_pid(self) -> int | None:
        """In process isolation, the worker holding this session's state (None in-process)."""
        return self._remote.worker_pid if self._remote is not None else None

    def reset(self, seed: int | None = None) -> None:
        """Start over: forget tool state and re-seed the RNG.

        Reusing a session for the next episode is much cheaper than opening a
        new one, and gives the same results as a new session with that seed.

        Args:
            seed: The next episode's seed (default: keep the current one).
        """
        if seed is not None:
            self.seed = seed
        if self._local is not None:
            self._local.reset(seed)
        elif self._remote is not None:
            self._remote.reset(seed)

    def close(self) -> None:
        """Release the session's state (in its worker, for process isolation)."""
        if self._remote is not None:
            self._remote.close()
        self._local = None
        self._remote = None
        self._closed = True

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:  # noqa: SIM105 - at interpreter shutdown module globals may be gone
            self.close()
        except Exception:
            pass


class Sandbox:
    """Runs LLM-written tool code deterministically and safely.

    Args:
        isolation: ``"process"`` (default: sessions live in confined worker
            processes shared by the whole process, with a watchdog, rlimits and
            crash-safe replay; tens of microseconds per call) or
            ``"inprocess"`` (microseconds per call, for vetted packs; see the
            known limits in docs/sandbox.md).
        limits: Per-call limits; see :class:`Limits`.
        pool: Where process-isolated sessions run: ``None`` (default) for the
            process-wide pool for ``limits.memory_mb`` (one worker per core,
            shared by every sandbox and env), an ``int`` for a private pool of
            that many workers (closed with the sandbox), or a
            :class:`WorkerPool` you manage yourself.

    Example:
        >>> sandbox = Sandbox(isolation="inprocess")
        >>> session = sandbox.session(seed=7)
        >>> session.call("def f(x):\\n    return x * 2", "f", {"x": 21}).output
        '42'
    """

    def __init__(self, isolation: Isolation = DEFAULT_ISOLATION, limits: Limits | None = None,
                 *, pool: WorkerPool | int | None = None) -> None:
        if isolation not in _ISOLATIONS:
            raise ValueError(f"isolation must be one of {_ISOLATIONS}, got {isolation!r}")
        if pool is not None and not isinstance(pool, WorkerPool) and (
                not isinstance(pool, int) or isinstance(pool, bool) or pool < 1):
            raise ValueError(f"pool must be None, a positive int or a WorkerPool, got {pool!r}")
        self.isolation = isolation
        self.limits = limits or Limits()
        self._owns_pool = isinstance(pool, int)
        self._pool = (WorkerPool(pool, memory_mb=self.limits.memory_mb)
                      if isinstance(pool, int) else pool)
        self._sessions: weakref.WeakSet[SandboxSession] = weakref.WeakSet()
        self._ids = itertools.count(1)

    @property
    def pool(self) -> WorkerPool:
        """The worker pool process-isolated sessions run in."""
        if self._pool is not None:
            return self._pool
        return default_pool(self.limits.memory_mb)

    def session(self, seed: int = 0, clock: _dt.datetime | None = None) -> SandboxSession:
        """Open a session (one per episode).

        Args:
            seed: Seeds ``random`` and ``uuid.uuid4`` inside the tools.
            clock: What ``datetime.now()``/``time.time()`` return (naive = UTC).
                Defaults to :data:`DEFAULT_CLOCK`.
        """
        session = SandboxSession(self, int(seed), clock or DEFAULT_CLOCK)
        self._sessions.add(session)
        return session

    def run(self, source: str, func_name: str, kwargs: Mapping[str, Any] | None = None, *,
            args: Sequence[Any] = (), seed: int = 0,
            clock: _dt.datetime | None = None) -> ToolResult:
        """One call in a fresh session (convenient; sessions are cheaper to reuse)."""
        with self.session(seed, clock) as session:
            return session.call(source, func_name, kwargs, args)

    @staticmethod
    def check(source: str) -> tuple[str, ...]:
        """Compile errors of ``source`` under the policy (empty when it compiles)."""
        return compile_tool(source).errors

    def close(self) -> None:
        """Close this sandbox's sessions, and its private pool if it has one."""
        for session in list(self._sessions):
            session.close()
        if self._owns_pool and self._pool is not None:
            self._pool.close()

    def __getstate__(self) -> dict[str, Any]:
        """What a pickled sandbox carries: its settings, never live sessions or workers.

        A private pool travels as its size (the copy starts its own workers), a
        pool you manage is not picklable and the copy uses the process-wide
        pool; open sessions stay with the original.
        """
        private = self._pool.size if self._owns_pool and self._pool is not None else None
        return {"isolation": self.isolation, "limits": self.limits, "pool": private}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["isolation"], state["limits"], pool=state["pool"])  # type: ignore[misc]

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # No contextlib here: at interpreter shutdown module globals may
        # already be None, and a finalizer must never print a traceback.
        try:  # noqa: SIM105 - contextlib may be gone at shutdown
            self.close()
        except Exception:
            pass
