"""synth.stages.merge: step 5 (tool merging) against a scripted server and a process sandbox."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer
from stage_harness import run_stage

from astra_gym.sandbox import Sandbox
from synth.compiler import SourceRow, compile_row
from synth.stages import StageFailure, merge_tools

PRICE_CODE = '''def {name}(ticker: str, currency: str = "USD") -> dict:
    """Mock closing price of a stock."""
    if not isinstance(ticker, str) or not ticker.strip():
        return {{"error": "ticker must be a non-empty string"}}
    prices = {prices}
    price = prices.get(ticker.strip().upper())
    if price is None:
        raise ValueError(f"unknown ticker {{ticker}}")
    return {{"ticker": ticker.upper(), "close": f"{{price:,.2f}} {{currency}}"}}
'''


def price_code(name: str, prices: dict[str, float]) -> str:
    return PRICE_CODE.format(name=name, prices=repr(prices))


def price_doc(name: str) -> dict[str, Any]:
    return {"name": name, "description": "Get the latest closing price of a stock.",
            "parameters": {"type": "object", "properties": {
                "ticker": {"type": "string", "description": "Ticker symbol"},
                "currency": {"type": "string", "enum": ["USD", "EUR"]}},
                "required": ["ticker"]}}


VALUE_CODE = '''def position_value(price: float, shares: int) -> dict:
    """Value of a position."""
    return {"value": round(price * shares, 2)}
'''
VALUE_DOC = {"name": "position_value", "description": "Value of a stock position.",
             "parameters": {"type": "object", "properties": {
                 "price": {"type": "number"}, "shares": {"type": "integer"}},
                 "required": ["price", "shares"]}}
MERGED_CODE = price_code("get_stock_price", {"ACME": 1234.5, "GLOBEX": 88.25, "INITECH": 17.0})


def env(question: str, answer: str, call: str, doc: dict[str, Any], code: str) -> dict[str, Any]:
    return {"question": question, "answer": answer, "merge_flag": False,
            "env_synthesis_result": {"data": {"tool_document": doc, "tool_call_statement": call,
                                              "code": code, "tool_call_ans": None},
                                     "extra_info": {}}}


def step4_row(*, with_value: bool = False) -> dict[str, Any]:
    """Two parallel price lookups by two near-identical tools, a tool-free leaf."""
    trace = [
        {"_uuid": 1, "hop_level": 1, "sub_question": "GLOBEX close?", "sub_answer": "88.25 USD",
         "dependency": None, "is_parallel": True, "tool_necessity": True},
        {"_uuid": 2, "hop_level": 1, "sub_question": "INITECH close?",
         "sub_answer": "17.00 USD", "dependency": None, "is_parallel": True,
         "tool_necessity": True},
        {"_uuid": 3, "hop_level": 2, "sub_question": "Which closes higher?",
         "sub_answer": "GLOBEX", "dependency": [1, 2], "is_parallel": False,
         "tool_necessity": False},
    ]
    envs: dict[str, Any] = {
        "1": env("GLOBEX close?", "88.25 USD", "get_stock_price(ticker='GLOBEX')",
                 price_doc("get_stock_price"),
                 price_code("get_stock_price", {"ACME": 1234.5, "GLOBEX": 88.25})),
        "2": env("INITECH close?", "17.00 USD", "stock_close('INITECH')",
                 price_doc("stock_close"), price_code("stock_close", {"INITECH": 17.0})),
        "3": None,
    }
    if with_value:
        trace.insert(2, {"_uuid": 7, "hop_level": 2, "sub_question": "10 GLOBEX shares value?",
                         "sub_answer": "882.5", "dependency": [1], "is_parallel": True,
                         "tool_necessity": True})
        trace[-1]["hop_level"] = 3
        trace[-1]["dependency"] = [7, 2]
        envs["7"] = env("10 GLOBEX shares value?", "882.5",
                        "position_value(price=88.25, shares=10)", VALUE_DOC, VALUE_CODE)
    return {"uuid": "row-m", "scenario_type": "Parallel Multi-Hop",
            "main_question": "Which closes higher today, GLOBEX or INITECH?",
            "final_answer": "GLOBEX", "decomposition_trace": trace,
            "tool_necessity_legitimacy": True, "_metadata": {"domain": "finance"},
            "env_result": envs,
            "provenance": [{"stage": "tools", "model": "m", "prompt_version": "1"}]}


ROW = step4_row()
GOOD_CLUSTERS = {"clusters": [
    {"intent_summary": "stock close", "_uuids": [1, 2], "reason": "same lookup"}]}
GOOD_CALLS = [{"_uuid": 1, "tool_call_statement": "get_stock_price(ticker='GLOBEX')"},
              {"_uuid": 2, "tool_call_statement": "get_stock_price(ticker='INITECH')"}]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(isolation="process") as box:
        yield box


def script(*, clusters: Any = GOOD_CLUSTERS, code: Callable[[int], str] | str = MERGED_CODE,
           calls: Any = GOOD_CALLS) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Answer each prompt by its marker phrase; ``code`` may depend on the attempt number."""
    attempts = {"code": 0}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        if "group the tool-using steps" in text:
            value: Any = clusters
        elif "merge several mock tools" in text:
            attempts["code"] += 1
            value = {"merged_code": code(attempts["code"]) if callable(code) else code}
        elif "write one call of the merged tool" in text:
            value = calls
        else:
            raise AssertionError(f"unexpected prompt: {text[:80]}")
        return {"content": json.dumps(value)}

    return answer


