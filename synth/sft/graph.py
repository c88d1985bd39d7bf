"""Stage ``graph``: per server, LLM-proposed dependent tool chains as a weighted graph.

Per server the model is asked ``samples`` times (each its own request,
``seed=i``) for tool chains in which a later tool consumes what an earlier one
returns, each with a verdict (``yes`` / ``no`` / ``not sure``) and the task it
serves (research/astra.md §C.2). Only ``yes`` chains count. Every consecutive
pair of a kept chain is a directed edge; its **weight** is how many times the
pair was proposed over all samples (the release stored no weights; the paper
walks a weighted graph).

Fail-closed handling of names: a chain naming a tool the server does not have
keeps only the pairs whose two tools both exist *and* are adjacent in the
proposed chain, so no edge ever bridges an unknown name; the unknown names are
dropped with a note. Self-loops are dropped with a note too. A server whose
samples leave no edge at all fails with code ``no_edges``; a reply that cannot
be parsed or does not fit the schema (after the client's retries) fails with
``llm_error``.

The stage adds ``graph = {"nodes", "edges": [{"source", "target", "weight"}],
"samples", "chains": [{"sample", "chain", "task"}], "notes"}`` to the server
row; nodes are every tool of the server, in the server's order.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.stages.base import CallTally, provenance_entry, with_provenance

from .common import SftFailure, render_server, render_tool_lines, sft_ask, tool_names

__all__ = ["GRAPH_SCHEMA", "STAGE", "build_graph", "graph_stage"]

STAGE = "graph"

GRAPH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["chains"],
    "properties": {
        "chains": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["verdict", "chain"],
                "properties": {
                    "verdict": {"type": "string"},
                    "chain": {"type": "array", "items": {"type": "string"}},
                    "task": {"type": "string"},
                },
            },
        },
    },
}
"""The JSON schema of one graph reply."""


def build_graph(samples: Sequence[Sequence[Mapping[str, Any]]], known: Sequence[str]
                ) -> dict[str, Any]:
    """The weighted graph of the ``yes`` chains of every sample.

    Args:
        samples: Per sample, the reply's chains (``{"verdict", "chain", "task"}``).
        known: The server's tool names, in order (the nodes).

    Returns:
        ``{"nodes", "edges", "samples", "chains", "notes"}`` (see the module docstring).

    Example:
        >>> graph = build_graph([[{"verdict": "yes", "chain": ["a", "b", "c"]}],
        ...                      [{"verdict": "yes", "chain": ["a", "b"]},
        ...                       {"verdict": "no", "chain": ["c", "a"]}]], ["a", "b", "c"])
        >>> [(e["source"], e["target"], e["weight"]) for e in graph["edges"]]
        [('a', 'b', 2), ('b', 'c', 1)]
        >>> build_graph([[{"verdict": "yes", "chain": ["a", "x", "b"]}]], ["a", "b"])["edges"]
        []
    """
    order = {name: index for index, name in enumerate(known)}
    weights: Counter[tuple[str, str]] = Counter()
    chains: list[dict[str, Any]] = []
    notes: list[str] = []
    for sample, reply in enumerate(samples):
        left_out = Counter(str(item.get("verdict")).strip().lower() for item in reply
                           if str(item.get("verdict")).strip().lower() != "yes")
        if left_out:
            notes.append(f"sample {sample}: left out " + ", ".join(
                f"{count} chain(s) with verdict {verdict!r}"
                for verdict, count in sorted(left_out.items())))
        for item in reply:
            if str(item.get("verdict")).strip().lower() != "yes":
                continue
            chain = [str(name) for name in item.get("chain") or []]
            unknown = sorted({name for name in chain if name not in order})
            if unknown:
                notes.append(f"sample {sample}: chain {chain} names unknown tool(s) {unknown}; "
                             "they are dropped and no edge bridges them")
            if len(chain) < 2:
                notes.append(f"sample {sample}: chain {chain} has fewer than 2 tools")
            chains.append({"sample": sample, "chain": chain, "task": str(item.get("task", ""))})
            for source, target in itertools.pairwise(chain):
                if source not in order or target not in order:
                    continue
                if source == target:
                    notes.append(f"sample {sample}: self-loop {source} -> {target} dropped")
                    continue
                weights[(source, target)] += 1
    edges = [{"source": source, "target": target, "weight": weight}
             for (source, target), weight in sorted(
                 weights.items(), key=lambda item: (order[item[0][0]], order[item[0][1]]))]
    return {"nodes": list(known), "edges": edges, "samples": len(samples), "chains": chains,
            "notes": notes}


async def graph_stage(record: Mapping[str, Any], client: LLMClient, *, samples: int = 3,
                      temperature: float | None = 1.0,
                      max_tokens: int | None = None) -> dict[str, Any]:
    """Ask for dependent chains ``samples`` times and build the server's weighted graph.

    Args:
        record: A server row (``01_harvest.ok.jsonl``); not modified.
        client: The LLM client.
        samples: Requests per server (``seed`` 0..samples-1).
        temperature: Sampling temperature.
        max_tokens: Completion length cap.

    Returns:
        The server row with ``graph`` and a provenance entry.

    Raises:
        SftFailure: ``llm_error`` (a reply never parsed or fit the schema) or
            ``no_edges`` (no usable dependent pair in any sample).
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, not {samples}")
    prompt = load_prompt("sft_graph")
    content = prompt.render(server=render_server(record), tools=render_tool_lines(record))
    tally = CallTally()
    replies = await asyncio.gather(*(
        sft_ask(client, STAGE, f"tool graph sample {sample}", content, schema=GRAPH_SCHEMA,
                temperature=temperature, max_tokens=max_tokens, tally=tally, seed=sample)
        for sample in range(samples)))
    graph = build_graph([reply["chains"] for reply in replies], tool_names(record))
    if not graph["edges"]:
        detail = "; ".join(graph["notes"][:3])
        raise SftFailure(STAGE, "no_edges", f"no usable dependent tool pair in {samples} "
                                            f"sample(s)" + (f" ({detail})" if detail else ""))
    row = copy.deepcopy(dict(record))
    row["graph"] = graph
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompt, tally))
    return row
