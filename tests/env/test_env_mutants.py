"""Exact behaviour of AstraEnv that the rest of tests/env leaves open (issue 19).

Each test pins rules of ``astra_gym/env.py`` that a mutation run of the module
found unchecked (docs/testing.md): the transcript copy of a message action, the
ANSI render, what an unpickled env shares, what the hedge rule is told, the
record and message of each call, injected distractors, and how a task with
several user turns opens each turn.
"""

from __future__ import annotations

import json
import pickle

import gymnasium as gym
import pytest
from env_packs import write_unit_pack

import astra_gym  # noqa: F401 - registers astra/demo-v0
from astra_gym.env import AstraEnv
from astra_gym.finals import HedgeRule
from astra_gym.pack import GoldCall, SubTask, Task, TaskSource, Tool, UserTurn, write_pack
from astra_gym.parsers.render import render_calls


@pytest.fixture(scope="module")
def unit_pack(tmp_path_factory):
    return write_unit_pack(tmp_path_factory.mktemp("unit"))


def _env(unit_pack, **kwargs):
    return AstraEnv(unit_pack, sandbox={"isolation": "inprocess"}, **kwargs)


def _call(name, **arguments):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c-{name}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}]}


# -- the transcript's copy of a message action ------------------------------------------

MIXED_ACTION = {"role": "assistant", "content": None, "tool_calls": [
    # the agent's own argument text, odd spacing included, is kept as written
    {"id": "a1", "type": "function",
     "function": {"name": "quote", "arguments": '{"ticker":   "ACME"}'}},
    # arguments given as an object, not a JSON string: written out, non-ASCII as is
    {"id": "a2", "type": "function", "function": {"name": "quote",
                                                  "arguments": {"ticker": "GLÖBEX"}}},
    # no function object: a parse error, transcribed with an empty name and no arguments
    {"id": "a3"}],
    # a legacy function_call after the list: a fourth call with no tool_calls entry
    "function_call": {"name": "quote", "arguments": '{"ticker": "GLOBEX"}'}}


def test_a_message_action_is_transcribed_with_normalised_tool_calls(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    _, _, _, _, info = env.step(MIXED_ACTION)
    assert [(c["id"], c["error_kind"]) for c in info["calls"]] == [
        ("a1", None), ("a2", "exception"), ("a3", "parse_error"), ("call_1_3", None)]
    assert env.messages[2] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "a1", "type": "function",
         "function": {"name": "quote", "arguments": '{"ticker":   "ACME"}'}},
        {"id": "a2", "type": "function",
         "function": {"name": "quote", "arguments": '{"ticker": "GLÖBEX"}'}},
        {"id": "a3", "type": "function", "function": {"name": "", "arguments": "{}"}},
        {"id": "call_1_3", "type": "function",
         "function": {"name": "quote", "arguments": '{"ticker": "GLOBEX"}'}}]}
    env.close()


def test_the_transcript_keeps_each_turn_as_the_agent_wrote_it(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    function = {"name": "quote", "arguments": '{"ticker": "ACME"}'}
    env.step({"role": "assistant", "content": "<think>x</think>Checking.",
              "tool_calls": [{"id": "a", "type": "function", "function": function}]})
    env.step({"role": "assistant", "content": [{"type": "text", "text": "A"},
                                               {"type": "text", "text": "B"}],
              "tool_calls": [{"id": "b", "type": "function", "function": function}]})
    text = '<tool_call>{"name": "quote", "arguments": {"ticker": "GLOBEX"}}</tool_call>'
    env.step(text)
    env.step({"role": "assistant", "content": "  Not sure.  "})
    assistant = [m for m in env.messages if m["role"] == "assistant"]
    assert assistant == [
        {"role": "assistant", "content": "<think>x</think>Checking.", "tool_calls": [
            {"id": "a", "type": "function", "function": function}]},
        {"role": "assistant", "content": "A\nB", "tool_calls": [
            {"id": "b", "type": "function", "function": function}]},
        {"role": "assistant", "content": text},
        {"role": "assistant", "content": "  Not sure.  "}]
    env.close()


def test_render_is_the_exact_transcript(unit_pack):
    env = _env(unit_pack, render_mode="ansi", system_prompt="Be brief.")
    env.reset(seed=0, options={"task_id": "stocks"})
    env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "a1", "type": "function",
         "function": {"name": "quote", "arguments": '{"ticker": "ACME"}'}},
        {"id": "a2", "type": "function",
         "function": {"name": "quote", "arguments": '{"ticker": "GLOBEX"}'}}]})
    assert env.render() == (
        "[system] Be brief.\n"
        "[user] Value 10 ACME shares; GLOBEX too?\n"
        "[assistant] \n"
        '  -> quote({"ticker": "ACME"})\n'
        '  -> quote({"ticker": "GLOBEX"})\n'
        '[tool] {"ticker": "ACME", "close": "1,234.50 USD"}\n'
        '[tool] {"ticker": "GLOBEX", "close": "88.25 USD"}')
    env.close()


