"""A fake Anthropic Messages API: the real ``anthropic`` SDK talks to it over HTTP (loopback) or a transport.

Responses carry the full message shape (id, type, role, model, content, stop_reason, usage) so the SDK parses
them as it parses the real service's. Tests queue replies and read back every request the SDK sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, Any]]


def message(
    content: list[dict[str, Any]] | str,
    *,
    stop_reason: str = "end_turn",
    model: str = "claude-sonnet-5-5",
    n: int = 1,
) -> dict[str, Any]:
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    return {
        "id": f"msg_fake_{n:04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 7,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def tool_use(name: str, arguments: dict[str, Any], *, tool_id: str = "toolu_fake_1") -> dict[str, Any]:
    return message(
        [{"type": "tool_use", "id": tool_id, "name": name, "input": arguments}], stop_reason="tool_use"
    )


def overloaded() -> Reply:
    return 529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


class FakeAnthropic:
    """Queued replies + recorded requests, shared by the loopback server and the transport."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.default: Callable[[dict[str, Any]], Reply] = lambda body: (
            200,
            message("ok", n=len(self.requests)),
        )

    def queue(self, *replies: dict[str, Any] | Reply) -> None:
        for reply in replies:
            self._replies.append(reply if isinstance(reply, tuple) else (200, reply))

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if path.rstrip("/") != "/v1/messages":
            return 404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {path}"}}
        if not {"x-api-key", "authorization"} & {k.lower() for k in headers}:
            return 401, {
                "type": "error",
                "error": {"type": "authentication_error", "message": "no API key"},
            }
        parsed = json.loads(body or b"{}")
        with self._lock:
            self.requests.append(parsed)
            self.headers.append({k.lower(): v for k, v in headers.items()})
            return self._replies.popleft() if self._replies else self.default(parsed)

    # -- for the SDK's transport: anthropic.Anthropic(http_client=httpx2.Client(transport=fake.transport()))
    def transport(self) -> Any:
        import httpx2

        def handler(request: Any) -> Any:
            status, payload = self.handle(request.url.path, dict(request.headers), request.content)
            return httpx2.Response(status, json=payload, headers={"request-id": "req_fake"})

        return httpx2.MockTransport(handler)


class FakeAnthropicServer:
    """The same fake on 127.0.0.1 and a free port, for code that only takes a base URL."""

    def __init__(self, fake: FakeAnthropic | None = None) -> None:
        self.fake = fake or FakeAnthropic()
        outer = self  # the handler reads outer.fake per request, so a test can swap in a fresh fake

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, payload = outer.fake.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("request-id", "req_fake")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeAnthropicServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
