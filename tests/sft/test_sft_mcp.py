"""Live MCP harvest with the official SDK: real PyPI servers and the tests' own, as subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sft_harness import NOTES_SERVER

from synth.sft.mcp_harvest import (
    INSTALL_HINT,
    HarvestError,
    McpSource,
    harvest,
    load_snapshot,
    require_mcp,
)
from synth.sft.normalize import normalize_servers

pytest.importorskip("mcp")

PYTHON = shlex.quote(sys.executable)
GIT = f"{PYTHON} -m mcp_server_git"
TIME = f"{PYTHON} -m mcp_server_time"
NOTES = f"{PYTHON} {shlex.quote(str(NOTES_SERVER))}"


def need(module: str) -> None:
    pytest.importorskip(module, reason=f"the {module} MCP server is not installed")


def run(source: McpSource, cache: Path | None = None, **kwargs) -> dict:
    return asyncio.run(harvest(source, 0, cache_dir=cache, **kwargs))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def http_notes_server() -> Iterator[str]:
    """The notes server on streamable HTTP, as a real subprocess; yields its URL."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(NOTES_SERVER), "--http", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port),
                                                                        timeout=0.2):
                break
            assert process.poll() is None, "the notes server exited"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(shutil.which("git") is None, reason="mcp-server-git needs git")
def test_a_real_pypi_server_over_stdio(tmp_path):
    need("mcp_server_git")
    raw = run(McpSource("mcp-stdio", GIT), tmp_path)
    assert raw["server"]["name"] == "mcp-git" and raw["server"]["version"]
    names = [tool["name"] for tool in raw["tools"]]
    assert {"git_status", "git_add", "git_commit", "git_log"} <= set(names)
    status = raw["tools"][names.index("git_status")]
    assert status["description"] == "Shows the working tree status"
    assert status["parameters"]["required"] == ["repo_path"]
    assert raw["call_info"] == {"transport": "stdio", "command": shlex.split(GIT)}
    assert raw["source"] == {"kind": "mcp-stdio", "command": GIT, "index": 0}
    kept, _ = normalize_servers([raw])
    assert len(kept) == 1 and len(kept[0]["tools"]) == len(names)
    assert kept[0]["server"]["language"] == "en"


def test_a_real_two_tool_server_is_harvested_and_then_filtered(tmp_path):
    need("mcp_server_time")
    raw = run(McpSource("mcp-stdio", TIME), tmp_path)
    assert sorted(tool["name"] for tool in raw["tools"]) == ["convert_time", "get_current_time"]
    assert "outputSchema" in raw["extra"]["mcp_tools"]["convert_time"]
    kept, report = normalize_servers([raw])
    assert kept == [] and report["entries"][0]["reason_codes"] == ["too_few_tools"]


def test_the_tests_own_fastmcp_server_over_stdio_and_http(tmp_path):
    raw = run(McpSource("mcp-stdio", NOTES), tmp_path)
    assert raw["server"]["name"] == "notes"
    assert raw["server"]["description"].startswith("A personal notes service")  # instructions
    assert len(raw["tools"]) == 7
    kept, report = normalize_servers([raw])
    assert [t["function"]["name"] for t in kept[0]["tools"]] == [
        "list_notebooks", "list_notes", "get_note", "create_note", "tag_note", "search_notes"]
    assert report["entries"][0]["dropped_tools"][0]["code"] == "vague_description"
    with http_notes_server() as url:
        over_http = run(McpSource("mcp-http", url), tmp_path)
    assert over_http["call_info"] == {"transport": "streamable-http", "url": url}
    assert over_http["tools"] == raw["tools"] and over_http["server"] == raw["server"]


def test_failures_are_reasons_and_snapshots_replay_offline(tmp_path):
    missing = McpSource("mcp-stdio", "no-such-mcp-server-command --flag")
    with pytest.raises(HarvestError, match="FileNotFoundError"):
        run(missing, tmp_path)
    not_mcp = McpSource("mcp-stdio", f"{PYTHON} -c 'print(1)'")
    level = logging.getLogger("mcp").level
    with pytest.raises(HarvestError):
        run(not_mcp, tmp_path, timeout=10)
    assert logging.getLogger("mcp").level == level  # quieted during the harvest only
    silent = McpSource("mcp-stdio", f"{PYTHON} -c 'import time; time.sleep(60)'")
    with pytest.raises(HarvestError, match="no answer within 1 s"):
        run(silent, tmp_path, timeout=1)
    with pytest.raises(HarvestError, match=r"ConnectError|connect"):
        run(McpSource("mcp-http", f"http://127.0.0.1:{free_port()}/mcp"), tmp_path, timeout=10)
    # offline: the stored failure again, the stored listing again, no server started
    assert "failure" in load_snapshot(tmp_path, missing)
    with pytest.raises(HarvestError, match="FileNotFoundError"):
        run(missing, tmp_path, offline=True)
    online = run(McpSource("mcp-stdio", NOTES), tmp_path)
    assert run(McpSource("mcp-stdio", NOTES), tmp_path, offline=True) == online
    with pytest.raises(LookupError, match="no harvest snapshot"):
        run(McpSource("mcp-stdio", "never harvested"), tmp_path, offline=True)


def test_the_source_key_is_the_split_command():
    assert McpSource("mcp-stdio", "a  b").key == McpSource("mcp-stdio", "a b").key
    assert McpSource("mcp-stdio", "a b").key != McpSource("mcp-http", "a b").key


def test_a_missing_mcp_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mcp", None)
    with pytest.raises(ImportError, match=r"astra-gym\[mcp\]") as info:
        require_mcp()
    assert str(info.value) == INSTALL_HINT
    with pytest.raises(ImportError, match=r"astra-gym\[mcp\]"):
        run(McpSource("mcp-stdio", NOTES))


class PagedSession:
    """A session whose tools come in pages (mcp 2.x: ``params=``; 1.x style: ``cursor=``)."""

    def __init__(self, *, old_sdk: bool) -> None:
        self.old_sdk = old_sdk
        self.cursors: list[str | None] = []

    async def list_tools(self, cursor: str | None = None, **kwargs):
        if "params" in kwargs:
            if self.old_sdk:
                raise TypeError("list_tools() got an unexpected keyword argument 'params'")
            cursor = kwargs["params"].cursor
        self.cursors.append(cursor)
        page = {None: ("a", "p2"), "p2": ("b", "p3"), "p3": ("c", None)}[cursor]
        return {"tools": [{"name": page[0]}], "nextCursor": page[1]}


@pytest.mark.parametrize("old_sdk", [False, True])
def test_every_page_of_tools_is_read(old_sdk):
    from synth.sft.mcp_harvest import _list_tools

    session = PagedSession(old_sdk=old_sdk)
    tools = asyncio.run(_list_tools(session))
    assert [tool["name"] for tool in tools] == ["a", "b", "c"]
    assert session.cursors == [None, "p2", "p3"]


def test_sft_harvest_command_with_mcp_url(tmp_path):
    from sft_harness import sft_cli

    out = tmp_path / "run"
    with http_notes_server() as url:
        result = sft_cli("harvest", "--out", str(out), "--mcp-url", url, "--mcp-stdio", NOTES)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (out / "01_harvest.ok.jsonl").open()]
    assert [row["source"]["kind"] for row in rows] == ["mcp-stdio"]  # the same server once
    report = json.loads((out / "01_harvest.report.json").read_text())
    duplicate = report["entries"][1]
    assert duplicate["source"] == f"mcp-http: {url}"
    assert duplicate["reason_codes"] == ["duplicate_server"]
