"""Size caps that must hold whichever way a tool writes the expression (issue 19, mutation testing).

``range`` is capped when it is built, not only when it is materialised, and a sequence
repeated by an integer is capped with the integer on either side of ``*``.
"""

from __future__ import annotations

import textwrap

import pytest

from astra_gym.sandbox import ErrorKind, Sandbox
from astra_gym.sandbox.limits import Limits

SANDBOX = Sandbox(isolation="inprocess")
MAX_LEN = Limits().max_len


def run(body: str):
    return SANDBOX.run("def tool():\n" + textwrap.indent(textwrap.dedent(body), "    "),
                       "tool", {})


def test_the_cap_is_ten_million_items():
    assert MAX_LEN == 10_000_000  # the numbers below are written for it


@pytest.mark.parametrize("expression, size", [
    ("range(10**9)", 10**9),
    ("range(0, 10**12, 7)", 142_857_142_858),
    ("range(-1, 10**7)", 10**7 + 1),
])
def test_a_range_over_the_cap_is_refused_even_unmaterialised(expression, size):
    result = run(f"return len({expression})")
    assert not result.ok and result.error_kind == ErrorKind.LIMIT
    assert f"range of {size:,} items exceeds the sandbox limit of {MAX_LEN:,}" in result.error


def test_a_range_at_the_cap_is_allowed():
    result = run("return [len(range(10**7)), range(10**7)[-1], 5 in range(10**7)]")
    assert result.ok, result.error
    assert result.output == "[10000000, 9999999, true]"


@pytest.mark.parametrize("sequence, kind, width", [
    ("[0]", "list", 1), ("(0, 1)", "tuple", 2), ('"ab"', "str", 2), ('b"xyz"', "bytes", 3),
])
@pytest.mark.parametrize("int_on_the_left", [False, True])
def test_a_repetition_over_the_cap_is_refused_with_the_int_on_either_side(
        sequence, kind, width, int_on_the_left):
    times = "10**8"
    expression = f"{times} * {sequence}" if int_on_the_left else f"{sequence} * {times}"
    result = run(f"return len({expression})")
    assert not result.ok and result.error_kind == ErrorKind.LIMIT, expression
    assert (f"{kind} repetition of {width * 10**8:,} items exceeds the sandbox limit"
            in result.error)


@pytest.mark.parametrize("int_on_the_left", [False, True])
def test_a_repetition_of_a_variable_int_is_capped_on_either_side(int_on_the_left):
    # the int is only known at run time: the guard, not the compiler, must see it
    expression = "n * seq" if int_on_the_left else "seq * n"
    result = run(f"n = int('2' + '0' * 7)\nseq = [1, 2]\nreturn len({expression})")
    assert not result.ok and result.error_kind == ErrorKind.LIMIT
    assert "list repetition of 40,000,000 items" in result.error


def test_small_repetitions_work_with_the_int_on_either_side():
    result = run('return [3 * [0], [0] * 3, 2 * "ab", "ab" * 2, 2 * (1,), 0 * [1], -1 * "x"]')
    assert result.ok, result.error
    assert result.output == '[[0, 0, 0], [0, 0, 0], "abab", "abab", [1, 1], [], ""]'
