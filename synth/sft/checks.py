"""The rules a generated (or augmented) task question must pass, checked, not only asked for.

Each rule raises :class:`~synth.sft.common.SftFailure` with its code; the
stages pass them to :func:`~synth.sft.common.sft_ask`, which re-asks with the
reason and, when every ask broke a rule, fails the task with the last code:

* ``empty_question``: fewer than 3 words (CJK text: fewer than 6 characters);
* ``language_mismatch``: :func:`synth.language.detect_language` of the
  question differs from the server's language (that of its description);
* ``tool_name_leak``: the question names a tool. Only identifier-like names
  are looked for (with ``_``, ``-``, a digit, or a capital after the first
  letter), as whole words, case-insensitively: a tool called ``search`` would
  otherwise forbid the word "search";
* ``how_to_question``: the question asks how to do something instead of
  asking for it to be done (English and Chinese patterns at the start, e.g.
  "How do I", "Explain how", "What are the steps", "如何", "怎么").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from synth.language import detect_language

from .common import SftFailure

__all__ = ["HOW_TO", "check_question", "leaked_tool_names"]

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_IDENTIFIER_LIKE = re.compile(r"[_\-0-9]|.[A-Z]")
HOW_TO = re.compile(
    r"^\W*(?:how\s+(?:do|can|could|would|should)\s+(?:i|we|you|one)\b|how\s+to\b|"
    r"explain\s+how\b|tell\s+me\s+how\b|what\s+(?:are|is)\s+the\s+steps\b|"
    r"what\s+steps\b|如何|怎么|怎样|请解释如何|请告诉我如何)",
    re.IGNORECASE)
"""Question openings that ask for instructions rather than for the task to be done."""


def leaked_tool_names(question: str, names: Iterable[str]) -> list[str]:
    """The identifier-like tool names a question mentions (see the module docstring).

    Args:
        question: The question.
        names: The server's tool names.

    Returns:
        The names found, in the given order.

    Example:
        >>> leaked_tool_names("Run git_status, then search the log", ["git_status", "search"])
        ['git_status']
        >>> leaked_tool_names("请用git_status看看", ["git_status"]), leaked_tool_names(
        ...     "my_git_status_page", ["git_status"])
        (['git_status'], [])
    """
    found = []
    for name in names:
        if not _IDENTIFIER_LIKE.search(name):
            continue
        # ASCII boundaries: in CJK text a name sits between word characters
        if re.search(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_-])", question,
                     re.IGNORECASE):
            found.append(name)
    return found


def check_question(stage: str, question: str, *, language: str,
                   tool_names: Iterable[str]) -> None:
    """Apply every rule of the module docstring to one question.

    Args:
        stage: The stage name, for the failure.
        question: The question.
        language: The language it must be in (the server's).
        tool_names: The server's tool names.

    Raises:
        SftFailure: The first rule broken, with its code.
    """
    text = question.strip()
    cjk = len(_CJK.findall(text))
    if (cjk and cjk < 6) or (not cjk and len(text.split()) < 3):
        raise SftFailure(stage, "empty_question", f"the question {text[:80]!r} is too short")
    found = detect_language(text)
    if found != language:
        raise SftFailure(stage, "language_mismatch",
                         f"the question is in {found!r}, the server description in "
                         f"{language!r}; write it in the server's language")
    leaked = leaked_tool_names(text, tool_names)
    if leaked:
        raise SftFailure(stage, "tool_name_leak",
                         f"the question names tool(s) {leaked}; describe the need instead")
    if HOW_TO.search(text):
        raise SftFailure(stage, "how_to_question",
                         "the question asks how to do the task; ask for it to be done")
