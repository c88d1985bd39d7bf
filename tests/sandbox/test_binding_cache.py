"""The calling-convention check reads a signature once per code object, not per episode.

Every episode re-runs a tool's module, which makes new function objects of the same
cached code; the accepted and required keyword names are kept per code object
(``session._binding``), so they must still follow what actually differs between two
functions: their code and which parameters have defaults.
"""

from __future__ import annotations

import types

import pytest

from astra_gym.sandbox import session as session_module
from astra_gym.sandbox.session import _binding


def _sample(a, b, /, c, d=1, *, e, f=2):
    return None


def test_positional_only_names_are_not_keywords_and_defaults_are_optional():
    accepted, required = _binding(_sample, _sample.__code__)
    assert accepted == {"c", "d", "e", "f"}
    assert required == {"c", "e"}


def test_a_function_of_the_same_code_with_other_defaults_gets_its_own_sets():
    code = _sample.__code__
    _binding(_sample, code)
    fewer = types.FunctionType(code, globals(), "_sample", None)  # no defaults at all
    fewer.__kwdefaults__ = None
    accepted, required = _binding(fewer, code)
    assert accepted == {"c", "d", "e", "f"}
    assert required == {"c", "d", "e", "f"}
    assert _binding(_sample, code)[1] == {"c", "e"}  # and the original is unchanged


def test_kwargs_accepts_anything(monkeypatch):
    def anything(x, **rest):
        return None
    assert _binding(anything, anything.__code__) == (None, frozenset({"x"}))


def test_the_cache_is_bounded_and_keeps_the_code_it_is_keyed_by(monkeypatch):
    monkeypatch.setattr(session_module, "_BINDINGS", {})
    monkeypatch.setattr(session_module, "_BINDINGS_SIZE", 3)
    made = []
    for n in range(7):
        namespace: dict = {}
        exec(f"def f{n}(x{n}):\n    return x{n}", namespace)
        func = namespace[f"f{n}"]
        made.append(func)
        assert _binding(func, func.__code__) == (frozenset({f"x{n}"}), frozenset({f"x{n}"}))
        assert len(session_module._BINDINGS) <= 3
    for code, *_ in session_module._BINDINGS.values():
        assert isinstance(code, types.CodeType)


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_bad_arguments_are_reported_in_every_episode(isolation):
    from astra_gym.sandbox import Sandbox

    source = "def greet(name, punctuation='!'):\n    return 'hi ' + name + punctuation\n"
    with Sandbox(isolation=isolation) as sandbox:
        session = sandbox.session(seed=0)
        try:
            for _ in range(3):  # new function objects each episode, same code
                session.reset()
                assert session.call(source, "greet", {"name": "Ada"}).output == "hi Ada!"
                missing = session.call(source, "greet", {"punctuation": "?"})
                assert missing.error_kind == "bad_arguments"
                assert missing.error == "greet() is missing the required argument 'name'"
                extra = session.call(source, "greet", {"name": "Ada", "loud": True})
                assert extra.error == "greet() got an unexpected argument 'loud'"
        finally:
            session.close()
