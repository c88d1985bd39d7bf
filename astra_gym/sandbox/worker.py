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
import struct
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
#: Largest plain-data reply (the start message, doctor's report): checked opcode by
#: opcode in Python before it is unpickled, so it is kept small.
_MAX_PLAIN_REPLY = 256 * 1024
_MAX_PLAIN_DEPTH = 16  # nesting of containers in a plain-data reply
#: Seconds a message to the worker may take to go into the pipe (a worker that
#: stops reading would otherwise block the parent in write()).
_SEND_TIMEOUT = 10.0
_HEADER = struct.Struct("!i")  # multiprocessing.connection's frame header
#: Bytes asked of one read(): a whole request or reply frame for almost every call.
_READ_CHUNK = 65536
#: A call's reply: tag, request id, ok, error kind (index into _ERROR_KIND_CODES,
#: -1 for None), ops, and the byte lengths of the output and error texts that follow.
_RESULT = struct.Struct("!c8s?bqII")
_RESULT_TAG = b"R"
_PLAIN_TAG = b"P"
#: The error kinds a result may carry, by position (the same table on both sides).
_ERROR_KIND_CODES = tuple(sorted(value for name, value in vars(ErrorKind).items()
                                 if not name.startswith("_")))
_MAX_OPS = (1 << 62)  # ops beyond this are not a result of any budget


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles plain data only: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"a worker reply may not reference {module}.{name}")


# Opcodes of plain data (protocol 4, no memo: the worker pickles in fast mode).
_PLAIN_SCALARS = frozenset({
    "NONE", "NEWTRUE", "NEWFALSE", "BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT",
    "SHORT_BINUNICODE", "BINUNICODE", "SHORT_BINBYTES", "BINBYTES"})
_PLAIN_EMPTY = frozenset({"EMPTY_TUPLE", "EMPTY_LIST", "EMPTY_DICT"})
_PLAIN_TUPLES = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}


def _check_plain(data: bytes) -> None:
    """Refuse a pickle that is anything but small, shallow, unshared plain data.

    Unpickling hashes dict keys and set items as it builds them, and a reply
    that is merely *stored* can still be hashed, compared or freed later: a
    tuple nested a million deep overflows the parent's C stack in any of
    those. So before anything is built, the opcodes are walked (in Python,
    iteratively): only scalars, tuples, lists and dicts with scalar keys, at
    most ``_MAX_PLAIN_DEPTH`` deep, no memo references (no shared nodes).

    Raises:
        ValueError: the pickle is not plain data of that shape.
    """
    import pickletools

    stack: list[int] = []  # the nesting depth of each value on the unpickler's stack
    marks: list[int] = []
    for opcode, _arg, _pos in pickletools.genops(data):
        name = opcode.name
        if name in _PLAIN_SCALARS:
            stack.append(0)
        elif name in _PLAIN_EMPTY:
            stack.append(1)
        elif name == "MARK":
            marks.append(len(stack))
        elif name == "TUPLE" or name == "APPENDS" or name == "SETITEMS":
            start = marks.pop()
            items = stack[start:]
            del stack[start:]
            if name == "SETITEMS" and any(items[0::2]):
                raise ValueError("a dict key that is not a scalar")
            depth = 1 + max(items, default=0)
            if name == "TUPLE":
                stack.append(depth)
            else:
                stack[-1] = max(stack[-1], depth)
        elif name in _PLAIN_TUPLES:
            count = _PLAIN_TUPLES[name]
            if len(stack) < count:
                raise ValueError("stack underflow")
            items = stack[-count:]
            del stack[-count:]
            stack.append(1 + max(items))
        elif name == "APPEND":
            item = stack.pop()
            stack[-1] = max(stack[-1], item + 1)
        elif name == "SETITEM":
            value, key = stack.pop(), stack.pop()
            if key:
                raise ValueError("a dict key that is not a scalar")
            stack[-1] = max(stack[-1], value + 1)
        elif name in ("PROTO", "FRAME", "STOP"):
            continue
        else:
            raise ValueError(f"opcode {name} is not plain data")
        if stack and stack[-1] > _MAX_PLAIN_DEPTH:
            raise ValueError("nested too deep")


