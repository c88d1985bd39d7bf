"""A shared pool of sandbox workers with sticky, crash-safe sessions.

Process isolation is the sandbox's strong mode, and it has to be cheap enough
to be the default for env steps: a thousand envs in one process must not mean
a thousand worker processes. A :class:`WorkerPool` runs at most ``size``
workers (one per core by default) and assigns each session to the least busy
one for its whole life (sticky: its tool state lives there). A tool's source
crosses the pipe once per worker, not once per call.

**Crash safety.** A session's tool state is a deterministic function of its
seed, its clock and the calls it made, so the parent keeps each session's call
log (with every result). When a worker dies (a segfault, the watchdog, an
address-space bomb, a kill from outside), the next call of each of its sessions
starts a fresh worker and *replays* that session's log into it, checking that
every replayed call gives the byte-identical result it gave the first time;
then the new call runs. A call that itself brought the worker down leaves the
session as it was before the call (it is not logged), and is retried once on
the fresh worker in case an outside kill hit it; if it fails again it returns
a ``worker_crashed`` (or ``timeout``/``memory_exceeded``) result. A session
whose log does not replay identically is *lost*: that call and every later one
return a ``session_lost`` error, never a silently reset state.
"""

from __future__ import annotations

import atexit
import datetime as _dt
import functools
import itertools
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .limits import Limits
from .policy import source_hash
from .result import ErrorKind, ToolResult
from .worker import WorkerDied, WorkerProcess, WorkerTimeout

__all__ = ["PoolSession", "WorkerPool", "default_pool"]

# sha256 of a tool source, once per distinct source (a str caches its own hash).
_source_key = functools.lru_cache(maxsize=4096)(source_hash)
# Results that say the worker (not the tool) failed: never logged, never replayed.
_WORKER_FAILURES = frozenset({ErrorKind.TIMEOUT, ErrorKind.CRASHED, ErrorKind.MEMORY})


@dataclass
class _Slot:
    """One worker position in the pool: the process now serving it, if any."""

    index: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    process: WorkerProcess | None = None
    generation: int = 0  # bumped at every (re)start
    sources: set[str] = field(default_factory=set)  # source keys this process holds
    sessions: int = 0  # open sessions assigned here
    restarts: int = 0


@dataclass(frozen=True)
class _LoggedCall:
    key: str
    source: str
    func_name: str
    kwargs: dict[str, Any]
    args: tuple
    result: ToolResult


_ERROR_KINDS = frozenset(value for name, value in vars(ErrorKind).items()
                         if not name.startswith("_"))
_MAX_OPS = 1 << 62


def _tool_result(result: Any) -> ToolResult | None:
    """``result`` when it is a well-formed ToolResult of plain fields, else None.

    The worker may run code that escaped the policy: :meth:`WorkerProcess.call`
    decodes its reply from a fixed binary layout, and this second check makes
    sure of every field's exact type before anything is compared or hashed
    (an error kind is looked up only once it is known to be a str).
    """
    if type(result) is not ToolResult:
        return None
    ok, output, error, error_kind, ops = result
    if (type(ok) is not bool or type(output) is not str or type(ops) is not int
            or not 0 <= ops <= _MAX_OPS
            or not (error is None or type(error) is str)
            or not (error_kind is None or (type(error_kind) is str
                                           and error_kind in _ERROR_KINDS))
            or ok != (error is None) or ok != (error_kind is None)):
        return None
    return result


