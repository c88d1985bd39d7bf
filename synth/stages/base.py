"""What every synthesis stage shares: the failure type, provenance, and LLM call helper.

A stage is ``async def stage(record, client, **options) -> dict``: it reads one
record, never mutates it, and returns a new, enriched record, or raises
:class:`StageFailure` saying which stage failed and why (fail-closed: no
default values stand in for a reply that could not be used).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synth.language import detect_language
from synth.llm import Completion, LLMClient, LLMError
from synth.prompts import Prompt
from synth.trace import TraceNode, validate_trace

__all__ = [
    "ID_SCHEMA",
    "MAX_ASKS",
    "CallTally",
    "StageFailure",
    "ask",
    "detect_language",
    "provenance_entry",
    "reask_note",
    "render_trace_json",
    "render_trace_lines",
    "valid_trace",
    "with_provenance",
]

ID_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}]}
"""JSON schema of a ``_uuid`` in a model's reply."""


class StageFailure(Exception):
    """A record failed a stage for good.

    Attributes:
        stage: The stage name (``"generate"``, ``"necessity"``, ``"verify"``).
        reason: Why, readable (an LLM failure, an invalid reply, a broken trace...).
    """

    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(f"{stage}: {reason}")
        self.stage = stage
        self.reason = reason

    def as_dict(self) -> dict[str, str]:
        """The failure as record data: ``{"stage", "reason"}``."""
        return {"stage": self.stage, "reason": self.reason}


@dataclass
class CallTally:
    """Totals over the LLM calls one stage made for one record.

    Attributes:
        calls: Completions obtained.
        attempts: Requests made for them (0 for cache hits).
        cached: Completions that came from the cache.
        prompt_tokens: Prompt tokens reported (requests only).
        completion_tokens: Completion tokens reported (requests only).
    """

    calls: int = 0
    attempts: int = 0
    cached: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, completion: Completion) -> None:
        """Count one completion."""
        self.calls += 1
        self.attempts += completion.attempts
        self.cached += int(completion.cached)
        if not completion.cached:
            self.prompt_tokens += int(completion.usage.get("prompt_tokens", 0))
            self.completion_tokens += int(completion.usage.get("completion_tokens", 0))


MAX_ASKS = 3
"""The most times one question is put to the model when its (schema-valid) replies are
rejected: the first ask and two re-asks (ASTRA retried a misaligned reply at most 3 times)."""


def reask_note(reason: str, ask_number: int, max_asks: int) -> str:
    """The follow-up message that re-asks after a rejected reply.

    It says why the reply was rejected and which ask this is, so the re-ask is
    a different request: its cache key differs from the first one's, the model
    gets a fresh completion (even at temperature 0) and can fix the mistake,
    and a replay from the cache asks exactly the same questions again.

    Args:
        reason: Why the previous reply was rejected.
        ask_number: The number of the ask this message starts (2 for the first re-ask).
        max_asks: The bound on asks.

    Returns:
        The message text.
    """
    return (f"Your reply was rejected: {reason}\nThis is attempt {ask_number} of {max_asks}. "
            "Reply again with the complete JSON, corrected.")


async def _complete(client: LLMClient, stage: str, what: str, messages: list[dict[str, Any]],
                    *, schema: Mapping[str, Any], temperature: float | None,
                    max_tokens: int | None, tally: CallTally, **params: Any) -> Completion:
    """One schema-checked completion; an :class:`~synth.llm.LLMError` becomes a failure."""
    try:
        completion = await client.complete(messages, temperature=temperature,
                                           max_tokens=max_tokens, schema=schema, **params)
    except LLMError as exc:
        tally.attempts += exc.attempts
        raise StageFailure(stage, f"{what}: LLM call failed: {exc.reason} (after "
                                  f"{exc.attempts} attempt{'s' if exc.attempts != 1 else ''})"
                           ) from exc
    tally.add(completion)
    return completion


