"""synth.executors: the Ray executor writes the same files as the local one."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import ScriptedLLMServer
from test_runner import CONTEXT, MODEL, VIEWS, input_lines, script

from synth.executors import Executor, LocalExecutor, RayExecutor, make_executor
from synth.llm import LLMClient
from synth.runner import RunSummary, run_pipeline

pytestmark = pytest.mark.skipif(not CONTEXT.exists(), reason="astra-data is not available")


def _pipeline(inputs: Path, out: Path, cache: Path, base_url: str,
              executor: Executor) -> RunSummary:
    client = LLMClient(MODEL, base_url=base_url, api_key="k", cache_dir=cache,
                       concurrency=4, max_retries=0, backoff=0.0, timeout=20.0)

    async def main() -> RunSummary:
        async with client:
            return await run_pipeline([inputs], out, client, min_hops=1, max_hops=3,
                                      pack_name="trip", progress=False, executor=executor)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local run; made before Ray starts (forking after ray.init is unsafe)."""
    root = tmp_path_factory.mktemp("synth-local")
    inputs = root / "inputs.jsonl"
    inputs.write_text("\n".join(input_lines()) + "\n", encoding="utf-8")
    with ScriptedLLMServer(script()) as server:
        summary = _pipeline(inputs, root / "run", root / "cache", server.base_url,
                            LocalExecutor())
    assert summary.complete and summary.stages["compile"]["compiled"] == 3
    return root


@pytest.fixture(scope="module")
def ray_session(local_run: Path) -> Iterator[None]:
    """One small local Ray cluster, started once and always shut down.

    Module scope, not session scope: this module is the only user, so Ray still
    starts once per test session, and it is gone again before later modules
    fork compiler workers (forking after ``ray.init`` is unsafe: Ray's threads).
    """
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_ray_executor_output_is_byte_identical(local_run, ray_session, tmp_path):
    inputs = local_run / "inputs.jsonl"
    with ScriptedLLMServer(script()) as server:
        summary = _pipeline(inputs, tmp_path / "run", tmp_path / "cache", server.base_url,
                            RayExecutor())
        assert server.chat_requests  # the Ray workers reached the scripted server
    assert summary.complete and summary.stages["generate"]["failed"] == 1
    assert summary.stages["compile"] == {"input": 3, "compiled": 3, "rejected": 0}
    for name in VIEWS:
        expected = (local_run / "run" / name).read_bytes()
        assert (tmp_path / "run" / name).read_bytes() == expected, name


def test_make_executor_and_missing_ray(monkeypatch):
    assert isinstance(make_executor("local"), LocalExecutor)
    executor = make_executor("ray", address="ray://head:10001")
    assert isinstance(executor, RayExecutor) and executor.address == "ray://head:10001"
    with pytest.raises(ValueError):
        make_executor("dask")
    with pytest.raises(ValueError):
        make_executor("local", address="ray://head:10001")
    monkeypatch.setitem(__import__("sys").modules, "ray", None)
    with pytest.raises(ImportError, match=r'astra-gym\[ray\]'):
        RayExecutor().ray()