def _plain_loads(data: bytes) -> Any:
    """A plain-data reply (see :func:`_check_plain`), unpickled without any class."""
    if len(data) > _MAX_PLAIN_REPLY:
        raise ValueError("plain reply too long")
    try:
        _check_plain(data)
    except (IndexError, KeyError):  # a pop from an empty stack or mark list
        raise ValueError("malformed pickle") from None
    return _PlainUnpickler(io.BytesIO(data)).load()


def _plain_dumps(value: Any) -> bytes:
    """``value`` pickled without memo entries (what :func:`_plain_loads` accepts)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=4)
    pickler.fast = True  # no memo: no shared nodes, no GET opcodes
    pickler.dump(value)
    return buffer.getvalue()


def encode_result(request_id: bytes, result: ToolResult) -> bytes:
    """The frame body of a call's reply (the worker's side)."""
    ok, output, error, error_kind, ops = result
    out = output.encode("utf-8", "surrogatepass")
    err = (error or "").encode("utf-8", "surrogatepass")
    kind = -1 if error_kind is None else _ERROR_KIND_CODES.index(error_kind)
    return _RESULT.pack(_RESULT_TAG, request_id, bool(ok), kind,
                        max(0, min(int(ops), _MAX_OPS)), len(out), len(err)) + out + err


def decode_result(data: bytes, request_id: bytes) -> ToolResult:
    """A call's reply as a ToolResult; every field checked (the parent's side).

    Nothing of the reply is hashed, compared as a structure or kept as an
    object the worker chose: the fixed header gives a bool, a small index into
    the parent's own error-kind table and an int64, and the texts are decoded
    from byte counts the header states exactly.

    Raises:
        ValueError: the reply is malformed or answers another request.
    """
    if len(data) < _RESULT.size:
        raise ValueError("short reply")
    tag, reply_id, ok, kind, ops, out_len, err_len = _RESULT.unpack_from(data)
    if tag != _RESULT_TAG:
        raise ValueError("not a result")
    if reply_id != request_id:
        raise _OutOfTurn
    if _RESULT.size + out_len + err_len != len(data) or not 0 <= ops <= _MAX_OPS \
            or not -1 <= kind < len(_ERROR_KIND_CODES) or ok != (kind == -1):
        raise ValueError("malformed result")
    start = _RESULT.size
    output = data[start:start + out_len].decode("utf-8", "surrogatepass")
    error = data[start + out_len:].decode("utf-8", "surrogatepass") if not ok else None
    if ok and err_len:
        raise ValueError("an ok result with an error text")
    return ToolResult(ok, output, error, None if ok else _ERROR_KIND_CODES[kind], ops)


class _OutOfTurn(Exception):
    """A reply that carries another request's id."""


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


class _RequestFrames:
    """The parent's request frames, read straight from the pipe's file descriptor.

    One ``read`` usually brings a whole frame (the parent writes header and body
    in one ``write``), where ``Connection.recv`` issues two reads and a Python-level
    loop per message. Frames that arrive together (a fire-and-forget ``close``
    followed by a call) are kept for the next request. The parent is trusted: a
    frame is whatever length its header states.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def next(self) -> bytes:
        """The next request's pickle (raises EOFError when the parent closed the pipe)."""
        buffer = self._buffer
        while True:
            if len(buffer) >= _HEADER.size:
                end = _HEADER.size + _HEADER.unpack_from(buffer)[0]
                if len(buffer) >= end:
                    self._buffer = buffer[end:]
                    return buffer[_HEADER.size:end]
                chunk = os.read(self._fd, max(end - len(buffer), _READ_CHUNK))
            else:
                chunk = os.read(self._fd, _READ_CHUNK)
            if not chunk:
                raise EOFError
            buffer += chunk



def _send_frame(fd: int, body: bytes) -> None:
    """Write one frame (header and body in one ``write`` when the pipe takes it all)."""
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view):]


def _reopen(stale: Any, seed: int, clock: Any, limits: Any) -> Any:
    """The session of a new episode: the one a reset left behind, reset in place, when it can be.

    A session reset in place answers exactly as a new one of the same seed, clock and
    limits (``tests/sandbox/test_session_reuse.py`` compares them), costs a fraction of
    building one, and frees what the last episode's tools held at once: a dropped
    session waits for the cyclic GC (its hooks form reference cycles), and a worker
    serving many short episodes of a tool with big module state used to run out of
    address space before that GC came. With another clock or limits a new session is
    built (the stale one is still reset, to free its state).
    """
    from .session import InProcessSession

    if stale is not None:
        stale.reset(seed)
        if stale.limits == limits and repr(stale.clock) == repr(clock):
            return stale
    return InProcessSession(seed, clock, limits, os_bounded=True)


