"""Run a tool body in an in-process sandbox: the helpers the guard tests share."""

from __future__ import annotations

import textwrap

from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.result import ToolResult

SANDBOX = Sandbox(isolation="inprocess")


def run(body: str, sandbox: Sandbox = SANDBOX) -> ToolResult:
    """``body`` as the body of a tool without arguments, run once."""
    return sandbox.run("def tool():\n" + textwrap.indent(textwrap.dedent(body), "    "),
                       "tool", {})


def output(body: str, sandbox: Sandbox = SANDBOX) -> str:
    """What ``body`` returns, rendered; it must succeed."""
    result = run(body, sandbox)
    assert result.ok, result.error
    return result.output


def added_ops(setup: str, statements: str) -> int:
    """The ops ``statements`` add to a tool that runs ``setup`` first (both must succeed)."""
    with_it = run(f"{setup}\n{statements}\nreturn 1")
    without = run(f"{setup}\nreturn 1")
    assert with_it.ok, with_it.error
    assert without.ok, without.error
    return with_it.ops - without.ops
