"""What the SFT stages share: coded failures, ids, prompt rendering of servers and tools.

Every SFT failure carries a short **reason code** next to its readable reason
(``{"stage", "code", "reason"}``), so ``astra-gym sft stats`` can count drops by
kind (a rejected vote, a back-translation mismatch, a failed LLM call...)
without parsing sentences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from synth.llm import LLMClient
from synth.stages.base import CallTally, StageFailure, ask

__all__ = [
    "LANGUAGE_NAMES",
    "SERVER_KEYS",
    "SftFailure",
    "canonical",
    "language_name",
    "make_id",
    "render_chain",
    "render_server",
    "render_tool_lines",
    "render_tool_list",
    "sft_ask",
    "tool_names",
]

LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean"}
"""Language codes of :func:`synth.language.detect_language` and their names in prompts."""

SERVER_KEYS = ("server_id", "server", "tools", "call_info", "source", "extra")
"""The keys of a server row that every later row carries (its server context)."""


class SftFailure(StageFailure):
    """A record dropped by an SFT stage, with a reason code.

    Args:
        stage: The stage name.
        code: A short reason code (``"llm_error"``, ``"vote_rejected"``, ...).
        reason: The readable reason.

    Attributes:
        code: The reason code.
    """

    def __init__(self, stage: str, code: str, reason: str) -> None:
        super().__init__(stage, reason)
        self.code = code

    def as_dict(self) -> dict[str, str]:
        """The failure as record data: ``{"stage", "code", "reason"}``."""
        return {"stage": self.stage, "code": self.code, "reason": self.reason}


def canonical(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, UTF-8 kept) for hashing.

    Args:
        value: JSON data.

    Returns:
        The text.
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def make_id(prefix: str, *parts: Any) -> str:
    """A stable id: ``prefix-`` and 12 hex digits of the sha256 of the parts.

    Args:
        prefix: ``"srv"``, ``"chn"``, ``"tsk"``...
        *parts: JSON data identifying the thing.

    Returns:
        The id.

    Example:
        >>> make_id("srv", "git", ["a", "b"]) == make_id("srv", "git", ["a", "b"])
        True
        >>> make_id("srv", "git")[:4]
        'srv-'
    """
    digest = hashlib.sha256(canonical(list(parts)).encode("utf-8")).hexdigest()
    return f"{prefix}-{digest[:12]}"


def tool_names(row: Mapping[str, Any]) -> list[str]:
    """The tool names of a row's ``tools`` (OpenAI tool objects), in order.

    Args:
        row: A row with ``tools``.

    Returns:
        The names.
    """
    return [tool["function"]["name"] for tool in row.get("tools") or []]


def language_name(code: str) -> str:
    """The language name a prompt uses for a code (``"en"`` -> ``"English"``).

    Args:
        code: A :data:`LANGUAGE_NAMES` code.

    Returns:
        The name (the code itself when unknown).
    """
    return LANGUAGE_NAMES.get(code, code)


def render_server(row: Mapping[str, Any]) -> str:
    """The server's name, title, description and domain as one JSON object.

    Args:
        row: A row with ``server``.

    Returns:
        Compact JSON.
    """
    server = row.get("server") or {}
    shown = {key: server.get(key) for key in ("name", "title", "description", "domain")
             if server.get(key)}
    return json.dumps(shown, ensure_ascii=False)


def render_tool_lines(row: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """The tools as one JSON object per line (name, description, parameters).

    Args:
        row: A row with ``tools``.
        names: Only these tools, in this order (default: all, in row order).

    Returns:
        The lines.
    """
    by_name = {tool["function"]["name"]: tool["function"] for tool in row.get("tools") or []}
    chosen = list(names) if names is not None else list(by_name)
    return "\n".join(json.dumps({"name": name, "description": by_name[name].get("description"),
                                 "parameters": by_name[name].get("parameters")},
                                ensure_ascii=False) for name in chosen if name in by_name)


def render_tool_list(row: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """The tools as numbered ``name: description`` lines.

    Args:
        row: A row with ``tools``.
        names: Only these tools, in this order (default: all).

    Returns:
        The lines.
    """
    by_name = {tool["function"]["name"]: tool["function"] for tool in row.get("tools") or []}
    chosen = list(names) if names is not None else list(by_name)
    return "\n".join(f"{index}. {name}: {by_name[name].get('description', '')}"
                     for index, name in enumerate((n for n in chosen if n in by_name), start=1))


def render_chain(chain: Sequence[str]) -> str:
    """A chain as ``a -> b -> c``.

    Args:
        chain: Tool names in order.

    Returns:
        The text.
    """
    return " -> ".join(chain)


async def sft_ask(client: LLMClient, stage: str, what: str, content: str, *,
                  schema: Mapping[str, Any], temperature: float | None,
                  max_tokens: int | None, tally: CallTally,
                  check: Callable[[Any], object] | None = None, **params: Any) -> Any:
    """:func:`synth.stages.base.ask` with coded failures.

    A failed LLM call (retries spent, or a reply that never parsed or fit the
    schema) becomes code ``llm_error``. ``check`` rejects a schema-valid reply
    by raising :class:`SftFailure` (or any :class:`StageFailure`); the reply
    is re-asked with the reason, and when every ask was rejected the failure
    keeps the code of the last rejection (``bad_reply`` by default).

    Args:
        client: The LLM client.
        stage: The stage name.
        what: What is asked, for the reason.
        content: The rendered prompt.
        schema: The reply's JSON schema.
        temperature: Sampling temperature.
        max_tokens: Completion length cap.
        tally: Where calls are counted.
        check: Rejects a schema-valid reply the stage cannot use.
        **params: Further request parameters (``seed``).

    Returns:
        The accepted JSON value.

    Raises:
        SftFailure: The call failed or every reply was rejected.
    """
    codes: list[str] = []

    def checked(value: Any) -> None:
        try:
            check(value)  # type: ignore[misc]
        except SftFailure as rejection:
            codes.append(rejection.code)
            raise
        except StageFailure:
            codes.append("bad_reply")
            raise

    try:
        return await ask(client, stage, what, content, schema=schema, temperature=temperature,
                         max_tokens=max_tokens, tally=tally,
                         check=checked if check is not None else None, **params)
    except SftFailure:
        raise
    except StageFailure as failure:
        if "LLM call failed" in failure.reason:
            raise SftFailure(stage, "llm_error", failure.reason) from failure
        raise SftFailure(stage, codes[-1] if codes else "bad_reply", failure.reason) from failure
