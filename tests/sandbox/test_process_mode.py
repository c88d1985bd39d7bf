"""Process isolation: the watchdog, rlimits, restarts and the worker's environment."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading

import pytest

from astra_gym.sandbox import ErrorKind, Limits, Sandbox

REGEX_BOMB = "import re\ndef tool():\n    return bool(re.match('(a+)+$', 'a' * 40 + 'b'))\n"
OK_TOOL = "def tool(x=1):\n    return x + 1\n"


@pytest.fixture
def fresh_process_sandbox():
    sandbox = Sandbox(isolation="process", limits=Limits(timeout=0.5), pool=1)
    yield sandbox
    sandbox.close()


def _pid(sandbox: Sandbox) -> int:
    (worker,) = sandbox.pool.workers
    return worker.pid


def test_watchdog_kills_c_level_hang_and_the_next_call_works(fresh_process_sandbox):
    sandbox = fresh_process_sandbox
    assert sandbox.run(OK_TOOL, "tool").output == "2"
    first_pid = _pid(sandbox)
    result = sandbox.run(REGEX_BOMB, "tool")
    assert result.error_kind == ErrorKind.TIMEOUT
    assert "wall-clock limit of 0.5 s" in result.error
    assert sandbox.run(OK_TOOL, "tool", {"x": 41}).output == "42"
    assert _pid(sandbox) != first_pid
    assert sandbox.pool.restarts == 1


def test_address_space_limit_turns_allocation_into_memory_error():
    limits = Limits(ops=10**12, max_len=10**10, memory_mb=64)
    with Sandbox(isolation="process", limits=limits, pool=1) as sandbox:
        result = sandbox.run("def tool():\n    return len([0] * 40_000_000)\n", "tool")
        assert result.error_kind == ErrorKind.MEMORY, result
        assert sandbox.run(OK_TOOL, "tool").ok


def test_worker_runs_with_fixed_hash_seed(fresh_process_sandbox):
    fresh_process_sandbox.run(OK_TOOL, "tool")
    pid = _pid(fresh_process_sandbox)
    with open(f"/proc/{pid}/environ", "rb") as fh:
        environ = fh.read().split(b"\0")
    assert b"PYTHONHASHSEED=0" in environ


def test_worker_killed_from_outside_is_replaced(fresh_process_sandbox):
    sandbox = fresh_process_sandbox
    assert sandbox.run(OK_TOOL, "tool").ok
    os.kill(_pid(sandbox), signal.SIGKILL)
    assert sandbox.run(OK_TOOL, "tool", {"x": 9}).output == "10"


def test_close_stops_a_private_pool_but_not_the_shared_one():
    sandbox = Sandbox(isolation="process", pool=1)
    sandbox.run(OK_TOOL, "tool")
    (worker,) = sandbox.pool.workers
    sandbox.close()
    assert not worker.alive and sandbox.pool.workers == []
    sandbox.close()  # idempotent
    shared = Sandbox(isolation="process")
    assert shared.run(OK_TOOL, "tool").ok
    workers = list(shared.pool.workers)
    shared.close()
    assert workers and all(worker.alive for worker in workers)


def test_session_state_survives_only_within_the_worker_session(fresh_process_sandbox):
    src = "S = {'n': 0}\ndef tool():\n    S['n'] += 1\n    return S['n']\n"
    session = fresh_process_sandbox.session(seed=3)
    assert [session.call(src, "tool").output for _ in range(3)] == ["1", "2", "3"]
    other = fresh_process_sandbox.session(seed=3)
    assert other.call(src, "tool").output == "1"


def test_cpu_limit_can_be_re_armed_higher():
    """CPU time accumulates over the worker's life, so every call must be able to
    move the limit up. Pinning the hard limit on the first call made that fail
    silently, and a worker that had served a few CPU seconds in all was killed
    with SIGXCPU in the middle of an innocent call."""
    script = (
        "import resource\n"
        "from astra_gym.sandbox.worker import _arm_cpu_limit\n"
        "_arm_cpu_limit(0.8)\n"
        "_arm_cpu_limit(100.0)\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU)[0])\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True)
    assert int(done.stdout) >= 100


_ARM_SCRIPT = """
import resource, types
from astra_gym.sandbox import worker
clock = [1000.0]
usage = [0.0]
reads = []
def getrusage(who):
    reads.append(clock[0])
    return types.SimpleNamespace(ru_utime=usage[0], ru_stime=0.0)
worker.time = types.SimpleNamespace(monotonic=lambda: clock[0])
worker.resource = types.SimpleNamespace(
    getrusage=getrusage, RUSAGE_SELF=resource.RUSAGE_SELF, RLIMIT_CPU=resource.RLIMIT_CPU,
    RLIM_INFINITY=resource.RLIM_INFINITY, getrlimit=resource.getrlimit,
    setrlimit=resource.setrlimit)
def soft():
    return resource.getrlimit(resource.RLIMIT_CPU)[0]
