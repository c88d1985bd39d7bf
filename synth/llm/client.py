"""The async chat-completion client every synthesis stage calls: cached, bounded, fail-closed.

:class:`LLMClient` wraps ``openai.AsyncOpenAI`` (any OpenAI-compatible
endpoint) and adds what the original ASTRA client lacked (research/astra.md,
E.5–7 and E.16):

* **Capped retries.** Transient failures (timeouts, connection errors, HTTP
  408/429/5xx, bodies that are not a chat completion, empty replies) are
  retried at most ``max_retries`` times with exponential backoff and jitter,
  then :class:`LLMError` says why and after how many attempts. Other HTTP
  errors (400, 401, 404, ...) fail at once. The SDK's own retries are off.
* **Fail-closed parsing.** With ``schema=``, a reply whose JSON cannot be
  extracted (:func:`~synth.llm.extract.extract_json`) or does not satisfy the
  schema counts as a failed attempt; when the retries are spent the call
  raises. No default value is ever substituted.
* **A response cache.** Successful (and, with a schema, valid) replies are
  stored in a :class:`~synth.llm.cache.ResponseCache` with their token usage,
  keyed by the request. A call that failed for good is stored too, as its
  failure (reason, attempts, HTTP status, and the schema it was checked
  against), never as a reply. A re-run resumes from the cache, and
  ``offline=True`` replays a finished run with no endpoint at all: a stored
  reply comes back as the same :class:`Completion`, a stored failure as the
  same :class:`LLMError` (``cached=True``), and anything else raises
  :class:`OfflineMiss`. Online, a stored failure is asked again (the endpoint
  may have recovered); a reply then replaces it, and a failure never replaces
  a stored reply. Identical requests in flight at the
  same time are made once: the later ones wait and read the cache, so a run
  and its replay see the same reply even at temperature > 0. To draw several
  samples of one prompt, make the requests differ (e.g. ``seed=i``).
* **Bounded concurrency**: at most ``concurrency`` requests in flight per
  client (per event loop).

Example:
    >>> import asyncio, tempfile
    >>> from synth.llm.cache import ResponseCache
    >>> cache_dir = tempfile.mkdtemp()
    >>> messages = [{"role": "user", "content": "Reply with {}"}]
    >>> key = ResponseCache.key_for("m", messages, {"temperature": 0})
    >>> ResponseCache(cache_dir).put(key, {"text": "{}", "usage": {}})
    >>> llm = LLMClient("m", cache_dir=cache_dir, offline=True)
    >>> reply = asyncio.run(llm.complete(messages, temperature=0, schema={"type": "object"}))
    >>> reply.value, reply.cached, reply.attempts
    ({}, True, 0)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import inspect
import json
import os
import random
import sys
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from astra_gym.parsers.text import clip

from .cache import ResponseCache
from .extract import ExtractionError, OutputInvalid, _validate, _validator, extract_json

__all__ = ["MAX_BACKOFF", "UNKEYED_PARAMS", "Completion", "LLMClient", "LLMError", "OfflineMiss"]

MAX_BACKOFF = 30.0
"""The longest wait (seconds) before a retry, ``Retry-After`` included."""

UNKEYED_PARAMS = frozenset({"timeout", "extra_headers", "extra_query", "user", "metadata",
                            "store"})
"""Request parameters that are sent but cannot change the reply, so are not in the cache key."""

_MAX_WRITERS = 8
"""The most cache-writer threads per client (parallel fsyncs; the disk batches them)."""
_POOL_CONNECTIONS = 8
"""The most requests in flight on one SDK client (so connections in its pool)."""
_OPTION_PARAMS = {"extra_headers": "headers", "extra_query": "params", "extra_body": "extra_json",
                  "timeout": "timeout"}
"""``create()`` parameters that are request options, not body fields: their option names."""
_INSTALL_HINT = 'LLMClient needs the openai package: pip install "astra-gym[openai]"'
_REASON_CHARS = 500


class LLMError(RuntimeError):
    """A chat completion failed for good (after retries, or at once when not transient).

    Attributes:
        reason: What went wrong on the last attempt, e.g. ``"HTTP 500: ..."``,
            ``"timed out after 60 s"``, ``"extraction failed: ..."`` or
            ``"validation failed: $.name: ..."``.
        attempts: Requests made (1 + retries).
        model: The model asked.
        key: The request's cache key.
        status_code: The HTTP status of the last attempt, when it was an HTTP error.
        cached: Whether this is a failure replayed from the cache (offline)
            rather than one that just happened; ``attempts`` is then the
            original call's.
    """

    def __init__(self, reason: str, *, model: str, attempts: int, key: str,
                 status_code: int | None = None, cached: bool = False) -> None:
        super().__init__(f"model {model!r}: {reason} (after {attempts} attempt"
                         f"{'s' if attempts != 1 else ''})")
        self.reason = reason
        self.attempts = attempts
        self.model = model
        self.key = key
        self.status_code = status_code
        self.cached = cached


class OfflineMiss(LookupError):
    """``offline=True`` and the cache has no (usable) reply for a request.

    Deliberately not an :class:`LLMError`: code that marks a row as failed on
    ``LLMError`` must not silently drop rows of an incomplete replay.

    Attributes:
        model: The model asked.
        key: The request's cache key.
        reason: Why the cache could not answer.
    """

    def __init__(self, *, model: str, key: str, reason: str) -> None:
        super().__init__(f"offline and {reason} for model {model!r} (cache key {key})")
        self.model = model
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Completion:
    """One successful chat completion.

    Attributes:
        text: The assistant's content (``""`` when it only called tools).
        value: The extracted, schema-valid JSON value when a schema was
            given, else ``None``.
        cached: Whether it came from the cache (no request made).
        attempts: Requests made for it (0 when cached).
        usage: The reply's token counts as the server reported them
            (``prompt_tokens``, ``completion_tokens``, ``total_tokens``);
            ``{}`` when it reported none.
        key: The request's cache key.
        finish_reason: The server's finish reason (``"stop"``, ``"length"``, ...).
        tool_calls: OpenAI-style tool calls (``{"id", "type", "function":
            {"name", "arguments"}}``, arguments a JSON string), when the
            request offered tools and the model called them.
        reasoning: The reasoning the server returned beside the content
            (``reasoning_content``, as vLLM and DeepSeek name it, or
            ``reasoning``), else ``None``.
    """

    text: str
    value: Any
    cached: bool
    attempts: int
    usage: dict[str, int]
    key: str
    finish_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = field(default=())
    reasoning: str | None = None


class _Unusable(Exception):
    """A 200 response that is not a usable chat completion (transient)."""


class LLMClient:
    """Cached, retrying, concurrency-bounded chat completions against one model.

    Use one event loop per client where you can, and close it in that loop
    (``await llm.aclose()`` or ``async with llm:``). The SDK client's
    connection pool belongs to the loop that made it: on a new loop (a second
    ``asyncio.run``) the client makes a new one, and the old pool's sockets
    are left to the garbage collector.

    Args:
        model: The model name the endpoint serves.
        base_url: The API base URL, e.g. ``http://127.0.0.1:8000/v1``;
            defaults to ``OPENAI_BASE_URL``, else the OpenAI API.
        api_key: Defaults to ``OPENAI_API_KEY``; when that is unset too and a
            base URL is given, ``"EMPTY"`` (local servers ignore it).
        cache_dir: The response cache folder; ``None`` caches nothing.
        offline: Answer only from the cache: a miss raises
            :class:`OfflineMiss`, and no endpoint is ever contacted (the
            openai package is not even imported). Needs ``cache_dir``.
        concurrency: Most requests in flight at once.
        timeout: Seconds one request may take in all (waiting for a
            concurrency slot not included).
        max_retries: Retries after a failed attempt (so at most
            ``max_retries + 1`` requests per call).
        backoff: The first retry's base wait in seconds; doubled each retry
            (capped at :data:`MAX_BACKOFF`) and scaled by a jitter in
            [0.5, 1) drawn from a ``random.Random`` seeded with the request's
            key, so a run's waits are reproducible.
        client: A ready async client with ``chat.completions.create`` (e.g.
            an ``openai.AsyncOpenAI``, or a fake in tests); when given,
            ``base_url``, ``api_key`` and the SDK settings are not used.

    Attributes:
        model: The model name.
        cache: The response cache, or ``None``.
        offline: Whether only the cache answers.
        stats: Running totals over the client's life: ``calls``
            (:meth:`complete` calls), ``cache_hits`` (replies and failures
            answered from the cache), ``requests`` (HTTP requests made),
            ``retries``, ``failures`` (calls that raised :class:`LLMError`,
            replayed ones included), ``prompt_tokens`` and ``completion_tokens``
            (tokens spent on requests, failed-validation replies included;
            cache hits spend none).

    Raises:
        ValueError: A setting is out of range, ``offline`` without a
            ``cache_dir``, or no API key for the OpenAI API.
    """

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, offline: bool = False,
                 concurrency: int = 8, timeout: float = 60.0, max_retries: int = 3,
                 backoff: float = 0.5, client: Any = None) -> None:
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, not {model!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency!r}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be at least 0, not {max_retries!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, not {timeout!r}")
        if not backoff >= 0:
            raise ValueError(f"backoff must be at least 0, not {backoff!r}")
        if offline and cache_dir is None:
            raise ValueError("offline=True needs a cache_dir to answer from")
        self.model = model
        self.cache = ResponseCache(cache_dir) if cache_dir is not None else None
        self.offline = offline
        self.concurrency = concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        if self._api_key is None and self.base_url is not None:
            self._api_key = "EMPTY"
        if self._api_key is None and client is None and not offline:
            raise ValueError("LLMClient: no API key; pass api_key=, set OPENAI_API_KEY, or give "
                             "base_url= for a local server")
        self._injected = client
        self._sdk: Any = None
        self._sdk_loop: asyncio.AbstractEventLoop | None = None
        self._pools: list[Any] = []
        self._pool_load: list[int] = []
        self._semaphore: asyncio.Semaphore | None = None
        self._semaphore_loop: asyncio.AbstractEventLoop | None = None
        self._locks: dict[str, list[Any]] = {}
        self._writers: concurrent.futures.ThreadPoolExecutor | None = None
        self.stats: dict[str, int] = {"calls": 0, "cache_hits": 0, "requests": 0, "retries": 0,
                                      "failures": 0, "prompt_tokens": 0,
                                      "completion_tokens": 0}

    def __repr__(self) -> str:
        where = "offline" if self.offline else (self.base_url or "https://api.openai.com/v1")
        return f"LLMClient({self.model!r}, {where}, cache={self.cache!r})"

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the SDK client this object created (an injected one is left open).

        The cache writer threads are released too (every write a call started
        has finished by the time the call returns).
        """
        writers, self._writers = self._writers, None
        if writers is not None:
            writers.shutdown(wait=False)
        pools, loop = self._pools, self._sdk_loop
        self._sdk, self._sdk_loop, self._pools, self._pool_load = None, None, [], []
        if loop is asyncio.get_running_loop():
            for sdk in pools:  # ones made on an earlier (finished) loop cannot be closed here
                await sdk.close()

    async def check_endpoint(self) -> list[str]:
        """Ask the endpoint for its models once, before a run sends it any work.

        A run over thousands of records should not discover a wrong URL, a
        server that is down or a rejected key record by record, each after its
        retries: one ``GET /models`` finds out at once. A server without that
        route (HTTP 404/405) is reachable, so it only earns a warning.

        Returns:
            Warnings (an unlisted model, a server without ``/models``).

        Raises:
            LLMError: The endpoint cannot be reached, does not answer within
                the timeout, rejects the API key (HTTP 401/403) or fails (5xx).
            ImportError: The openai package is missing (the message says how
                to install it).
            ValueError: The client is offline (an offline run needs no endpoint).
        """
        if self.offline:
            raise ValueError("an offline client has no endpoint to check")
        where = self.base_url or "https://api.openai.com/v1"
        try:
            async with asyncio.timeout(min(self.timeout, 30.0)):
                page = await self._client().models.list()
        except ImportError:
            raise
        except Exception as exc:
            status = getattr(exc, "status_code", None)
            if status in (404, 405):
                return [f"{where} has no GET /models route (HTTP {status}); is the URL the "
                        "API root (usually ending in /v1)?"]
            failure = self._classify(exc)
            reason = failure[1] if failure is not None else _describe(exc)
            if status in (401, 403):
                reason = f"the endpoint rejected the API key ({reason})"
            raise LLMError(f"endpoint {where} is not usable: {reason}", model=self.model,
                           attempts=1, key="", status_code=status) from exc
        listed = [str(_get(item, "id")) for item in (_get(page, "data") or [])]
        if listed and self.model not in listed:
            shown = ", ".join(listed[:10]) + (", ..." if len(listed) > 10 else "")
            return [f"{where} does not list model {self.model!r} (it lists {shown})"]
        return []

    # -- the call ---------------------------------------------------------------

    async def complete(self, messages: Sequence[Mapping[str, Any]], *,
                       temperature: float | None = None, max_tokens: int | None = None,
                       schema: Mapping[str, Any] | None = None, **params: Any) -> Completion:
        """One chat completion: from the cache, else from the endpoint.

        Args:
            messages: The chat messages (OpenAI format).
            temperature: Sampling temperature; ``None`` leaves it to the server.
            max_tokens: The completion length cap; ``None`` leaves it to the server.
            schema: A JSON schema the reply's JSON must satisfy; the reply is
                then extracted and validated (``Completion.value``), and a
                reply that fails is retried like a transient error.
            **params: Any other ``chat.completions.create`` parameter
                (``top_p``, ``seed``, ``stop``, ``tools``, ``response_format``,
                ``extra_body``, ...). ``None`` values are not sent. All but
                :data:`UNKEYED_PARAMS` are part of the cache key.

        Returns:
            The completion.

        Raises:
            LLMError: The request failed for good: retries spent on transient
                errors or invalid replies, or a non-transient HTTP error
                (offline: the stored failure of the same request).
                Exceptions that are not request failures (a ``TypeError``
                for a parameter the SDK does not take, say) propagate as they are.
            OfflineMiss: ``offline=True`` and the cache cannot answer.
            ValueError: ``stream``, ``n`` > 1 or ``model`` in ``params``, or a
                parameter that is not JSON data.
            jsonschema.SchemaError: ``schema`` is not a valid JSON schema.
        """
        if "model" in params:
            raise ValueError("pass the model to LLMClient(), not to complete()")
        if params.get("stream"):
            raise ValueError("complete() does not stream; drop stream=True")
        if params.get("n") not in (None, 1):
            raise ValueError("complete() reads one choice; n must be 1")
        # A bad schema is a bug: fail now, not after retries. Compiled once per call.
        compiled = _validator(schema) if schema is not None else None
        sent = {name: value for name, value in
                {"temperature": temperature, "max_tokens": max_tokens, **params}.items()
                if value is not None}
        keyed = {name: value for name, value in sent.items() if name not in UNKEYED_PARAMS}
        request_messages = [dict(message) for message in messages]
        try:
            key = ResponseCache.key_for(self.model, request_messages, keyed)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the request is not JSON data: {exc}") from exc
        self.stats["calls"] += 1
        async with self._key_lock(key):
            hit, miss_reason = self._from_cache(key, schema, compiled)
            if isinstance(hit, Completion):
                self.stats["cache_hits"] += 1
                return hit
            if self.offline:
                if isinstance(hit, LLMError):
                    self.stats["cache_hits"] += 1
                    self.stats["failures"] += 1
                    raise hit
                raise OfflineMiss(model=self.model, key=key, reason=miss_reason)
            try:
                return await self._fetch(key, request_messages, sent, keyed, compiled)
            except LLMError as exc:
                await self._store_failure(exc, request_messages, keyed, schema)
                raise

    # -- internals --------------------------------------------------------------

    def _from_cache(self, key: str, schema: Mapping[str, Any] | None, compiled: Any
                    ) -> tuple[Completion | LLMError | None, str]:
        """The cached completion or failure of ``key``, or ``(None, why not)``."""
        if self.cache is None:
            return None, "no cache"
        record = self.cache.get(key)
        if record is None:
            return None, "no cached reply"
        if "failure" in record:
            return self._cached_failure(key, record["failure"], schema)
        text = record.get("text")
        usage = record.get("usage", {})
        tool_calls = record.get("tool_calls") or []
        if not isinstance(text, str) or not isinstance(usage, dict) \
                or not isinstance(tool_calls, list):
            warnings.warn(f"LLMClient: cache entry {key} lacks text/usage; treated as a miss",
                          RuntimeWarning, stacklevel=3)
            return None, "the cached reply is malformed"
        value = None
        if compiled is not None:
            try:
                value = _validate(extract_json(text), compiled)
            except (ExtractionError, OutputInvalid) as exc:
                return None, f"the cached reply does not fit the schema ({exc})"
        reasoning = record.get("reasoning")
        return Completion(text=text, value=value, cached=True, attempts=0, usage=dict(usage),
                          key=key, finish_reason=record.get("finish_reason"),
                          tool_calls=tuple(tool_calls),
                          reasoning=reasoning if isinstance(reasoning, str) else None), ""

    def _cached_failure(self, key: str, failure: Any, schema: Mapping[str, Any] | None
                        ) -> tuple[LLMError | None, str]:
        """The stored failure of ``key`` as an :class:`LLMError`, or ``(None, why not)``."""
        if not isinstance(failure, dict) or not isinstance(failure.get("reason"), str) \
                or not _is_count(failure.get("attempts")) \
                or not (failure.get("status_code") is None or _is_count(failure["status_code"])):
            warnings.warn(f"LLMClient: cache entry {key} holds a malformed failure; treated as "
                          "a miss", RuntimeWarning, stacklevel=4)
            return None, "the cached failure is malformed"
        if failure.get("schema") != _schema_digest(schema):
            return None, "the cached failure was checked against another schema"
        return LLMError(failure["reason"], model=self.model, attempts=failure["attempts"],
                        key=key, status_code=failure.get("status_code"), cached=True), ""

    async def _store_failure(self, error: LLMError, messages: list[dict[str, Any]],
                             keyed: dict[str, Any], schema: Mapping[str, Any] | None) -> None:
        """Record a call's final failure, so an offline replay fails the same way.

        A stored reply is never replaced by a failure: it may serve other
        schemas, and losing it would lose a paid-for answer.
        """
        if self.cache is None:
            return
        stored = self.cache.get(error.key)
        if stored is not None and "failure" not in stored:
            return
        await self._store(error.key, {
            "model": self.model,
            "failure": {"reason": error.reason, "attempts": error.attempts,
                        "status_code": error.status_code, "schema": _schema_digest(schema)},
            "request": {"messages": messages, "params": keyed}})

    async def _fetch(self, key: str, messages: list[dict[str, Any]], sent: dict[str, Any],
                     keyed: dict[str, Any], compiled: Any) -> Completion:
        """Request until a usable (valid) reply, or raise after the capped retries."""
        self._client()  # an ImportError (no openai) now, not as a failed attempt
        rng = random.Random(int(key[:16], 16))
        reason, status, retry_after = "", None, None
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                self.stats["retries"] += 1
                await asyncio.sleep(self._delay(attempt - 1, rng, retry_after))
            self.stats["requests"] += 1
            try:
                async with self._slot(), asyncio.timeout(self.timeout):
                    with self._pool() as sdk:
                        response = await self._send(sdk, messages, sent)
            except Exception as exc:
                failure = self._classify(exc)
                if failure is None:  # not a request failure: a bug, let it show
                    self.stats["failures"] += 1
                    raise
                transient, reason, status, retry_after = failure
                if transient:
                    continue
                self.stats["failures"] += 1
                raise LLMError(reason, model=self.model, attempts=attempt, key=key,
                               status_code=status) from exc
            status, retry_after = None, None
            try:
                text, finish_reason, tool_calls, usage, reasoning = _read(response)
            except _Unusable as exc:
                reason = str(exc)
                continue
            self.stats["prompt_tokens"] += usage.get("prompt_tokens", 0)
            self.stats["completion_tokens"] += usage.get("completion_tokens", 0)
            value = None
            if compiled is not None:
                try:
                    value = _validate(extract_json(text), compiled)
                except ExtractionError as exc:
                    reason = f"extraction failed: {exc.reason}"
                    continue
                except OutputInvalid as exc:
                    reason = f"validation failed: {exc.reason}"
                    continue
            record = {"model": self.model, "response_model": _get(response, "model"),
                      "text": text, "finish_reason": finish_reason,
                      "tool_calls": tool_calls, "usage": usage,
                      "request": {"messages": messages, "params": keyed}}
            if reasoning is not None:  # only then: older cache entries stay byte-identical
                record["reasoning"] = reasoning
            await self._store(key, record)
            return Completion(text=text, value=value, cached=False, attempts=attempt,
                              usage=usage, key=key, finish_reason=finish_reason,
                              tool_calls=tuple(tool_calls), reasoning=reasoning)
        self.stats["failures"] += 1
        raise LLMError(clip(reason, _REASON_CHARS), model=self.model, attempts=attempts, key=key,
                       status_code=status)

    async def _send(self, sdk: Any, messages: list[dict[str, Any]], sent: dict[str, Any]) -> Any:
        """One request: the reply as the SDK gives it (a model, or plain JSON data).

        An injected client gets ``chat.completions.create``. The SDK client
        this object made gets the same request through the SDK's generic
        ``post`` (its transport, auth, timeouts and error mapping unchanged)
        with ``cast_to=object``, which skips the per-request typed-dict
        transformation of the parameters and the pydantic model of the reply:
        the reply comes back as the decoded JSON, which :func:`_read` checks
        field by field exactly as it checks a model.
        """
        if self._injected is not None:
            return await sdk.chat.completions.create(model=self.model, messages=messages, **sent)
        body, options = _split_params(sdk, sent)
        data = await sdk.post("/chat/completions", body={"model": self.model,
                                                         "messages": messages, **body},
                              cast_to=object, options=options)
        if isinstance(data, str):
            # A body without a JSON content type comes back as text; the SDK's
            # model parsing decodes it when it is JSON anyway, and so do we.
            with contextlib.suppress(Exception):
                data = json.loads(data)
        return data

    async def _store(self, key: str, record: dict[str, Any]) -> None:
        """Write a cache entry durably, in a writer thread (the loop never waits on fsync).

        The call returns once the entry's ``fsync`` and rename are done, so a
        reply is returned (and a record can be journaled) only after its
        cache entry is on disk, as when the write ran on the loop.
        """
        if self.cache is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(self._writer(), self.cache.put,
                                                             key, record)
        except (OSError, TypeError, ValueError) as exc:
            warnings.warn(f"LLMClient: could not cache the reply for {key} ({exc})",
                          RuntimeWarning, stacklevel=3)

    def _writer(self) -> concurrent.futures.ThreadPoolExecutor:
        """The threads that write cache entries (made on first use)."""
        if self._writers is None:
            self._writers = concurrent.futures.ThreadPoolExecutor(
                max_workers=min(_MAX_WRITERS, self.concurrency),
                thread_name_prefix="LLMClient-cache")
        return self._writers

    def _delay(self, retry: int, rng: random.Random, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        base = min(MAX_BACKOFF, self.backoff * 2 ** (retry - 1))
        delay = base * (0.5 + 0.5 * rng.random())
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF))
        return delay

    def _classify(self, exc: Exception) -> tuple[bool, str, int | None, float | None] | None:
        """``(transient, reason, http_status, retry_after)`` for a failed request.

        ``None`` when the exception is not a request failure (e.g. a
        ``TypeError`` for a parameter the client does not take).
        """
        openai = sys.modules.get("openai")
        if isinstance(exc, TimeoutError) or (
                openai is not None and isinstance(exc, openai.APITimeoutError)):
            return True, f"timed out after {self.timeout:g} s", None, None
        if openai is not None and isinstance(exc, openai.APIConnectionError):
            return True, f"connection error ({_describe(exc)})", None, None
        if openai is not None and isinstance(exc, openai.APIResponseValidationError):
            return True, f"the response is not a chat completion ({_describe(exc)})", None, None
        status = getattr(exc, "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            transient = status in (408, 429) or status >= 500
            reason = f"HTTP {status} ({_describe(exc)})"
            return transient, reason, status, _retry_after(exc) if transient else None
        if isinstance(exc, ValueError):  # json.JSONDecodeError: the body is not JSON
            return True, f"the response body is not JSON ({_describe(exc)})", None, None
        if openai is not None and isinstance(exc, openai.OpenAIError):
            return False, f"request failed ({_describe(exc)})", None, None
        return None

    def _client(self) -> Any:
        """The SDK client, made on first use for the running event loop."""
        if self._injected is not None:
            return self._injected
        loop = asyncio.get_running_loop()
        if self._sdk is None or self._sdk_loop is not loop:
            try:
                import openai
            except ImportError as exc:
                raise ImportError(_INSTALL_HINT) from exc
            # An httpx2 pool belongs to one loop: a new loop needs a new client.
            self._sdk = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key,
                                           timeout=self.timeout, max_retries=0)
            self._sdk_loop = loop
            self._pools = [self._sdk]
            self._pool_load = [0]
        return self._sdk

    @contextlib.contextmanager
    def _pool(self) -> Iterator[Any]:
        """The least busy of the running loop's SDK clients, held for one request.

        The SDK's connection pool probes every idle connection's socket each
        time a request starts or ends, so its cost per request grows with the
        pool. Requests are spread over SDK clients of at most
        :data:`_POOL_CONNECTIONS` connections each (made as the load needs
        them), which keeps that cost flat at any ``concurrency``.
        """
        first = self._client()
        if self._injected is not None:
            yield first
            return
        pools, load = self._pools, self._pool_load
        index = min(range(len(load)), key=load.__getitem__)
        if load[index] >= _POOL_CONNECTIONS:
            pools.append(self._extra_sdk())
            load.append(0)
            index = len(pools) - 1
        load[index] += 1
        try:
            yield pools[index]
        finally:
            load[index] -= 1

    def _extra_sdk(self) -> Any:
        """Another SDK client like the first, for :meth:`_pool`.

        Its HTTP client is the SDK's default one, given a TLS context shared by
        every extra client in the process (:func:`_shared_tls`).
        """
        import openai

        kwargs: dict[str, Any] = {}
        tls = _shared_tls(openai)
        if tls is not None:
            kwargs["http_client"] = openai.DefaultAsyncHttpxClient(verify=tls)
        return openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key,
                                  timeout=self.timeout, max_retries=0, **kwargs)

    def _slot(self) -> asyncio.Semaphore:
        """The concurrency semaphore of the running event loop."""
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._semaphore_loop is not loop:
            self._semaphore = asyncio.Semaphore(self.concurrency)
            self._semaphore_loop = loop
        return self._semaphore

    @contextlib.asynccontextmanager
    async def _key_lock(self, key: str) -> AsyncIterator[None]:
        """Serialize identical requests, so the later ones read the first one's reply."""
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if entry[1] == 0:
                del self._locks[key]


