"""The Python-call parser: literal arguments only, never evaluated."""

from __future__ import annotations

import contextlib
import json
import keyword

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
        call = parse_python_call(text)
        # Whatever parses is a named call with plain JSON data, nothing evaluated.
        assert call.name.replace(".", "_").isidentifier()
        json.dumps([call.args, call.kwargs], allow_nan=False)


LITERALS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3),
    max_leaves=8)


@given(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
           lambda name: not keyword.iskeyword(name)),
       st.lists(LITERALS, max_size=3),
       st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
           lambda name: not keyword.iskeyword(name)), LITERALS, max_size=3))
def test_a_written_call_parses_back_to_its_arguments(name, args, kwargs):
    """The success path: any call written with literal arguments parses to exactly them."""
    text = f"{name}({', '.join([*map(repr, args), *(f'{k}={v!r}' for k, v in kwargs.items())])})"
    call = parse_python_call(text)
    assert call == PythonCall(name, tuple(args), kwargs)
