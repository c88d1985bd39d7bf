"""Fast validation of tool-call arguments against the tool's JSON Schema.

Every env step checks the agent's arguments against the tool's ``parameters``
schema. A cached :class:`jsonschema.Draft202012Validator` costs tens of
microseconds per call; most tool schemas, though, use a small subset of JSON
Schema (types, properties, required, enums, bounds). :func:`compile_schema`
turns a schema in that subset into nested closures that give the same answer
as jsonschema at about a microsecond per call. :class:`ArgumentValidator`
uses them when it can, falls back to jsonschema otherwise, and always asks
jsonschema for the error message.

The fast path reproduces the Draft 2020-12 semantics of jsonschema 4.x
(checked against 4.26 by the differential tests in ``tests/test_argcheck.py``):

* ``integer`` accepts integer-valued floats (``2.0``) and neither ``number``
  nor ``integer`` accepts ``True``/``False``;
* ``enum``, ``const`` and ``uniqueItems`` compare like jsonschema's
  ``equal``: ``1 == 1.0``, ``True != 1``, arrays and objects structurally
  (the element-wise comparison landed in jsonschema 4.21/4.22; older
  releases compared some nested values with plain ``==``);
* ``format`` is an annotation (no format checker is configured);
* each keyword applies only to instances of its type (``minimum`` ignores
  strings, ``minLength`` ignores numbers, and so on).

Supported keywords: ``type``, ``properties``, ``required``,
``additionalProperties``, ``items``, ``enum``, ``const``, ``minimum``,
``maximum``, ``exclusiveMinimum``, ``exclusiveMaximum``, ``minLength``,
``maxLength``, ``minItems``, ``maxItems``, ``pattern``, ``uniqueItems``, and
the annotations ``description``, ``title``, ``default``, ``examples``,
``format``, ``$comment``, ``deprecated``, ``readOnly``, ``writeOnly``. Any
other keyword, or a keyword value that is not well formed, makes
:func:`compile_schema` return ``None``.

Example:
    >>> validator = ArgumentValidator({
    ...     "type": "object",
    ...     "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    ...     "required": ["city"],
    ...     "additionalProperties": False,
    ... })
    >>> validator.fast
    True
    >>> validator.is_valid({"city": "Oslo", "days": 3})
    True
    >>> validator.error({"city": "Oslo", "days": "x"})
    "argument 'days': 'x' is not of type 'integer'"
    >>> validator.error({"days": 3})
    "missing required argument 'city'"
    >>> validator.error({"city": "Oslo", "foo": 1})
    "unexpected argument 'foo'"
"""

from __future__ import annotations

import itertools
import json
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

__all__ = ["ArgumentValidator", "compile_schema", "schema_key", "validator_for"]

Check = Callable[[Any], bool]

#: Keywords that never affect validity (``format`` is not asserted by default).
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "format", "$comment",
                          "deprecated", "readOnly", "writeOnly"})
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
_ARRAY_KEYWORDS = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_OBJECT_KEYWORDS = frozenset({"properties", "required", "additionalProperties"})
_SUPPORTED = (_ANNOTATIONS | _STRING_KEYWORDS | _NUMBER_KEYWORDS | _ARRAY_KEYWORDS
              | _OBJECT_KEYWORDS | {"type", "enum", "const"})

#: Longest error line returned by :meth:`ArgumentValidator.error`.
_MAX_ERROR_CHARS = 500


# -- jsonschema's type checker (draft 2020-12) -------------------------------------------------

def _accept(instance: Any) -> bool:
    return True


def _reject(instance: Any) -> bool:
    return False


def _is_string(instance: Any) -> bool:
    return isinstance(instance, str)


def _is_boolean(instance: Any) -> bool:
    return isinstance(instance, bool)


def _is_null(instance: Any) -> bool:
    return instance is None


def _is_object(instance: Any) -> bool:
    return isinstance(instance, dict)


def _is_array(instance: Any) -> bool:
    return isinstance(instance, list)


