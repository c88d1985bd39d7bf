"""The compile policy: what it rewrites, what it refuses, how it caches."""

from __future__ import annotations

import pytest

from astra_gym.sandbox import ErrorKind, Sandbox, compile_tool
from astra_gym.sandbox.policy import clear_cache, source_hash


def run(source: str, func: str = "f", **kwargs):
    return Sandbox(isolation="inprocess").run(source, func, kwargs)


def test_compile_is_cached_by_source_hash():
    clear_cache()
    first = compile_tool("def f():\n    return 1\n")
    second = compile_tool("def f():\n    return 1\n")
    assert first is second
    assert first.key == source_hash("def f():\n    return 1\n")
    assert compile_tool("def f():\n    return 2\n").key != first.key


def test_compile_errors_are_readable_and_never_raise():
    bad = compile_tool("def f(:\n")
    assert not bad.ok and "SyntaxError" in bad.errors[0]
    dunder = compile_tool("def f():\n    return ().__class__\n")
    assert not dunder.ok and '"__class__" is an invalid attribute name' in dunder.errors[0]
    assert not compile_tool("def f():\n    exec('1')\n").ok
    assert not compile_tool("def f():\n    return 1\n\0").ok
    assert Sandbox.check("def f():\n    return 1\n") == ()


@pytest.mark.parametrize(("body", "expected"), [
    ("d = {'a': 1}\n    d['a'] += 2\n    return d['a']", "3"),
    ("d = {'a': {'n': 1}}\n    d['a']['n'] *= 5\n    return d['a']['n']", "5"),
    ("d = {'k': [1]}\n    k = 'k'\n    d[k] += [2]\n    return d", '{"k": [1, 2]}'),
    ("xs = [1, 2]\n    xs[0] -= 10\n    return xs", "[-9, 2]"),
    ("from collections import Counter\n    c = Counter()\n    c['x'] += 1\n    return c",
     '{"x": 1}'),
])
def test_subscript_augmented_assignment_is_rewritten(body, expected):
    result = run(f"def f():\n    {body}\n")
    assert result.ok, result.error
    assert result.output == expected


def test_augmented_assignment_with_side_effects_stays_refused():
    result = run("def g():\n    return 'k'\ndef f():\n    d = {}\n    d[g()] += 1\n")
    assert result.error_kind == ErrorKind.COMPILE
    assert "Augmented assignment of object items" in result.error


def test_annotated_assignment_is_supported():
    result = run("def f():\n    total: float = 1.5\n    name: str\n    return total\n")
    assert result.ok and result.output == "1.5"


def test_guarded_method_names_keep_their_hook():
    # `join` and `format` are size-guarded; the native-attribute optimisation
    # must not bypass them.
    assert run("def f():\n    return ','.join(['a'] * 3)\n").output == "a,a,a"
    assert run("def f():\n    s = '{0.__class__}'\n    return s.format(1)\n").error_kind \
        == ErrorKind.EXCEPTION
    sep = run("def f():\n    j = ','.join\n    return j(['a'] * 20_000_000)\n")
    assert not sep.ok


def test_every_loop_and_call_ticks():
    loop = run("def f():\n    n = 0\n    for _ in range(100):\n        n += 1\n    return n\n")
    assert loop.ok and loop.ops >= 100
    comp = run("def f():\n    return len([x for x in range(500) if x % 2])\n")
    assert comp.ok and comp.ops >= 500
    calls = run("def g():\n    return 1\ndef f():\n    return sum(g() for _ in range(50))\n")
    assert calls.ok and calls.ops >= 100


def test_slices_are_charged_but_indexing_is_native():
    result = run("def f(xs):\n    return [xs[0], xs[1:3], xs[::-1][0]]\n", xs=[1, 2, 3, 4])
    assert result.ok and result.output == "[1, [2, 3], 4]"
    assert run("def f():\n    return slice(0, 2)\n").error_kind == ErrorKind.EXCEPTION


def test_classes_may_set_their_own_attributes_but_not_others():
    src = ("class Account:\n    def __init__(self, owner):\n        self.owner = owner\n"
           "    def label(self):\n        return 'acct:' + self.owner\n"
           "def f():\n    return Account('ana').label()\n")
    assert run(src).output == "acct:ana"
    assert not run("import math\ndef f():\n    math.pi = 3\n    return math.pi\n").ok
    assert not run("def f():\n    str.upper = None\n").ok


def test_missing_function_and_private_names():
    assert run("def g():\n    return 1\n").error_kind == ErrorKind.NOT_FOUND
    sandbox = Sandbox(isolation="inprocess")
    assert sandbox.run("def g():\n    return 1\n", "_g").error_kind == ErrorKind.NOT_FOUND
    assert sandbox.run("x = 5\n", "x").error_kind == ErrorKind.NOT_FOUND


def test_errors_name_the_tool_line():
    result = run("def f(x):\n    y = 1\n    return y / x\n", x=0)
    assert result.error == "ZeroDivisionError: division by zero (line 3)"


def test_print_output_is_part_of_the_result():
    result = run("def f():\n    print('a', 1, sep='-')\n    print('b', end='')\n")
    assert result.output == "a-1\nb"
    both = run("def f():\n    print('log')\n    return {'x': 1}\n")
    assert both.output == 'log\n{"x": 1}'
    assert not run("def f():\n    print('x', file=None or 1)\n").ok


def test_imports_outside_the_whitelist_fail_cleanly():
    for module in ("os", "sys", "subprocess", "importlib", "socket", "pathlib", "pickle"):
        result = run(f"import {module}\ndef f():\n    return 1\n")
        assert result.error_kind == ErrorKind.EXCEPTION
        assert f"import of '{module}' is not allowed" in result.error


def test_a_source_seen_before_is_found_by_its_text_without_hashing(monkeypatch):
    import astra_gym.sandbox.policy as policy

    source = "def f(x):\n    return x + 41\n"
    first = policy.compile_tool(source)
    same_text = "".join(["def f(x):\n", "    return x + 41\n"])  # equal, another object
    monkeypatch.setattr(policy, "source_hash", lambda text: (_ for _ in ()).throw(
        AssertionError("hashed a source the cache holds")))
    assert policy.compile_tool(same_text) is first

    class Text(str):
        pass

    monkeypatch.undo()
    assert policy.compile_tool(Text(source)) is first  # found by its hash, never by ==
    policy.clear_cache()
    assert policy.compile_tool(source) is not first
