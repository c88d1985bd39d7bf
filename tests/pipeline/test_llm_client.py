"""synth.llm.client: cached, capped-retry, bounded, fail-closed calls against a scripted server."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from llm_server import ScriptedLLMServer

from synth.llm import Completion, LLMClient, LLMError, OfflineMiss, ResponseCache
from synth.llm import client as client_module

USER = [{"role": "user", "content": "Name a city as JSON"}]
SCHEMA = {"type": "object", "required": ["name"], "additionalProperties": False,
          "properties": {"name": {"type": "string"}}}


def make(server: ScriptedLLMServer | None, tmp_path: Path, **kwargs: Any) -> LLMClient:
    """A client with fast retries that caches under tmp_path/cache."""
    settings: dict[str, Any] = {"cache_dir": tmp_path / "cache", "backoff": 0.0, "timeout": 5.0}
    if server is not None:
        settings.update(base_url=server.base_url, api_key="test-key")
    settings.update(kwargs)
    return LLMClient("m", **settings)


def complete(llm: LLMClient, messages: list[dict[str, Any]] = USER, **kwargs: Any) -> Completion:
    """One call in a fresh event loop, closing the SDK client before the loop ends."""

    async def go() -> Completion:
        try:
            return await llm.complete(messages, **kwargs)
        finally:
            await llm.aclose()

    return asyncio.run(go())


def cache_files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "cache"
    return sorted(p for p in root.rglob("*.json")) if root.exists() else []


def stored_failure(tmp_path: Path) -> dict[str, Any]:
    """The one cache entry, which must be a recorded failure and not a reply."""
    (path,) = cache_files(tmp_path)
    record = json.loads(path.read_text())["record"]
    assert "text" not in record and "usage" not in record, record
    return record["failure"]


# -- success and the cache -----------------------------------------------------------


def test_success(tmp_path: Path) -> None:
    with ScriptedLLMServer(["Paris is nice"]) as server:
        llm = make(server, tmp_path)
        reply = complete(llm, temperature=0.0, max_tokens=20, seed=7)
        body = server.chat_requests[0].body
        headers = server.chat_requests[0].headers
    assert reply.text == "Paris is nice"
    assert reply.value is None and not reply.cached and reply.attempts == 1
    assert reply.finish_reason == "stop" and reply.tool_calls == ()
    assert reply.usage == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    assert reply.key == ResponseCache.key_for(
        "m", USER, {"temperature": 0.0, "max_tokens": 20, "seed": 7})
    assert body["model"] == "m" and body["messages"] == USER
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0.0, 20, 7)
    assert headers["authorization"] == "Bearer test-key"
    assert llm.stats == {"calls": 1, "cache_hits": 0, "requests": 1, "retries": 0, "failures": 0,
                         "prompt_tokens": 5, "completion_tokens": 3}


def test_second_call_is_a_cache_hit(tmp_path: Path) -> None:
    with ScriptedLLMServer(['{"name": "Paris"}']) as server:
        llm = make(server, tmp_path)
        first = complete(llm, schema=SCHEMA, temperature=0.0)
        second = complete(llm, schema=SCHEMA, temperature=0.0)  # a new event loop, too
        requests = len(server.chat_requests)
    assert requests == 1
    assert first.value == second.value == {"name": "Paris"}
    assert (first.cached, second.cached, second.attempts) == (False, True, 0)
    assert second.usage == first.usage and second.key == first.key
    assert llm.stats["cache_hits"] == 1 and llm.stats["requests"] == 1
    assert llm.stats["completion_tokens"] == first.usage["completion_tokens"]  # hits spend none
    entry = json.loads(cache_files(tmp_path)[0].read_text())["record"]
    assert entry["text"] == '{"name": "Paris"}' and entry["usage"] == first.usage
    assert entry["request"] == {"messages": USER, "params": {"temperature": 0.0}}


def test_offline_replay_needs_no_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ScriptedLLMServer(['{"name": "Oslo"}']) as server:
        live = complete(make(server, tmp_path), schema=SCHEMA)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    llm = LLMClient("m", cache_dir=tmp_path / "cache", offline=True)  # no endpoint, no key
    replay = complete(llm, schema=SCHEMA)
    assert replay.value == live.value and replay.cached and replay.usage == live.usage
    assert llm._sdk is None and llm.stats["requests"] == 0


def test_offline_miss_raises(tmp_path: Path) -> None:
    llm = make(None, tmp_path, offline=True)
    with pytest.raises(OfflineMiss, match="no cached reply") as info:
        complete(llm, temperature=0.3)
    assert not isinstance(info.value, LLMError)
    assert info.value.key == ResponseCache.key_for("m", USER, {"temperature": 0.3})
    assert llm._sdk is None


def test_offline_needs_a_cache() -> None:
    with pytest.raises(ValueError, match="cache_dir"):
        LLMClient("m", offline=True)


def test_no_cache_dir_caches_nothing(tmp_path: Path) -> None:
    with ScriptedLLMServer(["a", "b"]) as server:
        llm = make(server, tmp_path, cache_dir=None)
        assert [complete(llm).text, complete(llm).text] == ["a", "b"]
    assert llm.cache is None and not cache_files(tmp_path)


def test_unkeyed_params_are_sent_but_do_not_change_the_key(tmp_path: Path) -> None:
    with ScriptedLLMServer(["one"]) as server:
        llm = make(server, tmp_path)
        first = complete(llm, extra_headers={"X-Trace": "1"}, extra_body={"top_k": 20},
                         top_p=None)
        second = complete(llm, extra_headers={"X-Trace": "2"}, extra_body={"top_k": 20})
        request = server.chat_requests[0]
    assert second.cached and second.key == first.key
    assert request.headers["x-trace"] == "1"
    assert request.body["top_k"] == 20 and "top_p" not in request.body
    assert "X-Trace" not in json.dumps(json.loads(cache_files(tmp_path)[0].read_text()))


def test_tool_calls_are_returned_and_cached(tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    reply = {"content": None, "tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}}]}
    with ScriptedLLMServer([reply]) as server:
        llm = make(server, tmp_path)
        live = complete(llm, tools=tools)
        assert server.chat_requests[0].body["tools"] == tools
    replay = complete(make(None, tmp_path, offline=True), tools=tools)
    for result in (live, replay):
        assert result.text == "" and result.finish_reason == "tool_calls"
        assert result.tool_calls == ({"id": "call_1", "type": "function", "function": {
            "name": "weather", "arguments": '{"city": "Oslo"}'}},)


def test_identical_concurrent_requests_are_made_once(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"delay": 0.05, "content": "once"}]) as server:
        llm = make(server, tmp_path)

        async def go() -> list[Completion]:
            async with llm:
                return await asyncio.gather(*(llm.complete(USER, temperature=1.0)
                                              for _ in range(5)))

        replies = asyncio.run(go())
        requests = len(server.chat_requests)
    assert requests == 1
    assert {r.text for r in replies} == {"once"}
    assert sorted(r.cached for r in replies) == [False, True, True, True, True]
    assert not llm._locks


def test_a_new_event_loop_gets_a_working_client(tmp_path: Path) -> None:
    with ScriptedLLMServer(["first", "second"]) as server:
        llm = make(server, tmp_path)

        async def go(content: str, close: bool) -> str:
            reply = await llm.complete([{"role": "user", "content": content}])
            if close:
                await llm.aclose()
            return reply.text

        with warnings.catch_warnings():  # the first loop's pool is dropped unclosed
            warnings.simplefilter("ignore", ResourceWarning)
            assert asyncio.run(go("1", close=False)) == "first"
            assert asyncio.run(go("2", close=True)) == "second"
            gc.collect()


def test_async_context_manager_closes_the_sdk_client(tmp_path: Path) -> None:
    with ScriptedLLMServer(["hi"]) as server:
        async def go() -> LLMClient:
            async with make(server, tmp_path) as llm:
                await llm.complete(USER)
                assert llm._sdk is not None
            return llm

        assert asyncio.run(go())._sdk is None


# -- retries and failures --------------------------------------------------------------


def test_server_error_then_success_is_retried(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"status": 500}, {"status": 503}, "ok"]) as server:
        llm = make(server, tmp_path)
        reply = complete(llm)
    assert reply.text == "ok" and reply.attempts == 3
    assert llm.stats["requests"] == 3 and llm.stats["retries"] == 2 and llm.stats["failures"] == 0


@pytest.mark.parametrize("transient", [{"status": 429}, {"status": 408}, {"raw": "not json"},
                                       {"raw": "{}"}, {"raw": ""}, {"content": ""},
                                       {"content": None}])
def test_transient_failures_are_retried(tmp_path: Path, transient: dict[str, Any]) -> None:
    with ScriptedLLMServer([transient, "ok"]) as server:
        reply = complete(make(server, tmp_path))
    assert reply.text == "ok" and reply.attempts == 2


def test_persistent_server_error_gives_up_after_max_retries(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"status": 500, "message": "overloaded"}] * 3 + ["late"]) as server:
        llm = make(server, tmp_path, max_retries=2)
        with pytest.raises(LLMError) as info:
            complete(llm)
        assert len(server.chat_requests) == 3
    error = info.value
    assert error.attempts == 3 and error.status_code == 500
    assert error.reason.startswith("HTTP 500") and "overloaded" in error.reason
    assert "after 3 attempts" in str(error)
    assert llm.stats["failures"] == 1 and llm.stats["retries"] == 2
    assert stored_failure(tmp_path) == {"reason": error.reason, "attempts": 3,
                                        "status_code": 500, "schema": None}


def test_max_retries_zero_means_one_attempt(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"status": 502}, "ok"]) as server:
        with pytest.raises(LLMError) as info:
            complete(make(server, tmp_path, max_retries=0))
        assert server.remaining == 1
    assert info.value.attempts == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_fail_at_once(tmp_path: Path, status: int) -> None:
    with ScriptedLLMServer([{"status": status}, "never"]) as server:
        llm = make(server, tmp_path)
        with pytest.raises(LLMError) as info:
            complete(llm)
        assert server.remaining == 1
    assert info.value.attempts == 1 and info.value.status_code == status
    assert llm.stats["retries"] == 0 and llm.stats["failures"] == 1


def test_invalid_json_reply_is_retried_then_fails_naming_extraction(tmp_path: Path) -> None:
    with ScriptedLLMServer(["Paris", "I think Paris", '{"name": "Par']) as server:
        llm = make(server, tmp_path, max_retries=2)
        with pytest.raises(LLMError) as info:
            complete(llm, schema=SCHEMA)
        bodies = [r.body for r in server.chat_requests]
    assert info.value.reason.startswith("extraction failed:")
    assert "never closed" in info.value.reason  # the last attempt's reason
    assert info.value.attempts == 3
    assert bodies[0] == bodies[1] == bodies[2]  # the retry is the identical request
    assert stored_failure(tmp_path)["reason"] == info.value.reason  # never a reply
    assert llm.stats["completion_tokens"] == 1 + 3 + 2  # tokens spent on them still count


def test_wrong_keys_fail_validation(tmp_path: Path) -> None:
    with ScriptedLLMServer(['{"nom": "Paris"}', '{"city": "Paris"}']) as server:
        llm = make(server, tmp_path, max_retries=1)
        with pytest.raises(LLMError) as info:
            complete(llm, schema=SCHEMA)
    assert info.value.reason.startswith("validation failed: $:")
    assert "'name' is a required property" in info.value.reason
    assert stored_failure(tmp_path)["attempts"] == 2


def test_invalid_then_valid_returns_and_caches_only_the_valid_reply(tmp_path: Path) -> None:
    with ScriptedLLMServer(['{"name": 3}', '```json\n{"name": "Rome"}\n```']) as server:
        llm = make(server, tmp_path)
        reply = complete(llm, schema=SCHEMA)
    assert reply.value == {"name": "Rome"} and reply.attempts == 2
    (entry,) = cache_files(tmp_path)
    assert json.loads(entry.read_text())["record"]["text"] == '```json\n{"name": "Rome"}\n```'
    assert complete(make(None, tmp_path, offline=True), schema=SCHEMA).value == {"name": "Rome"}


def test_timeout_is_transient_and_capped(tmp_path: Path) -> None:
    script = [{"delay": 0.6, "content": "late"}, {"delay": 0.6, "content": "late"}, "ok"]
    with ScriptedLLMServer(script) as server:
        llm = make(server, tmp_path, timeout=0.15, max_retries=1)
        with pytest.raises(LLMError) as info:
            complete(llm)
        assert complete(llm).text == "ok"  # online, the recorded failure is asked again
    assert "timed out after 0.15 s" in info.value.reason and info.value.attempts == 2


def test_cached_reply_that_misses_a_new_schema_is_not_used(tmp_path: Path) -> None:
    with ScriptedLLMServer(['{"city": "Lima"}', '{"name": "Lima"}']) as server:
        llm = make(server, tmp_path)
        assert complete(llm).text == '{"city": "Lima"}'
        with pytest.raises(OfflineMiss, match="does not fit the schema"):
            complete(make(None, tmp_path, offline=True), schema=SCHEMA)
        reply = complete(llm, schema=SCHEMA)  # online: asked again, and the entry replaced
    assert reply.value == {"name": "Lima"} and not reply.cached
    assert complete(llm, schema=SCHEMA).cached


def test_corrupt_cache_entry_is_refetched(tmp_path: Path) -> None:
    with ScriptedLLMServer(["fresh"]) as server:
        llm = make(server, tmp_path)
        key = ResponseCache.key_for("m", USER, {})
        path = llm.cache.path_for(key)
        path.parent.mkdir(parents=True)
        path.write_text('{"format": 1, "key": "' + key + '", "rec')
        with pytest.warns(RuntimeWarning, match="corrupt entry"):
            reply = complete(llm)
    assert reply.text == "fresh" and not reply.cached
    assert complete(make(None, tmp_path, offline=True)).text == "fresh"


def test_backoff_is_exponential_jittered_and_reproducible(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float, *args: Any) -> Any:
        waits.append(delay)
        return await real_sleep(0)

    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    runs = []
    for _ in range(2):
        waits.clear()
        with ScriptedLLMServer([{"status": 500}] * 3 + ["ok"]) as server:
            complete(make(server, tmp_path / str(len(runs)), backoff=0.5))
        runs.append(list(waits))
    assert runs[0] == runs[1] and len(runs[0]) == 3  # seeded by the request key
    for retry, wait in enumerate(runs[0]):
        base = 0.5 * 2 ** retry
        assert base / 2 <= wait < base


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def script(body: dict[str, Any]) -> str:
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return "answer " + body["messages"][0]["content"]

    with ScriptedLLMServer(script) as server:
        llm = make(server, tmp_path, concurrency=3)

        async def go() -> list[Completion]:
            async with llm:
                return await asyncio.gather(*(
                    llm.complete([{"role": "user", "content": str(i)}]) for i in range(12)))

        replies = asyncio.run(go())
    assert [r.text for r in replies] == [f"answer {i}" for i in range(12)]
    assert 2 <= state["max"] <= 3


def test_stats_add_up(tmp_path: Path) -> None:
    script = ['{"name": "A"}', {"status": 500}, '{"name": "B"}', "no json", "still none"]
    with ScriptedLLMServer(script) as server:
        llm = make(server, tmp_path, max_retries=1)
        complete(llm, [{"role": "user", "content": "one"}], schema=SCHEMA)
        complete(llm, [{"role": "user", "content": "one"}], schema=SCHEMA)  # hit
        complete(llm, [{"role": "user", "content": "two"}], schema=SCHEMA)  # 500, then B
        with pytest.raises(LLMError):
            complete(llm, [{"role": "user", "content": "three"}], schema=SCHEMA)
    assert llm.stats == {"calls": 4, "cache_hits": 1, "requests": 5, "retries": 2,
                         "failures": 1, "prompt_tokens": 1 + 1 + 1 + 1,
                         "completion_tokens": 2 + 2 + 2 + 2}


# -- recorded failures ---------------------------------------------------------------------


def test_offline_replay_reproduces_a_failure_exactly(tmp_path: Path) -> None:
    with ScriptedLLMServer(["Paris", "still Paris"]) as server, \
            pytest.raises(LLMError) as online:
        complete(make(server, tmp_path, max_retries=1), schema=SCHEMA)
    replay = make(None, tmp_path, offline=True)
    with pytest.raises(LLMError) as offline:
        complete(replay, schema=SCHEMA)
    assert str(offline.value) == str(online.value)
    assert (offline.value.reason, offline.value.attempts, offline.value.key) == (
        online.value.reason, 2, online.value.key)
    assert offline.value.cached and not online.value.cached
    assert replay.stats["cache_hits"] == 1 and replay.stats["failures"] == 1
    assert replay.stats["requests"] == 0


def test_offline_replay_reproduces_an_http_error_with_its_status(tmp_path: Path) -> None:
    with ScriptedLLMServer([{"status": 400, "message": "context too long"}]) as server, \
            pytest.raises(LLMError) as online:
        complete(make(server, tmp_path))
    with pytest.raises(LLMError) as offline:
        complete(make(None, tmp_path, offline=True))
    assert offline.value.status_code == 400 and str(offline.value) == str(online.value)


def test_online_a_recorded_failure_is_asked_again_and_replaced_by_a_reply(
        tmp_path: Path) -> None:
    with ScriptedLLMServer([{"status": 503}, '{"name": "Oslo"}']) as server:
        llm = make(server, tmp_path, max_retries=0)
        with pytest.raises(LLMError):
            complete(llm, schema=SCHEMA)
        reply = complete(llm, schema=SCHEMA)
        assert len(server.chat_requests) == 2
    assert reply.value == {"name": "Oslo"} and not reply.cached
    assert complete(make(None, tmp_path, offline=True), schema=SCHEMA).value == {"name": "Oslo"}


def test_a_failure_never_replaces_a_stored_reply(tmp_path: Path) -> None:
    with ScriptedLLMServer(["Lima", "Lima again"]) as server:
        llm = make(server, tmp_path, max_retries=0)
        assert complete(llm).text == "Lima"
        with pytest.raises(LLMError, match="extraction failed"):
            complete(llm, schema=SCHEMA)  # the stored reply does not fit: asked, and failed
    offline = make(None, tmp_path, offline=True)
    assert complete(offline).text == "Lima"  # the reply is still there
    with pytest.raises(OfflineMiss, match="does not fit the schema"):
        complete(offline, schema=SCHEMA)


def test_a_failure_under_another_schema_is_a_miss(tmp_path: Path) -> None:
    with ScriptedLLMServer(['{"city": "Rome"}']) as server, pytest.raises(LLMError):
        complete(make(server, tmp_path, max_retries=0), schema=SCHEMA)
    other = {"type": "object", "required": ["city"]}
    with pytest.raises(OfflineMiss, match="another schema"):
        complete(make(None, tmp_path, offline=True), schema=other)


@pytest.mark.parametrize("failure", [None, "HTTP 500", {"reason": 5, "attempts": 1},
                                     {"reason": "x", "attempts": -1},
                                     {"reason": "x", "attempts": 1, "status_code": "500"}])
def test_a_malformed_failure_entry_is_a_miss_with_a_warning(tmp_path: Path,
                                                            failure: Any) -> None:
    key = ResponseCache.key_for("m", USER, {})
    ResponseCache(tmp_path / "cache").put(key, {"failure": failure})
    with pytest.warns(RuntimeWarning, match="malformed failure"), \
            pytest.raises(OfflineMiss, match="cached failure is malformed"):
        complete(make(None, tmp_path, offline=True))


# -- settings and arguments --------------------------------------------------------------


def test_api_key_and_base_url_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="no API key"):
        LLMClient("m")
    with ScriptedLLMServer(["a", "b"]) as server:
        complete(LLMClient("m", base_url=server.base_url))  # a local server: "EMPTY"
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "from-env")
        llm = LLMClient("m")
        assert llm.base_url == server.base_url
        complete(llm)
        auth = [r.headers["authorization"] for r in server.chat_requests]
    assert auth == ["Bearer EMPTY", "Bearer from-env"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"stream": True}, "stream"), ({"n": 2}, "n must be 1"), ({"model": "x"}, "LLMClient"),
    ({"seed": object()}, "not JSON data"),
])
def test_bad_arguments_fail_before_any_request(tmp_path: Path, kwargs: dict[str, Any],
                                               match: str) -> None:
    llm = make(None, tmp_path, offline=True)
    with pytest.raises(ValueError, match=match):
        complete(llm, **kwargs)


def test_bad_schema_fails_before_any_request(tmp_path: Path) -> None:
    llm = make(None, tmp_path, offline=True)
    with pytest.raises(jsonschema.SchemaError):
        complete(llm, schema={"type": "thing"})


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"concurrency": 0}, "concurrency"), ({"max_retries": -1}, "max_retries"),
    ({"timeout": 0}, "timeout"), ({"backoff": -1}, "backoff"), ({"model": ""}, "model"),
])
def test_bad_settings(kwargs: dict[str, Any], match: str) -> None:
    settings = {"model": "m", "api_key": "k", **kwargs}
    with pytest.raises(ValueError, match=match):
        LLMClient(**settings)


class FakeCompletions:
    """An injected client's ``chat.completions``: answers from a list, raising exceptions."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    async def create(self, **request: Any) -> Any:
        self.calls.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