def _is_number(instance: Any) -> bool:
    kind = type(instance)
    if kind is int or kind is float:
        return True
    return not isinstance(instance, bool) and isinstance(instance, numbers.Number)


def _is_integer(instance: Any) -> bool:
    kind = type(instance)
    if kind is int:
        return True
    if kind is float:
        return instance.is_integer()
    if isinstance(instance, bool):
        return False
    return isinstance(instance, int) or (isinstance(instance, float) and instance.is_integer())


_TYPES: dict[str, Check] = {
    "string": _is_string, "boolean": _is_boolean, "null": _is_null, "object": _is_object,
    "array": _is_array, "number": _is_number, "integer": _is_integer,
}
#: Type checks that are one ``isinstance`` call (inlined in object checks).
_CLASS_OF: dict[Check, type] = {_is_string: str, _is_boolean: bool, _is_object: dict,
                                _is_array: list}
_CLASS_OF_TYPE: dict[str, type] = {"string": str, "boolean": bool, "object": dict,
                                   "array": list, "null": type(None)}


# -- jsonschema's equality (jsonschema._utils.equal / uniq, reproduced) ------------------------

_TRUE = object()
_FALSE = object()


def _unbool(element: Any) -> Any:
    if element is True:
        return _TRUE
    if element is False:
        return _FALSE
    return element


def _equal(one: Any, two: Any) -> bool:
    if one is two:
        return True
    kind_one, kind_two = type(one), type(two)
    if (kind_one is int or kind_one is float) and (kind_two is int or kind_two is float):
        return one == two
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(key in two and _equal(value, two[key])
                                            for key, value in one.items())
    return _unbool(one) == _unbool(two)


def _uniq(container: list[Any]) -> bool:
    # Same algorithm as jsonschema, quirks included (a sort that fails over to
    # pairwise comparison; NaN can hide a duplicate from the sorted scan).
    try:
        ordered = sorted(_unbool(i) for i in container)
        for i, j in zip(ordered, itertools.islice(ordered, 1, None), strict=False):
            if _equal(i, j):
                return False
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for element in container:
            element = _unbool(element)
            for earlier in seen:
                if _equal(earlier, element):
                    return False
            seen.append(element)
    return True


# -- the compiler ------------------------------------------------------------------------------

def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_bound(value: Any) -> bool:
    return type(value) is int or type(value) is float


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _accept
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def both(instance: Any) -> bool:
            return first(instance) and second(instance)

        return both
    frozen = tuple(checks)

    def every(instance: Any) -> bool:
        for check in frozen:  # noqa: SIM110 -- a plain loop beats all(<genexpr>) here
            if not check(instance):
                return False
        return True

    return every


def _type_check(types: tuple[str, ...]) -> Check:
    if len(types) == 1:
        return _TYPES[types[0]]
    if all(name in _CLASS_OF_TYPE for name in types):
        classes = tuple(_CLASS_OF_TYPE[name] for name in types)

        def is_one_of_classes(instance: Any) -> bool:
            return isinstance(instance, classes)

        return is_one_of_classes
    checks = tuple(_TYPES[name] for name in types)

    def is_one_of(instance: Any) -> bool:
        return any(check(instance) for check in checks)

    return is_one_of


def _enum_check(values: list[Any]) -> Check:
    if values and all(isinstance(value, str) for value in values):
        strings = frozenset(values)

        def in_strings(instance: Any) -> bool:
            return isinstance(instance, str) and instance in strings

        return in_strings
    frozen = tuple(values)

    def in_values(instance: Any) -> bool:
        return any(map(_equal, frozen, itertools.repeat(instance)))

    return in_values


