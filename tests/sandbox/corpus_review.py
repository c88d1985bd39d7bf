"""Review corpus: hostile payloads for the holes an outside review found.

Seven classes (``REVIEW_CATEGORIES``), one category each:

* ``host_frame_escape``: stdlib functions that getattr/setattr/``.update`` in
  host frames with attribute names the tool chooses (``functools.wraps`` and
  ``update_wrapper`` above all): merging a real module's globals into the
  tool's, swapping a host function's ``__code__``/``__defaults__``, writing
  attributes of shared classes.
* ``c_stack``: C recursion without a recursion check (segfaults in-process).
* ``error_text``: the error description (``str(exc)``) raises, so ``call()``
  raises instead of returning a result (and a process worker dies).
* ``c_cpu``: C-level (or host-frame) work no tick sees.
* ``c_memory``: allocations sized only after they are built, or not at all.
* ``nondeterminism``: set order, memory addresses and the host's time zone
  leaking into results or error texts.
* ``host_state``: codec caches and ``sys.modules``, warnings on the host's
  stderr, module caches that retain tool data, shared classes poisoned.

Every case is an :class:`~corpus_abuse.AbuseCase` (the called function is
always ``tool``); :class:`ReviewCase` adds optional fields used by
``test_review_corpus.py``:

* ``probe``/``probe_output``: a tool run in a *fresh session of the same
  sandbox* (the same worker in process mode) after the payload; a clean
  sandbox returns ``probe_output``. A different output means the payload
  changed state other sessions (and the host) share.
* ``worker_may_die``: whether a ``worker_crashed``/``timeout`` result is an
  acceptable way for process isolation to contain it. False for error_text:
  there the sandbox must return an ordinary error result.
* ``cross_process``: also run in fresh interpreters with different
  ``PYTHONHASHSEED`` and ``TZ`` values; (ok, output, error) must be
  byte-identical (default: True for ``nondeterminism``).
* ``retained_mb_max``: after the calls (and ``gc.collect()``), the host's RSS
  must not stay higher than this (host caches retaining tool data).
* ``max_error_chars``: the error text must be one line of at most this size.
* ``max_wall_s``: the call must come back within this many seconds (in both
  modes; for payloads that stall the parent rather than burn CPU).

Escapes are written so that success is observable: they return the working
directory or a file's text, or a poisoned value, and raise when the trick did
not work, so ``expect="error"`` holds for a sandbox that refuses them (even if
it refuses with an exception the tool could catch).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from corpus_abuse import AbuseCase

__all__ = ["REVIEW_CASES", "REVIEW_CATEGORIES", "ReviewCase"]

REVIEW_CATEGORIES = ("host_frame_escape", "c_stack", "error_text", "c_cpu", "c_memory",
                     "nondeterminism", "host_state")


@dataclass(frozen=True)
class ReviewCase(AbuseCase):
    probe: str | None = None
    probe_output: str | None = None
    worker_may_die: bool = True
    cross_process: bool | None = None  # None: True for category "nondeterminism"
    retained_mb_max: int | None = None
    max_error_chars: int | None = None
    max_wall_s: float | None = None

    @property
    def wants_cross_process(self) -> bool:
        if self.cross_process is None:
            return self.category == "nondeterminism"
        return self.cross_process


def _src(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# Probes: what a fresh session sees after the payload ran (clean outputs measured
# on an unpoisoned sandbox).
_PROBE_DEDENT = _src('''
    import textwrap
    def tool():
        return textwrap.dedent("  a\\n  b")
''')
_PROBE_CAPWORDS = _src('''
    import string
    def tool():
        return string.capwords("ab-cd ef")
''')
_PROBE_UUID5 = _src('''
    import uuid
    def tool():
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, "example.com"))
''')
_PROBE_COUNTER = _src('''
    import collections
    def tool():
        return collections.Counter("aab").most_common()
''')
_PROBE_NOW = _src('''
    import datetime
    def tool():
        return datetime.datetime.now().isoformat()
''')
_PROBE_TODAY = _src('''
    import datetime
    def tool():
        return str(datetime.date.today())
''')
_PROBE_TEMPLATE = _src('''
    import string
    def tool():
        return string.Template("$who Z").substitute(who="x")
''')
_PROBE_GAUSS = _src('''
    import random
    def tool():
        random.seed(1)
        random.gauss()
        return random.gauss() != 0.0
''')
_PROBE_UUID_LT = _src('''
    import uuid
    def tool():
        return uuid.UUID(int=1) < uuid.UUID(int=2)
''')
_PROBE_COUNTER_EQ = _src('''
    import collections
    def tool():
        return collections.Counter("a") == collections.Counter("b")
''')
_PROBE_DAY_NAME = _src('''
    import calendar
    def tool():
        return calendar.day_name[0]
''')
_PROBE_JSON_ERROR = _src('''
    import json
    def tool():
        try:
            json.loads("{")
        except json.JSONDecodeError as e:
            return e.msg
''')
_PROBE_FUNC_DICT = _src('''
    import uuid
    def tool():
        return hasattr(uuid.uuid3, "poison")
''')

# A structure whose nodes are shared: 2**depth paths, a few dozen objects.
_DAG = "    a = []\n    for i in range({depth}):\n        a = [a, a]\n"


REVIEW_CASES: tuple[ReviewCase, ...] = (
    # ================================================================ host_frame_escape
    ReviewCase(
        name="hfe_wraps_uuid3_globals_os",
        category="host_frame_escape",
        source=_src('''
            import functools, uuid
            def helper():
                pass
            def tool():
                functools.wraps(uuid.uuid3, assigned=(), updated=("__globals__",))(helper)
                return os.getcwd()
        '''),
        note=("The reported escape: update_wrapper does helper.__globals__.update("
              "uuid3.__globals__), so the tool's globals gain the real os, sys and "
              "__builtins__. Escaped = returns the host cwd. Contained = an error result."),
    ),
    ReviewCase(
        name="hfe_wraps_typing_cast_globals_sys",
        category="host_frame_escape",
        source=_src('''
            import functools, typing
            def helper():
                pass
            def tool():
                functools.wraps(typing.cast, assigned=(), updated=("__globals__",))(helper)
                return sys.modules["os"].getcwd()
        '''),
        note=("Sibling source module: typing's globals hold the real sys, and "
              "sys.modules holds everything. Contained = an error result, never the cwd."),
    ),
    ReviewCase(
        name="hfe_update_wrapper_via_wraps_func_calendar",
        category="host_frame_escape",
        source=_src('''
            import functools, calendar
            def helper():
                pass
            def tool():
                update_wrapper = functools.wraps(calendar.monthrange).func
                update_wrapper(helper, calendar.monthrange, (), ("__globals__",))
                return sys.modules["os"].getcwd()
        '''),
        note=("wraps() returns partial(update_wrapper, ...); its .func is the raw "
              "update_wrapper, callable with any arguments (blocking only the `wraps` name "
              "is not enough). calendar's globals hold sys. Contained = an error result."),
    ),
    ReviewCase(
        name="hfe_fraction_classmethod_globals_sys",
        category="host_frame_escape",
        source=_src('''
            import functools, fractions
            def helper():
                pass
            def tool():
                source = fractions.Fraction.from_decimal
                functools.wraps(source, assigned=(), updated=("__globals__",))(helper)
                return sys.modules["os"].getcwd()
        '''),
        note=("The guarded Fraction stand-in forwards attribute reads to the real class, "
              "handing out a real bound classmethod whose __globals__ (fractions: sys, "
              "decimal, operator, re) can be merged. Contained = an error result."),
    ),
    ReviewCase(
        name="hfe_random_bound_method_globals_builtins_open",
        category="host_frame_escape",
        source=_src('''
            import functools, random
            def helper():
                pass
            def tool():
                functools.wraps(random.shuffle, assigned=(), updated=("__globals__",))(helper)
                reader = lambda: open("/etc/passwd").read()[:40]
                return reader()
        '''),
        note=("A bound method forwards __globals__ to its function. The merge replaces the "
              "tool's __builtins__ with the real builtins dict, and every function created "
              "afterwards (the lambda) resolves open/getattr/__import__ there. Escaped = "
              "returns the start of /etc/passwd. Contained = an error result."),
    ),
    ReviewCase(
        name="hfe_sandbox_wrapper_globals_builtins_open",
        category="host_frame_escape",
        source=_src('''
            import functools, statistics
            def helper():
                pass
            def tool():
                functools.wraps(statistics.mean, assigned=(), updated=("__globals__",))(helper)
                reader = lambda: open("/etc/passwd").read()[:40]
                return reader()
        '''),
        note=("statistics.mean is the sandbox's own wrapper: its __globals__ are "
              "astra_gym.sandbox.modules, with the real __builtins__. Wrapping every stdlib "
              "member does not help while wraps can read __globals__. Contained = error."),
    ),
    ReviewCase(
        name="hfe_code_swap_textwrap_dedent_reads_file",
        category="host_frame_escape",
        source=_src('''
            import functools, textwrap
            def tool():
                reader = lambda path: open(path).read()
                functools.wraps(reader, assigned=("__code__",), updated=())(textwrap.dedent)
                return textwrap.dedent("/etc/passwd")
        '''),
        probe=_PROBE_DEDENT,
        probe_output="a\nb",
        note=("No globals merge at all: setattr(textwrap.dedent, '__code__', lambda code). "
              "A lambda has no tick and (without slices or augmented stores) no other hook "
              "either; run as the host's dedent it sees textwrap's globals and the real "
              "builtins. Also poisons "
              "dedent for the host and every later session. Contained = an error result "
              "and the probe (a fresh session) still dedents."),
    ),
    ReviewCase(
        name="hfe_code_swap_uuid5_reads_file",
        category="host_frame_escape",
        source=_src('''
            import functools, uuid
            def tool():
                reader = lambda namespace, name: open(name).read()
                functools.wraps(reader, assigned=("__code__",), updated=())(uuid.uuid5)
                return uuid.uuid5(None, "/etc/passwd")
        '''),
        probe=_PROBE_UUID5,
        probe_output="cfbff0d1-9375-5685-968c-48ce8b15ae17",
        note=("Same code swap onto another raw stdlib function (two arguments). "
              "Contained = error result; the probe's uuid5 is intact."),
    ),
    ReviewCase(
        name="hfe_code_swap_capwords_via_update_wrapper",
        category="host_frame_escape",
        source=_src('''
            import functools, string
            def tool():
                reader = lambda s, sep=None: open(s).read()
                update_wrapper = functools.wraps(reader).func
                update_wrapper(string.capwords, reader, ("__code__",), ())
                return string.capwords("/etc/passwd")
        '''),
        probe=_PROBE_CAPWORDS,
        probe_output="Ab-cd Ef",
        note=("Code swap through the raw update_wrapper (wraps(...).func), argument "
              "order reversed. Contained = error result; string.capwords intact in a "
              "fresh session."),
    ),
    ReviewCase(
        name="hfe_defaults_swap_string_capwords",
        category="host_frame_escape",
        source=_src('''
            import functools, string
            def with_sep(s, sep="-"):
                return s
            def tool():
                functools.wraps(with_sep, assigned=("__defaults__",), updated=())(string.capwords)
                out = string.capwords("ab-cd ef")
                if out != "Ab-cd Ef":
                    return "POISONED host string.capwords defaults: " + out
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_CAPWORDS,
        probe_output="Ab-cd Ef",
        note=("Writes __defaults__ of a host function: every later caller (host and "
              "other sessions) gets sep='-'. Contained = error result, probe intact."),
    ),
    ReviewCase(
        name="hfe_poison_counter_most_common",
        category="host_frame_escape",
        source=_src('''
            import functools, collections
            class Evil:
                def most_common(self, n=None):
                    return "POISONED"
            def tool():
                functools.wraps(Evil(), assigned=("most_common",), updated=())(collections.Counter)
                out = collections.Counter("aab").most_common()
                if out == "POISONED":
                    return "POISONED host collections.Counter.most_common"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_COUNTER,
        probe_output='[["a", 2], ["b", 1]]',
        note=("setattr on a host class the sandbox hands out directly. Contained = error "
              "result; a fresh session's Counter.most_common is the real one."),
    ),
    ReviewCase(
        name="hfe_poison_frozen_datetime_now",
        category="host_frame_escape",
        source=_src('''
            import functools, datetime
            class Evil:
                def now(self, tz=None):
                    return "POISONED"
            def tool():
                functools.wraps(Evil(), assigned=("now",), updated=())(datetime.datetime)
                if datetime.datetime.now() == "POISONED":
                    return "POISONED the frozen datetime class shared by sessions"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_NOW,
        probe_output="2026-01-15T09:30:00",
        note=("The frozen datetime class is cached per clock (lru_cache) and shared by "
              "every session with that clock. Contained = error result; a fresh session's "
              "datetime.now() is the frozen clock."),
    ),
    ReviewCase(
        name="hfe_poison_frozen_date_today",
        category="host_frame_escape",
        source=_src('''
            import functools, datetime
            class Evil:
                def today(self):
                    return "1999-12-31"
            def tool():
                functools.wraps(Evil(), assigned=("today",), updated=())(datetime.date)
                if datetime.date.today() == "1999-12-31":
                    return "POISONED the frozen date class shared by sessions"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_TODAY,
        probe_output="2026-01-15",
        note="Same for the shared frozen date class. Contained = error, probe intact.",
    ),
    ReviewCase(
        name="hfe_poison_template_pattern",
        category="host_frame_escape",
        source=_src('''
            import functools, string, re
            class Box:
                pass
            def tool():
                box = Box()
                box.pattern = re.compile("(?P<escaped>Q)|(?P<named>Z)|(?P<braced>W)|(?P<invalid>V)")
                functools.wraps(box, assigned=("pattern",), updated=())(string.Template)
                out = string.Template("$who Z").safe_substitute(who="x")
                if out != "x Z":
                    return "POISONED host string.Template.pattern: " + out
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_TEMPLATE,
        probe_output="x Z",
        note=("Replaces the compiled pattern of the host's string.Template (a plain "
              "attribute a tool may read, now written by name). Contained = error, probe "
              "substitutes normally."),
    ),
    ReviewCase(
        name="hfe_poison_host_random_module_globals",
        category="host_frame_escape",
        source=_src('''
            import functools
            import random as rnd
            TWOPI = 0.0
            def tool():
                try:
                    functools.wraps(tool, assigned=(), updated=("__globals__",))(rnd.shuffle)
                except AttributeError:
                    pass
                rnd.seed(1)
                rnd.gauss()
                if rnd.gauss() == 0.0:
                    return "POISONED host random module globals (TWOPI)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_GAUSS,
        probe_output="True",
        note=("The reverse merge: the *host* random module's globals are updated with the "
              "tool's (TWOPI, tool, the hook names, the sandbox __builtins__). update_wrapper "
              "raises only after the update (a method has no __wrapped__ slot). Every "
              "session's gauss() then returns 0.0 every second call. Contained = error, "
              "probe intact."),
    ),
    ReviewCase(
        name="hfe_poison_uuid_lt_tool_code_in_host",
        category="host_frame_escape",
        source=_src('''
            import functools, uuid
            class Lt:
                def __lt__(self, other):
                    return False
            def tool():
                functools.wraps(Lt, assigned=("__lt__",), updated=())(uuid.UUID)
                if not uuid.UUID(int=1) < uuid.UUID(int=2):
                    return "POISONED host uuid.UUID.__lt__ (tool code now runs in host sorts)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_UUID_LT,
        probe_output="True",
        note=("Dunder names are no obstacle: tool code (bound to this session's meter) "
              "becomes a method of a host class and runs whenever the host or another "
              "session compares UUIDs. Contained = error, probe compares correctly."),
    ),
    # ============================================================================ c_stack
    ReviewCase(
        name="cstack_hash_nested_tuple_set_display",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                t = ()
                for i in range(300000):
                    t = (t,)
                return len({t})
        '''),
        note=("tuplehash recurses in C with no recursion check: SIGSEGV in-process. "
              "Contained = an error result (e.g. a depth limit), the process survives."),
    ),
    ReviewCase(
        name="cstack_hash_nested_tuple_lru_cache_key",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import functools
            @functools.lru_cache
            def cached(x):
                return 1
            def tool():
                t = ()
                for i in range(300000):
                    t = (t,)
                return cached(t)
        '''),
        note="Same hash, reached from C (lru_cache key). Contained = error, no segfault.",
    ),
    ReviewCase(
        name="cstack_hash_nested_tuple_counter",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import collections
            def tool():
                t = ()
                for i in range(300000):
                    t = (t,)
                return len(collections.Counter([t]))
        '''),
        note="Same hash, inside Counter's C _count_elements. Contained = error, no segfault.",
    ),
    ReviewCase(
        name="cstack_nested_map_next",
        category="c_stack",
        source=_src('''
            def tool():
                it = [1]
                for i in range(300000):
                    it = map(abs, it)
                return next(it)
        '''),
        note="map_next calls the inner tp_iternext directly: C recursion. Contained = error.",
    ),
    ReviewCase(
        name="cstack_nested_filter_next",
        category="c_stack",
        source=_src('''
            def tool():
                it = [1]
                for i in range(300000):
                    it = filter(None, it)
                return next(it)
        '''),
        note="Sibling builtin iterator (filter). Contained = error, no segfault.",
    ),
    ReviewCase(
        name="cstack_nested_enumerate_next",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                it = [1]
                for i in range(300000):
                    it = enumerate(it)
                return str(next(it))[:20]
        '''),
        note="Sibling builtin iterator (enumerate). Contained = error, no segfault.",
    ),
    ReviewCase(
        name="cstack_nested_zip_list",
        category="c_stack",
        source=_src('''
            def tool():
                it = [1]
                for i in range(300000):
                    it = zip(it)
                return len(list(it))
        '''),
        note="zip, consumed by the sandbox's own list(). Contained = error, no segfault.",
    ),
    ReviewCase(
        name="cstack_nested_itertools_islice",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import itertools
            def tool():
                it = [1]
                for i in range(200000):
                    it = itertools.islice(it, 5)
                return next(it)
        '''),
        note=("The sandbox wraps itertools in a ticking generator, but generator -> "
              "islice -> generator still nests C frames: SIGSEGV. Contained = error."),
    ),
    ReviewCase(
        name="cstack_dealloc_nested_deque",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import collections
            def tool():
                d = collections.deque()
                for i in range(300000):
                    d = collections.deque([d])
                return 1
        '''),
        note=("No iteration at all: deque_dealloc has no trashcan, so freeing the local "
              "when the call returns recurses 300,000 deep. Contained = error result "
              "(or a normal result) without a segfault."),
    ),
    ReviewCase(
        name="cstack_dealloc_nested_defaultdict",
        category="c_stack",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import collections
            def tool():
                d = collections.defaultdict(int)
                for i in range(300000):
                    d = collections.defaultdict(None, a=d)
                return 1
        '''),
        note="Dealloc recursion through defaultdict. Contained = no segfault.",
    ),
    # ========================================================================= error_text
    ReviewCase(
        name="errtext_bigint_exception_arg",
        category="error_text",
        source=_src('''
            def tool():
                raise ValueError(1 << 20000)
        '''),
        worker_may_die=False,
        note=("str(exc) hits the int-to-str digit limit (6,000 digits < max_int_bits), so "
              "_describe raises and call() raises. Contained = an ordinary error result "
              "in both modes (not worker_crashed)."),
    ),
    ReviewCase(
        name="errtext_keyerror_bigint_lookup",
        category="error_text",
        source=_src('''
            def tool():
                counts = {}
                return counts[1 << 20000]
        '''),
        worker_may_die=False,
        note=("An innocent-looking miss: KeyError's str() is the repr of the big key. "
              "Contained = ordinary error result."),
    ),
    ReviewCase(
        name="errtext_nested_tuple_repr_recursion",
        category="error_text",
        source=_src('''
            def tool():
                t = ()
                for i in range(5000):
                    t = (t,)
                raise ValueError(t)
        '''),
        worker_may_die=False,
        note=("RecursionError while rendering the error text (raised from _describe, "
              "outside any handler). Contained = ordinary error result."),
    ),
    ReviewCase(
        name="errtext_counter_subclass_repr_budget_trip",
        category="error_text",
        source=_src('''
            import collections
            class C(collections.Counter):
                def most_common(self, n=None):
                    while True:
                        pass
            def tool():
                raise ValueError(C(a=1))
        '''),
        worker_may_die=False,
        note=("Counter.__repr__ (host code) calls the tool's most_common: tool code runs "
              "inside str(exc) until the budget trips, and the trip (StopIteration from "
              "the tick) escapes call(). Contained = a budget/exception result."),
    ),
    ReviewCase(
        name="errtext_counter_value_lt_raises",
        category="error_text",
        source=_src('''
            import collections
            class V:
                def __init__(self, v):
                    self.v = v
                def __lt__(self, other):
                    raise ValueError(1 << 20000)
            def tool():
                raise KeyError(collections.Counter({"a": V(1), "b": V(2)}))
        '''),
        worker_may_die=False,
        note=("__lt__ is an allowed dunder: Counter.__repr__ sorts the values, the "
              "tool's __lt__ raises an exception whose own str() fails. Contained = "
              "ordinary error result."),
    ),
    ReviewCase(
        name="errtext_chainmap_property_recursion",
        category="error_text",
        source=_src('''
            import collections
            class CM(collections.ChainMap):
                def __init__(self):
                    pass
                def boom(self):
                    return [str(CM())]
                maps = property(boom)
            def tool():
                raise ValueError(CM())
        '''),
        worker_may_die=False,
        note=("ChainMap.__repr__ reads self.maps, a tool property that renders a new "
              "CM (recursive_repr keys on id, so it never short-cuts): RecursionError in "
              "_describe. Contained = ordinary error result."),
    ),
    ReviewCase(
        name="errtext_render_fallback_repr_raises",
        category="error_text",
        source=_src('''
            import collections
            class C(collections.Counter):
                def most_common(self, n=None):
                    raise ValueError(1 << 20000)
            class Thing:
                pass
            def tool():
                return C(a=Thing())
        '''),
        worker_may_die=False,
        note=("The return value is not JSON-serialisable, so rendering falls back to "
              "str(); that raises an exception whose str() raises again in _failure. "
              "Contained = ordinary error result."),
    ),
    ReviewCase(
        name="errtext_module_load_bigint",
        category="error_text",
        source=_src('''
            raise ValueError(1 << 20000)
            def tool():
                return 1
        '''),
        worker_may_die=False,
        note=("The same failure at module load ('tool module failed to load: ...'). "
              "Contained = ordinary error result."),
    ),
    ReviewCase(
        name="errtext_class_tool_with_swapped_code",
        category="error_text",
        source=_src('''
            import functools
            def f(x):
                return x
            class T:
                def __init__(self, x=1):
                    self.x = x
            functools.wraps(f, assigned=("__code__",), updated=())(T)
            tool = T
        '''),
        worker_may_die=False,
        note=("`tool` is a class that now has a __code__ attribute, so the argument "
              "binding check (outside _run) reads func.__defaults__ and raises "
              "AttributeError out of call(). Contained = an error result."),
    ),
    ReviewCase(
        name="errtext_unbounded_multiline_error",
        category="error_text",
        source=_src('''
            def tool():
                raise ValueError("first line\\n" + "x" * 5000000)
        '''),
        worker_may_die=False,
        max_error_chars=100_000,
        note=("Outside the reported classes: the error text is documented as one stable "
              "line but is neither cut at max_output nor kept to one line (5 MB here). "
              "Contained = an error whose text is one line of at most 100,000 characters."),
    ),
    # ============================================================================== c_cpu
    ReviewCase(
        name="ccpu_pow3_huge_operands",
        category="c_cpu",
        source=_src('''
            def tool():
                m = (1 << 99990) - 1
                e = (1 << 99990) - 3
                return pow(7, e, m) % 10
        '''),
        note=("3-argument pow is passed through unguarded: 100,000 squarings of "
              "100,000-bit numbers modulo a 100,000-bit modulus, one C call (hours). "
              "Contained = a limit/budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_hex_bigint_floordiv",
        category="c_cpu",
        source=_src('''
            def tool():
                a = int("f" * 3000000, 16)
                b = int("e" * 1500000, 16)
                return a // b % 10
        '''),
        note=("int(s, 16) builds 12M-bit ints (120x max_int_bits, no guard), and // "
              "is not a guarded operator: quadratic division in C. Contained = error "
              "within seconds."),
    ),
    ReviewCase(
        name="ccpu_decimal_from_hex_bigint",
        category="c_cpu",
        source=_src('''
            import decimal
            def tool():
                return str(decimal.Decimal(int("f" * 1000000, 16)))[:5]
        '''),
        note=("Decimal(int) converts binary to decimal before the exponent check can "
              "look at the result (quadratic in libmpdec). Contained = error quickly."),
    ),
    ReviewCase(
        name="ccpu_decimal_long_coefficient_as_integer_ratio",
        category="c_cpu",
        source=_src('''
            import decimal
            def tool():
                d = decimal.Decimal("0." + "7" * 3000000)
                return d.as_integer_ratio()[0] % 10
        '''),
        note=("adjusted() is -1, so the exponent check passes, but the coefficient has "
              "3M digits: as_integer_ratio converts it and reduces by gcd in C. "
              "Contained = error quickly."),
    ),
    ReviewCase(
        name="ccpu_fraction_from_decimal_long_coefficient",
        category="c_cpu",
        source=_src('''
            import decimal, fractions
            def tool():
                d = decimal.Decimal("0." + "7" * 3000000)
                return str(fractions.Fraction.from_decimal(d))[:5]
        '''),
        note=("Fraction.from_decimal is reached through the stand-in's attribute "
              "forwarding, bypassing the Fraction() constructor's digit check. "
              "Contained = error quickly."),
    ),
    ReviewCase(
        name="ccpu_textwrap_width1_long_word",
        category="c_cpu",
        source=_src('''
            import textwrap
            def tool():
                return len(textwrap.wrap("x" * 1500000, width=1))
        '''),
        note=("TextWrapper splits a long word one line at a time, re-slicing the rest "
              "each time: quadratic, in host frames that never tick. Contained = error."),
    ),
    ReviewCase(
        name="ccpu_namedtuple_huge_field_count",
        category="c_cpu",
        source=_src('''
            import collections
            def tool():
                names = ["f" + str(i) for i in range(700000)]
                collections.namedtuple("T", names)
                return 1
        '''),
        note=("namedtuple generates and compiles source for 700,000 fields in host "
              "frames (tens of seconds, hundreds of MB). Contained = error within seconds."),
    ),
    ReviewCase(
        name="ccpu_membership_loop_big_list",
        category="c_cpu",
        source=_src('''
            def tool():
                big = list(range(1000000))
                n = 0
                for i in range(700000):
                    if -1 in big:
                        n += 1
                return n
        '''),
        note=("One tick per iteration, 1M comparisons per tick: ~30 minutes on a 1M-op "
              "budget. Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_insert_front_loop",
        category="c_cpu",
        source=_src('''
            def tool():
                big = list(range(1000000))
                for i in range(900000):
                    big.insert(0, i)
                    big.pop(0)
                return len(big)
        '''),
        note="Two 8 MB memmoves per tick. Contained = budget error within seconds.",
    ),
    ReviewCase(
        name="ccpu_random_shuffle_loop",
        category="c_cpu",
        source=_src('''
            import random
            def tool():
                big = list(range(1000000))
                for i in range(100000):
                    random.shuffle(big)
                return big[0]
        '''),
        note=("random.shuffle is Python code in host frames: 1M unticked iterations per "
              "call. Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_deepcopy_hidden_size_loop",
        category="c_cpu",
        source=_src('''
            import copy
            def tool():
                big = list(range(1000000))
                box = [big]
                n = 0
                for i in range(100000):
                    n += len(copy.deepcopy(box)[0])
                return n
        '''),
        note=("copy.deepcopy charges len() of the outer container (1), then copies "
              "1M elements in host frames. Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_hash_big_tuple_loop",
        category="c_cpu",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                big = tuple(range(1000000))
                seen = {}
                for i in range(900000):
                    seen[big] = i
                return len(seen)
        '''),
        note=("Tuple hashes are not cached: every dict store hashes 1M items in C. "
              "Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_max_builtin_loop",
        category="c_cpu",
        source=_src('''
            def tool():
                big = list(range(1000000))
                n = 0
                for i in range(900000):
                    n = max(big)
                return n
        '''),
        note=("The sandbox's max/min/sum pass lists straight to C without charging. "
              "Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_list_equality_loop",
        category="c_cpu",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                a = list(range(600000))
                b = list(range(600000))
                n = 0
                for i in range(900000):
                    n += a == b
                return n
        '''),
        note=("`in` is charged by length, but == between two equal 600k-item lists is "
              "one C call per tick (found against the fixed sandbox, dfe0c44). "
              "Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_str_equality_loop",
        category="c_cpu",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                s = "ab" * 4000000
                t = "ab" * 4000000
                n = 0
                for i in range(900000):
                    n += s == t
                return n
        '''),
        note=("Two equal, distinct 8M-character strings: memcmp of 8 MB per tick "
              "(found against dfe0c44). Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu_ascii_shared_dag",
        category="c_cpu",
        source="def tool():\n" + _DAG.format(depth=26) + "    return ascii(a)[:10]\n",
        note=("ascii() is the raw builtin: C repr of a 2**26-path DAG (str()/repr() "
              "go through the charged renderer, ascii() does not). Contained = error "
              "within seconds."),
    ),
    ReviewCase(
        name="ccpu_deque_str_shared_dag",
        category="c_cpu",
        source=("import collections\ndef tool():\n" + _DAG.format(depth=26)
                + "    return str(collections.deque([a]))[:10]\n"),
        note=("deque is not one of the containers the stable renderer walks: str() "
              "uses the C repr and sizes the text after building it. Contained = error "
              "within seconds."),
    ),
    ReviewCase(
        name="ccpu_exception_text_shared_dag",
        category="c_cpu",
        source="def tool():\n" + _DAG.format(depth=26) + "    raise ValueError(a)\n",
        note=("The error description renders the DAG with C repr, after the call, with "
              "no budget. Contained = error result within seconds."),
    ),
    ReviewCase(
        name="ccpu_dict_values_view_shared_dag",
        category="c_cpu",
        source=("def tool():\n" + _DAG.format(depth=26)
                + "    return len(str({1: a}.values()))\n"),
        note="dict views render through C repr too. Contained = error within seconds.",
    ),
    ReviewCase(
        name="ccpu_sorted_shared_dags",
        category="c_cpu",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            def tool():
                a = []
                b = []
                for i in range(29):
                    a = [a, a]
                    b = [b, b]
                return sorted([a, b]) is None
        '''),
        note=("Ordering comparison of two equal DAGs walks 2**29 paths (sibling of the "
              "known == case; < is used by sorted/min/max). Contained = error quickly."),
    ),
    ReviewCase(
        name="ccpu_re_compile_long_literal",
        category="c_cpu",
        source=_src('''
            import re
            def tool():
                return re.compile("ab" * 4000000).pattern[:3]
        '''),
        note=("re.compile parses the pattern in Python host frames (sre_parse), one "
              "unticked iteration per character, and caches it. Contained = error quickly."),
    ),
    ReviewCase(
        name="ccpu_str_bytes_punycode_decode",
        category="c_cpu",
        source=_src('''
            def tool():
                return len(str(b"a" * 100000 + b"-" + b"b" * 300000, "punycode"))
        '''),
        note=("str(bytes, encoding) is the raw builtin: it bypasses the codec allowlist "
              "of bytes.decode and runs the pure-Python, quadratic punycode decoder. "
              "Contained = error (codec refused) quickly."),
    ),
    # =========================================================================== c_memory
    ReviewCase(
        name="cmem_star_unpack_doubling",
        category="c_memory",
        source=_src('''
            def tool():
                x = [0] * 1000
                for i in range(17):
                    x = [*x, *x]
                return len(x)
        '''),
        note=("_star_ returns lists and tuples as they are, uncharged, and the display "
              "[*x, *x] is built in C: 2**17 * 1000 items. Contained = limit error, "
              "RSS growth < 256 MB."),
    ),
    ReviewCase(
        name="cmem_slice_assign_doubling",
        category="c_memory",
        source=_src('''
            def tool():
                x = [0] * 1000
                for i in range(17):
                    x[len(x):] = x
                return len(x)
        '''),
        note="Slice assignment extends in place, unguarded. Contained = limit error.",
    ),
    ReviewCase(
        name="cmem_deque_add_doubling",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                d = collections.deque([0] * 1000)
                for i in range(17):
                    d = d + d
                return len(d)
        '''),
        note=("_add_ guards str/bytes/list/tuple concatenation only; deque + deque "
              "doubles freely. Contained = limit error."),
    ),
    ReviewCase(
        name="cmem_str_of_repeated_big_string",
        category="c_memory",
        source=_src('''
            def tool():
                s = "a" * 1000000
                return len(str([s] * 600))
        '''),
        note=("The stable renderer charges per container node, not for the leaves' "
              "repr: 600 MB are built before check_len. Contained = limit error, RSS < "
              "256 MB."),
    ),
    ReviewCase(
        name="cmem_result_render_repeated_big_string",
        category="c_memory",
        expect="contained",  # a result cut while it is built is contained too (see note)
        source=_src('''
            def tool():
                s = "a" * 1000000
                return [s] * 700
        '''),
        note=("Result rendering JSON-encodes 700 MB before cutting to max_output. "
              "Contained = error (or a truncated result) without the 700 MB."),
    ),
    ReviewCase(
        name="cmem_fstring_deque_of_big_strings",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                s = "a" * 1000000
                text = f"{collections.deque([s] * 600)}"
                return len(text)
        '''),
        note="f-string of a deque: C repr, sized after. Contained = limit error, RSS ok.",
    ),
    ReviewCase(
        name="cmem_print_star_repeated_big_string",
        category="c_memory",
        source=_src('''
            def tool():
                s = "a" * 1000000
                print(*([s] * 600))
        '''),
        note=("print() joins its arguments and charges the text afterwards: 600 MB "
              "exist before the budget trips (found against dfe0c44). Contained = "
              "error with RSS growth < 256 MB."),
    ),
    ReviewCase(
        name="cmem_str_format_repeated_big_string",
        category="c_memory",
        source=_src('''
            def tool():
                s = "a" * 1000000
                return len("{}".format([s] * 600))
        '''),
        note=("safe_format estimates a list as 64 + 16 per item, then renders its "
              "leaves in full (found against dfe0c44). Contained = limit error, RSS < "
              "256 MB."),
    ),
    ReviewCase(
        name="cmem_percent_repeated_big_string",
        category="c_memory",
        source=_src('''
            def tool():
                s = "a" * 1000000
                return len("%s" % ([s] * 600,))
        '''),
        note=("The same through percent_format (found against dfe0c44). Contained = "
              "limit error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem_json_dumps_separators",
        category="c_memory",
        source=_src('''
            import json
            def tool():
                sep = "," + " " * 600000
                return len(json.dumps(list(range(1000)), separators=(sep, ":")))
        '''),
        note=("indent is capped but separators are not, and the output is sized after "
              "it is built. Contained = limit error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem_pattern_sub_method",
        category="c_memory",
        source=_src('''
            import re
            def tool():
                return len(re.compile("").sub("x" * 30000, "a" * 30000))
        '''),
        note=("Only module-level re.sub is wrapped; Pattern.sub is raw: 900M "
              "characters. Contained = limit error."),
    ),
    ReviewCase(
        name="cmem_match_expand",
        category="c_memory",
        source=_src('''
            import re
            def tool():
                m = re.match("(a*)", "a" * 1000000)
                return len(m.expand("\\\\1" * 600))
        '''),
        note="Match.expand repeats a 1 MB group 600 times. Contained = limit error.",
    ),
    ReviewCase(
        name="cmem_template_substitute",
        category="c_memory",
        source=_src('''
            import string
            def tool():
                return len(string.Template("$a" * 600).substitute(a="x" * 1000000))
        '''),
        note="string.Template.substitute: 600 MB result. Contained = limit error.",
    ),
    ReviewCase(
        name="cmem_textwrap_tabsize",
        category="c_memory",
        source=_src('''
            import textwrap
            def tool():
                return len(textwrap.wrap("\\t" * 100000, tabsize=6000, width=10**9))
        '''),
        note=("textwrap expands tabs before wrapping; tabsize is unchecked (600M "
              "spaces). Contained = limit error."),
    ),
    ReviewCase(
        name="cmem_translate_defaultdict",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                big = "y" * 20000
                table = collections.defaultdict(lambda: big)
                return len(("a" * 30000).translate(table))
        '''),
        note=("translate's guard measures the table's values before the call; the "
              "defaultdict creates them inside C. Contained = limit error."),
    ),
    ReviewCase(
        name="cmem_percent_defaultdict",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                big = "y" * 1000000
                table = collections.defaultdict(lambda: big)
                return len(("%(k)s" * 600) % table)
        '''),
        note=("percent_format sizes %(k)s with dict.get (None); the C formatter then "
              "calls __missing__. Contained = limit error."),
    ),
    ReviewCase(
        name="cmem_counter_over_range",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                return len(collections.Counter(range(5000000)))
        '''),
        note="Counter(iterable) fills a 5M-entry dict in C, uncharged. Contained = error.",
    ),
    ReviewCase(
        name="cmem_deque_over_range",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                return len(collections.deque(range(10000000)))
        '''),
        note="deque(iterable) in C, uncharged. Contained = limit/budget error.",
    ),
    ReviewCase(
        name="cmem_random_sample_pool",
        category="c_memory",
        source=_src('''
            import random
            def tool():
                return len(random.sample(range(10000000), 3000000))
        '''),
        note=("k is charged but sample() copies the whole population (list(range(10M))) "
              "when k is large. Contained = error."),
    ),
    ReviewCase(
        name="cmem_itertools_combinations_pool",
        category="c_memory",
        source=_src('''
            import itertools
            def tool():
                return next(itertools.combinations(range(10000000), 2))
        '''),
        note=("The ticking wrapper ticks per item, but the constructor first copies the "
              "pool (a 10M tuple) in C. Contained = error."),
    ),
    ReviewCase(
        name="cmem_materialise_before_charge",
        category="c_memory",
        source=_src('''
            def tool():
                return len(list(map(str, range(10000000))))
        '''),
        note=("_star_ appends up to max_len items and only then charges: 10M str "
              "objects (~600 MB) exist before the budget trips. Contained = error with "
              "RSS growth < 256 MB."),
    ),
    ReviewCase(
        name="cmem_re_findall_groups",
        category="c_memory",
        source=_src('''
            import re
            def tool():
                s = "abcd" * 2500000
                return len(re.findall("((a)(b))((c)(d))", s))
        '''),
        note=("findall builds 2.5M tuples of 6 strings from a 10M-character input, "
              "uncharged. Contained = error, RSS < 256 MB."),
    ),
    # ====================================================================== nondeterminism
    ReviewCase(
        name="nondet_ascii_of_set",
        category="nondeterminism",
        source=_src('''
            def tool():
                return ascii({"pear", "fig", "kiwi", "apple", "date", "plum", "lime"})
        '''),
        expect="contained",
        note="ascii() is the raw builtin: hash order. Contained = identical across seeds.",
    ),
    ReviewCase(
        name="nondet_counter_from_set",
        category="nondeterminism",
        source=_src('''
            import collections
            def tool():
                return list(collections.Counter({"pear", "fig", "kiwi", "apple", "date"}))
        '''),
        expect="contained",
        note="Counter(set) iterates the set in C. Contained = identical across seeds.",
    ),
    ReviewCase(
        name="nondet_deque_from_set",
        category="nondeterminism",
        source=_src('''
            import collections
            def tool():
                return "-".join(collections.deque({"pear", "fig", "kiwi", "apple", "date"}))
        '''),
        expect="contained",
        note="deque(set) in C. Contained = identical across seeds.",
    ),
    ReviewCase(
        name="nondet_ordereddict_from_set_of_pairs",
        category="nondeterminism",
        source=_src('''
            import collections
            def tool():
                pairs = {("pear", 1), ("fig", 2), ("kiwi", 3), ("apple", 4), ("date", 5)}
                return list(collections.OrderedDict(pairs))
        '''),
        expect="contained",
        note="OrderedDict(set of pairs) in C. Contained = identical across seeds.",
    ),
    ReviewCase(
        name="nondet_counter_subtract_set",
        category="nondeterminism",
        source=_src('''
            import collections
            def tool():
                c = collections.Counter()
                c.subtract({"pear", "fig", "kiwi", "apple", "date"})
                return list(c)
        '''),
        expect="contained",
        note=("Counter.subtract iterates the set in host frames (update() is guarded, "
              "subtract() is not). Contained = identical across seeds."),
    ),
    ReviewCase(
        name="nondet_error_text_set_order",
        category="nondeterminism",
        source=_src('''
            def tool():
                raise ValueError({"pear", "fig", "kiwi", "apple", "date"})
        '''),
        expect="contained",
        note="Error texts use C repr: set order. Contained = identical error text.",
    ),
    ReviewCase(
        name="nondet_keyerror_frozenset_order",
        category="nondeterminism",
        source=_src('''
            def tool():
                index = {}
                return index[frozenset({"pear", "fig", "kiwi", "apple", "date"})]
        '''),
        expect="contained",
        note="A plain KeyError on a frozenset key. Contained = identical error text.",
    ),
    ReviewCase(
        name="nondet_set_of_objects_iteration_order",
        category="nondeterminism",
        source=_src('''
            class Thing:
                def __init__(self, n):
                    self.n = n
            def tool():
                things = {Thing(i) for i in range(8)}
                return [t.n for t in things]
        '''),
        expect="contained",
        note=("ordered() sorts objects by their repr, which holds the memory address: "
              "the order follows the allocator. Contained = identical across runs."),
    ),
    ReviewCase(
        name="nondet_min_over_set_of_objects",
        category="nondeterminism",
        source=_src('''
            class Item:
                def __init__(self, tag):
                    self.tag = tag
                    self.price = 1
            def tool():
                items = {Item(t) for t in "abcdefgh"}
                return min(items, key=lambda it: it.price).tag
        '''),
        expect="contained",
        note="Ties broken by address order. Contained = identical across runs.",
    ),
    ReviewCase(
        name="nondet_sliced_repr_address",
        category="nondeterminism",
        source=_src('''
            class Thing:
                pass
            def tool():
                return repr(Thing()).split(" at ")[1]
        '''),
        expect="contained",
        note=("The address mask needs the literal ' at 0x' in the final text; a split "
              "(or a slice) removes it. Contained = identical across runs."),
    ),
    ReviewCase(
        name="nondet_uppercased_repr_address",
        category="nondeterminism",
        source=_src('''
            def tool():
                return repr(tool).upper()
        '''),
        expect="contained",
        note="' AT 0X7F...' escapes the case-sensitive mask. Contained = identical.",
    ),
    ReviewCase(
        name="nondet_error_text_address",
        category="nondeterminism",
        source=_src('''
            class Thing:
                pass
            def tool():
                raise ValueError(Thing())
        '''),
        expect="contained",
        note="Addresses are masked in output only, not in error texts. Contained = identical.",
    ),
    ReviewCase(
        name="nondet_printed_address_before_error",
        category="nondeterminism",
        source=_src('''
            class Thing:
                pass
            def tool():
                print(Thing())
                raise ValueError("after printing")
        '''),
        expect="contained",
        note=("Printed text returned with an error skips the masking of render_output. "
              "Contained = identical across runs."),
    ),
    ReviewCase(
        name="nondet_naive_timestamp_local_tz",
        category="nondeterminism",
        source=_src('''
            import datetime
            def tool():
                return datetime.datetime(2026, 1, 15, 9, 30).timestamp()
        '''),
        expect="contained",
        note="A naive .timestamp() reads the host's TZ. Contained = identical under any TZ.",
    ),
    ReviewCase(
        name="nondet_astimezone_no_arg",
        category="nondeterminism",
        source=_src('''
            import datetime
            def tool():
                return str(datetime.datetime.now().astimezone())
        '''),
        expect="contained",
        note="astimezone() converts to the host's zone. Contained = identical under any TZ.",
    ),
    ReviewCase(
        name="nondet_naive_astimezone_utc",
        category="nondeterminism",
        source=_src('''
            import datetime
            def tool():
                d = datetime.datetime(2026, 1, 15, 9, 30)
                return d.astimezone(datetime.timezone.utc).isoformat()
        '''),
        expect="contained",
        note=("A naive datetime is taken as host-local time before conversion "
              "(the sandbox's rule is naive = UTC). Contained = identical under any TZ."),
    ),
    ReviewCase(
        name="nondet_strptime_host_tzname",
        category="nondeterminism",
        source=_src('''
            import time
            def tool():
                try:
                    return list(time.strptime("2026 JST", "%Y %Z"))
                except ValueError:
                    return "rejected"
        '''),
        expect="contained",
        note=("%Z accepts the host's zone names (JST only under Asia/Tokyo). "
              "Contained = identical under any TZ."),
    ),
    ReviewCase(
        name="nondet_date_fromtimestamp_local",
        category="nondeterminism",
        source=_src('''
            import datetime, time
            def tool():
                return str(datetime.date.fromtimestamp(time.time() + 15 * 3600))
        '''),
        expect="contained",
        note=("The frozen date class inherits fromtimestamp, which uses the host's "
              "local time. Contained = identical under any TZ."),
    ),
    ReviewCase(
        name="nondet_strftime_percent_s",
        category="nondeterminism",
        source=_src('''
            import datetime
            def tool():
                return datetime.datetime(2026, 1, 15, 9, 30).strftime("%s")
        '''),
        expect="contained",
        note=("glibc's %s runs mktime() in the host's zone (found against dfe0c44). "
              "Contained = identical under any TZ."),
    ),
    ReviewCase(
        name="nondet_time_strftime_percent_s",
        category="nondeterminism",
        source=_src('''
            import time
            def tool():
                return time.strftime("%s", time.gmtime(0))
        '''),
        expect="contained",
        note=("time.strftime('%s') on a UTC struct_time gives -32400 under Asia/Tokyo "
              "(found against dfe0c44). Contained = identical under any TZ."),
    ),
    # ========================================================================== host_state
    ReviewCase(
        name="hs_codec_cache_unknown_names",
        category="host_state",
        source=_src('''
            def tool():
                n = 0
                for i in range(20000):
                    try:
                        "a".encode("nocodec" + str(i))
                    except LookupError:
                        n += 1
                return n
        '''),
        expect="contained",
        note=("Every unknown name is cached (as None) in encodings._cache before the "
              "sandbox refuses it: ~10,000 entries per call, forever. Contained = "
              "encodings._cache and sys.modules unchanged after the calls."),
    ),
    ReviewCase(
        name="hs_codec_imports_on_refused_encode",
        category="host_state",
        source=_src('''
            def tool():
                refused = 0
                for name in ["bz2_codec", "zlib_codec", "uu_codec", "base64_codec",
                             "quopri_codec", "mac_greek", "cp500", "tis_620"]:
                    try:
                        "abc".encode(name)
                    except LookupError:
                        refused += 1
                return refused
        '''),
        expect="contained",
        note=("_codec() calls codecs.lookup first: the codec module (and bz2, ...) is "
              "imported into the host, then refused. Contained = sys.modules and "
              "encodings._cache unchanged."),
    ),
    ReviewCase(
        name="hs_codec_idna_decode_refused_imports",
        category="host_state",
        source=_src('''
            def tool():
                try:
                    return b"xn--bcher-kva".decode("idna")
                except LookupError:
                    return "refused"
        '''),
        expect="contained",
        note="Refused, but encodings.idna and stringprep are now imported. Contained = unchanged.",
    ),
    ReviewCase(
        name="hs_str_constructor_codec_bypass",
        category="host_state",
        source=_src('''
            def tool():
                out = []
                for name in ["bz2_codec", "zlib_codec", "uu_codec", "base64_codec",
                             "quopri_codec", "hex_codec", "idna", "punycode", "mac_roman",
                             "cp037", "koi8_r", "utf_7", "palmos", "hp_roman8"]:
                    try:
                        out.append(str(b"abc", name))
                    except Exception:
                        out.append("err")
                return out
        '''),
        expect="contained",
        note=("str(bytes, encoding) decodes with ANY codec (bypassing the C-codec "
              "allowlist) and imports 15 modules into the host. Contained = sys.modules "
              "and encodings._cache unchanged."),
    ),
    ReviewCase(
        name="hs_warning_re_nested_set_stderr",
        category="host_state",
        source=_src('''
            import re
            def tool():
                for k in range(50):
                    re.compile("y" * k + "[[a]")
                return 1
        '''),
        expect="contained",
        note=("re emits a FutureWarning ('Possible nested set') per pattern; with the "
              "default filters it is printed to the host's stderr (the worker's stderr is "
              "the host's too). Contained = nothing written to fd 2."),
    ),
    ReviewCase(
        name="hs_warning_re_sub_registry_in_sandbox_module",
        category="host_state",
        source=_src('''
            import re
            def tool():
                for k in range(300):
                    re.sub("x" * k + "[[a]", "", "abc")
                return 1
        '''),
        expect="contained",
        note=("Through the sandbox's re.sub wrapper the warning's frame is the wrapper, "
              "so __warningregistry__ of astra_gym.sandbox.modules grows by one entry per "
              "message (and stderr gets 300 warnings). Contained = module globals and "
              "stderr unchanged."),
    ),
    ReviewCase(
        name="hs_warning_re_set_operations",
        category="host_state",
        source=_src('''
            import re
            def tool():
                found = []
                for pattern in ["[a&&b]", "[a||b]", "[a--b]", "[a~~b]", "[[:alpha:]]"]:
                    found.append(len(re.findall(pattern, "ab&|-~:")))
                return found
        '''),
        expect="contained",
        note="Sibling FutureWarnings (set operations). Contained = nothing on fd 2.",
    ),
    ReviewCase(
        name="hs_format_cache_retains_big_templates",
        category="host_state",
        source=_src('''
            CALLS = [0]
            def tool():
                CALLS[0] += 1
                base = "{}" + "x" * 3000000 + str(CALLS[0])
                n = 0
                for i in range(4):
                    fmt = base + str(i)
                    n += len(fmt.format(1))
                return n
        '''),
        expect="contained",
        retained_mb_max=24,
        note=("str.format templates are parsed through an lru_cache(1024) keyed by the "
              "template: multi-MB templates stay in the host after the call (up to 1024 "
              "x 10 MB). Contained = RSS after 3 calls and gc within 24 MB of before."),
    ),
    ReviewCase(
        name="hs_typing_cache_retains_big_literals",
        category="host_state",
        source=_src('''
            import typing
            CALLS = [0]
            def tool():
                CALLS[0] += 1
                pad = "x" * 3000000 + str(CALLS[0])
                kept = 0
                for i in range(12):
                    typing.Literal[pad + str(i)]
                    kept += 1
                return kept
        '''),
        expect="contained",
        retained_mb_max=24,
        note=("typing's _tp_cache (lru_cache per special form) keeps the arguments "
              "alive in the host. Contained = RSS after 3 calls and gc within 24 MB."),
    ),
    ReviewCase(
        name="hs_poison_counter_eq",
        category="host_state",
        source=_src('''
            import functools, collections
            class Eq:
                def __eq__(self, other):
                    return True
            def tool():
                functools.wraps(Eq, assigned=("__eq__",), updated=())(collections.Counter)
                if collections.Counter("a") == collections.Counter("b"):
                    return "POISONED: host Counter.__eq__ now runs tool code"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_COUNTER_EQ,
        probe_output="False",
        note=("A tool-defined __eq__ (an allowed dunder) installed on a host class. "
              "Contained = error result, class attributes unchanged, probe says False."),
    ),
    ReviewCase(
        name="hs_poison_calendar_day_name",
        category="host_state",
        source=_src('''
            import functools, calendar
            class Fmt:
                pass
            def tool():
                f = Fmt()
                f.format = "%Y"
                functools.wraps(f, assigned=("format",), updated=())(calendar.day_name)
                if calendar.day_name[0] != "Monday":
                    return "POISONED host calendar.day_name: " + calendar.day_name[0]
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_DAY_NAME,
        probe_output="Monday",
        note=("calendar.day_name is a host singleton object. Contained = error result, "
              "probe says Monday."),
    ),
    ReviewCase(
        name="hs_poison_json_decode_error_init",
        category="host_state",
        source=_src('''
            import functools, json
            class Init:
                def __init__(self, *args):
                    pass
            def tool():
                functools.wraps(Init, assigned=("__init__",), updated=())(json.JSONDecodeError)
                try:
                    json.loads("{")
                except json.JSONDecodeError as e:
                    if not hasattr(e, "msg"):
                        return "POISONED host json.JSONDecodeError.__init__"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_JSON_ERROR,
        probe_output="Expecting property name enclosed in double quotes",
        note=("Every JSON error the host raises later runs the tool's __init__. "
              "Contained = error result, probe gets the real message."),
    ),
    ReviewCase(
        name="hs_host_function_dict_update",
        category="host_state",
        source=_src('''
            import functools, uuid
            class Holder:
                pass
            def tool():
                h = Holder()
                h.poison = "set by a tool"
                functools.wraps(h, assigned=(), updated=("__dict__",))(uuid.uuid3)
                if hasattr(uuid.uuid3, "poison"):
                    return "POISONED host uuid.uuid3.__dict__ (and __wrapped__)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_FUNC_DICT,
        probe_output="False",
        note=("update_wrapper writes attributes (and __wrapped__) onto a host function. "
              "Contained = error result, a fresh session sees no 'poison' attribute."),
    ),
)
