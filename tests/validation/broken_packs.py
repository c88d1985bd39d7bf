"""A sound little pack and deliberately broken variants, one defect each.

:data:`BROKEN` variants fail error-severity checks (:data:`EXPECTED_FAILURES`
says which); :data:`WARNED` variants only draw warnings.
"""

from __future__ import annotations

import os
from pathlib import Path

from astra_gym.env import AstraEnv
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack

SOUND_SOURCE = '''VISITS = []
def get_city_temp(city: str) -> dict:
    """Mock current temperature of a city."""
    if not isinstance(city, str) or not city.strip():
        raise ValueError("city must be a non-empty string")
    data = {"paris": "18.5 °C", "oslo": "4.0 °C", "lima": "22.0 °C"}
    key = city.strip().lower()
    if key not in data:
        return {"error": f"no data for {city}"}
    VISITS.append(key)
    return {"city": city.strip().title(), "temperature": data[key], "station": "MX-" + key[:2],
            "lookups_this_episode": len(VISITS)}
'''
SCHEMA = {"type": "object", "properties": {
    "city": {"type": "string", "description": "City name"}}, "required": ["city"]}
DESCRIPTION = "Current temperature of a city."


def _task(source: str = SOUND_SOURCE, schema: dict | None = None,
          description: str = DESCRIPTION, oslo_answer: str = "4.0 °C",
          oslo_call: dict | None = None, final_answer: str = "14.5 degrees") -> Task:
    tool = Tool("get_city_temp", description, schema or SCHEMA, source, "get_city_temp")
    return Task(
        task_id="temps", source=TaskSource("broken.jsonl", 1, "temps"), domain="weather",
        language="en", prompt=({"role": "user", "content":
                                "How much warmer than Oslo is Paris right now?"},),
        final_answer=final_answer,
        subtasks=(SubTask("1", "Paris now?", "18.5 °C", (), 1, True, "get_city_temp",
                          GoldCall("get_city_temp", {"city": "Paris"})),
                  SubTask("2", "Oslo now?", oslo_answer, (), 1, True, "get_city_temp",
                          GoldCall("get_city_temp", oslo_call or {"city": "Oslo"})),
                  SubTask("3", "Difference?", "14.5 degrees", ("1", "2"), 2, False, None,
                          None)),
        tools=(tool,), scenario_type="Parallel Multi-Hop")


BROKEN = {
    # The gold call for Oslo cannot produce the recorded answer.
    "gold": lambda: _task(oslo_answer="5.5 °C"),
    # The tool description gives an answer away.
    "leaky_description": lambda: _task(
        description=DESCRIPTION + " For example Paris reports 18.5 °C."),
    # The gold call for Oslo passes the answer in, and the tool repeats it back.
    "leakage": lambda: _task(oslo_call={"city": "Oslo 4.0 °C"}, source=SOUND_SOURCE.replace(
        'key = city.strip().lower()', 'key = city.strip().lower().split(" ")[0]')),
    # The gold final answer kept the generator's reasoning markup, which the env strips from
    # every turn: every sub-task solved, yet the answer is never accepted.
    "final_answer": lambda: _task(final_answer="<think>18.5 - 4.0</think>14.5 degrees"),
    # The tool ignores its argument and returns every city: any call finds the answers.
    "gameability": lambda: _task(source=SOUND_SOURCE.replace(
        '    if key not in data:\n        return {"error": f"no data for {city}"}\n',
        "    return {\"temperatures\": data}\n")),
    # The answer itself is drawn from the sandbox's seeded RNG: gold passes under some
    # episode seeds only.
    "seeded_answer": lambda: _task(source=SOUND_SOURCE.replace(
        'VISITS = []', 'import random\nVISITS = []').replace(
        '"oslo": "4.0 °C"', '"oslo": random.choice(["4.0 °C", "3.5 °C"])')),
    # An unchecked lookup: any city outside the mock data is a KeyError.
    "fuzz": lambda: _task(source=SOUND_SOURCE.replace(
        '    if key not in data:\n        return {"error": f"no data for {city}"}\n', "")),
    # The schema offers a parameter the function does not take.
    "schema_agreement": lambda: _task(schema={
        **SCHEMA, "properties": {**SCHEMA["properties"], "units": {
            "type": "string", "enum": ["metric", "imperial"]}}}),
}


#: The checks each broken variant fails (error severity).
#: Mock data that answers every call also
#: lifts the random agent over the floor.
EXPECTED_FAILURES = {
    "gold": {"gold"}, "leaky_description": {"leakage"}, "leakage": {"leakage"},
    "gameability": {"gameability", "floor"}, "seeded_answer": {"gold"}, "fuzz": {"fuzz"},
    "final_answer": {"gold"},
    "schema_agreement": {"schema_agreement"},
}

#: Variants that only draw warnings: a field of the result comes from the sandbox's
#: random generator (legitimate, but transcripts become seed-specific).
WARNED = {
    "seed_dependence": lambda: _task(source=SOUND_SOURCE.replace(
        'VISITS = []', 'import random\nVISITS = []').replace(
        '"station": "MX-" + key[:2]', '"request_id": random.randint(1, 10**9)')),
}


def write_broken_pack(directory: Path, defect: str | None) -> Path:
    """Write the sound pack (``defect=None``) or one broken or warned variant."""
    task = _task() if defect is None else {**BROKEN, **WARNED}[defect]()
    write_pack(directory, f"broken-{defect or 'none'}".replace("_", "-"), 0, [task],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    return directory


class LeakyEnv(AstraEnv):
    """A broken runtime: it keeps the sandbox session (tool state) across resets."""

    def reset(self, *, seed=None, options=None):
        kept = self._session
        self._session = None  # keep AstraEnv.reset from closing it
        observation, info = super().reset(seed=seed, options=options)
        if kept is not None:
            self._session.close()
            self._session = kept
        return observation, info


class ProcessBoundEnv(AstraEnv):
    """A broken runtime: its prompt depends on the process, so another process differs."""

    def reset(self, *, seed=None, options=None):
        observation, info = super().reset(seed=seed, options=options)
        observation[0]["content"] += f" (worker {os.getpid()})"
        self.messages[0]["content"] = observation[0]["content"]
        return observation, info


class GenerousEnv(AstraEnv):
    """A broken runtime: an answer given at once, without a call, counts as a success."""

    def step(self, action):
        first = self._turn == 0
        observation, reward, terminated, truncated, info = super().step(action)
        if first and terminated:
            info["success"] = True
            reward = 1.0
        return observation, reward, terminated, truncated, info


class NoFpsEnv(AstraEnv):
    """A broken runtime for Gymnasium's checker: render modes without a render fps."""

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 - mirrors gym.Env.metadata
