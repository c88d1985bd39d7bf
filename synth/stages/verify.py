"""Stage 3: the four-dimension quality check, and the keep filter (research/astra.md A.3).

Four checks run concurrently (``asyncio.gather``), each scoring items 0/1 and
taking the mean as the dimension score; the row's score is the mean of the
four (paper Eq. 21). Keys follow ASTRA's code:

* ``dependency`` (dependency consistency): one call per sub-question that has
  dependencies, its references looked up **by ``_uuid``** (the released code
  used list position). Verdict ``matched`` scores 1, ``information_missing``
  / ``redundant_reference`` 0. A trace with no dependencies has nothing to
  check: score 1.0 with ``items: []`` (no call made, so nothing defaulted).
* ``data_quality`` (sub-question atomicity): one call; one ``is_atomic`` per
  sub-question, aligned with the trace by ``_uuid``.
* ``forced_serialization`` (sequential rationality): one call; per step 0 when
  listed in ``problematic_steps`` (which must name existing ``_uuid``\\ s), else 1.
* ``completeness`` (task completeness): one call; 1 iff the reply says
  ``complete`` and covers every requirement it lists.

Fail-closed: a reply that cannot be parsed, validated or aligned fails the row
(:class:`~synth.stages.base.StageFailure`) once re-asking
(:func:`~synth.stages.base.ask`) has not fixed it; no check ever defaults to 1
(the released code's "safe score", astra.md E.7).

The row gains ``verify_result = {"score", "extra_info": {dimension: {...}}}``.
:func:`keep_rows` then keeps rows at or above a fixed threshold or a
percentile of the run's scores.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.trace import TraceNode, node_id

from .base import (
    ID_SCHEMA,
    CallTally,
    StageFailure,
    ask,
    provenance_entry,
    render_trace_json,
    render_trace_lines,
    valid_trace,
    with_provenance,
)

__all__ = [
    "ATOMICITY_SCHEMA",
    "COMPLETENESS_SCHEMA",
    "DEPENDENCY_SCHEMA",
    "DIMENSIONS",
    "SEQUENTIAL_SCHEMA",
    "STAGE",
    "keep_rows",
    "score_cutoff",
    "verify",
]

STAGE = "verify"
DIMENSIONS = ("dependency", "data_quality", "forced_serialization", "completeness")
"""The four dimension keys of ``verify_result.extra_info``, in ASTRA's naming."""

DEPENDENCY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["verdict"],
    "properties": {
        "verdict": {"enum": ["matched", "information_missing", "redundant_reference"]},
        "reason": {"type": "string"},
    },
}
ATOMICITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["items"],
    "properties": {"items": {"type": "array", "items": {
        "type": "object",
        "required": ["_uuid", "is_atomic"],
        "properties": {"_uuid": ID_SCHEMA,
                       "is_atomic": {"anyOf": [{"enum": [0, 1]}, {"type": "boolean"}]},
                       "reason": {"type": "string"}},
    }}},
}
SEQUENTIAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["problematic_steps"],
    "properties": {"problematic_steps": {"type": "array", "items": ID_SCHEMA},
                   "reason": {"type": "string"}},
}
COMPLETENESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["requirements", "complete"],
    "properties": {
        "requirements": {"type": "array", "items": {
            "type": "object", "required": ["requirement", "covered"],
            "properties": {"requirement": {"type": "string"}, "covered": {"type": "boolean"}}}},
        "complete": {"type": "boolean"},
        "reason": {"type": "string"},
    },
}


def _mean(values: list[int]) -> float:
    return sum(values) / len(values)


