"""Python call syntax as a whole turn: ``f(a=1)``, one call a line, or a BFCL list.

Detected conservatively, because a final answer may well mention ``f(x)``: the
whole turn (or one fenced block with no prose around it) must be nothing but
call expressions, and with the env's tool names every called name must be a
tool. Arguments must be literals (:func:`~astra_gym.parsers.parse_python_call`);
nothing is evaluated.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from .json_calls import ParsedCall
from .python_call import CallSyntaxError, parse_python_call
from .text import MAX_CALL_CHARS, clip, unfence

__all__ = ["PYTHON_FENCE_LANGUAGES", "parse_python_calls"]

PYTHON_FENCE_LANGUAGES = ("", "python", "py", "python3", "tool_code")
#: How a turn of calls starts: an optional ``[`` or ``(``, then a (dotted) name and ``(``.
#: Checked before :func:`ast.parse`, so an ordinary final answer never pays for a parse.
_LEADING_CALL = re.compile(r"[\[(]?\s*+((?>[^\W\d]\w*+)(?>\.[^\W\d]\w*+)*+)\s*+\(")


def _dotted_name(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _unwrap_print(node: ast.expr) -> ast.expr:
    # as parse_python_call does: ``print(call)`` is the call
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            and len(node.args) == 1 and not node.keywords):
        return node.args[0]
    return node


def _call_nodes(tree: ast.Module) -> list[ast.Call] | None:
    """The calls when the module is nothing but call expressions (or one list of them)."""
    if not tree.body or not all(isinstance(statement, ast.Expr) for statement in tree.body):
        return None
    values = [statement.value for statement in tree.body if isinstance(statement, ast.Expr)]
    if len(values) == 1 and isinstance(values[0], ast.List | ast.Tuple):
        values = list(values[0].elts)
    calls = [_unwrap_print(value) for value in values]
    if not calls or not all(isinstance(call, ast.Call) for call in calls):
        return None
    return [call for call in calls if isinstance(call, ast.Call)]


class _Segments:
    """Source text of AST nodes in linear time (``ast.get_source_segment`` rescans per call)."""

    def __init__(self, source: str) -> None:
        self.data = source.encode("utf-8", "surrogatepass")
        self.line_starts = [0]
        pos = self.data.find(b"\n")
        while pos >= 0:
            self.line_starts.append(pos + 1)
            pos = self.data.find(b"\n", pos + 1)

    def __call__(self, node: ast.expr) -> str:
        end_line, end_col = node.end_lineno, node.end_col_offset
        if end_line is None or end_col is None:
            return ""
        start = self.line_starts[node.lineno - 1] + node.col_offset
        end = self.line_starts[end_line - 1] + end_col
        return self.data[start:end].decode("utf-8", "replace")


def _python_call(segment: _Segments, node: ast.Call, name: str) -> ParsedCall:
    text = segment(node)
    func = segment(node.func)
    raw = clip(text)
    if not func or not text.startswith(func):
        return ParsedCall(name, {}, raw=raw, error="could not read the call's arguments")
    try:  # the name may be dotted (``math.sqrt``), which parse_python_call refuses
        call = parse_python_call("_" + text[len(func):])
    except CallSyntaxError as exc:
        return ParsedCall(name, {}, raw=raw, error=str(exc))
    except (ValueError, RecursionError, MemoryError) as exc:
        return ParsedCall(name, {}, raw=raw, error=clip(f"could not parse the call: {exc}"))
    return ParsedCall(name, call.kwargs, args=call.args, raw=raw)


def parse_python_calls(text: str,
                       tool_names: Collection[str] | None = None) -> list[ParsedCall] | None:
    """Parse a turn that is nothing but Python call expressions.

    The whole text (surrounding whitespace aside), or the body of a single
    fenced block (untagged, ``python``, ``py`` or ``tool_code``) with no
    prose around it, must be one call ``f(a=1)``, several calls (one
    statement each), or one list of calls ``[f(a=1), g(b=2)]`` as BFCL writes
    them. A ``print(...)`` wrapper is ignored and dotted names
    (``math.sqrt(x=2)``) are allowed. Arguments must be literals (see
    :func:`parse_python_call`); nothing is evaluated. Reasoning is not
    removed here (see :func:`strip_reasoning`).

    Text that does not start like a call (an optional ``[``/``(``, a name,
    ``(``), or whose first name is not a known tool, is turned down before
    any parsing: a final answer costs a regex match, not an :func:`ast.parse`.

    Args:
        text: The assistant's visible text.
        tool_names: The known tools. When given, every called name must be
            one of them, or the text is not a call (it is prose or code).

    Returns:
        The calls (a call whose arguments are not literals carries an
        error), or ``None`` when the text is not call syntax. With
        ``tool_names``, text that starts like a call of a known tool but is
        not valid Python (or is over :data:`MAX_CALL_CHARS`) gives one error
        call.

    Example:
        >>> [(c.name, c.args, c.arguments) for c in parse_python_calls("[f(1, b='x'), g()]")]
        [('f', (1,), {'b': 'x'}), ('g', (), {})]
        >>> parse_python_calls("print(x)", tool_names={"search"}) is None
        True
        >>> parse_python_calls("search(q=query)", {"search"})[0].error[:40]
        "argument 'q' is not a literal ('query');"
    """
    body = unfence(text, PYTHON_FENCE_LANGUAGES)
    if not body:
        return None
    leading = _LEADING_CALL.match(body, 0, 300) if "(" in body[:300] else None
    if leading is None:
        return None  # prose, a number, JSON...: not worth an ast.parse
    lead_name = leading.group(1)
    names = None if tool_names is None else (
        tool_names if isinstance(tool_names, frozenset) else frozenset(tool_names))
    if names is not None and lead_name not in names and lead_name != "print":
        return None  # every called name must be a tool: the first one is not
    if "\r" in body:
        body = body.replace("\r\n", "\n").replace("\r", "\n")
    if len(body) > MAX_CALL_CHARS:
        if names is not None and lead_name in names:
            return [ParsedCall(lead_name, {}, raw=clip(body),
                               error=f"the call is too long ({len(body)} characters; "
                                     f"the limit is {MAX_CALL_CHARS})")]
        return None
    try:
        tree = ast.parse(body, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        if names is not None and lead_name in names:
            reason = (exc.msg if isinstance(exc, SyntaxError) else str(exc)
                      if isinstance(exc, ValueError) else "the code nests too deeply")
            return [ParsedCall(lead_name, {}, raw=clip(body),
                               error=f"not valid Python: {reason}")]
        return None
    nodes = _call_nodes(tree)
    if nodes is None:
        return None
    if any((node.func.lineno, node.func.col_offset) != (node.lineno, node.col_offset)
           for node in nodes):
        return None  # a parenthesized callee, ``(f)(x)``: code, not a tool call
    called = [_dotted_name(node.func) for node in nodes]
    if any(name is None or (names is not None and name not in names) for name in called):
        return None
    segment = _Segments(body)
    return [_python_call(segment, node, name) for node, name in zip(nodes, called, strict=True)
            if name is not None]
