"""A scripted, OpenAI-compatible chat server on 127.0.0.1, for offline tests.

Stdlib only. It answers ``POST /v1/chat/completions`` (plain JSON, or SSE
chunks when the request says ``"stream": true``) and ``GET /v1/models``, and
records every request so tests can assert on what a client sent.

The *script* decides each chat reply. It is either a list of replies consumed
in order, or a callable ``(request_body) -> reply``. A reply is one of:

* ``"text"``: shorthand for ``{"content": "text"}``.
* ``{"content": "...", "tool_calls": [{"name": ..., "arguments": {...}}]}``:
  an assistant message. ``arguments`` may be a dict (JSON-encoded here) or a
  string (sent as is). Tool-call ids are ``call_1``, ``call_2``, ... counted
  over the server's life, unless a call gives its own ``"id"``. Optional keys:
  ``finish_reason`` (default ``"tool_calls"`` when there are calls, else
  ``"stop"``), ``usage`` (a dict, or ``None`` to leave usage out; default:
  whitespace-separated word counts), ``model`` (default: the request's).
* ``{"status": 500}``: an HTTP error with an OpenAI-style error body; an
  optional ``"message"`` sets its text.
* ``{"raw": "not json"}``: a 200 whose body is this text; ``content_type``
  (default ``application/json``) sets the header it claims.
* ``{"delay": seconds, ...}``: sleep, then answer with the rest of the dict
  (an empty assistant message when nothing else is given).

When a list script runs out, or a callable raises, the server answers HTTP
500 with a message saying so, and the client sees a server error.

Use it as a context manager::

    with ScriptedLLMServer(["hello"]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ...
        assert server.requests[0].body["model"] == "m"
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["RecordedRequest", "Reply", "Script", "ScriptedLLMServer"]

Reply = str | dict[str, Any]
Script = Sequence[Reply] | Callable[[dict[str, Any]], Reply]

#: Characters per streamed content or argument piece.
STREAM_PIECE = 7


@dataclass
class RecordedRequest:
    """One request the server received.

    Attributes:
        method: ``"GET"`` or ``"POST"``.
        path: The request path, e.g. ``/v1/chat/completions``.
        headers: Header names lower-cased to values.
        body: The parsed JSON body, or ``None`` (no body, or not JSON).
    """

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


class _ScriptExhausted(Exception):
    """The script has no reply left for a request."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets bursts of concurrent clients
    owner: ScriptedLLMServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # Track open connections: close() must cut keep-alive ones too, or a
        # client's pooled connection would go on being served after close.
        with self.connections_lock:
            self.connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive between non-streaming calls
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per call

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    # -- plumbing ---------------------------------------------------------

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, None

    def _record(self, body: Any) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.owner._record(RecordedRequest(self.command, self.path, headers, body))

    def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _send_json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj).encode())

    def _send_error(self, status: int, message: str, kind: str = "server_error") -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}})

    # -- routes -----------------------------------------------------------

    def do_GET(self) -> None:
        """``GET /v1/models`` lists the one scripted model."""
        self._record(None)
        if self.path.rstrip("/") == "/v1/models":
            owner = self.server.owner
            model = {"id": owner.model, "object": "model", "created": 0, "owned_by": "test"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route GET {self.path}", "not_found")

    def do_POST(self) -> None:
        """``POST /v1/chat/completions`` answers from the script."""
        raw, body = self._read_body()
        self._record(body)
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route POST {self.path}", "not_found")
            return
        if not isinstance(body, dict):
            self._send_error(400, f"request body is not a JSON object: {raw[:80]!r}",
                             "invalid_request_error")
            return
        try:
            reply = self.server.owner._next_reply(body)
        except _ScriptExhausted as exc:
            self._send_error(500, str(exc))
            return
        # The client may have given up (e.g. timed out during a delay).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(body, reply)

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        if isinstance(reply, str):
            reply = {"content": reply}
        if not isinstance(reply, dict):
            self._send_error(500, f"ScriptedLLMServer: bad scripted reply {reply!r}")
            return
        reply = dict(reply)
        if "delay" in reply:
            time.sleep(float(reply.pop("delay")))
        if "status" in reply:
            status = int(reply["status"])
            self._send_error(status, reply.get("message", f"scripted HTTP {status} error"))
            return
        if "raw" in reply:
            raw = reply["raw"]
            payload = raw if isinstance(raw, bytes) else str(raw).encode()
            self._send(200, payload, reply.get("content_type", "application/json"))
            return
        message, finish_reason = self.server.owner._message(reply)
        model = reply.get("model", body.get("model", self.server.owner.model))
        usage = reply["usage"] if "usage" in reply else _default_usage(body, message)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(model, message, finish_reason, usage if include_usage else None)
            return
        completion: dict[str, Any] = {
            "id": self.server.owner._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason,
                         "logprobs": None}],
        }
        if usage is not None:
            completion["usage"] = usage
        self._send_json(200, completion)

    def _stream(self, model: str, message: dict[str, Any], finish_reason: str,
                usage: dict[str, Any] | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        base = {"id": self.server.owner._new_id("chatcmpl"), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}
        for chunk in _chunks(message, finish_reason, usage):
            self.wfile.write(b"data: " + json.dumps({**base, **chunk}).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def _pieces(text: str) -> Iterator[str]:
    for start in range(0, len(text), STREAM_PIECE):
        yield text[start:start + STREAM_PIECE]


def _chunks(message: dict[str, Any], finish_reason: str,
            usage: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """The SSE chunk bodies for one assistant message, in order."""

    def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                             "logprobs": None}]}

    yield choice({"role": "assistant", "content": ""})
    for piece in _pieces(message.get("content") or ""):
        yield choice({"content": piece})
    for index, call in enumerate(message.get("tool_calls") or []):
        function = call["function"]
        yield choice({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                      "function": {"name": function["name"],
                                                   "arguments": ""}}]})
        for piece in _pieces(function["arguments"]):
            yield choice({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield choice({}, finish_reason)
    if usage is not None:
        yield {"choices": [], "usage": usage}


def _words(value: Any) -> int:
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list | dict):
        return len(json.dumps(value).split())
    return 0


def _default_usage(body: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    """Word counts standing in for token counts: deterministic and easy to check."""
    prompt = sum(_words(m.get("content")) for m in body.get("messages") or []
                 if isinstance(m, dict))
    completion = _words(message.get("content")) + sum(
        _words(c["function"]["arguments"]) for c in message.get("tool_calls") or [])
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


class ScriptedLLMServer:
    """An OpenAI-compatible chat server on a free loopback port.

    It starts serving in a background thread as soon as it is built.

    Args:
        script: A list of replies consumed in order, or a callable
            ``(request_body) -> reply``; see the module docstring.
        model: The model id ``GET /v1/models`` lists (chat replies echo the
            request's model).

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1``, for ``OpenAI(base_url=...)``.
        requests: Every request received, in arrival order.
        model: The listed model id.
    """

    def __init__(self, script: Script, *, model: str = "scripted-model") -> None:
        if callable(script):
            self._callable: Callable[[dict[str, Any]], Reply] | None = script
            self._replies: list[Reply] = []
        else:
            self._callable = None
            self._replies = list(script)
        self.model = model
        self.requests: list[RecordedRequest] = []
        self._served = 0
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"ScriptedLLMServer:{port}", daemon=True)
        self._thread.start()
        self._closed = False

    # -- used by the handler ----------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _new_id(self, prefix: str) -> str:
        with self._lock:
            n = self._counters.get(prefix, 0) + 1
            self._counters[prefix] = n
        return f"{prefix}_{n}"

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        if self._callable is not None:
            try:
                return self._callable(body)
            except Exception as exc:
                raise _ScriptExhausted(
                    f"ScriptedLLMServer: the script callable raised {exc!r}") from exc
        with self._lock:
            if self._served >= len(self._replies):
                raise _ScriptExhausted(
                    f"ScriptedLLMServer: script exhausted: all {len(self._replies)} scripted "
                    f"replies were used, and chat request #{self._served + 1} has none")
            reply = self._replies[self._served]
            self._served += 1
        return reply

    def _message(self, reply: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The OpenAI assistant message and finish reason for a scripted reply."""
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content"),
                                   "refusal": None}
        calls = []
        for call in reply.get("tool_calls") or []:
            arguments = call.get("arguments", {})
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments)
            calls.append({"id": call.get("id") or self._new_id("call"), "type": "function",
                          "function": {"name": call["name"], "arguments": arguments}})
        if calls:
            message["tool_calls"] = calls
        for name in ("reasoning_content", "reasoning"):  # reasoning servers' extra field
            if name in reply:
                message[name] = reply[name]
        finish = reply.get("finish_reason", "tool_calls" if calls else "stop")
        return message, finish

    # -- public -----------------------------------------------------------

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The recorded ``POST /v1/chat/completions`` requests."""
        with self._lock:
            return [r for r in self.requests
                    if r.method == "POST" and r.path.rstrip("/") == "/v1/chat/completions"]

    @property
    def remaining(self) -> int:
        """Replies left in a list script (0 for a callable script)."""
        with self._lock:
            return len(self._replies) - self._served

    def close(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedLLMServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScriptedLLMServer({self.base_url!r}, requests={len(self.requests)})"