class FakeClient:
    def __init__(self, answers: list[Any]) -> None:
        self.chat = type("Chat", (), {"completions": FakeCompletions(answers)})()


def test_injected_client_with_plain_dict_responses(tmp_path: Path) -> None:
    answer = {"choices": [{"message": {"content": '{"name": "Kyiv"}'}, "finish_reason": "stop"}],
              "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}}
    fake = FakeClient([ValueError("garbage body"), answer])
    llm = LLMClient("m", client=fake, cache_dir=tmp_path / "cache", backoff=0)
    reply = complete(llm, schema=SCHEMA)
    assert reply.value == {"name": "Kyiv"} and reply.attempts == 2
    assert reply.usage["total_tokens"] == 6
    assert fake.chat.completions.calls[0] == {"model": "m", "messages": USER}


def test_bugs_are_not_disguised_as_llm_errors(tmp_path: Path) -> None:
    llm = LLMClient("m", client=FakeClient([TypeError("unexpected keyword 'bogus'")]), backoff=0)
    with pytest.raises(TypeError, match="bogus"):
        complete(llm, bogus=1)
    assert llm.stats["failures"] == 1 and llm.stats["retries"] == 0


# -- the SDK request path ------------------------------------------------------------------

FULL_PARAMS: dict[str, Any] = {
    "temperature": 0.5, "max_tokens": 30, "seed": 3, "stop": ["\n\n"], "top_p": 0.9,
    "user": "u-1", "metadata": {"run": "r"}, "store": False,
    "response_format": {"type": "json_object"},
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "extra_body": {"top_k": 20}, "extra_headers": {"X-Trace": "t"}, "timeout": 7.0}
VOLATILE_HEADERS = ("content-length", "x-stainless-retry-count", "x-stainless-read-timeout",
                    "idempotency-key")


def test_the_lean_request_is_the_request_create_sends(tmp_path: Path) -> None:
    """The client's own SDK client posts what ``chat.completions.create`` would have."""
    import openai

    with ScriptedLLMServer(['{"name": "Oslo"}'] * 2) as server:
        lean = make(server, tmp_path / "lean")

        async def through_create() -> Completion:
            sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key",
                                     max_retries=0)
            try:
                return await LLMClient("m", client=sdk, cache_dir=tmp_path / "create").complete(
                    USER, schema=SCHEMA, **FULL_PARAMS)
            finally:
                await sdk.close()

        mine = complete(lean, schema=SCHEMA, **FULL_PARAMS)
        theirs = asyncio.run(through_create())
        sent, expected = server.chat_requests
    assert sent.path == expected.path
    assert sent.body == expected.body and sent.body["top_k"] == 20
    assert {k: v for k, v in sent.headers.items() if k not in VOLATILE_HEADERS} == {
        k: v for k, v in expected.headers.items() if k not in VOLATILE_HEADERS}
    assert sent.headers["x-trace"] == "t" and sent.headers["authorization"] == "Bearer test-key"
    assert mine == theirs


