"""GLM-4.5 / 4.6 / 4.7 tool calls: ``<tool_call>NAME`` with ``<arg_key>``/``<arg_value>`` pairs.

Reference: the GLM-4.5 and GLM-4.6 chat templates (``tokenizer_config.json``:
``'<tool_call>' + tc.name``, then per argument
``<arg_key>{{ k }}</arg_key>\\n<arg_value>{{ v | tojson if v is not string else v }}</arg_value>``)
and vLLM's ``glm45`` tool parser. GLM-4.7 drops the newlines. GLM-4.5 is
the model ASTRA's trajectories were generated with.

Every value is bare text, so arguments are typed by the tool's JSON Schema
(:mod:`~astra_gym.parsers.argtypes`). The body of one ``<tool_call>`` block is
parsed here; finding the blocks is shared with hermes
(:mod:`~astra_gym.parsers.tags`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .argtypes import parameter_schema, typed_value
from .json_calls import ParsedCall
from .markup import NAME, RenderCall, check_bare_argument, read_name
from .text import clip

__all__ = ["ARG_KEY", "looks_like_glm", "parse_glm_body", "render_glm45"]

ARG_KEY = "<arg_key>"
ARG_KEY_END = "</arg_key>"
ARG_VALUE = "<arg_value>"
ARG_VALUE_END = "</arg_value>"


def looks_like_glm(body: str) -> bool:
    """Whether a ``<tool_call>`` body is GLM's: ``<arg_key>``/``<arg_value>`` tags, or a name."""
    return ARG_KEY in body or ARG_VALUE in body or NAME.fullmatch(body.strip()) is not None


def parse_glm_body(body: str, schemas: Mapping[str, Any] | None = None) -> ParsedCall:
    """Parse the body of one GLM ``<tool_call>`` block.

    Args:
        body: The text between ``<tool_call>`` and ``</tool_call>``.
        schemas: Tool name to parameters JSON Schema, to type the values.

    Returns:
        The call, or an error call (an unclosed tag, text between the pairs, a
        key given twice, no name).

    Example:
        >>> call = parse_glm_body(
        ...     "get_weather\\n<arg_key>city</arg_key>\\n<arg_value>Paris</arg_value>\\n"
        ...     "<arg_key>days</arg_key>\\n<arg_value>3</arg_value>\\n",
        ...     {"get_weather": {"properties": {"days": {"type": "integer"}}}})
        >>> call.name, call.arguments
        ('get_weather', {'city': 'Paris', 'days': 3})
    """
    raw = clip(body.strip())
    first = body.find(ARG_KEY)
    name, error = read_name(body if first < 0 else body[:first], "after <tool_call>")
    if error is not None:
        return ParsedCall(None, {}, raw=raw, error=error)
    assert name is not None
    arguments: dict[str, Any] = {}
    pos = 0 if first < 0 else first
    while first >= 0:
        key_end = body.find(ARG_KEY_END, pos + len(ARG_KEY))
        if key_end < 0:
            return ParsedCall(name, {}, raw=raw, error=f"unclosed {ARG_KEY} in {name!r}")
        key = body[pos + len(ARG_KEY):key_end].strip()
        value_start = key_end + len(ARG_KEY_END)
        while value_start < len(body) and body[value_start].isspace():
            value_start += 1
        if not body.startswith(ARG_VALUE, value_start):
            return ParsedCall(name, {}, raw=raw,
                              error=f"expected {ARG_VALUE} after {ARG_KEY}{key}{ARG_KEY_END} "
                                    f"in {name!r}")
        value_end = body.find(ARG_VALUE_END, value_start + len(ARG_VALUE))
        if value_end < 0:
            return ParsedCall(name, {}, raw=raw,
                              error=f"unclosed {ARG_VALUE} of {key!r} in {name!r}")
        if not key:
            return ParsedCall(name, {}, raw=raw, error=f"an empty {ARG_KEY} in {name!r}")
        if key in arguments:
            return ParsedCall(name, {}, raw=raw, error=f"argument {key!r} given twice")
        text = body[value_start + len(ARG_VALUE):value_end]
        arguments[key] = typed_value(text, parameter_schema(schemas, name, key))
        pos = value_end + len(ARG_VALUE_END)
        first = body.find(ARG_KEY, pos)
        between = body[pos:] if first < 0 else body[pos:first]
        if between.strip():
            return ParsedCall(name, {}, raw=raw,
                              error=f"unexpected text in {name!r}: {clip(between.strip(), 60)!r}")
        if first >= 0:
            pos = first
    return ParsedCall(name, arguments, raw=raw)


def render_glm45(calls: Sequence[RenderCall]) -> str:
    """The GLM-4.5/4.6 template's form: strings bare, other values as JSON.

    Raises:
        ValueError: A call's arguments are not a JSON object, or a string
            argument holds ``</arg_value>``, a ``<tool_call>`` tag or a reasoning tag (the template
            cannot write it either; see :func:`~astra_gym.parsers.markup.check_bare_argument`).
    """
    blocks = []
    for call in calls:
        lines = [f"<tool_call>{call.name}"]
        for key, value in call.named_arguments("glm45").items():
            text = check_bare_argument(call.name, "glm45", key, value,
                                       (ARG_VALUE_END, "<tool_call>", "</tool_call>"))
            lines.append(f"{ARG_KEY}{key}{ARG_KEY_END}\n{ARG_VALUE}{text}{ARG_VALUE_END}")
        blocks.append("\n".join(lines) + "\n</tool_call>")
    return "\n".join(blocks)