def test_missing_and_clashing_call_ids_are_replaced_by_exact_ids(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    function = {"name": "quote", "arguments": '{"ticker": "ACME"}'}
    observation, *_ = env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1_1", "type": "function", "function": function},
        {"type": "function", "function": function},   # call_1_1 is taken: call_1_1_
        {"id": "dup", "type": "function", "function": function},
        {"id": "dup", "type": "function", "function": function},
        {"id": "call_1_4_", "type": "function", "function": function},
        {"type": "function", "function": function}]})
    assert [m["tool_call_id"] for m in observation] == [
        "call_1_1", "call_1_1_", "dup", "call_1_3", "call_1_4_", "call_1_5"]
    env.close()


def test_dropped_calls_are_noted_on_the_last_message_and_counted_as_invalid(unit_pack):
    env = _env(unit_pack, max_calls_per_turn=3)
    env.reset(seed=0, options={"task_id": "stocks"})
    observation, _, _, _, info = env.step(
        '<tool_call>{"name": "quote", "arguments": {"ticker": 7}}</tool_call>'
        '<tool_call>{"name": "quote", "arguments": {"ticker": "GLOBEX"}}</tool_call>'
        '<tool_call>{"name": "quote", "arguments": {"ticker": "ACME"}}</tool_call>'
        '<tool_call>{"name": "quote", "arguments": {"ticker": "ACME"}}</tool_call>')
    assert [m["content"] for m in observation] == [
        "Error: invalid arguments for 'quote': argument 'ticker': 7 is not of type 'string'",
        '{"ticker": "GLOBEX", "close": "88.25 USD"}',
        '{"ticker": "ACME", "close": "1,234.50 USD"}\nError: 1 more tool call(s) in this turn '
        "were not run: at most 3 calls run per turn (max_calls_per_turn)"]
    components = info["reward_components"]
    assert (components["calls"], components["invalid_calls"]) == (4, 2)
    env.close()


# -- step guards and oversized turns ---------------------------------------------------------

def test_step_refuses_with_exact_messages_before_reset_and_after_the_end(unit_pack):
    env = _env(unit_pack)
    with pytest.raises(RuntimeError, match=r"^call reset\(\) before step\(\)$"):
        env.step("hi")
    env.reset(seed=0, options={"task_id": "stocks"})
    env.step("I don't know.")
    with pytest.raises(RuntimeError, match=r"^the episode is over \(terminated or truncated\): "
                                           r"call reset\(\)$"):
        env.step("hi")
    env.close()


def test_an_oversized_message_is_one_invalid_call_in_the_transcript(unit_pack):
    env = _env(unit_pack, max_action_chars=10)
    env.reset(seed=0, options={"task_id": "stocks"})
    observation, _, terminated, _, info = env.step({"role": "assistant",
                                                    "content": "x" * 11})
    assert not terminated and info["action_format"] == "none"
    assert info["calls"] == [_record(None, "parse_error", "call_1_0")]
    assert observation == [{"role": "tool", "tool_call_id": "call_1_0", "name": "",
                            "content": "Error: could not parse the tool call: the turn is too "
                                       "long (11 characters; the limit is 10, "
                                       "max_action_chars): nothing in it was run"}]
    assert env.messages[2] == {"role": "assistant", "content": "x" * 11, "tool_calls": [
        {"id": "call_1_0", "type": "function", "function": {"name": "", "arguments": "{}"}}]}
    function = {"name": "quote", "arguments": '{"ticker": "ACME!"}'}  # 19 characters
    env.step({"role": "assistant", "content": None,
              "tool_calls": [{"id": "a", "type": "function", "function": function}]})
    assert env.messages[4] == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_2_0", "type": "function",
         "function": {"name": "", "arguments": '{"ticker": "ACME!"}'}}]}
    env.close()


