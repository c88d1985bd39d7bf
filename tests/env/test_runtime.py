"""Task runtimes: one immutable copy per task per process, bounded, keyed by pack content."""

from __future__ import annotations

import dataclasses

import pytest
from env_packs import stock_task, write_unit_pack

import astra_gym.runtime as runtime_module
from astra_gym.env import AstraEnv
from astra_gym.pack import Pack, write_pack
from astra_gym.runtime import task_runtime


@pytest.fixture
def unit_pack(tmp_path):
    return write_unit_pack(tmp_path / "unit")


def test_envs_of_a_process_share_one_runtime_per_task(unit_pack):
    first, second = AstraEnv(unit_pack), AstraEnv(unit_pack)
    first.reset(seed=0, options={"task_id": "stocks"})
    second.reset(seed=1, options={"task_id": "stocks"})
    assert first._runtime is second._runtime
    first.close()
    second.close()


def test_info_tools_is_the_callers_to_change(unit_pack):
    env = AstraEnv(unit_pack, shuffle_tools=False)
    _, info = env.reset(seed=0, options={"task_id": "stocks"})
    pristine = [tool["function"]["name"] for tool in info["tools"]]
    info["tools"][0]["function"]["name"] = "tampered"
    info["tools"][0]["function"]["parameters"]["properties"].clear()
    info["tools"].append({"type": "function"})
    _, again = env.reset(seed=0, options={"task_id": "stocks"})
    assert [tool["function"]["name"] for tool in again["tools"]] == pristine
    assert again["tools"][0]["function"]["parameters"]["properties"]
    env.close()


def test_the_runtime_cache_is_bounded(unit_pack, monkeypatch):
    monkeypatch.setattr(runtime_module, "RUNTIME_CACHE_SIZE", 2)
    monkeypatch.setattr(runtime_module, "_cache", type(runtime_module._cache)())
    pack = Pack(unit_pack)
    stocks = task_runtime(pack, "stocks")
    task_runtime(pack, "counter")
    assert task_runtime(pack, "stocks") is stocks  # a hit refreshes it
    task_runtime(pack, "rl")
    assert len(runtime_module._cache) == 2
    assert task_runtime(pack, "stocks") is stocks
    assert task_runtime(pack, "counter").task == pack.task("counter")  # rebuilt after eviction


def test_a_rewritten_pack_at_the_same_path_gets_new_runtimes(tmp_path):
    path = tmp_path / "unit"
    write_unit_pack(path)
    old = task_runtime(Pack(path), "stocks")
    assert task_runtime(Pack(path), "stocks") is old  # a new Pack object, the same content
    changed = dataclasses.replace(stock_task(), final_answer="12,345.00 USD")
    write_pack(path, "unit", 0, [changed], validation={"rows": 1, "compiled": 1, "rejected": 0})
    new = task_runtime(Pack(path), "stocks")
    assert new is not old and new.task.final_answer == "12,345.00 USD"


@pytest.mark.parametrize("isolation", ["inprocess", "process"])
def test_episodes_on_a_reused_session_equal_episodes_on_a_fresh_env(isolation):
    from astra_gym.agents import OracleAgent, RandomAgent
    from astra_gym.pack import demo_pack_path
    from astra_gym.runner import run_episode

    sandbox = {"isolation": isolation} if isolation == "inprocess" else {"pool": 1}
    reused = AstraEnv(demo_pack_path(), sandbox=sandbox)
    ids = list(reused.pack.task_ids)[::11]
    try:
        for index, task_id in enumerate(ids):
            for make_agent in (lambda env, index=index: RandomAgent(seed=index),
                               lambda env: OracleAgent(env.pack)):
                run_episode(reused, make_agent(reused), seed=index, task_id=task_id)
                fresh = AstraEnv(demo_pack_path(), sandbox=sandbox)
                run_episode(fresh, make_agent(fresh), seed=index, task_id=task_id)
                assert reused.messages == fresh.messages, (task_id, index)
                fresh.close()
    finally:
        reused.close()
