"""The third review round's fixes, one layer at a time.

The payloads of ``corpus_round3.py`` run end to end in ``test_review_corpus.py``;
most of them now stop at the first gate they meet (``typing.Type[int]`` is not
a base). These tests check each layer behind that gate on its own, with host
objects where tool code can no longer build them, so that removing any one
fix fails a test:

* class statements: no metaclass or ABC bases, no str/number/set subclasses,
  container subclasses build through the stand-in;
* ``_getattr_``: stand-ins recognised by their metaclass, guards looked up on
  the true MRO, its cache keyed by identity;
* the parent reads a worker's reply as untrusted: a deadline for the whole
  frame, nothing hashed or unpickled from a call's reply;
* no negative charges; ranges, stand-ins' class attributes and generic aliases
  charged or refused; host tables and caches only ever see exact strings.
"""

from __future__ import annotations

import abc
import collections.abc
import datetime
import gc
import re
import subprocess
import sys
import textwrap
import types
import weakref
from pathlib import Path

import pytest
import rogue_worker

from astra_gym.sandbox import ErrorKind, Limits, Sandbox
from astra_gym.sandbox import worker as worker_module
from astra_gym.sandbox.errors import SandboxLimitError
from astra_gym.sandbox.formatting import safe_format
from astra_gym.sandbox.guards import build_hooks
from astra_gym.sandbox.meter import Meter
from astra_gym.sandbox.pool import _tool_result
from astra_gym.sandbox.result import ToolResult
from astra_gym.sandbox.session import DEFAULT_CLOCK, InProcessSession

SANDBOX = Sandbox(isolation="inprocess")
HERE = Path(__file__).resolve().parent


def run(source: str, limits: Limits | None = None, **kwargs):
    sandbox = SANDBOX if limits is None else Sandbox(isolation="inprocess", limits=limits)
    return sandbox.run(textwrap.dedent(source), "tool", kwargs)


def _hooks(max_len: int = 1000) -> dict:
    return build_hooks(Meter(1_000_000, 32, max_len, 100_000), set(), DEFAULT_CLOCK)


def _is_guard(value) -> bool:
    """A sandbox guard is a Python closure; the raw method is a C builtin."""
    return type(value) is types.FunctionType


# ----------------------------------------------------------- 1, 5, 9: class statements
@pytest.mark.parametrize("base", [
    "typing.Type[int]",  # (type, Generic): a subclass is a metaclass
    "typing.Callable[[int], int]",  # collections.abc classes: ABCMeta.register()
    "typing.Iterable[int]",
    "typing.Mapping[str, int]",
    "typing.Sequence[int]",
])
def test_typing_aliases_that_hand_out_a_metaclass_or_an_abc_are_not_bases(base):
    result = run(f"""
        import typing
        class Base:
            pass
        class M(Base, {base}):
            pass
        def tool():
            return 1
    """)
    assert result.error_kind == ErrorKind.EXCEPTION
    assert "cannot be a base class in the sandbox" in result.error, result.error


def test_typing_aliases_of_containers_and_generic_stay_bases():
    result = run("""
        import typing
        T = typing.TypeVar("T")
        class Rows(typing.List[int]):
            pass
        class Table(typing.Dict[str, int]):
            pass
        class Box(typing.Generic[T]):
            pass
        def tool():
            return [Rows({3, 1, 2}), Table(a=1), isinstance(Box(), Box)]
    """)
    assert result.ok, result.error
    assert result.output == '[[1, 2, 3], {"a": 1}, true]'


class _HostMeta(type):
    pass


@pytest.mark.parametrize("base", [
    type,
    _HostMeta,
    _HostMeta("ClassOfAMetaclass", (), {}),
    collections.abc.Mapping,
    abc.ABC,
], ids=["type", "metaclass", "class_of_a_metaclass", "abc_mapping", "abc"])
def test_class_statements_refuse_metaclass_and_abc_bases(base):
    """Behind the typing gate: whatever hands out such a base, the class is refused.

    A subclass of ``type`` is a metaclass the tool could call with a namespace of
    any names (``Meta(name, bases, ns)``: past the base and depth limits); an
    ABC's ``register()`` changes ``isinstance`` answers process-wide.
    """
    session = InProcessSession()
    with pytest.raises(TypeError, match="not available as a base in the sandbox"):
        session._metaclass("M", (base,), {"__module__": "tool", "__qualname__": "M"})


