"""Slow, failing (5xx, refused) and garbage endpoints: retries, error lines, stops, exit codes."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from eval_support import (  # noqa: F401 - fixtures
    INPROCESS,
    ONE_HOP,
    _no_openai_env,
    config,
    lines,
    llm_server_fixture,
    oracle_script,
)

from astra_gym.cli import main
from astra_gym.eval import ChatClient, EndpointError, evaluate

TASKS = [f"demo-{d}-00{i}" for d in ("ecommerce", "finance", "health", "travel")
         for i in (1, 2)]


def failing_first(count: int, reply: dict):
    """A hook that answers ``reply`` to the first ``count`` chat requests."""
    lock = threading.Lock()
    state = {"n": 0}

    def hook(body):
        with lock:
            state["n"] += 1
            return dict(reply) if state["n"] <= count else None

    return hook


@pytest.mark.parametrize("reply", [
    {"status": 500}, {"status": 503}, {"status": 429}, {"raw": "not json"}, {"raw": "{}"},
    {"raw": '{"choices": [{"index": 0}]}'},
])
def test_transient_failures_are_retried(llm_server, tmp_path, reply):
    server = llm_server(oracle_script(hook=failing_first(2, reply)))
    outcome = evaluate(config(server, task_ids=ONE_HOP[:1], max_retries=2), tmp_path)
    assert outcome.complete
    record = lines(tmp_path)[0]
    assert record["steps"][0]["attempts"] == 3 and len(record["steps"][0]["retries"]) == 2
    assert record["usage"]["requests"] == 4  # 3 for the first turn, 1 for the answer


def test_a_request_that_keeps_failing_is_an_error_line(llm_server, tmp_path):
    server = llm_server(oracle_script(hook=failing_first(3, {"status": 502})))
    outcome = evaluate(config(server, task_ids=ONE_HOP, max_retries=2, concurrency=1),
                       tmp_path)
    assert not outcome.complete and outcome.exit_code == 1
    assert outcome.errored == 1 and outcome.finished == 2
    error = next(r for r in lines(tmp_path) if r["status"] == "error")
    assert error["error"]["kind"] == "http" and error["error"]["status_code"] == 502
    assert error["error"]["attempts"] == 3
    assert "'m'" in error["error"]["message"] and server.base_url in error["error"]["message"]
    assert error["messages"][:2] and error["turns"] == 0  # the transcript so far
    assert outcome.summary["errors"] == {"http": 1}
    assert outcome.summary["metrics"]["success"]["n"] == 2  # errors are not averaged in
    # The endpoint recovered: a rerun plays only the failed episode, and its ok line wins.
    again = evaluate(config(server, task_ids=ONE_HOP, concurrency=1), tmp_path)
    assert again.complete and again.already_done == 2 and again.errored == 0


def test_client_errors_are_not_retried(llm_server, tmp_path):
    server = llm_server(oracle_script(hook=failing_first(1, {"status": 400})))
    evaluate(config(server, task_ids=ONE_HOP[:1], max_retries=3), tmp_path)
    record = lines(tmp_path)[0]
    assert record["error"]["status_code"] == 400 and record["error"]["attempts"] == 1


def test_consecutive_failures_stop_the_run(llm_server, tmp_path):
    server = llm_server(oracle_script(hook=lambda body: {"status": 500}))
    outcome = evaluate(config(server, task_ids=TASKS, max_retries=1, concurrency=1,
                              abort_after=3), tmp_path)
    assert outcome.aborted and "3 episodes in a row failed" in outcome.aborted
    assert len(lines(tmp_path)) == 3  # stopped: the other 5 were never started
    assert outcome.summary["run"]["aborted"] == outcome.aborted
    assert outcome.summary["episodes"]["missing"] == 5


def test_a_success_resets_the_failure_count(llm_server, tmp_path):
    count = {"n": 0}

    def every_other_episode_fails(body):
        if len(body["messages"]) == 2:
            count["n"] += 1
            if count["n"] % 2:
                return {"status": 500}
        return None

    server = llm_server(oracle_script(hook=every_other_episode_fails))
    outcome = evaluate(config(server, task_ids=TASKS, max_retries=0, concurrency=1,
                              abort_after=2), tmp_path)
    assert outcome.aborted is None and outcome.finished == 4 and outcome.errored == 4


@pytest.mark.parametrize("status", [401, 403, 404])
def test_errors_every_request_shares_stop_the_run_at_once(llm_server, tmp_path, status):
    server = llm_server(oracle_script(hook=lambda body: {"status": status}))
    outcome = evaluate(config(server, task_ids=TASKS, concurrency=1), tmp_path)
    assert outcome.aborted and f"HTTP {status}" in outcome.aborted
    assert len(lines(tmp_path)) == 1


def test_a_slow_endpoint_times_out(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script(delay=1.5))
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--tasks", ONE_HOP[0], "--out", str(tmp_path), "--timeout", "0.3",
                 "--max-retries", "0", "--env-kwargs", json.dumps(INPROCESS),
                 "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "0 of 1 episodes" not in err and "1 of 1 episodes are not finished" in err
    assert "rerun" in err or "run the same command again" in err
    record = lines(tmp_path)[0]
    assert record["error"]["kind"] == "timeout" and "0.3 s" in record["error"]["message"]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_a_refused_connection_stops_before_any_episode(tmp_path, capsys):
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", _closed_port_url(),
                 "--limit", "2", "--out", str(tmp_path), "--env-kwargs",
                 json.dumps(INPROCESS), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "cannot connect" in err and "nothing was run" in err and "'m'" in err
    assert lines(tmp_path) == []
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["complete"] is False and summary["episodes"]["missing"] == 2


def test_a_refused_connection_mid_run_stops_it(llm_server, tmp_path):
    # The model check passes on one server; the chat requests go to a closed port.
    server = llm_server(oracle_script())
    cfg = config(server, task_ids=TASKS, concurrency=2, max_retries=1)
    client = ChatClient("m", base_url=_closed_port_url(), max_retries=1, backoff=0.01,
                        timeout=5)

    async def passes() -> list[str]:
        return []

    client.check = passes  # type: ignore[method-assign]
    import asyncio

    from astra_gym.eval.runner import evaluate_async

    outcome = asyncio.run(evaluate_async(cfg, tmp_path, client=client))
    assert outcome.aborted and "cannot connect" in outcome.aborted
    assert 1 <= len(lines(tmp_path)) <= 2  # the failed episode, maybe the one beside it
    assert all(r["error"]["kind"] == "connection" for r in lines(tmp_path))


def test_the_endpoint_check_warns_about_an_unlisted_model(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script(), model="served-model")
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--limit", "1", "--out", str(tmp_path), "--env-kwargs",
                 json.dumps(INPROCESS), "--quiet"]) == 0
    assert "does not list model 'm'" in capsys.readouterr().err


def test_endpoint_error_fatality():
    def error(kind, status=None):
        return EndpointError(kind, "x", endpoint="e", model="m", attempts=1,
                             status_code=status)

    assert error("connection").fatal and error("http", 401).fatal and error("http", 404).fatal
    assert not error("http", 500).fatal and not error("timeout").fatal
    assert not error("garbage").fatal and not error("http", 400).fatal
