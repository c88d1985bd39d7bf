"""What every synthesis stage shares: the failure type, provenance, and LLM call helper.

A stage is ``async def stage(record, client, **options) -> dict``: it reads one
record, never mutates it, and returns a new, enriched record, or raises
:class:`StageFailure` saying which stage failed and why (fail-closed: no
default values stand in for a reply that could not be used).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synth.llm import Completion, LLMClient, LLMError
from synth.prompts import Prompt
from synth.trace import TraceNode, validate_trace

__all__ = [
    "ID_SCHEMA",
    "CallTally",
    "StageFailure",
    "ask",
    "detect_language",
    "provenance_entry",
    "render_trace_json",
    "render_trace_lines",
    "valid_trace",
    "with_provenance",
]

ID_SCHEMA: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}]}
"""JSON schema of a ``_uuid`` in a model's reply."""

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


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


async def ask(client: LLMClient, stage: str, what: str, content: str, *, schema: Mapping[str, Any],
              temperature: float | None, max_tokens: int | None, tally: CallTally,
              **params: Any) -> Any:
    """One user-message completion whose reply must satisfy ``schema``.

    Args:
        client: The LLM client.
        stage: The stage name, for the failure.
        what: What is being asked, for the failure reason (e.g. ``"atomicity"``).
        content: The rendered prompt.
        schema: The JSON schema of the reply.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.
        tally: Where to count the call.
        **params: Further ``complete()`` parameters (e.g. ``seed``).

    Returns:
        The validated JSON value.

    Raises:
        StageFailure: The client gave up (:class:`~synth.llm.LLMError`);
            :class:`~synth.llm.OfflineMiss` propagates unchanged, since a
            missing cache entry is not a property of the record.
    """
    try:
        completion = await client.complete([{"role": "user", "content": content}],
                                           temperature=temperature, max_tokens=max_tokens,
                                           schema=schema, **params)
    except LLMError as exc:
        tally.attempts += exc.attempts
        raise StageFailure(stage, f"{what}: LLM call failed: {exc.reason} (after "
                                  f"{exc.attempts} attempt{'s' if exc.attempts != 1 else ''})"
                           ) from exc
    tally.add(completion)
    return completion.value


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


def detect_language(*texts: Any) -> str:
    """``"zh"`` when any text has CJK characters, else ``"en"``.

    Args:
        *texts: Texts to look at (non-strings are ignored).

    Returns:
        The language code.

    Example:
        >>> detect_language("weather", "天气"), detect_language("bank", None)
        ('zh', 'en')
    """
    return "zh" if any(isinstance(t, str) and _CJK.search(t) for t in texts) else "en"
