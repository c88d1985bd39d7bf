"""The async chat client of ``astra-gym eval``: one request at a time per episode, capped retries.

:class:`ChatClient` wraps ``openai.AsyncOpenAI`` (any OpenAI-compatible
endpoint: vLLM, SGLang, llama.cpp, Ollama, the OpenAI API). The SDK's own
retries are off; the client retries *transient* failures itself (timeouts,
connection errors, HTTP 408/409/429/5xx, bodies that are not a chat
completion) at most ``max_retries`` times with exponential backoff and jitter,
honouring ``Retry-After``, then raises :class:`EndpointError` saying why. Other
HTTP errors (400, 401, 404, ...) fail at once.

What the *model* says is never an error here: an empty reply, tool-call
arguments that are not JSON or a call of an unknown tool go to the env, which
scores them. Only replies that are not chat completions at all are.

The concurrency cap lives in the runner (episodes in flight); the SDK's
connections are spread over several SDK clients of at most
:data:`CONNECTIONS_PER_SDK` requests each, since the cost of the SDK's
connection pool per request grows with its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CONNECTIONS_PER_SDK", "MAX_BACKOFF", "ChatClient", "EndpointError", "ModelReply"]

MAX_BACKOFF = 30.0
"""The longest wait (seconds) before a retry, ``Retry-After`` included."""
CONNECTIONS_PER_SDK = 8
"""Requests in flight on one SDK client (so connections in its pool)."""
_INSTALL_HINT = 'astra-gym eval needs the openai package: pip install "astra-gym[openai]"'


class EndpointError(RuntimeError):
    """A request failed for good: after its retries, or at once when not transient.

    Attributes:
        kind: ``timeout``, ``connection``, ``http``, ``garbage`` (the body is
            not a chat completion) or ``request`` (the SDK refused the request).
        reason: What went wrong on the last attempt.
        status_code: The HTTP status, for ``http``.
        attempts: Requests made.
        endpoint: The base URL.
        model: The model asked.
    """

    def __init__(self, kind: str, reason: str, *, endpoint: str, model: str, attempts: int,
                 status_code: int | None = None) -> None:
        plural = "s" if attempts != 1 else ""
        super().__init__(f"model {model!r} at {endpoint}: {reason} (after {attempts} "
                         f"attempt{plural})")
        self.kind = kind
        self.reason = reason
        self.status_code = status_code
        self.attempts = attempts
        self.endpoint = endpoint
        self.model = model

    @property
    def fatal(self) -> bool:
        """Whether every other request will fail the same way (stop the run at once).

        A server that refuses connections, rejects the key (401/403) or does
        not know the route or model (404) will not serve the next episode
        either. Timeouts, 5xx and garbage may be one request's bad luck.
        """
        return self.kind == "connection" or self.status_code in (401, 403, 404)

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON record (``error`` of an episode line)."""
        return {"kind": self.kind, "message": str(self), "status_code": self.status_code,
                "attempts": self.attempts}


@dataclass
class ModelReply:
    """One assistant turn from the endpoint.

    Attributes:
        message: ``{"role": "assistant", "content": str, "tool_calls": [...]}``
            (``tool_calls`` only when the model made calls; arguments as JSON text).
        finish_reason: As the server gave it.
        usage: ``prompt_tokens``, ``completion_tokens``, ``total_tokens`` (0 when
            the server sent none).
        latency_s: Seconds of the request that succeeded.
        total_s: Seconds from the first attempt to the reply, retries and backoff included.
        attempts: Requests made.
    """

    message: dict[str, Any]
    finish_reason: str | None
    usage: dict[str, int]
    latency_s: float
    total_s: float
    attempts: int
    retry_reasons: list[str] = field(default_factory=list)


class _Garbage(ValueError):
    """The response is not a usable chat completion."""


