"""A worker that breaks the protocol on purpose: what an escaped worker could send.

``test_round3.py`` starts it in place of ``astra_gym.sandbox.worker_main``
(``python rogue_worker.py READ_FD WRITE_FD MODE``). It announces itself like a
real worker, then answers the first call as ``MODE`` says:

* ``valid``: a well-formed result (checks that the harness itself works);
* ``partial``: the first 5 bytes of a well-formed reply, then it sleeps: the
  parent must time out within the call's limit, not wait for the rest;
* ``deep_kind``: a round-2 style pickled reply whose error kind is a tuple
  nested a million deep (hashing it overflows the C stack);
* ``forged_id``: a well-formed result for another request;
* ``huge``: a frame header announcing 1 GiB;
* ``deaf``: it never reads its requests (the parent's write must not block).
* ``trailing``: a well-formed result and, in the same write, bytes of a next frame
  (a reply nobody asked for);
* ``trickle``: a well-formed result written a few bytes at a time (header split);
* ``big``: a well-formed result of 200,000 characters (more than one read).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace

from astra_gym.sandbox import worker as worker_module
from astra_gym.sandbox.result import ToolResult
from astra_gym.sandbox.worker import _PLAIN_TAG, _plain_dumps, encode_result

HERE = Path(__file__).resolve()


def _frame(body: bytes) -> bytes:
    return struct.pack("!i", len(body)) + body


def main(read_fd: int, write_fd: int, mode: str) -> None:
    requests = Connection(read_fd, writable=False)
    out = write_fd
    os.write(out, _frame(_PLAIN_TAG + _plain_dumps(("ready", os.getpid(), {}))))
    if mode == "deaf":
        time.sleep(60)
        return
    request = requests.recv()
    request_id = request[1]
    if mode == "valid":
        os.write(out, _frame(encode_result(request_id, ToolResult(True, "rogue", None, None, 7))))
    elif mode == "partial":
        frame = _frame(encode_result(request_id, ToolResult(True, "late", None, None, 1)))
        os.write(out, frame[:5])
        time.sleep(60)
        os.write(out, frame[5:])
    elif mode == "deep_kind":
        data = pickle.dumps(("result", request_id, (True, "x", None, "@@DEEP@@", 0)), protocol=3)
        data = data.replace(b"X\x08\x00\x00\x00@@DEEP@@", b")" + b"\x85" * 1_000_000)
        os.write(out, _frame(data))
    elif mode == "forged_id":
        os.write(out, _frame(encode_result(b"\0" * 8, ToolResult(True, "forged", None, None, 1))))
    elif mode == "huge":
        os.write(out, struct.pack("!i", 1 << 30))
    elif mode == "trailing":
        frame = _frame(encode_result(request_id, ToolResult(True, "rogue", None, None, 7)))
        os.write(out, frame + frame[:6])
    elif mode == "trickle":
        frame = _frame(encode_result(request_id, ToolResult(True, "slowly", None, None, 3)))
        for start in range(0, len(frame), 3):
            os.write(out, frame[start:start + 3])
            time.sleep(0.002)
    elif mode == "big":
        frame = _frame(encode_result(request_id, ToolResult(True, "x" * 200_000, None, None, 5)))
        view = memoryview(frame)
        while view:
            view = view[os.write(out, view):]
    time.sleep(60)


def rogue_subprocess(mode: str) -> SimpleNamespace:
    """A stand-in for the ``subprocess`` module of :mod:`astra_gym.sandbox.worker`.

    Its ``Popen`` starts this file in ``mode`` instead of the real worker, with
    the same pipes, environment and working directory.
    """
    import subprocess

    def popen(argv: list[str], **kwargs: object) -> subprocess.Popen:
        read_fd, write_fd = argv[3], argv[4]
        return subprocess.Popen([argv[0], str(HERE), read_fd, write_fd, mode], **kwargs)

    return SimpleNamespace(Popen=popen, DEVNULL=subprocess.DEVNULL,
                           TimeoutExpired=subprocess.TimeoutExpired)


def rogue_call(mode: str, timeout: float = 0.5, source: str = "def f():\n    return 1\n",
               ) -> tuple[str, float]:
    """One call to a rogue worker in ``mode``: (what came back or was raised, seconds)."""
    real = worker_module.subprocess
    worker_module.subprocess = rogue_subprocess(mode)
    try:
        process = worker_module.WorkerProcess(64, confine=False)
    finally:
        worker_module.subprocess = real
    start = time.monotonic()
    try:
        result = process.call((1, None, "key", source, "f", {}, (), None), timeout)
        outcome = f"result {tuple(result)!r}"
    except worker_module.WorkerTimeout:
        outcome = "WorkerTimeout"
    except worker_module.WorkerDied as died:
        outcome = f"WorkerDied: {died}"
    finally:
        alive = process.alive
        process.kill()
    return outcome + ("" if not alive else " (worker was alive)"), time.monotonic() - start


if __name__ == "__main__" and sys.argv[1] == "--drive":  # a fresh interpreter as the parent
    print(rogue_call(sys.argv[2])[0])
elif __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
