"""Property-based testing helpers for pack authors: Hypothesis strategies and a state machine.

They use ``hypothesis``, which astra-gym installs (the ``fuzz`` validation check
is built from them).

Strategies (:mod:`astra_gym.testing.strategies`):

* :func:`arguments` / :func:`invalid_arguments`: schema-valid and
  schema-invalid arguments for a tool's ``parameters`` JSON Schema;
* :func:`tool_call`: ``(name, arguments)`` pairs for one tool;
* :func:`action_texts`: whole assistant turns in every format the env parses
  (OpenAI message dicts, hermes ``<tool_call>`` text, bare JSON, Python call
  syntax, final answers);
* :func:`final_answers`: turns without any call attempt;
* :func:`malformed_tool_calls`: broken turns (truncated tags, invalid JSON,
  bad ``tool_calls``, deep or oversized JSON, noise).

The state machine (:mod:`astra_gym.testing.state_machine`) drives an env
through random resets and steps and checks its invariants after every rule.
In a pack's test suite::

    import gymnasium as gym
    import astra_gym
    from hypothesis import settings
    from astra_gym.testing import env_machine

    TestMyPack = env_machine(lambda: gym.make("astra/mypack-v0")).TestCase
    TestMyPack.settings = settings(max_examples=25, stateful_step_count=15, deadline=None)

and a tool test::

    from hypothesis import given
    from astra_gym.testing import arguments

    @given(arguments(MY_TOOL_SCHEMA))
    def test_my_tool_accepts_any_valid_arguments(args):
        my_tool(**args)
"""

from __future__ import annotations

from .state_machine import AstraEnvMachine, env_machine
from .strategies import (
    action_texts,
    arguments,
    final_answers,
    invalid_arguments,
    malformed_tool_calls,
    tool_call,
)

__all__ = [
    "AstraEnvMachine",
    "action_texts",
    "arguments",
    "env_machine",
    "final_answers",
    "invalid_arguments",
    "malformed_tool_calls",
    "tool_call",
]
