"""synth.stages.tools (stage 4) against a scripted server and a process sandbox."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stage_harness import run_stage

from astra_gym.sandbox import Sandbox
from synth.compiler import SourceRow, compile_row
from synth.stages.base import StageFailure
from synth.stages.tools import synthesize_tools

# Non-contiguous _uuids, the hop-2 step listed first: lookups by list position break here.
ROW: dict[str, Any] = {
    "scenario_type": "Single-Hop Chain",
    "main_question": "What is the nightly rate of the cheapest hotel in Lisbon?",
    "final_answer": "EUR 87",
    "decomposition_trace": [
        {"_uuid": 3, "hop_level": 2, "sub_question": "What is the nightly rate of that hotel?",
         "sub_answer": "EUR 87", "dependency": [7], "is_parallel": False,
         "tool_necessity": True, "reason": "prices are external data"},
        {"_uuid": 7, "hop_level": 1, "sub_question": "Which hotel in Lisbon is cheapest?",
         "sub_answer": "Hotel Sol", "dependency": None, "is_parallel": False,
         "tool_necessity": True, "reason": "hotel listings are external data"},
    ],
    "tool_necessity_legitimacy": True,
    "uuid": "row-tools-1",
    "_metadata": {"domain": "travel"},
    "provenance": [{"stage": "necessity", "model": "m", "prompt_version": "1", "attempts": 1,
                    "cached": False}],
}

FIND_DOC = {"name": "find_cheapest_hotel", "description": "Find the cheapest hotel in a city.",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name"}}, "required": ["city"]}}
FIND_REFINED = copy.deepcopy(FIND_DOC)
FIND_REFINED["parameters"]["properties"]["max_results"] = {
    "type": "integer", "description": "How many hotels to list", "default": 1}
FIND_CODE = '''\
HOTELS = {"lisbon": [("Casa Azul", 120), ("Hotel Sol", 87), ("Rio Inn", 99)]}

def find_cheapest_hotel(city, max_results=1):
    if not isinstance(city, str) or city.strip().lower() not in HOTELS:
        return {"error": "unknown city"}
    ranked = sorted(HOTELS[city.strip().lower()], key=lambda item: item[1])
    return {"city": city, "hotels": [name for name, _ in ranked[:max_results]]}
'''
RATE_DOC = {"name": "get_hotel_rate", "description": "Nightly rate of a hotel.",
            "parameters": {"type": "object", "properties": {
                "hotel_name": {"type": "string", "description": "Hotel name"},
                "currency": {"type": "string", "enum": ["EUR", "USD"], "default": "EUR"}},
                "required": ["hotel_name"]}}
RATE_CODE = '''\
RATES = {"hotel sol": 87, "casa azul": 120}

def get_hotel_rate(hotel_name, currency="EUR"):
    rate = RATES.get(str(hotel_name).lower())
    if rate is None:
        return {"error": "unknown hotel"}
    if currency == "USD":
        rate = round(rate * 1.1)
    return {"hotel": hotel_name, "rate": f"{currency} {rate}"}
'''
LOOP_CODE = "def find_cheapest_hotel(city, max_results=1):\n    while True:\n        pass\n"
# One C-level operation that runs for ever: only the wall-clock watchdog stops it.
BACKTRACK_CODE = ("import re\n\ndef find_cheapest_hotel(city, max_results=1):\n"
                  "    return re.match('(a+)+$', 'a' * 40 + 'b')\n")

STEPS = {"document": "You design one tool", "scaling": "You refine a tool document",
         "call": "You write the single tool call", "code": "You implement a tool"}
# 3's prompts quote 7's question (its dependency): look for 3's own question first.
SUBS = {"3": "What is the nightly rate of that hotel?", "7": "Which hotel in Lisbon is cheapest?"}


def _reply(analysis: str, **value: Any) -> str:
    return json.dumps({"analysis": analysis, **value})


DEFAULTS: dict[tuple[str, str], str] = {
    ("document", "7"): _reply("a", tool=FIND_DOC),
    ("scaling", "7"): _reply("a", refined_version=FIND_REFINED),
    ("call", "7"): _reply("a", call='find_cheapest_hotel(city="Lisbon")'),
    ("code", "7"): _reply("a", function=FIND_CODE),
    ("document", "3"): _reply("a", tool=RATE_DOC),
    ("scaling", "3"): _reply("a", refined_version=RATE_DOC),
    ("call", "3"): _reply("a", call='get_hotel_rate(hotel_name="Hotel Sol")'),
    ("code", "3"): _reply("a", function=RATE_CODE),
}

Reply = str | Callable[[int], str]


def classify(text: str) -> tuple[str, str]:
    """Which step and which sub-question a prompt is for (by marker phrases)."""
    step = next((name for name, marker in STEPS.items() if marker in text), None)
    sub = next((uid for uid, question in SUBS.items() if question in text), None)
    if step is None or sub is None:
        raise AssertionError(f"unexpected prompt: {text[:120]}")
    return step, sub


def script(overrides: dict[tuple[str, str], Reply] | None = None,
           ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A scripted model: valid tools unless ``overrides`` says otherwise (n = request count)."""
    replies: dict[tuple[str, str], Reply] = {**DEFAULTS, **(overrides or {})}
    counts: dict[tuple[str, str], int] = {}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        key = classify(body["messages"][0]["content"])
        counts[key] = counts.get(key, 0) + 1
        reply = replies[key]
        return {"content": reply(counts[key]) if callable(reply) else reply}

    return answer


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(isolation="process")
    yield box
    box.close()


