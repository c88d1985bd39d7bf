"""One sandbox worker process: the child's serve loop and the parent's handle on it.

The in-process guards stop what Python-level hooks can see. Code fresh from an
LLM (or a hole in those guards) can also do things no hook sees: catastrophic
regex backtracking, C-level work on pathological data, a C-stack overflow, an
allocation through a path nobody wrapped, or with a policy escape, real
``os`` calls. A worker runs sessions in a separate interpreter that is
confined twice over:

* **by the sandbox policy**, exactly as in-process (RestrictedPython, budget,
  guards, allowlisted modules);
* **by the OS** (:mod:`.confine`): an empty environment (no inherited
  secrets), an empty working directory, its own network namespace, rlimits
  (address space = idle size + ``Limits.memory_mb``, no file writes, few file
  descriptors), no new privileges or capabilities, Landlock and a seccomp
  syscall allowlist (no sockets, no processes, no exec, no file creation, no
  signals to others);
* with a fixed hash seed (``PYTHONHASHSEED=0``; a fresh interpreter, not a
  fork) and a soft ``RLIMIT_CPU`` re-armed before every call;
* watched by the parent: no reply within ``Limits.timeout`` and the worker is
  killed.

The parent side, :class:`WorkerProcess`, only starts, talks to and kills one
process; what happens to sessions when a worker dies is the pool's business
(:mod:`.pool`). Requests and replies travel as pickles over a pair of pipes.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from .result import ErrorKind, ToolResult

__all__ = ["WorkerDied", "WorkerProcess", "WorkerTimeout"]

_STARTUP_TIMEOUT = 60.0


class WorkerDied(Exception):
    """The worker exited (or its pipes broke, or it broke the protocol) before replying."""

    def __init__(self, status: int | None, why: str = "") -> None:
        text = f"sandbox worker {why} and was killed" if why else "sandbox worker died"
        super().__init__(f"{text} (exit status {status})")
        self.status = status


_MAX_REPLY = 16 * 1024 * 1024  # bytes; a result is at most max_output characters


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a worker reply may not reference {module}.{name}")


def _plain_loads(data: bytes) -> Any:
    return _PlainUnpickler(io.BytesIO(data)).load()


class WorkerTimeout(Exception):
    """The worker did not reply within the call's wall-clock limit (it was killed)."""


def _vm_size() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _warm_up() -> None:
    """Import and touch everything tool code may need, before confinement.

    After confinement the worker can still read files (lazy imports work), but
    doing the work up front keeps calls fast and the syscall surface small.
    """
    from .modules import ALLOWED_MODULES
    from .policy import compile_tool
    from .session import InProcessSession

    session = InProcessSession()
    warm = "\n".join(f"import {name}" for name in ALLOWED_MODULES) + (
        "\ndef warm():\n"
        "    d = datetime.datetime.strptime('2024-02-29 13:45', '%Y-%m-%d %H:%M')\n"
        "    t = time.strptime('2024', '%Y')\n"
        "    x = decimal.Decimal('1.5') + 1\n"
        "    return [str(d), t.tm_year, str(x), 'é'.encode('gbk').decode('gbk')]\n")
    compile_tool(warm)
    session.call(warm, "warm")


def readable_paths() -> tuple[str, ...]:
    """What a confined worker may read: the interpreter, its packages and system libraries.

    A policy escape that reaches ``open`` could otherwise read the host user's
    files (``~/.aws/credentials``, ``.env`` files) and return them in a tool
    result, which lands in training logs.
    """
    import astra_gym

    package = os.path.dirname(os.path.abspath(astra_gym.__file__))
    # The interpreter and its installed packages, plus this package's own
    # directory, but not the directory that holds it: for a source checkout
    # or an editable install that is the user's project (``.env``, keys).
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, package}
    parent = os.path.dirname(package)
    paths.update(path for path in sys.path if path and os.path.isdir(path)
                 and os.path.abspath(path) not in (os.getcwd(), parent))
    paths.update(("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib",
                  "/usr/share/zoneinfo", "/etc/ld.so.cache", "/etc/localtime",
                  "/dev/null", "/dev/urandom", "/proc/self"))
    return tuple(sorted(path for path in paths if os.path.exists(path)))


