"""Helpers of the SFT tests: server rows, one stage against the scripted server, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llm_server import ScriptedLLMServer

from synth.llm import LLMClient
from synth.sft.common import SftFailure
from synth.sft.normalize import normalize_servers
from synth.sft.sources import raw_server_from_row

ROOT = Path(__file__).resolve().parents[2]
NOTES_SERVER = Path(__file__).resolve().parent / "notes_server.py"


def weather_tools() -> list[dict[str, Any]]:
    def tool(name: str, description: str, **properties: Any) -> dict[str, Any]:
        return {"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties,
                           "required": list(properties)}}}

    return [tool("find_city", "Find a city by name and return its id",
                 city_name={"type": "string"}),
            tool("get_forecast", "Weather forecast of a city id", city_id={"type": "string"}),
            tool("get_alerts", "Active weather alerts for a city id", city_id={"type": "string"})]


def weather_row(*, chinese: bool = False) -> dict[str, Any]:
    """A normalised server row (the weather service, in English or in Chinese)."""
    server = ({"name": "天气", "description": "天气预报与预警服务，按城市查询。"} if chinese
              else {"name": "weather", "description": "Forecasts and alerts by city."})
    kept, _ = normalize_servers([raw_server_from_row({"server": server, "tools": weather_tools()},
                                                     {"path": "w.jsonl", "line": 1})])
    return {**kept[0], "provenance": []}


def run_stage(call: Callable[[LLMClient], Awaitable[dict[str, Any]]], script: Any,
              tmp_path: Path, *, retries: int = 0
              ) -> tuple[dict[str, Any] | SftFailure, ScriptedLLMServer]:
    """Run ``call(client)`` once against a scripted server: (row or SftFailure, server)."""
    with ScriptedLLMServer(script) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=retries, backoff=0.0,
                           timeout=10.0)

        async def main() -> dict[str, Any]:
            async with client:
                return await call(client)

        try:
            return asyncio.run(main()), server
        except SftFailure as failure:
            return failure, server


def sft_cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 300,
            ) -> subprocess.CompletedProcess[str]:
    """``astra-gym sft ARGV`` in a fresh process (real exit code, real stderr)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [(env or {}).get("PYTHONPATH"),
                                                          str(ROOT)]))
    environ.update({k: v for k, v in (env or {}).items() if k != "PYTHONPATH"})
    return subprocess.run([sys.executable, "-m", "astra_gym.cli", "sft", *argv],
                          capture_output=True, text=True, timeout=timeout, env=environ,
                          cwd=ROOT)


def cli_command(*argv: str) -> list[str]:
    """The argv of ``astra-gym sft ARGV`` run as a module."""
    return [sys.executable, "-m", "astra_gym.cli", "sft", *argv]


def cli_env() -> dict[str, str]:
    """The environment of a CLI subprocess: the repository importable, no OPENAI_ variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                          os.environ.get("PYTHONPATH")]))
    return environ
