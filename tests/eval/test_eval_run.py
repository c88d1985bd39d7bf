"""`astra-gym eval` against the scripted server: records, summary, modes, concurrency."""

from __future__ import annotations

import asyncio
import json

import pytest
from eval_support import (  # noqa: F401 - fixtures
    INPROCESS,
    ONE_HOP,
    InFlight,
    _no_openai_env,
    config,
    lines,
    llm_server_fixture,
    oracle_script,
)

from astra_gym.agents.openai_agent import NATIVE_SYSTEM_PROMPT
from astra_gym.cli import main
from astra_gym.eval import evaluate
from astra_gym.eval.runner import evaluate_async


def test_native_run_writes_a_full_line_per_episode_and_a_summary(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script())
    out = tmp_path / "res"
    # The default env: the sandbox's confined worker pool.
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--tasks", "demo-ecommerce-001,demo-travel-009", "--out", str(out),
                 "--concurrency", "2"]) == 0
    printed = capsys.readouterr().out
    assert "2/2 episodes finished" in printed and "pass@1 1.000" in printed
    records = {r["task_id"]: r for r in lines(out)}
    assert set(records) == {"demo-ecommerce-001", "demo-travel-009"}
    record = records["demo-travel-009"]
    assert record["status"] == "ok" and record["error"] is None
    assert record["success"] and record["reward"] == pytest.approx(1.0)
    assert record["components"]["f1"] == 1.0 and record["hops"] == 4
    assert record["domain"] == "travel" and record["language"] == "en"
    assert record["turns"] == 5 == len(record["steps"]) == len(record["rewards"])
    # The full transcript: system, user, then assistant turns with their tool results.
    roles = [m["role"] for m in record["messages"]]
    assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
    assert record["messages"][0]["content"] == NATIVE_SYSTEM_PROMPT
    calls = [c for m in record["messages"] for c in m.get("tool_calls", [])]
    tool_ids = [m["tool_call_id"] for m in record["messages"] if m["role"] == "tool"]
    assert [c["id"] for c in calls] == tool_ids and len(calls) == record["components"]["calls"]
    # Tokens: the server reports word counts; the record adds them up.
    sent = [r for r in server.chat_requests
            if r.body["messages"][1]["content"] == record["messages"][1]["content"]]
    assert record["usage"]["requests"] == len(sent) == 5
    assert record["usage"]["prompt_tokens"] == sum(s["usage"]["prompt_tokens"]
                                                   for s in record["steps"]) > 0
    for step in record["steps"]:
        assert step["latency_s"] > 0 and step["attempts"] == 1 and step["env_s"] >= 0
        assert step["action_format"] in ("openai", "none")
    timings = record["timings"]
    assert timings["episode_s"] >= timings["model_s"] > 0 and timings["env_s"] > 0
    # Native mode sends the env's tools, and nothing else of the env's.
    first = next(r.body for r in server.chat_requests
                 if r.body["messages"][1]["content"] == records["demo-ecommerce-001"][
                     "messages"][1]["content"])
    assert [t["function"]["name"] for t in first["tools"]] == records["demo-ecommerce-001"][
        "tools"] == ["track_shipment"]
    assert first["temperature"] == 0.0 and first["model"] == "m"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["episodes"] == {
        "planned": 2, "finished": 2, "errored": 0, "missing": 0, "in_directory": 2}
    assert summary["metrics"]["success"]["mean"] == 1.0
    assert set(summary["by_hops"]) == {"1", "4"} and set(summary["by_domain"]) == {
        "ecommerce", "travel"}
    assert summary["usage"]["requests"] == 2 + 5
    run = json.loads((out / "run.json").read_text())
    assert run["model"] == "m" and "api_key" not in run


def test_summary_figures_follow_the_episodes(llm_server, tmp_path):
    # The first episode of every task fails (the model says it does not know); the rest solve.
    seen: set[str] = set()

    def first_fails(body):
        user = body["messages"][1]["content"]
        if len(body["messages"]) == 2 and user not in seen:
            seen.add(user)
            return {"content": "I do not know."}
        return None

    server = llm_server(oracle_script(hook=first_fails))
    outcome = evaluate(config(server, task_ids=ONE_HOP, rollouts=4, concurrency=1,
                              temperature=0.7), tmp_path)
    summary = outcome.summary
    assert outcome.complete and outcome.exit_code == 0
    assert summary["metrics"]["success"]["mean"] == pytest.approx(0.75)
    assert summary["pass_at_k"] == pytest.approx({"1": 0.75, "2": 1.0, "4": 1.0})
    assert summary["pass_hat_k"]["4"] == 0.0
    assert summary["pass_hat_k"]["2"] == pytest.approx(0.5)  # C(3,2)/C(4,2)
    assert summary["avg_at_k"] == {"k": 4, "success": 0.75, "reward": 0.75}
    assert summary["rollouts_per_task"] == 4 and summary["tasks"] == 3
    failed = [r for r in lines(tmp_path) if not r["success"]]
    assert len(failed) == 3 and all(r["rollout"] == 0 for r in failed)
    assert all(r["final_answer"] == "I do not know." for r in failed)


def test_rollouts_of_a_task_get_different_seeds_and_stable_ones(llm_server, tmp_path):
    server = llm_server(oracle_script())
    evaluate(config(server, task_ids=ONE_HOP[:1], rollouts=3), tmp_path / "a")
    evaluate(config(server, task_ids=ONE_HOP[:1], rollouts=3), tmp_path / "b")
    seeds_a = sorted(r["seed"] for r in lines(tmp_path / "a"))
    assert len(set(seeds_a)) == 3
    assert seeds_a == sorted(r["seed"] for r in lines(tmp_path / "b"))


