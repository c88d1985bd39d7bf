"""Write tool calls in a model family's own text format (the inverse of the parsers).

:func:`render_calls` is what the OpenAI agent's text mode and SFT rollouts use
to put calls into a transcript the way the model writes them, so that the env
reads them back unchanged: ``parse_action(render_calls(calls, fmt), fmt)``
gives the same calls (the round-trip tests check it for every format).
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .deepseek import render_deepseek, render_deepseek_v3, render_deepseek_v32
from .glm45 import render_glm45
from .granite import render_granite
from .harmony import render_harmony
from .hermes import render_hermes
from .json_calls import ParsedCall, decode_json
from .kimi_k2 import render_kimi_k2
from .llama3 import render_llama3
from .markup import MARKERS, RenderCall, escape_markers, read_name
from .mistral import render_mistral, render_mistral_v3
from .qwen3_coder import render_qwen3_coder

__all__ = ["CALL_FORMATS", "render_calls"]


def _render_json(calls: Sequence[RenderCall]) -> str:
    objects = [f'{{"name": {json.dumps(call.name, ensure_ascii=False)}, "arguments": {call.raw}}}'
               for call in calls]
    return objects[0] if len(objects) == 1 else "[" + ", ".join(objects) + "]"


def _render_python(calls: Sequence[RenderCall]) -> str:
    lines = []
    for call in calls:
        arguments = call.named_arguments("python")
        bad = [key for key in arguments if not key.isidentifier() or keyword.iskeyword(key)]
        if bad or not all(part.isidentifier() for part in call.name.split(".")):
            raise ValueError(f"cannot write {call.name!r} as a Python call: "
                             f"{'argument ' + repr(bad[0]) if bad else 'the name'} is not an "
                             "identifier")
        lines.append(f"{call.name}(" + ", ".join(f"{key}={value!r}"
                                                  for key, value in arguments.items()) + ")")
    text = "\n".join(lines)
    # Markers can only stand inside string literals here: write their first character escaped.
    for marker in MARKERS:
        if marker in text:
            text = text.replace(marker, f"\\x{ord(marker[0]):02x}{marker[1:]}")
    return text


_RENDERERS: dict[str, Callable[[Sequence[RenderCall]], str]] = {
    "hermes": render_hermes,
    "json": _render_json,
    "python": _render_python,
    "llama3": render_llama3,
    "mistral": render_mistral,
    "mistral_v3": render_mistral_v3,
    "deepseek": render_deepseek,
    "deepseek_v3": render_deepseek_v3,
    "deepseek_v32": render_deepseek_v32,
    "glm45": render_glm45,
    "qwen3_coder": render_qwen3_coder,
    "kimi_k2": render_kimi_k2,
    "granite": render_granite,
    "harmony": render_harmony,
}
#: The formats :func:`render_calls` writes: every parsed format, and the older
#: variants a family's parser also reads (``mistral_v3``: the ``[TOOL_CALLS][...]``
#: JSON list; ``deepseek_v3``: V3/R1's ``function<｜tool▁sep｜>`` with a fenced
#: block; ``deepseek_v32``: DSML).
CALL_FORMATS = tuple(_RENDERERS)


def _render_call(call: Any) -> tuple[RenderCall, str | None]:
    """One call in any accepted shape, and its id."""
    call_id = None
    if isinstance(call, ParsedCall):
        if call.error is not None or call.name is None or call.args:
            raise ValueError(f"cannot write a call that did not parse: {call.error or call.raw}")
        name, arguments, call_id = call.name, call.arguments, call.call_id
    elif isinstance(call, tuple) and len(call) == 2:
        name, arguments = call
    elif isinstance(call, Mapping):
        function = call.get("function", call)
        call_id = call.get("id") if isinstance(call.get("id"), str) else None
        if not isinstance(function, Mapping):
            raise ValueError(f"not a tool call: {call!r}"[:200])
        name, arguments = function.get("name"), function.get("arguments")
    else:
        raise TypeError("a call is a ParsedCall, a (name, arguments) pair or a mapping with "
                        f'"name" and "arguments" (an OpenAI tool_calls entry), not '
                        f"{type(call).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"a call needs a non-empty string name, got {name!r}")
    checked, error = read_name(name, "")
    if error is not None or checked != name:
        raise ValueError(f"cannot write a call to {name!r}: a tool name has no spaces, quotes, "
                         "brackets or markup")
    if arguments is None or arguments == "":
        arguments = {}
    if isinstance(arguments, str):
        try:
            decoded = decode_json(arguments)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict):
            return RenderCall(name, decoded, _json_text(decoded)), call_id
        return RenderCall(name, None, escape_markers(arguments.strip())), call_id
    if not isinstance(arguments, Mapping):
        raise ValueError(f"the arguments of {name!r} must be a mapping or JSON text, got "
                         f"{type(arguments).__name__}")
    try:
        plain = json.loads(json.dumps(dict(arguments), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the arguments of {name!r} are not JSON data: {exc}") from None
    return RenderCall(name, plain, _json_text(plain)), call_id


def _json_text(arguments: dict[str, Any]) -> str:
    """The arguments as JSON, as the templates write them (``, ``/``: ``), markers escaped."""
    return escape_markers(json.dumps(arguments, ensure_ascii=False))


def render_calls(calls: Iterable[Any], call_format: str = "hermes", content: str = "") -> str:
    """Write an assistant turn with tool calls in one format's own markup.

    Args:
        calls: The calls: :class:`ParsedCall` objects, ``(name, arguments)``
            pairs, ``{"name", "arguments"}`` mappings or OpenAI ``tool_calls``
            entries (``arguments`` a mapping or JSON text). Text that is not a
            JSON object is written as is where the format holds JSON, so the
            env reports it as an invalid call.
        call_format: One of :data:`CALL_FORMATS`.
        content: Visible text written before the calls (a harmony
            ``commentary`` preamble); with no calls, the whole turn (a
            harmony ``final`` message).

    Returns:
        The turn's text.

    Raises:
        ValueError: An unknown format, or a call the format cannot write: in
            ``glm45``, ``qwen3_coder``, ``deepseek_v32`` and ``python`` every
            argument is written on its own, so the arguments must be a JSON
            object (and, in ``python``, be named by identifiers), and a
            string may not hold the format's closing marker.
        TypeError: A call of another type.

    Example:
        >>> print(render_calls([("get_weather", {"city": "Paris"})], "glm45"))
        <tool_call>get_weather
        <arg_key>city</arg_key>
        <arg_value>Paris</arg_value>
        </tool_call>
        >>> render_calls([("get_weather", {"city": "Paris"})], "mistral")
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}'
    """
    renderer = _RENDERERS.get(call_format)
    if renderer is None:
        raise ValueError(f"unknown call_format {call_format!r}; choose one of "
                         f"{', '.join(CALL_FORMATS)}")
    pairs = [_render_call(call) for call in calls]
    rendered = [call for call, _ in pairs]
    content = content.strip()
    if call_format == "harmony":
        return render_harmony(rendered, content)
    if not rendered:
        return content
    if content and call_format in ("json", "python"):
        raise ValueError(f"a {call_format} turn is nothing but calls: it cannot carry content")
    if call_format == "kimi_k2":
        ids = [call_id if call_id and call_id.startswith("functions.") else None
               for _, call_id in pairs]
        text = render_kimi_k2(rendered, ids)
    else:
        text = renderer(rendered)
    return f"{content}\n\n{text}" if content else text
