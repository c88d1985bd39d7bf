"""Run one synth stage against a scripted OpenAI-compatible server (shared by the stage tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from llm_server import ScriptedLLMServer

from synth.llm import LLMClient
from synth.stages import StageFailure


def run_stage(call: Callable[[LLMClient], Awaitable[dict[str, Any]]], script: Any,
              tmp_path: Path, *, model: str = "scripted", retries: int = 0,
              timeout: float = 5.0, cache: str = "cache",
              ) -> tuple[dict[str, Any] | StageFailure, ScriptedLLMServer]:
    """Start a server answering from ``script``, run ``call(client)`` once.

    Returns:
        The stage's row, or the StageFailure it raised, and the (closed)
        server, whose recorded requests stay readable.
    """
    with ScriptedLLMServer(script) as server:
        client = LLMClient(model, base_url=server.base_url, api_key="k",
                           cache_dir=tmp_path / cache, max_retries=retries, backoff=0.0,
                           timeout=timeout)

        async def main() -> dict[str, Any]:
            async with client:
                return await call(client)

        try:
            return asyncio.run(main()), server
        except StageFailure as failure:
            return failure, server
