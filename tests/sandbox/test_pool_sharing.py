"""Process isolation at scale: many envs share a pool of at most `size` workers, and each
tool's source crosses the pipe once per worker, not once per call or per session."""

from __future__ import annotations

import json

from astra_gym.env import AstraEnv
from astra_gym.pack import demo_pack_path
from astra_gym.sandbox import Sandbox
from astra_gym.sandbox.worker import WorkerProcess

TASK = "demo-weather-003"


def test_many_envs_share_two_workers_and_send_each_source_once(monkeypatch):
    sent: list[str | None] = []
    real_call = WorkerProcess.call

    def recording_call(self, request, timeout):
        sent.append(request[3])  # (sid, opening, key, source or None, func, kwargs, args)
        return real_call(self, request, timeout)

    monkeypatch.setattr(WorkerProcess, "call", recording_call)
    sandbox = Sandbox(isolation="process", pool=2)
    envs = [AstraEnv(demo_pack_path(), sandbox=sandbox) for _ in range(40)]
    try:
        pids = set()
        for index, env in enumerate(envs):
            env.reset(seed=index, options={"task_id": TASK})
            gold = env.task.subtasks[0].gold_call
            _, _, _, _, info = env.step({"role": "assistant", "content": None, "tool_calls": [{
                "id": "c1", "type": "function",
                "function": {"name": gold.name, "arguments": json.dumps(gold.arguments)}}]})
            assert info["calls"][0]["ok"], info["calls"][0]
            pids.add(env._session.worker_pid)
        assert len(pids) <= 2 and None not in pids
        assert len(sent) == 40
        assert sum(source is not None for source in sent) <= len(pids)  # once per worker
    finally:
        for env in envs:
            env.close()
        sandbox.close()
