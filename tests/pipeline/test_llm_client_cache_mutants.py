"""The LLM client's cache paths, pinned where mutation testing found them loose (issue 19).

``_from_cache``, ``_cached_failure``, ``_store`` and ``_store_failure`` decide what a
replay returns or raises and what a call leaves in the cache. ``test_llm_client.py``
covers their main rules; these tests pin the details mutants changed unseen: the exact
miss reasons and warnings (and the line a warning points at), the full failure record,
and that a newer failure replaces an older one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
from llm_server import ScriptedLLMServer

from synth.llm import Completion, LLMClient, LLMError, OfflineMiss, ResponseCache

USER = [{"role": "user", "content": "Name a city as JSON"}]
SCHEMA = {"type": "object", "required": ["name"], "additionalProperties": False,
          "properties": {"name": {"type": "string"}}}
KEY = ResponseCache.key_for("m", USER, {})


def make(server: ScriptedLLMServer | None, tmp_path: Path, **kwargs: Any) -> LLMClient:
    """A client with fast retries that caches under tmp_path/cache (offline without server)."""
    settings: dict[str, Any] = {"cache_dir": tmp_path / "cache", "backoff": 0.0, "timeout": 5.0}
    if server is not None:
        settings.update(base_url=server.base_url, api_key="test-key")
    else:
        settings.update(offline=True)
    settings.update(kwargs)
    return LLMClient("m", **settings)


def complete(llm: LLMClient, **kwargs: Any) -> Completion:
    """One call of USER in a fresh event loop; a warning it raises points at ``go`` here."""

    async def go() -> Completion:
        try:
            return await llm.complete(USER, **kwargs)
        finally:
            await llm.aclose()

    return asyncio.run(go())


def record_of(tmp_path: Path) -> dict[str, Any]:
    """The record of the one cache entry."""
    (path,) = sorted((tmp_path / "cache").rglob("*.json"))
    return json.loads(path.read_text())["record"]


def offline_miss(tmp_path: Path, **kwargs: Any
                 ) -> tuple[OfflineMiss, list[warnings.WarningMessage]]:
    """The OfflineMiss of an offline call of USER, and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(OfflineMiss) as info:
            complete(make(None, tmp_path), **kwargs)
    return info.value, caught


# -- _from_cache --------------------------------------------------------------------------


def test_an_offline_call_with_no_entry_says_there_is_no_cached_reply(tmp_path: Path) -> None:
    """No entry for the key: OfflineMiss with exactly the reason "no cached reply"."""
    miss, caught = offline_miss(tmp_path)
    assert miss.reason == "no cached reply" and miss.key == KEY
    assert str(miss) == f"offline and no cached reply for model 'm' (cache key {KEY})"
    assert caught == []


@pytest.mark.parametrize("record", [
    {"text": 5, "usage": {}},                          # text not text, usage fine
    {"text": "hi", "usage": [], "tool_calls": []},     # usage not a mapping
    {"text": "hi", "usage": {}, "tool_calls": "call"},  # tool calls not a list
])
def test_a_reply_entry_with_one_malformed_field_is_a_miss_with_a_warning(
        tmp_path: Path, record: dict[str, Any]) -> None:
    """Any one of text/usage/tool_calls of the wrong type makes the entry a warned miss."""
    ResponseCache(tmp_path / "cache").put(KEY, record)
    miss, caught = offline_miss(tmp_path)
    assert miss.reason == "the cached reply is malformed"
    (warning,) = caught
    assert warning.category is RuntimeWarning
    assert str(warning.message) == (f"LLMClient: cache entry {KEY} lacks text/usage; "
                                    "treated as a miss")
    assert warning.filename == __file__  # the caller's line, not the client's internals


