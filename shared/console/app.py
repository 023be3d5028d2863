"""The console's web app (Starlette) and :func:`serve`, which runs it with uvicorn in this process.

    handle = serve(port=0, token="...", open_browser=False)   # listening when it returns
    handle.login_url                                           # http://127.0.0.1:PORT/?token=...
    handle.stop()

Handlers are thin: read the form, call :mod:`escher.console.actions` / :mod:`escher.console.views` (which call
the core the CLI calls), render a page. The core is synchronous, so every handler but the event stream runs
in Starlette's thread pool. Every page is a full HTML page; with htmx a form swaps ``#main`` (and the banner
region) of the answer into the page, without it the browser shows the answer as a page: the same response.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import webbrowser
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from escher.console.auth import COOKIE, CSRF_FIELD, CSRF_HEADER, Access, Session, console_token
from escher.console.views import ReportCache
from escher.errors import EscherError

if TYPE_CHECKING:
    from jinja2 import Environment
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

    from escher.audit import AuditSink
    from escher.policy.runtime import Runtime
    from escher.store.store import Store

__all__ = ["Console", "RunningConsole", "create_app", "serve"]

HERE = Path(__file__).parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger(__name__)


class Console:
    """What the handlers share: the access rules, the templates, the one audit sink of this process."""

    def __init__(self, access: Access, sink: AuditSink | None = None) -> None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.access = access
        self.env: Environment = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(enabled_extensions=("j2", "html"), default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["tojson_attr"] = _json_attr
        self._sink = sink
        self._own_sink = False
        self._store: Store | None = None
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.report_cache = ReportCache()
        self.scan_cache = ReportCache()  # the latest two scans, for the estate page
        self._prebuilder: threading.Thread | None = None

    def prebuild(self) -> bool:
        """One step of the background build: the report page is built now if a new scan (or template, alert,
        cost snapshot) was stored since it was last built, so the first request after a scan finds it ready.
        True: built. A store that cannot be read or a broken config is left to the page to explain."""
        from escher.config import load_settings
        from escher.console.views import prebuild_report

        store = self.store()
        if store is None:
            return False
        return prebuild_report(store, self.report_cache, load_settings().extensions)

    def start_prebuilding(self, interval: float = 1.0) -> None:
        """Run :meth:`prebuild` every ``interval`` seconds in a daemon thread until :meth:`close`."""

        def loop() -> None:
            while not self.stopping.is_set():
                try:
                    self.prebuild()
                except Exception as exc:  # noqa: BLE001 - a page shows the error; this thread keeps watching
                    log.debug("console: the report was not built ahead (%s)", exc)
                self.stopping.wait(interval)

        self._prebuilder = threading.Thread(target=loop, name="escher-console-report", daemon=True)
        self._prebuilder.start()

    def sink(self) -> AuditSink:
        """One ledger sink for the process (the store opens on its first record), closed at shutdown."""
        with self._lock:
            if self._sink is None:
                from escher.audit.ledger import LedgerAuditSink

                self._sink, self._own_sink = LedgerAuditSink(), True
            return self._sink

    def store(self) -> Store | None:
        """The knowledge store, opened once for the console's life (so the embedded database keeps running
        between requests instead of starting and stopping with each page); None when this installation keeps
        its results in files (no store), where the pages read them as the CLI does."""
        from escher.scans.persist import store_available

        with self._lock:
            if self._store is not None and not self._store.connection.closed:
                return self._store
            if not store_available():
                return None
            from escher.audit.ledger import migrate_jsonl
            from escher.store.store import Store

            store = Store.open()
            try:
                migrate_jsonl(store)
            except BaseException:
                store.close()
                raise
            self._store = store
            return store

    def runtime(self) -> Runtime:
        """``open_runtime()`` as each CLI command makes it (settings read now), with the extension's approvals."""
        from escher.cli.commands.sync_cmd import extended_approvals
        from escher.policy.runtime import open_runtime

        return extended_approvals(open_runtime(self.sink()))

    def close(self) -> None:
        self.stopping.set()
        if self._prebuilder is not None:  # let a build under way finish before its store closes
            self._prebuilder.join(timeout=30)
        with self._lock:
            sink, own, store = self._sink, self._own_sink, self._store
            self._sink, self._store = None, None
        close = getattr(sink, "close", None)
        if own and callable(close):
            close()
        if store is not None:
            store.close()

    def render(self, request: Request, template: str, status: int = 200, **ctx: Any) -> Response:
        from starlette.responses import HTMLResponse

        from escher.console.views import alert_views

        session: Session = request.state.session
        rt = ctx.pop("rt", None) or self.runtime()
        alerts = ctx.pop("alerts", None)
        if alerts is None:
            alerts = alert_views(rt)
        flash = session.data.pop("flash", None)
        html = self.env.get_template(template).render(
            request=request,
            csrf=session.csrf,
            actor=rt.actor,
            single_operator=rt.single_operator,
            banners=[a for a in alerts if a.banner],
            in_app=[a for a in alerts if not a.banner],
            flash=flash,
            path=request.url.path,
            **ctx,
        )
        # an htmx swap only happens on 2xx: the error is in the page, its status in a header
        if status >= 400 and request.headers.get("hx-request"):
            return HTMLResponse(html, 200, headers={"X-Escher-Status": str(status)})
        return HTMLResponse(html, status)


