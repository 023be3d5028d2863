"""The console's handlers: read the request, call :mod:`escher.console.actions` / :mod:`escher.console.views`,
render. No decisions here: what may run is the gate's answer, who may decide is the approvals' rule."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escher.console import actions, views
from escher.console.actions import ConsoleError, NotAllowedError
from escher.errors import EscherError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from escher.console.app import Console
    from escher.console.auth import Session
    from escher.ops.engine import Plan
    from escher.policy.runtime import Runtime

Form = dict[str, list[str]]
PLAN_TTL = 15 * 60.0  # a plan shown longer ago than this is planned again (execute re-reads anyway)


@dataclass
class Shown:
    """A plan on the person's screen, waiting for Confirm (kept server-side, in their session)."""

    plan: Plan
    approval_id: str | None = None
    at: float = field(default_factory=time.monotonic)


def _one(form: Form, key: str, default: str = "") -> str:
    values = form.get(key) or [default]
    return values[0].strip()


def _session(request: Request) -> Session:
    session: Session = request.state.session
    return session


def _plans(request: Request) -> dict[str, Shown]:
    plans = _session(request).data.setdefault("plans", {})
    assert isinstance(plans, dict)
    now = time.monotonic()
    for key in [k for k, v in plans.items() if now - v.at > PLAN_TTL]:
        del plans[key]
    return plans


def _back(request: Request, form: Form, message: str) -> Response:
    """After a small act (acknowledge, put off, decide): back where the person was, with one line saying so."""
    from starlette.responses import RedirectResponse

    _session(request).data["flash"] = message
    target = _one(form, "next", "/")
    if (
        not target.startswith("/") or target.startswith("//") or "\\" in target
    ):  # this console's own pages only
        target = "/"
    return RedirectResponse(target, 303)


def _show_plans(console: Console, request: Request, rt: Runtime, plans: list[Plan], title: str,
                approval_id: str | None = None) -> Response:  # fmt: skip
    shown = _plans(request)
    items = []
    for plan in plans:
        shown[plan.plan_id] = Shown(plan, approval_id)
        items.append({"plan": plan, "reasons": actions.needs_approval(rt, plan)})
    return console.render(request, "plan.j2", rt=rt, title=title, items=items)


# -- the morning report and its fixes ------------------------------------------------------------------------
def report(console: Console, request: Request) -> Response:
    rt = console.runtime()
    view = views.report_view(console.store(), console.report_cache, rt.settings.extensions)
    return console.render(request, "report.j2", rt=rt, view=view, fix_ids=views.fix_ids)


def fix(console: Console, request: Request, form: Form) -> Response:
    ids = [i.strip() for value in form.get("finding_ids", []) for i in value.split(",") if i.strip()]
    rt = console.runtime()
    plans = actions.plan_fix(rt, ids)
    return _show_plans(
        console, request, rt, plans, f"Fix {', '.join(ids[:3])}{' ...' if len(ids) > 3 else ''}"
    )


def confirm_plan(console: Console, request: Request, form: Form) -> Response:
    plan_id = request.path_params["plan_id"]
    shown = _plans(request).pop(plan_id, None)
    if shown is None:
        raise ConsoleError(
            "this plan is no longer on hand (it was run, or shown more than 15 minutes ago)",
            hint="press Fix again: the plan is made anew from the resource as it is now",
        )
    rt = console.runtime()
    if shown.approval_id:
        rt.approval_id = shown.approval_id
    outcome = actions.confirm(rt, shown.plan, approve_reason=_one(form, "approve_reason") or None)
    return console.render(request, "result.j2", rt=rt, outcome=outcome)


# -- alerts -------------------------------------------------------------------------------------------------
def timeline(console: Console, request: Request) -> Response:
    from escher.alerts.views import timeline as build
    from escher.audit.objects import ObjectAuditSink
    from escher.pipeline.runtime import audit_objects

    rt = console.runtime()
    alert = views.alert_store(rt).get(request.path_params["alert_id"])
    records = ObjectAuditSink(audit_objects(extensions=rt.settings.extensions)).records(alert.correlation_id)
    return console.render(request, "timeline.j2", rt=rt, alert=alert, entries=build(alert, records))


def alert_action(console: Console, request: Request, form: Form) -> Response:
    alert_id, action = request.path_params["alert_id"], request.path_params["action"]
    rt = console.runtime()
    if action == "ack":
        alert = actions.acknowledge(rt, alert_id)
        return _back(request, form, f"Acknowledged {alert.alert_id} ({alert.title}).")
    if action == "remind":
        until = actions.snooze(rt, alert_id)
        return _back(request, form, f"{alert_id} is out of the banners until {until:%Y-%m-%d %H:%M} UTC.")
    alert = views.alert_store(rt).get(alert_id)
    if action in ("stop-all", "stop-dev"):
        plan = actions.plan_stop(rt, alert, dev_only=action == "stop-dev")
        return _show_plans(console, request, rt, [plan], f"Stop {'dev machines of ' if action == 'stop-dev' else ''}"
                           f"{alert.title}")  # fmt: skip
    if action == "approve":
        if not alert.approval_request_id:
            raise ConsoleError(
                f"{alert_id} has no approval request", hint="nothing waits for an approval here"
            )
        return _approve_and_run(console, request, rt, alert.approval_request_id,
                                _one(form, "reason") or f"approved from alert {alert_id}")  # fmt: skip
    raise ConsoleError(f"unknown alert action {action!r}", hint="use the banner's buttons")


