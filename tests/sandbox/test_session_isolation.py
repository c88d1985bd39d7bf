"""Sessions that live at the same time cannot see or affect each other.

Creating a session is cheap because what does not depend on the session is
built once per process: the method guards (``str.ljust``, ``list.insert``,
``Pattern.sub``, the clock readers ...), the stand-in metaclasses, the safe
builtins. What does depend on it (the meter, the clock, the seeded generator,
the registry of tool classes, the hooks that compiled code calls, the stand-in
classes) is per session, and every guard tool code can hold is a closure over
*its own* session's context. These tests interleave two sessions (and run them
in threads) and check that each one's results, charges, classes and clock are
exactly what it gets alone.
"""

from __future__ import annotations

import datetime
import gc
import textwrap
import threading

import pytest

from astra_gym.sandbox.session import InProcessSession

STATE_TOOL = textwrap.dedent("""
    import random, datetime, collections
    class Thing:
        def __init__(self, n):
            self.n = n
    THINGS = []
    PAD = []
    def tool(k):
        THINGS.append(Thing(k))
        if not PAD:
            PAD.append("".ljust)        # a guard bound in this session, kept for later
        text = PAD[0](k * 1000)
        words = list[str]({"delta", "alpha", "gamma"})
        return [len(THINGS), len(text), random.random(), str(datetime.datetime.max.now()),
                words, collections.Counter("abca").most_common(1), "{:>6}".format(k)]
""")


def _run(session: InProcessSession, k: int):
    result = session.call(STATE_TOOL, "tool", {"k": k})
    assert result.ok, result
    return result


def _alone(seed: int, clock: datetime.datetime, ks: list[int]):
    session = InProcessSession(seed=seed, clock=clock)
    return [tuple(_run(session, k)) for k in ks]


CLOCK_A = datetime.datetime(2026, 1, 15, 9, 30)
CLOCK_B = datetime.datetime(2031, 7, 4, 18, 0)


def test_interleaved_sessions_give_what_each_gives_alone():
    ks_a, ks_b = [1, 5, 2, 9], [7, 3, 8, 4]
    alone_a, alone_b = _alone(1, CLOCK_A, ks_a), _alone(2, CLOCK_B, ks_b)
    a = InProcessSession(seed=1, clock=CLOCK_A)
    b = InProcessSession(seed=2, clock=CLOCK_B)
    together_a, together_b = [], []
    for k_a, k_b in zip(ks_a, ks_b, strict=True):
        together_a.append(tuple(_run(a, k_a)))
        together_b.append(tuple(_run(b, k_b)))
    assert together_a == alone_a  # outputs *and* op counts
    assert together_b == alone_b
    assert "2026-01-15 09:30:00" in together_a[0][1]  # (ok, output, ...)
    assert "2031-07-04 18:00:00" in together_b[0][1]


def test_sessions_have_their_own_classes_stand_ins_and_hooks():
    a, b = InProcessSession(), InProcessSession()
    _run(a, 1)
    _run(b, 1)
    thing_a = a._namespaces[next(iter(a._namespaces))]["Thing"]
    thing_b = b._namespaces[next(iter(b._namespaces))]["Thing"]
    assert thing_a is not thing_b
    assert thing_a in a._classes and thing_a not in b._classes
    assert thing_b in b._classes and thing_b not in a._classes
    builtins_a = a._base_globals["__builtins__"]
    builtins_b = b._base_globals["__builtins__"]
    assert builtins_a is not builtins_b
    for name in ("list", "dict", "str", "int", "range"):
        # one metaclass per real type (what the sandbox decides a stand-in is) ...
        assert type(builtins_a[name]) is type(builtins_b[name])
        # ... but each session's own class, building through its own meter
        assert builtins_a[name] is not builtins_b[name]
        assert builtins_a[name]._astra_build is not builtins_b[name]._astra_build
    for hook in ("_getattr_", "_str_", "_star_", "_add_", "_write_", "_tick_"):
        assert a._base_globals[hook] is not b._base_globals[hook]


