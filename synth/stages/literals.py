"""The tools stage's question-literal rule: a tool document must not reuse the question's values.

ASTRA's document prompt asks that parameter descriptions, defaults and examples
describe *kinds* of values, never the values of the question at hand (a tool
whose schema says ``e.g. Harbor View Hotel`` was written for one question, and
leaks its entities to the agent). The rule, precisely:

**Literals of a question** are

* *numbers and codes*: tokens with a digit, at least two characters long
  (``2026-05-12``, ``189.5``, ``1Z84F22A0391``; a lone ``2`` is too common to mean
  anything);
* *quoted text*: what stands between double quotes or CJK quotes (``"Blue Bay"``,
  ``「東京」``);
* *names*: maximal runs of capitalised words, joined by spaces, hyphens or a
  lowercase name particle between two capitalised words (``of``, ``de``, ``van``,
  ...), so ``Harbor View Hotel`` and ``Bank of China`` are one literal each. The
  capitalised first word of a sentence is grammar, not a name: it is dropped
  from the run it starts (``Which Harbor View Hotel`` gives ``Harbor View Hotel``,
  ``What`` gives nothing).

**A literal is reused** when it occurs *as a whole* (on word and number
boundaries, never inside a longer word or number) in a parameter's ``default``,
``examples`` or ``const`` (case-insensitively), or in its ``description`` prose:
case-insensitively for numbers, quoted text and multi-word names, but with its
capital for a one-word name. So ``e.g. Harbor View Hotel``, ``harbor view hotel``,
``e.g. Lisbon`` and a default of ``"2026-05-12"`` are caught, while ordinary nouns
that happen to be part of a name (``the hotel's name``, ``Hotel name`` for the
question's ``Harbor View Hotel``) are not. Enums are exempt: a fixed set of
allowed values (units, categories) legitimately overlaps questions.

The separate answer-leak rule (the sub-answer anywhere in the description or
schema, :func:`astra_gym.answers.contains_answer`) is unchanged and still applies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["Literal", "question_literal_in_examples", "question_literals"]

_WORD = re.compile(r"\w(?:[\w'’-]*\w)?")
_NUMBER = re.compile(r"(?<!\w)\w*\d[\w.,:/-]*")
_QUOTED = re.compile(r"[\"“「『]([^\"“”「」『』\n]{2,80})[\"”」』]")
_SENTENCE_BREAK = re.compile(r"[.?!:;。？！\n]")
_PARTICLES = frozenset({"of", "the", "de", "del", "della", "di", "da", "do", "dos", "das", "du",
                        "des", "la", "le", "van", "von", "der", "den", "al", "el"})
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_VALUE_KEYS = ("default", "examples", "const")


@dataclass(frozen=True)
class Literal:
    """One literal value of a question.

    Attributes:
        text: The literal as the question writes it.
        kind: ``"number"``, ``"quoted"`` or ``"name"``.
    """

    text: str
    kind: str

    @property
    def one_word_name(self) -> bool:
        """A single capitalised word, matched in prose only with its capital."""
        return self.kind == "name" and " " not in self.text and "-" not in self.text


def _name_runs(question: str) -> Iterator[str]:
    """Maximal runs of capitalised words (with particles inside), minus a sentence's first word."""
    words = list(_WORD.finditer(question))
    run: list[re.Match[str]] = []

    def flush() -> Iterator[str]:
        while run and run[-1].group(0).lower() in _PARTICLES:
            run.pop()  # a particle only joins two capitalised words
        if run:
            yield question[run[0].start():run[-1].end()]
        run.clear()

    previous_end = 0
    for index, word in enumerate(words):
        text = word.group(0)
        gap = question[previous_end:word.start()]
        previous_end = word.end()
        starts_sentence = index == 0 or bool(_SENTENCE_BREAK.search(gap))
        joined = bool(run) and gap in (" ", "-") and not starts_sentence
        if text[0].isupper() and not any(ch.isdigit() for ch in text):
            if not joined:
                yield from flush()
            if starts_sentence:
                continue  # grammar's capital, not a name
            run.append(word)
        elif joined and text.lower() in _PARTICLES:
            run.append(word)
        else:
            yield from flush()
    yield from flush()


def question_literals(question: str) -> list[Literal]:
    """The literal values of a question (see the module rule), longest first.

    Args:
        question: The sub-question.

    Returns:
        The distinct literals, longest first (then alphabetical).

    Example:
        >>> [l.text for l in question_literals(
        ...     "Which Harbor View Hotel room is free on 2026-05-12 for 2 guests?")]
        ['Harbor View Hotel', '2026-05-12']
    """
    found: dict[str, Literal] = {}
    for match in _NUMBER.finditer(question):
        text = match.group(0).rstrip(".,:/-")
        if len(text) >= 2:
            found.setdefault(text, Literal(text, "number"))
    for match in _QUOTED.finditer(question):
        text = match.group(1).strip()
        if len(text) >= 2:
            found.setdefault(text, Literal(text, "quoted"))
    for run in _name_runs(question):
        text = re.sub(r"['’]s$", "", run)
        if len(text) >= 2 and not any(ch.isdigit() for ch in text):
            found.setdefault(text, Literal(text, "name"))
    return sorted(found.values(), key=lambda literal: (-len(literal.text), literal.text))


def _occurs(literal: Literal, text: str, *, prose: bool) -> bool:
    """Whether ``literal`` occurs in ``text`` as a whole (word and number boundaries)."""
    if _CJK.search(literal.text):
        return literal.text in text  # CJK writes no spaces between words
    pattern = re.escape(literal.text)
    if literal.kind == "number":
        pattern = rf"(?<![\w.,]){pattern}(?![\w]|[.,]\d)"
    else:
        pattern = rf"(?<!\w){pattern}(?!\w)"
    case_sensitive = prose and literal.one_word_name
    return re.search(pattern, text, 0 if case_sensitive else re.IGNORECASE) is not None


def _schema_texts(schema: Any) -> tuple[list[str], list[str]]:
    """The parameters' description prose, and their default/examples/const values as text."""
    prose: list[str] = []
    values: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "description" and isinstance(value, str):
                    prose.append(value)
                elif key in _VALUE_KEYS:
                    values.append(value if isinstance(value, str)
                                  else json.dumps(value, ensure_ascii=False))
                elif key != "enum":
                    collect(value)
        elif isinstance(node, list):
            for item in node:
                collect(item)

    collect(schema.get("properties", {}) if isinstance(schema, dict) else {})
    return prose, values


def question_literal_in_examples(question: str, schema: Any) -> str | None:
    """The first question literal that a parameter's description, default or examples reuse.

    Args:
        question: The sub-question.
        schema: The tool document's ``parameters`` (a JSON schema object).

    Returns:
        The reused literal (longest first), or ``None``.

    Example:
        >>> schema = {"properties": {"hotel": {"type": "string",
        ...                                    "description": "Name of the hotel"}}}
        >>> question_literal_in_examples("Rate of the Harbor View Hotel?", schema) is None
        True
        >>> schema["properties"]["hotel"]["examples"] = ["Harbor View Hotel"]
        >>> question_literal_in_examples("Rate of the Harbor View Hotel?", schema)
        'Harbor View Hotel'
    """
    literals = question_literals(question)
    if not literals:
        return None
    prose, values = _schema_texts(schema)
    for literal in literals:
        if any(_occurs(literal, text, prose=True) for text in prose) or any(
                _occurs(literal, text, prose=False) for text in values):
            return literal.text
    return None
