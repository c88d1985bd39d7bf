"""Smaller rules of the eval runner, each with the test that fails without it."""

from __future__ import annotations

import argparse
import threading

from eval_support import (  # noqa: F401 - fixtures
    INPROCESS,
    ONE_HOP,
    _no_openai_env,
    config,
    lines,
    llm_server_fixture,
    oracle_script,
)

from astra_gym.eval import ChatClient, evaluate
from astra_gym.eval.client import MAX_BACKOFF


def hermes_in_content(body):
    """A model whose server has no tool parser: the call stays in the text."""
    if len(body["messages"]) == 2:
        return {"content": '<tool_call>{"name": "track_shipment", "arguments": '
                           '{"tracking_id": "X"}}</tool_call>'}
    return {"content": "done"}


def test_native_mode_reads_calls_only_from_tool_calls(llm_server, tmp_path):
    server = llm_server(hermes_in_content)
    evaluate(config(server, task_ids=ONE_HOP[:1]), tmp_path / "strict")
    strict = lines(tmp_path / "strict")[0]
    assert strict["turns"] == 1 and strict["components"]["calls"] == 0  # a final answer
    evaluate(config(server, task_ids=ONE_HOP[:1],
                    env_kwargs={**INPROCESS, "action_format": "auto"}), tmp_path / "lenient")
    lenient = lines(tmp_path / "lenient")[0]
    assert lenient["turns"] == 2 and lenient["components"]["calls"] == 1
    assert lenient["steps"][0]["action_format"] == "hermes"


def test_every_env_call_runs_in_one_thread(llm_server, tmp_path, monkeypatch):
    from astra_gym.env import AstraEnv

    threads: set[str] = set()
    step, reset = AstraEnv.step, AstraEnv.reset

    def recording_step(self, action):
        threads.add(threading.current_thread().name)
        return step(self, action)

    def recording_reset(self, **kwargs):
        threads.add(threading.current_thread().name)
        return reset(self, **kwargs)

    monkeypatch.setattr(AstraEnv, "step", recording_step)
    monkeypatch.setattr(AstraEnv, "reset", recording_reset)
    server = llm_server(oracle_script(delay=0.05))
    tasks = [f"demo-{d}-003" for d in ("ecommerce", "finance", "health", "travel")]
    assert evaluate(config(server, task_ids=tasks, concurrency=4), tmp_path).complete
    assert len(threads) == 1 and next(iter(threads)).startswith("astra-eval-env")


def test_requests_skip_the_sdks_typed_transform(llm_server, tmp_path, monkeypatch):
    from openai.resources.chat.completions import AsyncCompletions

    async def refuse(*args, **kwargs):
        raise AssertionError("create() walks the conversation per request; post() is used")

    monkeypatch.setattr(AsyncCompletions, "create", refuse)
    server = llm_server(oracle_script())
    assert evaluate(config(server, task_ids=ONE_HOP[:1]), tmp_path).complete


def test_retry_after_is_honoured_and_capped():
    client = ChatClient("m", base_url="http://127.0.0.1:1/v1", backoff=0.01)
    assert client._delay(1, None) <= 0.01
    assert client._delay(1, 2.5) == 2.5
    assert client._delay(1, 10_000) == MAX_BACKOFF
    assert client._delay(40, None) <= MAX_BACKOFF


def test_extra_body_fields_reach_the_request(llm_server, tmp_path):
    import asyncio

    server = llm_server(["hello"])
    client = ChatClient("m", base_url=server.base_url, extra_body={"top_k": 20},
                        max_tokens=64, temperature=0.3)

    async def run():
        async with client:
            return await client.complete([{"role": "user", "content": "hi"}])

    reply = asyncio.run(run())
    assert reply.message == {"role": "assistant", "content": "hello"}
    assert reply.usage["completion_tokens"] == 1 and reply.attempts == 1
    body = server.chat_requests[0].body
    assert body["top_k"] == 20 and body["max_tokens"] == 64 and body["temperature"] == 0.3


def test_interrupt_exits_130_and_says_how_to_resume(monkeypatch, capsys, tmp_path):
    import astra_gym.eval.runner as runner
    from astra_gym.eval.cli import run_eval_command

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "evaluate", interrupted)
    args = argparse.Namespace(
        target="astra/demo-v0", model="m", base_url="http://127.0.0.1:1/v1", api_key_env=None,
        mode="native", call_format=None, concurrency=1, rollouts_per_task=1, tasks=None,
        limit=1, temperature=0.0, max_tokens=None, timeout=1.0, max_retries=0,
        env_kwargs="{}", seed=0, json=False, quiet=True, out=str(tmp_path), ray_address=None,
        ray_actors=None)
    assert run_eval_command(args) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
