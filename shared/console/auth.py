"""Who may use the console: a token exchanged for a session cookie, a Host check, a CSRF token per session.

Pure Python (no web framework): the app asks these questions of each request.

- The token is ``ESCHER_CONSOLE_TOKEN`` or one made per start; it is shown once, in the URL ``escher console``
  prints. ``?token=`` on any GET is exchanged for a random session id in an HttpOnly, SameSite=Strict cookie
  and the browser is redirected to the same URL without the token (it leaves the address bar and the history).
- The Host header must name the address the console listens on (``127.0.0.1:PORT`` or ``localhost:PORT``):
  a DNS-rebinding page cannot reach it under its own name.
- Every POST carries the session's CSRF token (a hidden form field or the ``X-CSRF-Token`` header htmx sends);
  SameSite=Strict already keeps other sites' forms from sending the cookie, the token is the second wall.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = ["COOKIE", "CSRF_FIELD", "CSRF_HEADER", "Access", "Session", "console_token"]

COOKIE = "escher_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_TTL = 12 * 3600.0  # a working day; then the printed URL (or a new start) lets the person in again


def console_token(env: dict[str, str] | None = None) -> str:
    """``ESCHER_CONSOLE_TOKEN`` when set, else a new random one (per start)."""
    given = (os.environ if env is None else env).get("ESCHER_CONSOLE_TOKEN", "").strip()
    return given or secrets.token_urlsafe(32)


@dataclass
class Session:
    session_id: str
    csrf: str
    created: float = field(default_factory=time.monotonic)
    # what the person is looking at between two requests (plans shown, answers given): server-side only
    data: dict[str, object] = field(default_factory=dict)


class Access:
    """The token, the sessions it opened and the hosts the console answers to."""

    def __init__(self, token: str, hosts: set[str] | None = None) -> None:
        if len(token) < 16:
            raise ValueError("the console token must be at least 16 characters")
        self._token = token
        self.hosts: set[str] = set(hosts or ())
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def allow_port(self, port: int, extra_host: str | None = None) -> None:
        """Answer to this port on the loopback names (and ``extra_host``, when serving beyond loopback)."""
        self.hosts |= {f"127.0.0.1:{port}", f"localhost:{port}"}
        if extra_host:
            self.hosts.add(f"{extra_host}:{port}")

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host.lower() in self.hosts

    def token_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self._token.encode())

    def open_session(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        with self._lock:
            self._expire()
            self._sessions[session.session_id] = session
        return session

    def session(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            self._expire()
            return self._sessions.get(session_id)

    @staticmethod
    def csrf_ok(session: Session, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), session.csrf.encode())

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.created > SESSION_TTL]:
            del self._sessions[sid]