def test_steps_keep_the_episode_session(unit_pack):
    # the session is reopened (and the episode's calls replayed) only after unpickling
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "counter"})
    session = env._session
    env.step(_call("bump"))
    env.step(_call("bump"))
    assert env._session is session
    env.close()


# -- pickling ----------------------------------------------------------------------------

def test_an_unpickled_env_shares_the_process_pack(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    copy = pickle.loads(pickle.dumps(env))
    # the pack travels as its path and is reopened through the per-process cache
    assert copy.pack is env.pack
    assert sorted(vars(copy)) == sorted(vars(env))
    env.close()
    copy.close()


# -- what the hedge rule is given --------------------------------------------------------

ANSWER = "ACME closed at 1,234.50 USD and GLOBEX at 88.25 USD: 10 ACME shares are 12,345 USD."


def test_the_hedge_rule_excuses_the_subtask_answers_and_the_prompt(unit_pack):
    # Strict enough that two unexcused result values make a dump: the two closes are
    # sub-task answers and the two tickers are in the prompt, so the answer commits.
    env = _env(unit_pack, hedge_rule=HedgeRule(max_values=2))
    env.reset(seed=0, options={"task_id": "stocks"})
    env.step(_call("quote", ticker="ACME"))
    env.step(_call("quote", ticker="GLOBEX"))
    env.step(_call("position_value", price=1234.5, shares=10))
    *_, terminated, _, info = env.step(ANSWER)
    assert terminated and info["success"] and info["hedged"] is False
    assert "hedge_reason" not in info
    env.close()


# -- the call records and tool messages --------------------------------------------------

def _record(name, error_kind, call_id, ok=False, solved=()):
    return {"name": name, "ok": ok, "error_kind": error_kind, "solved": list(solved),
            "distractor": False, "id": call_id}


def test_each_call_gets_an_exact_record_and_message(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    # as many positional arguments as the tool has parameters is allowed; one more is not
    observation, _, _, _, info = env.step(
        "quote('ACME', 'USD')\nquote('A', 'B', 'C')\nquote('GLOBEX', ticker='GLOBEX')\n"
        "quote(ticker=7)\nquote('NOPE')")
    assert info["action_format"] == "python"
    assert info["calls"] == [
        _record("quote", None, "call_1_0", ok=True, solved=["1"]),
        _record("quote", "invalid_arguments", "call_1_1"),
        _record("quote", "invalid_arguments", "call_1_2"),
        _record("quote", "invalid_arguments", "call_1_3"),
        _record("quote", "exception", "call_1_4")]
    assert [m["content"] for m in observation] == [
        '{"ticker": "ACME", "close": "1,234.50 USD"}',
        "Error: quote() takes at most 2 positional arguments; pass arguments by name",
        "Error: quote() got 'ticker' both by position and by name",
        "Error: invalid arguments for 'quote': argument 'ticker': 7 is not of type 'string'",
        "Error: ValueError: unknown ticker NOPE (line 4)"]
    assert info["reward_components"]["invalid_calls"] == 3
    observation, _, _, _, info = env.step(
        '<tool_call>{"name": "quotes", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "quote", "arguments": {"ticker": "ACME"</tool_call>')
    assert info["calls"] == [_record("quotes", "unknown_tool", "call_2_0"),
                             _record("quote", "parse_error", "call_2_1")]
    assert observation[0]["content"] == ("Error: unknown tool 'quotes'. Available tools: "
                                         "position_value, quote")
    assert observation[1]["content"].startswith("Error: could not parse the tool call: ")
    env.close()


# -- injected distractors -----------------------------------------------------------------

def _filler(parameters):
    """Required arguments written as "1": text only where the schema says string."""
    return {name: "1" if spec.get("type") == "string" else 1
            for name, spec in parameters.get("properties", {}).items()
            if name in parameters.get("required", ())}


def test_an_injected_distractor_can_be_called_and_never_solves(tmp_path):
    env = gym.make("astra/demo-v0", distractors={"k": 1, "cache_dir": str(tmp_path)},
                   sandbox={"isolation": "inprocess"}).unwrapped
    _, info = env.reset(seed=0, options={"task_id": "demo-weather-001"})
    distractors = info["distractor_tools"]
    assert distractors and all(band in ("high", "medium", "low")
                               for band in info["distractor_bands"])
    listed = sorted(tool["function"]["name"] for tool in info["tools"])
    schemas = {tool["function"]["name"]: tool["function"]["parameters"]
               for tool in info["tools"]}
    # Bare values (qwen3_coder) are typed by the listed tool's schema: "1" stays text for a
    # string parameter of a distractor too.
    _, _, _, _, info = env.step(render_calls(
        [(name, _filler(schemas[name])) for name in distractors], "qwen3_coder"))
    assert info["action_format"] == "qwen3_coder"
    for record in info["calls"]:
        # it ran (or raised) in the sandbox: listed, flagged, and it solves nothing
        assert record["error_kind"] in (None, "exception") and record["distractor"] is True
        assert record["solved"] == []
    assert info["reward_components"]["distractor_calls"] == len(distractors)
    observation, _, _, _, info = env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "bad", "type": "function", "function": {"name": distractors[0],
                                                       "arguments": '{"nope": 1}'}},
        {"id": "unknown", "type": "function", "function": {"name": "nope",
                                                           "arguments": "{}"}}]})
    assert [record["error_kind"] for record in info["calls"]] == ["invalid_arguments",
                                                                  "unknown_tool"]
    assert observation[-1]["content"] == ("Error: unknown tool 'nope'. Available tools: "
                                          + ", ".join(listed))
    env.step(_call("get_uv_index", city="Sydney", date="2026-01-18"))
    *_, terminated, _, info = env.step("UV index 11.4 (Extreme)")
    assert terminated and info["success"] and info["hedged"] is False
    assert info["reward_components"]["distractor_calls"] == len(distractors)
    env.close()


