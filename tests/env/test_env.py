"""Episode semantics of AstraEnv: reset, step, tool messages, termination, rewards."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from env_packs import write_unit_pack

import astra_gym
from astra_gym.agents.oracle import ORACLE_FORMATS, OracleAgent
from astra_gym.env import DEFAULT_SYSTEM_PROMPT, AstraEnv
from astra_gym.rewards import REWARD_MODES


@pytest.fixture(scope="module")
def unit_pack(tmp_path_factory):
    return write_unit_pack(tmp_path_factory.mktemp("unit"))


@pytest.fixture
def env(unit_pack):
    env = AstraEnv(unit_pack)
    yield env
    env.close()


def call(name, **arguments):
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": f"c-{name}", "type": "function",
         "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def test_reset_returns_system_and_user_messages_and_tools(env):
    observation, info = env.reset(seed=1, options={"task_id": "stocks"})
    assert observation == [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
                           {"role": "user", "content": "Value 10 ACME shares; GLOBEX too?"}]
    assert info["task_id"] == "stocks" and info["pack"] == "unit"
    assert [t["function"]["name"] for t in info["tools"]] == ["quote", "position_value"]
    assert info["tools"][0] == {"type": "function", "function": {
        "name": "quote", "description": "Latest close of a stock.",
        "parameters": env.task.tools[0].parameters}}
    assert env.messages == observation and env.messages is not observation


def test_reset_draws_tasks_with_np_random(env):
    drawn = [env.reset(seed=seed)[1]["task_id"] for seed in range(30)]
    assert set(drawn) == {"stocks", "counter", "rl"}
    again = [env.reset(seed=seed)[1]["task_id"] for seed in range(30)]
    assert drawn == again


def test_task_ids_restrict_the_draw_and_unknown_ids_fail(unit_pack):
    env = AstraEnv(unit_pack, task_ids=["counter"])
    assert {env.reset(seed=s)[1]["task_id"] for s in range(10)} == {"counter"}
    with pytest.raises(KeyError, match="no task 'nope'"):
        env.reset(options={"task_id": "nope"})
    with pytest.raises(KeyError, match="no task"):
        AstraEnv(unit_pack, task_ids=["nope"])
    env.close()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"reward": "score"}, "unknown reward mode"),
    ({"action_format": "xml"}, "unknown action_format"),
    ({"max_turns": 0}, "max_turns must be a positive integer"),
    ({"sandbox": {"isolation": "inprocess", "cpu": 3}}, "unknown sandbox option"),
    ({"render_mode": "human"}, "unknown render_mode"),
])
def test_bad_make_kwargs_fail_clearly(unit_pack, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        AstraEnv(unit_pack, **kwargs)


@pytest.mark.parametrize("action_format", ORACLE_FORMATS)
def test_oracle_solves_every_task_in_every_action_format(unit_pack, action_format):
    env = AstraEnv(unit_pack, task_ids=["stocks"])
    agent = OracleAgent(env.pack, action_format=action_format)
    observation, info = env.reset(seed=0)
    agent.reset(observation, info)
    rewards = []
    while True:
        observation, reward, terminated, truncated, info = env.step(
            agent.act(observation, info))
        rewards.append(reward)
        if terminated or truncated:
            break
    assert terminated and not truncated and info["success"]
    components = info["reward_components"]
    assert components["f1"] == 1.0 and components["solved"] == ["1", "2", "3"]
    assert components["calls"] == 3 and components["invalid_calls"] == 0
    assert sum(rewards) == pytest.approx(1.0)
    assert len(rewards) == 3  # hop 1 (two parallel calls), hop 2, final answer
    env.close()


def test_tool_messages_answer_each_call_with_its_id(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    action = {"role": "assistant", "content": "Looking up both.", "tool_calls": [
        {"id": "a1", "type": "function", "function": {"name": "quote",
                                                      "arguments": '{"ticker": "ACME"}'}},
        {"id": "b2", "type": "function", "function": {"name": "quote",
                                                      "arguments": '{"ticker": "GLOBEX"}'}}]}
    observation, reward, terminated, truncated, info = env.step(action)
    assert [m["tool_call_id"] for m in observation] == ["a1", "b2"]
    assert all(m["role"] == "tool" and m["name"] == "quote" for m in observation)
    assert json.loads(observation[0]["content"]) == {"ticker": "ACME", "close": "1,234.50 USD"}
    assert not terminated and not truncated
    assert info["reward_components"]["solved"] == ["1", "2"]
    assert reward == pytest.approx(info["reward_components"]["f1"])
    assert env.messages[2]["content"] == "Looking up both."
    assert [c["id"] for c in env.messages[2]["tool_calls"]] == ["a1", "b2"]
    assert env.messages[3:] == observation


def test_invalid_calls_get_error_messages_and_count_against_precision(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    action = ('<tool_call>{"name": "quotes", "arguments": {"ticker": "ACME"}}</tool_call>'
              '<tool_call>{"name": "quote", "arguments": {"ticker": 7}}</tool_call>'
              '<tool_call>{"name": "quote", "arguments": {"ticker": "ACME"</tool_call>'
              '<tool_call>{"name": "quote", "arguments": {"ticker": "NOPE"}}</tool_call>')
    observation, reward, terminated, _, info = env.step(action)
    contents = [m["content"] for m in observation]
    assert contents[0].startswith("Error: unknown tool 'quotes'. Available tools: "
                                  "position_value, quote")
    assert contents[1].startswith("Error: invalid arguments for 'quote':")
    assert "ticker" in contents[1]
    assert contents[2].startswith("Error: could not parse the tool call")
    assert "ValueError: unknown ticker NOPE" in contents[3]
    kinds = [c["error_kind"] for c in info["calls"]]
    assert kinds == ["unknown_tool", "invalid_arguments", "parse_error", "exception"]
    assert len(info["parse_errors"]) == 1
    components = info["reward_components"]
    assert components["calls"] == 4 and components["invalid_calls"] == 3
    assert components["solved"] == [] and reward == 0.0 and not terminated


def test_an_error_result_never_solves_even_if_it_contains_the_answer(env):
    env.reset(seed=0, options={"task_id": "rl"})
    # The error message echoes the argument, which is the gold answer.
    _, _, _, _, info = env.step(call("quote", ticker="88.25 USD"))
    assert info["calls"][0]["ok"] is False
    assert info["reward_components"]["solved"] == []


def test_answer_only_subtasks_are_solved_by_any_call(env):
    env.reset(seed=0, options={"task_id": "rl"})
    _, reward, _, _, info = env.step(call("quote", ticker="GLOBEX"))
    assert info["reward_components"]["solved"] == ["quote#1"] and reward == 1.0
    assert sorted(t["function"]["name"] for t in env.reset(options={"task_id": "rl"})[1]["tools"]) \
        == ["position_value", "quote"]


def test_final_answer_terminates_and_success_needs_everything(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    _, reward, terminated, truncated, info = env.step("It is 12,345 USD.")
    assert terminated and not truncated and reward == 0.0
    assert info["success"] is False and info["final_answer"] == "It is 12,345 USD."
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step("again")


def test_success_requires_the_final_answer(unit_pack):
    env = AstraEnv(unit_pack, task_ids=["stocks"])
    agent = OracleAgent(env.pack)
    observation, info = env.reset(seed=0)
    agent.reset(observation, info)
    for _ in range(2):
        observation, _, _, _, info = env.step(agent.act(observation, info))
    _, _, terminated, _, info = env.step("<think>hmm</think>I could not work it out.")
    assert terminated and info["reward_components"]["f1"] == 1.0 and not info["success"]
    env.close()


def test_max_turns_truncates(unit_pack):
    env = AstraEnv(unit_pack, max_turns=2)
    env.reset(seed=0, options={"task_id": "stocks"})
    assert env.step(call("quote", ticker="ACME"))[3] is False
    _, _, terminated, truncated, _ = env.step(call("quote", ticker="ACME"))
    assert truncated and not terminated
    env.close()


@pytest.mark.parametrize(("mode", "last"), [("f1_terminal", 0.8), ("outcome", 0.0),
                                            ("f1", 0.0), ("recall", 0.0), ("precision", 0.0)])
def test_truncation_ends_the_episode_for_terminal_reward_modes(unit_pack, mode, last):
    """A truncated episode is over: f1_terminal pays its F1 on the truncating step (with
    ``done=terminated`` it would pay nothing), outcome pays 0 (no final answer, no success)."""
    env = AstraEnv(unit_pack, max_turns=2, reward=mode, task_ids=["stocks"])
    env.reset(seed=0)
    _, first, _, _, _ = env.step(call("quote", ticker="ACME"))  # solves 1 of 3
    _, reward, terminated, truncated, info = env.step(call("quote", ticker="GLOBEX"))
    assert truncated and not terminated and not info["success"]
    assert info["reward_components"]["f1"] == pytest.approx(0.8)  # recall 2/3, precision 1
    if mode in ("f1_terminal", "outcome"):
        assert first == 0.0 and reward == pytest.approx(last)
    env.close()


def test_step_before_reset_and_bad_action_types(unit_pack):
    env = AstraEnv(unit_pack)
    with pytest.raises(RuntimeError, match="reset"):
        env.step("hi")
    env.reset(seed=0)
    with pytest.raises(TypeError):
        env.step(42)
    env.close()


def test_python_calls_with_positional_arguments(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    _, _, _, _, info = env.step("quote('ACME')\nquote(ticker='GLOBEX', currency='USD')")
    assert info["action_format"] == "python"
    assert info["reward_components"]["solved"] == ["1", "2"]


@pytest.mark.parametrize("mode", REWARD_MODES)
def test_reward_modes(unit_pack, mode):
    env = AstraEnv(unit_pack, task_ids=["stocks"], reward=mode)
    agent = OracleAgent(env.pack)
    observation, info = env.reset(seed=0)
    agent.reset(observation, info)
    rewards = []
    done = False
    while not done:
        observation, reward, terminated, truncated, info = env.step(
            agent.act(observation, info))
        rewards.append(reward)
        done = terminated or truncated
    expected_total = {"f1": 1.0, "f1_terminal": 1.0, "recall": 1.0, "precision": 1.0,
                      "outcome": 1.0}[mode]
    assert sum(rewards) == pytest.approx(expected_total)
    if mode in ("f1_terminal", "outcome"):
        assert rewards[:-1] == [0.0] * (len(rewards) - 1)
    env.close()


def test_dense_f1_can_go_down_when_calls_are_wasted(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    _, first, _, _, _ = env.step(call("quote", ticker="ACME"))
    _, second, _, _, info = env.step(call("quote", ticker="ACME"))  # solves nothing new
    assert first > 0 and second < 0
    assert info["reward_components"]["precision"] == 0.5


def test_tool_state_does_not_leak_across_episodes(env):
    for _ in range(2):
        env.reset(seed=0, options={"task_id": "counter"})
        first = env.step(call("bump"))[0][0]["content"]
        second = env.step(call("bump"))[0][0]["content"]
        assert (json.loads(first), json.loads(second)) == ({"count": 1}, {"count": 2})


def test_tools_in_prompt_and_custom_system_prompt(unit_pack):
    env = AstraEnv(unit_pack, system_prompt="Be brief.", tools_in_prompt=True)
    observation, info = env.reset(seed=0, options={"task_id": "stocks"})
    system = observation[0]["content"]
    assert system.startswith("Be brief.\n\nAvailable tools")
    assert json.loads(system.split("\n", 3)[3]) == info["tools"]
    env.close()


def test_render_ansi(unit_pack):
    env = AstraEnv(unit_pack, render_mode="ansi")
    env.reset(seed=0, options={"task_id": "stocks"})
    env.step(call("quote", ticker="ACME"))
    text = env.render()
    assert "[user] Value 10 ACME" in text and '-> quote({"ticker": "ACME"})' in text
    assert "[tool] " in text
    env.close()


def test_process_isolation_option(unit_pack):
    env = AstraEnv(unit_pack, sandbox={"isolation": "process", "timeout": 2.0})
    env.reset(seed=0, options={"task_id": "stocks"})
    _, _, _, _, info = env.step(call("quote", ticker="ACME"))
    assert info["reward_components"]["solved"] == ["1"]
    env.close()
    env.close()  # closing twice is allowed


def test_demo_pack_is_registered_on_import():
    assert astra_gym.__version__
    assert "astra/demo-v0" in gym.registry


def test_tool_call_ids_are_unique_within_a_turn(env):
    env.reset(seed=0, options={"task_id": "stocks"})
    function = {"name": "quote", "arguments": '{"ticker": "ACME"}'}
    action = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1_1", "type": "function", "function": function},
        {"type": "function", "function": function},
        {"id": "dup", "type": "function", "function": function},
        {"id": "dup", "type": "function", "function": function}]}
    observation, *_ = env.step(action)
    ids = [message["tool_call_id"] for message in observation]
    assert ids[0] == "call_1_1" and ids[2] == "dup"
    assert len(set(ids)) == 4
    assert [c["id"] for c in env.messages[2]["tool_calls"]] == ids


# -- a turn can carry at most max_calls_per_turn calls and max_action_chars characters --------

def _hermes(n: int, ticker: str = "ACME") -> str:
    block = json.dumps({"name": "quote", "arguments": {"ticker": ticker}})
    return f"<tool_call>{block}</tool_call>" * n


def test_calls_beyond_the_per_turn_cap_are_dropped_and_counted(unit_pack):
    env = AstraEnv(unit_pack, max_calls_per_turn=3)
    env.reset(options={"task_id": "stocks"})
    observation, _reward, terminated, _truncated, info = env.step(_hermes(1000))
    assert not terminated
    assert len(observation) == 3 and len(info["calls"]) == 3
    assert info["dropped_calls"] == 997
    assert "997 more tool call(s) in this turn were not run" in observation[-1]["content"]
    components = info["reward_components"]
    assert components["calls"] == 1000 and components["invalid_calls"] == 997
    env.close()


def test_dropped_calls_lower_precision_like_any_wasted_call(unit_pack):
    env = AstraEnv(unit_pack, max_calls_per_turn=2)
    env.reset(options={"task_id": "stocks"})
    _, _, _, _, capped = env.step(_hermes(2) + _hermes(8, "GLOBEX"))
    env.reset(options={"task_id": "stocks"})
    _, _, _, _, plain = env.step(_hermes(2))
    assert capped["reward_components"]["precision"] < plain["reward_components"]["precision"]
    env.close()


def test_message_actions_are_capped_before_their_calls_are_parsed(unit_pack):
    env = AstraEnv(unit_pack, max_calls_per_turn=4)
    env.reset(options={"task_id": "stocks"})
    entries = [{"id": f"c{i}", "type": "function",
                "function": {"name": "quote", "arguments": '{"ticker": "ACME"}'}}
               for i in range(50_000)]
    observation, _, _, _, info = env.step({"role": "assistant", "content": None,
                                           "tool_calls": entries})
    assert [m["tool_call_id"] for m in observation] == ["c0", "c1", "c2", "c3"]
    assert info["dropped_calls"] == 49_996
    assert len(env.messages[-5]["tool_calls"]) == 4  # the transcript pairs every call it kept
    env.close()


def test_an_oversized_turn_runs_nothing_and_is_not_a_final_answer(unit_pack):
    env = AstraEnv(unit_pack, max_action_chars=1_000)
    env.reset(options={"task_id": "stocks"})
    observation, reward, terminated, truncated, info = env.step(_hermes(100))
    assert not terminated and not truncated
    assert len(observation) == 1 and "the turn is too long" in observation[0]["content"]
    assert info["calls"][0]["error_kind"] == "parse_error"
    assert info["reward_components"]["calls"] == 1
    assert reward == 0.0
    env.close()


@pytest.mark.parametrize("kwargs", [{"max_calls_per_turn": 0}, {"max_action_chars": -1},
                                    {"max_calls_per_turn": True}])
def test_turn_limits_must_be_positive_integers(unit_pack, kwargs):
    with pytest.raises(ValueError, match="must be a positive integer"):
        AstraEnv(unit_pack, **kwargs)
