"""The Python-call parser: literal arguments only, never evaluated."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astra_gym.parsers import CallSyntaxError, PythonCall, bind_arguments, parse_python_call


@pytest.mark.parametrize("text, expected", [
    ("f()", PythonCall("f", (), {})),
    ("f(1, 'a', x=[1, (2, 3)], y={'k': None})",
     PythonCall("f", (1, "a"), {"x": [1, [2, 3]], "y": {"k": None}})),
    ("print(f(a=-1.5))", PythonCall("f", (), {"a": -1.5})),
    ("  f(a=True)\n", PythonCall("f", (), {"a": True})),
])
def test_parses(text, expected):
    assert parse_python_call(text) == expected


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("f(", "not valid Python"),
    ("x + 1", "not a function call"),
    ("os.system('ls')", "plain name"),
    ("f(__import__('os'))", "not a literal"),
    ("f(x=open('/etc/passwd'))", "not a literal"),
    ("f(*args)", "*args"),
    ("f(**kw)", "**kwargs"),
    ("f(x={1, 2})", "set literal"),
    ("f(x=b'raw')", "bytes literal"),
    ("f(x=1e999)", "JSON cannot represent"),
    ("f(x={1: 2})", "non-string dict key"),
    ("f(a=1); g()", "not valid Python"),
])
def test_rejects(text, fragment):
    with pytest.raises(CallSyntaxError) as info:
        parse_python_call(text)
    assert fragment in str(info.value)


def test_bind_arguments():
    call = parse_python_call("f(1, 2, c=3)")
    assert bind_arguments(call, ["a", "b", "c"]) == {"a": 1, "b": 2, "c": 3}
    with pytest.raises(CallSyntaxError, match="at most 1 positional"):
        bind_arguments(call, ["a"])
    with pytest.raises(CallSyntaxError, match="both by position and name"):
        bind_arguments(parse_python_call("f(1, a=2)"), ["a"])


@given(st.text(max_size=60))
def test_never_raises_anything_but_call_syntax_error(text):
    with contextlib.suppress(CallSyntaxError):
        parse_python_call(text)
