"""gpt-oss harmony: messages on channels, calls addressed ``to=functions.NAME``.

Reference: OpenAI's harmony format guide (github.com/openai/harmony,
``docs/format.md``) and vLLM's ``openai`` tool parser. A generation is a run
of messages ``<|start|>{header}<|message|>{content}`` ended by ``<|end|>``,
``<|call|>`` or ``<|return|>`` (the first message's ``<|start|>assistant`` is in
the prompt). The header names the channel (``<|channel|>analysis``,
``commentary`` or ``final``), may carry a recipient ``to=functions.NAME`` (in
the role or the channel part) and a content type (``<|constrain|>json``). A
call is a message with a recipient, its content the JSON arguments::

    <|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant
    <|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>
    {"city": "Paris"}<|call|>

(one line in the model's output).

The ``analysis`` channel is reasoning and is dropped; ``final`` and
``commentary`` messages without a recipient are the visible content. A turn
with no recipient is a final answer whose content is the ``final`` text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from .json_calls import ParsedCall
from .markup import RenderCall, arguments_call, limited, read_name
from .text import clip
from .turn import NO_CONTEXT, ParseContext, ParsedTurn

__all__ = ["MARKERS", "parse_harmony", "render_harmony"]

START = "<|start|>"
CHANNEL = "<|channel|>"
MESSAGE = "<|message|>"
CONSTRAIN = "<|constrain|>"
MARKERS = (CHANNEL,)
_TOKEN = re.compile(r"<\|(start|channel|constrain|message|end|call|return)\|>")
_RECIPIENT = re.compile(r"to=([^\s<]+)")
_ENDS = frozenset({"end", "call", "return"})


class _Message(NamedTuple):
    header: str
    body: str | None  # None: the header was never followed by <|message|>


def _messages(text: str) -> list[_Message]:
    """Split a harmony generation into messages (headers with markers, bodies)."""
    messages: list[_Message] = []
    header: list[str] = []
    body: str | None = None
    tokens = list(_TOKEN.finditer(text))
    header.append(text[:tokens[0].start()] if tokens else text)
    for index, token in enumerate(tokens):
        kind = token.group(1)
        following = text[token.end():tokens[index + 1].start() if index + 1 < len(tokens)
                         else len(text)]
        if kind in _ENDS or (body is not None and kind in ("start", "channel", "constrain")):
            if body is not None or "".join(header).strip():
                messages.append(_Message("".join(header), body))
            header, body = [], None
            if kind in _ENDS:
                continue  # text between a message's end and the next <|start|> is not kept
        if kind == "message":
            body = following
        else:
            header.append(token.group(0) + following)
    if body is not None or "".join(header).strip():
        messages.append(_Message("".join(header), body))
    return messages


def _channel(header: str) -> str:
    _, found, rest = header.partition(CHANNEL)
    return rest.split(maxsplit=1)[0].split("<|", 1)[0] if found and rest.split() else ""


def _call(message: _Message, recipient: str) -> ParsedCall:
    name_text = recipient.removeprefix("functions.")
    name, error = read_name(name_text, f"in to={recipient}")
    if error is not None:
        return ParsedCall(None, {}, raw=clip(message.header.strip()), error=error)
    assert name is not None
    if message.body is None:
        return ParsedCall(name, {}, raw=clip(message.header.strip()),
                          error=f"the call to {recipient!r} has no {MESSAGE} and arguments")
    return arguments_call(name, message.body, f"after {MESSAGE}")


def parse_harmony(text: str, context: ParseContext = NO_CONTEXT) -> ParsedTurn | None:
    """Parse a gpt-oss (harmony) turn.

    Args:
        text: The generated text, special tokens kept.
        context: The call limit.

    Returns:
        The turn (format ``"none"`` when no message has a recipient: a final
        answer, its content the ``final`` text), or ``None`` when there is no
        ``<|channel|>`` marker.

    Example:
        >>> turn = parse_harmony(
        ...     "<|channel|>analysis<|message|>Need weather.<|end|><|start|>assistant"
        ...     "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
        ...     '{"city": "Paris"}<|call|>')
        >>> turn.format, turn.content, turn.calls[0].name, turn.calls[0].arguments
        ('harmony', '', 'get_weather', {'city': 'Paris'})
        >>> parse_harmony("<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant"
        ...               "<|channel|>final<|message|>Paris.<|return|>")
        ParsedTurn(content='Paris.', calls=(), format='none', dropped=0)
    """
    if CHANNEL not in text:
        return None
    content: list[str] = []
    addressed: list[tuple[_Message, str]] = []
    for message in _messages(text):
        recipient = _RECIPIENT.search(message.header)
        if recipient is not None:
            addressed.append((message, recipient.group(1)))
        elif (message.body is not None and message.body.strip()
              and _channel(message.header) != "analysis"):
            content.append(message.body.strip())
    visible = "\n".join(content)
    if not addressed:
        return ParsedTurn(visible, (), "none")
    addressed_kept, dropped = limited(addressed, context.max_calls)
    calls = tuple(_call(message, recipient) for message, recipient in addressed_kept)
    return ParsedTurn(visible, calls, "harmony", dropped)


def render_harmony(calls: Sequence[RenderCall], content: str = "") -> str:
    """Calls as commentary messages to ``functions.NAME``, each ended by ``<|call|>``.

    The first message starts at its ``<|channel|>`` (the generation prompt
    holds its ``<|start|>assistant``), as the model writes it. ``content``
    becomes a ``commentary`` preamble before calls, or the ``final`` message
    of a turn without calls.
    """
    messages = []
    content = content.strip()
    if content:
        channel = "commentary" if calls else "final"
        ending = "<|end|>" if calls else "<|return|>"
        messages.append(f"{CHANNEL}{channel}{MESSAGE}{content}{ending}")
    for call in calls:
        messages.append(f"{CHANNEL}commentary to=functions.{call.name} {CONSTRAIN}json{MESSAGE}"
                        f"{call.raw}<|call|>")
    return f"{START}assistant".join(messages)
