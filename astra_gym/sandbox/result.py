"""The result of one sandboxed tool call."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["ErrorKind", "ToolResult"]


class ErrorKind:
    """Stable names for the ways a call can fail (``ToolResult.error_kind``)."""

    COMPILE = "compile_error"
    NOT_FOUND = "function_not_found"
    BAD_ARGUMENTS = "bad_arguments"
    EXCEPTION = "exception"
    BUDGET = "budget_exceeded"
    LIMIT = "limit_exceeded"
    TIMEOUT = "timeout"
    MEMORY = "memory_exceeded"
    CRASHED = "worker_crashed"
    SESSION_LOST = "session_lost"


class ToolResult(NamedTuple):
    """What a tool call produced.

    A result never carries a live object from the sandbox: ``output`` is text
    (JSON for dict/list/tuple/set returns, ``str()`` otherwise, preceded by
    anything the tool printed), so results can cross process boundaries and be
    compared byte for byte. It is a NamedTuple: immutable, cheap to build on
    the step hot path, and picklable across the process boundary.

    Attributes:
        ok: True when the tool returned normally within its limits.
        output: The rendered return value (and printed text). Empty on error,
            except for text printed before the failure.
        error: A readable, stable one-line error (``"ValueError: ..."``) or None.
        error_kind: One of the :class:`ErrorKind` names, or None when ``ok``.
        ops: Operations of the budget the call used.
    """

    ok: bool
    output: str
    error: str | None = None
    error_kind: str | None = None
    ops: int = 0

    @property
    def text(self) -> str:
        """What an agent sees: the output, or the error prefixed with ``Error:``."""
        if self.ok:
            return self.output
        if self.output:
            return f"{self.output}\nError: {self.error}"
        return f"Error: {self.error}"

    @classmethod
    def failure(cls, kind: str, error: str, *, output: str = "", ops: int = 0) -> ToolResult:
        """Build an error result."""
        return cls(False, output, error, kind, ops)