# -- injected tool failures ---------------------------------------------------------------

def test_an_injected_failure_replaces_a_valid_call_only(unit_pack):
    env = _env(unit_pack, failures={"p": 1.0, "kinds": ["timeout"]})
    env.reset(seed=0, options={"task_id": "stocks"})
    observation, _, _, _, info = env.step(
        '<tool_call>{"name": "quote", "arguments": {"ticker": "ACME"}}</tool_call>'
        '<tool_call>{"name": "quote", "arguments": {"ticker": 7}}</tool_call>')
    assert info["calls"] == [
        {"name": "quote", "ok": False, "error_kind": "injected_failure", "solved": [],
         "distractor": False, "failure": "timeout", "id": "call_1_0"},
        _record("quote", "invalid_arguments", "call_1_1")]
    assert observation[0]["content"] == (
        "Error: TimeoutError: the request to the quote service timed out after 30 seconds "
        "(read timeout)")
    components = info["reward_components"]
    assert (components["injected_failures"], components["invalid_calls"]) == (1, 1)
    assert components["solved"] == []
    env.close()


# -- several user turns -------------------------------------------------------------------

def _math_tool(name, description, result, operator):
    return Tool(name, description, {"type": "object", "properties": {
        "a": {"type": "number"}, "b": {"type": "number"}, "label": {"type": "string"}},
        "required": ["a", "b"]},
        f"def {name}(a, b, label=''):\n    return {{'{result}': a {operator} b}}\n", name)


ADD = _math_tool("add", "Add two numbers.", "sum", "+")
MUL = _math_tool("mul", "Multiply two numbers (×).", "product", "*")
SUB = _math_tool("sub", "Subtract b from a.", "difference", "-")


def three_turn_task() -> Task:
    """Turn 1 reveals two tools (named out of order); turn 2 reveals none."""
    return Task(
        task_id="three", source=TaskSource("unit.jsonl", 1, None), domain="math",
        language="en", prompt=({"role": "user", "content": "What is 17 + 25?"},),
        final_answer="700",
        subtasks=(SubTask("1", "sum", "42", (), 1, True, "add",
                          GoldCall("add", {"a": 17, "b": 25})),
                  SubTask("2", "product", "714", (), 2, True, "mul",
                          GoldCall("mul", {"a": 42, "b": 17}), turn=1),
                  SubTask("3", "difference", "700", (), 3, True, "sub",
                          GoldCall("sub", {"a": 714, "b": 14}), turn=2)),
        tools=(ADD, MUL, SUB),
        turns=(UserTurn(({"role": "user", "content": "Now multiply it by 17."},),
                        ("sub", "mul")),
               UserTurn(({"role": "user", "content": "Take 14 away."},))))


