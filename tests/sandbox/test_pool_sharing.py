"""Process isolation at scale: many envs share a pool of at most `size` workers, and each
tool's source crosses the pipe once per worker, not once per call or per session."""

from __future__ import annotations

import json

from astra_gym.env import AstraEnv
from astra_gym.pack import demo_pack_path
from astra_gym.sandbox import Sandbox, WorkerPool
from astra_gym.sandbox.worker import WorkerProcess

TASK = "demo-weather-003"


def test_many_envs_share_two_workers_and_send_each_source_once(monkeypatch):
    sent: list[str | None] = []
    real_call = WorkerProcess.call

    def recording_call(self, request, timeout):
        sent.append(request[3])  # (sid, opening, key, source, func, kwargs, args, closing)
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


STATEFUL = "S = {'n': 0}\ndef bump():\n    S['n'] += 1\n    return S['n']\n"


def test_a_reset_sends_nothing_and_the_next_call_drops_the_old_state(monkeypatch):
    """Between episodes the worker hears nothing: the old state's id rides on the next
    call, which the worker drops before opening the new state (one wake-up less per
    episode in process mode). close() still drops both at once."""
    messages: list[tuple] = []
    real_send = WorkerProcess._send_message

    def recording_send(self, message, deadline):
        messages.append(message)
        return real_send(self, message, deadline)

    monkeypatch.setattr(WorkerProcess, "_send_message", recording_send)
    with Sandbox(isolation="process", pool=1) as sandbox:
        session = sandbox.session(seed=1)
        assert session.call(STATEFUL, "bump").output == "1"
        assert session.call(STATEFUL, "bump").output == "2"
        old_sid = messages[-1][2]
        assert messages[-1][-1] is None  # nothing to drop yet
        count = len(messages)
        session.reset(2)
        session.reset(3)  # a second reset before any call leaves nothing new behind
        assert len(messages) == count, "a reset must not write to the worker"
        assert session.call(STATEFUL, "bump").output == "1"  # a fresh state
        call = messages[-1]
        assert call[0] == "call" and call[-1] == old_sid and call[2] != old_sid
        assert session.call(STATEFUL, "bump").output == "2"
        assert messages[-1][-1] is None  # dropped once
        session.reset()
        before = len(messages)
        session.close()
        closes = [m for m in messages[before:] if m[0] == "close"]
        assert closes == [("close", call[2])], "close() drops the state a reset left behind"


def test_states_left_behind_by_resets_are_dropped_in_the_worker():
    """Each reset's old state holds 4 MB; 150 episodes would need 600 MB of the worker's
    96 MB headroom if the worker kept them."""
    source = "S = {'blob': 'x' * 4_000_000}\ndef size():\n    return len(S['blob'])\n"
    with Sandbox(isolation="process", pool=WorkerPool(1, memory_mb=96)) as sandbox:
        session = sandbox.session(seed=0)
        for episode in range(150):
            result = session.call(source, "size")
            assert result.ok, (episode, result)
            session.reset(episode + 1)
        assert sandbox.pool.restarts == 0
