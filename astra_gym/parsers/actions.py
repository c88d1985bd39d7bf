"""Turn an assistant turn (text, or an OpenAI message dict) into tool calls.

:func:`parse_action` is the one entry point the env uses. It never raises for
a ``str`` or a mapping, whatever they hold: every call attempt that cannot be
parsed becomes a :class:`ParsedCall` with ``error`` set, which the env reports
back to the model. A turn without any call attempt is the final answer.

Format detection (``action_format="auto"``) on text, after reasoning is
removed: a ``<tool_call>`` tag means hermes; otherwise the turn is JSON calls
when it is *nothing but* JSON call objects (see :func:`parse_json_calls`);
otherwise Python calls when it is *nothing but* call expressions of known
tools (see :func:`parse_python_calls`); otherwise it is a final answer. The
JSON and Python detections are deliberately conservative: a final answer may
be JSON or mention ``f(x)``, and mistaking it for a call would keep the
episode going.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .hermes import TOOL_CALL_OPEN, find_hermes_blocks, parse_hermes, remove_hermes_blocks
from .json_calls import ParsedCall, call_from_object, json_kind, parse_json_calls, safe_dump
from .python_call import CallSyntaxError, parse_python_call
from .text import MAX_CALL_CHARS, clip, strip_reasoning, unfence

__all__ = ["ACTION_FORMATS", "MESSAGE_KEYS", "ParsedCall", "ParsedTurn", "parse_action",
           "parse_python_calls"]

ACTION_FORMATS = ("auto", "openai", "hermes", "json", "python")
"""The values of ``action_format``: ``auto`` detects the format of each turn."""

PYTHON_FENCE_LANGUAGES = ("", "python", "py", "python3", "tool_code")

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
_LEADING_CALL = re.compile(r"\[?\s*([A-Za-z_][\w.]*)\s*\(")


@dataclass(frozen=True)
class ParsedTurn:
    """One assistant turn, parsed.

    Attributes:
        content: The visible text: reasoning removed, hermes tool-call markup
            removed, stripped; ``""`` when the whole turn was JSON or Python
            calls.
        calls: Every call attempt, in order, unparsable ones included
            (their ``error`` is set).
        format: Where the calls came from: ``"openai"`` (a message's
            ``tool_calls``/``function_call``), ``"hermes"``, ``"json"`` or
            ``"python"``; ``"none"`` when the turn has no call attempt (and for
            the one error call that reports an unexpected parser failure).
    """

    content: str
    calls: tuple[ParsedCall, ...] = ()
    format: str = "none"
    #: Call attempts beyond ``max_calls`` that were not parsed (see :func:`parse_action`).
    dropped: int = 0

    @property
    def errors(self) -> tuple[str, ...]:
        """The error of each call that could not be parsed, in order."""
        return tuple(call.error for call in self.calls if call.error is not None)

    @property
    def is_final(self) -> bool:
        """Whether the turn is a final answer: it has no call attempt at all."""
        return not self.calls and not self.dropped


def _capped(turn: ParsedTurn, max_calls: int | None) -> ParsedTurn:
    if max_calls is None or len(turn.calls) <= max_calls:
        return turn
    return replace(turn, calls=turn.calls[:max_calls],
                   dropped=turn.dropped + len(turn.calls) - max_calls)


def _dotted_name(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _unwrap_print(node: ast.expr) -> ast.expr:
    # as parse_python_call does: ``print(call)`` is the call
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            and len(node.args) == 1 and not node.keywords):
        return node.args[0]
    return node


def _call_nodes(tree: ast.Module) -> list[ast.Call] | None:
    """The calls when the module is nothing but call expressions (or one list of them)."""
    if not tree.body or not all(isinstance(statement, ast.Expr) for statement in tree.body):
        return None
    values = [statement.value for statement in tree.body if isinstance(statement, ast.Expr)]
    if len(values) == 1 and isinstance(values[0], ast.List | ast.Tuple):
        values = list(values[0].elts)
    calls = [_unwrap_print(value) for value in values]
    if not calls or not all(isinstance(call, ast.Call) for call in calls):
        return None
    return [call for call in calls if isinstance(call, ast.Call)]


class _Segments:
    """Source text of AST nodes in linear time (``ast.get_source_segment`` rescans per call)."""

    def __init__(self, source: str) -> None:
        self.data = source.encode("utf-8", "surrogatepass")
        self.line_starts = [0]
        pos = self.data.find(b"\n")
        while pos >= 0:
            self.line_starts.append(pos + 1)
            pos = self.data.find(b"\n", pos + 1)

    def __call__(self, node: ast.expr) -> str:
        end_line, end_col = node.end_lineno, node.end_col_offset
        if end_line is None or end_col is None:
            return ""
        start = self.line_starts[node.lineno - 1] + node.col_offset
        end = self.line_starts[end_line - 1] + end_col
        return self.data[start:end].decode("utf-8", "replace")


def _python_call(segment: _Segments, node: ast.Call, name: str) -> ParsedCall:
    text = segment(node)
    func = segment(node.func)
    raw = clip(text)
    if not func or not text.startswith(func):
        return ParsedCall(name, {}, raw=raw, error="could not read the call's arguments")
    try:  # the name may be dotted (``math.sqrt``), which parse_python_call refuses
        call = parse_python_call("_" + text[len(func):])
    except CallSyntaxError as exc:
        return ParsedCall(name, {}, raw=raw, error=str(exc))
    except (ValueError, RecursionError, MemoryError) as exc:
        return ParsedCall(name, {}, raw=raw, error=clip(f"could not parse the call: {exc}"))
    return ParsedCall(name, call.kwargs, args=call.args, raw=raw)


def parse_python_calls(text: str,
                       tool_names: Collection[str] | None = None) -> list[ParsedCall] | None:
    """Parse a turn that is nothing but Python call expressions.

    The whole text (surrounding whitespace aside), or the body of a single
    fenced block (untagged, ``python``, ``py`` or ``tool_code``) with no
    prose around it, must be one call ``f(a=1)``, several calls (one
    statement each), or one list of calls ``[f(a=1), g(b=2)]`` as BFCL writes
    them. A ``print(...)`` wrapper is ignored and dotted names
    (``math.sqrt(x=2)``) are allowed. Arguments must be literals (see
    :func:`parse_python_call`); nothing is evaluated. Reasoning is not
    removed here (see :func:`strip_reasoning`).

    Args:
        text: The assistant's visible text.
        tool_names: The known tools. When given, every called name must be
            one of them, or the text is not a call (it is prose or code).

    Returns:
        The calls (a call whose arguments are not literals carries an
        error), or ``None`` when the text is not call syntax. With
        ``tool_names``, text that starts like a call of a known tool but is
        not valid Python (or is over :data:`MAX_CALL_CHARS`) gives one error
        call.

    Example:
        >>> [(c.name, c.args, c.arguments) for c in parse_python_calls("[f(1, b='x'), g()]")]
        [('f', (1,), {'b': 'x'}), ('g', (), {})]
        >>> parse_python_calls("print(x)", tool_names={"search"}) is None
        True
        >>> parse_python_calls("search(q=query)", {"search"})[0].error[:40]
        "argument 'q' is not a literal ('query');"
    """
    body = unfence(text, PYTHON_FENCE_LANGUAGES)
    if body is None:
        return None
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    if not body:
        return None
    names = None if tool_names is None else frozenset(tool_names)
    leading = _LEADING_CALL.match(body[:300])
    lead_name = leading.group(1) if leading else None
    if len(body) > MAX_CALL_CHARS:
        if names is not None and lead_name in names:
            return [ParsedCall(lead_name, {}, raw=clip(body),
                               error=f"the call is too long ({len(body)} characters; "
                                     f"the limit is {MAX_CALL_CHARS})")]
        return None
    try:
        tree = ast.parse(body, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        if names is not None and lead_name in names:
            reason = (exc.msg if isinstance(exc, SyntaxError) else str(exc)
                      if isinstance(exc, ValueError) else "the code nests too deeply")
            return [ParsedCall(lead_name, {}, raw=clip(body),
                               error=f"not valid Python: {reason}")]
        return None
    nodes = _call_nodes(tree)
    if nodes is None:
        return None
    if any((node.func.lineno, node.func.col_offset) != (node.lineno, node.col_offset)
           for node in nodes):
        return None  # a parenthesized callee, ``(f)(x)``: code, not a tool call
    called = [_dotted_name(node.func) for node in nodes]
    if any(name is None or (names is not None and name not in names) for name in called):
        return None
    segment = _Segments(body)
    return [_python_call(segment, node, name) for node, name in zip(nodes, called, strict=True)
            if name is not None]


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


def _parse_text(text: str, action_format: str, names: frozenset[str] | None,
                max_calls: int | None = None) -> ParsedTurn:
    visible = strip_reasoning(text)
    if action_format in ("auto", "hermes") and TOOL_CALL_OPEN in visible:
        blocks = find_hermes_blocks(visible)
        dropped = 0
        parsed = blocks
        if max_calls is not None and len(blocks) > max_calls:
            # Finding the blocks is a C-speed scan; parsing each one is not.
            dropped = len(blocks) - max_calls
            parsed = blocks[:max_calls]
        return ParsedTurn(remove_hermes_blocks(visible, blocks),
                          tuple(parse_hermes(visible, parsed)), "hermes", dropped)
    if action_format in ("auto", "json"):
        calls = parse_json_calls(visible)
        if calls:
            return ParsedTurn("", tuple(calls), "json")
    if action_format in ("auto", "python"):
        calls = parse_python_calls(visible, names)
        if calls:
            return ParsedTurn("", tuple(calls), "python")
    return ParsedTurn(visible, (), "none")


def parse_action(action: str | Mapping[str, Any], action_format: str = "auto",
                 tool_names: Collection[str] | None = None,
                 max_calls: int | None = None) -> ParsedTurn:
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

    A string has its reasoning removed, then under ``"auto"``: a
    ``<tool_call>`` tag means hermes, else JSON calls if the text is nothing
    but JSON calls, else Python calls if it is nothing but calls of known
    tools, else it is a final answer. A specific format uses only that parser
    (``"openai"`` finds no calls in text).

    Args:
        action: Raw assistant text, or an OpenAI assistant message.
        action_format: One of :data:`ACTION_FORMATS`.
        tool_names: The env's tool names; Python calls must name one of them.
        max_calls: Parse at most this many calls; further attempts are only
            counted (``ParsedTurn.dropped``), so a turn of a million calls costs
            no more than one of ``max_calls``.

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
    try:
        if isinstance(action, str):
            return _capped(_parse_text(action, action_format, names, max_calls), max_calls)
        calls, dropped = _message_calls(action, max_calls)
        problem = _message_problem(action, bool(calls or dropped))
        if problem is not None:
            return ParsedTurn("", (ParsedCall(None, {}, raw=clip(safe_dump(action)),
                                              error=problem),), "openai")
        text = _message_text(action.get("content"))
        if calls or dropped:
            return _capped(ParsedTurn(strip_reasoning(text), tuple(calls), "openai", dropped),
                           max_calls)
        return _capped(_parse_text(text, action_format, names, max_calls), max_calls)
    except Exception as exc:  # a parser bug must not crash a rollout; report it as a call error
        return ParsedTurn("", (ParsedCall(None, {}, error=clip(
            f"internal parser error: {type(exc).__name__}: {exc}")),), "none")
