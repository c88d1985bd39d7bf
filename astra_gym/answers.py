"""Answer normalisation: when does a tool result *contain* a gold answer?

ASTRA checks ``answer in stdout`` on raw text, which is brittle to formatting
(``1,234.50`` vs ``1234.5``) and trivially satisfied by short answers (``"1"``
is in almost everything). The compiler (replaying gold calls) and the reward
functions (deciding which sub-tasks an agent solved) share this one rule, so
an env can never pay for an answer the compiler would not have accepted.

The rule, applied to both the haystack and the answer:

1. Unicode NFKC (full-width digits and letters become ASCII, ``ﬁ`` → ``fi``),
   then case-folding (``Straße`` ~ ``STRASSE``).
2. Number formats: thousands separators are dropped (``1,234`` → ``1234``)
   and trailing fractional zeros removed (``72.50`` → ``72.5``,
   ``3.0`` → ``3``).
3. Runs of whitespace become one space; leading/trailing space is dropped.

Then the normalised answer must occur in the normalised haystack with
boundaries:

- an answer that starts (ends) with a digit must not be preceded (followed)
  by a digit, or by a decimal point that continues the number, so ``"12"``
  is not found in ``"123"`` and ``"3.5"`` not in ``"13.55"``;
- an answer of 1–3 characters must not touch a letter or digit on either
  side (``"yes"`` is not found in ``"yesterday"``). CJK characters count as
  letters, so a two-character Chinese answer must stand on its own in the
  text (for example as a JSON string value).

Example:
    >>> contains_answer('{"total": "1,234.50 USD"}', "1234.5 usd")
    True
    >>> contains_answer('{"count": 123}', "12")
    False
    >>> contains_answer('{"ok": "yes"}', "Yes")
    True
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = ["SHORT_ANSWER_CHARS", "answer_needles", "bounded_occurrence", "contains_answer",
           "could_contain", "find_answer", "normalize_text", "normalized_answer"]

#: Answers at most this long (after normalisation) need a token boundary.
SHORT_ANSWER_CHARS = 3

_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:,\d{3})+)(?![\d,]|\.\d*,)")
_TRAILING_ZEROS = re.compile(r"(?<![\d.])(\d+)\.(\d*?)0+(?![\d.])")
_SPACE = re.compile(r"\s+")


def _drop_thousands(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2).replace(",", "")


def _trim_zeros(match: re.Match[str]) -> str:
    digits = match.group(2)
    return f"{match.group(1)}.{digits}" if digits else match.group(1)


def normalize_text(text: str) -> str:
    """Normalise text for answer matching (see the module docstring).

    Args:
        text: Any text: a tool result or a gold answer.

    Returns:
        The NFKC, case-folded, number- and whitespace-normalised text.

    Example:
        >>> normalize_text("  Total:  1,234.50\\tUSD ")
        'total: 1234.5 usd'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    # Each rule needs its separator; a str.find at C speed skips a regex scan
    # (with lookbehinds at every position) over text that has none.
    if "," in text:
        text = _THOUSANDS.sub(_drop_thousands, text)
    if "." in text:
        text = _TRAILING_ZEROS.sub(_trim_zeros, text)
    return _SPACE.sub(" ", text).strip()


@lru_cache(maxsize=65536)
def normalized_answer(answer: str) -> str:
    """:func:`normalize_text` of a gold answer, cached (answers repeat every step)."""
    # Gold answers repeat across every step of every episode: cache them.
    return normalize_text(answer)


_SHORT_CHARS = 512  # texts up to this long share normalized_answer's cache
_RESULT_CHARS = 8192  # longer texts are normalised afresh


@lru_cache(maxsize=1024)
def _normalized_result(text: str) -> str:
    return normalize_text(text)


def normalize_cached(text: str) -> str:
    """:func:`normalize_text` through bounded caches (at most about 80 MB in all).

    Mock data is deterministic, so a task's tool results, argument values and
    answers repeat in every episode of it; normalising costs microseconds per
    hundred characters.

    Args:
        text: Any text.

    Returns:
        ``normalize_text(text)``.
    """
    if len(text) <= _SHORT_CHARS:
        return normalized_answer(text)
    if len(text) <= _RESULT_CHARS:
        return _normalized_result(text)
    return normalize_text(text)


