"""OpenAIAgent against the real openai SDK and a scripted loopback server."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator

import openai
import pytest
from llm_server import Script, ScriptedLLMServer

from astra_gym.agents import Agent, AgentError, OpenAIAgent
from astra_gym.agents.openai_agent import text_mode_messages, to_api_message

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "get_time", "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}},
]
RESET_MESSAGES = [
    {"role": "system", "content": "You are a helpful agent."},
    {"role": "user", "content": "Weather and time in Paris and Oslo?"},
]
RESET_INFO = {"task_id": "t-1", "tools": TOOLS}


# Fixtures live here, not in tests/agents/conftest.py: with --doctest-modules
# (pyproject addopts) pytest 9 imports every conftest.py as a module named
# "conftest", and one in tests/agents/ (collected before tests/conftest.py)
# makes the whole-suite run fail with "import file mismatch".


@pytest.fixture(autouse=True)
def _no_openai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's OPENAI_* settings from reaching a real endpoint."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def llm_server() -> Iterator[Callable[[Script], ScriptedLLMServer]]:
    """A factory: ``llm_server(script)`` starts a server, closed after the test."""
    servers: list[ScriptedLLMServer] = []

    def start(script: Script) -> ScriptedLLMServer:
        server = ScriptedLLMServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def make_agent(server: ScriptedLLMServer, **kwargs) -> OpenAIAgent:
    kwargs = {"api_key": "sk-test", "max_retries": 0, "timeout": 5, **kwargs}
    return OpenAIAgent("test-model", base_url=server.base_url, **kwargs)


def tool_result(call_id: str, content: str) -> dict:
    # Extra keys (name, metadata) are what an env may add; the API must not see them.
    return {"role": "tool", "tool_call_id": call_id, "name": "get_weather", "content": content,
            "metadata": {"ok": True}}


# -- native mode ----------------------------------------------------------------


def test_native_parallel_tool_calls(llm_server):
    server = llm_server([{"content": None, "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        {"name": "get_time", "arguments": '{"city": "Oslo"}'},
    ]}])
    agent = make_agent(server)
    assert isinstance(agent, Agent)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    action = agent.act(RESET_MESSAGES, RESET_INFO)

    assert action == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function",
         "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'}},
    ]}
    (request,) = server.chat_requests
    assert request.body["model"] == "test-model"
    assert request.body["messages"] == RESET_MESSAGES
    assert request.body["tools"] == TOOLS
    assert request.body["temperature"] == 0.0
    assert "stream" not in request.body
    assert request.headers["authorization"] == "Bearer sk-test"


def test_native_plain_answer_has_no_tool_calls(llm_server):
    server = llm_server(["The answer is 42."])
    agent = make_agent(server)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    assert agent.act(RESET_MESSAGES, RESET_INFO) == {"role": "assistant",
                                                     "content": "The answer is 42."}


def test_native_without_tools_in_info_sends_no_tools(llm_server):
    server = llm_server(["ok"])
    agent = make_agent(server)
    agent.reset(RESET_MESSAGES, {"task_id": "t"})
    agent.act(RESET_MESSAGES, {})
    assert "tools" not in server.chat_requests[0].body


def test_history_accumulates_across_turns(llm_server):
    server = llm_server([
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}},
                        {"name": "get_weather", "arguments": {"city": "Oslo"}}]},
        {"content": "Checking the time.", "tool_calls": [
            {"name": "get_time", "arguments": {"city": "Oslo"}}]},
        "Paris 20C, Oslo 5C, 14:00.",
        "New episode.",
    ])
    agent = make_agent(server, temperature=0.7)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    first = agent.act(RESET_MESSAGES, RESET_INFO)
    step1 = [tool_result("call_1", "20C"), tool_result("call_2", "5C")]
    second = agent.act(step1, {"step": 1})
    step2 = [tool_result("call_3", '"14:00"')]
    third = agent.act(step2, {"step": 2})
    assert third == {"role": "assistant", "content": "Paris 20C, Oslo 5C, 14:00."}

    api_step1 = [{"role": "tool", "tool_call_id": "call_1", "content": "20C"},
                 {"role": "tool", "tool_call_id": "call_2", "content": "5C"}]
    api_step2 = [{"role": "tool", "tool_call_id": "call_3", "content": '"14:00"'}]
    bodies = [r.body for r in server.chat_requests]
    assert bodies[0]["messages"] == RESET_MESSAGES
    assert bodies[1]["messages"] == [*RESET_MESSAGES, first, *api_step1]
    assert bodies[2]["messages"] == [*RESET_MESSAGES, first, *api_step1, second, *api_step2]
    for body in bodies:
        assert body["tools"] == TOOLS
        assert body["model"] == "test-model"
        assert body["temperature"] == 0.7
    assert agent.messages == [*bodies[2]["messages"], third]
    assert all(r.headers["authorization"] == "Bearer sk-test" for r in server.chat_requests)

    # reset starts a fresh conversation
    other = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    agent.reset(other, RESET_INFO)
    agent.act(other, RESET_INFO)
    assert server.chat_requests[3].body["messages"] == other


def test_agent_keeps_its_own_copies(llm_server):
    server = llm_server(["a", "b"])
    agent = make_agent(server)
    messages = [dict(m) for m in RESET_MESSAGES]
    info = {"tools": [dict(t) for t in TOOLS]}
    agent.reset(messages, info)
    messages[1]["content"] = "changed"
    info["tools"].clear()
    action = agent.act(messages, info)
    action["content"] = "mutated by the env"
    agent.act([{"role": "user", "content": "again"}], {})
    sent = server.chat_requests[1].body
    assert sent["messages"][1]["content"] == RESET_MESSAGES[1]["content"]
    assert sent["messages"][2] == {"role": "assistant", "content": "a"}
    assert sent["tools"] == TOOLS


def test_act_without_reset_starts_from_observation(llm_server):
    server = llm_server(["hi"])
    agent = make_agent(server)
    assert agent.act(RESET_MESSAGES, RESET_INFO)["content"] == "hi"
    assert server.chat_requests[0].body["messages"] == RESET_MESSAGES
    assert server.chat_requests[0].body["tools"] == TOOLS


def test_options_are_forwarded(llm_server):
    server = llm_server(["ok"])
    agent = make_agent(server, max_tokens=64, seed=7, extra_body={"top_k": 20},
                       temperature=None)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    agent.act(RESET_MESSAGES, RESET_INFO)
    body = server.chat_requests[0].body
    assert body["max_tokens"] == 64
    assert body["seed"] == 7
    assert body["top_k"] == 20
    assert "temperature" not in body


def test_usage_totals(llm_server):
    server = llm_server([
        {"content": "a", "usage": {"prompt_tokens": 10, "completion_tokens": 3,
                                   "total_tokens": 13}},
        {"content": "b", "usage": None},
        {"content": "c", "usage": {"prompt_tokens": 20, "completion_tokens": 4,
                                   "total_tokens": 24}},
    ])
    agent = make_agent(server)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    for _ in range(3):
        agent.act([{"role": "user", "content": "more"}], {})
    assert agent.usage == {"prompt_tokens": 30, "completion_tokens": 7, "total_tokens": 37,
                           "requests": 3}


# -- text mode ------------------------------------------------------------------


def test_text_mode(llm_server):
    text_call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    server = llm_server([text_call, "Done: 20C."])
    agent = make_agent(server, mode="text")
    agent.reset(RESET_MESSAGES, RESET_INFO)
    assert agent.act(RESET_MESSAGES, RESET_INFO) == text_call
    # What the env returns; the API takes tool messages only after tool_calls.
    observation = [tool_result("call_1_0", "20C"), tool_result("call_1_1", "rain")]
    assert agent.act(observation, {}) == "Done: 20C."
    first, second = (r.body for r in server.chat_requests)
    assert "tools" not in first and "tools" not in second
    results = {"role": "user", "content": "<tool_response>\n20C\n</tool_response>\n"
                                          "<tool_response>\nrain\n</tool_response>"}
    assert second["messages"] == [*RESET_MESSAGES, {"role": "assistant", "content": text_call},
                                  results]


def test_text_mode_ignores_stray_tool_calls(llm_server):
    server = llm_server([{"content": None, "tool_calls": [{"name": "x", "arguments": {}}]}])
    agent = make_agent(server, mode="text")
    agent.reset(RESET_MESSAGES, RESET_INFO)
    assert agent.act(RESET_MESSAGES, RESET_INFO) == ""
    assert agent.messages[-1] == {"role": "assistant", "content": ""}


def test_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        OpenAIAgent("m", base_url="http://127.0.0.1:1/v1", mode="json")


# -- failures -------------------------------------------------------------------


def _failing_act(server, **kwargs) -> AgentError:
    agent = make_agent(server, **kwargs)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    with pytest.raises(AgentError) as caught:
        agent.act(RESET_MESSAGES, RESET_INFO)
    err = caught.value
    assert server.base_url in str(err)
    assert "'test-model'" in str(err)
    assert err.endpoint.rstrip("/") == server.base_url
    assert err.model == "test-model"
    return err


def test_server_error_raises(llm_server):
    err = _failing_act(llm_server([{"status": 500, "message": "backend on fire"}]))
    assert err.status_code == 500
    assert "backend on fire" in str(err)
    assert isinstance(err.__cause__, openai.InternalServerError)


def test_server_error_after_retries(llm_server):
    server = llm_server([{"status": 503}, {"status": 503}, "recovered"])
    agent = OpenAIAgent("test-model", base_url=server.base_url, api_key="k", max_retries=1,
                        timeout=5)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    with pytest.raises(AgentError, match="HTTP 503"):
        agent.act(RESET_MESSAGES, RESET_INFO)
    assert len(server.chat_requests) == 2


def test_client_error_raises(llm_server):
    err = _failing_act(llm_server([{"status": 400, "message": "bad tools"}]))
    assert err.status_code == 400


@pytest.mark.parametrize("reply", [
    {"raw": "not json"},
    {"raw": "not json", "content_type": "text/plain"},
    {"raw": "{}"},
    {"raw": '{"choices": []}'},
    {"raw": '{"choices": "x"}'},
    {"raw": '{"choices": [{"index": 0}]}'},
    {"raw": '{"choices": [{"index": 0, "message": {"role": "assistant", "content": 3}}]}'},
], ids=["json-garbage", "text-garbage", "empty-object", "no-choices", "choices-str",
        "no-message", "content-int"])
def test_garbage_body_raises(llm_server, reply):
    err = _failing_act(llm_server([reply]))
    assert "unparsable response" in str(err)
    assert err.status_code is None


def test_tool_call_without_name_raises(llm_server):
    body = {"choices": [{"index": 0, "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "c", "type": "function", "function": {"arguments": "{}"}}]}}]}
    err = _failing_act(llm_server([{"raw": json.dumps(body)}]))
    assert "tool call #0" in str(err)


def test_exhausted_script_raises(llm_server):
    server = llm_server(["only one"])
    agent = make_agent(server)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    agent.act(RESET_MESSAGES, RESET_INFO)
    with pytest.raises(AgentError, match="script exhausted") as caught:
        agent.act([{"role": "user", "content": "more"}], {})
    assert caught.value.status_code == 500


def test_timeout_raises(llm_server):
    err = _failing_act(llm_server([{"delay": 2, "content": "too late"}]), timeout=0.3)
    assert "APITimeoutError" in str(err)


def test_connection_refused_raises():
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = OpenAIAgent("test-model", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0,
                        timeout=2)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    with pytest.raises(AgentError, match="APIConnectionError") as caught:
        agent.act(RESET_MESSAGES, RESET_INFO)
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_failed_turn_can_be_retried(llm_server):
    server = llm_server(["first", {"status": 500}, "second"])
    agent = make_agent(server)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    agent.act(RESET_MESSAGES, RESET_INFO)
    observation = [{"role": "user", "content": "go on"}]
    with pytest.raises(AgentError):
        agent.act(observation, {})
    history = list(agent.messages)
    assert agent.act(observation, {})["content"] == "second"
    assert server.chat_requests[1].body["messages"] == server.chat_requests[2].body["messages"]
    assert agent.messages == [*history, *observation, {"role": "assistant", "content": "second"}]


# -- construction ---------------------------------------------------------------


def test_missing_api_key_with_base_url_uses_empty(llm_server):
    server = llm_server(["ok"])
    agent = OpenAIAgent("test-model", base_url=server.base_url, max_retries=0)
    agent.reset(RESET_MESSAGES, RESET_INFO)
    assert agent.act(RESET_MESSAGES, RESET_INFO)["content"] == "ok"
    assert server.chat_requests[0].headers["authorization"] == "Bearer EMPTY"


def test_env_vars_give_base_url_and_key(llm_server, monkeypatch):
    server = llm_server(["ok"])
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    agent = OpenAIAgent("test-model", max_retries=0)
    assert agent.endpoint.rstrip("/") == server.base_url
    agent.reset(RESET_MESSAGES, RESET_INFO)
    agent.act(RESET_MESSAGES, RESET_INFO)
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_missing_api_key_without_base_url_raises():
    with pytest.raises(AgentError, match="OPENAI_API_KEY"):
        OpenAIAgent("gpt-4o-mini")


def test_injected_client(llm_server):
    server = llm_server(["via client"])
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-client", max_retries=0)
    agent = OpenAIAgent("test-model", client=client)
    assert agent.client is client
    agent.reset(RESET_MESSAGES, RESET_INFO)
    assert agent.act(RESET_MESSAGES, RESET_INFO)["content"] == "via client"
    assert server.chat_requests[0].headers["authorization"] == "Bearer sk-client"


def test_missing_openai_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # makes `import openai` fail
    with pytest.raises(ImportError, match=r'pip install "astra-gym\[openai\]"'):
        OpenAIAgent("m", base_url="http://127.0.0.1:1/v1")


def test_import_does_not_load_openai():
    code = ("import sys, astra_gym.agents as a\n"
            "assert 'openai' not in sys.modules, 'import astra_gym.agents loaded openai'\n"
            "assert {'Agent', 'Action', 'Message', 'OpenAIAgent'} <= set(a.__all__)\n"
            "a.OpenAIAgent\n"
            "assert 'openai' not in sys.modules, 'resolving OpenAIAgent loaded openai'\n"
            "from astra_gym.agents import AgentError\n"
            "assert issubclass(AgentError, RuntimeError)\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute():
    import astra_gym.agents

    with pytest.raises(AttributeError):
        astra_gym.agents.NoSuchAgent  # noqa: B018


def test_to_api_message():
    assert to_api_message({"role": "tool", "tool_call_id": "c", "content": {"x": 1},
                           "name": "f"}) == {"role": "tool", "tool_call_id": "c",
                                             "content": '{"x": 1}'}
    assert to_api_message({"role": "assistant", "content": None, "tool_calls": [],
                           "reasoning": "..."}) == {"role": "assistant", "content": ""}
    assert to_api_message({"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}) == {
        "role": "assistant", "content": None, "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]}
    with pytest.raises(ValueError, match="tool_call_id"):
        to_api_message({"role": "tool", "content": "x"})
    with pytest.raises(ValueError, match="role"):
        to_api_message({"content": "x"})


def test_text_mode_messages():
    messages = [{"role": "user", "content": "q"},
                {"role": "tool", "tool_call_id": "a", "content": "1"},
                {"role": "assistant", "content": "more"},
                {"role": "tool", "tool_call_id": "b", "content": {"x": 1}, "name": "f"}]
    assert text_mode_messages(messages) == [
        {"role": "user", "content": "q"},
        {"role": "user", "content": "<tool_response>\n1\n</tool_response>"},
        {"role": "assistant", "content": "more"},
        {"role": "user", "content": '<tool_response>\n{"x": 1}\n</tool_response>'}]


# -- the test server itself ---------------------------------------------------------


def test_server_streaming_with_sdk(llm_server):
    server = llm_server([{"content": "Let me look that up for you.", "tool_calls": [
        {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        {"name": "get_time", "arguments": {"city": "Oslo"}},
    ]}])
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5)
    stream = client.chat.completions.create(
        model="test-model", messages=RESET_MESSAGES, tools=TOOLS, stream=True,
        stream_options={"include_usage": True})
    content, calls, roles, finish, usage, pieces = "", {}, [], None, None, 0
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk"
        if not chunk.choices:
            usage = chunk.usage
            continue
        choice = chunk.choices[0]
        if choice.delta.role:
            roles.append(choice.delta.role)
        content += choice.delta.content or ""
        for fragment in choice.delta.tool_calls or []:
            pieces += 1
            call = calls.setdefault(fragment.index, {"id": None, "name": None, "arguments": ""})
            if fragment.id:
                call["id"] = fragment.id
            if fragment.function and fragment.function.name:
                call["name"] = fragment.function.name
            if fragment.function and fragment.function.arguments:
                call["arguments"] += fragment.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason
    assert roles == ["assistant"]
    assert content == "Let me look that up for you."
    assert finish == "tool_calls"
    assert pieces > 2  # the arguments really came in fragments
    assert calls == {
        0: {"id": "call_1", "name": "get_weather",
            "arguments": '{"city": "Paris", "unit": "celsius"}'},
        1: {"id": "call_2", "name": "get_time", "arguments": '{"city": "Oslo"}'},
    }
    assert usage is not None and usage.completion_tokens > 0
    assert server.chat_requests[0].body["stream"] is True


def test_server_streaming_helper_reassembles(llm_server):
    server = llm_server([{"content": "Hello there, streaming world."}])
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5)
    with client.chat.completions.stream(model="m", messages=RESET_MESSAGES) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there, streaming world."
    assert final.choices[0].finish_reason == "stop"


def test_server_callable_script():
    seen = []

    def script(body):
        seen.append(body)
        last = body["messages"][-1]["content"]
        if last == "fail":
            return {"status": 502}
        if last == "boom":
            raise RuntimeError("script bug")
        return {"content": f"echo: {last}", "usage": None}

    with ScriptedLLMServer(script) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5)

        def ask(text):
            return client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": text}])

        for text in ("a", "b", "c"):
            reply = ask(text)
            assert reply.choices[0].message.content == f"echo: {text}"
            assert reply.usage is None
        with pytest.raises(openai.InternalServerError) as caught:
            ask("fail")
        assert caught.value.status_code == 502
        with pytest.raises(openai.InternalServerError, match="script bug"):
            ask("boom")
        assert [b["messages"][-1]["content"] for b in seen] == ["a", "b", "c", "fail", "boom"]
        assert server.remaining == 0
        assert len(server.requests) == 5
    # closed: the port no longer answers
    with pytest.raises(openai.APIConnectionError):
        ask("after close")


def test_server_list_script_and_models(llm_server):
    server = llm_server(["one", {"delay": 0.05, "content": "two"}])
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0, timeout=5)
    assert [m.id for m in client.models.list()] == ["scripted-model"]
    assert server.remaining == 2
    for expected in ("one", "two"):
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}])
        assert reply.choices[0].message.content == expected
        assert reply.model == "m"
    assert server.remaining == 0
    assert [r.path for r in server.requests] == ["/v1/models", "/v1/chat/completions",
                                                 "/v1/chat/completions"]
    assert len(server.chat_requests) == 2


def test_server_handles_concurrent_burst(llm_server):
    server = llm_server(lambda body: body["messages"][0]["content"].upper())
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="k", max_retries=0,
                                timeout=10)

    async def burst():
        async with client:
            return await asyncio.gather(*(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"msg {i}"}])
                for i in range(50)))

    replies = asyncio.run(burst())
    assert [r.choices[0].message.content for r in replies] == [f"MSG {i}" for i in range(50)]
    assert len(server.chat_requests) == 50


def test_native_mode_never_sends_the_text_calling_prompt(llm_server):
    from astra_gym.env import DEFAULT_SYSTEM_PROMPT

    messages = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, RESET_MESSAGES[1]]
    server = llm_server(["It is sunny.", "It is sunny."])
    native = make_agent(server)
    native.reset(messages, RESET_INFO)
    native.act(messages, RESET_INFO)
    text = make_agent(server, mode="text")
    text.reset(messages, RESET_INFO)
    text.act(messages, RESET_INFO)
    native_body, text_body = (request.body for request in server.chat_requests)
    assert native_body["tools"] and "<tool_call>" not in native_body["messages"][0]["content"]
    assert "<tool_call>" in text_body["messages"][0]["content"]  # text mode needs it
    custom = [{"role": "system", "content": "Use <tool_call> blocks, please."}, messages[1]]
    native.reset(custom, RESET_INFO)
    assert native.messages[0]["content"] == custom[0]["content"]  # a custom prompt is kept
