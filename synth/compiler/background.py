"""What a task's prompt carries from the user background its question was generated from.

ASTRA's knowledge rows (``knowledge/en/context.jsonl``, 4,062 rows) hold a user
background in three sections::

    background: <what the user wants, and a persona for a user simulator>
     Known Infomation: <what the user already knows: name, user id, city, dates, ids>
     Information Needed: <what the user wants found out>

Stage 1 builds the question *on* this background, so the question often
leans on it ("the seats I picked", "my location id"): in the real rows 3,824
of 4,063 Known Information sections hold numbers, 1,171 an id and 1,202 a
name (docs/synth.md, "Knowledge rows"). An agent that sees only the question
cannot know them. ASTRA's released RL prompts start with "## some
information related to the user" for the same reason.

The prompt therefore carries the **Known Information** section, the part a
real user would say, and nothing else: ``background`` is a brief and a
persona for a simulator, and ``Information Needed`` lists what the agent must
find. Any clause of it that contains a gold answer (a sub-answer or the final
answer, under :mod:`astra_gym.answers`) is dropped, so the background never
hands out what the tools must find; the ``leakage`` check verifies the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from astra_gym.answers import contains_answer

__all__ = ["KNOWN_HEADING", "known_information", "user_context"]

#: How the prompt introduces the carried background.
KNOWN_HEADING = "What I already know:"

_SECTION = re.compile(r"(?im)^\s*(background|known\s+info(?:r)?mation|information\s+needed)\s*:")
_CLAUSE = re.compile(r"(?<=[.;!?])\s+|\n+")


def known_information(corpus: str) -> str | None:
    """The Known Information section of a knowledge-row corpus, or None.

    Args:
        corpus: A ``knowledge_corpus`` text (a taxonomy leaf's JSON has none).

    Returns:
        The section's text, stripped; None when the corpus has no such section.

    Example:
        >>> known_information("background: Trip.\\n Known Infomation: City: Lima.\\n"
        ...                   " Information Needed: Weather.")
        'City: Lima.'
    """
    if not isinstance(corpus, str):
        return None
    matches = list(_SECTION.finditer(corpus))
    for index, match in enumerate(matches):
        if match.group(1).lower().startswith("known"):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(corpus)
            text = corpus[match.end():end].strip()
            return text or None
    return None


def user_context(corpus: object, answers: Iterable[str]) -> tuple[str | None, int]:
    """The background text for the prompt, without any clause that holds a gold answer.

    Args:
        corpus: The row's ``_metadata.knowledge_corpus`` (anything else gives None).
        answers: Every gold answer of the task (sub-answers and the final answer).

    Returns:
        ``(text, dropped)``: the Known Information with clauses that contain an
        answer removed (None when nothing is left or there is no section), and
        how many clauses were dropped.

    Example:
        >>> user_context("background: x\\n Known Infomation: I am Ana (id ana_7). My city is"
        ...              " Lima.\\n Information Needed: y", ["Lima"])
        ('I am Ana (id ana_7).', 1)
    """
    if not isinstance(corpus, str) or not corpus.strip():
        return None, 0
    try:
        json.loads(corpus)
        return None, 0  # a taxonomy leaf ({"description", "example_query"}): no user
    except ValueError:
        pass
    known = known_information(corpus)
    if known is None:
        return None, 0
    answers = [answer for answer in answers if isinstance(answer, str) and answer.strip()]
    kept, dropped = [], 0
    for clause in _CLAUSE.split(known):
        clause = clause.strip()
        if not clause:
            continue
        if any(contains_answer(clause, answer) for answer in answers):
            dropped += 1
            continue
        kept.append(clause)
    return (" ".join(kept) or None), dropped