class ChatClient:
    """Chat completions against one endpoint, with capped retries.

    Args:
        model: The model name.
        base_url: The endpoint (``None``: ``OPENAI_BASE_URL``, else the OpenAI API).
        api_key: The key (``None``: ``"EMPTY"``, which local servers ignore).
        timeout: Seconds per request.
        max_retries: Retries after a transient failure.
        backoff: The first retry's delay (seconds); doubled each retry, jittered.
        temperature: Sent when not ``None``.
        max_tokens: Sent when not ``None``.
        extra_body: Extra JSON fields for every request.
        sdk_factory: Makes an SDK client (tests inject fakes); default
            ``openai.AsyncOpenAI``.

    Raises:
        ImportError: The openai package is missing (the message says how to install it).
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_retries: int = 2, backoff: float = 0.5,
                 temperature: float | None = None, max_tokens: int | None = None,
                 extra_body: Mapping[str, Any] | None = None, sdk_factory: Any = None,
                 seed: int = 0) -> None:
        if sdk_factory is None:
            try:
                import openai
            except ImportError as exc:
                raise ImportError(_INSTALL_HINT) from exc

            tls = _shared_tls(openai)

            def sdk_factory() -> Any:
                extra = {} if tls is None else {
                    "http_client": openai.DefaultAsyncHttpxClient(verify=tls)}
                return openai.AsyncOpenAI(base_url=base_url, api_key=api_key or "EMPTY",
                                          timeout=timeout, max_retries=0, **extra)
        self.model = model
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.extra_body = dict(extra_body) if extra_body else None
        self._factory = sdk_factory
        self._sdks: list[Any] = []
        self._load: list[int] = []
        self._rng = random.Random(seed)
        self.endpoint = str(base_url or "https://api.openai.com/v1").rstrip("/")

    # -- lifecycle ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the SDK clients (their connection pools)."""
        sdks, self._sdks, self._load = self._sdks, [], []
        for sdk in sdks:
            close = getattr(sdk, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @contextlib.contextmanager
    def _sdk(self) -> Iterator[Any]:
        """The least busy SDK client, held for one request (a new one past the cap)."""
        if not self._sdks or min(self._load) >= CONNECTIONS_PER_SDK:
            self._sdks.append(self._factory())
            self._load.append(0)
        index = min(range(len(self._load)), key=self._load.__getitem__)
        self._load[index] += 1
        try:
            yield self._sdks[index]
        finally:
            self._load[index] -= 1

    # -- the endpoint check -----------------------------------------------------------

    async def check(self) -> list[str]:
        """Ask the endpoint for its models once, before any episode runs.

        A run of thousands of episodes must not find a wrong URL or a dead
        server episode by episode, each after its retries.

        Returns:
            Warnings: the model is not listed, or the server has no ``/models``.

        Raises:
            EndpointError: The endpoint refuses connections, does not answer
                in time, rejects the key (401/403) or fails (5xx).
        """
        try:
            with self._sdk() as sdk:
                async with asyncio.timeout(self.timeout):
                    page = await sdk.models.list()
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if status in (404, 405):
                return [f"{self.endpoint} has no GET /models route (HTTP {status}); is the "
                        "URL the API root (usually ending in /v1)?"]
            kind, reason, status, _, _ = self._classify(exc)
            if status in (401, 403):
                reason = f"the endpoint rejected the API key ({reason})"
            raise EndpointError(kind, reason, endpoint=self.endpoint, model=self.model,
                                attempts=1, status_code=status) from exc
        listed = [str(_get(item, "id")) for item in (_get(page, "data") or [])]
        if listed and self.model not in listed:
            shown = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
            return [f"{self.endpoint} does not list model {self.model!r} (it lists {shown})"]
        return []

    # -- one turn ------------------------------------------------------------------

    async def complete(self, messages: Sequence[Mapping[str, Any]],
                       tools: Sequence[Mapping[str, Any]] | None = None) -> ModelReply:
        """One chat completion, retried on transient failures.

        Args:
            messages: The conversation in API form.
            tools: The OpenAI tool list (native mode), or ``None``.

        Returns:
            The reply.

        Raises:
            EndpointError: The request failed for good.
        """
        body: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.extra_body:
            body.update(self.extra_body)
        first = time.perf_counter()
        reasons: list[str] = []
        attempt = 0
        while True:
            attempt += 1
            start = time.perf_counter()
            try:
                with self._sdk() as sdk:
                    # The SDK's documented raw request: create() would walk the whole
                    # conversation against its typed params on every turn (milliseconds a
                    # request at 30 turns); these messages are plain JSON already.
                    response = await sdk.post("/chat/completions", body=body,
                                              cast_to=_completion_type())
                message, finish, usage = _read(response)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                kind, reason, status, transient, retry_after = self._classify(exc)
                if not transient or attempt > self.max_retries:
                    raise EndpointError(kind, reason, endpoint=self.endpoint, model=self.model,
                                        attempts=attempt, status_code=status) from exc
                reasons.append(reason)
                await asyncio.sleep(self._delay(attempt, retry_after))
                continue
            now = time.perf_counter()
            return ModelReply(message, finish, usage, now - start, now - first, attempt,
                              reasons)

    def _delay(self, retry: int, retry_after: float | None) -> float:
        base = min(MAX_BACKOFF, self.backoff * 2 ** (retry - 1))
        delay = base * (0.5 + 0.5 * self._rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        return delay

    def _classify(self, exc: BaseException) -> tuple[str, str, int | None, bool, float | None]:
        """``(kind, reason, http_status, transient, retry_after)`` of a failed request."""
        openai = sys.modules.get("openai")
        if isinstance(exc, _Garbage):
            return "garbage", f"unusable response: {exc}", None, True, None
        if isinstance(exc, TimeoutError) or (
                openai is not None and isinstance(exc, openai.APITimeoutError)):
            return "timeout", f"no reply within {self.timeout:g} s", None, True, None
        if openai is not None and isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return ("connection", f"cannot connect ({type(cause).__name__}: {_clip(cause)})",
                    None, True, None)
        if openai is not None and isinstance(exc, openai.APIResponseValidationError):
            return "garbage", f"unusable response: {_clip(exc)}", None, True, None
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            transient = status in (408, 409, 429) or status >= 500
            return ("http", f"HTTP {status} ({type(exc).__name__}: {_clip(exc)})", status,
                    transient, _retry_after(exc) if transient else None)
        if isinstance(exc, ValueError):  # json.JSONDecodeError: the body is not JSON
            return ("garbage", f"the response body is not JSON ({type(exc).__name__}: "
                    f"{_clip(exc)})", None, True, None)
        return "request", f"request failed ({type(exc).__name__}: {_clip(exc)})", None, False, None


# -- the SDK ---------------------------------------------------------------------------

def _completion_type() -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion


_TLS: dict[tuple[str | None, ...], Any] = {}


def _shared_tls(openai: Any) -> Any:
    """One TLS context for every SDK client of the process (loading the CA store costs ~70 ms).

    Made by the ``create_ssl_context`` of the HTTP library the SDK uses, as its
    default client makes it; ``None`` when that cannot be found (each SDK client
    then makes its own).
    """
    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if key not in _TLS:
        try:
            library = openai.DefaultAsyncHttpxClient.__mro__[1].__module__.partition(".")[0]
            create = getattr(sys.modules.get(library), "create_ssl_context", None)
            _TLS[key] = create() if callable(create) else None
        except Exception:  # an SDK of another shape: its clients make their own
            _TLS[key] = None
    return _TLS[key]


# -- reading a response ------------------------------------------------------------------

def _get(obj: Any, name: str) -> Any:
    """A field of an SDK model or a plain dict."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _read(response: Any) -> tuple[dict[str, Any], str | None, dict[str, int]]:
    """``(assistant message, finish_reason, usage)`` of a chat completion.

    Raises:
        _Garbage: It is not a chat completion (no choices, no message, content
            that is not text, a tool call without a function name).
    """
    if response is None or isinstance(response, str | bytes):
        raise _Garbage(f"not a chat completion: {_clip(repr(response))}")
    choices = _get(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise _Garbage(f"no choices in {_clip(repr(response))}")
    raw = _get(choices[0], "message")
    if raw is None or isinstance(raw, str):
        raise _Garbage("the first choice has no message")
    content = _get(raw, "content")
    if content is not None and not isinstance(content, str):
        raise _Garbage(f"the message content is {type(content).__name__}, not text")
    message: dict[str, Any] = {"role": "assistant", "content": content or ""}
    calls = _get(raw, "tool_calls") or []
    if calls:
        message["tool_calls"] = [_tool_call(call, index) for index, call in enumerate(calls)]
    return message, _get(choices[0], "finish_reason"), _usage(_get(response, "usage"))


def _tool_call(call: Any, index: int) -> dict[str, Any]:
    function = _get(call, "function")
    name = _get(function, "name") if function is not None else None
    if not isinstance(name, str) or not name:
        raise _Garbage(f"tool call #{index} has no function name")
    arguments = _get(function, "arguments")
    if not isinstance(arguments, str):  # the model's garbage is the env's to score
        arguments = json.dumps({} if arguments is None else arguments, ensure_ascii=False)
    call_id = _get(call, "id")
    return {"id": str(call_id) if call_id else f"call_{index}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def _usage(usage: Any) -> dict[str, int]:
    out = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    if usage is None:
        return out
    for key in out:
        value = _get(usage, key)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out[key] = value
    return out


def _clip(value: Any, width: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a numeric ``Retry-After`` header, if any."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        value = float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None
