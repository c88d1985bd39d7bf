"""Rollouts (``synth.sft.rollout``): the agent loop, its caps, the emulator and the env labels."""

from __future__ import annotations

import json
import math

import pytest
from traj_harness import demo_record, record_for, run_rollout, weather_task
from traj_model import TrajectoryModel

from astra_gym.env import AstraEnv
from astra_gym.pack import Pack, demo_pack_path
from synth.sft.backends import check_call, mcp_target, resolve_backend
from synth.sft.common import SftFailure
from synth.sft.emulator import reply_schema, shows_query
from synth.sft.inject import FailureInjector
from synth.sft.rollout import split_reasoning

DEMO = Pack(demo_pack_path())


# -- failure injection --------------------------------------------------------------------


def test_injection_rate_is_within_binomial_bounds_and_seeded():
    n, p = 4000, 0.2
    injector = FailureInjector(p=p, seed=3)
    draws = [injector.draw(f"trj-{i // 8}", i % 8) for i in range(n)]
    failures = sum(d is not None for d in draws)
    sd = math.sqrt(n * p * (1 - p))
    assert abs(failures - n * p) < 4.5 * sd  # ~1e-5 two-sided
    kinds = {d for d in draws if d is not None}
    assert kinds == {"timeout", "connection_refused", "service_unavailable"}
    assert draws == [FailureInjector(p=p, seed=3).draw(f"trj-{i // 8}", i % 8) for i in range(n)]
    assert draws != [FailureInjector(p=p, seed=4).draw(f"trj-{i // 8}", i % 8) for i in range(n)]
    assert all(FailureInjector(p=0.0).draw("t", i) is None for i in range(100))
    assert all(FailureInjector(p=1.0).draw("t", i) is not None for i in range(100))


@pytest.mark.parametrize("bad", [{"p": 1.5}, {"p": -0.1}, {"p": True}, {"kinds": ()},
                                 {"kinds": ("meteor",)}])
def test_injection_settings_are_checked(bad):
    with pytest.raises(ValueError):
        FailureInjector(**bad)


def test_injected_failures_in_a_rollout_are_recorded_per_call(tmp_path):
    rates = []
    for seed in range(6):
        row, _ = run_rollout(record_for(weather_task(), seed=seed), TrajectoryModel(),
                             tmp_path / str(seed), injection_p=0.5)
        assert not isinstance(row, SftFailure), row
        for call in row["calls"]:
            assert call["outcome"] in ("ok", "injected")
            if call["outcome"] == "injected":
                message = next(m for m in row["messages"] if m.get("tool_call_id") == call["id"])
                assert message["content"].startswith("Error: ") and call["injected"]
        assert row["injected_failures"] == sum(c["outcome"] == "injected" for c in row["calls"])
        assert row["injection"] == {"p": 0.5, "kinds": ["timeout", "connection_refused",
                                                        "service_unavailable"]}
        rates.append(row["injected_failures"])
    assert sum(rates) > 0
    row, _ = run_rollout(record_for(weather_task()), TrajectoryModel(), tmp_path / "off",
                         injection_p=0.0)
    assert row["injected_failures"] == 0


# -- the pieces -----------------------------------------------------------------------------


def test_split_reasoning():
    assert split_reasoning("<think>a</think> b <think>c</think>") == ("b", "a\n\nc")
    assert split_reasoning("plan</think>answer") == ("answer", "plan")
    assert split_reasoning("answer") == ("answer", None)


def test_check_call_guards():
    tools = {t["function"]["name"]: t["function"] for t in weather_task()["tools"]}
    assert check_call("find_city", '{"city_name": "Porto"}', tools).error is None
    assert check_call("find_city", "{not json", tools).kind == "unparsable"
    assert check_call("find_city", "[1]", tools).kind == "unparsable"
    assert check_call("find_town", "{}", tools).kind == "unknown_tool"
    bad = check_call("find_city", '{"city_name": 3}', tools)
    assert bad.kind == "invalid_arguments" and "city_name" in bad.error


def test_backend_resolution():
    assert mcp_target({"transport": "stdio", "command": ["x"]})["transport"] == "stdio"
    assert mcp_target({"url": "http://127.0.0.1:1/mcp", "headers": {"a": "b"}})["headers"]
    assert mcp_target({"mock_tool": True}) is None and mcp_target(None) is None
    assert resolve_backend("auto", None) == "emulated"
    assert resolve_backend("auto", {"transport": "stdio", "command": ["x"]}) == "mcp"
    with pytest.raises(ValueError):
        resolve_backend("mcp", None)
    with pytest.raises(ValueError):
        resolve_backend("magic", None)


