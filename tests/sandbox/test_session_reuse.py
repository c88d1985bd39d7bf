"""A reset session answers exactly as a new one of the same seed, and keeps nothing of the
last episode alive (the env reuses one session across episodes)."""

from __future__ import annotations

import gc
import weakref

import pytest

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.session import InProcessSession

STATEFUL = '''import random
import uuid
import collections
SEEN = []
class Box:
    def __init__(self, value):
        self.value = value
    def count(self):
        return self.value + 1
def visit(x: int) -> dict:
    SEEN.append(Box(x))
    counted = SEEN[-1].count()  # a guarded method name: the guards cache Box's lookup
    random.seed()  # back to the session's seed
    reseeded = random.random()
    bag = {Box(n) for n in range(3)}
    return {"seen": [b.value for b in SEEN], "draw": random.random(),
            "id": str(uuid.uuid4()), "bag": sorted(b.value for b in bag),
            "counts": dict(collections.Counter("abca")),
            "choice": random.choice(["a", "b", "c", "d"]), "counted": counted,
            "reseeded": reseeded}
'''


def _episode(session, calls=3) -> list[str]:
    results = [session.call(STATEFUL, "visit", {"x": n}) for n in range(calls)]
    assert all(result.ok for result in results), results
    return [result.output for result in results]


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_a_reset_session_equals_a_new_one_of_that_seed(isolation, process_sandbox):
    sandbox = process_sandbox if isolation == "process" else Sandbox(isolation="inprocess")
    reused = sandbox.session(seed=1)
    first = _episode(reused)
    assert first == _episode(sandbox.session(seed=1))
    reused.reset(seed=2)
    assert reused.seed == 2
    second = _episode(reused)
    fresh = sandbox.session(seed=2)
    assert second == _episode(fresh)
    assert second != first  # the seed changed the draws; the state started over
    assert '"seen": [0]' in second[0]
    reused.reset()  # same seed again: the same episode again
    assert _episode(reused) == second


def test_a_reset_drops_the_last_episodes_classes():
    session = InProcessSession(seed=0)
    assert session.call(STATEFUL, "visit", {"x": 1}).ok
    (box,) = [cls for cls in session._classes if cls.__name__ == "Box"]
    ref = weakref.ref(box)
    del box
    session.reset(seed=3)
    gc.collect()
    assert ref() is None, "a cache of the session still holds a class of the last episode"


def test_a_reset_frees_the_last_episodes_tool_state_without_the_cyclic_gc():
    """A tool's functions hold its namespace as their globals, a reference cycle: a reset
    that only forgot the namespace left the episode's module state (here a list of
    objects) for the cyclic GC, and a worker serving many episodes of a tool with big
    state ran out of address space before it came. A reset frees it at once."""
    session = InProcessSession(seed=0)
    assert session.call(STATEFUL, "visit", {"x": 1}).ok
    (namespace,) = session._namespaces.values()
    function = weakref.ref(namespace["visit"])
    del namespace
    gc.disable()
    try:
        session.reset(seed=3)
        assert function() is None, "the tool's function (and its globals) outlived the reset"
    finally:
        gc.enable()