@pytest.mark.parametrize("base", ["str", "int", "float", "complex", "set", "frozenset",
                                  "fractions.Fraction", "decimal.Decimal", "uuid.UUID"])
def test_strings_numbers_and_sets_cannot_be_subclassed(base):
    result = run(f"""
        import fractions, decimal, uuid
        class Sub({base}):
            pass
        def tool():
            return 1
    """)
    assert result.error_kind == ErrorKind.EXCEPTION
    assert "subclassing" in result.error and "is not available in the sandbox" in result.error


@pytest.mark.parametrize("base, call, expected", [
    ("list", "Sub({'delta', 'alpha', 'gamma', 'beta'})", "['alpha', 'beta', 'delta', 'gamma']"),
    ("tuple", "Sub({'delta', 'alpha', 'gamma', 'beta'})", "('alpha', 'beta', 'delta', 'gamma')"),
    ("dict", "Sub(a=1)", "{'a': 1}"),
    ("collections.Counter", "Sub('abca')", "Sub({'a': 2, 'b': 1, 'c': 1})"),
    ("collections.deque", "Sub({'c', 'a', 'b'}, 2)", "Sub(['b', 'c'], maxlen=2)"),
])
def test_container_subclasses_build_through_the_stand_in(base, call, expected):
    """Sets are ordered (not hash order) and the size is charged before anything is built."""
    result = run(f"""
        import collections
        class Sub({base}):
            pass
        def tool():
            return repr({call})
    """)
    assert result.ok, result.error
    assert result.output == expected
    big = run(f"""
        import collections
        class Sub({base}):
            pass
        def tool():
            return len(Sub(range(50000000)))
    """)
    assert big.error_kind in (ErrorKind.BUDGET, ErrorKind.LIMIT), big


def test_a_container_subclass_keeps_its_own_constructor():
    result = run("""
        class Stack(list):
            def __init__(self, first):
                self.append(first)
        def tool():
            return Stack(5)
    """)
    assert result.ok and result.output == "[5]", result


# ---------------------------------------------------------------- 4: _getattr_
class _LyingMeta(type):
    """A metaclass whose ``__mro__`` property hides the class's real bases."""

    __mro__ = property(lambda cls: (cls,))  # type: ignore[assignment]


def test_guards_are_resolved_on_the_true_mro():
    raw = _LyingMeta("Raw", (str,), {})
    getattr_ = _hooks()["_getattr_"]
    fmt = getattr_(raw("{0.real}"), "format")
    assert _is_guard(fmt)
    with pytest.raises(ValueError, match="attribute access"):
        fmt(1)  # the raw str.format would walk the attribute
    pad = getattr_(raw, "ljust")  # through the class
    assert _is_guard(pad)
    with pytest.raises(SandboxLimitError):
        pad("", 5000)  # max_len is 1000


@pytest.mark.parametrize("cls, name", [
    (type("Fake", (str,), {"_astra_real": int}), "format"),
    (type("FakeDate", (datetime.date,), {"_astra_real": _HostMeta}), "fromtimestamp"),
])
def test_a_class_attribute_does_not_make_a_stand_in(cls, name):
    """Stand-ins are recognised by their metaclass, never by ``_astra_real`` on the class."""
    found = _hooks()["_getattr_"](cls, name)
    assert _is_guard(found), found


