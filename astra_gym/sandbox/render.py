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


def _render_value(value: Any, to_str: Callable[[Any], str]) -> str:
    kind = type(value)
    if kind is str:
        return value
    if value is None or kind is bool or kind is int or kind is float:
        return str(value)
    if kind in _JSON_CONTAINERS or isinstance(value, dict):
        try:
            return _encode(value)
        except (TypeError, ValueError):
            pass  # non-string keys, circular data: fall back to str()
    return to_str(value)


def render_output(value: Any, printed: str, to_str: Callable[[Any], str],
                  max_output: int, charge: Callable[[int], None] = _no_charge) -> str:
    """The result text of a call.

    Args:
        value: What the tool returned.
        printed: What the tool printed during the call.
        to_str: The session's size-checked ``str`` (sets in a stable order).
        max_output: Cut the text to this many characters.
        charge: The session's meter charge: sets inside the value are sorted
            for the output, and sorting ten million items takes seconds.

    Returns:
        Printed text followed by the rendered value; just the printed text when
        the tool printed and returned None (as ``print(tool(...))`` would show).
    """
    _current.charge = charge
    try:
        text = printed if value is None and printed else printed + _render_value(value, to_str)
    finally:
        _current.charge = _no_charge
    if " at 0x" in text:
        text = _ADDRESS.sub(" at 0x?", text)
    if len(text) > max_output:
        cut = len(text) - max_output
        text = f"{text[:max_output]}\n...[output truncated: {cut:,} more characters]"
    return text
