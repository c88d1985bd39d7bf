"""Helpers shared by the marker-delimited formats (DeepSeek, Kimi, Mistral, harmony, ...).

Each family parser finds its own markers; the pieces between them (a name, a
JSON argument object, a JSON list of call objects) are read here, so every
family words the same mistake the same way. Scanning uses ``str.find``, which
stays linear on hostile input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from .json_calls import (
    ParsedCall,
    call_from_object,
    decode_json,
    decode_json_values,
    json_kind,
    recover_name,
    safe_dump,
    too_long,
)
from .text import FENCE, MAX_CALL_CHARS, clip, single_fence

__all__ = ["MARKERS", "NAME", "REASONING_MARKERS", "RenderCall", "arguments_call",
           "check_bare_argument", "escape_markers", "find_all", "json_call_list", "limited",
           "read_name", "value_text"]

_FENCE_LANGUAGE = re.compile(r"(?:json)?", re.IGNORECASE)
#: A function name as the markup formats write it: no spaces, quotes or markup.
NAME = re.compile(r"[^\s<>{}\[\]()\"'`,;|]{1,200}")


class RenderCall(NamedTuple):
    """One call to write out, as every renderer takes it.

    Attributes:
        name: The function name.
        arguments: The arguments; ``None`` when they are only known as text
            that is not a JSON object (then formats that need each argument
            cannot write the call).
        raw: The arguments as compact JSON text (or the unparsable text).
    """

    name: str
    arguments: dict[str, Any] | None
    raw: str

    def named_arguments(self, call_format: str) -> dict[str, Any]:
        """The arguments, for formats that write each one; raises when unknown.

        Raises:
            ValueError: The arguments are not a JSON object.
        """
        if self.arguments is None:
            raise ValueError(f"cannot write {self.name!r} in {call_format}: its arguments are "
                             f"not a JSON object ({clip(self.raw, 60)!r})")
        return self.arguments


#: Text that means markup to some parser: every family's call markers, and reasoning tags
#: (removed from the whole turn before any call is read). A JSON string holding one is
#: written with its first character as a ``\\uXXXX`` escape (see :func:`escape_markers`).
MARKERS = ("<tool_call>", "</tool_call>", "<function=", "<|", "<｜", "[TOOL_CALLS]", "[ARGS]",
           "[CALL_ID]", "<think>", "</think>", "[THINK]", "[/THINK]")
#: The reasoning tags: no format can carry them in a bare-text value.
REASONING_MARKERS = ("<think>", "</think>", "[THINK]", "[/THINK]")


def escape_markers(json_text: str) -> str:
    """JSON text whose strings cannot be mistaken for markup; the same JSON value.

    Each marker of :data:`MARKERS` inside the text gets its first character
    written as a JSON ``\\uXXXX`` escape. Outside strings JSON never holds
    ``<`` or ``[`` followed by a letter or ``/``, so only string contents
    change, and they decode to the same value.

    Example:
        >>> escape_markers('{"q": "a</tool_call>b"}')
        '{"q": "a\\\\u003c/tool_call>b"}'
    """
    if "<" not in json_text and "[" not in json_text:
        return json_text
    for marker in MARKERS:
        if marker in json_text:
            json_text = json_text.replace(marker, f"\\u{ord(marker[0]):04x}{marker[1:]}")
    return json_text


def value_text(value: Any) -> str:
    """An argument value as the XML-style templates print it: strings bare, the rest as JSON.

    The JSON of a non-string value has every ``<`` (and any reasoning tag)
    escaped, so it never holds markup, whatever its strings say.

    Example:
        >>> value_text("a<b"), value_text({"k": "</arg_value>"}), value_text(True)
        ('a<b', '{"k": "\\\\u003c/arg_value>"}', 'true')
    """
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False)
    if "<" in text:
        text = text.replace("<", "\\u003c")
    return escape_markers(text) if "[" in text else text


def check_bare_argument(call: str, call_format: str, key: str, value: Any,
                        closers: Sequence[str]) -> str:
    """The text of one argument for a format that writes values bare; raises when it cannot.

    Args:
        call: The function name, for the message.
        call_format: The format, for the message.
        key: The argument's name: it must be non-empty, without surrounding
            whitespace, line breaks or ``<``/``>``/``"``.
        value: The argument's value.
        closers: Markup that ends a value in this format; a string value
            holding one (or a reasoning tag) cannot be written.

    Raises:
        ValueError: The key or the value cannot be written in the format
            (its chat template could not write it either).
    """
    if not key or key != key.strip() or any(char in key for char in '<>"\n\r='):
        raise ValueError(f"cannot write argument {key!r} of {call!r} in {call_format}: the "
                         "name has markup characters, line breaks or surrounding spaces")
    text = value_text(value)
    for marker in (*closers, *REASONING_MARKERS):
        if marker in text:
            raise ValueError(f"cannot write argument {key!r} of {call!r} in {call_format}: "
                             f"the value holds {marker!r}")
    return text


def find_all(text: str, marker: str, start: int = 0, end: int | None = None) -> list[int]:
    """Every position of ``marker`` in ``text[start:end]``, in order."""
    stop = len(text) if end is None else end
    positions = []
    pos = text.find(marker, start, stop)
    while pos >= 0:
        positions.append(pos)
        pos = text.find(marker, pos + len(marker), stop)
    return positions


def limited(items: Sequence[Any], max_calls: int | None) -> tuple[Sequence[Any], int]:
    """The first ``max_calls`` items and how many were left out."""
    if max_calls is None or len(items) <= max_calls:
        return items, 0
    return items[:max_calls], len(items) - max_calls


def read_name(text: str, where: str) -> tuple[str | None, str | None]:
    """A function name written between markers: ``(name, None)`` or ``(None, error)``.

    Args:
        text: The text that should be the name (surrounding whitespace is ignored).
        where: Where the name stands, for the message (``"after [TOOL_CALLS]"``).
    """
    name = text.strip()
    if not name:
        return None, f"no function name {where}"
    if not NAME.fullmatch(name):
        return None, f"not a function name {where}: {clip(name, 60)!r}"
    return name, None


def _unfenced(text: str) -> str:
    """``text`` without one code fence around it (DeepSeek V3's ```` ```json ```` block).

    Only the outer fence counts: the JSON inside may hold backticks in its strings.
    """
    fence = single_fence(text)
    if fence is not None:
        return fence[1].strip()
    if text.startswith(FENCE) and text.endswith(FENCE) and "\n" in text:
        head, _, rest = text.partition("\n")
        if _FENCE_LANGUAGE.fullmatch(head[len(FENCE):].strip()):
            return rest[:-len(FENCE)].strip()
    return text


def arguments_call(name: str, text: str, where: str, *, call_id: str | None = None,
                   raw: str = "") -> ParsedCall:
    """The call of ``name`` whose arguments are the JSON object ``text``.

    Args:
        name: The function name, already read.
        text: The argument text; whitespace and a fenced ``json`` block around
            it are ignored; empty means no arguments.
        where: The markup around it, for messages (``"after <|message|>"``).
        call_id: The call's id when the format carries one.
        raw: The call's text for the ``raw`` excerpt (default: ``text``).

    Returns:
        The call, or an error call (``name`` kept) saying why the arguments
        could not be read.

    Example:
        >>> arguments_call("f", '{"a": 1}', "after [ARGS]").arguments
        {'a': 1}
        >>> arguments_call("f", '{"a": 1', "after [ARGS]").error[:52]
        "the arguments of 'f' after [ARGS] are not valid JSON"
    """
    raw = clip(raw or text.strip())
    body = _unfenced(text.strip())
    if not body:
        return ParsedCall(name, {}, raw=raw, call_id=call_id)
    if len(body) > MAX_CALL_CHARS:
        return too_long(body, name)
    try:
        value = decode_json(body)
    except ValueError as exc:
        return ParsedCall(name, {}, raw=raw, call_id=call_id,
                          error=f"the arguments of {name!r} {where} are not valid JSON: {exc}")
    if not isinstance(value, dict):
        return ParsedCall(name, {}, raw=raw, call_id=call_id,
                          error=f"the arguments of {name!r} {where} must be a JSON object, "
                                f"got {json_kind(value)}")
    return ParsedCall(name, value, raw=raw, call_id=call_id)


def json_call_list(text: str, where: str) -> list[ParsedCall]:
    """Calls written as JSON call objects: a list ``[{"name", "arguments"}, ...]`` or objects.

    Mistral's ``[TOOL_CALLS][...]`` and Granite's ``<|tool_call|>[...]`` write
    their calls this way; an object may carry an ``id`` (Mistral), kept as
    the call id.

    Args:
        text: The JSON text (a fenced block around it is ignored).
        where: The marker before it, for messages.

    Returns:
        One call per call object; one error call when the text is empty or
        not valid JSON.
    """
    body = _unfenced(text.strip())
    if not body:
        return [ParsedCall(None, {}, error=f"no tool call {where}")]
    if len(body) > MAX_CALL_CHARS:
        return [too_long(body, recover_name(body))]
    try:
        values = decode_json_values(body)
    except ValueError as exc:
        return [ParsedCall(recover_name(body), {}, raw=clip(body),
                           error=f"invalid JSON {where}: {exc}")]
    items: list[Any] = []
    for value in values:
        if isinstance(value, list):
            if not value:
                return [ParsedCall(None, {}, raw=clip(body), error=f"empty list {where}")]
            items.extend(value)
        else:
            items.append(value)
    single = len(items) == 1
    calls = []
    for item in items:
        call_id = item.get("id") if isinstance(item, dict) else None
        calls.append(call_from_object(item, raw=body if single else safe_dump(item),
                                      call_id=call_id if isinstance(call_id, str) else None,
                                      plain=True))
    return calls
