"""Hermes-style tool calls: ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>``.

This is the format of the Hermes, Qwen 2.5/3 and many other chat templates.
Parsing is tolerant of what models actually write: whitespace and a code
fence inside the tag, a missing closing tag (the block then ends at the next
``<tool_call>`` or at the end of the text), ``arguments`` given as a JSON
string, ``parameters`` for ``arguments``, no arguments at all, a list of call
objects or several objects back to back in one tag.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from .json_calls import (
    ParsedCall,
    call_from_object,
    decode_json_values,
    recover_name,
    safe_dump,
    too_long,
)
from .markup import RenderCall
from .text import MAX_CALL_CHARS, clip, single_fence

__all__ = ["TOOL_CALL_CLOSE", "TOOL_CALL_OPEN", "find_hermes_blocks", "parse_hermes",
           "parse_hermes_block", "remove_hermes_blocks", "render_hermes"]

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"
_JSON_RETRIES = 8
_DECODER = json.JSONDecoder()


class HermesBlock(NamedTuple):
    """One ``<tool_call>`` block: its span in the text and the text inside the tags."""

    start: int
    end: int
    body: str
    #: The body's JSON values when the scan already decoded them (else None).
    values: list[Any] | None = None


def _json_end(text: str, start: int,
              stop: int) -> tuple[int | None, bool, list[Any] | None]:
    """Where the block starting at ``start`` really ends when its JSON holds a tag.

    ``text[start:stop]`` is the body found by tag search; when it is not valid
    JSON but the JSON value starting there runs past ``stop`` and is followed
    by a closing tag (or the next opening tag, or the end), that is the end.

    Returns:
        ``(end, tried, values)``: the new end (``None`` to keep ``stop``),
        whether the body was broken JSON (so a scan past ``stop`` was tried),
        and the decoded values when the body was valid (saves a second decode).
    """
    raw_body = text[start:stop]
    body = raw_body.strip()
    if not body or body[0] not in "{[" or len(body) > MAX_CALL_CHARS:
        return None, False, None
    try:
        return None, False, decode_json_values(body)
    except ValueError:
        pass
    begin = start + len(raw_body) - len(raw_body.lstrip())
    try:
        _, pos = _DECODER.raw_decode(text, begin)
    except (ValueError, RecursionError, MemoryError):
        return None, True, None
    if pos <= stop or pos - begin > MAX_CALL_CHARS:
        return None, True, None
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos == len(text) or text.startswith(TOOL_CALL_CLOSE, pos) or text.startswith(
            TOOL_CALL_OPEN, pos):
        return pos, True, None
    return None, True, None


def find_hermes_blocks(text: str) -> list[HermesBlock]:
    """Locate every ``<tool_call>`` block, in order.

    A block ends at its ``</tool_call>``; when that is missing, at the next
    ``<tool_call>`` or at the end of the text. When a block is not valid JSON
    that way but its JSON value holds a tag inside a string (an argument
    quoting ``</tool_call>``), the block ends after that JSON value instead
    (for the first few such blocks of a turn, which keeps the scan linear).

    Args:
        text: The assistant's text.

    Returns:
        The blocks.
    """
    blocks = []
    pos = 0
    close = -2  # the next closing tag at or after ``pos`` (-1: none left)
    retries = _JSON_RETRIES
    while True:
        start = text.find(TOOL_CALL_OPEN, pos)
        if start < 0:
            return blocks
        body_start = start + len(TOOL_CALL_OPEN)
        if close != -1 and close < body_start:
            close = text.find(TOOL_CALL_CLOSE, body_start)
        following = text.find(TOOL_CALL_OPEN, body_start)
        if close >= 0 and (following < 0 or close < following):
            body_end, end = close, close + len(TOOL_CALL_CLOSE)
        elif following >= 0:
            body_end = end = following
        else:
            body_end = end = len(text)
        values = None
        if retries and body_end < len(text):
            json_end, tried, values = _json_end(text, body_start, body_end)
            retries -= tried
            if json_end is not None:
                body_end = end = json_end
                if text.startswith(TOOL_CALL_CLOSE, json_end):
                    end += len(TOOL_CALL_CLOSE)
        blocks.append(HermesBlock(start, end, text[body_start:body_end], values))
        pos = end


def remove_hermes_blocks(text: str, blocks: list[HermesBlock] | None = None) -> str:
    """The text with its ``<tool_call>`` blocks (and stray closing tags) removed, stripped.

    Args:
        text: The assistant's text.
        blocks: Its blocks, if already found.

    Returns:
        The remaining prose.

    Example:
        >>> remove_hermes_blocks('Checking.\\n<tool_call>{"name": "f"}</tool_call>')
        'Checking.'
    """
    if blocks is None:
        blocks = find_hermes_blocks(text)
    pieces = []
    pos = 0
    for block in blocks:
        pieces.append(text[pos:block.start])
        pos = block.end
    pieces.append(text[pos:])
    rest = "".join(pieces).replace(TOOL_CALL_CLOSE, "").strip()
    fence = single_fence(rest)
    if fence is not None and not fence[1].strip():  # the calls were fenced
        return ""
    return rest


def parse_hermes_block(block: HermesBlock) -> list[ParsedCall]:
    """The calls of one ``<tool_call>`` block whose body is JSON (error calls when it is not)."""
    text = block.body.strip()
    raw = clip(text)
    values = block.values
    if values is None:
        fence = single_fence(text)
        if fence is not None:
            text = fence[1].strip()
        if not text:
            return [ParsedCall(None, {}, raw=raw, error="empty <tool_call> block")]
        if len(text) > MAX_CALL_CHARS:
            return [too_long(text, recover_name(text))]
        try:
            values = decode_json_values(text)
        except ValueError as exc:
            return [ParsedCall(recover_name(text), {}, raw=raw,
                               error=f"invalid JSON in <tool_call>: {exc}")]
    calls = []
    for value in values:
        if isinstance(value, list):
            if not value:
                calls.append(ParsedCall(None, {}, raw=raw,
                                        error="empty list in <tool_call>"))
            for item in value:
                calls.append(call_from_object(item, raw=safe_dump(item), plain=True))
        else:
            calls.append(call_from_object(value, raw=raw if len(values) == 1
                                          else safe_dump(value), plain=True))
    return calls


def parse_hermes(text: str, blocks: list[HermesBlock] | None = None) -> list[ParsedCall]:
    """Parse every ``<tool_call>`` block of a turn.

    Reasoning is not removed here: call :func:`strip_reasoning` first, or a
    ``<tool_call>`` quoted inside ``<think>`` counts.

    Args:
        text: The assistant's text.
        blocks: Its blocks, if already found with :func:`find_hermes_blocks`.

    Returns:
        One call per call object, in order; a block that cannot be parsed
        (bad JSON, no ``name``, ``arguments`` not an object) gives a call with
        ``error`` set (and ``name`` when it could be recovered). No tags: ``[]``.

    Example:
        >>> calls = parse_hermes('<tool_call>\\n{"name": "get_weather", '
        ...                      '"arguments": {"city": "Paris"}}\\n</tool_call>')
        >>> calls[0].name, calls[0].arguments
        ('get_weather', {'city': 'Paris'})
        >>> bad = parse_hermes('<tool_call>{"name": "f", "arguments": {]}</tool_call>')[0]
        >>> bad.name, bad.error[:28]
        ('f', 'invalid JSON in <tool_call>:')
    """
    calls: list[ParsedCall] = []
    for block in find_hermes_blocks(text) if blocks is None else blocks:
        calls.extend(parse_hermes_block(block))
    return calls


def render_hermes(calls: Sequence[RenderCall]) -> str:
    """One ``<tool_call>`` block per call, as the Hermes and Qwen templates write them."""
    return "\n".join(f'<tool_call>\n{{"name": {json.dumps(call.name, ensure_ascii=False)}, '
                     f'"arguments": {call.raw}}}\n</tool_call>' for call in calls)
