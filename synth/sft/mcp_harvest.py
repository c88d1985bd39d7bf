"""Live MCP servers as raw servers, read with the official ``mcp`` SDK (``astra-gym[mcp]``).

A source is a stdio command (``--mcp-stdio "CMD ARGS"``: the server runs as a
subprocess and speaks MCP over its stdin/stdout) or a streamable-HTTP URL
(``--mcp-url URL``). Harvesting one connects, initializes, and lists every
tool (all pages), then disconnects (a stdio server is stopped). The raw server
holds the server's name, title, version and instructions (as its
description) and each tool's name, description and input schema; the tools'
titles, annotations and output schemas go to ``extra.mcp_tools``, and
``call_info`` says how to reach the real tools again (part 2 calls them)::

    {"transport": "stdio", "command": ["mcp-server-git"]}
    {"transport": "streamable-http", "url": "http://127.0.0.1:8000/mcp"}

**Snapshots.** Every harvest, success or failure, is also stored in
``<cache_dir>/mcp/<key>.json`` (key: the sha256 of the source), so an
``--offline`` run replays a harvest with no server at all, as the LLM cache
replays replies. Online, :func:`harvest` always reads the server live (the
runner calls it only for sources its journal does not hold yet).

The ``mcp`` package is imported only when a live harvest runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import canonical

__all__ = ["INSTALL_HINT", "HarvestError", "McpSource", "harvest", "load_snapshot",
           "require_mcp", "store_snapshot"]

INSTALL_HINT = 'live MCP sources need the mcp package: pip install "astra-gym[mcp]"'


class HarvestError(RuntimeError):
    """A live MCP server could not be harvested (did not start, timed out, broke the protocol)."""


@dataclass(frozen=True)
class McpSource:
    """One live MCP server to harvest.

    Attributes:
        kind: ``"mcp-stdio"`` or ``"mcp-http"``.
        target: The command line (stdio) or the URL (HTTP), as the user gave it.
    """

    kind: str
    target: str

    @property
    def argv(self) -> list[str]:
        """The stdio command split as a shell would (``shlex``)."""
        return shlex.split(self.target)

    @property
    def key(self) -> str:
        """The sha256 of the source (its snapshot's name and its journal key)."""
        spec = {"kind": self.kind, "argv": self.argv} if self.kind == "mcp-stdio" \
            else {"kind": self.kind, "url": self.target}
        return hashlib.sha256(canonical(spec).encode("utf-8")).hexdigest()

    def as_dict(self, index: int) -> dict[str, Any]:
        """The source as row data: ``{"kind", "command"|"url", "index"}``.

        Args:
            index: Its position among the sources of its kind.

        Returns:
            The dict.
        """
        where = "command" if self.kind == "mcp-stdio" else "url"
        return {"kind": self.kind, where: self.target, "index": index}


def require_mcp() -> None:
    """Check that the ``mcp`` package imports.

    Raises:
        ImportError: It does not (the message says how to install it).
    """
    try:
        from mcp import ClientSession  # noqa: F401
        from mcp.client.stdio import stdio_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc


def _wire(model: Any) -> dict[str, Any]:
    """An SDK object as its wire JSON (camelCase keys, no nulls), for mcp 1.x and 2.x alike."""
    if model is None:
        return {}
    if isinstance(model, Mapping):
        return dict(model)
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


async def _list_tools(session: Any) -> list[dict[str, Any]]:
    """Every tool of a session, page by page."""
    from mcp import types

    tools: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):  # a server that loops its cursor is cut off
        if cursor is None:
            page = _wire(await session.list_tools())
        else:
            try:
                page = _wire(await session.list_tools(
                    params=types.PaginatedRequestParams(cursor=cursor)))
            except TypeError:  # an mcp 1.x without params=
                page = _wire(await session.list_tools(cursor=cursor))
        tools.extend(page.get("tools") or [])
        cursor = page.get("nextCursor")
        if not cursor:
            break
    return tools


