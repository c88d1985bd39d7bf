"""synth.trace: structural checks of a decomposition trace, shared with the compiler."""

from __future__ import annotations

from typing import Any

import pytest

from synth.compiler.rows import Reason, _check_dag, _read_trace
from synth.trace import (
    TraceProblem,
    check_dag,
    leaf_ids,
    node_id,
    non_leaf_ids,
    read_trace,
    validate_trace,
)


def item(uid: Any, hop: Any, deps: Any = None, answer: Any = "a", **extra: Any) -> dict[str, Any]:
    return {"_uuid": uid, "hop_level": hop, "sub_question": f"q{uid}?", "sub_answer": answer,
            "dependency": deps, **extra}


def messages(trace: Any) -> list[str]:
    return [problem.message for problem in validate_trace(trace)[1]]


def test_valid_trace_with_non_contiguous_and_string_ids():
    trace = [item(10, 1), item("b", 1), item(42, 2, [10, "b"]), item(7, 3, [42, 10])]
    nodes, problems = validate_trace(trace)
    assert problems == []
    assert [n.id for n in nodes] == ["10", "b", "42", "7"]
    assert nodes[2].depends_on == ("10", "b") and nodes[3].hop_level == 3
    assert non_leaf_ids(nodes) == {"10", "b", "42"} and leaf_ids(nodes) == {"7"}


def test_dependency_found_by_uuid_not_by_position():
    # _uuid 3 sits at position 1; a position-based lookup of dep 3 would fail or hit item 3
    trace = [item(3, 1), item(1, 2, [3]), item(2, 2, [3])]
    assert messages(trace) == []


@pytest.mark.parametrize("trace, expected", [
    ("nope", "decomposition_trace must be a non-empty list"),
    ([], "decomposition_trace must be a non-empty list"),
    (["x"], "trace item 1 is not an object"),
    ([item(True, 1)], "trace item 1 has no valid _uuid (got True)"),
    ([item("  ", 1)], "trace item 1 has no valid _uuid (got '  ')"),
    ([item(1.5, 1)], "trace item 1 has no valid _uuid (got 1.5)"),
    ([item(1, 0)], "sub-question 1 has hop_level 0; it must be an integer >= 1"),
    ([item(1, "1")], "sub-question 1 has hop_level '1'; it must be an integer >= 1"),
    ([item(1, 1, answer=" ")], "sub-question 1 has no sub_answer"),
    ([item(1, 1, deps={"a": 1})], "sub-question 1 has dependency {'a': 1}; expected null or a "
                                  "list of _uuids"),
    ([item(1, 1), item(2, 2, [None])], "sub-question 2 has an invalid dependency None"),
    ([item(1, 1), item(1, 1)], "_uuid 1 is used by two sub-questions"),
    ([item(1, 2, [1])], "sub-question 1 depends on itself"),
    ([item(1, 1), item(2, 2, [9])], "sub-question 2 depends on _uuid 9, which is not in the "
                                    "trace"),
    ([item(1, 1, [2]), item(2, 2)], "sub-question 1 (hop 1) depends on 2 (hop 2); dependencies "
                                    "must be in earlier hops"),
    ([item(1, 1), item(2, 1, [1])], "sub-question 2 (hop 1) depends on 1 (hop 1); dependencies "
                                    "must be in earlier hops"),
])
def test_each_problem_is_reported(trace, expected):
    assert expected in messages(trace)


def test_problem_codes_and_all_problems_listed():
    nodes, problems = validate_trace([item(1, 1, answer=None), item(2, 2, [5]), item(2, 2)])
    assert [p.code for p in problems] == ["answer", "dag", "dag"]
    assert str(problems[0]) == "sub-question 1 has no sub_answer"
    assert [n.id for n in nodes] == ["2", "2"]


def test_read_and_check_split():
    nodes, problems = read_trace([item(1, 1), item(2, 2, [1, 1, "1"])])
    assert problems == [] and nodes[1].depends_on == ("1",)
    assert check_dag(nodes) == []
    assert read_trace([item(1, 1, tool_necessity=True)])[0][0].needs_tool is True


def test_node_id():
    assert (node_id(0), node_id(" x "), node_id(False), node_id(None)) == ("0", "x", None, None)


def test_compiler_wraps_problems_with_its_codes():
    reasons: list[Reason] = []
    nodes = _read_trace([item(1, 1, answer=""), item(2, 1), item(3, 2, [4])], reasons)
    _check_dag(nodes, reasons)
    assert reasons == [Reason("answer", "sub-question 1 has no sub_answer"),
                       Reason("dag", "sub-question 3 depends on _uuid 4, which is not in the "
                                     "trace")]
    assert isinstance(validate_trace("x")[1][0], TraceProblem)