def run(record: Any, sandbox: Sandbox, tmp_path: Path,
        overrides: dict[tuple[str, str], Reply] | None = None, *, max_attempts: int = 3,
        ) -> tuple[dict[str, Any] | StageFailure, list[tuple[str, str, str]]]:
    """Run the stage; return the row (or the failure) and the (step, sub, prompt) requests."""
    result, server = run_stage(
        lambda client: synthesize_tools(record, client, sandbox, max_attempts=max_attempts),
        script(overrides), tmp_path, model="toolsmith", timeout=10.0)
    texts = [r.body["messages"][0]["content"] for r in server.chat_requests]
    return result, [(*classify(text), text) for text in texts]


def test_valid_tools_are_built_and_the_row_compiles(sandbox, tmp_path):
    record = copy.deepcopy(ROW)
    row, requests = run(record, sandbox, tmp_path)
    assert isinstance(row, dict), row
    assert record == ROW  # never mutated
    env = row["env_result"]
    assert sorted(env) == ["3", "7"]
    first = env["7"]
    assert first["question"] == SUBS["7"] and first["answer"] == "Hotel Sol"
    data = first["env_synthesis_result"]["data"]
    assert data["tool_document"] == FIND_REFINED  # the refined version replaces the document
    assert data["tool_call_statement"] == 'find_cheapest_hotel(city="Lisbon")'
    assert data["code"] == FIND_CODE and "Hotel Sol" in data["tool_call_ans"]
    info = first["env_synthesis_result"]["extra_info"]
    assert info["tool_document_generation_result"] == {"content": FIND_DOC, "analysis": "a"}
    assert info["tool_document_complexity_scaling_result"]["content"] == FIND_REFINED
    assert info["tool_call_statement_result"]["content"] == data["tool_call_statement"]
    assert info["tool_deployment_result"]["content"] == FIND_CODE
    assert info["attempts"] == [{"attempt": 1, "step": "replay", "ok": True, "reason": None}]
    assert "EUR 87" in env["3"]["env_synthesis_result"]["data"]["tool_call_ans"]

    # hop 1 is synthesized before hop 2; hop 2's prompts carry its dependency's Q/A by _uuid
    assert [(step, sub) for step, sub, _ in requests] == [
        (step, sub) for sub in ("7", "3") for step in ("document", "scaling", "call", "code")]
    for step, sub, text in requests:
        if sub == "3":
            assert '"question": "Which hotel in Lisbon is cheapest?"' in text, step
            assert '"answer": "Hotel Sol"' in text, step
        else:
            assert "Hotel Sol" not in text or step == "code", step
    entry = row["provenance"][-1]
    assert [p["stage"] for p in row["provenance"]] == ["necessity", "tools"]
    assert entry["calls"] == 8 and entry["model"] == "toolsmith"
    assert entry["prompt_version"] == {"tool_document": "1", "tool_scaling": "1",
                                       "tool_call": "1", "tool_code": "1"}
    assert entry["tool_attempts"] == {"7": 1, "3": 1}

    outcome = compile_row(SourceRow("tools.jsonl", 1, row), sandbox)
    assert outcome.status == "compiled", [reason.message for reason in outcome.reasons]
    assert {tool.name for tool in outcome.task.tools} == {"find_cheapest_hotel",
                                                          "get_hotel_rate"}


