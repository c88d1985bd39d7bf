"""`astra-gym run`: agents over envs, the table, JSON lines, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
    (["run", "astra/demo-v0", "--agent", "openai", "--model", "m", "--base-url",
      "http://127.0.0.1:9", "--call-format", "mistral"], "call_format is for text mode"),
    (["run", "astra/demo-v0", "--agent", "openai", "--model", "m", "--base-url",
      "http://127.0.0.1:9", "--mode", "text", "--call-format", "nope"],
     "unknown call_format 'nope'"),
])
def test_errors_exit_2_with_a_message(argv, fragment, capsys):
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err


def _oracle_episode() -> tuple[list[dict], list]:
    """The demo env's tool list at ``reset(seed=0)`` and the oracle's actions in that
    episode: the tool calls of each turn, then the final answer text."""
    env = gym.make("astra/demo-v0")
    observation, info = env.reset(seed=0)
    tools = info["tools"]
    oracle = OracleAgent(env.unwrapped.pack)
    oracle.reset(observation, info)
    actions: list = []
    while True:
        action = oracle.act(observation, info)
        if isinstance(action, str):
            actions.append(action)
            break
        actions.append(action["tool_calls"])
        observation, _, _, _, info = env.step(action)
    env.close()
    return tools, actions


def test_openai_agent_end_to_end_against_a_scripted_server(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    tools, actions = _oracle_episode()
    replies = [{"content": action} if isinstance(action, str) else
               {"content": None, "tool_calls": [
                   {"name": c["function"]["name"], "arguments": c["function"]["arguments"]}
                   for c in action]}
               for action in actions]
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


def test_text_mode_with_a_call_format_asks_for_it_and_parses_it(capsys, monkeypatch):
    """``--call-format mistral``: the system prompt shows Mistral's ``[TOOL_CALLS]`` and the
    env reads the model's calls with that family's parser (as ``astra-gym eval`` does)."""
    from astra_gym.parsers import render_calls

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    _, actions = _oracle_episode()
    replies = [action if isinstance(action, str) else
               render_calls([(c["function"]["name"], json.loads(c["function"]["arguments"]))
                             for c in action], "mistral")
               for action in actions]
    assert replies[0].startswith("[TOOL_CALLS]")
    with ScriptedLLMServer(replies) as server:
        code = main(["run", "astra/demo-v0", "--agent", "openai", "--model", "scripted",
                     "--base-url", server.base_url, "--episodes", "1", "--seed", "0",
                     "--mode", "text", "--call-format", "mistral", "--json"])
        requests = server.chat_requests
    assert code == 0
    episode = json.loads(capsys.readouterr().out.splitlines()[0])
    assert episode["success"] is True and episode["f1"] == 1.0
    system = requests[0].body["messages"][0]["content"]
    assert "tools" not in requests[0].body
    assert "[TOOL_CALLS]" in system and "<tool_call>" not in system


# -- the new user's path: real subprocesses, real exit codes, a real HTTP server ----------


def astra_gym(*argv: str, env: dict | None = None, timeout: float = 120):
    """``astra-gym ARGV`` in a fresh process, as a user runs it."""
    environ = {key: value for key, value in os.environ.items()
               if not key.startswith("OPENAI_")}
    return subprocess.run([sys.executable, "-m", "astra_gym.cli", *argv], capture_output=True,
                          text=True, timeout=timeout, env={**environ, **(env or {})})


def assert_one_error_line(result, *fragments):
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def oracle_replies(task_index: int = 0) -> list[dict]:
    """The scripted replies that solve the first demo task played with ``--episodes all``."""
    env = gym.make("astra/demo-v0")
    task_id = env.unwrapped.task_ids[task_index]
    observation, info = env.reset(seed=task_index, options={"task_id": task_id})
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
    return replies


def closed_port_url() -> str:
    server = ScriptedLLMServer([])
    url = server.base_url
    server.close()
    return url


@pytest.mark.parametrize("failure, fragment", [
    ("refused", "cannot connect"),
    ({"status": 500}, "HTTP 500"),
    ({"raw": "{not json"}, "unparsable response"),
    ({"delay": 3}, "no reply within 0.5 s"),
])
def test_openai_endpoint_errors_are_one_line_and_keep_finished_episodes(failure, fragment,
                                                                        tmp_path):
    solved = oracle_replies()
    script = [*solved, *([failure] * 4)] if failure != "refused" else []
    with ScriptedLLMServer(script) as server:
        url = server.base_url if failure != "refused" else closed_port_url()
        result = astra_gym("run", "astra/demo-v0", "--agent", "openai", "--model", "m",
                           "--base-url", url, "--episodes", "all", "--timeout", "0.5",
                           "--max-retries", "0", "--json")
    assert result.returncode == 1, result.stderr
    assert_one_error_line(result, "openai agent stopped", fragment)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    if failure == "refused":
        assert lines == [] and "before finishing an episode" in result.stderr
        return
    episodes = [line for line in lines if not line.get("summary")]
    summary = [line for line in lines if line.get("summary")]
    assert len(episodes) == 1 and episodes[0]["success"] is True  # the finished one is kept
    assert summary[0]["episodes"] == 1 and summary[0]["success_rate"] == 1.0
    assert "after 1 finished episode" in result.stderr


def test_openai_without_an_endpoint_is_one_line_exit_2():
    result = astra_gym("run", "astra/demo-v0", "--agent", "openai", "--model", "m")
    assert result.returncode == 2
    assert_one_error_line(result, "--base-url", "OPENAI_API_KEY")


def test_native_tools_mode_prompt_does_not_ask_for_text_calls():
    with ScriptedLLMServer(["I do not know."]) as server:
        result = astra_gym("run", "astra/demo-v0", "--agent", "openai", "--model", "m",
                           "--base-url", server.base_url, "--episodes", "1")
        request = server.chat_requests[0].body
    assert result.returncode == 0, result.stderr
    assert request["tools"]  # native: the tools go to the API
    system = request["messages"][0]
    assert system["role"] == "system" and "<tool_call>" not in system["content"]


def test_text_mode_prompt_still_explains_text_calls():
    with ScriptedLLMServer(["I do not know."]) as server:
        result = astra_gym("run", "astra/demo-v0", "--agent", "openai", "--model", "m",
                           "--base-url", server.base_url, "--episodes", "1", "--mode", "text")
        request = server.chat_requests[0].body
    assert result.returncode == 0, result.stderr
    assert "tools" not in request and "<tool_call>" in request["messages"][0]["content"]


def test_agent_list_does_not_swallow_the_env_id():
    result = astra_gym("run", "--agent", "oracle", "random", "astra/demo-v0", "--episodes", "2")
    assert result.returncode == 0, result.stderr
    rows = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert rows == ["oracle", "random"]
    result = astra_gym("run", "--agent", "oracle", "bogus", "astra/demo-v0")
    assert result.returncode == 2
    assert_one_error_line(result, "unknown agent 'bogus'", "oracle, random, openai")


def test_unknown_env_id_lists_the_available_ones_and_close_matches():
    result = astra_gym("run", "astra/dmeo-v0")
    assert result.returncode == 2
    assert_one_error_line(result, "unknown env id 'astra/dmeo-v0'",
                          "Did you mean astra/demo-v0?", "Available: astra/demo-v0")
    result = astra_gym("validate", "demo-v0")
    assert result.returncode == 2
    assert_one_error_line(result, "Did you mean astra/demo-v0?")


def test_reward_help_lists_the_modes():
    text = astra_gym("run", "--help").stdout
    from astra_gym.rewards import REWARD_MODES

    assert all(mode in " ".join(text.split()) for mode in REWARD_MODES)
