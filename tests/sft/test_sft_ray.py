"""synth.sft.executors: the Ray executor writes the same files as the local one."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import ScriptedLLMServer
from sft_harness import weather_tools
from sft_model import ScriptedModel

from synth.executors import Executor
from synth.llm import LLMClient
from synth.sft.executors import SftLocalExecutor, SftRayExecutor, make_sft_executor
from synth.sft.runner import SftOptions, SftRunSummary, SftSources, run_sft

VIEWS = [f"{stem}.{kind}.jsonl" for stem in ("01_harvest", "02_graph", "03_walks", "04_verify",
                                              "05_tasks", "06_augment", "07_score")
         for kind in ("ok", "failed")]
OPTIONS = SftOptions(graph_samples=2, max_walks=3, task_samples=1, server_tools=(2,),
                     augment=("complicate",))


def tools_file(root: Path) -> Path:
    path = root / "tools.jsonl"
    rows = [{"server": {"name": "weather", "description": "Forecasts and alerts by city."},
             "tools": weather_tools()},
            {"server": {"name": "天气", "description": "天气预报与预警服务，按城市查询。"},
             "tools": weather_tools()}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def pipeline(tools: Path, out: Path, base_url: str, executor: Executor) -> SftRunSummary:
    client = LLMClient("scripted", base_url=base_url, api_key="k", cache_dir=out / "cache",
                       concurrency=4, max_retries=0, backoff=0.0, timeout=20.0)

    async def main() -> SftRunSummary:
        async with client:
            return await run_sft(out, client, sources=SftSources(tools=(str(tools),)),
                                 options=OPTIONS, executor=executor, progress=False)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local run, made before Ray starts (forking after ray.init is unsafe)."""
    root = tmp_path_factory.mktemp("sft-local")
    with ScriptedLLMServer(ScriptedModel()) as server:
        summary = pipeline(tools_file(root), root / "run", server.base_url, SftLocalExecutor())
    assert summary.complete and summary.stages["score"]["ok"] > 0
    return root


@pytest.fixture(scope="module")
def ray_session(local_run: Path) -> Iterator[None]:
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_executor_output_is_byte_identical(local_run, ray_session, tmp_path):
    with ScriptedLLMServer(ScriptedModel()) as server:
        summary = pipeline(local_run / "tools.jsonl", tmp_path / "run", server.base_url,
                           SftRayExecutor())
        assert server.chat_requests  # the Ray workers reached the scripted server
    assert summary.complete and summary.stages["score"]["ok"] > 0
    for name in VIEWS:
        expected = (local_run / "run" / name).read_bytes()
        assert (tmp_path / "run" / name).read_bytes() == expected, name


def test_make_sft_executor_and_missing_ray(monkeypatch):
    assert isinstance(make_sft_executor("local"), SftLocalExecutor)
    executor = make_sft_executor("ray", address="ray://head:10001")
    assert isinstance(executor, SftRayExecutor) and executor.address == "ray://head:10001"
    with pytest.raises(ValueError):
        make_sft_executor("dask")
    with pytest.raises(ValueError):
        make_sft_executor("local", address="ray://head:10001")
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r'astra-gym\[ray\]'):
        SftRayExecutor().ray()