async def ask(client: LLMClient, stage: str, what: str, content: str, *, schema: Mapping[str, Any],
              temperature: float | None, max_tokens: int | None, tally: CallTally,
              check: Callable[[Any], object] | None = None, max_asks: int = MAX_ASKS,
              **params: Any) -> Any:
    """One user-message completion whose reply must satisfy ``schema`` (and ``check``).

    A reply can satisfy the schema and still be unusable (a trace that is not a
    DAG, ids that do not match the trace). ``check`` rejects such a reply by
    raising :class:`StageFailure`; the question is then asked again, as a
    follow-up turn carrying the reply and the reason (:func:`reask_note`), at
    most ``max_asks`` times in all. Each ask is its own request, cached under
    its own key, so a rejected reply in the cache never blocks a record: the
    next ask is a new question, and a replay asks the same sequence.

    Args:
        client: The LLM client.
        stage: The stage name, for the failure.
        what: What is being asked, for the failure reason (e.g. ``"atomicity"``).
        content: The rendered prompt.
        schema: The JSON schema of the reply.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.
        tally: Where to count the calls.
        check: Raises :class:`StageFailure` for a schema-valid reply that the
            stage cannot use (what it returns is ignored); ``None`` accepts
            every schema-valid reply.
        max_asks: The most asks (at least 1) when ``check`` rejects replies.
        **params: Further ``complete()`` parameters (e.g. ``seed``).

    Returns:
        The validated (and accepted) JSON value.

    Raises:
        StageFailure: The client gave up (:class:`~synth.llm.LLMError`), or
            ``check`` rejected ``max_asks`` replies (the last reason, and the
            count); :class:`~synth.llm.OfflineMiss` propagates unchanged, since
            a missing cache entry is not a property of the record.
        ValueError: ``max_asks`` is below 1.
    """
    if max_asks < 1:
        raise ValueError(f"max_asks must be at least 1, not {max_asks}")
    messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
    for ask_number in range(1, max_asks + 1):
        completion = await _complete(client, stage, what, messages, schema=schema,
                                     temperature=temperature, max_tokens=max_tokens,
                                     tally=tally, **params)
        if check is None:
            return completion.value
        try:
            check(completion.value)
        except StageFailure as rejection:
            if ask_number == max_asks:
                suffix = f" ({max_asks} replies rejected)" if max_asks > 1 else ""
                raise StageFailure(stage, rejection.reason + suffix) from rejection
            messages = [*messages, {"role": "assistant", "content": completion.text},
                        {"role": "user", "content": reask_note(rejection.reason, ask_number + 1,
                                                               max_asks)}]
            continue
        return completion.value
    raise AssertionError("unreachable")  # pragma: no cover


def provenance_entry(stage: str, client: LLMClient, prompt: Prompt | Sequence[Prompt],
                     tally: CallTally) -> dict[str, Any]:
    """The provenance record of one stage run.

    Args:
        stage: The stage name.
        client: The client used (for the model name).
        prompt: The prompt, or the prompts, the stage rendered.
        tally: The stage's call totals.

    Returns:
        ``{"stage", "model", "prompt_version", "attempts", "cached", "calls",
        "usage"}``; ``cached`` is true when every call came from the cache;
        ``prompt_version`` is a string, or ``{name: version}`` for several prompts.
    """
    if isinstance(prompt, Prompt):
        version: Any = prompt.version
    else:
        version = {p.name: p.version for p in prompt}
    return {"stage": stage, "model": client.model, "prompt_version": version,
            "attempts": tally.attempts, "cached": tally.calls > 0 and tally.cached == tally.calls,
            "calls": tally.calls,
            "usage": {"prompt_tokens": tally.prompt_tokens,
                      "completion_tokens": tally.completion_tokens}}


def with_provenance(record: Mapping[str, Any], entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's provenance list with ``entry`` appended (a new list).

    Args:
        record: The input record.
        entry: The stage's provenance entry.

    Returns:
        A new list.
    """
    previous = record.get("provenance")
    history = copy.deepcopy(list(previous)) if isinstance(previous, list) else []
    return [*history, dict(entry)]


def valid_trace(record: Mapping[str, Any], stage: str) -> list[TraceNode]:
    """The record's trace nodes, or a failure listing its structural problems.

    Args:
        record: A record with ``decomposition_trace``.
        stage: The stage name, for the failure.

    Returns:
        The nodes, in trace order.

    Raises:
        StageFailure: The trace is not a valid layered DAG.
    """
    nodes, problems = validate_trace(record.get("decomposition_trace"))
    if problems:
        raise StageFailure(stage, "invalid decomposition_trace: "
                                  + "; ".join(p.message for p in problems))
    return nodes


def _raw_items(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [item for item in record.get("decomposition_trace") or [] if isinstance(item, dict)]


def render_trace_json(record: Mapping[str, Any]) -> str:
    """The trace as JSON lines for a prompt (id, hop, dependency, question, answer).

    Args:
        record: A record with a valid ``decomposition_trace``.

    Returns:
        One compact JSON object per line.
    """
    keys = ("_uuid", "hop_level", "is_parallel", "dependency", "sub_question", "sub_answer")
    return "\n".join(json.dumps({key: item.get(key) for key in keys}, ensure_ascii=False)
                     for item in _raw_items(record))


def render_trace_lines(record: Mapping[str, Any]) -> str:
    """The trace as ``- id:… hop:… is_parallel:… dep:… q:… a:…`` lines.

    Args:
        record: A record with a valid ``decomposition_trace``.

    Returns:
        One line per step.
    """
    return "\n".join(
        f"- id:{item.get('_uuid')} hop:{item.get('hop_level')} "
        f"is_parallel:{json.dumps(item.get('is_parallel'))} "
        f"dep:{json.dumps(item.get('dependency'))} q:{item.get('sub_question')} "
        f"a:{item.get('sub_answer')}" for item in _raw_items(record))