def _string_check(schema: dict[str, Any], strict: bool) -> Check | None:
    low = schema.get("minLength", 0)
    high = schema.get("maxLength")
    if not _is_count(low) or ("maxLength" in schema and not _is_count(high)):
        return None
    regex = None
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return None
        try:
            regex = re.compile(schema["pattern"])
        except re.error:
            return None
    search = regex.search if regex is not None else None
    other = not strict

    def check(instance: Any) -> bool:
        if not isinstance(instance, str):
            return other
        if low or high is not None:
            size = len(instance)
            if size < low or (high is not None and size > high):
                return False
        return search is None or search(instance) is not None

    return check


def _number_check(schema: dict[str, Any], is_kind: Check, strict: bool) -> Check | None:
    names = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    if not all(_is_bound(schema[name]) for name in names if name in schema):
        return None
    bounds = [schema.get(name) for name in names]
    low, high, above, below = bounds
    other = not strict

    def check(instance: Any) -> bool:
        if not is_kind(instance):
            return other
        # The comparisons mirror jsonschema's (``instance < minimum`` is an
        # error), which matters for NaN: it passes every bound.
        if low is not None and instance < low:
            return False
        if high is not None and instance > high:
            return False
        if above is not None and instance <= above:
            return False
        return not (below is not None and instance >= below)

    return check


def _array_check(schema: dict[str, Any], strict: bool) -> Check | None:
    low = schema.get("minItems", 0)
    high = schema.get("maxItems")
    unique = schema.get("uniqueItems", False)
    if (not _is_count(low) or ("maxItems" in schema and not _is_count(high))
            or not isinstance(unique, bool)):
        return None
    item: Check | None = None
    if "items" in schema:
        item = _compile(schema["items"])
        if item is None:
            return None
        if item is _accept:
            item = None
    other = not strict

    def check(instance: Any) -> bool:
        if not isinstance(instance, list):
            return other
        size = len(instance)
        if size < low or (high is not None and size > high):
            return False
        if item is not None:
            for element in instance:
                if not item(element):
                    return False
        return not unique or _uniq(instance)

    return check


