"""The registry of text formats, and ``auto`` detection by distinctive markers.

Every format is a small pure module with a parser ``(text, context) ->
ParsedTurn | None`` (``None``: the text is not in that format at all). This
module names them (:data:`TEXT_FORMATS`) and picks one for ``auto``:

1. The earliest *call marker* in the visible text names the family:
   ``<|channel|>`` harmony, ``<|tool_calls_section_begin|>`` /
   ``<|tool_call_begin|>`` Kimi K2, ``<|python_tag|>`` / ``<|python_start|>``
   Llama, ``<|tool_call|>`` Granite, ``[TOOL_CALLS]`` Mistral, ``<｜tool…｜>`` /
   ``<｜DSML｜function_calls>`` DeepSeek, ``<tool_call>`` hermes, GLM-4.5 or
   Qwen3-Coder (by the body of each block), a complete ``<function=NAME>``
   Qwen3-Coder. These are special tokens or tags no prose writes, so once one
   is there the turn is a call attempt: markup that cannot be read is an
   error call, never a final answer.
2. Without markers, the whole turn must *be* calls to count: Llama's JSON
   objects separated by ``;``, bare JSON calls, then Python calls of known
   tools (a Llama end token such as ``<|eot_id|>`` at the end is allowed).
   Anything else is a final answer.

Detection costs a handful of ``str.find`` scans: every marker but
``[TOOL_CALLS]`` begins with ``<`` (most with ``<|``), so two scans rule them
all out for ordinary prose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from .deepseek import parse_deepseek
from .granite import parse_granite
from .harmony import parse_harmony
from .json_calls import ParsedCall, parse_json_calls
from .kimi_k2 import parse_kimi_k2
from .llama3 import END_TOKENS as LLAMA_END_TOKENS
from .llama3 import parse_bare_sequence, parse_llama3
from .mistral import parse_mistral
from .python_calls import parse_python_calls
from .qwen3_coder import FUNCTION, find_bare_function
from .tags import body_format, parse_bare_functions, parse_tool_call_tags
from .text import clip
from .turn import ParseContext, ParsedTurn

__all__ = ["TEXT_FORMATS", "TextFormat", "detect_format", "parse_auto", "parse_text_format"]

Parser = Callable[[str, ParseContext], "ParsedTurn | None"]


@dataclass(frozen=True)
class TextFormat:
    """One text format the env reads.

    Attributes:
        name: The ``action_format`` value that forces it.
        models: The model families that write it.
        parse: ``(visible text, context) -> ParsedTurn | None``.
        reference: Where its rules come from.
    """

    name: str
    models: str
    parse: Parser
    reference: str


def _json(text: str, context: ParseContext) -> ParsedTurn | None:
    calls = parse_json_calls(text)
    return ParsedTurn("", tuple(calls), "json") if calls else None


def _python(text: str, context: ParseContext) -> ParsedTurn | None:
    calls = parse_python_calls(text, context.names)
    return ParsedTurn("", tuple(calls), "python") if calls else None


def _tags(forced: str) -> Parser:
    def parse(text: str, context: ParseContext) -> ParsedTurn | None:
        return parse_tool_call_tags(text, context, forced)
    return parse


def _granite(text: str, context: ParseContext) -> ParsedTurn | None:
    turn = parse_granite(text, context)
    if turn is not None:
        return turn
    tagged = parse_tool_call_tags(text, context, "hermes")  # Granite 3.1: "<tool_call>[...]"
    return None if tagged is None else replace(tagged, format="granite")


def _qwen3_coder(text: str, context: ParseContext) -> ParsedTurn | None:
    tagged = parse_tool_call_tags(text, context, "qwen3_coder")
    return tagged if tagged is not None else parse_bare_functions(text, context)


_FORMATS = (
    TextFormat("hermes", "Hermes, Qwen2.5/Qwen3, Granite 4 and most chat templates",
               _tags("hermes"),
               "Hermes-2-Pro / Qwen chat templates; vLLM hermes parser"),
    TextFormat("json", "any model prompted for JSON; Llama 3.1 custom tools", _json,
               "OpenAI function-call objects"),
    TextFormat("python", "BFCL-style prompts; Llama 3.2/4 pythonic", _python,
               "BFCL; vLLM pythonic parser"),
    TextFormat("llama3", "Llama 3.1/3.2/3.3, Llama 4", parse_llama3,
               "Llama 3.1 chat template and prompt format; vLLM llama3_json parser"),
    TextFormat("mistral", "Mistral 7B v0.3, Mixtral, Nemo, Small 3.x, Magistral, Devstral",
               parse_mistral, "mistral-common tokenizers/tools.py; vLLM mistral parser"),
    TextFormat("deepseek", "DeepSeek V3, R1, V3.1, V3.2", parse_deepseek,
               "DeepSeek V3/R1/V3.1 chat templates; vLLM deepseek_v3/v31/v32 parsers"),
    TextFormat("glm45", "GLM-4.5, GLM-4.6, GLM-4.7", _tags("glm45"),
               "GLM-4.5/4.6 chat templates; vLLM glm45 parser"),
    TextFormat("qwen3_coder", "Qwen3-Coder, Qwen3.5", _qwen3_coder,
               "Qwen3-Coder chat template; vLLM qwen3_coder parser"),
    TextFormat("kimi_k2", "Kimi K2", parse_kimi_k2,
               "Kimi-K2-Instruct chat template; vLLM kimi_k2 parser"),
    TextFormat("granite", "IBM Granite 3.x", _granite,
               "Granite 3.x chat templates; vLLM granite parser"),
    TextFormat("harmony", "gpt-oss", parse_harmony,
               "openai/harmony docs/format.md; vLLM openai parser"),
)
#: Every text format by name, in the order of :data:`~astra_gym.parsers.ACTION_FORMATS`.
TEXT_FORMATS: dict[str, TextFormat] = {fmt.name: fmt for fmt in _FORMATS}

#: Markers behind the ``<|`` gate, and the family each one names.
_BAR_MARKERS = (
    ("<|channel|>", "harmony"),
    ("<|tool_calls_section_begin|>", "kimi_k2"),
    ("<|tool_call_section_begin|>", "kimi_k2"),
    ("<|tool_call_begin|>", "kimi_k2"),
    ("<|python_tag|>", "llama3"),
    ("<|python_start|>", "llama3"),
    ("<|tool_call|>", "granite"),
)
_MARKERS = (
    ("<tool_call>", "tags"),
    ("[TOOL_CALLS]", "mistral"),
    ("<｜tool", "deepseek"),
    ("<｜DSML｜function_calls>", "deepseek"),
)
_AUTO_PARSERS: dict[str, Parser] = {
    "harmony": parse_harmony, "kimi_k2": parse_kimi_k2, "llama3": parse_llama3,
    "granite": parse_granite, "mistral": parse_mistral, "deepseek": parse_deepseek,
    "tags": lambda text, context: parse_tool_call_tags(text, context),
    "qwen3_coder": parse_bare_functions,
}


def _first_marker(text: str) -> tuple[int, str, str] | None:
    """``(position, marker, family)`` of the earliest call marker, or ``None``."""
    if "<" not in text and "[TOOL_CALLS]" not in text:
        return None  # every other marker starts with "<": ordinary prose stops here
    best, found = len(text), None
    candidates = (*_BAR_MARKERS, *_MARKERS) if "<|" in text else _MARKERS
    for marker, name in candidates:
        pos = text.find(marker, 0, best + len(marker) - 1)
        if 0 <= pos < best:
            best, found = pos, (pos, marker, name)
    if "<function=" in text:
        pos = find_bare_function(text, 0)
        if 0 <= pos < best:
            found = (pos, FUNCTION, "qwen3_coder")
    return found


def detect_format(text: str) -> str | None:
    """The family whose call marker comes first in ``text``, or ``None``.

    Returns:
        A key of the auto parsers: a format name, or ``"tags"`` for a
        ``<tool_call>`` tag (hermes, GLM-4.5 or Qwen3-Coder, told apart per block).

    Example:
        >>> detect_format('Sure.[TOOL_CALLS]f[ARGS]{} and <tool_call>'), detect_format("Paris")
        ('mistral', None)
    """
    found = _first_marker(text)
    return None if found is None else found[2]


def parse_auto(text: str, context: ParseContext) -> ParsedTurn:
    """Parse a visible text under ``auto`` (see the module docstring for the rules)."""
    family = detect_format(text)
    if family is not None:
        turn = _AUTO_PARSERS[family](text, context)
        if turn is not None:
            return turn
    if text.endswith(LLAMA_END_TOKENS):  # a raw Llama generation that kept its end token
        turn = parse_llama3(text, context)
        if turn is not None:
            return turn
    if text.startswith("{") and ";" in text:
        calls = parse_bare_sequence(text)
        if calls:
            return ParsedTurn("", tuple(calls), "llama3")
    for parse in (_json, _python):
        turn = parse(text, context)
        if turn is not None:
            return turn
    return ParsedTurn(text, (), "none")


def parse_text_format(text: str, action_format: str, context: ParseContext) -> ParsedTurn:
    """Parse a visible text in one named format (``auto`` detects it).

    A forced format reads only its own markup. A turn it does not read that
    carries another family's call marker is one error call saying so (a
    policy writing the wrong format learns that from the observation); only
    a turn without any marker is a final answer.

    Raises:
        KeyError: ``action_format`` is not ``auto`` or a key of :data:`TEXT_FORMATS`.
    """
    if action_format == "auto":
        return parse_auto(text, context)
    turn = TEXT_FORMATS[action_format].parse(text, context)
    if turn is not None:
        return turn
    found = _first_marker(text)
    if found is None or found[2] == action_format:
        return ParsedTurn(text, (), "none")
    # Another family's call markup: a call attempt in the wrong format, not a final answer.
    pos, marker, family = found
    if family == "tags":
        family = body_format(text[pos + len(marker):])
    error = (f"the turn calls tools in the {family} format ({marker}), but this env reads "
             f"{action_format} calls (action_format={action_format!r})")
    call = ParsedCall(None, {}, raw=clip(text[pos:].strip()), error=error)
    return ParsedTurn(text[:pos].strip(), (call,), family)
