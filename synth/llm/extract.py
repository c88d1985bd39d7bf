"""Get a JSON value out of a model's reply, and check it against a schema: fail-closed.

Models wrap JSON in reasoning blocks, code fences and prose, so extraction is
tolerant about *where* the JSON is, but never about *what* it is: the result
is always a value that strict JSON decoding produced (no ``NaN``, no
``ast.literal_eval`` of Python-ish text, no repaired brackets), and when no
such value can be found :class:`ExtractionError` says why. The original ASTRA
code strips fences with ``strip("```")`` and falls back to greedy regexes and
``literal_eval`` (research/astra.md, E.16); a wrong guess there silently turns
into data.

Search order, first success wins:

1. The whole reply, when it is JSON as it stands (so a pure-JSON reply is
   never touched by the steps below, whatever its strings hold).
2. Reasoning is dropped: everything through a stray ``</think>`` (one with no
   ``<think>`` before it and not inside a ``{...}``/``[...]`` that decodes:
   templates that open the block in the prompt), then
   every ``<think>…</think>`` block at the start of the reply. A leading
   ``<think>`` that never closes leaves nothing (a reply cut off while
   reasoning has no answer). Think tags *after* the reply has started are left
   in place, since they may be data inside a JSON string; the scanner (step 5)
   skips ``<think>…</think>`` blocks that sit between JSON values.
3. The body of each fenced block tagged ``json``, in order; else the body of
   the only fenced block, when there is exactly one. Fences open and close at
   the start of a line (Markdown's rule), so backticks inside a JSON string
   never count as a fence.
4. The whole remaining text (which may be any JSON value, scalars included).
5. The first *top-level* balanced ``{...}`` or ``[...]`` that decodes, found
   by a linear scanner that knows JSON strings and escapes. A span that does
   not decode, or is malformed (a wrong closing bracket, a string running over
   a line break), is skipped whole: values nested in it are not candidates.
   A bracket that is never closed ends the search: the JSON was cut off, and
   a complete value nested inside it is not the answer.
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from astra_gym.parsers.json_calls import decode_json
from astra_gym.parsers.text import clip

__all__ = ["ExtractionError", "OutputInvalid", "check_schema", "extract_json", "validate_output"]

_FENCE = "```"
_LANG = re.compile(r"[\w.+-]{0,40}")
_SPECIAL = re.compile(r'[{}\[\]"\\\n]')
_CLOSER = {"{": "}", "[": "]"}
_OPENER = re.compile(r"[{\[]|<think>")
_BRACKET = re.compile(r"[{\[]")
_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_MESSAGE_CHARS = 300
_VALIDATORS: dict[str, Any] = {}
_VALIDATOR_CACHE_SIZE = 256


class ExtractionError(ValueError):
    """No JSON value could be extracted from a reply.

    Attributes:
        reason: One line saying what was tried and why it failed.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OutputInvalid(ValueError):
    """An extracted value does not satisfy the expected JSON schema.

    Attributes:
        reason: The most relevant violation as ``"<json path>: <message>"``,
            e.g. ``"$.items[0]: 'name' is a required property"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def extract_json(text: str) -> Any:
    """Extract the JSON value a model's reply carries.

    Args:
        text: The reply text (reasoning, fences and prose allowed).

    Returns:
        The decoded value (see the module docstring for where it is looked for).

    Raises:
        ExtractionError: Nothing in the text decodes as strict JSON; the
            reason names what was tried.

    Example:
        >>> extract_json('<think>maybe [1]?</think>Sure: ```json\\n{"a": [1, 2]}\\n```')
        {'a': [1, 2]}
        >>> extract_json('The answer is {"ok": true, "note": "use {x}"} as asked.')
        {'ok': True, 'note': 'use {x}'}
        >>> extract_json('{"a": [1, 2')  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        synth.llm.extract.ExtractionError: no JSON in the reply: ... never closed (cut-off reply?)
    """
    if not isinstance(text, str):
        raise ExtractionError(f"the reply is not text but {type(text).__name__}")
    try:
        return decode_json(text)
    except ValueError:
        pass
    visible = _strip_reasoning(text)
    if not visible:
        had_reasoning = visible != text.strip()
        raise ExtractionError("the reply has no text after its reasoning" if had_reasoning
                              else "the reply is empty")
    problems: list[str] = []

    for label, body in _fence_candidates(visible):
        try:
            return decode_json(body)
        except ValueError as exc:
            problems.append(f"the {label} is not JSON ({_short(exc)})")

    try:
        return decode_json(visible)
    except ValueError as exc:
        problems.append(f"the text is not JSON ({_short(exc)})")

    found = False
    for start, end in _balanced_spans(visible, problems):
        found = True
        try:
            return decode_json(visible[start:end])
        except ValueError:
            continue
    if found:
        problems.append("no balanced {...} or [...] in it decodes")
    elif not any("never closed" in p for p in problems):
        problems.append("there is no balanced {...} or [...] in it")
    raise ExtractionError("no JSON in the reply: " + "; ".join(problems))


def validate_output(value: Any, schema: Mapping[str, Any]) -> Any:
    """Check an extracted value against a JSON schema.

    The schema's ``$schema`` picks the draft (2020-12 when it names none).
    Compiled validators are cached per schema.

    Args:
        value: The decoded value.
        schema: A JSON schema.

    Returns:
        ``value`` itself, when it is valid.

    Raises:
        OutputInvalid: The value violates the schema; the reason is the most
            relevant violation (jsonschema's ``best_match``) as ``"<json
            path>: <message>"``, plus how many more there are.
        jsonschema.SchemaError: The schema itself is invalid (a programming
            error, not a bad reply).

    Example:
        >>> schema = {"type": "object", "required": ["name"],
        ...           "properties": {"name": {"type": "string"}}}
        >>> validate_output({"name": "x"}, schema)
        {'name': 'x'}
        >>> validate_output({"name": 3}, schema)
        Traceback (most recent call last):
        ...
        synth.llm.extract.OutputInvalid: $.name: 3 is not of type 'string'
    """
    return _validate(value, _validator(schema))


def _validate(value: Any, compiled: tuple[Any, Callable[[Any], bool] | None]) -> Any:
    """:func:`validate_output`, given the schema's ``(validator, fast check)``."""
    validator, fast = compiled
    if fast is not None and fast(value):
        return value
    errors = list(validator.iter_errors(value))
    if not errors:
        return value
    best = best_match(errors)
    message = clip(" ".join(best.message.split()), _MESSAGE_CHARS)
    reason = f"{best.json_path}: {message}"
    if len(errors) > 1:
        reason += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    raise OutputInvalid(reason)


def check_schema(schema: Mapping[str, Any]) -> None:
    """Check that ``schema`` is a valid JSON schema (and compile it for later use).

    Args:
        schema: A JSON schema.

    Raises:
        jsonschema.SchemaError: It is not a valid schema.

    Example:
        >>> check_schema({"type": "object"})
        >>> check_schema({"type": "thing"})
        Traceback (most recent call last):
        ...
        jsonschema.exceptions.SchemaError: 'thing' is not valid under any of the given schemas...
    """
    _validator(schema)


# -- internals ----------------------------------------------------------------


def _short(exc: BaseException) -> str:
    return clip(str(exc), 120)


def _validator(schema: Mapping[str, Any]) -> Any:
    """``(validator, fast check)`` for ``schema``, cached by its canonical JSON.

    The validator is compiled and the schema checked; the fast check is
    :func:`_compile`'s predicate, or ``None`` when the schema is outside its subset.
    """
    try:
        cache_key = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        cache_key = None
    if cache_key is not None and cache_key in _VALIDATORS:
        return _VALIDATORS[cache_key]
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    cls.check_schema(schema)
    validator = cls(schema)
    fast = _compile(schema, root=True) if cls in _FAST_DRAFTS else None
    if cache_key is not None:
        if len(_VALIDATORS) >= _VALIDATOR_CACHE_SIZE:
            _VALIDATORS.pop(next(iter(_VALIDATORS)))
        _VALIDATORS[cache_key] = (validator, fast)
    return validator, fast


# -- the fast check -------------------------------------------------------------
#
# Most replies are valid, and jsonschema's ``iter_errors`` costs hundreds of
# microseconds on a stage schema. :func:`_compile` turns a schema in a small
# subset of JSON Schema into nested closures that answer "valid?" exactly as
# jsonschema does (Draft 6 to 2020-12 agree on this subset), in a few
# microseconds. A valid value is accepted at once; anything else still goes to
# jsonschema, which decides and words the error, so the fast check can only
# ever skip work, never change an outcome. ``tests/pipeline/test_llm_extract.py``
# checks it against jsonschema on generated values.

_FAST_DRAFTS = (jsonschema.Draft202012Validator, jsonschema.Draft201909Validator,
                jsonschema.Draft7Validator, jsonschema.Draft6Validator)
_ANNOTATIONS = frozenset({"title", "description", "default", "examples", "$comment",
                          "deprecated", "readOnly", "writeOnly"})


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": _is_integer,
    "number": _is_number,
}