def test_text_mode_uses_the_envs_parsers(llm_server, tmp_path):
    server = llm_server(oracle_script(mode="text"))  # hermes <tool_call> text
    outcome = evaluate(config(server, mode="text", task_ids=["demo-weather-009"]), tmp_path)
    assert outcome.complete
    record = lines(tmp_path)[0]
    assert record["success"]
    assert {s["action_format"] for s in record["steps"][:-1]} == {"hermes"}
    body = server.chat_requests[1].body
    assert "tools" not in body  # text mode: the tools are in the prompt
    assert "Available tools" in body["messages"][0]["content"]
    assert "<tool_response>" in body["messages"][-1]["content"]
    assert body["messages"][-1]["role"] == "user"
    # The transcript keeps the turn as the model wrote it.
    assert "<tool_call>" in record["messages"][2]["content"]


@pytest.mark.parametrize("call_format", ["mistral", "python", "llama3"])
def test_text_mode_with_a_call_format_prompts_and_parses_that_format(llm_server, tmp_path,
                                                                     call_format):
    server = llm_server(oracle_script(mode="text", call_format=call_format))
    outcome = evaluate(config(server, mode="text", call_format=call_format,
                              task_ids=["demo-finance-009"]), tmp_path)
    assert outcome.complete
    record = lines(tmp_path)[0]
    assert record["success"], record["steps"]
    assert {s["action_format"] for s in record["steps"][:-1]} == {call_format}
    system = server.chat_requests[0].body["messages"][0]["content"]
    assert "get_weather" in system  # the prompt shows the format with an example call


def test_text_mode_writes_back_calls_a_server_parser_took_out(llm_server, tmp_path):
    native = oracle_script(mode="native")  # the server answers with tool_calls anyway
    server = llm_server(native)
    outcome = evaluate(config(server, mode="text", call_format="hermes",
                              task_ids=["demo-health-003"]), tmp_path)
    record = lines(tmp_path)[0]
    assert outcome.complete and record["success"]
    assert "<tool_call>" in record["messages"][2]["content"]


def test_model_garbage_is_scored_not_an_error(llm_server, tmp_path):
    def garbage(body):
        if len(body["messages"]) == 2:
            return {"content": None, "tool_calls": [
                {"name": "track_shipment", "arguments": "{not json"},
                {"name": "no_such_tool", "arguments": {}}]}
        return {"content": ""}

    server = llm_server(garbage)
    outcome = evaluate(config(server, task_ids=ONE_HOP[:1]), tmp_path)
    record = lines(tmp_path)[0]
    assert outcome.complete and record["status"] == "ok"
    assert not record["success"] and record["components"]["invalid_calls"] == 2
    assert [c["error_kind"] for c in record["steps"][0]["calls"]] == [
        "parse_error", "unknown_tool"]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_is_reached_and_never_exceeded(llm_server, tmp_path, concurrency):
    counter = InFlight(oracle_script(), delay=0.15)
    server = llm_server(counter)
    tasks = [f"demo-{d}-00{i}" for d in ("ecommerce", "finance", "health", "travel")
             for i in (1, 2)]
    outcome = evaluate(config(server, task_ids=tasks, concurrency=concurrency), tmp_path)
    assert outcome.complete
    assert counter.peak == concurrency


def test_concurrent_episodes_overlap_in_time(llm_server, tmp_path):
    server = llm_server(oracle_script(delay=0.2))
    tasks = [f"demo-{d}-001" for d in ("ecommerce", "finance", "health", "travel",
                                        "weather", "real_estate")]
    outcome = evaluate(config(server, task_ids=tasks, concurrency=6), tmp_path)
    # 6 one-hop episodes of 2 turns at 0.2 s a turn: ~0.4 s together, 2.4 s one by one.
    assert outcome.complete
    assert outcome.summary["run"]["wall_s"] < 2.0


def test_env_kwargs_reach_the_env(llm_server, tmp_path):
    server = llm_server(oracle_script(mode="text"))
    outcome = evaluate(config(server, task_ids=["demo-travel-011"],
                              env_kwargs={**INPROCESS, "max_turns": 2}, mode="text"),
                       tmp_path)
    record = lines(tmp_path)[0]
    assert outcome.complete and record["truncated"] and record["turns"] == 2
    assert outcome.summary["metrics"]["truncated"]["mean"] == 1.0


def test_progress_counts_every_episode(llm_server, tmp_path, monkeypatch):
    import astra_gym.progress

    made = []

    class Recorder:
        def __init__(self, total, label, enabled=None, **_):
            self.total, self.label, self.done = total, label, 0
            made.append(self)

        def update(self, count=1):
            self.done += count

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(astra_gym.progress, "Progress", Recorder)
    server = llm_server(oracle_script())
    asyncio.run(evaluate_async(config(server, task_ids=ONE_HOP), tmp_path))
    assert [(bar.total, bar.done) for bar in made] == [(3, 3)]
    assert "m" in made[0].label and "astra/demo-v0" in made[0].label


def test_a_pack_directory_is_a_target(llm_server, tmp_path, capsys):
    from astra_gym.pack import demo_pack_path

    server = llm_server(oracle_script())
    assert main(["eval", str(demo_pack_path()), "--model", "m", "--base-url", server.base_url,
                 "--limit", "2", "--out", str(tmp_path), "--env-kwargs",
                 json.dumps(INPROCESS), "--quiet", "--json"]) == 0
    assert len(lines(tmp_path)) == 2
    printed = json.loads(capsys.readouterr().out)  # --json: summary.json on stdout
    assert printed["episodes"]["finished"] == 2 and printed["env_id"] == "astra/demo-v0"
