"""The second hardening pass: each mechanism does what it should, and still works for tools.

The abuse corpora (``corpus_abuse.py``, ``corpus_review.py``) throw hostile
payloads at the sandbox; these tests pin the semantics of the mechanisms
themselves: the safe replacements of stdlib helpers still do their job for
tool code, error lines never raise and never leak, time zones and hash seeds
change nothing, and the host's registries stay as they were.
"""

from __future__ import annotations

import collections
import encodings
import json
import os
import subprocess
import sys
import textwrap

import pytest

from astra_gym.sandbox import ErrorKind, Limits, Sandbox
from astra_gym.sandbox.modules import frozen_time_modules
from astra_gym.sandbox.session import DEFAULT_CLOCK, MAX_ERROR, describe_exception

SANDBOX = Sandbox(isolation="inprocess")


def run(source: str, **kwargs):
    return SANDBOX.run(textwrap.dedent(source), "tool", kwargs)


# -- class 1: stdlib helpers that touched host objects by caller-chosen names ----------------

def test_wraps_copies_name_and_doc_between_tool_functions_only():
    result = run("""
        import functools
        def deco(func):
            @functools.wraps(func)
            def inner(x):
                return func(x) + 1
            return inner
        @deco
        def double(x):
            '''Twice x.'''
            return 2 * x
        def tool():
            return [double(20), double(1)]
    """)
    assert result.ok and result.output == '[41, 3]'
    named = run("""
        import functools
        def base():
            '''Doc.'''
        def tool():
            def w():
                pass
            functools.wraps(base)(w)
            return str(w)
    """)
    assert named.ok and "function base at 0x?" in named.output


@pytest.mark.parametrize("argument", ["assigned=('__globals__',)", "updated=('__dict__',)",
                                      "assigned=()", "updated=()"])
def test_wraps_refuses_attribute_name_arguments(argument):
    result = run(f"""
        import functools, uuid
        def tool():
            def helper():
                return 1
            functools.wraps(uuid.uuid3, {argument})(helper)
            return 'escaped'
    """)
    assert result.error_kind == ErrorKind.EXCEPTION
    assert "'assigned' and 'updated' are not available" in result.error


def test_total_ordering_and_lru_cache_take_only_the_tools_own_objects():
    assert run("""
        import functools
        @functools.total_ordering
        class Money:
            def __init__(self, cents):
                self.cents = cents
            def __eq__(self, other):
                return self.cents == other.cents
            def __lt__(self, other):
                return self.cents < other.cents
        def tool():
            return [Money(1) <= Money(2), Money(3) >= Money(2)]
    """).output == "[true, true]"
    for target in ("datetime.datetime", "collections.Counter", "string.Template"):
        refused = run(f"""
            import functools, datetime, collections, string
            def tool():
                return functools.total_ordering({target})
        """)
        assert "takes a class defined by the tool" in refused.error, target
    assert run("""
        import functools
        @functools.lru_cache(maxsize=None)
        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        def tool():
            return fib(60)
    """).output == "1548008755920"
    assert "takes a function defined by the tool" in run("""
        import functools, uuid
        def tool():
            return functools.lru_cache(uuid.uuid3)
    """).error


def test_shared_classes_are_unchanged_by_every_attempt():
    frozen_datetime = frozen_time_modules(DEFAULT_CLOCK)[0]
    before = (dict(vars(frozen_datetime)), dict(vars(collections.Counter)))
    for payload in ("functools.total_ordering(datetime.datetime)",
                    "functools.wraps(uuid.uuid3)(datetime.datetime)",
                    "copy.copy(datetime.datetime)", "copy.deepcopy(collections.Counter)"):
        run(f"""
            import functools, uuid, datetime, collections, copy
            def tool():
                return str({payload})
        """)
    assert (dict(vars(frozen_datetime)), dict(vars(collections.Counter))) == before


