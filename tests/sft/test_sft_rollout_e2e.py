"""End to end: tasks -> rollouts on real MCP tools, emulated tools and the demo pack ->
judged -> exported, against the scripted OpenAI-compatible server; resume and offline replay.

The real tools are mcp-server-time's (from the package index, started as a subprocess);
the weather service has no server (emulated tools); the demo pack runs in AstraEnv.
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
from sft_harness import cli_command, cli_env
from test_sft_run import tools_file
from traj_model import TrajectoryModel

from astra_gym.cli import main as cli_main
from synth.sft.stats import sft_stats

pytest.importorskip("mcp")
pytest.importorskip("mcp_server_time")

TIME = ["--mcp-stdio", f"{shlex.quote(sys.executable)} -m mcp_server_time"]
PART1 = ["--graph-samples", "1", "--max-walks", "2", "--task-samples", "1", "--votes", "1",
         "--server-tools", "1", "--augment", "none", "--min-tools", "2"]
PART2 = ["--env", "astra/demo-v0", "--env-tasks", "2", "--env-sandbox", "inprocess"]
COMMON = ["--model", "scripted", "--max-retries", "0", "--concurrency", "4", "--quiet"]
VIEWS = ["01_harvest.ok.jsonl", "01_harvest.report.json",
         *(f"{stem}.{kind}.jsonl" for stem in ("02_graph", "03_walks", "04_verify", "05_tasks",
                                               "06_augment", "07_score", "08_rollout",
                                               "09_judge")
           for kind in ("ok", "failed"))]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def weather_only(root: Path) -> Path:
    rows = read(tools_file(root))[:1]
    path = root / "weather.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("sft-e2e")
    tools = weather_only(root)
    out = root / "run"
    model = TrajectoryModel()
    with ScriptedLLMServer(model) as server:
        code = cli_main(["sft", "run", "--out", str(out), "--tools", str(tools), *TIME, *PART1,
                         *PART2, *COMMON, "--stages", "harvest..judge", "--base-url",
                         server.base_url])
        requests = len(server.chat_requests)
    assert code == 0
    data = root / "data"
    assert cli_main(["sft", "export", str(out), "--out", str(data), "--split", "1"]) == 0
    return {"root": root, "out": out, "tools": tools, "data": data, "requests": requests,
            "kinds": model.kinds}


def test_tasks_to_rollouts_on_three_backends_to_judgements_to_sft_data(finished):
    out = finished["out"]
    tasks = read(out / "07_score.ok.jsonl")
    assert {t["server"]["name"] for t in tasks} == {"weather", "mcp-time"}
    rows = read(out / "08_rollout.ok.jsonl")
    assert not read(out / "08_rollout.failed.jsonl")
    by_backend: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_backend.setdefault(row["backend"], []).append(row)
    assert sorted(by_backend) == ["emulated", "env", "mcp"]
    assert len(by_backend["env"]) == 2 and len(rows) == len(tasks) + 2
    # real tools: the results come from mcp-server-time itself
    live = by_backend["mcp"][0]
    assert live["task"]["server"]["name"] == "mcp-time"
    for call, message in zip(live["calls"], [m for m in live["messages"] if m["role"] == "tool"],
                             strict=True):
        if call["outcome"] == "ok":
            assert json.loads(message["content"]).get("timezone", "Europe/Lisbon") \
                == "Europe/Lisbon"
            assert "datetime" in message["content"]
    assert list((out / "cache" / "mcp_calls").glob("*.json"))
    # emulated tools: the emulator answered
    assert "emulator" in finished["kinds"]
    # env packs: rule-verified labels
    assert all(row["labels"]["f1"] == 1.0 and row["labels"]["success"]
               for row in by_backend["env"])
    # provenance: task, backend, seeds, model, injected failures, wall time, tokens
    for row in rows:
        assert row["model"] == "scripted" and row["seeds"]["seed"] == 0
        assert row["tokens"]["agent"]["prompt_tokens"] > 0
        assert "wall_s" not in row["provenance"][-1]  # views hold no volatile fields
    journal = read(out / "08_rollout.jsonl")
    assert all(line["provenance"][-1]["wall_s"] >= 0 for line in journal)
    judged = read(out / "09_judge.ok.jsonl")
    assert judged and all(row["judgement"]["overall"] >= 0.75 for row in judged)
    lines = read(finished["data"] / "train.jsonl")
    assert {line["metadata"]["backend"] for line in lines} == {"emulated", "env", "mcp"}
    assert (finished["data"] / "README.md").exists()


def test_stats_of_the_trajectories(finished, capsys):
    data = sft_stats(finished["out"])["trajectories"]
    assert set(data["backends"]) == {"mcp", "emulated", "env"}
    assert data["backends"]["env"] == {"ok": 2, "failed": 0}
    assert data["turns"]["min"] >= 2 and data["calls"]["max"] >= 2
    assert data["injected"]["executed_calls"] > 0
    assert data["labels"]["mean_f1"] == 1.0 and data["labels"]["success_rate"] == 1.0
    assert set(data["scores"]) == {"overall", "QU", "QP", "TCU", "TCP", "TCS", "TC", "FA"}
    assert data["scores"]["QU"]["bins"]["0.9"] == data["judged"]
    assert data["keep_rate"]["of_judged"] == data["kept"] / data["judged"]
    assert cli_main(["sft", "stats", str(finished["out"])]) == 0
    text = capsys.readouterr().out
    assert "trajectories: emulated" in text and "injected failures:" in text
    assert "env labels: 2 trajectories, mean F1 1.0" in text and "keep rate" in text


def test_offline_replay_is_byte_identical_without_model_or_server(finished, tmp_path,
                                                                  monkeypatch):
    import synth.sft.mcp_harvest as harvest
    from synth.sft.backends import McpBackend

    def no_server(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an offline run started an MCP server")

    monkeypatch.setattr(harvest, "_harvest_live", no_server)
    monkeypatch.setattr(McpBackend, "_call_live", no_server)
    replay = tmp_path / "replay"
    code = cli_main(["sft", "run", "--out", str(replay), "--tools", str(finished["tools"]),
                     *TIME, *PART1, *PART2, *COMMON, "--stages", "harvest..judge", "--offline",
                     "--cache-dir", str(finished["out"] / "cache")])
    assert code == 0
    for name in VIEWS:
        assert (replay / name).read_bytes() == (finished["out"] / name).read_bytes(), name


def part2(out: Path, base_url: str, *extra: str) -> list[str]:
    return ["--out", str(out), "--stages", "rollout..judge", "--backend", "emulated", *PART2,
            *COMMON, "--base-url", base_url, *extra]


@pytest.mark.slow
def test_kill_9_mid_rollout_and_rerun_gives_byte_identical_views(finished, tmp_path):
    reference, out = tmp_path / "reference", tmp_path / "run"
    for folder in (reference, out):
        folder.mkdir()
        shutil.copy(finished["out"] / "07_score.ok.jsonl", folder)
    with ScriptedLLMServer(TrajectoryModel()) as server:
        assert cli_main(["sft", "run", *part2(reference, server.base_url)]) == 0
    with ScriptedLLMServer(TrajectoryModel(agent_delay=0.3)) as server:
        command = cli_command("run", *part2(out, server.base_url, "--rollout-concurrency",
                                            "1"))
        process = subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        journal = out / "08_rollout.jsonl"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 2:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = journal.read_bytes().count(b"\n")
        total = len(read(reference / "08_rollout.jsonl"))
        assert 2 <= done < total and not (out / "09_judge.jsonl").exists()
        resumed = subprocess.run(command, env=cli_env(), capture_output=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr.decode()
    assert len(read(journal)) == total  # nothing lost, nothing duplicated
    for name in ("08_rollout.ok.jsonl", "08_rollout.failed.jsonl", "09_judge.ok.jsonl",
                 "09_judge.failed.jsonl"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_part2_arguments_are_checked(finished, tmp_path):
    base = ["sft", "run", "--out", str(tmp_path / "x"), "--stages", "rollout", "--model", "m",
            "--offline", "--quiet"]
    assert cli_main([*base]) == 2  # no 07_score.ok.jsonl and no --env
    assert cli_main([*base, "--env", "astra/nothing-v0"]) == 2
    assert cli_main([*base, "--env", "astra/demo-v0", "--inject-p", "2"]) == 2
    assert cli_main([*base, "--env", "astra/demo-v0", "--inject-kinds", "meteor"]) == 2
    assert cli_main([*base, "--env", "astra/demo-v0", "--min-score", "-1"]) == 2
    assert cli_main([*base, "--env", "astra/demo-v0", "--backend-for", "x"]) == 2
