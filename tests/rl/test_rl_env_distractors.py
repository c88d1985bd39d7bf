"""Distractors in the env: listed, hidden by position, seeded, counted, never solving, pickled."""

from __future__ import annotations

import json
import math
import pickle

import gymnasium as gym
import numpy as np
import pytest
from rl_packs import write_env_pack, write_pool_pack

import astra_gym
from astra_gym.env import AstraEnv

INPROCESS = {"isolation": "inprocess"}


def names(info) -> list[str]:
    return [tool["function"]["name"] for tool in info["tools"]]


def call(name: str, arguments: dict | None = None, call_id: str = "c1") -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments or {})}}]}


@pytest.fixture(scope="module")
def rl_packs(tmp_path_factory):
    root = tmp_path_factory.mktemp("rlenv")
    return write_env_pack(root / "env"), write_pool_pack(root / "pool")


def rl_env(rl_packs, **kwargs) -> AstraEnv:
    env_pack, pool_pack = rl_packs
    options = {"k": 5, "pool": [pool_pack], **kwargs.pop("distractors", {})}
    return AstraEnv(env_pack, sandbox=INPROCESS, distractors=options, **kwargs)


def test_distractors_are_listed_and_reported(tmp_path):
    env = gym.make("astra/demo-v0", distractors={"k": 3}, sandbox=INPROCESS)
    try:
        index = env.unwrapped._distractors.index
        for seed in range(20):
            _, info = env.reset(seed=seed)
            task = env.unwrapped.task
            listed = names(info)
            assert len(listed) == len(set(listed))
            assert set(info["distractor_tools"]) <= set(listed)
            assert len(info["distractor_bands"]) == len(info["distractor_tools"])
            assert set(info["distractor_bands"]) <= {"high", "medium", "low"}
            assert all(info["distractor_bands"].count(b) <= 3 for b in ("high", "medium", "low"))
            assert set(listed) == {t.name for t in task.tools} | set(info["distractor_tools"])
            for name in info["distractor_tools"]:  # never a tool of the task's own domain
                assert task.domain not in index.pool[index.position[name]].domains
            # info lists them in the order of the tool list
            assert info["distractor_tools"] == [n for n in listed if n in info["distractor_tools"]]
    finally:
        env.close()


def test_possible_distractors_hold_every_listed_one_in_the_agents_form():
    """What ``leakage`` reads beyond the seed's episode: a superset of every episode's
    distractors, each exactly as ``info["tools"]`` shows it; none without the option."""
    env = gym.make("astra/demo-v0", distractors={"k": 2}, sandbox=INPROCESS)
    plain = gym.make("astra/demo-v0", sandbox=INPROCESS)
    try:
        _, info = env.reset(seed=0)
        task_id = env.unwrapped.task.task_id
        possible = {tool["function"]["name"]: tool
                    for tool in env.unwrapped.possible_distractors(task_id)}
        for seed in range(15):
            _, info = env.reset(seed=seed, options={"task_id": task_id})
            for tool in info["tools"]:
                if tool["function"]["name"] in info["distractor_tools"]:
                    assert possible[tool["function"]["name"]] == tool
        assert len(possible) > 2 * 3  # more than one episode lists
        assert plain.unwrapped.possible_distractors(task_id) == []
    finally:
        env.close()
        plain.close()


def test_same_seed_same_tool_list_and_different_seeds_differ():
    def tool_lists(seed: int) -> list:
        env = gym.make("astra/demo-v0", distractors={"k": 3}, sandbox=INPROCESS)
        try:
            return [json.dumps(env.reset(seed=seed + i, options={"task_id": "demo-weather-001"}
                                         )[1]["tools"]) for i in range(3)]
        finally:
            env.close()

    assert tool_lists(0) == tool_lists(0)
    lists = {json.dumps(tool_lists(seed)) for seed in range(0, 30, 3)}
    assert len(lists) == 10
    env = gym.make("astra/demo-v0", distractors={"k": 3}, sandbox=INPROCESS)
    drawn = {tuple(sorted(env.reset(seed=s, options={"task_id": "demo-weather-001"})[1][
        "distractor_tools"])) for s in range(30)}
    env.close()
    assert len(drawn) > 20  # the draw itself changes with the seed, not only the order


def _chi_square_bound(dof: int) -> float:
    """About the 99.9th percentile of chi-square (Wilson-Hilferty)."""
    z = 3.09
    return dof * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


@pytest.mark.parametrize("shuffle_tools", [True, False])
def test_distractors_are_spread_over_positions(shuffle_tools):
    env = gym.make("astra/demo-v0", distractors={"k": 3}, sandbox=INPROCESS,
                   shuffle_tools=shuffle_tools)
    task_id = "demo-weather-001"
    episodes = 1200
    counts = None
    try:
        for seed in range(episodes):
            _, info = env.reset(seed=seed, options={"task_id": task_id})
            listed = names(info)
            if counts is None:
                counts = np.zeros(len(listed))
                size = len(listed)
            assert len(listed) == size
            for position, name in enumerate(listed):
                counts[position] += name in info["distractor_tools"]
    finally:
        env.close()
    per_episode = counts.sum() / episodes
    expected = episodes * per_episode / size  # uniform: each slot equally often a distractor
    chi_square = float(((counts - expected) ** 2 / expected).sum())
    assert chi_square < _chi_square_bound(size - 1), counts
    if not shuffle_tools:  # the pack's own tools keep their relative order
        env = gym.make("astra/demo-v0", distractors={"k": 3}, sandbox=INPROCESS,
                       shuffle_tools=False)
        _, info = env.reset(seed=0, options={"task_id": task_id})
        own = [n for n in names(info) if n not in info["distractor_tools"]]
        assert own == [t.name for t in env.unwrapped.task.all_tools]
        env.close()


