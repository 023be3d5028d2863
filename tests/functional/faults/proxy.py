"""A fault-injecting HTTP proxy on 127.0.0.1 in front of the moto server.

About ``rate`` of the calls get a throttling (400 ThrottlingException for query APIs, 503 SlowDown for S3) or a
500 instead of reaching moto: a fault never reaches the server, as with real throttling, so the log of forwarded
requests shows exactly which changes the server received. ``swallow`` makes the proxy answer some requests with
a bare 200 without forwarding them: a change the client believes made and the cloud never got.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.harness.http_answer import answering_server


@dataclass
class Forwarded:
    method: str
    path: str
    action: str  # the query API's Action, or "<METHOD> <subresource>" for S3
    resources: tuple[str, ...]


EC2_THROTTLE = (
    b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>ThrottlingException</Code>'
    b"<Message>Rate exceeded</Message></Error></Errors><RequestID>fault</RequestID></Response>"
)
S3_SLOWDOWN = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
INTERNAL = b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"


@dataclass
class FaultProxy:
    upstream_port: int
    rate: float = 0.2
    seed: int = 7
    swallow: Callable[[str, str, bytes], bool] = lambda method, path, body: False
    forwarded: list[Forwarded] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    calls: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

        self._server = answering_server(self.handle)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        is_query_api = method == "POST" and b"Action=" in body
        with self._lock:
            self.calls += 1
            roll = self._random.random()
        if roll < self.rate:
            kind = self._random.choice(("throttle", "throttle", "500"))
            with self._lock:
                self.faults[kind] += 1
            if kind == "500":
                return 500, [("Content-Type", "application/xml")], INTERNAL
            if is_query_api:
                return 400, [("Content-Type", "text/xml")], EC2_THROTTLE
            return 503, [("Content-Type", "application/xml")], S3_SLOWDOWN
        if self.swallow(method, path, body):
            return 200, [("Content-Type", "application/xml")], b""
        self._record(method, path, body, is_query_api)
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            fwd_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
            conn.request(method, path, body=body or None, headers=fwd_headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _record(self, method: str, path: str, body: bytes, is_query_api: bool) -> None:
        if is_query_api:
            form = parse_qs(body.decode())
            action = form.get("Action", [""])[0]
            ids = tuple(
                v[0]
                for k, v in sorted(form.items())
                if k.split(".")[0]
                in ("InstanceId", "GroupId", "VolumeId", "SnapshotId", "DBInstanceIdentifier")
            )
            entry = Forwarded(method, path, action, ids)
        else:
            parts = urlsplit(path)
            sub = parts.query.split("=")[0] if parts.query else ""
            entry = Forwarded(method, path, f"{method} {sub}".strip(), (parts.path.strip("/").split("/")[0],))
        with self._lock:
            self.forwarded.append(entry)

    def mutations(self, *actions: str) -> Counter[tuple[str, str]]:
        """How many times each (action, resource) reached the server."""
        with self._lock:
            return Counter((f.action, r) for f in self.forwarded if f.action in actions for r in f.resources)
