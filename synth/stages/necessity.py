"""Stage 2: does each sub-question need a tool? (research/astra.md A.2)

One LLM call per row, with the whole trace. The reply is a JSON array of
``{"_uuid", "tool_necessity", "reason"}`` that must align 1:1 with the trace:
the same length and the same ``_uuid``\\ s in the same order; anything else is
re-asked (:func:`~synth.stages.base.ask`, at most
:data:`~synth.stages.base.MAX_ASKS` asks), then fails the row with its reason
(the released code retried and then marked the row illegitimate).

The stage adds ``tool_necessity`` (bool) and ``reason`` to every trace item and
``tool_necessity_legitimacy`` to the row. Legitimacy is computed here, not
asked of the model: it is true iff every non-leaf node (one that some other
node depends on) needs a tool; only the leaves (final aggregation steps) may be
answered without one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.trace import TraceNode, node_id, non_leaf_ids

from .base import (
    ID_SCHEMA,
    CallTally,
    StageFailure,
    ask,
    provenance_entry,
    render_trace_json,
    valid_trace,
    with_provenance,
)

__all__ = ["NECESSITY_SCHEMA", "STAGE", "legitimacy", "necessity"]

STAGE = "necessity"

NECESSITY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "required": ["_uuid", "tool_necessity", "reason"],
        "properties": {
            "_uuid": ID_SCHEMA,
            "tool_necessity": {"type": "boolean"},
            "reason": {"type": "string"},
        },
    },
}
"""The JSON schema a necessity reply must satisfy."""


def legitimacy(nodes: list[TraceNode], needs_tool: Mapping[str, bool]) -> bool:
    """Whether every non-leaf node needs a tool.

    Args:
        nodes: The trace nodes.
        needs_tool: ``tool_necessity`` by node id.

    Returns:
        True iff each node some other node depends on needs a tool.

    Example:
        >>> from synth.trace import validate_trace
        >>> nodes, _ = validate_trace([
        ...     {"_uuid": 1, "hop_level": 1, "sub_answer": "a"},
        ...     {"_uuid": 2, "hop_level": 2, "sub_answer": "b", "dependency": [1]}])
        >>> legitimacy(nodes, {"1": True, "2": False}), legitimacy(nodes, {"1": False, "2": True})
        (True, False)
    """
    return all(needs_tool.get(uid) is True for uid in non_leaf_ids(nodes))


def _align(nodes: list[TraceNode], reply: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The reply's items by node id, or a failure when they do not match the trace 1:1."""
    expected = [node.id for node in nodes]
    got = [node_id(item.get("_uuid")) for item in reply]
    if got != expected:
        raise StageFailure(STAGE, "reply does not align with the trace: expected _uuids "
                                  f"{expected} in order, got {got}")
    return {uid: item for uid, item in zip(expected, reply, strict=True) if uid is not None}


async def necessity(record: Mapping[str, Any], client: LLMClient, *,
                    temperature: float | None = 0.0,
                    max_tokens: int | None = None) -> dict[str, Any]:
    """Label each sub-question with ``tool_necessity`` and compute the row's legitimacy.

    Args:
        record: A generated row (not modified).
        client: The LLM client.
        temperature: Sampling temperature.
        max_tokens: Completion length cap (``None``: the server's).

    Returns:
        The row with ``tool_necessity``/``reason`` on each trace item,
        ``tool_necessity_legitimacy``, and a provenance entry (a new dict).

    Raises:
        StageFailure: The trace is invalid, the LLM call failed, or the reply
            does not align with the trace.
    """
    nodes = valid_trace(record, STAGE)
    prompt = load_prompt("necessity")
    content = prompt.render(main_question=record.get("main_question", ""),
                            final_answer=record.get("final_answer", ""),
                            trace=render_trace_json(record))
    tally = CallTally()
    reply = await ask(client, STAGE, "tool necessity", content, schema=NECESSITY_SCHEMA,
                      temperature=temperature, max_tokens=max_tokens, tally=tally,
                      check=lambda value: _align(nodes, value))
    by_id = _align(nodes, reply)

    row = copy.deepcopy(dict(record))
    for item in row["decomposition_trace"]:
        answer = by_id[node_id(item["_uuid"]) or ""]
        item["tool_necessity"] = answer["tool_necessity"]
        item["reason"] = answer["reason"]
    row["tool_necessity_legitimacy"] = legitimacy(
        nodes, {uid: item["tool_necessity"] for uid, item in by_id.items()})
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompt, tally))
    return row
