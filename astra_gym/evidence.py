"""When does a tool result *solve* a sub-task? The one rule, for rewards, compiler and checks.

A sub-task is solved by a tool call when all of these hold:

1. The call **succeeded** in the sandbox (an error result never solves).
2. The result is **not error-shaped**: a JSON object with a truthy top-level
   ``error``/``errors``/``error_message`` key (any case), with ``success`` or
   ``ok`` exactly ``false``, or with a ``status`` of ``error``/``failed``/
   ``failure``/``fail``; or a text that starts with ``Error:``. LLM-written
   tools report failures this way (``{"error": "unknown city 'Paris'"}``), and
   such a message often quotes the call's arguments.
3. The gold answer occurs in the result under :mod:`astra_gym.answers`, **and at
   least one occurrence is not an echo of the call's own arguments**: an
   occurrence that lies entirely inside an occurrence of one of the call's
   argument values does not count. Otherwise an agent that guesses an answer
   and passes it as an argument would be paid when the tool repeats it back.

The same rule decides which gold calls the compiler accepts (a row whose gold
call carries its own answer as an argument cannot compile: the replay would
not solve it) and what the ``leakage`` check flags.

Example:
    >>> result_solves('{"city": "Paris", "temp_c": 21}', "21", {"city": "Paris"})
    True
    >>> result_solves('{"city": "Paris", "temp_c": 21}', "Paris", {"city": "Paris"})
    False
    >>> result_solves('{"error": "no flights to Paris"}', "Paris", {"to": "PAR"})
    False
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .answers import (
    bounded_occurrence,
    find_answer,
    normalize_cached,
    normalized_answer,
)

__all__ = ["ERROR_KEYS", "ERROR_STATUSES", "argument_values", "is_error_shaped", "result_solves",
           "solves", "unsolved_reason"]

#: Top-level keys (case-folded) that make a JSON object result an error report.
ERROR_KEYS = frozenset({"error", "errors", "error_message", "errormessage"})
#: ``status`` values (case-folded) that make a JSON object result an error report.
ERROR_STATUSES = frozenset({"error", "failed", "failure", "fail"})
_FAILURE_FLAGS = ("success", "ok")


def is_error_shaped(output: str) -> bool:
    """Whether a successful call's result text is really a reported failure.

    Args:
        output: The result text (``ToolResult.output``).

    Returns:
        True for a JSON object with a truthy ``error``-like key, a false
        ``success``/``ok`` flag or an error ``status``, and for text starting
        with ``Error:``.
    """
    text = output.lstrip()
    if text[:6].casefold() == "error:":
        return True
    if not text.startswith("{") or not _may_name_an_error_key(text):
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if isinstance(key, str) and key.casefold() in ERROR_KEYS and item:
            return True
    status = value.get("status")
    if isinstance(status, str) and status.strip().casefold() in ERROR_STATUSES:
        return True
    return any(value.get(flag) is False for flag in _FAILURE_FLAGS)


def _may_name_an_error_key(text: str) -> bool:
    """False only when no key of the JSON object ``text`` can make it an error report.

    Parsing is what :func:`is_error_shaped` costs on a result that contains an
    answer, so the common case (no such key anywhere in the text) is ruled out by
    substring tests first. Without a ``\\u`` escape every key appears literally in
    the text, and case folding maps character by character, so a key whose
    ``casefold()`` is an error key leaves ``"error"`` in the folded text; ``status``,
    ``success`` and ``ok`` are matched exactly, quotes included.
    """
    return ("\\u" in text or '"status"' in text or '"success"' in text or '"ok"' in text
            or "error" in text.casefold())


def argument_values(arguments: Any) -> list[str]:
    """The normalised text of every string and number in a call's arguments.

    Booleans and ``None`` carry no answer and are left out, as are empty texts.
    A string is also given as it reads inside JSON (quotes and backslashes
    escaped), because a tool that returns a dict echoes it that way.
    """
    found: list[str] = []
    stack = [arguments]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, str):
            _add(found, value)
            escaped = json.dumps(value, ensure_ascii=False)[1:-1]
            if escaped != value:
                _add(found, escaped)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            _add(found, str(value))
    return found


def _add(found: list[str], raw: str) -> None:
    text = normalize_cached(raw)
    if text:
        found.append(text)


def _spans(text: str, needle: str) -> Iterable[tuple[int, int]]:
    start = text.find(needle)
    while start != -1:
        yield start, start + len(needle)
        start = text.find(needle, start + 1)


def solves(normalized_output: str, answer: str, echoed: Iterable[str] = ()) -> bool:
    """Whether ``answer`` occurs in an already normalised result, not only as an echo.

    Args:
        normalized_output: :func:`~astra_gym.answers.normalize_text` of the result.
        answer: The raw gold answer.
        echoed: Normalised argument values of the call (:func:`argument_values`).

    Returns:
        True when some occurrence of the answer (with the boundaries of
        :mod:`astra_gym.answers`) lies outside every occurrence of an echoed value.
    """
    if not find_answer(normalized_output, answer):
        return False
    echoed = [value for value in echoed if value]
    if not echoed:
        return True
    needle = normalized_answer(answer)
    covers = [span for value in echoed for span in _spans(normalized_output, value)]
    if not covers:
        return True
    for start, end in _spans(normalized_output, needle):
        if any(a <= start and end <= b for a, b in covers):
            continue  # this occurrence is the call's own argument, repeated back
        if bounded_occurrence(normalized_output, start, end, needle):
            return True
    return False


def result_solves(output: str, answer: str, arguments: Any = None) -> bool:
    """The whole rule for one successful result and one gold answer.

    Args:
        output: The text of a *successful* call's result.
        answer: The gold answer.
        arguments: The call's arguments (what it may echo).

    Returns:
        True when the result is not error-shaped and contains the answer other
        than as an echo of the arguments.
    """
    return unsolved_reason(output, answer, arguments) is None


def unsolved_reason(output: str, answer: str, arguments: Any = None) -> str | None:
    """Why a successful result does not solve a sub-task, or None when it does.

    The compiler and the synthesis stages quote this in their rejection
    reasons, after "the call returned <result>, which".

    Args:
        output: The text of a *successful* call's result.
        answer: The gold answer.
        arguments: The call's arguments.

    Returns:
        ``None`` when :func:`result_solves` holds, else a short reason:
        the result lacks the answer, is error-shaped, or only echoes the
        arguments.

    Example:
        >>> print(unsolved_reason('{"id": "R-7"}', "R-7", {"id": "R-7"}))
        contains the answer 'R-7' only where it repeats the call's own arguments
    """
    text = normalize_cached(output)
    if not find_answer(text, answer):
        return f"does not contain the answer {answer!r}"
    if is_error_shaped(output):
        return "reports an error (an error-shaped result never solves a sub-task)"
    if not solves(text, answer, argument_values(arguments) if arguments is not None else ()):
        return f"contains the answer {answer!r} only where it repeats the call's own arguments"
    return None
