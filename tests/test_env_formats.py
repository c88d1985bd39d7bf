"""End to end: the demo pack's env, played in every family's native tool-call format.

An oracle writes each task's gold calls in one format (with :func:`render_calls`, as an
SFT rollout or the OpenAI agent's text mode does) and the env, made with that
``action_format`` (and with ``auto``), must reach success on every task. A turn whose
markup is cut off must be an invalid call with an error observation, never the end of
the episode. Last, the OpenAI agent's text mode writes a server's parsed calls back in a
chosen format and the env reads them.
"""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest

import astra_gym
from astra_gym.agents import OpenAIAgent
from astra_gym.agents.openai_agent import text_system_prompt
from astra_gym.env import DEFAULT_SYSTEM_PROMPT
from astra_gym.pack import Task
from astra_gym.parsers import CALL_FORMATS, parse_action, render_calls

ENV_ID = "astra/demo-v0"
#: The action_format that reads each rendered variant.
READER = {"mistral_v3": "mistral", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek"}
#: Formats that write every argument as bare text, with no type: the env types them by the
#: tool's schema (DeepSeek V3.2's DSML marks strings itself, with string="true").
BARE = ("glm45", "qwen3_coder")


def make(action_format: str) -> Any:
    return gym.make(ENV_ID, action_format=action_format, sandbox={"isolation": "inprocess"})


def hops(task: Task) -> list[list[tuple[str, dict[str, Any]]]]:
    """The gold calls, one list per hop level (as the oracle agent plays them)."""
    by_hop: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for sub in task.subtasks:
        if sub.gold_call is not None:
            call = (sub.gold_call.name, dict(sub.gold_call.arguments))
            if call not in by_hop.setdefault(sub.hop_level, []):
                by_hop[sub.hop_level].append(call)
    return [by_hop[hop] for hop in sorted(by_hop)]


def final_turn(task: Task, call_format: str) -> str:
    answer = task.final_answer or "; ".join(sub.answer for sub in task.subtasks)
    # gpt-oss answers on its final channel, after reasoning on the analysis channel
    if call_format == "harmony":
        return ("<|channel|>analysis<|message|>I have every figure.<|end|><|start|>assistant"
                + render_calls([], "harmony", content=answer))
    return answer


def needs_typing(task: Task) -> bool:
    """Whether a gold string argument reads as another JSON type ("101020100")."""
    for sub in task.subtasks:
        for value in (sub.gold_call.arguments.values() if sub.gold_call else ()):
            if isinstance(value, str):
                try:
                    decoded = json.loads(value)
                except ValueError:
                    continue
                if not isinstance(decoded, str):
                    return True
    return False


def play(env: Any, task: Task, call_format: str) -> dict[str, Any]:
    """Solve one task with its gold calls written in ``call_format``; the last info."""
    env.reset(options={"task_id": task.task_id})
    content = "" if call_format in ("json", "python") else "Let me look that up."
    for calls in hops(task):
        _, _, terminated, truncated, info = env.step(
            render_calls(calls, call_format, content=content))
        assert not (terminated or truncated), (call_format, task.task_id, info)
        assert not info["parse_errors"] and info["reward_components"]["invalid_calls"] == 0, (
            call_format, task.task_id, info["parse_errors"], info["calls"])
    _, _, terminated, _, info = env.step(final_turn(task, call_format))
    assert terminated
    return info


@pytest.fixture(scope="module")
def pack():
    env = make("auto")
    yield env.unwrapped.pack
    env.close()


def tasks(pack, typed: bool | None = None) -> list[Task]:
    found = [pack.task(task_id) for task_id in pack.task_ids]
    return found if typed is None else [task for task in found if needs_typing(task) == typed]


@pytest.mark.parametrize("reader", ["forced", "auto"])
@pytest.mark.parametrize("call_format", CALL_FORMATS)
def test_oracle_solves_the_demo_pack_in_every_format(pack, call_format, reader):
    env = make(READER.get(call_format, call_format) if reader == "forced" else "auto")
    # Values written bare ("101020100") need the tool's schema: see the test below.
    playable = tasks(pack, typed=False) if call_format in BARE else tasks(pack)
    assert len(playable) >= 60
    for task in playable:
        info = play(env, task, call_format)
        assert info["success"], (call_format, task.task_id, info)
        assert info["reward_components"]["f1"] == 1.0
        assert info["action_format"] == "none"
    env.close()


@pytest.mark.parametrize("call_format", BARE)
def test_bare_values_are_typed_by_the_schema_in_the_env(pack, call_format):
    env = make(READER.get(call_format, call_format))
    typed = tasks(pack, typed=True)
    assert {task.task_id for task in typed} >= {"demo-weather-005", "demo-health-011"}
    for task in typed:
        assert play(env, task, call_format)["success"], task.task_id
    env.close()


def cut_off(text: str, value: str) -> str:
    """``text`` cut two characters into ``value``: a generation stopped by its token limit."""
    return text[:text.index(value) + 2]


@pytest.mark.parametrize("call_format", CALL_FORMATS)
def test_a_cut_off_call_is_an_error_observation_not_the_end(pack, call_format):
    task = pack.task("demo-ecommerce-001")  # track_shipment(tracking_number="1Z84F22A0391")
    env = make(READER.get(call_format, call_format))
    env.reset(options={"task_id": task.task_id})
    (calls,) = hops(task)
    broken = cut_off(render_calls(calls, call_format), "1Z84F22A0391")
    observation, reward, terminated, truncated, info = env.step(broken)
    assert not terminated and not truncated
    (message,) = observation
    assert message["role"] == "tool"
    assert message["content"].startswith("Error: could not parse the tool call: ")
    assert info["parse_errors"] and info["reward_components"]["invalid_calls"] == 1
    assert reward == 0.0
    # the episode goes on: the same call, whole, then the answer
    env.step(render_calls(calls, call_format))
    _, _, terminated, _, info = env.step(final_turn(task, call_format))
    assert terminated and info["success"]
    assert info["reward_components"]["precision"] == 0.5  # the broken call counted
    env.close()


@pytest.mark.parametrize("call_format", ["glm45", "mistral", "harmony"])
def test_a_foreign_format_is_an_error_observation(pack, call_format):
    env = make(READER.get(call_format, call_format))
    env.reset(options={"task_id": "demo-ecommerce-001"})
    foreign = render_calls([("track_shipment", {"tracking_number": "1Z84F22A0391"})],
                           "deepseek")
    observation, _, terminated, _, _ = env.step(foreign)
    assert not terminated
    assert "this env reads" in observation[0]["content"]
    env.close()


# -- the OpenAI agent's text mode ---------------------------------------------------------


class ScriptedClient:
    """A stand-in for ``openai.OpenAI``: answers each request from a script, records it."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        self.chat = self
        self.completions = self

    def create(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return {"choices": [{"message": self.replies.pop(0)}]}


def server_calls(calls: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A reply whose calls a server-side tool parser already took out of the text."""
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"call_{index}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
        for index, (name, arguments) in enumerate(calls)]}


