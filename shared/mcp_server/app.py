"""The MCP server: :class:`~escher.mcp_server.service.EscherService` on the official ``mcp`` SDK (v2).

    server = build_server(EscherService())
    serve_stdio(server)                                  # what desktop clients launch
    serve_http(server, host="127.0.0.1", port=0, token=t, ready=print)   # streamable HTTP, bearer token

Every tool answers with structured content (the data, after :func:`escher.mcp_server.safety.make_safe`) plus
text: a one-line summary, then the same data as JSON for clients that show text only. An Escher error is a tool
error (``isError``) with its message and hint; anything else is logged to stderr with its traceback and answered
as a bug, without its text (which could quote data).

No ``from __future__ import annotations`` here on purpose: the SDK reads the tools' annotations at
registration, and the SDK is imported inside :func:`build_server` (importing this module loads no ``mcp``).
"""

import hmac
import json
import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from escher.clouds import Cloud
from escher.errors import EscherError
from escher.mcp_server.safety import ESTATE_TEXT_NOTICE, make_safe
from escher.mcp_server.service import Answer, EscherService, channel_for

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import CallToolResult

__all__ = [
    "LOOPBACK",
    "BearerGuard",
    "McpUsageError",
    "build_server",
    "check_host",
    "serve_http",
    "serve_stdio",
]

log = logging.getLogger("escher.mcp")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
# catalogue.FRAMEWORK_IDS
Framework = Literal["cis-aws", "cis-azure", "cis-gcp", "soc2", "hipaa", "nist-800-53"]
ControlStatus = Literal["pass", "fail", "manual", "not read", "not implemented"]
Section = Literal["alerts", "cost", "changes", "good_news", "security", "optimization", "operational",
                  "health_ok", "questions", "totals", "partial"]  # service.REPORT_SECTIONS  # fmt: skip

INSTRUCTIONS = (
    "Escher operates the user's AWS, Azure and GCP estate. Read tools answer from the latest scan, report, cost "
    "snapshots, alerts and the audit ledger. To change anything: plan_request (plain language, resolved in the "
    "estate, never widened) or plan_playbook gives a plan id; show the user the plan; execute_plan runs it "
    "through the policy gate. Steps that need approval never run from here: request_approval asks, a person "
    "approves outside this client. " + ESTATE_TEXT_NOTICE
)


def _error_result(message: str) -> "CallToolResult":
    from mcp_types import CallToolResult, TextContent

    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def reply(work: Callable[[], Answer]) -> "CallToolResult":
    """Run one tool's work and shape its answer (or its error) for the client."""
    from mcp_types import CallToolResult, TextContent

    try:
        answer = work()
    except EscherError as exc:
        text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
        safe_text = make_safe(text).data
        return _error_result(str(safe_text if isinstance(safe_text, str) else "refused"))
    except Exception as exc:  # not hidden: a cloud error says what to do; anything else is logged as a bug
        from escher.clouds.errors import translate

        known = translate(exc)
        if known is not None:
            return _error_result(
                str(make_safe(known.message + (f" (hint: {known.hint})" if known.hint else "")).data)
            )
        log.exception("tool failed")
        return _error_result(f"unexpected {type(exc).__name__}: a bug in Escher; the server's log (stderr) has "
                             "the traceback")  # fmt: skip
    safe = make_safe(answer.data, estate_text=answer.estate_text)
    summary = make_safe(answer.summary).data
    data: dict[str, Any] = dict(safe.data)
    if safe.untrusted:
        data["untrusted"] = {"paths": safe.untrusted, "notice": ESTATE_TEXT_NOTICE}
    if safe.withheld:
        data["withheld"] = f"{safe.withheld} credential-shaped or secret-named value(s) withheld"
    text = str(summary) + (
        f" [{len(safe.untrusted)} value(s) fenced as untrusted data]" if safe.untrusted else ""
    )
    return CallToolResult(
        content=[TextContent(type="text", text=text),
                 TextContent(type="text", text=json.dumps(data, default=str, ensure_ascii=False))],
        structured_content=data,
    )  # fmt: skip


def _resource_json(work: Callable[[], Answer]) -> str:
    try:
        data: Any = work().data
    except EscherError as exc:
        data = {"error": exc.message, "hint": exc.hint or ""}
    safe = make_safe(data)
    body = dict(safe.data)
    if safe.untrusted:
        body["untrusted"] = {"paths": safe.untrusted, "notice": ESTATE_TEXT_NOTICE}
    return json.dumps(body, default=str, ensure_ascii=False)


