"""Process isolation: the watchdog, rlimits, restarts and the worker's environment."""

from __future__ import annotations

import os
import signal

import pytest

from astra_gym.sandbox import ErrorKind, Limits, Sandbox

REGEX_BOMB = "import re\ndef tool():\n    return bool(re.match('(a+)+$', 'a' * 40 + 'b'))\n"
OK_TOOL = "def tool(x=1):\n    return x + 1\n"


@pytest.fixture
def fresh_process_sandbox():
    sandbox = Sandbox(isolation="process", limits=Limits(timeout=0.5))
    yield sandbox
    sandbox.close()


def test_watchdog_kills_c_level_hang_and_the_next_call_works(fresh_process_sandbox):
    sandbox = fresh_process_sandbox
    assert sandbox.run(OK_TOOL, "tool").output == "2"
    first_pid = sandbox._process.pid
    result = sandbox.run(REGEX_BOMB, "tool")
    assert result.error_kind == ErrorKind.TIMEOUT
    assert "wall-clock limit of 0.5 s" in result.error
    assert sandbox.run(OK_TOOL, "tool", {"x": 41}).output == "42"
    assert sandbox._process.pid != first_pid
    assert sandbox._process.restarts == 1


def test_address_space_limit_turns_allocation_into_memory_error():
    limits = Limits(ops=10**12, max_len=10**10, memory_mb=64)
    with Sandbox(isolation="process", limits=limits) as sandbox:
        result = sandbox.run("def tool():\n    return len([0] * 40_000_000)\n", "tool")
        assert result.error_kind == ErrorKind.MEMORY, result
        assert sandbox.run(OK_TOOL, "tool").ok


def test_worker_runs_with_fixed_hash_seed(fresh_process_sandbox):
    fresh_process_sandbox.run(OK_TOOL, "tool")
    pid = fresh_process_sandbox._process.pid
    with open(f"/proc/{pid}/environ", "rb") as fh:
        environ = fh.read().split(b"\0")
    assert b"PYTHONHASHSEED=0" in environ


def test_worker_killed_from_outside_is_replaced(fresh_process_sandbox):
    sandbox = fresh_process_sandbox
    assert sandbox.run(OK_TOOL, "tool").ok
    os.kill(sandbox._process.pid, signal.SIGKILL)
    os.waitpid(sandbox._process.pid, 0)
    assert sandbox.run(OK_TOOL, "tool", {"x": 9}).output == "10"


def test_close_stops_the_worker():
    sandbox = Sandbox(isolation="process")
    sandbox.run(OK_TOOL, "tool")
    proc = sandbox._process._proc
    sandbox.close()
    assert proc.poll() is not None
    sandbox.close()  # idempotent


def test_session_state_survives_only_within_the_worker_session(fresh_process_sandbox):
    src = "S = {'n': 0}\ndef tool():\n    S['n'] += 1\n    return S['n']\n"
    session = fresh_process_sandbox.session(seed=3)
    assert [session.call(src, "tool").output for _ in range(3)] == ["1", "2", "3"]
    other = fresh_process_sandbox.session(seed=3)
    assert other.call(src, "tool").output == "1"
