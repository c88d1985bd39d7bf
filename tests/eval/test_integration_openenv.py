"""`astra-gym serve` against the real openenv-core client: gold trajectories pay the same."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

import gymnasium as gym
import pytest
from openenv.core.generic_client import GenericEnvClient  # the dev extra installs it

from astra_gym.agents import OracleAgent
from astra_gym.cli import main
from astra_gym.integrations.openenv import AstraAction, AstraEnvClient
from astra_gym.pack import demo_pack_path

ROOT = Path(__file__).resolve().parents[2]
INPROCESS = {"sandbox": {"isolation": "inprocess"}}
TASKS = ["demo-weather-001", "demo-travel-009", "demo-finance-005", "demo-health-011"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    """``astra-gym serve astra/demo-v0`` in a subprocess, as a user starts it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "astra_gym.cli", "serve", "astra/demo-v0", "--port", str(port),
         "--env-kwargs", json.dumps(INPROCESS)], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{url}/health", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"astra-gym serve did not start (exit {process.poll()})")
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def native_episode(task_id, seed, action_format):
    env = gym.make("astra/demo-v0", **INPROCESS)
    agent = OracleAgent(demo_pack_path(), action_format=action_format)
    messages, info = env.reset(seed=seed, options={"task_id": task_id})
    agent.reset(messages, info)
    rewards = []
    while True:
        messages, reward, terminated, truncated, info = env.step(agent.act(messages, info))
        rewards.append(reward)
        if terminated or truncated:
            env.close()
            return rewards, info


def remote_episode(url, task_id, seed, action_format):
    agent = OracleAgent(demo_pack_path(), action_format=action_format)
    with AstraEnvClient(base_url=url).sync() as client:
        result = client.reset(seed=seed, task_id=task_id)
        observation = result.observation
        assert observation.task_id == task_id and observation.tools
        assert [m["role"] for m in observation.messages] == ["system", "user"]
        info = {"task_id": task_id, "tools": observation.tools}
        agent.reset(observation.messages, info)
        rewards = []
        while True:
            turn = agent.act(observation.messages, info)
            action = (AstraAction(content=turn) if isinstance(turn, str) else
                      AstraAction(content=turn.get("content"), tool_calls=turn["tool_calls"]))
            result = client.step(action)
            rewards.append(result.reward)
            observation = result.observation
            if result.done:
                assert client.state().step_count == len(rewards)
                return rewards, observation.info


@pytest.mark.parametrize("action_format", ["openai", "hermes"])
@pytest.mark.parametrize("task_id", TASKS)
def test_gold_trajectory_pays_the_same_over_openenv(server_url, task_id, action_format):
    native_rewards, native_info = native_episode(task_id, 5, action_format)
    rewards, info = remote_episode(server_url, task_id, 5, action_format)
    assert rewards == native_rewards
    assert info["reward_components"] == native_info["reward_components"]
    assert info["success"] is native_info["success"] is True


def test_sessions_are_independent(server_url):
    results = {}

    def play(task_id):
        results[task_id] = remote_episode(server_url, task_id, 1, "openai")

    threads = [threading.Thread(target=play, args=(task,)) for task in TASKS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(results) == set(TASKS)
    assert all(info["success"] for _, info in results.values())


def test_a_generic_openenv_client_plays_too(server_url):
    """OpenEnv's own untyped client: the wire format is OpenEnv's, not ours."""
    with GenericEnvClient(base_url=server_url).sync() as client:
        result = client.reset(seed=0, task_id="demo-weather-001")
        assert result.observation["task_id"] == "demo-weather-001"
        result = client.step({"content": "I don't know."})
        assert result.done and result.reward == 0.0
        assert result.observation["info"]["success"] is False


def test_serve_refuses_an_unknown_target(capsys):
    assert main(["serve", "astra/nope-v0", "--port", str(free_port())]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["serve", "astra/demo-v0", "--env-kwargs", '{"max_turns": 0}']) == 2
    assert "max_turns" in capsys.readouterr().err
