"""Helpers of the SFT part-2 tests: task rows, records, one rollout or judgement."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from llm_server import ScriptedLLMServer
from sft_harness import weather_row

from synth.llm import LLMClient
from synth.sft.backends import resolve_backend
from synth.sft.common import SftFailure
from synth.sft.rollout import env_records, rollout_stage, task_records

TIME_SERVER = [sys.executable, "-m", "mcp_server_time"]


def weather_task(**extra: Any) -> dict[str, Any]:
    """A part-1 task row of the weather service (no call_info: emulated tools)."""
    row = weather_row()
    return {**row, "task_id": "tsk-weather", "mode": "server", "question":
            "What is the forecast for Porto tomorrow?", "target_tools": ["find_city"],
            "language": "en", **extra}


def record_for(row: dict[str, Any], backend: str = "auto", seed: int = 0,
               sample: int = 0) -> dict[str, Any]:
    records = task_records([row], backend=backend, samples=sample + 1, seed=seed,
                           model="scripted",
                           resolve=lambda want, info: want if want != "auto"
                           else resolve_backend(want, info))
    return records[sample]


def demo_record(task_id: str, seed: int = 0) -> dict[str, Any]:
    from astra_gym.pack import demo_pack_path

    return env_records(str(demo_pack_path()), "astra/demo-v0", [task_id], samples=1, seed=seed,
                       model="scripted")[0]


def run_rollout(record: dict[str, Any], script: Any, tmp_path: Path, *, retries: int = 0,
                **options: Any) -> tuple[dict[str, Any] | SftFailure, ScriptedLLMServer]:
    """One rollout against a scripted server: (row or SftFailure, server)."""
    options.setdefault("cache_dir", str(tmp_path / "cache"))
    options.setdefault("env_sandbox", "inprocess")
    with ScriptedLLMServer(script) as server:
        client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / "cache", max_retries=retries, backoff=0.0,
                           timeout=20.0)

        async def main() -> dict[str, Any]:
            async with client:
                return await rollout_stage(record, client, **options)

        try:
            return asyncio.run(main()), server
        except SftFailure as failure:
            return failure, server