def _serve(read_fd: int, write_fd: int, memory_mb: int, confine: bool) -> None:
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
    _send_frame(write_fd, _PLAIN_TAG + _plain_dumps(
        ("ready", os.getpid(), {name: str(status) for name, status in layers.items()})))
    requests = _RequestFrames(read_fd)
    while True:
        try:
            request = pickle.loads(requests.next())
        except (EOFError, OSError):
            return
        op = request[0]
        if op == "call":
            _, request_id, sid, opening, key, source, func_name, kwargs, args, closing = request
            stale = None if closing is None else sessions.pop(closing, None)
            if opening is not None:
                sessions[sid] = _reopen(stale, *opening)
            elif stale is not None:
                stale.reset()  # frees what its tools held now, not at the next cyclic GC
            if source is not None:
                sources[key] = source
            session = sessions.get(sid)
            if session is None or key not in sources:  # pragma: no cover - protocol error
                _send_frame(write_fd, _PLAIN_TAG + _plain_dumps(
                    ("error", request_id, "unknown session or source")))
                continue
            _arm_cpu_limit(session.limits.timeout)
            try:
                result = session.call(sources[key], func_name, kwargs, args)
            except MemoryError:
                result = ToolResult.failure(ErrorKind.MEMORY, "MemoryError")
            # a fixed binary layout: the parent hashes and unpickles nothing of it
            _send_frame(write_fd, encode_result(request_id, result))
        elif op == "close":  # no reply: closing is fire-and-forget
            closed = sessions.pop(request[1], None)
            if closed is not None:
                closed.reset()  # frees what its tools held now, not at the next cyclic GC
        elif op == "doctor":
            from .confine import probe_report

            _send_frame(write_fd, _PLAIN_TAG + _plain_dumps(
                ("report", request[1], probe_report(layers))))
        elif op == "exit":
            return


#: The soft RLIMIT_CPU now set (CPU seconds; 0: never armed), and the CPU time used
#: and the monotonic clock at the last ``getrusage``.
_armed = [0.0, 0.0, 0.0]


def _arm_cpu_limit(timeout: float) -> None:
    """Make sure the coming call may use ``timeout`` more CPU seconds (plus slack).

    Only the soft limit moves: exceeding it sends ``SIGXCPU``, whose default
    action ends the worker. Setting the hard limit too would pin it at the first
    call's value (raising it needs ``CAP_SYS_RESOURCE``, which even root lacks
    in most containers, and the confined worker has dropped), and a worker that
    had served a few CPU seconds in all would then be killed in the middle of an
    innocent call. The limit is re-armed only when less than ``timeout + 1`` s
    of headroom is left, so the headroom always stays between ``timeout + 1``
    and ``timeout + 2`` s.

    The worker runs one thread, so its CPU time cannot grow faster than the wall
    clock: ``getrusage`` (a syscall) is skipped while the CPU time measured last,
    plus the wall time since, still leaves that headroom, which makes it about
    one syscall per second of wall time instead of one per call. Were the worker
    ever to use more CPU than wall time, the soft limit would fire early and end
    the worker (a failed call, then a replay), never late.
    """
    armed, used_then, checked_at = _armed
    now = time.monotonic()
    if armed and used_then + (now - checked_at) + timeout + 1 <= armed:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _armed[1], _armed[2] = used, now  # the clock read before the usage: conservative
    if armed and used + timeout + 1 <= armed:
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


_WORKDIR_PREFIX = "astra-sandbox-"
_swept = {"pid": 0}