class PoolSession:
    """The parent's side of one session in a :class:`WorkerPool`.

    Create with :meth:`WorkerPool.session`. Thread-safe per worker.
    """

    def __init__(self, pool: WorkerPool, sid: int, seed: int, clock: _dt.datetime,
                 limits: Limits) -> None:
        self._pool = pool
        self.sid = sid
        self.seed = seed
        self.clock = clock
        self.limits = limits
        self._slot: _Slot | None = None
        self._generation = -1  # the slot generation holding our state (-1: none)
        self._log: list[_LoggedCall] = []
        # The worker-side id and slot generation of the state a reset left behind, to be
        # dropped by the worker with the next call (None: nothing to drop).
        self._stale: tuple[int, int] | None = None
        #: Why the session could not be rebuilt after a worker died (None while healthy).
        self.lost: str | None = None
        self.closed = False

    @property
    def worker_pid(self) -> int | None:
        """The pid of the worker now holding this session's state, if any."""
        slot = self._slot
        if slot is None or slot.process is None or self._generation != slot.generation:
            return None
        return slot.process.pid

    def call(self, source: str, func_name: str, kwargs: Mapping[str, Any] | None = None,
             args: Sequence[Any] = ()) -> ToolResult:
        """Run one call in the session's worker (see the module docs for failures)."""
        if self.closed:
            return ToolResult.failure(ErrorKind.SESSION_LOST, "the session is closed")
        if self.lost is not None:
            return ToolResult.failure(ErrorKind.SESSION_LOST, self.lost)
        slot = self._slot if self._slot is not None else self._pool._assign(self)
        kwargs = dict(kwargs or {})
        args = tuple(args)
        key = _source_key(source)
        with slot.lock:
            for attempt in (1, 2):
                try:
                    lost = self._ensure_state(slot)
                except WorkerDied:
                    # killed from outside between calls or while replaying: once more
                    self._pool._lost_worker(slot)
                    if attempt == 1:
                        continue
                    return self._lose("its worker died again while its calls were replayed")
                if lost is not None:
                    return lost
                try:
                    result = self._send_call(slot, key, source, func_name, kwargs, args)
                except WorkerTimeout:
                    self._pool._lost_worker(slot)
                    return ToolResult.failure(
                        ErrorKind.TIMEOUT,
                        f"tool call exceeded the wall-clock limit of {self.limits.timeout:g} s")
                except WorkerDied as died:
                    self._pool._lost_worker(slot)
                    if attempt == 1:
                        continue  # maybe killed from outside: rebuild and retry once
                    if died.status == -_SIGXCPU:
                        return ToolResult.failure(ErrorKind.TIMEOUT,
                                                  "tool call exceeded its CPU limit")
                    return ToolResult.failure(ErrorKind.CRASHED, str(died))
                if result.error_kind == ErrorKind.MEMORY:
                    # The address-space limit is shared by the worker's sessions, so
                    # where a MemoryError strikes is not a function of this call:
                    # recycle the worker and keep the call out of the log.
                    self._pool._lost_worker(slot)
                    return result
                self._log.append(_LoggedCall(key, source, func_name, kwargs, args, result))
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_state(self, slot: _Slot) -> ToolResult | None:
        """Start the slot's worker if needed and replay the log into it; a result means lost.

        Raises:
            WorkerDied: the worker died while the log was replayed (the caller retries).
        """
        # A worker that died since the last call is noticed when the request
        # fails (WorkerDied), not by polling its status on every call.
        if slot.process is None:
            self._pool._start(slot)
        if self._generation == slot.generation:
            return None
        for number, logged in enumerate(self._log, 1):
            try:
                replayed = self._send_call(slot, logged.key, logged.source, logged.func_name,
                                           logged.kwargs, logged.args)
            except WorkerTimeout:
                self._pool._lost_worker(slot)
                return self._lose(f"replaying call {number} after a worker restart exceeded "
                                  "the wall-clock limit")
            if replayed != logged.result:
                return self._lose(f"replaying call {number} after a worker restart gave a "
                                  "different result")
        return None

    def _send_call(self, slot: _Slot, key: str, source: str, func_name: str,
                   kwargs: dict[str, Any], args: tuple) -> ToolResult:
        process = slot.process
        assert process is not None
        # The first message after a (re)start opens the session in the worker.
        opening = None if self._generation == slot.generation else (
            self.seed, self.clock, self.limits)
        send_source = None if key in slot.sources else source
        stale, self._stale = self._stale, None
        closing = stale[0] if stale is not None and stale[1] == slot.generation else None
        result = process.call((self.sid, opening, key, send_source, func_name, kwargs, args,
                               closing), self.limits.timeout)
        self._generation = slot.generation
        slot.sources.add(key)
        if _tool_result(result) is None:  # pragma: no cover - call() decodes strictly
            raise WorkerDied(process.kill(), "sent a malformed result")
        return result

    def _lose(self, reason: str) -> ToolResult:
        self.lost = (f"the sandbox session was lost: {reason}; its tool state cannot be "
                     "rebuilt (start a new session)")
        return ToolResult.failure(ErrorKind.SESSION_LOST, self.lost)

    def reset(self, seed: int | None = None) -> None:
        """Forget tool state: the next call starts from the seed (or ``seed``) again.

        The worker drops the old state when the next call arrives (the id rides on
        that call's message), not in a message of its own: a reset between episodes
        then costs no pipe write and no worker wake-up. :meth:`close` drops it at once.
        """
        if seed is not None:
            self.seed = seed
        slot = self._slot
        if slot is not None and slot.process is not None and self._generation == slot.generation:
            self._stale = (self.sid, slot.generation)  # a call since the last reset cleared it
        self._log.clear()
        self.lost = None
        self._generation = -1
        self.sid = next(self._pool._ids)

    def close(self) -> None:
        """Release the session (idempotent)."""
        if self.closed:
            return
        self.closed = True
        slot = self._slot
        if slot is not None:
            if self._stale is not None:
                self._pool._close_in_worker(slot, self._stale)
                self._stale = None
            self._pool._close_in_worker(slot, (self.sid, self._generation))
        self._pool._release(self)
        self._log.clear()