def _serve(conn_in: Connection, conn_out: Connection, memory_mb: int, confine: bool) -> None:
    """The worker's loop (runs in the child interpreter)."""
    from .session import InProcessSession

    _warm_up()
    limit = _vm_size() + memory_mb * 1024 * 1024
    layers: dict[str, Any] = {}
    if confine:
        from .confine import ConfinementOptions, confine_current_process

        layers = confine_current_process(ConfinementOptions(
            address_space_bytes=limit, readable_paths=readable_paths()))
    else:
        with contextlib.suppress(OSError, ValueError):  # not Linux, or not permitted
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    sessions: dict[int, InProcessSession] = {}
    sources: dict[str, str] = {}
    conn_out.send(("ready", os.getpid(), {name: str(status) for name, status in layers.items()}))
    while True:
        try:
            request = conn_in.recv()
        except (EOFError, OSError):
            return
        op = request[0]
        if op == "call":
            _, request_id, sid, opening, key, source, func_name, kwargs, args = request
            if opening is not None:
                seed, clock, limits = opening
                sessions[sid] = InProcessSession(seed, clock, limits, os_bounded=True)
            if source is not None:
                sources[key] = source
            session = sessions.get(sid)
            if session is None or key not in sources:  # pragma: no cover - protocol error
                conn_out.send(("error", request_id, "unknown session or source"))
                continue
            _arm_cpu_limit(session.limits.timeout)
            try:
                result = session.call(sources[key], func_name, kwargs, args)
            except MemoryError:
                result = ToolResult.failure(ErrorKind.MEMORY, "MemoryError")
            # plain values only: the parent unpickles no classes
            conn_out.send(("result", request_id, tuple(result)))
        elif op == "close":
            sessions.pop(request[1], None)  # no reply: closing is fire-and-forget
        elif op == "doctor":
            from .confine import probe_report

            conn_out.send(("report", request[1], probe_report(layers)))
        elif op == "exit":
            return


_armed = [0.0]  # the soft RLIMIT_CPU now set, in CPU seconds (0: never armed)