def _sweep_orphaned_workdirs() -> None:
    """Remove the empty working directories of workers whose parent process died.

    A worker runs in an empty, read-only directory that its parent removes on
    close, and at exit through the pools' ``atexit`` hook. A parent killed with
    SIGKILL (a cancelled training job, a test's ``kill -9``) cannot, so each
    directory's name carries its parent's pid, and the first worker a process
    starts removes those of parents that no longer exist. Only directories of
    this user, named ``astra-sandbox-<pid>-...``, whose pid is gone, are touched;
    a live or unknown pid (another user's process, an odd name) keeps its own.
    """
    if _swept["pid"] == os.getpid():
        return
    _swept["pid"] = os.getpid()
    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        pid_text = name[len(_WORKDIR_PREFIX):].split("-", 1)[0]
        if not name.startswith(_WORKDIR_PREFIX) or not (pid_text.isascii()
                                                        and pid_text.isdigit()):
            continue
        pid = int(pid_text)
        if pid == os.getpid() or _process_exists(pid):
            continue
        path = os.path.join(root, name)
        with contextlib.suppress(OSError):
            if os.lstat(path).st_uid != os.getuid() or os.path.islink(path):
                continue
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user's
        return True
    return True


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
        _sweep_orphaned_workdirs()
        self._workdir = tempfile.mkdtemp(prefix=f"{_WORKDIR_PREFIX}{os.getpid()}-")
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
        self._send_fd, self._recv_fd = to_child_w, from_child_r  # used only while _proc is set
        self._ids: list[bytes] = []
        # Both ends non-blocking: every read and write waits in poll() against
        # a deadline, so a worker that stops half-way through a reply (or stops
        # reading its requests) cannot block the parent beyond it.
        os.set_blocking(to_child_w, False)
        os.set_blocking(from_child_r, False)
        # One poll object per direction for the worker's life: Connection.poll()
        # builds a selector per call, which costs more than the rest of a round trip.
        self._poller = select.poll()
        self._poller.register(from_child_r, select.POLLIN | select.POLLERR | select.POLLHUP)
        self._write_poller = select.poll()
        self._write_poller.register(to_child_w, select.POLLOUT | select.POLLERR)
        self.pid = self._proc.pid
        try:
            frame = self._reply(time.monotonic() + _STARTUP_TIMEOUT, _MAX_PLAIN_REPLY + 1)
        except WorkerTimeout:
            raise RuntimeError(f"sandbox worker did not start within {_STARTUP_TIMEOUT:.0f} s"
                               ) from None
        except WorkerDied as died:
            raise RuntimeError(f"sandbox worker failed to start (exit status {died.status})"
                               ) from None
        try:
            if frame[:1] != _PLAIN_TAG:
                raise ValueError("not a plain reply")
            tag, _pid, layers = _plain_loads(frame[1:])
        except Exception as exc:
            status = self.kill()
            raise RuntimeError(f"sandbox worker failed to start (exit status {status})") from exc
        if tag != "ready" or not isinstance(layers, dict):  # pragma: no cover - protocol error
            self.kill()
            raise RuntimeError("sandbox worker did not send 'ready'")
        #: What each OS confinement layer reported at start ("active", "unavailable: ...").
        self.layers: dict[str, str] = {str(k): str(v) for k, v in layers.items()}

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def call(self, body: tuple, timeout: float | None) -> ToolResult:
        """Run one tool call (``body``: the fields of a "call" request after its id).

        The worker runs code that may have escaped the policy, so its reply is
        untrusted input: the whole frame must arrive within ``timeout`` (not
        just its first byte), it is at most ``_MAX_REPLY`` bytes, it must carry
        this request's unguessable id, and it is decoded from a fixed binary
        layout (:func:`decode_result`), never unpickled. Anything else kills
        the worker.

        Raises:
            WorkerTimeout: no complete reply within ``timeout`` s (the worker is killed).
            WorkerDied: the worker exited, or broke the protocol, before replying.
        """
        request_id = self._request_id()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._send_message(("call", request_id, *body), deadline)
        frame = self._reply(deadline, _MAX_REPLY)
        try:
            return decode_result(frame, request_id)
        except _OutOfTurn:
            raise WorkerDied(self.kill(), "replied out of turn") from None
        except ValueError:  # UnicodeDecodeError included
            raise WorkerDied(self.kill(), "sent a malformed reply") from None

    def request(self, op: str, body: tuple, timeout: float | None) -> tuple[str, Any]:
        """Send a request other than a call (``"doctor"``) and wait for its plain-data reply.

        The reply is checked like a call's (a deadline for the whole frame, a
        size limit, this request's id) and must be small, shallow plain data
        (:func:`_plain_loads`).

        Returns:
            The reply's tag and payload.

        Raises:
            WorkerTimeout: no complete reply within ``timeout`` s (the worker is killed).
            WorkerDied: the worker exited, or broke the protocol, before replying.
        """
        request_id = self._request_id()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._send_message((op, request_id, *body), deadline)
        frame = self._reply(deadline, _MAX_PLAIN_REPLY + 1)
        try:
            if frame[:1] != _PLAIN_TAG:
                raise ValueError("not a plain reply")
            tag, reply_id, payload = _plain_loads(frame[1:])
        except Exception:
            raise WorkerDied(self.kill(), "sent a malformed reply") from None
        if type(reply_id) is not bytes or reply_id != request_id:
            raise WorkerDied(self.kill(), "replied out of turn")
        return tag, payload

    # -- framing ------------------------------------------------------------------
    def _request_id(self) -> bytes:
        """Eight fresh random bytes: ids are drawn 512 at a time (one syscall, not one per call).

        The worker cannot read the parent's memory, so ids drawn ahead are as
        unguessable to it as ids drawn on demand.
        """
        if not self._ids:
            block = os.urandom(8 * 512)
            self._ids = [block[i:i + 8] for i in range(0, len(block), 8)]
        return self._ids.pop()

    def _reply(self, deadline: float | None, limit: int) -> bytes:
        """One whole reply frame, read before ``deadline`` (every byte of it).

        The first read takes up to 64 KiB, which holds the whole frame of almost
        every reply (one syscall instead of a read for the header and one for the
        body); a longer frame is read to the end into a buffer of the size its
        header states. Bytes beyond the frame are a reply nobody asked for: the
        worker broke the protocol.
        """
        try:
            if self._proc is None:
                raise EOFError
            data = b""
            while len(data) < _HEADER.size:
                if not self._wait(self._poller, deadline):
                    raise WorkerTimeout
                try:
                    chunk = os.read(self._recv_fd, _READ_CHUNK)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise EOFError
                data += chunk
            (size,) = _HEADER.unpack_from(data)
            if not 0 < size <= limit:
                raise WorkerDied(self.kill(), f"announced a reply of {size:,} bytes")
            end = _HEADER.size + size
            if len(data) > end:
                raise WorkerDied(self.kill(), "sent more than its reply")
            if len(data) == end:
                return data[_HEADER.size:]
            return data[_HEADER.size:] + self._read_exact(end - len(data), deadline)
        except WorkerTimeout:
            self.kill()
            raise
        except (EOFError, OSError, ValueError):
            raise WorkerDied(self.kill()) from None

    def _read_exact(self, size: int, deadline: float | None) -> bytes:
        if self._proc is None:
            raise EOFError
        fd = self._recv_fd
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            if not self._wait(self._poller, deadline):
                raise WorkerTimeout
            try:
                count = os.readv(fd, [view[got:]])
            except BlockingIOError:
                continue
            if not count:
                raise EOFError
            got += count
        return bytes(buffer)

    @staticmethod
    def _wait(poller: Any, deadline: float | None) -> bool:
        """Whether the fd of ``poller`` is ready (or hung up) before ``deadline``."""
        while True:
            if deadline is None:
                return bool(poller.poll())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                return bool(poller.poll(max(int(remaining * 1000), 1)))
            except InterruptedError:  # pragma: no cover - PEP 475 retries, but be safe
                continue

    def _send_message(self, message: tuple, deadline: float | None) -> None:
        """Write one request frame before ``deadline``.

        Raises:
            WorkerTimeout: the worker did not take it in time (it is killed).
            WorkerDied: the pipe is broken.
        """
        if self._proc is None:
            raise WorkerDied(None)
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        if deadline is None:
            deadline = time.monotonic() + _SEND_TIMEOUT
        fd = self._send_fd
        try:
            while view:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    if not self._wait(self._write_poller, deadline):
                        self.kill()
                        raise WorkerTimeout from None
        except (OSError, ValueError):
            raise WorkerDied(self.kill()) from None

    def send(self, message: tuple) -> None:
        """Send without waiting for a reply (raises WorkerDied when the pipe is broken,
        or when the worker does not take the message within ``_SEND_TIMEOUT`` s)."""
        try:
            self._send_message(message, None)
        except WorkerTimeout:
            raise WorkerDied(None, "stopped reading its requests") from None

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
    _serve(read_fd, write_fd, memory_mb, bool(confine))