def _json_attr(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


# -- access: host, token -> cookie, CSRF ---------------------------------------------------------------------
class Guard:
    """ASGI middleware in front of every route: Host check (400), token exchange (303 + cookie), session (401),
    CSRF on every POST (403)."""

    def __init__(self, app: ASGIApp, console: Console) -> None:
        self.app = app
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request
        from starlette.responses import HTMLResponse, RedirectResponse

        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        access = self.console.access
        request = Request(scope)
        if not access.host_ok(request.headers.get("host")):
            await HTMLResponse(_page("Wrong address", _WRONG_HOST), 400)(scope, receive, send)
            return
        token = request.query_params.get("token")
        if token is not None and request.method == "GET":
            if not access.token_ok(token):
                await HTMLResponse(_page("Not signed in", _LOGIN), 401)(scope, receive, send)
                return
            session = access.open_session()
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, 303)
            secure = request.url.scheme == "https"
            response.set_cookie(COOKIE, session.session_id, httponly=True, samesite="strict", path="/",
                                secure=secure)  # fmt: skip
            response.headers["Cache-Control"] = "no-store"
            response.headers["Referrer-Policy"] = "no-referrer"
            await response(scope, receive, send)
            return
        found = access.session(request.cookies.get(COOKIE))
        if found is None:
            await HTMLResponse(_page("Not signed in", _LOGIN), 401)(scope, receive, send)
            return
        scope.setdefault("state", {})["session"] = found
        if request.method == "POST":
            given = request.headers.get(CSRF_HEADER)
            if given is None:
                body, receive = await _buffered(receive)
                if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                    found_fields = parse_qs(body.decode("utf-8", "replace")).get(CSRF_FIELD) or []
                    given = found_fields[0] if found_fields else None
            if not Access.csrf_ok(found, given):
                await HTMLResponse(_page("Refused", _CSRF), 403)(scope, receive, send)
                return
        elif request.method not in ("GET", "HEAD"):
            await HTMLResponse(_page("Not allowed", "<p>Only GET and POST.</p>"), 405)(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"content-security-policy",
                     b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"),
                ]  # fmt: skip
            await send(message)

        await self.app(scope, receive, with_headers)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (to find the CSRF field) and hand the app a ``receive`` that replays it."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _page(title: str, body: str, main_id: str = "login-required") -> str:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} - Escher Console</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body><header><h1>Escher Console</h1></header><main id="{main_id}"><h2>{title}</h2>{body}'
        "</main></body></html>"
    )


_LOGIN = (
    "<p>This console needs its access token. Open the address <code>escher console</code> printed when it "
    "started (it ends in <code>?token=...</code>); the token is then kept in a cookie for this browser.</p>"
    "<p>Started it with <code>ESCHER_CONSOLE_TOKEN</code> set? Add <code>?token=</code> and that value to "
    "this address. Lost the address? Stop the console and run <code>escher console</code> again.</p>"
)
_WRONG_HOST = (
    "<p>The console answers only on the address it printed (<code>http://127.0.0.1:PORT/</code> or "
    "<code>http://localhost:PORT/</code>). Open that address.</p>"
)
_CSRF = (
    "<p>The form was sent without this page's security token (it may be from another site, or from a page "
    "opened before the console restarted). Reload the page and try again.</p>"
)


# -- the app ------------------------------------------------------------------------------------------------
Handler = Callable[["Request", dict[str, str]], "Response"]


