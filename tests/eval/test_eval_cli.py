"""`astra-gym eval` arguments: unusable ones exit 2 with a message, before any request."""

from __future__ import annotations

import json

import pytest
from eval_support import (  # noqa: F401 - fixtures
    INPROCESS,
    _no_openai_env,
    lines,
    llm_server_fixture,
    oracle_script,
)

from astra_gym.cli import main


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--target-is", "astra/nope-v0"], "nope"),
    (["--tasks", "no-such-task"], "no task(s) 'no-such-task'"),
    (["--env-kwargs", "{bad"], "--env-kwargs is not JSON"),
    (["--env-kwargs", "[1]"], "must be a JSON object"),
    (["--env-kwargs", '{"max_turns": 0}'], "cannot make astra/demo-v0"),
    (["--env-kwargs", '{"no_such_option": 1}'], "cannot make astra/demo-v0"),
    (["--concurrency", "0"], "concurrency must be a positive integer"),
    (["--rollouts-per-task", "0"], "rollouts must be a positive integer"),
    (["--limit", "0"], "limit must be a positive integer"),
    (["--call-format", "hermes"], "--call-format is for text mode"),
    (["--mode", "text", "--call-format", "klingon"], "unknown call format 'klingon'"),
    (["--api-key-env", "ASTRA_TEST_NO_SUCH_VAR"], "ASTRA_TEST_NO_SUCH_VAR"),
    (["--tasks", "@/no/such/file"], "cannot read"),
])
def test_unusable_arguments_exit_2(llm_server, tmp_path, capsys, extra, fragment):
    server = llm_server(oracle_script())
    target = "astra/demo-v0"
    if extra[:1] == ["--target-is"]:
        target, extra = extra[1], extra[2:]
    argv = ["eval", target, "--model", "m", "--base-url", server.base_url,
            "--out", str(tmp_path / "res"), "--quiet", *extra]
    assert main(argv) == 2
    assert fragment in capsys.readouterr().err
    assert not server.chat_requests


def test_no_endpoint_is_an_error(tmp_path, capsys):
    assert main(["eval", "astra/demo-v0", "--model", "m", "--out", str(tmp_path)]) == 2
    assert "no endpoint" in capsys.readouterr().err


def test_tasks_and_limit_exclude_each_other(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["eval", "astra/demo-v0", "--model", "m", "--base-url", "http://x/v1",
              "--out", str(tmp_path), "--tasks", "a", "--limit", "2"])
    assert exc.value.code == 2


def test_the_api_key_comes_from_the_named_variable(llm_server, tmp_path, monkeypatch):
    monkeypatch.setenv("MY_EVAL_KEY", "sk-secret-value")
    server = llm_server(oracle_script())
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--api-key-env", "MY_EVAL_KEY", "--limit", "1", "--out", str(tmp_path),
                 "--env-kwargs", json.dumps(INPROCESS), "--quiet"]) == 0
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-secret-value"
    for name in ("run.json", "summary.json", "episodes.jsonl"):
        assert "sk-secret-value" not in (tmp_path / name).read_text()


def test_tasks_from_a_file(llm_server, tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_text("# two tasks\ndemo-weather-001\n\ndemo-travel-002\n")
    server = llm_server(oracle_script())
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--tasks", f"@{ids}", "--out", str(tmp_path / "res"), "--env-kwargs",
                 json.dumps(INPROCESS), "--quiet"]) == 0
    assert {r["task_id"] for r in lines(tmp_path / "res")} == {"demo-weather-001",
                                                              "demo-travel-002"}


def test_rollouts_at_temperature_zero_warn(llm_server, tmp_path, capsys):
    server = llm_server(oracle_script())
    assert main(["eval", "astra/demo-v0", "--model", "m", "--base-url", server.base_url,
                 "--limit", "1", "--rollouts-per-task", "2", "--out", str(tmp_path),
                 "--env-kwargs", json.dumps(INPROCESS), "--quiet"]) == 0
    assert "usually identical" in capsys.readouterr().err


def test_help_lists_eval_and_report(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "eval" in out and "report" in out