def run(record: dict[str, Any], answer: Any, sandbox: Sandbox, tmp_path: Path, *,
        cache: str = "cache", **options: Any,
        ) -> tuple[dict[str, Any] | StageFailure, ScriptedLLMServer]:
    return run_stage(lambda client: merge_tools(record, client, sandbox, **options), answer,
                     tmp_path, model="merger", cache=cache)


def prompts(server: ScriptedLLMServer, marker: str) -> list[str]:
    return [r.body["messages"][0]["content"] for r in server.chat_requests
            if marker in r.body["messages"][0]["content"]]


def test_merges_two_lookups_into_one_tool_that_compiles(tmp_path, sandbox):
    record = copy.deepcopy(ROW)
    row, server = run(record, script(), sandbox, tmp_path)
    assert isinstance(row, dict), row
    assert record == ROW  # never mutated
    assert row["clusters"] == GOOD_CLUSTERS["clusters"]
    [entry] = row["aggregated_env"]
    assert entry["main_uuid"] == 1 and entry["_uuids"] == [1, 2]
    assert entry["status"] == "success" and entry["tool_names"] == ["get_stock_price"]
    assert entry["merged_code"] == MERGED_CODE
    assert entry["tool_document"] == price_doc("get_stock_price")
    assert entry["tool_call_statements"][1] == {
        "_uuid": 2, "tool_call_statement": "get_stock_price(ticker='INITECH')",
        "question": "INITECH close?", "answer": "17.00 USD"}
    verification = entry["verification"]
    assert verification["all_tests_passed"] is True and verification["retry_count"] == 0
    assert [r["status"] for r in verification["test_results"]] == ["passed", "passed"]
    assert "17.00 USD" in verification["test_results"][1]["stdout"]
    for uid, call in (("1", "get_stock_price(ticker='GLOBEX')"),
                      ("2", "get_stock_price(ticker='INITECH')")):
        data = row["env_result"][uid]["env_synthesis_result"]["data"]
        assert row["env_result"][uid]["merge_flag"] is True
        assert data["code"] == MERGED_CODE and data["tool_call_statement"] == call
        assert data["tool_document"] == price_doc("get_stock_price")
    assert row["env_result"]["3"] is None
    entry = row["provenance"][-1]
    assert entry["stage"] == "merge" and entry["calls"] == 3
    assert entry["prompt_version"] == {"merge_cluster": "1", "merge_code": "1",
                                       "merge_calls": "1"}
    cluster_prompt = prompts(server, "group the tool-using steps")[0]
    assert "INITECH close?" in cluster_prompt and "stock_close" in cluster_prompt

    outcome = compile_row(SourceRow("x.jsonl", 1, row), sandbox)
    assert outcome.status == "compiled", outcome.reasons
    assert outcome.shape == "step5" and outcome.gold_calls == 2
    assert [tool.name for tool in outcome.task.all_tools] == ["get_stock_price"]