def test_sub_question_without_tool_gets_none(sandbox, tmp_path):
    record = copy.deepcopy(ROW)
    record["decomposition_trace"][0]["tool_necessity"] = False  # the leaf (3)
    row, requests = run(record, sandbox, tmp_path)
    assert isinstance(row, dict), row
    assert row["env_result"]["3"] is None and row["env_result"]["7"] is not None
    assert {sub for _, sub, _ in requests} == {"7"}


def failure_of(result: Any) -> str:
    assert isinstance(result, StageFailure) and result.stage == "tools", result
    return result.reason


def test_invalid_json_document_fails_after_capped_attempts(sandbox, tmp_path):
    result, requests = run(ROW, sandbox, tmp_path, {("document", "7"): "sure, here is a tool"},
                           max_attempts=2)
    reason = failure_of(result)
    assert reason.startswith("sub-question 7: no working tool after 2 attempts; last failure "
                             "(document): LLM call failed: extraction failed")
    assert [(step, sub) for step, sub, _ in requests] == [("document", "7")] * 2


def test_leaked_answer_in_document_is_rejected(sandbox, tmp_path):
    leaky = copy.deepcopy(RATE_DOC)
    leaky["description"] = "Nightly rate of a hotel, e.g. EUR 87."
    result, requests = run(ROW, sandbox, tmp_path, {("document", "3"): _reply("a", tool=leaky)})
    reason = failure_of(result)
    assert reason.startswith("sub-question 3: no working tool after 3 attempts; last failure "
                             "(document): the tool document leaks the answer 'EUR 87'")
    assert sum(1 for step, sub, _ in requests if (step, sub) == ("document", "3")) == 3
    assert not any(step == "scaling" and sub == "3" for step, sub, _ in requests)


def test_leak_in_scaled_document_is_rejected_and_retried(sandbox, tmp_path):
    leaky = copy.deepcopy(RATE_DOC)
    leaky["parameters"]["properties"]["hotel_name"]["default"] = "Hotel Sol"  # fine: not 3's
    leaky["parameters"]["properties"]["currency"]["examples"] = ["EUR 87"]
    replies: dict[tuple[str, str], Reply] = {
        ("scaling", "3"): lambda n: _reply("a", refined_version=leaky if n == 1 else RATE_DOC)}
    row, _ = run(ROW, sandbox, tmp_path, replies)
    assert isinstance(row, dict), row
    attempts = row["env_result"]["3"]["env_synthesis_result"]["extra_info"]["attempts"]
    assert [(a["attempt"], a["step"], a["ok"]) for a in attempts] == [
        (1, "scaling", False), (2, "replay", True)]
    assert "leaks the answer 'EUR 87'" in attempts[0]["reason"]


def test_call_name_mismatch_is_recorded(sandbox, tmp_path):
    result, requests = run(ROW, sandbox, tmp_path,
                           {("call", "7"): _reply("a", call='find_hotel(city="Lisbon")')})
    reason = failure_of(result)
    assert reason == ("sub-question 7: no working tool after 3 attempts; last failure (call): "
                      "the call names 'find_hotel' but the tool is named 'find_cheapest_hotel'")
    # the document is kept: one document, three calls, no code
    steps = [step for step, sub, _ in requests if sub == "7"]
    assert steps == ["document", "scaling", "call", "call", "call"]


def test_code_that_never_yields_the_answer_exhausts_attempts_with_feedback(sandbox, tmp_path):
    wrong = FIND_CODE.replace('("Hotel Sol", 87)', '("Hotel Luz", 87)')
    result, requests = run(ROW, sandbox, tmp_path, {("code", "7"): _reply("a", function=wrong)},
                           max_attempts=3)
    reason = failure_of(result)
    first_failure = ("running find_cheapest_hotel(city=\"Lisbon\") returned '{\"city\": "
                     "\"Lisbon\", \"hotels\": [\"Hotel Luz\"]}', which does not contain the "
                     "answer 'Hotel Sol'")
    assert reason == ("sub-question 7: no working tool after 3 attempts; last failure "
                      f"(replay): {first_failure}")
    codes = [text for step, sub, text in requests if (step, sub) == ("code", "7")]
    assert len(codes) == 3  # exactly max_attempts, never more
    assert first_failure not in codes[0]
    assert "attempt 2 of 3" in codes[1] and first_failure in codes[1]
    calls = [text for step, sub, text in requests if (step, sub) == ("call", "7")]
    assert len(calls) == 3 and first_failure in calls[1]
    assert not any(sub == "3" for _, sub, _ in requests)


