"""Stage ``score``: each task rated 1–5, kept only if every thresholded score reaches its threshold.

One call per task (original or augmented) rates five dimensions on integers
1..5, each with its reasoning (research/astra.md §C.7):

* the paper's three, which decide: ``question_quality``,
  ``scenario_realism``, ``tool_use_necessity``;
* recorded extras (the release's rubric): ``tool_selection_difficulty``,
  ``tool_selection_uniqueness``.

Every dimension is required, and a score must be an integer in 1..5: a reply
that lacks one, or scores ``"4"`` or ``4.5``, does not fit the schema, is
retried by the client and then fails the task (``llm_error``): an unparsable
score never passes a task. The threshold is applied when the views are
written (:func:`below_thresholds`), not in the journal, so changing a
threshold and rerunning re-splits the scored tasks without a request.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.stages.base import CallTally, provenance_entry, with_provenance

from .common import render_server, render_tool_lines, sft_ask

__all__ = ["DEFAULT_THRESHOLDS", "DIMENSIONS", "SCORE_SCHEMA", "STAGE", "below_thresholds",
           "score_stage"]

STAGE = "score"
DIMENSIONS = ("question_quality", "scenario_realism", "tool_use_necessity",
              "tool_selection_difficulty", "tool_selection_uniqueness")
"""Every scored dimension, the three thresholded ones first."""

DEFAULT_THRESHOLDS: dict[str, int] = {"question_quality": 4, "scenario_realism": 4,
                                      "tool_use_necessity": 4}
"""The paper's θ (values not published): a task is kept iff each of these scores reaches its
threshold. 4 of 5 is "good" on every rubric of the prompt."""

_DIMENSION = {"type": "object", "required": ["score"],
              "properties": {"reasoning": {"type": "string"},
                             "score": {"type": "integer", "minimum": 1, "maximum": 5}}}
SCORE_SCHEMA: dict[str, Any] = {"type": "object", "required": list(DIMENSIONS),
                                "properties": {name: _DIMENSION for name in DIMENSIONS}}
"""The JSON schema of a score reply."""


def below_thresholds(scores: Mapping[str, int], thresholds: Mapping[str, int]) -> list[str]:
    """The thresholded dimensions a task misses, as ``"name s < t"`` strings.

    Args:
        scores: The task's scores.
        thresholds: ``{dimension: least score}``.

    Returns:
        The misses (empty: keep the task). A missing score is a miss.

    Example:
        >>> below_thresholds({"question_quality": 5, "scenario_realism": 3},
        ...                  {"question_quality": 4, "scenario_realism": 4})
        ['scenario_realism 3 < 4']
    """
    misses = []
    for name, least in thresholds.items():
        score = scores.get(name)
        if not isinstance(score, int) or score < least:
            misses.append(f"{name} {score} < {least}")
    return misses


async def score_stage(record: Mapping[str, Any], client: LLMClient, *,
                      temperature: float | None = 0.0,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """Rate one task on the five dimensions.

    Args:
        record: A task row (``05_tasks.ok.jsonl`` or ``06_augment.ok.jsonl``); not modified.
        client: The LLM client.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.

    Returns:
        The row with ``scores`` (``{dimension: 1..5}``), ``score_reasoning``
        and a provenance entry.

    Raises:
        SftFailure: ``llm_error`` (a reply without every score as an integer 1..5).
    """
    prompt = load_prompt("sft_score")
    content = prompt.render(server=render_server(record), tools=render_tool_lines(record),
                            target_tools=", ".join(record["target_tools"]),
                            question=record["question"])
    tally = CallTally()
    reply = await sft_ask(client, STAGE, "task scores", content, schema=SCORE_SCHEMA,
                          temperature=temperature, max_tokens=max_tokens, tally=tally)
    row = copy.deepcopy(dict(record))
    row["scores"] = {name: int(reply[name]["score"]) for name in DIMENSIONS}  # 4.0 -> 4
    row["score_reasoning"] = {name: reply[name].get("reasoning", "") for name in DIMENSIONS}
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompt, tally))
    return row
