"""Stage 1: a main question, its final answer and a decomposition trace, from one input row.

Input rows have ASTRA's data shapes (research/astra.md A.0):

* ``{"domain", "knowledge_corpus"}`` (``knowledge/*/domains.jsonl``, empty
  corpus: unconditional generation; ``knowledge/en/context.jsonl``: a user
  background the answers must agree with): mode ``"knowledge"``;
* ``{"question", "domain"}`` (``knowledge/en/questions.jsonl``): mode
  ``"question"``, decompose the given question; a plain ``{"question",
  "answer"}`` row (``domain`` optional, default ``"general"``) also gives the
  answer, which the prompt passes on and the row keeps as its
  ``final_answer`` (the model's own restatement is kept in
  ``_metadata.model_final_answer``);
* ``{"domain", "knowledge_corpus", "mode": "taxonomy"}`` (a taxonomy leaf from
  :func:`synth.taxonomy.taxonomy_leaves`; the corpus is the JSON object
  ``{"description", "example_query"}``): mode ``"taxonomy"``, a task on the
  leaf's topic, in the spirit of its example query.

The reply must be one JSON object (``scenario_type``, ``main_question``,
``final_answer``, ``decomposition_trace``) satisfying :data:`GENERATE_SCHEMA`;
its trace must then pass :func:`synth.trace.validate_trace` and have a depth
(deepest ``hop_level``) within ``[min_hops, max_hops]``. Anything else is a
:class:`~synth.stages.base.StageFailure`.

The output row is ASTRA's step-1 processed row: the four reply fields plus
``uuid`` (deterministic) and ``_metadata`` (``domain``, ``language``,
``knowledge_corpus``, ``model_name``, ``min_num_hops``, ``max_num_hops``, and
ours: ``mode``, ``prompt_version``, ``attempt``, ``question`` in question
mode), and a ``provenance`` list with this stage's entry.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

from synth.llm import LLMClient
from synth.prompts import load_prompt

from .base import (
    ID_SCHEMA,
    CallTally,
    StageFailure,
    ask,
    detect_language,
    provenance_entry,
    valid_trace,
    with_provenance,
)

__all__ = ["GENERATE_SCHEMA", "MODES", "STAGE", "detect_mode", "generate", "row_uuid"]

STAGE = "generate"
MODES = ("knowledge", "question", "taxonomy")

_ANSWER: dict[str, Any] = {"anyOf": [{"type": "string", "minLength": 1}, {"type": "number"},
                                     {"type": "boolean"}]}

GENERATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["scenario_type", "main_question", "final_answer", "decomposition_trace"],
    "properties": {
        "scenario_type": {"type": "string", "minLength": 1},
        "main_question": {"type": "string", "minLength": 1},
        "final_answer": _ANSWER,
        "decomposition_trace": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["_uuid", "hop_level", "sub_question", "sub_answer", "dependency"],
                "properties": {
                    "_uuid": ID_SCHEMA,
                    "hop_level": {"type": "integer"},
                    "sub_question": {"type": "string", "minLength": 1},
                    "sub_answer": _ANSWER,
                    "dependency": {"anyOf": [{"type": "null"},
                                             {"type": "array", "items": ID_SCHEMA}]},
                    "is_parallel": {"type": "boolean"},
                },
            },
        },
    },
}
"""The JSON schema a generation reply must satisfy."""


def detect_mode(record: Mapping[str, Any]) -> str:
    """The generation mode an input row's keys call for.

    Args:
        record: The input row.

    Returns:
        ``"taxonomy"`` when its ``mode`` says so, ``"question"`` when it has a
        ``question``, ``"knowledge"`` when it has ``knowledge_corpus`` or only a
        ``domain``.

    Raises:
        StageFailure: It has none of those keys.

    Example:
        >>> detect_mode({"question": "q?", "domain": "flights"})
        'question'
        >>> detect_mode({"domain": "bank", "knowledge_corpus": ""})
        'knowledge'
    """
    if record.get("mode") == "taxonomy":
        return "taxonomy"
    if "question" in record:
        return "question"
    if "knowledge_corpus" in record or "domain" in record:
        return "knowledge"
    keys = ", ".join(sorted(map(str, record))[:8]) or "none"
    raise StageFailure(STAGE, "input row has neither question nor domain/knowledge_corpus "
                              f"(keys: {keys})")


def row_uuid(record: Mapping[str, Any], attempt: int, min_hops: int, max_hops: int) -> str:
    """A deterministic row id: a hash of the input row, the attempt and the hop range.

    Args:
        record: The input row.
        attempt: The generation attempt (0 for the first).
        min_hops: The least hop depth asked for.
        max_hops: The most hop depth asked for.

    Returns:
        A UUID-formatted string.

    Example:
        >>> row_uuid({"domain": "bank"}, 0, 1, 5) == row_uuid({"domain": "bank"}, 0, 1, 5)
        True
        >>> row_uuid({"domain": "bank"}, 0, 1, 5) == row_uuid({"domain": "bank"}, 1, 1, 5)
        False
    """
    canonical = json.dumps({"record": record, "attempt": attempt, "hops": [min_hops, max_hops]},
                           ensure_ascii=False, sort_keys=True, default=str)
    return str(uuidlib.UUID(bytes=hashlib.sha256(canonical.encode("utf-8")).digest()[:16]))


def _text_field(record: Mapping[str, Any], key: str, *, required: bool) -> str:
    value = record.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise StageFailure(STAGE, f"input row: {key} must be a non-empty string, not {value!r}")
    return value.strip()


def _taxonomy_leaf(corpus: str) -> tuple[str, str]:
    """The ``(description, example_query)`` of a taxonomy leaf's corpus JSON."""
    try:
        leaf = json.loads(corpus)
    except json.JSONDecodeError as exc:
        raise StageFailure(STAGE, f"input row: taxonomy knowledge_corpus is not JSON: "
                                  f"{exc}") from exc
    if not isinstance(leaf, dict):
        raise StageFailure(STAGE, "input row: taxonomy knowledge_corpus must be a JSON object")
    description, example = leaf.get("description") or "", leaf.get("example_query") or ""
    if not isinstance(description, str) or not isinstance(example, str) or not (
            description.strip() or example.strip()):
        raise StageFailure(STAGE, "input row: taxonomy knowledge_corpus needs a description "
                                  "or an example_query string")
    return description.strip(), example.strip()


