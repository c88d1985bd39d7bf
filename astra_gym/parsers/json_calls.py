"""Tool calls written as JSON objects, and the :class:`ParsedCall` record.

One interpreter, :func:`call_from_object`, turns a decoded call object into a
:class:`ParsedCall`; hermes tags, bare JSON turns and OpenAI ``tool_calls``
entries all go through it, so they accept the same shapes and report the same
errors.

Bare JSON (:func:`parse_json_calls`) is detected conservatively, because a
final answer may well be JSON: the whole turn (or the body of one fenced block
with no prose around it, tagged ``json`` or untagged) must be a call object,
``{"tool_calls": [...]}`` or a non-empty list of call objects. A call object is
``{"name": ..., "arguments": ...}`` (``"parameters"`` also accepted) with no
keys other than ``name``, ``arguments``, ``parameters``, ``id`` and ``type``,
or ``{"function": {"name": ...}}`` with no keys other than ``function``,
``id`` and ``type``. Anything else is not a call (``None``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .text import MAX_CALL_CHARS, clip, unfence

__all__ = ["STRICT_DECODER", "ParsedCall", "call_from_object", "decode_json",
           "is_call_object", "parse_json_calls"]

JSON_FENCE_LANGUAGES = ("", "json")
_CALL_KEYS = frozenset({"name", "arguments", "parameters", "id", "type"})
_WRAPPED_KEYS = frozenset({"function", "id", "type"})
_MESSAGE_KEYS = frozenset({"tool_calls", "role", "content"})
_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\\n]|\\.){1,200})"')
_CALL_HINT = re.compile(r'"tool_calls"\s*:|"function"\s*:\s*\{')
_NAME_KEY = re.compile(r'"name"\s*:')
_ARGUMENTS_KEY = re.compile(r'"(?:arguments|parameters)"\s*:')


@dataclass(frozen=True)
class ParsedCall:
    """One tool-call attempt of an assistant turn.

    Either ``name`` is set and ``error`` is ``None`` (a well-formed call), or
    ``error`` says why the call could not be parsed (``name`` is then filled
    in when it could be recovered, and ``arguments`` is empty).

    Attributes:
        name: The tool's name; ``None`` when it could not be parsed.
        arguments: Keyword arguments (JSON data); ``{}`` when unparsable.
        args: Positional arguments (Python call syntax only); the env maps
            them onto parameters by the tool's signature.
        raw: The call's raw text, at most 200 characters (for messages). Calls
            from OpenAI message dicts carry it only when they failed: building
            it costs a ``json.dumps`` per call on the step hot path.
        error: Why the call could not be parsed; ``None`` when it was.
        call_id: The OpenAI ``tool_call`` id when the turn was a message dict.
    """

    name: str | None
    arguments: dict[str, Any] = field(default_factory=dict)
    args: tuple[Any, ...] = ()
    raw: str = ""
    error: str | None = None
    call_id: str | None = None


def json_kind(value: Any) -> str:
    """The JSON name of a value's type (``object``, ``array``, ...), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


