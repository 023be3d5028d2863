"""The brain's ASGI app: ``create_app()`` -> a Starlette application serving ``/v1/...`` and ``/openapi.json``.

Stateless by construction: the only objects that outlive a request are read-only (the knowledge, the catalogue
view, the planner) or a connection pool (the Anthropic client). No handler writes to disk or to any shared
structure; nothing about a request is kept after its answer. Logs carry the route, status, size and timing of a
request, never its body.

Every request body is parsed as JSON, scanned for credential-shaped strings (refused with 422 before any
processing), then validated against its versioned model. Every error is a typed JSON :class:`ErrorBody`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
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
    from starlette.applications import Starlette
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


@dataclass(frozen=True)
class ServerConfig:
    llm: LlmSettings = field(default_factory=LlmSettings)
    max_body_bytes: int = 1_000_000

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
        except ValueError as exc:
            raise EscherError(f"invalid brain setting: {exc}",
                              hint="ESCHER_BRAIN_MAX_TOKENS / _LLM_RETRIES / _MAX_BODY are integers, "
                              "ESCHER_BRAIN_LLM_TIMEOUT is seconds") from None  # fmt: skip
        return cls(llm=llm, max_body_bytes=max_body)


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


def parse_body(raw: bytes, model: type[BaseModel], max_bytes: int) -> Any:
    """Bytes -> validated model, refusing oversize, non-JSON and credential-carrying payloads."""
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(f"the request body is {len(raw)} bytes; the limit is {max_bytes}",
                                   hint="send fewer context items")  # fmt: skip
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"the body is not JSON: {exc.msg if hasattr(exc, 'msg') else exc}",
                              hint="send application/json") from None  # fmt: skip
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
        for code, text in ((400, "not JSON"), (413, "too large"), (422, "invalid, or carries a credential"),
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
            f"/{API_VERSION}/health": {"get": {"summary": "Liveness and configuration", "responses": {
                "200": {"description": "ok", "content": {"application/json": {"schema": ref("HealthResponse")}}}}}},
        },
        "components": {"schemas": components},
    }  # fmt: skip


def create_app(service: BrainService | None = None) -> Starlette:
    """The ASGI application. ``starlette`` is imported here, not at module import."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    svc = service or BrainService(ServerConfig.from_env())
    openapi = openapi_document()
    max_body = svc.config.max_body_bytes

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
                parsed = parse_body(raw, model, max_body)
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

    return Starlette(routes=routes, exception_handlers={HTTPException: not_found, Exception: internal})


def serve(host: str = "127.0.0.1", port: int = 8765, service: BrainService | None = None) -> None:
    """Run the brain with uvicorn until interrupted (``escher brain serve``)."""
    from escher.lazy import require

    uvicorn = require("uvicorn", "brain")
    app = create_app(service)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, server_header=False)
