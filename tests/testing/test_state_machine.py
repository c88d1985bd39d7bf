"""The env state machine of astra_gym.testing, run on the demo pack."""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import Phase, settings

import astra_gym  # noqa: F401 -- registers astra/demo-v0
from astra_gym.testing import AstraEnvMachine, env_machine

DemoMachine = env_machine(lambda: gym.make("astra/demo-v0"), name="DemoMachine")
TestDemoEnvMachine = DemoMachine.TestCase
TestDemoEnvMachine.settings = settings(max_examples=25, stateful_step_count=15, deadline=None,
                                       database=None)

# Two turns per episode: truncation and the post-episode RuntimeError get exercised too.
ShortMachine = env_machine(lambda: gym.make("astra/demo-v0", max_turns=2),
                           settings=settings(max_examples=10, stateful_step_count=10,
                                             deadline=None, database=None),
                           name="ShortMachine")
TestShortEpisodesMachine = ShortMachine.TestCase


def test_env_machine_binds_a_factory_and_keeps_the_base_class_unbound():
    assert issubclass(DemoMachine, AstraEnvMachine) and DemoMachine.__name__ == "DemoMachine"
    assert AstraEnvMachine.env_factory is None
    with pytest.raises(TypeError, match="env factory"):
        AstraEnvMachine()


class _DoubleCountingEnv(gym.Wrapper):
    """A broken env: every step reports each call twice."""

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, {**info,
                                                            "calls": info["calls"] * 2}


def test_the_machine_catches_a_broken_env():
    broken = env_machine(lambda: _DoubleCountingEnv(gym.make("astra/demo-v0")),
                         settings=settings(max_examples=20, stateful_step_count=5,
                                           deadline=None, database=None,
                                           phases=[Phase.generate]))
    with pytest.raises(AssertionError, match="call attempts but"):
        broken.TestCase("runTest").runTest()
