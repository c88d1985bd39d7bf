"""Stage ``tasks``: user tasks from verified chains and from servers alone.

Two modes (research/astra.md §C.5, the paper's T(s) = T_chain(s) ∪ T_server(s)):

* ``chain``: the verified chain is the plan; the model writes a task that
  needs exactly these tools in this order (its ``target_tools`` must equal
  the chain, code ``target_mismatch``);
* ``server``: the model picks ``k`` tools of the server (k = 1..3 by default)
  and writes a task that needs exactly them (``target_tools``: k distinct tools
  of the server, else ``target_mismatch``).

Each task record is one sample (``seed`` = the sample number), prepared by
the runner (:func:`task_records`). The question must pass
:func:`synth.sft.checks.check_question` (length, the server's language, no
tool names, asks to *do* the task); a reply that breaks a rule is re-asked with
the reason, and the task fails with the rule's code after the last ask.

The stage adds ``question``, ``target_tools``, ``analysis`` and ``language``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.stages.base import CallTally, provenance_entry, with_provenance

from .checks import check_question
from .common import (
    SERVER_KEYS,
    SftFailure,
    language_name,
    make_id,
    render_server,
    render_tool_list,
    sft_ask,
    tool_names,
)

__all__ = ["STAGE", "TASK_SCHEMA", "task_records", "tasks_stage"]

STAGE = "tasks"

TASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["target_tools", "question"],
    "properties": {"analysis": {"type": "string"},
                   "target_tools": {"type": "array", "items": {"type": "string"}},
                   "question": {"type": "string"}},
}
"""The JSON schema of a task reply."""


def task_records(chains: Iterable[Mapping[str, Any]], servers: Iterable[Mapping[str, Any]], *,
                 samples: int = 2, server_tools: Sequence[int] = (1, 2, 3),
                 chain_tasks: bool = True) -> list[dict[str, Any]]:
    """The task records of a run: one per (verified chain, sample) and (server, k, sample).

    Args:
        chains: Verified chain rows (``04_verify.ok.jsonl``).
        servers: Server rows (``01_harvest.ok.jsonl``).
        samples: Samples per chain and per (server, k).
        server_tools: The ``k`` of server-only tasks (empty: none); a k above
            the server's tool count is skipped.
        chain_tasks: Make chain-conditioned tasks.

    Returns:
        Records with ``task_id``, ``mode``, ``sample``, ``k``, ``chain_id``,
        ``chain``, ``walk``, ``verification``, the server context and ``provenance``.
    """
    records = []
    if chain_tasks:
        for chain in chains:
            for sample in range(samples):
                records.append({
                    "task_id": make_id("tsk", "chain", chain["chain_id"], sample),
                    "mode": "chain", "sample": sample, "k": len(chain["chain"]),
                    "chain_id": chain["chain_id"], "chain": list(chain["chain"]),
                    "walk": chain.get("walk"), "verification": chain.get("verification"),
                    **{key: chain.get(key) for key in SERVER_KEYS},
                    "provenance": list(chain.get("provenance") or [])})
    for server in servers:
        for k in server_tools:
            if k > len(server.get("tools") or []):
                continue
            for sample in range(samples):
                records.append({
                    "task_id": make_id("tsk", "server", server["server_id"], k, sample),
                    "mode": "server", "sample": sample, "k": k, "chain_id": None,
                    "chain": None, "walk": None, "verification": None,
                    **{key: server.get(key) for key in SERVER_KEYS},
                    "provenance": list(server.get("provenance") or [])})
    return records


def _check_targets(record: Mapping[str, Any], targets: list[str]) -> None:
    known = set(tool_names(record))
    if record["mode"] == "chain":
        if targets != list(record["chain"]):
            raise SftFailure(STAGE, "target_mismatch",
                             f"target_tools {targets} are not the chain {record['chain']}")
        return
    unknown = [name for name in targets if name not in known]
    if unknown or len(set(targets)) != len(targets) or len(targets) != record["k"]:
        raise SftFailure(STAGE, "target_mismatch",
                         f"target_tools {targets} are not {record['k']} distinct tools of the "
                         f"server" + (f" (unknown: {unknown})" if unknown else ""))


async def tasks_stage(record: Mapping[str, Any], client: LLMClient, *,
                      temperature: float | None = 1.0,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """Write one task for a task record.

    Args:
        record: A record of :func:`task_records`; not modified.
        client: The LLM client.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.

    Returns:
        The record with ``question``, ``target_tools``, ``analysis``,
        ``language`` and a provenance entry.

    Raises:
        SftFailure: ``llm_error``, ``target_mismatch`` or a question rule's
            code (:mod:`synth.sft.checks`) after the last ask.
    """
    language = record["server"]["language"]
    names = tool_names(record)
    if record["mode"] == "chain":
        prompt = load_prompt("sft_task_chain")
        content = prompt.render(
            server=render_server(record), tools=render_tool_list(record),
            chain="\n".join(f"{i}. {name}" for i, name in enumerate(record["chain"], start=1)),
            length=len(record["chain"]), language=language_name(language))
    else:
        prompt = load_prompt("sft_task_server")
        content = prompt.render(server=render_server(record), tools=render_tool_list(record),
                                k=record["k"], language=language_name(language))

    def check(reply: Mapping[str, Any]) -> None:
        _check_targets(record, list(reply["target_tools"]))
        check_question(STAGE, reply["question"], language=language, tool_names=names)

    tally = CallTally()
    reply = await sft_ask(client, STAGE, f"{record['mode']} task", content, schema=TASK_SCHEMA,
                          temperature=temperature, max_tokens=max_tokens, tally=tally,
                          check=check, seed=record["sample"])
    row = copy.deepcopy(dict(record))
    row.update(question=reply["question"].strip(), target_tools=list(reply["target_tools"]),
               analysis=reply.get("analysis", ""), language=language)
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompt, tally))
    return row
