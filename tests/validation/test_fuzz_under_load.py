"""``fuzz`` judges tools, not the machine it runs on.

A full CI run once failed ``fuzz`` on a sound demo tool: under load a ``process``
worker missed its 0.8 s wall-clock deadline on a call that takes milliseconds, and
hypothesis, replaying the example, saw it pass (``FlakyFailure``). These tests pin
both directions: a timeout that does not repeat is retried and forgiven, a tool that
really runs past the limit still fails, and a failure hypothesis cannot reproduce is
a warning that names the tool instead of an errored check.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from broken_packs import SOUND_SOURCE, _task, write_broken_pack

from astra_gym.env import AstraEnv
from astra_gym.pack import write_pack
from astra_gym.validation import checks
from astra_gym.validation.checks import CheckFailed, CheckOptions, CheckWarning, TaskContext

FEW = CheckOptions(max_examples=5)


@pytest.fixture
def sound_env_id(tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "_TOOL_FUZZ", {})  # no outcome remembered from other tests
    pack = write_broken_pack(tmp_path / "sound", None)
    env_id = "astra-load/sound-v0"
    gym.register(id=env_id, entry_point="astra_gym.env:AstraEnv", kwargs={"pack": str(pack)})
    yield env_id
    del gym.registry[env_id]


def _fail_some_tool_steps(monkeypatch, kind: str, message: str, which) -> list[int]:
    """Make the env report ``kind`` on the tool steps ``which(n)`` picks, like a loaded host.

    The real step runs every time; only its verdict is replaced, as a worker that missed
    its deadline would report it.
    """
    real_step = AstraEnv.step
    steps = [0]

    def step(self, action):
        observation, reward, terminated, truncated, info = real_step(self, action)
        if info["calls"] and info["calls"][0]["name"] == "get_city_temp":
            steps[0] += 1
            if which(steps[0]):
                info["calls"][0].update(ok=False, error_kind=kind)
                observation = [{**observation[0], "content": message}]
        return observation, reward, terminated, truncated, info

    monkeypatch.setattr(AstraEnv, "step", step)
    return steps


def test_a_wall_clock_timeout_that_does_not_repeat_is_retried(sound_env_id, monkeypatch):
    # every other step of the tool misses its deadline: each call's retry succeeds
    steps = _fail_some_tool_steps(monkeypatch, "timeout", "Error: timeout (the call took "
                                  "longer than 0.8 s)", lambda n: n % 2 == 1)
    assert checks.check_fuzz(TaskContext(sound_env_id, "temps", FEW)) is None
    assert steps[0] > 2 * FEW.max_examples  # the valid calls ran, and were retried


def test_without_the_retry_the_same_timeouts_are_not_a_pass(sound_env_id, monkeypatch):
    monkeypatch.setattr(checks, "_WALL_CLOCK_RETRIES", 0)
    _fail_some_tool_steps(monkeypatch, "timeout", "Error: timeout", lambda n: n % 2 == 1)
    with pytest.raises(CheckWarning, match="failed once and passed when repeated"):
        checks.check_fuzz(TaskContext(sound_env_id, "temps", FEW))


def test_only_timeouts_are_retried(sound_env_id, monkeypatch):
    # the same pattern of crashes is not forgiven: it is at least a warning
    _fail_some_tool_steps(monkeypatch, "exception", "Error: KeyError: 'x'",
                          lambda n: n % 2 == 1)
    with pytest.raises(CheckWarning, match="KeyError"):
        checks.check_fuzz(TaskContext(sound_env_id, "temps", FEW))


def test_a_timeout_on_every_try_fails_the_tool(sound_env_id, monkeypatch):
    _fail_some_tool_steps(monkeypatch, "timeout", "Error: timeout", lambda n: True)
    with pytest.raises(CheckFailed, match="-> timeout: Error: timeout"):
        checks.check_fuzz(TaskContext(sound_env_id, "temps", FEW))


def test_a_failure_hypothesis_cannot_reproduce_is_a_warning_naming_the_tool(sound_env_id,
                                                                            monkeypatch):
    # Every step of a tool call fails at first (so the retries see it too), and from then
    # on the tool is fine: hypothesis replays the failing example and it passes.
    failing = {"left": 1 + checks._WALL_CLOCK_RETRIES}

    def which(_n):
        failing["left"] -= 1
        return failing["left"] >= 0

    _fail_some_tool_steps(monkeypatch, "timeout", "Error: timeout", which)
    with pytest.raises(CheckWarning) as warned:
        checks.check_fuzz(TaskContext(sound_env_id, "temps", FEW))
    message = str(warned.value)
    assert message.startswith("tool 'get_city_temp': a generated call failed once and passed "
                              "when repeated (")
    assert "timeout: Error: timeout" in message and "time box" not in message
    assert warned.value.details["unsteady"] and not warned.value.details["slow"]


def test_a_tool_that_really_runs_past_the_wall_clock_limit_still_fails(tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(checks, "_TOOL_FUZZ", {})
    looping = SOUND_SOURCE.replace(
        '    key = city.strip().lower()\n',
        '    key = city.strip().lower()\n    while True:\n        pass\n')
    write_pack(tmp_path / "slow", "slow", 0, [_task(source=looping)],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    env_id = "astra-load/slow-v0"
    # a budget far beyond the loop, so that only the wall clock can stop it
    gym.register(id=env_id, entry_point="astra_gym.env:AstraEnv",
                 kwargs={"pack": str(tmp_path / "slow"),
                         "sandbox": {"isolation": "process", "timeout": 0.05,
                                     "ops": 10 ** 9}})
    try:
        with pytest.raises(CheckFailed, match="-> timeout: "):
            checks.check_fuzz(TaskContext(env_id, "temps", CheckOptions(max_examples=2)))
    finally:
        del gym.registry[env_id]
