"""``class P(typing.NamedTuple): x: int`` in tool code: the fields survive the policy.

The sandbox's policy drops bare annotations (``x: int`` declares nothing at
runtime), which once left such a class without fields: ``P(1)`` failed with
``__new__() takes 1 positional argument``. The annotated names now reach the
class builder, with the caps of ``collections.namedtuple``.
"""

from __future__ import annotations

import json

import pytest

from astra_gym.sandbox import Sandbox

TOOL = '''
import typing
from typing import NamedTuple

class Point(typing.NamedTuple):
    x: int
    y: int = 0

    def norm(self):
        return abs(self.x) + abs(self.y)

class Pair(NamedTuple):
    name: str
    score: float

class Plain:
    size: int
    kind: str = "box"

def describe(a, b=0):
    p, q = Point(a), Point(x=a, y=b)
    pair = Pair("u", 1.5)
    return {"p": list(p), "q": repr(q), "norm": q.norm(), "fields": list(q),
            "tuple": p == (a, 0), "pair": [pair.name, pair.score], "kind": Plain.kind,
            "size_is_an_attribute": hasattr(Plain, "size")}
'''


@pytest.fixture(params=["inprocess", "process"])
def session(request, process_sandbox):
    sandbox = Sandbox(isolation="inprocess") if request.param == "inprocess" else process_sandbox
    session = sandbox.session(seed=0)
    yield session
    session.close()


def test_a_named_tuple_class_has_its_fields_defaults_and_methods(session):
    result = session.call(TOOL, "describe", {"a": 2, "b": -3})
    assert result.ok, result.error
    assert json.loads(result.output) == {
        "p": [2, 0], "q": "Point(x=2, y=-3)", "norm": 5, "fields": [2, -3], "tuple": True,
        "pair": ["u", 1.5], "kind": "box", "size_is_an_attribute": False}


def test_python_rules_for_named_tuple_fields_still_hold(session):
    source = ("from typing import NamedTuple\n"
              "class Bad(NamedTuple):\n    x: int = 1\n    y: int\n"
              "def f():\n    return 1\n")
    result = session.call(source, "f", {})
    assert not result.ok and "Non-default namedtuple field y cannot follow default field x" \
        in result.error


def test_the_field_caps_of_namedtuple_apply_to_the_class_form(session):
    many = "".join(f"    f{i}: int\n" for i in range(300))
    source = ("from typing import NamedTuple\nclass Wide(NamedTuple):\n"
              f"{many}def f():\n    return 1\n")
    result = session.call(source, "f", {})
    assert not result.ok and "300 fields; the sandbox allows 256" in result.error
    long_name = "n" * 80
    source = ("from typing import NamedTuple\n"
              f"class Long(NamedTuple):\n    {long_name}: int\ndef f():\n    return 1\n")
    result = session.call(source, "f", {})
    assert not result.ok and "field names are limited to 64 characters" in result.error


def test_tool_code_cannot_name_the_carrier_of_the_fields():
    session = Sandbox(isolation="inprocess").session(seed=0)
    source = ("class Plain:\n    size: int\n"
              "def f():\n    return Plain._astra_annotated_fields_\n")
    result = session.call(source, "f", {})
    assert not result.ok and result.error_kind == "compile_error"
