"""Tool sources from files: ASTRA ``mcp_servers.jsonl`` rows and plain JSON rows.

Both give *raw servers*, the shape every source is turned into before
normalisation and filtering (:mod:`synth.sft.normalize`)::

    {"server": {"name", "title", "description", "domain", ...},
     "tools": [<a tool as the source gave it>],
     "source": {"kind": "astra" | "json", "path", "line"},
     "call_info": <how to call the real tools, or None>,
     "extra": {<other keys of the row>}}

Row shapes, recognised per line:

* ASTRA (research/astra.md §C.1): ``{"base_info": {"group_info": {"server_title",
  "server_name", "server_description", "domain"}, "tool_list": [{"name",
  "description", "parameters"}]}, "call_info": {...}, "features": {...}}``.
* Plain JSON: ``{"server": {"name", "description", ...}, "tools": [OpenAI tool
  objects], "call_info": ...}``; a tool may also be a bare function object
  (``{"name", "description", "parameters"}``).

A row of neither shape is kept as a raw server without a name, which the
filters drop with reason ``invalid_row``; a line that is not JSON at all makes
the file unusable (:class:`SourceError`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["SourceError", "raw_server_from_row", "read_tool_files"]


class SourceError(ValueError):
    """A tool source cannot be used (a missing file, a line that is not JSON)."""


def _astra(row: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    base = row.get("base_info") if isinstance(row.get("base_info"), Mapping) else {}
    group = base.get("group_info") if isinstance(base.get("group_info"), Mapping) else {}
    server = {"name": group.get("server_name"), "title": group.get("server_title"),
              "description": group.get("server_description"), "domain": group.get("domain")}
    tools = base.get("tool_list")
    return server, list(tools) if isinstance(tools, list) else []


def raw_server_from_row(row: Any, source: Mapping[str, Any]) -> dict[str, Any]:
    """One file row as a raw server (see the module docstring).

    Args:
        row: The decoded JSON line.
        source: ``{"path", "line"}`` of the row.

    Returns:
        The raw server; ``source.kind`` is ``"astra"``, ``"json"`` or
        ``"unknown"`` (a row of neither shape, left for the filters to drop).

    Example:
        >>> raw = raw_server_from_row({"server": {"name": "s"}, "tools": []},
        ...                           {"path": "f.jsonl", "line": 1})
        >>> raw["server"]["name"], raw["source"]["kind"]
        ('s', 'json')
    """
    if isinstance(row, Mapping) and "base_info" in row:
        server, tools = _astra(row)
        extra = {key: value for key, value in row.items()
                 if key not in ("base_info", "call_info")}
        return {"server": server, "tools": tools, "source": {"kind": "astra", **source},
                "call_info": row.get("call_info"), "extra": extra}
    if isinstance(row, Mapping) and isinstance(row.get("server"), Mapping) \
            and isinstance(row.get("tools"), list):
        extra = {key: value for key, value in row.items()
                 if key not in ("server", "tools", "call_info")}
        return {"server": dict(row["server"]), "tools": list(row["tools"]),
                "source": {"kind": "json", **source}, "call_info": row.get("call_info"),
                "extra": extra}
    keys = sorted(row) if isinstance(row, Mapping) else type(row).__name__
    return {"server": {}, "tools": [], "source": {"kind": "unknown", **source},
            "call_info": None, "extra": {}, "problem": f"neither an ASTRA row (base_info) nor "
                                                      f"a {{server, tools}} row: {keys}"}


def read_tool_files(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Every row of the given JSONL files as raw servers, file by file, line by line.

    Args:
        paths: JSONL files (blank lines are skipped).

    Returns:
        The raw servers.

    Raises:
        SourceError: A file cannot be read or holds a line that is not JSON.
    """
    servers = []
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SourceError(f"{path}:{number}: invalid JSON: {exc}") from exc
            servers.append(raw_server_from_row(row, {"path": str(path), "line": number}))
    return servers
