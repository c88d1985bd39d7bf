"""Stand-in types, and how tool classes may subclass them.

``list``, ``dict``, ``str``, ``collections.Counter``, ``decimal.Decimal`` ... are
*stand-ins* inside the sandbox: ``isinstance(x, list)`` must keep working, so
the name ``list`` is bound to something ``isinstance`` accepts as ``list``, but
calling it builds through the session's meter (charged, capped, sets ordered,
digits and exponents checked). :func:`guarded_type` makes one.

Everything the sandbox decides *about* a stand-in is read from its metaclass,
which is a subclass of :class:`StandIn` made once per process, never from
attributes of the class itself: tool code can write class attributes of its
own classes with any value, but it cannot make a class whose metaclass derives
from ``StandIn`` (that would need a stand-in base, which :func:`adopt_bases`
always replaces, or a metaclass of its own, which the session refuses).
:func:`real_type` is that identity check. The stand-in *classes* are per
session (a class statement costs a few microseconds): each one's
``_astra_build`` is its session's charged constructor.

What a stand-in forwards to the real type is an allowlist too: instance methods
(``str.upper``, ``dict.get``: they need a receiver of the real type), never
class-level constructors such as ``str.maketrans`` or ``float.fromhex`` (O(n)
work in C per call; the guarded ones are bound through ``_getattr_``'s guards),
and never ``__class_getitem__``: ``list[int]`` is a ``types.GenericAlias`` whose
origin is the stand-in, so calling it builds through the meter too.

**Subclassing** (:data:`SUBCLASSING`, with a reason per type): a tool class may
subclass the container stand-ins; its constructor then builds through the
stand-in's charged path first (:func:`adopt_bases` installs an ``__init__`` or
``__new__`` that does). Strings, numbers and sets cannot be subclassed: the
guards recognise them by exact type, host code calls a ``str`` subclass's own
methods with host tables, and only exact sets iterate in the stable order.
"""

from __future__ import annotations

import collections
import decimal
import fractions
import threading
import types
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["SUBCLASSING", "StandIn", "adopt_bases", "exact_text", "guarded_type", "mro_of",
           "real_type", "subclass_table"]

#: The true MRO of a class (``tp_mro``), not a ``__mro__`` a metaclass property invents.
mro_of: Callable[[type], tuple[type, ...]] = type.__dict__["__mro__"].__get__  # type: ignore

# Attribute types a stand-in forwards from its real type: they need a receiver of
# the real type (unbound instance methods, slots, properties).
_INSTANCE_MEMBERS = (types.MethodDescriptorType, types.WrapperDescriptorType,
                     types.FunctionType, types.GetSetDescriptorType,
                     types.MemberDescriptorType, property)
_MAX_ALIAS_PARAMETERS = 64


class StandIn(type):
    """The metaclass base of every stand-in type (one subclass per real type).

    Each subclass carries ``_astra_real``, the type it stands for, as an
    attribute of the *metaclass*: that subclass is made once per process and
    is the identity :func:`real_type` checks. Each session gets its own
    stand-in classes (instances of those metaclasses), whose ``_astra_build``
    is that session's charged constructor. Both names start with ``_``: tool
    code cannot name them (and cannot write attributes of classes it did not
    define).
    """

    _astra_real: type

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._astra_build(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, type(cls)._astra_real)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, type(cls)._astra_real)

    def __getattr__(cls, name: str) -> Any:
        real = type(cls)._astra_real
        value = getattr(real, name)  # AttributeError as the real type would raise it
        if name[:1] == "_" or not isinstance(value, _INSTANCE_MEMBERS):
            raise AttributeError(f"'{real.__name__}.{name}' is not available in the sandbox")
        return value

    def __getitem__(cls, parameters: Any) -> Any:
        """``list[int]``: an alias whose origin is the stand-in (so calling it is metered)."""
        real = type(cls)._astra_real
        if not hasattr(real, "__class_getitem__"):
            raise TypeError(f"type '{real.__name__}' is not subscriptable")
        items = parameters if type(parameters) is tuple else (parameters,)
        if len(items) > _MAX_ALIAS_PARAMETERS:
            raise TypeError(f"{real.__name__}[...]: {len(items):,} parameters; the sandbox "
                            f"allows {_MAX_ALIAS_PARAMETERS}")
        return types.GenericAlias(cls, parameters)

    def __repr__(cls) -> str:
        return repr(type(cls)._astra_real)


_METACLASSES: dict[type, type] = {}
_metaclass_lock = threading.Lock()


def _metaclass_of(real: type) -> type:
    """The stand-in metaclass for ``real`` (one per process)."""
    meta = _METACLASSES.get(real)
    if meta is None:
        with _metaclass_lock:
            meta = _METACLASSES.get(real)
            if meta is None:
                meta = types.new_class(f"{real.__name__}_stand_in", (StandIn,), {},
                                       lambda ns: ns.update(_astra_real=real))
                _METACLASSES[real] = meta
    return meta


def guarded_type(real: type, build: Callable[..., Any]) -> type:
    """A stand-in for ``real`` whose calls go to ``build`` (see the module docs)."""
    return _metaclass_of(real)(real.__name__, (), {
        "__slots__": (), "__module__": real.__module__, "__qualname__": real.__qualname__,
        "_astra_build": staticmethod(build)})


def real_type(obj: Any) -> Any:
    """The type a stand-in stands for; anything else unchanged (an identity check)."""
    return type(obj)._astra_real if isinstance(obj, StandIn) else obj


