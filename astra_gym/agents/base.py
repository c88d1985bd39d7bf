"""The agent protocol: what ``astra-gym run`` and the examples drive.

An agent sees exactly what an RL policy sees: the messages an env returns
(``reset`` gives the system and user messages, each ``step`` the new tool
messages) and the ``info`` dicts. It keeps its own history and answers with
an action the env accepts: raw assistant text, or an OpenAI assistant message
dict (``{"role": "assistant", "content": ..., "tool_calls": [...]}``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

__all__ = ["Action", "Agent", "Message"]

#: One OpenAI-format chat message.
Message = dict[str, Any]
#: What an agent returns: assistant text, or an assistant message dict.
Action = str | dict[str, Any]


@runtime_checkable
class Agent(Protocol):
    """Anything with ``reset`` and ``act`` can be run against an astra env."""

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        """Start an episode.

        Args:
            observation: The messages ``env.reset()`` returned (system + user).
            info: The reset info (``task_id``, ``tools`` in OpenAI format, …).
        """

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        """Choose the next assistant turn.

        Args:
            observation: The messages the last call returned: ``reset``'s on the
                first turn, then each ``step``'s new tool messages.
            info: The matching info dict.

        Returns:
            The assistant turn.
        """
