"""In-process execution: one session per episode.

A session owns everything that must not leak between episodes: the seeded
``random.Random``, the frozen clock, the module namespaces of the tools it ran
(a tool that mutates its mock data sees the mutation on its next call in the
same episode, never in the next one), and the meter. Code objects are shared
across sessions through the compile cache.
"""

from __future__ import annotations

import abc
import datetime as _dt
import decimal
import importlib
import itertools
import random
import sys
import threading
import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from .builtins import build_builtins
from .errors import BudgetExceeded, SandboxLimitError
from .guards import build_hooks
from .limits import Limits
from .meter import Meter
from .modules import (
    _MAX_FIELDS,
    _MAX_NAME,
    ALLOWED_MODULES,
    DECIMAL_CONTEXT,
    ModuleTable,
    _unwrapped,
    tool_generic_getitem,
)
from .ordering import mask_addresses, stable_str
from .policy import ANNOTATED_FIELDS, compile_tool
from .render import render_output
from .result import ErrorKind, ToolResult
from .standins import adopt_bases, mro_of, real_type

__all__ = ["DEFAULT_CLOCK", "InProcessSession"]

#: The frozen "now" of every session that is not given a clock.
DEFAULT_CLOCK = _dt.datetime(2026, 1, 15, 9, 30, 0)

_TOOL_FILE = "<tool>"
_C_INTERNAL_IMPORTS = frozenset({"_strptime"})
_HOOK_NAMES = (
    "_tick_", "_mul_", "_pow_", "_lshift_", "_add_", "_mod_", "_sub_", "_floordiv_",
    "_truediv_", "_or_", "_and_", "_xor_", "_inplacevar_", "_handler_", "_fv_", "_fvs_",
    "_str_", "_repr_", "_star_", "_haystack_", "_setslice_", "_getattr_", "_getitem_", "_write_",
    "_getiter_", "_unpack_sequence_", "_iter_unpack_sequence_", "_apply_",
)
#: Longest error line (characters); longer messages are cut with a marker.
MAX_ERROR = 2000
_MAX_BASES = 16  # per class statement
_MAX_MRO = 64  # classes in a hierarchy
_RENDER_BUDGET = 1 << 20  # bytes of rendering an error message may cost
_DEFAULT_LIMITS = Limits()
# The builtins that are stand-in types (see build_builtins).
_STAND_IN_NAMES = ("str", "int", "float", "complex", "list", "tuple", "set", "frozenset", "dict",
                   "range")
# typing.NamedTuple's class form: its metaclass builds a plain namedtuple class.
_NAMED_TUPLE_BASE = getattr(typing, "_NamedTuple", None)
_typing_generic = typing.Generic


def _named_tuple_fields(name: str, fields: Any, namespace: dict[str, Any]) -> None:
    """Give a ``typing.NamedTuple`` class body its fields, as Python would.

    The sandbox's policy drops annotations (``x: int`` declares nothing), which
    would leave such a class without fields; its annotated names come back from
    the policy as a tuple of identifiers, and become ``__annotations__`` (the
    types as ``object``: only the names and their order matter at runtime), the
    same caps as ``collections.namedtuple`` applying.
    """
    if not (isinstance(fields, tuple) and all(type(field) is str for field in fields)):
        raise TypeError(f"class {name[:40]!r}: malformed field list")  # pragma: no cover
    if len(fields) > _MAX_FIELDS:
        raise ValueError(f"NamedTuple {name[:40]!r}: {len(fields):,} fields; the sandbox "
                         f"allows {_MAX_FIELDS}")
    for field in fields:
        if len(field) > _MAX_NAME:
            raise ValueError(f"NamedTuple {name[:40]!r}: field names are limited to "
                             f"{_MAX_NAME} characters in the sandbox")
    namespace["__annotations__"] = dict.fromkeys(fields, object)


def _label(base: Any) -> str:
    name = getattr(base, "__name__", None) if isinstance(base, type) else None
    return repr(name[:40]) if isinstance(name, str) else f"of type {type(base).__name__!r}"


class _RenderLimit(Exception):
    pass