_LETTERS = re.compile(r"[a-z]+")
_DIGITS = re.compile(r"[0-9]+")


@lru_cache(maxsize=65536)
def answer_needles(answer: str) -> tuple[str, ...] | None:
    """Substrings any ASCII text that contains ``answer`` must contain, lower-cased.

    Normalising a text costs 100-200 ns per character; most results checked
    against an open sub-task do not contain its answer, and a plain substring
    test says so at C speed. On ASCII text, normalisation lower-cases,
    collapses whitespace and removes only thousands separators and trailing
    fractional zeros. So every run of letters of the normalised answer occurs
    in the lower-cased raw text, and so do the last three digits of every run
    of digits (a run the answer rule accepts is a whole number of the
    normalised text, whose last group of digits is contiguous in the raw text).

    Args:
        answer: A raw gold answer.

    Returns:
        The needles; ``None`` when no ASCII text can contain the answer (it is
        empty, or not ASCII once normalised).

    Example:
        >>> answer_needles("1,234.50 USD")
        ('usd', '234', '5')
    """
    needle = normalized_answer(answer)
    if not needle or not needle.isascii():
        return None
    letters = _LETTERS.findall(needle)
    digits = [run[-3:] for run in _DIGITS.findall(needle)]
    return tuple(sorted(set(letters), key=len, reverse=True)) + tuple(dict.fromkeys(digits))


def could_contain(lowered: str | None, answer: str) -> bool:
    """A fast necessary condition for :func:`contains_answer`: False means it is False.

    Args:
        lowered: ``text.lower()`` when ``text.isascii()``, else ``None`` (then
            nothing can be ruled out).
        answer: A raw gold answer.

    Returns:
        False only when the text cannot contain the answer.
    """
    if lowered is None:
        return True
    needles = answer_needles(answer)
    return needles is not None and all(needle in lowered for needle in needles)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _continues_number(text: str, index: int, step: int) -> bool:
    """Whether ``text[index]`` extends a number that the match touches."""
    if not 0 <= index < len(text):
        return False
    char = text[index]
    if char.isdigit():
        return True
    if char == "." and 0 <= index + step < len(text):
        return text[index + step].isdigit()
    return False


def bounded_occurrence(text: str, start: int, end: int, answer: str) -> bool:
    """Whether the occurrence ``text[start:end]`` of a normalised answer has the required
    boundaries (numbers not continued, short answers standing on their own)."""
    if answer[0].isdigit() and _continues_number(text, start - 1, -1):
        return False
    if answer[-1].isdigit() and _continues_number(text, end, 1):
        return False
    if len(answer) <= SHORT_ANSWER_CHARS:
        if start > 0 and _is_word_char(text[start - 1]) and _is_word_char(answer[0]):
            return False
        if end < len(text) and _is_word_char(text[end]) and _is_word_char(answer[-1]):
            return False
    return True


def find_answer(normalized_text: str, answer: str) -> bool:
    """Whether ``answer`` occurs in text that is already normalised.

    Use this when one text is checked against many answers (a tool result
    against every open sub-task): normalise the text once with
    :func:`normalize_text`, then call this per answer.

    Args:
        normalized_text: The output of :func:`normalize_text`.
        answer: A raw gold answer (normalised here, cached).

    Returns:
        True when the answer occurs with the required boundaries. An empty
        answer never matches.
    """
    needle = normalized_answer(answer)
    if not needle:
        return False
    start = normalized_text.find(needle)
    while start != -1:
        end = start + len(needle)
        if bounded_occurrence(normalized_text, start, end, needle):
            return True
        start = normalized_text.find(needle, start + 1)
    return False


def contains_answer(text: str, answer: str) -> bool:
    """Whether ``text`` contains ``answer`` under the normalisation rule.

    Args:
        text: The haystack, typically a tool result.
        answer: The gold answer.

    Returns:
        True when the normalised answer occurs in the normalised text with
        the boundaries described in the module docstring.
    """
    if text.isascii() and not could_contain(text.lower(), answer):
        return False  # the fast path: no normalisation needed to rule it out
    return find_answer(normalize_text(text), answer)
