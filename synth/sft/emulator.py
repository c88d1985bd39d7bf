"""Emulated tools (backend 2): an LLM plays the tool, and its reply is schema-checked.

As in the release (research/astra.md §C.8), the emulator sees the called tool's
definition, the call's arguments, the server's description, the **last 5
(call, result) pairs** of the session (so later ids come from earlier results)
and, with probability 0.5 per trajectory, the user's query (so results can
echo the query's entities). Unlike the release it is seeded (the query draw
depends on the seed and the trajectory) and **fails closed**: the reply must
be ``{"result": ...}`` or ``{"error": "..."}``, and when the tool declares an
MCP ``outputSchema`` the result must satisfy it; a reply that never fits
(after the client's retries) raises :class:`EmulatorError`, and the rollout
fails the trajectory (``emulator_error``) instead of inventing a result.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from typing import Any

from synth.llm import LLMClient, LLMError
from synth.prompts import load_prompt

__all__ = ["DEFAULT_HISTORY", "DEFAULT_QUERY_P", "EmulatorError", "emulate_call",
           "reply_schema", "shows_query"]

DEFAULT_HISTORY = 5
"""The (call, result) pairs of the session the emulator sees."""
DEFAULT_QUERY_P = 0.5
"""The probability that the emulator sees the user's query (drawn once per trajectory)."""
_RESULT_CHARS = 20_000


class EmulatorError(RuntimeError):
    """The emulator produced no usable result for a call (fail-closed)."""


def shows_query(seed: int, trajectory_id: str, p: float = DEFAULT_QUERY_P) -> bool:
    """Whether the emulator of a trajectory sees the user's query (one seeded draw).

    Args:
        seed: The run's seed.
        trajectory_id: The trajectory.
        p: The probability.

    Returns:
        The draw.
    """
    return random.Random(f"emulate-query:{seed}:{trajectory_id}").random() < p


def reply_schema(output_schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The JSON schema an emulator reply must satisfy.

    Args:
        output_schema: The tool's declared output schema (MCP ``outputSchema``), if any.

    Returns:
        ``{"result": <output schema or anything>}`` or ``{"error": "<text>"}``.
    """
    result: dict[str, Any] = dict(output_schema) if output_schema else {}
    return {"anyOf": [
        {"type": "object", "required": ["result"], "properties": {"result": result},
         "additionalProperties": False},
        {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string", "minLength": 1}},
         "additionalProperties": False}]}


def _history_text(history: Sequence[Mapping[str, Any]], window: int) -> str:
    shown = list(history)[-window:] if window > 0 else []
    if not shown:
        return "(none)"
    return "\n".join(json.dumps({"call": {"name": pair["name"], "arguments": pair["arguments"]},
                                 "result": pair["result"]}, ensure_ascii=False)
                     for pair in shown)


async def emulate_call(client: LLMClient, *, tool: Mapping[str, Any],
                       arguments: Mapping[str, Any], server: Mapping[str, Any],
                       history: Sequence[Mapping[str, Any]], query: str | None,
                       output_schema: Mapping[str, Any] | None = None,
                       window: int = DEFAULT_HISTORY, temperature: float | None = 1.0,
                       max_tokens: int | None = None) -> tuple[bool, str, dict[str, int]]:
    """Ask the emulator for one call's result.

    Args:
        client: The LLM client (cached, retrying, fail-closed on the schema).
        tool: The OpenAI function object (``name``, ``description``, ``parameters``).
        arguments: The call's (valid) arguments.
        server: The server (``name``, ``description``...).
        history: Earlier ``{"name", "arguments", "result"}`` pairs of the session, oldest first.
        query: The user's query, or ``None`` when this trajectory's emulator does not see it.
        output_schema: The tool's declared output schema, if any.
        window: How many recent pairs are shown.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.

    Returns:
        ``(ok, tool message content, usage)``: ``ok`` is false for an error the
        emulated tool raised.

    Raises:
        EmulatorError: No reply fit the schema after the client's retries, or
            the call failed for good.
    """
    prompt = load_prompt("sft_emulate_tool")
    shown_server = {key: server.get(key) for key in ("name", "title", "description")
                    if server.get(key)}
    content = prompt.render(
        server=json.dumps(shown_server, ensure_ascii=False),
        tool=json.dumps({"name": tool.get("name"), "description": tool.get("description"),
                         "parameters": tool.get("parameters"),
                         **({"output_schema": output_schema} if output_schema else {})},
                        ensure_ascii=False),
        output_schema_note=", output_schema" if output_schema else "",
        arguments=json.dumps(dict(arguments), ensure_ascii=False),
        history=_history_text(history, window),
        query=f"The user's request that led to this call:\n{query}" if query
        else "(The user's request is not shown.)")
    try:
        completion = await client.complete([{"role": "user", "content": content}],
                                           temperature=temperature, max_tokens=max_tokens,
                                           schema=reply_schema(output_schema))
    except LLMError as exc:
        raise EmulatorError(f"the emulator gave no usable result for {tool.get('name')!r}: "
                            f"{exc.reason}") from exc
    value = completion.value
    if "error" in value:
        return False, f"Error: {value['error']}"[:_RESULT_CHARS], dict(completion.usage)
    result = value["result"]
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return True, text[:_RESULT_CHARS], dict(completion.usage)
