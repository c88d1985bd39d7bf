"""``astra-gym sft export``: the message grammar, selection, dedupe, split and card."""

from __future__ import annotations

import asyncio
import copy
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from traj_model import TrajectoryModel

from astra_gym.cli import main as cli_main
from synth.llm import LLMClient
from synth.sft.export import export_run, grammar_problems
from synth.sft.runner import SftOptions, read_jsonl, run_sft

CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
TOOLS = [{"type": "function", "function": {"name": "f", "description": "d",
                                           "parameters": {"type": "object"}}}]
GOOD = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "reasoning_content": "r", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "c1", "name": "f", "content": "1"},
        {"role": "assistant", "content": "a"}]


def broken(index: int, **change: Any) -> list[dict[str, Any]]:
    messages = copy.deepcopy(GOOD)
    messages[index].update(change)
    return messages


def with_call(**function: Any) -> list[dict[str, Any]]:
    return broken(2, tool_calls=[{**CALL, "function": {**CALL["function"], **function}}])


CASES = {
    "unknown role": broken(1, role="human"),
    "system not first": [GOOD[1], GOOD[0], *GOOD[2:]],
    "user content not text": broken(1, content=["q"]),
    "assistant before user": [GOOD[0], GOOD[4], GOOD[1], GOOD[4]],
    "empty tool_calls": broken(2, tool_calls=[]),
    "neither content nor calls": [*GOOD[:2], {"role": "assistant", "content": None}, GOOD[4]],
    "assistant content not text": broken(4, content=5),
    "reasoning not text": broken(2, reasoning_content=3),
    "call without id": broken(2, tool_calls=[{**CALL, "id": ""}]),
    "call not a function": broken(2, tool_calls=[{**CALL, "type": "code"}]),
    "call without name": with_call(name=""),
    "arguments not a string": with_call(arguments={"x": 1}),
    "arguments not JSON": with_call(arguments="{x: 1"),
    "arguments not an object": with_call(arguments="[1]"),
    "duplicate call id": broken(2, tool_calls=[CALL, CALL]),
    "tool answers no call": broken(3, tool_call_id="c9"),
    "tool content not text": broken(3, content={"a": 1}),
    "call without tool message": [*GOOD[:3], GOOD[4]],
    "tool message after the answer": [*GOOD, GOOD[3]],
    "last message with calls": [*GOOD[:4], GOOD[2] | {"tool_calls": [{**CALL, "id": "c2"}]}],
    "empty final answer": broken(4, content="  "),
    "no messages": [],
}


def test_a_valid_conversation_passes():
    assert grammar_problems(GOOD, TOOLS) == []
    assert grammar_problems(GOOD[1:], []) == []


@pytest.mark.parametrize("name", list(CASES))
def test_each_grammar_rule(name):
    assert grammar_problems(CASES[name], TOOLS), name


@pytest.mark.parametrize("tools", [
    {"f": 1}, [{"type": "function"}], [{"type": "function", "function": {"name": ""}}],
    TOOLS + TOOLS, [{"type": "function", "function": {"name": "f", "parameters": "x"}}]])
def test_tool_list_rules(tools):
    assert grammar_problems(GOOD, tools)


@pytest.fixture(scope="module")
def judged(tmp_path_factory) -> Path:
    """A judged run: 4 demo-pack tasks x 2 samples (identical: dedupe) and low QP on one."""
    root = tmp_path_factory.mktemp("export") / "run"

    def qp(text: str, body: dict) -> Any:
        if "SKU-LM-1180" in text:
            return {"content": json.dumps({"reason": "partial", "score": 0})}
        return None

    options = SftOptions(env=("astra/demo-v0",), env_tasks=4, samples=2, min_score=0.5,
                         env_sandbox="process")  # see _make_samples_duplicates
    with ScriptedLLMServer(TrajectoryModel(judges={"QP": qp})) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=root / "cache", max_retries=0, backoff=0.0)

        async def main():
            async with client:
                return await run_sft(root, client, stages=("rollout", "judge"), options=options,
                                     progress=False)

        summary = asyncio.run(main())
    assert summary.stages["judge"]["scored"] == 8
    _make_samples_duplicates(root / "09_judge.ok.jsonl")
    return root


