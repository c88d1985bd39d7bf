"""synth.runner and ``astra-gym synth``: the whole pipeline against a scripted server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer

from astra_gym.cli import main as cli_main
from astra_gym.validation import CheckOptions, validate
from synth.llm import LLMClient
from synth.runner import Journal, RunSummary, parse_stages, run_pipeline, stats

CONTEXT = Path("/work/shared/astra-data/knowledge/en/context.jsonl")
pytestmark = pytest.mark.skipif(not CONTEXT.exists(), reason="astra-data is not available")

MODEL = "scripted"
CITIES = ["Lisbon", "Porto", "Madrid"]  # for input lines 1-3; line 4 gets an invalid reply
BEST = {"Lisbon": ("Hotel Sol", 87), "Porto": ("Vila Nova", 75), "Madrid": ("Hostal Luz", 64)}
RATE_Q = "What is the nightly rate of that hotel?"

FIND_DOC = {"name": "find_cheapest_hotel", "description": "Find the cheapest hotel in a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name"}}, "required": ["city"]}}
FIND_CODE = '''\
HOTELS = {"lisbon": [("Casa Azul", 120), ("Hotel Sol", 87)],
          "porto": [("Rio Inn", 99), ("Vila Nova", 75)],
          "madrid": [("Plaza Real", 140), ("Hostal Luz", 64)]}

def find_cheapest_hotel(city):
    if not isinstance(city, str) or city.strip().lower() not in HOTELS:
        return {"error": "unknown city"}
    ranked = sorted(HOTELS[city.strip().lower()], key=lambda item: item[1])
    return {"city": city, "hotel": ranked[0][0]}
'''
RATE_DOC = {"name": "get_hotel_rate", "description": "Nightly rate of a hotel.",
            "parameters": {"type": "object", "properties": {
                "hotel_name": {"type": "string", "description": "Hotel name"}},
                "required": ["hotel_name"]}}
RATE_CODE = '''\
RATES = {"hotel sol": 87, "casa azul": 120, "rio inn": 99, "vila nova": 75,
         "plaza real": 140, "hostal luz": 64}

def get_hotel_rate(hotel_name):
    rate = RATES.get(str(hotel_name).strip().lower())
    if rate is None:
        return {"error": "unknown hotel"}
    return {"hotel": hotel_name, "rate": f"EUR {rate}"}
'''
TOOL_STEPS = {"document": "You design one tool", "scaling": "You refine a tool document",
              "call": "You write the single tool call", "code": "You implement a tool"}


def input_lines() -> list[str]:
    return CONTEXT.read_text(encoding="utf-8").splitlines()[:4]


def generation(city: str) -> dict[str, Any]:
    hotel, rate = BEST[city]
    return {"scenario_type": "Single-Hop Chain",
            "main_question": f"What is the nightly rate of the cheapest hotel in {city}?",
            "final_answer": f"EUR {rate}",
            "decomposition_trace": [
                {"_uuid": 1, "hop_level": 1, "sub_question": f"Which hotel in {city} is cheapest?",
                 "sub_answer": hotel, "dependency": None, "is_parallel": False},
                {"_uuid": 2, "hop_level": 2, "sub_question": RATE_Q, "sub_answer": f"EUR {rate}",
                 "dependency": [1], "is_parallel": False}]}


def _tool_reply(text: str) -> Any:
    step = next(name for name, marker in TOOL_STEPS.items() if marker in text)
    city = next(c for c in CITIES if f"Which hotel in {c} is cheapest?" in text)
    rate_step = RATE_Q in text  # the hop-1 prompts never quote the hop-2 question
    doc, code = (RATE_DOC, RATE_CODE) if rate_step else (FIND_DOC, FIND_CODE)
    call = (f'get_hotel_rate(hotel_name="{BEST[city][0]}")' if rate_step
            else f'find_cheapest_hotel(city="{city}")')
    value = {"document": {"tool": doc}, "scaling": {"refined_version": doc},
             "call": {"call": call}, "code": {"function": code}}[step]
    return {"analysis": "a", **value}


def script(delay: float = 0.0) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A scripted model answering every stage by the prompt's marker phrases."""
    corpora = {json.loads(line)["knowledge_corpus"][:80]: index
               for index, line in enumerate(input_lines())}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        if "You design realistic multi-step tasks" in text:
            index = next(i for corpus, i in corpora.items() if corpus in text)
            if index == 3:
                return {"content": "Sorry, I cannot help with that."}
            reply = {"content": json.dumps(generation(CITIES[index]))}
            return {**reply, "delay": delay} if delay and index else reply
        if "whether an assistant must call a tool" in text:
            value: Any = [{"_uuid": uid, "tool_necessity": True, "reason": "external data"}
                          for uid in (1, 2)]
        elif "depend on exactly the right earlier steps" in text:
            value = {"verdict": "matched", "reason": "ok"}
        elif "for atomicity" in text:
            value = {"items": [{"_uuid": uid, "is_atomic": 1} for uid in (1, 2)]}
        elif "audit the ordering" in text:
            value = {"problematic_steps": [], "reason": "fine"}
        elif "covers everything" in text:
            value = {"requirements": [{"requirement": "rate", "covered": True}],
                     "complete": True}
        elif "group the tool-using steps" in text:
            value = {"clusters": [{"intent_summary": "find", "_uuids": [1], "reason": "r"},
                                  {"intent_summary": "rate", "_uuids": [2], "reason": "r"}]}
        elif any(marker in text for marker in TOOL_STEPS.values()):
            value = _tool_reply(text)
        else:
            raise AssertionError(f"unexpected prompt: {text[:100]}")
        return {"content": json.dumps(value)}

    return answer


