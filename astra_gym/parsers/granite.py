"""IBM Granite 3.x tool calls: ``<|tool_call|>`` and a JSON list of call objects.

Reference: the Granite 3.0–3.3 instruct chat templates (an assistant turn with
calls is ``<|tool_call|>`` + the JSON list ``[{"name": ..., "arguments": {...}}]``)
and vLLM's ``granite`` tool parser (which also strips Granite 3.1's plain
``<tool_call>`` string before the list; that form reaches the hermes parser,
which reads a list in an unclosed tag). Granite 4 writes hermes tags.

Text before the first ``<|tool_call|>`` is the content; whatever follows a
``<|tool_call|>`` is a call attempt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .json_calls import ParsedCall
from .markup import RenderCall, find_all, json_call_list, limited
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_granite", "render_granite"]

TOOL_CALL = "<|tool_call|>"
END_OF_TEXT = "<|end_of_text|>"
MARKERS = (TOOL_CALL,)


def parse_granite(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a Granite turn.

    Args:
        text: The visible text (reasoning removed).
        context: The call limit.

    Returns:
        The turn, or ``None`` when there is no ``<|tool_call|>``.

    Example:
        >>> turn = parse_granite('<|tool_call|>[{"name": "get_weather", "arguments": '
        ...                      '{"city": "Boston"}}, {"name": "get_time", "arguments": {}}]')
        >>> [(c.name, c.arguments) for c in turn.calls]
        [('get_weather', {'city': 'Boston'}), ('get_time', {})]
    """
    positions = find_all(text, TOOL_CALL)
    if not positions:
        return None
    bounds = [*positions, len(text)]
    segments = [text[bounds[i] + len(TOOL_CALL):bounds[i + 1]].replace(END_OF_TEXT, "")
                for i in range(len(positions))]
    segments, dropped = limited(segments, context.max_calls)
    calls: list[ParsedCall] = []
    for segment in segments:
        calls.extend(json_call_list(segment, f"after {TOOL_CALL}"))
    return ParsedTurn(text[:positions[0]].strip(), tuple(calls), "granite", dropped)


def render_granite(calls: Sequence[RenderCall]) -> str:
    """``<|tool_call|>`` and one JSON list of ``{"name", "arguments"}`` objects."""
    return TOOL_CALL + "[" + ", ".join(
        f'{{"name": {json.dumps(call.name, ensure_ascii=False)}, "arguments": {call.raw}}}'
        for call in calls) + "]"
