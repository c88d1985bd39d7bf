"""Gymnasium integration: registry, checkers, vector envs, fuzzing, cross-process determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pytest
from env_packs import counter_task, write_unit_pack
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import astra_gym.registration as registration
from astra_gym import register_pack
from astra_gym.env import AstraEnv
from astra_gym.pack import write_pack
from astra_gym.registration import register_installed_packs
from astra_gym.spaces import AssistantTurnSpace, MessagesSpace

DEMO = "astra/demo-v0"


def test_check_env_passes_without_warnings():
    env = gym.make(DEMO)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []
    env.close()


def test_passive_checker_is_quiet_through_make():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(DEMO)
        env.reset(seed=0)
        env.step("no tools needed")
        env.close()
    assert [str(w.message) for w in caught] == []


def test_cold_registry_make_with_module_prefix(tmp_path):
    code = ("import gymnasium as gym\n"
            "env = gym.make('astra_gym:astra/demo-v0')\n"
            "obs, info = env.reset(seed=3)\n"
            "print(info['task_id'], obs[1]['role'])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    task_id, role = done.stdout.split()
    assert task_id.startswith("demo-") and role == "user"


def test_register_pack_returns_the_id_and_is_idempotent(tmp_path):
    path = write_unit_pack(tmp_path / "p", name="unit-reg", version=3)
    assert register_pack(path) == "astra/unit-reg-v3"
    assert register_pack(path) == "astra/unit-reg-v3"
    env = gym.make("astra/unit-reg-v3", reward="recall", max_turns=4)
    assert env.unwrapped.reward_mode == "recall" and env.unwrapped.max_turns == 4
    env.close()


def test_installed_packs_are_registered_and_broken_ones_skipped(tmp_path, monkeypatch):
    good = write_unit_pack(tmp_path / "good", name="unit-installed")
    (tmp_path / "broken").mkdir()
    monkeypatch.setattr(registration, "installed_packs",
                        lambda: {"unit-installed": good, "broken": tmp_path / "broken"})
    with pytest.warns(RuntimeWarning, match="skipping astra-gym pack"):
        ids = register_installed_packs()
    assert "astra/unit-installed-v0" in ids and "astra/unit-installed-v0" in gym.registry


def test_discovery_does_not_replace_a_different_pack_with_the_same_id(tmp_path, monkeypatch):
    first = write_unit_pack(tmp_path / "a", name="unit-clash")
    register_pack(first)
    other = tmp_path / "b"
    write_pack(other, "unit-clash", 0, [counter_task()],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    monkeypatch.setattr(registration, "installed_packs", lambda: {"unit-clash": other})
    with pytest.warns(RuntimeWarning, match="already registered for a different pack"):
        register_installed_packs()
    assert gym.registry["astra/unit-clash-v0"].kwargs["pack"] == str(Path(first).resolve())


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_envs_return_real_text(mode):
    kwargs = {"vector_kwargs": {"shared_memory": False}} if mode == "async" else {}
    envs = gym.make_vec(DEMO, num_envs=2, vectorization_mode=mode, **kwargs)
    observations, infos = envs.reset(seed=[5, 6])
    assert len(observations) == 2
    for messages, task_id in zip(observations, infos["task_id"], strict=True):
        assert messages[0]["role"] == "system" and messages[0]["content"].startswith("You are")
        assert messages[1]["role"] == "user" and len(messages[1]["content"]) > 10
        assert task_id.startswith("demo-")
    observations, _, terminated, _, infos = envs.step(
        ["The answer is 42.", '<tool_call>{"name": "nope", "arguments": {}}</tool_call>'])
    assert list(terminated) == [True, False]
    assert observations[1][0]["role"] == "tool"
    assert observations[1][0]["content"].startswith("Error: unknown tool 'nope'")
    envs.close()


# -- fuzzing ---------------------------------------------------------------------------

FRAGMENTS = ["<tool_call>", "</tool_call>", "{", "}", '"name"', '"arguments"', ":", "[", "]",
             "</think>", "<think>", "```json", "```", "get_weather(", ")", "city=", "'Paris'",
             '"quote"', "null", "1e999", "\\u0000", "北京", " ", "\n"]
texts = st.one_of(st.text(max_size=200),
                  st.lists(st.sampled_from(FRAGMENTS), max_size=20).map("".join))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["content", "tool_calls", "function", "name",
                                       "arguments", "id", "type", "role", "x"]), children,
                      max_size=5), max_leaves=20)
actions = st.one_of(texts, st.dictionaries(
    st.sampled_from(["role", "content", "tool_calls", "function_call"]), json_values,
    max_size=4))


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    env = AstraEnv(write_unit_pack(tmp_path_factory.mktemp("fuzz")))
    yield env
    env.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=4), st.integers(0, 2**16))
def test_arbitrary_actions_never_raise_and_stay_in_the_spaces(fuzz_env, steps, seed):
    observation, info = fuzz_env.reset(seed=seed)
    assert observation in fuzz_env.observation_space
    for action in steps:
        observation, reward, terminated, truncated, info = fuzz_env.step(action)
        assert observation in fuzz_env.observation_space
        assert -1.0 <= reward <= 1.0
        components = info["reward_components"]
        assert 0 <= components["f1"] <= 1 and components["calls"] >= components["invalid_calls"]
        assert all(message["role"] == "tool" for message in observation)
        if terminated or truncated:
            break


def test_spaces_compare_sample_and_contain():
    assert MessagesSpace() == MessagesSpace() and MessagesSpace(10) != MessagesSpace(11)
    space = AssistantTurnSpace(seed=4)
    samples = [space.sample() for _ in range(20)]
    assert all(sample in space for sample in samples)
    twin = AssistantTurnSpace(seed=4)
    assert samples == [twin.sample() for _ in range(20)]
    assert len(set(samples)) > 5
    assert 3 not in space and "text" not in MessagesSpace() and [] in MessagesSpace()
    assert [{"role": "robot", "content": "x"}] not in MessagesSpace()


# -- determinism across processes -----------------------------------------------------------

EPISODE_SCRIPT = """
import json, sys
import gymnasium as gym
import astra_gym
from astra_gym.agents.random_agent import RandomAgent
env = gym.make("astra/demo-v0")
agent = RandomAgent(seed=11)
out = []
for episode in range(3):
    obs, info = env.reset(seed=100 + episode)
    agent.reset(obs, info)
    rewards = []
    while True:
        obs, r, term, trunc, info = env.step(agent.act(obs, info))
        rewards.append(r)
        if term or trunc:
            break
    out.append({"messages": env.unwrapped.messages, "rewards": rewards,
                "components": info["reward_components"]})
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


def run_script(hash_seed: str, tmp_path) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run([sys.executable, "-c", EPISODE_SCRIPT], env=env, capture_output=True,
                          text=True, check=True, cwd=tmp_path).stdout


@pytest.mark.slow
def test_same_seed_same_transcript_in_two_processes(tmp_path):
    first = run_script("1", tmp_path)
    second = run_script("4242", tmp_path)
    assert first == second
    episodes = json.loads(first)
    assert sum(len(e["messages"]) for e in episodes) > 9  # real episodes, with tool calls
