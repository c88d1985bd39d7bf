"""Row by row: every input shape, every call form, every rejection reason."""

from __future__ import annotations

import copy
import json
import math
import random

import pytest
from compiler_rows import SHARES_CODE, STOCK_CODE, STOCK_DOC, env, rl_row, step4_row, step5_row

from synth.compiler import SourceRow, compile_row


def run(row, sandbox, line=1):
    return compile_row(SourceRow("rows.jsonl", line, row), sandbox)


def codes(outcome):
    return {reason.code for reason in outcome.reasons}


def messages(outcome):
    return " | ".join(reason.message for reason in outcome.reasons)


# -- the three shapes ------------------------------------------------------------

def test_step4_row_compiles_into_a_task(process_sandbox):
    outcome = run(step4_row(), process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    task = outcome.task
    assert outcome.shape == "step4"
    assert task.task_id == "row-a" and task.source.uuid == "row-a"
    assert str(task.source) == "rows.jsonl:1"
    assert task.prompt == ({"role": "user", "content": "What are my 10 ACME shares worth?"},)
    assert task.final_answer == "12,345 USD"
    assert [t.name for t in task.tools] == ["get_stock_price", "portfolio_value"]
    first, second, leaf = task.subtasks
    assert first.gold_call.arguments == {"ticker": "ACME"}
    assert second.depends_on == ("1",) and second.hop_level == 2
    assert second.gold_call.arguments == {"price": 1234.5, "shares": 10}
    assert not leaf.needs_tool and leaf.tool is None and leaf.gold_call is None
    assert task.hops == 3 and task.domain == "finance" and task.language == "en"
    assert outcome.gold_calls == 2


def test_step5_merged_tool_is_one_tool_with_one_gold_call_per_subquestion(process_sandbox):
    outcome = run(step5_row(), process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.shape == "step5"
    task = outcome.task
    assert [t.name for t in task.tools] == ["get_stock_price"]
    assert [s.gold_call.arguments for s in task.subtasks] == [{"ticker": "GLOBEX"},
                                                              {"ticker": "INITECH"}]
    assert all(s.tool == "get_stock_price" for s in task.subtasks)


def test_step5_aggregated_env_overrides_stale_env_result(process_sandbox):
    row = step5_row()
    # env_result still holds the pre-merge code whose mock data lacks INITECH;
    # aggregated_env carries the merged code that step 5 verified.
    stale = STOCK_CODE.replace('"INITECH": 17.0', '"OTHER": 1.0')
    for key in ("1", "2"):
        row["env_result"][key]["env_synthesis_result"]["data"]["code"] = stale
    original = copy.deepcopy(row)
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.task.tools[0].source == STOCK_CODE
    assert row == original, "the compiler must not edit the caller's row"


def test_step5_cluster_that_failed_verification_rejects_the_row(process_sandbox):
    row = step5_row()
    row["aggregated_env"][0]["verification"]["all_tests_passed"] = False
    row["aggregated_env"][0]["status"] = "partial_success"
    outcome = run(row, process_sandbox)
    assert outcome.status == "rejected" and "merge" in codes(outcome)
    assert "[1, 2]" in messages(outcome)


def test_rl_row_has_answer_only_subtasks_and_distractors(process_sandbox):
    outcome = run(rl_row(), process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    task = outcome.task
    assert outcome.shape == "rl"
    assert [t.name for t in task.tools] == ["get_stock_price"]
    assert [t.name for t in task.distractor_tools] == ["portfolio_value"]
    (sub,) = task.subtasks
    assert sub.id == "get_stock_price#1" and sub.gold_call is None and sub.question is None
    assert sub.answer == "1,234.50 USD"
    assert task.final_answer is None
    assert task.task_id.startswith("row-")  # no uuid: a content hash, stable across runs
    assert run(rl_row(), process_sandbox).task.task_id == task.task_id


def test_rl_row_accepts_decoded_fields_and_bare_string_prompt(process_sandbox):
    row = rl_row()
    row["prompt"] = "How much is ACME trading at?"
    row["tool_schema"] = json.loads(row["tool_schema"])
    row["sub_qa_dict"] = {"get_stock_price": "1,234.50 USD"}
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.task.prompt[0]["content"] == "How much is ACME trading at?"


def test_rl_row_identical_duplicate_schema_is_kept_once(process_sandbox):
    row = rl_row()
    tools = json.loads(row["tool_schema"])
    row["tool_schema"] = json.dumps([*tools, tools[0]])
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert any("twice" in note for note in outcome.notes)


def test_rl_row_conflicting_duplicate_schema_is_a_name_clash(process_sandbox):
    row = rl_row()
    tools = json.loads(row["tool_schema"])
    clash = copy.deepcopy(tools[0])
    clash["function"]["description"] = "Something else entirely."
    row["tool_schema"] = json.dumps([*tools, clash])
    outcome = run(row, process_sandbox)
    assert "name_clash" in codes(outcome) and "get_stock_price" in messages(outcome)


def test_rl_row_needed_tool_missing_from_schema(process_sandbox):
    row = rl_row()
    row["sub_qa_dict"] = json.dumps({"get_fx_rate": ["1.08"]})
    outcome = run(row, process_sandbox)
    assert "environment" in codes(outcome) and "get_fx_rate" in messages(outcome)


def test_rl_row_distractor_that_violates_the_policy_rejects_the_row(process_sandbox):
    row = rl_row()
    row["tool_dict"] = json.dumps({"get_stock_price": STOCK_CODE, "portfolio_value":
                                   "import os\n" + SHARES_CODE})
    outcome = run(row, process_sandbox)
    assert "replay" in codes(outcome)
    assert "tool 'portfolio_value' fails to load" in messages(outcome)
    assert "os" in messages(outcome)


# -- documents and calls -----------------------------------------------------------

@pytest.mark.parametrize("form", ["dict", "json-string", "wrapped", "wrapped-json-string"])
def test_tool_document_forms(process_sandbox, form):
    row = step4_row()
    data = row["env_result"]["1"]["env_synthesis_result"]["data"]
    doc = data["tool_document"]
    wrapped = {"type": "function", "function": doc}
    data["tool_document"] = {"dict": doc, "json-string": json.dumps(doc), "wrapped": wrapped,
                             "wrapped-json-string": json.dumps(wrapped)}[form]
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.task.tools[0].parameters == STOCK_DOC["parameters"]


@pytest.mark.parametrize("statement, expected", [
    ("get_stock_price(ticker='ACME')", {"ticker": "ACME"}),
    ("get_stock_price('ACME')", {"ticker": "ACME"}),
    ("get_stock_price('ACME', 'USD')", {"ticker": "ACME", "currency": "USD"}),
    ("get_stock_price('ACME', currency='USD')", {"ticker": "ACME", "currency": "USD"}),
    ("print(get_stock_price(ticker='ACME'))", {"ticker": "ACME"}),
    ("  get_stock_price(\n  ticker = 'ACME' )  ", {"ticker": "ACME"}),
])
def test_positional_and_keyword_gold_calls_map_through_the_signature(process_sandbox,
                                                                     statement, expected):
    row = step4_row()
    row["env_result"]["1"]["env_synthesis_result"]["data"]["tool_call_statement"] = statement
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.task.subtasks[0].gold_call.arguments == expected


def test_dependencies_refer_to_uuids_not_list_positions(process_sandbox):
    row = step4_row()
    # Non-contiguous ids listed out of order: position-based lookup (ASTRA's
    # verify step) would resolve dependency 10 to nothing and 30 wrongly.
    ids = {1: 30, 2: 10, 3: 20}
    trace = row["decomposition_trace"]
    for item in trace:
        item["_uuid"] = ids[item["_uuid"]]
        if item["dependency"]:
            item["dependency"] = [ids[dep] for dep in item["dependency"]]
    row["decomposition_trace"] = [trace[2], trace[0], trace[1]]
    row["env_result"] = {str(ids[int(k)]): v for k, v in row["env_result"].items()}
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    by_id = {s.id: s for s in outcome.task.subtasks}
    assert by_id["10"].depends_on == ("30",) and by_id["20"].depends_on == ("10",)
    assert [s.id for s in outcome.task.subtasks] == ["20", "30", "10"]  # source order kept


def test_chinese_row(process_sandbox):
    row = step4_row("row-zh")
    row["main_question"] = "我持有10股ACME，现在值多少钱？"
    row["final_answer"] = "12,345美元"
    row["_metadata"] = {"domain": "finance"}  # no language: detected from the text
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    assert outcome.task.language == "zh"
    assert outcome.task.prompt[0]["content"] == "我持有10股ACME，现在值多少钱？"


def test_background_is_prepended_to_the_prompt(process_sandbox):
    row = step4_row()
    row["_metadata"]["background"] = "The user is a retail investor."
    outcome = run(row, process_sandbox)
    assert outcome.task.prompt[0]["content"] == (
        "The user is a retail investor.\n\nWhat are my 10 ACME shares worth?")


# A knowledge row of ASTRA's release (knowledge/en/context.jsonl, Apache-2.0,
# LianjiaTech/astra), with one clause that states a gold answer added at the end.
KNOWLEDGE_CORPUS = (
    "background: Wants to know the total cost before deciding to book.\n"
    "Provide a price quote for selected seats without adding any concessions.\n"
    " Known Infomation: The user wants to see Aferim! at Cinema City AFI Cotroceni on 25-09-21 "
    "at 19:30 (show_id SHW1BUC), selecting seats A3, A4 (adults) and B2 (child). No "
    "concessions. A friend said ACME closed at 1,234.50 USD.\n"
    " Information Needed: The exact total price including fees and taxes; whether the "
    "selected seats are still available.")


def test_known_information_of_a_knowledge_row_is_carried_into_the_prompt(process_sandbox):
    row = step4_row()
    row["_metadata"]["knowledge_corpus"] = KNOWLEDGE_CORPUS
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    prompt = outcome.task.prompt[0]["content"]
    assert prompt == (
        "What I already know: The user wants to see Aferim! at Cinema City AFI Cotroceni on "
        "25-09-21 at 19:30 (show_id SHW1BUC), selecting seats A3, A4 (adults) and B2 (child). "
        "No concessions.\n\nWhat are my 10 ACME shares worth?")
    # Neither the simulator brief, nor what the agent must find, nor a gold answer.
    assert "Wants to know" not in prompt and "Information Needed" not in prompt
    assert "1,234.50" not in prompt
    assert any("1 clause(s) of the user's known information" in n for n in outcome.notes)


def test_a_taxonomy_corpus_or_an_empty_one_adds_nothing(process_sandbox):
    for corpus in ('{"description": "Weather alerts", "example_query": "Any storm?"}', "",
                   "free text without sections"):
        row = step4_row()
        row["_metadata"]["knowledge_corpus"] = corpus
        outcome = run(row, process_sandbox)
        assert outcome.task.prompt[0]["content"] == "What are my 10 ACME shares worth?"


def test_clashing_tool_names_are_renamed_and_reported(process_sandbox):
    row = step4_row()
    # Sub-question 2's tool is a different function that claims the same name.
    code = SHARES_CODE.replace("portfolio_value", "get_stock_price")
    doc = {**json.loads(json.dumps(row["env_result"]["2"]["env_synthesis_result"]["data"][
        "tool_document"])), "name": "get_stock_price"}
    row["env_result"]["2"] = env("v?", "12345", "get_stock_price(price=1234.5, shares=10)",
                                 doc=doc, code=code)
    outcome = run(row, process_sandbox)
    assert outcome.status == "compiled", messages(outcome)
    names = [t.name for t in outcome.task.tools]
    assert names == ["get_stock_price", "get_stock_price_2"]
    renamed = outcome.task.tool("get_stock_price_2")
    assert renamed.function == "get_stock_price"  # the code is unchanged
    assert outcome.task.subtasks[1].gold_call.name == "get_stock_price_2"
    assert any("renamed" in note and "sub-question 2" in note for note in outcome.notes)


# -- rejections ---------------------------------------------------------------------

def edit(row, path, value):
    target = row
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return row


DATA1 = ("env_result", "1", "env_synthesis_result", "data")

REJECTIONS = {
    "not an object": (lambda r: ["a", "list"], "shape", "expected a JSON object"),
    "unknown shape": (lambda r: {"question": "q"}, "shape", "it has keys: question"),
    "legitimacy flag false": (lambda r: edit(r, ("tool_necessity_legitimacy",), False),
                              "legitimacy", "tool_necessity_legitimacy is false"),
    "non-leaf without tool": (lambda r: edit(r, ("decomposition_trace", 0, "tool_necessity"),
                                             False), "legitimacy", "sub-question 1 needs no tool"),
    "missing environment": (lambda r: edit(r, ("env_result", "2"), None), "environment",
                            "sub-question 2 needs a tool but has no synthesized environment"),
    "empty trace": (lambda r: edit(r, ("decomposition_trace",), []), "dag", "non-empty list"),
    "duplicate uuid": (lambda r: edit(r, ("decomposition_trace", 2, "_uuid"), 2), "dag",
                       "_uuid 2 is used by two"),
    "unknown dependency": (lambda r: edit(r, ("decomposition_trace", 1, "dependency"), [7]),
                           "dag", "depends on _uuid 7, which is not in the trace"),
    "same-hop dependency": (lambda r: edit(r, ("decomposition_trace", 1, "hop_level"), 1), "dag",
                            "dependencies must be in earlier hops"),
    "bad hop level": (lambda r: edit(r, ("decomposition_trace", 0, "hop_level"), 0), "dag",
                      "hop_level 0"),
    "no sub answer": (lambda r: edit(r, ("decomposition_trace", 0, "sub_answer"), " "), "answer",
                      "sub-question 1 has no sub_answer"),
    "doc json garbage": (lambda r: edit(r, (*DATA1, "tool_document"), "{not json"), "schema",
                         "not valid JSON"),
    "invalid json schema": (lambda r: edit(r, (*DATA1, "tool_document", "parameters",
                                               "properties", "ticker", "type"), "text"),
                            "schema", "not a valid JSON Schema"),
    "required not a property": (lambda r: edit(r, (*DATA1, "tool_document", "parameters",
                                                   "required"), ["ticker", "exchange"]),
                                "schema", "'exchange', which is not in 'properties'"),
    "no description": (lambda r: edit(r, (*DATA1, "tool_document", "description"), ""),
                       "schema", "has no description"),
    "code syntax error": (lambda r: edit(r, (*DATA1, "code"), "def get_stock_price(:\n"), "code",
                          "not valid Python"),
    "function missing": (lambda r: edit(r, (*DATA1, "code"), "def other(ticker):\n  return 1\n"),
                         "signature", "does not define the function 'get_stock_price'"),
    "property not a parameter": (lambda r: edit(r, (*DATA1, "code"), STOCK_CODE.replace(
        ', currency: str = "USD"', "")), "signature",
        "schema property 'currency' is not a parameter"),
    "parameter not required": (lambda r: edit(r, (*DATA1, "code"), STOCK_CODE.replace(
        'currency: str = "USD"', "currency: str")), "signature",
        "parameter 'currency' has no default"),
    "unparsable call": (lambda r: edit(r, (*DATA1, "tool_call_statement"), "get_stock_price("),
                        "call", "cannot parse its gold call"),
    "call with code in it": (lambda r: edit(r, (*DATA1, "tool_call_statement"),
                                            "get_stock_price(ticker=__import__('os').name)"),
                             "call", "not a literal"),
    "call name mismatch": (lambda r: edit(r, (*DATA1, "tool_call_statement"),
                                          "get_price(ticker='ACME')"), "call",
                           "calls 'get_price' but its tool is named 'get_stock_price'"),
    "call violates schema": (lambda r: edit(r, (*DATA1, "tool_call_statement"),
                                            "get_stock_price(ticker='ACME', currency='GBP')"),
                             "call", "violates its tool's schema"),
    "too many positional": (lambda r: edit(r, (*DATA1, "tool_call_statement"),
                                           "get_stock_price('ACME', 'USD', 3)"), "call",
                            "at most 2 positional"),
    "gold call raises": (lambda r: edit(r, (*DATA1, "tool_call_statement"),
                                        "get_stock_price(ticker='NOPE')"), "replay",
                         "failed (exception): ValueError: unknown ticker NOPE"),
    "answer not in result": (lambda r: edit(r, ("decomposition_trace", 0, "sub_answer"),
                                            "999.99 USD"), "answer",
                             "does not contain the gold answer '999.99 USD'"),
    "answer only in an error": (lambda r: edit(edit(r, (*DATA1, "tool_call_statement"),
                                                    "get_stock_price(ticker='ZZZ')"),
                                               ("decomposition_trace", 0, "sub_answer"),
                                               "unknown ticker ZZZ"), "replay", "failed"),
    "answer is the gold argument": (lambda r: edit(r, ("decomposition_trace", 0, "sub_answer"),
                                                   "ACME"), "answer",
                                    "only where it repeats the call's own arguments"),
    "answer only in an error-shaped result": (
        lambda r: edit(edit(edit(r, (*DATA1, "code"), STOCK_CODE.replace(
            'raise ValueError(f"unknown ticker {ticker}")',
            'return {"error": f"no quote for {ticker}, try 17.00 USD"}')),
            (*DATA1, "tool_call_statement"), "get_stock_price(ticker='ZZZ')"),
            ("decomposition_trace", 0, "sub_answer"), "17 USD"),
        "answer", "reports an error"),
    "forbidden import": (lambda r: edit(r, (*DATA1, "code"), "import os\n" + STOCK_CODE),
                         "replay", "fails to load"),
    "policy violation": (lambda r: edit(r, (*DATA1, "code"), STOCK_CODE.replace(
        "return {", "_x = ticker.__class__\n    return {")), "compile",
        "rejected by the sandbox policy"),
}


@pytest.mark.parametrize("case", list(REJECTIONS), ids=list(REJECTIONS))
def test_each_rejection_reason(process_sandbox, case):
    mutate, code, fragment = REJECTIONS[case]
    outcome = run(mutate(step4_row()), process_sandbox)
    assert outcome.status == "rejected" and outcome.task is None
    assert code in codes(outcome), messages(outcome)
    assert fragment in messages(outcome)


def test_a_rejected_row_lists_every_reason(process_sandbox):
    row = step4_row()
    row["tool_necessity_legitimacy"] = False
    row["decomposition_trace"][1]["dependency"] = [9]
    row["env_result"]["1"]["env_synthesis_result"]["data"]["tool_call_statement"] = "nope("
    outcome = run(row, process_sandbox)
    assert {"legitimacy", "dag", "call"} <= codes(outcome)
    assert outcome.task_id == "row-a" and outcome.uuid == "row-a"


def test_unparsable_line_is_a_rejection_with_the_parse_error(process_sandbox):
    outcome = compile_row(SourceRow("x.jsonl", 4, None, "line is not valid JSON: oops"),
                          process_sandbox)
    assert outcome.status == "rejected" and outcome.source == "x.jsonl:4"
    assert messages(outcome) == "line is not valid JSON: oops"


HOSTILE = {
    "endless loop": "def get_stock_price(ticker, currency='USD'):\n    while True:\n        pass\n",
    "memory bomb": "def get_stock_price(ticker, currency='USD'):\n    return 'x' * 10**10\n",
    "deep recursion": "def get_stock_price(ticker, currency='USD'):\n"
                      "    return get_stock_price(ticker)\n",
    "escape attempt": "def get_stock_price(ticker, currency='USD'):\n"
                      "    return ().__class__.__bases__[0].__subclasses__()\n",
    "answer then crash": "def get_stock_price(ticker, currency='USD'):\n"
                         "    print('1,234.50 USD')\n    return 1 / 0\n",
}


@pytest.mark.parametrize("name", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_tool_code_is_rejected_and_the_host_is_untouched(process_sandbox, name):
    state = random.getstate()
    row = edit(step4_row(), (*DATA1, "code"), HOSTILE[name])
    outcome = run(row, process_sandbox)
    assert outcome.status == "rejected", name
    assert codes(outcome) & {"replay", "compile"}, messages(outcome)
    assert random.getstate() == state and math.pi == 3.141592653589793
    # The sandbox still works for the next row.
    assert run(step4_row(), process_sandbox).status == "compiled"
