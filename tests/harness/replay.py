"""The SDK-facing half of the functional tests' replays: canned bytes handed to real clients at their transport.

Three SDK seams are covered, each answered by one callable ``answer(method, url, headers, body) -> Reply``:

- :class:`ReplayTransport`: an azure-core ``HttpTransport`` for the azure-* clients;
- :class:`ReplayAdapter`: a ``requests`` adapter for google-cloud-* REST sessions;
- :class:`HttplibReplay`: the ``httplib2.Http`` interface googleapiclient calls.

What to answer (an ordered script, a route table, ...) is the caller's business; here is only the plumbing the
SDKs need, so the clients run unchanged: serialization, URL building, LRO polling and parsing are theirs.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import requests
from azure.core.pipeline.transport import HttpTransport
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Reply = tuple[int, Mapping[str, str], bytes]
"""(status, extra response headers, JSON payload bytes)."""

Answer = Callable[[str, str, Any, Any], Reply]
"""(method, url, request headers, request body) -> :data:`Reply`."""

__all__ = ["Answer", "HttplibReplay", "ReplayAdapter", "ReplayTransport", "Reply", "json_response"]


def json_response(reply: Reply, url: str, request: Any) -> requests.Response:
    """A ``requests.Response`` carrying ``reply`` as JSON, for requests adapters and azure-core alike."""
    status, headers, payload = reply
    resp = requests.Response()
    resp.status_code = status
    resp.raw = io.BytesIO(payload)
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **headers})
    resp.url = url
    resp.request = request
    resp.encoding = "utf-8"
    return resp


class ReplayTransport(HttpTransport):  # type: ignore[misc]
    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def request_body(self, request: Any) -> Any:
        return request.content

    def send(self, request: Any, **kwargs: Any) -> Any:
        from azure.core.rest._requests_basic import RestRequestsTransportResponse

        reply = self.answer(request.method, request.url, request.headers, self.request_body(request))
        response = RestRequestsTransportResponse(
            request=request, internal_response=json_response(reply, request.url, None)
        )
        response.read()
        return response

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> ReplayTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        pass


class ReplayAdapter(BaseAdapter):  # type: ignore[misc]
    def __init__(self, answer: Answer) -> None:
        super().__init__()
        self.answer = answer

    def send(self, request: Any, **kwargs: Any) -> requests.Response:
        reply = self.answer(request.method, request.url, request.headers, request.body)
        return json_response(reply, request.url, request)

    def close(self) -> None:
        pass


class HttplibReplay:
    """What googleapiclient needs from ``httplib2.Http``: ``request()`` returning (response, content)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any) -> Any:
        import httplib2

        status, extra, payload = self.answer(method, uri, headers, body)
        return httplib2.Response({"status": status, "content-type": "application/json", **extra}), payload