worker._arm_cpu_limit(0.8)             # first call: reads usage, arms int(0 + 0.8) + 2 = 2
first = (len(reads), soft())
clock[0] += 0.1; worker._arm_cpu_limit(0.8)   # 0.1 s later: 0 + 0.1 + 1.8 <= 2, no read
second = (len(reads), soft())
clock[0] += 0.2; worker._arm_cpu_limit(0.8)   # 0.3 s after the read: 2.1 > 2, read again
usage[0] = 0.3
third = (len(reads), soft())
clock[0] += 0.4; usage[0] = 0.35; worker._arm_cpu_limit(0.8)  # 0.35 + 1.8 > 2: re-arm
fourth = (len(reads), soft())
worker._arm_cpu_limit(100.0)           # a longer timeout is never taken on trust
fifth = (len(reads), soft())
print([first, second, third, fourth, fifth])
"""


def test_the_cpu_limit_check_skips_getrusage_only_while_the_wall_clock_proves_headroom():
    """The worker reads its CPU time at most about once a second: one thread cannot use
    more CPU than wall time, so ``used_then + (now - then) + timeout + 1 <= soft`` still
    proves the headroom. Reading the clock rather than trusting it too long (or for a
    longer timeout) is what keeps an innocent call from a SIGXCPU in mid-run."""
    done = subprocess.run([sys.executable, "-c", _ARM_SCRIPT], capture_output=True, text=True,
                          check=True)
    first, second, third, fourth, fifth = json.loads(done.stdout.replace("(", "[")
                                                     .replace(")", "]"))
    assert first == [1, 2]
    assert second == [1, 2], "within the proven headroom: no syscall, no change"
    assert third == [2, 2], "past it: usage read again (0 s used, still enough)"
    assert fourth == [3, 3], "0.35 s used leaves less than timeout + 1: re-armed to 3"
    assert fifth[0] == 4 and fifth[1] >= 100, "a 100 s timeout reads usage and re-arms"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def test_request_frames_come_whole_however_the_pipe_delivers_them():
    """The worker reads requests straight from the pipe: two frames in one read (a
    fire-and-forget ``close`` then a call), a frame split across writes, one longer than
    a read, and end-of-file."""
    from astra_gym.sandbox.worker import _HEADER, _RequestFrames

    def frame(body: bytes) -> bytes:
        return _HEADER.pack(len(body)) + body

    read_fd, write_fd = os.pipe()
    try:
        frames = _RequestFrames(read_fd)
        os.write(write_fd, frame(b"close") + frame(b"call"))
        assert [frames.next(), frames.next()] == [b"close", b"call"]
        whole = frame(b"split")
        os.write(write_fd, whole[:2])
        os.write(write_fd, whole[2:7])
        os.write(write_fd, whole[7:])
        assert frames.next() == b"split"
        big = b"y" * 150_000  # more than the pipe holds: the writer blocks until read
        writer = threading.Thread(target=_write_all, args=(write_fd, frame(big)))
        writer.start()
        assert frames.next() == big
        writer.join()
    finally:
        os.close(write_fd)
    with pytest.raises(EOFError):
        frames.next()
    os.close(read_fd)


def test_worker_keeps_its_hard_cpu_limit(fresh_process_sandbox):
    inherited = resource.getrlimit(resource.RLIMIT_CPU)[1]
    for x in range(3):
        assert fresh_process_sandbox.run(OK_TOOL, "tool", {"x": x}).ok
    soft, hard = resource.prlimit(_pid(fresh_process_sandbox), resource.RLIMIT_CPU)
    assert hard == inherited
    assert soft != resource.RLIM_INFINITY  # the per-call soft limit is armed


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
def test_worker_survives_many_cpu_seconds_in_total():
    """The scenario of a long training run: many short C-heavy calls in one worker."""
    busy = "import re\ndef tool():\n    return bool(re.match('(a+)+$', 'a' * 20 + 'b'))\n"
    with Sandbox(isolation="process", pool=1) as sandbox:
        assert sandbox.run(busy, "tool").output == "False"
        pid = _pid(sandbox)
        calls = 1
        # The first arming allowed int(t + 0.8) + 2 s, with t well under a second.
        while _cpu_seconds(pid) < 4.5 and calls < 5000:
            result = sandbox.run(busy, "tool")
            assert result.ok, (calls, result)
            calls += 1
        assert _cpu_seconds(pid) >= 4.5
        assert _pid(sandbox) == pid and sandbox.pool.restarts == 0


def _full_confinement_expected() -> bool:
    import ctypes.util

    from astra_gym.sandbox.confine import landlock_abi

    return (sys.platform.startswith("linux") and os.geteuid() == 0
            and ctypes.util.find_library("seccomp") is not None and landlock_abi() > 0)


@pytest.mark.skipif(not _full_confinement_expected(),
                    reason="needs Linux, root, libseccomp and Landlock for every layer")
def test_sandbox_doctor_reports_every_layer_active_here(capsys):
    from astra_gym.cli import main

    assert main(["sandbox", "doctor", "--json", "--strict"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["layers"]) == {"network_namespace", "rlimits", "no_new_privs",
                                     "capabilities", "landlock", "seccomp"}
    assert all(status.startswith("active") for status in report["layers"].values())
    assert all(outcome.startswith("blocked") for outcome in report["probes"].values())
    # the working directory is empty, and outside what Landlock lets the worker read
    assert report["cwd_entries"] == [] or report["cwd_entries"].startswith("unreadable")
    assert "PATH" not in report["environment_keys"]
    assert report["probes"]["read_outside"].startswith("blocked")


def test_sandbox_doctor_strict_fails_on_an_unconfined_worker(capsys):
    from astra_gym.cli import main

    assert main(["sandbox", "doctor", "--strict", "--no-confine"]) == 1
    out = capsys.readouterr()
    assert "ALLOWED" in out.out and "not fully confined" in out.err
