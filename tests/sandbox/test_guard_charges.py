"""Exact charges, caps and messages of the sandbox's operator guards (issue 19).

A sampled mutation run of ``astra_gym/sandbox/guards.py`` left these unpinned: the
hostile payloads of the abuse corpus prove *that* a limit trips, but not what each
operation pays, where a cap sits to the item, or which operation a refusal names. A
policy that finds an operation charged at a quarter of its cost gets four times the
work for its budget, and an error that names the wrong operation sends the tool's
author to the wrong line. Each test here fails when the rule it names is changed.
"""

from __future__ import annotations

import datetime

import pytest
from tool_runs import SANDBOX, added_ops, output, run

from astra_gym.sandbox import Sandbox, costs
from astra_gym.sandbox.guards import build_hooks
from astra_gym.sandbox.limits import Limits
from astra_gym.sandbox.meter import Meter
from astra_gym.sandbox.session import DEFAULT_CLOCK

SMALL = Sandbox(isolation="inprocess", limits=Limits(max_len=1_000))
NARROW_INTS = Sandbox(isolation="inprocess", limits=Limits(max_int_bits=1_000))
UNIT = Limits().alloc_unit  # bytes one op pays for
POINTER = 8  # bytes a guard charges per container item


def cost(setup: str, expression: str) -> int:
    """The ops ``expression`` adds to a tool that runs ``setup`` first."""
    return added_ops(setup, f"result = {expression}")


def refusal(body: str, sandbox: Sandbox) -> str:
    result = run(body, sandbox)
    assert not result.ok, f"expected a refusal, got {result.output!r}"
    return result.error


# ------------------------------------------------------------------ containers


def test_in_place_repeat_of_a_list_repeats_it_and_is_capped():
    got = output("import collections\nitems = [1, 2]\nitems *= 3\n"
                 "queue = collections.deque('ab')\nqueue *= 2\nreturn [items, list(queue)]")
    assert got == '[[1, 2, 1, 2, 1, 2], ["a", "b", "a", "b"]]'
    assert "exceeds the sandbox limit of 1,000" in refusal("items = [0] * 10\nitems *= 101",
                                                           SMALL)


def test_set_algebra_is_charged_a_pointer_per_item_and_counter_algebra_four():
    """Counter ``|`` runs a host-Python loop per key, four times a set's C loop."""
    n = 50_000
    setup = (f"import collections\na = {{kind}}(range({n}))\n"
             f"b = {{kind}}(range({n}, {2 * n}))")
    sets = cost(setup.format(kind="set"), "a | b")
    counters = cost(setup.format(kind="collections.Counter"), "a | b")
    assert sets == 2 * n * POINTER // UNIT
    assert counters == 4 * sets


@pytest.mark.parametrize("expression, what", [
    ("a | b", "union"), ("a & a", "intersection"), ("a ^ b", "symmetric difference"),
])
def test_set_algebra_over_the_cap_names_the_operation(expression, what):
    # .add grows a set past max_len one charged item at a time; the operators check
    # the size of what they build
    body = (f"a = set(range(600))\nfor i in range(1, 600):\n    a.add(-i)\n"
            f"b = set(range(600, 1200))\nreturn len({expression})")
    assert f"{what} of " in refusal(body, SMALL)
    assert "items exceeds the sandbox limit of 1,000" in refusal(body, SMALL)


def test_in_place_set_algebra_over_the_cap_names_the_container():
    body = "a = set(range(600))\nb = set(range(600, 1200))\na |= b\nreturn len(a)"
    assert "set of 1,200 items exceeds the sandbox limit of 1,000" in refusal(body, SMALL)


def test_membership_in_a_sized_view_is_charged_by_what_it_scans():
    n = 100_000
    scanned = cost(f"d = dict.fromkeys(range({n}), 1)\nv = d.values()", "2 in v")
    assert scanned == n * 4 // UNIT