class WorkerPool:
    """Sandbox workers shared by every process-isolated session of this process.

    Args:
        size: Most workers to run (default: the number of CPU cores). Workers start
            lazily, when a session needs one.
        memory_mb: Address-space headroom of each worker above its idle size.
        confine: Apply the OS confinement layers to each worker (default True).
    """

    def __init__(self, size: int | None = None, *, memory_mb: int = Limits().memory_mb,
                 confine: bool = True) -> None:
        self.size = max(1, size if size is not None else (os.cpu_count() or 1))
        self.memory_mb = memory_mb
        self.confine = confine
        self._slots = [_Slot(i) for i in range(self.size)]
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pid = os.getpid()
        _all_pools.add(self)

    # -- sessions -----------------------------------------------------------------
    def session(self, seed: int = 0, clock: _dt.datetime | None = None,
                limits: Limits | None = None) -> PoolSession:
        """A new session (no worker is involved until its first call)."""
        from .session import DEFAULT_CLOCK

        self._check_fork()
        return PoolSession(self, next(self._ids), int(seed), clock or DEFAULT_CLOCK,
                           limits or Limits(memory_mb=self.memory_mb))

    def _assign(self, session: PoolSession) -> _Slot:
        self._check_fork()
        with self._lock:
            slot = min(self._slots, key=lambda s: (s.sessions, s.process is None, s.index))
            slot.sessions += 1
            session._slot = slot
            return slot

    def _release(self, session: PoolSession) -> None:
        slot = session._slot
        if slot is not None:
            with self._lock:
                slot.sessions -= 1
            session._slot = None

    def _close_in_worker(self, slot: _Slot, state: tuple[int, int]) -> None:
        """Drop a session's state ``(sid, generation)`` in the slot's worker, if it is there."""
        sid, generation = state
        if self._pid != os.getpid():
            return
        with slot.lock:
            if slot.process is not None and generation == slot.generation:
                try:
                    slot.process.send(("close", sid))
                except WorkerDied:
                    self._lost_worker(slot)

    # -- workers ------------------------------------------------------------------
    def _start(self, slot: _Slot) -> None:
        slot.process = WorkerProcess(self.memory_mb, self.confine)
        slot.generation += 1
        slot.sources = set()

    def _lost_worker(self, slot: _Slot) -> None:
        if slot.process is not None:
            slot.process.kill()
            slot.process = None
            slot.restarts += 1
        slot.generation += 1  # every session on it must be rebuilt
        slot.sources = set()

    def _check_fork(self) -> None:
        # A forked child inherits our pipes to the parent's workers: talking on
        # them would interleave with the parent. Start over with fresh slots
        # (and close the inherited pipe ends, so the parent's workers still see
        # end-of-file when the parent goes away).
        if os.getpid() != self._pid:
            for slot in self._slots:
                if slot.process is not None:
                    slot.process.detach()
            self._pid = os.getpid()
            self._lock = threading.Lock()
            self._slots = [_Slot(i) for i in range(self.size)]

    @property
    def workers(self) -> list[WorkerProcess]:
        """The worker processes running now."""
        return [slot.process for slot in self._slots if slot.process is not None]

    @property
    def restarts(self) -> int:
        """Workers replaced after dying, over the pool's life."""
        return sum(slot.restarts for slot in self._slots)

    def doctor(self) -> dict[str, Any]:
        """Start (or use) a worker and return its confinement report (live probes)."""
        self._check_fork()
        slot = self._slots[0]
        with slot.lock:
            if slot.process is not None and not slot.process.alive:
                self._lost_worker(slot)
            if slot.process is None:
                self._start(slot)
            assert slot.process is not None
            _tag, report = slot.process.request("doctor", (), 60.0)
        return report

    def close(self) -> None:
        """Stop every worker (sessions rebuild on their next call, in new workers)."""
        if self._pid != os.getpid():
            return
        for slot in self._slots:
            with slot.lock:
                if slot.process is not None:
                    slot.process.close()
                    slot.process = None
                    slot.generation += 1
                    slot.sources = set()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_SIGXCPU = 24  # signal.SIGXCPU on Linux; a negative returncode of this means the CPU limit
_default_pools: dict[tuple[int, int], WorkerPool] = {}
_default_lock = threading.Lock()


def default_pool(memory_mb: int = Limits().memory_mb) -> WorkerPool:
    """The process-wide pool for ``memory_mb`` (one worker per core, started lazily)."""
    key = (os.getpid(), memory_mb)
    with _default_lock:
        pool = _default_pools.get(key)
        if pool is None:
            pool = _default_pools[key] = WorkerPool(memory_mb=memory_mb)
        return pool


_all_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for pool in list(_all_pools):
        pool._check_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@atexit.register
def _close_default_pools() -> None:
    for (pid, _), pool in list(_default_pools.items()):
        if pid == os.getpid():
            pool.close()
