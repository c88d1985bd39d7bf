"""Builtin and guard edges a sampled mutation run of the sandbox found unpinned (issue 19).

``isinstance``/``issubclass`` walk a tuple of classes (nested tuples too) and cap how
many classes it names; ``str(bytes, errors=...)`` without an encoding decodes as UTF-8,
as Python's ``str`` does; ``hashlib`` objects charge ``update`` by the data's length;
mapping ``update`` is capped by the merged size, ``Fraction.from_decimal`` by the bits
it would build, case mappings of non-ASCII text for three times its length and
``fromhex`` by its text.
"""

from __future__ import annotations

import pytest
from tool_runs import run

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.builtins import _MAX_CLASSINFO
from astra_gym.sandbox.limits import Limits

SMALL = Sandbox(isolation="inprocess", limits=Limits(max_len=1_000))


def _ops(body: str) -> int:
    """What ``body`` costs in the sandbox's ops (it must succeed)."""
    result = run(body)
    assert result.ok, result.error
    return result.ops


@pytest.mark.parametrize("call", ["isinstance(1, classes)", "issubclass(int, classes)"])
def test_a_classinfo_tuple_naming_too_many_classes_is_refused(call):
    result = run(f"""
        classes = (str,) * {_MAX_CLASSINFO} + (int,)
        return {call}
    """)
    assert not result.ok
    assert f"more than {_MAX_CLASSINFO} classes in the sandbox" in result.error


def test_nested_classinfo_tuples_count_every_class_they_name():
    # 8 levels, each tuple holding the previous one twice: few objects, 2**8 leaves
    result = run(f"""
        classes = (str,) * {_MAX_CLASSINFO // 200}
        for _ in range(8):
            classes = (classes, classes)
        return isinstance(1, classes)
    """)
    assert not result.ok
    assert f"more than {_MAX_CLASSINFO} classes in the sandbox" in result.error


def test_a_classinfo_tuple_within_the_cap_works_nested_or_flat():
    result = run("""
        return [isinstance(1, (str, (float, (int,)))), isinstance("a", (int, float)),
                issubclass(bool, ((str,), int))]
    """)
    assert result.ok, result.error
    assert result.output == "[true, false, true]"


@pytest.mark.parametrize("call, text", [
    ("str(b'caf\\xc3\\xa9', errors='strict')", "café"),
    ("str(b'caf\\xe9', errors='replace')", "caf\ufffd"),
    ("str(b'abc', 'ascii')", "abc"),
    ("str(b'abc')", "b'abc'"),
])
def test_str_of_bytes_decodes_as_utf8_unless_told_otherwise(call, text):
    result = run(f"return {call}")
    assert result.ok, result.error
    assert result.output == text


@pytest.mark.parametrize("constructor", ["sha256", "md5", "blake2b"])
def test_hash_update_is_charged_by_the_length_of_its_data(constructor):
    """Hashing is linear in the data: a loop could hash the same 10 MB over and over."""
    template = """
        import hashlib
        h = hashlib.{constructor}()
        data = ('a' * {n}).encode()
        {update}
        return h.hexdigest()[:8]
    """

    def ops(n, update):
        return _ops(template.format(constructor=constructor, n=n, update=update))

    small = ops(10, "h.update(data)") - ops(10, "pass")
    big = ops(1_000_000, "h.update(data)") - ops(1_000_000, "pass")
    assert big - small >= 1_000_000 // 64  # charged per byte (in ops of several bytes each)


def test_mapping_update_merges_and_is_capped_by_the_resulting_size():
    result = run("""
        import collections
        d = {'a': 1}
        d.update({'b': 2}, c=3)
        o = collections.OrderedDict(x=1)
        o.update([('y', 2)])
        return [d, list(o.items())]
    """)
    assert result.ok, result.error
    assert result.output == '[{"a": 1, "b": 2, "c": 3}, [["x", 1], ["y", 2]]]'
    over = run("d = {i: i for i in range(600)}\nd.update({-i: i for i in range(1, 600)})\n"
               "return len(d)", SMALL)
    assert not over.ok and "mapping of 1,199 items exceeds the sandbox limit of 1,000" in (
        over.error)


def test_a_fraction_from_a_huge_decimal_is_refused_by_its_size():
    narrow = Sandbox(isolation="inprocess", limits=Limits(max_int_bits=1_000))
    result = narrow.run("from decimal import Decimal\nfrom fractions import Fraction\n"
                        "def tool():\n    return str(Fraction.from_decimal(Decimal('1e5000')))\n",
                        "tool", {})
    assert not result.ok
    assert "Fraction would have about 16,612 bits; the sandbox limit is 1,000" in result.error


def test_case_mapping_a_non_ascii_string_is_charged_for_three_times_its_length():
    # '\ufb03'.upper() == 'FFI': the result may be three times as long
    n = 300_000
    ascii_cost = _ops(f"s = 'e' * {n}\nreturn len(s.upper())") - _ops(f"s = 'e' * {n}\nreturn 1")
    wide_cost = _ops(f"s = 'é' * {n}\nreturn len(s.upper())") - _ops(f"s = 'é' * {n}\nreturn 1")
    assert wide_cost >= 2.5 * ascii_cost > 0


def test_fromhex_is_charged_by_the_length_of_its_text():
    def cost(n):
        text = f"s = '0x' + '0' * {n} + '1p0'\n"
        return _ops(text + "return str(float.fromhex(s))") - _ops(text + "return 1")

    assert cost(1_000_000) - cost(10) >= 1_000_000 // 64