async def _session_listing(read: Any, write: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from mcp import ClientSession

    async with ClientSession(read, write) as session:
        initialized = _wire(await session.initialize())
        return initialized, await _list_tools(session)


_QUIET = [0]


@contextlib.contextmanager
def _quiet_sdk() -> Any:
    """Silence the SDK's own log records (a broken server's tracebacks) while harvesting.

    The failure itself is reported as the source's reason; nested and
    concurrent harvests share one count, and the level is restored after the last.
    """
    logger = logging.getLogger("mcp")
    if _QUIET[0] == 0:
        _QUIET.append(logger.level)
        logger.setLevel(logging.CRITICAL)
    _QUIET[0] += 1
    try:
        yield
    finally:
        _QUIET[0] -= 1
        if _QUIET[0] == 0:
            logger.setLevel(_QUIET.pop())


async def _harvest_live(source: McpSource, timeout: float) -> dict[str, Any]:
    """``{"initialize": <InitializeResult>, "tools": [<Tool>]}`` as wire JSON."""
    require_mcp()
    with _quiet_sdk():
        return await _harvest_quietly(source, timeout)


async def _harvest_quietly(source: McpSource, timeout: float) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        if source.kind == "mcp-stdio":
            from mcp import StdioServerParameters
            from mcp.client.stdio import stdio_client

            argv = source.argv
            if not argv:
                raise HarvestError("empty --mcp-stdio command")
            params = StdioServerParameters(command=argv[0], args=argv[1:])
            with open(os.devnull, "w") as errlog:  # the server's own logging stays quiet
                async with stdio_client(params, errlog=errlog) as streams:
                    initialized, tools = await _session_listing(streams[0], streams[1])
        else:
            try:
                from mcp.client.streamable_http import streamable_http_client as connect
            except ImportError:  # mcp 1.x
                from mcp.client.streamable_http import streamablehttp_client as connect
            async with connect(source.target) as streams:
                initialized, tools = await _session_listing(streams[0], streams[1])
    return {"initialize": initialized, "tools": tools}


def _raw_server(source: McpSource, index: int, listing: Mapping[str, Any]) -> dict[str, Any]:
    """A harvested listing as a raw server (see the module docstring)."""
    init = listing.get("initialize") or {}
    info = init.get("serverInfo") or {}
    description = init.get("instructions") or info.get("description") or ""
    server = {"name": info.get("name"), "title": info.get("title"), "description": description,
              "domain": None, "version": info.get("version")}
    tools, meta = [], {}
    for tool in listing.get("tools") or []:
        tools.append({"name": tool.get("name"), "description": tool.get("description"),
                      "parameters": tool.get("inputSchema")})
        extras = {key: tool[key] for key in ("title", "annotations", "outputSchema")
                  if key in tool}
        if extras and isinstance(tool.get("name"), str):
            meta[tool["name"]] = extras
    call_info = ({"transport": "stdio", "command": source.argv} if source.kind == "mcp-stdio"
                 else {"transport": "streamable-http", "url": source.target})
    return {"server": server, "tools": tools, "source": source.as_dict(index),
            "call_info": call_info, "extra": {"mcp_tools": meta} if meta else {}}


def _snapshot_path(cache_dir: str | os.PathLike[str], source: McpSource) -> Path:
    return Path(cache_dir) / "mcp" / f"{source.key}.json"


def store_snapshot(cache_dir: str | os.PathLike[str], source: McpSource,
                   snapshot: Mapping[str, Any]) -> None:
    """Write a harvest snapshot atomically (temporary file, fsync, rename).

    Args:
        cache_dir: The run's cache folder.
        source: The source.
        snapshot: ``{"listing": ...}`` or ``{"failure": reason}``.
    """
    path = _snapshot_path(cache_dir, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    # key order kept as the server sent it: the rows (and the prompts) are built from it
    data = json.dumps({"source": {"kind": source.kind, "target": source.target}, **snapshot},
                      ensure_ascii=False)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def load_snapshot(cache_dir: str | os.PathLike[str], source: McpSource) -> dict[str, Any] | None:
    """A stored harvest snapshot, or ``None`` when there is none (or it is unreadable).

    Args:
        cache_dir: The run's cache folder.
        source: The source.

    Returns:
        ``{"listing": ...}`` or ``{"failure": reason}``, or ``None``.
    """
    path = _snapshot_path(cache_dir, source)
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and ("listing" in data or "failure" in data):
            return data
    return None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        inner = exc.exceptions[0] if exc.exceptions else exc
        return _describe(inner)
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


async def harvest(source: McpSource, index: int, *, cache_dir: str | os.PathLike[str] | None,
                  offline: bool = False, timeout: float = 30.0) -> dict[str, Any]:
    """Harvest one live MCP server (or, offline, replay its snapshot).

    Args:
        source: The server.
        index: Its position among the sources of its kind (kept in ``source``).
        cache_dir: Where snapshots live (``None``: none are read or written).
        offline: Read the snapshot only; never start or contact a server.
        timeout: Seconds for connecting, initializing and listing.

    Returns:
        The raw server.

    Raises:
        HarvestError: The server could not be harvested (live), or its
            snapshot records such a failure (offline).
        LookupError: Offline, and no snapshot exists.
        ImportError: Online, and the ``mcp`` package is missing.
    """
    if offline:
        snapshot = load_snapshot(cache_dir, source) if cache_dir is not None else None
        if snapshot is None:
            raise LookupError(f"offline and no harvest snapshot for {source.kind} "
                              f"{source.target!r}")
        if "failure" in snapshot:
            raise HarvestError(str(snapshot["failure"]))
        return _raw_server(source, index, snapshot["listing"])
    try:
        listing = await _harvest_live(source, timeout)
    except ImportError:
        raise
    except TimeoutError:
        failure = f"no answer within {timeout:g} s"
    except Exception as exc:
        failure = _describe(exc)
    else:
        if cache_dir is not None:
            store_snapshot(cache_dir, source, {"listing": listing})
        return _raw_server(source, index, listing)
    if cache_dir is not None:
        store_snapshot(cache_dir, source, {"failure": failure})
    raise HarvestError(failure)
