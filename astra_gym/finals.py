"""When is a final answer a *hedge*? A rule that keeps answer dumps from counting as success.

``success`` needs the final answer to contain the gold final answer
(:mod:`astra_gym.answers`). Containment alone pays an agent that lists every
value it has seen: the right one is somewhere in the list. The env therefore
also asks whether the final answer *commits*. It does not when it names

1. **competing candidates**: at least :attr:`HedgeRule.max_candidates` distinct
   values that could stand where the gold answer stands. A candidate is a
   leaf value of the episode's successful tool results under the same key as
   a leaf that contains the gold answer (other hotels' names when the answer
   is a hotel name, other prices when it is a price); when the gold answer is
   no leaf of its own (a computed total), every leaf of the same kind (number
   or text) is a candidate; or
2. **a dump**: at least :attr:`HedgeRule.max_values` distinct result values
   of any kind.

Values that contain the gold final answer or a sub-task answer, or are
contained in one, and values that occur in the task's prompt, never count:
an answer may repeat the question and every intermediate result. So may it
mention a competitor or two ("Hotel Luz at 120 EUR beats Casa Azul at 150
EUR"). Values shorter than :attr:`HedgeRule.min_chars` characters (after
normalisation) do not count either, because short values are found by
chance inside ordinary prose.

The rule is pure: the env passes the texts, nothing else.

Example:
    >>> results = ['[{"hotel": "Hotel Luz", "eur": 120}, {"hotel": "Casa Azul", "eur": 150},'
    ...            ' {"hotel": "Bela Vista", "eur": 180}, {"hotel": "Sol Mar", "eur": 95}]']
    >>> hedge_reason("Book Hotel Luz (120 EUR), it beats Casa Azul.", "Hotel Luz", results)
    >>> print(hedge_reason("Hotel Luz, Casa Azul, Bela Vista or Sol Mar", "Hotel Luz", results))
    names 3 competing candidates besides the answer ('casa azul', 'bela vista', 'sol mar')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .answers import find_answer, normalize_cached

__all__ = ["DEFAULT_HEDGE_RULE", "MAX_LEAVES", "HedgeRule", "hedge_reason", "result_leaves"]

#: Leaves read from one episode's results at most, all results together (results can be
#: large; a hedge shows in far fewer).
MAX_LEAVES = 20_000
_NESTING = 64


@dataclass(frozen=True)
class HedgeRule:
    """The thresholds of the hedge rule (see the module docstring).

    Attributes:
        max_candidates: Competing candidates that make an answer a hedge.
        max_values: Distinct result values of any kind that make it a dump.
        min_chars: Shortest value (normalised) that counts.
    """

    max_candidates: int = 3
    max_values: int = 10
    min_chars: int = 2

    def __post_init__(self) -> None:
        for name in ("max_candidates", "max_values", "min_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"HedgeRule.{name} must be a positive integer, got {value!r}")


DEFAULT_HEDGE_RULE = HedgeRule()


def result_leaves(output: str, limit: int = MAX_LEAVES) -> Iterator[tuple[str, str]]:
    """``(key, value text)`` for every scalar leaf of a JSON result.

    A list item takes its list's key; a top-level scalar has the key ``""``.
    Text that is not JSON is one leaf. Booleans and ``null`` carry no value and
    are skipped.

    Args:
        output: A successful tool result.
        limit: Leaves yielded at most.

    Yields:
        The leaves, depth first.
    """
    try:
        value = json.loads(output)
    except (ValueError, RecursionError):
        yield "", output
        return
    count = 0
    stack: list[tuple[str, Any, int]] = [("", value, 0)]
    while stack and count < limit:
        key, item, depth = stack.pop()
        if isinstance(item, dict):
            if depth < _NESTING:
                stack.extend((str(k), v, depth + 1) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            if depth < _NESTING:
                stack.extend((key, v, depth + 1) for v in reversed(item))
        elif isinstance(item, str) or (isinstance(item, int | float)
                                       and not isinstance(item, bool)):
            count += 1
            yield key, str(item)


def _normalized(text: str) -> str:
    """:func:`normalize_text`, from a cache for short texts.

    Result leaves, answers and prompts repeat across the episodes of a task
    (mock data is deterministic); normalising costs microseconds per string.
    """
    return normalize_cached(text)


def _kind(text: str) -> str:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return "text"
    return "number"


def _related(value: str, answers: Sequence[str]) -> bool:
    """Whether a normalised value contains, or is contained in, a normalised answer."""
    return any(answer and (answer in value or value in answer) for answer in answers)


def hedge_reason(final_answer: str, gold_answer: str, results: Iterable[str], *,
                 subtask_answers: Iterable[str] = (), prompt: str = "",
                 rule: HedgeRule = DEFAULT_HEDGE_RULE) -> str | None:
    """Why a final answer that contains the gold answer is a hedge, or None.

    Args:
        final_answer: The agent's final answer text.
        gold_answer: The task's gold final answer.
        results: The outputs of the episode's successful tool calls.
        subtask_answers: The gold sub-task answers (an answer may repeat them).
        prompt: The prompt text (an answer may repeat the question).
        rule: The thresholds.

    Returns:
        ``None`` when the answer commits, else the reason it is a hedge.
    """
    answer_text = _normalized(final_answer)
    gold = _normalized(gold_answer)
    known = [gold, *(_normalized(a) for a in subtask_answers)]
    prompt_text = _normalized(prompt)
    leaves: dict[str, set[str]] = {}  # normalised value -> keys it appears under
    answer_keys: set[str] = set()
    budget = MAX_LEAVES
    for output in results:
        if budget <= 0:
            break
        for key, raw in result_leaves(output, budget):
            budget -= 1
            value = _normalized(raw)
            if not value:
                continue
            if gold and gold in value:
                answer_keys.add(key)
            leaves.setdefault(value, set()).add(key)
    named: list[tuple[str, set[str]]] = []
    for value, keys in leaves.items():
        if (len(value) < rule.min_chars or _related(value, known)
                or (prompt_text and value in prompt_text)):
            continue
        if find_answer(answer_text, value):
            named.append((value, keys))
    if answer_keys:
        candidates = [value for value, keys in named if keys & answer_keys]
    else:
        kind = _kind(gold)
        candidates = [value for value, _ in named if _kind(value) == kind]
    if len(candidates) >= rule.max_candidates:
        shown = ", ".join(repr(value) for value in candidates[:5])
        return (f"names {len(candidates)} competing candidates besides the answer ({shown}"
                f"{', ...' if len(candidates) > 5 else ''})")
    if len(named) >= rule.max_values:
        return (f"names {len(named)} distinct values from the tool results besides the "
                f"answers (a dump of what the tools returned)")
    return None
