"""Stage ``judge``: seven LLM judges score each trajectory, fail-closed (research/astra.md §C.9).

=========  ==========================================================  ===============  =========
dimension  what is judged                                              scale per item   aggregate
=========  ==========================================================  ===============  =========
QU         the first assistant reply (text and calls) against the      {0, 0.5, 1}      the score
           query: intent, slots, how-to queries, invented personal
           parameters
QP         the first reply as a global plan, against the trajectory    {0, 0.5, 1}      the score
TCU        each batch of tool results (parallel calls are one batch)   {0, 0.5, 1}      mean
           with the assistant message after it; redundant retries 0
TCP        each assistant round with calls that follows tool results   {0, 0.5, 1}      mean
           (rounds j >= 2), god's-eye view
TCS        each tool result: success or failure; **decided by rule**   {0, 1}           mean
           where the backend reported an error (an injected failure,
           an MCP ``isError``, an emulated error, invalid arguments),
           by the judge otherwise
TC         each call: necessary (1) or redundant (0)                   {0, 1}           mean
FA         (correctness + summary) / 2; correctness is 0 **by rule**   {0, 0.5, 1} x 2  mean of 2
           when the answer's language differs from the query's
=========  ==========================================================  ===============  =========

The overall score is the mean of the applicable dimensions. A dimension is
*not applicable* only when its items do not exist (no tool batch for TCU, no
round j >= 2 for TCP, no tool call for TCS and TC): it is then ``null`` and
not asked. Every judge is its own prompt (``synth/prompts/sft_judge_*.md``).

**Fail-closed.** A reply that is not JSON, lacks a field, scores out of scale
(``0.7``, ``2``, ``"1"``) or does not judge every item exactly once is asked
again (the client's retries, then up to 3 asks with the reason); when no reply
is usable the trajectory is **unscored**, with the dimension and the reason
(code ``unscored``), never passed. The release mapped every such failure to
1.0.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from astra_gym.parsers.text import clip
from synth.language import detect_language
from synth.llm import LLMClient, OfflineMiss
from synth.prompts import load_prompt
from synth.stages.base import CallTally, StageFailure

from .common import SftFailure, sft_ask

__all__ = ["DEFAULT_MIN_SCORE", "DIMENSIONS", "STAGE", "TrajectoryView", "judge_stage",
           "keep_reasons"]

STAGE = "judge"
DIMENSIONS = ("QU", "QP", "TCU", "TCP", "TCS", "TC", "FA")
"""The paper's seven dimensions, in its order."""
DEFAULT_MIN_SCORE = 0.75
"""A trajectory is kept when its overall score reaches this. The paper filters on the mean but
publishes no threshold; 0.75 keeps trajectories whose dimensions are mostly at full marks (one
dimension at 0 and the rest at 1 is 0.857; two partial ones, 0.857; three at 0.5, 0.786) and
drops those with two failed dimensions (0.714)."""
_PROMPTS = {"QU": "sft_judge_qu", "QP": "sft_judge_qp", "TCU": "sft_judge_tcu",
            "TCP": "sft_judge_tcp", "TCS": "sft_judge_tcs", "TC": "sft_judge_tc",
            "FA": "sft_judge_fa"}
_HALF = {"enum": [0, 0.5, 1]}
_BINARY = {"enum": [0, 1]}
_CONTENT_CHARS = 2000


def _single(scale: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["score"],
            "properties": {"reason": {"type": "string"}, "score": dict(scale)}}


def _listed(key: str, field: str, scale: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": [key], "properties": {key: {
        "type": "array", "items": {"type": "object", "required": ["id", field], "properties": {
            "id": {"type": "string"}, "reason": {"type": "string"}, field: dict(scale)}}}}}


SCHEMAS: dict[str, dict[str, Any]] = {
    "QU": _single(_HALF), "QP": _single(_HALF),
    "TCU": _listed("batches", "score", _HALF), "TCP": _listed("rounds", "score", _HALF),
    "TCS": _listed("results", "success", {"type": "boolean"}),
    "TC": _listed("calls", "score", _BINARY),
    "FA": {"type": "object", "required": ["correctness", "summary"],
           "properties": {"correctness": _single(_HALF), "summary": _single(_HALF)}},
}
"""The reply schema of each judge (scales as enums: anything else is out of scale)."""


