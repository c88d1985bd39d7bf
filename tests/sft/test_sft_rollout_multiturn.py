"""Rollouts on env tasks with several user turns (AstraEnv's multi-user-turn episodes)."""

from __future__ import annotations

import json

import pytest
from traj_harness import run_rollout
from traj_model import TrajectoryModel

from synth.sft.common import SftFailure
from synth.sft.export import grammar_problems
from synth.sft.judges import TrajectoryView
from synth.sft.rollout import env_records

pack_module = pytest.importorskip("astra_gym.pack")
if not hasattr(pack_module, "UserTurn"):  # the env's multi-user-turn tasks are not there yet
    pytest.skip("astra_gym has no multi-user-turn tasks", allow_module_level=True)


def two_turn_pack(root):
    from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, UserTurn, write_pack

    schema = {"type": "object", "properties": {"a": {"type": "number"},
                                               "b": {"type": "number"}}, "required": ["a", "b"]}
    add = Tool("add", "Add two numbers.", schema, "def add(a, b):\n    return {'sum': a + b}\n",
               "add")
    mul = Tool("mul", "Multiply two numbers.", schema,
               "def mul(a, b):\n    return {'product': a * b}\n", "mul")
    task = Task(
        task_id="two", source=TaskSource("unit.jsonl", 1, None), domain="math", language="en",
        prompt=({"role": "user", "content": "What is 17 + 25?"},), final_answer="714",
        subtasks=(SubTask("1", "sum", "42", (), 1, True, "add",
                          GoldCall("add", {"a": 17, "b": 25})),
                  SubTask("2", "product", "714", (), 2, True, "mul",
                          GoldCall("mul", {"a": 42, "b": 17}), turn=1)),
        tools=(add, mul),
        turns=(UserTurn(({"role": "user", "content": "Now multiply it by 17."},), ("mul",)),))
    write_pack(root / "mt", "mt", 0, [task], validation={"rows": 1, "compiled": 1,
                                                         "rejected": 0})
    return root / "mt"


class Arithmetic(TrajectoryModel):
    def agent(self, body):
        messages = body["messages"]
        names = [tool["function"]["name"] for tool in body.get("tools", [])]
        last = messages[-1]
        if last["role"] == "user" and "17 + 25" in last["content"]:
            assert names == ["add"]
            return {"tool_calls": [{"name": "add", "arguments": {"a": 17, "b": 25}}]}
        if last["role"] == "user":
            assert names == ["add", "mul"]  # the second user turn revealed mul
            return {"tool_calls": [{"name": "mul", "arguments": {"a": 42, "b": 17}}]}
        result = json.loads(last["content"])
        return {"content": f"It is {result.get('sum', result.get('product'))}."}


def test_a_two_turn_task_is_one_trajectory_with_the_env_labels(tmp_path):
    pack = two_turn_pack(tmp_path)
    record = env_records(str(pack), "astra/mt-v0", ["two"], samples=1, seed=0,
                         model="scripted")[0]
    row, _ = run_rollout(record, Arithmetic(), tmp_path / "run")
    assert not isinstance(row, SftFailure), row
    assert [m["role"] for m in row["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool",
        "assistant"]
    assert row["messages"][5]["content"] == "Now multiply it by 17."
    assert row["labels"]["f1"] == 1.0 and row["labels"]["success"] is True
    assert [tool["function"]["name"] for tool in row["tools"]] == ["add", "mul"]
    assert grammar_problems(row["messages"], row["tools"]) == []
    view = TrajectoryView(row)
    assert [b for b, _, _ in view.batches] == ["B1", "B2"] and view.rounds == []
