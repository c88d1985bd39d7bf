"""Type the string arguments of XML-style formats by the tool's JSON Schema.

GLM-4.5 (``<arg_value>``) and Qwen3-Coder (``<parameter=…>``) write every
argument as bare text: their chat templates print a string as is and any other
value as JSON (Qwen3-Coder's older template as Python's ``str()``, hence
``True``/``False``/``None``). Only the schema says whether ``42`` was the
number or the string ``"42"``, so a parameter typed ``string`` keeps its text
and any other is decoded. A value that does not decode to an allowed type is
left as text: the env's schema check then words the error (``'abc' is not of
type 'integer'``), which is the message the policy needs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .json_calls import json_kind

__all__ = ["parameter_schema", "schema_types", "typed_value"]

_PYTHON_LITERALS = {"True": True, "False": False, "None": None}
_JSON_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_MISSING = object()


def schema_types(schema: Any) -> frozenset[str] | None:
    """The JSON types a schema allows, or ``None`` when it does not say.

    Reads ``type`` (a name or a list), else ``const``/``enum`` values, else
    the union of ``anyOf``/``oneOf`` branches. ``number`` includes ``integer``.

    Example:
        >>> sorted(schema_types({"type": ["number", "null"]}))
        ['integer', 'null', 'number']
        >>> schema_types({"enum": ["a", "b"]})
        frozenset({'string'})
        >>> schema_types({"description": "anything"}) is None
        True
    """
    if not isinstance(schema, Mapping):
        return None
    declared = schema.get("type")
    types: set[str] = set()
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list) and all(isinstance(name, str) for name in declared):
        types.update(declared)
    elif "const" in schema:
        types.add(_kind(schema["const"]))
    elif isinstance(schema.get("enum"), list) and schema["enum"]:
        types.update(_kind(value) for value in schema["enum"])
    else:
        branches = schema.get("anyOf", schema.get("oneOf"))
        if not isinstance(branches, list) or not branches:
            return None
        for branch in branches:
            branch_types = schema_types(branch)
            if branch_types is None:
                return None
            types.update(branch_types)
    types &= _JSON_TYPES
    if not types:
        return None
    if "number" in types:
        types.add("integer")
    return frozenset(types)


def _kind(value: Any) -> str:
    kind = json_kind(value)
    return "integer" if kind == "number" and isinstance(value, int) else kind


def _decoded(text: str) -> Any:
    text = text.strip()
    if text in _PYTHON_LITERALS:
        return _PYTHON_LITERALS[text]
    if not text:
        return _MISSING
    try:
        return json.loads(text, parse_constant=lambda name: _raise(name))
    except (ValueError, RecursionError, MemoryError):
        return _MISSING


def _raise(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def typed_value(text: str, schema: Any) -> Any:
    """The value of one bare-text argument, typed by its parameter schema.

    Args:
        text: The argument as written between the markers.
        schema: The parameter's JSON Schema (``None`` when unknown).

    Returns:
        ``text`` itself when the schema allows only strings, or when it does
        not decode to a type the schema allows; otherwise the decoded JSON
        value (``True``/``False``/``None`` are read as Python writes them).
        Without a schema a value is decoded when it is JSON, as the templates
        print every non-string as JSON.

    Example:
        >>> typed_value("42", {"type": "string"}), typed_value("42", {"type": "integer"})
        ('42', 42)
        >>> typed_value("True", {"type": "boolean"}), typed_value("[1, 2]", None)
        (True, [1, 2])
        >>> typed_value("Paris", {"type": "integer"})  # the schema check reports it
        'Paris'
    """
    types = schema_types(schema)
    if types is not None and types == {"string"}:
        return text
    value = _decoded(text)
    if value is _MISSING:
        return text
    if types is not None and "string" in types and _kind(value) not in types:
        return text
    return value


def parameter_schema(schemas: Mapping[str, Any] | None, tool: str | None,
                     parameter: str) -> Any:
    """The JSON Schema of one parameter of one tool, or ``None``.

    Args:
        schemas: Tool name to its parameters schema (``{"type": "object",
            "properties": {...}}``), as the env passes them.
        tool: The tool's name.
        parameter: The argument's name.
    """
    if schemas is None or tool is None:
        return None
    tool_schema = schemas.get(tool)
    if not isinstance(tool_schema, Mapping):
        return None
    properties = tool_schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    return properties.get(parameter)