@pytest.mark.parametrize("code, kind", [(LOOP_CODE, "budget_exceeded"),
                                        (BACKTRACK_CODE, "timeout")])
def test_hostile_code_fails_and_the_host_is_fine(sandbox, tmp_path, code, kind):
    result, _ = run(ROW, sandbox, tmp_path, {("code", "7"): _reply("a", function=code)},
                    max_attempts=1)
    reason = failure_of(result)
    assert reason.startswith("sub-question 7: no working tool after 1 attempt; last failure "
                             "(replay): running find_cheapest_hotel(city=\"Lisbon\") in the "
                             f"sandbox failed ({kind}): ")
    assert sandbox.run("def f(x):\n    return x + 1", "f", {"x": 1}).output == "2"


def test_bad_signature_is_rejected_before_running(sandbox, tmp_path):
    code = FIND_CODE.replace("def find_cheapest_hotel(city, max_results=1)",
                             "def find_cheapest_hotel(town)")
    result, _ = run(ROW, sandbox, tmp_path, {("code", "7"): _reply("a", function=code)},
                    max_attempts=1)
    reason = failure_of(result)
    assert "(code): the function's signature disagrees with the tool document: schema " \
           "property 'city' is not a parameter of find_cheapest_hotel()" in reason


def test_clashing_tool_name_is_rejected_then_renamed(sandbox, tmp_path):
    clash = copy.deepcopy(RATE_DOC)
    clash["name"] = "find_cheapest_hotel"
    replies: dict[tuple[str, str], Reply] = {
        ("document", "3"): lambda n: _reply("a", tool=clash if n == 1 else RATE_DOC)}
    row, requests = run(ROW, sandbox, tmp_path, replies)
    assert isinstance(row, dict), row
    attempts = row["env_result"]["3"]["env_synthesis_result"]["extra_info"]["attempts"]
    assert attempts[0]["reason"] == ("the tool name 'find_cheapest_hotel' is already used by "
                                     "the tool of sub-question 7; choose a different name")
    second_doc = [text for step, sub, text in requests if (step, sub) == ("document", "3")][1]
    assert "already used by the tool of sub-question 7" in second_doc


@pytest.mark.parametrize("legitimacy, expected", [
    (False, "tool_necessity_legitimacy is false"),
    (None, "the row has no tool_necessity_legitimacy: run the necessity stage first")])
def test_illegitimate_or_unlabelled_rows_fail_without_requests(sandbox, tmp_path, legitimacy,
                                                               expected):
    record = copy.deepcopy(ROW)
    record["tool_necessity_legitimacy"] = legitimacy
    result, requests = run(record, sandbox, tmp_path)
    assert failure_of(result).startswith(expected) and requests == []


def test_max_attempts_must_be_positive(sandbox):
    with pytest.raises(ValueError, match="max_attempts"):
        asyncio.run(synthesize_tools(ROW, None, sandbox, max_attempts=0))  # type: ignore[arg-type]


def test_question_literals_in_parameter_examples_are_caught():
    from synth.stages.tools import _question_literal_in_examples

    question = "What is the nightly rate of Hotel Sol in Lisbon on 2026-05-12 for 2 guests?"
    leaky = {"properties": {"city": {"type": "string", "description": "City, e.g. Lisbon"}}}
    dated = {"properties": {"date": {"type": "string", "examples": ["2026-05-12"]}}}
    clean = {"properties": {"city": {"type": "string", "description": "City name"},
                            "guests": {"type": "integer", "description": "1 to 12 guests"},
                            "unit": {"type": "string", "enum": ["Lisbon", "Porto"]}}}
    assert _question_literal_in_examples(question, leaky) == "Lisbon"
    assert _question_literal_in_examples(question, dated) == "2026-05-12"
    assert _question_literal_in_examples(question, clean) is None  # enums are exempt


# -- the question-literal rule: names as wholes, not the ordinary nouns inside them --------

HARBOR_Q = "What is the nightly rate of the Harbor View Hotel on 2026-05-12?"


@pytest.mark.parametrize("parameter", [
    {"type": "string", "description": "Name of the hotel"},
    {"type": "string", "description": "Hotel name, as the guest wrote it"},
    {"type": "string", "description": "The hotel's name; any hotel in the city"},
    {"type": "string", "description": "A view or harbor to filter by"},
    {"type": "string", "description": "Check-in date, YYYY-MM-DD", "examples": ["2025-01-31"]},
    {"type": "integer", "description": "Nights, 1 to 2026 at most"},  # 2026 != 2026-05-12
    {"type": "string", "enum": ["Harbor View Hotel", "Casa Azul"]},  # enums are exempt
])
def test_ordinary_nouns_and_other_values_are_not_question_literals(parameter):
    from synth.stages.tools import _question_literal_in_examples

    schema = {"type": "object", "properties": {"value": parameter}}
    assert _question_literal_in_examples(HARBOR_Q, schema) is None


