"""Crash-safe sessions: a worker that dies loses nothing that can be rebuilt, and says so when not.

A session's tool state is a deterministic function of its seed, clock and call
log, so the pool replays the log of every session of a dead worker into its
replacement. These tests kill workers at random points (between calls, during a
call, through a crashing payload) and require results byte-identical to a run
where nothing was killed.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astra_gym.sandbox import ErrorKind, Limits, Sandbox, WorkerPool

# Tool state that depends on every earlier call: a counter, a log, the session RNG.
STATEFUL = '''
import random
STATE = {"n": 0, "log": [], "draws": []}

def bump(step: int) -> dict:
    STATE["n"] += step
    STATE["log"].append(step)
    STATE["draws"].append(random.randint(0, 10**6))
    return {"n": STATE["n"], "log": STATE["log"][-3:], "draw": STATE["draws"][-1]}

def fail(message: str) -> dict:
    STATE["n"] += 1000
    raise ValueError(message)
'''
# Brings a worker down (a C-stack overflow in tuple hashing): contained only by the process.
CRASH = '''
def crash() -> int:
    t = ()
    for _ in range(400_000):
        t = (t,)
    return len({t: 1})
'''
SLOW = '''
def slow(n: int) -> int:
    total = 0
    for i in range(n):
        total += i % 7
    return total
'''
LIMITS = Limits(ops=5_000_000, timeout=5.0)


def _pid(pool: WorkerPool) -> int:
    (worker,) = pool.workers
    return worker.pid


def _kill(pool: WorkerPool) -> None:
    if pool.workers:
        os.kill(_pid(pool), signal.SIGKILL)


# -- hypothesis: random calls in sessions sharing a worker, random kills ----------------------

steps = st.lists(st.one_of(
    st.tuples(st.just("bump"), st.integers(0, 2), st.integers(-3, 9)),
    st.tuples(st.just("fail"), st.integers(0, 2), st.just(0)),
    st.tuples(st.just("kill"), st.just(0), st.just(0)),
), min_size=1, max_size=14)


def _play(script: list[tuple[str, int, int]], pool: WorkerPool, kills: bool) -> list[tuple]:
    sandbox = Sandbox(isolation="process", limits=LIMITS, pool=pool)
    sessions = [sandbox.session(seed=11 + i) for i in range(3)]
    results = []
    for op, who, value in script:
        if op == "kill":
            if kills:
                _kill(pool)
            continue
        if op == "bump":
            result = sessions[who].call(STATEFUL, "bump", {"step": value})
        else:
            result = sessions[who].call(STATEFUL, "fail", {"message": f"no {who}"})
        results.append((who, tuple(result)))
    sandbox.close()
    return results


@pytest.fixture(scope="module")
def pools():
    reference, victim = WorkerPool(1), WorkerPool(1)
    yield reference, victim
    reference.close()
    victim.close()


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(script=steps)
def test_worker_kills_at_random_points_change_no_result(pools, script):
    reference, victim = pools
    assert _play(script, victim, kills=True) == _play(script, reference, kills=False)


# -- the cases hypothesis may not draw ---------------------------------------------------------

def test_a_kill_during_a_call_is_retried_on_a_rebuilt_worker():
    with WorkerPool(1) as pool:
        sandbox = Sandbox(isolation="process", limits=LIMITS, pool=pool)
        session = sandbox.session(seed=5)
        before = [session.call(STATEFUL, "bump", {"step": 2}) for _ in range(3)]
        assert all(result.ok for result in before)
        pid = _pid(pool)
        killer = threading.Timer(0.05, os.kill, (pid, signal.SIGKILL))
        killer.start()
        slow = session.call(SLOW, "slow", {"n": 2_000_000})
        killer.join()
        assert slow.ok and slow.output == str(sum(i % 7 for i in range(2_000_000)))
        assert _pid(pool) != pid
        after = session.call(STATEFUL, "bump", {"step": 2})
        reference = Sandbox(isolation="inprocess", limits=LIMITS).session(seed=5)
        expected = [reference.call(STATEFUL, "bump", {"step": 2}) for _ in range(4)]
        assert [*before, after] == expected


def test_a_crashing_call_loses_other_sessions_nothing():
    with WorkerPool(1) as pool:
        sandbox = Sandbox(isolation="process", limits=LIMITS, pool=pool)
        alice, mallory = sandbox.session(seed=1), sandbox.session(seed=2)
        assert [alice.call(STATEFUL, "bump", {"step": 1}).output for _ in range(3)][-1] \
            .startswith('{"n": 3')
        crashed = mallory.call(CRASH, "crash")
        assert crashed.error_kind == ErrorKind.CRASHED and "exit status -11" in crashed.error
        # Alice's worker died under her; her state is rebuilt, not reset.
        assert alice.call(STATEFUL, "bump", {"step": 1}).output.startswith('{"n": 4')
        # Mallory's crashing call left her state as it was before the call.
        assert mallory.call(STATEFUL, "bump", {"step": 5}).output.startswith('{"n": 5')
        assert pool.restarts >= 2  # the crash, and its one retry


def test_a_session_that_cannot_be_replayed_fails_loudly():
    with WorkerPool(1) as pool:
        sandbox = Sandbox(isolation="process", limits=LIMITS, pool=pool)
        session = sandbox.session(seed=1)
        assert session.call(STATEFUL, "bump", {"step": 1}).ok
        # Tamper with the log as a non-deterministic tool would: the replay differs.
        logged = session._remote._log[0]
        session._remote._log[0] = type(logged)(logged.key, logged.source, logged.func_name,
                                               logged.kwargs, logged.args,
                                               logged.result._replace(output="forged"))
        _kill(pool)
        lost = session.call(STATEFUL, "bump", {"step": 1})
        assert lost.error_kind == ErrorKind.SESSION_LOST
        assert "gave a different result" in lost.error and "start a new session" in lost.error
        # ... on every later call too, never a silently fresh state
        assert session.call(STATEFUL, "bump", {"step": 1}).error_kind == ErrorKind.SESSION_LOST
        fresh = sandbox.session(seed=1)
        assert fresh.call(STATEFUL, "bump", {"step": 1}).ok


def test_timeouts_and_crashes_are_not_replayed():
    with WorkerPool(1) as pool:
        limits = Limits(ops=10**9, timeout=0.3)
        sandbox = Sandbox(isolation="process", limits=limits, pool=pool)
        session = sandbox.session(seed=3)
        assert session.call(STATEFUL, "bump", {"step": 1}).ok
        started = time.perf_counter()
        hung = session.call("import re\ndef f():\n    return re.match('(a+)+$', 'a' * 40 + 'b')",
                            "f")
        assert hung.error_kind == ErrorKind.TIMEOUT
        assert time.perf_counter() - started < 3.0  # no retry of a timeout
        # The replay after the timeout holds only the good call.
        assert session.call(STATEFUL, "bump", {"step": 1}).output.startswith('{"n": 2')


def test_sessions_spread_over_the_pool_and_stick_to_their_worker():
    with WorkerPool(2) as pool:
        sandbox = Sandbox(isolation="process", pool=pool)
        sessions = [sandbox.session(seed=i) for i in range(4)]
        for session in sessions:
            assert session.call(STATEFUL, "bump", {"step": 1}).ok
        pids = [session.worker_pid for session in sessions]
        assert len(set(pids)) == 2 and len(pool.workers) == 2
        for session in sessions:
            assert session.call(STATEFUL, "bump", {"step": 1}).ok
        assert [session.worker_pid for session in sessions] == pids


def test_a_forked_child_never_talks_to_its_parents_workers():
    with WorkerPool(1) as pool:
        sandbox = Sandbox(isolation="process", pool=pool)
        parent_session = sandbox.session(seed=1)
        assert parent_session.call(STATEFUL, "bump", {"step": 1}).ok
        parent_pid = _pid(pool)
        inherited = pool.workers[0]._recv.fileno()
        read_fd, write_fd = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            try:
                # the fork handler dropped the parent's workers and closed their pipes
                closed = not pool.workers
                try:
                    os.fstat(inherited)
                    closed = False
                except OSError:
                    pass
                result = sandbox.session(seed=1).call(STATEFUL, "bump", {"step": 1})
                ok = closed and result.ok and _pid(pool) != parent_pid
                os.write(write_fd, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write_fd)
        os.waitpid(child, 0)
        assert os.read(read_fd, 1) == b"1"
        os.close(read_fd)
        # The parent's worker and session are intact.
        assert _pid(pool) == parent_pid
        assert parent_session.call(STATEFUL, "bump", {"step": 1}).output.startswith('{"n": 2')
