"""Taxonomy inputs, ``--mode``, per-stage sampling options and the one-stage ``synth`` aliases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer

from astra_gym.cli import main as cli_main
from synth.llm import LLMClient
from synth.runner import run_pipeline
from synth.stages import generate
from synth.stages.generate import detect_mode
from synth.taxonomy import is_taxonomy, taxonomy_leaves

WEATHER = Path("/work/shared/astra-data/taxonomy/weather.json")
pytestmark = pytest.mark.skipif(not WEATHER.exists(), reason="astra-data is not available")

TRACE = [
    {"_uuid": 1, "hop_level": 1, "sub_question": "What is the forecast high in Oslo tomorrow?",
     "sub_answer": "14 C", "dependency": None, "is_parallel": True},
    {"_uuid": 2, "hop_level": 1, "sub_question": "What is the forecast high in Bergen tomorrow?",
     "sub_answer": "11 C", "dependency": None, "is_parallel": True},
    {"_uuid": 3, "hop_level": 2, "sub_question": "Which of 14 C and 11 C is warmer?",
     "sub_answer": "Oslo", "dependency": [1, 2], "is_parallel": False},
]
GENERATION = {"scenario_type": "Parallel Multi-Hop",
              "main_question": "Is Oslo or Bergen warmer tomorrow?", "final_answer": "Oslo",
              "decomposition_trace": TRACE}


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """A scripted model for the generate and necessity stages."""
    text = body["messages"][0]["content"]
    if "You design realistic multi-step tasks" in text:
        return {"content": json.dumps(GENERATION)}
    if "whether an assistant must call a tool" in text:
        return {"content": json.dumps([{"_uuid": uid, "tool_necessity": True, "reason": "data"}
                                       for uid in (1, 2, 3)])}
    raise AssertionError(f"unexpected prompt: {text[:100]}")


def weather_tree() -> dict[str, Any]:
    return json.loads(WEATHER.read_text(encoding="utf-8"))


def test_weather_taxonomy_leaves():
    tree = weather_tree()
    assert is_taxonomy(tree)
    rows = taxonomy_leaves(tree, "weather")
    assert len(rows) > 0
    for row in rows:
        assert row["mode"] == "taxonomy" and detect_mode(row) == "taxonomy"
        assert row["domain"].startswith("weather-") and row["domain"].count("-") >= 1
        corpus = json.loads(row["knowledge_corpus"])
        assert set(corpus) == {"description", "example_query"}
    assert rows[0]["domain"] == "weather-weather-weather"
    assert json.loads(rows[0]["knowledge_corpus"]) == {
        "description": "Query weather information",
        "example_query": "What's the weather in Beijing today?"}


def test_taxonomy_shapes():
    tree = {"a": {"b": {"description": "d1", "examples": [{"query": "q1"}, {"query": "q2"}]},
                  "c": {"description": "d2"}}, "note": "ignored"}
    rows = taxonomy_leaves(tree, "")
    assert [r["domain"] for r in rows] == ["a-b", "a-b", "a-c"]
    assert json.loads(rows[2]["knowledge_corpus"])["example_query"] == ""
    assert not is_taxonomy({"domain": "bank", "knowledge_corpus": ""})
    assert not is_taxonomy([1, 2]) and taxonomy_leaves({}, "x") == []


def test_generate_on_a_weather_leaf(tmp_path):
    leaf = taxonomy_leaves(weather_tree(), "weather")[0]
    with ScriptedLLMServer([json.dumps(GENERATION)]) as server:
        client = LLMClient("gen-model", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=0, backoff=0.0,
                           timeout=5.0)

        async def main() -> dict[str, Any]:
            async with client:
                return await generate(leaf, client, min_hops=1, max_hops=3)

        row = asyncio.run(main())
        prompt = server.chat_requests[0].body["messages"][0]["content"]
    assert "Query weather information" in prompt
    assert "What's the weather in Beijing today?" in prompt
    assert "weather-weather-weather" in prompt
    meta = row["_metadata"]
    assert meta["mode"] == "taxonomy" and meta["domain"] == "weather-weather-weather"
    assert meta["taxonomy_prompt_version"] == "1"
    assert row["provenance"][-1]["prompt_version"] == {"generate": "2", "generate_taxonomy": "1"}


def test_runner_expands_a_taxonomy_file(tmp_path):
    with ScriptedLLMServer(answer) as server:
        client = LLMClient("m", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=0, backoff=0.0,
                           timeout=5.0)

        async def main() -> Any:
            async with client:
                return await run_pipeline([WEATHER], tmp_path / "run", client,
                                          stages=("generate",), mode="taxonomy",
                                          min_hops=1, max_hops=3, progress=False)

        summary = asyncio.run(main())
    count = len(taxonomy_leaves(weather_tree(), "weather"))
    assert summary.stages["generate"]["ok"] == count
    rows = [json.loads(line) for line in
            (tmp_path / "run" / "01_generate.ok.jsonl").read_text().splitlines()]
    assert {row["_metadata"]["mode"] for row in rows} == {"taxonomy"}


def test_runner_rejects_bad_mode_and_options(tmp_path):
    async def main(**kwargs: Any) -> Any:
        return await run_pipeline([WEATHER], tmp_path / "run", object(),
                                  stages=("generate",), **kwargs)

    with pytest.raises(ValueError, match="unknown mode"):
        asyncio.run(main(mode="nope"))
    with pytest.raises(ValueError, match="unknown stage 'bogus'"):
        asyncio.run(main(stage_options={"bogus": {"temperature": 0.0}}))
    with pytest.raises(ValueError, match="unknown option"):
        asyncio.run(main(stage_options={"verify": {"top_p": 0.5}}))


def cli_args(server: ScriptedLLMServer, inputs: Path, out: Path) -> list[str]:
    return ["--input", str(inputs), "--out", str(out), "--model", "m",
            "--base-url", server.base_url, "--api-key", "k", "--max-retries", "0", "--quiet",
            "--min-hops", "1", "--max-hops", "3"]


def test_cli_per_stage_temperatures_and_mode(tmp_path):
    with ScriptedLLMServer(answer) as server:
        code = cli_main(["synth", "run", *cli_args(server, WEATHER, tmp_path / "run"),
                         "--stages", "generate,necessity", "--mode", "taxonomy",
                         "--temperature", "generate=0.9", "--temperature", "necessity=0.3",
                         "--max-tokens", "generate=777"])
        bodies = [request.body for request in server.chat_requests]
    assert code == 0
    generate_bodies = [b for b in bodies if "You design realistic" in b["messages"][0]["content"]]
    necessity_bodies = [b for b in bodies if b not in generate_bodies]
    assert generate_bodies and necessity_bodies
    assert {b["temperature"] for b in generate_bodies} == {0.9}
    assert any(b.get("max_tokens") == 777 or b.get("max_completion_tokens") == 777
               for b in generate_bodies)
    assert {b["temperature"] for b in necessity_bodies} == {0.3}
    assert all(b.get("max_tokens") != 777 for b in necessity_bodies)


@pytest.mark.parametrize("flag", [["--temperature", "bogus=1.0"], ["--max-tokens", "verify=x"],
                                  ["--temperature", "generate"],
                                  ["--temperature", "compile=0"]])
def test_cli_rejects_bad_stage_options(tmp_path, capsys, flag):
    code = cli_main(["synth", "run", "--input", str(WEATHER), "--out", str(tmp_path / "run"),
                     "--model", "m", "--api-key", "k", "--quiet", *flag])
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_unknown_stage_message(tmp_path, capsys):
    code = cli_main(["synth", "run", "--input", str(WEATHER), "--out", str(tmp_path / "run"),
                     "--model", "m", "--api-key", "k", "--temperature", "bogus=1"])
    assert code == 2 and "unknown stage 'bogus'" in capsys.readouterr().err


def test_cli_bad_mode_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli_main(["synth", "run", "--input", str(WEATHER), "--out", str(tmp_path / "r"),
                  "--model", "m", "--mode", "nope"])
    assert exc.value.code == 2


def test_synth_generate_alias_runs_only_generate(tmp_path):
    out = tmp_path / "run"
    with ScriptedLLMServer(answer) as server:
        code = cli_main(["synth", "generate", *cli_args(server, WEATHER, out),
                         "--temperature", "generate=0.5"])
        temperatures = {request.body["temperature"] for request in server.chat_requests}
    assert code == 0 and temperatures == {0.5}
    files = sorted(path.name for path in out.iterdir() if path.is_file())
    assert files and all(name.startswith("01_generate") for name in files), files
    assert (out / "01_generate.ok.jsonl").read_text().strip()