def test_the_guard_cache_is_keyed_by_identity():
    """A type whose metaclass says it equals ``str`` (and hashes like it) gets its own entry."""

    class Collide(type):
        def __eq__(cls, other):
            return True

        def __hash__(cls):
            return hash(str)

    twin = Collide("Twin", (), {})
    getattr_ = _hooks()["_getattr_"]
    assert getattr_(twin(), "format", None) is None  # cached first: "no guard"
    assert _is_guard(getattr_("{0.real}", "format"))
    # exceptions' .obj is refused outside the cache, whatever it holds
    twin_exception = Collide("TwinError", (Exception,), {})
    with pytest.raises(AttributeError, match="'obj' of an exception"):
        getattr_(twin_exception(), "obj", None)
    with pytest.raises(AttributeError, match="'obj' of an exception"):
        getattr_(AttributeError("x", name="y", obj=re), "obj")


# --------------------------------------------------- 11, 12: stand-ins and aliases
def test_stand_ins_forward_instance_members_only():
    builtins = InProcessSession()._base_globals["__builtins__"]
    assert builtins["str"].upper is str.upper
    assert builtins["int"].real is int.real
    for stand_in, name in [("str", "maketrans"), ("float", "fromhex"), ("dict", "fromkeys"),
                           ("list", "__class_getitem__"), ("int", "from_bytes")]:
        with pytest.raises(AttributeError):
            getattr(builtins[stand_in], name)


def test_class_level_constructors_of_stand_ins_are_charged():
    result = run("""
        def tool():
            s = "".join([chr(i) for i in range(32, 100032)]) * 10
            n = 0
            for i in range(1000000):
                n += len(str.maketrans(s, s))
            return n
    """)
    assert result.error_kind == ErrorKind.BUDGET, result
    fine = run("""
        def tool():
            return [str.maketrans("ab", "cd"), float.fromhex("0x1p3"),
                    int.from_bytes(b"\\x01", "big")]
    """)
    assert fine.ok and fine.output == '[{"97": 99, "98": 100}, 8.0, 1]', fine


@pytest.mark.parametrize("alias", ["set[int]", "list[int]", "tuple[int, ...]", "frozenset[int]",
                                   "collections.Counter[int]", "collections.deque[int]"])
def test_generic_aliases_of_stand_ins_build_through_the_meter(alias):
    big = run(f"""
        import collections
        def tool():
            return len({alias}(range(50000000)))
    """)
    assert big.error_kind in (ErrorKind.BUDGET, ErrorKind.LIMIT), big
    ordered = run(f"""
        import collections
        def tool():
            return list({alias}({{"delta", "alpha", "gamma"}}))
    """)
    assert ordered.ok and ordered.output == '["alpha", "delta", "gamma"]', ordered


# ------------------------------------------------------------ 10: range membership
@pytest.mark.parametrize("test", ["0.5 in r", "r.count(0.5)", "r.index(9999999.0)",
                                  "'x' in r"])
def test_a_non_int_needle_in_a_big_range_is_charged(test):
    cheap = run("def tool():\n    r = range(10000000)\n    return [5 in r, r.count(5)]\n")
    assert cheap.ok and cheap.ops < 100, cheap
    result = run(f"def tool():\n    r = range(10000000)\n    return {test}\n")
    assert result.ops > 100_000, result  # about len(r) / 8
    loop = run(f"""
        def tool():
            r = range(10000000)
            for i in range(1000):
                {test}
    """)
    assert loop.error_kind == ErrorKind.BUDGET, loop


# ---------------------------------------------------------------- 7: negative charges
def test_a_negative_charge_is_refused_and_gives_nothing_back():
    meter = Meter(1000, 32, 1000, 100_000)
    meter.charge(3200)
    before = meter.remaining
    with pytest.raises(SandboxLimitError, match="negative"):
        meter.charge(-32 * 10**15)
    assert meter.remaining <= before
    meter = Meter(1000, 32, 1000, 100_000)
    with pytest.raises(SandboxLimitError, match="negative"):
        meter.check_len(-5, "list")


