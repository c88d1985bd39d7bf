"""Exceptions raised inside sandboxed code when a limit trips.

They derive from ``BaseException`` so that ``except Exception:`` in tool code
does not swallow them; a bare ``except:`` can, but the meter remembers the trip
and the call is reported as failed anyway.
"""

from __future__ import annotations

__all__ = ["BudgetExceeded", "SandboxLimitError"]


class SandboxLimitError(BaseException):
    """A guarded operation would exceed a size limit (string, list or int size)."""


class BudgetExceeded(BaseException):
    """The call used up its operation budget."""
