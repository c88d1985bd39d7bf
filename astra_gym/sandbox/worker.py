"""Process isolation: a persistent worker that runs sandbox sessions.

The in-process guards stop what Python-level hooks can see. Code fresh from an
LLM can also do things no hook sees: catastrophic regex backtracking, C-level
work on pathological data, allocations through paths we have not wrapped. For
that code the sandbox runs sessions in a separate interpreter:

* started with ``PYTHONHASHSEED=0`` (a fresh interpreter, not a fork, so the
  hash seed really is fixed);
* ``RLIMIT_AS`` at its idle size plus ``Limits.memory_mb``, so allocation bombs
  become a ``MemoryError`` inside the worker;
* the soft ``RLIMIT_CPU`` re-armed before every call (CPU time accumulates
  over the process's life, so the limit moves with it); the hard limit is left
  alone, because an unprivileged process can lower it but never raise it back;
* a parent-side wall-clock watchdog: no reply within ``Limits.timeout`` and the
  worker is killed; the call returns a ``timeout`` result and the next call
  starts a new worker.

Requests and replies travel as pickles over a pair of pipes.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import resource
import signal
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any

from .limits import Limits
from .result import ErrorKind, ToolResult

__all__ = ["ProcessWorker"]

_STARTUP_TIMEOUT = 60.0


def _vm_size() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _serve(conn_in: Connection, conn_out: Connection, memory_mb: int) -> None:
    """The worker's loop (runs in the child interpreter)."""
    from .session import InProcessSession

    try:
        limit = _vm_size() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (OSError, ValueError):  # not Linux, or not permitted: the watchdog remains
        pass
    sessions: dict[int, InProcessSession] = {}
    conn_out.send(("ready", os.getpid()))
    while True:
        try:
            request = conn_in.recv()
        except (EOFError, OSError):
            return
        op = request[0]
        if op == "call":
            _, sid, seed, clock, limits, source, func_name, kwargs, args = request
            session = sessions.get(sid)
            if session is None:
                session = sessions[sid] = InProcessSession(seed, clock, limits)
            _arm_cpu_limit(limits.timeout)
            try:
                result = session.call(source, func_name, kwargs, args)
            except MemoryError:
                result = ToolResult.failure(ErrorKind.MEMORY, "MemoryError")
            conn_out.send(("result", result))
        elif op == "reset":
            session = sessions.get(request[1])
            if session is not None:
                session.reset()
            conn_out.send(("ok", None))
        elif op == "close":
            sessions.pop(request[1], None)
            conn_out.send(("ok", None))
        elif op == "exit":
            return


def _arm_cpu_limit(timeout: float) -> None:
    """Let the coming call use ``timeout`` more CPU seconds (plus slack) than so far.

    Only the soft limit moves: exceeding it sends ``SIGXCPU``, whose default
    action ends the worker. Setting the hard limit too would pin it at the first
    call's value (raising it needs ``CAP_SYS_RESOURCE``, which even root lacks
    in most containers), and a worker that had served a few CPU seconds in all
    would then be killed in the middle of an innocent call.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + timeout) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class ProcessWorker:
    """The parent side: starts, talks to, times out and restarts the worker.

    Thread-safe: one request at a time.
    """

    def __init__(self, memory_mb: int) -> None:
        self._memory_mb = memory_mb
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._recv: Connection | None = None
        self.restarts = 0

    # -- lifecycle -------------------------------------------------------------
    def _start(self) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ, PYTHONHASHSEED="0", ASTRA_GYM_SANDBOX_WORKER="1")
        # The worker must import this very package, wherever it is installed.
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(
            [package_root, *filter(None, [env.get("PYTHONPATH")])])
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "astra_gym.sandbox.worker_main",
                 str(to_child_r), str(from_child_w), str(self._memory_mb)],
                pass_fds=(to_child_r, from_child_w), env=env, stdin=subprocess.DEVNULL,
                close_fds=True, start_new_session=True)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        if not self._recv.poll(_STARTUP_TIMEOUT):
            self._kill()
            raise RuntimeError("sandbox worker did not start within "
                               f"{_STARTUP_TIMEOUT:.0f} s")
        tag, _ = self._recv.recv()
        if tag != "ready":  # pragma: no cover - protocol error
            self._kill()
            raise RuntimeError(f"sandbox worker sent {tag!r} instead of 'ready'")

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        for conn in (self._send, self._recv):
            if conn is not None:
                conn.close()
        self._send = self._recv = None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                proc.kill()
        if proc is not None:
            proc.wait()

    def close(self) -> None:
        """Stop the worker (idempotent)."""
        with self._lock:
            if self._send is not None:
                with contextlib.suppress(OSError):
                    self._send.send(("exit",))
            self._kill()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    # -- requests --------------------------------------------------------------
    def _ensure(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:
                self._kill()
                self.restarts += 1
            self._start()

    def call(self, sid: int, seed: int, clock: _dt.datetime, limits: Limits, source: str,
             func_name: str, kwargs: dict[str, Any], args: tuple) -> ToolResult:
        request = ("call", sid, seed, clock, limits, source, func_name, kwargs, args)
        with self._lock:
            self._ensure()
            assert self._send is not None and self._recv is not None
            try:
                self._send.send(request)
            except (OSError, ValueError) as exc:
                self._kill()
                return ToolResult.failure(ErrorKind.CRASHED, f"sandbox worker unavailable: {exc}")
            if not self._recv.poll(limits.timeout):
                self._kill()
                self.restarts += 1
                return ToolResult.failure(
                    ErrorKind.TIMEOUT,
                    f"tool call exceeded the wall-clock limit of {limits.timeout:g} s")
            try:
                _tag, payload = self._recv.recv()
            except (EOFError, OSError):
                code = self._proc.wait() if self._proc is not None else None
                self._kill()
                self.restarts += 1
                if code == -signal.SIGXCPU:
                    return ToolResult.failure(ErrorKind.TIMEOUT, "tool call exceeded its CPU limit")
                return ToolResult.failure(
                    ErrorKind.CRASHED, f"sandbox worker died (exit status {code})")
            return payload

    def control(self, op: str, sid: int) -> None:
        """Reset or close a session in the worker (no-op if the worker is down)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                return
            assert self._send is not None and self._recv is not None
            try:
                self._send.send((op, sid))
                if self._recv.poll(_STARTUP_TIMEOUT):
                    self._recv.recv()
            except (OSError, EOFError):
                self._kill()


def main(argv: list[str]) -> None:
    read_fd, write_fd, memory_mb = (int(x) for x in argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    _serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory_mb)
