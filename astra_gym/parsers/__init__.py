"""Pure parsers for tool calls written as text."""

from .python_call import CallSyntaxError, PythonCall, bind_arguments, parse_python_call

__all__ = ["CallSyntaxError", "PythonCall", "bind_arguments", "parse_python_call"]
