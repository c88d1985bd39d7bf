"""``astra-gym sft``: real MCP harvest -> graph -> walks -> verify -> tasks -> augment -> score.

Against the scripted OpenAI-compatible server on 127.0.0.1, with a real PyPI MCP
server (mcp-server-git, and mcp-server-time, dropped for having 2 tools) and the
tests' own FastMCP server started as subprocesses, plus a plain-JSON tools file.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from sft_harness import NOTES_SERVER, cli_command, cli_env, sft_cli, weather_tools
from sft_model import ScriptedModel, answer, numbered

from astra_gym.cli import main as cli_main
from synth.sft.stats import sft_stats

pytest.importorskip("mcp")
pytest.importorskip("mcp_server_git")
pytest.importorskip("mcp_server_time")
pytestmark = pytest.mark.skipif(shutil.which("git") is None,
                                reason="mcp-server-git needs the git executable")

PYTHON = shlex.quote(sys.executable)
MCP = ["--mcp-stdio", f"{PYTHON} -m mcp_server_git",
       "--mcp-stdio", f"{PYTHON} {shlex.quote(str(NOTES_SERVER))}",
       "--mcp-stdio", f"{PYTHON} -m mcp_server_time"]
SIZES = ["--graph-samples", "2", "--max-walks", "3", "--task-samples", "1",
         "--server-tools", "2", "--augment", "diverse,persona", "--max-retries", "0",
         "--concurrency", "4", "--quiet"]
VIEWS = ["01_harvest.ok.jsonl", "01_harvest.failed.jsonl", "01_harvest.report.json",
         *(f"{stem}.{kind}.jsonl" for stem in ("02_graph", "03_walks", "04_verify", "05_tasks",
                                               "06_augment", "07_score")
           for kind in ("ok", "failed"))]


def tools_file(root: Path) -> Path:
    rows = [{"server": {"name": "weather", "description": "Forecasts and alerts by city."},
             "tools": weather_tools()},
            {"server": {"name": "天气", "description": "天气预报与预警服务，按城市查询。"},
             "tools": weather_tools(), "call_info": {"mock_tool": True}},
            {"server": {"name": "tiny", "description": "Too small."}, "tools": weather_tools()[:2]},
            {"not": "a server"}]
    path = root / "tools.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                    encoding="utf-8")
    return path


def reply(value: Any) -> dict[str, str]:
    return {"content": json.dumps(value, ensure_ascii=False)}


def model(**kwargs: Any) -> ScriptedModel:
    """The run's model: votes reject chains with get_alerts; nurses' tasks score low on realism."""

    def vote(text: str, body: dict[str, Any]) -> Any:
        if "get_alerts" in numbered(text, "Chain, in calling order:"):
            return reply({"coherent": True, "arguments_satisfiable": False,
                          "reason": "no alert id"})
        return None

    def score(text: str, body: dict[str, Any]) -> Any:
        if "nurse" in text.split("Task:\n", 1)[1]:
            value = answer(text, body)
            value["scenario_realism"]["score"] = 2
            return reply(value)
        return None

    return ScriptedModel({"vote": vote, "score": score}, **kwargs)


def args(out: Path, tools: Path, *extra: str) -> list[str]:
    return ["--out", str(out), "--model", "scripted", *MCP, "--tools", str(tools), *SIZES,
            *extra]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sft-run")
    tools = tools_file(root)
    with ScriptedLLMServer(model()) as server:
        code = cli_main(["sft", "run", *args(root / "run", tools, "--base-url",
                                             server.base_url)])
        requests = len(server.chat_requests)
    assert code == 0
    return {"root": root, "out": root / "run", "tools": tools, "requests": requests}


def test_end_to_end_from_live_mcp_servers_to_scored_tasks(finished):
    out = finished["out"]
    servers = read(out / "01_harvest.ok.jsonl")
    assert [s["server"]["name"] for s in servers] == ["weather", "天气", "mcp-git", "notes"]
    assert [s["source"]["kind"] for s in servers] == ["json", "json", "mcp-stdio", "mcp-stdio"]
    report = json.loads((out / "01_harvest.report.json").read_text(encoding="utf-8"))
    assert report["reasons"] == {"invalid_row": 1, "too_few_tools": 2, "vague_description": 1}
    assert {e["server"] for e in report["entries"] if "too_few_tools" in e["reason_codes"]} \
        == {"tiny", "mcp-time"}
    graphs = sorted((out / "graphs").glob("*.json"))
    assert len(graphs) == 4
    notes = json.loads((out / "graphs" / f"{servers[3]['server_id']}.json").read_text())
    assert {"source": "list_notebooks", "target": "list_notes", "weight": 2} in notes["edges"]
    chains = read(out / "03_walks.ok.jsonl")
    assert chains and all(2 <= len(c["chain"]) <= 5 for c in chains)
    rejected = read(out / "04_verify.failed.jsonl")
    assert rejected and all("get_alerts" in r["chain"] for r in rejected)
    assert {r["failure"]["code"] for r in rejected} == {"vote_rejected"}
    tasks = read(out / "05_tasks.ok.jsonl")
    assert {t["mode"] for t in tasks} == {"chain", "server"}
    assert {t["language"] for t in tasks if t["server"]["name"] == "天气"} == {"zh"}
    kept = read(out / "07_score.ok.jsonl")
    below = [r for r in read(out / "07_score.failed.jsonl")
             if r["failure"]["code"] == "below_threshold"]
    assert kept and below and len(kept) + len(below) == len(tasks) + len(
        read(out / "06_augment.ok.jsonl"))
    assert all(r["failure"]["reason"] == "scenario_realism 2 < 4" for r in below)
    row = kept[0]
    assert row["scores"]["question_quality"] >= 4 and row["server_id"].startswith("srv-")
    assert [p["stage"] for p in row["provenance"]][-2:] == ["tasks", "score"]
    assert all("usage" not in p and "cached" not in p for p in row["provenance"])
    assert all(p["model"] == "scripted" for p in row["provenance"])
    chain_row = next(r for r in kept if r["mode"] == "chain")
    assert chain_row["walk"]["seed"] == 0 and chain_row["verification"]["vote"]["valid"] == 3
    assert chain_row["provenance"][0]["stage"] == "graph"


def test_stats(finished, capsys):
    data = sft_stats(finished["out"])
    assert data["servers"] == {"in": 7, "kept": 4, "dropped": 3, "failed_sources": 0}
    assert data["filters"]["too_few_tools"] == 2
    assert data["graphs"]["servers"] == 4 and data["graphs"]["nodes"]["max"] == 12
    assert sum(data["chain_lengths"].values()) == data["stages"]["walks"]["ok"]
    assert data["stages"]["verify"]["reasons"] == {
        "vote_rejected": data["stages"]["verify"]["failed"]}
    assert data["tasks"]["server"] == 4 and set(data["tasks"]["augmented"]) == {"diverse",
                                                                                 "persona"}
    assert data["scores"]["scenario_realism"]["2"] == data["stages"]["score"]["reasons"][
        "below_threshold"]
    assert data["kept"] == len(read(finished["out"] / "07_score.ok.jsonl"))
    assert data["tokens"]["prompt_tokens"] > 0
    assert cli_main(["sft", "stats", str(finished["out"])]) == 0
    text = capsys.readouterr().out
    assert "filter too_few_tools: 2" in text and "verify dropped x" in text
    assert cli_main(["sft", "stats", str(finished["out"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kept"] == data["kept"]


def test_offline_replay_reproduces_every_file_with_zero_requests(finished, tmp_path,
                                                                 monkeypatch):
    import synth.sft.mcp_harvest as harvest

    async def no_server(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an offline run started an MCP server")

    monkeypatch.setattr(harvest, "_harvest_live", no_server)
    replay = tmp_path / "replay"
    code = cli_main(["sft", "run", *args(replay, finished["tools"], "--offline", "--cache-dir",
                                         str(finished["out"] / "cache"))])
    assert code == 0
    for name in VIEWS:
        assert (replay / name).read_bytes() == (finished["out"] / name).read_bytes(), name
    for graph in (finished["out"] / "graphs").glob("*.json"):
        assert (replay / "graphs" / graph.name).read_bytes() == graph.read_bytes()
    # an empty cache is reported, not mistaken for failed records
    empty = tmp_path / "empty"
    assert cli_main(["sft", "run", *args(empty, finished["tools"], "--offline")]) == 1
    assert not (empty / "02_graph.ok.jsonl").exists()


def test_a_rerun_skips_everything(finished):
    out = finished["out"]
    before = {name: (out / name).read_bytes() for name in VIEWS}
    journal = (out / "05_tasks.jsonl").read_bytes()
    with ScriptedLLMServer(model()) as server:
        assert cli_main(["sft", "run", *args(out, finished["tools"], "--base-url",
                                             server.base_url)]) == 0
        assert not server.chat_requests
    assert (out / "05_tasks.jsonl").read_bytes() == journal
    assert {name: (out / name).read_bytes() for name in VIEWS} == before


@pytest.mark.slow
def test_kill_9_mid_stage_and_rerun_gives_byte_identical_views(finished, tmp_path):
    out = tmp_path / "run"
    slow = model(delay=0.3, delay_kinds=("task_chain", "task_server"))
    with ScriptedLLMServer(slow) as server:
        command = cli_command("run", *args(out, finished["tools"], "--base-url",
                                           server.base_url, "--concurrency", "1"))
        process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        journal = out / "05_tasks.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = journal.read_bytes().count(b"\n")
        total = len(read(finished["out"] / "05_tasks.jsonl"))
        assert 2 <= done < total and not (out / "06_augment.jsonl").exists()
        resumed = subprocess.run(command, env=cli_env(), capture_output=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr.decode()
    assert len(read(journal)) == total  # nothing lost, nothing duplicated
    for name in VIEWS:
        assert (out / name).read_bytes() == (finished["out"] / name).read_bytes(), name


def test_retry_failed_reruns_only_the_failed_records(finished, tmp_path):
    out = tmp_path / "run"

    def flaky_score(text: str, body: dict[str, Any]) -> Any:
        return {"status": 503} if "Lisbon" in text or "weather request" in text else None

    flaky = model()
    flaky.overrides["score"] = lambda text, body: flaky_score(text, body) or model(
        ).overrides["score"](text, body)
    with ScriptedLLMServer(flaky) as server:
        assert cli_main(["sft", "run", *args(out, finished["tools"], "--base-url",
                                             server.base_url)]) == 0
    failed = [r for r in read(out / "07_score.failed.jsonl")
              if r["failure"]["code"] == "llm_error"]
    assert failed and all("HTTP 503" in r["failure"]["reason"] for r in failed)
    with ScriptedLLMServer(model()) as server:
        assert cli_main(["sft", "run", *args(out, finished["tools"], "--base-url",
                                             server.base_url)]) == 0
        assert not server.chat_requests  # a failure is a result: a plain rerun skips it
        assert cli_main(["sft", "run", *args(out, finished["tools"], "--base-url",
                                             server.base_url, "--retry-failed")]) == 0
        asked = [r.body["messages"][0]["content"] for r in server.chat_requests]
    # only the failed scores are asked (tasks with the same prompt share one request)
    assert asked and all(text.startswith("You rate a task") for text in asked)
    questions = {r["question"] for r in failed}
    assert {text.split("Task:\n", 1)[1].split("\n\n")[0].strip() for text in asked} \
        == questions
    for name in VIEWS:
        assert (out / name).read_bytes() == (finished["out"] / name).read_bytes(), name


def test_seed_changes_the_walks_and_one_stage_commands(finished, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for name in ("01_harvest.ok.jsonl", "02_graph.ok.jsonl"):
        (out / name).write_bytes((finished["out"] / name).read_bytes())
    result = sft_cli("walks", "--out", str(out), "--seed", "0", "--max-walks", "3", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (out / "03_walks.ok.jsonl").read_bytes() == (
        finished["out"] / "03_walks.ok.jsonl").read_bytes()
    assert sft_cli("walks", "--out", str(out), "--seed", "9", "--max-walks", "3",
                   "--quiet").returncode == 0
    assert (out / "03_walks.ok.jsonl").read_bytes() != (
        finished["out"] / "03_walks.ok.jsonl").read_bytes()
    result = sft_cli("tasks", "--out", str(out), "--model", "m", "--offline")
    assert result.returncode == 2 and "04_verify.ok.jsonl is missing" in result.stderr
    result = sft_cli("graph", "--out", str(out))
    assert result.returncode == 2 and "--model is needed for the graph stage" in result.stderr


# -- a new user's mistakes: clear errors, before any record ------------------------------


def test_an_unreachable_endpoint_exits_1_before_any_record(tmp_path, finished):
    server = ScriptedLLMServer([])
    url = server.base_url
    server.close()
    out = tmp_path / "run"
    result = sft_cli("run", *args(out, finished["tools"], "--base-url", url))
    assert result.returncode == 1, result.stderr
    assert f"endpoint {url} is not usable" in result.stderr
    assert "nothing was processed" in result.stderr and "Traceback" not in result.stderr
    assert not list(out.glob("0*"))  # no stage file: no record was processed


@pytest.mark.parametrize("package", ["mcp", "openai"])
def test_a_missing_extra_exits_1_before_any_record(tmp_path, finished, package):
    fake = tmp_path / "site" / package
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(f"raise ImportError('No module named {package}')\n")
    out = tmp_path / "run"
    result = sft_cli("run", *args(out, finished["tools"], "--base-url", "http://127.0.0.1:9/v1"),
                     env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 1, result.stderr
    assert f'pip install "astra-gym[{package}]"' in result.stderr
    assert "Traceback" not in result.stderr and not (out / "01_harvest.ok.jsonl").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--model", "m", "--offline"], "needs --tools, --mcp-stdio or --mcp-url"),
    (["--tools", "missing.jsonl", "--model", "m", "--offline"], "cannot read missing.jsonl"),
    (["--tools", "{tools}", "--min-length", "4", "--max-length", "3", "--offline"],
     "--min-length"),
    (["--tools", "{tools}", "--augment", "shuffle", "--offline", "--model", "m"],
     "unknown augmentation axis"),
    (["--tools", "{tools}", "--temperature", "graph=hot", "--offline", "--model", "m"],
     "not a number"),
    (["--tools", "{tools}", "--stages", "harvest..publish"], "unknown stage"),
])
def test_unusable_arguments_exit_2(tmp_path, finished, argv, message):
    argv = [a.replace("{tools}", str(finished["tools"])) for a in argv]
    result = sft_cli("run", "--out", str(tmp_path / "run"), *argv)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_run_where_every_server_failed_exits_1_with_the_reasons(tmp_path, finished):
    broken = ScriptedModel({"graph": lambda text, body: "I cannot do that."})
    with ScriptedLLMServer(broken) as server:
        result = sft_cli("run", "--out", str(tmp_path / "run"), "--model", "scripted",
                         "--tools", str(finished["tools"]), "--base-url", server.base_url,
                         "--max-retries", "0", "--server-tools", "none", "--quiet")
    assert result.returncode == 1, result.stderr
    assert "every record failed at the graph stage" in result.stderr
    assert "llm_error" in result.stderr and "--retry-failed" in result.stderr
