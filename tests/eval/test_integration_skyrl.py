"""The SkyRL-gym adapter against the real skyrl_gym package: gold trajectories pay the same."""

from __future__ import annotations

import gymnasium as gym
import pytest
import skyrl_gym  # the dev extra installs it: a missing package must fail, not skip

from astra_gym.agents import OracleAgent
from astra_gym.integrations.skyrl import AstraSkyRLEnv, skyrl_rows
from astra_gym.pack import demo_pack_path

TASKS = ["demo-weather-001", "demo-travel-009", "demo-finance-005", "demo-health-011",
         "demo-ecommerce-007"]
INPROCESS = {"sandbox": {"isolation": "inprocess"}}


def play_native(row):
    env = gym.make("astra/demo-v0", tools_in_prompt=True, **INPROCESS)
    agent = OracleAgent(demo_pack_path(), action_format="hermes")
    messages, info = env.reset(seed=row["extra_info"]["seed"],
                               options={"task_id": row["extra_info"]["task_id"]})
    agent.reset(messages, info)
    rewards = []
    while True:
        messages, reward, terminated, truncated, info = env.step(agent.act(messages, info))
        rewards.append(reward)
        if terminated or truncated:
            env.close()
            return rewards, info


def play_skyrl(row):
    env = skyrl_gym.make("astra", extras=row)
    assert isinstance(env, AstraSkyRLEnv)
    agent = OracleAgent(demo_pack_path(), action_format="hermes")
    messages, info = env.init(row["prompt"])
    assert messages == row["prompt"]  # the same episode the row was made from
    agent.reset(messages, info)
    rewards, observation = [], messages
    while True:
        out = env.step(agent.act(observation, info))
        rewards.append(out["reward"])
        if out["done"]:
            assert out["observations"] == []
            metrics = env.get_metrics()
            env.close()
            return rewards, out["metadata"], metrics
        observation = out["observations"]
        assert [m["role"] for m in observation] == ["user"]
        assert observation[0]["content"].startswith("<tool_response>")


@pytest.mark.parametrize("task_id", TASKS)
def test_gold_trajectory_pays_the_same_through_skyrl(task_id):
    row = skyrl_rows("astra/demo-v0", task_ids=[task_id], seed=7, env_kwargs=INPROCESS)[0]
    assert row["env_class"] == "astra" and row["extra_info"]["task_id"] == task_id
    native_rewards, native_info = play_native(row)
    rewards, metadata, metrics = play_skyrl(row)
    assert rewards == native_rewards
    assert metadata["reward_components"] == native_info["reward_components"]
    assert metadata["success"] is native_info["success"] is True
    assert metrics["success"] == 1.0 and metrics["f1"] == 1.0
    assert metrics["return"] == pytest.approx(sum(native_rewards))
    assert metrics["turns"] == len(native_rewards)


def test_rows_for_a_pack_directory_and_config_defaults():
    rows = skyrl_rows(str(demo_pack_path()), seed=3)
    assert len(rows) == 66 and rows[1]["extra_info"]["seed"] == 4
    # env_config (the trainer's per-class config) gives defaults; the row wins.
    env = AstraSkyRLEnv(env_config={"env_id": "astra/demo-v0", "env_kwargs": INPROCESS},
                        extras={"extra_info": {"task_id": "demo-weather-002", "seed": 1}})
    messages, info = env.init()
    assert info["task_id"] == "demo-weather-002" and "Available tools" in messages[0]["content"]
    env.close()


def test_a_row_without_an_env_is_refused():
    with pytest.raises(ValueError, match=r"extra_info\.env_id"):
        AstraSkyRLEnv(extras={"extra_info": {"task_id": "x"}})
