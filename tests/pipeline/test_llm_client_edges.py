"""Failing-direction edges of the LLM client's response reading and retry policy (issue 19).

``test_llm_client.py`` drives the client against a local HTTP server; these tests pin the
small rules underneath one at a time: what makes a reply unusable (and what the error
says), which failures are transient, how long a retry waits, and what goes into a cache
record (usage counts, the schema fingerprint).
"""

from __future__ import annotations

import hashlib
import json
import random
from types import SimpleNamespace

import httpx
import openai
import pytest

from synth.llm import client as llm
from synth.llm.client import MAX_BACKOFF, LLMClient


def reply(content="hi", tool_calls=None, finish_reason="stop", usage=None, refusal=None):
    message = {"role": "assistant", "content": content, "tool_calls": tool_calls,
               "refusal": refusal}
    return {"choices": [{"message": message, "finish_reason": finish_reason}], "usage": usage}


def unusable(response) -> str:
    with pytest.raises(llm._Unusable) as caught:
        llm._read(response)
    return str(caught.value)


# -- reading a reply ---------------------------------------------------------------------

@pytest.mark.parametrize("response", [None, "a string", b"bytes"])
def test_a_reply_that_is_no_object_is_unusable_and_quoted(response):
    assert unusable(response) == f"the response is not a chat completion: {response!r}"


def test_the_quoted_reply_is_clipped_to_120_characters():
    message = unusable("x" * 500)
    quoted = message.removeprefix("the response is not a chat completion: ")
    assert len(quoted) == 120 and quoted.endswith("...")


@pytest.mark.parametrize("response, message", [
    ({}, "the response has no choices"),
    ({"choices": []}, "the response has no choices"),
    ({"choices": {"0": {}}}, "the response has no choices"),
    ({"choices": [{"finish_reason": "stop"}]}, "the response's first choice has no message"),
    ({"choices": [{"message": "hi"}]}, "the response's first choice has no message"),
    (reply(content=["part"]), "the message content is list, not text"),
    (reply(content=""), "empty reply (finish_reason 'stop')"),
    (reply(content=None, finish_reason="length"), "empty reply (finish_reason 'length')"),
    (reply(content=None, refusal="I can't help with that."),
     "the model refused: I can't help with that."),
])
def test_what_makes_a_reply_unusable(response, message):
    assert unusable(response) == message


def test_a_long_refusal_is_clipped_to_200_characters():
    message = unusable(reply(content=None, refusal="no " * 200))
    assert len(message.removeprefix("the model refused: ")) == 200


def test_a_reply_is_read_from_plain_dicts_and_from_sdk_objects_alike():
    usage = {"prompt_tokens": 3, "completion_tokens": 5, "cached": True, "details": {"x": 1}}
    plain = reply(content="hello", usage=usage)
    assert llm._read(plain) == ("hello", "stop", [], {"prompt_tokens": 3,
                                                      "completion_tokens": 5}, None)
    objects = SimpleNamespace(
        choices=[SimpleNamespace(message=SimpleNamespace(content="hello", tool_calls=None),
                                 finish_reason="stop")],
        usage=SimpleNamespace(model_dump=lambda: dict(usage)))
    assert llm._read(objects) == llm._read(plain)


def test_tool_calls_alone_are_a_usable_reply_with_empty_text():
    calls = [{"id": "c1", "function": {"name": "f", "arguments": "{}"}},
             {"function": {"name": "g", "arguments": '{"a": 1}'}}]
    text, finish, tool_calls, usage, _ = llm._read(reply(content=None, tool_calls=calls,
                                                         finish_reason="tool_calls"))
    assert (text, finish, usage) == ("", "tool_calls", {})
    assert tool_calls == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {"id": "call_1", "type": "function", "function": {"name": "g", "arguments": '{"a": 1}'}}]


