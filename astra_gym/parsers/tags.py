"""``<tool_call>`` blocks, whose body may be hermes JSON, GLM-4.5 or Qwen3-Coder XML.

Three families share the ``<tool_call>`` tag: hermes (Qwen2.5/3, Hermes,
Granite 4, ...) writes JSON inside it, GLM-4.5 writes ``NAME`` and
``<arg_key>``/``<arg_value>`` pairs, Qwen3-Coder writes ``<function=NAME>``
blocks. The blocks are found once (:func:`~astra_gym.parsers.hermes.find_hermes_blocks`)
and each body goes to the parser its shape names, so ``auto`` reads all three
without guessing per turn. A forced format reads every body its own way.

A hermes body is JSON, which ends by itself: a block whose ``</tool_call>`` is
missing is still read when its JSON is complete. GLM's values do not end by
themselves, so a GLM block without ``</tool_call>`` was cut off and is an
error call (Qwen3-Coder's ``</function>`` plays that part for its calls).
"""

from __future__ import annotations

from .glm45 import looks_like_glm, parse_glm_body
from .hermes import (
    TOOL_CALL_CLOSE,
    TOOL_CALL_OPEN,
    find_hermes_blocks,
    parse_hermes_block,
    remove_hermes_blocks,
)
from .json_calls import ParsedCall
from .markup import limited
from .qwen3_coder import FUNCTION, PARAMETER, find_bare_function, parse_qwen_body
from .text import clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["TAG_FORMATS", "body_format", "parse_bare_functions", "parse_tool_call_tags"]

#: The formats whose calls sit in ``<tool_call>`` tags.
TAG_FORMATS = ("hermes", "glm45", "qwen3_coder")


def body_format(body: str) -> str:
    """Which family wrote a ``<tool_call>`` body: ``hermes``, ``glm45`` or ``qwen3_coder``.

    Example:
        >>> body_format('{"name": "f"}'), body_format("f\\n<arg_key>a</arg_key>"), \\
        ...     body_format("\\n<function=f>\\n</function>")
        ('hermes', 'glm45', 'qwen3_coder')
    """
    stripped = body.lstrip()
    if stripped[:1] in ("{", "[", "`", ""):  # JSON (maybe fenced): its strings may hold tags
        return "hermes"
    if stripped.startswith((FUNCTION, PARAMETER)):
        return "qwen3_coder"
    if looks_like_glm(stripped):
        return "glm45"
    return "hermes"


def parse_tool_call_tags(text: str, context: ParseContext = NO_CONTEXT,
                         forced: str | None = None) -> ParsedTurn | None:
    """Parse every ``<tool_call>`` block of a turn, each body by its family.

    Args:
        text: The visible text (reasoning removed).
        context: Schemas (GLM and Qwen3-Coder values are typed by them) and
            the call limit.
        forced: Read every body as this family (one of :data:`TAG_FORMATS`);
            ``None`` picks it per body (:func:`body_format`).

    Returns:
        The turn (its format is the first block's family), or ``None`` when
        there is no ``<tool_call>`` tag.
    """
    if TOOL_CALL_OPEN not in text:
        return None
    blocks = find_hermes_blocks(text)
    parsed, dropped = limited(blocks, context.max_calls)
    calls: list[ParsedCall] = []
    formats = []
    for block in parsed:
        family = forced or body_format(block.body)
        formats.append(family)
        if family == "glm45":
            if text.startswith(TOOL_CALL_CLOSE, block.end - len(TOOL_CALL_CLOSE)):
                calls.append(parse_glm_body(block.body, context.schemas))
            else:  # XML-style values do not end by themselves: this call was cut off
                call = parse_glm_body(block.body)
                calls.append(ParsedCall(call.name, {}, raw=clip(block.body.strip()), error=(
                    call.error or f"the call is cut off: no {TOOL_CALL_CLOSE}")))
        elif family == "qwen3_coder":
            room = None if context.max_calls is None else max(context.max_calls - len(calls), 1)
            found, more, outside = parse_qwen_body(block.body, context.schemas, room)
            calls.extend(found)
            dropped += more
            if outside or not found:
                calls.append(ParsedCall(None, {}, raw=clip(block.body.strip()), error=(
                    f"unexpected text in <tool_call>: {clip(outside[0], 60)!r}" if outside
                    else f"no {FUNCTION}NAME> call in <tool_call>")))
        else:
            calls.extend(parse_hermes_block(block))
    return ParsedTurn(remove_hermes_blocks(text, blocks), tuple(calls),
                      formats[0] if formats else forced or "hermes", dropped)


def parse_bare_functions(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse Qwen3-Coder ``<function=NAME>`` calls written without ``<tool_call>`` tags.

    Returns:
        The turn (the text before the first call is the content), or ``None``
        when there is no complete ``<function=NAME>`` tag.
    """
    start = find_bare_function(text)
    if start < 0:
        return None
    calls, dropped, outside = parse_qwen_body(text[start:], context.schemas, context.max_calls)
    content = " ".join([text[:start].strip(), *outside]).strip()
    return ParsedTurn(content, tuple(calls), "qwen3_coder", dropped)