# -- emulated tools ---------------------------------------------------------------------------


def test_emulated_rollout_is_openai_format_with_reasoning_and_parallel_calls(tmp_path):
    model = TrajectoryModel()
    row, server = run_rollout(record_for(weather_task()), model, tmp_path, injection_p=0.0)
    assert row["backend"] == "emulated" and row["status"] == "final"
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "tool", "assistant"]
    first = row["messages"][2]
    assert first["reasoning_content"] == "I plan the calls first."
    assert "<think>" not in (first["content"] or "")
    assert [c["id"] for c in first["tool_calls"]] == ["call_1_0", "call_1_1"]
    results = [json.loads(m["content"]) for m in row["messages"] if m["role"] == "tool"]
    assert [r["tool"] for r in results] == ["find_city", "get_forecast"]
    assert model.kinds.count("emulator") == 2 and row["llm_calls"] == 2
    # reasoning is kept in the transcript but never sent back to the model
    agent = [r.body for r in server.chat_requests if r.body["messages"][0]["role"] == "system"]
    assert all("reasoning_content" not in m for body in agent for m in body["messages"])
    assert row["tokens"]["agent"]["completion_tokens"] > 0
    assert row["provenance"][-1]["stage"] == "rollout"


class ReasoningFieldModel(TrajectoryModel):
    """A reasoning server: the thought comes in ``reasoning_content``, not in the text."""

    def agent(self, body):
        reply = dict(super().agent(body))
        content = reply.get("content") or ""
        if content.startswith("<think>"):
            thought, _, rest = content.partition("</think>")
            reply["content"] = rest or None
            reply["reasoning_content"] = thought.removeprefix("<think>") + " (server field)"
        return reply


def test_reasoning_the_server_returns_in_its_own_field_is_kept_and_replayed(tmp_path):
    row, server = run_rollout(record_for(weather_task()), ReasoningFieldModel(), tmp_path,
                              injection_p=0.0)
    first = row["messages"][2]
    assert first["reasoning_content"] == "I plan the calls first. (server field)"
    agent = [r.body for r in server.chat_requests if r.body["messages"][0]["role"] == "system"]
    assert all("reasoning_content" not in m for body in agent for m in body["messages"])
    # Replayed from the cache (a script that would fail if asked): the same reasoning.
    again, replay = run_rollout(record_for(weather_task()), lambda body: {"status": 500},
                                tmp_path, injection_p=0.0)
    assert replay.chat_requests == [] and again["messages"] == row["messages"]


def test_the_emulator_sees_the_last_5_pairs_and_the_query_by_a_seeded_draw(tmp_path):
    draws = [shows_query(0, f"trj-{i}") for i in range(400)]
    assert 150 < sum(draws) < 250 and draws == [shows_query(0, f"trj-{i}") for i in range(400)]
    prompts: list[str] = []

    def emulator(text, body):
        prompts.append(text)
        return None

    class Chatty(TrajectoryModel):
        def task_turn(self, tools, messages):  # 7 single calls, then an answer
            turns = sum(m["role"] == "assistant" for m in messages)
            if turns < 7:
                return [("find_city", {"city_name": f"c{turns}"})], None
            return [], "done"

    seeds = {shows_query(seed, record_for(weather_task(), seed=seed)["rollout"]["trajectory_id"])
             : seed for seed in range(20)}
    for sees, seed in seeds.items():
        prompts.clear()
        row, _ = run_rollout(record_for(weather_task(), seed=seed), Chatty(emulator=emulator),
                             tmp_path / str(seed), injection_p=0.0)
        assert row["seeds"]["emulator_sees_query"] is sees
        assert len(prompts) == 7
        last = prompts[-1].split("stay consistent with them", 1)[1].split("\n\n")[0]
        assert last.count('"call"') == 5 and '"c1"' in last and '"c0"' not in last
        assert ("What is the forecast for Porto tomorrow?" in prompts[0]) is sees


@pytest.mark.parametrize("reply", [{"content": "the weather is nice"},
                                   {"content": json.dumps({"results": 1})},
                                   {"content": json.dumps({"result": {"x": 1}, "extra": 2})}])
