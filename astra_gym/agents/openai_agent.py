"""An agent backed by any OpenAI-compatible chat completions endpoint.

Works with the OpenAI API and with local servers that speak its protocol
(vLLM, SGLang, llama.cpp, Ollama, ...). The ``openai`` package is an optional
dependency (``pip install "astra-gym[openai]"``), imported only when an
:class:`OpenAIAgent` is built.

Two modes:

* ``"native"``: the env's OpenAI tool list (``info["tools"]``) goes to the API
  as ``tools``, and the agent answers with the assistant message dict,
  ``tool_calls`` included. The model then calls tools through the API, so a
  system prompt asking for ``<tool_call>`` text would contradict it: make the
  env with ``system_prompt=NATIVE_SYSTEM_PROMPT`` (``astra-gym run`` does), and
  the agent itself swaps the env's default text-calling prompt for it.
* ``"text"``: no ``tools`` parameter; the env's system prompt already tells
  the model how to write calls as text, and the agent answers with the text.
  The env's ``role: "tool"`` results are sent as one user message of
  ``<tool_response>`` blocks (the Hermes convention), since the API accepts
  tool messages only after an assistant message with ``tool_calls``.

  With ``call_format`` (one of :data:`~astra_gym.parsers.CALL_FORMATS`), text
  mode writes and reads that family's native format: the env's default
  text-calling prompt is swapped for one that shows the format
  (:func:`text_system_prompt`), calls a server-side tool parser returned as
  ``tool_calls`` are written back into the text in that format
  (:func:`~astra_gym.parsers.render_calls`), and :attr:`OpenAIAgent.action_format`
  is the env's ``action_format`` that reads them. Serve the model with its
  special tokens kept in the output (vLLM/SGLang: ``skip_special_tokens:
  false``), or markers such as ``<|python_tag|>`` never reach the env.

Example (not run as a doctest; it needs a server)::

    agent = OpenAIAgent("Qwen/Qwen3-8B", base_url="http://localhost:8000/v1")
    observation, info = env.reset(seed=0)
    agent.reset(observation, info)
    while True:
        observation, reward, terminated, truncated, info = env.step(
            agent.act(observation, info))
        if terminated or truncated:
            break
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from .base import Action, Message

__all__ = ["NATIVE_SYSTEM_PROMPT", "AgentError", "OpenAIAgent", "text_mode_messages",
           "text_system_prompt", "to_api_message"]

_MODES = ("native", "text")
#: The ``action_format`` that reads a rendered variant (the others read themselves).
_READERS = {"mistral_v3": "mistral", "deepseek_v3": "deepseek", "deepseek_v32": "deepseek"}

NATIVE_SYSTEM_PROMPT = (
    "You are a helpful assistant. Answer the user's question by calling the tools you are "
    "given; tool results come back in the next messages. You may call several tools in one "
    "turn.\n"
    "When you know the answer, reply with the answer and no tool call."
)
"""The system prompt for native tool calling: no ``<tool_call>`` text format."""
_INSTALL_HINT = 'OpenAIAgent needs the openai package: pip install "astra-gym[openai]"'

#: The keys the chat completions API accepts, per message role; others are dropped.
_API_KEYS: dict[str, frozenset[str]] = {
    "system": frozenset({"role", "content", "name"}),
    "developer": frozenset({"role", "content", "name"}),
    "user": frozenset({"role", "content", "name"}),
    "assistant": frozenset({"role", "content", "name", "tool_calls", "refusal", "audio",
                            "function_call"}),
    "tool": frozenset({"role", "content", "tool_call_id"}),
    "function": frozenset({"role", "content", "name"}),
}


class AgentError(RuntimeError):
    """The model endpoint failed, or gave an answer that cannot be used.

    Raised instead of ever returning an empty answer on failure.

    Attributes:
        endpoint: The base URL the agent talks to.
        model: The model name requested.
        status_code: The HTTP status, when the server answered with an error.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, model: str | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.model = model
        self.status_code = status_code


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from an SDK model or from a plain dict."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _arguments_json(arguments: Any) -> str:
    """Tool-call arguments as the JSON string the API expects."""
    if isinstance(arguments, str):
        return arguments
    return json.dumps({} if arguments is None else arguments)


