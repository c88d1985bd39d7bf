"""Sessions: determinism inside, isolation between, results and limits."""

from __future__ import annotations

import datetime as dt
import json

from astra_gym.sandbox import DEFAULT_CLOCK, ErrorKind, Limits, Sandbox, ToolResult

COUNTER = ("STATE = {'n': 0}\n"
           "def bump():\n    STATE['n'] += 1\n    return STATE['n']\n")
RANDOMISH = ("import random, uuid\n"
             "def draw():\n    return [random.randint(1, 10**6), str(uuid.uuid4()),"
             " random.choice(['a', 'b', 'c'])]\n")
CLOCK = ("import time\nfrom datetime import datetime, date, timezone\n"
         "def now():\n    return [datetime.now().isoformat(), date.today().isoformat(),"
         " time.time(), datetime.now(timezone.utc).isoformat(),"
         " time.strftime('%Y-%m-%d %H:%M', time.localtime()), time.gmtime().tm_year]\n")


def test_tool_state_persists_within_a_session_and_not_across(any_sandbox):
    session = any_sandbox.session(seed=1)
    assert [session.call(COUNTER, "bump").output for _ in range(3)] == ["1", "2", "3"]
    assert any_sandbox.session(seed=1).call(COUNTER, "bump").output == "1"
    session.reset()
    assert session.call(COUNTER, "bump").output == "1"
    session.close()


def test_random_is_per_session_and_seeded(any_sandbox):
    a = any_sandbox.session(seed=42)
    b = any_sandbox.session(seed=42)
    c = any_sandbox.session(seed=43)
    first = [a.call(RANDOMISH, "draw").output for _ in range(3)]
    assert first == [b.call(RANDOMISH, "draw").output for _ in range(3)]
    assert first != [c.call(RANDOMISH, "draw").output for _ in range(3)]
    assert len(set(first)) == 3  # the stream advances within a session


def test_clock_is_frozen_and_configurable(any_sandbox):
    out = json.loads(any_sandbox.run(CLOCK, "now").output)
    assert out[0] == DEFAULT_CLOCK.isoformat()
    assert out[1] == DEFAULT_CLOCK.date().isoformat()
    assert out[2] == DEFAULT_CLOCK.replace(tzinfo=dt.UTC).timestamp()
    assert out[3] == DEFAULT_CLOCK.replace(tzinfo=dt.UTC).isoformat()
    assert out[4] == DEFAULT_CLOCK.strftime("%Y-%m-%d %H:%M")
    assert out[5] == DEFAULT_CLOCK.year
    custom = dt.datetime(2030, 5, 6, 7, 8, 9)
    assert json.loads(any_sandbox.run(CLOCK, "now", clock=custom).output)[0] == custom.isoformat()


def test_sets_render_in_a_stable_order(any_sandbox):
    src = ("def f(words):\n    s = set(words)\n    return [list(s), sorted(s), str(s), f'{s}',"
           " ','.join(s), [w for w in s], '%s' % (s,)]\n")
    words = ["pear", "apple", "fig", "kiwi", "banana"]
    out = json.loads(any_sandbox.run(src, "f", {"words": words}).output)
    ordered = sorted(words)
    assert out[0] == ordered and out[1] == ordered and out[5] == ordered
    assert out[4] == ",".join(ordered)
    assert out[2] == out[3] == out[6] == "{" + ", ".join(repr(w) for w in ordered) + "}"
    assert any_sandbox.run("def f():\n    return {'b', 'a'}\n", "f").output == '["a", "b"]'


def test_result_rendering(any_sandbox):
    cases = {
        "return {'城市': '北京', 't': 1.5}": '{"城市": "北京", "t": 1.5}',
        "return (1, 'a')": '[1, "a"]',
        "return None": "None",
        "return 3": "3",
        "return True": "True",
        "return 'plain'": "plain",
        "from datetime import date\n    return {'d': date(2024, 1, 2)}": '{"d": "2024-01-02"}',
        "from decimal import Decimal\n    return [Decimal('1.10')]": '["1.10"]',
        "return {(1, 2): 'tuple key'}": "{(1, 2): 'tuple key'}",
    }
    for body, expected in cases.items():
        result = any_sandbox.run(f"def f():\n    {body}\n", "f")
        assert result.ok and result.output == expected, (body, result)
    addr = any_sandbox.run("class A:\n    pass\ndef f():\n    return A()\n", "f")
    assert addr.ok and "0x?" in addr.output and "0x7" not in addr.output


def test_long_output_is_truncated_deterministically():
    sandbox = Sandbox(isolation="inprocess", limits=Limits(max_output=100))
    result = sandbox.run("def f():\n    return 'x' * 1000\n", "f")
    assert result.ok
    assert result.output == "x" * 100 + "\n...[output truncated: 900 more characters]"


def test_budget_is_configurable_and_counted_deterministically():
    src = "def f(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n"
    small = Sandbox(isolation="inprocess", limits=Limits(ops=1_000))
    assert small.run(src, "f", {"n": 500}).ok
    over = small.run(src, "f", {"n": 5_000})
    assert over.error_kind == ErrorKind.BUDGET and over.ops == 1_000
    a = Sandbox(isolation="inprocess").run(src, "f", {"n": 300})
    assert a.ops == Sandbox(isolation="inprocess").run(src, "f", {"n": 300}).ops


def test_result_text_for_agents():
    assert ToolResult(True, "out").text == "out"
    failed = ToolResult.failure(ErrorKind.EXCEPTION, "ValueError: bad", output="log")
    assert failed.text == "log\nError: ValueError: bad"
    assert ToolResult.failure(ErrorKind.TIMEOUT, "slow").text == "Error: slow"


def test_limits_validate_their_values():
    import pytest

    for bad in ({"ops": 0}, {"max_len": -1}, {"timeout": 0}, {"ops": True}):
        with pytest.raises(ValueError):
            Limits(**bad)
    with pytest.raises(ValueError):
        Sandbox(isolation="docker")  # type: ignore[arg-type]


def test_positional_arguments(any_sandbox):
    result = any_sandbox.run("def f(a, b=2):\n    return a - b\n", "f", args=(10,))
    assert result.output == "8"
    bad = any_sandbox.run("def f(a):\n    return a\n", "f", {"zzz": 1})
    assert bad.error_kind == ErrorKind.BAD_ARGUMENTS
    assert bad.error == "f() got an unexpected argument 'zzz'"


def test_calling_convention_errors_are_bad_arguments_not_exceptions(any_sandbox):
    source = "def f(a, b=1, *, c, d=2, **extra):\n    return len(None)\n"
    missing = any_sandbox.run(source, "f", {"a": 1})
    assert (missing.error_kind, missing.error) == (
        ErrorKind.BAD_ARGUMENTS, "f() is missing the required argument 'c'")
    # **extra accepts any name; the TypeError raised inside the tool stays an exception.
    inside = any_sandbox.run(source, "f", {"a": 1, "c": 2, "anything": 3})
    assert inside.error_kind == ErrorKind.EXCEPTION and inside.error.startswith("TypeError")
    positional_only = any_sandbox.run("def g(a, /):\n    return a\n", "g", {"a": 1})
    assert positional_only.error_kind == ErrorKind.BAD_ARGUMENTS
