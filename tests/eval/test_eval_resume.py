"""Resuming: a rerun skips finished episodes; a killed run loses nothing finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

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
from astra_gym.eval import ResultsError, ResultsStore, evaluate
from astra_gym.eval.store import EPISODES_FILE, load_episodes

ROOT = Path(__file__).resolve().parents[2]
TASKS = [f"demo-{d}-00{i}" for d in ("ecommerce", "finance", "health", "travel",
                                      "weather", "real_estate") for i in (1, 2)]


def first_turn_prompts(server) -> list[str]:
    """The user prompt of every episode's first request (one per episode started)."""
    return [r.body["messages"][1]["content"] for r in server.chat_requests
            if len(r.body["messages"]) == 2]


def test_rerun_skips_finished_episodes_and_grows_the_run(llm_server, tmp_path):
    server = llm_server(oracle_script())
    first = evaluate(config(server, task_ids=TASKS, limit=3), tmp_path)
    assert first.complete and first.already_done == 0 and len(first_turn_prompts(server)) == 3
    again = evaluate(config(server, task_ids=TASKS, limit=3), tmp_path)
    assert again.complete and again.already_done == 3
    assert len(first_turn_prompts(server)) == 3  # nothing asked again
    grown = evaluate(config(server, task_ids=TASKS, limit=5, rollouts=2), tmp_path)
    assert grown.already_done == 3 and grown.complete
    assert len(first_turn_prompts(server)) == 3 + 7  # 5 tasks x 2 rollouts, 3 were done
    keys = Counter((r["task_id"], r["rollout"]) for r in lines(tmp_path))
    assert set(keys.values()) == {1} and len(keys) == 10
    assert grown.summary["episodes"]["in_directory"] == 10


def test_a_killed_run_loses_nothing_finished(llm_server, tmp_path):
    slow = llm_server(oracle_script(delay=0.25))
    out = tmp_path / "res"
    command = [sys.executable, "-m", "astra_gym.cli", "eval", "astra/demo-v0", "--model", "m",
               "--base-url", slow.base_url, "--tasks", ",".join(TASKS), "--concurrency", "2",
               "--out", str(out), "--env-kwargs", json.dumps(INPROCESS), "--quiet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        episodes = out / EPISODES_FILE
        while time.monotonic() < deadline and process.poll() is None:
            if episodes.exists() and episodes.read_bytes().count(b"\n") >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)  # no cleanup, no finally: a real kill
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    done_before = {r["task_id"] for r in load_episodes(out)}
    assert 3 <= len(done_before) < len(TASKS)
    assert not (out / "summary.json").exists()  # it died before writing one

    fast = llm_server(oracle_script())
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", fast.base_url,
                 "--tasks", ",".join(TASKS), "--out", str(out), "--env-kwargs",
                 json.dumps(INPROCESS), "--quiet"]) == 0
    replayed = set(first_turn_prompts(fast))
    prompts = {r["task_id"]: r["messages"][1]["content"] for r in load_episodes(out)}
    assert not replayed & {prompts[task] for task in done_before}  # none played again
    assert len(replayed) == len(TASKS) - len(done_before)
    keys = Counter(r["task_id"] for r in lines(out) if r["status"] == "ok")
    assert set(keys) == set(TASKS) and set(keys.values()) == {1}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["metrics"]["success"]["mean"] == 1.0


def test_a_line_cut_short_is_dropped_and_its_episode_played_again(llm_server, tmp_path):
    server = llm_server(oracle_script())
    evaluate(config(server, task_ids=ONE_HOP), tmp_path)
    path = tmp_path / EPISODES_FILE
    whole = path.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    path.write_bytes(whole[:len(whole) - len(last) - 1] + last[:len(last) // 2])  # torn
    assert len(load_episodes(tmp_path)) == 2
    outcome = evaluate(config(server, task_ids=ONE_HOP), tmp_path)
    assert outcome.complete and outcome.already_done == 2
    records = lines(tmp_path)  # every line parses: the torn one was cut off first
    assert len(records) == 3 and {r["task_id"] for r in records} == set(ONE_HOP)


def test_another_configuration_is_refused(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script())
    evaluate(config(server, task_ids=ONE_HOP[:1]), tmp_path)
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--tasks", ONE_HOP[0], "--out", str(tmp_path), "--temperature", "0.5",
                 "--env-kwargs", json.dumps(INPROCESS)]) == 2
    err = capsys.readouterr().err
    assert "another configuration" in err and "temperature: 0.0 there, 0.5 now" in err
    assert main(["eval", "astra/demo-v0", "--model", "other", "--base-url", server.base_url,
                 "--tasks", ONE_HOP[0], "--out", str(tmp_path), "--env-kwargs",
                 json.dumps(INPROCESS)]) == 2
    assert "model: 'm' there, 'other' now" in capsys.readouterr().err
    # What only changes how the run goes may change: the URL, concurrency, retries.
    other_server = llm_server(oracle_script())
    assert evaluate(config(other_server, task_ids=ONE_HOP[:2], concurrency=1,
                           max_retries=0), tmp_path).complete


def test_two_runs_on_one_directory_are_refused(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script())
    holder = ResultsStore(tmp_path)
    cfg = config(server, task_ids=ONE_HOP[:1])
    holder.open(cfg.identity(), cfg.public())
    try:
        assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                     "--out", str(tmp_path), "--limit", "1"]) == 2
        assert "another astra-gym eval is writing" in capsys.readouterr().err
    finally:
        holder.close()
    assert not server.chat_requests


def test_a_directory_of_something_else_is_refused(tmp_path):
    (tmp_path / EPISODES_FILE).write_text("{}\n")
    with pytest.raises(ResultsError, match="not a results directory"):
        ResultsStore(tmp_path).open({}, {})


def test_an_ok_line_wins_over_an_earlier_error(tmp_path):
    store = ResultsStore(tmp_path)
    store.open({"model": "m"}, {"model": "m"})
    store.append({"task_id": "t", "rollout": 0, "status": "error", "error": {"kind": "http"}})
    store.append({"task_id": "t", "rollout": 0, "status": "ok"})
    store.append({"task_id": "t", "rollout": 0, "status": "error", "error": {"kind": "http"}})
    store.close()
    assert [r["status"] for r in load_episodes(tmp_path)] == ["ok"]
    assert load_episodes(tmp_path, errors=True) == []
