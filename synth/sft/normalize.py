"""Raw servers to OpenAI function schemas, filtered, deduplicated, with a report.

The paper's filters (research/astra.md §C.1), each with a reason code:

Tool level (the tool is dropped, the server may survive):

* ``invalid_name``: the name is not an OpenAI function name
  (``^[A-Za-z0-9_-]{1,64}$``);
* ``missing_description``: no description, or an empty one;
* ``vague_description``: a placeholder (``"tool"``, ``"TODO"``, ``"n/a"``...),
  the tool's own name again, or too short to say anything (one word or fewer
  than 8 characters; in CJK text fewer than 4 characters);
* ``invalid_schema``: ``parameters`` is not a valid JSON Schema (checked with
  ``jsonschema`` under the schema's own ``$schema``, Draft 2020-12 by
  default), or ``required`` names a property that is not declared;
* ``not_object_schema``: ``parameters`` is not an object schema (``"type":
  "object"``);
* ``duplicate_tool``: a second tool of the same name in one server (the first
  is kept; the note says whether the two definitions were identical).

Server level (the server is dropped):

* ``invalid_row``: a row of no known shape, or a server without a name;
* ``too_few_tools``: fewer than ``min_tools`` (3) tools left after the tool
  filters;
* ``duplicate_server``: the same name and the same normalised tools as an
  earlier server (the note names the first one's source).

Normalisation: a tool may come as ``{"type": "function", "function": {...}}``
or as a bare function object, its schema under ``parameters``,
``inputSchema`` or ``input_schema``; a missing schema is a tool without
arguments (``{"type": "object", "properties": {}}``); an object schema
without ``properties`` gets an empty one, and one with ``properties`` but no
``type`` gets ``"type": "object"``. Descriptions are stripped of surrounding
whitespace. Nothing else in a schema is changed.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError

from synth.language import detect_language

from .common import canonical, make_id

__all__ = ["MIN_TOOLS", "TOOL_NAME", "normalize_servers", "normalize_tool", "source_label",
           "vague_reason"]

MIN_TOOLS = 3
"""Servers with fewer tools (after the tool filters) are dropped (the paper's rule)."""

TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""An OpenAI function name."""

_PLACEHOLDERS = {"", "tool", "function", "api", "endpoint", "todo", "tbd", "n a", "na", "none",
                 "null", "nil", "description", "no description", "no description provided",
                 "not provided", "test", "placeholder", "desc", "x"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_WORDS = re.compile(r"[\W_]+", re.UNICODE)


def _plain(text: str) -> str:
    return _WORDS.sub(" ", text).strip().lower()


def vague_reason(description: str, name: str) -> str | None:
    """Why a description is uselessly vague, or ``None`` when it is usable.

    Args:
        description: The stripped description.
        name: The tool name.

    Returns:
        A short reason, or ``None``.

    Example:
        >>> vague_reason("TODO", "f"), vague_reason("get weather", "get_weather")
        ('a placeholder', "the tool's name again")
        >>> vague_reason("Search", "s"), vague_reason("Switches branches", "checkout") is None
        ('too short', True)
    """
    plain = _plain(description)
    if plain in _PLACEHOLDERS:
        return "a placeholder"
    if plain == _plain(name):
        return "the tool's name again"
    cjk = len(_CJK.findall(description))
    if cjk:
        return "too short" if cjk + len(_CJK.sub(" ", plain).split()) < 4 else None
    if len(plain.split()) < 2 or len(description) < 8:
        return "too short"
    return None


def _schema_problem(schema: Any) -> tuple[str, str] | None:
    """``(code, reason)`` for an unusable parameters schema, or ``None``."""
    if not isinstance(schema, Mapping):
        return "not_object_schema", f"parameters is a {type(schema).__name__}, not an object"
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return "invalid_schema", f"not a valid JSON Schema: {exc.message}"
    if schema.get("type") != "object":
        return "not_object_schema", f"parameters has type {schema.get('type')!r}, not 'object'"
    properties = schema.get("properties") or {}  # a valid schema's properties is an object
    undeclared = [name for name in schema.get("required", []) if name not in properties]
    if undeclared:
        return "invalid_schema", f"required names not among the properties: {undeclared}"
    return None


def normalize_tool(tool: Any) -> tuple[dict[str, Any] | None, tuple[str, str] | None]:
    """One tool as an OpenAI tool object, or the reason it is dropped.

    Args:
        tool: The tool as the source gave it.

    Returns:
        ``(tool, None)`` with ``tool = {"type": "function", "function": {"name",
        "description", "parameters"}}``, or ``(None, (code, reason))``.

    Example:
        >>> tool, problem = normalize_tool({"name": "get_weather",
        ...     "description": "Current weather of a city", "parameters": {
        ...         "type": "object", "properties": {"city": {"type": "string"}}}})
        >>> tool["function"]["name"], problem
        ('get_weather', None)
        >>> normalize_tool({"name": "f", "description": "Does things well",
        ...                 "parameters": {"type": "array"}})[1][0]
        'not_object_schema'
    """
    function = tool.get("function") if isinstance(tool, Mapping) else None
    if not isinstance(function, Mapping):
        function = tool if isinstance(tool, Mapping) else {}
    name = function.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        return None, ("invalid_name", f"not an OpenAI function name: {name!r}")
    description = function.get("description")
    if not isinstance(description, str) or not description.strip():
        return None, ("missing_description", f"{name}: no description")
    description = description.strip()
    vague = vague_reason(description, name)
    if vague is not None:
        return None, ("vague_description", f"{name}: description {description!r} is {vague}")
    schema = next((function[key] for key in ("parameters", "inputSchema", "input_schema")
                   if key in function), None)
    if schema is None:
        schema = {"type": "object", "properties": {}}
    if isinstance(schema, Mapping):
        schema = copy.deepcopy(dict(schema))
        if "type" not in schema and isinstance(schema.get("properties"), Mapping):
            schema["type"] = "object"
        if schema.get("type") == "object" and "properties" not in schema:
            schema["properties"] = {}
    problem = _schema_problem(schema)
    if problem is not None:
        return None, (problem[0], f"{name}: {problem[1]}")
    return {"type": "function", "function": {"name": name, "description": description,
                                             "parameters": schema}}, None


def source_label(source: Mapping[str, Any]) -> str:
    """A source as one readable string (``path:line``, ``stdio: cmd``, ``http: url``).

    Args:
        source: A raw server's ``source``.

    Returns:
        The label.
    """
    kind = source.get("kind")
    if kind in ("mcp-stdio", "mcp-http"):
        return f"{kind}: {source.get('command') or source.get('url')}"
    return f"{source.get('path')}:{source.get('line')}"


def _server_info(raw: Mapping[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any]:
    server = dict(raw.get("server") or {})
    description = server.get("description")
    server["description"] = description.strip() if isinstance(description, str) else ""
    for key in ("title", "domain", "version"):
        server.setdefault(key, None)
    server["language"] = detect_language(server["description"]) if server["description"] \
        else detect_language(*(tool["function"]["description"] for tool in tools))
    return server


def normalize_servers(raws: Sequence[Mapping[str, Any]], *, min_tools: int = MIN_TOOLS
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Normalise, filter and deduplicate raw servers.

    Args:
        raws: Raw servers (:mod:`synth.sft.sources`, :mod:`synth.sft.mcp_harvest`),
            in source order.
        min_tools: The least tools a kept server has.

    Returns:
        ``(servers, report)``: the kept server rows in order (``{"server_id",
        "server", "tools", "source", "call_info", "extra"}``) and the report
        (``{"servers": {"in", "kept", "dropped"}, "tools": {"in", "kept",
        "dropped"}, "reasons": {code: n}, "entries": [...]}``, one entry per
        raw server).
    """
    kept: list[dict[str, Any]] = []
    entries: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    first_seen: dict[str, str] = {}
    tools_in = tools_kept = 0
    for raw in raws:
        source = raw.get("source") or {}
        name = (raw.get("server") or {}).get("name")
        entry: dict[str, Any] = {"source": source_label(source), "server": name,
                                 "server_id": None, "status": "dropped", "reason_codes": [],
                                 "reasons": [], "tools": {"in": len(raw.get("tools") or []),
                                                          "kept": 0},
                                 "dropped_tools": [], "notes": []}
        entries.append(entry)
        tools_in += entry["tools"]["in"]

        def drop(code: str, reason: str, entry: dict[str, Any] = entry) -> None:
            entry["reason_codes"].append(code)
            entry["reasons"].append(reason)
            reasons[code] += 1

        if raw.get("problem") or not isinstance(name, str) or not name.strip():
            drop("invalid_row", raw.get("problem") or "the server has no name")
            continue
        tools: list[dict[str, Any]] = []
        by_name: dict[str, dict[str, Any]] = {}
        for tool in raw.get("tools") or []:
            normal, problem = normalize_tool(tool)
            if problem is None and normal is not None:
                tool_name = normal["function"]["name"]
                if tool_name in by_name:
                    same = canonical(by_name[tool_name]) == canonical(normal)
                    problem = ("duplicate_tool", f"{tool_name}: a second tool of this name "
                               f"({'identical' if same else 'a different definition'}); "
                               "the first is kept")
                else:
                    by_name[tool_name] = normal
                    tools.append(normal)
                    continue
            code, reason = problem  # type: ignore[misc]
            entry["dropped_tools"].append({"name": (tool.get("function") or tool).get("name")
                                           if isinstance(tool, Mapping) else None,
                                           "code": code, "reason": reason})
            reasons[code] += 1
        entry["tools"]["kept"] = len(tools)
        if len(tools) < min_tools:
            drop("too_few_tools", f"{len(tools)} usable tool(s), fewer than {min_tools}")
            continue
        server_id = make_id("srv", name, tools)
        entry["server_id"] = server_id
        if server_id in first_seen:
            drop("duplicate_server", f"the same server as {first_seen[server_id]}")
            entry["notes"].append(f"duplicate of {first_seen[server_id]}, removed")
            continue
        first_seen[server_id] = entry["source"]
        entry["status"] = "kept"
        tools_kept += len(tools)
        kept.append({"server_id": server_id, "server": _server_info(raw, tools), "tools": tools,
                     "source": dict(source), "call_info": raw.get("call_info"),
                     "extra": dict(raw.get("extra") or {})})
    report = {"servers": {"in": len(entries), "kept": len(kept),
                          "dropped": len(entries) - len(kept)},
              "tools": {"in": tools_in, "kept": tools_kept, "dropped": tools_in - tools_kept},
              "reasons": dict(sorted(reasons.items())), "entries": entries}
    return kept, report
