"""The public face of the sandbox: :class:`Sandbox` and :class:`SandboxSession`."""

from __future__ import annotations

import datetime as _dt
import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .limits import Limits
from .policy import compile_tool
from .result import ToolResult
from .session import DEFAULT_CLOCK, InProcessSession
from .worker import ProcessWorker

__all__ = ["Isolation", "Sandbox", "SandboxSession"]

Isolation = Literal["inprocess", "process"]
_ISOLATIONS = ("inprocess", "process")


class SandboxSession:
    """Tool state for one episode: seeded RNG, frozen clock, tool namespaces.

    Create with :meth:`Sandbox.session`. Calls within a session share tool
    module state (mock data a tool mutates stays mutated for the episode);
    separate sessions share nothing.
    """

    def __init__(self, sandbox: Sandbox, sid: int, seed: int, clock: _dt.datetime) -> None:
        self._sandbox = sandbox
        self._sid = sid
        self.seed = seed
        self.clock = clock
        self._local: InProcessSession | None = None
        if sandbox.isolation == "inprocess":
            self._local = InProcessSession(seed, clock, sandbox.limits)

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
        worker = self._sandbox._worker()
        return worker.call(self._sid, self.seed, self.clock, self._sandbox.limits, source,
                           func_name, dict(kwargs or {}), tuple(args))

    def reset(self) -> None:
        """Start over: forget tool state and re-seed the RNG."""
        if self._local is not None:
            self._local.reset()
        else:
            self._sandbox._worker().control("reset", self._sid)

    def close(self) -> None:
        """Release the session's state (in the worker, for process isolation)."""
        if self._local is None and self._sandbox._process is not None:
            self._sandbox._process.control("close", self._sid)
        self._local = None

    def __enter__(self) -> SandboxSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Sandbox:
    """Runs LLM-written tool code deterministically and safely.

    Args:
        isolation: ``"inprocess"`` (default; microseconds per call, for env
            steps over vetted tools) or ``"process"`` (a persistent worker
            process with rlimits and a wall-clock watchdog; for code fresh from
            an LLM).
        limits: Per-call limits; see :class:`Limits`.

    Example:
        >>> sandbox = Sandbox()
        >>> session = sandbox.session(seed=7)
        >>> session.call("def f(x):\\n    return x * 2", "f", {"x": 21}).output
        '42'
    """

    def __init__(self, isolation: Isolation = "inprocess", limits: Limits | None = None) -> None:
        if isolation not in _ISOLATIONS:
            raise ValueError(f"isolation must be one of {_ISOLATIONS}, got {isolation!r}")
        self.isolation = isolation
        self.limits = limits or Limits()
        self._process: ProcessWorker | None = None
        self._ids = itertools.count(1)

    def _worker(self) -> ProcessWorker:
        if self._process is None:
            self._process = ProcessWorker(self.limits.memory_mb)
        return self._process

    def session(self, seed: int = 0, clock: _dt.datetime | None = None) -> SandboxSession:
        """Open a session (one per episode).

        Args:
            seed: Seeds ``random`` and ``uuid.uuid4`` inside the tools.
            clock: What ``datetime.now()``/``time.time()`` return (naive = UTC).
                Defaults to :data:`DEFAULT_CLOCK`.
        """
        return SandboxSession(self, next(self._ids), int(seed), clock or DEFAULT_CLOCK)

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
        """Stop the worker process, if any."""
        if self._process is not None:
            self._process.close()
            self._process = None

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