@pytest.mark.parametrize("call", [
    "random.choices([1], k=-(10 ** 15))",
    "random.sample([1, 2], k=-(10 ** 15))",
    "itertools.tee([1], -(10 ** 15))",
    "math.perm(10, -(10 ** 15))",
    "statistics.quantiles([1, 2, 3], n=-(10 ** 15))",
    "list(itertools.combinations([1, 2], -(10 ** 15)))",
])
def test_negative_sizes_never_refill_the_budget(call):
    result = run(f"""
        import random, itertools, math, statistics
        def tool():
            try:
                {call}
            except Exception:
                pass
            n = 0
            while True:
                n += 1
    """)
    assert result.error_kind == ErrorKind.BUDGET, result
    assert 0 <= result.ops <= Limits().ops + 10, result


# ------------------------------------------------- 6, 13: host tables and caches
class _Tagged(str):
    """A str subclass made by the host (tool code cannot make one)."""

    def translate(self, table):
        table[46] = "."  # what re.escape / textwrap would hand over: the host's tables
        table[101] = 51
        return str(self)

    def __hash__(self):
        return str.__hash__(self)


def test_host_code_receives_exact_strings():
    session = InProcessSession()
    escape_table = dict(re._special_chars_map)
    whitespace = dict(textwrap.TextWrapper.unicode_whitespace_trans)
    re_proxy = session._modules.get("re")
    textwrap_proxy = session._modules.get("textwrap")
    try:
        assert re_proxy.escape(_Tagged("a.b")) == "a\\.b"
        assert textwrap_proxy.wrap(_Tagged("hello\tworld"), 40) == ["hello   world"]
        assert textwrap_proxy.fill(_Tagged("tea"), 40, expand_tabs=False) == "tea"
    finally:
        changed = (re._special_chars_map != escape_table
                   or textwrap.TextWrapper.unicode_whitespace_trans != whitespace)
        re._special_chars_map.clear()
        re._special_chars_map.update(escape_table)
        textwrap.TextWrapper.unicode_whitespace_trans.clear()
        textwrap.TextWrapper.unicode_whitespace_trans.update(whitespace)
    assert not changed, "a host table was handed to a str subclass's translate()"


def test_the_format_cache_keeps_no_str_subclass():
    class Payload:
        pass

    meter = Meter(1_000_000, 32, 10_000, 100_000)
    key = _Tagged("{} #round3")
    key.payload = payload = Payload()
    alive = weakref.ref(payload)
    assert safe_format(meter, key, (1,), {}, str, repr) == "1 #round3"
    del key, payload
    gc.collect()
    assert alive() is None, "the format parse cache kept the str subclass (and its payload)"


def test_stand_in_str_of_a_str_subclass_is_exact():
    builtins = InProcessSession()._base_globals["__builtins__"]
    assert type(builtins["str"](_Tagged("x"))) is str


# ---------------------------------------------- 2, 3: the worker's reply is untrusted
def test_tool_result_checks_types_before_it_looks_anything_up():
    """A deeply nested error kind must not be hashed (it segfaults the parent): a child runs it."""
    code = ("from astra_gym.sandbox.pool import _tool_result\n"
            "from astra_gym.sandbox.result import ToolResult\n"
            "t = ()\n"
            "for i in range(1000000):\n"
            "    t = (t,)\n"
            "print(_tool_result(ToolResult(False, 'x', 'e', t, 0)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "None", (proc.returncode,
                                                                     proc.stderr[-300:])


@pytest.mark.parametrize("fields", [
    (True, "x", None, None, -1),
    (True, "x", None, None, 1 << 63),
    (True, "x", None, None, True),
    (False, "x", "e", "no_such_kind", 0),
    (False, "x", "e", b"exception", 0),
    (True, "x", "e", None, 0),
    (False, 1, "e", "exception", 0),
])
def test_tool_result_refuses_malformed_fields(fields):
    assert _tool_result(ToolResult(*fields)) is None
    assert _tool_result(fields) is None  # a plain tuple is not a ToolResult
    good = ToolResult(False, "", "ValueError: x", ErrorKind.EXCEPTION, 3)
    assert _tool_result(good) is good


