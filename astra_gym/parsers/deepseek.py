"""DeepSeek tool calls: the ``<｜tool▁calls▁begin｜>`` family, and V3.2's DSML.

Reference: the chat templates of DeepSeek-V3 / R1 and V3.1
(``tokenizer_config.json``) and vLLM's ``deepseek_v3``, ``deepseek_v31`` and
``deepseek_v32`` tool parsers. The markers use U+FF5C (``｜``) and U+2581
(``▁``):

* V3, R1: ``<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME``
  then a fenced ```` ```json ```` block and ``<｜tool▁call▁end｜>``, one per call,
  then ``<｜tool▁calls▁end｜>``;
* V3.1: ``<｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{JSON}<｜tool▁call▁end｜>`` (no
  type, no fence; a fence is accepted anyway);
* V3.2: ``<｜DSML｜function_calls>`` with ``<｜DSML｜invoke name="NAME">`` and
  ``<｜DSML｜parameter name="KEY" string="true|false">VALUE</｜DSML｜parameter>``
  (``string="true"``: the text as is; otherwise JSON).

Spelling variants R1 distillations write (``_`` or a space for ``▁``,
``<｜tool▁calls｜>``) are accepted. A missing ``<｜tool▁call▁end｜>`` after
complete JSON is tolerated (the generation stopped on its end token); a call
without ``<｜tool▁sep｜>``, or with arguments that are not a JSON object, is an
error call. A DSML call must reach its ``</｜DSML｜invoke>`` (its values do not
end by themselves: one cut off there is an error call).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .argtypes import parameter_schema, typed_value
from .json_calls import ParsedCall, decode_json
from .markup import (
    RenderCall,
    arguments_call,
    check_bare_argument,
    find_all,
    limited,
    read_name,
)
from .text import clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_deepseek", "render_deepseek", "render_deepseek_v3",
           "render_deepseek_v32"]

CALLS_BEGIN = "<｜tool▁calls▁begin｜>"
CALLS_END = "<｜tool▁calls▁end｜>"
CALL_BEGIN = "<｜tool▁call▁begin｜>"
CALL_END = "<｜tool▁call▁end｜>"
SEP = "<｜tool▁sep｜>"
EOS = "<｜end▁of▁sentence｜>"
DSML_CALLS = "<｜DSML｜function_calls>"
DSML_CALLS_END = "</｜DSML｜function_calls>"
DSML_INVOKE = "<｜DSML｜invoke"
DSML_INVOKE_END = "</｜DSML｜invoke>"
DSML_PARAMETER = "<｜DSML｜parameter"
DSML_PARAMETER_END = "</｜DSML｜parameter>"
MARKERS = ("<｜tool", DSML_CALLS)

_TOKEN = re.compile(r"<｜tool[▁_ \\]*(calls?|sep)(?:[▁_ \\]*(begin|end))?[▁_ \\]*｜>")
_FUNCTION_NAME = re.compile(r"\s*([^\s`{]+)")
_ATTRIBUTE = re.compile(r'\s*(\w+)\s*=\s*"([^"]*)"')


def _tokens(text: str, start: int) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of every marker; kind is ``calls_begin``, ``call_end``, ``sep``..."""
    found = []
    for match in _TOKEN.finditer(text, start):
        noun, edge = match.group(1), match.group(2)
        kind = "sep" if noun == "sep" else f"{noun}_{edge or 'begin'}"
        found.append((match.start(), match.end(), kind))
    return found


def _call_spans(text: str, tokens: list[tuple[int, int, str]]) -> tuple[list[str], str]:
    """The body of each call, and the text after the last end marker (the turn's prose)."""
    bodies: list[str] = []
    current: int | None = None
    section: int | None = None  # the end of a calls-begin marker with no call marker yet
    tail_start = len(text)
    for start, end, kind in tokens:
        if kind == "call_begin":
            if current is not None:
                bodies.append(text[current:start])
            current, section = end, None
        elif kind in ("call_end", "calls_end"):
            if current is not None:
                bodies.append(text[current:start])
                current = None
            elif section is not None and text[section:start].strip():
                bodies.append(text[section:start])  # calls written without a call-begin
            section = None
            tail_start = end
        elif kind == "calls_begin" and current is None:
            section = end
    if current is not None:
        bodies.append(text[current:])
        tail_start = len(text)
    elif section is not None:
        if text[section:].strip():
            bodies.append(text[section:])
        tail_start = len(text)
    return bodies, text[tail_start:]


