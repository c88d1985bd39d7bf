"""Exact behaviour of AstraEnv that a mutation run of ``astra_gym/env.py`` found unchecked.

Two groups (docs/testing.md):

* tasks with a trusted backend (BFCL multi-turn): how a failed user turn
  withdraws its credit and leaves every other count as it was, when such an
  episode is a success, what its reward counts as sub-tasks, and that its
  hidden methods answer before their turn reveals them (as in BFCL);
* sandbox tasks: the ``hedged`` flag of a final answer the hedge rule never
  looked at, the prompt text the hedge rule is given for a prompt of several
  messages, and how a message action without text is measured against
  ``max_action_chars``.

The backend tests build a small GorillaFileSystem task with BFCL's own
importer (``build_task``) and need bfcl-eval installed (CI does it); they are
skipped without it, the others run anyway.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from astra_gym.env import AstraEnv
from astra_gym.finals import HedgeRule
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, write_pack

_BFCL_HINT = 'needs: python -m pip install --no-deps "bfcl-eval==2026.3.23" mpmath'
_VALIDATION = {"rows": 1, "compiled": 1, "rejected": 0}


def _call(name, call_id=None, **arguments):
    return {"id": call_id or f"c-{name}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}


def _turn(*calls):
    return {"role": "assistant", "content": None, "tool_calls": list(calls)}


# -- a small BFCL task: three user turns on GorillaFileSystem ----------------------------

FS_ENTRY = {
    "id": "unit_fs_0",
    "question": [[{"role": "user", "content": "Make a folder named a."}],
                 [{"role": "user", "content": "Now a folder named b."}],
                 []],  # a holdout turn: BFCL reveals touch() with its own message
    "initial_config": {"GorillaFileSystem": {
        "root": {"alex": {"type": "directory", "contents": {}}}}},
    "involved_classes": ["GorillaFileSystem"],
    "missed_function": {"2": ["touch"]}}
FS_TRUTH = [["mkdir(dir_name='a')"], ["mkdir(dir_name='b')"], ["touch(file_name='c.txt')"]]


def _fs_task() -> Task:
    pytest.importorskip("bfcl_eval", reason=_BFCL_HINT)
    from astra_gym.bfcl.importer import build_task

    return build_task(FS_ENTRY, FS_TRUTH, "base", 1)


@pytest.fixture(scope="module")
def fs_pack(tmp_path_factory):
    task = _fs_task()
    assert [sub.id for sub in task.subtasks] == ["t0.c0", "t1.c0", "t2.c0"]
    assert task.hidden_tools == {"touch"}
    directory = tmp_path_factory.mktemp("fs") / "fs"
    write_pack(directory, "fs", 0, [task], validation=_VALIDATION)
    return str(directory)


def _until_it_runs(env, name, **arguments):
    """Call ``name`` one step at a time until a call is not an injected failure.

    Returns the last step's info and how many injected failures came first.
    """
    for injected in range(8):  # under BFCL's 20 steps per user turn
        _, _, _, _, info = env.step(_turn(_call(name, **arguments)))
        if info["calls"][0]["error_kind"] != "injected_failure":
            return info, injected
    raise AssertionError(f"every call of {name} failed")


def test_a_failed_turn_withdraws_only_its_own_credit_and_keeps_every_count(fs_pack):
    """A failed user turn revokes its calls' credit; every other number must stand.

    Turn 0 passes and keeps its credit; turn 1 has an unknown tool, injected
    failures, a credited mkdir and an extra mkdir (state mismatch). At its end
    only turn 1's credit goes; n, calls, invalid calls, injected failures and
    distractor calls are the counts of the episode so far, and the step's
    reward is the F1 lost.
    """
    env = AstraEnv(fs_pack, failures={"p": 0.5})
    env.reset(seed=0, options={"task_id": "unit_fs_0"})
    info, injected_0 = _until_it_runs(env, "mkdir", dir_name="a")
    assert info["calls"][0]["solved"] == ["t0.c0"]
    _, _, _, _, info = env.step("Done.")
    assert info["turn_verdict"]["valid"] and info["reward_components"]["solved"] == ["t0.c0"]
    _, _, _, _, info = env.step(_turn(_call("nope", "x1"), _call("chmod", "x2")))
    assert [c["error_kind"] for c in info["calls"]] == ["unknown_tool", "unknown_tool"]
    info, injected_1 = _until_it_runs(env, "mkdir", dir_name="b")
    assert info["calls"][0]["solved"] == ["t1.c0"]
    info, injected_2 = _until_it_runs(env, "mkdir", dir_name="extra")  # not in the truth
    injected = injected_0 + injected_1 + injected_2
    assert injected >= 1  # the seed gives the count something to keep
    before = info["reward_components"]
    assert before["solved"] == ["t0.c0", "t1.c0"]
    calls = 2 + (1 + injected_0) + (1 + injected_1) + (1 + injected_2)
    _, reward, terminated, truncated, info = env.step("Done.")
    assert not terminated and not truncated
    verdict = info["turn_verdict"]
    assert (verdict["valid"], verdict["revoked"]) == (False, ["t1.c0"])
    precision = 1 / (calls - injected)
    f1 = 2 * (1 / 3) * precision / ((1 / 3) + precision)
    assert info["reward_components"] == {
        "n": 3, "n_solved": 1, "solved": ["t0.c0"], "calls": calls, "invalid_calls": 2,
        "recall": pytest.approx(1 / 3), "precision": pytest.approx(precision),
        "f1": pytest.approx(f1), "injected_failures": injected, "distractor_calls": 0}
    assert reward == pytest.approx(f1 - before["f1"]) and reward < 0
    assert info["success"] is False
    env.close()


def _play_fs(env, last_turn_calls):
    env.reset(seed=0, options={"task_id": "unit_fs_0"})
    env.step(_turn(_call("mkdir", dir_name="a")))
    env.step("Done.")
    env.step(_turn(_call("mkdir", dir_name="b")))
    env.step("Done.")
    if last_turn_calls:
        env.step(_turn(*last_turn_calls))
    return env.step("Done.")


def test_a_backend_episode_played_to_the_end_is_a_success_only_if_bfcl_says_valid(fs_pack):
    """Ending the last user turn is not enough: BFCL's verdict decides success.

    The same episode is a success with the last turn's touch() and no success
    without it (an empty turn where the ground truth has a call), though both
    terminate normally.
    """
    env = AstraEnv(fs_pack)
    _, _, terminated, truncated, info = _play_fs(env, [_call("touch", file_name="c.txt")])
    assert terminated and not truncated
    assert info["success"] is True and info["bfcl"] == {"valid": True, "error_type": None}
    assert info["hedged"] is False and "hedge_reason" not in info
    assert info["reward_components"]["solved"] == ["t0.c0", "t1.c0", "t2.c0"]
    _, _, terminated, truncated, info = _play_fs(env, [])
    assert terminated and not truncated
    assert info["success"] is False
    assert info["bfcl"] == {"valid": False, "error_type": "multi_turn:empty_turn_model_response"}
    assert info["hedged"] is False
    env.close()


def test_a_backend_method_hidden_until_a_later_turn_still_runs_as_in_bfcl(fs_pack):
    """BFCL's classes answer every method, listed or not: a hidden one is not 'unknown'.

    touch() is revealed only in user turn 2, so it is not in the tool list at
    reset, but a call to it in turn 0 runs on the agent's instances (its file
    is there afterwards) and counts as a valid call that solves nothing.
    """
    env = AstraEnv(fs_pack)
    _, info = env.reset(seed=0, options={"task_id": "unit_fs_0"})
    assert "touch" not in [tool["function"]["name"] for tool in info["tools"]]
    observation, _, _, _, info = env.step(_turn(_call("touch", file_name="early.txt"),
                                                _call("ls", "c-ls")))
    assert [(c["name"], c["ok"], c["error_kind"], c["solved"]) for c in info["calls"]] == [
        ("touch", True, None, []), ("ls", True, None, [])]
    assert observation[0]["content"] == "None"
    assert json.loads(observation[1]["content"]) == {"current_directory_content":
                                                     ["early.txt"]}
    assert info["reward_components"]["invalid_calls"] == 0
    env.close()


def test_a_backend_task_counts_only_its_ground_truth_calls_as_sub_tasks(tmp_path):
    """The judge credits only ground-truth calls, so only they are the reward's sub-tasks.

    A sub-task that needs a tool but has no gold call can never be credited by
    the judge; counting it would cap recall below 1 for a perfect episode.
    """
    task = _fs_task()
    extra = SubTask("note", "Anything else?", "nothing else", (), 1, True, None, None)
    task = dataclasses.replace(task, subtasks=(*task.subtasks, extra))
    write_pack(tmp_path / "fsx", "fsx", 0, [task], validation=_VALIDATION)
    env = AstraEnv(tmp_path / "fsx")
    env.reset(seed=0, options={"task_id": "unit_fs_0"})
    _, reward, _, _, info = env.step(_turn(_call("mkdir", dir_name="a")))
    assert info["reward_components"]["n"] == 3
    assert info["reward_components"]["recall"] == pytest.approx(1 / 3)
    assert reward == pytest.approx(0.5)  # F1 of recall 1/3 and precision 1
    env.close()


# -- a sandbox task: one flight search, a prompt sent as two messages ---------------------

FLIGHTS_SOURCE = '''def find_flights(city: str) -> dict:
    return {"destination": city, "cheapest": "Delta 204"}
'''
FLIGHTS = Tool("find_flights", "The cheapest flight to a city.", {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    FLIGHTS_SOURCE, "find_flights")


@pytest.fixture(scope="module")
def flights_pack(tmp_path_factory):
    # The user hit Enter in the middle of the city name: "New" ends one message and
    # "York" starts the next. Read as one text, the prompt says "New York".
    task = Task(
        task_id="flights", source=TaskSource("unit.jsonl", 1, "flights"), domain="travel",
        language="en", prompt=({"role": "user", "content": "Which flight to New"},
                               {"role": "user", "content": "York is the cheapest?"}),
        final_answer="Delta 204",
        subtasks=(SubTask("1", "Cheapest flight?", "Delta 204", (), 1, True, "find_flights",
                          GoldCall("find_flights", {"city": "New York"})),),
        tools=(FLIGHTS,))
    directory = tmp_path_factory.mktemp("flights") / "flights"
    write_pack(directory, "flights", 0, [task], validation=_VALIDATION)
    return str(directory)


def _flights_env(pack, **kwargs):
    env = AstraEnv(pack, sandbox={"isolation": "inprocess"}, **kwargs)
    env.reset(seed=0, options={"task_id": "flights"})
    return env


def test_an_answer_the_hedge_rule_never_judged_is_not_hedged(flights_pack):
    """``hedged`` is True only when the rule found a hedge, never by default.

    A wrong final answer (no success, so the rule is not asked) and a right
    one with the rule turned off are both plain answers: ``hedged`` is False
    and there is no ``hedge_reason``.
    """
    env = _flights_env(flights_pack)
    env.step(_turn(_call("find_flights", city="New York")))
    *_, terminated, _, info = env.step("I could not find a flight.")
    assert terminated and info["success"] is False
    assert info["hedged"] is False and "hedge_reason" not in info
    env.close()
    env = _flights_env(flights_pack, hedge_rule=None)
    env.step(_turn(_call("find_flights", city="New York")))
    *_, terminated, _, info = env.step("Delta 204, to New York.")
    assert terminated and info["success"] is True
    assert info["hedged"] is False and "hedge_reason" not in info
    env.close()


def test_the_hedge_rule_reads_the_prompt_messages_as_one_text_joined_by_newlines(flights_pack):
    """A value the user wrote across two prompt messages is still part of the question.

    "New York" spans the two user messages. The answer repeats it, and with a
    rule strict enough that one unexcused result value is a dump, the answer
    commits only because the prompt, joined with a newline, contains it.
    """
    env = _flights_env(flights_pack, hedge_rule=HedgeRule(max_values=1))
    env.step(_turn(_call("find_flights", city="New York")))
    *_, terminated, _, info = env.step("Take Delta 204 to New York.")
    assert terminated and info["success"] is True
    assert info["hedged"] is False and "hedge_reason" not in info
    env.close()


def test_a_message_without_text_is_measured_by_its_arguments_alone(flights_pack):
    """``max_action_chars`` counts what a parser reads: no content adds nothing.

    A message action with ``content: None`` whose arguments are exactly
    ``max_action_chars`` long is within the limit, so its call runs.
    """
    arguments = json.dumps({"city": "New York"})
    env = _flights_env(flights_pack, max_action_chars=len(arguments))
    action = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "f1", "type": "function",
         "function": {"name": "find_flights", "arguments": arguments}}]}
    observation, _, _, _, info = env.step(action)
    assert [(c["ok"], c["error_kind"], c["solved"]) for c in info["calls"]] == [
        (True, None, ["1"])]
    assert info["reward_components"]["invalid_calls"] == 0
    assert json.loads(observation[0]["content"])["cheapest"] == "Delta 204"
    env.close()
