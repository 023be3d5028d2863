"""The brain's ASGI app: ``create_app()`` -> a Starlette application serving ``/v1/...`` and ``/openapi.json``.

Stateless by construction: the only objects that outlive a request are read-only (the knowledge, the catalogue
view, the planner) or a connection pool (the Anthropic client). No handler writes to disk or to any shared
structure; nothing about a request is kept after its answer. Logs carry the route, status, size and timing of a
request, never its body.

Every request body is parsed as JSON, scanned for credential-shaped strings (refused with 422 before any
processing), then validated against its versioned model. Every error is a typed JSON :class:`ErrorBody`.

Before a route sees a request, a small ASGI guard (:class:`_Guard`) checks, in this order and without reading
the body: the Host header against an allow-list (loopback names unless ``--host`` says otherwise: a web page
that rebinds its DNS name to 127.0.0.1 still sends its own name), a per-client rate limit, the bearer token
(every path but ``/v1/health``; compared in constant time), and ``Content-Type: application/json`` (a browser
sends ``text/plain`` cross-origin without a preflight). Only then is the body read, and the size limit holds
while it streams: a 50 MB body is refused at the limit, never read whole. Parsing limits depth and number
length (Python's own limits would raise ``RecursionError`` / ``ValueError`` deep in ``json``), and the parse,
the credential scan and the validation run in a worker thread, so ``/v1/health`` answers during a slow one.
Input can never make the server log a traceback: every refusal is a typed error, logged by type.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from escher import __version__
from escher.brain import analysis
from escher.brain.catalog import OperationCatalog, OpsCatalog
from escher.brain.knowledge import Knowledge, load_knowledge
from escher.brain.llm import ClaudeBrain, LlmError, LlmSettings
from escher.brain.models import (
    API_VERSION,
    AskRequest,
    AskResponse,
    ErrorBody,
    EventAnalysisRequest,
    EventAnalysisResponse,
    HealthResponse,
    ReportSummaryRequest,
    ReportSummaryResponse,
)
from escher.brain.planner import Planner, known_targets
from escher.errors import EscherError
from escher.privacy import CredentialInPayloadError, find_credentials_in

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["BrainService", "ServerConfig", "create_app", "openapi_document"]

log = logging.getLogger("escher.brain")


class BadRequestError(EscherError):
    status = 400


class PayloadTooLargeError(EscherError):
    status = 413


class UnprocessableError(EscherError):
    status = 422


class JsonLimitError(EscherError):
    """Valid JSON that nests too deep or carries a number too long to be a real value."""

    status = 422


class UnauthorizedError(EscherError):
    status = 401


class HostNotAllowedError(EscherError):
    status = 403


class UnsupportedMediaTypeError(EscherError):
    status = 415


class RateLimitedError(EscherError):
    status = 429


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
OPEN_PATHS = frozenset({f"/{API_VERSION}/health", "/health"})  # liveness only: no token asked


@dataclass(frozen=True)
class ServerConfig:
    """What the server enforces. ``token=None`` makes :func:`create_app` generate one nobody knows (the app is
    then closed but for ``/v1/health``): ``escher brain serve`` always passes the token it printed."""

    llm: LlmSettings = field(default_factory=LlmSettings)
    max_body_bytes: int = 1_000_000
    token: str | None = field(default=None, repr=False)
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    max_json_depth: int = 32
    max_number_chars: int = 64
    rate_per_minute: int = 120  # per client address, sustained; 0 turns the limit off
    rate_burst: int = 60

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServerConfig:
        """Only the environment: the server never reads a user's Escher config or data dir."""
        e = dict(os.environ if env is None else env)
        try:
            llm = LlmSettings(
                api_key=e.get("ANTHROPIC_API_KEY") or None,
                base_url=e.get("ANTHROPIC_BASE_URL") or None,
                model=e.get("ESCHER_BRAIN_MODEL") or LlmSettings.model,
                max_tokens=int(e.get("ESCHER_BRAIN_MAX_TOKENS") or LlmSettings.max_tokens),
                timeout_seconds=float(e.get("ESCHER_BRAIN_LLM_TIMEOUT") or LlmSettings.timeout_seconds),
                max_retries=int(e.get("ESCHER_BRAIN_LLM_RETRIES") or LlmSettings.max_retries),
            )
            max_body = int(e.get("ESCHER_BRAIN_MAX_BODY") or cls.max_body_bytes)
            rate = int(e.get("ESCHER_BRAIN_RATE_PER_MINUTE") or cls.rate_per_minute)
        except ValueError as exc:
            raise EscherError(f"invalid brain setting: {exc}",
                              hint="ESCHER_BRAIN_MAX_TOKENS / _LLM_RETRIES / _MAX_BODY / _RATE_PER_MINUTE are "
                              "integers, ESCHER_BRAIN_LLM_TIMEOUT is seconds") from None  # fmt: skip
        hosts = tuple(
            h.strip().lower() for h in e.get("ESCHER_BRAIN_ALLOWED_HOSTS", "").split(",") if h.strip()
        )
        return cls(llm=llm, max_body_bytes=max_body, token=e.get("ESCHER_BRAIN_TOKEN") or None,
                   allowed_hosts=LOOPBACK_HOSTS + hosts, rate_per_minute=rate)  # fmt: skip


