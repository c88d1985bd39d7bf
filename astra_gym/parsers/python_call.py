"""Parse one Python call expression, ``f(a=1, b="x")``, without evaluating it.

Gold calls in ASTRA traces are written this way (``tool_call_statement``),
and some models emit tool calls this way too. The expression is parsed with
:mod:`ast` and every argument must be a literal (``ast.literal_eval``): a call
text can never run code, however hostile.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

__all__ = ["CallSyntaxError", "PythonCall", "bind_arguments", "parse_python_call"]


class CallSyntaxError(ValueError):
    """The text is not a single call with literal arguments (the message says why)."""


class PythonCall(NamedTuple):
    """A parsed call: function name, positional and keyword arguments (JSON data)."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def _json_value(value: Any, where: str) -> Any:
    """Convert a Python literal into JSON data (tuples become lists)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CallSyntaxError(f"{where} is {value!r}, which JSON cannot represent")
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, where) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CallSyntaxError(f"{where} has a non-string dict key {key!r}")
            out[key] = _json_value(item, where)
        return out
    raise CallSyntaxError(f"{where} is a {type(value).__name__} literal, which is not JSON data")


def _literal(node: ast.expr, where: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CallSyntaxError(
            f"{where} is not a literal ({ast.unparse(node)[:60]!r}); only literal values "
            "(strings, numbers, booleans, None, lists, dicts) are allowed") from None
    return _json_value(value, where)


def _unwrap_print(node: ast.expr) -> ast.expr:
    # ASTRA's sandbox check runs ``print(call)``; statements sometimes keep it.
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            and len(node.args) == 1 and not node.keywords):
        return node.args[0]
    return node


def parse_python_call(text: str) -> PythonCall:
    """Parse ``name(arg, ..., key=value, ...)`` with literal arguments.

    Args:
        text: The call text; surrounding whitespace and a ``print(...)``
            wrapper are ignored.

    Returns:
        The call's name and its arguments as JSON data.

    Raises:
        CallSyntaxError: When the text is not exactly one call of a plain
            name with literal arguments.

    Example:
        >>> parse_python_call("get_weather('Paris', days=3)")
        PythonCall(name='get_weather', args=('Paris',), kwargs={'days': 3})
    """
    if not isinstance(text, str) or not text.strip():
        raise CallSyntaxError("the call is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise CallSyntaxError(f"not valid Python: {exc.msg}") from None
    except (ValueError, MemoryError, RecursionError) as exc:
        raise CallSyntaxError(f"not valid Python: {exc}") from None
    node = _unwrap_print(tree.body)
    if not isinstance(node, ast.Call):
        raise CallSyntaxError(f"not a function call: {text.strip()[:60]!r}")
    if not isinstance(node.func, ast.Name):
        raise CallSyntaxError(
            f"the called object must be a plain name, not {ast.unparse(node.func)[:60]!r}")
    name = node.func.id
    args = []
    for index, arg in enumerate(node.args):
        if isinstance(arg, ast.Starred):
            raise CallSyntaxError("*args unpacking is not allowed in a call")
        args.append(_literal(arg, f"positional argument {index + 1}"))
    kwargs: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            raise CallSyntaxError("**kwargs unpacking is not allowed in a call")
        kwargs[keyword.arg] = _literal(keyword.value, f"argument {keyword.arg!r}")
    return PythonCall(name, tuple(args), kwargs)


def bind_arguments(call: PythonCall, parameters: Sequence[str]) -> dict[str, Any]:
    """Map positional arguments onto parameter names.

    Args:
        call: A parsed call.
        parameters: The names of the parameters that may be passed by
            position, in order (from the function signature or the schema).

    Returns:
        All arguments by name.

    Raises:
        CallSyntaxError: When there are more positional arguments than
            parameters, or one is given both by position and by name.

    Example:
        >>> bind_arguments(parse_python_call("f(1, c=3)"), ["a", "b", "c"])
        {'a': 1, 'c': 3}
    """
    if len(call.args) > len(parameters):
        raise CallSyntaxError(
            f"{call.name}() takes at most {len(parameters)} positional arguments "
            f"({len(call.args)} given)")
    bound = dict(zip(parameters, call.args, strict=False))
    for key, value in call.kwargs.items():
        if key in bound:
            raise CallSyntaxError(f"{call.name}() got argument {key!r} both by position and name")
        bound[key] = value
    return bound
