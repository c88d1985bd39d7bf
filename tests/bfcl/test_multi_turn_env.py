"""Multi-user-turn episodes in AstraEnv (generic: sandbox tools, no BFCL needed)."""

from __future__ import annotations

import json
import pickle

import pytest

from astra_gym.env import AstraEnv
from astra_gym.pack import GoldCall, Pack, SubTask, Task, TaskSource, Tool, UserTurn, write_pack

ADD = Tool("add", "Add two numbers.", {"type": "object", "properties": {
    "a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
    "def add(a, b):\n    return {'sum': a + b}\n", "add")
MUL = Tool("mul", "Multiply two numbers.", {"type": "object", "properties": {
    "a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
    "def mul(a, b):\n    return {'product': a * b}\n", "mul")


def two_turn_task() -> Task:
    return Task(
        task_id="two", source=TaskSource("unit.jsonl", 1, None), domain="math", language="en",
        prompt=({"role": "user", "content": "What is 17 + 25?"},), final_answer="714",
        subtasks=(SubTask("1", "sum", "42", (), 1, True, "add",
                          GoldCall("add", {"a": 17, "b": 25})),
                  SubTask("2", "product", "714", (), 2, True, "mul",
                          GoldCall("mul", {"a": 42, "b": 17}), turn=1)),
        tools=(ADD, MUL),
        turns=(UserTurn(({"role": "user", "content": "Now multiply it by 17."},), ("mul",)),))


@pytest.fixture()
def pack(tmp_path):
    write_pack(tmp_path / "mt", "mt", 0, [two_turn_task()],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    return Pack(tmp_path / "mt")


def call(name, **arguments):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def test_a_turn_without_calls_opens_the_next_user_turn_and_reveals_its_tools(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, shuffle_tools=False)
    observation, info = env.reset(seed=0)
    assert [tool["function"]["name"] for tool in info["tools"]] == ["add"]
    assert info["user_turn"] == 0 and info["user_turns"] == 2
    env.step(call("add", a=17, b=25))
    observation, _, terminated, truncated, info = env.step("It is 42.")
    assert not terminated and not truncated
    assert observation == [{"role": "user", "content": "Now multiply it by 17."}]
    assert env.messages[-1] == observation[0]
    assert info["user_turn"] == 1 and info["tools_added"] == ["mul"]
    assert [tool["function"]["name"] for tool in info["tools"]] == ["add", "mul"]
    env.step(call("mul", a=42, b=17))
    observation, _, terminated, truncated, info = env.step("714")
    assert terminated and info["success"] and observation == []
    assert info["reward_components"]["f1"] == pytest.approx(1.0)
    env.close()


def test_a_hidden_tool_cannot_be_called_before_its_turn(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"})
    env.reset(seed=0)
    _, _, _, _, info = env.step(call("mul", a=2, b=3))
    assert info["calls"][0]["error_kind"] == "unknown_tool"
    assert "mul" not in env.messages[-1]["content"].split("Available tools:")[1]
    env.close()


def test_the_last_turn_answer_is_the_final_answer(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"})
    env.reset(seed=0)
    env.step(call("add", a=17, b=25))
    env.step("42")
    env.step(call("mul", a=42, b=17))
    *_, terminated, _, info = env.step("I am not sure.")
    assert terminated and not info["success"] and info["final_answer"] == "I am not sure."
    env.close()


def test_max_turns_counts_the_steps_of_one_user_turn(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, max_turns=2)
    env.reset(seed=0)
    assert env.step(call("add", a=1, b=2))[3] is False
    assert env.step("3")[2:4] == (False, False)  # the user turn ends: a new one starts
    assert env.step(call("mul", a=1, b=2))[2:4] == (False, False)
    _, _, terminated, truncated, _ = env.step(call("mul", a=1, b=3))
    assert truncated and not terminated
    env.close()


def test_tools_in_prompt_puts_the_revealed_docs_in_the_user_message(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, tools_in_prompt=True)
    env.reset(seed=0)
    observation, *_ = env.step("ok")
    first_line, rest = observation[0]["content"].split("\n", 1)
    assert json.loads(first_line)[0]["function"]["name"] == "mul"
    assert rest == "Now multiply it by 17."
    env.close()


def test_pickled_mid_episode_keeps_the_user_turn(pack):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"})
    env.reset(seed=0)
    env.step(call("add", a=17, b=25))
    env.step("42")
    copy = pickle.loads(pickle.dumps(env))
    _, _, _, _, info = copy.step(call("mul", a=42, b=17))
    assert info["calls"][0]["ok"]
    *_, terminated, _, info = copy.step("714")
    assert terminated and info["success"]
    env.close()
    copy.close()


def test_single_turn_task_lines_do_not_change(pack):
    task = two_turn_task()
    single = Task(task.task_id, task.source, task.domain, task.language, task.prompt,
                  task.final_answer, task.subtasks[:1], task.tools[:1])
    data = single.to_dict()
    assert "turns" not in data and "backend" not in data and "turn" not in data["subtasks"][0]
    assert Task.from_dict(data) == single
    assert Task.from_dict(two_turn_task().to_dict()) == two_turn_task()


def test_turns_must_fit_the_task():
    import dataclasses

    task = two_turn_task()
    with pytest.raises(ValueError, match="not tools of the task"):
        dataclasses.replace(task, turns=(UserTurn(task.turns[0].messages, ("nope",)),))
    with pytest.raises(ValueError, match="user turn the task does not have"):
        dataclasses.replace(task, turns=())
