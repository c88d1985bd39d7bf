"""A tiny OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1 for the embedder tests.

It answers each input (a tool document) with the fixed vector of its tool name
(``rl_packs.VECTORS``), as a JSON list or base64 float32 (the ``openai``
client asks for base64), and records every request.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from rl_packs import VECTORS


class EmbeddingServer:
    """A tiny OpenAI-compatible ``/v1/embeddings`` server on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body})
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = []
                for i, text in enumerate(inputs):
                    vector = np.asarray(VECTORS[json.loads(text)["function"]["name"]],
                                        dtype=np.float32)
                    embedding = (base64.b64encode(vector.tobytes()).decode()
                                 if body.get("encoding_format") == "base64" else vector.tolist())
                    data.append({"object": "embedding", "index": i, "embedding": embedding})
                payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                                      "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
