"""Text helpers shared by the tool-call parsers: reasoning blocks, code fences, limits.

Everything here scans the text with ``str.find`` (no backtracking regular
expressions), so it stays linear on hostile input.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["MAX_CALL_CHARS", "RAW_CHARS", "clip", "single_fence",
           "strip_reasoning", "unfence"]

MAX_CALL_CHARS = 100_000
"""The longest call text (JSON or Python) the parsers will decode."""

RAW_CHARS = 200
"""The longest ``raw`` excerpt a parsed call keeps for error messages."""

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
MISTRAL_THINK_OPEN = "[THINK]"
MISTRAL_THINK_CLOSE = "[/THINK]"
FENCE = "```"
_LANG = re.compile(r"[\w.+-]{1,40}")


def _strip_blocks(text: str, opening: str, closing: str) -> str:
    pieces = []
    pos = 0
    while True:
        start = text.find(opening, pos)
        if start < 0:
            break
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        pieces.append(text[pos:start])
        pos = end + len(closing)
    pieces.append(text[pos:])
    rest = "".join(pieces)
    close = rest.rfind(closing)
    if close >= 0:
        rest = rest[close + len(closing):]
    start = rest.find(opening)
    if start >= 0:
        rest = rest[:start]
    return rest


def strip_reasoning(text: str) -> str:
    """Remove reasoning (``<think>…</think>``, ``[THINK]…[/THINK]``) from an assistant turn.

    Every reasoning block is dropped (there may be several, over many lines):
    a final answer must be judged on what the model answered, not on what it
    considered. A closing tag left without its opening one (chat templates
    such as Qwen's put ``<think>`` in the prompt) drops everything up to the
    last such closing tag; an opening tag never closed drops everything after
    it. Magistral writes ``[THINK]…[/THINK]``; it is treated the same way.

    Args:
        text: The assistant's raw text.

    Returns:
        The visible text, stripped of surrounding whitespace.

    Example:
        >>> strip_reasoning("<think>Paris?\\nYes.</think>\\n\\nParis")
        'Paris'
        >>> strip_reasoning("the user wants a city</think>Paris")
        'Paris'
        >>> strip_reasoning("Paris <think>or maybe")
        'Paris'
        >>> strip_reasoning("[THINK]Paris?[/THINK]Paris")
        'Paris'
    """
    # Two scans decide the common case (no reasoning at all) on the hot path.
    if "think>" in text:
        text = _strip_blocks(text, THINK_OPEN, THINK_CLOSE)
    if "THINK]" in text:
        text = _strip_blocks(text, MISTRAL_THINK_OPEN, MISTRAL_THINK_CLOSE)
    return text.strip()


def unfence(text: str, languages: Collection[str]) -> str | None:
    """The stripped text, unwrapped when it is one fence in an accepted language.

    Args:
        text: The text.
        languages: Fence languages (lower-case, ``""`` for none) whose body
            counts as the text.

    Returns:
        The fence body (stripped) or the stripped text when it is not one
        fenced block; ``None`` when it is one block in another language.

    Example:
        >>> unfence('```json\\n{"a": 1}\\n```', {"json"})
        '{"a": 1}'
        >>> unfence("```py\\nf()\\n```", {"json"}) is None
        True
    """
    body = text.strip()
    fence = single_fence(body)
    if fence is None:
        return body
    language, inner = fence
    return inner.strip() if language in languages else None


def single_fence(text: str) -> tuple[str, str] | None:
    """Split a text that is exactly one fenced code block.

    Args:
        text: The text; surrounding whitespace is ignored.

    Returns:
        ``(language, body)`` with the language lower-cased (``""`` when the
        fence names none), or ``None`` when the text is not one fenced block
        (prose around it, or several blocks).

    Example:
        >>> single_fence('```json\\n{"a": 1}\\n```')
        ('json', '{"a": 1}\\n')
        >>> single_fence('Here:\\n```\\nf()\\n```') is None
        True
    """
    stripped = text.strip()
    if len(stripped) < 2 * len(FENCE) or not (stripped.startswith(FENCE)
                                              and stripped.endswith(FENCE)):
        return None
    inner = stripped[len(FENCE):-len(FENCE)]
    if FENCE in inner:
        return None
    first, newline, body = inner.partition("\n")
    language = first.strip()
    if not newline or (language and not _LANG.fullmatch(language)):
        return "", inner
    return language.lower(), body


def clip(text: str, limit: int = RAW_CHARS) -> str:
    """Shorten ``text`` to at most ``limit`` characters, marking a cut with ``...``.

    Args:
        text: Any text.
        limit: The longest result.

    Returns:
        The text, or its start followed by ``...``.

    Example:
        >>> clip("abcdef", 5)
        'ab...'
    """
    if len(text) <= limit:
        return text
    return text[:max(limit - 3, 0)] + "..."