def build_server(service: EscherService) -> "MCPServer":
    from mcp.server.mcpserver import Context, MCPServer
    from mcp_types import CallToolResult, ToolAnnotations

    from escher import __version__

    server: MCPServer = MCPServer("escher", version=__version__, instructions=INSTRUCTIONS)
    read = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    plan = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False)
    act = ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True
    )

    def channel(ctx: Context) -> str:
        """The client's declared name (initialize, or the request envelope); unnamed clients are still named."""
        try:
            params = ctx.session.client_params
        except (AttributeError, ValueError):  # no session behind this request (in-process calls)
            params = None
        info = getattr(params, "client_info", None)
        return channel_for(getattr(info, "name", None))

    # -- read --------------------------------------------------------------------------------------------
    @server.tool(annotations=read, description="Search the estate inventory (latest scan): every word must match "
                 "the id, name, type, region, state or a tag; filters narrow it.")  # fmt: skip
    def search_estate(
        query: Annotated[str, Field(description="words to match, e.g. 'web dev'; empty: everything")] = "",
        cloud: Cloud | None = None,
        region: Annotated[str | None, Field(description="e.g. us-east-1 (a prefix matches)")] = None,
        resource_type: Annotated[
            str | None, Field(description="e.g. aws.ec2.instance (a prefix matches)")
        ] = None,
        environment: Annotated[
            str | None, Field(description="dev, staging, prod ... from the env tag")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500)] = 50,
    ) -> CallToolResult:
        return reply(lambda: service.search_estate(query, cloud=cloud, region=region, resource_type=resource_type,
                                                   environment=environment, limit=limit))  # fmt: skip

    @server.tool(annotations=read, description="One resource by id or name: its inventory record and its failed "
                 "findings.")  # fmt: skip
    def get_resource(resource_id: Annotated[str, Field(min_length=1, max_length=1024)]) -> CallToolResult:
        return reply(lambda: service.get_resource(resource_id))

    @server.tool(annotations=read, description="Failed findings of the latest scan (what is wrong), most severe "
                 "first, with the fix command when one exists.")  # fmt: skip
    def list_findings(
        severity: Severity | None = None,
        cloud: Cloud | None = None,
        check: Annotated[str | None, Field(description="a check id or pattern, e.g. aws.s3.*")] = None,
        environment: Annotated[str | None, Field(description="dev, prod ... as the finding says")] = None,
        account: str | None = None,
        region: Annotated[str | None, Field(description="e.g. us-east-1 (a prefix matches)")] = None,
        category: Literal["security", "cost", "operational"] | None = None,
        resource_id: str | None = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
    ) -> CallToolResult:
        return reply(lambda: service.list_findings(severity=severity, cloud=cloud, check=check, environment=environment,
                                                   account=account, region=region, category=category,
                                                   resource_id=resource_id, limit=limit))  # fmt: skip

    @server.tool(annotations=read, description="Compliance from the latest scan: with a framework, each control's "
                 "verdict (pass, fail, manual, not read, not implemented) with its failing resources and % compliant "
                 "overall and per account; without one, every framework's % compliant.")  # fmt: skip
    def compliance_status(
        framework: Framework | None = None,
        cloud: Annotated[Cloud | None, Field(description="multi-cloud frameworks: only this cloud")] = None,
        account: Annotated[str | None, Field(description="an account, subscription or project id")] = None,
        status: Annotated[
            list[ControlStatus] | None, Field(description="only controls with these verdicts")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="failing resources listed per control")] = 50,
    ) -> CallToolResult:
        return reply(lambda: service.compliance_status(framework, cloud=cloud, account=account,
                                                       status=list(status or ()), limit=limit))  # fmt: skip

    @server.tool(annotations=read, description="The morning report (today's, built from the latest scan if none "
                 "is stored), whole or one section.")  # fmt: skip
    def morning_report(
        section: Section | None = None,
        date: Annotated[str | None, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD")] = None,
    ) -> CallToolResult:
        return reply(lambda: service.morning_report(section=section, date=date))

    @server.tool(annotations=read, description="Cloud spend from the stored cost snapshots: summary (day, month "
                 "to date, forecast), drivers (by service with the change, region, account, tag, anomalies) or "
                 "trend (per day).")  # fmt: skip
    def cost(
        view: Literal["summary", "drivers", "trend"] = "summary",
        days: Annotated[int, Field(ge=1, le=90, description="trend: how many days")] = 14,
    ) -> CallToolResult:
        return reply(lambda: service.cost(view=view, days=days))

    @server.tool(annotations=read, description="Alerts the event pipeline stored, most severe first.")
    def list_alerts(include_acknowledged: bool = False) -> CallToolResult:
        return reply(lambda: service.alerts(include_acknowledged=include_acknowledged))

    @server.tool(annotations=read, description="An incident's timeline from its audit records: event, receipt, "
                 "decision, fix, verification.")  # fmt: skip
    def incident_timeline(alert_id: Annotated[str, Field(min_length=1, max_length=64)]) -> CallToolResult:
        return reply(lambda: service.incident_timeline(alert_id))

    @server.tool(annotations=read, description="Recorded acts in the audit ledger, newest first (changes, "
                 "approvals, refusals); 'channel' filters by where they came from, e.g. mcp.")  # fmt: skip
    def audit_list(
        since: Annotated[
            str | None, Field(description="2026-03-01, 2026-03-01T12:00, or 24h / 7d ago")
        ] = None,
        until: str | None = None,
        actor: str | None = None,
        action: Annotated[
            str | None, Field(description="an operation id or prefix, e.g. aws.ec2 or approval")
        ] = None,
        target: str | None = None,
        cloud: Cloud | None = None,
        outcome: str | None = None,
        channel_prefix: Annotated[str | None, Field(description="e.g. 'mcp' or 'mcp:claude-code'")] = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 50,
    ) -> CallToolResult:
        return reply(lambda: service.audit_list(since=since, until=until, actor=actor, action=action, target=target,
                                                cloud=cloud, outcome=outcome, channel=channel_prefix, limit=limit))  # fmt: skip

    @server.tool(annotations=read, description="Prove the audit ledger: hash chains, signatures and the anchors "
                 "kept outside the database.")  # fmt: skip
    def audit_verify() -> CallToolResult:
        return reply(service.audit_verify)

    @server.tool(annotations=read, description="Approval requests and their status.")
    def list_approvals(
        ctx: Context,
        status: Literal["pending", "approved", "rejected", "executed", "expired"] | None = None,
    ) -> CallToolResult:
        return reply(lambda: service.approvals(status=status, channel=channel(ctx)))

    @server.tool(annotations=read, description="The playbook library and the user's saved playbooks.")
    def list_playbooks(query: str = "", cloud: Cloud | None = None) -> CallToolResult:
        return reply(lambda: service.playbooks(query=query, cloud=cloud))

    @server.tool(annotations=read, description="One playbook with its steps.")
    def get_playbook(playbook_id: Annotated[str, Field(min_length=1, max_length=128)]) -> CallToolResult:
        return reply(lambda: service.get_playbook(playbook_id))

    # -- act ---------------------------------------------------------------------------------------------
    @server.tool(annotations=plan, description="Plan an operation from the user's request in plain language, "
                 "exactly as `escher ask` does: names resolve in the estate or nothing is planned; a question "
                 "is answered, never acted on. Returns the plan (targets, now -> wanted, risk, approval needed) "
                 "and its plan_id. Changes nothing.")  # fmt: skip
    def plan_request(
        request: Annotated[str, Field(min_length=1, max_length=2000, description="the user's own words")],
        ctx: Context,
    ) -> CallToolResult:
        return reply(lambda: service.plan_request(request, channel=channel(ctx)))

    @server.tool(annotations=plan, description="Plan a playbook's operation steps (those that select their "
                 "targets by tag); returns a plan_id. Changes nothing.")  # fmt: skip
    def plan_playbook(
        playbook_id: Annotated[str, Field(min_length=1, max_length=128)],
        ctx: Context,
        region: str | None = None,
    ) -> CallToolResult:
        return reply(lambda: service.plan_playbook(playbook_id, region=region, channel=channel(ctx)))

    @server.tool(annotations=plan, description="Ask for approval of a plan's steps that need it (destructive, "
                 "production, many targets). A person approves outside this AI client; nothing runs here.")  # fmt: skip
    def request_approval(
        plan_id: Annotated[str, Field(pattern=r"^P-[0-9a-f]{16}$")], ctx: Context
    ) -> CallToolResult:
        return reply(lambda: service.request_approval(plan_id, channel=channel(ctx)))

    @server.tool(annotations=act, description="Run a plan (only after the user said so): each step is planned "
                 "again from the cloud now and passes the policy gate; a step that needs approval runs only once "
                 "a person's approval is recorded, else it returns its approval request. Recorded in the ledger.")  # fmt: skip
    def execute_plan(
        plan_id: Annotated[str, Field(pattern=r"^P-[0-9a-f]{16}$")],
        ctx: Context,
        steps: Annotated[
            list[int] | None, Field(description="step indices to run; default: every step")
        ] = None,
    ) -> CallToolResult:
        return reply(lambda: service.execute_plan(plan_id, steps=steps, channel=channel(ctx)))

    # -- resources and prompts ---------------------------------------------------------------------------
    @server.resource("escher://report/latest", name="morning-report", mime_type="application/json",
                     description="The latest morning report (without the per-finding list).")  # fmt: skip
    def latest_report() -> str:
        return _resource_json(service.morning_report)

    @server.resource("escher://alerts/open", name="open-alerts", mime_type="application/json",
                     description="The open (unacknowledged) alerts.")  # fmt: skip
    def open_alerts() -> str:
        return _resource_json(service.alerts)

    @server.prompt(
        name="morning_review", description="Walk through this morning's report and what to do first."
    )
    def morning_review() -> str:
        return ("Review my cloud estate this morning. Call morning_report, then list_findings with severity "
                "CRITICAL and HIGH, and list_alerts. Summarise what changed, what is wrong (most severe first) and "
                "what it costs; propose fixes as plans with plan_request, but do not execute anything unless I "
                "say so. " + ESTATE_TEXT_NOTICE)  # fmt: skip

    @server.prompt(name="incident_first_aid", description="First aid for an alert: what happened, the timeline, "
                   "the safe next step.")  # fmt: skip
    def incident_first_aid(alert_id: str = "") -> str:
        which = f"alert {alert_id}" if alert_id else "the most severe open alert (list_alerts)"
        return (f"Give me first aid for {which}. Call incident_timeline for it, get_resource for the resource it "
                "names, and list_findings for that resource. Tell me what happened, how long it was exposed, and "
                "the safest next step; if an operation helps, plan it with plan_request and show me the plan. Do "
                "not execute without my go-ahead. " + ESTATE_TEXT_NOTICE)  # fmt: skip

    @server.prompt(name="cost_review", description="Where the money goes, what changed, what to save.")
    def cost_review() -> str:
        return ("Review my cloud spend. Call cost with view summary, drivers and trend, and list_findings with "
                "category cost. Explain the biggest drivers and changes, then the savings the findings offer, "
                "largest first, as plans I could run (plan_request); execute nothing unless I ask. "
                + ESTATE_TEXT_NOTICE)  # fmt: skip

    return server


def serve_stdio(server: "MCPServer") -> None:
    server.run("stdio")


class BearerGuard:
    """ASGI: every HTTP request needs ``Authorization: Bearer <token>`` (constant-time compare), else 401."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            got = b""
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    got = value
            if not hmac.compare_digest(got, self._expected):
                body = json.dumps({"error": "unauthorized", "message": "a bearer token is required",
                                   "hint": "send Authorization: Bearer <the token escher mcp printed>"}).encode()  # fmt: skip
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


class McpUsageError(EscherError):
    """``escher mcp`` was asked for something it does not do (exit 2)."""

    exit_code = 2


def check_host(host: str) -> None:
    """HTTP is served on loopback only: a bearer token over plain HTTP must not cross a network."""
    if host not in LOOPBACK:
        raise McpUsageError(
            f"escher mcp serves HTTP on loopback only, not {host!r}",
            hint="use --host 127.0.0.1 (or ::1); put a TLS proxy in front to reach it from elsewhere",
        )


def serve_http(
    server: "MCPServer", *, host: str, port: int, token: str, ready: Callable[[str], None]
) -> None:
    """Streamable HTTP at ``http://<host>:<port>/mcp`` on loopback only; ``ready`` gets the URL once bound."""
    import uvicorn

    check_host(host)
    if not token:
        raise EscherError("the HTTP transport needs a bearer token", hint="set ESCHER_MCP_TOKEN")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1" if host == "localhost" else host, port))
    except OSError as exc:
        sock.close()
        raise EscherError(f"cannot listen on {host}:{port} ({exc.strerror})",
                          hint="pick another --port, or 0 for a free one") from None  # fmt: skip
    sock.listen(128)
    app = BearerGuard(server.streamable_http_app(host="127.0.0.1" if host == "localhost" else host), token)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    ready(f"http://{shown}:{bound}/mcp")
    uvicorn.Server(config).run(sockets=[sock])