@pytest.fixture(scope="module")
def turns_pack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("turns") / "mt"
    write_pack(directory, "mt", 0, [three_turn_task()],
               validation={"rows": 1, "compiled": 1, "rejected": 0})
    return str(directory)


def _names(tools):
    return [tool["function"]["name"] for tool in tools]


def test_each_user_turn_opens_with_its_messages_and_revealed_tools(turns_pack):
    env = _env(turns_pack, shuffle_tools=False)
    _, info = env.reset(seed=0)
    assert _names(info["tools"]) == ["add"]
    assert (info["user_turn"], info["user_turns"]) == (0, 3)
    observation, *_ = env.step(_call("sub", a=1, b=2))  # hidden until turn 1
    assert observation[0]["content"] == "Error: unknown tool 'sub'. Available tools: add"
    # bare values are typed by the schemas of the listed tools: "1" stays text for a label
    _, _, _, _, info = env.step(render_calls([("add", {"a": 17, "b": 25, "label": "1"})],
                                             "qwen3_coder"))
    assert info["calls"][0]["error_kind"] is None and info["calls"][0]["solved"] == ["1"]
    observation, _, terminated, truncated, info = env.step("42")
    assert observation == [{"role": "user", "content": "Now multiply it by 17."}]
    assert not terminated and not truncated and not info["success"]
    assert info["user_turn"] == 1
    assert info["tools_added"] == ["mul", "sub"]  # in the task's order, appended
    assert _names(info["tools"]) == ["add", "mul", "sub"]
    assert env.messages[-1] == observation[0] and env.messages[-1] is not observation[0]
    info["tools"].clear()  # the caller's copy
    observation, *_ = env.step(_call("nope", a=1, b=2))
    assert observation[0]["content"].endswith("Available tools: add, mul, sub")
    env.step({"role": "assistant", "content": None, "tool_calls": [
        {"id": "m", "type": "function",
         "function": {"name": "mul", "arguments": '{"a": 42, "b": 17}'}},
        {"id": "s", "type": "function",
         "function": {"name": "sub", "arguments": '{"a": 714, "b": 14}'}}]})
    observation, _, terminated, truncated, info = env.step("714")
    assert observation == [{"role": "user", "content": "Take 14 away."}]
    assert info["user_turn"] == 2 and not terminated and not truncated
    assert "tools" not in info and "tools_added" not in info
    observation, _, terminated, _, info = env.step("700")
    assert terminated and info["success"] and observation == []
    assert "user_turn" not in info
    assert [m["role"] for m in env.messages] == [
        "system", "user", "assistant", "tool", "assistant", "tool", "assistant", "user",
        "assistant", "tool", "assistant", "tool", "tool", "assistant", "user", "assistant"]
    env.close()


def test_revealed_tool_docs_open_the_user_message_for_text_agents(turns_pack):
    env = _env(turns_pack, tools_in_prompt=True, shuffle_tools=False)
    env.reset(seed=0)
    observation, _, _, _, info = env.step("ok")
    revealed = [tool for tool in info["tools"] if tool["function"]["name"] != "add"]
    assert observation == [{"role": "user", "content": json.dumps(revealed, ensure_ascii=False)
                            + "\nNow multiply it by 17."}]
    assert "×" in observation[0]["content"]
    env.close()


def test_max_turns_restarts_with_each_user_turn(turns_pack):
    env = _env(turns_pack, max_turns=2)
    env.reset(seed=0)
    assert env.step(_call("add", a=1, b=2))[2:4] == (False, False)
    assert env.step("3")[2:4] == (False, False)  # the second step ends the user turn
    assert env.step(_call("mul", a=1, b=2))[2:4] == (False, False)
    assert env.step(_call("mul", a=1, b=3))[2:4] == (False, True)
    env.close()


# -- a task with a trusted backend (BFCL multi-turn) -------------------------------------