def test_a_distractor_call_counts_and_never_solves(rl_packs):
    env = rl_env(rl_packs)
    try:
        _, info = env.reset(seed=0, options={"task_id": "weather-rl"})
        # weather_twin is a weather tool: never offered to a weather task.
        assert "forecast_digest" in info["distractor_tools"]
        assert "weather_twin" not in names(info)
        # Its result holds the answer of this answer-only sub-task (solved by any *task* call).
        observation, reward, _, _, info = env.step(call("forecast_digest"))
        assert "Sunny, 21 C" in observation[0]["content"]
        record = info["calls"][0]
        assert record["ok"] and record["distractor"] and record["solved"] == []
        components = info["reward_components"]
        assert components["n_solved"] == 0 and components["calls"] == 1
        assert components["distractor_calls"] == 1 and reward == 0.0
        _, reward, _, _, info = env.step(call("get_forecast"))
        components = info["reward_components"]
        assert components["n_solved"] == 1 and components["precision"] == 0.5
        assert reward == pytest.approx(components["f1"])
    finally:
        env.close()


def test_only_this_episodes_distractors_can_be_called(rl_packs):
    env = rl_env(rl_packs, distractors={"k": 0})
    try:
        _, info = env.reset(seed=0, options={"task_id": "finance"})
        assert info["distractor_tools"] == ["pack_distractor"]
        assert info["distractor_bands"] == ["pack"]
        observation, _, _, _, info = env.step(call("tick"))  # in the pool, not listed
        assert info["calls"][0]["error_kind"] == "unknown_tool"
    finally:
        env.close()
    env = rl_env(rl_packs)
    try:
        _, info = env.reset(seed=0, options={"task_id": "finance"})
        assert {"tick", "forecast_digest", "weather_twin", "pack_distractor"} <= set(names(info))
        bands = dict(zip(info["distractor_tools"], info["distractor_bands"], strict=True))
        assert bands["pack_distractor"] == "pack" and bands["tick"] in ("high", "medium", "low")
        observation, _, _, _, info = env.step(call("nope"))
        assert "tick" in observation[0]["content"] and "weather_twin" in observation[0]["content"]
        observation, _, _, _, info = env.step(
            "<tool_call>{\"name\": \"tick\", \"arguments\": {}}</tool_call>")  # text works too
        assert info["calls"][0]["ok"] and info["calls"][0]["distractor"]
    finally:
        env.close()


def test_pickling_mid_episode_keeps_distractors_and_failure_draws(rl_packs):
    env = rl_env(rl_packs, failures={"p": 0.4})
    try:
        env.reset(seed=2, options={"task_id": "finance"})  # tick: ..FFFF..F
        first = [env.step(call("tick")) for _ in range(3)]
        ticks_before = sum(r[4]["calls"][0]["ok"] for r in first)
        copy = pickle.loads(pickle.dumps(env))
        try:
            script = [call("tick")] * 6 + [call("get_quote")] * 3 + ["It is 1,234.50 USD."]
            for action in script:
                mine, theirs = env.step(action), copy.step(action)
                assert mine[0] == theirs[0] and mine[1:4] == theirs[1:4]
                assert mine[4]["reward_components"] == theirs[4]["reward_components"]
                assert mine[4]["calls"] == theirs[4]["calls"]
                if mine[2]:
                    break
            outputs = [json.loads(m["content"])["ticks"] for m in copy.messages
                       if m["role"] == "tool" and m["content"].startswith("{")]
            # the stateful distractor continued where it was: 1, 2, 3, ... over real runs
            assert outputs == list(range(1, len(outputs) + 1)) and len(outputs) > ticks_before
            failures = copy._components.injected_failures
            assert failures >= 3  # both copies drew the same failures after the pickle
        finally:
            copy.close()
    finally:
        env.close()


def test_vector_envs_take_the_options():
    envs = astra_gym.make_vec("astra/demo-v0", 2, vectorization="sync", sandbox=INPROCESS,
                              distractors={"k": 2}, failures={"p": 0.2})
    try:
        _, infos = envs.reset(seed=0)
        assert all(len(tools) > 0 for tools in infos["distractor_tools"])
    finally:
        envs.close()


def test_bad_options_are_refused(rl_packs):
    env_pack, _ = rl_packs
    with pytest.raises(ValueError, match="unknown distractors option"):
        AstraEnv(env_pack, distractors={"kk": 3})
    with pytest.raises(TypeError, match="distractors must be a dict"):
        AstraEnv(env_pack, distractors=3)
    with pytest.raises(ValueError, match="neither a pack directory"):
        AstraEnv(env_pack, distractors={"pool": ["astra/nope-v0"]})