def test_singletons_keep_their_tool(tmp_path, sandbox):
    record = step4_row(with_value=True)
    clusters = {"clusters": [*GOOD_CLUSTERS["clusters"],
                             {"intent_summary": "value", "_uuids": ["7"], "reason": "math"}]}
    row, _ = run(record, script(clusters=clusters), sandbox, tmp_path)
    assert isinstance(row, dict), row
    assert row["clusters"][1]["_uuids"] == [7]  # ids as written in the trace
    assert len(row["aggregated_env"]) == 1
    assert row["env_result"]["7"]["merge_flag"] is False
    assert row["env_result"]["7"]["env_synthesis_result"] == \
        record["env_result"]["7"]["env_synthesis_result"]
    outcome = compile_row(SourceRow("x.jsonl", 1, row), sandbox)
    assert outcome.status == "compiled", outcome.reasons
    assert sorted(tool.name for tool in outcome.task.all_tools) == ["get_stock_price",
                                                                   "position_value"]
    assert outcome.gold_calls == 3


@pytest.mark.parametrize("clusters, reason", [
    ({"clusters": [{"intent_summary": "a", "_uuids": [1], "reason": "r"}]},
     "clustering: not exhaustive, no cluster holds _uuids [2]"),
    ({"clusters": [{"intent_summary": "a", "_uuids": [1, 2, 9], "reason": "r"}]},
     "clustering: cluster 1 names _uuid 9, which is not a tool-needing sub-question"),
    ({"clusters": [{"intent_summary": "a", "_uuids": [1, 3], "reason": "r"},
                   {"intent_summary": "b", "_uuids": [2], "reason": "r"}]},
     "clustering: cluster 1 names _uuid 3, which is not a tool-needing sub-question"),
    ({"clusters": [{"intent_summary": "a", "_uuids": [1, 2], "reason": "r"},
                   {"intent_summary": "b", "_uuids": ["2"], "reason": "r"}]},
     "clustering: _uuid '2' is in cluster 1 and cluster 2"),
])
def test_invalid_clusters_fail(tmp_path, sandbox, clusters, reason):
    failure, server = run(ROW, script(clusters=clusters), sandbox, tmp_path)
    assert isinstance(failure, StageFailure) and failure.stage == "merge"
    assert failure.reason == f"{reason} (3 replies rejected)"
    assert len(server.chat_requests) == 3  # asked three times, nothing merged


def test_merged_code_that_changes_the_signature_fails(tmp_path, sandbox):
    changed = MERGED_CODE.replace('currency: str = "USD"', 'currency: str')
    failure, server = run(ROW, script(code=changed), sandbox, tmp_path, max_attempts=2)
    assert isinstance(failure, StageFailure) and failure.stage == "merge"
    assert failure.reason.startswith("cluster [1, 2] ('stock close') failed to merge after 2 "
                                     "attempts: the merged code changes the signature of "
                                     "get_stock_price(): expected parameters (ticker, "
                                     "currency=…), got (ticker, currency)")
    assert prompts(server, "write one call of the merged tool") == []  # never got that far


