"""Replay recorded-shape REST responses at the SDK transport, and record exactly what the SDK sent.

- :class:`AzureReplayTransport`: an azure-core ``HttpTransport`` for the azure-mgmt-* clients;
- :class:`RequestsReplayAdapter`: a ``requests`` adapter mounted on google-cloud-compute's REST session;
- :class:`HttplibReplay`: the ``httplib2.Http`` interface googleapiclient (Cloud SQL Admin) calls.

The transport plumbing is shared (``tests.harness.replay``); what is here is the ordered script of exchanges.

The SDKs run unchanged: serialization, URL building, LRO polling and deserialization are theirs. Each exchange
names the method and path (query ignored unless given) it expects; anything else fails the test at once, and an
exchange never asked for fails it at the end (``tests.harness.replay.every_scripted_request_made``). Steps can
come from the harness's helpers (long-running operations, throttling, pages, not-found): ``Replay`` takes
exchanges and lists of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.credentials import AccessToken

from tests.harness import replay as wire

Exchange = wire.Step


@dataclass
class Sent:
    method: str
    path: str
    query: str
    body: Any


class Replay:
    def __init__(self, *exchanges: Exchange | Iterable[Exchange]) -> None:
        self.pending: list[Exchange] = []
        self.extend(*exchanges)
        self.sent: list[Sent] = []

    def extend(self, *exchanges: Exchange | Iterable[Exchange]) -> None:
        for item in exchanges:
            self.pending.extend([item] if isinstance(item, Exchange) else item)

    def answer(self, method: str, url: str, body: bytes | str | None) -> Exchange:
        parts = urlsplit(url)
        raw = body.decode() if isinstance(body, bytes) else body
        self.sent.append(Sent(method, parts.path, parts.query, json.loads(raw) if raw else None))
        assert self.pending, f"unexpected request {method} {url}: no response left"
        exchange = self.pending.pop(0)
        assert (method, parts.path) == (exchange.method, exchange.path), (
            f"expected {exchange.method} {exchange.path}, the SDK sent {method} {parts.path}"
        )
        if exchange.query is not None:
            assert exchange.query in parts.query, f"{exchange.query!r} not in query {parts.query!r}"
        return exchange

    def reply(self, method: str, url: str, headers: Any, body: bytes | str | None) -> wire.Reply:
        exchange = self.answer(method, url, body)
        return exchange.status, exchange.headers, _payload(exchange)

    def done(self) -> None:
        assert not self.pending, f"{len(self.pending)} expected request(s) never sent: {self.unused()}"

    def unused(self) -> list[str]:
        return [f"{e.method} {e.path}{'?' + e.query if e.query else ''} -> {e.status}" for e in self.pending]

    def count(self, method: str, path: str) -> int:
        """How many times the SDK sent ``method path`` (retries included)."""
        return sum(1 for s in self.sent if (s.method, s.path) == (method, path))

    def bodies(self, method: str) -> list[Any]:
        return [s.body for s in self.sent if s.method == method]


def _payload(exchange: Exchange) -> bytes:
    return b"" if exchange.response is None else json.dumps(exchange.response).encode()


class AzureReplayTransport(wire.ReplayTransport):
    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.reply)
        self.replay = replay

    def request_body(self, request: Any) -> Any:
        return request.content or request.data or None


class FakeAzureCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 32503680000)


class RequestsReplayAdapter(wire.ReplayAdapter):
    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.reply)
        self.replay = replay


class HttplibReplay(wire.HttplibReplay):
    """What googleapiclient needs from ``httplib2.Http``: ``request()`` returning (response, content)."""

    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.reply)
        self.replay = replay
