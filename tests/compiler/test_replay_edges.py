"""Failing-direction edges of the compiler's gold-call replay (issue 19, mutation testing).

Each test pins one rule of :mod:`synth.compiler.replay`: a tool that fails to load stops
the replay, every failing gold call is reported with its own reason, a result that lacks
its answer is an ``answer`` rejection worded for the gold answer, tools shared by source
are checked and loaded once, and shown text is short.
"""

from __future__ import annotations

import pytest

from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool
from astra_gym.sandbox import Sandbox
from synth.compiler.replay import _short, check_compiles, replay_gold_calls
from synth.compiler.rows import Draft, Reason, Replay

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
TEMP = '''def temp(city: str) -> dict:
    data = {"paris": "18.5 °C", "oslo": "4.0 °C"}
    if city.lower() == "rome":
        raise KeyError(city)
    return {"city": city, "temperature": data.get(city.lower(), "unknown")}
'''
BROKEN_LOAD = "LOOKUP = {}['missing']\n" + TEMP
#: Five policy violations (four underscore attributes and an exec call).
BAD = TEMP + ("def peek():\n    a = ().__class__\n    b = ().__doc__\n    c = ().__init__\n"
              "    d = ().__dict__\n    return exec('1')\n")
SANDBOX = Sandbox(isolation="inprocess")


def draft(tools, replays, distractors=()):
    subtasks = tuple(SubTask(r.subtask_id, "q", r.answer, (), 1, True, r.tool,
                             GoldCall(r.tool, r.arguments)) for r in replays)
    task = Task(task_id="t", source=TaskSource("x.jsonl", 1, "t"), domain="weather",
                language="en", prompt=({"role": "user", "content": "Paris and Oslo?"},),
                final_answer="done", subtasks=subtasks, tools=tuple(tools),
                distractor_tools=tuple(distractors), scenario_type="Single-Hop")
    return Draft(task, "step4", list(replays))


def tool(name="temp", source=TEMP, function="temp"):
    return Tool(name, "Temperature of a city.", SCHEMA, source, function)


def test_passing_gold_calls_give_no_reason():
    replays = [Replay("1", "temp", {"city": "Paris"}, "18.5 °C"),
               Replay("2", "temp", {"city": "Oslo"}, "4.0 °C")]
    assert replay_gold_calls(draft([tool()], replays), SANDBOX) == []


def test_every_failing_gold_call_is_reported_not_only_the_first():
    replays = [Replay("1", "temp", {"city": "Rome"}, "20 °C"),
               Replay("2", "temp", {"city": "Oslo"}, "5.5 °C"),
               Replay("3", "temp", {"city": "Paris"}, "18.5 °C")]
    reasons = replay_gold_calls(draft([tool()], replays), SANDBOX)
    assert [r.code for r in reasons] == ["replay", "answer"]
    failed, missing = (r.message for r in reasons)
    assert failed.startswith('sub-question 1: gold call temp(city="Rome") failed (exception): ')
    assert "KeyError" in failed
    assert missing == ('sub-question 2: gold call temp(city="Oslo") returned '
                       "'{\"city\": \"Oslo\", \"temperature\": \"4.0 °C\"}', which does not "
                       "contain the gold answer '5.5 °C'")


def test_an_answer_passed_in_as_an_argument_is_an_answer_rejection():
    echo = tool("echo", 'def echo(city: str) -> dict:\n    return {"you_asked": city}\n', "echo")
    reasons = replay_gold_calls(draft([echo], [Replay("1", "echo", {"city": "Lima"}, "Lima")]),
                                SANDBOX)
    assert [r.code for r in reasons] == ["answer"]
    assert reasons[0].message.endswith("which contains the gold answer 'Lima' only where it "
                                       "repeats the call's own arguments")


def test_a_tool_that_fails_to_load_stops_the_replay_before_any_gold_call():
    broken = tool("broken", BROKEN_LOAD, "temp")
    replays = [Replay("1", "temp", {"city": "Oslo"}, "wrong answer")]
    reasons = replay_gold_calls(draft([tool(), broken], replays), SANDBOX)
    assert len(reasons) == 1  # no 'answer' reason: the gold calls never ran
    assert reasons[0].code == "replay"
    assert reasons[0].message.startswith("tool 'broken' fails to load (exception): ")
    assert "KeyError" in reasons[0].message


def test_a_distractor_that_fails_to_load_is_reported_too():
    replays = [Replay("1", "temp", {"city": "Oslo"}, "4.0 °C")]
    reasons = replay_gold_calls(
        draft([tool()], replays, distractors=[tool("noise", BROKEN_LOAD, "temp")]), SANDBOX)
    assert [r.message.split(" fails")[0] for r in reasons] == ["tool 'noise'"]


def test_tools_sharing_a_source_are_loaded_and_checked_once():
    twins = [tool("a", BROKEN_LOAD, "temp"), tool("b", BROKEN_LOAD, "temp")]
    reasons = replay_gold_calls(draft(twins, [Replay("1", "a", {"city": "x"}, "y")]), SANDBOX)
    assert [r.message.split(" fails")[0] for r in reasons] == ["tool 'a'"]
    rejected = check_compiles(draft([tool("a", BAD), tool("b", BAD)], []))
    assert len(rejected) == 1 and rejected[0].code == "compile"
    assert rejected[0].message.startswith("tool 'a' is rejected by the sandbox policy: ")


def test_a_compile_rejection_shows_at_most_three_policy_errors():
    errors = Sandbox.check(BAD)
    assert len(errors) >= 4
    (reason,) = check_compiles(draft([tool("a", BAD)], []))
    assert reason == Reason("compile", "tool 'a' is rejected by the sandbox policy: "
                                       + "; ".join(errors[:3]))
    assert check_compiles(draft([tool()], [])) == []


@pytest.mark.parametrize("text, shown", [
    ("a  b\n\tc", "a b c"),
    ("x" * 160, "x" * 160),
    ("x" * 161, "x" * 160 + "…"),
    ("  " + "y " * 100, ("y " * 80)[:160] + "…"),
])
def test_shown_text_has_single_spaces_and_at_most_160_characters(text, shown):
    assert _short(text) == shown


def test_a_repeated_source_does_not_stop_the_tools_after_it_from_being_checked():
    other_bad = TEMP + "def peek():\n    return ().__class__\n"
    reasons = check_compiles(draft([tool("a", BAD), tool("b", BAD), tool("c", other_bad)], []))
    assert [r.message.split(" is rejected")[0] for r in reasons] == ["tool 'a'", "tool 'c'"]


def test_a_repeated_source_does_not_stop_the_tools_after_it_from_being_loaded():
    replays = [Replay("1", "temp", {"city": "Oslo"}, "4.0 °C")]
    reasons = replay_gold_calls(
        draft([tool(), tool("twin")], replays, distractors=[tool("noise", BROKEN_LOAD, "temp")]),
        SANDBOX)
    assert [r.message.split(" fails")[0] for r in reasons] == ["tool 'noise'"]


def test_only_the_first_answer_of_the_reason_becomes_gold_answer():
    # the answer's own text must be quoted as it is, even when it holds the word "answer"
    echo = tool("echo", 'def echo(city: str) -> dict:\n    return {"note": "none"}\n', "echo")
    reasons = replay_gold_calls(
        draft([echo], [Replay("1", "echo", {"city": "x"}, "answer answer")]), SANDBOX)
    assert reasons[0].message.endswith("which does not contain the gold answer "
                                       "'answer answer'")
