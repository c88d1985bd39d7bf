"""Exact rules of the sandbox guards that sample 5 of the mutation run left unpinned.

A fifth random sample of the mutants of ``astra_gym/sandbox/guards.py`` and
``builtins.py`` (``Random(1512)``, 80 names no earlier sample held) left these rules
unchecked by the in-process sandbox tests: a class method reachable past its guard, a
cap one multiple off, a charge half again too high, a refusal naming the wrong
operation, and method calls that silently lost an argument. A policy that finds a
guard it can step around gets work the budget never sees; a refusal that names the
wrong operation sends a tool's author to the wrong line. Each test here fails when the
rule it names is changed.
"""

from __future__ import annotations

import pytest
from tool_runs import added_ops, output, run

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.limits import Limits

SMALL = Sandbox(isolation="inprocess", limits=Limits(max_len=1_000))
NARROW_INTS = Sandbox(isolation="inprocess", limits=Limits(max_int_bits=1_000))
UNIT = Limits().alloc_unit  # bytes one op pays for
POINTER = 8  # bytes a guard charges per container item


def refusal(body: str, sandbox: Sandbox) -> str:
    result = run(body, sandbox)
    assert not result.ok, f"expected a refusal, got {result.output!r}"
    return result.error


def test_decimal_from_float_through_the_class_is_capped_at_400_digits():
    """``Decimal.from_float(5e-324)`` is exact: 751 digits, over the 400-digit cap.

    The class method is guarded by the table; without its entry the class attribute
    would hand tool code the host's ``from_float`` and a Decimal past the cap.
    """
    message = "Decimal of 751 digits is beyond the sandbox limit of 400"
    assert message in refusal("from decimal import Decimal\nreturn Decimal.from_float(5e-324)",
                              Sandbox(isolation="inprocess"))
    assert output("from decimal import Decimal\nreturn str(Decimal.from_float(0.5))") == "0.5"


def test_a_non_ascii_case_mapping_is_capped_at_three_times_its_length():
    """``upper()`` of non-ASCII text may triple it ('\\ufb03' -> 'FFI'), never more.

    300 non-ASCII characters count as 900 under a 1,000 cap and pass; 334 count as
    1,002 and are refused. A looser factor would refuse honest text, a tighter one let
    a tripled string past the cap.
    """
    assert output("return len(str.upper('é' * 300))", SMALL) == "300"
    assert "str.upper of 1,002 items exceeds the sandbox limit of 1,000" in refusal(
        "return len(str.upper('é' * 334))", SMALL)


def test_mapping_update_from_keywords_is_charged_two_pointers_a_key():
    n = 10_000
    setup = f"kw = {{f'k{{i}}': i for i in range({n})}}\nd = {{}}"
    assert added_ops(setup, "d.update(**kw)") == n * 2 * POINTER // UNIT


def test_int_from_bytes_over_the_bit_cap_names_itself():
    assert refusal('return int.from_bytes(b"\\xff" * 200, "big")', NARROW_INTS) == (
        "sandbox limit: int.from_bytes would have about 1,600 bits; the sandbox limit is 1,000")


def test_extend_of_lists_and_queues_appends_every_item():
    got = output("import collections\nitems = [1]\nitems.extend([2, 3])\n"
                 "items.extend(x for x in 'ab')\nqueue = collections.deque([1])\n"
                 "queue.extend((2, 3))\nreturn [items, list(queue)]")
    assert got == '[[1, 2, 3, "a", "b"], [1, 2, 3]]'


def test_replace_honours_its_count():
    got = output("return ['aaa'.replace('a', 'b', 1), b'aaa'.replace(b'a', b'xy', 2).decode(), "
                 "'aaa'.replace('a', 'b')]")
    assert got == '["baa", "xyxya", "bbb"]'


def test_slice_assignment_is_charged_a_pointer_per_item_that_moves():
    """Assigning into a slice shifts every item of the list: a pointer each."""
    n = 100_000
    setup = f"items = list(range({n}))"
    for statement in ("items[0:0] = [1]", "items[5:10] = 'ab'"):
        assert added_ops(setup, statement) == n * POINTER // UNIT


def test_a_product_with_a_float_takes_the_float_path_even_with_a_big_fraction():
    """``Fraction * float`` converts the Fraction to a float (microseconds) and is free.

    A Fraction's gcd model (hundreds of thousands of ops here) belongs to products
    that build a Fraction, not to one that ends as a float.
    """
    setup = "from fractions import Fraction\nf = Fraction(3 ** 20000 + 1, 3 ** 20000)\nhalf = 0.5"
    assert added_ops(setup, "r = f * half") == 0
    assert added_ops(setup, "r = half * f") == 0
    assert output(setup + "\nreturn [f * half, half * f]") == "[0.5, 0.5]"


def test_fraction_addition_works_and_its_sum_is_capped_by_its_bits():
    """The sum is sized after it is built: two Fractions under the cap may add past it."""
    got = output("from fractions import Fraction\nhalf = Fraction(1, 2)\nthird = Fraction(1, 3)\n"
                 "one = 1\nreturn [str(half + third), str(half + one), str(one + half)]")
    assert got == '["5/6", "3/2", "3/2"]'
    assert refusal("from fractions import Fraction\na = Fraction(1, 3 ** 300)\n"
                   "b = Fraction(1, 2 ** 500)\nreturn str(a + b)", NARROW_INTS) == (
        "sandbox limit: fraction would have about 1,477 bits; the sandbox limit is 1,000")


@pytest.mark.parametrize("tabsize", [1, 0, -1])
def test_expandtabs_with_a_tab_size_up_to_one_is_charged_for_its_copy(tabsize):
    """``expandtabs(1)`` (or 0, or negative) still copies the whole text in C.

    Only tab sizes over 1 used to be charged: a 4.8-million-character text expanded at
    no cost in a loop (about 36 ms a call on the host) while ``upper()`` of it paid
    150,000 ops. Now it pays what any copy of the text pays.
    """
    setup = "s = ('a' * 31 + '\\t') * 150000"
    assert added_ops(setup, f"r = s.expandtabs({tabsize})") == added_ops(setup, "r = s.upper()")


def test_only_an_exceptions_obj_is_refused_not_other_objs_or_other_exception_methods():
    """``AttributeError.obj`` may hold a host object; ``obj`` elsewhere, and an
    exception's own methods, are plain tool attributes."""
    got = output("class Box:\n    def __init__(self):\n        self.obj = 5\n"
                 "class Oops(Exception):\n    def format(self):\n        return 'oops'\n"
                 "try:\n    raise Oops()\nexcept Oops as e:\n    said = e.format()\n"
                 "return [Box().obj, said]")
    assert got == '[5, "oops"]'


@pytest.mark.parametrize("setup, statement", [
    ("items = []\nr = range(10000)", "items.extend(r)"),
    ("items = []\ns = 'a' * 10000", "items.extend(s)"),
])
def test_unpacking_a_range_or_a_string_is_charged_one_pointer_an_item(setup, statement):
    """Sized and indexable: taken as it is, not streamed at eight pointers an item."""
    assert added_ops(setup, statement) == 10_000 * POINTER // UNIT


def test_an_unsized_iterable_is_checked_against_the_cap_every_4096_items():
    """A generator grows in steps of 4,096 items, each checked: the refusal comes at
    the first step past the cap, so it can never overshoot by more than one step."""
    assert refusal("items = []\nitems.extend(i for i in range(100) for j in range(50))\n"
                   "return len(items)", SMALL) == (
        "sandbox limit: unpacked iterable of 4,096 items exceeds the sandbox limit of 1,000")