@dataclass
class TrajectoryView:
    """A trajectory laid out for the judges: numbered messages, ids for calls and results.

    Args:
        row: A trajectory row (``messages``, ``tools``, ``calls``, ``task``).
    """

    row: Mapping[str, Any]

    def __post_init__(self) -> None:
        messages = self.row["messages"]
        self.query = next((m.get("content") or "" for m in messages if m["role"] == "user"), "")
        assistants = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
        self.first = assistants[0] if assistants else None
        self.final = assistants[-1] if assistants else None
        self.call_ids: dict[str, str] = {}
        self.results: list[tuple[str, int]] = []  # (T id, message index)
        for index, message in enumerate(messages):
            for call in message.get("tool_calls") or []:
                self.call_ids[call["id"]] = f"C{len(self.call_ids) + 1}"
            if message["role"] == "tool":
                self.results.append((f"T{len(self.results) + 1}", index))
        self.batches: list[tuple[str, list[int], int]] = []  # (B id, tool indexes, next)
        self.rounds: list[tuple[str, int]] = []  # (R id, assistant index), rounds j >= 2
        run: list[int] = []
        round_number = 0
        for index, message in enumerate(messages):
            if message["role"] == "tool":
                run.append(index)
                continue
            if message["role"] == "assistant":
                if run:
                    self.batches.append((f"B{len(self.batches) + 1}", run, index))
                if message.get("tool_calls"):
                    round_number += 1
                    if run and round_number >= 2:
                        self.rounds.append((f"R{round_number}", index))
            run = []

    def message_text(self, index: int) -> str:
        """One numbered message as the judges read it.

        Args:
            index: The message's position.

        Returns:
            The text.
        """
        message = self.row["messages"][index]
        role = message["role"]
        content = clip(str(message.get("content") or ""), _CONTENT_CHARS)
        if role == "tool":
            call = self.call_ids.get(message.get("tool_call_id", ""), "?")
            result = next(t for t, i in self.results if i == index)
            return (f"[{index + 1}] tool result {result} of call {call} "
                    f"({message.get('name', '')}): {content}")
        lines = [f"[{index + 1}] {role}: {content}"]
        for call in message.get("tool_calls") or []:
            lines.append(f"    call {self.call_ids[call['id']]}: {call['function']['name']}"
                         f"({call['function']['arguments']})")
        return "\n".join(lines)

    def trajectory(self) -> str:
        """Every message but the system prompt, numbered.

        Returns:
            The text.
        """
        return "\n".join(self.message_text(i) for i, m in enumerate(self.row["messages"])
                         if m["role"] != "system")

    def tools(self) -> str:
        """The tools, one JSON object per line.

        Returns:
            The text.
        """
        return "\n".join(json.dumps({"name": t["function"]["name"],
                                     "description": t["function"].get("description"),
                                     "parameters": t["function"].get("parameters")},
                                    ensure_ascii=False) for t in self.row["tools"])


def _check_ids(key: str, wanted: Sequence[str]) -> Any:
    def check(value: Any) -> None:
        got = [item["id"] for item in value[key]]
        if sorted(got) != sorted(wanted) or len(set(got)) != len(got):
            missing = sorted(set(wanted) - set(got))
            extra = sorted(set(got) - set(wanted))
            twice = sorted({item for item in got if got.count(item) > 1})
            raise SftFailure(STAGE, "unscored", f"the reply must judge each of {list(wanted)} "
                                                f"exactly once (missing {missing}, unknown "
                                                f"{extra}, repeated {twice})")
    return check


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4)