@pytest.mark.parametrize("items, allowed", [(11, True), (12, False)])
def test_join_is_capped_by_its_separators_to_the_item(items, allowed):
    # 100-character separator between empty items: (items - 1) * 100 characters
    result = run(f"return len(('x' * 100).join([''] * {items}))", SMALL)
    if allowed:
        assert result.ok, result.error
        assert result.output == "1000"
    else:
        assert not result.ok
        assert "join of 1,100 items exceeds the sandbox limit of 1,000" in result.error


def test_repr_of_a_long_string_is_refused_by_its_escaped_size():
    # a character may repr as up to 10 (\U0010ffff): 200 characters count as 2,000
    assert "repr of 2,000 items exceeds the sandbox limit of 1,000" in refusal(
        "return repr('x' * 200)", SMALL)


# ------------------------------------------------------------------- integers


def test_int_to_bytes_works_within_the_cap_and_is_refused_beyond_it():
    got = output("return [(5).to_bytes(2, 'big').hex(), (258).to_bytes(2, 'little').hex()]",
                 SMALL)
    assert got == '["0005", "0201"]'
    assert "int.to_bytes of 2,000 items exceeds the sandbox limit of 1,000" in refusal(
        "return (5).to_bytes(2000, 'big').hex()", SMALL)


def test_a_power_over_the_bit_cap_is_refused_by_name():
    assert "power would have about" in refusal("base = 3\nreturn base ** 5000", NARROW_INTS)


@pytest.mark.parametrize("op", ["+", "-"])
def test_integer_add_and_subtract_charge_the_longer_operand_on_either_side(op):
    """``1 - huge`` copies ``huge`` as surely as ``huge - 1`` does."""
    setup = "big = 1 << 90000\none = 1"
    big_left = cost(setup, f"big {op} one")
    big_right = cost(setup, f"one {op} big")
    assert big_left > 0
    assert big_right == big_left


def test_mixed_int_and_float_arithmetic_is_plain_and_free():
    got = output("one = 1\nhalf = 0.5\nreturn [one - half, half - one, one + half]")
    assert got == "[0.5, -0.5, 1.5]"
    assert cost("one = 1\nhalf = 0.5", "one - half") == 0


# -------------------------------------------------------------------- decimal


def test_a_decimal_power_is_charged_by_the_exponent_digits_too():
    """libmpdec works on the exponent's full coefficient: 300 digits cost 300**2 / 2."""
    setup = "from decimal import Decimal\nexponent = Decimal('1.' + '0' * 299)\ntwo = Decimal(2)"
    assert cost(setup, "two ** exponent") >= 300 * 300 // 2
    assert cost(setup, "two ** Decimal(3)") == 0


# ------------------------------------------------------------ builtins, Counter

TIGHT = Sandbox(isolation="inprocess", limits=Limits(ops=100_000))


@pytest.mark.parametrize("call", ["all(map(abs, range(1, 10**7)))",
                                  "any(map(abs, [0] * 10**6))",
                                  "max(zip(range(10**7)))"])
def test_reducers_tick_through_lazy_c_iterators(call):
    """``all(map(...))`` runs the whole map in C: unticked it is free work."""
    assert "operation budget of 100,000 exceeded" in refusal(f"return {call}", TIGHT)


def test_a_reducer_over_a_set_sees_it_in_the_sandbox_order():
    # min() keeps the first of equal keys: over a raw set that is the hash order,
    # which changes with PYTHONHASHSEED; the sandbox orders the set first
    got = output("words = {f'w{i:03d}' for i in range(50)}\n"
                 "return [min(words, key=len), max(words, key=len)]")
    assert got == '["w000", "w000"]'


def test_sum_of_sequences_is_capped_by_the_total_length():
    got = output("return len(sum([[0] * 10] * 99, []))", SMALL)
    assert got == "990"
    assert "sum of sequences of 1,010 items exceeds the sandbox limit of 1,000" in refusal(
        "return sum([[0] * 10] * 101, [])", SMALL)