@pytest.mark.parametrize("fields, expected", [
    ({"reasoning_content": "plan first"}, "plan first"),  # vLLM, DeepSeek
    ({"reasoning": "plan first"}, "plan first"),          # newer servers
    ({"reasoning_content": "a", "reasoning": "b"}, "a"),
    ({"reasoning_content": ""}, None),
    ({"reasoning_content": 7}, None),                      # not text: not reasoning
    ({}, None),
])
def test_reasoning_beside_the_content_is_read(fields, expected):
    response = reply(content="hello")
    response["choices"][0]["message"].update(fields)
    assert llm._read(response)[4] == expected


def test_reasoning_alone_is_still_an_empty_reply():
    response = reply(content=None)
    response["choices"][0]["message"]["reasoning_content"] = "thinking, but no answer"
    with pytest.raises(llm._Unusable, match="empty reply"):
        llm._read(response)


@pytest.mark.parametrize("call, message", [
    ({"id": "c"}, "tool call #0 has no function name"),
    ({"function": {"name": "", "arguments": "{}"}}, "tool call #0 has no function name"),
    ({"function": {"name": 7, "arguments": "{}"}}, "tool call #0 has no function name"),
    ({"function": {"name": "f"}}, "tool call #0 (f) has no JSON-string arguments"),
    ({"function": {"name": "f", "arguments": {"a": 1}}},
     "tool call #0 (f) has no JSON-string arguments"),
])
def test_a_tool_call_without_a_name_or_string_arguments_is_unusable(call, message):
    assert unusable(reply(content="text too", tool_calls=[call])) == message


def test_a_numeric_tool_call_id_becomes_a_string():
    call = {"id": 12, "function": {"name": "f", "arguments": "{}"}}
    assert llm._tool_call(call, 3)["id"] == "12"
    assert llm._tool_call({**call, "id": ""}, 3)["id"] == "call_3"


@pytest.mark.parametrize("usage, counts", [
    (None, {}),
    ({"prompt_tokens": 0, "total_tokens": 9, "flag": False, 1: 5, "ratio": 0.5},
     {"prompt_tokens": 0, "total_tokens": 9}),
    (SimpleNamespace(prompt_tokens=4), {}),  # an object without model_dump: nothing usable
])
def test_usage_keeps_only_integer_counts_under_string_names(usage, counts):
    assert llm._usage(usage) == counts


def test_a_count_is_a_non_negative_int_not_a_bool():
    assert llm._is_count(0) and llm._is_count(7)
    assert not llm._is_count(-1) and not llm._is_count(True) and not llm._is_count(2.0)


def test_the_schema_fingerprint_is_the_canonical_json_digest():
    schema = {"type": "object", "properties": {"città": {"type": "string"}}}
    reordered = {"properties": {"città": {"type": "string"}}, "type": "object"}
    canonical = '{"properties":{"città":{"type":"string"}},"type":"object"}'
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
    assert llm._schema_digest(schema) == llm._schema_digest(reordered) == digest
    assert llm._schema_digest(None) is None
    assert llm._schema_digest({}) == hashlib.sha256(b"{}").hexdigest()[:16]


def test_an_exception_is_described_by_its_type_and_clipped_to_300_characters():
    assert llm._describe(KeyError()) == "KeyError: KeyError"
    assert llm._describe(ValueError("bad")) == "ValueError: bad"
    long = llm._describe(ValueError("x" * 400))
    assert len(long) == 300 and long.startswith("ValueError: xxx") and long.endswith("...")


# -- retries -----------------------------------------------------------------------------

def failure(headers=None, response=True):
    return SimpleNamespace(response=SimpleNamespace(headers=headers) if response else None)


@pytest.mark.parametrize("exc, seconds", [
    (failure({"retry-after": "2.5"}), 2.5),
    (failure({"retry-after": "0"}), 0.0),
    (failure({"retry-after": "-1"}), None),
    (failure({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}), None),
    (failure({}), None),
    (failure(None), None),
    (failure(response=False), None),
    (ValueError("no response at all"), None),
])
def test_retry_after_is_read_in_seconds_form_only(exc, seconds):
    assert llm._retry_after(exc) == seconds


