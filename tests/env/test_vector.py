"""Vector envs: an explicit reset after an episode ended really resets (Gymnasium bug worked
around), async gives the sync transcript, and gym.make_vec reaches the fixed class."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import SyncVectorEnv

import astra_gym
from astra_gym.vector import AstraAsyncVectorEnv

ENV_ID = "astra/demo-v0"


def _tool_call(info: dict, index: int) -> dict:
    """A call of the first listed tool with empty arguments (an invalid call is fine)."""
    name = info["tools"][index][0]["function"]["name"]
    return {"role": "assistant", "content": None, "tool_calls": [{
        "id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps({})}}]}


def _transcript(envs) -> list:
    """Episode ends on every sub-env, an explicit reset, then a tool call: what comes back."""
    record = []
    _, info = envs.reset(seed=3)
    _, rewards, terminated, _, _ = envs.step(["I don't know."] * envs.num_envs)
    assert terminated.all()
    for seed in (None, [7, None]):  # unseeded: the generators must be where they were
        observations, info = envs.reset(seed=seed)
        record.append([obs[-1]["content"] for obs in observations])
        record.append(list(info["task_id"]))
        observations, rewards, *_ = envs.step(
            [_tool_call(info, i) for i in range(envs.num_envs)])
        record.append([[m["role"] for m in obs] for obs in observations])
        record.append(rewards.tolist())
        _, _, terminated, _, _ = envs.step(["I don't know."] * envs.num_envs)
        assert terminated.all()
    envs.close()
    return record


def test_async_after_an_explicit_reset_matches_sync():
    sync = _transcript(gym.make_vec(ENV_ID, 2))
    fixed = _transcript(astra_gym.make_vec(ENV_ID, 2))
    assert fixed == sync
    assert sync[2] == [["tool"]] * 2  # the call was stepped


def test_without_the_flush_the_call_after_a_reset_is_dropped(monkeypatch):
    monkeypatch.setattr(AstraAsyncVectorEnv, "_flush_autoresets", lambda self, *args: None)
    broken = _transcript(astra_gym.make_vec(ENV_ID, 2))
    assert broken[2] == [["system", "user"]] * 2  # Gymnasium reset instead of stepping


def test_a_partial_reset_flushes_only_the_sub_envs_it_resets():
    envs = astra_gym.make_vec(ENV_ID, 2)
    _, info = envs.reset(seed=0)
    envs.step(["I don't know."] * 2)
    mask = np.array([True, False])
    _, info = envs.reset(seed=1, options={"reset_mask": mask})
    observations, *_ = envs.step([_tool_call(info, 0), "ignored: this one autoresets"])
    assert [m["role"] for m in observations[0]] == ["tool"]
    assert [m["role"] for m in observations[1]] == ["system", "user"]  # its pending autoreset
    envs.close()


def test_gym_make_vec_uses_the_astra_entry_point():
    sync = gym.make_vec(ENV_ID, 2)
    assert isinstance(sync, SyncVectorEnv)
    sync.close()
    fixed = gym.make_vec(ENV_ID, 2, vectorization="async", action_format="json")
    assert isinstance(fixed, AstraAsyncVectorEnv) and not fixed.shared_memory
    assert fixed.get_attr("action_format") == ("json", "json")
    fixed.close()


def test_make_vec_errors():
    with pytest.raises(ValueError, match="vectorization must be one of"):
        astra_gym.make_vec(ENV_ID, 2, vectorization="threads")
    with pytest.raises(ValueError, match="num_envs must be at least 1"):
        astra_gym.make_vec(ENV_ID, 0)