class BrainService:
    """The request handling, without HTTP: what the routes call (and what the client's local mode calls)."""

    def __init__(
        self,
        config: ServerConfig | None = None,
        *,
        catalog: OperationCatalog | None = None,
        knowledge: Knowledge | None = None,
        http_client: Any = None,
    ) -> None:
        self.config = config or ServerConfig()
        self.catalog = catalog or OpsCatalog()
        self.knowledge = knowledge or load_knowledge()
        self.planner = Planner(self.catalog, self.knowledge)
        self.llm: ClaudeBrain | None = (
            ClaudeBrain(self.config.llm, self.catalog, self.knowledge, http_client=http_client)
            if self.config.llm.configured
            else None
        )

    def health(self) -> HealthResponse:
        return HealthResponse(
            version=__version__,
            llm="configured" if self.llm else "not_configured",
            model=self.config.llm.model if self.llm else None,
            knowledge=self.knowledge.counts(),
            operations=len(self.catalog.list()),
        )

    def ask(self, req: AskRequest) -> AskResponse:
        if self.llm is None:
            return self.planner.ask(req)
        return self.llm.ask(req, known_targets(req))

    def analyze_event(self, req: EventAnalysisRequest) -> EventAnalysisResponse:
        rules = analysis.analyze_event(req, self.catalog, self.knowledge)
        return rules if self.llm is None else self.llm.analyze_event(req, rules)

    def summarize_report(self, req: ReportSummaryRequest) -> ReportSummaryResponse:
        rules = analysis.summarize_report(req, self.catalog)
        return rules if self.llm is None else self.llm.summarize_report(req, rules)


class _NumberTooLong(Exception):
    pass


def _loads(raw: bytes, max_number_chars: int) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, numbers no longer than ``max_number_chars``."""

    def integer(text: str) -> int:
        if len(text) > max_number_chars:
            raise _NumberTooLong
        return int(text)

    def real(text: str) -> float:
        value = float(text)
        if len(text) > max_number_chars or not math.isfinite(value):
            raise _NumberTooLong
        return value

    def constant(text: str) -> Any:
        raise json.JSONDecodeError(f"{text} is not JSON", text, 0)

    hint = "send application/json encoded as UTF-8"
    try:
        return json.loads(raw.decode("utf-8") or "null", parse_int=integer, parse_float=real,
                          parse_constant=constant)  # fmt: skip
    except UnicodeDecodeError:
        raise BadRequestError("the body is not UTF-8", hint=hint) from None
    except json.JSONDecodeError as exc:
        raise BadRequestError(f"the body is not JSON: {exc.msg} at character {exc.pos}", hint=hint) from None
    except _NumberTooLong:
        raise JsonLimitError(f"the body holds a number longer than {max_number_chars} characters",
                             hint="send numbers as ordinary integers or decimals") from None  # fmt: skip
    except RecursionError:
        raise JsonLimitError("the body nests too deep to parse", hint="no request nests more than a few "
                             "levels; see /openapi.json") from None  # fmt: skip


def _check_shape(data: Any, max_depth: int) -> None:
    """Depth (without recursion) and text a response could not encode (lone surrogates)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                raise JsonLimitError(f"the body nests deeper than {max_depth} levels",
                                     hint="no request nests more than a few levels; see /openapi.json")  # fmt: skip
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(k, str):
                    stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequestError("the body holds text that is not valid Unicode (a lone surrogate)",
                                      hint="send text as UTF-8") from None  # fmt: skip