def _check_trace(reply: Mapping[str, Any], min_hops: int, max_hops: int) -> None:
    """Reject a reply whose trace is not a layered DAG or whose depth is out of range."""
    nodes = valid_trace(reply, STAGE)
    depth = max(node.hop_level for node in nodes)
    if not min_hops <= depth <= max_hops:
        raise StageFailure(STAGE, f"trace depth {depth} (deepest hop_level) is outside the "
                                  f"allowed range [{min_hops}, {max_hops}]")


def _given_answer(record: Mapping[str, Any]) -> str | int | float | None:
    """The user's own answer of a question row (``{"question", "answer"}``), if it has one."""
    answer = record.get("answer")
    if answer is None:
        return None
    if isinstance(answer, bool) or not isinstance(answer, str | int | float) or (
            isinstance(answer, str) and not answer.strip()):
        raise StageFailure(STAGE, "input row: answer must be a non-empty string or a number, "
                                  f"not {answer!r}")
    return answer.strip() if isinstance(answer, str) else answer


def _source_block(mode: str, corpus: str, question: str,
                  answer: str | int | float | None = None) -> str:
    if mode == "question":
        block = ("The main question is given. Use it as `main_question` without changing it, "
                 f"and decompose it:\n{question}")
        if answer is not None:
            block += ("\n\nIts final answer is given too. Use it as `final_answer` without "
                      "changing it; the sub-questions must lead to exactly this answer:\n"
                      f"{answer}")
        return block
    if corpus:
        return ("Background knowledge (build the task on it; every answer must agree with it):\n"
                f"{corpus}")
    return ("No background knowledge is given: invent a plausible, specific situation in this "
            "domain, with concrete names, dates and amounts.")