class _Checker:
    """The four checks of one record, sharing its client, settings and call tally."""

    def __init__(self, record: Mapping[str, Any], nodes: list[TraceNode], client: LLMClient,
                 temperature: float | None, max_tokens: int | None) -> None:
        self.record = record
        self.nodes = nodes
        self.client = client
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.tally = CallTally()
        self.items = {node_id(item["_uuid"]): item for item in record["decomposition_trace"]}

    async def _ask(self, what: str, content: str, schema: dict[str, Any],
                   check: Any = None) -> Any:
        return await ask(self.client, STAGE, what, content, schema=schema,
                         temperature=self.temperature, max_tokens=self.max_tokens,
                         tally=self.tally, check=check)

    def _qa(self) -> dict[str, Any]:
        return {"main_question": self.record.get("main_question", ""),
                "final_answer": self.record.get("final_answer", "")}

    async def dependency(self) -> dict[str, Any]:
        prompt = load_prompt("verify_dependency")

        async def one(node: TraceNode) -> dict[str, Any]:
            references = "\n".join(
                f"step_{dep}_query: {self.items[dep].get('sub_question')}\n"
                f"step_{dep}_answer: {self.items[dep].get('sub_answer')}"
                for dep in node.depends_on)  # by _uuid: valid_trace made sure they exist
            reply = await self._ask(f"dependency consistency of sub-question {node.id}",
                                    prompt.render(references=references,
                                                  query=f"{node.question}\nanswer: "
                                                        f"{node.answer}"),
                                    DEPENDENCY_SCHEMA)
            return {"_uuid": self.items[node.id]["_uuid"], "dependency": list(node.depends_on),
                    "verdict": reply["verdict"], "reason": reply.get("reason", ""),
                    "score": int(reply["verdict"] == "matched")}

        results = await asyncio.gather(*(one(node) for node in self.nodes if node.depends_on),
                                       return_exceptions=True)
        for result in results:  # the first failure in trace order, not in finishing order
            if isinstance(result, BaseException):
                raise result
        items = list(results)
        if not items:
            return {"score": 1.0, "items": [], "note": "no sub-question has dependencies"}
        return {"score": _mean([item["score"] for item in items]), "items": list(items)}

    async def data_quality(self) -> dict[str, Any]:
        prompt = load_prompt("verify_atomicity")
        reply = await self._ask("atomicity", prompt.render(
            **self._qa(), trace=render_trace_json(self.record)), ATOMICITY_SCHEMA,
            check=self._atomicity_by_id)
        by_id = self._atomicity_by_id(reply)
        items = [{"_uuid": self.items[node.id]["_uuid"],
                  "is_atomic": int(by_id[node.id]["is_atomic"]),
                  "reason": by_id[node.id].get("reason", "")} for node in self.nodes]
        return {"score": _mean([item["is_atomic"] for item in items]), "items": items}

    def _atomicity_by_id(self, reply: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The atomicity verdicts by node id; a failure unless they cover the trace exactly."""
        by_id: dict[str, dict[str, Any]] = {}
        for item in reply["items"]:
            uid = node_id(item["_uuid"])
            if uid not in self.items or uid in by_id:
                raise StageFailure(STAGE, f"atomicity: reply names _uuid {item['_uuid']!r} "
                                          "that is not in the trace, or names it twice")
            by_id[uid] = item
        missing = [node.id for node in self.nodes if node.id not in by_id]
        if missing:
            raise StageFailure(STAGE, f"atomicity: reply has no verdict for _uuids {missing}")
        return by_id

    def _listed_steps(self, reply: Mapping[str, Any]) -> set[str | None]:
        """The node ids of ``problematic_steps``; a failure when one is not in the trace."""
        listed = {node_id(step) for step in reply["problematic_steps"]}
        unknown = sorted(str(step) for step in listed if step not in self.items)
        if unknown:
            raise StageFailure(STAGE, "sequential rationality: problematic_steps names _uuids "
                                      f"not in the trace: {unknown}")
        return listed

    async def forced_serialization(self) -> dict[str, Any]:
        prompt = load_prompt("verify_sequential")
        reply = await self._ask("sequential rationality", prompt.render(
            main_question=self._qa()["main_question"], trace=render_trace_lines(self.record)),
            SEQUENTIAL_SCHEMA, check=self._listed_steps)
        listed = self._listed_steps(reply)
        steps = [{"_uuid": self.items[node.id]["_uuid"], "score": int(node.id not in listed)}
                 for node in self.nodes]
        return {"score": _mean([step["score"] for step in steps]), "steps": steps,
                "problematic_steps": reply["problematic_steps"],
                "reason": reply.get("reason", "")}

    async def completeness(self) -> dict[str, Any]:
        prompt = load_prompt("verify_completeness")
        reply = await self._ask("completeness", prompt.render(
            **self._qa(), trace=render_trace_json(self.record)), COMPLETENESS_SCHEMA)
        covered = all(item["covered"] for item in reply["requirements"])
        return {"score": float(bool(reply["complete"]) and covered),
                "requirements": reply["requirements"], "complete": reply["complete"],
                "reason": reply.get("reason", "")}


async def verify(record: Mapping[str, Any], client: LLMClient, *,
                 temperature: float | None = 0.0,
                 max_tokens: int | None = None) -> dict[str, Any]:
    """Score one row on the four dimensions.

    Args:
        record: A row with a ``decomposition_trace`` (not modified).
        client: The LLM client (its ``concurrency`` bounds the parallel calls).
        temperature: Sampling temperature.
        max_tokens: Completion length cap (``None``: the server's).

    Returns:
        The row with ``verify_result`` and a provenance entry (a new dict).

    Raises:
        StageFailure: The trace is invalid, or any check's call failed or its
            reply could not be used (the reason names every failed dimension).
    """
    nodes = valid_trace(record, STAGE)
    checker = _Checker(record, nodes, client, temperature, max_tokens)
    results = await asyncio.gather(
        checker.dependency(), checker.data_quality(), checker.forced_serialization(),
        checker.completeness(), return_exceptions=True)
    failures = []
    for result in results:
        if isinstance(result, StageFailure):
            failures.append(result.reason)
        elif isinstance(result, BaseException):
            raise result  # OfflineMiss, cancellation, bugs: not a property of the row
    if failures:
        raise StageFailure(STAGE, "; ".join(failures))
    extra_info = dict(zip(DIMENSIONS, results, strict=True))
    score = _mean([extra_info[name]["score"] for name in DIMENSIONS])
    row = copy.deepcopy(dict(record))
    row["verify_result"] = {"score": score, "extra_info": extra_info}
    prompts = [load_prompt(name) for name in ("verify_dependency", "verify_atomicity",
                                              "verify_sequential", "verify_completeness")]
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompts,
                                                                 checker.tally))
    return row


def _score(row: Any) -> float | None:
    result = row.get("verify_result") if isinstance(row, Mapping) else None
    score = result.get("score") if isinstance(result, Mapping) else None
    if isinstance(score, bool) or not isinstance(score, int | float) or score != score:
        return None
    return float(score)


def score_cutoff(rows: Iterable[Mapping[str, Any]], *, threshold: float | None = None,
                 percentile: float | None = None) -> float | None:
    """The score a row needs to be kept.

    Args:
        rows: The run's rows; those without a numeric ``verify_result.score``
            (failed rows) do not count towards the percentile.
        threshold: A fixed cutoff.
        percentile: A percentile (0-100) of the run's scores
            (``numpy.percentile``, linear interpolation), e.g. 90 keeps about
            the top 10%.

    Returns:
        The cutoff, or ``None`` when a percentile is asked of a run with no scores.

    Raises:
        ValueError: Not exactly one of ``threshold`` and ``percentile``, or a
            percentile outside [0, 100].

    Example:
        >>> rows = [{"verify_result": {"score": s}} for s in (0.25, 0.5, 0.75, 1.0)]
        >>> score_cutoff(rows, percentile=50), score_cutoff(rows, threshold=0.8)
        (0.625, 0.8)
    """
    if (threshold is None) == (percentile is None):
        raise ValueError("give exactly one of threshold and percentile")
    if threshold is not None:
        return float(threshold)
    assert percentile is not None
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be within [0, 100], not {percentile}")
    scores = [score for score in map(_score, rows) if score is not None]
    if not scores:
        return None
    return float(np.percentile(np.asarray(scores, dtype=float), percentile))


def keep_rows(rows: Iterable[Mapping[str, Any]], threshold: float | None = None,
              percentile: float | None = None) -> list[Mapping[str, Any]]:
    """The rows whose ``verify_result.score`` is at or above the cutoff.

    Args:
        rows: The run's verified rows (rows without a score are never kept).
        threshold: A fixed cutoff, e.g. ``0.85``.
        percentile: A percentile of the run's scores, e.g. ``90``.

    Returns:
        The kept rows, in input order.

    Raises:
        ValueError: Not exactly one of ``threshold`` and ``percentile``.

    Example:
        >>> rows = [{"verify_result": {"score": s}} for s in (0.25, 0.5, 0.75, 1.0)]
        >>> [r["verify_result"]["score"] for r in keep_rows(rows, percentile=50)]
        [0.75, 1.0]
    """
    rows = list(rows)
    cutoff = score_cutoff(rows, threshold=threshold, percentile=percentile)
    if cutoff is None:
        return []
    return [row for row in rows if (score := _score(row)) is not None and score >= cutoff]

