"""Property-based tests: nothing the caller or the tool does raises into the host."""

from __future__ import annotations

import json

from corpus_idioms import IDIOM_CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astra_gym.sandbox import ErrorKind, Limits, Sandbox, ToolResult, compile_tool

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20,
)
SANDBOX = Sandbox(isolation="inprocess", limits=Limits(ops=50_000))
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(case=st.sampled_from(IDIOM_CASES),
       kwargs=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=4),
       seed=st.integers(0, 2**32))
def test_arbitrary_arguments_never_raise_and_are_deterministic(case, kwargs, seed):
    first = SANDBOX.run(case.source, case.func, kwargs, seed=seed)
    assert isinstance(first, ToolResult)
    assert first.ok or (first.error and first.error_kind)
    assert first.ops <= 50_000
    again = SANDBOX.run(case.source, case.func, json.loads(json.dumps(kwargs)), seed=seed)
    if first.ok and json.loads(json.dumps(kwargs)) == kwargs:  # NaN breaks equality
        assert again == first


def _well_formed(result: ToolResult) -> None:
    assert isinstance(result, ToolResult)
    assert result.ok == (result.error is None) == (result.error_kind is None)
    assert isinstance(result.output, str) and result.ops <= 50_000
    if not result.ok:
        assert result.error and result.error_kind in _KINDS


_KINDS = {value for name, value in vars(ErrorKind).items() if not name.startswith("_")}


def _like(value):
    """Values of the same JSON type as an example argument (so calls often succeed)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-5, 2 * abs(value) + 5)
    if isinstance(value, float):
        return st.floats(-1e6, 1e6, allow_nan=False)
    if isinstance(value, str):
        return st.sampled_from([value, value.upper(), value.title(), ""]) | st.text(max_size=12)
    if isinstance(value, list):
        return st.lists(_like(value[0]) if value else JSON_VALUES, max_size=4)
    return st.just(value)


@SETTINGS
@given(data=st.data())
def test_schema_shaped_arguments_behave_as_plain_python(data):
    """Type-correct values (the idiom's own ones mixed with drawn ones): the sandbox gives
    the plain-Python answer, or the same exception class, never an internal failure."""
    case = data.draw(st.sampled_from(IDIOM_CASES))
    kwargs = {name: data.draw(_like(value)) for name, value in case.calls[0].items()}
    result = SANDBOX.run(case.source, case.func, kwargs)
    _well_formed(result)
    assert result.error_kind in (None, ErrorKind.EXCEPTION, ErrorKind.BUDGET), result
    namespace: dict = {}
    exec(compile(case.source, "<idiom>", "exec"), namespace)  # trusted corpus: the reference
    try:
        expected = namespace[case.func](**kwargs)
    except Exception as exc:  # the tool rejects the value: the sandbox reports the same
        if result.error_kind == ErrorKind.EXCEPTION:
            assert result.error.startswith(type(exc).__name__), (result.error, exc)
        return
    if result.ok and result.output[:1] in "[{":
        assert json.loads(result.output) == json.loads(json.dumps(expected, default=str))
    if result.ok:
        _SUCCESSES.append(case.name)


_SUCCESSES: list[str] = []


def test_the_schema_shaped_property_reaches_successful_calls():
    """The property above is only worth something if its calls succeed; check it did."""
    test_schema_shaped_arguments_behave_as_plain_python()
    assert len(_SUCCESSES) >= 10, _SUCCESSES


LITERALS = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20)
    | st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(value=LITERALS, name=st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True))
def test_generated_tool_sources_run_and_return_their_value(value, name):
    """Generated sources that are valid tools: the call succeeds and renders the value."""
    source = f"DATA = {value!r}\ndef {name}(key=None):\n    return DATA\n"
    assert compile_tool(source).ok
    result = SANDBOX.run(source, name)
    _well_formed(result)
    assert result.ok, result
    scalar = value is None or isinstance(value, str | bool | int | float)
    expected = str(value) if scalar else json.dumps(value, ensure_ascii=False)
    assert result.output == expected  # scalars as str(), containers as JSON


@SETTINGS
@given(source=st.text(max_size=300))
def test_arbitrary_source_text_never_raises(source):
    compiled = compile_tool(source)
    assert compiled.ok or compiled.errors
    result = SANDBOX.run(source, "f")
    _well_formed(result)
    if not compiled.ok:
        assert result.error_kind == ErrorKind.COMPILE


@SETTINGS
@given(case=st.sampled_from(IDIOM_CASES), cut=st.integers(0, 2000), junk=st.text(max_size=8))
def test_mutated_tool_sources_never_raise(case, cut, junk):
    source = case.source[:cut] + junk + case.source[cut + len(junk):]
    result = SANDBOX.run(source, case.func, case.calls[0])
    _well_formed(result)
    again = SANDBOX.run(source, case.func, case.calls[0])
    assert again == result  # deterministic, even for broken sources