@pytest.fixture(scope="module")
def bfcl_base(tmp_path_factory):
    pytest.importorskip("bfcl_eval", reason='needs: python -m pip install --no-deps '
                        '"bfcl-eval==2026.3.23" mpmath')
    from astra_gym.bfcl.importer import import_bfcl

    packs = import_bfcl(tmp_path_factory.mktemp("bfcl"), ["base"], limit=1, packaging=False)
    return str(packs["base"])


def _calls(calls):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c{i}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}
        for i, (name, arguments) in enumerate(calls)]}


def test_a_backend_method_call_is_recorded_like_a_tool_call(bfcl_base):
    env = AstraEnv(bfcl_base)
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    observation, _, _, _, info = env.step(_calls([
        ("cd", {"folder": "document"}),    # runs and solves the first gold call
        ("cd", {"folder": "nope"}),        # the library's error result: a result
        ("cd", {"folderx": 1}),            # not validated: the method raises
        ("nosuch", {})]))
    assert info["calls"] == [
        {"name": "cd", "ok": True, "error_kind": None, "solved": ["t0.c0"],
         "distractor": False, "id": "c0"},
        {"name": "cd", "ok": True, "error_kind": None, "solved": [], "distractor": False,
         "id": "c1"},
        {"name": "cd", "ok": False, "error_kind": "exception", "solved": [],
         "distractor": False, "id": "c2"},
        {"name": "nosuch", "ok": False, "error_kind": "unknown_tool", "solved": [],
         "distractor": False, "id": "c3"}]
    assert observation[0]["content"] == '{"current_working_directory": "document"}'
    assert observation[2]["content"] == ("Error during execution: GorillaFileSystem.cd() got "
                                         "an unexpected keyword argument 'folderx'")
    components = info["reward_components"]
    assert (components["n"], components["calls"], components["invalid_calls"]) == (10, 4, 1)
    env.close()


def test_a_backend_episode_is_judged_turn_by_turn(bfcl_base):
    from astra_gym.bfcl.agents import ground_truth_script

    env = AstraEnv(bfcl_base)
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    ends = []
    for turn in ground_truth_script(env.task):
        for step in turn:
            env.step(_calls(step))
        ends.append(env.step("Done."))
    assert [end[1] for end in ends] == [0.0, 0.0, 0.0, 0.0]
    assert [end[2:4] for end in ends] == [(False, False)] * 3 + [(True, False)]
    assert [end[4]["turn_verdict"] for end in ends] == [
        {"turn": turn, "checked": True, "valid": True, "error_type": None, "detail": None,
         "revoked": []} for turn in range(4)]
    assert [("bfcl" in end[4], end[4]["success"]) for end in ends] == [(False, False)] * 3 + [
        (True, True)]
    assert ends[-1][4]["bfcl"] == {"valid": True, "error_type": None}
    assert ends[-1][4]["reward_components"]["n_solved"] == 10
    env.close()


def _empty_turn(turn):
    return {"turn": turn, "checked": True, "valid": False,
            "error_type": "multi_turn:empty_turn_model_response",
            "detail": "no tool call in this turn", "revoked": []}


def test_a_backend_turn_without_calls_fails_and_a_cut_episode_is_force_terminated(bfcl_base):
    from astra_gym.bfcl.agents import ground_truth_script

    env = AstraEnv(bfcl_base)
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    _, _, terminated, truncated, info = env.step("Nothing to do.")
    assert (terminated, truncated) == (False, False)
    assert info["turn_verdict"] == _empty_turn(0)
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    for step in ground_truth_script(env.task)[0]:
        env.step(_calls(step))
    assert env.step("Done.")[4]["turn_verdict"]["valid"] is True
    # the calls of turn 0 do not count for turn 1
    assert env.step("Nothing to do.")[4]["turn_verdict"] == _empty_turn(1)
    env.close()
    env = AstraEnv(bfcl_base, max_turns=1)
    env.reset(seed=0, options={"task_id": "multi_turn_base_0"})
    _, _, terminated, truncated, info = env.step(_calls([("cd", {"folder": "document"})]))
    assert (terminated, truncated) == (False, True)
    assert "turn_verdict" not in info
    assert info["bfcl"] == {"valid": False, "error_type": "multi_turn:force_terminated"}
    env.close()


# -- constructor options ------------------------------------------------------------------

