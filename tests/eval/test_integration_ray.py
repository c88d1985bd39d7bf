"""RayVectorEnv on a local Ray: the same transcript as SyncVectorEnv, gold pays the same."""

from __future__ import annotations

import os
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest

from astra_gym.agents import OracleAgent
from astra_gym.pack import demo_pack_path

INPROCESS = {"sandbox": {"isolation": "inprocess"}}


@pytest.fixture(scope="module")
def ray_session() -> Iterator[None]:
    """One small local Ray, started once for this module and always shut down.

    Module scope: later modules fork sandbox workers, and forking after
    ``ray.init`` is unsafe (Ray's threads); tests/pipeline/test_ray_executor.py
    does the same.
    """
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def play(envs, steps: int) -> list[tuple]:
    """The oracle in every sub-env for ``steps`` vector steps (autoresets included)."""
    observations, infos = envs.reset(seed=11)
    agents = [OracleAgent(demo_pack_path()) for _ in range(envs.num_envs)]
    for index, agent in enumerate(agents):
        agent.reset(observations[index], {"task_id": infos["task_id"][index]})
    pending = np.zeros(envs.num_envs, dtype=bool)
    trace = []
    for _ in range(steps):
        actions = [agent.act(observations[i], {}) if not pending[i] else "ignored"
                   for i, agent in enumerate(agents)]
        observations, rewards, terminated, truncated, infos = envs.step(actions)
        trace.append((observations, rewards.tolist(), terminated.tolist(), truncated.tolist(),
                      list(infos["task_id"]),
                      [float(infos["reward_components"]["f1"][i])
                       if infos.get("_reward_components", [False] * envs.num_envs)[i] else None
                       for i in range(envs.num_envs)]))
        for index, agent in enumerate(agents):
            if pending[index]:  # this step was the autoreset: a new episode starts
                agent.reset(observations[index], {"task_id": infos["task_id"][index]})
        pending = np.logical_or(terminated, truncated)
    return trace