@pytest.mark.parametrize("source, expected", [
    ("zip('ab', [1, 2])", '{"a": 1, "b": 2}'),
    ("((k, 1) for k in 'ab')", '{"a": 1, "b": 1}'),
    ("[('a', 1)]", '{"a": 1}'),
])
def test_dict_of_an_iterable_of_pairs_works(source, expected):
    got = output(f"return dict({source})")
    assert got == expected


def test_counter_total_and_elements_work_and_total_is_charged_by_its_keys():
    got = output("import collections\nc = collections.Counter('aab')\n"
                 "return [c.total(), sorted(c.elements())]")
    assert got == '[3, ["a", "a", "b"]]'
    n = 100_000
    setup = f"import collections\nc = collections.Counter(range({n}))"
    assert cost(setup, "c.total()") == n * POINTER // UNIT


def test_dict_fromkeys_keeps_its_value_and_is_charged_two_pointers_a_key():
    got = output("return [dict.fromkeys('ab', 0), dict.fromkeys('c')]")
    assert got == '[{"a": 0, "b": 0}, {"c": null}]'
    n = 100_000
    assert cost(f"keys = list(range({n}))", "dict.fromkeys(keys, 1)") >= 2 * n * POINTER // UNIT


# -------------------------------------------------------------- text methods


def test_match_expand_is_capped_by_one_copy_of_the_string_per_reference():
    # (backslashes + 1) copies of the matched string: 10 + 3 * 300 = 910 fits
    allowed = run("import re\nm = re.match('.*', 'x' * 300)\nreturn len(m.expand(r'\\g<0>\\g<0>'))",
                  SMALL)
    assert allowed.ok, allowed.error
    assert allowed.output == "600"
    assert "Match.expand output of 1,210 items exceeds the sandbox limit of 1,000" in refusal(
        "import re\nm = re.match('.*', 'x' * 400)\nreturn m.expand(r'\\g<0>\\g<0>')", SMALL)


def test_expandtabs_works_on_text_and_bytes_and_is_capped_by_its_tabs():
    got = output("return ['a\\tb'.expandtabs(4), b'a\\tb'.expandtabs(2).decode()]")
    assert got == '["a   b", "a b"]'
    # every tab may become tabsize characters: 600 + 600 * 2 = 1,800
    assert "expandtabs of 1,800 items exceeds the sandbox limit of 1,000" in refusal(
        "return len(('\\t' * 600).expandtabs(2))", SMALL)


def test_format_map_fills_named_fields_from_the_mapping():
    got = output("return ['{a}-{b!r}'.format_map({'a': 1, 'b': 'x'}), '{}'.format(2)]")
    assert got == '["1-\'x\'", "2"]'


def test_zfill_pads_and_is_charged_by_its_width():
    got = output("return ['42'.zfill(5), b'-7'.zfill(4).decode()]")
    assert got == '["00042", "-007"]'
    assert cost("s = '1'", "s.zfill(100000)") == 100_000 // UNIT


def test_set_methods_are_charged_by_every_operand():
    n = 50_000
    setup = f"a = set(range({n}))\nb = list(range({n}, {2 * n}))"
    assert cost(setup, "a.union(b)") == 2 * n * POINTER // UNIT


