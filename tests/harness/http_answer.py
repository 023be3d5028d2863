"""A loopback HTTP server whose every request is answered by one function: the base of the test proxies in
front of moto (fault injection, refused AssumeRole, added round trips)."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Answer = Callable[[str, str, dict[str, str], bytes], tuple[int, list[tuple[str, str]], bytes]]
_HOP_BY_HOP = ("transfer-encoding", "connection", "content-length")


def answering_server(answer: Answer) -> ThreadingHTTPServer:
    """A server on 127.0.0.1 and a free port (not started: call ``serve_forever`` in a thread) that answers each
    request with ``answer(method, path, headers, body) -> (status, headers, payload)``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = answer(self.command, self.path, dict(self.headers), body)
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