def test_copy_handles_data_cycles_and_tool_objects_and_refuses_the_rest():
    result = run("""
        import copy
        from collections import Counter, deque, OrderedDict, defaultdict, namedtuple
        P = namedtuple('P', 'x y')
        class Item:
            def __init__(self, name):
                self.name = name
                self.tags = ['a']
        def tool():
            shared = [1, 2]
            data = {'a': shared, 'b': shared, 'c': Counter('aab'), 'd': deque([1], maxlen=3),
                    'o': OrderedDict(z=1), 'dd': defaultdict(list, k=[1]), 'p': P(1, [2]),
                    'i': Item('x')}
            data['self'] = data
            clone = copy.deepcopy(data)
            clone['i'].tags.append('b')
            clone['a'].append(3)
            return [clone['b'], data['a'], clone['self'] is clone, data['i'].tags,
                    clone['i'].tags, clone['d'].maxlen, clone['dd']['new'],
                    copy.copy(data) is not data]
    """)
    assert result.ok, result.error
    assert result.output == '[[1, 2, 3], [1, 2], true, ["a"], ["a", "b"], 3, [], true]'
    refused = run("""
        import copy, math
        def tool():
            return copy.deepcopy(math)
    """)
    assert "cannot be copied in the sandbox" in refused.error


# -- class 3: describing an error never raises and never runs for ever --------------------------

@pytest.mark.parametrize(("body", "expected"), [
    ("raise ValueError(10 ** 5000)", "ValueError: <int of 16,610 bits>"),
    ("raise KeyError(frozenset({'b', 'a', 'c'}))", "KeyError: frozenset({'a', 'b', 'c'})"),
    ("raise ValueError({3, 1, 2}, 'x')", "ValueError: ({1, 2, 3}, 'x')"),
    ("raise ValueError('two\\nlines')", "ValueError: two\\nlines"),
    ("raise ValueError(Box())", "ValueError: <tool.Box object at 0x?>"),
])
def test_error_lines_are_stable_single_lines(body, expected):
    result = run(f"""
        class Box:
            pass
        def tool():
            {body}
    """)
    assert result.error_kind == ErrorKind.EXCEPTION
    assert result.error.startswith(expected), result.error
    assert "\n" not in result.error


def test_error_of_a_deep_or_exponential_argument_is_rendered_within_bounds():
    deep = run("""
        def tool():
            x = []
            for _ in range(100000):
                x = [x]
            raise ValueError(x)
    """)
    assert deep.error.startswith("ValueError: <the message could not be rendered>")
    dag = run("""
        def tool():
            x = [1]
            for _ in range(60):
                x = [x, x]
            raise ValueError(x)
    """)
    assert dag.error.startswith("ValueError: <the message could not be rendered>")
    huge = run("""
        def tool():
            raise ValueError('x' * 1000000)
    """)
    assert len(huge.error) < MAX_ERROR + 100 and "more characters" in huge.error


def test_describe_exception_never_raises_even_on_hostile_exceptions():
    class Hostile(Exception):
        @property
        def args(self):  # type: ignore[override]
            raise RuntimeError("no")

    assert describe_exception(Hostile()) == "Hostile: <the message could not be rendered>"


def test_a_call_never_raises_out_of_the_session():
    # The budget is already spent when the error is described; nothing may raise.
    result = SANDBOX.run("def tool():\n    while True:\n        try:\n            pass\n"
                         "        except BaseException:\n            raise ValueError(10**5000)\n",
                         "tool")
    assert result.error_kind == ErrorKind.BUDGET


# -- class 6: time zones and hash seeds change nothing --------------------------------------------

TZ_PROBE = textwrap.dedent("""
    import datetime, time, calendar, collections
    class Node:
        def __init__(self, n):
            self.n = n
    def tool():
        d = datetime.datetime(2026, 1, 15, 9, 30)
        nodes = {Node(i) for i in range(8)}
        return {
            'fromtimestamp': str(datetime.datetime.fromtimestamp(0)),
            'date_fromtimestamp': str(datetime.date.fromtimestamp(86400 * 365)),
            'naive_timestamp': d.timestamp(),
            'astimezone': str(d.astimezone()),
            'max_now': str(datetime.datetime.max.now()),
            'date_today': str(d.date().today()),
            'localtime': list(time.localtime(0))[:6],
            'strftime': time.strftime('%Z %z', (2020, 1, 1, 0, 0, 0, 2, 1, 0)),
            'mktime': time.mktime((2020, 1, 1, 0, 0, 0, 2, 1, -1)),
            'nodes': [node.n for node in nodes],
            'set_repr': repr({'pear', 'fig', 'kiwi', 'apple'}),
            'ascii': ascii({'pear', 'fig', 'kiwi'}),
            'counter': str(collections.Counter({'b': 1, 'a': 1})),
        }
""")