#: A decoder for ``raw_decode`` scans that refuses ``NaN``/``Infinity`` as :func:`decode_json` does.
STRICT_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_json(text: str) -> Any:
    """Decode strict JSON (no ``NaN``/``Infinity``), never crashing on deep nesting.

    Args:
        text: JSON text.

    Returns:
        The decoded value.

    Raises:
        ValueError: When the text is not valid JSON, or nests too deeply.

    Example:
        >>> decode_json('{"a": [1, 2]}')
        {'a': [1, 2]}
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON nests too deeply") from None
    except MemoryError:
        raise ValueError("the JSON is too large to decode") from None


def decode_json_values(text: str) -> list[Any]:
    """Decode one JSON value, or several written back to back (``{...} {...}``).

    Raises:
        ValueError: As :func:`decode_json` (the message is the first decode error).
    """
    try:
        return [decode_json(text)]
    except ValueError as exc:
        first = exc
    if not str(first).startswith("Extra data"):
        raise first
    decoder = STRICT_DECODER
    values = []
    pos, end = 0, len(text)
    while pos < end:
        try:
            value, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError, MemoryError):
            raise first from None
        values.append(value)
        while pos < end and text[pos].isspace():
            pos += 1
    return values


def recover_name(text: str) -> str | None:
    """The first ``"name": "..."`` value in (possibly broken) JSON text, if any."""
    match = _NAME.search(text[:5_000])
    if match is None:
        return None
    try:
        name = json.loads(f'"{match.group(1)}"')
    except ValueError:
        name = match.group(1)
    return name if isinstance(name, str) and name.strip() else None


def safe_dump(value: Any) -> str:
    """Compact JSON for a ``raw`` excerpt; never raises."""
    try:
        return json.dumps(value, ensure_ascii=False, default=repr)
    except Exception:  # circular, deep or odd keys: only an excerpt is at stake
        return f"<{type(value).__name__}>"


def too_long(text: str, name: str | None = None) -> ParsedCall:
    """The error call for a call text over :data:`MAX_CALL_CHARS`."""
    return ParsedCall(name, {}, raw=clip(text),
                      error=f"the call is too long ({len(text)} characters; "
                            f"the limit is {MAX_CALL_CHARS})")


def coerce_arguments(value: Any, key: str = "arguments",
                     plain: bool = False) -> tuple[dict[str, Any], str | None]:
    """Turn an ``arguments`` value into a JSON object.

    Args:
        value: ``None`` (no arguments), a JSON string holding an object, or a mapping.
        key: The field's name, for messages (``arguments`` or ``parameters``).
        plain: The value was just decoded from strict JSON, so it needs no
            copying into plain data.

    Returns:
        ``(arguments, None)``, or ``({}, error)`` when the value is not a JSON object.
    """
    if value is None:
        return {}, None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}, None
        if len(text) > MAX_CALL_CHARS:
            return {}, (f'"{key}" is too long ({len(text)} characters; '
                        f"the limit is {MAX_CALL_CHARS})")
        try:
            value = decode_json(text)
        except ValueError as exc:
            return {}, f'"{key}" is not valid JSON: {exc}'
        if isinstance(value, dict):
            return value, None  # freshly decoded strict JSON: already plain data (hot path)
    if not isinstance(value, Mapping):
        return {}, f'"{key}" must be a JSON object, got {json_kind(value)}'
    if plain and isinstance(value, dict):
        return value, None
    for name in value:
        if not isinstance(name, str):
            return {}, f'"{key}" has a non-string key {safe_dump(name)[:60]}'
    try:  # a copy that is plain JSON data (tuples become lists), whatever the input held
        arguments = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError, RecursionError, MemoryError) as exc:
        return {}, f'"{key}" is not JSON data: {str(exc)[:100]}'
    return arguments, None


def call_from_object(obj: Any, *, raw: str, call_id: str | None = None,
                     plain: bool = False) -> ParsedCall:
    """Interpret one decoded call object.

    Accepted shapes: ``{"name", "arguments"}`` (``"parameters"`` is an alias;
    missing or ``null`` arguments mean ``{}``; a JSON string is decoded) and
    ``{"id", "type", "function": {"name", "arguments"}}``.

    Args:
        obj: The decoded value.
        raw: The call's raw text (clipped here).
        call_id: The call's id, if known (else taken from a ``function`` wrapper).
        plain: ``obj`` was just decoded from strict JSON (its arguments need
            no copying).

    Returns:
        The call, or an error call saying what is wrong with it.

    Example:
        >>> call_from_object({"name": "f", "arguments": '{"a": 1}'}, raw="").arguments
        {'a': 1}
        >>> call_from_object({"name": "f", "arguments": [1]}, raw="").error
        '"arguments" must be a JSON object, got array'
    """
    raw = clip(raw)
    if not isinstance(obj, Mapping):
        return ParsedCall(None, {}, raw=raw, call_id=call_id,
                          error=f'expected a JSON object with "name" and "arguments", '
                                f"got {json_kind(obj)}")
    if "name" not in obj and "function" in obj:
        if call_id is None and isinstance(obj.get("id"), str):
            call_id = obj["id"]
        obj = obj["function"]
        if not isinstance(obj, Mapping):
            return ParsedCall(None, {}, raw=raw, call_id=call_id,
                              error=f'"function" must be an object with "name" and '
                                    f'"arguments", got {json_kind(obj)}')
    name = obj.get("name")
    if name is None:
        return ParsedCall(None, {}, raw=raw, call_id=call_id, error='the call has no "name"')
    if not isinstance(name, str) or not name.strip():
        return ParsedCall(None, {}, raw=raw, call_id=call_id,
                          error=f'"name" must be a non-empty string, got {json_kind(name)}'
                          + (" (empty)" if isinstance(name, str) else ""))
    key = "arguments" if "arguments" in obj or "parameters" not in obj else "parameters"
    arguments, error = coerce_arguments(obj.get(key), key, plain)
    if error is not None:
        return ParsedCall(name, {}, raw=raw, call_id=call_id, error=error)
    return ParsedCall(name, arguments, raw=raw, call_id=call_id)


def is_call_object(value: Any) -> bool:
    """Whether a decoded value is exactly a call object (see the module docstring)."""
    if not isinstance(value, Mapping):
        return False
    keys = set(value)
    if "name" in keys and ("arguments" in keys or "parameters" in keys):
        return keys <= _CALL_KEYS
    function = value.get("function")
    return isinstance(function, Mapping) and "name" in function and keys <= _WRAPPED_KEYS


def _call_objects(value: Any) -> list[Any] | None:
    if isinstance(value, Mapping):
        if "tool_calls" in value and set(value) <= _MESSAGE_KEYS:
            calls = value["tool_calls"]
            return list(calls) if isinstance(calls, list) and calls else None
        return [value] if is_call_object(value) else None
    if isinstance(value, list) and value and all(is_call_object(item) for item in value):
        return value
    return None


def _looks_like_call(text: str) -> bool:
    head = text[:5_000]
    return bool(_CALL_HINT.search(head)
                or (_NAME_KEY.search(head) and _ARGUMENTS_KEY.search(head)))


def parse_json_calls(text: str) -> list[ParsedCall] | None:
    """Parse a turn that is nothing but JSON tool calls.

    The whole text (surrounding whitespace aside), or the body of a single
    fenced block (untagged or ``json``) with no prose around it, must be one
    of: a call object ``{"name": ..., "arguments": {...}}`` (or
    ``"parameters"``; no other keys than ``id`` and ``type``), a wrapped one
    ``{"function": {"name": ..., "arguments": ...}}``, an OpenAI-style
    ``{"tool_calls": [...]}``, or a non-empty list of call objects.
    Reasoning is not removed here (see :func:`strip_reasoning`).

    Args:
        text: The assistant's visible text.

    Returns:
        The calls (some may carry an error, e.g. ``arguments`` that is not an
        object), or ``None`` when the text is not JSON tool calls, e.g. a
        final answer that happens to be JSON without a ``"name"`` key. Text
        that is invalid JSON but plainly meant as a call (it has ``"name"``
        and ``"arguments"`` keys, or ``"tool_calls"``/``"function": {``)
        gives one error call.

    Example:
        >>> [call.name for call in parse_json_calls('[{"name": "f", "arguments": {}},'
        ...                                        ' {"name": "g", "arguments": {"x": 1}}]')]
        ['f', 'g']
        >>> parse_json_calls('{"name": "Ada", "born": 1815}') is None
        True
        >>> parse_json_calls('{"name": "f", "arguments": {"a": 1}')[0].error
        "invalid JSON: Expecting ',' delimiter: line 1 column 36 (char 35)"
    """
    body = unfence(text, JSON_FENCE_LANGUAGES)
    if body is None:
        return None
    if not body or body[0] not in "{[":
        return None
    if len(body) > MAX_CALL_CHARS:
        return [too_long(body, recover_name(body))] if _looks_like_call(body) else None
    try:
        value = decode_json(body)
    except ValueError as exc:
        if _looks_like_call(body):
            return [ParsedCall(recover_name(body), {}, raw=clip(body),
                               error=f"invalid JSON: {exc}")]
        return None
    objects = _call_objects(value)
    if objects is None:
        return None
    if len(objects) == 1:
        return [call_from_object(objects[0], raw=body, plain=True)]
    return [call_from_object(obj, raw=safe_dump(obj), plain=True) for obj in objects]