async def _judge(dimension: str, view: TrajectoryView, client: LLMClient, tally: CallTally,
                 options: Mapping[str, Any]) -> dict[str, Any]:
    """One dimension: ``{"score": float | None, "items": [...], "note"?}``."""
    prompt = load_prompt(_PROMPTS[dimension])
    messages = view.row["messages"]
    ask_options = {"schema": SCHEMAS[dimension], "temperature": options.get("temperature"),
                   "max_tokens": options.get("max_tokens"), "tally": tally}
    what = f"{dimension} judgement"
    if dimension in ("QU", "QP"):
        if view.first is None:
            raise SftFailure(STAGE, "unscored", f"{dimension}: no assistant message")
        fields = {"tools": view.tools(), "query": view.query,
                  "first_reply": view.message_text(view.first)}
        if dimension == "QP":
            fields["trajectory"] = view.trajectory()
        reply = await sft_ask(client, STAGE, what, prompt.render(**fields), **ask_options)
        return {"score": float(reply["score"]), "items": [reply]}
    if dimension == "FA":
        final = messages[view.final]["content"] if view.final is not None else ""
        reply = await sft_ask(client, STAGE, what, prompt.render(
            query=view.query, trajectory=view.trajectory(), final_answer=final or ""),
            **ask_options)
        correctness = float(reply["correctness"]["score"])
        note = None
        query_language, answer_language = detect_language(view.query), detect_language(final)
        if query_language != answer_language:
            correctness = 0.0
            note = (f"correctness 0 by rule: the answer is in {answer_language}, the query "
                    f"in {query_language}")
        summary = float(reply["summary"]["score"])
        out = {"score": _mean([correctness, summary]), "items": [reply],
               "parts": {"correctness": correctness, "summary": summary}}
        if note:
            out["note"] = note
        return out
    trajectory = view.trajectory()
    if dimension == "TCU":
        if not view.batches:
            return {"score": None, "items": [], "note": "no tool results"}
        items = "\n".join(f"{bid}: results {', '.join(f'[{i + 1}]' for i in tools)}, then "
                          f"[{after + 1}]" for bid, tools, after in view.batches)
        wanted = [bid for bid, _, _ in view.batches]
        reply = await sft_ask(client, STAGE, what, prompt.render(
            query=view.query, trajectory=trajectory, items=items),
            check=_check_ids("batches", wanted), **ask_options)
        return {"score": _mean([float(i["score"]) for i in reply["batches"]]),
                "items": reply["batches"]}
    if dimension == "TCP":
        if not view.rounds:
            return {"score": None, "items": [], "note": "no round after tool results"}
        items = "\n".join(f"{rid}: message [{index + 1}]" for rid, index in view.rounds)
        wanted = [rid for rid, _ in view.rounds]
        reply = await sft_ask(client, STAGE, what, prompt.render(
            tools=view.tools(), query=view.query, trajectory=trajectory, items=items),
            check=_check_ids("rounds", wanted), **ask_options)
        return {"score": _mean([float(i["score"]) for i in reply["rounds"]]),
                "items": reply["rounds"]}
    if dimension == "TC":
        if not view.call_ids:
            return {"score": None, "items": [], "note": "no tool calls"}
        items = "\n".join(f"{cid}" for cid in view.call_ids.values())
        wanted = list(view.call_ids.values())
        reply = await sft_ask(client, STAGE, what, prompt.render(
            tools=view.tools(), query=view.query, trajectory=trajectory, items=items),
            check=_check_ids("calls", wanted), **ask_options)
        return {"score": _mean([float(i["score"]) for i in reply["calls"]]),
                "items": reply["calls"]}
    assert dimension == "TCS"
    if not view.results:
        return {"score": None, "items": [], "note": "no tool results"}
    records = list(view.row.get("calls") or [])
    by_rule: dict[str, dict[str, Any]] = {}
    if len(records) == len(view.results):
        for (tid, _), record in zip(view.results, records, strict=True):
            if record.get("outcome") in ("injected", "invalid", "tool_error"):
                by_rule[tid] = {"id": tid, "success": False,
                                "rule": f"the backend reported {record.get('outcome')}"
                                        f" ({record.get('error')})"}
    asked = [(tid, index) for tid, index in view.results if tid not in by_rule]
    judged: dict[str, dict[str, Any]] = {}
    if asked:
        items = "\n".join(f"{tid}: message [{index + 1}]" for tid, index in asked)
        reply = await sft_ask(client, STAGE, what, prompt.render(trajectory=trajectory,
                                                                items=items),
                              check=_check_ids("results", [tid for tid, _ in asked]),
                              **ask_options)
        judged = {item["id"]: item for item in reply["results"]}
    decided = [by_rule.get(tid) or judged[tid] for tid, _ in view.results]
    return {"score": _mean([1.0 if item["success"] else 0.0 for item in decided]),
            "items": decided}