def test_a_reply_entry_without_usage_is_a_hit_with_no_counts(tmp_path: Path) -> None:
    """Usage is optional in an entry: without it the reply replays, with empty usage."""
    ResponseCache(tmp_path / "cache").put(KEY, {"text": "hi"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = complete(make(None, tmp_path))
    assert (reply.text, reply.usage, reply.tool_calls, reply.cached) == ("hi", {}, (), True)
    assert reply.value is None  # no schema asked: no value, not an empty one


def test_a_replay_returns_the_recorded_reasoning(tmp_path: Path) -> None:
    """The reasoning a server sent beside the reply comes back from the cache too."""
    with ScriptedLLMServer([{"content": "Lima", "reasoning_content": "plan first"}]) as server:
        live = complete(make(server, tmp_path))
    replay = complete(make(None, tmp_path))
    assert (live.reasoning, replay.reasoning) == ("plan first", "plan first")
    assert replay.cached and replay.text == "Lima"


def test_a_replayed_reasoning_that_is_not_text_is_dropped(tmp_path: Path) -> None:
    """An entry's non-text reasoning is no reasoning: the reply replays without it."""
    ResponseCache(tmp_path / "cache").put(KEY, {"text": "hi", "usage": {}, "reasoning": 7})
    reply = complete(make(None, tmp_path))
    assert reply.text == "hi" and reply.reasoning is None


# -- _cached_failure ----------------------------------------------------------------------


def test_a_malformed_failure_warns_once_at_the_caller_and_says_why_it_is_a_miss(
        tmp_path: Path) -> None:
    """A malformed stored failure: this exact warning, at the line that called complete()."""
    ResponseCache(tmp_path / "cache").put(KEY, {"failure": {"reason": "x", "attempts": -1}})
    miss, caught = offline_miss(tmp_path)
    assert miss.reason == "the cached failure is malformed"
    assert str(miss) == (f"offline and the cached failure is malformed for model 'm' "
                         f"(cache key {KEY})")
    (warning,) = caught
    assert warning.category is RuntimeWarning
    assert str(warning.message) == (f"LLMClient: cache entry {KEY} holds a malformed failure; "
                                    "treated as a miss")
    assert warning.filename == __file__  # the caller's line, not the client's internals


def test_a_failure_checked_against_another_schema_is_a_miss_that_says_so(
        tmp_path: Path) -> None:
    """A failure recorded under one schema is no answer under another: the exact reason."""
    with ScriptedLLMServer(['{"city": "Rome"}']) as server, pytest.raises(LLMError):
        complete(make(server, tmp_path, max_retries=0), schema=SCHEMA)
    miss, caught = offline_miss(tmp_path, schema={"type": "object", "required": ["city"]})
    assert miss.reason == "the cached failure was checked against another schema"
    assert caught == []


# -- _store_failure -----------------------------------------------------------------------


def test_a_failure_is_stored_as_model_failure_and_request(tmp_path: Path) -> None:
    """The failure record holds the model, the failure and the request, nothing else."""
    with ScriptedLLMServer([{"status": 400, "message": "context too long"}]) as server, \
            pytest.raises(LLMError) as info:
        complete(make(server, tmp_path), temperature=0.5, schema=SCHEMA)
    record = record_of(tmp_path)
    assert record == {
        "model": "m",
        "failure": {"reason": info.value.reason, "attempts": 1, "status_code": 400,
                    "schema": record["failure"]["schema"]},
        "request": {"messages": USER, "params": {"temperature": 0.5}}}
    assert isinstance(record["failure"]["schema"], str)


def test_a_newer_failure_replaces_an_older_one(tmp_path: Path) -> None:
    """Online, a recorded failure is asked again; its new failure is what a replay raises."""
    script = [{"status": 503}, {"status": 400, "message": "context too long"}]
    with ScriptedLLMServer(script) as server:
        llm = make(server, tmp_path, max_retries=0)
        with pytest.raises(LLMError) as first:
            complete(llm)
        with pytest.raises(LLMError) as second:
            complete(llm)
        assert len(server.chat_requests) == 2
    assert (first.value.status_code, second.value.status_code) == (503, 400)
    assert record_of(tmp_path)["failure"]["status_code"] == 400
    with pytest.raises(LLMError) as replay:
        complete(make(None, tmp_path))
    assert replay.value.status_code == 400 and str(replay.value) == str(second.value)


# -- _store -------------------------------------------------------------------------------


def test_entries_are_written_by_the_clients_own_writer_threads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reply's entry is put by an "LLMClient-cache" writer thread, never on the loop."""
    with ScriptedLLMServer(["Lima"]) as server:
        llm = make(server, tmp_path)
        put, writers = llm.cache.put, []

        def recording_put(key: str, record: dict[str, Any]) -> None:
            writers.append(threading.current_thread().name)
            put(key, record)

        monkeypatch.setattr(llm.cache, "put", recording_put)
        assert complete(llm).text == "Lima"
    assert len(writers) == 1 and writers[0].startswith("LLMClient-cache"), writers
    assert record_of(tmp_path)["text"] == "Lima"


def test_a_reply_that_cannot_be_cached_is_returned_with_a_warning(tmp_path: Path) -> None:
    """A failed cache write (OSError) costs only the entry: the reply, and this warning."""
    with ScriptedLLMServer(["Lima"]) as server:
        llm = make(server, tmp_path)
        (tmp_path / "cache" / KEY[:2]).write_text("a file where the entry folder goes")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reply = complete(llm)
    assert reply.text == "Lima" and not reply.cached
    mine = [w for w in caught if str(w.message).startswith("LLMClient:")]
    assert len(mine) == 1 and mine[0].category is RuntimeWarning, caught
    assert str(mine[0].message).startswith(f"LLMClient: could not cache the reply for {KEY} (")
    assert str(tmp_path / "cache" / KEY[:2]) in str(mine[0].message)  # the OSError, quoted