def _call(body: str) -> ParsedCall:
    parts = _TOKEN.split(body, maxsplit=1)
    if len(parts) == 1 or parts[1] != "sep":
        name, _ = read_name(body.split("\n", 1)[0], "")
        return ParsedCall(name, {}, raw=clip(body.strip()),
                          error=f"no {SEP} between the function name and its arguments")
    left, right = parts[0], parts[-1]
    if left.strip() == "function":  # V3 / R1: function<sep>NAME\n```json\n{...}\n```
        match = _FUNCTION_NAME.match(right)
        if match is None:
            return ParsedCall(None, {}, raw=clip(body.strip()),
                              error=f"no function name after {SEP}")
        name_text, arguments = match.group(1), right[match.end():]
    else:  # V3.1: NAME<sep>{...}
        name_text, arguments = left, right
    name, error = read_name(name_text, f"in {CALL_BEGIN}")
    if error is not None:
        return ParsedCall(None, {}, raw=clip(body.strip()), error=error)
    assert name is not None
    arguments = arguments.strip()
    if arguments.endswith(EOS):
        arguments = arguments[:-len(EOS)].rstrip()
    return arguments_call(name, arguments, f"after {SEP}", raw=body.strip())


def _attributes(header: str) -> dict[str, str]:
    return dict(_ATTRIBUTE.findall(header))


def _dsml_invoke(body: str, schemas: Mapping[str, Any] | None) -> ParsedCall:
    """One ``<｜DSML｜invoke name="...">`` block (``body`` starts after ``<｜DSML｜invoke``)."""
    close = body.find(">")
    if close < 0:
        return ParsedCall(None, {}, raw=clip(body), error=f"unclosed {DSML_INVOKE} tag")
    name, error = read_name(_attributes(body[:close]).get("name", ""), f'in {DSML_INVOKE} name=""')
    if error is not None:
        return ParsedCall(None, {}, raw=clip(body), error=error)
    assert name is not None
    arguments: dict[str, Any] = {}
    pos = close + 1
    while True:
        start = body.find(DSML_PARAMETER, pos)
        if start < 0:
            break
        stray = body[pos:start].strip()
        if stray:
            return ParsedCall(name, {}, raw=clip(body),
                              error=f"unexpected text in {name!r}: {clip(stray, 60)!r}")
        head_end = body.find(">", start)
        end = body.find(DSML_PARAMETER_END, head_end + 1) if head_end >= 0 else -1
        if end < 0:
            return ParsedCall(name, {}, raw=clip(body),
                              error=f"unclosed {DSML_PARAMETER} in {name!r}")
        attributes = _attributes(body[start + len(DSML_PARAMETER):head_end])
        key = attributes.get("name")
        if not key:
            return ParsedCall(name, {}, raw=clip(body),
                              error=f'a {DSML_PARAMETER} of {name!r} has no name=""')
        if key in arguments:
            return ParsedCall(name, {}, raw=clip(body), error=f"argument {key!r} given twice")
        text = body[head_end + 1:end]
        if attributes.get("string", "true") == "true":
            arguments[key] = text
        else:
            try:
                arguments[key] = decode_json(text)
            except ValueError:
                arguments[key] = typed_value(text, parameter_schema(schemas, name, key))
        pos = end + len(DSML_PARAMETER_END)
    if DSML_INVOKE_END not in body[pos:]:
        return ParsedCall(name, {}, raw=clip(body),
                          error=f"the call to {name!r} is cut off: no {DSML_INVOKE_END}")
    rest = body[pos:].replace(DSML_INVOKE_END, "", 1).strip()
    if rest:
        return ParsedCall(name, {}, raw=clip(body),
                          error=f"unexpected text in {name!r}: {clip(rest, 60)!r}")
    return ParsedCall(name, arguments, raw=clip(body))