def test_a_rogue_workers_deep_reply_kills_the_worker_not_the_parent():
    """The round-2 reply format with a million-deep error kind: decoded, never hashed."""
    proc = subprocess.run([sys.executable, str(HERE / "rogue_worker.py"), "--drive",
                           "deep_kind"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the parent died: rc={proc.returncode} {proc.stderr[-300:]}"
    assert proc.stdout.startswith("WorkerDied: sandbox worker sent a malformed reply"), proc.stdout


@pytest.mark.parametrize("mode, expected", [
    ("valid", "result (True, 'rogue', None, None, 7) (worker was alive)"),
    ("partial", "WorkerTimeout"),
    ("forged_id", "WorkerDied: sandbox worker replied out of turn"),
    ("huge", "WorkerDied: sandbox worker announced a reply of 1,073,741,824 bytes"),
    ("trailing", "WorkerDied: sandbox worker sent more than its reply"),
])
def test_a_rogue_workers_reply_is_checked_within_the_deadline(mode, expected):
    """The deadline covers the whole frame: 5 bytes and a 60 s sleep is a timeout, not a stall."""
    outcome, seconds = rogue_worker.rogue_call(mode, timeout=0.5)
    assert outcome.startswith(expected), outcome
    assert seconds < 10, f"{mode}: the parent waited {seconds:.1f} s (call limit 0.5 s)"


@pytest.mark.parametrize("mode, output, ops", [("trickle", "slowly", 3), ("big", "x" * 200_000, 5)],
                         ids=["trickle", "big"])
def test_a_reply_in_pieces_or_longer_than_one_read_arrives_whole(mode, output, ops):
    """The parent reads a reply with one read when it can; a header split over writes,
    or a frame longer than one read (64 KiB), must still arrive byte for byte."""
    outcome, _ = rogue_worker.rogue_call(mode, timeout=5.0)
    assert outcome == f"result {(True, output, None, None, ops)!r} (worker was alive)", \
        outcome[:200]


def test_a_worker_that_stops_reading_cannot_block_the_parent():
    outcome, seconds = rogue_worker.rogue_call("deaf", timeout=0.5, source="x" * 300_000)
    assert outcome == "WorkerTimeout", outcome
    assert seconds < 10, seconds


def test_a_stalled_reply_is_a_timeout_result_through_the_pool(monkeypatch):
    monkeypatch.setattr(worker_module, "subprocess", rogue_worker.rogue_subprocess("partial"))
    with Sandbox(isolation="process", pool=1, limits=Limits(timeout=0.5)) as sandbox:
        result = sandbox.run("def f():\n    return 1\n", "f")
    assert result.error_kind == ErrorKind.TIMEOUT, result


# ------------------------------------------------------------- 8: Fraction, Decimal
@pytest.mark.parametrize("make", [
    'fractions.Fraction("1e30000000")',
    'fractions.Fraction.from_decimal(decimal.Decimal("1e2000000"))',
    'int(decimal.Decimal("1e2000000"))',
    'decimal.Decimal("1" * 5000)',
])
def test_fraction_and_decimal_sizes_are_checked_on_every_path(make):
    """With subclasses refused, the stand-ins and guards are the only constructors."""
    result = run(f"""
        import fractions, decimal
        def tool():
            return str({make})[:10]
    """)
    assert not result.ok, result
    assert result.error_kind in (ErrorKind.LIMIT, ErrorKind.EXCEPTION), result
    assert result.ops < 100_000, result


def test_docs_carry_the_current_subclassing_table():
    from astra_gym.sandbox.standins import subclass_table

    docs = (HERE.parents[1] / "docs" / "sandbox.md").read_text(encoding="utf-8")
    start, end = "<!-- subclassing:start -->", "<!-- subclassing:end -->"
    shown = docs[docs.index(start) + len(start):docs.index(end)].strip()
    assert shown == subclass_table(), (
        "docs/sandbox.md is out of date: paste the output of `python -c 'from "
        "astra_gym.sandbox.standins import subclass_table; print(subclass_table())'` between "
        "its subclassing markers")