def _bounded_charge() -> Any:
    spent = [0]

    def charge(nbytes: int) -> None:
        spent[0] += nbytes
        if spent[0] > _RENDER_BUDGET:
            raise _RenderLimit
    return charge


def _one_line(text: str, limit: int) -> str:
    if "\n" in text or "\r" in text:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    text = mask_addresses(text)
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit:,} more characters]"
    return text


def _tool_line(exc: BaseException) -> int | None:
    """The last line of tool code on the traceback, for error messages."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TOOL_FILE:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _message(exc: BaseException) -> str:
    """``str(exc)``, rendered stably, without running tool code and without raising."""
    kind = type(exc)
    if isinstance(exc, UnicodeError) and kind.__str__ in (UnicodeDecodeError.__str__,
                                                          UnicodeEncodeError.__str__,
                                                          UnicodeTranslateError.__str__):
        return str(exc)  # C formatting of simple fields (codec, byte, position)
    return stable_str(exc, _bounded_charge())


def describe_exception(exc: BaseException) -> str:
    """A stable one-line description of a tool's exception: ``Type: message (line N)``.

    It never raises and never embeds host-dependent text: the message is rendered
    by the sandbox's own renderer (sets ordered, addresses masked, a render budget
    of its own), not by ``str(exc)``, which can itself raise (an int beyond the
    digit limit, a RecursionError) or run for ever on a shared structure.
    """
    name = _one_line(type(exc).__name__, 100)
    try:
        text = _message(exc)
    except BaseException:
        text = "<the message could not be rendered>"
    text = _one_line(text, MAX_ERROR)
    try:
        line = _tool_line(exc)
    except BaseException:
        line = None
    described = f"{name}: {text}" if text else name
    return f"{described} (line {line})" if line is not None else described


#: ``id(code) -> (code, defaults, keyword defaults, binding)``: a function's accepted
#: and required keyword names depend only on its code and which parameters have
#: defaults. Each episode re-runs the tool module and makes new function objects of
#: the same (cached) code, so the sets are kept per code object, across sessions.
#: The entry holds the code object itself: its id cannot be reused while cached.
_BINDINGS: dict[int, tuple[Any, int, frozenset[str], tuple[frozenset[str] | None,
                                                            frozenset[str]]]] = {}
_BINDINGS_SIZE = 4096


def _binding(func: Any, code: Any) -> tuple[frozenset[str] | None, frozenset[str]]:
    """(accepted keyword names, or None for ``**kwargs``; required names) of ``func``."""
    defaults = len(func.__defaults__ or ())
    keyword_defaults = frozenset(func.__kwdefaults__ or ())
    entry = _BINDINGS.get(id(code))
    if (entry is not None and entry[0] is code and entry[1] == defaults
            and entry[2] == keyword_defaults):
        return entry[3]
    names = code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]
    positional_only = set(code.co_varnames[:code.co_posonlyargcount])
    positional = code.co_varnames[:code.co_argcount]
    required = {n for n in positional[:len(positional) - defaults] if n not in positional_only}
    required |= {n for n in code.co_varnames[code.co_argcount:code.co_argcount
                                             + code.co_kwonlyargcount]
                 if n not in keyword_defaults}
    takes_any = bool(code.co_flags & 0x08)  # CO_VARKEYWORDS
    accepted = None if takes_any else frozenset(set(names) - positional_only)
    binding = (accepted, frozenset(required))
    if len(_BINDINGS) >= _BINDINGS_SIZE:
        _BINDINGS.clear()  # rare: only a process that met thousands of distinct tools
    _BINDINGS[id(code)] = (code, defaults, keyword_defaults, binding)
    return binding


_filter_lock = threading.Lock()
_filter_installed = False


def _from_tool(unraisable: Any) -> bool:
    """Whether an unraisable exception came out of sandboxed code."""
    code = getattr(unraisable.object, "gi_code", None) or getattr(unraisable.object,
                                                                   "__code__", None)
    if code is not None and getattr(code, "co_filename", None) == _TOOL_FILE:
        return True
    tb = unraisable.exc_traceback
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _TOOL_FILE:
            return True
        tb = tb.tb_next
    return False


def _install_unraisable_filter() -> None:
    """Keep tool finalizers off the host's stderr.

    A tool generator whose ``finally`` raises, dropped unfinished, makes CPython
    print "Exception ignored in ..." through ``sys.unraisablehook`` when it is
    collected, possibly long after the call. The filter drops exactly those
    (their code is ``<tool>``) and hands everything else to the hook that was
    installed before it.
    """
    global _filter_installed
    with _filter_lock:
        if _filter_installed:
            return
        previous = sys.unraisablehook

        def hook(unraisable: Any) -> None:
            try:
                if _from_tool(unraisable):
                    return
            except Exception:
                pass
            previous(unraisable)

        sys.unraisablehook = hook
        _filter_installed = True


def _sequence_hash_of(session: InProcessSession) -> Any:
    """The ``__hash__`` given to the session's tool classes (see ``_metaclass``)."""

    def __hash__(obj: Any) -> int:
        state = getattr(obj, "__dict__", None)
        if state is None:
            return object.__hash__(obj)
        number = state.get("_astra_seq")
        if number is None:
            number = state["_astra_seq"] = next(session._sequence)
        return number
    return __hash__


