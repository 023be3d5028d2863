"""Route-based replays at the SDK transports, for collectors that call in parallel.

The ops tests' replay (``tests.functional.ops.replay``) expects one exact order; a collector runs its tasks in
threads, so here each request is matched by (method, path, query marker) instead, under a lock, and the test
asserts afterwards that every route was asked for exactly as often as it should be. Anything unrouted fails
the request with a 404 the SDK raises and the collector reports, and is listed in ``unrouted``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.harness import replay as wire


@dataclass
class Route:
    method: str
    path: str
    body: Any
    query: str = ""  # the (unquoted) query must contain it; the longest match wins
    status: int = 200
    hits: int = 0


@dataclass
class Router:
    routes: list[Route] = field(default_factory=list)
    unrouted: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, method: str, path: str, body: Any, *, query: str = "", status: int = 200) -> Router:
        self.routes.append(Route(method, path, body, query, status))
        return self

    def answer(self, method: str, url: str) -> tuple[int, bytes]:
        parts = urlsplit(url)
        query = unquote(parts.query)
        with self._lock:
            found = [
                r for r in self.routes if (r.method, r.path) == (method, parts.path) and r.query in query
            ]
            if not found:
                self.unrouted.append(f"{method} {url}")
                return 404, json.dumps({"error": {"code": "NotRouted", "message": url}}).encode()
            route = max(found, key=lambda r: len(r.query))
            route.hits += 1
        return route.status, json.dumps(route.body).encode()

    def reply(self, method: str, url: str, headers: Any, body: Any) -> wire.Reply:
        status, payload = self.answer(method, url)
        return status, {}, payload

    def hits(self, path: str, query: str = "") -> int:
        return sum(r.hits for r in self.routes if r.path == path and r.query == query)

    def unused(self) -> list[str]:
        return [f"{r.method} {r.path}?{r.query}" for r in self.routes if r.hits == 0]


class AzureRouterTransport(wire.ReplayTransport):
    def __init__(self, router: Router) -> None:
        super().__init__(router.reply)
        self.router = router


class RequestsRouterAdapter(wire.ReplayAdapter):
    def __init__(self, router: Router) -> None:
        super().__init__(router.reply)
        self.router = router


class HttplibRouter(wire.HttplibReplay):
    """The ``httplib2.Http`` interface googleapiclient calls, answered by the router."""

    def __init__(self, router: Router) -> None:
        super().__init__(router.reply)
        self.router = router