def test_a_guard_charges_the_session_that_holds_it():
    """A bound guard (``"".ljust``) kept in A's state charges A's meter, never B's."""
    a, b = InProcessSession(), InProcessSession()
    grab = "PAD = []\ndef grab():\n    PAD.append(''.ljust)\n    return 1\n" \
           "def use(n):\n    return len(PAD[0](n))\n"
    assert a.call(grab, "grab").ok
    b_alone = b.call("def tool():\n    return 1\n", "tool")
    used = a.call(grab, "use", {"n": 3_000_000})
    assert used.ok and used.ops > 3_000_000 // 32, used
    assert b.call("def tool():\n    return 1\n", "tool") == b_alone
    # and a session's meter is its own: exhausting A leaves B's budget whole
    spent = a.call("def tool():\n    while True:\n        pass\n", "tool")
    assert spent.error_kind == "budget_exceeded"
    assert b.call("def tool():\n    return sum(range(100000))\n", "tool").ok


GENERATOR_TOOL = textwrap.dedent("""
    class Node:
        pass
    WASTE = []
    def gen():
        try:
            yield 1
        finally:
            WASTE.append(len("x".ljust(2000000)))
    def tool():
        node = Node()
        g = gen()
        next(g)
        node.g = g
        node.me = node  # a cycle: collected by the cyclic GC, whenever it runs
        return 1
    def wasted():
        return WASTE
""")


def test_a_finalizer_of_one_session_charges_that_session_only():
    """A's unfinished generator, collected while B runs, runs its ``finally`` on A's meter.

    Whatever runs a session's code (a call, or the garbage collector in the
    middle of another session's call) charges that session: B's op count must not
    depend on when the collector ran.
    """
    b_tool = "def tool():\n    out = []\n    for i in range(2000):\n        out.append([i])\n" \
             "    return len(out)\n"
    baseline = InProcessSession(seed=3)
    baseline.call(b_tool, "tool")
    expected = baseline.call(b_tool, "tool")
    a, b = InProcessSession(), InProcessSession(seed=3)
    b.call(b_tool, "tool")  # loaded: the next call runs the tool at once
    run = b._run

    def run_collecting(func, args, kwargs):
        def collecting(*a, **k):  # after B's meter started: the collection is B's to pay
            gc.set_threshold(1)
            gc.enable()
            return func(*a, **k)
        return run(collecting, args, kwargs)

    threshold = gc.get_threshold()
    gc.collect()
    gc.disable()
    try:
        assert a.call(GENERATOR_TOOL, "tool").ok
        b._run = run_collecting
        during = b.call(b_tool, "tool")
        waste = next(iter(a._namespaces.values()))["WASTE"]
        assert waste == [2000000], "A's finalizer did not run during B's call"
    finally:
        gc.set_threshold(*threshold)
        gc.enable()
    assert during == expected


@pytest.mark.parametrize("workers", [2, 4])
def test_sessions_in_threads_give_what_each_gives_alone(workers):
    ks = [3, 1, 4, 1, 5, 9, 2, 6]
    expected = {seed: _alone(seed, CLOCK_A if seed % 2 else CLOCK_B, ks)
                for seed in range(workers)}
    got: dict[int, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def work(seed: int) -> None:
        try:
            session = InProcessSession(seed=seed, clock=CLOCK_A if seed % 2 else CLOCK_B)
            start.wait()
            got[seed] = [tuple(_run(session, k)) for k in ks]
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert got == expected


def test_reset_forgets_the_classes_of_this_session_only():
    a, b = InProcessSession(), InProcessSession()
    _run(a, 1)
    _run(b, 1)
    b_classes = set(b._classes)
    a.reset()
    assert not a._classes
    assert b._classes == b_classes
    assert _run(b, 2).output.startswith("[2, ")  # B's tool state is intact
    assert _run(a, 2).output.startswith("[1, ")  # A starts over


def test_the_session_knows_every_stand_in_of_its_builtins():
    """Class statements adopt constructors through this map (``class Rows(typing.List[int])``)."""
    from astra_gym.sandbox.session import _STAND_IN_NAMES
    from astra_gym.sandbox.standins import StandIn, real_type

    session = InProcessSession()
    builtins = session._base_globals["__builtins__"]
    stand_ins = sorted(name for name, value in builtins.items() if isinstance(value, StandIn))
    assert stand_ins == sorted(_STAND_IN_NAMES)
    assert all(session._stand_ins[real_type(builtins[name])] is builtins[name]
               for name in stand_ins)
