"""Tool backends of a rollout: real MCP tools (backend 1) and emulated tools (backend 2).

Both answer one call at a time through :meth:`ToolBackend.call`, after the
rollout has checked the call (:func:`check_call`: a known tool, JSON
arguments that satisfy its schema) and drawn the injected failures
(:mod:`~synth.sft.inject`). Backend 3, the astra env packs, runs the whole
episode in :class:`astra_gym.AstraEnv` and lives in :mod:`~synth.sft.rollout`.

**Real MCP tools.** A trajectory opens its own session to the server named by
the task row's ``call_info`` (``{"transport": "stdio", "command": [argv]}``,
``{"transport": "streamable-http", "url"}``, or an ASTRA ``{"url", "headers"}``)
with the official ``mcp`` SDK, on its first call, and closes it at the end,
so every trajectory starts from a fresh server. Each result is recorded in
``CACHE_DIR/mcp_calls/<sha256>.json`` keyed by the server, the trajectory,
the call's position and its arguments. A resumed trajectory executes its
calls again (so a stateful server reaches the same state) but uses the
recorded results, so it continues exactly as it began; ``--offline`` answers
from the records only, starting no server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synth.llm import LLMClient, OfflineMiss

from .common import canonical
from .emulator import DEFAULT_HISTORY, emulate_call

__all__ = ["BACKENDS", "CallCheck", "CallResult", "EmulatedBackend", "McpBackend",
           "ToolBackend", "ToolBackendError", "check_call", "mcp_target", "resolve_backend"]

BACKENDS = ("mcp", "emulated", "env")
"""The backend names: real MCP tools, emulated tools, astra env packs."""
_RESULT_CHARS = 20_000


class ToolBackendError(RuntimeError):
    """A backend cannot serve the trajectory at all (an MCP server that does not start)."""


@dataclass(frozen=True)
class CallResult:
    """What one executed call returned.

    Attributes:
        ok: Whether the tool succeeded.
        content: The tool message content.
        usage: Token counts the backend spent (the emulator's).
    """

    ok: bool
    content: str
    usage: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CallCheck:
    """A call as the model wrote it, checked.

    Attributes:
        name: The tool name.
        arguments: The decoded arguments (``{}`` when they are not valid).
        error: Why the call cannot run (``None``: it is valid), worded for the agent.
        kind: ``"unparsable"`` (arguments that are not JSON), ``"unknown_tool"``,
            ``"invalid_arguments"`` or ``None``.
    """

    name: str
    arguments: dict[str, Any]
    error: str | None = None
    kind: str | None = None


_VALIDATORS: dict[str, Any] = {}


def _validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    key = canonical(schema)
    found = _VALIDATORS.get(key)
    if found is None:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        found = _VALIDATORS[key] = cls(schema)
    return found


def check_call(name: str, arguments: str, tools: Mapping[str, Mapping[str, Any]]) -> CallCheck:
    """Check one call against the tool list.

    Args:
        name: The called name.
        arguments: The arguments as the model wrote them (a JSON string).
        tools: Tool name -> OpenAI function object.

    Returns:
        The check.

    Example:
        >>> tools = {"f": {"name": "f", "parameters": {"type": "object",
        ...     "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}
        >>> check_call("f", '{"x": 1}', tools).error is None
        True
        >>> check_call("f", '{"x": "a"}', tools).kind, check_call("g", "{}", tools).kind
        ('invalid_arguments', 'unknown_tool')
    """
    try:
        decoded = json.loads(arguments) if arguments.strip() else {}
    except ValueError as exc:
        return CallCheck(name, {}, f"Error: the arguments of {name!r} are not valid JSON "
                                   f"({exc})", "unparsable")
    if not isinstance(decoded, dict):
        return CallCheck(name, {}, f"Error: the arguments of {name!r} must be a JSON object",
                         "unparsable")
    tool = tools.get(name)
    if tool is None:
        return CallCheck(name, decoded, f"Error: unknown tool {name!r}. Available tools: "
                                        f"{', '.join(sorted(tools))}", "unknown_tool")
    validator = _validator(tool.get("parameters") or {"type": "object"})
    errors = sorted(validator.iter_errors(decoded), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path) or "arguments"
        return CallCheck(name, decoded, f"Error: invalid arguments for {name!r}: {where}: "
                                        f"{errors[0].message}", "invalid_arguments")
    return CallCheck(name, decoded)


def mcp_target(call_info: Any) -> dict[str, Any] | None:
    """How to reach a row's real MCP server, or ``None`` when it has none.

    Args:
        call_info: A task row's ``call_info``.

    Returns:
        ``{"transport": "stdio", "command": [argv]}`` or ``{"transport":
        "streamable-http", "url", "headers"}``, or ``None`` (``mock_tool``
        rows, rows without ``call_info``, Smithery templates that need keys).
    """
    if not isinstance(call_info, Mapping):
        return None
    transport = call_info.get("transport")
    if transport == "stdio" and isinstance(call_info.get("command"), list) \
            and call_info["command"]:
        return {"transport": "stdio", "command": [str(part) for part in call_info["command"]]}
    url = call_info.get("url")
    if transport in (None, "streamable-http") and isinstance(url, str) and url \
            and not call_info.get("mock_tool"):
        headers = call_info.get("headers")
        return {"transport": "streamable-http", "url": url,
                "headers": dict(headers) if isinstance(headers, Mapping) else {}}
    return None


def resolve_backend(wanted: str, call_info: Any) -> str:
    """The backend of a task row: ``wanted``, or under ``auto`` ``mcp`` when it has a server.

    Args:
        wanted: ``"auto"``, ``"mcp"`` or ``"emulated"``.
        call_info: The row's ``call_info``.

    Returns:
        ``"mcp"`` or ``"emulated"``.

    Raises:
        ValueError: ``mcp`` wanted for a row without a reachable server, or an unknown name.
    """
    if wanted == "auto":
        return "mcp" if mcp_target(call_info) is not None else "emulated"
    if wanted == "mcp":
        if mcp_target(call_info) is None:
            raise ValueError("the row has no MCP server to call (its call_info names none)")
        return "mcp"
    if wanted == "emulated":
        return "emulated"
    raise ValueError(f"unknown backend {wanted!r} (auto, mcp, emulated)")


class ToolBackend:
    """One trajectory's tools. Use as ``async with backend:``; calls go through :meth:`call`."""

    async def __aenter__(self) -> ToolBackend:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release what the backend holds."""

    async def prepare(self) -> None:
        """Make the backend ready for a batch of calls (run in the trajectory's own task)."""

    async def call(self, name: str, arguments: dict[str, Any], ordinal: int,
                   history: Sequence[Mapping[str, Any]]) -> CallResult:
        """Execute one valid call.

        Args:
            name: The tool.
            arguments: Its arguments (valid for its schema).
            ordinal: The call's position among the trajectory's executed calls.
            history: The session's earlier ``{"name", "arguments", "result"}`` pairs.

        Returns:
            The result.
        """
        raise NotImplementedError


class EmulatedBackend(ToolBackend):
    """Backend 2: each call answered by the emulator (:mod:`~synth.sft.emulator`).

    Args:
        client: The LLM client the emulator asks.
        tools: Tool name -> OpenAI function object.
        server: The server (name, description).
        query: The user's query when this trajectory's emulator sees it, else ``None``.
        output_schemas: Tool name -> declared output schema.
        window: Recent pairs shown.
        temperature: The emulator's sampling temperature.
        max_tokens: Its completion length cap.
    """

    def __init__(self, client: LLMClient, *, tools: Mapping[str, Mapping[str, Any]],
                 server: Mapping[str, Any], query: str | None,
                 output_schemas: Mapping[str, Any] | None = None,
                 window: int = DEFAULT_HISTORY, temperature: float | None = 1.0,
                 max_tokens: int | None = None) -> None:
        self.client = client
        self.tools = tools
        self.server = server
        self.query = query
        self.output_schemas = output_schemas or {}
        self.window = window
        self.temperature = temperature
        self.max_tokens = max_tokens

    async def call(self, name: str, arguments: dict[str, Any], ordinal: int,
                   history: Sequence[Mapping[str, Any]]) -> CallResult:
        """See :meth:`ToolBackend.call`; raises :class:`~synth.sft.emulator.EmulatorError`."""
        ok, content, usage = await emulate_call(
            self.client, tool=self.tools[name], arguments=arguments, server=self.server,
            history=history, query=self.query, output_schema=self.output_schemas.get(name),
            window=self.window, temperature=self.temperature, max_tokens=self.max_tokens)
        return CallResult(ok, content, usage)


def _wire(model: Any) -> dict[str, Any]:
    if isinstance(model, Mapping):
        return dict(model)
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def _result_text(result: Mapping[str, Any]) -> str:
    """An MCP ``CallToolResult`` as tool message text (text parts, else structured content)."""
    parts = []
    for item in result.get("content") or []:
        if item.get("type") == "text":
            parts.append(str(item.get("text", "")))
        else:
            parts.append(json.dumps({key: value for key, value in item.items()
                                     if key not in ("data", "blob")}, ensure_ascii=False))
    if not parts and result.get("structuredContent") is not None:
        parts.append(json.dumps(result["structuredContent"], ensure_ascii=False))
    return "\n".join(parts)[:_RESULT_CHARS]


class McpBackend(ToolBackend):
    """Backend 1: each call executed by the real MCP server, its result recorded.

    Args:
        target: :func:`mcp_target` of the row.
        trajectory_id: The trajectory (part of every record's key).
        cache_dir: Where call records live (``None``: none kept).
        offline: Answer from the records only; never start a server.
        timeout: Seconds for starting the server, and for each call.
    """

    def __init__(self, target: Mapping[str, Any], *, trajectory_id: str,
                 cache_dir: str | os.PathLike[str] | None, offline: bool = False,
                 timeout: float = 30.0) -> None:
        self.target = dict(target)
        self.trajectory_id = trajectory_id
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.offline = offline
        self.timeout = timeout
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: Any = None
        self._errlog: Any = None

    def _key(self, ordinal: int, name: str, arguments: Mapping[str, Any]) -> str:
        server = {key: value for key, value in self.target.items() if key != "headers"}
        text = canonical([server, self.trajectory_id, ordinal, name, arguments])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path | None:
        return None if self.cache_dir is None else self.cache_dir / "mcp_calls" / f"{key}.json"

    def _load(self, key: str) -> CallResult | None:
        path = self._path(key)
        if path is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data.get("ok"), bool) and isinstance(data.get("content"), str):
                return CallResult(data["ok"], data["content"])
        return None

    def _store(self, key: str, name: str, arguments: Mapping[str, Any],
               result: CallResult) -> None:
        path = self._path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps({"name": name, "arguments": arguments, "ok": result.ok,
                           "content": result.content}, ensure_ascii=False)
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    async def prepare(self) -> None:
        """Start the server and initialize a session (once; not offline).

        Raises:
            ToolBackendError: The server does not start or answer in time.
            ImportError: The ``mcp`` package is missing.
        """
        if self.offline or self._session is not None:
            return
        from .mcp_harvest import _describe, _quiet_sdk, require_mcp

        require_mcp()
        from mcp import ClientSession

        stack = contextlib.AsyncExitStack()
        try:
            with _quiet_sdk():
                async with asyncio.timeout(self.timeout):
                    if self.target["transport"] == "stdio":
                        from mcp import StdioServerParameters
                        from mcp.client.stdio import stdio_client

                        argv = self.target["command"]
                        self._errlog = stack.enter_context(open(os.devnull, "w"))  # noqa: SIM115
                        streams = await stack.enter_async_context(stdio_client(
                            StdioServerParameters(command=argv[0], args=argv[1:]),
                            errlog=self._errlog))
                    else:
                        streams = await stack.enter_async_context(
                            await self._http_client(stack))
                    session = await stack.enter_async_context(
                        ClientSession(streams[0], streams[1]))
                    await session.initialize()
        except BaseException as exc:
            with contextlib.suppress(BaseException):
                await stack.aclose()
            if isinstance(exc, asyncio.CancelledError):
                raise
            reason = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) \
                else _describe(exc)
            raise ToolBackendError(f"the MCP server {self._where()} is not usable: {reason}"
                                   ) from None
        self._stack, self._session = stack, session

    async def _http_client(self, stack: contextlib.AsyncExitStack) -> Any:
        try:
            from mcp.client.streamable_http import streamable_http_client as connect
        except ImportError:  # mcp 1.x
            from mcp.client.streamable_http import streamablehttp_client as connect
        headers = {str(k): str(v) for k, v in (self.target.get("headers") or {}).items()}
        if not headers:
            return connect(self.target["url"])
        try:  # mcp 2.x: headers go on the HTTP client the SDK would make
            from mcp.client.streamable_http import create_mcp_http_client
        except ImportError:  # mcp 1.x takes headers=
            return connect(self.target["url"], headers=headers)
        client = await stack.enter_async_context(create_mcp_http_client(headers=headers))
        return connect(self.target["url"], http_client=client)

    def _where(self) -> str:
        if self.target["transport"] == "stdio":
            return repr(" ".join(self.target["command"]))
        return repr(self.target["url"])

    async def call(self, name: str, arguments: dict[str, Any], ordinal: int,
                   history: Sequence[Mapping[str, Any]]) -> CallResult:
        """See :meth:`ToolBackend.call`.

        Raises:
            OfflineMiss: Offline, and no record of this call.
        """
        key = self._key(ordinal, name, arguments)
        recorded = self._load(key)
        if self.offline:
            if recorded is None:
                raise OfflineMiss(model=f"mcp:{self._where()}", key=key,
                                  reason="no recorded MCP call result")
            return recorded
        live = await self._call_live(name, arguments)
        if recorded is not None:
            return recorded  # executed for the server's state; the record is the result
        self._store(key, name, arguments, live)
        return live

    async def _call_live(self, name: str, arguments: dict[str, Any]) -> CallResult:
        from .mcp_harvest import _describe, _quiet_sdk

        await self.prepare()
        try:
            with _quiet_sdk():
                async with asyncio.timeout(self.timeout):
                    result = _wire(await self._session.call_tool(name, arguments))
        except TimeoutError:
            return CallResult(False, f"Error: TimeoutError: the {name} call got no answer "
                                     f"within {self.timeout:g} seconds")
        except Exception as exc:
            return CallResult(False, f"Error: {_describe(exc)}")
        text = _result_text(result)
        if result.get("isError"):
            return CallResult(False, text if text.startswith("Error") else f"Error: {text}")
        return CallResult(True, text)

    async def aclose(self) -> None:
        """Close the session and stop the server."""
        stack, self._stack, self._session = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()
