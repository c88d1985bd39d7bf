"""Part-2 settings: every option is checked, env specs resolve, backends per server."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from llm_server import ScriptedLLMServer
from traj_harness import weather_task
from traj_model import TrajectoryModel

from astra_gym.pack import demo_pack_path
from synth.llm import LLMClient
from synth.sft.runner import SftInputError, SftOptions, read_jsonl, resolve_env, run_sft

BAD = [{"backend": "magic"}, {"backend_for": {"weather": "magic"}}, {"rollout_mode": "voice"},
       {"samples": 0}, {"max_llm_calls": 0}, {"env_tasks": 0}, {"rollout_concurrency": 0},
       {"task_timeout": 0}, {"emulator_history": -1}, {"query_p": 1.5}, {"injection_p": -0.1},
       {"injection_kinds": ("meteor",)}, {"env_sandbox": "docker"}, {"min_score": 1.5},
       {"min_f1": -0.5}]


@pytest.mark.parametrize("bad", BAD, ids=[next(iter(b)) for b in BAD])
def test_every_part2_option_is_checked(bad):
    with pytest.raises(ValueError):
        SftOptions(**bad).check()
    SftOptions().check()


def test_env_specs_resolve_by_id_or_directory():
    pack, env_id = resolve_env("astra/demo-v0")
    assert env_id == "astra/demo-v0" and pack == str(demo_pack_path())
    assert resolve_env("astra_gym:astra/demo-v0") == (pack, env_id)
    assert resolve_env(str(demo_pack_path())) == (pack, env_id)
    with pytest.raises(SftInputError):
        resolve_env("astra/missing-v0")


def test_backend_per_server(tmp_path):
    dead = {"transport": "stdio", "command": [sys.executable, "-c", "raise SystemExit(3)"]}
    rows = [weather_task(call_info=dead)]

    def run(out, **options):
        out.mkdir()
        (out / "07_score.ok.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        with ScriptedLLMServer(TrajectoryModel()) as server:
            client = LLMClient("scripted", base_url=server.base_url, api_key="k",
                               cache_dir=out / "cache", max_retries=0, backoff=0.0)

            async def main():
                async with client:
                    return await run_sft(out, client, stages=("rollout",),
                                         options=SftOptions(injection_p=0.0, mcp_timeout=20,
                                                            **options), progress=False)

            asyncio.run(main())
        return read_jsonl(out / "08_rollout.ok.jsonl"), read_jsonl(out / "08_rollout.failed.jsonl")

    ok, failed = run(tmp_path / "auto")
    assert not ok and failed[0]["failure"]["code"] == "mcp_unavailable"
    assert failed[0]["rollout"]["backend"] == "mcp"
    ok, failed = run(tmp_path / "named", backend_for={"weather": "emulated"})
    assert [r["backend"] for r in ok] == ["emulated"] and not failed
    ok, failed = run(tmp_path / "by-id", backend_for={rows[0]["server_id"]: "emulated"})
    assert [r["backend"] for r in ok] == ["emulated"]
    ok, failed = run(tmp_path / "all", backend="emulated", samples=2)
    assert [r["sample"] for r in ok] == [0, 1]
    assert ok[0]["trajectory_id"] != ok[1]["trajectory_id"]
