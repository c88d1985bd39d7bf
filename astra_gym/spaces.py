"""Spaces for chat episodes: lists of OpenAI messages in, assistant turns out.

Gymnasium's ``Text`` space cannot hold JSON or non-ASCII text without a huge
charset (research/tech.md §3.1), so these are small custom spaces:
``contains`` checks structure cheaply, ``sample`` draws from the space's own
seeded generator, and ``__eq__`` compares parameters. Neither is
numpy-flattenable; vector envs batch them as tuples, and ``AsyncVectorEnv``
needs ``shared_memory=False`` (it refuses custom spaces loudly otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gymnasium.spaces import Space

__all__ = ["ROLES", "AssistantTurnSpace", "MessagesSpace"]

ROLES = ("system", "user", "assistant", "tool")
_WORDS = ("weather", "price", "order", "Paris", "2026-03-14", "total", "42", "北京", "ok", "id")


def _random_text(rng: Any, words: int) -> str:
    return " ".join(_WORDS[int(i)] for i in rng.integers(0, len(_WORDS), size=words))


class MessagesSpace(Space[list]):
    """Lists of OpenAI chat messages (``{"role": ..., "content": ...}`` dicts).

    A message is in the space when its ``role`` is one of :data:`ROLES` and its
    ``content`` is text of at most ``max_length`` characters (``None`` is
    allowed for an assistant message that only carries ``tool_calls``).

    Args:
        max_length: The longest message content, in characters.
        seed: Seed for :meth:`sample`.
    """

    def __init__(self, max_length: int = 1_000_000, seed: int | None = None) -> None:
        self.max_length = max_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def _message_ok(self, message: Any) -> bool:
        if not isinstance(message, Mapping) or message.get("role") not in ROLES:
            return False
        content = message.get("content")
        if content is None:
            return message["role"] == "assistant"
        return isinstance(content, str) and len(content) <= self.max_length

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is a list of well-formed messages."""
        return isinstance(x, list) and all(self._message_ok(message) for message in x)

    def sample(self, mask: Any = None, probability: Any = None) -> list[dict[str, Any]]:
        """A short random conversation drawn from this space's generator."""
        if mask is not None or probability is not None:
            raise ValueError("MessagesSpace.sample takes no mask or probability")
        rng = self.np_random
        count = int(rng.integers(1, 4))
        return [{"role": ROLES[int(rng.integers(0, len(ROLES)))],
                 "content": _random_text(rng, int(rng.integers(1, 8)))} for _ in range(count)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MessagesSpace) and other.max_length == self.max_length

    def __hash__(self) -> int:
        return hash((MessagesSpace, self.max_length))

    def __repr__(self) -> str:
        return f"MessagesSpace(max_length={self.max_length})"


class AssistantTurnSpace(Space[Any]):
    """Assistant turns: raw text, or an OpenAI assistant message dict.

    ``sample`` mixes final answers with tool calls in the hermes and JSON
    formats, so a random policy exercises the parsers; most sampled calls name
    no real tool and come back as tool error messages.

    Args:
        max_length: The longest text (or message content), in characters.
        tool_names: Names ``sample`` may call (besides made-up ones).
        seed: Seed for :meth:`sample`.
    """

    def __init__(self, max_length: int = 1_000_000, tool_names: tuple[str, ...] = (),
                 seed: int | None = None) -> None:
        self.max_length = max_length
        self.tool_names = tuple(tool_names)
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is text or an assistant message dict of allowed size."""
        if isinstance(x, str):
            return len(x) <= self.max_length
        if isinstance(x, Mapping):
            content = x.get("content")
            calls = x.get("tool_calls")
            return (x.get("role", "assistant") == "assistant"
                    and (content is None or (isinstance(content, str)
                                             and len(content) <= self.max_length))
                    and (calls is None or isinstance(calls, list)))
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A random assistant turn: a final answer, or one or two tool calls as text."""
        if mask is not None or probability is not None:
            raise ValueError("AssistantTurnSpace.sample takes no mask or probability")
        rng = self.np_random
        kind = int(rng.integers(0, 3))
        if kind == 0:
            return _random_text(rng, int(rng.integers(1, 10)))
        names = (*self.tool_names, "lookup", "search")
        calls = []
        for _ in range(int(rng.integers(1, 3))):
            name = names[int(rng.integers(0, len(names)))]
            arguments = {"query": _random_text(rng, 2)}
            calls.append({"name": name, "arguments": arguments})
        if kind == 1:
            return "".join(f"<tool_call>{json.dumps(call, ensure_ascii=False)}</tool_call>"
                           for call in calls)
        return json.dumps(calls[0], ensure_ascii=False)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, AssistantTurnSpace) and other.max_length == self.max_length
                and other.tool_names == self.tool_names)

    def __hash__(self) -> int:
        return hash((AssistantTurnSpace, self.max_length, self.tool_names))

    def __repr__(self) -> str:
        return f"AssistantTurnSpace(max_length={self.max_length})"