@pytest.mark.parametrize("items, charged", [(64, 0), (65, 65 * 4 // UNIT)])
def test_membership_in_a_list_is_charged_from_65_items(items, charged):
    assert cost(f"items = list(range({items}))", "-1 in items") == charged


def test_epoch_seconds_of_a_time_count_from_1900_01_01_utc():
    """glibc's ``%s`` would run mktime() in the host's zone; the sandbox spells it out."""
    got = output("import datetime\nreturn datetime.time(1, 2, 3).strftime('%s|%H')")
    assert got == "-2208985077|01"


# ------------------------------------------------------ the method table, exactly

N = 100_000
TEXT, DATA, ITEMS = f"s = 'a' * {N}", f"b = b'a' * {N}", f"items = [0] * {N}"
QUEUE = f"import collections\nq = collections.deque([0] * {N})"
SETS = f"a = set(range({N}))\nb = list(range({N}, {2 * N}))"
PATTERN = f"import re\np = re.compile('z')\ns = 'a' * {N}"
ONE, FOUR, POINTERS = N // UNIT, 4 * N // UNIT, POINTER * N // UNIT


@pytest.mark.parametrize("setup, call, charged", [
    # O(n) text methods, one op per UNIT characters (first and last of each word list too)
    *[(TEXT, f"s.{call}", ONE) for call in (
        "find('z')", "rfind('z')", "index('a')", "rindex('a')", "count('z')", "partition('z')",
        "rpartition('z')", "isalnum()", "isupper()", "removeprefix('b')", "removesuffix('b')",
        "upper()", "lower()", "swapcase()")],
    (DATA, "b.hex()", ONE), (DATA, "b.find(b'z')", ONE),
    # splits build a list of pieces: a pointer per character
    *[(TEXT, f"s.{call}()", POINTERS) for call in ("split", "rsplit", "splitlines")],
    (DATA, "b.split()", POINTERS),
    # strip(chars) compares every character with every char of chars
    (TEXT, "s.strip()", (N + N // 64) // UNIT), (TEXT, "s.rstrip()", (N + N // 64) // UNIT),
    (TEXT, "s.lstrip('xy')", (N + 2 * N // 64) // UNIT), (DATA, "b.strip()", (N + N // 64) // UNIT),
    # a tuple of affixes: a pointer and its length per affix
    (TEXT + "\naffixes = ('x',) * 1000", "s.startswith(affixes)", (1000 * POINTER + 1000) // UNIT),
    (TEXT + "\naffixes = ('xy',) * 1000", "s.endswith(affixes)", (1000 * POINTER + 2000) // UNIT),
    # mutable sequences: scans four bytes a compared item, moves one per item
    *[(ITEMS, f"items.{call}", FOUR) for call in ("index(0)", "count(1)")],
    *[(ITEMS, f"items.{call}", ONE) for call in ("reverse()", "insert(0, 1)", "pop()")],
    (ITEMS, "items.sort()", POINTER * N * N.bit_length() // UNIT),
    (ITEMS, "items.copy()", POINTERS),
    *[(QUEUE, f"q.{call}", FOUR) for call in ("index(0)", "count(1)", "remove(0)")],
    *[(QUEUE, f"q.{call}", ONE) for call in ("rotate(1)", "reverse()")],
    *[(f"t = (0,) * {N}", f"t.{call}", FOUR) for call in ("index(0)", "count(1)")],
    # set methods: a pointer per item of every operand
    *[(SETS, f"a.{call}(b)", 2 * POINTERS) for call in (
        "union", "issubset", "isdisjoint", "symmetric_difference_update")],
    # regex scans: one op per UNIT characters of the subject
    *[(PATTERN, f"p.{call}(s)", ONE) for call in (
        "search", "match", "fullmatch", "findall", "split")],
    (PATTERN, "list(p.finditer(s))", ONE),
    # encode/decode: up to four bytes a character
    (TEXT, "s.encode()", FOUR), (DATA, "b.decode()", FOUR),
])
def test_each_guarded_method_charges_exactly_its_cost_model(setup, call, charged):
    assert cost(setup, call) == charged


@pytest.mark.parametrize("call, small_cost, big_cost", [
    ("s.find('z')", 0, 4097 // UNIT),
    ("s.split()", 0, 4097 * POINTER // UNIT),
    ("s.upper()", 0, 4097 // UNIT),
])
def test_text_methods_run_natively_up_to_4096_characters(call, small_cost, big_cost):
    assert cost("s = 'a' * 4096", call) == small_cost
    assert cost("s = 'a' * 4097", call) == big_cost


def test_strip_with_chars_runs_natively_up_to_64_characters():
    assert cost("s = 'a' * 64", "s.strip('xy')") == 0
    assert cost("s = 'a' * 65", "s.strip('xy')") == (65 + 65 * 2 // 64) // UNIT > 0


@pytest.mark.parametrize("expression", ["big | one", "one & big", "big ^ big"])
def test_bitwise_operations_on_big_integers_charge_one_pass(expression):
    # linear in the longer operand: 90,001 bits at 2,048 bits an op
    assert cost("big = 1 << 90000\none = 1", expression) == 90_001 // 2048


# ------------------------------------------------------------- arithmetic, exactly

BIG_PAIR = ("big = 1 << 50000\nmid = 1 << 40000\nsmall = 12345\none = 1\nthree = 3\n"
            "modulus = 1 << 4000")


@pytest.mark.parametrize("expression, charged", [
    ("big * mid", costs.multiply_ops(50_001, 40_001)),
    ("mid * big", costs.multiply_ops(40_001, 50_001)),
    ("big // small", costs.divide_ops(50_001, 14)),
    ("big / big", costs.divide_ops(50_001, 50_001)),
    ("big % small", costs.divide_ops(50_001, 14)),
    ("divmod(big, small)", costs.divide_ops(50_001, 14)),
    ("one << 50000", (1 + 50_000) // 8 // UNIT),
    ("3 ** small", costs.multiply_ops(2 * 12_345, 2 * 12_345)),
    ("pow(small, small, modulus)", costs.modpow_ops(14, 4_001)),
    # a negative exponent takes a modular inverse first: an extended gcd
    ("pow(three, -1, modulus)", 32 * costs.gcd_ops(4_001, 4_001) + costs.modpow_ops(1, 4_001)),
])
def test_big_integer_arithmetic_charges_its_cost_model(expression, charged):
    assert charged > 0
    assert cost(BIG_PAIR, expression) == charged


@pytest.mark.parametrize("setup, expression, charged", [
    # repetition and concatenation: a pointer per item of a list, a byte per character
    ("items = [0] * 10\ntimes = 1000", "items * times", 10_000 * POINTER // UNIT),
    ("items = [0] * 10\ntimes = 1000", "times * items", 10_000 * POINTER // UNIT),
    ("text = 'ab'\ntimes = 50000", "text * times", 100_000 // UNIT),
    ("a = [0] * 5000\nb = [1] * 5000", "a + b", 10_000 * POINTER // UNIT),
    ("a = 'x' * 50000\nb = 'y' * 50000", "a + b", 100_000 // UNIT),
    # Counter + Counter loops over both in host Python: four pointers a key
    ("import collections\na = collections.Counter(range(5000))\n"
     "b = collections.Counter(range(5000, 10000))", "a + b", 10_000 * 4 * POINTER // UNIT),
])
def test_sequence_and_counter_arithmetic_charges_by_what_it_builds(setup, expression, charged):
    assert cost(setup, expression) == charged


@pytest.mark.parametrize("expression, what", [
    ("items * times", "list repetition"), ("times * items", "list repetition"),
    ("items + items", "list concatenation"),
])
def test_sequence_arithmetic_over_the_cap_names_itself(expression, what):
    body = f"items = [0] * 600\ntimes = 2\nreturn len({expression})"
    assert f"{what} of 1,200 items exceeds the sandbox limit of 1,000" in refusal(body, SMALL)


def test_fraction_arithmetic_takes_the_slow_path_and_works():
    got = output("from fractions import Fraction\nf = Fraction(7, 2)\none = 1\n"
                 "return [str(f % one), str(f // one), str(f / 2), str(f - one), str(f * f), "
                 "str(divmod(f, one)[1])]")
    assert got == '["1/2", "3", "7/4", "5/2", "49/4", "1/2"]'


# ------------------------------------------------------------ builtins, exactly

M = 10_000
BUILTIN_SETUP = (f"items = [0] * {M}\ntext = '7' * 3000\nbig = [1 << 300] * 100\n"
                 f"d = dict.fromkeys(range({M}))")
LISTED = M * POINTER // UNIT  # materialising a sized iterable: a pointer an item
STREAMED = M * 8 * POINTER // UNIT  # an unsized one, grown in steps: eight pointers an item


@pytest.mark.parametrize("call, charged", [
    ("list(items)", LISTED), ("tuple(items)", LISTED),
    ("min(items)", LISTED), ("max(items)", LISTED), ("all(items)", LISTED), ("any(items)", LISTED),
    # a hash table: three pointers an entry on top of the items
    ("set(items)", LISTED + 3 * LISTED), ("frozenset(items)", LISTED + 3 * LISTED),
    ("dict(d)", 3 * LISTED), ("dict(zip(items, items))", STREAMED + 3 * LISTED),
    ("dict(a=1, b=2)", 2 * 3 * POINTER // UNIT),
    # n log n comparisons, a pointer each
    ("sorted(items)", LISTED + M * POINTER * M.bit_length() // UNIT),
    # lazy C iterators are streamed
    ("list(enumerate(items))", STREAMED), ("list(zip(items))", STREAMED),
    ("list(map(abs, items))", STREAMED), ("list(iter(items))", STREAMED),
    # sums of ints: linear in the operands' bits
    ("sum(items)", LISTED), ("sum(big)", 100 * POINTER // UNIT + 100 * 301 // 2 // UNIT),
    # parsing text: a byte per character
    ("int(text)", 3000 // UNIT), ("float(text)", 3000 // UNIT), ("complex(text)", 3000 // UNIT),
])
def test_each_wrapped_builtin_charges_exactly_its_cost_model(call, charged):
    assert cost(BUILTIN_SETUP, call) == charged


@pytest.mark.parametrize("items, charged", [(64, 0), (65, 65 * POINTER // UNIT)])
def test_reducers_scan_containers_natively_up_to_64_items(items, charged):
    assert cost(f"items = [0] * {items}", "min(items)") == charged


def test_in_place_concatenation_extends_lists_and_queues_from_any_iterable():
    got = output("import collections\nitems = [1]\nitems += [2]\nitems += (x for x in (3, 4))\n"
                 "items += b'\\x05'\nqueue = collections.deque('a')\nqueue += 'bc'\n"
                 "return [items, list(queue)]")
    assert got == '[[1, 2, 3, 4, 5], ["a", "b", "c"]]'
    assert "list of 1,001 items exceeds the sandbox limit of 1,000" in refusal(
        "items = [0] * 1000\nitems += [1]\nreturn len(items)", SMALL)


def test_str_of_a_container_is_capped_by_its_text():
    # [0, 0, ...] of 400 items is 1,200 characters
    assert "string of 1,200 items exceeds the sandbox limit of 1,000" in refusal(
        "items = [0] * 400\nreturn str(items)", SMALL)


def test_ascii_escapes_everything_beyond_ascii():
    got = output("return [ascii('é'), ascii('\\U0001f600'), ascii(['ü'])]")
    assert got == '["\'\\\\xe9\'", "\'\\\\U0001f600\'", "[\'\\\\xfc\']"]'


@pytest.mark.parametrize("name", ["_x", "__class__", "__globals__"])
def test_the_attribute_hook_refuses_underscore_names_even_when_called_directly(name):
    """Defence in depth: RestrictedPython refuses these at compile time; the hook again."""
    hooks = build_hooks(Meter(1_000_000, UNIT, 1_000, 100_000), set(), DEFAULT_CLOCK)
    with pytest.raises(AttributeError, match=f"attribute '{name}' is not accessible"):
        hooks["_getattr_"](1, name)


def test_re_sub_output_is_sized_before_it_is_built_for_templates_and_callables():
    # a template: the text plus, per hit, the template and a copy of the text (+1) per
    # reference: 300 + 300 * (5 + 301)
    assert "re.sub output of 92,100 items exceeds the sandbox limit of 1,000" in refusal(
        "import re\nreturn re.sub('a', r'\\g<0>', 'a' * 300)", SMALL)
    # a callable: what it returns, counted as it returns it (20 + 10 * 100 > 1,000)
    assert "re.sub output of 1,020 items exceeds the sandbox limit of 1,000" in refusal(
        "import re\ndef long(match):\n    return 'x' * 100\nreturn re.sub('a', long, 'a' * 20)",
        SMALL)
    got = output("import re\ndef twice(match):\n    return match.group(0) * 2\n"
                 "return [re.sub('a', twice, 'cab'), re.sub('a', r'<\\g<0>>', 'cab')]", SMALL)
    assert got == '["caab", "c<a>b"]'


def test_hasattr_sees_public_attributes_and_never_private_ones():
    got = output("name = '_' + 'append'\nreturn [hasattr([], 'append'), hasattr([], 'nope'), "
                 "hasattr([], '__class__'), hasattr([], name), hasattr([], 3)]")
    assert got == "[true, false, false, false, false]"


def test_str_decodes_with_a_positional_encoding_and_errors():
    got = output("return [str(b'caf\\xe9', 'utf-8', 'replace'), str(b'ab', 'ascii')]")
    assert got == '["caf\ufffd", "ab"]'


def test_deque_extendleft_works_and_is_capped():
    got = output("import collections\nq = collections.deque([3])\nq.extendleft([2, 1])\n"
                 "return list(q)")
    assert got == "[1, 2, 3]"
    assert "extendleft of 1,200 items exceeds the sandbox limit of 1,000" in refusal(
        "import collections\nq = collections.deque([0] * 600)\nq.extendleft([1] * 600)\n"
        "return len(q)", SMALL)


def test_the_builtins_consistency_check_names_the_disagreeing_wrappers():
    from astra_gym.sandbox.builtins import _check_wrappers

    with pytest.raises(RuntimeError, match=r"builtins wrappers \['frobnicate'\] disagree with "
                                           r"the allowlist"):
        _check_wrappers({**dict.fromkeys(_wrapped_names()), "frobnicate": None})


def _wrapped_names():
    from astra_gym.sandbox.allowlist import WRAPPED, names

    return names("builtins", WRAPPED)


def test_replace_charges_its_scan_and_only_a_growing_replacement_its_output():
    n = 100_000
    assert cost(f"s = 'a' * {n}", "s.replace('a', 'b')") == n // UNIT  # same length: the scan
    # growing: the scan, then the output (n + n * 1 characters)
    assert cost(f"s = 'a' * {n}", "s.replace('a', 'bb')") == n // UNIT + 2 * n // UNIT


def test_translate_is_capped_by_the_widest_replacement():
    # each character may become the widest value: 2 * 600 = 1,200
    assert "translate of 1,200 items exceeds the sandbox limit of 1,000" in refusal(
        "return 'ab'.translate({97: 'x' * 600})", SMALL)


def test_pattern_sub_range_scans_and_limit_denominator_keep_their_arguments():
    got = output("import re\nfrom fractions import Fraction\np = re.compile('a')\n"
                 "return [p.sub('x', 'aaa', 1), p.subn('x', 'aaa', 2)[1], range(10).index(3), "
                 "range(10).count(3), str(Fraction(355, 113).limit_denominator(10))]")
    assert got == '["xaa", 2, 3, 1, "22/7"]'


def test_set_methods_over_the_cap_name_the_set():
    assert "set of 1,200 items exceeds the sandbox limit of 1,000" in refusal(
        "a = set(range(600))\nreturn len(a.union(list(range(600, 1200))))", SMALL)


def test_epoch_seconds_of_an_aware_datetime_use_its_own_offset():
    got = output("import datetime\ntokyo = datetime.timezone(datetime.timedelta(hours=9))\n"
                 "return [datetime.datetime(2000, 1, 1, tzinfo=tokyo).strftime('%s'), "
                 "datetime.datetime(2000, 1, 1).strftime('%s')]")
    assert got == '["946652400", "946684800"]'  # naive counts as UTC


@pytest.mark.parametrize("source, charged", [
    ("items", 0), ("tuple(items)", 0),  # a list or tuple is unpacked as it is
    ("iter(items)", N * 8 * POINTER // UNIT),  # anything else is materialised first
    ("map(abs, items)", N * 8 * POINTER // UNIT),
])
def test_unpacking_materialises_only_what_is_not_already_a_list_or_tuple(source, charged):
    setup = f"items = [0] * {N}\nsource = {source}"
    assert output(setup + "\nfirst, *rest = source\nreturn len(rest)") == str(N - 1)
    assert added_ops(setup, "first, *rest = source") == charged


def test_a_decimal_power_is_charged_by_the_decimal_side_alone():
    setup = "from decimal import Decimal\nwide = Decimal('1.' + '0' * 299)\ntwo = 2"
    assert cost(setup, "wide ** two") >= 300 * 300 // 2


def test_left_shifts_are_capped_by_their_result_and_zero_shifts_freely():
    assert "left shift would have about 100,001 bits" in refusal(
        "one = 1\nreturn one << 100000",
        Sandbox(isolation="inprocess", limits=Limits(max_int_bits=100_000)))
    got = output("zero = 0\nfar = 10 ** 6\nreturn [zero << far, 5 << 2]")
    assert got == "[0, 20]"


def test_in_place_set_algebra_is_charged_by_both_operands():
    n = 50_000
    setup = f"a = set(range({n}))\nb = set(range({n}, {2 * n}))"
    assert added_ops(setup, "a |= b") == 2 * n * POINTER // UNIT


def test_format_builtin_defaults_to_an_empty_spec():
    got = output("return [format(5), format('ab'), format(3.14159, '.2f')]")
    assert got == '["5", "ab", "3.14"]'


def test_set_pop_takes_the_first_item_in_the_sandbox_order():
    # a raw set.pop() returns the hash order's first item, which PYTHONHASHSEED changes
    got = output("s = {f'w{i:02d}' for i in range(50)}\nreturn [s.pop(), s.pop(), len(s)]")
    assert got == '["w00", "w01", 48]'


def test_list_extend_is_capped_by_the_result():
    assert "extend of 1,200 items exceeds the sandbox limit of 1,000" in refusal(
        "items = [0] * 600\nitems.extend([1] * 600)\nreturn len(items)", SMALL)


def test_encode_keeps_its_error_handler_and_caps_growing_handlers():
    got = output("return ['é'.encode('ascii', 'replace').decode(), "
                 "'é'.encode('ascii', errors='ignore').decode()]")
    assert got == '["?", ""]'
    # namereplace may write up to 100 characters a character: 200 * 100
    assert ("text with the 'namereplace' error handler of 20,000 items exceeds the sandbox "
            "limit of 1,000") in refusal("return ('é' * 200).encode('ascii', 'namereplace')",
                                         SMALL)


def test_an_int_raised_to_a_decimal_is_charged_by_the_exponent_digits():
    setup = "from decimal import Decimal\nexponent = Decimal('1.' + '0' * 299)\ntwo = 2"
    assert cost(setup, "two ** exponent") >= 300 * 300 // 2


def test_round_to_a_huge_number_of_digits_is_refused_by_name():
    # int.__round__ computes 10 ** 1,000,000 first: about 3.3 million bits
    assert "round() would have about 3,321,928 bits" in refusal(
        "places = -10 ** 6\nreturn round(5, places)", SANDBOX)


def test_now_in_a_time_zone_is_the_frozen_clock_there_whatever_the_host_zone():
    """The frozen clock is UTC: converting it must not read the host's TZ (a child with TZ set)."""
    import os
    import subprocess
    import sys

    code = ("from astra_gym.sandbox import Sandbox\n"
            "print(Sandbox(isolation='inprocess').run('import datetime\\ndef tool():\\n"
            "    tokyo = datetime.timezone(datetime.timedelta(hours=9))\\n"
            "    return datetime.datetime.now(tokyo).isoformat()\\n', 'tool', {}).output)")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=dict(os.environ, TZ=zone), check=True).stdout.strip()
               for zone in ("UTC", "America/New_York", "Asia/Kolkata")}
    expected = (DEFAULT_CLOCK.replace(tzinfo=datetime.UTC)
                .astimezone(datetime.timezone(datetime.timedelta(hours=9))).isoformat())
    assert outputs == {expected}
