"""Per-task runtimes: what an episode of a task needs, built once per process and shared.

Every env of a process (a vector env's copies, a trainer's many envs) plays
tasks of the same packs. A task's runtime (its tool list in OpenAI format,
argument validators, calling conventions) is immutable, so one copy serves
them all, in a bounded LRU cache: a 100k-task pack does not keep 100k
runtimes alive.

Building a runtime is cheap; the costly parts are deferred to the first call
that needs them and cached by content across tasks (packs repeat tools):
an argument validator per distinct schema, a signature per distinct tool
source (only read when a call passes positional arguments).
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from collections.abc import Mapping
from functools import cached_property, lru_cache
from threading import Lock
from typing import Any

from .argcheck import ArgumentValidator, validator_for
from .pack import Pack, Task, Tool
from .toolspec import read_signature

__all__ = ["RUNTIME_CACHE_SIZE", "TaskRuntime", "ToolRuntime", "task_runtime"]

#: Task runtimes kept per process (least recently used ones are dropped).
RUNTIME_CACHE_SIZE = 4096


@lru_cache(maxsize=4096)
def _positional(source: str, function: str) -> tuple[str, ...]:
    signature = read_signature(source, function)
    return signature.positional_names if signature is not None else ()


class ToolRuntime:
    """One tool of a task: its definition, and its validator and signature on demand."""

    __slots__ = ("__dict__", "tool")

    def __init__(self, tool: Tool) -> None:
        self.tool = tool

    @cached_property
    def validator(self) -> ArgumentValidator:
        """The compiled argument validator (shared by every tool with this schema)."""
        return validator_for(self.tool.parameters)

    @cached_property
    def positional(self) -> tuple[str, ...]:
        """Parameter names positional arguments bind to, in order."""
        return _positional(self.tool.source, self.tool.function)


class TaskRuntime:
    """What an episode of one task needs. Treat it as immutable: it is shared.

    Attributes:
        task: The task.
        tools: Tool name -> :class:`ToolRuntime`, in the pack's order.
        n: Tool-needing sub-tasks (the reward's ``n``).
    """

    __slots__ = ("_schemas", "_tools_blob", "n", "task", "tools")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.tools: Mapping[str, ToolRuntime] = {
            tool.name: ToolRuntime(tool) for tool in task.all_tools}
        self.n = sum(sub.needs_tool for sub in task.subtasks)
        self._schemas = {name: tool.tool.parameters for name, tool in self.tools.items()}
        # A fresh tool list per episode, without copy.deepcopy: unpickling is ~5x faster.
        self._tools_blob = pickle.dumps([tool.openai() for tool in task.all_tools],
                                        protocol=pickle.HIGHEST_PROTOCOL)

    def openai_tools(self) -> list[dict[str, Any]]:
        """A new copy of the tool list in OpenAI format (the caller may change it)."""
        return pickle.loads(self._tools_blob)  # our own bytes, built above

    @property
    def schemas(self) -> Mapping[str, dict[str, Any]]:
        """Tool name -> its parameters' JSON Schema (built once; do not change it)."""
        return self._schemas


_cache: OrderedDict[tuple[str, str, str], TaskRuntime] = OrderedDict()
_lock = Lock()


def task_runtime(pack: Pack, task_id: str) -> TaskRuntime:
    """The shared runtime of a task (built on first use; least recently used ones dropped).

    Args:
        pack: The pack.
        task_id: One of its task ids.

    Returns:
        The runtime.

    Raises:
        KeyError: When the pack has no such task.
    """
    key = (str(pack.path), pack.manifest.get("content_hash", ""), task_id)
    with _lock:
        runtime = _cache.get(key)
        if runtime is not None:
            _cache.move_to_end(key)
            return runtime
    runtime = TaskRuntime(pack.task(task_id))
    with _lock:
        _cache[key] = runtime
        _cache.move_to_end(key)
        while len(_cache) > RUNTIME_CACHE_SIZE:
            _cache.popitem(last=False)
    return runtime