def _api_tool_call(call: Any) -> dict[str, Any]:
    """One history tool call in API form (``id``, ``type``, ``function``)."""
    function = _get(call, "function") or {}
    return {"id": str(_get(call, "id")), "type": "function",
            "function": {"name": _get(function, "name"),
                         "arguments": _arguments_json(_get(function, "arguments"))}}


def to_api_message(message: Mapping[str, Any]) -> Message:
    """A copy of ``message`` that the chat completions API accepts.

    Keys the API does not know for the role are dropped (tool messages keep
    ``tool_call_id``), tool-call arguments become JSON strings, non-string tool
    results become JSON, and an assistant message with neither text nor tool
    calls gets ``""`` as content.

    Args:
        message: An OpenAI-format chat message, possibly with extra keys.

    Returns:
        A new dict.

    Raises:
        ValueError: The message has no ``role``, or a tool message has no
            ``tool_call_id``.
    """
    role = message.get("role")
    if not isinstance(role, str):
        raise ValueError(f"chat message without a role: {message!r}")
    allowed = _API_KEYS.get(role)
    out: Message = {k: copy.deepcopy(v) for k, v in message.items()
                    if allowed is None or k in allowed}
    if role == "tool":
        if not out.get("tool_call_id"):
            raise ValueError(f"tool message without tool_call_id: {message!r}")
        content = out.get("content")
        if content is None:
            out["content"] = ""
        elif not isinstance(content, str | list):
            out["content"] = json.dumps(content)
    elif role == "assistant":
        calls = out.pop("tool_calls", None)
        if calls:
            out["tool_calls"] = [_api_tool_call(call) for call in calls]
        elif out.get("content") is None:
            out["content"] = ""
        for key in ("refusal", "audio", "function_call"):
            if out.get(key) is None:
                out.pop(key, None)
    return out


def _native_system(message: Message) -> Message:
    """``message``, with the env's default text-calling system prompt swapped for the native one.

    Only the exact default is swapped: a custom system prompt is the user's choice.
    """
    from ..env import DEFAULT_SYSTEM_PROMPT

    if message.get("role") == "system" and isinstance(message.get("content"), str) \
            and message["content"].startswith(DEFAULT_SYSTEM_PROMPT):
        rest = message["content"][len(DEFAULT_SYSTEM_PROMPT):]
        return {**message, "content": NATIVE_SYSTEM_PROMPT + rest}
    return message


def text_system_prompt(call_format: str) -> str:
    """A system prompt that asks for tool calls in one family's native format, with an example.

    Args:
        call_format: One of :data:`~astra_gym.parsers.CALL_FORMATS`.

    Returns:
        The prompt; its example is written by :func:`~astra_gym.parsers.render_calls`,
        so the env reads it back.

    Example:
        >>> print(text_system_prompt("mistral").splitlines()[2])
        [TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "days": 3}
    """
    from ..parsers import render_calls

    example = render_calls([("get_weather", {"city": "Paris", "days": 3})], call_format)
    return ("You are a helpful assistant. Answer the user's question by calling the tools you "
            "are given; tool results come back in the next message.\n"
            "To call a tool, write the call in this format (here get_weather with city "
            "\"Paris\" and days 3):\n"
            f"{example}\n"
            "You may make several calls in one turn.\n"
            "When you know the answer, reply with the answer and no tool call.")


def _text_system(message: Message, call_format: str) -> Message:
    """``message``, with the env's default text-calling prompt swapped for ``call_format``'s."""
    from ..env import DEFAULT_SYSTEM_PROMPT

    if message.get("role") == "system" and isinstance(message.get("content"), str) \
            and message["content"].startswith(DEFAULT_SYSTEM_PROMPT):
        rest = message["content"][len(DEFAULT_SYSTEM_PROMPT):]
        return {**message, "content": text_system_prompt(call_format) + rest}
    return message