def create_app(console: Console) -> Starlette:
    """The routes; ``console`` carries the access rules (hosts, token, sessions)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from escher.console import pages

    def page(fn: Callable[[Console, Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(_guarded, console, request, lambda: fn(console, request))

        return endpoint

    def post(
        fn: Callable[[Console, Request, dict[str, list[str]]], Response],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            form = await request.form()
            fields: dict[str, list[str]] = {}
            for key, value in form.multi_items():
                if isinstance(value, str):
                    fields.setdefault(key, []).append(value)
            return await run_in_threadpool(_guarded, console, request, lambda: fn(console, request, fields))

        return endpoint

    async def events(request: Request) -> Response:
        return await pages.events(console, request)

    routes = [
        Route("/", page(pages.report), methods=["GET"]),
        Route("/fix", post(pages.fix), methods=["POST"]),
        Route("/plans/{plan_id}/confirm", post(pages.confirm_plan), methods=["POST"]),
        Route("/alerts/{alert_id}/timeline", page(pages.timeline), methods=["GET"]),
        Route("/alerts/{alert_id}/{action}", post(pages.alert_action), methods=["POST"]),
        Route("/approvals", page(pages.approvals), methods=["GET"]),
        Route("/approvals/{request_id}/plan", page(pages.approval_plan), methods=["GET"]),
        Route("/approvals/{request_id}/{action}", post(pages.approval_action), methods=["POST"]),
        Route("/ask", page(pages.ask), methods=["GET"]),
        Route("/ask", post(pages.ask_post), methods=["POST"]),
        Route("/ask/{entry_id}/confirm", post(pages.ask_confirm), methods=["POST"]),
        Route("/ask/{entry_id}/save", post(pages.ask_save), methods=["POST"]),
        Route("/estate", page(pages.estate), methods=["GET"]),
        Route("/audit", page(pages.audit), methods=["GET"]),
        Route("/settings", page(pages.settings), methods=["GET"]),
        Route("/settings/{what}", post(pages.settings_post), methods=["POST"]),
        Route("/events", events, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static", check_dir=False), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, console=console)])
    app.state.console = console
    return app


def _guarded(console: Console, request: Request, call: Callable[[], Response]) -> Response:
    """An Escher error is the person's to read (what happened and what to do), on the page, never a trace; a
    cloud SDK's error is translated as the CLI translates it (``escher.clouds.errors``). Anything else is a bug
    and propagates (a plain 500, the traceback in the console's log)."""
    from html import escape

    from starlette.responses import HTMLResponse

    from escher.clouds.errors import translate
    from escher.console.actions import NotAllowedError
    from escher.errors import NotFoundError

    try:
        return call()
    except Exception as exc:  # not hidden: one that is not a known cloud error is raised again
        error = exc if isinstance(exc, EscherError) else translate(exc)
        if error is None:
            raise
    status = 403 if isinstance(error, NotAllowedError) else 404 if isinstance(error, NotFoundError) else 400
    try:
        return console.render(request, "error.j2", status, error=error)
    except EscherError:  # the page itself cannot be built (a broken config): the message alone
        hint = f"<p>What to do: {escape(error.hint)}</p>" if error.hint else ""
        return HTMLResponse(
            _page("Could not do that", f"<p>{escape(error.message)}</p>{hint}", "error"), status
        )


# -- running it ---------------------------------------------------------------------------------------------
@dataclass
class RunningConsole:
    host: str
    port: int
    token: str
    console: Console
    server: Any = field(repr=False)
    thread: threading.Thread = field(repr=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/?{urlencode({'token': self.token})}"

    def stop(self, timeout: float = 10.0) -> None:
        self.console.stopping.set()
        self.server.should_exit = True
        self.thread.join(timeout)
        self.console.close()

    def wait(self) -> None:
        """Until the server stops (Ctrl-C in ``escher console``)."""
        while self.thread.is_alive():
            self.thread.join(0.5)

    def __enter__(self) -> RunningConsole:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    *,
    open_browser: bool = False,
    allow_remote: bool = False,
    sink: AuditSink | None = None,
) -> RunningConsole:
    """Start the console on ``host:port`` (0: a free port) in a background thread; return once it listens."""
    import uvicorn

    if host not in LOOPBACK and not allow_remote:
        from escher.console.actions import ConsoleError

        raise ConsoleError(
            f"{host} is not a loopback address: the console would be reachable from other machines",
            hint="leave --host out (127.0.0.1), or add --allow-remote if that is really wanted",
        )
    token = token or console_token()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = int(sock.getsockname()[1])
    access = Access(token)
    access.allow_port(bound, None if host in LOOPBACK else host)
    console = Console(access, sink)
    console.start_prebuilding()
    app = create_app(console)
    # no access log: the first request's URL carries the token
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="escher-console", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise EscherError("the console did not start", hint="rerun with ESCHER_DEBUG=1 to see why")
        time.sleep(0.02)
    running = RunningConsole(host, bound, token, console, server, thread)
    if open_browser:
        webbrowser.open(running.login_url)
    return running


async def stream_alerts(console: Console, request: Request, rt: Runtime) -> AsyncIterator[bytes]:
    """The ``/events`` body: ``ready``, then each open alert (new or changed) as it is stored, ``remove`` when
    one is acknowledged or put off; a comment every 15 s keeps proxies from closing the stream."""
    import json

    from starlette.concurrency import run_in_threadpool

    from escher.console.actions import snoozed
    from escher.console.events import TICK_SECONDS, AlertWatch, sse
    from escher.console.views import alert_store, alert_view

    watch = AlertWatch(alert_store(rt).objects, hidden=lambda: set(snoozed(rt)))
    template = console.env.get_template("_alert.j2")
    session: Session = request.state.session
    yield sse("ready", "{}")
    quiet = 0.0
    while not console.stopping.is_set():
        if await request.is_disconnected():
            return
        try:
            changes = await run_in_threadpool(watch.poll)
        except EscherError:
            changes = []
        for change in changes:
            view = alert_view(rt, change.alert)
            data: dict[str, Any] = {"alert_id": change.alert.alert_id, "severity": change.alert.severity}
            if change.kind == "alert":
                data["html"] = template.render(a=view, csrf=session.csrf, actor=rt.actor)
            yield sse(change.kind, json.dumps(data))
            quiet = 0.0
        await asyncio.sleep(TICK_SECONDS)
        quiet += TICK_SECONDS
        if quiet >= 15:
            yield b": keep-alive\n\n"
            quiet = 0.0