@pytest.mark.parametrize("call_format", CALL_FORMATS)
def test_agent_text_mode_writes_and_the_env_reads_a_chosen_format(pack, call_format):
    task = pack.task("demo-weather-007")  # two parallel calls per hop, then the answer
    replies = [server_calls(calls) for calls in hops(task)]
    replies.append({"role": "assistant", "content": final_turn(task, call_format)})
    client = ScriptedClient(replies)
    agent = OpenAIAgent("m", mode="text", call_format=call_format, client=client)
    env = make(agent.action_format)
    observation, info = env.reset(options={"task_id": task.task_id})
    agent.reset(observation, info)
    while True:
        action = agent.act(observation, info)
        assert isinstance(action, str)
        observation, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert info["success"] and info["reward_components"]["invalid_calls"] == 0
    # the model was shown the format (with an example the env reads back) ...
    system = client.requests[0]["messages"][0]["content"]
    assert system.startswith(text_system_prompt(call_format))
    assert DEFAULT_SYSTEM_PROMPT not in system
    example = system.split("\n", 2)[2].split("\nYou may make several calls")[0]
    turn = parse_action(example, agent.action_format, ["get_weather"])
    assert [(call.name, call.arguments) for call in turn.calls] == [
        ("get_weather", {"city": "Paris", "days": 3})]
    # ... and its own turns went back to it in that format
    history = client.requests[1]["messages"]
    assert history[2]["content"] == render_calls(hops(task)[0], call_format)
    assert "tools" not in client.requests[0]
    env.close()


def test_agent_text_mode_without_call_format_is_unchanged():
    client = ScriptedClient([server_calls([("f", {})]), {"content": "done"}])
    agent = OpenAIAgent("m", mode="text", client=client)
    assert agent.action_format == "auto"
    agent.reset([{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}], {})
    assert agent.act([], {}) == ""  # stray server-side calls are not the text's
    assert client.requests[0]["messages"][0]["content"] == DEFAULT_SYSTEM_PROMPT


def test_agent_call_format_options():
    assert OpenAIAgent("m", client=ScriptedClient([])).action_format == "openai"
    assert OpenAIAgent("m", mode="text", call_format="deepseek_v3",
                       client=ScriptedClient([])).action_format == "deepseek"
    with pytest.raises(ValueError, match="call_format is for text mode"):
        OpenAIAgent("m", call_format="glm45", client=ScriptedClient([]))
    with pytest.raises(ValueError, match="unknown call_format 'xml'"):
        OpenAIAgent("m", mode="text", call_format="xml", client=ScriptedClient([]))
    # a custom system prompt is the user's: it is not swapped
    agent = OpenAIAgent("m", mode="text", call_format="glm45", client=ScriptedClient([]))
    agent.reset([{"role": "system", "content": "Custom."}], {})
    assert agent.messages[0]["content"] == "Custom."


def test_agent_reports_calls_its_format_cannot_write():
    client = ScriptedClient([server_calls([("f", {"q": "a</arg_value>b"})])])
    agent = OpenAIAgent("m", mode="text", call_format="glm45", client=client)
    agent.reset([], {})
    with pytest.raises(astra_gym.agents.AgentError, match="cannot write the model's tool calls"):
        agent.act([], {})