def client(**kwargs):
    return LLMClient("m", base_url="http://127.0.0.1:9/v1", **kwargs)


def test_backoff_doubles_per_retry_with_jitter_between_half_and_full():
    c = client(backoff=1.0)
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 30.0), (9, 30.0)]:
        low = c._delay(retry, _FixedRandom(0.0), None)
        high = c._delay(retry, _FixedRandom(1.0), None)
        assert (low, high) == (base * 0.5, base), retry
        middle = c._delay(retry, random.Random(retry), None)
        assert base * 0.5 <= middle <= base


def test_retry_after_raises_the_wait_but_never_past_the_cap():
    c = client(backoff=1.0)
    assert c._delay(1, _FixedRandom(1.0), 5.0) == 5.0
    assert c._delay(1, _FixedRandom(1.0), 0.2) == 1.0  # never shorter than the backoff
    assert c._delay(1, _FixedRandom(0.0), 1000.0) == MAX_BACKOFF


class _FixedRandom(random.Random):
    def __init__(self, value):
        super().__init__(0)
        self.value = value

    def random(self):
        return self.value


def status_error(status, headers=None):
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx.Response(status, headers=headers or {}, request=request,
                              content=b'{"error": {"message": "nope"}}')
    return openai.APIStatusError("nope", response=response, body=None)


@pytest.mark.parametrize("status, transient", [
    (400, False), (401, False), (404, False), (408, True), (409, False), (422, False),
    (429, True), (499, False), (500, True), (503, True),
])
def test_which_http_statuses_are_retried(status, transient):
    verdict = client()._classify(status_error(status, {"retry-after": "3"}))
    assert verdict is not None
    assert verdict[0] is transient and verdict[2] == status
    assert verdict[1].startswith(f"HTTP {status} (APIStatusError: ")
    assert verdict[3] == (3.0 if transient else None)  # Retry-After only matters for a retry


def test_timeouts_connection_errors_and_non_json_bodies_are_transient():
    c = client(timeout=7.5)
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    assert c._classify(TimeoutError()) == (True, "timed out after 7.5 s", None, None)
    assert c._classify(openai.APITimeoutError(request=request)) == (
        True, "timed out after 7.5 s", None, None)
    transient, reason, status, after = c._classify(openai.APIConnectionError(request=request))
    assert (transient, status, after) == (True, None, None)
    assert reason.startswith("connection error (APIConnectionError: ")
    transient, reason, status, after = c._classify(json.JSONDecodeError("bad", "x", 0))
    assert (transient, status, after) == (True, None, None)
    assert reason.startswith("the response body is not JSON (JSONDecodeError: ")


def test_other_sdk_errors_fail_at_once_and_bugs_are_not_request_failures():
    c = client()
    transient, reason, status, after = c._classify(openai.OpenAIError("misconfigured"))
    assert (transient, reason, status, after) == (
        False, "request failed (OpenAIError: misconfigured)", None, None)
    assert c._classify(TypeError("unexpected keyword")) is None
    assert c._classify(KeyError("x")) is None


def test_a_bool_status_code_is_not_an_http_status():
    exc = RuntimeError("odd")
    exc.status_code = True
    assert client()._classify(exc) is None


def test_a_response_the_sdk_cannot_validate_is_transient():
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx.Response(200, request=request, content=b"[]")
    exc = openai.APIResponseValidationError(response=response, body=[])
    transient, reason, status, after = client()._classify(exc)
    assert (transient, status, after) == (True, None, None)
    assert reason.startswith("the response is not a chat completion "
                             "(APIResponseValidationError: ")


def test_an_sdk_object_without_optional_fields_is_read_without_error():
    # SDK models may lack attributes such as refusal or usage: they read as absent
    bare = SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=None),
                                                    finish_reason="stop")])
    assert unusable(bare) == "empty reply (finish_reason 'stop')"
    ok = SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content="hi"))])
    assert llm._read(ok)[:4] == ("hi", None, [], {})
