"""Property-based tests: nothing the caller or the tool does raises into the host."""

from __future__ import annotations

import json

from corpus_idioms import IDIOM_CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astra_gym.sandbox import Limits, Sandbox, ToolResult, compile_tool

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


@SETTINGS
@given(case=st.sampled_from(IDIOM_CASES),
       schema_like=st.data())
def test_schema_shaped_arguments_never_raise(case, schema_like):
    # Keep the real parameter names, vary the values.
    kwargs = {name: schema_like.draw(JSON_VALUES) for name in case.calls[0]}
    result = SANDBOX.run(case.source, case.func, kwargs)
    assert isinstance(result, ToolResult)


@SETTINGS
@given(source=st.text(max_size=300))
def test_arbitrary_source_text_never_raises(source):
    compiled = compile_tool(source)
    assert compiled.ok or compiled.errors
    result = SANDBOX.run(source, "f")
    assert isinstance(result, ToolResult)


@SETTINGS
@given(case=st.sampled_from(IDIOM_CASES), cut=st.integers(0, 2000), junk=st.text(max_size=8))
def test_mutated_tool_sources_never_raise(case, cut, junk):
    source = case.source[:cut] + junk + case.source[cut + len(junk):]
    result = SANDBOX.run(source, case.func, case.calls[0])
    assert isinstance(result, ToolResult)