def test_sandbox_options_reach_the_sandbox(unit_pack):
    """Limits fields, ``isolation`` and ``pool`` all arrive (none is dropped on the way)."""
    env = AstraEnv(unit_pack, sandbox={"isolation": "inprocess", "ops": 1})
    assert env._sandbox.isolation == "inprocess"
    env.reset(seed=0, options={"task_id": "stocks"})
    _, _, _, _, info = env.step(_call("quote", ticker="ACME"))
    assert info["calls"][0]["error_kind"] == "budget_exceeded"  # an op budget of one
    env.close()


def test_a_sandbox_pool_option_is_the_pool_the_env_uses(unit_pack):
    from astra_gym.sandbox import WorkerPool

    with WorkerPool(1) as pool:
        env = AstraEnv(unit_pack, sandbox={"pool": pool})
        env.reset(seed=0, options={"task_id": "stocks"})
        _, _, _, _, info = env.step(_call("quote", ticker="ACME"))
        assert info["calls"][0]["error_kind"] is None
        assert len(pool.workers) == 1  # our pool started the worker that ran the call
        env.close()


def test_bad_constructor_options_list_the_valid_ones(unit_pack):
    from dataclasses import fields

    from astra_gym.parsers import ACTION_FORMATS
    from astra_gym.rewards import REWARD_MODES
    from astra_gym.sandbox.limits import Limits

    with pytest.raises(ValueError) as error:
        AstraEnv(unit_pack, sandbox={"isolation": "inprocess", "opz": 1, "colour": 2})
    limits = ", ".join(sorted(field.name for field in fields(Limits)))
    assert str(error.value) == ("unknown sandbox option(s) colour, opz; use 'isolation', "
                                f"'pool' or Limits fields: {limits}")
    with pytest.raises(ValueError) as error:
        AstraEnv(unit_pack, reward="f2")
    assert str(error.value) == f"unknown reward mode 'f2'; choose one of {', '.join(REWARD_MODES)}"
    with pytest.raises(ValueError) as error:
        AstraEnv(unit_pack, action_format="yaml")
    assert str(error.value) == ("unknown action_format 'yaml'; choose one of "
                                f"{', '.join(ACTION_FORMATS)}")


@pytest.mark.parametrize("name", ["max_turns", "max_calls_per_turn", "max_action_chars"])
@pytest.mark.parametrize("value", [0, True, "3"])
def test_each_count_option_must_be_a_positive_integer_and_says_which(unit_pack, name, value):
    with pytest.raises(ValueError) as error:
        AstraEnv(unit_pack, **{name: value})
    assert str(error.value) == f"{name} must be a positive integer, got {value!r}"


def test_other_bad_constructor_arguments_say_what_is_wrong(unit_pack):
    with pytest.raises(TypeError, match=r"^hedge_rule must be a HedgeRule or None, not str$"):
        AstraEnv(unit_pack, hedge_rule="lenient")
    with pytest.raises(ValueError, match=r"^unknown render_mode 'human'; use None or 'ansi'$"):
        AstraEnv(unit_pack, render_mode="human")
    with pytest.raises(KeyError, match=r"has no task\(s\) \['nope'\]"):
        AstraEnv(unit_pack, task_ids=["stocks", "nope"])
    with pytest.raises(ValueError, match=r"^task_ids is empty: give at least one task id, or "
                                         r"None for all$"):
        AstraEnv(unit_pack, task_ids=[])


def test_unknown_task_ids_are_listed_up_to_five(unit_pack):
    with pytest.raises(KeyError) as error:
        AstraEnv(unit_pack, task_ids=["stocks"] + [f"n{i}" for i in range(6)])
    assert "has no task(s) ['n0', 'n1', 'n2', 'n3', 'n4']" in str(error.value)


def test_a_pack_without_tasks_cannot_make_an_env(tmp_path):
    write_pack(tmp_path, "empty", 0, [], validation={"rows": 0, "compiled": 0, "rejected": 0})
    with pytest.raises(ValueError, match=r"^pack 'empty' has no tasks$"):
        AstraEnv(str(tmp_path))


