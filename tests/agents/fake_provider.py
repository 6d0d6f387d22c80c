"""A tiny OpenAI-compatible chat server on 127.0.0.1, for provider errors without a network.

It answers ``POST .../chat/completions`` with the next status of its script (the last one
repeats); 200 returns a plain assistant message. Every request is counted. ``delays`` (same
indexing) holds seconds to wait before answering, to make a client time out; 429 answers
carry ``Retry-After: <retry_after>``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ERROR_BODIES = {
    400: ("invalid_request_error", None, "Unrecognized request argument supplied: foo."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-bad."),
    404: ("invalid_request_error", "model_not_found", "The model `nope` does not exist."),
    429: ("rate_limit_error", "rate_limit_exceeded", "Rate limit reached, slow down."),
}


class FakeProvider:
    def __init__(
        self,
        statuses: Sequence[int],
        reply: str = "hello",
        delays: Sequence[float] = (0.0,),
        retry_after: str = "0",
    ) -> None:
        self.statuses = list(statuses)
        self.delays = list(delays)
        self.retry_after = retry_after
        self.reply = reply
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def next_status(self, body: dict[str, Any]) -> tuple[int, float]:
        with self.lock:
            self.requests.append(body)
            n = len(self.requests)
            return self.statuses[min(n, len(self.statuses)) - 1], self.delays[
                min(n, len(self.delays)) - 1
            ]


def _handler(provider: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, delay = provider.next_status(body)
            time.sleep(delay)
            if status == 200:
                payload: dict[str, Any] = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body.get("model", "x"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": provider.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
                }
            else:
                kind, code, message = ERROR_BODIES.get(status, ("server_error", None, "failed"))
                payload = {"error": {"message": message, "type": kind, "code": code}}
            data = json.dumps(payload).encode()
            # The client may have timed out and left.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(status, data)

        def _answer(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", provider.retry_after)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    return Handler


@contextmanager
def fake_provider(
    statuses: Sequence[int], reply: str = "hello", **options: Any
) -> Iterator[tuple[str, Any]]:
    """Yields (api_base, provider) while the server runs (``options``: delays, retry_after)."""
    provider = FakeProvider(statuses, reply, **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", provider
    finally:
        server.shutdown()
        server.server_close()
