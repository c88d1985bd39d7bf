"""The reviewed allowlist: every name tool code can import or call, with the reason.

Each entry of every module the sandbox exposes (and of its builtins) was
reviewed for four hazards, because each has already produced a real hole:

* **host-frame attribute access by name**: a stdlib function that runs
  ``getattr``/``setattr``/``.update`` with names the tool chooses (e.g.
  ``functools.wraps(..., updated=("__globals__",))`` merged a real module's
  globals, with the real ``os`` and ``open``, into tool code);
* **eval/exec**: code built from tool-chosen strings in the host;
* **class creation** in host frames (class bodies and metaclasses that run
  outside the policy);
* **C work or allocation proportional to an argument**: work one tick cannot
  see (``pow(a, b, m)`` on big numbers, ``x in big_list`` in a loop), or memory
  sized only after it is allocated.

Every entry is one of three verdicts:

``safe``
    The real stdlib object; the reason says why none of the hazards applies.
``wrapped``
    A sandbox wrapper replaces it; the reason says what the wrapper checks or
    charges. :mod:`.modules` and :mod:`.builtins` must supply the wrapper.
``removed``
    Not exposed; the reason says why. Tool code gets an ``AttributeError``.

:mod:`.modules` builds every proxy from this table and nothing else, and
``tests/sandbox/test_allowlist.py`` checks that every exposed member is listed
here, that every ``safe`` member is the real object and every ``wrapped`` one
is not. ``astra-gym sandbox allowlist`` prints the table that
docs/sandbox.md carries.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ALLOWLIST", "REMOVED", "SAFE", "WRAPPED", "Entry", "entries", "markdown_table",
           "names"]

SAFE = "safe"
WRAPPED = "wrapped"
REMOVED = "removed"

# Reasons shared by many entries.
_FLOAT = "float arithmetic in C: constant time, no attribute access (big ints overflow to an error)"
_CONST = "a constant"
_EXC = "an exception class (raising and catching only)"
_FLAG = "an int flag constant"
_PURE_RNG = ("a bound method of the session's own seeded Random: O(1) per call, never the "
             "host's generator")
_HASH = ("a hashlib constructor, charged by the data's length (hashing is linear, and a loop "
         "could hash the same 10 MB over and over); update() is charged the same way")
_VIEW = "a class the sandbox's own values are instances of (isinstance checks, attribute reads)"


@dataclass(frozen=True, slots=True)
class Entry:
    """One reviewed name.

    Attributes:
        module: The module (``"builtins"`` for the builtins table).
        name: The member name.
        verdict: ``safe``, ``wrapped`` or ``removed``.
        reason: Why, in one sentence.
    """

    module: str
    name: str
    verdict: str
    reason: str


def _same(verdict: str, reason: str, names: str) -> dict[str, tuple[str, str]]:
    return {name: (verdict, reason) for name in names.split()}


#: module -> member -> (verdict, reason)
ALLOWLIST: dict[str, dict[str, tuple[str, str]]] = {
    "builtins": {
        **_same(SAFE, "a constant", "True False None NotImplemented Ellipsis"),
        "bool": (SAFE, "a scalar type: constant time"),
        **_same(WRAPPED, "stand-in types: parsing a string is charged by its length on every "
                "call (a loop could parse the same 10 MB string again and again)",
                "float complex"),
        **_same(SAFE, "constant time on scalars (linear in an int's bits; ints are capped at "
                "max_int_bits)", "abs chr ord bin hex oct len callable"),
        **_same(WRAPPED, "a tuple of classes is walked first and limited to 256 classes: "
                "C walks nested tuples (shared sub-tuples expand exponentially) and the "
                "stand-in types run an instance check each", "isinstance issubclass"),
        "next": (SAFE, "advances an iterator the sandbox handed out (all are ticking, ordered or "
                 "wrapped)"),
        "reversed": (SAFE, "a lazy view of a sequence; it cannot wrap another lazy iterator"),
        **_same(SAFE, "class-body helpers: descriptors that store a tool function",
                "staticmethod classmethod property"),
        "__build_class__": (SAFE, "runs class statements with the sandbox's own metaclass "
                            "(tool code cannot name it: '_' names are refused)"),
        **_same(SAFE, _EXC, """ArithmeticError AssertionError AttributeError Exception
            FloatingPointError IndexError KeyError LookupError NameError NotImplementedError
            OverflowError RecursionError RuntimeError StopIteration TypeError UnicodeDecodeError
            UnicodeEncodeError UnicodeError ValueError ZeroDivisionError Warning UserWarning
            DeprecationWarning"""),
        "str": (WRAPPED, "a stand-in type: str(x) renders through the stable, size-checked "
                "renderer (sets ordered, no addresses); str(b, encoding) only with the "
                "allowlisted codecs; not a base class (host code calls a str subclass's own "
                "methods with host tables: re.escape, textwrap)"),
        "int": (WRAPPED, "a stand-in type: results beyond max_int_bits are refused (int(s, 16) "
                "would otherwise build ints the operator guards never see)"),
        "ascii": (WRAPPED, "renders through the stable renderer, then escapes: C ascii() iterates "
                  "sets in hash order"),
        "divmod": (WRAPPED, "big-int division is quadratic: charged by operand size"),
        "all": (WRAPPED, "O(n) in C over a list: charged by length"),
        "any": (WRAPPED, "O(n) in C over a list: charged by length"),
        **_same(WRAPPED, "stand-in container types: building one (also through list[int] or "
                "a tool subclass of list, tuple or dict) is charged, capped at max_len and "
                "orders sets; set and frozenset are not base classes (a subclass would iterate "
                "in hash order)", "list tuple set frozenset dict"),
        "range": (WRAPPED, "capped at max_len items"),
        "sorted": (WRAPPED, "charged n log n, capped, sets ordered"),
        **_same(WRAPPED, "lazy, sets ordered; a lazy C iterator argument is wrapped in a ticking "
                "generator so nested iterators recurse in Python frames (bounded) instead of "
                "C frames (a segfault)", "enumerate zip map filter iter"),
        **_same(WRAPPED, "O(n) in C: charged by length, sets ordered", "min max sum"),
        "hasattr": (WRAPPED, "refuses '_' names (RestrictedPython only checks literal names)"),
        "pow": (WRAPPED, "size-checked power; three-argument pow charged by exponent and "
                "modulus size"),
        "format": (WRAPPED, "format spec width/precision checked and charged before "
                   "formatting"),
        "round": (WRAPPED, "int/Fraction rounding computes 10**ndigits: ndigits checked"),
        "repr": (WRAPPED, "the stable, charged renderer"),
        **_same(REMOVED, "reaches interpreter internals, code or the filesystem",
                "open eval exec compile globals locals vars dir getattr setattr delattr type "
                "id hash memoryview breakpoint input help __import__ super object bytes "
                "bytearray slice"),
    },
    "math": {
        **_same(SAFE, _FLOAT, """acos acosh asin asinh atan atan2 atanh cbrt ceil copysign cos
            cosh degrees erf erfc exp exp2 expm1 fabs floor fmod frexp gamma isclose isfinite
            isinf isnan ldexp lgamma log log10 log1p log2 modf nextafter pow radians remainder
            sin sinh sqrt tan tanh trunc ulp"""),
        **_same(SAFE, _CONST, "e inf nan pi tau"),
        "hypot": (SAFE, "O(n) in its arguments, which arrive through the charged *-unpacking"),
        "dist": (WRAPPED, "O(n) over two sequences in C: charged by length"),
        "fsum": (WRAPPED, "O(n) in C: charged by length, sets ordered"),
        "gcd": (WRAPPED, "quadratic in the operands' bits: charged by size"),
        "isqrt": (WRAPPED, "superlinear in the operand's bits: charged by size"),
        "lcm": (WRAPPED, "result size checked and charged per step"),
        "factorial": (WRAPPED, "result bits estimated, checked against max_int_bits, charged"),
        "comb": (WRAPPED, "result bits estimated, checked against max_int_bits, charged"),
        "perm": (WRAPPED, "result bits estimated, checked against max_int_bits, charged"),
        "prod": (WRAPPED, "ticks per item and multiplies through the size-checked *"),
    },
    "json": {
        "dumps": (WRAPPED, "encodes in chunks with a tick each and a running size check "
                  "(indent, separators and shared sub-structures can multiply the output); "
                  "'cls' refused"),
        "loads": (WRAPPED, "charged by input length; 'cls' refused"),
        "JSONDecodeError": (SAFE, _EXC),
    },
    "re": {
        **_same(WRAPPED, "pattern compilation runs in host Python and matching scans the "
                "string: charged by pattern and string length (catastrophic backtracking is "
                "C work only process isolation stops)",
                "compile search match fullmatch findall finditer split"),
        **_same(WRAPPED, "the output is sized before it is built (replacement length x "
                "matches, group references included)", "sub subn"),
        "escape": (WRAPPED, "linear in the string and up to twice its size: charged on every "
                   "call"),
        "error": (SAFE, _EXC),
        "Pattern": (SAFE, _VIEW + "; its methods are routed through the same checks as the "
                    "module functions"),
        "Match": (SAFE, _VIEW + "; expand() is sized before it runs"),
        **_same(SAFE, _FLAG, "I IGNORECASE M MULTILINE S DOTALL X VERBOSE A ASCII U UNICODE "
                "NOFLAG"),
    },
    "datetime": {
        "datetime": (WRAPPED, "a frozen subclass: now()/today()/utcnow() read the session "
                     "clock; fromtimestamp, timestamp, astimezone and strptime read UTC, never "
                     "the host's time zone"),
        "date": (WRAPPED, "a frozen subclass: today() reads the session clock; fromtimestamp "
                 "is UTC"),
        **_same(SAFE, "value types in C; no clock, no host state",
                "timedelta timezone time tzinfo"),
        **_same(SAFE, _CONST, "MINYEAR MAXYEAR UTC"),
    },
    "time": {
        **_same(WRAPPED, "reads the session's frozen clock", "time time_ns"),
        **_same(WRAPPED, "a constant 0: elapsed time is not deterministic",
                "monotonic monotonic_ns perf_counter perf_counter_ns process_time"),
        "sleep": (WRAPPED, "returns at once"),
        **_same(WRAPPED, "UTC, never the host's time zone", "gmtime localtime mktime ctime "
                "asctime"),
        "strftime": (WRAPPED, "UTC; %Z/%z read the struct's zone, never the host's"),
        "strptime": (WRAPPED, "refuses %Z, whose accepted names come from the host's time "
                     "zone"),
        "struct_time": (SAFE, "a value type"),
        **_same(WRAPPED, "the UTC value, not the host's", "timezone altzone daylight tzname"),
    },
    "random": {
        **_same(SAFE, _PURE_RNG, """random uniform randint choice gauss normalvariate
            triangular betavariate expovariate lognormvariate vonmisesvariate gammavariate
            paretovariate weibullvariate"""),
        "randrange": (WRAPPED, "integer arguments only (floats warn on the host's stderr in "
                      "3.11); session generator"),
        "seed": (WRAPPED, "reseeds the session's generator, never the host's"),
        "choices": (WRAPPED, "k checked and charged; sets ordered"),
        "sample": (WRAPPED, "population and k charged; sets ordered"),
        "shuffle": (WRAPPED, "a host-Python loop over the list: charged by length"),
        "getrandbits": (WRAPPED, "bits checked against max_int_bits"),
        "randbytes": (WRAPPED, "length checked and charged"),
        "Random": (WRAPPED, "a private generator seeded from the session's, never from the "
                   "OS"),
    },
    "string": {
        **_same(SAFE, _CONST, "ascii_letters ascii_lowercase ascii_uppercase digits hexdigits "
                "octdigits printable punctuation whitespace"),
        "capwords": (WRAPPED, "splits into a list of words, capitalizes and joins: charged "
                     "like the lists it builds"),
        "Template": (WRAPPED, "a subclass whose substitute/safe_substitute size the output "
                     "before building it"),
    },
    "collections": {
        **_same(WRAPPED, "stand-in types: construction materialises the argument through the "
                "charged, capped, set-ordering path (the C constructors iterate sets in hash "
                "order and never tick), also through Counter[str] and tool subclasses",
                "Counter deque OrderedDict defaultdict"),
        "namedtuple": (WRAPPED, "field count and names capped: it builds and exec()s source "
                       "in the host"),
        "ChainMap": (REMOVED, "lookups and len() loop over every map in host Python frames "
                     "no tick sees; rarely used by tools"),
    },
    "itertools": {
        **_same(WRAPPED, "the result ticks per item; sets ordered", """count cycle repeat
            islice zip_longest starmap takewhile dropwhile filterfalse compress pairwise
            groupby accumulate chain tee batched"""),
        **_same(WRAPPED, "the pools are materialised through the charged, capped path first "
                "(the C constructor copies them without ticking); the result ticks per item",
                "permutations combinations combinations_with_replacement product"),
    },
    "functools": {
        "partial": (SAFE, "stores a callable and arguments; attributes are read-only"),
        "cmp_to_key": (SAFE, "calls the tool's own comparison function"),
        "reduce": (WRAPPED, "ticks per item; sets ordered"),
        **_same(WRAPPED, "only for functions the tool defined: update_wrapper copies "
                "attributes by name from the wrapped object", "lru_cache cache"),
        "wraps": (WRAPPED, "copies __name__, __qualname__ and __doc__ between tool functions "
                  "only; 'assigned'/'updated' (attribute names run through getattr/setattr/"
                  ".update in host frames: a full escape) are refused"),
        "total_ordering": (WRAPPED, "only for classes the tool defined: it setattr()s on the "
                           "class it is given"),
        "update_wrapper": (REMOVED, "getattr/setattr/.update with caller-chosen attribute "
                           "names in host frames: merged real module globals into tool code"),
        **_same(REMOVED, "runs attribute access and dispatch machinery in host frames",
                "singledispatch singledispatchmethod cached_property"),
    },
    "statistics": {
        **_same(WRAPPED, "host-Python loops over the data: charged per item (Fractions and "
                "Decimals more), sets ordered", """mean fmean geometric_mean harmonic_mean
            median median_low median_high median_grouped mode multimode pstdev pvariance stdev
            variance correlation covariance linear_regression quantiles"""),
        "StatisticsError": (SAFE, _EXC),
    },
    "decimal": {
        "Decimal": (WRAPPED, "a stand-in type: exponent within +/-30,000 and coefficient "
                    "within 400 digits (construction is exact, and **, ln, log10 and "
                    "as_integer_ratio work on the whole coefficient: seconds beyond ~600 "
                    "digits); those are charged by digits, and arithmetic runs in a bounded "
                    "context; not a base class (a subclass's constructor skips the checks)"),
        **_same(SAFE, _EXC, "InvalidOperation DivisionByZero DecimalException Overflow "
                "Underflow Inexact Rounded"),
        **_same(SAFE, _CONST, "ROUND_UP ROUND_DOWN ROUND_CEILING ROUND_FLOOR ROUND_HALF_UP "
                "ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_05UP"),
    },
    "fractions": {
        "Fraction": (WRAPPED, "a stand-in type: numerator and denominator within "
                     "max_int_bits (from strings, Decimals and floats alike); a string is "
                     "parsed by a backtracking regex, so it is charged and capped at 10,000 "
                     "characters; not a base class (a subclass's constructor skips the checks, "
                     "and its metaclass ABCMeta has a process-wide register())"),
    },
    "typing": {
        "Any": (SAFE, "a typing marker used in annotations"),
        **_same(WRAPPED, "subscription goes through a check (at most 64 parameters, strings "
                "at most 256 characters) before typing's own process-wide caches keep it; "
                "as a base class, Type (its base is the real `type`: a metaclass) and the "
                "collections.abc aliases (ABCs: register() is process-wide) are refused. "
                "A tool's own generic class subscripts (`Box[int](3)`, "
                "`class Pair(Box[T], Generic[T, K])`) under the same check, without typing's "
                "cache (it would keep the session's classes alive), and gives a wrapper that "
                "can be called, subscripted and used as a base or annotation, but forwards no "
                "attribute: typing's real alias would hand out the class's attributes past "
                "the per-type guards (`L[int].extend` of a list subclass)",
                """Optional Union List Dict Tuple Set FrozenSet Callable Iterable Iterator
            Sequence Mapping MutableMapping Literal Generic Generator Final ClassVar
            DefaultDict Type"""),
        "TypeVar": (SAFE, "a named placeholder; no attribute access by caller-chosen name"),
        "cast": (SAFE, "returns its argument"),
        "NamedTuple": (WRAPPED, "the functional form goes through the capped namedtuple; "
                       "the class form gets its annotated names as fields, under the same "
                       "caps"),
        "TypedDict": (REMOVED, "builds classes in host Python with one type check per field "
                      "no tick sees; annotations are stripped in the sandbox anyway"),
    },
    "copy": {
        **_same(WRAPPED, "a sandbox copier for data (containers, scalars, instances of tool "
                "classes) that ticks per node; the stdlib one follows __reduce_ex__ and "
                "setattr()s state in host frames", "copy deepcopy"),
    },
    "calendar": {
        **_same(SAFE, "constant-time date arithmetic in host Python",
                "isleap leapdays weekday monthrange monthcalendar timegm"),
        **_same(SAFE, _CONST, "month_name month_abbr day_name day_abbr MONDAY TUESDAY WEDNESDAY "
                "THURSDAY FRIDAY SATURDAY SUNDAY"),
        "month": (WRAPPED, "column and line widths capped"),
    },
    "textwrap": {
        **_same(WRAPPED, "host-Python work per character: charged by text length and "
                "the output sized first (indents, placeholder, tabsize)",
                "wrap fill shorten indent dedent"),
    },
    "uuid": {
        "UUID": (WRAPPED, "a stand-in type: hex strings longer than 100 characters are refused "
                 "before parsing; not a base class (a subclass's constructor would parse them)"),
        **_same(WRAPPED, "a hash of a name in a namespace: charged by the name's length on "
                "every call", "uuid3 uuid5"),
        "uuid4": (WRAPPED, "draws from the session's generator, not os.urandom"),
        **_same(SAFE, _CONST, "NAMESPACE_DNS NAMESPACE_URL NAMESPACE_OID NAMESPACE_X500"),
    },
    "hashlib": {
        **_same(WRAPPED, _HASH, """md5 sha1 sha224 sha256 sha384 sha512 sha3_224 sha3_256
            sha3_384 sha3_512 blake2b blake2s"""),
    },
}


def entries() -> Iterator[Entry]:
    """Every reviewed name, module by module."""
    for module, members in ALLOWLIST.items():
        for name, (verdict, reason) in members.items():
            yield Entry(module, name, verdict, reason)


def names(module: str, verdict: str) -> frozenset[str]:
    """The members of ``module`` with the given verdict."""
    return frozenset(name for name, (v, _) in ALLOWLIST[module].items() if v == verdict)


def markdown_table() -> str:
    """The allowlist as the Markdown table docs/sandbox.md carries."""
    lines = ["| module | name | verdict | reason |", "|---|---|---|---|"]
    for entry in entries():
        lines.append(f"| {entry.module} | `{entry.name}` | {entry.verdict} | {entry.reason} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