def test_an_emulator_reply_that_never_fits_fails_the_trajectory_closed(tmp_path, reply):
    model = TrajectoryModel(emulator=lambda text, body: reply)
    row, _ = run_rollout(record_for(weather_task()), model, tmp_path, injection_p=0.0)
    assert isinstance(row, SftFailure) and row.code == "emulator_error"


def test_the_emulator_checks_a_declared_output_schema(tmp_path):
    schema = {"type": "object", "required": ["city_id"],
              "properties": {"city_id": {"type": "string"}}}
    task = weather_task(extra={"mcp_tools": {"find_city": {"outputSchema": schema}}})
    row, _ = run_rollout(record_for(task), TrajectoryModel(), tmp_path, injection_p=0.0)
    assert isinstance(row, SftFailure) and row.code == "emulator_error"
    assert "city_id" in row.reason

    def fits(text, body):
        return {"content": json.dumps({"result": {"city_id": "porto-1"}})}

    row, _ = run_rollout(record_for(task), TrajectoryModel(emulator=fits), tmp_path / "ok",
                         injection_p=0.0)
    assert not isinstance(row, SftFailure)
    assert reply_schema(None)["anyOf"][0]["properties"]["result"] == {}


def test_an_emulated_tool_error_is_a_tool_error(tmp_path):
    model = TrajectoryModel(emulator=lambda t, b: {"content": json.dumps({"error": "no city"})})
    row, _ = run_rollout(record_for(weather_task()), model, tmp_path, injection_p=0.0)
    assert {c["outcome"] for c in row["calls"]} == {"tool_error"}
    assert all(m["content"] == "Error: no city" for m in row["messages"] if m["role"] == "tool")


# -- caps and guards ------------------------------------------------------------------------


class Endless(TrajectoryModel):
    def task_turn(self, tools, messages):
        return [("find_city", {"city_name": "x"})], None


def test_the_llm_call_cap_fails_a_trajectory_without_a_final_answer(tmp_path):
    model = Endless()
    row, _ = run_rollout(record_for(weather_task()), model, tmp_path, injection_p=0.0,
                         max_llm_calls=4)
    assert isinstance(row, SftFailure) and row.code == "llm_call_cap"
    assert model.kinds.count("agent") == 4


def test_the_wall_time_cap(tmp_path):
    row, _ = run_rollout(record_for(weather_task()), TrajectoryModel(agent_delay=0.5), tmp_path,
                         task_timeout=0.3)
    assert isinstance(row, SftFailure) and row.code == "rollout_timeout"


def test_arguments_that_are_not_json_fail_the_trajectory(tmp_path):
    def agent(body):
        return {"tool_calls": [{"name": "find_city", "arguments": "{city: Porto"}]}

    class Broken(TrajectoryModel):
        def agent(self, body):
            return agent(body)

    row, _ = run_rollout(record_for(weather_task()), Broken(), tmp_path)
    assert isinstance(row, SftFailure) and row.code == "unparsable_call"


def test_unknown_tools_and_invalid_arguments_are_answered_not_run(tmp_path):
    class Sloppy(TrajectoryModel):
        def task_turn(self, tools, messages):
            if any(m["role"] == "tool" for m in messages):
                return [], "sorry"
            return [("find_town", {}), ("find_city", {"city_name": 5})], None

    model = Sloppy()
    row, _ = run_rollout(record_for(weather_task()), model, tmp_path, injection_p=1.0)
    assert [c["outcome"] for c in row["calls"]] == ["invalid", "invalid"]
    assert "emulator" not in model.kinds  # nothing ran; nothing was injected either
    assert row["injected_failures"] == 0


def test_an_agent_endpoint_failure_is_llm_error(tmp_path):
    class Down(TrajectoryModel):
        def agent(self, body):
            return {"status": 500}

    row, _ = run_rollout(record_for(weather_task()), Down(), tmp_path)
    assert isinstance(row, SftFailure) and row.code == "llm_error"


def test_text_mode_parses_calls_with_the_env_parsers(tmp_path):
    model = TrajectoryModel()
    row, server = run_rollout(record_for(weather_task()), model, tmp_path, mode="text",
                              injection_p=0.0)
    assert not isinstance(row, SftFailure), row
    agent = [r.body for r in server.chat_requests if r.body["messages"][0]["role"] == "system"]
    assert all("tools" not in body for body in agent)
    assert "<tool_call>" in agent[0]["messages"][0]["content"]
    first = row["messages"][2]
    assert [c["function"]["name"] for c in first["tool_calls"]] == ["find_city", "get_forecast"]
    assert "<tool_call>" not in (first["content"] or "")
    assert first["reasoning_content"] == "I plan the calls first."
    assert "<tool_response>" in agent[1]["messages"][-1]["content"]


