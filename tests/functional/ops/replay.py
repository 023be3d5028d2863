"""Replay recorded-shape REST responses at the SDK transport, and record exactly what the SDK sent.

- :class:`AzureReplayTransport`: an azure-core ``HttpTransport`` for the azure-mgmt-* clients;
- :class:`RequestsReplayAdapter`: a ``requests`` adapter mounted on google-cloud-compute's REST session;
- :class:`HttplibReplay`: the ``httplib2.Http`` interface googleapiclient (Cloud SQL Admin) calls.

The SDKs run unchanged: serialization, URL building, LRO polling and deserialization are theirs. Each exchange
names the method and path (query ignored unless given) it expects; anything else fails the test at once.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import HttpTransport
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict


@dataclass
class Exchange:
    method: str
    path: str
    response: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    query: str | None = None  # when given, the query must contain it


@dataclass
class Sent:
    method: str
    path: str
    query: str
    body: Any


class Replay:
    def __init__(self, *exchanges: Exchange) -> None:
        self.pending = list(exchanges)
        self.sent: list[Sent] = []

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

    def done(self) -> None:
        assert not self.pending, f"{len(self.pending)} expected request(s) never sent: {self.pending[0]}"

    def bodies(self, method: str) -> list[Any]:
        return [s.body for s in self.sent if s.method == method]


def _payload(exchange: Exchange) -> bytes:
    return b"" if exchange.response is None else json.dumps(exchange.response).encode()


def _requests_response(exchange: Exchange, url: str, request: Any) -> requests.Response:
    resp = requests.Response()
    resp.status_code = exchange.status
    resp.raw = io.BytesIO(_payload(exchange))
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **exchange.headers})
    resp.url = url
    resp.request = request
    resp.encoding = "utf-8"
    return resp


class AzureReplayTransport(HttpTransport):  # type: ignore[misc]
    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        exchange = self.replay.answer(request.method, request.url, request.content or request.data or None)
        internal = _requests_response(exchange, request.url, None)
        response = RestRequestsTransportResponse(request=request, internal_response=internal)
        response.read()
        return response

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> AzureReplayTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class FakeAzureCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 32503680000)


class RequestsReplayAdapter(BaseAdapter):  # type: ignore[misc]
    def __init__(self, replay: Replay) -> None:
        super().__init__()
        self.replay = replay

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        exchange = self.replay.answer(request.method, request.url, request.body)
        return _requests_response(exchange, request.url, request)

    def close(self) -> None:
        pass


class HttplibReplay:
    """What googleapiclient needs from ``httplib2.Http``: ``request()`` returning (response, content)."""

    def __init__(self, replay: Replay) -> None:
        self.replay = replay

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any) -> Any:
        import httplib2

        exchange = self.replay.answer(method, uri, body)
        resp = httplib2.Response(
            {"status": exchange.status, "content-type": "application/json", **exchange.headers}
        )
        return resp, _payload(exchange)