# ------------------------------------------------------------------ subclassing
def _init_adopter(fill: Callable[[Any, Any], None]) -> Callable[[Callable[..., Any]], Any]:
    """An ``__init__`` for subclasses of a mutable container: built by the stand-in first."""

    def adopter(build: Callable[..., Any]) -> tuple[str, Any]:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            fill(self, build(*args, **kwargs))
        return "__init__", __init__
    return adopter


def _new_adopter(real: type) -> Callable[[Callable[..., Any]], Any]:
    """A ``__new__`` for subclasses of an immutable container: built by the stand-in first."""

    def adopter(build: Callable[..., Any]) -> tuple[str, Any]:
        def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
            return real.__new__(cls, build(*args, **kwargs))
        return "__new__", staticmethod(__new__)
    return adopter


_EXACT = ("the sandbox's guards recognise strings and numbers by their exact type (a subclass "
          "would skip them: 'x' * N(10**9) with N(int)), and host code calls a str subclass's "
          "own methods (re.escape and textwrap hand it host tables to translate())")
_SETS = ("only exact sets are iterated in the sandbox's stable order; a subclass would loop "
         "in hash order (PYTHONHASHSEED)")
_EXACT_NUMBER = ("the sandbox's guards recognise it by exact type: a subclass would skip the "
                 "digit and exponent limits of the stand-in and of its arithmetic")

#: type -> (adopter or None, reason). An adopter receives the session's build
#: function and returns the method (name, value) a subclass gets.
SUBCLASSING: dict[type, tuple[Callable[[Callable[..., Any]], Any] | None, str]] = {
    list: (_init_adopter(list.__init__), "allowed: the constructor builds through the "
           "stand-in's charged, capped, set-ordering path first"),
    dict: (_init_adopter(dict.__init__), "allowed: the constructor builds through the "
           "stand-in's charged, capped, set-ordering path first"),
    tuple: (_new_adopter(tuple), "allowed: the constructor builds through the stand-in's "
            "charged, capped, set-ordering path first"),
    collections.Counter: (_init_adopter(collections.Counter.__init__), "allowed: the "
                          "constructor builds through the stand-in's charged path first"),
    collections.OrderedDict: (_init_adopter(collections.OrderedDict.__init__), "allowed: the "
                              "constructor builds through the stand-in's charged path first"),
    collections.defaultdict: (
        _init_adopter(lambda self, built: collections.defaultdict.__init__(
            self, built.default_factory, built)),
        "allowed: the constructor builds through the stand-in's charged path first"),
    collections.deque: (
        _init_adopter(lambda self, built: collections.deque.__init__(self, built, built.maxlen)),
        "allowed: the constructor builds through the stand-in's charged path first"),
    str: (None, _EXACT),
    int: (None, _EXACT),
    float: (None, _EXACT),
    complex: (None, _EXACT),
    set: (None, _SETS),
    frozenset: (None, _SETS),
    range: (None, "not subclassable in Python either"),
    decimal.Decimal: (None, _EXACT_NUMBER),
    fractions.Fraction: (None, _EXACT_NUMBER + "; its metaclass is ABCMeta, whose register() "
                         "changes isinstance() answers process-wide"),
    uuid.UUID: (None, "the stand-in refuses long hex strings before parsing; a subclass's "
                "constructor would parse them"),
}


def adopt_bases(name: str, bases: tuple[Any, ...],
                stand_in_for: Callable[[type], Any]) -> tuple[tuple[type, ...], list[Any]]:
    """The real bases of a tool class, and the constructor methods it must get.

    Args:
        name: The class name (for errors).
        bases: The bases of the class statement (after ``__mro_entries__``).
        stand_in_for: The session's stand-in for a real type (a typing alias such
            as ``typing.List[int]`` hands out the real ``list``), or None.

    Returns:
        The bases with stand-ins replaced by their real types, and (name, method)
        pairs to install on the new class unless a tool class in its MRO already
        defines that method.

    Raises:
        TypeError: a base may not be subclassed (see :data:`SUBCLASSING`).
    """
    real_bases = []
    methods = []
    for base in bases:
        real = real_type(base)
        policy = SUBCLASSING.get(real) if isinstance(real, type) else None
        if policy is not None:
            adopter, reason = policy
            if adopter is None:
                raise TypeError(f"class {name[:40]!r}: subclassing {real.__name__!r} is not "
                                f"available in the sandbox ({reason})")
            stand_in = base if base is not real else stand_in_for(real)
            if stand_in is None:  # pragma: no cover - every policy type has a stand-in
                raise TypeError(f"class {name[:40]!r}: cannot subclass {real.__name__!r} here")
            methods.append(adopter(stand_in._astra_build))
        real_bases.append(real)
    return tuple(real_bases), methods


def subclass_table() -> str:
    """:data:`SUBCLASSING` as the Markdown table docs/sandbox.md carries."""
    lines = ["| type | subclass | reason |", "|---|---|---|"]
    for kind, (adopter, reason) in SUBCLASSING.items():
        label = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__name__}"
        verdict = "allowed" if adopter is not None else "refused"
        lines.append(f"| `{label}` | {verdict} | {reason.removeprefix('allowed: ')} |")
    return "\n".join(lines)


def exact_text(value: Any) -> Any:
    """An instance of a ``str``/``bytes`` subclass as an exact ``str``/``bytes`` copy.

    Host code that receives text calls methods on it (``re.escape`` hands the
    host's escape table to ``text.translate``, ``textwrap`` its whitespace
    table) and caches keyed by it (``re``'s, the format parser's, strptime's
    regexes) keep it, with whatever was attached to it. Tool code cannot
    subclass ``str`` (:data:`SUBCLASSING`); the wrappers that hand text to
    such host code still pass exact copies. Anything else is returned as is.
    """
    kind = type(value)
    if kind is str or kind is bytes:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, bytes):
        return b"".join((value,))
    return value