@pytest.mark.parametrize("parameter, literal", [
    ({"type": "string", "description": "Hotel name, e.g. Harbor View Hotel"},
     "Harbor View Hotel"),
    ({"type": "string", "description": "hotel name such as harbor view hotel"},
     "Harbor View Hotel"),
    ({"type": "string", "examples": ["Harbor View Hotel"]}, "Harbor View Hotel"),
    ({"type": "string", "default": "2026-05-12"}, "2026-05-12"),
    ({"type": "string", "description": "Date such as 2026-05-12"}, "2026-05-12"),
])
def test_question_literals_reused_in_the_schema_are_caught(parameter, literal):
    from synth.stages.tools import _question_literal_in_examples

    schema = {"type": "object", "properties": {"value": parameter}}
    assert _question_literal_in_examples(HARBOR_Q, schema) == literal


def test_literals_are_whole_names_numbers_and_quotes():
    from synth.stages.literals import question_literals

    texts = [literal.text for literal in question_literals(
        'Which Harbor View Hotel near the Bank of China has a "Sea Breeze" suite for '
        "2 guests at 189.5 EUR? Porto is fine too.")]
    assert texts == ["Harbor View Hotel", "Bank of China", "Sea Breeze", "189.5", "EUR"]


HARBOR_ROW: dict[str, Any] = {
    "scenario_type": "Single-Hop", "main_question": HARBOR_Q, "final_answer": "EUR 140",
    "decomposition_trace": [
        {"_uuid": 1, "hop_level": 1, "sub_question": HARBOR_Q, "sub_answer": "EUR 140",
         "dependency": None, "is_parallel": False, "tool_necessity": True, "reason": "prices"}],
    "tool_necessity_legitimacy": True, "uuid": "row-harbor", "_metadata": {"domain": "travel"},
}
HARBOR_CODE = '''\
RATES = {("harbor view hotel", "2026-05-12"): 140, ("casa azul", "2026-05-12"): 95}

def get_hotel_rate(hotel_name, date):
    rate = RATES.get((str(hotel_name).strip().lower(), str(date)))
    if rate is None:
        return {"error": "no rate for that hotel and date"}
    return {"rate": f"EUR {rate}"}
'''


def harbor_script(description: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    doc = {"name": "get_hotel_rate", "description": "Nightly rate of a hotel on a date.",
           "parameters": {"type": "object", "properties": {
               "hotel_name": {"type": "string", "description": description},
               "date": {"type": "string", "description": "Date, YYYY-MM-DD"}},
               "required": ["hotel_name", "date"]}}
    replies = {"You design one tool": {"tool": doc},
               "You refine a tool document": {"refined_version": doc},
               "You write the single tool call": {
                   "call": 'get_hotel_rate(hotel_name="Harbor View Hotel", date="2026-05-12")'},
               "You implement a tool": {"function": HARBOR_CODE}}

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][0]["content"]
        value = next(reply for marker, reply in replies.items() if marker in text)
        return {"content": json.dumps({"analysis": "a", **value})}

    return answer


def test_a_document_naming_the_kind_of_value_is_accepted(sandbox, tmp_path):
    row, _ = run_stage(lambda client: synthesize_tools(HARBOR_ROW, client, sandbox),
                       harbor_script("Hotel name, as the guest wrote it"), tmp_path,
                       model="toolsmith", timeout=10.0)
    assert isinstance(row, dict), row
    data = row["env_result"]["1"]["env_synthesis_result"]["data"]
    assert data["tool_call_ans"] == '{"rate": "EUR 140"}'


def test_a_document_reusing_the_question_name_is_rejected(sandbox, tmp_path):
    failure, _ = run_stage(lambda client: synthesize_tools(HARBOR_ROW, client, sandbox,
                                                           max_attempts=2),
                           harbor_script("Hotel name, e.g. Harbor View Hotel"), tmp_path,
                           model="toolsmith", timeout=10.0)
    assert isinstance(failure, StageFailure)
    assert "reuse 'Harbor View Hotel' from the question" in failure.reason
