"""Kimi K2 tool calls: ``<|tool_calls_section_begin|>`` and ``functions.NAME:IDX`` ids.

Reference: the Kimi-K2-Instruct chat template (``<|tool_calls_section_begin|>``,
then per call ``<|tool_call_begin|>`` + the call id + ``<|tool_call_argument_begin|>``
+ the JSON arguments + ``<|tool_call_end|>``, then ``<|tool_calls_section_end|>``;
the id is ``functions.NAME:IDX``) and vLLM's ``kimi_k2`` tool parser, which takes
the name from the id (``functions.get_weather:0`` → ``get_weather``) and also
accepts the singular ``<|tool_call_section_begin|>``.

The id is kept as the call id: Kimi's template answers each result under it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .json_calls import ParsedCall
from .markup import RenderCall, arguments_call, find_all, limited, read_name
from .text import clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_kimi_k2", "render_kimi_k2"]

SECTION_BEGIN = "<|tool_calls_section_begin|>"
SECTION_END = "<|tool_calls_section_end|>"
SECTION_ALIASES = {"<|tool_call_section_begin|>": SECTION_BEGIN,
                   "<|tool_call_section_end|>": SECTION_END}
CALL_BEGIN = "<|tool_call_begin|>"
ARGUMENT_BEGIN = "<|tool_call_argument_begin|>"
CALL_END = "<|tool_call_end|>"
MARKERS = (SECTION_BEGIN, "<|tool_call_section_begin|>", CALL_BEGIN)


def _name_from_id(call_id: str) -> str:
    """``functions.get_weather:0`` → ``get_weather``."""
    name = call_id
    head, colon, index = name.rpartition(":")
    if colon and index.strip().isdigit():
        name = head
    return name.removeprefix("functions.")


def _call(body: str) -> ParsedCall:
    head, found, arguments = body.partition(ARGUMENT_BEGIN)
    end = arguments.find(CALL_END) if found else head.find(CALL_END)
    if found and end >= 0:
        arguments = arguments[:end]
    call_id = head.strip() if found else head[:end if end >= 0 else len(head)].strip()
    name, error = read_name(_name_from_id(call_id), f"in the call id {clip(call_id, 60)!r}")
    if error is not None:
        return ParsedCall(None, {}, raw=clip(body.strip()), error=error)
    assert name is not None
    if not found:
        return ParsedCall(name, {}, raw=clip(body.strip()), call_id=call_id,
                          error=f"no {ARGUMENT_BEGIN} after the call id {call_id!r}")
    return arguments_call(name, arguments, f"after {ARGUMENT_BEGIN}", call_id=call_id,
                          raw=body.strip())


def parse_kimi_k2(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a Kimi K2 turn.

    Args:
        text: The visible text (reasoning removed).
        context: The call limit.

    Returns:
        The turn, or ``None`` when there is no section or call marker.

    Example:
        >>> turn = parse_kimi_k2(
        ...     "I'll check.<|tool_calls_section_begin|><|tool_call_begin|>functions.get_weather:0"
        ...     '<|tool_call_argument_begin|>{"city": "Paris"}<|tool_call_end|>'
        ...     "<|tool_calls_section_end|>")
        >>> turn.content, turn.calls[0].name, turn.calls[0].call_id
        ("I'll check.", 'get_weather', 'functions.get_weather:0')
    """
    for alias, canonical in SECTION_ALIASES.items():
        if alias in text:
            text = text.replace(alias, canonical)
    section = text.find(SECTION_BEGIN)
    calls_at = find_all(text, CALL_BEGIN)
    if section < 0 and not calls_at:
        return None
    start = section if section >= 0 and (not calls_at or section < calls_at[0]) else calls_at[0]
    section_end = text.find(SECTION_END, start)
    stop = len(text) if section_end < 0 else section_end
    calls_at = [pos for pos in calls_at if pos < stop]
    tail = "" if section_end < 0 else text[section_end + len(SECTION_END):]
    content = " ".join(part.strip() for part in (text[:start], tail) if part.strip())
    if not calls_at:
        return ParsedTurn(content, (ParsedCall(None, {}, raw=clip(text[start:stop].strip()),
                                               error=f"no {CALL_BEGIN} in {SECTION_BEGIN}"),),
                          "kimi_k2")
    bounds = [*calls_at, stop]
    bodies = [text[bounds[i] + len(CALL_BEGIN):bounds[i + 1]] for i in range(len(calls_at))]
    bodies, dropped = limited(bodies, context.max_calls)
    return ParsedTurn(content, tuple(_call(body) for body in bodies), "kimi_k2", dropped)


def render_kimi_k2(calls: Sequence[RenderCall], ids: Sequence[str | None] = ()) -> str:
    """The Kimi K2 template's form; ids are ``functions.NAME:IDX`` unless given."""
    parts = [SECTION_BEGIN]
    for index, call in enumerate(calls):
        given = ids[index] if index < len(ids) else None
        call_id = given or f"functions.{call.name}:{index}"
        parts.append(f"{CALL_BEGIN}{call_id}{ARGUMENT_BEGIN}{call.raw}{CALL_END}")
    parts.append(SECTION_END)
    return "".join(parts)
