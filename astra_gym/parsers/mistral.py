"""Mistral tool calls: ``[TOOL_CALLS]`` with a JSON list, or ``[TOOL_CALLS]name[ARGS]{…}``.

Reference: mistral-common's ``tokens/tokenizers/tools.py`` (the decoder of
every tokenizer version) and vLLM's ``mistral`` tool parser:

* tokenizers v2–v7 (Mistral 7B v0.3, Mixtral 8x22B, Nemo, Small 22B):
  ``[TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}, ...]``;
* v11 and later (Mistral Small 3.2, Magistral, Devstral, Ministral 3):
  ``[TOOL_CALLS]name[ARGS]{...}``, one ``[TOOL_CALLS]`` per call, optionally
  ``[TOOL_CALLS]name[CALL_ID]id[ARGS]{...}``. vLLM also reads the ``[ARGS]``
  token left out (``[TOOL_CALLS]name{...}``), and so does this parser.

Text before the first ``[TOOL_CALLS]`` is the content. Magistral's
``[THINK]…[/THINK]`` reasoning is removed before (see
:func:`~astra_gym.parsers.strip_reasoning`). ``[TOOL_CALLS]`` is a control
token: once it is in the turn, whatever follows is a call attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .json_calls import STRICT_DECODER, ParsedCall
from .markup import RenderCall, arguments_call, find_all, json_call_list, limited, read_name
from .text import clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_mistral", "render_mistral", "render_mistral_v3"]

TOOL_CALLS = "[TOOL_CALLS]"
ARGS = "[ARGS]"
CALL_ID = "[CALL_ID]"
MARKERS = (TOOL_CALLS,)
_WHERE = f"after {TOOL_CALLS}"


def _strip_eos(text: str) -> str:
    text = text.strip()
    while text.endswith("</s>"):
        text = text[:-4].rstrip()
    return text


def _v11_calls(body: str, room: int | None) -> tuple[list[ParsedCall], str, int]:
    """The ``name[ARGS]{...}`` calls of one segment, any prose left after them, and how
    many further calls were only counted (beyond ``room``)."""
    calls: list[ParsedCall] = []
    pos, size = 0, len(body)
    args = brace = -2  # the next [ARGS] and "{" at or after pos (-1: none left); kept
    while pos < size:  # between rounds so that the scan stays linear
        if args != -1 and args < pos:
            args = body.find(ARGS, pos)
        if brace != -1 and brace < pos:
            brace = body.find("{", pos)
        if args < 0 and brace < 0:
            if calls:  # prose after the calls
                return calls, body[pos:], 0
            name, _ = read_name(body[pos:], "")
            return [ParsedCall(name, {}, raw=clip(body),
                               error=f"no {ARGS} and arguments after the function name "
                                     f"{_WHERE}")], "", 0
        if room is not None and len(calls) >= room:
            return calls, "", max(body.count(ARGS, pos), 1)
        if args >= 0 and (brace < 0 or args < brace):
            header, start = body[pos:args], args + len(ARGS)
        else:
            header, start = body[pos:brace], brace
        call_id = None
        if CALL_ID in header:
            header, _, call_id = header.partition(CALL_ID)
            call_id = call_id.strip() or None
        name, error = read_name(header, _WHERE)
        if error is not None:
            calls.append(ParsedCall(None, {}, raw=clip(body[pos:]), error=error))
            return calls, "", 0
        assert name is not None
        begin = start
        while begin < size and body[begin].isspace():
            begin += 1
        try:
            _, end = STRICT_DECODER.raw_decode(body, begin)
        except (ValueError, RecursionError, MemoryError):
            calls.append(arguments_call(name, body[start:], f"after {ARGS}", call_id=call_id))
            return calls, "", 0
        calls.append(arguments_call(name, body[start:end], f"after {ARGS}", call_id=call_id))
        pos = end
        while pos < size and (body[pos].isspace() or body[pos] == ","):
            pos += 1
    return calls, "", 0


def parse_mistral(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a Mistral turn.

    Args:
        text: The visible text (reasoning removed).
        context: The call limit.

    Returns:
        The turn (each ``[TOOL_CALLS]`` segment gives its calls or one error
        call), or ``None`` when there is no ``[TOOL_CALLS]``.

    Example:
        >>> turn = parse_mistral('[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'
        ...                      '[TOOL_CALLS]get_time[ARGS]{"city": "Paris"}')
        >>> [(c.name, c.arguments) for c in turn.calls]
        [('get_weather', {'city': 'Paris'}), ('get_time', {'city': 'Paris'})]
        >>> parse_mistral('[TOOL_CALLS][{"name": "f", "arguments": {}, "id": "a1b2c3d4e"}]'
        ...               ).calls[0].call_id
        'a1b2c3d4e'
    """
    positions = find_all(text, TOOL_CALLS)
    if not positions:
        return None
    bounds = [*positions, len(text)]
    segments = [text[bounds[i] + len(TOOL_CALLS):bounds[i + 1]] for i in range(len(positions))]
    segments, dropped = limited(segments, context.max_calls)
    content = [text[:positions[0]]]
    calls: list[ParsedCall] = []
    for segment in segments:
        body = _strip_eos(segment)
        if not body:
            calls.append(ParsedCall(None, {}, error=f"no tool call {_WHERE}"))
        elif body[0] in "[{":
            calls.extend(json_call_list(body, _WHERE))
        else:
            room = None if context.max_calls is None else max(context.max_calls - len(calls), 1)
            found, rest, more = _v11_calls(body, room)
            calls.extend(found)
            content.append(rest)
            dropped += more
    return ParsedTurn(" ".join(part.strip() for part in content if part.strip()), tuple(calls),
                      "mistral", dropped)


def render_mistral(calls: Sequence[RenderCall]) -> str:
    """The v11+ form: ``[TOOL_CALLS]name[ARGS]{...}`` for each call."""
    return "".join(f"{TOOL_CALLS}{call.name}{ARGS}{call.raw}" for call in calls)


def render_mistral_v3(calls: Sequence[RenderCall]) -> str:
    """The v2–v7 form: ``[TOOL_CALLS]`` and one JSON list of call objects."""
    return TOOL_CALLS + "[" + ", ".join(
        f'{{"name": {json.dumps(call.name, ensure_ascii=False)}, "arguments": {call.raw}}}'
        for call in calls) + "]"