def test_call_without_its_answer_retries_with_feedback_then_fails(tmp_path, sandbox):
    no_initech = price_code("get_stock_price", {"GLOBEX": 88.25, "INITECH": 71.0})
    failure, server = run(ROW, script(code=no_initech), sandbox, tmp_path, max_attempts=2)
    assert isinstance(failure, StageFailure) and failure.stage == "merge"
    assert failure.reason.startswith("cluster [1, 2] ('stock close') failed to merge after 2 "
                                     "attempts: _uuid 2: the call "
                                     "\"get_stock_price(ticker='INITECH')\" returned")
    assert "does not contain the answer '17.00 USD'" in failure.reason
    code_prompts = prompts(server, "merge several mock tools")
    assert len(code_prompts) == 2
    assert "previous attempt failed" not in code_prompts[0]
    assert "This is attempt 2 of 2" in code_prompts[1]
    assert "does not contain the answer '17.00 USD'" in code_prompts[1]
    assert "does not contain the answer" in prompts(server, "write one call of the merged")[1]


def test_second_attempt_can_succeed(tmp_path, sandbox):
    codes = {1: price_code("get_stock_price", {"GLOBEX": 88.25}), 2: MERGED_CODE}
    row, server = run(ROW, script(code=codes.__getitem__), sandbox, tmp_path)
    assert isinstance(row, dict), row
    assert row["aggregated_env"][0]["verification"]["retry_count"] == 1
    assert "unknown ticker INITECH" in prompts(server, "merge several mock tools")[1]


def test_bad_calls_reply_is_fed_back(tmp_path, sandbox):
    calls = [{"_uuid": 1, "tool_call_statement": "stock_close(ticker='GLOBEX')"},
             {"_uuid": 2, "tool_call_statement": "get_stock_price(ticker=7)"}]
    failure, _ = run(ROW, script(calls=calls), sandbox, tmp_path, max_attempts=1)
    assert isinstance(failure, StageFailure)
    assert "calls 'stock_close', not the tool 'get_stock_price'" in failure.reason
    assert "violates the tool's schema (ticker: 7 is not of type 'string')" in failure.reason
    failure, _ = run(ROW, script(calls=GOOD_CALLS[:1]), sandbox, tmp_path, max_attempts=1,
                     cache="other")
    assert isinstance(failure, StageFailure)
    assert failure.reason.endswith("the calls give no statement for _uuids [2]")


def test_env_whose_own_call_fails_is_rejected_before_any_llm_call(tmp_path, sandbox):
    broken = copy.deepcopy(ROW)
    broken["env_result"]["2"]["env_synthesis_result"]["data"]["tool_call_statement"] = \
        "stock_close('ACME')"
    failure, server = run(broken, script(), sandbox, tmp_path)
    assert isinstance(failure, StageFailure) and failure.stage == "merge"
    assert failure.reason.startswith("env of sub-question 2: the call \"stock_close('ACME')\" "
                                     "failed (")
    assert "unknown ticker ACME" in failure.reason
    assert server.chat_requests == []


@pytest.mark.parametrize("edit, reason", [
    (lambda data: data.pop("code"), "env of sub-question 1 has no code"),
    (lambda data: data["tool_document"].pop("description"),
     "env of sub-question 1: tool_document lacks a valid description"),
    (lambda data: data.update(tool_call_statement="get_stock_price(ticker='ACME')"),
     "env of sub-question 1: the call \"get_stock_price(ticker='ACME')\" returned"),
])
def test_incomplete_env_fails(tmp_path, sandbox, edit, reason):
    broken = copy.deepcopy(ROW)
    edit(broken["env_result"]["1"]["env_synthesis_result"]["data"])
    failure, _ = run(broken, script(), sandbox, tmp_path)
    assert isinstance(failure, StageFailure) and failure.reason.startswith(reason)


def test_missing_env_and_bad_max_attempts(tmp_path, sandbox):
    broken = copy.deepcopy(ROW)
    broken["env_result"]["2"] = None
    failure, _ = run(broken, script(), sandbox, tmp_path)
    assert isinstance(failure, StageFailure)
    assert failure.reason == "sub-question 2 needs a tool but has no env"
    with pytest.raises(ValueError, match="max_attempts"):
        run(ROW, script(), sandbox, tmp_path, max_attempts=0)
