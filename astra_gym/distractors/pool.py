"""The tool pool distractors are drawn from: every tool of one or more packs, one per name.

ASTRA pools the tools of all environments and deduplicates them by exact
name (paper Eq. 24). Here the first pack, and the first task in it, that
defines a name provides its definition; the tool's *domains* are those of
every task that uses a tool of that name, so a candidate is excluded from
any task of those domains. Only the tools tasks need are pooled: a task's own
distractor tools have no domain of their own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..pack import Pack, Tool

__all__ = ["PoolTool", "collect_pool", "pool_packs", "resolve_pack", "tool_document"]


@dataclass(frozen=True)
class PoolTool:
    """One candidate distractor.

    Attributes:
        tool: Its definition (the first one met under this name).
        domains: Domains of the tasks that use a tool of this name.
    """

    tool: Tool
    domains: frozenset[str]


def resolve_pack(entry: str | os.PathLike[str] | Pack) -> Pack:
    """A pack from a :class:`Pack`, a pack directory or a registered astra env id.

    Args:
        entry: ``Pack``, ``"path/to/pack"`` or ``"astra/demo-v0"``.

    Returns:
        The open pack (shared with every env of the process).

    Raises:
        ValueError: When ``entry`` is neither a pack directory nor an astra env id.
    """
    from ..env import open_pack

    if isinstance(entry, Pack):
        return entry
    path = Path(entry)
    if path.is_dir():
        return open_pack(path)
    import gymnasium as gym

    name = str(entry)
    if name in gym.registry:
        pack = (gym.spec(name).kwargs or {}).get("pack")
        if pack is not None:
            return open_pack(pack)
    raise ValueError(f"distractor pool entry {name!r} is neither a pack directory nor an "
                     "astra env id")


def tool_document(tool: Tool) -> str:
    """The text embedded for a tool: its OpenAI tool document, as JSON (paper: d(τ)).

    Args:
        tool: The tool.

    Returns:
        ``{"type": "function", "function": {name, description, parameters}}`` as JSON.

    Example:
        >>> from astra_gym.pack import Tool
        >>> print(tool_document(Tool("f", "Does f.", {}, "", "f")))
        {"type": "function", "function": {"name": "f", "description": "Does f.", "parameters": {}}}
    """
    return json.dumps(tool.openai(), ensure_ascii=False)


def collect_pool(packs: Iterable[Pack]) -> list[PoolTool]:
    """Every needed tool of the packs' tasks, deduplicated by name (first definition wins).

    Args:
        packs: The pool's packs, in priority order.

    Returns:
        The pool in first-seen order.
    """
    first: dict[str, Tool] = {}
    domains: dict[str, set[str]] = {}
    for pack in packs:
        for task in pack:
            for tool in task.tools:
                first.setdefault(tool.name, tool)
                domains.setdefault(tool.name, set()).add(task.domain)
    return [PoolTool(tool, frozenset(domains[name])) for name, tool in first.items()]


def pool_packs(entries: Sequence[str | os.PathLike[str] | Pack] | None, pack: Pack) -> list[Pack]:
    """The pool's packs: the entries given, or the env's own pack when there are none.

    Args:
        entries: Pool entries (packs, pack directories, env ids), or None.
        pack: The pack the distractors are for.

    Returns:
        The packs, without repeats (by content hash), in the order given.
    """
    packs = [pack] if not entries else [resolve_pack(entry) for entry in entries]
    seen: set[str] = set()
    unique = []
    for item in packs:
        digest = item.manifest["content_hash"]
        if digest not in seen:
            seen.add(digest)
            unique.append(item)
    return unique
