"""Stage ``augment``: variations of each task along three axes (research/astra.md §C.6).

* ``diverse``: another domain, situation or kind of user; the same tools in
  the same order, the same end result and difficulty;
* ``complicate``: the same tools and context, with added constraints (budget,
  deadline, policy, stakeholders) or the task embedded in a larger goal;
* ``persona``: reworded for a persona (:mod:`synth.sft.personas`).

Every axis keeps the tools, their order, the intent and the language; the
variation must pass the same question rules as a task
(:func:`synth.sft.checks.check_question`: the original's language, no tool
names, asks to *do* it) and must differ from the original (code
``unchanged_question``).

One record per (task, axis, variation index), prepared by
:func:`augment_records`; the persona of a record is drawn with
``random.Random(f"{seed}:{task_id}:{index}")``, so it is fixed by the seed.
An augmented row is its parent task row with a new ``task_id``, the new
``question``, and ``augmentation = {"axis", "index", "persona", "context",
"parent_task_id", "original_question"}``.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.stages.base import CallTally, provenance_entry, with_provenance

from .checks import check_question
from .common import (
    SftFailure,
    language_name,
    make_id,
    render_server,
    render_tool_list,
    sft_ask,
    tool_names,
)
from .personas import render_persona

__all__ = ["AUGMENT_SCHEMA", "AXES", "STAGE", "augment_records", "augment_stage"]

STAGE = "augment"
AXES = ("diverse", "complicate", "persona")
"""The augmentation axes, in the order their records are made."""

AUGMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["question"],
    "properties": {"context": {"type": "string"}, "question": {"type": "string"}},
}
"""The JSON schema of an augmentation reply."""


def augment_records(tasks: Iterable[Mapping[str, Any]], *, axes: Sequence[str] = AXES,
                    variations: int = 1, seed: int = 0,
                    personas: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """One augmentation record per (task, axis, variation index).

    Args:
        tasks: Task rows (``05_tasks.ok.jsonl``).
        axes: The axes to run (a subset of :data:`AXES`).
        variations: Variations per task and axis.
        seed: The run's seed (persona draws).
        personas: The persona pool (needed when ``persona`` is among ``axes``).

    Returns:
        The task rows with a new ``task_id`` and ``augmentation`` = ``{"axis",
        "index", "persona", "parent_task_id"}``.

    Raises:
        ValueError: An unknown axis, or the persona axis without personas.
    """
    unknown = sorted(set(axes) - set(AXES))
    if unknown:
        raise ValueError(f"unknown augmentation axis {unknown} (axes: {', '.join(AXES)})")
    if "persona" in axes and not personas:
        raise ValueError("the persona axis needs at least one persona")
    records = []
    for task in tasks:
        for axis in (name for name in AXES if name in axes):
            for index in range(variations):
                persona = None
                if axis == "persona":
                    rng = random.Random(f"{seed}:{task['task_id']}:{index}")
                    persona = dict(personas[rng.randrange(len(personas))])
                row = json.loads(json.dumps(task))
                row["task_id"] = make_id("tsk", task["task_id"], axis, index, persona)
                row["augmentation"] = {"axis": axis, "index": index, "persona": persona,
                                       "parent_task_id": task["task_id"]}
                records.append(row)
    return records


async def augment_stage(record: Mapping[str, Any], client: LLMClient, *,
                        temperature: float | None = 1.0,
                        max_tokens: int | None = None) -> dict[str, Any]:
    """Write one variation of a task.

    Args:
        record: A record of :func:`augment_records`; not modified.
        client: The LLM client.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.

    Returns:
        The augmented row (see the module docstring).

    Raises:
        SftFailure: ``llm_error``, ``unchanged_question`` or a question rule's code.
    """
    augmentation = record["augmentation"]
    axis = augmentation["axis"]
    language = record["language"]
    original = record["question"]
    prompt = load_prompt(f"sft_augment_{axis}")
    fields = {"server": render_server(record),
              "tools": render_tool_list(record, record["target_tools"]),
              "question": original, "language": language_name(language)}
    if axis == "persona":
        fields["persona"] = render_persona(augmentation["persona"] or {})
    content = prompt.render(**fields)
    names = tool_names(record)

    def check(reply: Mapping[str, Any]) -> None:
        if " ".join(reply["question"].split()) == " ".join(original.split()):
            raise SftFailure(STAGE, "unchanged_question", "the variation repeats the question")
        check_question(STAGE, reply["question"], language=language, tool_names=names)

    tally = CallTally()
    reply = await sft_ask(client, STAGE, f"{axis} variation", content, schema=AUGMENT_SCHEMA,
                          temperature=temperature, max_tokens=max_tokens, tally=tally,
                          check=check, seed=augmentation["index"])
    row = copy.deepcopy(dict(record))
    row["question"] = reply["question"].strip()
    row["augmentation"] = {**augmentation, "context": reply.get("context", ""),
                           "original_question": original}
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompt, tally))
    return row
