"""Agents that play astra envs: the :class:`Agent` protocol and implementations.

Implementations load on first use (``from astra_gym.agents import OpenAIAgent``
works, but ``import astra_gym.agents`` imports only the protocol), so optional
dependencies such as ``openai`` cost nothing until needed. To add one, put it
in its own module and list its public names in ``_LAZY`` and ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import Action, Agent, Message

__all__ = ["Action", "Agent", "AgentError", "Message", "OpenAIAgent", "OracleAgent", "RandomAgent"]

#: Public name -> the submodule that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "AgentError": ".openai_agent",
    "OpenAIAgent": ".openai_agent",
    "OracleAgent": ".oracle",
    "RandomAgent": ".random_agent",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