def test_tools_in_the_prompt_keep_non_ascii_text_as_written(tmp_path):
    import dataclasses

    from env_packs import QUOTE, stock_task

    task = stock_task()
    quote = dataclasses.replace(QUOTE, description="Dernier cours de clôture (€).")
    task = dataclasses.replace(task, tools=(quote, *task.tools[1:]))
    write_pack(tmp_path, "accents", 0, [task], validation={"rows": 1, "compiled": 1,
                                                            "rejected": 0})
    env = AstraEnv(str(tmp_path), sandbox={"isolation": "inprocess"}, tools_in_prompt=True)
    observation, _ = env.reset(seed=0)
    assert "Dernier cours de clôture (€)." in observation[0]["content"]
    env.close()


def test_the_episode_seed_is_drawn_from_the_reset_seed_over_31_bits(unit_pack):
    """The same seed gives the same episode seed in any process; different seeds rarely collide."""
    from gymnasium.utils import seeding

    env = _env(unit_pack)
    seeds = []
    for seed in range(64):
        _, info = env.reset(seed=seed, options={"task_id": "stocks"})  # no draw for the task
        expected = int(seeding.np_random(seed)[0].integers(0, 2**31 - 1))
        assert info["episode_seed"] == expected
        seeds.append(info["episode_seed"])
    assert len(set(seeds)) == 64
    env.close()


def test_reset_info_names_the_task_pack_domain_and_language(unit_pack):
    env = _env(unit_pack)
    _, info = env.reset(seed=0, options={"task_id": "stocks"})
    assert {key: info[key] for key in ("task_id", "pack", "domain", "language")} == {
        "task_id": "stocks", "pack": "unit", "domain": "finance", "language": "en"}
    env.close()


def test_two_tools_are_shuffled_too(unit_pack):
    env = _env(unit_pack)
    orders = set()
    for seed in range(16):
        _, info = env.reset(seed=seed, options={"task_id": "stocks"})  # quote, position_value
        orders.add(tuple(tool["function"]["name"] for tool in info["tools"]))
    assert orders == {("quote", "position_value"), ("position_value", "quote")}
    env.close()


def test_a_reused_session_draws_from_the_new_episode_seed(tmp_path):
    """Tool randomness follows the episode seed, also when the env reuses its session."""
    import dataclasses

    from env_packs import COUNTER, counter_task

    roll = dataclasses.replace(
        COUNTER, source="import random\ndef bump(step: int = 1) -> dict:\n"
                        "    return {'count': random.randint(1, 10**9)}\n")
    task = dataclasses.replace(counter_task(), tools=(roll,))
    write_pack(tmp_path, "dice", 0, [task], validation={"rows": 1, "compiled": 1, "rejected": 0})

    def first_roll(env, seed):
        env.reset(seed=seed)
        observation, *_ = env.step(_call("bump"))
        return observation[0]["content"]

    reused = AstraEnv(str(tmp_path), sandbox={"isolation": "inprocess"})
    rolls = [first_roll(reused, seed) for seed in (1, 2)]
    fresh = AstraEnv(str(tmp_path), sandbox={"isolation": "inprocess"})
    assert rolls[0] != rolls[1]
    assert first_roll(fresh, 2) == rolls[1]
    reused.close()
    fresh.close()


def test_step_info_names_the_task_and_turn(unit_pack):
    env = _env(unit_pack)
    env.reset(seed=0, options={"task_id": "stocks"})
    _, _, _, _, info = env.step(_call("quote", ticker="ACME"))
    assert (info["task_id"], info["turn"]) == ("stocks", 1)
    env.close()


def test_the_action_size_limit_counts_content_and_every_arguments_text(unit_pack):
    env = _env(unit_pack, max_action_chars=40)
    env.reset(seed=0, options={"task_id": "stocks"})
    args = json.dumps({"ticker": "ACME"})  # 18 characters

    def message(content, *entries):
        return {"role": "assistant", "content": content, "tool_calls": list(entries)}

    def entry(text):
        return {"id": "c", "type": "function", "function": {"name": "quote", "arguments": text}}

    def oversized(action):
        observation, *_ = env.step(action)
        return any("the turn is too long" in m["content"] for m in observation)

    assert not oversized(message("x" * 4, entry(args), entry(args)))  # 4 + 36 = 40: the limit
    assert oversized(message("x" * 5, entry(args), entry(args)))  # 41
    assert not oversized(message(None, 7, entry(args)))  # no content, a non-dict entry: 18
    assert oversized("y" * 41) and not oversized("quote('ACME')" + " " * 27)
    env.close()