def _arm_cpu_limit(timeout: float) -> None:
    """Make sure the coming call may use ``timeout`` more CPU seconds (plus slack).

    Only the soft limit moves: exceeding it sends ``SIGXCPU``, whose default
    action ends the worker. Setting the hard limit too would pin it at the first
    call's value (raising it needs ``CAP_SYS_RESOURCE``, which even root lacks
    in most containers, and the confined worker has dropped), and a worker that
    had served a few CPU seconds in all would then be killed in the middle of an
    innocent call. The limit is re-armed only when less than ``timeout + 1`` s
    of headroom is left, so the headroom always stays between ``timeout + 1``
    and ``timeout + 2`` s, at one syscall for most calls.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    if _armed[0] and used + timeout + 1 <= _armed[0]:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(used + timeout) + 2
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (OSError, ValueError):
        return
    _armed[0] = float(soft)


class WorkerProcess:
    """The parent's handle on one running worker.

    Not thread-safe on its own: the pool serialises requests per worker.

    Args:
        memory_mb: Address-space headroom above the worker's idle size.
        confine: Apply the OS confinement layers (:mod:`.confine`).
    """

    def __init__(self, memory_mb: int, confine: bool = True) -> None:
        self.memory_mb = memory_mb
        self.confine = confine
        self._workdir = tempfile.mkdtemp(prefix="astra-sandbox-")
        os.chmod(self._workdir, 0o500)  # empty and read-only, even for the worker's owner
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        from .confine import worker_environment

        # Even an unconfined worker (benchmarks, platforms without the layers)
        # gets the minimal environment: a fixed hash seed, UTC, no secrets.
        env = worker_environment()
        try:
            self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "astra_gym.sandbox.worker_main",
                 str(to_child_r), str(from_child_w), str(memory_mb), str(int(confine))],
                pass_fds=(to_child_r, from_child_w), env=env, cwd=self._workdir,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True)
        except BaseException:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            self._remove_workdir()
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)
        # One poll object for the worker's life: Connection.poll() builds a
        # selector per call, which costs more than the rest of a round trip.
        self._poller = select.poll()
        self._poller.register(from_child_r, select.POLLIN | select.POLLERR | select.POLLHUP)
        self.pid = self._proc.pid
        if not self._ready(_STARTUP_TIMEOUT):
            self.kill()
            raise RuntimeError(f"sandbox worker did not start within {_STARTUP_TIMEOUT:.0f} s")
        try:
            tag, _pid, layers = _plain_loads(self._recv.recv_bytes(_MAX_REPLY))
        except Exception as exc:
            status = self.kill()
            raise RuntimeError(f"sandbox worker failed to start (exit status {status})") from exc
        if tag != "ready" or not isinstance(layers, dict):  # pragma: no cover - protocol error
            self.kill()
            raise RuntimeError(f"sandbox worker sent {tag!r} instead of 'ready'")
        #: What each OS confinement layer reported at start ("active", "unavailable: ...").
        self.layers: dict[str, str] = {str(k): str(v) for k, v in layers.items()}

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def request(self, op: str, body: tuple, timeout: float | None) -> tuple[str, Any]:
        """Send one request and wait for its reply.

        The worker runs code that may have escaped the policy, so its replies
        are untrusted input: they are read with a size limit, unpickled without
        any class (plain tuples, strings and numbers only) and must carry the
        unguessable id of this request. Anything else kills the worker.

        Args:
            op: ``"call"`` or ``"doctor"``.
            body: The request's fields after its id.
            timeout: Seconds to wait for the reply (None: for ever).

        Returns:
            The reply's tag and payload.

        Raises:
            WorkerTimeout: no reply within ``timeout`` seconds (the worker is killed).
            WorkerDied: the worker exited, or broke the protocol, before replying.
        """
        request_id = os.urandom(8)
        self.send((op, request_id, *body))
        if timeout is not None and not self._ready(timeout):
            self.kill()
            raise WorkerTimeout
        try:
            tag, reply_id, payload = _plain_loads(self._recv.recv_bytes(_MAX_REPLY))
        except (EOFError, OSError):
            raise WorkerDied(self.kill()) from None
        except Exception:
            raise WorkerDied(self.kill(), "sent a malformed reply") from None
        if reply_id != request_id:
            raise WorkerDied(self.kill(), "replied out of turn")
        return tag, payload

    def _ready(self, timeout: float) -> bool:
        """Whether a reply (or the worker's end of the pipe closing) arrives in ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                return bool(self._poller.poll(max(int(remaining * 1000), 1)))
            except InterruptedError:  # pragma: no cover - PEP 475 retries, but be safe
                continue

    def send(self, message: tuple) -> None:
        """Send without waiting for a reply (raises WorkerDied when the pipe is broken)."""
        if self._proc is None:
            raise WorkerDied(None)
        try:
            self._send.send(message)
        except (OSError, ValueError):
            raise WorkerDied(self.kill()) from None

    def kill(self) -> int | None:
        """Kill the worker (idempotent); returns its exit status."""
        proc, self._proc = self._proc, None
        for conn in (self._send, self._recv):
            with contextlib.suppress(OSError):
                conn.close()
        status = None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
            status = proc.wait()
        self._remove_workdir()
        return status

    def detach(self) -> None:
        """Drop this handle without touching the process (a forked child's copy of it)."""
        self._proc = None
        for conn in (self._send, self._recv):
            with contextlib.suppress(OSError):
                conn.close()
        self._workdir = ""

    def close(self) -> None:
        """Ask the worker to exit, then make sure it did."""
        proc = self._proc
        if proc is not None:
            with contextlib.suppress(WorkerDied):
                self.send(("exit",))
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1.0)
        self.kill()

    def _remove_workdir(self) -> None:
        workdir = getattr(self, "_workdir", None)
        if workdir:
            with contextlib.suppress(OSError):
                os.chmod(workdir, 0o700)
            shutil.rmtree(workdir, ignore_errors=True)
            self._workdir = ""


def main(argv: list[str]) -> None:
    read_fd, write_fd, memory_mb, confine = (int(x) for x in argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    threading.excepthook = lambda args: None
    sys.unraisablehook = lambda unraisable: None  # tool finalizers must not print
    import warnings

    warnings.simplefilter("ignore")
    _serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False), memory_mb,
           bool(confine))
