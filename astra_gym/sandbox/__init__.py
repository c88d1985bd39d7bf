"""The deterministic tool sandbox.

Tools are Python source strings written by an LLM; the sandbox compiles them
under a RestrictedPython policy with a deterministic operation budget and size
guards, and runs them in confined, crash-safe worker processes shared by the
whole process (the default) or, for vetted packs, in this process
(microseconds per call). Every failure is a :class:`ToolResult`; nothing
raises into the caller.

Example:
    >>> from astra_gym.sandbox import Sandbox
    >>> src = "def add(a, b):\\n    return {'sum': a + b}"
    >>> Sandbox().run(src, "add", {"a": 1, "b": 2}).output
    '{"sum": 3}'
"""

from .errors import BudgetExceeded, SandboxLimitError
from .limits import Limits
from .modules import ALLOWED_MODULES
from .policy import POLICY_VERSION, CompiledTool, compile_tool
from .pool import WorkerPool, default_pool
from .result import ErrorKind, ToolResult
from .sandbox import DEFAULT_ISOLATION, Isolation, Sandbox, SandboxSession
from .session import DEFAULT_CLOCK

__all__ = [
    "ALLOWED_MODULES",
    "DEFAULT_CLOCK",
    "DEFAULT_ISOLATION",
    "POLICY_VERSION",
    "BudgetExceeded",
    "CompiledTool",
    "ErrorKind",
    "Isolation",
    "Limits",
    "Sandbox",
    "SandboxLimitError",
    "SandboxSession",
    "ToolResult",
    "WorkerPool",
    "compile_tool",
    "default_pool",
]