def _compile(schema: Any, *, root: bool = False) -> Callable[[Any], bool] | None:
    """A predicate equal to "jsonschema finds no error", or ``None`` (outside the subset).

    The subset: boolean schemas, ``type``, ``properties``, ``required``,
    ``additionalProperties``, ``items`` (one schema), ``minItems``,
    ``maxItems``, ``minLength``, ``maxLength``, ``pattern``, ``anyOf``, the
    annotations, and ``$schema`` at the root. Each keyword applies only to
    instances of its type, as in JSON Schema.
    """
    if schema is True:
        return lambda value: True
    if schema is False:
        return lambda value: False
    if not isinstance(schema, dict):
        return None
    checks: list[Callable[[Any], bool]] = []
    for name, argument in schema.items():
        if name in _ANNOTATIONS or (root and name == "$schema"):
            continue
        check = _keyword(name, argument, schema)
        if check is None:
            return None
        checks.append(check)
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _keyword(name: str, argument: Any, schema: Mapping[str, Any]
             ) -> Callable[[Any], bool] | None:
    """The predicate of one keyword, or ``None`` when it is outside the subset."""
    if name == "type":
        names = [argument] if isinstance(argument, str) else argument
        if not isinstance(names, list) or not all(n in _TYPES for n in names):
            return None
        tests = tuple(_TYPES[n] for n in names)
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)
    if name == "properties":
        if not isinstance(argument, dict):
            return None
        subs = {key: _compile(sub) for key, sub in argument.items()}
        if any(sub is None for sub in subs.values()):
            return None
        pairs = tuple(subs.items())
        return lambda value: not isinstance(value, dict) or all(
            key not in value or sub(value[key]) for key, sub in pairs)
    if name == "required":
        if not isinstance(argument, list) or not all(isinstance(k, str) for k in argument):
            return None
        keys = tuple(argument)
        return lambda value: not isinstance(value, dict) or all(key in value for key in keys)
    if name == "additionalProperties":
        if "patternProperties" in schema or not isinstance(schema.get("properties", {}), dict):
            return None
        sub = _compile(argument)
        if sub is None:
            return None
        known = frozenset(schema.get("properties", {}))
        return lambda value: not isinstance(value, dict) or all(
            key in known or sub(item) for key, item in value.items())
    if name == "items":
        if "prefixItems" in schema or isinstance(argument, list):
            return None
        sub = _compile(argument)
        if sub is None:
            return None
        return lambda value: not isinstance(value, list) or all(sub(item) for item in value)
    if name in ("minItems", "maxItems", "minLength", "maxLength"):
        if not _is_integer(argument):
            return None
        bound = argument
        kind = list if name.endswith("Items") else str
        if name.startswith("min"):
            return lambda value: not isinstance(value, kind) or len(value) >= bound
        return lambda value: not isinstance(value, kind) or len(value) <= bound
    if name == "pattern":
        try:
            regex = re.compile(argument)
        except (re.error, TypeError):
            return None
        return lambda value: not isinstance(value, str) or regex.search(value) is not None
    if name == "anyOf":
        if not isinstance(argument, list) or not argument:
            return None
        options = [_compile(sub) for sub in argument]
        if any(option is None for option in options):
            return None
        alternatives = tuple(options)
        return lambda value: any(option(value) for option in alternatives)
    return None


