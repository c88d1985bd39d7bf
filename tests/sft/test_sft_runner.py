"""synth.sft.runner pieces: harvest failures, stages, the summary, personas, question rules."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sft_harness import sft_cli, weather_tools

from synth.sft.checks import check_question
from synth.sft.common import SftFailure
from synth.sft.personas import PersonaError, load_personas, render_persona
from synth.sft.runner import SftOptions, SftRunSummary, SftSources, parse_sft_stages, run_sft


def tools_file(tmp_path: Path) -> Path:
    path = tmp_path / "tools.jsonl"
    path.write_text(json.dumps({"server": {"name": "weather", "description": "Forecasts."},
                                "tools": weather_tools()}) + "\n", encoding="utf-8")
    return path


def harvest_only(tmp_path: Path, out: Path, **kwargs) -> SftRunSummary:
    sources = SftSources(tools=(str(tools_file(tmp_path)),),
                         mcp_stdio=("no-such-mcp-server-xyz",))
    return asyncio.run(run_sft(out, None, sources=sources, stages=("harvest",),
                               progress=False, **kwargs))


def test_a_source_that_cannot_be_harvested_is_a_failed_row_with_its_reason(tmp_path):
    pytest.importorskip("mcp")
    out = tmp_path / "run"
    summary = harvest_only(tmp_path, out)
    assert summary.stages["harvest"] == {"input": 2, "skipped": 0, "ok": 1, "failed": 1,
                                         "dropped": 0}
    (failed,) = [json.loads(line) for line in (out / "01_harvest.failed.jsonl").open()]
    assert failed["failure"]["code"] == "harvest_failed"
    assert "no-such-mcp-server-xyz" in failed["failure"]["reason"]
    assert failed["source"] == {"kind": "mcp-stdio", "command": "no-such-mcp-server-xyz",
                                "index": 0}
    report = json.loads((out / "01_harvest.report.json").read_text())
    assert report["failed_sources"][0]["code"] == "harvest_failed"
    assert summary.dead_end is None
    # a rerun skips the failure (it is a result); --retry-failed tries the server again
    again = harvest_only(tmp_path, out)
    assert again.stages["harvest"]["skipped"] == 1
    retried = harvest_only(tmp_path, out, retry_failed=True)
    assert retried.stages["harvest"]["skipped"] == 0
    # offline, into a fresh directory: the stored failure replays, byte for byte
    replay = tmp_path / "replay"
    offline = harvest_only(tmp_path, replay, offline=True, cache_dir=out / "cache")
    assert offline.complete
    for name in ("01_harvest.ok.jsonl", "01_harvest.failed.jsonl", "01_harvest.report.json"):
        assert (replay / name).read_bytes() == (out / name).read_bytes()
    missing = harvest_only(tmp_path, tmp_path / "missing", offline=True)
    assert not missing.complete and missing.offline_misses == 1


def test_llm_stages_need_a_client_and_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="need a client"):
        asyncio.run(run_sft(tmp_path, None, stages=("graph",)))
    with pytest.raises(ValueError, match="min-length"):
        SftOptions(min_length=3, max_length=2).check()
    with pytest.raises(ValueError, match="unknown score dimension"):
        SftOptions(thresholds={"beauty": 3}).check()
    with pytest.raises(ValueError, match=r"integer 1\.\.5"):
        SftOptions(thresholds={"question_quality": 6}).check()
    with pytest.raises(ValueError, match="unknown stage"):
        SftOptions(stage_options={"harvest": {"temperature": 1.0}}).check()


def test_parse_sft_stages():
    assert parse_sft_stages("harvest..tasks") == ("harvest", "graph", "walks", "verify", "tasks")
    assert parse_sft_stages("..graph") == ("harvest", "graph")
    assert parse_sft_stages("score,harvest") == ("harvest", "score")
    for bad in ("harvest..publish", "score..harvest", "nothing"):
        with pytest.raises(ValueError):
            parse_sft_stages(bad)


def test_dead_end_is_where_a_run_that_produced_nothing_ran_dry(tmp_path):
    summary = SftRunSummary(tmp_path)
    summary.stages = {"harvest": {"input": 2, "ok": 2}, "graph": {"input": 2, "ok": 0},
                      "walks": {"input": 0, "ok": 0}}
    assert summary.dead_end == "graph"
    summary.stages["score"] = {"input": 3, "ok": 1}  # server-only tasks still came through
    assert summary.dead_end is None
    summary.stages = {"tasks": {"input": 2, "ok": 2}, "augment": {"input": 4, "ok": 0},
                      "score": {"input": 2, "ok": 0}}
    assert summary.dead_end == "score"  # augment is optional, never the one named


def test_personas_file(tmp_path):
    path = tmp_path / "personas.jsonl"
    path.write_text(json.dumps({"age": 30, "occupation": "pilot", "education_level": "BSc",
                                "professional_persona": "x" * 300,
                                "skills_and_expertise_list": "['flying', 'radio', 'a', 'b', "
                                                             "'c', 'd']",
                                "hobbies_and_interests_list": '["chess"]', "extra": 1}) + "\n",
                    encoding="utf-8")
    (persona,) = load_personas(path)
    assert persona["skills_and_expertise_list"][:2] == ["flying", "radio"]
    assert "extra" not in persona
    text = render_persona(persona)
    assert "Occupation: pilot" in text and "Skills: flying, radio, a, b, c" in text
    assert f"Professional background: {'x' * 200}\n" in text and "Hobbies: chess" in text
    path.write_text('{"age": 3}\n', encoding="utf-8")
    with pytest.raises(PersonaError, match="occupation"):
        load_personas(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(PersonaError, match="no persona"):
        load_personas(path)
    result = sft_cli("run", "--out", str(tmp_path / "run"), "--tools",
                     str(tools_file(tmp_path)), "--personas", str(path), "--offline")
    assert result.returncode == 2 and "no persona" in result.stderr


@pytest.mark.parametrize(("question", "code"), [
    ("Please get me the forecast for Lisbon tomorrow.", None),
    ("Fetch it", "empty_question"),
    ("请帮我查一下明天里斯本的天气预报。", "language_mismatch"),
    ("Run find_city for Lisbon and then the forecast.", "tool_name_leak"),
    ("How can I get the forecast for Lisbon?", "how_to_question"),
    ("Explain how to check alerts for Lisbon.", "how_to_question"),
    ("What are the steps to see the forecast in Lisbon?", "how_to_question"),
    ("Show how the forecast for Lisbon looks tomorrow.", None),  # asks for it to be done
])
def test_question_rules(question, code):
    names = ["find_city", "get_forecast", "search"]
    if code is None:
        check_question("tasks", question, language="en", tool_names=names)
        return
    with pytest.raises(SftFailure) as info:
        check_question("tasks", question, language="en", tool_names=names)
    assert info.value.code == code


def test_a_server_without_description_takes_the_language_of_its_tools():
    from synth.sft.normalize import normalize_servers
    from synth.sft.sources import raw_server_from_row

    tools = [{"name": f"t{i}", "description": "按城市查询天气预报和预警信息"} for i in range(3)]
    kept, _ = normalize_servers([raw_server_from_row({"server": {"name": "s"}, "tools": tools},
                                                     {"path": "f", "line": 1})])
    assert kept[0]["server"]["description"] == "" and kept[0]["server"]["language"] == "zh"


def test_graph_files_follow_the_graph_view(tmp_path):
    from synth.sft.runner import _write_graphs

    def row(server_id: str) -> dict:
        return {"server_id": server_id, "server": {"name": server_id},
                "graph": {"nodes": ["a", "b"], "samples": 1,
                          "edges": [{"source": "a", "target": "b", "weight": 1}]}}

    _write_graphs(tmp_path, [row("srv-1"), row("srv-2")])
    assert sorted(p.name for p in (tmp_path / "graphs").iterdir()) == ["srv-1.json",
                                                                       "srv-2.json"]
    _write_graphs(tmp_path, [row("srv-2")])  # a server gone from the view loses its file
    assert [p.name for p in (tmp_path / "graphs").iterdir()] == ["srv-2.json"]
    assert json.loads((tmp_path / "graphs" / "srv-2.json").read_text())["edges"][0]["weight"] == 1


def test_an_unexpected_error_fails_only_its_record():
    from synth.executors import StageSpec
    from synth.sft.executors import run_sft_record

    kind, failure = asyncio.run(run_sft_record(StageSpec("score"), {"no": "fields"}, None))
    assert kind == "failure" and failure["code"] == "unexpected_error"
    assert failure["stage"] == "score" and "KeyError" in failure["reason"]


def test_cli_lists():
    from synth.sft.cli import _axes, _Exit, _int_list

    assert _axes("all") == ("diverse", "complicate", "persona")
    assert _axes("none") == () and _axes("persona, diverse") == ("persona", "diverse")
    assert _int_list("1,3", "--server-tools") == (1, 3) and _int_list("none", "--x") == ()
    with pytest.raises(_Exit):
        _int_list("one", "--server-tools")
