"""The SFT stage functions against the scripted OpenAI-compatible server (HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sft_harness import run_stage, weather_row
from sft_model import ScriptedModel, answer

from synth.sft.augment import augment_records, augment_stage
from synth.sft.common import SftFailure
from synth.sft.graph import graph_stage
from synth.sft.personas import BUILTIN_PERSONAS
from synth.sft.score import DEFAULT_THRESHOLDS, below_thresholds, score_stage
from synth.sft.tasks import task_records, tasks_stage
from synth.sft.verify import verify_stage
from synth.sft.walks import chain_rows


def reply(value: Any) -> dict[str, str]:
    return {"content": json.dumps(value, ensure_ascii=False)}


def graph_row(tmp_path, *, chinese: bool = False) -> dict[str, Any]:
    row, _ = run_stage(lambda c: graph_stage(weather_row(chinese=chinese), c),
                       ScriptedModel(), tmp_path / "graph")
    return row


def chain_row(tmp_path, chain: list[str] | None = None, *, chinese: bool = False
              ) -> dict[str, Any]:
    row = chain_rows(graph_row(tmp_path, chinese=chinese), seed=0, max_walks=1)[0]
    if chain is not None:
        row["chain"] = chain
    return row


def task_record(tmp_path, mode: str = "chain", *, chinese: bool = False) -> dict[str, Any]:
    server = weather_row(chinese=chinese)
    chains = [chain_row(tmp_path, ["find_city", "get_forecast"], chinese=chinese)]
    records = task_records(chains, [server], samples=1, server_tools=(2,))
    return next(r for r in records if r["mode"] == mode)


# -- graph -------------------------------------------------------------------------------


def test_graph_weights_count_pairs_over_samples(tmp_path):
    model = ScriptedModel()
    row, server = run_stage(lambda c: graph_stage(weather_row(), c, samples=3), model,
                            tmp_path)
    assert sorted(r.body["seed"] for r in server.chat_requests) == [0, 1, 2]  # 3 samples
    edges = {(e["source"], e["target"]): e["weight"] for e in row["graph"]["edges"]}
    assert edges == {("find_city", "get_forecast"): 3, ("find_city", "get_alerts"): 1}
    entry = row["provenance"][-1]
    assert entry["stage"] == "graph" and entry["prompt_version"] == "1" and entry["calls"] == 3
    assert entry["model"] == "scripted"


def test_a_malformed_graph_reply_fails_closed(tmp_path):
    failure, _ = run_stage(lambda c: graph_stage(weather_row(), c, samples=2),
                           ScriptedModel({"graph": lambda t, b: "no json at all"}), tmp_path)
    assert isinstance(failure, SftFailure) and failure.code == "llm_error"
    assert "extraction failed" in failure.reason
    failure, _ = run_stage(lambda c: graph_stage(weather_row(), c),
                           ScriptedModel({"graph": lambda t, b: reply({"chains": "x"})}),
                           tmp_path / "2")
    assert failure.code == "llm_error" and "validation failed" in failure.reason


def test_wrong_tool_names_in_chains_leave_no_edge_and_fail_with_a_reason(tmp_path):
    wrong = reply({"chains": [{"verdict": "yes", "chain": ["find_town", "get_forecast"]},
                              {"verdict": "yes", "chain": ["get_forecast", "send_email"]}]})
    failure, _ = run_stage(lambda c: graph_stage(weather_row(), c, samples=1),
                           ScriptedModel({"graph": lambda t, b: wrong}), tmp_path)
    assert isinstance(failure, SftFailure) and failure.code == "no_edges"
    assert "unknown tool(s) ['find_town']" in failure.reason


# -- verify ------------------------------------------------------------------------------


def test_verify_passes_a_good_chain_with_both_filters(tmp_path):
    model, record = ScriptedModel(), chain_row(tmp_path)
    row, _ = run_stage(lambda c: verify_stage(record, c), model, tmp_path / "v")
    assert row["verification"]["vote"]["valid"] == 3 and row["verification"]["vote"]["n"] == 3
    assert row["verification"]["back_translation"]["chain"] == row["chain"]
    assert model.kinds.count("vote") == 3 and model.kinds.count("to_query") == 1
    assert row["provenance"][-1]["prompt_version"] == {
        "sft_verify_chain": "1", "sft_chain_to_query": "1", "sft_query_to_chain": "1"}


@pytest.mark.parametrize(("votes", "valid_seeds", "passes"), [
    (3, {0, 1}, True), (3, {0}, False), (3, set(), False), (2, {1}, False), (1, {0}, True)])
def test_vote_majority(tmp_path, votes, valid_seeds, passes):
    def vote(text: str, body: dict[str, Any]) -> Any:
        ok = body["seed"] in valid_seeds
        return reply({"coherent": True, "arguments_satisfiable": ok,
                      "reason": "ok" if ok else "city id cannot be known"})

    record = chain_row(tmp_path)
    result, _ = run_stage(lambda c: verify_stage(record, c, votes=votes,
                                                 back_translation=False),
                          ScriptedModel({"vote": vote}), tmp_path / "v")
    if passes:
        assert result["verification"]["vote"]["valid"] == len(valid_seeds)
    else:  # a tie (1 of 2) rejects too
        assert isinstance(result, SftFailure) and result.code == "vote_rejected"
        assert f"{len(valid_seeds)} of {votes} votes" in result.reason
        assert "city id cannot be known" in result.reason


def test_an_unparsable_vote_fails_the_chain_instead_of_being_ignored(tmp_path):
    def vote(text: str, body: dict[str, Any]) -> Any:
        return "I think so" if body["seed"] == 2 else None

    record = chain_row(tmp_path)
    failure, _ = run_stage(lambda c: verify_stage(record, c),
                           ScriptedModel({"vote": vote}), tmp_path / "v")
    assert isinstance(failure, SftFailure) and failure.code == "llm_error"


def test_back_translation_must_give_back_the_exact_chain(tmp_path):
    swapped = ScriptedModel({"to_chain": lambda t, b: reply(
        {"chain": ["get_forecast", "find_city"]})})
    record = chain_row(tmp_path)
    failure, _ = run_stage(lambda c: verify_stage(record, c, vote=False), swapped,
                           tmp_path / "v")
    assert isinstance(failure, SftFailure) and failure.code == "back_translation_mismatch"
    assert "plans get_forecast -> find_city" in failure.reason
    assert "vote" not in swapped.kinds  # switched off


def test_both_filters_switched_off_pass_without_a_request(tmp_path):
    model, record = ScriptedModel(), chain_row(tmp_path)
    row, server = run_stage(lambda c: verify_stage(record, c, vote=False,
                                                   back_translation=False), model,
                            tmp_path / "v")
    assert row["verification"] == {"vote": None, "back_translation": None}
    assert not server.chat_requests


# -- tasks -------------------------------------------------------------------------------


def test_chain_and_server_tasks(tmp_path):
    record = task_record(tmp_path)
    row, _ = run_stage(lambda c: tasks_stage(record, c), ScriptedModel(), tmp_path)
    assert row["target_tools"] == ["find_city", "get_forecast"] and row["language"] == "en"
    assert row["mode"] == "chain" and row["chain"] == row["target_tools"]
    assert row["walk"]["seed"] == 0 and row["verification"] is None  # not verified here
    assert [p["stage"] for p in row["provenance"]] == ["graph", "tasks"]
    server_record = task_record(tmp_path, "server")
    row, _ = run_stage(lambda c: tasks_stage(server_record, c), ScriptedModel(),
                       tmp_path / "2")
    assert row["mode"] == "server" and row["k"] == 2 and len(row["target_tools"]) == 2


def test_task_records_ids_and_counts(tmp_path):
    server = weather_row()
    chains = [chain_row(tmp_path, ["find_city", "get_forecast"])]
    records = task_records(chains, [server], samples=2, server_tools=(1, 2, 3, 4))
    assert [(r["mode"], r["k"], r["sample"]) for r in records] == [
        ("chain", 2, 0), ("chain", 2, 1), ("server", 1, 0), ("server", 1, 1),
        ("server", 2, 0), ("server", 2, 1), ("server", 3, 0), ("server", 3, 1)]  # no k=4
    assert len({r["task_id"] for r in records}) == len(records)
    assert task_records(chains, [server], samples=1, server_tools=(),
                        chain_tasks=False) == []


QUESTION_RULES = [
    ("language_mismatch", "Please find the forecast for my city Hangzhou today.", True),
    ("tool_name_leak", "请用find_city找到杭州，然后告诉我天气预报。", True),
    ("how_to_question", "如何查询杭州的天气预报和预警信息呢？", True),
    ("empty_question", "杭州天气", True),
]


@pytest.mark.parametrize(("code", "question", "chinese"), QUESTION_RULES)
def test_question_rules_are_checked_and_fail_closed_after_re_asks(tmp_path, code, question,
                                                                 chinese):
    record = task_record(tmp_path, chinese=chinese)
    bad = reply({"target_tools": ["find_city", "get_forecast"], "question": question})
    model = ScriptedModel({"task_chain": lambda t, b: bad})
    failure, server = run_stage(lambda c: tasks_stage(record, c), model, tmp_path)
    assert isinstance(failure, SftFailure) and failure.code == code, failure
    assert "(3 replies rejected)" in failure.reason
    assert len(server.chat_requests) == 3
    follow_up = server.chat_requests[1].body["messages"][-1]["content"]
    assert "Your reply was rejected" in follow_up


def test_english_tool_names_and_how_to_are_rejected_too(tmp_path):
    record = task_record(tmp_path)
    for code, question in [("tool_name_leak", "Use get_forecast for Lisbon tomorrow, please."),
                           ("how_to_question", "How do I get the forecast for Lisbon?")]:
        bad = reply({"target_tools": ["find_city", "get_forecast"], "question": question})
        failure, _ = run_stage(lambda c, bad=bad: tasks_stage(record, c),
                               ScriptedModel({"task_chain": lambda t, b, bad=bad: bad}),
                               tmp_path / code)
        assert failure.code == code


def test_a_re_asked_task_can_recover(tmp_path):
    record = task_record(tmp_path, chinese=True)

    def first_english(text: str, body: dict[str, Any]) -> Any:
        if len(body["messages"]) == 1:
            return reply({"target_tools": ["find_city", "get_forecast"],
                          "question": "Find the weather in Hangzhou for me, please."})
        return None  # the default answer, in Chinese

    row, server = run_stage(lambda c: tasks_stage(record, c),
                            ScriptedModel({"task_chain": first_english}), tmp_path)
    assert row["language"] == "zh" and len(server.chat_requests) == 2
    assert "language" in server.chat_requests[1].body["messages"][-1]["content"]


@pytest.mark.parametrize(("mode", "targets"), [("chain", ["get_forecast", "find_city"]),
                                               ("server", ["find_city", "find_city"]),
                                               ("server", ["find_city", "get_weather"]),
                                               ("server", ["find_city"])])
def test_target_tools_must_match(tmp_path, mode, targets):
    record = task_record(tmp_path, mode)
    bad = reply({"target_tools": targets, "question": "Please get me the forecast for Lisbon."})
    failure, _ = run_stage(lambda c: tasks_stage(record, c),
                           ScriptedModel({f"task_{mode}": lambda t, b: bad}), tmp_path)
    assert isinstance(failure, SftFailure) and failure.code == "target_mismatch"


# -- augment -----------------------------------------------------------------------------


def test_augment_records_axes_and_seeded_personas(tmp_path):
    first = task_record(tmp_path)
    task, _ = run_stage(lambda c: tasks_stage(first, c), ScriptedModel(), tmp_path / "t")
    records = augment_records([task], variations=2, seed=5, personas=BUILTIN_PERSONAS)
    assert [(r["augmentation"]["axis"], r["augmentation"]["index"]) for r in records] == [
        ("diverse", 0), ("diverse", 1), ("complicate", 0), ("complicate", 1), ("persona", 0),
        ("persona", 1)]
    assert all(r["augmentation"]["parent_task_id"] == task["task_id"] for r in records)
    assert len({r["task_id"] for r in records} | {task["task_id"]}) == 7
    personas = [r["augmentation"]["persona"] for r in records if r["augmentation"]["persona"]]
    again = augment_records([task], variations=2, seed=5, personas=BUILTIN_PERSONAS)
    assert [r["augmentation"]["persona"] for r in again if r["augmentation"]["persona"]] \
        == personas
    other = [augment_records([task], axes=("persona",), variations=8, seed=s,
                             personas=BUILTIN_PERSONAS) for s in (1, 2)]
    assert [r["augmentation"]["persona"] for r in other[0]] != \
        [r["augmentation"]["persona"] for r in other[1]]
    with pytest.raises(ValueError, match="unknown augmentation axis"):
        augment_records([task], axes=("shuffle",))
    with pytest.raises(ValueError, match="persona"):
        augment_records([task], axes=("persona",), personas=())


def test_augment_keeps_targets_and_language_and_shows_the_persona(tmp_path):
    first = task_record(tmp_path, chinese=True)
    task, _ = run_stage(lambda c: tasks_stage(first, c), ScriptedModel(), tmp_path / "t")
    records = augment_records([task], seed=0, personas=BUILTIN_PERSONAS)
    model = ScriptedModel()
    rows = []
    for record in records:
        row, server = run_stage(lambda c, record=record: augment_stage(record, c), model,
                                tmp_path / record["augmentation"]["axis"])
        rows.append(row)
        if record["augmentation"]["axis"] == "persona":
            prompt = server.chat_requests[0].body["messages"][0]["content"]
            assert f"Occupation: {record['augmentation']['persona']['occupation']}" in prompt
    for row in rows:
        assert row["target_tools"] == task["target_tools"] and row["language"] == "zh"
        assert row["question"] != task["question"]
        assert row["augmentation"]["original_question"] == task["question"]
    assert [row["augmentation"]["context"] for row in rows] == ["diverse", "complicate",
                                                                 "persona"]


@pytest.mark.parametrize(("code", "make"), [
    ("unchanged_question", lambda original: original),
    ("language_mismatch", lambda original: "Please get the forecast for Hangzhou tomorrow."),
])
def test_augment_rules_fail_closed(tmp_path, code, make):
    first = task_record(tmp_path, chinese=True)
    task, _ = run_stage(lambda c: tasks_stage(first, c), ScriptedModel(), tmp_path / "t")
    (record,) = augment_records([task], axes=("diverse",))
    bad = ScriptedModel({"diverse": lambda t, b: reply({"question": make(task["question"])})})
    failure, _ = run_stage(lambda c: augment_stage(record, c), bad, tmp_path / "a")
    assert isinstance(failure, SftFailure) and failure.code == code


# -- score -------------------------------------------------------------------------------


def scored_task(tmp_path) -> dict[str, Any]:
    first = task_record(tmp_path)
    task, _ = run_stage(lambda c: tasks_stage(first, c), ScriptedModel(), tmp_path / "task")
    return task


def test_scores_are_recorded_with_reasoning(tmp_path):
    task = scored_task(tmp_path)
    row, server = run_stage(lambda c: score_stage(task, c), ScriptedModel(), tmp_path)
    assert row["scores"] == {"question_quality": 5, "scenario_realism": 5,
                             "tool_use_necessity": 5, "tool_selection_difficulty": 3,
                             "tool_selection_uniqueness": 5}
    assert row["score_reasoning"]["question_quality"] == "r"
    assert server.chat_requests[0].body["temperature"] == 0.0


@pytest.mark.parametrize("breakage", ["missing", "string", "fraction", "out_of_range", "prose"])
def test_missing_or_unparsable_scores_fail_the_task(tmp_path, breakage):
    task = scored_task(tmp_path)

    def broken(text: str, body: dict[str, Any]) -> Any:
        value = answer(text, body)
        if breakage == "missing":
            del value["tool_use_necessity"]
        elif breakage == "string":
            value["question_quality"]["score"] = "5"
        elif breakage == "fraction":
            value["scenario_realism"]["score"] = 4.5
        elif breakage == "out_of_range":
            value["scenario_realism"]["score"] = 7
        else:
            return "Quality: excellent. Realism: high."
        return reply(value)

    failure, _ = run_stage(lambda c: score_stage(task, c), ScriptedModel({"score": broken}),
                           tmp_path)
    assert isinstance(failure, SftFailure) and failure.code == "llm_error", failure


def test_a_whole_number_float_score_counts_as_that_integer(tmp_path):
    task = scored_task(tmp_path)

    def floats(text: str, body: dict[str, Any]) -> Any:
        value = answer(text, body)
        value["question_quality"]["score"] = 4.0
        return reply(value)

    row, _ = run_stage(lambda c: score_stage(task, c), ScriptedModel({"score": floats}),
                       tmp_path)
    assert row["scores"]["question_quality"] == 4
    assert isinstance(row["scores"]["question_quality"], int)


def test_thresholds_keep_only_tasks_reaching_every_one():
    good = {"question_quality": 4, "scenario_realism": 4, "tool_use_necessity": 4}
    assert below_thresholds(good, DEFAULT_THRESHOLDS) == []
    for name in DEFAULT_THRESHOLDS:
        assert below_thresholds({**good, name: 3}, DEFAULT_THRESHOLDS) == [f"{name} 3 < 4"]
    assert below_thresholds({"question_quality": 5}, DEFAULT_THRESHOLDS) == [
        "scenario_realism None < 4", "tool_use_necessity None < 4"]
    assert below_thresholds({**good, "question_quality": 2}, {"question_quality": 2}) == []
