"""Turn an assistant turn (text, or an OpenAI message dict) into tool calls.

:func:`parse_action` is the one entry point the env uses. It never raises for
a ``str`` or a mapping, whatever they hold: every call attempt that cannot be
parsed becomes a :class:`ParsedCall` with ``error`` set, which the env reports
back to the model. A turn without any call attempt is the final answer.

Text is read after reasoning is removed (``<think>…</think>``,
``[THINK]…[/THINK]``). ``action_format="auto"`` detects the format of each
turn (:mod:`~astra_gym.parsers.registry`): the earliest call marker of a known
family (``<tool_call>``, ``[TOOL_CALLS]``, ``<|python_tag|>``, ``<｜tool▁calls▁begin｜>``,
``<|tool_calls_section_begin|>``, ``<|tool_call|>``, ``<|channel|>``,
``<function=NAME>``) names the format, and markup that cannot be read is an
error call, never a final answer. Without markers the turn is JSON calls when
it is *nothing but* JSON call objects (:func:`parse_json_calls`; Llama's
``;``-separated objects too), Python calls when it is *nothing but* call
expressions of known tools (:func:`parse_python_calls`), and otherwise a
final answer. Those two are deliberately conservative: a final answer may be
JSON or mention ``f(x)``, and mistaking it for a call would keep the episode
going.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

from .json_calls import ParsedCall, call_from_object, json_kind, safe_dump
from .python_calls import parse_python_calls
from .registry import TEXT_FORMATS, parse_text_format
from .text import clip, strip_reasoning
from .turn import ParseContext, ParsedTurn, capped

__all__ = ["ACTION_FORMATS", "MESSAGE_KEYS", "ParsedCall", "ParsedTurn", "parse_action",
           "parse_python_calls"]

ACTION_FORMATS = ("auto", "openai", *TEXT_FORMATS)
"""The values of ``action_format``: ``auto`` detects the format of each turn, ``openai``
reads calls only from message dicts, and each other value forces one text format
(``hermes``, ``json``, ``python``, ``llama3``, ``mistral``, ``deepseek``, ``glm45``,
``qwen3_coder``, ``kimi_k2``, ``granite``, ``harmony``)."""

#: The keys an assistant message may carry, and why each is accepted. A message with any
#: other key is refused when it has no call: a misspelt or misplaced call
#: (``tool_call``, a bare ``{"name", "arguments"}``) must not become a silent final answer.
MESSAGE_KEYS = {
    "role": "the message role; must be 'assistant' when given",
    "content": "the text (a string, None or a list of text parts)",
    "tool_calls": "the calls (chat-completions format)",
    "function_call": "the one call of the legacy functions API",
    "name": "an optional participant name (chat-completions message parameter)",
    "refusal": "the refusal text of an OpenAI reply (model_dump() includes it)",
    "annotations": "URL citations of an OpenAI reply (model_dump() includes it)",
    "audio": "the audio part of an OpenAI reply (model_dump() includes it)",
    "reasoning_content": "reasoning text from vLLM/SGLang/DeepSeek servers",
    "reasoning": "reasoning text from servers that name it so (vLLM's newer field)",
}


def _message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or the text of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str) and (
                    part.get("type", "text") in ("text", "output_text")):
                texts.append(part["text"])
        return "\n".join(texts)
    return ""


def _openai_call(entry: Any, index: int) -> ParsedCall:
    if not isinstance(entry, Mapping):
        return ParsedCall(None, {}, raw=clip(safe_dump(entry)),
                          error=f"tool call {index} is not an object (got {json_kind(entry)})")
    call_id = entry.get("id") if isinstance(entry.get("id"), str) else None
    function = entry.get("function")
    if function is None and "name" in entry:
        function = entry  # a flat {"id", "name", "arguments"} entry
    if not isinstance(function, Mapping):
        raw = clip(safe_dump(function if function is not None else entry))
        return ParsedCall(None, {}, raw=raw, call_id=call_id,
                          error=f'tool call {index} has no "function" object'
                          + ("" if function is None else f" (got {json_kind(function)})"))
    call = call_from_object(function, raw="", call_id=call_id)
    # The raw excerpt costs a json.dumps per call: only failed calls need it.
    return call if call.error is None else replace(call, raw=clip(safe_dump(function)))


def _message_calls(message: Mapping[Any, Any], max_calls: int | None) -> tuple[list[ParsedCall],
                                                                              int]:
    calls = []
    dropped = 0
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list | tuple):
        if max_calls is not None and len(tool_calls) > max_calls:
            dropped = len(tool_calls) - max_calls
            tool_calls = tool_calls[:max_calls]
        calls.extend(_openai_call(entry, index) for index, entry in enumerate(tool_calls))
    elif tool_calls is not None:
        calls.append(ParsedCall(None, {}, raw=clip(safe_dump(tool_calls)),
                                error=f'"tool_calls" must be a list, got {json_kind(tool_calls)}'))
    function_call = message.get("function_call")
    if function_call is not None:
        raw = clip(safe_dump(function_call))
        if isinstance(function_call, Mapping):
            calls.append(call_from_object(function_call, raw=raw))
        else:
            calls.append(ParsedCall(None, {}, raw=raw,
                                    error=f'"function_call" must be an object, '
                                          f"got {json_kind(function_call)}"))
    return calls, dropped


def _message_problem(message: Mapping[Any, Any], has_calls: bool) -> str | None:
    """Why a message dict is malformed, or None; the problem becomes an invalid call."""
    role = message.get("role", "assistant")
    if role != "assistant":
        return (f"an action message must have role 'assistant', not {role!r} (tool results "
                "come from the env)")
    content = message.get("content")
    if content is not None and not isinstance(content, str | list | tuple):
        return (f'"content" must be a string, null or a list of text parts, not '
                f"{json_kind(content)}")
    if has_calls:
        return None
    unknown = sorted(str(key) for key in message if key not in MESSAGE_KEYS)
    if not unknown:
        if "content" not in message:
            return ('the message has no content and no tool call; a final answer is {"role": '
                    '"assistant", "content": "..."} and calls go in "tool_calls"')
        return None
    looks_like_call = "name" in message and "arguments" in message
    hint = (' It looks like a bare call: put it in "tool_calls": [{"type": "function", '
            '"function": {"name": ..., "arguments": "<JSON>"}}].' if looks_like_call else
            ' Calls go in "tool_calls"; a final answer is {"role": "assistant", '
            '"content": "..."}.')
    return (f"the message has unknown key(s) {', '.join(repr(k) for k in unknown[:5])} and no "
            f"tool call, so it was not taken as a final answer.{hint}")


def _parse_text(text: str, action_format: str, context: ParseContext) -> ParsedTurn:
    visible = strip_reasoning(text)
    if action_format == "openai":
        return ParsedTurn(visible, (), "none")
    return capped(parse_text_format(visible, action_format, context), context.max_calls)


def parse_action(action: str | Mapping[str, Any], action_format: str = "auto",
                 tool_names: Collection[str] | None = None,
                 max_calls: int | None = None,
                 tool_schemas: Mapping[str, Any] | None = None) -> ParsedTurn:
    """Parse one assistant turn into its visible text and its tool calls.

    A mapping is an OpenAI assistant message: its ``tool_calls`` entries
    (``{"id", "type", "function": {"name", "arguments"}}``, ``arguments`` a
    JSON string or an object) and a legacy ``function_call`` are the calls,
    whatever ``action_format`` is; its ``content`` (a string, ``None`` or a
    list of ``{"type": "text", "text": ...}`` parts) is the text. When the
    message has no call, its text is parsed as a text turn under
    ``action_format`` (``"openai"``: no calls from text). A malformed message
    (another role, ``content`` that is no text, or, when it has no call, a key
    outside :data:`MESSAGE_KEYS` such as a misspelt ``tool_call``) is one
    call that failed to parse, never a final answer.

    A string has its reasoning removed, then under ``"auto"`` the earliest
    call marker of a known family names its format (markup that cannot be
    read is an error call), else JSON calls if the text is nothing but JSON
    calls, else Python calls if it is nothing but calls of known tools, else
    it is a final answer (see the module docstring). A specific format uses
    only that parser; a turn it does not read that carries another family's
    call marker is one error call naming both formats (``"openai"`` finds no
    calls in text).

    Args:
        action: Raw assistant text, or an OpenAI assistant message.
        action_format: One of :data:`ACTION_FORMATS`.
        tool_names: The env's tool names; Python calls must name one of them.
        max_calls: Parse at most this many calls; further attempts are only
            counted (``ParsedTurn.dropped``), so a turn of a million calls costs
            no more than one of ``max_calls``.
        tool_schemas: Tool name to its parameters JSON Schema. Formats that
            write every argument as bare text (``glm45``, ``qwen3_coder``) type
            the values by it (``"3"`` is the integer 3 for an ``integer``
            parameter, the string ``"3"`` for a ``string`` one); without it a
            value is decoded when it is JSON.

    Returns:
        The parsed turn; it has no calls when the turn is a final answer.

    Raises:
        TypeError: When ``action`` is neither a ``str`` nor a mapping.
        ValueError: When ``action_format`` is not one of :data:`ACTION_FORMATS`.

    Example:
        >>> turn = parse_action('<think>Need weather.</think>Checking.\\n'
        ...                     '<tool_call>{"name": "get_weather", "arguments": '
        ...                     '{"city": "Paris"}}</tool_call>')
        >>> turn.format, turn.content, turn.calls[0].name, turn.calls[0].arguments
        ('hermes', 'Checking.', 'get_weather', {'city': 'Paris'})
        >>> turn = parse_action({"role": "assistant", "content": None, "tool_calls": [
        ...     {"id": "call_1", "type": "function",
        ...      "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]})
        >>> turn.format, turn.calls[0].call_id, turn.calls[0].arguments
        ('openai', 'call_1', {'city': 'Oslo'})
        >>> parse_action("get_weather(city='Rome')", tool_names=["get_weather"]).format
        'python'
        >>> turn = parse_action("The answer is f(x) = 2x.", tool_names=["get_weather"])
        >>> turn.is_final, turn.content
        (True, 'The answer is f(x) = 2x.')
        >>> turn = parse_action("<tool_call>get_weather\\n<arg_key>days</arg_key>\\n"
        ...                     "<arg_value>3</arg_value>\\n</tool_call>", tool_schemas={
        ...     "get_weather": {"properties": {"days": {"type": "integer"}}}})
        >>> turn.format, turn.calls[0].arguments
        ('glm45', {'days': 3})
    """
    if action_format not in ACTION_FORMATS:
        raise ValueError(f"unknown action_format {action_format!r}; choose one of "
                         f"{', '.join(ACTION_FORMATS)}")
    if not isinstance(action, str | Mapping):
        raise TypeError("an action must be the assistant's text (str) or an OpenAI assistant "
                        f"message (a dict/Mapping), not {type(action).__name__}")
    names = None if tool_names is None else frozenset(tool_names)
    if max_calls is not None and (not isinstance(max_calls, int) or max_calls < 1):
        raise ValueError(f"max_calls must be a positive int or None, got {max_calls!r}")
    context = ParseContext(names, tool_schemas, max_calls)
    try:
        if isinstance(action, str):
            return _parse_text(action, action_format, context)
        calls, dropped = _message_calls(action, max_calls)
        problem = _message_problem(action, bool(calls or dropped))
        if problem is not None:
            return ParsedTurn("", (ParsedCall(None, {}, raw=clip(safe_dump(action)),
                                              error=problem),), "openai")
        text = _message_text(action.get("content"))
        if calls or dropped:
            return capped(ParsedTurn(strip_reasoning(text), tuple(calls), "openai", dropped),
                          max_calls)
        return _parse_text(text, action_format, context)
    except Exception as exc:  # a parser bug must not crash a rollout; report it as a call error
        return ParsedTurn("", (ParsedCall(None, {}, error=clip(
            f"internal parser error: {type(exc).__name__}: {exc}")),), "none")