# -- approvals ----------------------------------------------------------------------------------------------
def _manager(rt: Runtime) -> None:
    if not rt.actor.is_manager:
        raise NotAllowedError(
            f"{rt.actor.name} is not a manager: the approvals inbox is for managers",
            hint="ask a manager (the [personas] managers list in the config) to approve your request",
        )


def approvals(console: Console, request: Request) -> Response:
    rt = console.runtime()
    _manager(rt)
    return console.render(request, "approvals.j2", rt=rt, items=views.approvals_view(rt))


def _approve_and_run(
    console: Console, request: Request, rt: Runtime, request_id: str, reason: str
) -> Response:
    _manager(rt)
    req = rt.approvals.get(request_id)
    if actions.self_grant_allowed(rt, req.requested_by):
        approve_reason: str | None = reason  # the recorded self-grant of single-operator mode
    else:
        actions.decide(rt, request_id, approve=True, reason=reason)
        approve_reason = None
    plan = actions.plan_approved(rt, request_id)
    outcome = actions.confirm(rt, plan, approve_reason=approve_reason)
    return console.render(request, "result.j2", rt=rt, outcome=outcome)


def approval_plan(console: Console, request: Request) -> Response:
    """What a request would do if it ran now: its plan, read from the cloud now (nothing to confirm here)."""
    rt = console.runtime()
    _manager(rt)
    request_id = request.path_params["request_id"]
    plan = actions.plan_approved(rt, request_id)
    items = [{"plan": plan, "reasons": actions.needs_approval(rt, plan)}]
    return console.render(request, "plan.j2", rt=rt, title=f"Plan of request {request_id}", items=items,
                          preview=request_id)  # fmt: skip


def approval_action(console: Console, request: Request, form: Form) -> Response:
    request_id, action = request.path_params["request_id"], request.path_params["action"]
    rt = console.runtime()
    _manager(rt)
    reason = _one(form, "reason")
    if action in ("approve", "deny"):
        if action == "deny" and not reason:
            raise ConsoleError(
                "a denial needs a reason", hint="say why in the Reason field: the requester reads it"
            )
        said = actions.decide(rt, request_id, approve=action == "approve", reason=reason)
        return _back(request, form, said)
    if action == "approve-run":
        return _approve_and_run(console, request, rt, request_id, reason or "approved in the console")
    if action == "run":
        plan = actions.plan_approved(rt, request_id)
        return _show_plans(console, request, rt, [plan], f"Run approval {request_id}", approval_id=request_id)
    raise ConsoleError(f"unknown approval action {action!r}", hint="use the buttons of the Approvals page")


# -- ask ----------------------------------------------------------------------------------------------------
def _conversation(request: Request) -> tuple[str, list[dict[str, Any]]]:
    data = _session(request).data
    conversation_id = data.setdefault("conversation_id", uuid.uuid4().hex[:12])
    entries = data.setdefault("ask", [])
    assert isinstance(conversation_id, str) and isinstance(entries, list)
    return conversation_id, entries


def ask(console: Console, request: Request) -> Response:
    _, entries = _conversation(request)
    return console.render(request, "ask.j2", entries=entries)


def ask_post(console: Console, request: Request, form: Form) -> Response:
    """``escher chat``'s exchange: the same assistant (brain or local planner) threaded through this session's
    conversation ("only the dev ones" narrows the previous answer), kept in its chat log."""
    from contextlib import ExitStack

    from escher.assist.factory import open_assistant
    from escher.assist.followup import Conversation, ThreadedAssistant

    query = _one(form, "q")
    if not query:
        raise ConsoleError("the question is empty", hint='ask e.g. "which buckets are public?"')
    conversation_id, entries = _conversation(request)
    thread = _session(request).data.setdefault("thread", Conversation(conversation_id))
    assert isinstance(thread, Conversation)
    rt = console.runtime()
    with ExitStack() as stack:
        answer = ThreadedAssistant(open_assistant(rt.settings, rt.paths, stack), thread).ask(query)
    entries.append({"id": uuid.uuid4().hex[:12], "query": query, "answer": answer, "outcomes": None})
    del entries[:-20]
    return console.render(request, "ask.j2", rt=rt, entries=entries)