def _make_samples_duplicates(path: Path) -> None:
    """Give each task's second sample the first one's conversation (export's input only).

    The scripted model ignores the sampling seed, so the two samples of a task come out
    identical, and these tests rely on that for their duplicates. One CI run out of
    several (3 December, full suite, never reproduced alone, under load, with other
    hash seeds, GC thresholds or thread switch intervals) got one sample of a task with
    a different, unsuccessful conversation; a later one kept the run: one call of the
    in-process sandbox had answered "internal sandbox error (SystemError)" while the
    two samples ran in threads. That defect is open; these rollouts use process
    isolation, the default. These tests are about export, so the
    duplicates are made explicit here; a difference is still reported, as a warning
    with what differed, for whoever looks into it next.
    """
    rows = read_jsonl(path)
    first: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["task_id"], r["sample"])):
        model = first.setdefault(row["task_id"], row)
        if row is model:
            continue
        if (row["messages"], row["tools"]) != (model["messages"], model["tools"]):
            differ = next((i for i, (a, b) in enumerate(zip(row["messages"], model["messages"],
                                                             strict=False)) if a != b), None)
            warnings.warn(f"samples of {row['task_id']} differ (message {differ}): "
                          f"{json.dumps(model['messages'])[:1500]} | labels "
                          f"{model.get('labels')} vs {json.dumps(row['messages'])[:1500]} | "
                          f"labels {row.get('labels')}", UserWarning, stacklevel=1)
        row.update({key: copy.deepcopy(model.get(key))
                    for key in ("messages", "tools", "labels", "calls", "judgement")})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_export_selects_dedupes_and_writes_a_card(judged, tmp_path):
    summary = export_run(judged, tmp_path / "data", min_score=0.9, split=1.0)
    assert summary.scored == 8 and summary.kept == 3
    assert dict(summary.dropped) == {"below_min_score": 2, "duplicate": 3}
    assert summary.splits == {"train": 3} and not (tmp_path / "data" / "test.jsonl").exists()
    lines = read_jsonl(tmp_path / "data" / "train.jsonl")
    for line in lines:
        assert set(line) == {"messages", "tools", "metadata"}
        assert grammar_problems(line["messages"], line["tools"]) == []
        meta = line["metadata"]
        assert meta["backend"] == "env" and meta["labels"]["f1"] == 1.0
        assert meta["judge"]["overall"] >= 0.9 and meta["model"] == "scripted"
        assert meta["wall_s"] is not None and meta["seeds"]["env_seed"] is not None
        assert all("usage" not in p and "cached" not in p for p in meta["provenance"])
        assert line["messages"][2]["reasoning_content"] == "I plan the calls first."
    assert len({line["metadata"]["content_hash"] for line in lines}) == 3
    card = (tmp_path / "data" / "README.md").read_text(encoding="utf-8")
    assert "| judged (scored) | 8 |" in card and "| dropped: duplicate | 3 |" in card
    assert "| **train** | 3 |" in card and "| env | 3 |" in card
    overall = next(line for line in card.splitlines() if line.startswith("| overall |"))
    assert overall.endswith("| 6 | 0 |")  # six at 1.0 (two samples x three tasks)


def test_the_split_is_by_content_hash_and_reproducible(judged, tmp_path):
    export_run(judged, tmp_path / "a", min_score=0.0, split=0.5)
    export_run(judged, tmp_path / "b", min_score=0.0, split=0.5)
    for name in ("train.jsonl", "test.jsonl", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    train = read_jsonl(tmp_path / "a" / "train.jsonl")
    test = read_jsonl(tmp_path / "a" / "test.jsonl")
    assert len(train) + len(test) == 4
    for line in train:
        assert int(line["metadata"]["content_hash"][:8], 16) / 2**32 < 0.5
    for line in test:
        assert int(line["metadata"]["content_hash"][:8], 16) / 2**32 >= 0.5


def test_env_requirements_at_export(judged, tmp_path):
    assert export_run(judged, tmp_path / "a", min_score=0.0, require_success=True).kept == 4
    summary = export_run(judged, tmp_path / "b", min_score=0.0, min_f1=1.0)
    assert summary.kept == 4


def test_a_row_that_breaks_the_grammar_is_not_exported(judged, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(judged, run, ignore=shutil.ignore_patterns("cache"))
    rows = read_jsonl(run / "09_judge.ok.jsonl")
    rows[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] = "{oops"
    (run / "09_judge.ok.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = export_run(run, tmp_path / "data", min_score=0.0)
    assert summary.dropped["invalid_grammar"] == 1


def test_the_export_command(judged, tmp_path, capsys):
    out = tmp_path / "data"
    assert cli_main(["sft", "export", str(judged), "--out", str(out), "--min-score", "0.9"]) == 0
    assert "3 of 8 judged trajectories" in capsys.readouterr().out
    assert cli_main(["sft", "export", str(judged), "--out", str(out), "--min-score", "1.1"]) == 2
    assert cli_main(["sft", "export", str(judged), "--out", str(out), "--split", "0"]) == 2
    assert cli_main(["sft", "export", str(judged), "--out", str(out), "--min-f1", "2"]) == 2
    assert cli_main(["sft", "export", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert "run the rollout and judge stages first" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "09_judge.ok.jsonl").write_text("")
    assert cli_main(["sft", "export", str(empty), "--out", str(out)]) == 1
    assert "no trajectory was kept" in capsys.readouterr().err
