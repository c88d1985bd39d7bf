"""synth.stages.necessity and synth.stages.verify against a scripted server; keep_rows."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from stage_harness import run_stage

from synth.stages import StageFailure, keep_rows, necessity, score_cutoff, verify

# Non-contiguous _uuids, listed out of id order: a lookup by list position breaks here.
ROW: dict[str, Any] = {
    "scenario_type": "Parallel Multi-Hop",
    "main_question": "What is the total cost of 3 nights at the cheapest Lisbon hotel?",
    "final_answer": "EUR 261",
    "decomposition_trace": [
        {"_uuid": 9, "hop_level": 1, "sub_question": "Which Lisbon hotel is cheapest?",
         "sub_answer": "Hotel Sol", "dependency": None, "is_parallel": True},
        {"_uuid": 5, "hop_level": 1, "sub_question": "How many nights is the stay?",
         "sub_answer": "3", "dependency": None, "is_parallel": True},
        {"_uuid": 12, "hop_level": 2, "sub_question": "What is Hotel Sol's nightly rate?",
         "sub_answer": "EUR 87", "dependency": [9], "is_parallel": False},
        {"_uuid": 40, "hop_level": 3, "sub_question": "What is 3 nights at EUR 87?",
         "sub_answer": "EUR 261", "dependency": [12, 5], "is_parallel": False},
    ],
    "uuid": "row-1",
    "_metadata": {"domain": "travel"},
    "provenance": [{"stage": "generate", "model": "m", "prompt_version": "1", "attempts": 1,
                    "cached": False}],
}
IDS = [9, 5, 12, 40]


def run(stage: Callable[..., Any], script: Any, record: Any, tmp_path: Path, *,
        retries: int = 0) -> tuple[dict[str, Any] | StageFailure, ScriptedLLMServer]:
    return run_stage(lambda client: stage(record, client), script, tmp_path, model="judge",
                     retries=retries)


def prompt_of(body: dict[str, Any]) -> str:
    return body["messages"][0]["content"]


# -- necessity -------------------------------------------------------------------

def necessity_reply(flags: dict[int, bool], ids: list[Any] = IDS) -> str:
    return json.dumps([{"_uuid": uid, "tool_necessity": flags.get(uid, True),
                        "reason": f"why {uid}"} for uid in ids])


def test_necessity_annotates_and_computes_legitimacy(tmp_path):
    record = copy.deepcopy(ROW)
    row, server = run(necessity, [necessity_reply({40: False})], record, tmp_path)
    assert isinstance(row, dict), row
    assert record == ROW  # never mutated
    trace = row["decomposition_trace"]
    assert [item["tool_necessity"] for item in trace] == [True, True, True, False]
    assert [item["reason"] for item in trace] == [f"why {uid}" for uid in IDS]
    assert row["tool_necessity_legitimacy"] is True  # only the leaf (40) is tool-free
    assert [p["stage"] for p in row["provenance"]] == ["generate", "necessity"]
    assert row["provenance"][1] | {"usage": None} == {
        "stage": "necessity", "model": "judge", "prompt_version": "1", "attempts": 1,
        "cached": False, "calls": 1, "usage": None}
    assert "Hotel Sol" in prompt_of(server.chat_requests[0].body)


@pytest.mark.parametrize("tool_free", [9, 5, 12])
def test_necessity_legitimacy_false_when_a_non_leaf_needs_no_tool(tmp_path, tool_free):
    row, _ = run(necessity, [necessity_reply({tool_free: False})], ROW, tmp_path)
    assert isinstance(row, dict) and row["tool_necessity_legitimacy"] is False


@pytest.mark.parametrize("ids", [[9, 5, 12], [5, 9, 12, 40], [9, 5, 12, 40, 41], [1, 2, 3, 4]])
def test_necessity_misaligned_reply_fails(tmp_path, ids):
    failure, _ = run(necessity, [necessity_reply({}, ids)] * 3, ROW, tmp_path)
    assert isinstance(failure, StageFailure) and failure.stage == "necessity"
    assert failure.reason.startswith("reply does not align with the trace: expected _uuids "
                                     "['9', '5', '12', '40'] in order")
    assert failure.reason.endswith("(3 replies rejected)")


def test_necessity_invalid_reply_and_invalid_trace_fail(tmp_path):
    failure, _ = run(necessity, ['[{"_uuid": 9, "needed": true}]'], ROW, tmp_path)
    assert isinstance(failure, StageFailure) and "validation failed" in failure.reason
    broken = copy.deepcopy(ROW)
    broken["decomposition_trace"][2]["dependency"] = [40]
    failure, server = run(necessity, [], broken, tmp_path)
    assert isinstance(failure, StageFailure) and server.chat_requests == []
    assert "sub-question 12 (hop 2) depends on 40 (hop 3)" in failure.reason


# -- verify ----------------------------------------------------------------------

def judge(*, dependency: Callable[[str], str] | None = None, atomicity: str | None = None,
          sequential: str | None = None, completeness: str | None = None,
          ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A scripted judge routing each request to its dimension by the prompt's wording."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = prompt_of(body)
        if "depend on exactly the right earlier steps" in text:
            content = (dependency or (lambda _: '{"verdict": "matched", "reason": "ok"}'))(text)
        elif "for atomicity" in text:
            content = atomicity or json.dumps(
                {"items": [{"_uuid": uid, "is_atomic": 1} for uid in IDS]})
        elif "audit the ordering" in text:
            content = sequential or '{"problematic_steps": [], "reason": "fine"}'
        elif "covers everything" in text:
            content = completeness or json.dumps(
                {"requirements": [{"requirement": "total", "covered": True}], "complete": True})
        else:
            raise AssertionError(f"unexpected prompt: {text[:80]}")
        return {"content": content}

    return answer


def test_verify_scores_four_dimensions_with_references_by_uuid(tmp_path):
    def dependency(text: str) -> str:
        verdict = "matched" if "step_9_query" in text else "redundant_reference"
        return json.dumps({"verdict": verdict, "reason": "r"})

    script = judge(
        dependency=dependency,
        atomicity=json.dumps({"items": [{"_uuid": 40, "is_atomic": 0},
                                        *({"_uuid": uid, "is_atomic": True} for uid in IDS[:3])]}),
        sequential='{"problematic_steps": ["5"], "reason": "5 could move"}')
    record = copy.deepcopy(ROW)
    row, server = run(verify, script, record, tmp_path)
    assert isinstance(row, dict), row
    assert record == ROW
    result = row["verify_result"]
    info = result["extra_info"]
    assert list(info) == ["dependency", "data_quality", "forced_serialization", "completeness"]
    assert info["dependency"]["score"] == 0.5
    assert [(i["_uuid"], i["verdict"]) for i in info["dependency"]["items"]] == [
        (12, "matched"), (40, "redundant_reference")]
    assert info["data_quality"]["score"] == 0.75
    assert [i["is_atomic"] for i in info["data_quality"]["items"]] == [1, 1, 1, 0]
    assert info["forced_serialization"]["score"] == 0.75
    assert [s["score"] for s in info["forced_serialization"]["steps"]] == [1, 0, 1, 1]
    assert info["completeness"]["score"] == 1.0
    assert result["score"] == pytest.approx((0.5 + 0.75 + 0.75 + 1.0) / 4)
    assert row["provenance"][-1]["stage"] == "verify"
    assert row["provenance"][-1]["calls"] == 5 and row["provenance"][-1]["attempts"] == 5
    assert row["provenance"][-1]["prompt_version"] == {
        "verify_dependency": "1", "verify_atomicity": "1", "verify_sequential": "1",
        "verify_completeness": "1"}

    prompts = [prompt_of(r.body) for r in server.chat_requests]
    refs = {p.split("The step:")[1].split("\n")[1]: p for p in prompts if "step_" in p}
    # sub-question 40 depends on _uuids 12 and 5 (list positions 3 and 2): found by _uuid
    node40 = refs["What is 3 nights at EUR 87?"]
    assert "step_12_query: What is Hotel Sol's nightly rate?" in node40
    assert "step_12_answer: EUR 87" in node40
    assert "step_5_query: How many nights is the stay?" in node40
    assert "step_9_query" not in node40
    assert "step_9_query: Which Lisbon hotel is cheapest?" in refs["What is Hotel Sol's nightly "
                                                                   "rate?"]


def test_verify_unparsable_dimension_fails_instead_of_scoring_one(tmp_path):
    script = judge(sequential="The ordering looks fine to me!")
    failure, server = run(verify, script, ROW, tmp_path, retries=1)
    assert isinstance(failure, StageFailure) and failure.stage == "verify"
    assert failure.reason.startswith("sequential rationality: LLM call failed: extraction "
                                     "failed")
    assert "after 2 attempts" in failure.reason
    orderings = [r for r in server.chat_requests if "audit the ordering" in prompt_of(r.body)]
    assert len(orderings) == 2


@pytest.mark.parametrize("overrides, reason", [
    ({"completeness": '{"complete": true}'}, "completeness: LLM call failed: validation failed"),
    ({"dependency": lambda _: '{"verdict": "probably fine"}'},
     "dependency consistency of sub-question 12: LLM call failed: validation failed"),
    ({"atomicity": json.dumps({"items": [{"_uuid": uid, "is_atomic": 1} for uid in IDS[:3]]})},
     "atomicity: reply has no verdict for _uuids ['40']"),
    ({"atomicity": json.dumps({"items": [{"_uuid": uid, "is_atomic": 1} for uid in [*IDS, 3]]})},
     "atomicity: reply names _uuid 3 that is not in the trace"),
    ({"sequential": '{"problematic_steps": [2]}'},
     "sequential rationality: problematic_steps names _uuids not in the trace: ['2']"),
])
def test_verify_bad_replies_fail_with_reason(tmp_path, overrides, reason):
    failure, _ = run(verify, judge(**overrides), ROW, tmp_path)
    assert isinstance(failure, StageFailure) and reason in failure.reason


def test_verify_incomplete_and_no_dependency_trace(tmp_path):
    record = copy.deepcopy(ROW)
    record["decomposition_trace"] = [dict(item, dependency=None, hop_level=1)
                                     for item in record["decomposition_trace"]]
    incomplete = json.dumps({"requirements": [{"requirement": "a", "covered": True},
                                              {"requirement": "b", "covered": False}],
                             "complete": True})
    row, server = run(verify, judge(completeness=incomplete), record, tmp_path)
    assert isinstance(row, dict), row
    info = row["verify_result"]["extra_info"]
    assert info["dependency"] == {"score": 1.0, "items": [],
                                  "note": "no sub-question has dependencies"}
    assert info["completeness"]["score"] == 0.0
    assert row["verify_result"]["score"] == 0.75
    assert len(server.chat_requests) == 3  # no dependency call


def test_verify_rejects_a_broken_trace_without_calls(tmp_path):
    broken = copy.deepcopy(ROW)
    broken["decomposition_trace"][3]["dependency"] = [12, 77]
    failure, server = run(verify, judge(), broken, tmp_path)
    assert isinstance(failure, StageFailure) and server.chat_requests == []
    assert "sub-question 40 depends on _uuid 77, which is not in the trace" in failure.reason


# -- keep_rows -------------------------------------------------------------------

def scored(*scores: Any) -> list[dict[str, Any]]:
    return [{"uuid": str(i), "verify_result": {"score": s}} for i, s in enumerate(scores)]


def test_keep_rows_threshold():
    rows = scored(0.5, 0.85, 1.0, 0.84)
    assert [r["uuid"] for r in keep_rows(rows, threshold=0.85)] == ["1", "2"]


def test_keep_rows_percentile_of_the_run():
    rows = [*scored(*(i / 10 for i in range(11))), {"uuid": "failed", "failure": {}}]
    cutoff = score_cutoff(rows, percentile=90)
    assert cutoff == pytest.approx(0.9)
    kept = keep_rows(rows, percentile=90)
    assert [r["verify_result"]["score"] for r in kept] == [0.9, 1.0]
    assert len(keep_rows(rows, percentile=0)) == 11  # the failed row never counts
    assert keep_rows(scored(0.7, 0.7, 0.7), percentile=90) == scored(0.7, 0.7, 0.7)
    assert keep_rows([], percentile=90) == []


def test_keep_rows_needs_exactly_one_rule():
    with pytest.raises(ValueError, match="exactly one"):
        keep_rows(scored(1.0))
    with pytest.raises(ValueError, match="exactly one"):
        keep_rows(scored(1.0), threshold=0.5, percentile=90)
    with pytest.raises(ValueError, match="percentile"):
        keep_rows(scored(1.0), percentile=101)
