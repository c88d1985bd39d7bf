"""The seven judges (``synth.sft.judges``): scales, rules, aggregation, and fail-closed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from traj_harness import record_for, run_rollout, weather_task
from traj_model import TrajectoryModel, full_marks, items

from synth.llm import LLMClient
from synth.sft.common import SftFailure
from synth.sft.judges import DIMENSIONS, TrajectoryView, judge_stage, keep_reasons
from synth.sft.runner import SftOptions, read_jsonl, run_sft


def run_judge(row: dict[str, Any], model: Any, tmp_path: Path, retries: int = 0) -> Any:
    with ScriptedLLMServer(model) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "judge-cache", max_retries=retries,
                           backoff=0.0, timeout=20.0)

        async def main() -> dict[str, Any]:
            async with client:
                return await judge_stage(row, client)

        try:
            return asyncio.run(main())
        except SftFailure as failure:
            return failure


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory) -> dict[str, Any]:
    """An emulated trajectory with an injected failure and its retry."""
    root = tmp_path_factory.mktemp("judge")
    for seed in range(40):
        record = record_for(weather_task(), seed=seed)
        row, _ = run_rollout(record, TrajectoryModel(), root / str(seed), injection_p=0.3)
        if row["injected_failures"] == 1:
            return row
    raise AssertionError("no seed injected exactly one failure")


def test_full_marks_and_the_items_of_each_judge(trajectory, tmp_path):
    model = TrajectoryModel()
    judged = run_judge(trajectory, model, tmp_path)
    assert not isinstance(judged, SftFailure), judged
    judgement = judged["judgement"]
    assert list(judgement["scores"]) == list(DIMENSIONS)
    view = TrajectoryView(trajectory)
    # 2 parallel calls (one injected), a retry, a final answer: 2 batches, 1 round j >= 2
    assert [b for b, _, _ in view.batches] == ["B1", "B2"] and view.rounds == [("R2", 5)]
    assert list(view.call_ids.values()) == ["C1", "C2", "C3"]
    # TCS: the injected failure is decided by rule (0) and not asked; the others are judged
    assert judgement["scores"]["TCS"] == round(2 / 3, 4)
    assert sum(1 for item in judgement["dimensions"]["TCS"]["items"] if "rule" in item) == 1
    assert sorted(model.kinds) == sorted(DIMENSIONS)
    assert all(judgement["scores"][d] == 1.0 for d in DIMENSIONS if d != "TCS")
    assert judgement["overall"] == round((6 + 2 / 3) / 7, 4)
    assert judged["provenance"][-1]["stage"] == "judge"


def test_dimensions_without_items_are_not_applicable_and_not_asked(tmp_path):
    class Direct(TrajectoryModel):
        def task_turn(self, tools, messages):
            return [], "Porto will be sunny tomorrow."

    row, _ = run_rollout(record_for(weather_task()), Direct(), tmp_path)
    model = TrajectoryModel()
    judged = run_judge(row, model, tmp_path)
    scores = judged["judgement"]["scores"]
    assert [d for d, s in scores.items() if s is None] == ["TCU", "TCP", "TCS", "TC"]
    assert sorted(model.kinds) == ["FA", "QP", "QU"]
    assert judged["judgement"]["overall"] == 1.0


def test_the_language_mismatch_hard_zero(tmp_path):
    class Chinese(TrajectoryModel):
        def task_turn(self, tools, messages):
            return [], "波尔图明天晴天。"

    row, _ = run_rollout(record_for(weather_task()), Chinese(), tmp_path)
    judged = run_judge(row, TrajectoryModel(), tmp_path)
    fa = judged["judgement"]["dimensions"]["FA"]
    assert fa["parts"] == {"correctness": 0.0, "summary": 1.0} and fa["score"] == 0.5
    assert "by rule" in fa["note"]


def reply(value: Any) -> dict[str, str]:
    return {"content": value if isinstance(value, str) else json.dumps(value)}


def drop_first(kind: str):
    def make(text: str, body: dict) -> Any:
        value = full_marks(kind, text)
        key = next(iter(value))
        return reply({key: value[key][1:]})
    return make


def repeat_first(kind: str):
    def make(text: str, body: dict) -> Any:
        value = full_marks(kind, text)
        key = next(iter(value))
        return reply({key: value[key] + value[key][:1]})
    return make


def unknown_item(kind: str):
    def make(text: str, body: dict) -> Any:
        value = full_marks(kind, text)
        key = next(iter(value))
        return reply({key: [*value[key], {**value[key][0], "id": "Z9"}]})
    return make


def scaled(kind: str, score: Any):
    def make(text: str, body: dict) -> Any:
        value = full_marks(kind, text)
        if kind in ("QU", "QP"):
            value["score"] = score
        elif kind == "FA":
            value["summary"]["score"] = score
        else:
            field = "success" if kind == "TCS" else "score"
            value[next(iter(value))][0][field] = score
        return reply(value)
    return make


BAD = [(kind, "garbage", lambda t, b: reply("I think it is fine, 10/10!"))
       for kind in DIMENSIONS]
BAD += [(kind, "empty object", lambda t, b: reply({})) for kind in DIMENSIONS]
BAD += [("FA", "missing summary", lambda t, b: reply({"correctness": {"score": 1}})),
        ("QU", "missing score", lambda t, b: reply({"reason": "fine"}))]
BAD += [(kind, f"out of scale {score!r}", scaled(kind, score))
        for kind in ("QU", "QP", "TCU", "TCP", "FA") for score in (0.7, 2, "1", True, None)]
BAD += [("TC", "out of scale 0.5", scaled("TC", 0.5)), ("TCS", "not a boolean", scaled("TCS", 1))]
BAD += [(kind, "missing item", drop_first(kind)) for kind in ("TCU", "TCS", "TC")]
BAD += [(kind, "repeated item", repeat_first(kind)) for kind in ("TCU", "TCP", "TCS", "TC")]
BAD += [(kind, "unknown item", unknown_item(kind)) for kind in ("TCU", "TCP", "TCS", "TC")]


@pytest.mark.parametrize(("kind", "what", "bad"), BAD, ids=[f"{k}-{w}" for k, w, _ in BAD])
def test_an_unusable_judgement_never_scores_a_trajectory(trajectory, tmp_path, kind, what, bad):
    model = TrajectoryModel(judges={kind: bad})
    judged = run_judge(trajectory, model, tmp_path)
    assert isinstance(judged, SftFailure), f"{kind} {what} scored the trajectory"
    assert judged.code == "unscored" and judged.reason.startswith(f"{kind}: ")
    assert model.kinds.count(kind) >= 1


def test_a_rejected_item_list_is_asked_again_with_the_reason(trajectory, tmp_path):
    asked: list[str] = []

    def once_wrong(text: str, body: dict) -> Any:
        asked.append(body["messages"][-1]["content"])
        return drop_first("TC")(text, body) if len(asked) == 1 else None

    judged = run_judge(trajectory, TrajectoryModel(judges={"TC": once_wrong}), tmp_path)
    assert not isinstance(judged, SftFailure) and judged["judgement"]["scores"]["TC"] == 1.0
    assert len(asked) == 2 and "exactly once" in asked[1]


def test_keep_reasons():
    row = {"judgement": {"overall": 0.8}, "backend": "env",
           "labels": {"success": False, "f1": 0.5}}
    assert keep_reasons(row, min_score=0.75) == []
    assert [c for c, _ in keep_reasons(row, min_score=0.9)] == ["below_min_score"]
    assert [c for c, _ in keep_reasons(row, min_score=0.5, require_success=True, min_f1=0.6)] \
        == ["env_unsuccessful", "below_min_f1"]
    assert keep_reasons({**row, "backend": "emulated"}, min_score=0.5, require_success=True,
                        min_f1=0.9) == []
    assert keep_reasons({"judgement": {"overall": None}}, min_score=0.0)


def test_the_judge_stage_splits_kept_below_and_unscored(tmp_path):
    from astra_gym.pack import Pack, demo_pack_path

    ids = Pack(demo_pack_path()).task_ids[:3]

    def qp(text: str, body: dict) -> Any:
        if "SKU-LM-1180" in text:  # the second task: half marks on QP
            return reply({"reason": "partial", "score": 0.5})
        return None

    def fa(text: str, body: dict) -> Any:
        return reply("no idea") if "1Z84F22A0391" in text else None  # the first: garbage

    model = TrajectoryModel(judges={"QP": qp, "FA": fa})
    options = SftOptions(env=("astra/demo-v0",), env_tasks=3, min_score=0.95,
                         require_success=True, env_sandbox="inprocess")
    with ScriptedLLMServer(model) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=0, backoff=0.0)

        async def main():
            async with client:
                return await run_sft(tmp_path / "run", client, stages=("rollout", "judge"),
                                     options=options, progress=False)

        summary = asyncio.run(main())
    assert summary.stages["judge"] == {"input": 3, "skipped": 0, "ok": 1, "failed": 2,
                                       "scored": 2, "not_kept": 1}
    failed = read_jsonl(tmp_path / "run" / "09_judge.failed.jsonl")
    assert [r["failure"]["code"] for r in failed] == ["unscored", "below_min_score"]
    assert "judgement" not in failed[0] and failed[0]["failure"]["reason"].startswith("FA: ")
    assert failed[1]["judgement"]["scores"]["QP"] == 0.5
    kept = read_jsonl(tmp_path / "run" / "09_judge.ok.jsonl")
    assert [r["task_id"] for r in kept] == [ids[2]]
    assert [r["task_id"] for r in failed] == [ids[0], ids[1]]
    assert items("B1: x\nC2\n[3] y") == ["B1", "C2"]
    # a new threshold re-splits the judged trajectories without a request
    with ScriptedLLMServer([]) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=0, backoff=0.0)

        async def again():
            async with client:
                return await run_sft(tmp_path / "run", client, stages=("rollout", "judge"),
                                     options=SftOptions(env=("astra/demo-v0",), env_tasks=3,
                                                        min_score=0.5), progress=False)

        summary = asyncio.run(again())
        assert not server.chat_requests
    assert summary.stages["judge"]["ok"] == 2 and summary.stages["rollout"]["skipped"] == 3
