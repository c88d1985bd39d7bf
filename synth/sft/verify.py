"""Stage ``verify``: chain verification as filters (the release computed these and ignored them).

Two checks, both on by default, each switchable; a chain that fails one is
dropped, its reason kept in ``04_verify.failed.jsonl``:

* **vote** (code ``vote_rejected``): ``votes`` independent judgments
  (``seed`` 0..votes-1) of whether the chain, in order, is one coherent,
  realistic task *and* every required argument of every tool can come from
  the user's task or an earlier tool's output (the paper's two checks). A vote
  is valid when both hold; the chain passes on a strict majority of valid
  votes. A vote whose reply cannot be parsed fails the chain (``llm_error``):
  it is never ignored or counted as a pass.
* **back-translation** (code ``back_translation_mismatch``): the chain is
  turned into a user query, the query back into a chain by a planner that sees
  all the server's tools; the chain passes only when the two are equal
  exactly (same tools, same order).

The vote runs first; a rejected chain is not back-translated. The row gains
``verification = {"vote": {"votes": [...], "valid": k, "n": n} | None,
"back_translation": {"query", "chain"} | None}`` (``None``: switched off).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt
from synth.stages.base import CallTally, provenance_entry, with_provenance

from .common import (
    SftFailure,
    render_chain,
    render_server,
    render_tool_lines,
    sft_ask,
)

__all__ = ["BACK_CHAIN_SCHEMA", "QUERY_SCHEMA", "STAGE", "VOTE_SCHEMA", "verify_stage"]

STAGE = "verify"

VOTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["coherent", "arguments_satisfiable"],
    "properties": {"coherent": {"type": "boolean"},
                   "arguments_satisfiable": {"type": "boolean"},
                   "reason": {"type": "string"}},
}
QUERY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["query"],
    "properties": {"query": {"type": "string", "minLength": 1}},
}
BACK_CHAIN_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["chain"],
    "properties": {"chain": {"type": "array", "items": {"type": "string"}},
                   "plan": {"type": "string"}},
}


def _chain_lines(chain: list[str]) -> str:
    return "\n".join(f"{index}. {name}" for index, name in enumerate(chain, start=1))


async def _vote(record: Mapping[str, Any], client: LLMClient, votes: int,
                temperature: float | None, max_tokens: int | None,
                tally: CallTally) -> dict[str, Any]:
    chain = list(record["chain"])
    content = load_prompt("sft_verify_chain").render(
        server=render_server(record), tools=render_tool_lines(record, chain),
        chain=_chain_lines(chain))
    replies = await asyncio.gather(*(
        sft_ask(client, STAGE, f"chain vote {index}", content, schema=VOTE_SCHEMA,
                temperature=temperature, max_tokens=max_tokens, tally=tally, seed=index)
        for index in range(votes)))
    shown = [{"coherent": reply["coherent"],
              "arguments_satisfiable": reply["arguments_satisfiable"],
              "reason": reply.get("reason", "")} for reply in replies]
    valid = sum(1 for vote in shown if vote["coherent"] and vote["arguments_satisfiable"])
    if valid * 2 <= votes:
        reasons = "; ".join(vote["reason"] for vote in shown
                            if not (vote["coherent"] and vote["arguments_satisfiable"])
                            and vote["reason"])
        raise SftFailure(STAGE, "vote_rejected",
                         f"{valid} of {votes} votes found {render_chain(chain)} coherent with "
                         "satisfiable arguments" + (f" ({reasons[:300]})" if reasons else ""))
    return {"votes": shown, "valid": valid, "n": votes}


async def _back_translate(record: Mapping[str, Any], client: LLMClient,
                          temperature: float | None, max_tokens: int | None,
                          tally: CallTally) -> dict[str, Any]:
    chain = list(record["chain"])
    query = (await sft_ask(
        client, STAGE, "back-translation query",
        load_prompt("sft_chain_to_query").render(
            server=render_server(record), tools=render_tool_lines(record, chain),
            chain=_chain_lines(chain)),
        schema=QUERY_SCHEMA, temperature=temperature, max_tokens=max_tokens,
        tally=tally))["query"]
    back = (await sft_ask(
        client, STAGE, "back-translation chain",
        load_prompt("sft_query_to_chain").render(
            server=render_server(record), tools=render_tool_lines(record), query=query),
        schema=BACK_CHAIN_SCHEMA, temperature=temperature, max_tokens=max_tokens,
        tally=tally))["chain"]
    if list(back) != chain:
        raise SftFailure(STAGE, "back_translation_mismatch",
                         f"the query {query[:200]!r} plans {render_chain(back) or '(nothing)'}, "
                         f"not {render_chain(chain)}")
    return {"query": query, "chain": list(back)}


async def verify_stage(record: Mapping[str, Any], client: LLMClient, *, votes: int = 3,
                       vote: bool = True, back_translation: bool = True,
                       temperature: float | None = 0.6,
                       max_tokens: int | None = None) -> dict[str, Any]:
    """Verify one chain by majority vote and back-translation (each switchable).

    Args:
        record: A chain row (``03_walks.ok.jsonl``); not modified.
        client: The LLM client.
        votes: Judgments per chain (odd numbers avoid ties; a tie rejects).
        vote: Run the vote.
        back_translation: Run the back-translation.
        temperature: Sampling temperature of every call.
        max_tokens: Completion length cap.

    Returns:
        The chain row with ``verification`` and a provenance entry.

    Raises:
        SftFailure: ``vote_rejected``, ``back_translation_mismatch``,
            ``llm_error`` (a reply that never parsed or fit its schema).
    """
    if vote and votes < 1:
        raise ValueError(f"votes must be at least 1, not {votes}")
    tally = CallTally()
    prompts = []
    verification: dict[str, Any] = {"vote": None, "back_translation": None}
    if vote:
        prompts.append(load_prompt("sft_verify_chain"))
        verification["vote"] = await _vote(record, client, votes, temperature, max_tokens,
                                           tally)
    if back_translation:
        prompts += [load_prompt("sft_chain_to_query"), load_prompt("sft_query_to_chain")]
        verification["back_translation"] = await _back_translate(
            record, client, temperature, max_tokens, tally)
    row = copy.deepcopy(dict(record))
    row["verification"] = verification
    row["provenance"] = with_provenance(record, provenance_entry(STAGE, client, prompts, tally))
    return row
