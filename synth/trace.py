"""Structural checks of a ``decomposition_trace``, shared by the pipeline and the compiler.

A trace is ASTRA's list of sub-questions::

    {"_uuid": 1, "hop_level": 1, "sub_question": "...", "sub_answer": "...",
     "dependency": null, "is_parallel": true}

:func:`validate_trace` reads it into :class:`TraceNode` objects and lists every
problem it finds, as :class:`TraceProblem` (a stable ``code`` plus a readable
``message``): ids present and unique, ``_uuid`` an int or a non-empty string,
``hop_level`` an int >= 1, a ``sub_answer`` present, dependencies that name
existing ``_uuid``\\ s in earlier hop levels and never the node itself.
Dependencies are looked up by ``_uuid``, never by list position (the released
ASTRA code assumed ``_uuid == position``; research/astra.md E.7).

Example:
    >>> nodes, problems = validate_trace([
    ...     {"_uuid": 1, "hop_level": 1, "sub_question": "a?", "sub_answer": "x"},
    ...     {"_uuid": 7, "hop_level": 2, "sub_question": "b?", "sub_answer": "y",
    ...      "dependency": [1]}])
    >>> [node.id for node in nodes], nodes[1].depends_on, problems
    (['1', '7'], ('1',), [])
    >>> _, problems = validate_trace([
    ...     {"_uuid": 1, "hop_level": 1, "sub_answer": "x", "dependency": [2]},
    ...     {"_uuid": 2, "hop_level": 2, "sub_answer": "y"}])
    >>> print(problems[0])
    sub-question 1 (hop 1) depends on 2 (hop 2); dependencies must be in earlier hops
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TraceNode",
    "TraceProblem",
    "answer_text",
    "check_dag",
    "leaf_ids",
    "node_id",
    "non_leaf_ids",
    "read_trace",
    "validate_trace",
]


@dataclass(frozen=True)
class TraceProblem:
    """One structural problem of a trace.

    Attributes:
        code: ``"dag"`` for structure (ids, hops, dependencies) or
            ``"answer"`` for a missing sub-answer; the compiler uses it as its
            rejection code.
        message: A readable explanation naming the sub-question.
    """

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class TraceNode:
    """One sub-question of a structurally readable trace.

    Attributes:
        id: The ``_uuid`` as text (ints become their decimal form).
        hop_level: The DAG layer, >= 1.
        question: The ``sub_question`` (``""`` when it is not a string).
        answer: The ``sub_answer`` as text.
        depends_on: The ``_uuid``\\ s (as text) it directly depends on, deduplicated.
        needs_tool: ``tool_necessity`` when it is a bool, else ``None``.
    """

    id: str
    hop_level: int
    question: str
    answer: str
    depends_on: tuple[str, ...]
    needs_tool: bool | None


def node_id(value: Any) -> str | None:
    """A ``_uuid`` as text, or ``None`` when it is not an int or a non-empty string.

    Args:
        value: The raw ``_uuid`` (or dependency entry).

    Returns:
        The id as text (ints in decimal, strings stripped), or ``None``.

    Example:
        >>> node_id(3), node_id(" a "), node_id(True), node_id("")
        ('3', 'a', None, None)
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def answer_text(value: Any) -> str | None:
    """An answer as text: numbers and bools as their text, blank strings as ``None``.

    Args:
        value: The raw answer.

    Returns:
        The stripped text, or ``None`` when there is no usable answer.

    Example:
        >>> answer_text(3), answer_text(2.5), answer_text("  x "), answer_text(" ")
        ('3', '2.5', 'x', None)
    """
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def read_trace(trace: Any) -> tuple[list[TraceNode], list[TraceProblem]]:
    """Read each trace item on its own (no cross-item checks).

    Items with a problem are reported and left out of the nodes.

    Args:
        trace: The raw ``decomposition_trace``.

    Returns:
        The readable nodes, in trace order, and the problems found.
    """
    problems: list[TraceProblem] = []
    if not isinstance(trace, list) or not trace:
        return [], [TraceProblem("dag", "decomposition_trace must be a non-empty list")]
    nodes: list[TraceNode] = []
    for position, item in enumerate(trace, 1):
        if not isinstance(item, dict):
            problems.append(TraceProblem("dag", f"trace item {position} is not an object"))
            continue
        uid = node_id(item.get("_uuid"))
        if uid is None:
            problems.append(TraceProblem("dag", f"trace item {position} has no valid _uuid "
                                                f"(got {item.get('_uuid')!r})"))
            continue
        hop = item.get("hop_level")
        if isinstance(hop, bool) or not isinstance(hop, int) or hop < 1:
            problems.append(TraceProblem("dag", f"sub-question {uid} has hop_level {hop!r}; it "
                                                "must be an integer >= 1"))
            continue
        question = item.get("sub_question")
        answer = answer_text(item.get("sub_answer"))
        if answer is None:
            problems.append(TraceProblem("answer", f"sub-question {uid} has no sub_answer"))
            continue
        raw_deps = item.get("dependency")
        if raw_deps is None:
            deps: list[Any] = []
        elif isinstance(raw_deps, list):
            deps = raw_deps
        elif isinstance(raw_deps, int | str) and not isinstance(raw_deps, bool):
            deps = [raw_deps]
        else:
            problems.append(TraceProblem("dag", f"sub-question {uid} has dependency "
                                                f"{raw_deps!r}; expected null or a list of "
                                                "_uuids"))
            continue
        dep_ids: list[str] = []
        for dep in deps:
            dep_id = node_id(dep)
            if dep_id is None:
                problems.append(TraceProblem("dag", f"sub-question {uid} has an invalid "
                                                    f"dependency {dep!r}"))
            elif dep_id not in dep_ids:
                dep_ids.append(dep_id)
        necessity = item.get("tool_necessity")
        nodes.append(TraceNode(uid, hop, question if isinstance(question, str) else "", answer,
                               tuple(dep_ids), necessity if isinstance(necessity, bool) else None))
    return nodes, problems


