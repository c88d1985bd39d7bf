"""Turn a tool's return value (and printed text) into result text.

dict/list/tuple/set returns become JSON (``ensure_ascii=False``; sets as sorted
lists, dates as ISO strings, Decimals and Fractions as strings), other values
``str()``. Memory addresses in default reprs (``<Foo object at 0x7f...>``) are
masked, because they differ from run to run; overlong output is cut at a fixed
length with a marker. Both keep results byte-identical across processes.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import fractions
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from .ordering import SET_TYPES, ordered

__all__ = ["render_output"]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_JSON_CONTAINERS = (dict, list, tuple, *SET_TYPES)
_STR_LIKE = (decimal.Decimal, fractions.Fraction, uuid.UUID)


_current = threading.local()  # the charge of the rendering under way in this thread


def _json_default(value: Any) -> Any:
    if type(value) in SET_TYPES:
        return ordered(value, getattr(_current, "charge", _no_charge))
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _STR_LIKE):
        return str(value)
    if isinstance(value, dict):  # dict subclasses json cannot see through
        return dict(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# One encoder for every call: json.dumps() with any keyword builds a new one.
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=_json_default)
_encode = _ENCODER.encode


def _no_charge(nbytes: int) -> None:
    return None


def _surely_shorter(value: Any, limit: int) -> bool:
    """Whether ``value``'s JSON text is surely under ``limit`` characters.

    A bounded walk: it stops as soon as the estimate passes the limit, so a
    result of ten million items or a DAG of shared lists that expands
    exponentially costs at most ``limit`` steps here, instead of gigabytes
    and minutes inside the C encoder.
    """
    total = 0
    stack = [value]
    pop = stack.pop
    extend = stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is list or kind is tuple or kind in SET_TYPES:
            total += 2 + 2 * len(item)
            if total > limit:
                return False
            extend(item)
        elif kind is dict or isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total > limit:
                return False
            extend(item.keys())
            extend(item.values())
        else:
            total += 24
        if total > limit:
            return False
    return True


def _encode_bounded(value: Any, limit: int) -> tuple[str, bool]:
    """The JSON text of ``value``, built chunk by chunk and cut past ``limit``."""
    chunks = []
    size = 0
    for chunk in _ENCODER.iterencode(value):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return "".join(chunks), False
    return "".join(chunks), True


def _render_value(value: Any, to_str: Callable[[Any], str], limit: int,
                  bounded: bool) -> tuple[str, bool]:
    """The text of ``value`` and whether it is complete (big results are cut while built)."""
    kind = type(value)
    if kind is str:
        return value, True
    if value is None or kind is bool or kind is int or kind is float:
        return str(value), True
    if kind in _JSON_CONTAINERS or isinstance(value, dict):
        try:
            if not bounded or _surely_shorter(value, limit):
                return _encode(value), True
            return _encode_bounded(value, 2 * limit)
        except (TypeError, ValueError):
            pass  # non-string keys, circular data: fall back to str()
    return to_str(value), True


def render_output(value: Any, printed: str, to_str: Callable[[Any], str],
                  max_output: int, charge: Callable[[int], None] = _no_charge,
                  bounded: bool = True) -> str:
    """The result text of a call.

    Args:
        value: What the tool returned.
        printed: What the tool printed during the call.
        to_str: The session's size-checked ``str`` (sets in a stable order).
        max_output: Cut the text to this many characters.
        charge: The session's meter charge: sets inside the value are sorted
            for the output, and sorting ten million items takes seconds.
        bounded: Walk the value first (a few microseconds per dozens of nodes),
            so a result that would render to gigabytes, or a DAG that expands
            exponentially, is cut while it is built instead of being built by the
            C encoder. A process-isolated worker skips the walk: its address-space
            limit and the watchdog bound the C encoder there.

    Returns:
        Printed text followed by the rendered value; just the printed text when
        the tool printed and returned None (as ``print(tool(...))`` would show).
        Text over ``max_output`` is cut with a marker that says how much was cut;
        a result too big to render whole says so instead of a count.
    """
    _current.charge = charge
    try:
        if value is None and printed:
            text, complete = printed, True
        else:
            rendered, complete = _render_value(value, to_str, max_output, bounded)
            text = printed + rendered
    finally:
        _current.charge = _no_charge
    if " at 0x" in text:
        text = _ADDRESS.sub(" at 0x?", text)
    if not complete:
        return f"{text[:max_output]}\n...[output truncated: more than {max_output:,} characters]"
    if len(text) > max_output:
        cut = len(text) - max_output
        text = f"{text[:max_output]}\n...[output truncated: {cut:,} more characters]"
    return text