def parse_body(
    raw: bytes, model: type[BaseModel], max_bytes: int, *, max_depth: int = 32, max_number_chars: int = 64
) -> Any:
    """Bytes -> validated model, refusing oversize, non-JSON, over-deep and credential-carrying payloads.

    CPU-bound (the credential scan is linear, ~50 ms per MB): the routes run it in a worker thread."""
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(f"the request body is {len(raw)} bytes; the limit is {max_bytes}",
                                   hint="send fewer context items")  # fmt: skip
    data = _loads(raw, max_number_chars)
    _check_shape(data, max_depth)
    findings = find_credentials_in(data)
    if findings:
        raise CredentialInPayloadError(findings)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:10]
        )
        raise UnprocessableError(f"the body does not match {model.__name__}: {problems}",
                                 hint="see /openapi.json for the request schema") from None  # fmt: skip


def _status(exc: EscherError) -> int:
    if isinstance(exc, CredentialInPayloadError):
        return 422
    return int(getattr(exc, "status", 400 if not isinstance(exc, LlmError) else 502))


_SCHEMAS: list[tuple[str, Any]] = [
    ("AskRequest", AskRequest),
    ("AskResponse", AskResponse),
    ("EventAnalysisRequest", EventAnalysisRequest),
    ("EventAnalysisResponse", EventAnalysisResponse),
    ("ReportSummaryRequest", ReportSummaryRequest),
    ("ReportSummaryResponse", ReportSummaryResponse),
    ("HealthResponse", HealthResponse),
    ("ErrorBody", ErrorBody),
]


def openapi_document() -> dict[str, Any]:
    """OpenAPI 3.1, generated from the pydantic models."""
    components: dict[str, Any] = {}
    for name, tp in _SCHEMAS:
        schema = TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[name] = schema

    def ref(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}"}

    errors = {
        str(code): {"description": text, "content": {"application/json": {"schema": ref("ErrorBody")}}}
        for code, text in ((400, "not JSON"), (401, "no or wrong bearer token"), (403, "Host not served"),
                           (413, "too large"), (415, "not application/json"),
                           (422, "invalid, nested too deep, or carries a credential"),
                           (429, "rate limited"), (502, "the language model failed"),
                           (503, "the language model is overloaded"), (504, "the language model timed out"))
    }  # fmt: skip

    def post(summary: str, req: str, resp: str) -> dict[str, Any]:
        return {"post": {
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref(req)}}},
            "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": ref(resp)}}},
                          **errors},
        }}  # fmt: skip

    return {
        "openapi": "3.1.0",
        "info": {"title": "Escher brain", "version": API_VERSION,
                 "description": "Stateless: nothing is stored between requests; credentials are refused."},
        "paths": {
            f"/{API_VERSION}/ask": post("A question -> information, an execution plan or a playbook", "AskRequest",
                                        "AskResponse"),
            f"/{API_VERSION}/events/analyze": post("A cloud event -> severity, root cause, first aid, playbook",
                                                   "EventAnalysisRequest", "EventAnalysisResponse"),
            f"/{API_VERSION}/reports/summarize": post("Scan results -> prioritised narrative and questions",
                                                      "ReportSummaryRequest", "ReportSummaryResponse"),
            f"/{API_VERSION}/health": {"get": {"summary": "Liveness and configuration", "security": [], "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": ref("HealthResponse")}}}}}},
        },
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }  # fmt: skip


_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_App = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


