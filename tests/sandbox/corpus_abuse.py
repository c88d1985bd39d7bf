"""Hostile tool payloads: each must be contained by the sandbox (see test_abuse.py)."""
from __future__ import annotations

import textwrap
from dataclasses import dataclass


@dataclass(frozen=True)
class AbuseCase:
    name: str  # unique slug
    category: str  # one of CATEGORIES
    # full tool source defining `def tool(...)` (the function called is always `tool`)
    source: str
    kwargs: dict | None = None  # arguments for the call (None = no args)
    # "error": the call must return an error result;
    # "contained": the call may succeed, the test checks a side condition named in `note`
    expect: str = "error"
    # True ONLY for payloads that in-process guards cannot stop by design
    # (C-level work with no Python-level hook); say why in note
    process_only: bool = False
    note: str = ""


CATEGORIES = (
    "dunder_walk", "import", "file_access", "format_walk", "frame_walk", "builtins_access",
    "getattr_trick", "exec_eval", "host_rng", "nondeterminism", "recursion", "infinite_loop",
    "huge_range", "memory_bomb", "c_alloc_bomb", "cpu_bomb", "state_poisoning",
)


def _src(text: str) -> str:
    """Dedent a payload written inline below, so each case stays readable."""
    return textwrap.dedent(text).strip() + "\n"


