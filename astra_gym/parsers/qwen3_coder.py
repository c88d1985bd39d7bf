"""Qwen3-Coder tool calls: XML-style ``<function=NAME>`` with ``<parameter=KEY>`` blocks.

Reference: the Qwen3-Coder chat template (``<tool_call>\\n<function=NAME>\\n``,
then per argument ``<parameter=KEY>\\n`` + the value + ``\\n</parameter>\\n``,
then ``</function>\\n</tool_call>``; a string is printed as is, a dict or list
as JSON and anything else as ``str()``, newer templates print non-strings as
JSON) and vLLM's ``qwen3_coder`` tool parser (which also reads a
``<function=…>`` written without the ``<tool_call>`` wrapper, and a
``</parameter>`` left out before the next ``<parameter=`` or ``</function>``).
A call must reach its ``</function>``: one without it was cut off (the
generation hit its token limit) and is an error call, never a call with the
arguments read so far.

Values are bare text: one leading and one trailing newline are the
template's and are removed, and the rest is typed by the tool's JSON Schema
(:mod:`~astra_gym.parsers.argtypes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .argtypes import parameter_schema, typed_value
from .json_calls import ParsedCall
from .markup import RenderCall, check_bare_argument, read_name
from .text import clip

__all__ = ["FUNCTION", "find_bare_function", "parse_qwen_body", "render_qwen3_coder"]

FUNCTION = "<function="
FUNCTION_END = "</function>"
PARAMETER = "<parameter="
PARAMETER_END = "</parameter>"
#: A bare ``<function=NAME>`` marker (no ``<tool_call>`` around it): the name must be
#: complete and the tag followed by a ``<parameter=``, its ``</function>`` or the end of the
#: text, so prose that quotes the tag ("use <function=f> here") stays prose.
_BARE_FUNCTION = re.compile(r"<function=[^\s<>=]{1,200}>(?=\s*(?:<parameter=|</function>|\Z))")


def find_bare_function(text: str, start: int = 0) -> int:
    """Where the first bare ``<function=NAME>`` call starts, or -1 (see ``_BARE_FUNCTION``)."""
    pos = text.find(FUNCTION, start)
    while pos >= 0:
        if _BARE_FUNCTION.match(text, pos):
            return pos
        pos = text.find(FUNCTION, pos + len(FUNCTION))
    return -1


def _value(text: str) -> str:
    if text.startswith("\n"):
        text = text[1:]
    if text.endswith("\n"):
        text = text[:-1]
    return text


def _function(text: str, begin: int, schemas: Mapping[str, Any] | None) -> tuple[ParsedCall, int]:
    """The call whose name starts at ``begin`` (right after ``<function=``), and where it ends.

    A call ends at its first ``</function>``, as in vLLM's parser (so a value
    may hold ``<function=``); a call without one was cut off and is an error
    call that takes the rest of the text.
    """
    end_tag = text.find(FUNCTION_END, begin)
    stop = len(text) if end_tag < 0 else end_tag
    after = stop if end_tag < 0 else end_tag + len(FUNCTION_END)
    raw = clip(FUNCTION + text[begin:stop].strip())
    close = text.find(">", begin, stop)
    head = text[begin:stop if close < 0 else close]
    if close < 0 or "\n" in head:
        name, _ = read_name(text[begin:stop].split("\n", 1)[0].split(">", 1)[0], "")
        return ParsedCall(name, {}, raw=raw, error=f"unclosed {FUNCTION}... tag"), after
    name, error = read_name(head, f"in {FUNCTION}...>")
    if error is not None:
        return ParsedCall(None, {}, raw=raw, error=error), after
    assert name is not None
    if end_tag < 0:
        return ParsedCall(name, {}, raw=raw, error=(
            f"the call to {name!r} is cut off: no {FUNCTION_END}")), after
    arguments: dict[str, Any] = {}
    pos = close + 1
    while True:
        start = text.find(PARAMETER, pos, stop)
        between = text[pos:stop if start < 0 else start].strip()
        if between:
            return ParsedCall(name, {}, raw=raw,
                              error=f"unexpected text in {name!r}: {clip(between, 60)!r}"), after
        if start < 0:
            break
        head_end = text.find(">", start, stop)
        if head_end < 0 or "\n" in text[start:head_end]:
            return ParsedCall(name, {}, raw=raw,
                              error=f"unclosed {PARAMETER}... tag in {name!r}"), after
        key = text[start + len(PARAMETER):head_end].strip()
        value_end = text.find(PARAMETER_END, head_end + 1, stop)
        following = text.find(PARAMETER, head_end + 1, stop)
        if value_end < 0 or 0 <= following < value_end:
            # vLLM's tolerance: a value may end at the next <parameter= or at </function>
            value_end = next_pos = following if following >= 0 else stop
        else:
            next_pos = value_end + len(PARAMETER_END)
        if not key:
            return ParsedCall(name, {}, raw=raw,
                              error=f"an empty {PARAMETER}> name in {name!r}"), after
        if key in arguments:
            return ParsedCall(name, {}, raw=raw, error=f"argument {key!r} given twice"), after
        arguments[key] = typed_value(_value(text[head_end + 1:value_end]),
                                     parameter_schema(schemas, name, key))
        pos = next_pos
    return ParsedCall(name, arguments, raw=raw), after


def parse_qwen_body(body: str, schemas: Mapping[str, Any] | None = None,
                    max_calls: int | None = None) -> tuple[list[ParsedCall], int, list[str]]:
    """Parse the ``<function=…>`` calls in a text: one ``<tool_call>`` body, or a bare turn.

    Args:
        body: Text holding one or more ``<function=NAME>…</function>`` blocks.
        schemas: Tool name to parameters JSON Schema, to type the values.
        max_calls: Parse at most this many calls; the rest are only counted.

    Returns:
        The calls (one per ``<function=``; an error call when it is
        malformed, e.g. a value cut off by the end of the text), how many
        were left unparsed, and the non-blank texts around the calls (the
        caller decides whether they are prose or a malformed call).

    Example:
        >>> calls, dropped, outside = parse_qwen_body(
        ...     "\\n<function=get_weather>\\n<parameter=city>\\nParis\\n</parameter>\\n"
        ...     "<parameter=days>\\n3\\n</parameter>\\n</function>\\n",
        ...     {"get_weather": {"properties": {"days": {"type": "integer"}}}})
        >>> [(c.name, c.arguments) for c in calls], dropped, outside
        ([('get_weather', {'city': 'Paris', 'days': 3})], 0, [])
    """
    calls: list[ParsedCall] = []
    outside: list[str] = []
    pos = 0
    while True:
        start = body.find(FUNCTION, pos)
        text = (body[pos:] if start < 0 else body[pos:start]).strip()
        if text:
            outside.append(text)
        if start < 0:
            return calls, 0, outside
        if max_calls is not None and len(calls) >= max_calls:
            return calls, body.count(FUNCTION, start), outside
        call, pos = _function(body, start + len(FUNCTION), schemas)
        calls.append(call)


def render_qwen3_coder(calls: Sequence[RenderCall]) -> str:
    """The Qwen3-Coder template's form: strings bare, other values as JSON.

    Raises:
        ValueError: A call's arguments are not a JSON object, or a string
            argument holds ``</parameter>``, ``<parameter=``, ``</function>``, a
            ``<tool_call>`` tag or a reasoning tag (the template cannot write it either).
    """
    blocks = []
    for call in calls:
        lines = [f"<tool_call>\n{FUNCTION}{call.name}>"]
        for key, value in call.named_arguments("qwen3_coder").items():
            text = check_bare_argument(call.name, "qwen3_coder", key, value,
                                       (PARAMETER_END, PARAMETER, FUNCTION_END, "<tool_call>",
                                        "</tool_call>"))
            lines.append(f"{PARAMETER}{key}>\n{text}\n{PARAMETER_END}")
        blocks.append("\n".join(lines) + f"\n{FUNCTION_END}\n</tool_call>")
    return "\n".join(blocks)