class _Printer:
    """``print`` inside tool code: text goes to the session's call buffer.

    RestrictedPython creates one per function scope that prints (passing the
    attribute guard); the magic name ``printed`` returns that scope's text.
    """

    __slots__ = ("_buffer", "_meter", "_own", "_to_str")

    def __init__(self, buffer: list[str], to_str: Any, meter: Meter) -> None:
        self._buffer = buffer
        self._own: list[str] = []
        self._to_str = to_str
        self._meter = meter

    def _call_print(self, *objects: Any, sep: Any = " ", end: Any = "\n", file: Any = None,
                    flush: bool = False) -> None:
        if file is not None:
            raise TypeError("print(file=...) is not available in the sandbox")
        sep = " " if sep is None else sep
        end = "\n" if end is None else end
        if type(sep) is not str or type(end) is not str:
            raise TypeError("print() sep and end must be strings")
        pieces = [self._to_str(obj) for obj in objects]
        size = sum(map(len, pieces)) + len(sep) * max(len(pieces) - 1, 0) + len(end)
        self._meter.check_len(size, "printed text")
        self._meter.charge(size)  # before the join builds it
        text = sep.join(pieces) + end
        self._buffer.append(text)
        self._own.append(text)

    def __call__(self) -> str:
        return "".join(self._own)


