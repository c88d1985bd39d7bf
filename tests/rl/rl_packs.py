"""Hand-built packs and a fixed-vector embedder for the RL-mechanism tests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack

EMPTY = {"type": "object", "properties": {}}


def const_tool(name: str, result: str, description: str | None = None) -> Tool:
    """A tool without parameters that returns ``result``."""
    source = f"def {name}() -> str:\n    return {result!r}\n"
    return Tool(name, description or f"The {name.replace('_', ' ')} tool.", EMPTY, source, name)


def task(task_id: str, domain: str, tools: Sequence[Tool], *, answer: str = "never-answered",
         gold: bool = True, distractor_tools: Sequence[Tool] = (),
         final_answer: str | None = None) -> Task:
    """A one-hop task solved by calling its first tool (or answer-only: ``gold=False``)."""
    first = tools[0]
    sub = SubTask(f"{first.name}#1", None if not gold else "q?", answer, (), 1, True, first.name,
                  GoldCall(first.name, {}) if gold else None)
    return Task(task_id=task_id, source=TaskSource("rl.jsonl", 1, task_id), domain=domain,
                language="en", prompt=({"role": "user", "content": f"Question {task_id}?"},),
                final_answer=final_answer, subtasks=(sub,), tools=tuple(tools),
                distractor_tools=tuple(distractor_tools))


def write(directory, name: str, tasks: Sequence[Task]) -> str:
    write_pack(directory, name, 0, tasks, validation={"rows": len(tasks),
                                                      "compiled": len(tasks), "rejected": 0})
    return str(directory)


class FixedEmbedder:
    """Returns a given vector per tool name (read from the tool document)."""

    def __init__(self, vectors: Mapping[str, Sequence[float]]) -> None:
        self.vectors = {name: np.asarray(v, dtype=np.float32) for name, v in vectors.items()}
        self.fingerprint = "fixed:" + json.dumps({k: list(map(float, v))
                                                  for k, v in sorted(vectors.items())})
        self.calls = 0

    def embed(self, documents: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self.vectors[json.loads(d)["function"]["name"]] for d in documents])


COUNTER_SOURCE = '''STATE = {"n": 0}
def tick() -> dict:
    STATE["n"] += 1
    return {"ticks": STATE["n"]}
'''
TICK = Tool("tick", "Count ticks of the metronome.",
            {"type": "object", "properties": {}, "additionalProperties": False},
            COUNTER_SOURCE, "tick")
FORECAST = const_tool("get_forecast", '{"city": "Paris", "forecast": "Sunny, 21 C"}',
                      "Weather forecast for Paris.")
QUOTE = const_tool("get_quote", "ACME closes at 1,234.50 USD", "Latest stock quote of ACME.")
ECHO = const_tool("forecast_digest", "Digest: Sunny, 21 C and more",
                  "A digest of forecasts (a distractor whose result holds the answer).")
TWIN = const_tool("weather_twin", "cloudy", "Another weather tool.")
LOCAL = const_tool("local_only", "x", "A tool of the env's own pack, finance domain.")
PACK_DISTRACTOR = const_tool("pack_distractor", "nothing", "A distractor the pack ships.")


def write_env_pack(directory) -> str:
    """The env's pack: an answer-only weather task, a finance task, a stateful task."""
    return write(directory, "rlenv", [
        task("weather-rl", "weather", [FORECAST], answer="Sunny, 21 C", gold=False),
        task("finance", "finance", [QUOTE, LOCAL], answer="1,234.50 USD",
             final_answer="1,234.50 USD", distractor_tools=[PACK_DISTRACTOR]),
        task("ticks", "metronome", [TICK], answer="never"),
    ])


def write_pool_pack(directory) -> str:
    """The pool: a distractor whose result holds the weather answer, a stateful one, a twin."""
    return write(directory, "rlpool", [
        task("misc-1", "misc", [ECHO, TICK]),
        task("weather-2", "weather", [TWIN]),
    ])


# -- a pool with known embeddings (the band tests) --------------------------------------
# In-scope tools q and r (domain alpha); the pool's tools with their domains and vectors.
# Cosine with q is the first component, with r the second (all vectors are unit length).
VECTORS = {
    "q": (1.0, 0.0, 0.0),
    "r": (0.0, 1.0, 0.0),
    "s1": (0.8, 0.6, 0.0),                # alpha: the most similar to q, same domain
    "c_hi": (0.75, 0.661438, 0.0),        # beta (and delta, through a second definition)
    "c_mid": (0.6, 0.0, 0.8),             # beta
    "c_lo": (0.0, 1.0, 0.0),              # gamma: unrelated to q, identical to r
    "c_min": (-0.5, 0.0, 0.866025),       # gamma: the least similar to q
}
T = {name: const_tool(name, f"{name} result") for name in VECTORS}


def write_band_packs(root) -> tuple[str, str]:
    """The env pack (tasks t1: alpha, q and r; t2: delta, q) and the pool pack."""
    env_pack = write(root / "env", "bandenv", [
        task("t1", "alpha", [T["q"], T["r"]]),
        task("t2", "delta", [T["q"]]),
    ])
    second_c_hi = const_tool("c_hi", "other", "A second definition under the same name.")
    pool_pack = write(root / "pool", "bandpool", [
        task("p-beta", "beta", [T["c_hi"], T["c_mid"]]),
        task("p-gamma", "gamma", [T["c_lo"], T["c_min"]]),
        task("p-alpha", "alpha", [T["s1"]]),
        task("p-delta", "delta", [second_c_hi]),
    ])
    return env_pack, pool_pack
