"""Rollouts on real MCP tools (backend 1): a PyPI server over stdio, the tests' own over HTTP."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from sft_harness import weather_row
from traj_harness import TIME_SERVER, record_for, run_rollout
from traj_model import TrajectoryModel

from synth.llm import OfflineMiss
from synth.sft.backends import McpBackend
from synth.sft.common import SftFailure
from synth.sft.mcp_harvest import McpSource, harvest
from synth.sft.normalize import normalize_servers

pytest.importorskip("mcp")
pytest.importorskip("mcp_server_time")


def server_task(source: McpSource, question: str) -> dict:
    raw = asyncio.run(harvest(source, 0, cache_dir=None))
    rows, _ = normalize_servers([raw], min_tools=2)
    return {**rows[0], "task_id": "tsk-live", "mode": "server", "question": question,
            "target_tools": [rows[0]["tools"][0]["function"]["name"]], "language": "en"}


@pytest.fixture(scope="module")
def time_task():
    return server_task(McpSource("mcp-stdio", " ".join(TIME_SERVER)),
                       "What time is it in Lisbon right now?")


def without_wall(row):
    """The row as a view holds it (no cache-dependent provenance fields)."""
    volatile = ("wall_s", "cached", "attempts", "usage")
    return json.dumps({**row, "provenance": [{k: v for k, v in p.items() if k not in volatile}
                                             for p in row["provenance"]]}, sort_keys=True)


def test_tool_results_come_from_real_calls_and_replay_from_their_records(time_task, tmp_path,
                                                                          monkeypatch):
    record = record_for(time_task)
    assert record["rollout"]["backend"] == "mcp"
    row, _ = run_rollout(record, TrajectoryModel(), tmp_path, injection_p=0.0)
    assert not isinstance(row, SftFailure), row
    results = [json.loads(m["content"]) for m in row["messages"] if m["role"] == "tool"]
    assert results[0]["timezone"] == "Europe/Lisbon" and "T" in results[0]["datetime"]
    assert results[1]["source"]["datetime"].startswith(results[1]["target"]["datetime"][:10])
    assert [c["outcome"] for c in row["calls"]] == ["ok", "ok"]
    assert len(list((tmp_path / "cache" / "mcp_calls").glob("*.json"))) == 2
    # a resumed trajectory executes its calls again (server state) but keeps the records
    again, _ = run_rollout(record, TrajectoryModel(), tmp_path, injection_p=0.0)
    assert without_wall(again) == without_wall(row)
    # offline: from the records, no server
    import mcp.client.stdio

    def no_server(*args, **kwargs):
        raise AssertionError("an offline rollout started an MCP server")

    monkeypatch.setattr(McpBackend, "_call_live", no_server)
    monkeypatch.setattr(mcp.client.stdio, "stdio_client", no_server)
    replay, _ = run_rollout(record, TrajectoryModel(), tmp_path, injection_p=0.0, offline=True)
    assert without_wall(replay) == without_wall(row)
    with pytest.raises(OfflineMiss):
        run_rollout(record, TrajectoryModel(), tmp_path / "empty", injection_p=0.0, offline=True,
                    cache_dir=str(tmp_path / "empty-cache"))


def test_injected_failures_on_real_tools_never_reach_the_server(time_task, tmp_path):
    row, _ = run_rollout(record_for(time_task), TrajectoryModel(), tmp_path, injection_p=1.0,
                         max_llm_calls=3)
    assert not isinstance(row, SftFailure), row
    assert {c["outcome"] for c in row["calls"]} == {"injected"}
    assert not (tmp_path / "cache" / "mcp_calls").exists()


def test_a_server_that_does_not_start_fails_the_trajectory(tmp_path):
    task = {**weather_row(), "task_id": "tsk-dead", "mode": "server", "language": "en",
            "question": "Forecast for Porto?", "target_tools": ["find_city"],
            "call_info": {"transport": "stdio",
                          "command": [sys.executable, "-c", "import sys; sys.exit(3)"]}}
    row, _ = run_rollout(record_for(task), TrajectoryModel(), tmp_path, injection_p=0.0,
                         mcp_timeout=20)
    assert isinstance(row, SftFailure) and row.code == "mcp_unavailable"


def test_streamable_http_server(tmp_path):
    from test_sft_mcp import http_notes_server

    with http_notes_server() as url:
        task = server_task(McpSource("mcp-http", url), "Which notebooks do I have?")
        assert task["call_info"] == {"transport": "streamable-http", "url": url}
        row, _ = run_rollout(record_for(task), TrajectoryModel(), tmp_path, injection_p=0.0)
        assert not isinstance(row, SftFailure), row
        # an ASTRA-style call_info: a URL and headers
        astra = {**task, "call_info": {"url": url, "headers": {"X-Api-Key": "k"}}}
        again, _ = run_rollout(record_for(astra), TrajectoryModel(), tmp_path / "astra",
                               injection_p=0.0)
    notebooks = {"notebooks": [{"id": "nb-1", "title": "Work"},
                               {"id": "nb-2", "title": "Travel"}]}
    assert json.loads(row["messages"][3]["content"]) == notebooks
    assert json.loads(again["messages"][3]["content"]) == notebooks
