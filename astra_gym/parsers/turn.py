"""The records every format parser returns: :class:`ParsedTurn` and its :class:`ParseContext`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from .json_calls import ParsedCall

__all__ = ["NO_CONTEXT", "ParseContext", "ParsedTurn", "capped"]


@dataclass(frozen=True)
class ParsedTurn:
    """One assistant turn, parsed.

    Attributes:
        content: The visible text: reasoning removed, tool-call markup
            removed, stripped; ``""`` when the whole turn was calls.
        calls: Every call attempt, in order, unparsable ones included
            (their ``error`` is set).
        format: Where the calls came from: ``"openai"`` (a message's
            ``tool_calls``/``function_call``) or the text format that was
            read (``"hermes"``, ``"json"``, ``"python"``, ``"glm45"``, ... see
            :data:`~astra_gym.parsers.ACTION_FORMATS`); ``"none"`` when the
            turn has no call attempt (and for the one error call that reports
            an unexpected parser failure).
    """

    content: str
    calls: tuple[ParsedCall, ...] = ()
    format: str = "none"
    #: Call attempts beyond ``max_calls`` that were not parsed (see
    #: :func:`~astra_gym.parsers.parse_action`).
    dropped: int = 0

    @property
    def errors(self) -> tuple[str, ...]:
        """The error of each call that could not be parsed, in order."""
        return tuple(call.error for call in self.calls if call.error is not None)

    @property
    def is_final(self) -> bool:
        """Whether the turn is a final answer: it has no call attempt at all."""
        return not self.calls and not self.dropped


class ParseContext(NamedTuple):
    """What a format parser may use besides the text.

    Attributes:
        names: The env's tool names (Python call syntax must name one of them).
        schemas: Tool name to its parameters JSON Schema: formats that write
            every argument as bare text (GLM, Qwen3-Coder) type them by it.
        max_calls: Parse at most this many calls; count the rest as dropped.
    """

    names: frozenset[str] | None = None
    schemas: Mapping[str, Any] | None = None
    max_calls: int | None = None


#: The context of a parser called on its own: any tool name, no schemas, no call limit.
NO_CONTEXT = ParseContext()


def capped(turn: ParsedTurn, max_calls: int | None) -> ParsedTurn:
    """``turn`` with the calls beyond ``max_calls`` moved to ``dropped``."""
    if max_calls is None or len(turn.calls) <= max_calls:
        return turn
    return replace(turn, calls=turn.calls[:max_calls],
                   dropped=turn.dropped + len(turn.calls) - max_calls)