def check_dag(nodes: Iterable[TraceNode]) -> list[TraceProblem]:
    """Cross-item checks: unique ids, dependencies on existing nodes in earlier hops.

    Since every dependency points to a strictly lower hop level, a trace that
    passes is acyclic.

    Args:
        nodes: Nodes from :func:`read_trace`.

    Returns:
        The problems found (empty when the trace is a valid layered DAG).
    """
    nodes = list(nodes)
    problems: list[TraceProblem] = []
    by_id: dict[str, TraceNode] = {}
    for node in nodes:
        if node.id in by_id:
            problems.append(TraceProblem("dag", f"_uuid {node.id} is used by two sub-questions"))
        by_id[node.id] = node
    for node in nodes:
        for dep in node.depends_on:
            target = by_id.get(dep)
            if dep == node.id:
                problems.append(TraceProblem("dag", f"sub-question {node.id} depends on itself"))
            elif target is None:
                problems.append(TraceProblem("dag", f"sub-question {node.id} depends on _uuid "
                                                    f"{dep}, which is not in the trace"))
            elif target.hop_level >= node.hop_level:
                problems.append(TraceProblem(
                    "dag", f"sub-question {node.id} (hop {node.hop_level}) depends on {dep} "
                           f"(hop {target.hop_level}); dependencies must be in earlier hops"))
    return problems


def validate_trace(trace: Any) -> tuple[list[TraceNode], list[TraceProblem]]:
    """Read a trace and check it is a layered DAG.

    Args:
        trace: The raw ``decomposition_trace``.

    Returns:
        The readable nodes and every problem found (item problems first);
        the trace is structurally valid iff the problem list is empty.
    """
    nodes, problems = read_trace(trace)
    return nodes, problems + check_dag(nodes)


def non_leaf_ids(nodes: Iterable[TraceNode]) -> set[str]:
    """The ids some other node depends on (ASTRA's non-leaf nodes).

    Args:
        nodes: Trace nodes.

    Returns:
        The set of depended-on ids.
    """
    return {dep for node in nodes for dep in node.depends_on}


def leaf_ids(nodes: Iterable[TraceNode]) -> set[str]:
    """The ids no other node depends on.

    Args:
        nodes: Trace nodes.

    Returns:
        The set of leaf ids.
    """
    nodes = list(nodes)
    return {node.id for node in nodes} - non_leaf_ids(nodes)
