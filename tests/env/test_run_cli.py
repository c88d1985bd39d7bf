"""`astra-gym run`: agents over envs, the table, JSON lines, errors."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from env_packs import write_unit_pack
from llm_server import ScriptedLLMServer

from astra_gym.agents import OracleAgent
from astra_gym.cli import main


def test_oracle_and_random_over_every_demo_task(capsys):
    assert main(["run", "astra/demo-v0", "--agent", "oracle", "random", "--json"]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    episodes = [line for line in lines if not line.get("summary")]
    summaries = {line["agent"]: line for line in lines if line.get("summary")}
    count = len(gym.make("astra/demo-v0").unwrapped.task_ids)
    assert len(episodes) == 2 * count
    oracle = [e for e in episodes if e["agent"] == "oracle"]
    assert all(e["success"] and e["f1"] == 1.0 for e in oracle)
    assert len({e["task_id"] for e in oracle}) == count
    assert summaries["oracle"]["success_rate"] == 1.0
    assert summaries["random"]["mean_f1"] < 0.2 < summaries["oracle"]["mean_f1"]
    assert "oracle" in err and "success" in err  # the table goes to stderr with --json


def test_table_for_a_pack_directory(tmp_path, capsys):
    pack = write_unit_pack(tmp_path / "unit", name="unit-cli")
    assert main(["run", "--pack", pack, "--agent", "random", "--episodes", "3",
                 "--seed", "4"]) == 0
    out = capsys.readouterr().out
    header, _rule, row = out.strip().splitlines()
    assert header.split()[:4] == ["agent", "episodes", "reward", "success"]
    assert row.split()[:2] == ["random", "3"]


@pytest.mark.parametrize("argv, fragment", [
    (["run"], "give an ENV_ID or --pack"),
    (["run", "astra/demo-v0", "--pack", "x"], "give an ENV_ID or --pack"),
    (["run", "astra/nope-v0"], "nope"),
    (["run", "astra/demo-v0", "--agent", "openai"], "--model"),
    (["run", "astra/demo-v0", "--episodes", "0"], "episodes must be >= 1"),
    (["run", "--pack", "/no/such/pack"], "not a pack"),
])
def test_errors_exit_2_with_a_message(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def test_openai_agent_end_to_end_against_a_scripted_server(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    env = gym.make("astra/demo-v0")
    observation, info = env.reset(seed=0)
    tools = info["tools"]
    oracle = OracleAgent(env.unwrapped.pack)
    oracle.reset(observation, info)
    replies = []
    while True:
        action = oracle.act(observation, info)
        if isinstance(action, str):
            replies.append({"content": action})
            break
        replies.append({"content": None, "tool_calls": [
            {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
            for c in action["tool_calls"]]})
        observation, _, _, _, info = env.step(action)
    env.close()
    with ScriptedLLMServer(replies) as server:
        code = main(["run", "astra/demo-v0", "--agent", "openai", "--model", "scripted",
                     "--base-url", server.base_url, "--episodes", "1", "--seed", "0",
                     "--json"])
        requests = server.chat_requests
    assert code == 0
    episode = json.loads(capsys.readouterr().out.splitlines()[0])
    assert episode["success"] is True and episode["f1"] == 1.0
    assert len(requests) == len(replies)
    assert requests[0].body["tools"] == tools and requests[0].body["model"] == "scripted"
    roles = [m["role"] for m in requests[-1].body["messages"]]
    assert roles[:3] == ["system", "user", "assistant"] and "tool" in roles