def text_mode_messages(messages: list[Message]) -> list[Message]:
    """``messages`` in API form, each run of tool results merged into one user message.

    For text mode, where the assistant turns carry no ``tool_calls`` for tool
    messages to answer. Each result becomes a ``<tool_response>`` block.

    Args:
        messages: OpenAI-format chat messages.

    Returns:
        New message dicts.
    """
    out: list[Message] = []
    pending: list[str] = []
    for message in messages:
        api = to_api_message(message)
        if api["role"] == "tool":
            content = api["content"]
            if not isinstance(content, str):
                content = json.dumps(content)
            pending.append(f"<tool_response>\n{content}\n</tool_response>")
            continue
        if pending:
            out.append({"role": "user", "content": "\n".join(pending)})
            pending = []
        out.append(api)
    if pending:
        out.append({"role": "user", "content": "\n".join(pending)})
    return out


class OpenAIAgent:
    """Plays an astra env with a model behind an OpenAI-compatible endpoint.

    Implements the :class:`~astra_gym.agents.base.Agent` protocol. It keeps the
    whole conversation and sends it on every turn.

    Args:
        model: The model name the endpoint serves.
        base_url: The API base URL, e.g. ``http://localhost:8000/v1``.
            Defaults to ``OPENAI_BASE_URL``, else the OpenAI API.
        api_key: Defaults to ``OPENAI_API_KEY``; when that is unset too and a
            base URL is given, ``"EMPTY"`` (local servers ignore it).
        mode: ``"native"`` (send the env's tools, answer with the assistant
            message dict) or ``"text"`` (no tools, answer with the text).
        call_format: Text mode only: the family format the model writes its
            calls in (one of :data:`~astra_gym.parsers.CALL_FORMATS`); see the
            module docstring. ``None`` (default) leaves the text as the model
            wrote it and the env's prompt as it is.
        temperature: Sampling temperature; ``None`` leaves it to the server.
        max_tokens: The completion length cap, sent as ``max_tokens`` (the
            widely supported name; pass ``extra_body={"max_completion_tokens":
            n}`` for models that want the newer one).
        timeout: Seconds per request.
        max_retries: SDK retries on connection errors, 408/409/429 and 5xx.
        seed: Sent as ``seed`` when given.
        extra_body: Extra JSON fields for every request (server-specific
            options such as ``{"top_k": 20}``).
        client: A ready client with ``chat.completions.create`` (e.g. an
            ``openai.OpenAI``); when given, ``base_url``, ``api_key``,
            ``timeout`` and ``max_retries`` are not used, and the openai
            package is not imported.

    Attributes:
        messages: The conversation so far, in API form.
        tools: The tools sent in native mode (``None`` in text mode or when
            the env gives none).
        usage: Token totals over the agent's life, as the server reports them:
            ``prompt_tokens``, ``completion_tokens``, ``total_tokens``, and
            ``requests`` (successful calls).
        last_response: The last raw response object.
        timeout: Seconds per request (named in the error when a request times out).

    Raises:
        ImportError: The openai package is not installed (the message says how
            to install it).
        ValueError: ``mode`` is not ``"native"`` or ``"text"``, or
            ``call_format`` is unknown or given in native mode.
        AgentError: No API key could be found for the OpenAI API.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 mode: str = "native", temperature: float | None = 0.0,
                 max_tokens: int | None = None, timeout: float = 60.0, max_retries: int = 2,
                 seed: int | None = None, extra_body: dict[str, Any] | None = None,
                 client: Any = None, call_format: str | None = None) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")
        if call_format is not None:
            from ..parsers import CALL_FORMATS

            if mode != "text":
                raise ValueError("call_format is for text mode: in native mode the server "
                                 "parses the calls")
            if call_format not in CALL_FORMATS:
                raise ValueError(f"unknown call_format {call_format!r}; choose one of "
                                 f"{', '.join(CALL_FORMATS)}")
        self.model = model
        self.mode = mode
        self.call_format = call_format
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.seed = seed
        self.extra_body = dict(extra_body) if extra_body else None
        self.messages: list[Message] = []
        self.tools: list[dict[str, Any]] | None = None
        self.usage: dict[str, int] = {"prompt_tokens": 0, "completion_tokens": 0,
                                      "total_tokens": 0, "requests": 0}
        self.last_response: Any = None
        self.timeout = timeout
        self._first_turn = False
        self._started = False

        if client is not None:
            self.client = client
            endpoint = _get(client, "base_url") or base_url or "<custom client>"
            self.endpoint = str(endpoint).rstrip("/")
            return
        try:
            import openai
        except ImportError as exc:
            raise ImportError(_INSTALL_HINT) from exc
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if api_key is None:
            if base_url is None:
                raise AgentError(
                    "OpenAIAgent: no API key; pass api_key=, set OPENAI_API_KEY, or give "
                    "base_url= for a local server", endpoint="https://api.openai.com/v1",
                    model=model)
            api_key = "EMPTY"
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout,
                                    max_retries=max_retries)
        self.endpoint = str(self.client.base_url).rstrip("/")

    def __repr__(self) -> str:
        fmt = f", call_format={self.call_format!r}" if self.call_format else ""
        return (f"OpenAIAgent({self.model!r}, endpoint={self.endpoint!r}, "
                f"mode={self.mode!r}{fmt})")

    @property
    def action_format(self) -> str:
        """The env's ``action_format`` that reads this agent's turns.

        ``openai`` in native mode, the family's format with a ``call_format``,
        else ``auto``.
        """
        if self.mode == "native":
            return "openai"
        if self.call_format is None:
            return "auto"
        return _READERS.get(self.call_format, self.call_format)

    # -- Agent protocol -------------------------------------------------------

    def reset(self, observation: list[Message], info: dict[str, Any]) -> None:
        """Start an episode: keep a copy of the messages and the env's tools.

        Args:
            observation: The messages ``env.reset()`` returned (system + user).
            info: The reset info; ``info["tools"]`` is the OpenAI tool list.

        Raises:
            ValueError: A message is not a valid chat message.
        """
        self.messages = self._api_messages(observation)
        if self.mode == "native":
            self.messages = [_native_system(message) for message in self.messages]
        elif self.call_format is not None:
            self.messages = [_text_system(message, self.call_format)
                             for message in self.messages]
        tools = info.get("tools") if self.mode == "native" else None
        self.tools = copy.deepcopy(list(tools)) if tools else None
        self._first_turn = True
        self._started = True

    def act(self, observation: list[Message], info: dict[str, Any]) -> Action:
        """Send the conversation to the model and return its turn.

        Args:
            observation: ``reset``'s messages on the first turn (already stored,
                so not added again), then each step's new tool messages (in
                text mode sent as a user message, see :func:`text_mode_messages`).
            info: The matching info dict (unused after ``reset``).

        Returns:
            In native mode the assistant message dict (``role``, ``content`` and,
            when the model called tools, ``tool_calls`` with JSON-string
            arguments); in text mode the assistant text.

        Raises:
            AgentError: The request failed (connection, timeout, HTTP error
                after retries) or the response is unusable.
        """
        if not self._started:
            self.reset(observation, info)
        history = list(self.messages)
        if not self._first_turn:
            history.extend(self._api_messages(observation))
        message = self._complete(history)
        # Committed only on success, so a failed turn can be retried as is.
        self.messages = [*history, copy.deepcopy(message)]
        self._first_turn = False
        if self.mode == "text":
            return message.get("content") or ""
        return message

    # -- internals -------------------------------------------------------------

    def _api_messages(self, messages: list[Message]) -> list[Message]:
        if self.mode == "text":
            return text_mode_messages(messages)
        return [to_api_message(m) for m in messages]

    def _error(self, what: str, status_code: int | None = None) -> AgentError:
        return AgentError(f"model {self.model!r} at {self.endpoint}: {what}",
                          endpoint=self.endpoint, model=self.model, status_code=status_code)

    def _request(self, messages: list[Message]) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.tools:
            request["tools"] = self.tools
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.max_tokens is not None:
            request["max_tokens"] = self.max_tokens
        if self.seed is not None:
            request["seed"] = self.seed
        if self.extra_body:
            request["extra_body"] = self.extra_body
        return request

    def _complete(self, messages: list[Message]) -> Message:
        """One chat completion of ``messages``; the assistant message in API form."""
        try:
            response = self.client.chat.completions.create(**self._request(messages))
        except Exception as exc:
            raise self._describe(exc) from exc
        self.last_response = response
        message = self._parse(response, len(messages))
        self._count(_get(response, "usage"))
        return message

    def _describe(self, exc: Exception) -> AgentError:
        """An AgentError saying what went wrong in a request."""
        status = getattr(exc, "status_code", None)
        kind = type(exc).__name__
        openai = sys.modules.get("openai")
        if openai is not None and isinstance(exc, openai.APITimeoutError):
            return self._error(f"no reply within {self.timeout:g} s ({kind})")
        if openai is not None and isinstance(exc, openai.APIConnectionError):
            return self._error(f"cannot connect ({kind}: {exc.__cause__ or exc})")
        if isinstance(status, int):
            return self._error(f"HTTP {status} ({kind}): {exc}", status)
        if isinstance(exc, ValueError):  # json.JSONDecodeError: the body was not JSON
            return self._error(f"unparsable response ({kind}: {exc})")
        return self._error(f"request failed ({kind}: {exc})")

    def _parse(self, response: Any, turn: int) -> Message:
        """Check the response and turn its first choice into an assistant message."""
        if isinstance(response, str | bytes) or response is None:
            raise self._unusable(response, "the body is not a chat completion")
        choices = _get(response, "choices")
        if not isinstance(choices, list) or not choices:
            raise self._unusable(response, "no choices")
        raw = _get(choices[0], "message")
        if raw is None or isinstance(raw, str):
            raise self._unusable(response, "the first choice has no message")
        content = _get(raw, "content")
        if content is not None and not isinstance(content, str):
            raise self._unusable(response, "the message content is not text")
        message: Message = {"role": "assistant", "content": content}
        calls = _get(raw, "tool_calls") or []
        if self.mode == "native" and calls:
            message["tool_calls"] = [self._tool_call(call, turn, i)
                                     for i, call in enumerate(calls)]
        elif calls and self.call_format is not None:
            # A server-side tool parser took the calls out of the text: write them back
            # in the model's own format, so the env (and the transcript) read them.
            message["content"] = self._render(
                [self._tool_call(call, turn, i) for i, call in enumerate(calls)], content)
        elif content is None:
            message["content"] = ""
        return message

    def _render(self, calls: list[dict[str, Any]], content: str | None) -> str:
        from ..parsers import render_calls

        assert self.call_format is not None
        try:
            return render_calls(calls, self.call_format, content=content or "")
        except ValueError as exc:
            raise self._error(f"cannot write the model's tool calls in {self.call_format}: "
                              f"{exc}") from exc

    def _tool_call(self, call: Any, turn: int, index: int) -> dict[str, Any]:
        function = _get(call, "function")
        name = _get(function, "name") if function is not None else None
        if not isinstance(name, str) or not name:
            kind = _get(call, "type")
            raise self._error(f"unusable tool call #{index} (type {kind!r}, no function name)")
        call_id = _get(call, "id") or f"call_{turn}_{index}"
        return {"id": str(call_id), "type": "function",
                "function": {"name": name,
                             "arguments": _arguments_json(_get(function, "arguments"))}}

    def _unusable(self, response: Any, why: str) -> AgentError:
        text = repr(response)
        if len(text) > 200:
            text = text[:200] + "..."
        return self._error(f"unparsable response: {why}: {text}")

    def _count(self, usage: Any) -> None:
        self.usage["requests"] += 1
        if usage is None:
            return
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = _get(usage, key)
            if isinstance(value, int):
                self.usage[key] += value