def test_an_unknown_parameter_is_refused_like_create_does(tmp_path: Path) -> None:
    with ScriptedLLMServer(["never"]) as server:
        llm = make(server, tmp_path)
        with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
            complete(llm, bogus=1)
        assert not server.chat_requests
    assert llm.stats["failures"] == 1


def test_a_json_reply_with_another_content_type_is_read_as_the_sdk_reads_it(
        tmp_path: Path) -> None:
    body = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 1, "completion_tokens": 1}})
    with ScriptedLLMServer([{"raw": body, "content_type": "text/plain"},
                            {"raw": "plain words", "content_type": "text/plain"}, "ok"]) as server:
        llm = make(server, tmp_path)
        assert complete(llm).text == "hi"
        reply = complete(llm, messages=[{"role": "user", "content": "again"}])
    assert reply.text == "ok" and reply.attempts == 2  # text that is not JSON: retried


def test_requests_spread_over_small_connection_pools(tmp_path: Path) -> None:
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return {"content": "r " + body["messages"][0]["content"], "delay": 0.05}

    with ScriptedLLMServer(answer) as server:
        llm = make(server, tmp_path, concurrency=20)

        async def go() -> tuple[list[Completion], int, list[Any]]:
            replies = await asyncio.gather(*(
                llm.complete([{"role": "user", "content": str(i)}]) for i in range(40)))
            pools = list(llm._pools)
            busy = sum(llm._pool_load)
            await llm.aclose()
            return replies, busy, pools

        replies, busy, pools = asyncio.run(go())
    assert [r.text for r in replies] == [f"r {i}" for i in range(40)]
    assert len(pools) == 3 and busy == 0  # 20 in flight, at most 8 per pool
    assert all(pool.is_closed() for pool in pools) and llm._sdk is None


def test_request_options_are_split_from_the_body_as_create_splits_them() -> None:
    import openai

    sdk = openai.AsyncOpenAI(base_url="http://127.0.0.1:9/v1", api_key="k")
    body, options = client_module._split_params(sdk, {
        "temperature": 0.1, "user": "u", "extra_body": {"a": 1}, "extra_headers": {"H": "1"},
        "extra_query": {"q": "1"}, "timeout": 3.0})
    assert body == {"temperature": 0.1, "user": "u"}
    assert {k: options[k] for k in ("extra_json", "headers", "params", "timeout")} == {
        "extra_json": {"a": 1}, "headers": {"H": "1"}, "params": {"q": "1"}, "timeout": 3.0}