VIEWS = [f"{stem}.{kind}.jsonl" for stem in ("01_generate", "02_necessity", "03_verify",
                                              "04_tools", "05_merge") for kind in ("ok", "failed")]
VIEWS += ["03_verify.kept.jsonl", "pack/tasks.jsonl"]


def pipeline(inputs: Path, out: Path, cache: Path, *, base_url: str | None = None,
             offline: bool = False) -> RunSummary:
    client = LLMClient(MODEL, base_url=base_url, api_key="k", cache_dir=cache, offline=offline,
                       concurrency=4, max_retries=0, backoff=0.0, timeout=20.0)

    async def main() -> RunSummary:
        async with client:
            return await run_pipeline([inputs], out, client, min_hops=1, max_hops=3,
                                      pack_name="trip", progress=False)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One uninterrupted run over the first 4 context rows (the 4th fails to generate)."""
    root = tmp_path_factory.mktemp("synth-run")
    inputs = root / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()) + "\n", encoding="utf-8")
    with ScriptedLLMServer(script()) as server:
        summary = pipeline(inputs, root / "run", root / "cache", base_url=server.base_url)
        requests = len(server.chat_requests)
    return {"root": root, "inputs": inputs, "out": root / "run", "cache": root / "cache",
            "summary": summary, "requests": requests}


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_end_to_end_to_a_valid_pack(finished):
    summary, out = finished["summary"], finished["out"]
    assert summary.complete and summary.pack == out / "pack"
    assert summary.stages["generate"] == {"input": 4, "skipped": 0, "ok": 3, "failed": 1}
    for name in ("necessity", "verify", "tools", "merge"):
        assert summary.stages[name]["ok"] == 3 and summary.stages[name]["failed"] == 0, name
    assert summary.stages["compile"] == {"input": 3, "compiled": 3, "rejected": 0}
    merged = read(out / "05_merge.ok.jsonl")
    assert [row["main_question"].rsplit(" ", 1)[1] for row in merged] == [
        "Lisbon?", "Porto?", "Madrid?"]  # input order
    assert [p["stage"] for p in merged[0]["provenance"]] == [
        "generate", "necessity", "verify", "tools", "merge"]
    assert all("usage" not in p and "cached" not in p for p in merged[0]["provenance"])
    assert len(read(out / "05_merge.jsonl")) == 3 and len(read(out / "01_generate.jsonl")) == 4
    report = validate(out / "pack", options=CheckOptions(max_examples=5))  # all nine checks
    assert report.ok, [(r.check, r.task_id, r.message) for r in report.results
                       if r.status != "passed"]


def test_failure_is_recorded_with_its_reason_and_stats(finished, capsys):
    out = finished["out"]
    (failed,) = read(out / "01_generate.failed.jsonl")
    assert failed["domain"] == "weather" and failed["failure"]["stage"] == "generate"
    assert failed["failure"]["reason"].startswith("generation: LLM call failed")
    tasks = read(out / "pack" / "tasks.jsonl")
    assert len(tasks) == 3 and failed["uuid"] not in json.dumps(tasks)

    data = stats(out)
    assert data["stages"]["generate"]["ok"] == 3 and data["stages"]["generate"]["failed"] == 1
    assert list(data["stages"]["generate"]["reasons"].values()) == [1]
    assert data["stages"]["merge"] == {"ok": 3, "failed": 0, "reasons": {}}
    assert data["kept"] == 3 and data["pack"] == {"compiled": 3, "rejected": 0}
    assert data["hops"] == {"2": 3} and data["domains"] == {"weather": 3}
    assert data["tokens"]["prompt_tokens"] > 0 and data["tokens"]["completion_tokens"] > 0
    assert cli_main(["synth", "stats", str(out)]) == 0
    table = capsys.readouterr().out
    assert "generate" in table and "generation: LLM call failed" in table
    assert cli_main(["synth", "stats", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stages"]["tools"]["ok"] == 3


def test_stats_of_a_directory_without_a_run_is_an_error_not_an_empty_table(tmp_path, capsys):
    assert cli_main(["synth", "stats", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "holds no synth stage output" in captured.err


def test_rerun_skips_everything_and_offline_replay_is_identical(finished):
    out, root = finished["out"], finished["root"]
    before = {name: (out / name).read_bytes() for name in VIEWS}
    journal = (out / "02_necessity.jsonl").read_bytes()
    again = pipeline(finished["inputs"], out, finished["cache"], offline=True)
    assert again.stages["necessity"]["skipped"] == 3
    assert (out / "02_necessity.jsonl").read_bytes() == journal
    # a fresh run directory over the same cache replays every record, the failed one too
    replay = pipeline(finished["inputs"], root / "replay", finished["cache"], offline=True)
    assert replay.complete and replay.stages["generate"]["failed"] == 1
    assert replay.stages["compile"]["compiled"] == 3
    for name in VIEWS:
        assert (root / "replay" / name).read_bytes() == before[name], name
    # a cache that lacks replies is reported, not mistaken for failed records
    empty = pipeline(finished["inputs"], root / "missing", root / "empty-cache", offline=True)
    assert not empty.complete and empty.offline_misses == 4 and "necessity" not in empty.stages
    assert not (root / "missing" / "01_generate.failed.jsonl").read_text(encoding="utf-8")


def test_torn_last_line_is_dropped(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"uuid": "a"}\n{"uuid": "b", "x": [1, 2', encoding="utf-8")
    journal = Journal(path, lambda row: str(row["uuid"]))
    assert list(journal.rows) == ["a"]
    journal.append({"uuid": "c"})
    assert path.read_text(encoding="utf-8") == '{"uuid": "a"}\n{"uuid": "c"}\n'


def test_parse_stages_and_unusable_input(tmp_path, capsys):
    assert parse_stages("generate..compile")[-1] == "compile"
    with pytest.raises(ValueError):
        parse_stages("generate..publish")
    code = cli_main(["synth", "run", "--input", str(tmp_path / "missing.jsonl"), "--out",
                     str(tmp_path / "run"), "--model", "m", "--offline"])
    assert code == 2 and "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_and_resume_gives_the_uninterrupted_output(finished, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
        str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")]))}
    with ScriptedLLMServer(script(delay=1.0)) as server:
        command = [sys.executable, "-m", "astra_gym.cli", "synth", "run", "--input",
                   str(finished["inputs"]), "--out", str(out), "--model", MODEL, "--base-url",
                   server.base_url, "--api-key", "k", "--concurrency", "1", "--max-retries",
                   "0", "--min-hops", "1", "--max-hops", "3", "--name", "trip", "--quiet"]
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        journal = out / "01_generate.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            if journal.exists() and journal.read_bytes().count(b"\n") >= 1:
                break
            time.sleep(0.02)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait()
        lines = journal.read_bytes().count(b"\n")
        assert 1 <= lines < 4 and not (out / "02_necessity.jsonl").exists()
        resumed = subprocess.run(command, env=env, capture_output=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr.decode()
    assert len(read(journal)) == 4  # no lost, no duplicated rows
    for name in VIEWS:
        assert (out / name).read_bytes() == (finished["out"] / name).read_bytes(), name


def test_server_errors_and_timeouts_fail_their_records_with_reasons(tmp_path):
    """A 500 in one record's necessity call and a timeout in another's verify call."""
    base = script()

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        if "whether an assistant must call a tool" in text and "Porto" in text:
            return {"status": 500}
        if "for atomicity" in text and "Madrid" in text:
            return {**base(body), "delay": 3.0}
        return base(body)

    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()[:3]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    with ScriptedLLMServer(answer) as server:
        client = LLMClient(MODEL, base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", concurrency=4, max_retries=1,
                           backoff=0.0, timeout=1.0)

        async def main() -> RunSummary:
            async with client:
                return await run_pipeline([inputs], out, client, min_hops=1, max_hops=3,
                                          pack_name="trip", progress=False)

        summary = asyncio.run(main())
    necessity_failures = read(out / "02_necessity.failed.jsonl")
    verify_failures = read(out / "03_verify.failed.jsonl")
    assert [f["failure"]["stage"] for f in necessity_failures] == ["necessity"]
    assert "500" in necessity_failures[0]["failure"]["reason"]
    assert [f["failure"]["stage"] for f in verify_failures] == ["verify"]
    assert "atomicity" in verify_failures[0]["failure"]["reason"]
    assert "time" in verify_failures[0]["failure"]["reason"].lower()
    assert summary.stages["compile"]["compiled"] == 1  # Lisbon alone reaches the pack


def test_retry_failed_reruns_only_the_failed_records(tmp_path):
    """A run against a flaky endpoint, then --retry-failed against a healthy one."""
    base = script()

    def flaky(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        if "whether an assistant must call a tool" in text and "Porto" in text:
            return {"status": 503}
        return base(body)

    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()[:3]) + "\n", encoding="utf-8")
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["synth", "run", "--input", str(inputs), "--out", str(out), "--model", MODEL,
            "--api-key", "k", "--max-retries", "0", "--min-hops", "1", "--max-hops", "3",
            "--name", "trip", "--quiet", "--cache-dir", str(cache)]
    with ScriptedLLMServer(flaky) as server:
        assert cli_main([*args, "--base-url", server.base_url]) == 0
    assert len(read(out / "02_necessity.failed.jsonl")) == 1
    assert len(read(out / "pack" / "tasks.jsonl")) == 2
    with ScriptedLLMServer(base) as server:
        assert cli_main([*args, "--base-url", server.base_url]) == 0  # a plain rerun
        assert not server.chat_requests  # skips everything, the failure included
        assert cli_main([*args, "--base-url", server.base_url, "--retry-failed"]) == 0
        asked = [r.body["messages"][0]["content"] for r in server.chat_requests]
    assert asked and all("Porto" in text for text in asked)  # only the failed record
    assert not (out / "02_necessity.failed.jsonl").read_text(encoding="utf-8")
    assert len(read(out / "pack" / "tasks.jsonl")) == 3
    necessity = read(out / "02_necessity.jsonl")
    assert len(necessity) == 4  # the failure's line stays; the retry's supersedes it
    assert stats(out)["stages"]["necessity"] == {"ok": 3, "failed": 0, "reasons": {}}


# -- the new user's path: the endpoint checked first, a dead run exits non-zero ---------------


def synth_cli(*argv: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``astra-gym synth ARGV`` in a fresh process (real exit code, real stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [
        (env or {}).get("PYTHONPATH"), str(Path(__file__).resolve().parents[2])]))
    return subprocess.run([sys.executable, "-m", "astra_gym.cli", "synth", *argv],
                          capture_output=True, text=True, timeout=timeout,
                          env={**environ, **{k: v for k, v in (env or {}).items()
                                             if k != "PYTHONPATH"}})


def three_inputs(tmp_path: Path) -> Path:
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()[:3]) + "\n", encoding="utf-8")
    return inputs


def test_an_unreachable_endpoint_stops_the_run_before_any_record(tmp_path):
    server = ScriptedLLMServer([])
    url = server.base_url
    server.close()  # nothing listens there now
    out = tmp_path / "run"
    started = time.monotonic()
    result = synth_cli("run", "--input", str(three_inputs(tmp_path)), "--out", str(out),
                       "--model", MODEL, "--base-url", url, "--max-retries", "3")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"endpoint {url} is not usable: connection error" in result.stderr
    assert "nothing was processed" in result.stderr
    assert not (out / "01_generate.jsonl").exists()  # no record was processed
    assert time.monotonic() - started < 30  # not each record's retries


def test_a_missing_openai_extra_is_reported_before_any_record(tmp_path):
    fake = tmp_path / "site" / "openai"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named openai')\n")
    out = tmp_path / "run"
    result = synth_cli("run", "--input", str(three_inputs(tmp_path)), "--out", str(out),
                       "--model", MODEL, "--base-url", "http://127.0.0.1:9/v1",
                       env={"PYTHONPATH": str(tmp_path / "site")})
    assert result.returncode == 2, result.stderr
    assert 'pip install "astra-gym[openai]"' in result.stderr
    assert "Traceback" not in result.stderr and not (out / "01_generate.jsonl").exists()


def test_a_run_where_every_record_failed_exits_1_with_reasons_and_the_retry_hint(tmp_path):
    out = tmp_path / "run"
    with ScriptedLLMServer(lambda body: {"status": 500}) as server:
        result = synth_cli("run", "--input", str(three_inputs(tmp_path)), "--out", str(out),
                           "--model", MODEL, "--base-url", server.base_url,
                           "--max-retries", "0")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "every record failed at the generate stage (3 of 3)" in result.stderr
    assert "3 x generate: generation: LLM call failed: HTTP 500" in result.stderr
    assert "--retry-failed" in result.stderr
    assert len(read(out / "01_generate.failed.jsonl")) == 3


def test_a_partly_failed_run_exits_0_and_shows_the_reasons(tmp_path):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()) + "\n", encoding="utf-8")  # line 4 fails
    with ScriptedLLMServer(script()) as server:
        result = synth_cli("run", "--input", str(inputs), "--out", str(tmp_path / "run"),
                           "--model", MODEL, "--base-url", server.base_url, "--max-retries",
                           "0", "--min-hops", "1", "--max-hops", "3", "--name", "trip")
    assert result.returncode == 0, result.stderr
    assert "top failure reasons:" in result.stdout
    assert "1 x generate: generation: LLM call failed: extraction failed" in result.stdout
    assert "--retry-failed" in result.stdout


def test_synth_compile_needs_no_model(finished, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "05_merge.ok.jsonl").write_bytes((finished["out"] / "05_merge.ok.jsonl").read_bytes())
    result = synth_cli("compile", "--out", str(out), "--name", "trip", "--quiet")
    assert result.returncode == 0, result.stderr
    assert len(read(out / "pack" / "tasks.jsonl")) == 3
    result = synth_cli("generate", "--out", str(out), "--input", str(finished["inputs"]))
    assert result.returncode == 2 and "--model is needed for the generate stage" in result.stderr
