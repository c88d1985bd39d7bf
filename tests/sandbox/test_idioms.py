"""LLM-idiom corpus: realistic tools give exactly plain Python's output."""

from __future__ import annotations

import copy
import io
from contextlib import redirect_stdout

import pytest
from corpus_idioms import IDIOM_CASES

from astra_gym.sandbox import Limits
from astra_gym.sandbox.render import render_output

CALLS = [(case, i) for case in IDIOM_CASES for i in range(len(case.calls))]


def plain_output(source: str, func: str, kwargs: dict) -> str:
    namespace: dict = {"__name__": "tool"}
    exec(compile(source, "<plain>", "exec"), namespace)
    printed = io.StringIO()
    with redirect_stdout(printed):
        value = namespace[func](**copy.deepcopy(kwargs))
    return render_output(value, printed.getvalue(), str, Limits().max_output)


def test_corpus_is_large_and_varied():
    assert len(IDIOM_CASES) >= 30
    tags = {tag for case in IDIOM_CASES for tag in case.idioms}
    for required in ("augassign_subscript", "underscore_var", "json", "re", "datetime",
                     "fstring_format_spec", "sorted_key_lambda", "try_except", "class_methods"):
        assert required in tags, required


@pytest.mark.parametrize(("case", "index"), CALLS, ids=[f"{c.name}-{i}" for c, i in CALLS])
def test_idiom_matches_plain_python(any_sandbox, case, index):
    kwargs = case.calls[index]
    expected = plain_output(case.source, case.func, kwargs)
    result = any_sandbox.run(case.source, case.func, copy.deepcopy(kwargs))
    assert result.ok, f"{case.name}: {result.error}"
    assert result.output == expected
