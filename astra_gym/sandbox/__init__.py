"""The deterministic tool sandbox.

Tools are Python source strings written by an LLM; the sandbox compiles them
under a RestrictedPython policy with a deterministic operation budget and size
guards, and runs them either in this process (fast, for env steps) or in an
isolated worker process with rlimits and a watchdog (for code fresh from an
LLM). Every failure is a :class:`ToolResult`; nothing raises into the caller.

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
from .result import ErrorKind, ToolResult
from .sandbox import Isolation, Sandbox, SandboxSession
from .session import DEFAULT_CLOCK

__all__ = [
    "ALLOWED_MODULES",
    "DEFAULT_CLOCK",
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
    "compile_tool",
]
