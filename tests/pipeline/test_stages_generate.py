"""synth.stages.generate against a scripted OpenAI-compatible server, real ASTRA input rows."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from stage_harness import run_stage

from synth.stages import StageFailure, generate
from synth.stages.generate import detect_mode, row_uuid
from synth.trace import validate_trace

DATA = Path("/work/shared/astra-data/knowledge")
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="ASTRA input data not available")


def first_row(name: str) -> dict[str, Any]:
    with open(DATA / "en" / name, encoding="utf-8") as lines:
        return json.loads(lines.readline())


def reply(trace: list[dict[str, Any]] | None = None, **fields: Any) -> str:
    body = {"scenario_type": "Multi-Hop",
            "main_question": "Is tomorrow evening in Albuquerque good for a rooftop party?",
            "final_answer": "Yes: calm, dry, sunset at 19:22",
            "decomposition_trace": trace if trace is not None else TRACE, **fields}
    return "<think>plan</think>\n```json\n" + json.dumps(body) + "\n```"


TRACE = [
    {"_uuid": 1, "hop_level": 1, "sub_question": "When is sunset in Albuquerque on 2025-09-04?",
     "sub_answer": "19:22", "dependency": None, "is_parallel": True},
    {"_uuid": 2, "hop_level": 1, "sub_question": "What wind is forecast there that evening?",
     "sub_answer": "5 mph", "dependency": None, "is_parallel": True},
    {"_uuid": 3, "hop_level": 2, "sub_question": "Is 5 mph wind at 19:22 calm for a party?",
     "sub_answer": "Yes", "dependency": [1, 2], "is_parallel": False},
]


def run(script: Any, record: Any, tmp_path: Path, *, retries: int = 0,
        **kwargs: Any) -> tuple[dict[str, Any] | StageFailure, ScriptedLLMServer]:
    """Run generate once; returns the row or the StageFailure, and the server."""
    return run_stage(lambda client: generate(record, client, **kwargs), script, tmp_path,
                     model="gen-model", retries=retries)


def test_success_on_a_real_context_row(tmp_path):
    record = first_row("context.jsonl")
    original = copy.deepcopy(record)
    row, server = run([reply()], record, tmp_path, min_hops=2, max_hops=3)
    assert isinstance(row, dict), row
    assert record == original  # never mutated
    assert row["decomposition_trace"] == TRACE and row["scenario_type"] == "Multi-Hop"
    assert validate_trace(row["decomposition_trace"])[1] == []
    assert row["uuid"] == row_uuid(record, 0, 2, 3)
    assert row["_metadata"] == {
        "domain": "weather", "language": "en", "knowledge_corpus": record["knowledge_corpus"],
        "model_name": "gen-model", "min_num_hops": 2, "max_num_hops": 3,
        "mode": "knowledge", "prompt_version": "2", "attempt": 0}
    assert row["provenance"] == [{"stage": "generate", "model": "gen-model",
                                  "prompt_version": "2", "attempts": 1, "cached": False,
                                  "calls": 1, "usage": row["provenance"][0]["usage"]}]
    body = server.chat_requests[0].body
    prompt = body["messages"][0]["content"]
    assert "Albuquerque" in prompt and "between 2 and 3" in prompt and "Domain: weather" in prompt
    assert body["temperature"] == 1.0 and "seed" not in body

    again, server = run([], record, tmp_path, min_hops=2, max_hops=3)  # from the cache
    assert isinstance(again, dict) and server.chat_requests == []
    assert again["uuid"] == row["uuid"]
    assert again["provenance"][0]["cached"] is True and again["provenance"][0]["attempts"] == 0


def test_question_mode_and_unconditional_mode(tmp_path):
    question = first_row("questions.jsonl")
    assert detect_mode(question) == "question"
    row, server = run([reply(main_question=question["question"])], question, tmp_path)
    assert isinstance(row, dict), row
    assert row["_metadata"]["mode"] == "question"
    assert row["_metadata"]["question"] == question["question"]
    assert row["_metadata"]["domain"] == question["domain"]
    assert question["question"] in server.chat_requests[0].body["messages"][0]["content"]

    domain = first_row("domains.jsonl")
    row, server = run([reply()], domain, tmp_path)
    assert isinstance(row, dict) and row["_metadata"]["knowledge_corpus"] == ""
    assert "No background knowledge" in server.chat_requests[0].body["messages"][0]["content"]


def test_attempt_changes_uuid_and_request(tmp_path):
    record = first_row("context.jsonl")
    row, server = run([reply()], record, tmp_path, attempt=2)
    assert isinstance(row, dict)
    assert row["uuid"] != row_uuid(record, 0, 1, 5) and row["uuid"] == row_uuid(record, 2, 1, 5)
    assert server.chat_requests[0].body["seed"] == 2


@pytest.mark.parametrize("content, reason", [
    ("I cannot help with that.", "extraction failed"),
    ('{"question": "q", "answer": "a"}', "validation failed"),
    (reply(trace=[]), "validation failed"),
    (reply(trace=[{**TRACE[0], "hop_level": "one"}]), "validation failed"),
])
def test_unusable_replies_fail_with_the_reason(tmp_path, content, reason):
    failure, _ = run([content], first_row("context.jsonl"), tmp_path)
    assert isinstance(failure, StageFailure)
    assert failure.stage == "generate" and reason in failure.reason
    assert failure.as_dict() == {"stage": "generate", "reason": failure.reason}


def test_invalid_reply_is_retried_then_fails_closed(tmp_path):
    failure, server = run(["not json", "still not json"], first_row("context.jsonl"), tmp_path,
                          retries=1)
    assert isinstance(failure, StageFailure) and "after 2 attempts" in failure.reason
    assert len(server.chat_requests) == 2


def test_http_error_fails(tmp_path):
    failure, _ = run([{"status": 500}], first_row("context.jsonl"), tmp_path)
    assert isinstance(failure, StageFailure) and "500" in failure.reason


@pytest.mark.parametrize("trace, reason", [
    ([{**TRACE[0], "dependency": [3]}, TRACE[1], TRACE[2]],
     "sub-question 1 (hop 1) depends on 3 (hop 2); dependencies must be in earlier hops"),
    ([TRACE[0], TRACE[1], {**TRACE[2], "dependency": [1, 9]}],
     "sub-question 3 depends on _uuid 9, which is not in the trace"),
    ([TRACE[0], {**TRACE[1], "_uuid": 1}],
     "_uuid 1 is used by two sub-questions"),
    ([{**TRACE[0], "hop_level": 0}], "sub-question 1 has hop_level 0"),
])
def test_broken_dag_fails(tmp_path, trace, reason):
    failure, server = run([reply(trace=trace)] * 3, first_row("context.jsonl"), tmp_path)
    assert isinstance(failure, StageFailure)
    assert failure.reason.startswith("invalid decomposition_trace: ") and reason in failure.reason
    assert failure.reason.endswith("(3 replies rejected)") and len(server.chat_requests) == 3


@pytest.mark.parametrize("hops, depth", [((3, 5), 2), ((1, 1), 2)])
def test_hop_depth_out_of_range_fails(tmp_path, hops, depth):
    failure, _ = run([reply()] * 3, first_row("context.jsonl"), tmp_path, min_hops=hops[0],
                     max_hops=hops[1])
    assert isinstance(failure, StageFailure)
    assert failure.reason == (f"trace depth {depth} (deepest hop_level) is outside the allowed "
                              f"range [{hops[0]}, {hops[1]}] (3 replies rejected)")


def test_bad_input_rows_fail_without_a_call(tmp_path):
    failure, server = run([], {"title": "x"}, tmp_path)
    assert isinstance(failure, StageFailure) and "neither question nor domain" in failure.reason
    failure, _ = run([], {"question": " ", "domain": "flights"}, tmp_path)
    assert isinstance(failure, StageFailure) and "question must be a non-empty string" in (
        failure.reason)
    assert server.chat_requests == []
    with pytest.raises(ValueError, match="min_hops"):
        run([], first_row("context.jsonl"), tmp_path, min_hops=3, max_hops=2)


# -- re-asking a schema-valid but rejected reply ---------------------------------------------

BROKEN = [{**TRACE[0], "dependency": [3]}, TRACE[1], TRACE[2]]  # a hop-1 step depends on hop 2


def reask_script(body: dict[str, Any]) -> str:
    """A rejected (broken DAG) first reply; a valid one when re-asked."""
    return reply(trace=BROKEN) if len(body["messages"]) == 1 else reply()


def test_a_rejected_reply_is_reasked_with_the_reason_then_accepted(tmp_path):
    record = first_row("context.jsonl")
    row, server = run(reask_script, record, tmp_path)
    assert isinstance(row, dict), row
    assert row["decomposition_trace"] == TRACE
    first, second = (request.body["messages"] for request in server.chat_requests)
    assert len(first) == 1 and second[0] == first[0]
    assert second[1] == {"role": "assistant", "content": reply(trace=BROKEN)}
    assert second[2]["role"] == "user"
    assert "depends on 3 (hop 2)" in second[2]["content"]  # the reason
    assert "attempt 2 of 3" in second[2]["content"]  # a new request, with its own cache key
    assert row["provenance"][0]["calls"] == 2

    replay, server = run([], record, tmp_path)  # the same asks, answered from the cache
    assert replay == {**row, "provenance": replay["provenance"]} and not server.chat_requests


def test_a_cached_rejection_does_not_block_the_record(tmp_path):
    """A cache that holds a rejected reply (a run before re-asking existed) is asked again."""
    record = first_row("context.jsonl")
    failure, _ = run([reply(trace=BROKEN)], record, tmp_path, max_hops=5)
    assert isinstance(failure, StageFailure)  # the re-ask found no reply: the script ran out
    row, server = run(reask_script, record, tmp_path)  # --retry-failed against a healthy model
    assert isinstance(row, dict), row
    assert [len(r.body["messages"]) for r in server.chat_requests] == [3]  # only the re-ask


def test_reasks_are_bounded(tmp_path):
    failure, server = run(lambda body: reply(trace=BROKEN), first_row("context.jsonl"),
                          tmp_path)
    assert isinstance(failure, StageFailure) and "(3 replies rejected)" in failure.reason
    assert [len(r.body["messages"]) for r in server.chat_requests] == [1, 3, 5]


# -- plain {question, answer} rows, and the language of the row ------------------------------


def test_question_answer_rows_keep_the_users_answer(tmp_path):
    record = {"question": "Is tomorrow evening in Albuquerque good for a rooftop party?",
              "answer": "Yes, it will be calm and dry"}
    assert detect_mode(record) == "question"
    row, server = run([reply()], record, tmp_path)
    assert isinstance(row, dict), row
    assert row["final_answer"] == "Yes, it will be calm and dry"  # not the model's wording
    assert row["_metadata"]["answer"] == "Yes, it will be calm and dry"
    assert row["_metadata"]["model_final_answer"] == "Yes: calm, dry, sunset at 19:22"
    assert row["_metadata"]["domain"] == "general"
    prompt = server.chat_requests[0].body["messages"][0]["content"]
    assert "Yes, it will be calm and dry" in prompt and "final_answer" in prompt


@pytest.mark.parametrize("answer", ["", "  ", True, {"a": 1}])
def test_question_answer_rows_with_an_unusable_answer_fail(tmp_path, answer):
    failure, server = run([], {"question": "q?", "answer": answer}, tmp_path)
    assert isinstance(failure, StageFailure) and "answer must be" in failure.reason
    assert not server.chat_requests


@pytest.mark.parametrize("question, language", [
    ("明日のアルバカーキの夜は屋上パーティーに向いていますか？", "ja"),
    ("東京タワーの高さは？", "ja"),
    ("내일 저녁 앨버커키는 옥상 파티에 적합한가요?", "ko"),
    ("明天晚上阿尔伯克基适合屋顶派对吗？", "zh"),
    ("Is tomorrow evening good for a party?", "en"),
])
def test_language_of_question_rows(tmp_path, question, language):
    row, _ = run([reply(main_question=question)], {"question": question, "answer": "x"},
                 tmp_path)
    assert isinstance(row, dict), row
    assert row["_metadata"]["language"] == language
