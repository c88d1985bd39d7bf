"""Pure parsers for tool calls written as text, in every major model family's format.

:func:`parse_action` reads one assistant turn (text or an OpenAI message);
:func:`render_calls` writes calls in a chosen family's format. Each format is a
small module (``hermes``, ``json_calls``, ``python_calls``, ``llama3``,
``mistral``, ``deepseek``, ``glm45``, ``qwen3_coder``, ``kimi_k2``, ``granite``,
``harmony``) behind one registry (:mod:`~astra_gym.parsers.registry`).
"""

from .actions import ACTION_FORMATS, MESSAGE_KEYS, ParsedTurn, parse_action, parse_python_calls
from .hermes import parse_hermes
from .json_calls import ParsedCall, parse_json_calls
from .python_call import CallSyntaxError, PythonCall, bind_arguments, parse_python_call
from .registry import TEXT_FORMATS, detect_format
from .render import CALL_FORMATS, render_calls
from .text import MAX_CALL_CHARS, strip_reasoning

__all__ = [
    "ACTION_FORMATS",
    "CALL_FORMATS",
    "MAX_CALL_CHARS",
    "MESSAGE_KEYS",
    "TEXT_FORMATS",
    "CallSyntaxError",
    "ParsedCall",
    "ParsedTurn",
    "PythonCall",
    "bind_arguments",
    "detect_format",
    "parse_action",
    "parse_hermes",
    "parse_json_calls",
    "parse_python_call",
    "parse_python_calls",
    "render_calls",
    "strip_reasoning",
]
