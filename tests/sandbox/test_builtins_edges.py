"""Builtin and guard edges a sampled mutation run of the sandbox found unpinned (issue 19).

``isinstance``/``issubclass`` walk a tuple of classes (nested tuples too) and cap how
many classes it names; ``str(bytes, errors=...)`` without an encoding decodes as UTF-8,
as Python's ``str`` does; ``hashlib`` objects charge ``update`` by the data's length.
"""

from __future__ import annotations

import textwrap

import pytest

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.builtins import _MAX_CLASSINFO

SANDBOX = Sandbox(isolation="inprocess")


def run(body: str):
    return SANDBOX.run("def tool():\n" + textwrap.indent(textwrap.dedent(body), "    "),
                       "tool", {})


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
        body = textwrap.dedent(template).format(constructor=constructor, n=n, update=update)
        result = SANDBOX.run("import hashlib\ndef tool():\n" + textwrap.indent(body, "    "),
                             "tool", {})
        assert result.ok, result.error
        return result.ops

    small = ops(10, "h.update(data)") - ops(10, "pass")
    big = ops(1_000_000, "h.update(data)") - ops(1_000_000, "pass")
    assert big - small >= 1_000_000 // 64  # charged per byte (in ops of several bytes each)
