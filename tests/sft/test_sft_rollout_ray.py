"""Part 2 on Ray: rollouts and judgements as Ray tasks write the same files as local ones."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from llm_server import ScriptedLLMServer
from traj_harness import weather_task
from traj_model import TrajectoryModel

from synth.executors import Executor
from synth.llm import LLMClient
from synth.sft.executors import SftLocalExecutor, SftRayExecutor
from synth.sft.runner import SftOptions, SftRunSummary, run_sft
from synth.sft.trajectory_executors import (
    TrajectoryLocalExecutor,
    TrajectoryRayExecutor,
    trajectory_executor,
)

VIEWS = [f"{stem}.{kind}.jsonl" for stem in ("08_rollout", "09_judge") for kind in ("ok", "failed")]
OPTIONS = SftOptions(env=("astra/demo-v0",), env_tasks=2, samples=2, env_sandbox="inprocess")


def tasks_file(root: Path) -> Path:
    path = root / "07_score.ok.jsonl"
    rows = [weather_task(), weather_task(task_id="tsk-two", question="Any alerts in Faro?")]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def part2(out: Path, base_url: str, executor: Executor) -> SftRunSummary:
    client = LLMClient("scripted", base_url=base_url, api_key="k", cache_dir=out / "cache",
                       concurrency=4, max_retries=0, backoff=0.0, timeout=20.0)

    async def main() -> SftRunSummary:
        async with client:
            return await run_sft(out, client, stages=("rollout", "judge"), options=OPTIONS,
                                 executor=executor, progress=False)

    return asyncio.run(main())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local run, made before Ray starts (forking after ray.init is unsafe)."""
    root = tmp_path_factory.mktemp("sft2-local")
    (root / "run").mkdir()
    tasks_file(root / "run")
    with ScriptedLLMServer(TrajectoryModel()) as server:
        summary = part2(root / "run", server.base_url, SftLocalExecutor())
    assert summary.complete and summary.stages["judge"]["ok"] == 8
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
def test_ray_rollouts_and_judgements_are_byte_identical(local_run, ray_session, tmp_path):
    (tmp_path / "run").mkdir()
    shutil.copy(local_run / "run" / "07_score.ok.jsonl", tmp_path / "run")
    with ScriptedLLMServer(TrajectoryModel()) as server:
        summary = part2(tmp_path / "run", server.base_url, SftRayExecutor())
        assert server.chat_requests  # the Ray workers reached the scripted server
    assert summary.complete and summary.stages["judge"]["ok"] == 8
    for name in VIEWS:
        expected = (local_run / "run" / name).read_bytes()
        assert (tmp_path / "run" / name).read_bytes() == expected, name


def test_trajectory_executor_twins():
    assert isinstance(trajectory_executor(SftLocalExecutor()), TrajectoryLocalExecutor)
    twin = trajectory_executor(SftRayExecutor(address="ray://head:10001"))
    assert isinstance(twin, TrajectoryRayExecutor) and twin.address == "ray://head:10001"
