"""A proxy in front of the moto server that adds a round trip to every request and counts them: what a scan
costs against a real API (~30 ms from a laptop), in requests and in wall time. Built on the test proxies'
loopback server (tests/harness/http_answer.py); each request is forwarded untouched.

    with LatencyProxy(moto.port, delay=0.030) as proxy:
        os.environ["AWS_ENDPOINT_URL"] = proxy.url
        ...
        print(proxy.requests, proxy.by_action.most_common(5))

moto answers each request with Python code in one process: on a shared machine its CPU, not the round trip,
bounds a concurrent client. With ``replaying`` on, a request the proxy has already forwarded (same method, path
and body, and action) is answered with what moto answered then, after the same delay: a cloud that keeps up, as AWS does,
so the figure shows what the client's own concurrency does with a 30 ms round trip.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from tests.harness.http_answer import answering_server

DEFAULT_DELAY = 0.030  # seconds: a real API's round trip from a laptop


def action_of(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
    """A request's API action, for the per-action counts: the query APIs' ``Action``, the JSON APIs'
    ``X-Amz-Target``, else ``<METHOD> <first query key>`` (S3's ``GET acl``)."""
    target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
    if target:
        return target.rsplit(".", 1)[-1]
    if method == "POST" and b"Action=" in body:
        return parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
    query = urlsplit(path).query
    return f"{method} {query.split('=')[0].split('&')[0]}".strip()


class LatencyProxy:
    """Forwards every request to ``127.0.0.1:upstream_port`` after ``delay`` seconds, counting them."""

    def __init__(self, upstream_port: int, *, delay: float = DEFAULT_DELAY) -> None:
        self.delay = delay
        self.by_action: Counter[str] = Counter()
        self.peak = 0  # most requests in flight at once: the client's effective concurrency
        self._in_flight = 0
        self.replaying = False
        self.replayed = 0
        self._answers: dict[tuple[str, str, str, bytes], tuple[int, list[tuple[str, str]], bytes]] = {}
        self._upstream = upstream_port
        self._lock = threading.Lock()
        self._server = answering_server(self.answer)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def requests(self) -> int:
        with self._lock:
            return sum(self.by_action.values())

    def reset(self) -> None:
        with self._lock:
            self.by_action.clear()
            self.peak = 0
            self.replayed = 0

    def __enter__(self) -> LatencyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        action = action_of(method, path, headers, body)
        with self._lock:
            self.by_action[action] += 1
            self._in_flight += 1
            self.peak = max(self.peak, self._in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            key = (action, method, path, body)  # the JSON APIs name the action in a header (X-Amz-Target)
            if self.replaying and key in self._answers:
                with self._lock:
                    self.replayed += 1
                return self._answers[key]
            answer = self._forward(method, path, headers, body)
            self._answers[key] = answer
            return answer
        finally:
            with self._lock:
                self._in_flight -= 1

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self._upstream, timeout=300)
        try:
            fwd = {k: v for k, v in headers.items() if k.lower() != "host"}
            conn.request(method, path, body=body or None, headers=fwd)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()