def _parse_dsml(text: str, marker: int, context: ParseContext) -> ParsedTurn:
    """The DSML section whose ``<｜DSML｜function_calls>`` is at ``marker``."""
    start = marker + len(DSML_CALLS)
    close = text.find(DSML_CALLS_END, start)
    section_end = len(text) if close < 0 else close
    invokes = find_all(text, DSML_INVOKE, start, section_end)
    if not invokes:
        return ParsedTurn(text[:marker].strip(), (ParsedCall(
            None, {}, raw=clip(text[start:].strip()),
            error=f"no {DSML_INVOKE} in {DSML_CALLS}"),), "deepseek")
    bounds = [*invokes, section_end]
    bodies = [text[bounds[i] + len(DSML_INVOKE):bounds[i + 1]] for i in range(len(invokes))]
    bodies, dropped = limited(bodies, context.max_calls)
    calls = tuple(_dsml_invoke(body, context.schemas) for body in bodies)
    tail = "" if close < 0 else text[close + len(DSML_CALLS_END):].replace(EOS, "")
    content = " ".join(part.strip() for part in (text[:marker], tail) if part.strip())
    return ParsedTurn(content, calls, "deepseek", dropped)


def parse_deepseek(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a DeepSeek V3 / R1 / V3.1 / V3.2 turn.

    Args:
        text: The visible text (reasoning removed).
        context: Schemas (V3.2 non-string values) and the call limit.

    Returns:
        The turn, or ``None`` when there is no DeepSeek tool marker.

    Example:
        >>> turn = parse_deepseek(
        ...     "Let me check.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>"
        ...     'get_weather\\n```json\\n{"city": "Paris"}\\n```<｜tool▁call▁end｜>'
        ...     "<｜tool▁calls▁end｜>")
        >>> turn.content, turn.calls[0].name, turn.calls[0].arguments
        ('Let me check.', 'get_weather', {'city': 'Paris'})
        >>> parse_deepseek("<｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\\"city\\": \\"Oslo\\"}"
        ...                ).calls[0].arguments
        {'city': 'Oslo'}
    """
    dsml = text.find(DSML_CALLS)
    first = text.find("<｜tool")
    if dsml >= 0 and (first < 0 or dsml < first):
        return _parse_dsml(text, dsml, context)
    if first < 0:
        return None
    tokens = _tokens(text, first)
    if not tokens:
        return None  # "<｜tool" but no marker: prose
    bodies, tail = _call_spans(text, tokens)
    content = " ".join(part.strip() for part in (text[:tokens[0][0]], tail.replace(EOS, ""))
                       if part.strip())
    if not bodies:
        return ParsedTurn(content, (ParsedCall(None, {}, raw=clip(text[tokens[0][0]:]),
                                               error=f"no tool call in {CALLS_BEGIN}"),),
                          "deepseek")
    bodies, dropped = limited(bodies, context.max_calls)
    return ParsedTurn(content, tuple(_call(body) for body in bodies), "deepseek", dropped)


def render_deepseek(calls: Sequence[RenderCall]) -> str:
    """The V3.1 form: ``NAME<｜tool▁sep｜>{JSON}`` in call markers."""
    return CALLS_BEGIN + "".join(f"{CALL_BEGIN}{call.name}{SEP}{call.raw}{CALL_END}"
                                 for call in calls) + CALLS_END


def render_deepseek_v3(calls: Sequence[RenderCall]) -> str:
    """The V3 / R1 form: ``function<｜tool▁sep｜>NAME`` and a fenced JSON block."""
    return CALLS_BEGIN + "\n".join(
        f"{CALL_BEGIN}function{SEP}{call.name}\n```json\n{call.raw}\n```{CALL_END}"
        for call in calls) + CALLS_END


def render_deepseek_v32(calls: Sequence[RenderCall]) -> str:
    """The V3.2 DSML form: strings as text (``string="true"``), other values as JSON.

    Raises:
        ValueError: A call's arguments are not a JSON object, or a string
            argument holds DSML markup or a reasoning tag (the template cannot
            write it either).
    """
    lines = [DSML_CALLS]
    for call in calls:
        lines.append(f'{DSML_INVOKE} name="{call.name}">')
        for key, value in call.named_arguments("deepseek_v32").items():
            text = check_bare_argument(call.name, "deepseek_v32", key, value,
                                       ("<｜DSML｜", "</｜DSML｜"))
            flag = "true" if isinstance(value, str) else "false"
            lines.append(f'{DSML_PARAMETER} name="{key}" string="{flag}">{text}'
                         f"{DSML_PARAMETER_END}")
        lines.append(DSML_INVOKE_END)
    lines.append(DSML_CALLS_END)
    return "\n".join(lines)
