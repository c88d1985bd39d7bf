"""Scripts for the scripted OpenAI-compatible server that play astra tasks like a model.

The oracle script reads a request the way a model would (the first user
message names the task, the assistant turns so far say how far it got) and
answers with the gold calls of the next hop, then with the gold answer. It
is a pure function of the request, so any number of episodes can run
concurrently against one server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from astra_gym.pack import Pack, demo_pack_path
from astra_gym.parsers import render_calls


def gold_hops(task: Any) -> list[list[tuple[str, dict[str, Any]]]]:
    """The task's gold calls grouped by hop level (parallel calls together)."""
    by_hop: dict[int, list[tuple[str, dict[str, Any]]]] = {}
    for sub in task.subtasks:
        if sub.gold_call is None:
            continue
        call = (sub.gold_call.name, sub.gold_call.arguments)
        calls = by_hop.setdefault(sub.hop_level, [])
        if call not in calls:
            calls.append(call)
    return [by_hop[hop] for hop in sorted(by_hop)]


def tasks_by_prompt(pack: Pack) -> dict[str, Any]:
    """The first user message's text -> the task."""
    out = {}
    for task in pack:
        user = next(m["content"] for m in task.prompt if m["role"] == "user")
        out[user] = task
    return out


def oracle_script(pack_path: Any = None, *, mode: str = "native", call_format: str = "hermes",
                  delay: float = 0.0, wrong: frozenset[str] = frozenset(),
                  hook: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
                  ) -> Callable[[dict[str, Any]], Any]:
    """A server script that solves every task (gold calls, then the gold answer).

    Args:
        pack_path: The pack (default: the demo pack).
        mode: ``native`` (``tool_calls``) or ``text`` (calls rendered in ``call_format``).
        call_format: The text format.
        delay: Seconds every reply waits (a fixed model latency).
        wrong: Task ids answered wrongly (no calls, a wrong final answer).
        hook: Called first with the request; a reply it returns is used instead.
    """
    pack = Pack(pack_path or demo_pack_path())
    tasks = tasks_by_prompt(pack)

    def script(body: dict[str, Any]) -> Any:
        if hook is not None:
            reply = hook(body)
            if reply is not None:
                return reply
        messages = body["messages"]
        user = next(m["content"] for m in messages if m["role"] == "user")
        task = tasks[user]
        turn = sum(m["role"] == "assistant" for m in messages)
        hops = gold_hops(task)
        extra = {"delay": delay} if delay else {}
        if task.task_id in wrong:
            return {"content": "I do not know.", **extra}
        if turn < len(hops):
            calls = [{"name": name, "arguments": args} for name, args in hops[turn]]
            if mode == "native":
                return {"content": None, "tool_calls": calls, **extra}
            return {"content": render_calls(hops[turn], call_format), **extra}
        return {"content": f"The answer is {task.final_answer}.", **extra}

    return script


class InFlight:
    """Counts requests in flight in a server script (the concurrency actually reached)."""

    def __init__(self, script: Callable[[dict[str, Any]], Any], delay: float) -> None:
        self.script = script
        self.delay = delay
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Any:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            time.sleep(self.delay)  # the server thread is busy like a model
            return self.script(body)
        finally:
            with self.lock:
                self.now -= 1


# -- fixtures (imported by the test modules: a conftest.py here would clash with
# tests/conftest.py under --doctest-modules, see tests/agents/test_openai_agent.py) --

import pytest  # noqa: E402
from llm_server import Script, ScriptedLLMServer  # noqa: E402


@pytest.fixture(name="llm_server")
def llm_server_fixture() -> Any:
    """A factory: ``llm_server(script)`` starts a scripted server, closed after the test."""
    servers: list[ScriptedLLMServer] = []

    def start(script: Script, model: str = "m") -> ScriptedLLMServer:
        server = ScriptedLLMServer(script, model=model)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's OPENAI_* settings from reaching a real endpoint."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


INPROCESS = {"sandbox": {"isolation": "inprocess"}}
"""Env kwargs for tests that are not about the sandbox: the vetted demo pack, no worker start."""
ONE_HOP = ["demo-ecommerce-001", "demo-finance-001", "demo-health-001"]


def config(server: ScriptedLLMServer, **kwargs: Any) -> Any:
    """An EvalConfig for ``server`` (in-process sandbox, fast retries) with overrides."""
    from astra_gym.eval import EvalConfig

    options: dict[str, Any] = {"base_url": server.base_url, "concurrency": 4,
                               "env_kwargs": dict(INPROCESS), "backoff": 0.01, "timeout": 10.0}
    options.update(kwargs)
    return EvalConfig(options.pop("env_id", "astra/demo-v0"), options.pop("model", "m"),
                      **options)


def lines(directory: Any) -> list[dict[str, Any]]:
    """Every line of RESULTS_DIR/episodes.jsonl."""
    import json
    from pathlib import Path

    path = Path(directory) / "episodes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