class InProcessSession:
    """Runs tools in this process, deterministically, under the limits.

    Args:
        seed: Seeds the session's ``random`` (and ``uuid.uuid4``).
        clock: The frozen "now" (naive, read as UTC).
        limits: Per-call limits.
        os_bounded: The process runs under the worker's OS limits, which bound
            what no hook sees (see :func:`~.render.render_output`).
    """

    def __init__(self, seed: int = 0, clock: _dt.datetime | None = None,
                 limits: Limits | None = None, *, os_bounded: bool = False) -> None:
        _install_unraisable_filter()
        # In a confined worker the OS bounds result rendering (RLIMIT_AS, watchdog).
        self._bounded_render = not os_bounded
        self.limits = limits or _DEFAULT_LIMITS
        self.seed = seed
        self.clock = clock or DEFAULT_CLOCK
        limits = self.limits
        self.meter = meter = Meter(limits.ops, limits.alloc_unit, limits.max_len,
                                   limits.max_int_bits)
        self._rng = random.Random(seed)
        self._classes: set[type] = set()
        hooks = build_hooks(meter, self._classes, self.clock)
        self._to_str = hooks["_str_"]
        builtins = build_builtins(meter, hooks)
        builtins["__import__"] = self._import
        self._stand_ins = {real_type(builtins[name]): builtins[name] for name in _STAND_IN_NAMES}
        self._hooks = hooks
        self._modules = ModuleTable(meter, self._rng, seed, self.clock, hooks, self._classes)
        self._sequence = itertools.count(1)
        self._sequence_hash = _sequence_hash_of(self)
        self._printed: list[str] = []
        base = {name: hooks[name] for name in _HOOK_NAMES}
        base.update({
            "__builtins__": builtins,
            "__name__": "tool",
            "__metaclass__": self._metaclass,
            "_print_": self._new_printer,
        })
        self._base_globals = base
        self._namespaces: dict[str, dict[str, Any]] = {}
        # Source text -> namespace: skips re-hashing the source on every call
        # (str caches its hash, so repeat lookups are O(1)).
        self._by_source: dict[str, dict[str, Any]] = {}

    # -- hooks that need the session ----------------------------------------
    def _import(self, name: str, globals: Any = None, locals: Any = None,
                fromlist: Any = (), level: int = 0) -> Any:
        if level != 0:
            raise ImportError("relative imports are not available in the sandbox")
        proxy = self._modules.get(name)
        if proxy is None and name in _C_INTERNAL_IMPORTS:
            # C functions such as datetime.strptime import helpers through the
            # *calling frame's* __import__, i.e. ours. Tool code itself cannot
            # name these ("_" names are refused at compile time).
            return importlib.import_module(name)
        if proxy is None:
            allowed = ", ".join(ALLOWED_MODULES)
            raise ImportError(f"import of '{name}' is not allowed in the sandbox "
                              f"(available: {allowed})")
        return proxy

    def _metaclass(self, name: str, bases: tuple, namespace: dict[str, Any]) -> type:
        """Build a tool class (RestrictedPython routes every class statement here).

        Bases are checked first: stand-ins are replaced by their real types
        (the constructors of container subclasses still build through the
        stand-in, see :mod:`.standins`), and a base must be a plain class. A
        subclass of ``type`` would be a *metaclass* the tool could call with a
        namespace dict of any attribute names (``Meta(name, bases, ns)``), past
        every check here; an ABC's ``register()`` changes ``isinstance()``
        answers process-wide.
        """
        bases, constructors = adopt_bases(name, bases, self._stand_in_for)
        # The class body's annotated names (policy.visit_ClassDef); never an attribute.
        fields = namespace.pop(ANNOTATED_FIELDS, ())
        if _NAMED_TUPLE_BASE is not None and _NAMED_TUPLE_BASE in bases:
            _named_tuple_fields(name, fields, namespace)
        for base in bases:
            kind = type(base)
            if kind is not type and base is not _NAMED_TUPLE_BASE:
                why = ("an abstract base class (ABCMeta.register() would change isinstance() "
                       "answers process-wide, and abstract methods cannot be written here)"
                       if isinstance(base, abc.ABCMeta) else "not a plain class")
                raise TypeError(f"class {name[:40]!r}: base {_label(base)} is {why}: not "
                                "available as a base in the sandbox")
            if type in mro_of(base):
                raise TypeError(f"class {name[:40]!r}: base {_label(base)} is a metaclass: "
                                "not available as a base in the sandbox")
        # C3 linearisation is quadratic in the bases and the depth of the
        # hierarchy, all in C: a class with 2,000 bases takes seconds.
        depth = max((len(mro_of(base)) for base in bases), default=1)
        if len(bases) > _MAX_BASES or depth >= _MAX_MRO:
            raise TypeError(f"class {name[:40]!r}: at most {_MAX_BASES} bases and a hierarchy "
                            f"{_MAX_MRO} deep in the sandbox")
        self.meter.spend((len(bases) + depth) ** 2)
        original = namespace.get("__orig_bases__")
        if type(original) is tuple:
            # The class statement's bases before __mro_entries__ (``Generic[T]``), which
            # Generic.__init_subclass__ reads for the class's type parameters: without
            # the sandbox's wrapper, or ``Box[int]`` says Box "is not a generic class".
            # Tool code cannot read it back: its name starts with an underscore.
            namespace["__orig_bases__"] = _unwrapped(original)
        with warnings.catch_warnings():
            # base classes' __init_subclass__ hooks run host code (a Template
            # subclass compiles its pattern): their warnings are not the host's
            warnings.simplefilter("ignore")
            cls = type(name, bases, namespace)
        for method_name, method in constructors:
            # A tool class on the way to the container that defines its own
            # __init__ keeps it (the container's own constructor never runs then).
            if not any(method_name in vars(k) for k in mro_of(cls) if k in self._classes) \
                    and method_name not in namespace:
                type.__setattr__(cls, method_name, method)
        if _typing_generic in mro_of(cls):
            # Box[int] through the sandbox's bounds and wrapper (modules.ToolGenericAlias)
            type.__setattr__(cls, "__class_getitem__", classmethod(tool_generic_getitem))
        if cls.__hash__ is object.__hash__:
            # Identity hashes are memory addresses: sets of these objects would
            # iterate in a different order in every process. A sequence number,
            # drawn the first time an object is hashed, orders them the same way
            # in every run of the same calls.
            cls.__hash__ = self._sequence_hash
        self._classes.add(cls)
        return cls

    def _stand_in_for(self, real: type) -> Any:
        """This session's stand-in for ``real`` (typing aliases hand out the real type)."""
        stand_in = self._stand_ins.get(real)
        if stand_in is None and real.__module__ == "collections":
            stand_in = getattr(self._modules.get("collections"), real.__name__, None)
        return stand_in

    def _new_printer(self, _getattr: Any = None) -> _Printer:
        return _Printer(self._printed, self._to_str, self.meter)

    # -- calls ---------------------------------------------------------------
    def _namespace(self, source: str) -> dict[str, Any] | ToolResult:
        namespace = self._by_source.get(source)
        if namespace is not None:
            return namespace
        compiled = compile_tool(source)
        namespace = self._namespaces.get(compiled.key)
        if namespace is not None:
            return namespace
        if compiled.code is None:
            return ToolResult.failure(ErrorKind.COMPILE,
                                      "tool code does not compile: " + "; ".join(compiled.errors))
        namespace = dict(self._base_globals)
        outcome = self._run(exec, (compiled.code, namespace), {})
        if isinstance(outcome, ToolResult):
            return ToolResult.failure(outcome.error_kind or ErrorKind.EXCEPTION,
                                      f"tool module failed to load: {outcome.error}",
                                      ops=outcome.ops)
        self._namespaces[compiled.key] = namespace
        self._by_source[source] = namespace
        return namespace

    def _run(self, func: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
        """Call ``func`` under a fresh budget; a ToolResult means it failed."""
        meter = self.meter
        meter.start(self.limits.ops)
        del self._printed[:]
        host_context = None
        if self._modules.uses_decimal:
            # Decimal arithmetic reads the thread's context: give the tool the
            # bounded sandbox context and put the host's back afterwards.
            host_context = decimal.getcontext()
            decimal.setcontext(DECIMAL_CONTEXT.copy())
        try:
            value = func(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # every tool failure becomes a result
            return self._failure(exc)
        finally:
            if host_context is not None:
                decimal.setcontext(host_context)
        if meter.tripped is not None or meter.exhausted:
            return self._failure(None)
        return value

    def _failure(self, exc: BaseException | None) -> ToolResult:
        meter = self.meter
        printed = "".join(self._printed)
        if meter.tripped is not None or meter.exhausted or isinstance(exc, BudgetExceeded):
            if isinstance(exc, SandboxLimitError) or (
                    meter.tripped is not None and not meter.exhausted):
                kind, error = ErrorKind.LIMIT, f"sandbox limit: {meter.tripped}"
            else:
                kind = ErrorKind.BUDGET
                error = (f"operation budget of {self.limits.ops:,} exceeded "
                         "(an endless loop or very large computation?)")
            return ToolResult.failure(kind, error,
                                      output=mask_addresses(printed[:self.limits.max_output]),
                                      ops=meter.used)
        assert exc is not None
        kind = ErrorKind.MEMORY if isinstance(exc, MemoryError) else ErrorKind.EXCEPTION
        return ToolResult.failure(kind, describe_exception(exc),
                                  output=mask_addresses(printed[:self.limits.max_output]),
                                  ops=meter.used)

    def call(self, source: str, func_name: str, kwargs: Mapping[str, Any] | None = None,
             args: Sequence[Any] = ()) -> ToolResult:
        """Call ``func_name`` defined by ``source`` with the given arguments.

        Args:
            source: The tool's Python source.
            func_name: The function to call.
            kwargs: Keyword arguments (JSON-like values).
            args: Positional arguments.

        Returns:
            A :class:`ToolResult`; this method does not raise for anything the
            tool does.
        """
        try:
            return self._call(source, func_name, kwargs, args)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return ToolResult.failure(ErrorKind.EXCEPTION,
                                      f"internal sandbox error ({type(exc).__name__})",
                                      ops=self.meter.used)

    def _call(self, source: str, func_name: str, kwargs: Mapping[str, Any] | None,
              args: Sequence[Any]) -> ToolResult:
        namespace = self._namespace(source)
        if isinstance(namespace, ToolResult):
            return namespace
        func = namespace.get(func_name)
        if func_name.startswith("_") or not callable(func):
            return ToolResult.failure(ErrorKind.NOT_FOUND,
                                      f"the tool code defines no function named {func_name!r}")
        kwargs = kwargs or {}
        if not args:
            mismatch = self._binding_error(func, func_name, kwargs)
            if mismatch is not None:
                return ToolResult.failure(ErrorKind.BAD_ARGUMENTS, mismatch)
        outcome = self._run(func, args, kwargs)
        if isinstance(outcome, ToolResult):
            return outcome
        # Rendering allocates too: keep the budget running through it.
        try:
            text = render_output(outcome, "".join(self._printed), self._to_str,
                                 self.limits.max_output, self.meter.charge,
                                 self._bounded_render)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            return self._failure(exc)
        return ToolResult(True, text, None, None, self.meter.used)

    def _binding_error(self, func: Any, name: str, kwargs: Mapping[str, Any]) -> str | None:
        """Why ``kwargs`` cannot bind to ``func``'s signature, or None.

        Checked before the call so a calling-convention mistake (an argument
        the function does not take, a required one missing) is reported as
        ``bad_arguments``, distinct from a ``TypeError`` raised inside the
        tool. The parameter sets are read once per code object (:func:`_binding`),
        so the first call of an episode, whose function is new, costs a dict
        lookup and two set operations like every later one.
        """
        code = getattr(func, "__code__", None)
        if code is None:
            return None  # not a plain function (a class): let the call decide
        accepted, required = _binding(func, code)
        keys = kwargs.keys()
        if (accepted is None or accepted >= keys) and required <= keys:
            return None  # the common case, decided by two C-level set comparisons
        if accepted is not None:
            unknown = [key for key in kwargs if key not in accepted]
            if unknown:
                return f"{name}() got an unexpected argument {unknown[0]!r}"
        missing = [key for key in required if key not in kwargs]
        if missing:
            return f"{name}() is missing the required argument {sorted(missing)[0]!r}"
        return None

    def reset(self, seed: int | None = None) -> None:
        """Forget tool state and re-seed, as at the start of a new episode.

        A reset session answers exactly as a new one with the same seed and
        clock (tests compare them), at a fraction of the cost: the hooks,
        builtins and stand-ins are kept, everything a tool could have touched
        or that derives from the seed is dropped or rebuilt.

        Args:
            seed: The new episode's seed (default: keep the current one).
        """
        if seed is not None:
            self.seed = seed
        for namespace in self._namespaces.values():
            # A tool's functions hold its namespace as their globals: a cycle. Emptying
            # it frees the episode's tool state now; dropped whole, it would wait for
            # the cyclic GC, and a worker or env running many short episodes of a tool
            # with big module state filled its address space first.
            namespace.clear()
        self._namespaces.clear()
        self._by_source.clear()
        self._classes.clear()
        self._hooks["forget_classes"]()
        self._printed.clear()
        self._sequence = itertools.count(1)
        self._rng.seed(self.seed)
        self._modules = ModuleTable(self.meter, self._rng, self.seed, self.clock, self._hooks,
                                    self._classes)