def _strip_reasoning(text: str) -> str:
    """Drop leading reasoning: through a stray ``</think>``, then leading think blocks."""
    rest = text
    close = _stray_close(rest)
    if close is not None:
        rest = rest[close + len(_THINK_CLOSE):]
    while True:
        rest = rest.strip()
        if not rest.startswith(_THINK_OPEN):
            return rest
        close = rest.find(_THINK_CLOSE, len(_THINK_OPEN))
        if close < 0:
            return ""
        rest = rest[close + len(_THINK_CLOSE):]


def _stray_close(text: str) -> int | None:
    """Where the first ``</think>`` with no ``<think>`` before it ends reasoning, if it does.

    It does not when it lies inside a ``{...}``/``[...]`` span that decodes:
    then it is data in a JSON string, not the end of reasoning.
    """
    close = text.find(_THINK_CLOSE)
    if close < 0:
        return None
    opening = text.find(_THINK_OPEN)
    if 0 <= opening < close:
        return None
    for start, end in _balanced_spans(text, [], skip_think=False):
        if start > close:
            break
        if end > close:
            try:
                decode_json(text[start:end])
            except ValueError:
                break
            return None
    return close


def _fences(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of each closed fenced block; fences sit at line starts."""
    blocks = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = lines[index].lstrip()
        if not opening.startswith(_FENCE):
            index += 1
            continue
        info = opening[len(_FENCE):].strip()
        language = info.lower() if _LANG.fullmatch(info) else ""
        for close in range(index + 1, len(lines)):
            if lines[close].strip() == _FENCE:
                blocks.append((language, "\n".join(lines[index + 1:close])))
                index = close + 1
                break
        else:
            break  # an unclosed fence: not a block (the scanner may still find JSON)
    return blocks


def _fence_candidates(text: str) -> Iterator[tuple[str, str]]:
    blocks = _fences(text)
    tagged = [body for language, body in blocks if language == "json"]
    if tagged:
        for number, body in enumerate(tagged, 1):
            label = "```json block" if len(tagged) == 1 else f"```json block #{number}"
            yield label, body
    elif len(blocks) == 1:
        yield "fenced block", blocks[0][1]


def _balanced_spans(text: str, problems: list[str], *,
                    skip_think: bool = True) -> Iterator[tuple[int, int]]:
    """Top-level balanced ``{...}``/``[...]`` spans as ``(start, end)``, left to right.

    One pass: each character is looked at once. Inside a span, a closing
    bracket closes the innermost open one even when it is the wrong kind, and
    a line break ends a string (JSON strings cannot hold one); such a span is
    still delimited (so the search resumes after it) but does not decode.
    Between spans, ``<think>…</think>`` blocks are skipped (unless
    ``skip_think`` is false). A span or think
    block still open at the end of the text stops the search, noted in
    ``problems``.
    """
    pos = 0
    while True:
        opener = (_OPENER if skip_think else _BRACKET).search(text, pos)
        if opener is None:
            return
        start = opener.start()
        if opener.group() == _THINK_OPEN:
            close = text.find(_THINK_CLOSE, opener.end())
            if close < 0:
                problems.append(f"the <think> at char {start} is never closed")
                return
            pos = close + len(_THINK_CLOSE)
            continue
        stack = [_CLOSER[text[start]]]
        in_string = False
        cursor = start + 1
        while stack:
            match = _SPECIAL.search(text, cursor)
            if match is None:
                problems.append(f"the {text[start]!r} at char {start} is never closed "
                                "(cut-off reply?)")
                return
            char = match.group()
            cursor = match.end()
            if in_string:
                if char == "\\":
                    cursor += 1  # the escaped character, whatever it is
                elif char in '"\n':
                    in_string = False
            elif char == '"':
                in_string = True
            elif char in _CLOSER:
                stack.append(_CLOSER[char])
            elif char in "}]":
                stack.pop()
        yield start, cursor
        pos = cursor