class _RateLimiter:
    """A token bucket per client address: ``burst`` at once, then ``per_minute``. In memory, per process; it
    keeps counts, never anything a request said."""

    MAX_CLIENTS = 10_000

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}

    def wait(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if len(self.buckets) >= self.MAX_CLIENTS and client not in self.buckets:
            self.buckets.clear()  # a flood of addresses: start over rather than grow without bound
        if tokens >= 1.0:
            self.buckets[client] = (tokens - 1.0, now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1.0 - tokens) / self.rate


def _host_name(value: str) -> str:
    """``127.0.0.1:8765`` -> ``127.0.0.1``; ``[::1]:8765`` -> ``::1``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class _Guard:
    """Host, rate, token, media type and size, checked before the app or the body is touched."""

    def __init__(self, app: _App, config: ServerConfig, token: str) -> None:
        self.app = app
        self.token_digest = _digest(token)
        self.hosts = frozenset(h.lower() for h in config.allowed_hosts)
        self.max_body = config.max_body_bytes
        self.limiter = _RateLimiter(config.rate_per_minute, config.rate_burst)

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await self._refuse(scope, send, *refusal)
            return
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            body = await self._read(scope, receive, send, headers)
            if body is None:
                return
            await self.app(scope, _replay(body, receive), send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: _Scope, headers: dict[str, str]) -> tuple[EscherError, dict[str, str]] | None:
        if _host_name(headers.get("host", "")) not in self.hosts:
            return HostNotAllowedError("this Host is not served here",
                                       hint="use http://127.0.0.1:<port>, or start the brain with --host / "
                                       "--allow-host naming the host clients use"), {}  # fmt: skip
        path = str(scope.get("path", ""))
        client = (scope.get("client") or ("?", 0))[0]
        wait = self.limiter.wait(str(client)) if path not in OPEN_PATHS else 0.0
        if wait > 0:
            return RateLimitedError("too many requests from this client",
                                    hint=f"retry in {math.ceil(wait)} s"), {"retry-after": str(math.ceil(wait))}  # fmt: skip
        if path not in OPEN_PATHS:
            scheme, _, given = headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                _digest(given.strip()), self.token_digest
            ):
                return UnauthorizedError("a bearer token is required",
                                         hint="send Authorization: Bearer <token>: the one `escher brain serve` "
                                         "printed; the client reads ESCHER_BRAIN_TOKEN or [brain] token"), {
                    "www-authenticate": "Bearer"}  # fmt: skip
        if scope.get("method") in ("POST", "PUT", "PATCH"):
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != "application/json":
                return UnsupportedMediaTypeError("the body must be application/json",
                                                 hint="send Content-Type: application/json"), {}  # fmt: skip
        return None

    async def _read(
        self, scope: _Scope, receive: _Receive, send: _Send, headers: dict[str, str]
    ) -> bytes | None:
        """The body, refused the moment it passes the limit (by its declared length, or while it streams)."""
        too_large = PayloadTooLargeError(f"the request body is larger than {self.max_body} bytes",
                                         hint="send fewer context items")  # fmt: skip
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await self._refuse(scope, send, BadRequestError("Content-Length is not a number"), {})
                return None
            if int(declared) > self.max_body:
                await self._refuse(scope, send, too_large, {})
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(scope, send, too_large, {})
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _refuse(self, scope: _Scope, send: _Send, exc: EscherError, extra: dict[str, str]) -> None:
        status = _status(exc)
        body = json.dumps(ErrorBody(error=type(exc).__name__, message=exc.message, hint=exc.hint,
                                    status=status).model_dump()).encode()  # fmt: skip
        request_id = uuid.uuid4().hex[:12]
        head = {"content-type": "application/json", "content-length": str(len(body)), "x-request-id": request_id,
                "connection": "close", **extra}  # fmt: skip
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in head.items()]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
        log.info("%s %s %d refused %s id=%s", scope.get("method"), scope.get("path"), status, type(exc).__name__,
                 request_id)  # fmt: skip


def _replay(body: bytes, receive: _Receive) -> _Receive:
    """The body read by the guard, handed to the app as one message; later calls wait for the disconnect."""
    sent = False

    async def replay() -> _Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def create_app(service: BrainService | None = None) -> Any:
    """The ASGI application: the routes behind :class:`_Guard`. ``starlette`` is imported here, not at module
    import. The token is ``service.config.token``; without one a random token nobody knows is used (and kept
    on ``app.token`` for an embedding test), so an app is never open by accident."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from escher.secret_scan import rules

    svc = service or BrainService(ServerConfig.from_env())
    openapi = openapi_document()
    config = svc.config
    max_body = config.max_body_bytes
    rules()  # build the detectors now (imports detect-secrets), not during the first request

    def error_response(exc: EscherError, status: int) -> Response:
        body = ErrorBody(error=type(exc).__name__, message=exc.message, hint=exc.hint, status=status)
        return JSONResponse(body.model_dump(), status_code=status)

    def endpoint(model: type[BaseModel], handler: Any, adapter: Any = None) -> Any:
        async def route(request: Request) -> Response:
            started = time.perf_counter()
            request_id = uuid.uuid4().hex[:12]
            raw = await request.body()
            status = 200
            try:
                parsed = await run_in_threadpool(parse_body, raw, model, max_body, max_depth=config.max_json_depth,
                                                 max_number_chars=config.max_number_chars)  # fmt: skip
                result = await run_in_threadpool(handler, parsed)
                data = (adapter or TypeAdapter(type(result))).dump_python(result, mode="json")
                response: Response = JSONResponse(data)
            except EscherError as exc:
                status = _status(exc)
                response = error_response(exc, status)
            response.headers["x-request-id"] = request_id
            log.info("%s %s %d %dB %.0fms id=%s", request.method, request.url.path, status, len(raw),
                     (time.perf_counter() - started) * 1000, request_id)  # fmt: skip
            return response

        return route

    async def health(request: Request) -> Response:
        return JSONResponse(svc.health().model_dump(mode="json"))

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi)

    async def not_found(request: Request, exc: Exception) -> Response:
        status = int(getattr(exc, "status_code", 404))
        name = "NotFound" if status == 404 else "MethodNotAllowed" if status == 405 else "HTTPError"
        body = ErrorBody(error=name, message=f"{request.method} {request.url.path}: HTTP {status}",
                         hint="see /openapi.json for the routes", status=status)  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=status)

    async def internal(request: Request, exc: Exception) -> Response:
        # Logged by type only: an exception's text may quote the request.
        log.error("unhandled %s on %s", type(exc).__name__, request.url.path)
        body = ErrorBody(error="InternalError", message="the brain failed on this request",
                         hint="retry; if it persists, report it with the x-request-id", status=500)  # fmt: skip
        return JSONResponse(body.model_dump(), status_code=500)

    ask_adapter: TypeAdapter[Any] = TypeAdapter(AskResponse)
    routes = [
        Route(f"/{API_VERSION}/ask", endpoint(AskRequest, svc.ask, ask_adapter), methods=["POST"]),
        Route(f"/{API_VERSION}/events/analyze", endpoint(EventAnalysisRequest, svc.analyze_event), methods=["POST"]),
        Route(f"/{API_VERSION}/reports/summarize", endpoint(ReportSummaryRequest, svc.summarize_report),
              methods=["POST"]),
        Route(f"/{API_VERSION}/health", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]  # fmt: skip
    from starlette.exceptions import HTTPException

    inner = Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: internal})
    token = config.token or secrets.token_urlsafe(32)
    app = _Guard(inner, config, token)
    app.token = token  # type: ignore[attr-defined]
    return app


def served_hosts(host: str, allowed: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The Host names served: loopback, the listening address unless it is a wildcard, and ``allowed``."""
    named = () if host in ("", "0.0.0.0", "::") else (host,)
    return tuple(dict.fromkeys(h.strip().lower() for h in (*LOOPBACK_HOSTS, *named, *allowed) if h.strip()))


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    service: BrainService | None = None,
    *,
    token: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Run the brain with uvicorn until interrupted (``escher brain serve``).

    Served hosts: the loopback names, ``host`` itself unless it is a wildcard (0.0.0.0, ::), and
    ``allowed_hosts``."""
    from escher.lazy import require

    uvicorn = require("uvicorn", "brain")
    svc = service or BrainService(ServerConfig.from_env())
    hosts = served_hosts(host, (*svc.config.allowed_hosts, *allowed_hosts))
    svc.config = replace(svc.config, token=token or svc.config.token, allowed_hosts=hosts)
    app = create_app(svc)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, server_header=False)