@pytest.mark.slow
def test_ray_vector_env_matches_sync_vector_env(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    ray_envs = RayVectorEnv("astra/demo-v0", 3, env_kwargs=INPROCESS)
    sync_envs = gym.make_vec("astra/demo-v0", 3, **INPROCESS)
    try:
        got, expected = play(ray_envs, 14), play(sync_envs, 14)
        assert got == expected
        # Gold trajectories: every finished episode paid F1 = 1 and a return of 1.
        finished = [f1 for step in got for f1, done in zip(step[5], step[2], strict=True)
                    if done]
        assert finished and all(f1 == 1.0 for f1 in finished)
        assert {pid for _, pid in ray_envs.where()}.isdisjoint({os.getpid()})
        assert len({pid for _, pid in ray_envs.where()}) == 3  # one process per sub-env
    finally:
        ray_envs.close()
        sync_envs.close()


@pytest.mark.slow
def test_ray_vector_env_with_the_default_sandbox_and_a_pack_dir(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    envs = RayVectorEnv(str(demo_pack_path()), 2)  # the confined worker pool, in the actors
    try:
        observations, _ = envs.reset(seed=0, options={"task_id": "demo-weather-001"})
        agent = OracleAgent(demo_pack_path())
        agent.reset(observations[0], {"task_id": "demo-weather-001"})
        action = agent.act(observations[0], {})
        _, rewards, terminated, _, _ = envs.step([action, action])
        assert rewards.tolist() == [1.0, 1.0] and not terminated.any()
    finally:
        envs.close()


def test_bad_arguments_are_refused(ray_session):
    from astra_gym.integrations.ray_vector import RayVectorEnv

    with pytest.raises(ValueError, match="num_envs"):
        RayVectorEnv("astra/demo-v0", 0)
    with pytest.raises(ValueError):
        RayVectorEnv("astra/nope-v0", 1)
    with pytest.raises(ValueError, match="max_turns"):
        RayVectorEnv("astra/demo-v0", 1, env_kwargs={"max_turns": 0})


# ---------------------------------------------------------------------------
# astra-gym eval --ray-address: the envs in Ray actors, the model client here.

def _episode_view(record: dict) -> dict:
    """A record without what legitimately differs between runs: timings and the
    server's call ids (the scripted server numbers calls in arrival order)."""
    import json
    import re

    record = json.loads(json.dumps(record))
    record.pop("timings")
    for step in record["steps"]:
        for key in ("latency_s", "request_s", "env_s"):
            step.pop(key)
    text = json.dumps(record, sort_keys=True)
    ids = {}
    return json.loads(re.sub(r"call_\d+", lambda m: ids.setdefault(m.group(0), f"id{len(ids)}"),
                             text))


@pytest.mark.slow
def test_eval_with_envs_in_ray_actors_writes_the_in_process_records(ray_session, tmp_path):
    from eval_support import config, lines, oracle_script
    from llm_server import ScriptedLLMServer

    from astra_gym.eval import evaluate

    with ScriptedLLMServer(oracle_script(wrong=frozenset({"demo-finance-002"}))) as server:
        here = evaluate(config(server, model="m", limit=8), tmp_path / "here", progress=False)
        remote = evaluate(config(server, model="m", limit=8, ray_address="auto",
                                 ray_actors=3), tmp_path / "ray", progress=False)
    assert here.complete and remote.complete and remote.summary["episodes"]["finished"] == 8
    by_task = {r["task_id"]: _episode_view(r) for r in lines(tmp_path / "here")}
    assert {r["task_id"]: _episode_view(r) for r in lines(tmp_path / "ray")} == by_task
    metrics = {k: v for k, v in here.summary["metrics"].items() if k != "episode_seconds"}
    assert {k: remote.summary["metrics"][k] for k in metrics} == metrics
    assert remote.summary["config"]["ray_address"] == "auto"
    # The run joined the fixture's Ray and left it running (it did not start it).
    import ray

    assert ray.is_initialized()


def test_ray_env_pool_runs_envs_elsewhere_and_never_makes_more_envs_than_its_cap(
        ray_session):
    import asyncio

    from astra_gym.eval.ray_envs import RayEnvPool

    async def scenario() -> tuple:
        pool = RayEnvPool("astra/demo-v0", str(demo_pack_path()), INPROCESS, actors=1,
                          max_envs=1)
        try:
            env = await pool.acquire()
            (_obs, info), seconds = await pool.run(env.reset, seed=3,
                                                  options={"task_id": "demo-weather-001"})
            assert info["task_id"] == "demo-weather-001" and seconds > 0
            assert env.unwrapped.task.task_id == "demo-weather-001"
            assert [m["role"] for m in env.unwrapped.messages][:2] == ["system", "user"]
            pid = pool.where()[0][1]
            # The cap: a second episode waits for the env to come back, it gets no new env.
            waiting = asyncio.ensure_future(pool.acquire())
            await asyncio.sleep(0.2)
            blocked = not waiting.done()
            pool.release(env)
            again = await asyncio.wait_for(waiting, 30)
            return pid, blocked, again is env, len(pool._all)
        finally:
            pool.close()

    pid, blocked, same, actors = asyncio.run(scenario())
    assert pid != os.getpid()
    assert blocked and same and actors == 1


def test_ray_options_are_checked_before_anything_runs(tmp_path, capsys):
    from astra_gym.cli import main
    from astra_gym.eval import EvalConfig

    with pytest.raises(ValueError, match="needs ray_address"):
        EvalConfig("astra/demo-v0", "m", ray_actors=2)
    with pytest.raises(ValueError, match="ray_actors must be a positive integer"):
        EvalConfig("astra/demo-v0", "m", ray_address="auto", ray_actors=0)
    code = main(["eval", "astra/demo-v0", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                 "--out", str(tmp_path / "r"), "--ray-actors", "2"])
    assert code == 2 and "--ray-address" in capsys.readouterr().err


def test_an_actor_that_cannot_make_the_env_fails_the_run_in_plain_words(ray_session, tmp_path):
    """The pack exists here (registered in this process) but not on the actor's node."""
    import asyncio
    import json
    import shutil

    from astra_gym import register_pack
    from astra_gym.eval.ray_envs import RayEnvPool

    copy = tmp_path / "pack"
    shutil.copytree(demo_pack_path(), copy)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"] = "ray-elsewhere"  # not the demo's id: the registry stays as it was
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    env_id = register_pack(copy)
    assert env_id == "astra/ray-elsewhere-v0"
    gone = tmp_path / "elsewhere"

    async def scenario() -> None:
        pool = RayEnvPool(env_id, str(gone), INPROCESS, actors=1, max_envs=2)
        try:
            with pytest.raises(ValueError, match="an env actor failed"):
                await pool.acquire()
            assert pool._all == []  # a failed env is not kept
        finally:
            pool.close()

    asyncio.run(scenario())