# -- the request -----------------------------------------------------------------

_TLS: dict[tuple[str | None, ...], Any] = {}


def _shared_tls(openai: Any) -> Any:
    """A TLS context made as the SDK's HTTP client makes its default one, shared.

    Loading the CA store costs tens of milliseconds, which every extra SDK
    client would pay again. The context is made by the ``create_ssl_context``
    of the HTTP library the SDK uses, once per process and per value of the
    variables it reads (``SSL_CERT_FILE``, ``SSL_CERT_DIR``); ``None`` when
    that function cannot be found (each client then makes its own).
    """
    env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    if env not in _TLS:
        module = sys.modules.get(
            openai.DefaultAsyncHttpxClient.__mro__[1].__module__.partition(".")[0])
        create = getattr(module, "create_ssl_context", None)
        _TLS[env] = create() if callable(create) else None
    return _TLS[env]


_CREATE_PARAMS: dict[type, frozenset[str]] = {}
_SECURITY: list[bool] = []


def _split_params(sdk: Any, sent: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(body fields, request options)`` for ``sent``, as ``chat.completions.create`` splits them.

    Raises:
        TypeError: A parameter that ``create()`` does not take (as ``create()`` would).
    """
    completions = sdk.chat.completions
    names = _CREATE_PARAMS.get(type(completions))
    if names is None:
        signature = inspect.signature(type(completions).create)
        names = _CREATE_PARAMS[type(completions)] = frozenset(
            name for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY)
    body: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, value in sent.items():
        if name not in names:
            raise TypeError(f"{type(completions).__name__}.create() got an unexpected keyword "
                            f"argument {name!r}")
        if name in _OPTION_PARAMS:
            options[_OPTION_PARAMS[name]] = value
        else:
            body[name] = value
    if "params" in options:
        options["params"] = dict(options["params"])
    if not _SECURITY:
        try:
            from openai._models import FinalRequestOptions

            _SECURITY.append("security" in FinalRequestOptions.model_fields)
        except (ImportError, AttributeError):
            _SECURITY.append(False)
    if _SECURITY[0]:
        options["security"] = {"bearer_auth": True}  # what create() asks for
    return body, options


# -- response reading ------------------------------------------------------------


def _get(obj: Any, name: str) -> Any:
    """A field of an SDK model or a plain dict."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _read(response: Any
          ) -> tuple[str, str | None, list[dict[str, Any]], dict[str, int], str | None]:
    """``(text, finish_reason, tool_calls, usage, reasoning)`` of a chat completion.

    Reasoning alone (no content, no tool call) is still an empty reply.

    Raises:
        _Unusable: It has no choice, no message, or neither text nor tool calls.
    """
    if response is None or isinstance(response, str | bytes):
        raise _Unusable(f"the response is not a chat completion: {clip(repr(response), 120)}")
    choices = _get(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise _Unusable("the response has no choices")
    message = _get(choices[0], "message")
    if message is None or isinstance(message, str):
        raise _Unusable("the response's first choice has no message")
    content = _get(message, "content")
    if content is not None and not isinstance(content, str):
        raise _Unusable(f"the message content is {type(content).__name__}, not text")
    calls = _get(message, "tool_calls") or []
    tool_calls = [_tool_call(call, index) for index, call in enumerate(calls)]
    finish_reason = _get(choices[0], "finish_reason")
    if not content and not tool_calls:
        refusal = _get(message, "refusal")
        if refusal:
            raise _Unusable(f"the model refused: {clip(str(refusal), 200)}")
        raise _Unusable(f"empty reply (finish_reason {finish_reason!r})")
    reasoning = _get(message, "reasoning_content")
    if not isinstance(reasoning, str) or not reasoning:
        reasoning = _get(message, "reasoning")
    if not isinstance(reasoning, str) or not reasoning:
        reasoning = None
    return content or "", finish_reason, tool_calls, _usage(_get(response, "usage")), reasoning


def _tool_call(call: Any, index: int) -> dict[str, Any]:
    function = _get(call, "function")
    name = _get(function, "name") if function is not None else None
    arguments = _get(function, "arguments") if function is not None else None
    if not isinstance(name, str) or not name:
        raise _Unusable(f"tool call #{index} has no function name")
    if not isinstance(arguments, str):
        raise _Unusable(f"tool call #{index} ({name}) has no JSON-string arguments")
    call_id = _get(call, "id")
    return {"id": str(call_id) if call_id else f"call_{index}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def _usage(usage: Any) -> dict[str, int]:
    """The integer top-level counts of a usage object (``{}`` when absent)."""
    if usage is None:
        return {}
    if not isinstance(usage, Mapping):
        dump = getattr(usage, "model_dump", None)
        usage = dump() if callable(dump) else {}
    return {name: value for name, value in usage.items()
            if isinstance(name, str) and isinstance(value, int) and not isinstance(value, bool)}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _schema_digest(schema: Mapping[str, Any] | None) -> str | None:
    """A short fingerprint of the schema a reply was checked against (``None``: none)."""
    if schema is None:
        return None
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return clip(f"{type(exc).__name__}: {text}", 300)


def _retry_after(exc: BaseException) -> float | None:
    """Seconds from a ``Retry-After`` header (numeric form only), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        value = float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None
