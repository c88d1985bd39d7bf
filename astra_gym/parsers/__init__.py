"""Pure parsers for tool calls written as text."""

from .actions import ACTION_FORMATS, MESSAGE_KEYS, ParsedTurn, parse_action, parse_python_calls
from .hermes import parse_hermes
from .json_calls import ParsedCall, parse_json_calls
from .python_call import CallSyntaxError, PythonCall, bind_arguments, parse_python_call
from .text import MAX_CALL_CHARS, strip_reasoning

__all__ = [
    "ACTION_FORMATS",
    "MAX_CALL_CHARS",
    "MESSAGE_KEYS",
    "CallSyntaxError",
    "ParsedCall",
    "ParsedTurn",
    "PythonCall",
    "bind_arguments",
    "parse_action",
    "parse_hermes",
    "parse_json_calls",
    "parse_python_call",
    "parse_python_calls",
    "strip_reasoning",
]
