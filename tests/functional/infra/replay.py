"""Recorded-shape REST responses at the SDK transport, with every request kept (method, URL, headers, body).

Key Vault and Secret Manager have no emulator: the real clients (azure-keyvault-secrets over an azure-core
``HttpTransport``; google-cloud-secret-manager's REST transport over a ``requests`` adapter) serialize,
authenticate and parse as in production; only the bytes on the wire are canned here. A request nobody
expected fails the test at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from azure.core.credentials import AccessToken

from tests.harness import replay as wire


@dataclass
class Answer:
    method: str
    path: str
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Replay:
    def __init__(self, *answers: Answer) -> None:
        self.pending = list(answers)
        self.requests: list[Request] = []

    def answer(self, method: str, url: str, headers: Any, body: bytes | str | None) -> Answer:
        raw = body.encode() if isinstance(body, str) else (body or b"")
        parts = urlsplit(url)
        self.requests.append(
            Request(
                method,
                url,
                parts.path,
                parse_qs(parts.query),
                {str(k).lower(): str(v) for k, v in dict(headers or {}).items()},
                bytes(raw),
            )
        )
        assert self.pending, f"unexpected request {method} {url}"
        answer = self.pending.pop(0)
        assert (method, parts.path) == (answer.method, answer.path), (
            f"expected {answer.method} {answer.path}, the SDK sent {method} {parts.path}"
        )
        return answer

    def reply(self, method: str, url: str, headers: Any, body: bytes | str | None) -> wire.Reply:
        answer = self.answer(method, url, headers, body)
        return answer.status, answer.headers, b"" if answer.body is None else json.dumps(answer.body).encode()

    def done(self) -> None:
        assert not self.pending, f"never sent: {self.pending}"

    def wire(self) -> str:
        """Everything sent, as text (for 'the secret went only where it should' checks)."""
        return "\n".join(f"{r.method} {r.url} {r.headers} {r.body!r}" for r in self.requests)


class AzureTransport(wire.ReplayTransport):
    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.reply)
        self.replay = replay


class AzureToken:
    """A TokenCredential: hands out a fixed token and remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("kv-token", 32503680000)


class RequestsAdapter(wire.ReplayAdapter):
    def __init__(self, replay: Replay) -> None:
        super().__init__(replay.reply)
        self.replay = replay