ABUSE_CASES: tuple[AbuseCase, ...] = (
    # ------------------------------------------------------------------ dunder_walk
    AbuseCase(
        name="dunder_tuple_bases_subclasses",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return ().__class__.__bases__[0].__subclasses__()
        """),
        note=(
            "Classic escape: object.__subclasses__() reaches os._wrap_close, Popen, ... Refused "
            "at compile time."
        ),
    ),
    AbuseCase(
        name="dunder_type_subclasses",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return type.__subclasses__(type)
        """),
        note="`type` is not a builtin and `__subclasses__` is a dunder.",
    ),
    AbuseCase(
        name="dunder_list_mro_object",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return [].__class__.__mro__[-1].__subclasses__()
        """),
        note="Same walk via __mro__.",
    ),
    AbuseCase(
        name="dunder_lambda_code",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return (lambda: 0).__code__
        """),
        note="Code objects allow building arbitrary bytecode.",
    ),
    AbuseCase(
        name="dunder_tool_globals",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return tool.__globals__["__builtins__"]
        """),
        note="Function globals expose the sandbox namespace and builtins.",
    ),
    AbuseCase(
        name="dunder_init_globals",
        category="dunder_walk",
        source=_src(r"""
            class Probe:
                def __init__(self):
                    self.x = 1

            def tool():
                return Probe.__init__.__globals__
        """),
        note=(
            "`def __init__` itself is allowed by RestrictedPython; reading "
            "`.__init__.__globals__` must not be."
        ),
    ),
    AbuseCase(
        name="dunder_module_loader",
        category="dunder_walk",
        source=_src(r"""
            import math

            def tool():
                return math.__loader__.load_module("os")
        """),
        note=(
            "Module dunders (__loader__, __spec__, __dict__) on the safe proxy must be "
            "unreachable."
        ),
    ),
    AbuseCase(
        name="dunder_reduce_ex_copyreg",
        category="dunder_walk",
        source=_src(r"""
            def tool():
                return [].__reduce_ex__(2)[0].__globals__
        """),
        note="__reduce_ex__ returns copyreg.__newobj__, whose globals are a real module namespace.",
    ),
    AbuseCase(
        name="dunder_single_underscore_module_attr",
        category="dunder_walk",
        source=_src(r"""
            import random

            def tool():
                return random._os.getcwd()
        """),
        note="random._os is the real os module; private attributes of proxies must be refused.",
    ),
    AbuseCase(
        name="dunder_del_finalizer",
        category="dunder_walk",
        source=_src(r"""
            class Bomb:
                def __del__(self):
                    while True:
                        pass

            def tool():
                keep = Bomb()
                return 1
        """),
        note=(
            "__del__ would run after the call, outside the budget window (and in the host in "
            "inprocess mode). RestrictedPython refuses the name; if astra widens "
            "ALLOWED_FUNC_NAMES, __del__ must stay out."
        ),
    ),
    # ------------------------------------------------------------------ import
    AbuseCase(
        name="import_os",
        category="import",
        source=_src(r"""
            import os

            def tool():
                return os.getcwd()
        """),
    ),
    AbuseCase(
        name="import_sys",
        category="import",
        source=_src(r"""
            import sys

            def tool():
                return sorted(sys.modules)
        """),
    ),
    AbuseCase(
        name="import_from_os_system",
        category="import",
        source=_src(r"""
            from os import system

            def tool():
                return system("true")
        """),
    ),
    AbuseCase(
        name="import_subprocess",
        category="import",
        source=_src(r"""
            import subprocess

            def tool():
                return subprocess.run(["true"]).returncode
        """),
    ),
    AbuseCase(
        name="import_importlib",
        category="import",
        source=_src(r"""
            import importlib

            def tool():
                return importlib.import_module("os").getcwd()
        """),
    ),
    AbuseCase(
        name="import_dunder_import_call",
        category="import",
        source=_src(r"""
            def tool():
                return __import__("os").getcwd()
        """),
    ),
    AbuseCase(
        name="import_inside_function",
        category="import",
        source=_src(r"""
            def tool():
                import ctypes
                return ctypes.CDLL(None)
        """),
        note="Imports inside the function body go through the same guarded __import__.",
    ),
    AbuseCase(
        name="import_builtins_module",
        category="import",
        source=_src(r"""
            import builtins

            def tool():
                return builtins.open
        """),
    ),
    AbuseCase(
        name="import_pickle_loads",
        category="import",
        source=_src(r"""
            import pickle

            def tool():
                return pickle.loads(b"cos\ngetcwd\n(tR.")
        """),
        note="pickle.loads runs arbitrary callables.",
    ),
    AbuseCase(
        name="import_threading",
        category="import",
        source=_src(r"""
            import threading

            def tool():
                def spin():
                    while True:
                        pass
                threading.Thread(target=spin, daemon=True).start()
                return "spawned"
        """),
        note="A thread would outlive the call and escape the budget/watchdog.",
    ),
    AbuseCase(
        name="import_gc_get_objects",
        category="import",
        source=_src(r"""
            import gc

            def tool():
                return len(gc.get_objects())
        """),
        note="gc.get_objects()/get_referrers() reach every host object.",
    ),
    AbuseCase(
        name="import_submodule_json_decoder",
        category="import",
        source=_src(r"""
            import json.decoder

            def tool():
                return json.decoder.re
        """),
        note="Dotted import of a submodule that is not on the allowlist.",
    ),
    AbuseCase(
        name="import_from_json_decoder_walk",
        category="import",
        source=_src(r"""
            from json import decoder

            def tool():
                return decoder.re.enum.sys.modules["os"].getcwd()
        """),
        note=(
            "json.decoder -> re -> enum -> sys -> os: module attributes leak other modules. The "
            "json proxy must not expose `decoder` (or must expose a proxy of it)."
        ),
    ),
    AbuseCase(
        name="import_leak_uuid_os",
        category="import",
        source=_src(r"""
            import uuid

            def tool():
                return uuid.os.getcwd()
        """),
        note="uuid imports os and sys at module level; a pass-through proxy leaks them.",
    ),
    AbuseCase(
        name="import_leak_calendar_sys",
        category="import",
        source=_src(r"""
            import calendar

            def tool():
                return calendar.sys.modules["os"].getpid()
        """),
        note="calendar imports sys at module level.",
    ),
    AbuseCase(
        name="import_leak_typing_sys",
        category="import",
        source=_src(r"""
            import typing

            def tool():
                return typing.sys.modules["os"].getpid()
        """),
        note="typing imports sys, types, functools, re ... at module level.",
    ),
    AbuseCase(
        name="import_leak_typing_types",
        category="import",
        source=_src(r"""
            import typing

            def tool():
                return typing.types.FunctionType, typing.types.CodeType
        """),
        note="types.FunctionType/CodeType let a payload build functions from raw bytecode.",
    ),
    AbuseCase(
        name="import_leak_statistics_sys",
        category="import",
        source=_src(r"""
            import statistics

            def tool():
                return statistics.sys.modules["subprocess"]
        """),
        note="statistics imports sys at module level.",
    ),
    # ------------------------------------------------------------------ file_access
    AbuseCase(
        name="file_open_etc_passwd",
        category="file_access",
        source=_src(r"""
            def tool(path):
                return open(path).read()
        """),
        kwargs={"path": "/etc/passwd"},
    ),
    AbuseCase(
        name="file_json_codecs_open",
        category="file_access",
        source=_src(r"""
            import json

            def tool(path):
                return json.codecs.open(path).read()
        """),
        kwargs={"path": "/etc/passwd"},
        note="json/__init__.py does `import codecs`; codecs.open reads files.",
    ),
    AbuseCase(
        name="file_json_codecs_builtins_open",
        category="file_access",
        source=_src(r"""
            import json

            def tool(path):
                return json.codecs.builtins.open(path).read()
        """),
        kwargs={"path": "/etc/passwd"},
        note="codecs imports the real builtins module.",
    ),
    AbuseCase(
        name="file_pathlib_read_text",
        category="file_access",
        source=_src(r"""
            import pathlib

            def tool(path):
                return pathlib.Path(path).read_text()
        """),
        kwargs={"path": "/etc/passwd"},
    ),
    AbuseCase(
        name="file_io_open",
        category="file_access",
        source=_src(r"""
            import io

            def tool(path):
                return io.open(path).read()
        """),
        kwargs={"path": "/etc/passwd"},
    ),
    AbuseCase(
        name="file_uuid_os_listdir",
        category="file_access",
        source=_src(r"""
            import uuid

            def tool():
                return uuid.os.listdir("/")
        """),
    ),
    # ------------------------------------------------------------------ format_walk
    AbuseCase(
        name="format_class_positional",
        category="format_walk",
        source=_src(r"""
            def tool():
                return "{0.__class__}".format(1)
        """),
        note="str.format performs attribute access outside _getattr_.",
    ),
    AbuseCase(
        name="format_tool_globals",
        category="format_walk",
        source=_src(r"""
            def tool():
                return "{0.__globals__}".format(tool)
        """),
        note="Leaks the sandbox namespace repr; deeper fields reach builtins.",
    ),
    AbuseCase(
        name="format_auto_numbered_field",
        category="format_walk",
        source=_src(r"""
            def tool():
                return "{.__class__.__base__}".format(1)
        """),
    ),
    AbuseCase(
        name="format_map_method",
        category="format_walk",
        source=_src(r"""
            def tool():
                return "{x.__class__.__base__}".format_map({"x": 1})
        """),
    ),
    AbuseCase(
        name="format_map_unbound",
        category="format_walk",
        source=_src(r"""
            def tool():
                return str.format_map("{x.__class__}", {"x": 1})
        """),
        note="Method fetched from the type, not an instance.",
    ),
    AbuseCase(
        name="format_fstring_dunder",
        category="format_walk",
        source=_src(r"""
            def tool():
                return f"{(1).__class__}"
        """),
        note="f-string expressions are ordinary code; the attribute is refused at compile time.",
    ),
    AbuseCase(
        name="format_string_formatter_vformat",
        category="format_walk",
        source=_src(r"""
            import string

            def tool():
                return string.Formatter().vformat("{0.__globals__}", [tool], {})
        """),
        note=(
            "RestrictedPython's safer_getattr blocks string.Formatter only when `object is "
            "string`; a module proxy is not `string`, so astra's own guard must cover it."
        ),
    ),
    AbuseCase(
        name="format_string_formatter_format",
        category="format_walk",
        source=_src(r"""
            import string

            def tool():
                return string.Formatter().format("{0.__class__.__base__}", 1)
        """),
    ),
    AbuseCase(
        name="format_inspect_attr_no_underscore",
        category="format_walk",
        source=_src(r"""
            def tool():
                def gen():
                    yield 1
                g = gen()
                return "{0.gi_frame.f_back.f_globals}".format(g)
        """),
        note=(
            "No underscore anywhere: a format guard that only rejects `_` names lets "
            "gi_frame/f_globals through. It must also reject RestrictedPython's "
            "INSPECT_ATTRIBUTES."
        ),
    ),
    AbuseCase(
        name="format_str_subclass",
        category="format_walk",
        source=_src(r"""
            class Text(str):
                pass

            def tool():
                return Text("{0.__class__.__base__}").format(1)
        """),
        note="A format guard keyed on `type(s) is str` misses str subclasses.",
    ),
    # ------------------------------------------------------------------ frame_walk
    AbuseCase(
        name="frame_generator_gi_frame",
        category="frame_walk",
        source=_src(r"""
            def tool():
                g = (i for i in [1])
                return g.gi_frame.f_back.f_globals
        """),
    ),
    AbuseCase(
        name="frame_traceback_tb_frame",
        category="frame_walk",
        source=_src(r"""
            def tool():
                try:
                    1 / 0
                except ZeroDivisionError as e:
                    return e.__traceback__.tb_frame.f_back.f_globals
        """),
    ),
    AbuseCase(
        name="frame_formatter_get_field",
        category="frame_walk",
        source=_src(r"""
            import string

            def tool():
                def gen():
                    yield 1
                g = gen()
                field = "0.gi_frame.f_back.f_globals"
                frame_globals = string.Formatter().get_field(field, [g], {})[0]
                return frame_globals["__builtins__"]
        """),
        note=(
            "get_field returns real objects (not strings): a frame walk with no underscore in the"
            " code."
        ),
    ),
    AbuseCase(
        name="frame_sys_getframe_via_calendar",
        category="frame_walk",
        source=_src(r"""
            import calendar

            def tool():
                return calendar.sys._getframe(1).f_globals
        """),
    ),
    AbuseCase(
        name="frame_coroutine_cr_frame",
        category="frame_walk",
        source=_src(r"""
            async def coro():
                return 1

            def tool():
                return coro().cr_frame.f_back
        """),
        note="async def is refused by RestrictedPython; cr_frame is an INSPECT attribute.",
    ),
    # ------------------------------------------------------------------ builtins_access
    AbuseCase(
        name="builtins_subscript_open",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return __builtins__["open"]("/etc/passwd").read()
        """),
    ),
    AbuseCase(
        name="builtins_globals",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return globals()["__builtins__"]
        """),
    ),
    AbuseCase(
        name="builtins_vars",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return vars()
        """),
    ),
    AbuseCase(
        name="builtins_locals",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return locals()
        """),
    ),
    AbuseCase(
        name="builtins_dir",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return dir()
        """),
    ),
    AbuseCase(
        name="builtins_type_three_arg",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return type("X", (), {})
        """),
    ),
    AbuseCase(
        name="builtins_object_super",
        category="builtins_access",
        source=_src(r"""
            class A:
                def m(self):
                    return super()

            def tool():
                return object(), A().m()
        """),
    ),
    AbuseCase(
        name="builtins_breakpoint",
        category="builtins_access",
        source=_src(r"""
            def tool():
                breakpoint()
                return 1
        """),
        note="Would start pdb on the host's stdin and hang.",
    ),
    AbuseCase(
        name="builtins_input",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return input("password: ")
        """),
        note="Would block on the host's stdin.",
    ),
    AbuseCase(
        name="builtins_iter_next_bytearray",
        category="builtins_access",
        source=_src(r"""
            def tool():
                return next(iter(memoryview(bytearray(16))))
        """),
    ),
    AbuseCase(
        name="builtins_exit",
        category="builtins_access",
        source=_src(r"""
            def tool():
                exit(0)
        """),
        note="site's exit/quit are not sandbox builtins; must not terminate the host.",
    ),
    AbuseCase(
        name="builtins_raise_system_exit",
        category="builtins_access",
        source=_src(r"""
            def tool():
                raise SystemExit(0)
        """),
        note=(
            "SystemExit is in RestrictedPython's safe_builtins. The harness must catch "
            "BaseException and return an error result; the host (or worker, silently) must not "
            "exit."
        ),
    ),
    AbuseCase(
        name="builtins_raise_keyboard_interrupt",
        category="builtins_access",
        source=_src(r"""
            def tool():
                raise KeyboardInterrupt
        """),
        note=(
            "KeyboardInterrupt is also in safe_builtins; must become an error result, not abort "
            "the run."
        ),
    ),
    AbuseCase(
        name="builtins_type_hints_empty_globalns",
        category="builtins_access",
        source=_src(r"""
            import typing

            def tool():
                def probe(x: "__import__('os').getcwd"):
                    return x
                return typing.get_type_hints(probe, globalns={})["x"]()
        """),
        note=(
            "eval() with a globals dict lacking __builtins__ inserts the REAL builtins: full "
            "escape through typing.get_type_hints. The typing proxy must not expose "
            "get_type_hints (or ForwardRef evaluation)."
        ),
    ),
    # ------------------------------------------------------------------ getattr_trick
    AbuseCase(
        name="getattr_builtin",
        category="getattr_trick",
        source=_src(r"""
            def tool():
                return getattr(1, "__class__")
        """),
    ),
    AbuseCase(
        name="getattr_constructed_name",
        category="getattr_trick",
        source=_src(r"""
            def tool():
                name = "_" * 2 + "class" + "_" * 2
                return getattr(getattr(1, name), "mro")()
        """),
        note=(
            "Attribute name built at runtime defeats compile-time checks; getattr is not a "
            "sandbox builtin."
        ),
    ),
    AbuseCase(
        name="getattr_fractions_operator_attrgetter",
        category="getattr_trick",
        source=_src(r"""
            import fractions

            def tool():
                return fractions.operator.attrgetter("__class__.__base__")(1)
        """),
        note="fractions imports operator; attrgetter is an unguarded getattr.",
    ),
    AbuseCase(
        name="getattr_formatter_get_field",
        category="getattr_trick",
        source=_src(r"""
            import string

            def tool():
                obj, _ = string.Formatter().get_field("0.__class__.__base__", [1], {})
                return obj
        """),
        note="Formatter.get_field is getattr with a dotted path.",
    ),
    AbuseCase(
        name="getattr_mro_then_get_field",
        category="getattr_trick",
        source=_src(r"""
            import string

            def tool():
                base = int.mro()[-1]
                subclasses = string.Formatter().get_field("0.__subclasses__", [base], {})[0]
                return subclasses()
        """),
        note=(
            "`mro` has no underscore and yields `object` legally; the dunder hop happens inside "
            "get_field."
        ),
    ),
    AbuseCase(
        name="getattr_partial_unbound_format",
        category="getattr_trick",
        source=_src(r"""
            import functools

            def tool():
                fmt = functools.partial(str.format, "{0.__class__.__base__}")
                return fmt(1)
        """),
        note=(
            "str.format fetched from the type and called through partial (no `.format` on an "
            "instance)."
        ),
    ),
    AbuseCase(
        name="getattr_methodcaller_reduce",
        category="getattr_trick",
        source=_src(r"""
            import fractions

            def tool():
                call = fractions.operator.methodcaller("__reduce_ex__", 2)
                return call([])[0]
        """),
        note="operator.methodcaller calls arbitrary (dunder) methods by name.",
    ),
    # ------------------------------------------------------------------ exec_eval
    AbuseCase(
        name="exec_import_os",
        category="exec_eval",
        source=_src(r"""
            def tool():
                exec("import os")
                return 1
        """),
    ),
    AbuseCase(
        name="eval_simple",
        category="exec_eval",
        source=_src(r"""
            def tool():
                return eval("1")
        """),
    ),
    AbuseCase(
        name="compile_code_object",
        category="exec_eval",
        source=_src(r"""
            def tool():
                return compile("().__class__", "<x>", "eval")
        """),
    ),
    AbuseCase(
        name="exec_eval_type_hints_annotation",
        category="exec_eval",
        source=_src(r"""
            import typing

            def tool():
                def probe(x: "().__class__.__base__.__subclasses__"):
                    return x
                return typing.get_type_hints(probe)["x"]()
        """),
        note=(
            "String annotations are evaluated by typing with plain eval(): no RestrictedPython "
            "transform, so dunder walks work. (Callable results pass typing's _type_check.) Must "
            "be refused."
        ),
    ),
    AbuseCase(
        name="exec_eval_singledispatch_register",
        category="exec_eval",
        source=_src(r"""
            import functools

            found = []

            def tool():
                @functools.singledispatch
                def f(x):
                    return x

                def probe(x: "found.extend(().__class__.__base__.__subclasses__()) or int"):
                    return x

                f.register(probe)
                return len(found)
        """),
        note=(
            "singledispatch.register(func) calls typing.get_type_hints(func) -> raw eval of the "
            "annotation."
        ),
    ),
    AbuseCase(
        name="exec_eval_forwardref_in_class",
        category="exec_eval",
        source=_src(r"""
            import typing

            class Probe:
                x: "().__class__.__base__.__subclasses__"

            def tool():
                return typing.get_type_hints(Probe)["x"]()
        """),
        note=(
            "Class variant: globals are looked up via sys.modules[Probe.__module__] - may even be"
            " a host module."
        ),
    ),
    # ------------------------------------------------------------------ host_rng
    AbuseCase(
        name="rng_seed_host",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                random.seed(0)
                return random.random()
        """),
        expect="contained",
        note=(
            "The HOST's global `random` state (random.getstate() in the test process) must be "
            "unchanged; only the per-episode Random is reseeded."
        ),
    ),
    AbuseCase(
        name="rng_getstate_setstate",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                state = random.getstate()
                random.setstate(state)
                for _ in range(1000):
                    random.random()
                return state[1][:3]
        """),
        expect="contained",
        note=(
            "Host random.getstate() must be unchanged after the call (getstate/setstate act on "
            "the episode Random)."
        ),
    ),
    AbuseCase(
        name="rng_module_functions_advance_host",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                xs = list(range(100))
                random.shuffle(xs)
                return [random.choice(xs), random.randint(0, 10**6), xs[:5]]
        """),
        expect="contained",
        note=(
            "Host random.getstate() unchanged; result identical across two runs with the same "
            "episode seed."
        ),
    ),
    AbuseCase(
        name="rng_unseeded_random_instance",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                return random.Random().random()
        """),
        expect="contained",
        note=(
            "Random() with no seed reads os.urandom. Result must be identical across two runs "
            "with the same episode seed (or the call errors)."
        ),
    ),
    AbuseCase(
        name="rng_seed_no_arg",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                random.seed()
                return random.random()
        """),
        expect="contained",
        note=(
            "seed() with no argument reseeds from os.urandom. Result must be identical across two"
            " runs with the same episode seed (or the call errors); host state unchanged."
        ),
    ),
    AbuseCase(
        name="rng_system_random",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                return random.SystemRandom().random()
        """),
        expect="contained",
        note=(
            "SystemRandom is host entropy. Result must be identical across two runs with the same"
            " episode seed (so in practice: error)."
        ),
    ),
    AbuseCase(
        name="rng_private_urandom",
        category="host_rng",
        source=_src(r"""
            import random

            def tool():
                return random._urandom(16)
        """),
    ),
    AbuseCase(
        name="rng_uuid4",
        category="host_rng",
        source=_src(r"""
            import uuid

            def tool():
                return str(uuid.uuid4())
        """),
        expect="contained",
        note=(
            "uuid4 uses os.urandom. Result must be identical across two runs with the same "
            "episode seed."
        ),
    ),
    AbuseCase(
        name="rng_import_secrets",
        category="host_rng",
        source=_src(r"""
            import secrets

            def tool():
                return secrets.token_hex(16)
        """),
    ),
    # ------------------------------------------------------------------ nondeterminism
    AbuseCase(
        name="nondet_hash_str",
        category="nondeterminism",
        source=_src(r"""
            def tool():
                return hash("paris")
        """),
        note="str hashes depend on PYTHONHASHSEED; hash is not a sandbox builtin.",
    ),
    AbuseCase(
        name="nondet_id",
        category="nondeterminism",
        source=_src(r"""
            def tool():
                x = [1]
                return id(x)
        """),
    ),
    AbuseCase(
        name="nondet_datetime_now",
        category="nondeterminism",
        source=_src(r"""
            import datetime

            def tool():
                return datetime.datetime.now().isoformat()
        """),
        expect="contained",
        note="Must equal the frozen episode clock (identical across two runs).",
    ),
    AbuseCase(
        name="nondet_time_time",
        category="nondeterminism",
        source=_src(r"""
            import time

            def tool():
                return [time.time(), time.time_ns()]
        """),
        expect="contained",
        note="Frozen: identical across two runs. time_ns must be frozen too (or absent -> error).",
    ),
    AbuseCase(
        name="nondet_perf_counter_monotonic",
        category="nondeterminism",
        source=_src(r"""
            import time

            def tool():
                return [time.perf_counter(), time.monotonic(), time.process_time()]
        """),
        expect="contained",
        note=(
            "Other clocks are not covered by freezing time.time: result must be identical across "
            "two runs (or error)."
        ),
    ),
    AbuseCase(
        name="nondet_date_today_utcnow",
        category="nondeterminism",
        source=_src(r"""
            import datetime

            def tool():
                return [datetime.date.today().isoformat(), datetime.datetime.utcnow().isoformat()]
        """),
        expect="contained",
        note=(
            "date.today/utcnow are separate C entry points; must match the frozen clock across "
            "two runs."
        ),
    ),
    AbuseCase(
        name="nondet_time_noarg_formatters",
        category="nondeterminism",
        source=_src(r"""
            import time

            def tool():
                return [time.ctime(), time.asctime(), time.strftime("%H:%M:%S")]
        """),
        expect="contained",
        note="No-argument forms read the real clock in C. Identical across two runs (or error).",
    ),
    AbuseCase(
        name="nondet_time_noarg_structs",
        category="nondeterminism",
        source=_src(r"""
            import time

            def tool():
                return [list(time.localtime()), list(time.gmtime())]
        """),
        expect="contained",
        note="No-argument localtime()/gmtime() read the real clock in C; identical across runs.",
    ),
    AbuseCase(
        name="nondet_host_timezone",
        category="nondeterminism",
        source=_src(r"""
            import datetime
            import time

            def tool():
                epoch_hour = datetime.datetime.fromtimestamp(0).hour
                return [epoch_hour, time.localtime(0).tm_hour, time.tzname]
        """),
        expect="contained",
        note=(
            "Depends on the host TZ. Result must be the same when the test runs under TZ=UTC and "
            "TZ=Asia/Tokyo."
        ),
    ),
    AbuseCase(
        name="nondet_repr_address",
        category="nondeterminism",
        source=_src(r"""
            class Thing:
                pass

            def tool():
                return [repr(lambda: 0), str(Thing()), f"{tool!r}"]
        """),
        expect="contained",
        note=(
            "Default reprs embed memory addresses (`at 0x...`) - an id() substitute. Identical "
            "across two runs."
        ),
    ),
    AbuseCase(
        name="nondet_set_iteration_order",
        category="nondeterminism",
        source=_src(r"""
            def tool():
                cities = {"paris", "london", "rome", "oslo", "lima", "cairo", "quito", "bern"}
                return [list(cities), str(frozenset(cities)), "".join(cities)]
        """),
        expect="contained",
        note=(
            "String-set order depends on PYTHONHASHSEED: result must be identical across two "
            "processes with different hash seeds (process workers should pin PYTHONHASHSEED; "
            "inprocess cannot)."
        ),
    ),
    AbuseCase(
        name="nondet_uuid1_getnode",
        category="nondeterminism",
        source=_src(r"""
            import uuid

            def tool():
                return [str(uuid.uuid1()), uuid.getnode()]
        """),
        expect="contained",
        note=(
            "uuid1/getnode leak the host MAC and clock (getnode may even spawn ifconfig). "
            "Identical across two runs and must not contain the host's uuid.getnode()."
        ),
    ),
    AbuseCase(
        name="nondet_sleep_long",
        category="nondeterminism",
        source=_src(r"""
            import time

            def tool():
                time.sleep(10**6)
                return time.time()
        """),
        expect="contained",
        note="Must return (result or error) within a couple of seconds: sleep is virtual/frozen.",
    ),
    # ------------------------------------------------------------------ recursion
    AbuseCase(
        name="recursion_simple",
        category="recursion",
        source=_src(r"""
            def tool():
                def f(n):
                    return f(n + 1)
                return f(0)
        """),
    ),
    AbuseCase(
        name="recursion_mutual",
        category="recursion",
        source=_src(r"""
            def ping(n):
                return pong(n + 1)

            def pong(n):
                return ping(n + 1)

            def tool():
                return ping(0)
        """),
    ),
    AbuseCase(
        name="recursion_catch_and_retry",
        category="recursion",
        source=_src(r"""
            def tool():
                def f(n):
                    try:
                        return f(n + 1)
                    except RecursionError:
                        return f(n + 1)
                return f(0)
        """),
        note=(
            "Swallowing RecursionError turns depth into exponential time; the budget "
            "(function-entry ticks) must stop it."
        ),
    ),
    AbuseCase(
        name="recursion_finally_retry",
        category="recursion",
        source=_src(r"""
            def tool():
                def f(n):
                    try:
                        f(n + 1)
                    finally:
                        f(n + 1)
                return f(0)
        """),
        note=(
            "Like recursion_catch_and_retry but through `finally`: no except handler is entered, "
            "yet each raise near the recursion limit walks a growing __context__ chain in C, so "
            "per-tick cost grows with the number of ticks. Charging except-handler entry is not "
            "enough; finally blocks need the same charge."
        ),
    ),
    AbuseCase(
        name="recursion_lambda_self_application",
        category="recursion",
        source=_src(r"""
            def tool():
                f = lambda g, n: g(g, n + 1)
                return f(f, 0)
        """),
    ),
    AbuseCase(
        name="recursion_yield_from_chain",
        category="recursion",
        source=_src(r"""
            def tool():
                def g(n):
                    yield n
                    yield from g(n + 1)
                return sum(g(0))
        """),
    ),
    AbuseCase(
        name="recursion_dunder_eq",
        category="recursion",
        source=_src(r"""
            class Loop:
                def __eq__(self, other):
                    return self == other

            def tool():
                return Loop() == Loop()
        """),
        note=(
            "__eq__ is an allowed magic method in RestrictedPython; recursion re-enters via the "
            "== operator."
        ),
    ),
    AbuseCase(
        name="recursion_c_repr_deep_nesting",
        category="recursion",
        source=_src(r"""
            def tool():
                a = []
                for _ in range(200000):
                    a = [a]
                return len(str(a))
        """),
        note=(
            "C-level recursion in repr: must give RecursionError. If the sandbox raises "
            "sys.setrecursionlimit far above the default, this can overflow the C stack and "
            "segfault an inprocess host."
        ),
    ),
    AbuseCase(
        name="recursion_deepcopy_deep_nesting",
        category="recursion",
        source=_src(r"""
            import copy

            def tool():
                a = []
                for _ in range(200000):
                    a = [a]
                return len(copy.deepcopy(a))
        """),
        note=(
            "deepcopy recursion runs in host (stdlib) frames: must still end in RecursionError, "
            "not a crash."
        ),
    ),
    # ------------------------------------------------------------------ infinite_loop
    AbuseCase(
        name="loop_while_true",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                while True:
                    pass
        """),
    ),
    AbuseCase(
        name="loop_while_true_bare_except",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                while True:
                    try:
                        while True:
                            pass
                    except:
                        pass
        """),
        note="Budget exhaustion must be sticky: every later tick raises again.",
    ),
    AbuseCase(
        name="loop_while_true_except_base_exception",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                def step():
                    return 1
                while True:
                    try:
                        step()
                    except BaseException:
                        pass
        """),
        note=(
            "The function-entry tick fires inside the try; catching BaseException must not reset "
            "the budget."
        ),
    ),
    AbuseCase(
        name="loop_swallow_budget_and_return",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                try:
                    while True:
                        pass
                except BaseException:
                    return "survived"
        """),
        note=(
            "After catching the budget error there is no further tick. The harness must still "
            "report an error because the budget was exhausted during the call (check the flag "
            "after return)."
        ),
    ),
    AbuseCase(
        name="loop_finally_continue",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                while True:
                    try:
                        while True:
                            pass
                    finally:
                        continue
        """),
        note="`continue` in finally discards the in-flight exception.",
    ),
    AbuseCase(
        name="loop_return_in_finally_restart",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                def spin():
                    try:
                        while True:
                            pass
                    finally:
                        return spin()
                return spin()
        """),
        note=(
            "`return` in finally swallows the exception and restarts; sticky budget + "
            "function-entry tick stop it."
        ),
    ),
    AbuseCase(
        name="loop_nested_capped_ranges",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                total = 0
                for i in range(10**6):
                    for j in range(10**6):
                        total += 1
                return total
        """),
        note="Each range is within the cap; 10**12 iterations must hit the budget.",
    ),
    AbuseCase(
        name="loop_for_itertools_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                for _ in itertools.count():
                    pass
        """),
    ),
    AbuseCase(
        name="loop_generator_into_max",
        category="infinite_loop",
        source=_src(r"""
            def tool():
                def forever():
                    while True:
                        yield 1
                return max(forever())
        """),
    ),
    AbuseCase(
        name="loop_in_operator_on_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return "x" in itertools.count()
        """),
        note=(
            "`in` consumes the iterator inside C (PySequence_Contains) with no tick - unless "
            "itertools objects are wrapped in ticking Python generators or `count` is refused."
        ),
    ),
    AbuseCase(
        name="loop_sorted_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return sorted(itertools.count())
        """),
    ),
    AbuseCase(
        name="loop_list_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return list(itertools.count())
        """),
    ),
    AbuseCase(
        name="loop_sum_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return sum(itertools.count())
        """),
    ),
    AbuseCase(
        name="loop_sum_repeat",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return sum(itertools.repeat(1))
        """),
    ),
    AbuseCase(
        name="loop_counter_count",
        category="infinite_loop",
        source=_src(r"""
            import collections
            import itertools

            def tool():
                return collections.Counter(itertools.count())
        """),
        note="Counter uses the C helper _count_elements: no Python-level loop to tick.",
    ),
    AbuseCase(
        name="loop_set_union_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return set().union(itertools.count())
        """),
        note="set.union consumes the argument in C.",
    ),
    AbuseCase(
        name="loop_deque_count",
        category="infinite_loop",
        source=_src(r"""
            import collections
            import itertools

            def tool():
                return collections.deque(itertools.count())
        """),
        note="deque() consumes in C; memory grows without bound.",
    ),
    AbuseCase(
        name="loop_dict_fromkeys_count",
        category="infinite_loop",
        source=_src(r"""
            import itertools

            def tool():
                return dict.fromkeys(itertools.count())
        """),
        note="dict.fromkeys consumes in C.",
    ),
    AbuseCase(
        name="loop_cycle_into_deque_maxlen",
        category="infinite_loop",
        source=_src(r"""
            import collections
            import itertools

            def tool():
                return collections.deque(itertools.cycle([1, 2, 3]), maxlen=1)
        """),
        note="maxlen=1 keeps memory flat: a pure CPU hang inside C, invisible to memory limits.",
    ),
    # ------------------------------------------------------------------ huge_range
    AbuseCase(
        name="range_for_10_12",
        category="huge_range",
        source=_src(r"""
            def tool(n):
                for i in range(n):
                    pass
                return n
        """),
        kwargs={"n": 10**12},
    ),
    AbuseCase(
        name="range_list_10_9",
        category="huge_range",
        source=_src(r"""
            def tool():
                return len(list(range(10**9)))
        """),
    ),
    AbuseCase(
        name="range_sum_10_8",
        category="huge_range",
        source=_src(r"""
            def tool():
                return sum(range(10**8))
        """),
        note=(
            "sum consumes a range in C; the range cap (1,000,000 items) must fire at "
            "construction."
        ),
    ),
    AbuseCase(
        name="range_comprehension_10_7",
        category="huge_range",
        source=_src(r"""
            def tool():
                return len([i for i in range(10**7)])
        """),
    ),
    AbuseCase(
        name="range_negative_span",
        category="huge_range",
        source=_src(r"""
            def tool():
                return len(set(range(-10**12, 10**12)))
        """),
    ),
    AbuseCase(
        name="range_product_repeat_into_list",
        category="huge_range",
        source=_src(r"""
            import itertools

            def tool():
                return len(list(itertools.product(range(100), repeat=10)))
        """),
        note="10**20 tuples; list cap must stop it.",
    ),
    AbuseCase(
        name="range_islice_count_into_sum",
        category="huge_range",
        source=_src(r"""
            import itertools

            def tool():
                return sum(itertools.islice(itertools.count(), 10**12))
        """),
    ),
    AbuseCase(
        name="range_permutations_into_list",
        category="huge_range",
        source=_src(r"""
            import itertools

            def tool():
                return len(list(itertools.permutations(range(20))))
        """),
    ),
    # ------------------------------------------------------------------ memory_bomb
    AbuseCase(
        name="mem_str_mul_10_10",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("a" * 10**10)
        """),
    ),
    AbuseCase(
        name="mem_list_mul_10_9",
        category="memory_bomb",
        source=_src(r"""
            def tool(n):
                return len([0] * n)
        """),
        kwargs={"n": 10**9},
    ),
    AbuseCase(
        name="mem_tuple_mul",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len((0,) * 10**9)
        """),
    ),
    AbuseCase(
        name="mem_bytes_mul",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len(b"x" * 10**10)
        """),
        note=(
            "bytes literals are allowed even though bytes() is not; the `*` guard must cover "
            "bytes."
        ),
    ),
    AbuseCase(
        name="mem_two_step_mul",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                x = [0] * 10**5
                y = "a" * 10**5
                return len(x * 10**4) + len(y * 10**5)
        """),
        note="Each multiplier is modest; the guard must use len(seq) * n, not n alone.",
    ),
    AbuseCase(
        name="mem_str_doubling_concat",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                x = "a" * 1000
                for _ in range(60):
                    x = x + x
                return len(x)
        """),
    ),
    AbuseCase(
        name="mem_fstring_doubling",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                x = "a" * 1000
                for _ in range(60):
                    x = f"{x}{x}"
                return len(x)
        """),
        note=(
            "f-string concatenation is BUILD_STRING, not BINARY_ADD: needs its own size "
            "accounting."
        ),
    ),
    AbuseCase(
        name="mem_augassign_doubling",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                x = "a" * 1000
                for _ in range(60):
                    x += x
                return len(x)
        """),
        note="RestrictedPython rewrites += into _inplacevar_; that hook must be size-guarded.",
    ),
    AbuseCase(
        name="mem_list_doubling",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                xs = [0] * 1000
                for _ in range(60):
                    xs = xs + xs
                return len(xs)
        """),
    ),
    AbuseCase(
        name="mem_list_extend_self_doubling",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                xs = [0] * 1000
                for _ in range(60):
                    xs.extend(xs)
                return len(xs)
        """),
    ),
    AbuseCase(
        name="mem_append_big_lists",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                out = []
                for _ in range(100000):
                    out.append([0] * 100000)
                return len(out)
        """),
        note="10**10 slots in total: allocation must be charged to the budget.",
    ),
    AbuseCase(
        name="mem_nested_comprehension",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                grid = [[0] * 10**4 for _ in range(10**4)]
                return len(grid)
        """),
    ),
    AbuseCase(
        name="mem_bignum_squaring",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                x = 2**64
                for _ in range(40):
                    x = x * x
                return x.bit_length()
        """),
        note="Bit length doubles each step: `*` on ints needs a result-size guard.",
    ),
    AbuseCase(
        name="mem_percent_star_width",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("%*d" % (10**9, 1))
        """),
    ),
    AbuseCase(
        name="mem_percent_literal_width",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("%1000000000d" % 1)
        """),
    ),
    AbuseCase(
        name="mem_percent_precision",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("%.1000000000f" % 1.0)
        """),
        note="Precision, not width: a guard that parses only width misses it.",
    ),
    AbuseCase(
        name="mem_fstring_width",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len(f"{1:>1000000000}")
        """),
    ),
    AbuseCase(
        name="mem_fstring_dynamic_width",
        category="memory_bomb",
        source=_src(r"""
            def tool(w):
                return len(f"{'x':>{w}}")
        """),
        kwargs={"w": 10**9},
        note=(
            "Nested (runtime) format spec: must be checked at runtime, not by scanning the "
            "literal."
        ),
    ),
    AbuseCase(
        name="mem_format_method_width",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("{:>1000000000}".format(1))
        """),
    ),
    AbuseCase(
        name="mem_format_method_nested_width",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len("{:>{}}".format("x", 10**9))
        """),
    ),
    AbuseCase(
        name="mem_format_builtin_spec",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                return len(format(1, ">1000000000")) + len(format(1.0, ".1000000000f"))
        """),
        note="The builtin format() takes a spec too; it is not in the guarded-method list.",
    ),
    AbuseCase(
        name="mem_deque_mul",
        category="memory_bomb",
        source=_src(r"""
            import collections

            def tool():
                return len(collections.deque([0]) * 10**9)
        """),
        note="deque supports `*`; a guard that only knows str/bytes/list/tuple misses it.",
    ),
    AbuseCase(
        name="mem_userstring_mul",
        category="memory_bomb",
        source=_src(r"""
            import collections

            def tool():
                return len(collections.UserString("x") * 10**9)
        """),
        note=(
            "UserString.__mul__ multiplies `self.data` in host (stdlib) frames, past the operator"
            " guard."
        ),
    ),
    AbuseCase(
        name="mem_userlist_mul",
        category="memory_bomb",
        source=_src(r"""
            import collections

            def tool():
                return len(collections.UserList([0]) * 10**9)
        """),
    ),
    AbuseCase(
        name="mem_subclass_mul",
        category="memory_bomb",
        source=_src(r"""
            class Seq(list):
                pass

            class Text(str):
                pass

            def tool():
                return len(Seq([0]) * 10**9) + len(Text("x") * 10**9)
        """),
        note="A guard keyed on exact types (`type(x) is list`) misses subclasses.",
    ),
    AbuseCase(
        name="mem_index_dunder_multiplier",
        category="memory_bomb",
        source=_src(r"""
            class Big:
                def __index__(self):
                    return 10**9

            def tool():
                return len("x" * Big())
        """),
        note=(
            "A guard that checks isinstance(n, int) before sizing lets __index__ objects through."
            " (RestrictedPython refuses `def __index__`; stays an error if astra widens allowed "
            "magic methods.)"
        ),
    ),
    AbuseCase(
        name="mem_inplace_extend_from_count",
        category="memory_bomb",
        source=_src(r"""
            import itertools

            def tool():
                xs = []
                xs += itertools.count()
                return len(xs)
        """),
        note="list += iterable consumes the iterator in C (list_extend) via _inplacevar_.",
    ),
    AbuseCase(
        name="mem_star_list_display",
        category="memory_bomb",
        source=_src(r"""
            import itertools

            def tool():
                return len([*itertools.count()])
        """),
        note="[*it] is LIST_EXTEND in C; RestrictedPython does not transform Starred in displays.",
    ),
    AbuseCase(
        name="mem_star_call_args",
        category="memory_bomb",
        source=_src(r"""
            import itertools

            def tool():
                def f(*args):
                    return len(args)
                return f(*itertools.count())
        """),
        note=(
            "RestrictedPython rewrites to _apply_(f, *it); the tuple is still built in C before "
            "_apply_ runs."
        ),
    ),
    AbuseCase(
        name="mem_star_unpack_assign",
        category="memory_bomb",
        source=_src(r"""
            import itertools

            def tool():
                first, *rest = itertools.count()
                return first
        """),
        note="Goes through _unpack_sequence_ -> list(_getiter_(it)); _getiter_ must tick/cap.",
    ),
    AbuseCase(
        name="mem_dag_json_dumps",
        category="memory_bomb",
        source=_src(r"""
            import json

            def tool():
                a = []
                for _ in range(40):
                    a = [a, a]
                return len(json.dumps(a))
        """),
        process_only=True,
        note=(
            "40 ticks build a DAG whose serialisation is 2**40 nodes; the C encoder never returns"
            " to Python (no tick, no size check before the whole output exists). Only "
            "RLIMIT_AS/watchdog can stop it."
        ),
    ),
    AbuseCase(
        name="mem_dag_str",
        category="memory_bomb",
        source=_src(r"""
            def tool():
                a = []
                for _ in range(40):
                    a = [a, a]
                return len(str(a))
        """),
        process_only=False,
        note=(
            "list repr in C expands the shared DAG exponentially (Py_ReprEnter only detects "
            "cycles). Contained in-process because the sandbox's str() renders containers "
            "itself, charging every node."
        ),
    ),
    # ------------------------------------------------------------------ c_alloc_bomb
    AbuseCase(
        name="calloc_ljust",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len("x".ljust(10**9))
        """),
    ),
    AbuseCase(
        name="calloc_center",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len("x".center(10**9, "y"))
        """),
    ),
    AbuseCase(
        name="calloc_zfill",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len("x".zfill(10**9))
        """),
    ),
    AbuseCase(
        name="calloc_expandtabs",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len("\t".expandtabs(10**9))
        """),
    ),
    AbuseCase(
        name="calloc_replace_chain",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                s = "a"
                for _ in range(4):
                    s = s.replace("", "a" * 1000)
                return len(s)
        """),
        note="Each replace multiplies the length by ~1000.",
    ),
    AbuseCase(
        name="calloc_join",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len(",".join(["a" * 100000] * 10000))
        """),
        note="Inputs are 10**4 refs to one string; output is 10**9 chars.",
    ),
    AbuseCase(
        name="calloc_join_lazy_iterator",
        category="c_alloc_bomb",
        source=_src(r"""
            import itertools

            def tool():
                return len("".join(itertools.repeat("x", 10**10)))
        """),
        note=(
            "join materialises the iterator in C; a join guard that only measures list arguments "
            "misses it."
        ),
    ),
    AbuseCase(
        name="calloc_join_counter_elements",
        category="c_alloc_bomb",
        source=_src(r"""
            import collections

            def tool():
                return len("".join(collections.Counter({"a": 10**10}).elements()))
        """),
        note=(
            "Counter.elements() is a C chain of repeat() objects: 10**10 items from a one-entry "
            "dict."
        ),
    ),
    AbuseCase(
        name="calloc_translate_table",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                table = {ord("a"): "b" * 100000}
                return len(("a" * 100000).translate(table))
        """),
    ),
    AbuseCase(
        name="calloc_unbound_str_methods",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len(str.ljust("x", 10**9)) + len(str.center("x", 10**9))
        """),
        note=(
            "Methods taken from the type: a guard living in _getattr_ for str instances never "
            "sees them."
        ),
    ),
    AbuseCase(
        name="calloc_map_unbound_method",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return [len(s) for s in map(str.zfill, ["x"], [10**9])]
        """),
        note="The bound call happens inside C map(); no guarded attribute access at call time.",
    ),
    AbuseCase(
        name="calloc_partial_unbound_method",
        category="c_alloc_bomb",
        source=_src(r"""
            import functools

            def tool():
                pad = functools.partial(str.rjust, "x")
                return len(pad(10**9))
        """),
    ),
    AbuseCase(
        name="calloc_bytes_methods",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                padded = b"x".ljust(10**9)
                tabs = b"\t".expandtabs(10**9)
                joined = b",".join([b"a" * 100000] * 10000)
                return len(padded) + len(tabs) + len(joined)
        """),
        note="bytes has the same padding/join methods as str; the method guards must cover bytes.",
    ),
    AbuseCase(
        name="calloc_pow_builtin",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return pow(10, 10**8).bit_length()
        """),
    ),
    AbuseCase(
        name="calloc_pow_operator_tower",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return (10**10**8).bit_length()
        """),
    ),
    AbuseCase(
        name="calloc_lshift",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return (1 << 10**10).bit_length()
        """),
    ),
    AbuseCase(
        name="calloc_round_negative_ndigits",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return round(1, -10**9)
        """),
        note=(
            "int.__round__ computes 10 ** -ndigits internally: a hidden 10**(10**9) in C. round()"
            " needs a guard."
        ),
    ),
    AbuseCase(
        name="calloc_int_to_bytes",
        category="c_alloc_bomb",
        source=_src(r"""
            def tool():
                return len((1).to_bytes(10**9, "big"))
        """),
        note="to_bytes allocates `length` bytes up front.",
    ),
    AbuseCase(
        name="calloc_fraction_pow",
        category="c_alloc_bomb",
        source=_src(r"""
            import fractions

            def tool():
                return (fractions.Fraction(3, 2) ** 10**8).numerator.bit_length()
        """),
        note=(
            "Fraction.__pow__ runs int ** in host (stdlib) frames; an int-only `**` guard does "
            "not apply."
        ),
    ),
    AbuseCase(
        name="calloc_fraction_from_exponent_string",
        category="c_alloc_bomb",
        source=_src(r"""
            import fractions

            def tool():
                return fractions.Fraction("1e100000000").numerator.bit_length()
        """),
        note="Fraction parses the exponent and computes 10**exp in host frames.",
    ),
    AbuseCase(
        name="calloc_decimal_huge_precision",
        category="c_alloc_bomb",
        source=_src(r"""
            import decimal

            def tool():
                ctx = decimal.Context(prec=10**9)
                return len(str(decimal.Decimal(2).sqrt(context=ctx)))
        """),
        note=(
            "libmpdec computes a billion digits in C; the decimal proxy must cap "
            "Context(prec=...)."
        ),
    ),
    AbuseCase(
        name="calloc_decimal_fixed_format",
        category="c_alloc_bomb",
        source=_src(r"""
            import decimal

            def tool():
                return len(f"{decimal.Decimal('1e1000000000'):f}")
        """),
        note=(
            "A 13-character Decimal formatted with 'f' (or '{:f}'.format) is a 10**9-char string "
            "built in C; the format-spec guard must estimate Decimal width from the exponent."
        ),
    ),
    AbuseCase(
        name="calloc_decimal_as_integer_ratio",
        category="c_alloc_bomb",
        source=_src(r"""
            import decimal

            def tool():
                numerator, denominator = decimal.Decimal("1e100000000").as_integer_ratio()
                return numerator.bit_length()
        """),
        note=(
            "Decimal -> int conversion in C (same family as int(Decimal)), reached through a "
            "method. Rejecting huge exponents in the Decimal constructor closes the whole family."
        ),
    ),
    AbuseCase(
        name="calloc_json_indent",
        category="c_alloc_bomb",
        source=_src(r"""
            import json

            def tool():
                return len(json.dumps([1], indent=10**9))
        """),
        note="json builds ' ' * indent in host frames.",
    ),
    AbuseCase(
        name="calloc_json_indent_times_items",
        category="c_alloc_bomb",
        source=_src(r"""
            import json

            def tool():
                return len(json.dumps([1] * 100000, indent=10000))
        """),
        note="indent=10000 passes a per-argument cap, but output = items * indent = 10**9 chars.",
    ),
    AbuseCase(
        name="calloc_textwrap_indent",
        category="c_alloc_bomb",
        source=_src(r"""
            import textwrap

            def tool():
                return len(textwrap.indent("a\n" * 10000, "x" * 100000))
        """),
        note=(
            "Lines must be non-blank: the default predicate skips whitespace-only lines, so '\\n' "
            "* 10000 alone would produce nothing."
        ),
    ),
    AbuseCase(
        name="calloc_re_sub_empty_pattern",
        category="c_alloc_bomb",
        source=_src(r"""
            import re

            def tool():
                return len(re.sub("", "x" * 100000, "a" * 100000))
        """),
        note="100001 empty matches * 10**5-char replacement = 10**10 chars, built in C.",
    ),
    AbuseCase(
        name="calloc_re_sub_backreference",
        category="c_alloc_bomb",
        source=_src(r"""
            import re

            def tool():
                return len(re.sub("(a)", r"\1" * 100000, "a" * 10000))
        """),
        note="Replacement template expands group references: 10**9 chars.",
    ),
    AbuseCase(
        name="calloc_calendar_width",
        category="c_alloc_bomb",
        source=_src(r"""
            import calendar

            def tool():
                return len(calendar.month(2024, 1, 10**9))
        """),
        note="TextCalendar centers names to width w in host frames.",
    ),
    AbuseCase(
        name="calloc_calendar_line_spacing",
        category="c_alloc_bomb",
        source=_src(r"""
            import calendar

            def tool():
                return len(calendar.month(2024, 1, 2, 10**9))
        """),
        note="`l` is used as '\\n' * l.",
    ),
    AbuseCase(
        name="calloc_shake_digest_length",
        category="c_alloc_bomb",
        source=_src(r"""
            import hashlib

            def tool():
                return len(hashlib.shake_128(b"x").hexdigest(5 * 10**8))
        """),
        note="Caller-chosen XOF output length, produced in C.",
    ),
    AbuseCase(
        name="calloc_random_choices_k",
        category="c_alloc_bomb",
        source=_src(r"""
            import random

            def tool():
                return len(random.choices([1, 2, 3], k=10**9))
        """),
        note="random.choices builds a k-item list in host (stdlib) frames, no ticks.",
    ),
    AbuseCase(
        name="calloc_random_randbytes_getrandbits",
        category="c_alloc_bomb",
        source=_src(r"""
            import random

            def tool():
                return len(random.randbytes(10**9)) + random.getrandbits(10**10).bit_length()
        """),
    ),
    AbuseCase(
        name="calloc_statistics_quantiles_n",
        category="c_alloc_bomb",
        source=_src(r"""
            import statistics

            def tool():
                return len(statistics.quantiles([1, 2, 3], n=10**8))
        """),
        note="n-1 cut points computed in a host-frame loop: 10**8 iterations and floats, no ticks.",
    ),
    AbuseCase(
        name="calloc_accumulate_strings",
        category="c_alloc_bomb",
        source=_src(r"""
            import itertools

            def tool():
                prefixes = list(itertools.accumulate(itertools.repeat("ab", 100000)))
                return len(prefixes)
        """),
        note=(
            "accumulate applies `+` in C (past the operator guard): 10**5 prefixes, ~10**10 chars"
            " kept alive."
        ),
    ),
    AbuseCase(
        name="calloc_product_repeat_constructor",
        category="c_alloc_bomb",
        source=_src(r"""
            import itertools

            def tool():
                it = itertools.product([0, 1], repeat=10**9)
                return 1
        """),
        note=(
            "product() allocates repeat * len(pools) in its constructor, before any item is "
            "drawn."
        ),
    ),
    AbuseCase(
        name="calloc_tee_many",
        category="c_alloc_bomb",
        source=_src(r"""
            import itertools

            def tool():
                its = itertools.tee(itertools.count(), 10**8)
                return 1
        """),
        note="tee(it, n) builds n iterator objects in C at once.",
    ),
    # ------------------------------------------------------------------ cpu_bomb
    AbuseCase(
        name="cpu_factorial",
        category="cpu_bomb",
        source=_src(r"""
            import math

            def tool():
                return math.factorial(10**7).bit_length()
        """),
    ),
    AbuseCase(
        name="cpu_comb",
        category="cpu_bomb",
        source=_src(r"""
            import math

            def tool():
                return math.comb(10**7, 5 * 10**6).bit_length()
        """),
    ),
    AbuseCase(
        name="cpu_math_prod_range",
        category="cpu_bomb",
        source=_src(r"""
            import math

            def tool():
                return math.prod(range(1, 10**6)).bit_length()
        """),
        note=(
            "Range is within the cap, but the naive product is (10**6 - 1)! with quadratic cost "
            "in C."
        ),
    ),
    AbuseCase(
        name="cpu_sum_of_lists",
        category="cpu_bomb",
        source=_src(r"""
            def tool():
                rows = [[0] * 10000] * 2000
                return len(sum(rows, []))
        """),
        note=(
            "sum(lists, []) is quadratic list concatenation in C; an item-count cap on sum (2000)"
            " does not help."
        ),
    ),
    AbuseCase(
        name="cpu_math_lcm_range",
        category="cpu_bomb",
        source=_src(r"""
            import math

            def tool():
                return math.lcm(*range(1, 10**6)).bit_length()
        """),
        note=(
            "math.lcm is passed through unguarded: lcm(1..10**6) has ~1.4M bits and costs "
            "minutes of C bignum work (lcm(1..3*10**5) alone is ~20 s)."
        ),
    ),
    AbuseCase(
        name="cpu_fraction_sum_builtin",
        category="cpu_bomb",
        source=_src(r"""
            import fractions

            def tool():
                terms = [fractions.Fraction(1, k) for k in range(1, 200000)]
                return sum(terms).denominator.bit_length()
        """),
        note=(
            "sum() adds Fractions through Fraction.__add__ in host frames: no ticks and no bits "
            "cap (the fraction check lives in the `+` hook). ~16 s, 288k-bit denominator."
        ),
    ),
    AbuseCase(
        name="cpu_punycode_encode",
        category="cpu_bomb",
        source=_src(r"""
            def tool():
                text = "".join([chr(256 + i) for i in range(10000)]) * 10
                return len(text.encode("punycode"))
        """),
        note=(
            "str.encode/bytes.decode dispatch to pure-Python codecs (punycode, idna) that run "
            "super-quadratic host-frame loops with no ticks (3000 distinct chars: ~9 s). "
            "Restrict codecs to the C ones or charge by input size."
        ),
    ),
    AbuseCase(
        name="cpu_decimal_math_floor",
        category="cpu_bomb",
        source=_src(r"""
            import decimal
            import math

            def tool():
                return math.floor(decimal.Decimal("1e100000000")).bit_length()
        """),
        note="math.floor/ceil/trunc of a Decimal convert it to a 10**8-digit int in C.",
    ),
    AbuseCase(
        name="cpu_decimal_round",
        category="cpu_bomb",
        source=_src(r"""
            import decimal

            def tool():
                return round(decimal.Decimal("1e100000000")).bit_length()
        """),
        note="round(Decimal) with no ndigits returns an int: the same C conversion.",
    ),
    AbuseCase(
        name="cpu_statistics_mean_decimal",
        category="cpu_bomb",
        source=_src(r"""
            import decimal
            import statistics

            def tool():
                data = [decimal.Decimal("1e100000000"), decimal.Decimal(1)]
                return str(statistics.mean(data))
        """),
        note="statistics converts inputs to exact ratios in host frames (as_integer_ratio).",
    ),
    AbuseCase(
        name="cpu_pbkdf2_iterations",
        category="cpu_bomb",
        source=_src(r"""
            import hashlib

            def tool():
                return hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 10**9).hex()
        """),
        note="10**9 HMAC rounds in C: the hashlib proxy must cap iterations (or drop pbkdf2_hmac).",
    ),
    AbuseCase(
        name="cpu_scrypt",
        category="cpu_bomb",
        source=_src(r"""
            import hashlib

            def tool():
                key = hashlib.scrypt(b"pw", salt=b"salt", n=2**20, r=8, p=64, maxmem=2**31 - 1)
                return key.hex()
        """),
        note=(
            "1 GiB working set, 64 passes in C: the hashlib proxy must refuse scrypt or cap "
            "n/r/p."
        ),
    ),
    AbuseCase(
        name="cpu_regex_catastrophic_backtracking",
        category="cpu_bomb",
        source=_src(r"""
            import re

            def tool():
                return re.match("(a+)+$", "a" * 40 + "b")
        """),
        process_only=True,
        note=(
            "Exponential backtracking inside the C regex engine: no Python-level tick, and "
            "CPython's re has no timeout. Only the process watchdog can stop it."
        ),
    ),
    AbuseCase(
        name="cpu_dag_equality",
        category="cpu_bomb",
        source=_src(r"""
            def tool():
                a = []
                b = []
                for _ in range(40):
                    a = [a, a]
                    b = [b, b]
                return a == b
        """),
        process_only=True,
        note=(
            "list comparison recurses in C over 2**40 node pairs (identity shortcut never applies"
            " across the two DAGs). One `==`, zero ticks."
        ),
    ),
    AbuseCase(
        name="cpu_dag_tuple_hash",
        category="cpu_bomb",
        source=_src(r"""
            def tool():
                a = ()
                for _ in range(60):
                    a = (a, a)
                return len({a})
        """),
        process_only=True,
        note=(
            "Tuple hashes are not cached (CPython 3.11): inserting into a set hashes 2**60 nodes "
            "in C. hash() is banned but set/dict insertion still hashes."
        ),
    ),
    AbuseCase(
        name="cpu_decimal_to_int",
        category="cpu_bomb",
        source=_src(r"""
            import decimal

            def tool():
                return int(decimal.Decimal("1e100000000")).bit_length()
        """),
        process_only=False,
        note=(
            "A 2-token Decimal converts to a 10**8-digit int inside libmpdec/C int conversion: no"
            " hook runs during the conversion. Contained in-process by refusing the exponent "
            "when the Decimal is constructed."
        ),
    ),
    # ------------------------------------------------------------------ state_poisoning
    AbuseCase(
        name="poison_math_pi",
        category="state_poisoning",
        source=_src(r"""
            import math

            def tool():
                math.pi = 3
                return math.pi
        """),
        note="Must error; the next call (and the host) must still see the real math.pi.",
    ),
    AbuseCase(
        name="poison_json_dumps",
        category="state_poisoning",
        source=_src(r"""
            import json

            def tool():
                json.dumps = None
                return 1
        """),
        note="Must error; the next call must still have a working json.dumps.",
    ),
    AbuseCase(
        name="poison_setattr_module",
        category="state_poisoning",
        source=_src(r"""
            import math

            def tool():
                setattr(math, "pi", 3)
                return math.pi
        """),
        note="setattr builtin path; next call must see the real math.pi.",
    ),
    AbuseCase(
        name="poison_delattr_module",
        category="state_poisoning",
        source=_src(r"""
            import json

            def tool():
                del json.loads
                return 1
        """),
        note="Must error; json.loads must still exist in the next call.",
    ),
    AbuseCase(
        name="poison_builtin_type_attr",
        category="state_poisoning",
        source=_src(r"""
            def tool():
                str.upper = None
                return "x".upper()
        """),
    ),
    AbuseCase(
        name="poison_class_onto_builtin",
        category="state_poisoning",
        source=_src(r"""
            class Evil:
                pass

            def tool():
                setattr(int, "evil", Evil)
                return (1).evil
        """),
    ),
    AbuseCase(
        name="poison_stdlib_class_attr_json_encoder",
        category="state_poisoning",
        source=_src(r"""
            import json

            def tool():
                json.JSONEncoder.item_separator = ";"
                return json.dumps([1, 2], indent=1)
        """),
        note=(
            "JSONEncoder is a Python class: the write would change the host's json.dumps(..., "
            "indent=...) output. A write guard that allows user-class writes must not allow "
            "stdlib classes."
        ),
    ),
    AbuseCase(
        name="poison_stdlib_class_attr_template",
        category="state_poisoning",
        source=_src(r"""
            import string

            def tool():
                string.Template.delimiter = "%"
                return 1
        """),
        note="Would change every string.Template in the host.",
    ),
    AbuseCase(
        name="poison_stdlib_class_attr_random",
        category="state_poisoning",
        source=_src(r"""
            import random

            def tool():
                random.Random.random = lambda self: 0.5
                return random.random()
        """),
        note="random.Random is a Python class shared with the host.",
    ),
    AbuseCase(
        name="poison_global_rebind_module",
        category="state_poisoning",
        source=_src(r"""
            import json

            def tool():
                global json
                json = None
                return 1
        """),
        expect="contained",
        note=(
            "May succeed, but a second call of the tool (and any other tool in the episode) must "
            "still see the real json proxy, not None."
        ),
    ),
    AbuseCase(
        name="poison_decimal_setcontext",
        category="state_poisoning",
        source=_src(r"""
            import decimal

            def tool():
                decimal.setcontext(decimal.Context(prec=3, rounding=decimal.ROUND_DOWN))
                return str(decimal.Decimal(1) / 7)
        """),
        expect="contained",
        note=(
            "The decimal context is thread-local and shared with the host in inprocess mode: "
            "after the call the host's decimal.getcontext().prec must still be 28, and the next "
            "call must see the default context."
        ),
    ),
    AbuseCase(
        name="poison_decimal_getcontext_prec",
        category="state_poisoning",
        source=_src(r"""
            import decimal

            def tool():
                decimal.getcontext().prec = 3
                return str(decimal.Decimal(1) / 7)
        """),
        expect="contained",
        note=(
            "Host decimal.getcontext().prec must be 28 after the call; the next call must see "
            "prec 28."
        ),
    ),
    AbuseCase(
        name="poison_decimal_default_context",
        category="state_poisoning",
        source=_src(r"""
            import decimal

            def tool():
                decimal.DefaultContext.prec = 5
                return 1
        """),
        note="DefaultContext seeds the context of every new host thread.",
    ),
    AbuseCase(
        name="poison_calendar_firstweekday",
        category="state_poisoning",
        source=_src(r"""
            import calendar

            def tool():
                calendar.setfirstweekday(6)
                return calendar.firstweekday()
        """),
        expect="contained",
        note=(
            "setfirstweekday mutates calendar's module-global TextCalendar: host "
            "calendar.firstweekday() must still be 0 after the call."
        ),
    ),
    AbuseCase(
        name="poison_hashlib_algorithms_set",
        category="state_poisoning",
        source=_src(r"""
            import hashlib

            def tool():
                hashlib.algorithms_available.clear()
                return len(hashlib.algorithms_available)
        """),
        expect="contained",
        note=(
            "algorithms_available is a mutable host set: host hashlib.algorithms_available must "
            "be unchanged."
        ),
    ),
    AbuseCase(
        name="poison_copy_dispatch_table",
        category="state_poisoning",
        source=_src(r"""
            import copy

            class Marker:
                pass

            def tool():
                copy.dispatch_table[Marker] = len
                return len(copy.dispatch_table)
        """),
        expect="contained",
        note=(
            "copy.dispatch_table is copyreg.dispatch_table (a dict, which RestrictedPython lets "
            "you write): the host copyreg.dispatch_table must gain no key."
        ),
    ),
    AbuseCase(
        name="poison_json_decoder_backslash_table",
        category="state_poisoning",
        source=_src(r"""
            import json

            def tool():
                json.decoder.BACKSLASH["n"] = "X"
                return 1
        """),
        expect="contained",
        note=(
            "Host json.decoder.BACKSLASH['n'] must still be '\\n' after the call (error is fine "
            "too)."
        ),
    ),
)
