"""Process isolation: the watchdog, rlimits, restarts and the worker's environment."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys

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