def keep_reasons(row: Mapping[str, Any], *, min_score: float, require_success: bool = False,
                 min_f1: float | None = None) -> list[tuple[str, str]]:
    """Why a judged trajectory is not kept (empty: keep it).

    Args:
        row: A judged trajectory row (``judgement``, ``labels``).
        min_score: The least overall score.
        require_success: Env-pack trajectories must be rule-verified successes.
        min_f1: Env-pack trajectories need at least this F1 (``None``: no bound).

    Returns:
        ``(code, reason)`` pairs: ``below_min_score``, ``env_unsuccessful``, ``below_min_f1``.

    Example:
        >>> keep_reasons({"judgement": {"overall": 0.5}, "labels": None}, min_score=0.75)
        [('below_min_score', 'overall 0.5 < 0.75')]
    """
    reasons = []
    overall = (row.get("judgement") or {}).get("overall")
    if not isinstance(overall, int | float) or overall < min_score:
        reasons.append(("below_min_score", f"overall {overall} < {min_score:g}"))
    labels = row.get("labels")
    if row.get("backend") == "env" and isinstance(labels, Mapping):
        if require_success and not labels.get("success"):
            reasons.append(("env_unsuccessful", "the env did not verify success"))
        if min_f1 is not None and float(labels.get("f1", 0.0)) < min_f1:
            reasons.append(("below_min_f1", f"f1 {labels.get('f1')} < {min_f1:g}"))
    return reasons


async def judge_stage(record: Mapping[str, Any], client: LLMClient, *,
                      temperature: float | None = 0.0,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """Score one trajectory on the seven dimensions.

    Args:
        record: A trajectory row (``08_rollout.ok.jsonl``); not modified.
        client: The judges' LLM client.
        temperature: Sampling temperature (0: judgements should not vary).
        max_tokens: Completion length cap.

    Returns:
        The row with ``judgement``: ``{"scores": {dim: float | None},
        "overall", "dimensions": {dim: {"score", "items", "note"?}}}`` and a
        provenance entry.

    Raises:
        SftFailure: ``unscored``: a judge gave no usable reply (the reasons of
            every failed dimension, in dimension order).
        OfflineMiss: Offline, and the cache lacks a judgement.
    """
    view = TrajectoryView(record)
    tally = CallTally()
    options = {"temperature": temperature, "max_tokens": max_tokens}
    results = await asyncio.gather(*(_judge(dimension, view, client, tally, options)
                                     for dimension in DIMENSIONS), return_exceptions=True)
    failures = []
    for dimension, result in zip(DIMENSIONS, results, strict=True):
        if isinstance(result, OfflineMiss):
            raise result
        if isinstance(result, StageFailure):
            failures.append(f"{dimension}: {result.reason}")
        elif isinstance(result, BaseException):
            raise result
    if failures:
        raise SftFailure(STAGE, "unscored", "; ".join(failures))
    dimensions = dict(zip(DIMENSIONS, results, strict=True))
    scores = {name: value["score"] for name, value in dimensions.items()}
    applicable = [score for score in scores.values() if score is not None]
    row = copy.deepcopy(dict(record))
    row["judgement"] = {"scores": scores, "overall": _mean(applicable),
                        "dimensions": dimensions}
    entry = {"stage": STAGE, "model": client.model,
             "prompt_version": {name: load_prompt(name).version for name in _PROMPTS.values()},
             "attempts": tally.attempts,
             "cached": tally.calls > 0 and tally.cached == tally.calls, "calls": tally.calls,
             "usage": {"prompt_tokens": tally.prompt_tokens,
                       "completion_tokens": tally.completion_tokens}}
    row["provenance"] = [*row.get("provenance", []), entry]
    return row
