"""Llama 3.x/4 tool calls: ``<|python_tag|>`` and JSON calls separated by ``;``.

Reference: Meta's Llama 3.1 chat template and prompt-format docs (custom tools
answer ``{"name": ..., "parameters": {...}}``; built-in tools follow
``<|python_tag|>`` as ``brave_search.call(query="...")``; the message ends with
``<|eom_id|>`` or ``<|eot_id|>``), vLLM's ``llama3_json`` tool parser (several
JSON calls after ``<|python_tag|>``, separated by ``;``) and Llama 4's
``<|python_start|>…<|python_end|>`` wrapper.

Two shapes:

* Tagged: prose, then ``<|python_tag|>`` (or ``<|python_start|>``) and the
  calls: JSON call objects separated by ``;`` (or a JSON list), or Python call
  syntax. Whatever follows the tag is a call attempt: text that is neither is
  an error call, never a final answer.
* Bare (no tag): the whole turn is JSON call objects separated by ``;``, as
  Llama 3.2/3.3 write several custom-tool calls. Detected conservatively, like
  bare JSON (:mod:`~astra_gym.parsers.json_calls`): every piece must be a call
  object, or the turn is not calls. Forced (``action_format="llama3"``), a
  bare turn may also be one JSON call or Llama 3.2/4's pythonic list
  ``[get_weather(city="Paris")]`` of known tools.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .json_calls import (
    STRICT_DECODER,
    ParsedCall,
    call_from_object,
    is_call_object,
    parse_json_calls,
    recover_name,
    safe_dump,
)
from .markup import RenderCall, find_all, limited
from .python_calls import parse_python_calls
from .text import MAX_CALL_CHARS, clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_llama3", "render_llama3"]

PYTHON_TAG = "<|python_tag|>"
PYTHON_START = "<|python_start|>"
PYTHON_END = "<|python_end|>"
#: What ends a Llama message (a raw generation may keep them).
END_TOKENS = ("<|eom_id|>", "<|eot_id|>", "<|end_of_text|>", "<|eom|>", "<|eot|>", PYTHON_END)
MARKERS = (PYTHON_TAG, PYTHON_START)


def _strip_end_tokens(text: str) -> str:
    text = text.strip()
    changed = True
    while changed:
        changed = False
        for token in END_TOKENS:
            if text.endswith(token):
                text = text[:-len(token)].rstrip()
                changed = True
    return text


def _json_sequence(text: str) -> list[Any] | None:
    """The JSON values of ``{...}; {...}`` (``;`` or whitespace between), or None."""
    values = []
    pos, end = 0, len(text)
    while pos < end:
        try:
            value, pos = STRICT_DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError, MemoryError):
            return None
        values.append(value)
        while pos < end and (text[pos].isspace() or text[pos] == ";"):
            pos += 1
    return values


def _objects(values: Sequence[Any]) -> list[Any]:
    items: list[Any] = []
    for value in values:
        items.extend(value if isinstance(value, list) else [value])
    return items


def _tagged_calls(body: str, tag: str) -> list[ParsedCall]:
    """The calls written after one tag: JSON call objects, or Python calls."""
    body = _strip_end_tokens(body)
    if not body:
        return [ParsedCall(None, {}, error=f"no tool call after {tag}")]
    if len(body) > MAX_CALL_CHARS:
        return [ParsedCall(recover_name(body), {}, raw=clip(body),
                           error=f"the call is too long ({len(body)} characters; the limit "
                                 f"is {MAX_CALL_CHARS})")]
    values = _json_sequence(body) if body[0] in "{[" else None
    if values is not None:
        items = _objects(values)
        if not items:
            return [ParsedCall(None, {}, raw=clip(body), error=f"empty list after {tag}")]
        single = len(items) == 1
        return [call_from_object(item, raw=body if single else safe_dump(item), plain=True)
                for item in items]
    # built-in tools (brave_search.call(query="...")) and Llama 4's [f(a=1), g()]
    calls = parse_python_calls(body, None)
    if calls:
        return calls
    if body[0] == "{" or (body[0] == "[" and body[1:].lstrip()[:1] in ("{", "]", "")):
        return [ParsedCall(recover_name(body), {}, raw=clip(body),
                           error=f"invalid JSON after {tag}: expected call objects "
                                 '{"name": ..., "parameters": {...}} separated by ";"')]
    return [ParsedCall(None, {}, raw=clip(body),
                       error=f"expected JSON call objects or a Python call after {tag}")]


def _tag_spans(text: str) -> tuple[int, list[tuple[str, str]]]:
    """Where the first tag starts, and each tag with the text after it."""
    tags = sorted([(pos, PYTHON_TAG) for pos in find_all(text, PYTHON_TAG)]
                  + [(pos, PYTHON_START) for pos in find_all(text, PYTHON_START)])
    bodies = []
    for index, (pos, tag) in enumerate(tags):
        end = tags[index + 1][0] if index + 1 < len(tags) else len(text)
        bodies.append((tag, text[pos + len(tag):end]))
    return (tags[0][0] if tags else -1), bodies


def parse_bare_sequence(text: str) -> list[ParsedCall] | None:
    """Parse a turn that is nothing but JSON call objects separated by ``;``.

    Args:
        text: The assistant's visible text.

    Returns:
        The calls, or ``None`` when the text is not a ``;``-separated sequence
        of at least two call objects (one object alone is bare JSON, see
        :func:`~astra_gym.parsers.parse_json_calls`).

    Example:
        >>> [c.name for c in parse_bare_sequence(
        ...     '{"name": "f", "parameters": {}}; {"name": "g", "parameters": {"x": 1}}')]
        ['f', 'g']
        >>> parse_bare_sequence('{"a": 1}; {"b": 2}') is None
        True
    """
    body = _strip_end_tokens(text)
    if not body.startswith("{") or ";" not in body or len(body) > MAX_CALL_CHARS:
        return None
    values = _json_sequence(body)
    if values is None or len(values) < 2 or not all(is_call_object(value) for value in values):
        return None
    return [call_from_object(value, raw=safe_dump(value), plain=True) for value in values]


def parse_llama3(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a Llama 3.x/4 turn.

    Args:
        text: The visible text (reasoning removed).
        context: Tool names and the call limit.

    Returns:
        The turn, or ``None`` when the text has no ``<|python_tag|>`` /
        ``<|python_start|>`` and is not a bare sequence of JSON call objects.

    Example:
        >>> turn = parse_llama3('Checking.<|python_tag|>{"name": "f", "parameters": {"a": 1}};'
        ...                     ' {"name": "g", "parameters": {}}<|eom_id|>')
        >>> turn.content, [(c.name, c.arguments) for c in turn.calls]
        ('Checking.', [('f', {'a': 1}), ('g', {})])
    """
    start, bodies = _tag_spans(text)
    if start < 0:
        body = _strip_end_tokens(text)
        calls = parse_bare_sequence(body)
        if calls is None:  # one object alone: Llama 3.1's plain JSON custom-tool call
            calls = parse_json_calls(body)
        if calls is None:  # Llama 3.2 / 4 pythonic: [get_weather(city="Paris")]
            calls = parse_python_calls(body, context.names)
        return None if not calls else ParsedTurn("", tuple(calls), "llama3")
    kept, dropped = limited(bodies, context.max_calls)
    calls: list[ParsedCall] = []
    for tag, body in kept:
        calls.extend(_tagged_calls(body, tag))
    return ParsedTurn(text[:start].strip(), tuple(calls), "llama3", dropped)


def render_llama3(calls: Sequence[RenderCall]) -> str:
    """``<|python_tag|>`` and the calls as JSON objects with ``parameters``, ``; ``-separated."""
    return PYTHON_TAG + "; ".join(
        f'{{"name": {json.dumps(call.name, ensure_ascii=False)}, "parameters": {call.raw}}}'
        for call in calls)