def _object_check(schema: dict[str, Any], strict: bool) -> Check | None:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    additional = schema.get("additionalProperties", True)
    if (type(properties) is not dict or type(required) is not list
            or not all(isinstance(name, str) for name in required)
            or not all(isinstance(name, str) for name in properties)):
        return None
    typed: list[tuple[str, type]] = []  # properties whose check is one isinstance()
    general: list[tuple[str, Check]] = []
    for name, subschema in properties.items():
        sub = _compile(subschema)
        if sub is None:
            return None
        if sub is _accept:
            continue
        if sub in _CLASS_OF:
            typed.append((name, _CLASS_OF[sub]))
        else:
            general.append((name, sub))
    closed = additional is False
    extra: Check | None = None
    if not isinstance(additional, bool):
        extra = _compile(additional)
        if extra is None:
            return None
        if extra is _accept:
            extra = None
        elif extra is _reject:
            closed, extra = True, None
    names = frozenset(properties)
    needed = tuple(dict.fromkeys(required))
    typed_t, general_t = tuple(typed), tuple(general)
    other = not strict

    def check(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return other
        for name in needed:
            if name not in instance:
                return False
        for name, cls in typed_t:
            if name in instance and not isinstance(instance[name], cls):
                return False
        for name, sub in general_t:
            if name in instance and not sub(instance[name]):
                return False
        if closed:
            return instance.keys() <= names
        if extra is not None:
            for key, value in instance.items():
                if key not in names and not extra(value):
                    return False
        return True

    return check


def _compile(schema: Any) -> Check | None:
    if schema is True:
        return _accept
    if schema is False:
        return _reject
    if type(schema) is not dict or not schema.keys() <= _SUPPORTED:
        return None

    types: tuple[str, ...] | None = None
    if "type" in schema:
        declared = schema["type"]
        listed = [declared] if isinstance(declared, str) else declared
        if type(listed) is not list or not all(isinstance(name, str) and name in _TYPES
                                               for name in listed):
            return None
        types = tuple(dict.fromkeys(listed))
    single = types[0] if types is not None and len(types) == 1 else None

    checks: list[Check] = []
    type_covered = False  # the type check is folded into a keyword group's check
    groups: list[tuple[frozenset[str], tuple[str, ...]]] = [
        (_STRING_KEYWORDS, ("string",)), (_NUMBER_KEYWORDS, ("number", "integer")),
        (_ARRAY_KEYWORDS, ("array",)), (_OBJECT_KEYWORDS, ("object",)),
    ]
    for keywords, kinds in groups:
        if keywords.isdisjoint(schema):
            continue
        # Under a matching single type the group's check also checks the type.
        strict = single in kinds
        if kinds[0] == "string":
            group = _string_check(schema, strict)
        elif kinds[0] == "number":
            group = _number_check(schema, _TYPES[single] if strict and single else _is_number,
                                  strict)
        elif kinds[0] == "array":
            group = _array_check(schema, strict)
        else:
            group = _object_check(schema, strict)
        if group is None:
            return None
        if single is not None and not strict:
            # Never applies (instances of the declared type are not of this
            # kind); compiled anyway so that malformed values fall back.
            continue
        type_covered = type_covered or strict
        checks.append(group)

    enum_implies_string = False
    if "enum" in schema:
        if type(schema["enum"]) is not list:
            return None
        values = schema["enum"]
        enum_implies_string = bool(values) and all(isinstance(value, str) for value in values)
        checks.append(_enum_check(values))
    if "const" in schema:
        checks.append(_enum_check([schema["const"]]))

    if types is not None and not type_covered and not (single == "string"
                                                       and enum_implies_string):
        checks.insert(0, _type_check(types))
    return _all_of(checks)


def compile_schema(schema: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    """Compile a JSON Schema in the supported subset into a fast validity check.

    The returned function answers exactly as
    ``jsonschema.Draft202012Validator(schema).is_valid`` would (module
    docstring: the subset and the semantics reproduced). The schema is read
    once; do not mutate it afterwards.

    Args:
        schema: A JSON Schema (a dict, or ``True``/``False``), assumed to be
            valid against the Draft 2020-12 metaschema.

    Returns:
        A function from an instance to ``True`` (valid) or ``False``; ``None``
        when the schema uses a keyword outside the supported subset, or a
        keyword value the compiler does not handle (then use jsonschema).

    Example:
        >>> check = compile_schema({"type": "integer", "minimum": 1})
        >>> check(3), check(2.0), check(0), check(True), check("3")
        (True, True, False, False, False)
        >>> compile_schema({"anyOf": [{"type": "string"}]}) is None
        True
    """
    return _compile(schema)


# -- error messages ----------------------------------------------------------------------------

def _where(path: Sequence[Any]) -> str:
    parts = [str(path[0])]
    for part in path[1:]:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)


def _missing(error: ValidationError) -> str | None:
    names = error.validator_value if isinstance(error.validator_value, list) else []
    for name in names:
        if error.message == f"{name!r} is a required property":
            return name
    return None


def _unexpected(error: ValidationError) -> list[Any]:
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if (error.validator_value is not False or "patternProperties" in schema
            or not isinstance(error.instance, dict)):
        return []
    properties = schema.get("properties", {})
    return sorted((key for key in error.instance if key not in properties), key=str)


def _describe(error: ValidationError) -> str:
    path = list(error.absolute_path)
    prefix = "" if not path else f"argument {_where(path)!r}: "
    line = None
    if error.validator == "required":
        name = _missing(error)
        if name is not None:
            line = (f"missing required argument {name!r}" if not path
                    else f"{prefix}missing required property {name!r}")
    elif error.validator == "additionalProperties":
        extras = _unexpected(error)
        if extras:
            noun = "argument" if not path else "property"
            noun += "s" if len(extras) > 1 else ""
            line = f"{prefix}unexpected {noun} " + ", ".join(repr(key) for key in extras)
    if line is None:
        line = f"{prefix or 'arguments: '}{error.message}"
    line = line.replace("\r", "\\r").replace("\n", "\\n")
    if len(line) > _MAX_ERROR_CHARS:
        line = line[:_MAX_ERROR_CHARS - 3] + "..."
    return line


class ArgumentValidator:
    """Validates tool arguments against one JSON Schema; build once per tool, reuse every step.

    ``is_valid`` runs the compiled fast path when the schema is in the
    supported subset (``fast`` is then ``True``) and a cached
    :class:`jsonschema.Draft202012Validator` otherwise. ``error`` always
    takes its message from jsonschema's ``best_match``.

    Attributes:
        schema: The schema (treated as immutable).
        fast: Whether the schema compiled to the fast path.

    Example:
        >>> v = ArgumentValidator({"type": "object", "properties": {"q": {"type": "string"}},
        ...                        "anyOf": [{"required": ["q"]}]})
        >>> v.fast, v.is_valid({"q": "x"}), v.is_valid({})
        (False, True, False)
    """

    __slots__ = ("_check", "_validator", "fast", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        """Compile ``schema`` (or prepare the jsonschema fallback).

        Args:
            schema: The tool's ``parameters`` JSON Schema, assumed valid
                against the Draft 2020-12 metaschema (see
                :func:`astra_gym.toolspec.schema_problems`).
        """
        self.schema = schema
        self._validator = jsonschema.Draft202012Validator(schema)
        check = compile_schema(schema)
        self.fast: bool = check is not None
        self._check: Check = check if check is not None else self._validator.is_valid

    def is_valid(self, arguments: Any) -> bool:
        """Whether ``arguments`` satisfy the schema.

        Args:
            arguments: The decoded arguments (usually a dict).

        Returns:
            ``True`` when valid, exactly as jsonschema would answer.
        """
        return self._check(arguments)

    def error(self, arguments: Any) -> str | None:
        """Describe what is wrong with ``arguments`` in one line.

        Args:
            arguments: The decoded arguments (usually a dict).

        Returns:
            ``None`` when valid; else one line naming the most relevant
            problem (jsonschema's ``best_match``), such as ``"missing required
            argument 'city'"``, ``"unexpected argument 'foo'"`` or
            ``"argument 'days': 'x' is not of type 'integer'"``.
        """
        if self._check(arguments):
            return None
        best = self.best_error(arguments)
        return None if best is None else _describe(best)

    def best_error(self, arguments: Any) -> ValidationError | None:
        """jsonschema's most relevant error for ``arguments`` (``None`` when valid).

        Args:
            arguments: The decoded arguments (usually a dict).

        Returns:
            The error ``best_match`` picks, or ``None``.
        """
        if self._check(arguments):
            return None
        return best_match(self._validator.iter_errors(arguments))

    def __reduce__(self) -> tuple[type[ArgumentValidator], tuple[Mapping[str, Any]]]:
        # The compiled closures do not pickle; rebuild from the schema instead.
        return (ArgumentValidator, (self.schema,))

    def __repr__(self) -> str:
        return f"ArgumentValidator(fast={self.fast}, schema={self.schema!r})"


def schema_key(schema: Any) -> str:
    """The key of schema caches: the schema's JSON text, key order kept.

    Key order is kept on purpose: jsonschema reports the first of equally
    relevant errors, so two orderings may word an error differently.
    """
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=4096)
def _cached_validator(key: str) -> ArgumentValidator:
    return ArgumentValidator(json.loads(key))


def validator_for(schema: Mapping[str, Any]) -> ArgumentValidator:
    """A shared :class:`ArgumentValidator` for ``schema``.

    Packs repeat tools and schemas across tasks; building a validator costs
    tens of microseconds to milliseconds, so one per distinct schema (by its
    JSON text, :func:`schema_key`) is kept per process, least recently used ones dropped.

    Args:
        schema: A tool's ``parameters`` JSON Schema (treated as immutable).

    Returns:
        The validator.
    """
    return _cached_validator(schema_key(schema))