def _probe(isolation: str, tz: str, hashseed: str) -> str:
    script = ("import json, sys\nfrom astra_gym.sandbox import Sandbox\n"
              f"s = Sandbox(isolation={isolation!r})\n"
              "r = s.run(sys.stdin.read(), 'tool')\n"
              "print(json.dumps(r._asdict()))\n")
    env = dict(os.environ, TZ=tz, PYTHONHASHSEED=hashseed)
    done = subprocess.run([sys.executable, "-c", script], input=TZ_PROBE, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_results_do_not_depend_on_the_hosts_time_zone_or_hash_seed(isolation):
    outputs = {_probe(isolation, tz, seed) for tz, seed in (
        ("UTC", "0"), ("Asia/Tokyo", "1"), ("America/New_York", "2"), ("Asia/Kolkata", "7"))}
    assert len(outputs) == 1, outputs
    result = json.loads(outputs.pop())
    assert result["ok"], result
    values = json.loads(result["output"])
    assert values["fromtimestamp"] == "1970-01-01 00:00:00"
    assert values["astimezone"] == "2026-01-15 09:30:00+00:00"
    assert values["max_now"] == values["date_today"] + " 09:30:00"
    assert values["strftime"] == "UTC +0000"


def test_strptime_refuses_zone_names_but_accepts_offsets():
    refused = run("""
        import datetime
        def tool():
            return str(datetime.datetime.strptime('2026-01-01 UTC', '%Y-%m-%d %Z'))
    """)
    assert "strptime %Z is not available" in refused.error
    literal = run("""
        import datetime, time
        def tool():
            a = datetime.datetime.strptime('2026-01-01 %Z', '%Y-%m-%d %%Z')
            b = datetime.datetime.strptime('2026-01-01 +0900', '%Y-%m-%d %z')
            return [str(a), str(b), time.strptime('2026', '%Y').tm_year]
    """)
    assert literal.output == '["2026-01-01 00:00:00", "2026-01-01 00:00:00+09:00", 2026]'


# -- class 7: host registries and stderr ----------------------------------------------------------

def test_codec_names_never_reach_the_hosts_registry():
    cache = dict(encodings._cache)
    modules = set(sys.modules)
    result = run("""
        def tool():
            out = []
            for i in range(300):
                try:
                    'x'.encode('no-such-codec-' + str(i))
                except LookupError as exc:
                    out.append(1)
            return [len(out), 'é'.encode('Latin_1').decode('ISO-8859-1'),
                    'é'.encode('UTF8').decode('utf_8')]
    """)
    assert result.output == '[300, "é", "é"]'
    assert dict(encodings._cache) == cache and set(sys.modules) == modules
    refused = run("""
        def tool():
            return 'x'.encode('punycode')
    """)
    assert "codec 'punycode' is not available in the sandbox" in refused.error


def test_str_of_bytes_with_an_encoding_goes_through_the_codec_table():
    assert run("""
        def tool():
            return [str(b'caf\\xc3\\xa9', 'utf-8'), str(b'x', encoding='ascii'), str(), str(3)]
    """).output == '["café", "x", "", "3"]'
    assert "not available in the sandbox" in run("""
        def tool():
            return str(b'x', 'rot13')
    """).error


def test_tool_warnings_and_finalizers_stay_off_the_hosts_stderr():
    script = textwrap.dedent("""
        import gc, warnings
        from astra_gym.sandbox import Sandbox
        warnings.simplefilter("always")
        s = Sandbox(isolation="inprocess")
        tools = [
            "import re\\ndef tool():\\n    return bool(re.compile('[[a]').match('['))",
            "import re\\ndef tool():\\n    return re.findall('[a&&b]', 'a&')",
            "import string\\nclass T(string.Template):\\n    pattern = '[[x]'\\n"
            "def tool():\\n    return 1",
            "S = []\\ndef tool():\\n    def g():\\n        try:\\n            yield 1\\n"
            "        finally:\\n            raise ValueError('x')\\n    it = g()\\n"
            "    next(it)\\n    S.append(it)\\n    return 1",
        ]
        for source in tools:
            session = s.session()
            session.call(source, "tool")
            session.close()
        gc.collect()
        print("done")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "done"
    assert done.stderr == ""


# -- classes 4 and 5: work and memory are sized before they happen --------------------------------

@pytest.mark.parametrize("body", [
    "return pow(3 ** 60000, 3 ** 60000, 3 ** 60000 + 2)",
    "x = int('f' * 400000, 16)\n    return x // 7",
    "n = int.from_bytes(b'\\xff' * 200000, 'big')\n    return n % 7",
    "import decimal\n    return decimal.Decimal('9' * 1000000).as_integer_ratio()",
    "xs = list(range(1000000))\n    return sum(1 for _ in range(100000) if -1 in xs)",
    "xs = list(range(1000000))\n    for _ in range(100000):\n        xs.insert(0, 1)",
    "import random\n    xs = list(range(1000000))\n    for _ in range(1000):\n"
    "        random.shuffle(xs)",
    "import json\n    return json.dumps([1] * 1000, separators=(',' * 100000, ':'))",
    "import collections\n    return collections.namedtuple('T', [f'f{i}' for i in range(10 ** 5)])",
    "import collections\n    return len(collections.Counter(range(10 ** 7)))",
    "a = [0]\n    for _ in range(40):\n        a = [*a, *a]\n    return len(a)",
    "import textwrap\n    return textwrap.fill('\\t' * 100000, tabsize=10 ** 6)",
    "import string\n    return string.Template('$a' * 100000).substitute(a='x' * 100000)",
    "import re\n    m = re.match('(.*)', 'x' * 1000000)\n    return m.expand('\\\\1' * 1000)",
    "import collections\n    d = collections.defaultdict(lambda: 'x' * 100)\n"
    "    return len(''.join(chr(i % 50000 + 200) for i in range(200000)).translate(d))",
])
def test_c_level_work_and_memory_are_refused_before_they_happen(body):
    result = Sandbox(isolation="inprocess", limits=Limits()).run(
        f"def tool():\n    {body}\n", "tool")
    assert result.error_kind in (ErrorKind.BUDGET, ErrorKind.LIMIT, ErrorKind.EXCEPTION), result
    if result.error_kind == ErrorKind.EXCEPTION:
        assert "sandbox" in result.error, result.error


def test_integer_literals_beyond_the_cap_do_not_compile():
    source = "X = 0x" + "f" * 30000 + "\ndef tool():\n    return X // 3\n"
    result = SANDBOX.run(source, "tool")
    assert result.error_kind == ErrorKind.COMPILE and "integer literal" in result.error


def test_nested_lazy_iterators_recurse_in_python_frames():
    result = run("""
        def tool():
            it = iter([1, 2, 3])
            for _ in range(200000):
                it = map(abs, it)
            return list(it)
    """)
    assert result.ok or result.error_kind in (ErrorKind.EXCEPTION, ErrorKind.BUDGET), result
    if not result.ok:
        assert "RecursionError" in result.error or result.error_kind == ErrorKind.BUDGET


@pytest.mark.parametrize(("body", "what"), [
    ("return len(range(10 ** 8))", "range of 100,000,000 items"),
    ("return len(10 ** 8 * 'a')", "str repetition"),
    ("return len(10 ** 8 * [0])", "list repetition"),
    ("n = 10 ** 8\n    return len(n * (0,))", "tuple repetition"),
])
def test_size_caps_hold_whichever_side_the_count_is_on(body, what):
    result = SANDBOX.run(f"def tool():\n    {body}\n", "tool")
    assert result.error_kind == ErrorKind.LIMIT and what in result.error, result