def ask_confirm(console: Console, request: Request, form: Form) -> Response:
    """The plan's Confirm: ``run_steps`` as ``escher ask --yes`` (a step that needs approval becomes a request)."""
    from escher.assist.execute import run_steps

    _, entries = _conversation(request)
    entry = next((e for e in entries if e["id"] == request.path_params["entry_id"]), None)
    if entry is None or entry["answer"].response.kind != "execution" or entry["outcomes"] is not None:
        raise ConsoleError("this plan is not waiting for a confirm", hint="ask again")
    rt = console.runtime()
    reason = _one(form, "approve_reason")
    rt.self_approval = reason or None
    entry["outcomes"] = run_steps(rt, entry["answer"].response.steps, can_confirm=False, yes=True,
                                  confirm=lambda _q: True)  # fmt: skip
    return console.render(request, "ask.j2", rt=rt, entries=entries)


def ask_save(console: Console, request: Request, form: Form) -> Response:
    """Save a playbook answer to the person's playbooks (``escher ask --save``)."""
    from escher.assist.playbooks import save_playbook

    _, entries = _conversation(request)
    entry = next((e for e in entries if e["id"] == request.path_params["entry_id"]), None)
    if entry is None or entry["answer"].response.kind != "playbook":
        raise ConsoleError(
            "this answer is not a playbook", hint='ask for one, e.g. "a playbook for a public bucket"'
        )
    rt = console.runtime()
    path = save_playbook(rt.paths.data_dir, entry["answer"].response.playbook)
    entry["saved"] = str(path)
    return console.render(request, "ask.j2", rt=rt, entries=entries)


# -- estate, audit, settings --------------------------------------------------------------------------------
def estate(console: Console, request: Request) -> Response:
    q = request.query_params
    flt = views.EstateFilter(**{k: q.get(k, "").strip() for k in ("q", "cloud", "account", "region",
                                                                     "environment", "type", "tag")})  # fmt: skip
    view = views.estate_view(flt, q.get("resource", ""), console.store(), console.scan_cache)
    return console.render(request, "estate.j2", view=view, flt=flt)


_AUDIT_KEYS = ("since", "until", "actor", "action", "target", "cloud", "outcome")


def audit(console: Console, request: Request) -> Response:
    q = request.query_params
    query: dict[str, Any] = {k: q.get(k, "").strip() for k in _AUDIT_KEYS}
    try:
        query["limit"] = max(1, min(int(q.get("limit", "100")), 1000))
    except ValueError:
        query["limit"] = 100
    rt = console.runtime()
    view = views.audit_view(rt, query, verify=q.get("verify") == "1", store=console.store())
    return console.render(request, "audit.j2", rt=rt, view=view, query=query)


def settings(console: Console, request: Request) -> Response:
    rt = console.runtime()
    return console.render(request, "settings.j2", rt=rt, view=views.settings_view(rt))


def _number(form: Form, key: str) -> float | None:
    raw = _one(form, key)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConsoleError(f"{key} must be a number, not {raw!r}", hint="type digits, e.g. 24") from None


def settings_post(console: Console, request: Request, form: Form) -> Response:
    what = request.path_params["what"]
    rt = console.runtime()
    if what == "remediation":
        name = _one(form, "name")
        enabled = _one(form, "enabled") == "on"
        actions.set_remediation(rt, name, enabled, idle_hours=_number(form, "idle_hours"),
                                capacity_percent=_number(form, "capacity_percent"))  # fmt: skip
        return _back(request, form, f"{name}: {'on' if enabled else 'off'} (recorded in the audit log).")
    if what == "report":
        thresholds = {k.split(".", 1)[1]: float(v) for k, v in ((k, _one(form, k)) for k in form)
                      if k.startswith("thresholds.") and v}  # fmt: skip
        changes: dict[str, Any] = {"sections": form.get("sections", []), "focus": _one(form, "focus"),
                                   "format": _one(form, "format"), "thresholds": thresholds}  # fmt: skip
        actions.save_report_template(rt, {k: v for k, v in changes.items() if v not in ("", None)})
        return _back(request, form, "Report template saved (recorded in the audit log).")
    if what == "routes":
        routes = {sev: form.get(f"route.{sev}", []) for sev in ("CRITICAL", "HIGH", "MEDIUM", "INFO")}
        actions.save_routes(rt, routes)
        return _back(request, form, "Notification routes saved (recorded in the audit log).")
    raise ConsoleError(f"unknown setting {what!r}", hint="use the forms of the Settings page")


# -- the live banners ---------------------------------------------------------------------------------------
async def events(console: Console, request: Request) -> Response:
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import PlainTextResponse, StreamingResponse

    from escher.console.app import stream_alerts

    try:
        rt = await run_in_threadpool(console.runtime)
    except EscherError as exc:  # a broken config: the pages say what; the stream just does not start
        return PlainTextResponse(f"{exc.message}\n", 400)
    return StreamingResponse(
        stream_alerts(console, request, rt),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
