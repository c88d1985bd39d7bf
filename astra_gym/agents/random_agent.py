"""A seeded random agent: random tools, schema-valid random arguments.

It is the floor a trained policy must beat, and a cheap load generator for
benchmarks. Arguments satisfy the tool's JSON Schema (types, enums, bounds,
required properties), so its calls reach the tools and measure the env, not
the validator; they rarely hit the mock data, so it rarely solves anything.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from .base import Action, Message

__all__ = ["RandomAgent", "random_value"]

_WORDS = ("alpha", "Paris", "ACME", "2026-05-12", "北京", "standard", "blue", "A-1001", "x")


def random_value(schema: Any, rng: np.random.Generator, depth: int = 0) -> Any:
    """A random JSON value that satisfies a (simple) JSON Schema.

    Supports ``type``, ``enum``, ``const``, ``properties``/``required``,
    ``items``, ``minimum``/``maximum``, ``minLength``/``maxLength`` and
    ``minItems``/``maxItems``; other keywords are ignored.

    Args:
        schema: The schema.
        rng: The generator to draw from.
        depth: Nesting depth (objects and arrays stop growing at 3).

    Returns:
        The value.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> random_value({"type": "string", "enum": ["metric", "imperial"]}, rng) in (
        ...     "metric", "imperial")
        True
    """
    if not isinstance(schema, dict):
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][int(rng.integers(len(schema["enum"])))]
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = kind[int(rng.integers(len(kind)))] if kind else "string"
    if kind == "integer":
        low = int(schema.get("minimum", 0))
        high = int(schema.get("maximum", low + 100))
        return int(rng.integers(low, max(low, high) + 1))
    if kind == "number":
        low = float(schema.get("minimum", 0.0))
        high = float(schema.get("maximum", low + 100.0))
        return round(float(rng.uniform(low, max(low, high))), 2)
    if kind == "boolean":
        return bool(rng.integers(2))
    if kind == "null":
        return None
    if kind == "array":
        low = int(schema.get("minItems", 0))
        count = low if depth >= 3 else int(rng.integers(low, max(low, int(schema.get(
            "maxItems", low + 3))) + 1))
        return [random_value(schema.get("items", {}), rng, depth + 1) for _ in range(count)]
    if kind == "object":
        properties = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {name: random_value(sub, rng, depth + 1) for name, sub in properties.items()
                if name in required or (depth < 3 and rng.random() < 0.5)}
    text = _WORDS[int(rng.integers(len(_WORDS)))]
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    return text if high is None else text[:int(high)]


class RandomAgent:
    """Calls random tools with random schema-valid arguments, then answers at random.

    Args:
        seed: Seeds the agent's own generator (no global state).
        call_probability: Chance that a turn makes calls rather than answering.
        max_calls_per_turn: Upper bound of calls in one turn.
    """

    def __init__(self, seed: int | None = None, call_probability: float = 0.7,
                 max_calls_per_turn: int = 2) -> None:
        self.rng = np.random.default_rng(seed)
        self.call_probability = call_probability
        self.max_calls_per_turn = max_calls_per_turn
        self._tools: list[dict[str, Any]] = []

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        self._tools = [tool["function"] for tool in info.get("tools", [])]

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        rng = self.rng
        if not self._tools or rng.random() >= self.call_probability:
            return f"The answer is {_WORDS[int(rng.integers(len(_WORDS)))]}."
        calls = []
        for index in range(int(rng.integers(1, self.max_calls_per_turn + 1))):
            tool = self._tools[int(rng.integers(len(self._tools)))]
            arguments = random_value(tool.get("parameters", {}), rng)
            calls.append({"id": f"random_{index}", "type": "function", "function": {
                "name": tool["name"], "arguments": json.dumps(arguments, ensure_ascii=False)}})
        return {"role": "assistant", "content": None, "tool_calls": calls}