async def generate(record: Mapping[str, Any], client: LLMClient, *, mode: str | None = None,
                   min_hops: int = 1, max_hops: int = 5, attempt: int = 0,
                   temperature: float | None = 1.0, max_tokens: int | None = None,
                   language: str | None = None) -> dict[str, Any]:
    """Generate one question with its decomposition trace from an input row.

    Args:
        record: The input row (not modified).
        client: The LLM client.
        mode: ``"knowledge"``, ``"question"`` or ``"taxonomy"``; detected from
            the keys when ``None`` or ``"auto"``.
        min_hops: The least allowed trace depth (deepest ``hop_level``).
        max_hops: The most allowed trace depth.
        attempt: The attempt number; a retry of a failed row passes a higher
            one, which changes the request (``seed``) and the row's ``uuid``.
        temperature: Sampling temperature.
        max_tokens: Completion length cap (``None``: the server's).
        language: The ``_metadata.language``; detected (zh/en) when ``None``.

    Returns:
        The generated row (a new dict).

    Raises:
        StageFailure: Bad input row, the LLM call failed or its reply is
            invalid, the trace is not a layered DAG, or its depth is out of range.
        ValueError: Bad arguments (a bug in the caller, not a row failure).
    """
    if not 1 <= min_hops <= max_hops:
        raise ValueError(f"need 1 <= min_hops <= max_hops, got {min_hops}..{max_hops}")
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, not {attempt}")
    if not isinstance(record, Mapping):
        raise StageFailure(STAGE, f"input row must be an object, not {type(record).__name__}")
    mode = detect_mode(record) if mode in (None, "auto") else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES} or 'auto', not {mode!r}")
    question = _text_field(record, "question", required=True) if mode == "question" else ""
    given_answer = _given_answer(record) if mode == "question" else None
    corpus = (_text_field(record, "knowledge_corpus", required=mode == "taxonomy")
              if mode in ("knowledge", "taxonomy") else "")
    domain = _text_field(record, "domain", required=mode != "question") or "general"

    prompt = load_prompt("generate")
    prompts = [prompt]
    if mode == "taxonomy":
        description, example = _taxonomy_leaf(corpus)
        leaf_prompt = load_prompt("generate_taxonomy")
        prompts.append(leaf_prompt)
        source_block = leaf_prompt.render(description=description or "(none)",
                                          example_query=example or "(none)")
    else:
        source_block = _source_block(mode, corpus, question, given_answer)
    content = prompt.render(domain=domain, source_block=source_block,
                            min_hops=min_hops, max_hops=max_hops)
    tally = CallTally()
    extra = {"seed": attempt} if attempt else {}

    def check(reply: Mapping[str, Any]) -> None:
        _check_trace(reply, min_hops, max_hops)

    reply = await ask(client, STAGE, "generation", content, schema=GENERATE_SCHEMA,
                      temperature=temperature, max_tokens=max_tokens, tally=tally,
                      check=check, **extra)

    candidate = {key: copy.deepcopy(reply[key]) for key in
                 ("scenario_type", "main_question", "final_answer", "decomposition_trace")}
    if given_answer is not None:  # the user's answer is the truth, not the model's restatement
        candidate["final_answer"] = given_answer

    metadata: dict[str, Any] = {
        "domain": domain,
        "language": language or detect_language(domain, corpus, question,
                                                candidate["main_question"]),
        "knowledge_corpus": corpus,
        "model_name": client.model,
        "min_num_hops": min_hops,
        "max_num_hops": max_hops,
        "mode": mode,
        "prompt_version": prompt.version,
        "attempt": attempt,
    }
    if mode == "question":
        metadata["question"] = question
        if given_answer is not None:
            metadata["answer"] = given_answer
            metadata["model_final_answer"] = reply["final_answer"]
    if mode == "taxonomy":
        metadata["taxonomy_prompt_version"] = prompts[1].version
    row = {**candidate, "uuid": row_uuid(record, attempt, min_hops, max_hops),
           "_metadata": metadata}
    entry = provenance_entry(STAGE, client, prompt if len(prompts) == 1 else prompts, tally)
    row["provenance"] = with_provenance(record, entry)
    return row
