"""``class Box(typing.Generic[T])`` in tool code, then ``Box[int]``: bounded and guarded.

Subscripting a tool's generic class used to fail (the sandbox's wrapper of
``Generic[T]`` hid the class's type parameters from typing). It now works, but
never hands out typing's real alias: that alias forwards every public attribute
to the class, past the per-type guards (``L[int].extend`` of a ``list`` subclass
would be the raw, unmetered method), and typing's subscription cache would keep
tool classes alive after their session.
"""

from __future__ import annotations

import gc
import json

import pytest

from astra_gym.sandbox import Sandbox

TOOL = '''
import typing
from typing import Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")

class Box(Generic[T]):
    def __init__(self, item):
        self.item = item

    def get(self) -> T:
        return self.item

class Pair(Box[T], Generic[T, K]):
    pass

class Ints(Box[int]):
    pass

class Stack(list, typing.Generic[T]):
    pass

def use():
    box = Box[int](3)
    pair = Pair[int, K][str](5)
    stack = Stack[int]()
    stack.append(4)
    annotated: Box[str] = Box("s")
    return {"box": box.get(), "pair": pair.get(), "ints": Ints(7).get(), "stack": stack,
            "annotated": annotated.get(), "alias": repr(Pair[int, str]),
            "equal": Box[int] == Box[int], "is_box": isinstance(box, Box)}

def raw_method():
    return Stack[int].extend

def alias_method():
    return Box[int].copy_with

def long_parameter():
    return Box["x" * 300]

def many_parameters():
    return Box[tuple([int] * 65)]

def not_generic():
    return Ints[int]
'''


@pytest.fixture(params=["inprocess", "process"])
def session(request):
    with Sandbox(isolation=request.param) as sandbox:
        session = sandbox.session(seed=0)
        yield session
        session.close()


def test_a_generic_tool_class_can_be_subscripted_called_and_subclassed(session):
    result = session.call(TOOL, "use")
    assert result.ok, result.error
    assert json.loads(result.output) == {
        "box": 3, "pair": 5, "ints": 7, "stack": [4], "annotated": "s",
        "alias": "tool.Pair[int, str]", "equal": True, "is_box": True}


@pytest.mark.parametrize(("function", "error"), [
    ("raw_method", "AttributeError: 'ToolGenericAlias' object has no attribute 'extend'"),
    ("alias_method", "AttributeError: 'ToolGenericAlias' object has no attribute 'copy_with'"),
    ("long_parameter", "a parameter of 300 characters; the sandbox allows 256"),
    ("many_parameters", "65 parameters; the sandbox allows 64"),
    ("not_generic", "TypeError: <class 'tool.Ints'> is not a generic class"),
])
def test_the_alias_forwards_nothing_and_its_parameters_are_bounded(session, function, error):
    result = session.call(TOOL, function)
    assert not result.ok and result.error_kind == "exception"
    assert error in result.error


def test_subscriptions_do_not_keep_tool_classes_alive_after_the_session():
    with Sandbox(isolation="inprocess") as sandbox:
        session = sandbox.session(seed=0)
        assert session.call(TOOL, "use").ok
        session.close()
    del session, sandbox
    gc.collect()
    alive = [obj for obj in gc.get_objects()
             if isinstance(obj, type) and obj.__module__ == "tool" and obj.__name__ == "Pair"]
    assert alive == []