# -- env packs (backend 3) -----------------------------------------------------------------


def replay_in_env(row):
    """The transcript's assistant turns played again in a fresh env: the env's own labels."""
    env = AstraEnv(str(demo_pack_path()), sandbox={"isolation": "inprocess"},
                   shuffle_tools=False)
    env.reset(seed=row["seeds"]["env_seed"], options={"task_id": row["task_id"]})
    info = {}
    for message in row["messages"]:
        if message["role"] == "assistant":
            action = {"role": "assistant", "content": message["content"]}
            if message.get("tool_calls"):
                action["tool_calls"] = message["tool_calls"]
            *_, info = env.step(action)
    env.close()
    return {**info["reward_components"], "success": info["success"]}


@pytest.mark.parametrize("task_id", DEMO.task_ids)
def test_the_oracle_gets_f1_1_labels_on_the_demo_pack(tmp_path, task_id):
    row, _ = run_rollout(demo_record(task_id), TrajectoryModel(), tmp_path)
    assert not isinstance(row, SftFailure), row
    assert row["backend"] == "env" and row["labels"]["f1"] == 1.0
    assert row["labels"]["success"] is True and row["injected_failures"] == 0
    expected = replay_in_env(row)
    assert {k: row["labels"][k] for k in expected} == expected


@pytest.mark.parametrize("task_id", DEMO.task_ids[:4])
def test_redundant_calls_lower_precision_exactly_as_the_env_computes_it(tmp_path, task_id):
    row, _ = run_rollout(demo_record(task_id), TrajectoryModel(env_policy="redundant"), tmp_path)
    labels = row["labels"]
    assert labels["precision"] == labels["n_solved"] / labels["calls"] == 0.5
    assert labels["recall"] == 1.0 and labels["f1"] < 1.0
    expected = replay_in_env(row)
    assert {k: labels[k] for k in expected} == expected


def test_text_mode_on_the_demo_pack(tmp_path):
    row, _ = run_rollout(demo_record(DEMO.task_ids[2]), TrajectoryModel(), tmp_path,
                         mode="text")
    assert not isinstance(row, SftFailure), row
    assert row["labels"]["f1"] == 1.0 and row["mode"] == "text"
    tool_ids = [m["tool_call_id"] for m in row["messages"] if m["role"] == "tool"]
    call_ids = [c["id"] for m in row["messages"] for c in m.get("tool_calls") or []]
    assert tool_ids == call_ids and call_ids


def test_text_mode_markup_that_cannot_be_read_fails_the_trajectory(tmp_path):
    class Garbled(TrajectoryModel):
        def agent(self, body):
            return {"content": '<tool_call>{"name": "find_city", "arguments": {</tool_call>'}

    row, _ = run_rollout(record_for(weather_task()), Garbled(), tmp_path, mode="text")
    assert isinstance(row, SftFailure) and row.code == "unparsable_call"
    row, _ = run_rollout(demo_record(DEMO.task_ids[0]), Garbled(), tmp_path / "env",
                         mode="text")
    assert isinstance(row, SftFailure) and row.code == "unparsable_call"


def test_a_final_answer_that_is_only_reasoning_fails_the_trajectory(tmp_path):
    class Silent(TrajectoryModel):
        def agent(self, body):
            return {"content": "<think>I know this.</think>"}

    row, _ = run_rollout(record_for(weather_task()), Silent(), tmp_path)
    assert isinstance(row, SftFailure) and row.code == "empty_answer"


def test_an_unknown_pack_task_is_an_env_error(tmp_path):
    record = demo_record(DEMO.task_ids[0])
    record["env"]["task_id"] = "no-such-task"
    row, _ = run_rollout(record, TrajectoryModel(), tmp_path)
    assert isinstance(row, SftFailure) and row.code == "env_error"


def test_parallel_failures_report_the_first_call_in_order_not_in_time(tmp_path):
    def garbage(text, body):  # the first call's emulator answers last
        return {"content": "nonsense", "delay": 0.4 if '"find_city"' in text else 0.0}

    row, _ = run_rollout(record_for(weather_task()), TrajectoryModel(emulator=garbage),
                         tmp_path, injection_p=0.0)
    assert isinstance(row, SftFailure) and row.code == "emulator_error"
    assert "'find_city'" in row.reason
