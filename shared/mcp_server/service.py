"""Every MCP tool as a plain method: reads from the core as the CLI reads, acts through the planner and the gate.

No MCP here (:mod:`escher.mcp_server.app` adapts this), so the contract is testable without a transport:

- **Reads** (estate, findings, morning report, cost, alerts and timelines, audit, approvals, playbooks) call the
  same core functions as ``escher search|report|alerts|audit|brain playbooks``. There is no core function for a
  compliance status yet: findings carry their compliance ids (``list_findings``) and that is all we serve.
- **Plans** come from :class:`escher.assist.client.Assistant` (``escher ask``'s resolution: a request never
  widens, a question never acts) or from a playbook's own steps, and are kept here under an unguessable id.
  The model can only name that id: it never hands in targets, so it cannot widen a plan.
- **Execution** re-plans each step from the cloud now and asks the one gate; a step that needs approval gets
  an approval request (one per step, reused) and runs only once a person's approval is recorded. Nothing in this
  module approves: ``Runtime.self_approval`` stays ``None``, so neither ``--approve`` nor a "yes" exists here.
- **The ledger**: every record an act writes goes through :class:`ChannelSink`, which names the MCP client
  (``details.channel = "mcp:<client>"``); the sink is closed after each act, which signs and anchors the head.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from escher.audit import AuditRecord, AuditSink
from escher.errors import EscherError
from escher.privacy import cut

if TYPE_CHECKING:
    from escher.brain.models import PlanStep, Playbook
    from escher.ops.engine import Engine, Plan
    from escher.policy.approvals import ApprovalRequest
    from escher.policy.runtime import Runtime
    from escher.scans.persist import ResultStore

__all__ = ["Answer", "ChannelSink", "EscherService", "McpError", "PlanBook", "StoredPlan", "channel_for"]

REPORT_SECTIONS = ("alerts", "cost", "changes", "good_news", "security", "optimization", "operational",
                   "health_ok", "questions", "totals", "partial")  # fmt: skip
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
_CLIENT = re.compile(r"[^A-Za-z0-9._ -]+")
PLAN_TTL = timedelta(hours=24)
MAX_PLANS = 200


class McpError(EscherError):
    """A tool cannot answer: an unknown plan or resource, nothing stored yet."""


def channel_for(client_name: str | None) -> str:
    """``mcp:<client name>``: the client's self-declared name, reduced to plain characters (it is data too)."""
    name = _CLIENT.sub("", (client_name or "").strip())[:64].strip() or "unknown-client"
    return f"mcp:{name}"


@dataclass
class Answer:
    """A tool's answer: a one-line summary for people and models, and the data (structured content)."""

    summary: str
    data: dict[str, Any]
    estate_text: bool = True  # False: Escher's own text (the playbook library), not the estate's


class ChannelSink:
    """An :class:`~escher.audit.AuditSink` that names the channel on every record it passes on."""

    def __init__(self, inner: AuditSink, channel: str) -> None:
        self.inner = inner
        self.channel = channel

    def append(self, record: AuditRecord) -> None:
        self.inner.append(record.model_copy(update={"details": {**record.details, "channel": self.channel}}))


@dataclass
class StoredPlan:
    plan_id: str
    origin: str  # the request, or "playbook <id>"
    steps: list[PlanStep]
    channel: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    approval_requests: dict[int, str] = field(default_factory=dict)  # step index -> request id


class PlanBook:
    """Plans made in this server, by id; at most :data:`MAX_PLANS`, each for :data:`PLAN_TTL`."""

    def __init__(self) -> None:
        self._plans: dict[str, StoredPlan] = {}
        self._lock = threading.Lock()

    def add(self, origin: str, steps: list[PlanStep], channel: str) -> StoredPlan:
        plan = StoredPlan("P-" + secrets.token_hex(8), origin, steps, channel)
        with self._lock:
            self._plans[plan.plan_id] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
        return plan

    def get(self, plan_id: str) -> StoredPlan:
        with self._lock:
            plan = self._plans.get(plan_id)
        if plan is None or datetime.now(UTC) - plan.created_at > PLAN_TTL:
            raise McpError(
                f"no plan {plan_id!r} in this server (plans are kept 24 h, in memory)",
                hint="make the plan again with plan_request or plan_playbook, then use the id it returns",
            )
        return plan


def _scalars(attrs: dict[str, Any], limit: int = 40) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bool | int | float) or value is None:
            out[str(key)] = value
        elif isinstance(value, str):
            out[str(key)] = cut(value, 200)
        if len(out) >= limit:
            break
    return out


def _resource(rec: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(rec.get("attrs") or {})
    return {
        "id": str(rec.get("id", "")), "cloud": rec.get("cloud"), "account": rec.get("account"),
        "region": rec.get("region"), "type": rec.get("type"), "name": cut(str(rec.get("name") or ""), 256),
        "state": str(attrs.get("state") or attrs.get("status") or ""),
        "tags": {cut(str(k), 128): cut(str(v), 256) for k, v in list((rec.get("tags") or {}).items())[:64]},
        "attrs": _scalars(attrs),
    }  # fmt: skip


_FINDING_KEYS = ("id", "check_id", "title", "severity", "status", "cloud", "region", "account", "resource_id",
                 "resource_type", "message", "category", "fix_operation", "monthly_saving", "environment",
                 "compliance", "remediation")  # fmt: skip


def _finding(f: dict[str, Any]) -> dict[str, Any]:
    out = {k: f.get(k) for k in _FINDING_KEYS if k in f}
    message = out.get("message")
    if isinstance(message, str):
        out["message"] = cut(message, 2000)
    if f.get("id"):
        out["fix_command"] = f"escher fix {f['id']}" if f.get("fix_operation") else ""
    return out


def _environment(tags: dict[str, Any]) -> str:
    from escher.brain._parse import canonical_env

    for key in ("env", "environment", "stage", "Environment", "Env"):
        if tags.get(key):
            return str(canonical_env(str(tags[key])) or tags[key]).lower()
    return ""


class EscherService:
    """The tools. One call at a time (a lock): the store connection and the ledger are not shared by threads."""

    def __init__(self) -> None:
        self.plans = PlanBook()
        self._lock = threading.RLock()

    @contextmanager
    def _serial(self) -> Iterator[None]:
        with self._lock:
            yield

    # -- stores ----------------------------------------------------------------------------------------
    @contextmanager
    def _results(self) -> Iterator[ResultStore]:
        from escher.scans.persist import close_store, open_store

        store = open_store()
        try:
            yield store
        finally:
            close_store(store)

    def _estate(self) -> list[dict[str, Any]]:
        with self._results() as store:
            estate = store.latest("estate") or {}
        return [r for r in estate.get("records", []) if isinstance(r, dict) and r.get("id")]

    def _findings(self) -> list[dict[str, Any]]:
        with self._results() as store:
            keys = store.keys("scan")
            scan = store.get("scan", keys[-1]) if keys else None
        if scan is None:
            raise McpError(
                "no scan has been stored yet", hint="run `escher scan` (or wait for the daily job)"
            )
        return [f for f in scan.get("findings", []) if isinstance(f, dict)]

    # -- reads -----------------------------------------------------------------------------------------
    def search_estate(
        self, query: str = "", *, cloud: str | None = None, region: str | None = None,
        resource_type: str | None = None, environment: str | None = None, limit: int = 50,
    ) -> Answer:  # fmt: skip
        words = [w for w in re.split(r"\s+", query.lower()) if w]
        found = []
        with self._serial():
            records = self._estate()
        for rec in records:
            r = _resource(rec)
            if cloud and r["cloud"] != cloud:
                continue
            if region and not str(r["region"] or "").startswith(region):
                continue
            if resource_type and not str(r["type"] or "").startswith(resource_type):
                continue
            if environment and _environment(r["tags"]) != environment.lower():
                continue
            hay = " ".join([r["id"], r["name"], str(r["type"]), str(r["region"]), r["state"],
                            *(f"{k}={v}" for k, v in r["tags"].items())]).lower()  # fmt: skip
            if all(w in hay for w in words):
                found.append(r)
        shown = found[:limit]
        return Answer(f"{len(found)} resource(s) match" + (f"; showing {len(shown)}" if len(shown) < len(found) else ""),
                      {"total": len(found), "resources": shown})  # fmt: skip

    def get_resource(self, resource_id: str) -> Answer:
        with self._serial():
            records = self._estate()
            matches = [r for r in records if resource_id in (r.get("id"), r.get("name"))]
            if not matches:
                raise McpError(f"no resource {resource_id!r} in the latest scan",
                               hint="search_estate finds ids and names; run `escher scan` if it is new")  # fmt: skip
            try:
                findings = self._findings()
            except McpError:
                findings = []
        ids = {str(r["id"]) for r in matches}
        mine = [_finding(f) for f in findings if f.get("status") == "FAIL" and f.get("resource_id") in ids]
        data = {"resources": [_resource(r) for r in matches], "findings": mine}
        return Answer(f"{len(matches)} resource(s), {len(mine)} failed finding(s)", data)

    def list_findings(
        self, *, severity: Severity | None = None, cloud: str | None = None, region: str | None = None,
        check_id: str | None = None, category: str | None = None, resource_id: str | None = None,
        limit: int = 100,
    ) -> Answer:  # fmt: skip
        with self._serial():
            findings = self._findings()
        out = []
        for f in findings:
            if f.get("status") != "FAIL":
                continue
            if severity and f.get("severity") != severity:
                continue
            if cloud and f.get("cloud") != cloud:
                continue
            if region and not str(f.get("region") or "").startswith(region):
                continue
            if check_id and not str(f.get("check_id", "")).startswith(check_id):
                continue
            if category and f.get("category") != category:
                continue
            if resource_id and f.get("resource_id") != resource_id:
                continue
            out.append(_finding(f))
        order = {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "INFO": 4}
        out.sort(
            key=lambda f: (
                order.get(str(f.get("severity")), 5),
                str(f.get("check_id")),
                str(f.get("resource_id")),
            )
        )
        counts: dict[str, int] = {}
        for f in out:
            counts[str(f.get("severity"))] = counts.get(str(f.get("severity")), 0) + 1
        return Answer(f"{len(out)} failed finding(s): " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none"),
                      {"total": len(out), "by_severity": counts, "findings": out[:limit]})  # fmt: skip

    def morning_report(self, *, section: str | None = None, date: str | None = None) -> Answer:
        from escher.report.service import get_or_build_report

        if section is not None and section not in REPORT_SECTIONS:
            raise McpError(f"no report section {section!r}", hint="one of: " + ", ".join(REPORT_SECTIONS))
        with self._serial():
            data = get_or_build_report(date=date).to_dict()
        data.pop("findings", None)  # every failed finding: list_findings serves them with filters
        head = f"morning report {data['report_date']} ({data['resources']} resources, scan {data['scan_id']})"
        if section is None:
            return Answer(head, data)
        return Answer(f"{head}: {section}", {"report_date": data["report_date"], "section": section,
                                              section: data.get(section)})  # fmt: skip

    def cost(self, *, view: Literal["summary", "drivers", "trend"] = "summary", days: int = 14) -> Answer:
        from escher.scans.cost import CostSnapshot, summarize

        with self._serial(), self._results() as store:
            latest: dict[str, dict[str, Any]] = {}
            for key in store.keys("cost")[-60:]:
                snap = store.get("cost", key) or {}
                cloud = snap.get("cloud")
                if cloud in ("aws", "azure", "gcp") and str(snap.get("day", "")) >= str(
                    latest.get(cloud, {}).get("day", "")
                ):
                    latest[cloud] = snap  # fmt: skip
        if not latest:
            raise McpError("no cost snapshot is stored yet",
                           hint="the daily job (or `escher scan` with cost) stores one per cloud per day")  # fmt: skip
        snaps = [CostSnapshot.from_dict(s) for s in latest.values()]
        s = summarize(snaps)
        if view == "summary":
            data = {k: v for k, v in s.to_dict().items()
                    if k not in ("by_service", "by_region", "by_account", "by_tag", "anomalies")}  # fmt: skip
            data["clouds"] = sorted(latest)
            pct = f" ({s.day_delta_pct:+.1f}% vs the day before)" if s.day_delta_pct is not None else ""
            return Answer(
                f"{s.currency} {s.yesterday:,.2f} on {s.day}{pct}; month to date {s.month_to_date:,.2f}", data
            )
        if view == "drivers":
            data = {"day": s.day, "currency": s.currency,
                    "by_service": [{"service": n, "cost": c, "change_vs_previous_day": d} for n, c, d in s.by_service[:25]],
                    "by_region": [{"region": n, "cost": c} for n, c in s.by_region],
                    "by_account": [{"account": n, "cost": c} for n, c in s.by_account],
                    "by_tag": [{"tag": n, "cost": c} for n, c in s.by_tag], "anomalies": s.anomalies}  # fmt: skip
            top = s.by_service[0] if s.by_service else None
            return Answer(
                f"largest: {top[0]} {s.currency} {top[1]:,.2f}" if top else "no spend recorded", data
            )
        since = (datetime.fromisoformat(s.day) - timedelta(days=max(1, days) - 1)).date().isoformat()
        per_day: dict[str, dict[str, float]] = {}
        for snapshot in snaps:
            for row in snapshot.rows:
                if since <= row.day <= s.day:
                    day = per_day.setdefault(row.day, {})
                    day[snapshot.cloud] = round(day.get(snapshot.cloud, 0.0) + row.amount, 2)
        trend = [
            {"day": d, "total": round(sum(v.values()), 2), "by_cloud": v} for d, v in sorted(per_day.items())
        ]
        return Answer(
            f"{len(trend)} day(s) of spend from {since} to {s.day}", {"currency": s.currency, "days": trend}
        )

    def _alert_stores(self) -> tuple[Any, Any]:
        from escher.alerts.store import AlertStore, ObjectAuditSink
        from escher.config import load_settings
        from escher.pipeline.runtime import audit_objects, state_objects

        extensions = load_settings().extensions
        return AlertStore(state_objects(extensions=extensions)), ObjectAuditSink(
            audit_objects(extensions=extensions)
        )

    def alerts(self, *, include_acknowledged: bool = False) -> Answer:
        with self._serial():
            store, _ = self._alert_stores()
            found = store.list(include_acknowledged=include_acknowledged)
        data = [a.model_dump(mode="json", exclude={"details"}) for a in found]
        return Answer(f"{len(data)} {'' if include_acknowledged else 'open '}alert(s)", {"alerts": data})

    def incident_timeline(self, alert_id: str) -> Answer:
        from escher.alerts.views import timeline

        with self._serial():
            store, audit = self._alert_stores()
            alert = store.get(alert_id)
            entries = timeline(alert, audit.records(alert.correlation_id))
        data = {"alert": alert.model_dump(mode="json", exclude={"details"}),
                "timeline": [e.to_dict() for e in entries], "exposure_seconds": alert.exposure_seconds}  # fmt: skip
        return Answer(
            f"{len(entries)} timeline entries for {alert.alert_id} ({alert.severity}, {alert.status})", data
        )

    @contextmanager
    def _store(self) -> Iterator[Any]:
        from escher.audit_sink import migrate_jsonl
        from escher.store.store import Store

        with Store.open() as store:
            migrate_jsonl(store)
            yield store

    def audit_list(
        self, *, since: str | None = None, until: str | None = None, actor: str | None = None,
        action: str | None = None, target: str | None = None, cloud: str | None = None,
        outcome: str | None = None, channel: str | None = None, limit: int = 50,
    ) -> Answer:  # fmt: skip
        from escher.store.audit_query import AuditQuery, parse_when, query_audit

        q = AuditQuery(since=parse_when(since) if since else None, until=parse_when(until) if until else None,
                       actor=actor, action=action, target=target, cloud=cloud, outcome=outcome,
                       limit=None if channel else limit)  # fmt: skip
        with self._serial(), self._store() as store:
            rows = [row.to_json() for row in query_audit(store.connection, q)]
        if channel:
            rows = [r for r in rows if str(r.get("details", {}).get("channel", "")).startswith(channel)][
                :limit
            ]
        return Answer(f"{len(rows)} audit record(s), newest first", {"records": rows})

    def audit_verify(self) -> Answer:
        with self._serial(), self._store() as store:
            report = store.verify()
        data = report.to_dict()
        return Answer("the ledger verifies: every chain, signature and anchor holds" if report.ok
                      else f"the ledger does NOT verify: {len(report.issues)} issue(s)", data)  # fmt: skip

    def approvals(self, *, status: str | None = None, channel: str = "mcp:unknown-client") -> Answer:
        # through a runtime that is closed after: noticing an expiry writes (and signs) a ledger record
        with self._serial(), self._runtime(channel) as rt:
            items = rt.approvals.list(status or None)  # type: ignore[arg-type]
        return Answer(
            f"{len(items)} approval request(s)", {"requests": [r.model_dump(mode="json") for r in items]}
        )

    def _playbooks(self) -> dict[str, tuple[str, Playbook]]:
        from escher.assist.playbooks import list_playbooks
        from escher.brain.knowledge import load_knowledge
        from escher.config import resolve_paths

        rows: dict[str, tuple[str, Playbook]] = {p.id: ("library", p) for p in load_knowledge().playbooks}
        rows.update((p.id, ("saved", p)) for p in list_playbooks(resolve_paths().data_dir))
        return rows

    def playbooks(self, *, query: str = "", cloud: str | None = None) -> Answer:
        words = [w for w in query.lower().split() if w]
        out = []
        for pid, (origin, p) in sorted(self._playbooks().items()):
            if cloud and cloud not in p.clouds:
                continue
            hay = " ".join([p.id, p.name, p.description, p.category, *p.keywords]).lower()
            if all(w in hay for w in words):
                out.append({"id": pid, "name": p.name, "origin": origin, "clouds": list(p.clouds),
                            "category": p.category, "description": p.description, "steps": len(p.steps)})  # fmt: skip
        return Answer(f"{len(out)} playbook(s)", {"playbooks": out}, estate_text=False)

    def get_playbook(self, playbook_id: str) -> Answer:
        found = self._playbooks().get(playbook_id)
        if found is None:
            raise McpError(f"no playbook {playbook_id!r}", hint="list_playbooks shows the ids")
        origin, p = found
        data = {"origin": origin, "playbook": p.model_dump(mode="json")}
        return Answer(f"{p.name} ({len(p.steps)} steps)", data, estate_text=False)

    # -- acts ------------------------------------------------------------------------------------------
    @contextmanager
    def _runtime(self, channel: str) -> Iterator[Runtime]:
        """A runtime whose every record names the channel; its ledger is signed and anchored when done."""
        from escher.audit_sink import LedgerAuditSink
        from escher.policy.runtime import open_runtime

        ledger = LedgerAuditSink()
        try:
            rt = open_runtime(sink=ChannelSink(ledger, channel))
            rt.self_approval = None  # never: approval is a person's act, outside this channel
            yield rt
        finally:
            ledger.close()

    def plan_request(self, request: str, *, channel: str) -> Answer:
        """Plain language, resolved exactly as ``escher ask`` resolves it; an execution plan is kept, not run."""
        from contextlib import ExitStack

        from escher.assist.factory import open_assistant
        from escher.config import load_settings, resolve_paths

        with self._serial():
            paths = resolve_paths()
            with ExitStack() as stack:
                answer = open_assistant(load_settings(paths), paths, stack).ask(request)
            r = answer.response
            data: dict[str, Any] = {"kind": r.kind, "summary": r.summary, "source": answer.source,
                                    "notices": [*answer.notices, *r.notices]}  # fmt: skip
            dumped = r.model_dump(mode="json")
            if r.kind == "execution" and r.steps:
                stored = self.plans.add(request, list(r.steps), channel)
                data["plan"] = self._preview(stored)
                return Answer(_plan_line(data["plan"]), data)
            for key in (
                "table",
                "resource_ids",
                "unresolved",
                "scope",
                "playbook",
                "jobs",
                "suggested_questions",
            ):
                if dumped.get(key):
                    data[key] = dumped[key]
            if r.kind == "playbook":
                data["next_step"] = f"plan_playbook with playbook_id={r.playbook.id!r} plans its steps"
            return Answer(f"{r.kind}: {r.summary}", data)

    def plan_playbook(self, playbook_id: str, *, region: str | None = None, channel: str) -> Answer:
        """A playbook's operation steps that select their own targets (by tag) become a plan; the rest are listed."""
        from escher.brain.models import PlanStep
        from escher.ops.model import OPERATIONS, OpError

        found = self._playbooks().get(playbook_id)
        if found is None:
            raise McpError(f"no playbook {playbook_id!r}", hint="list_playbooks shows the ids")
        _, pb = found
        steps: list[PlanStep] = []
        skipped: list[dict[str, str]] = []
        for s in pb.steps:
            if not s.operation_id:
                skipped.append({"title": s.title, "why": "a manual step: a person does it"})
                continue
            try:
                op = OPERATIONS.get(s.operation_id)
            except OpError as exc:
                skipped.append({"title": s.title, "why": exc.message})
                continue
            if not s.select_by_tags:
                skipped.append({"title": s.title, "why": f"{op.id} names no targets: ask for it by name with "
                                                        "plan_request (nothing is selected for you)"})  # fmt: skip
                continue
            steps.append(PlanStep(operation_id=op.id, select_by_tags=dict(s.select_by_tags), params=dict(s.params),
                                  region=region, reason=f"playbook {pb.id}: {s.title}"[:500], risk=op.risk.value,
                                  destructive=op.risk.value in ("high", "critical")))  # fmt: skip
        data: dict[str, Any] = {"playbook": pb.id, "name": pb.name, "not_planned": skipped}
        if not steps:
            return Answer(f"{pb.name}: no step selects its own targets; nothing planned", data)
        with self._serial():
            stored = self.plans.add(f"playbook {pb.id}", steps, channel)
            data["plan"] = self._preview(stored)
        return Answer(_plan_line(data["plan"]), data)

    def _preview(self, stored: StoredPlan) -> dict[str, Any]:
        """Each step planned from the cloud now: targets, now -> wanted, risk, and what the gate would say."""
        from escher.ops.model import OpError

        out: list[dict[str, Any]] = []
        with self._runtime(stored.channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i, step in enumerate(stored.steps):
                item: dict[str, Any] = {"step": i, "operation": step.operation_id, "region": step.region,
                                        "reason": step.reason}  # fmt: skip
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    item.update(status="cannot_plan", message=exc.message, hint=exc.hint or "")
                    out.append(item)
                    continue
                decision = gate.decide(plan)
                reasons = gate.approval_reasons(plan)
                status = ("nothing_to_change" if not plan.to_change else "ready" if decision.allowed
                          else "needs_approval" if decision.needs_approval else "refused")  # fmt: skip
                item.update(status=status, risk=plan.operation.risk.value, approval_needed=bool(reasons),
                            approval_reasons=reasons, gate=decision.reason, changes=_changes(plan))  # fmt: skip
                if decision.allowed and decision.via.startswith("approval:"):
                    item["approved_by_request"] = decision.via.split(":", 1)[1]
                out.append(item)
        return {"plan_id": stored.plan_id, "origin": stored.origin, "steps": out,
                "next_step": _next(out, stored.plan_id)}  # fmt: skip

    def request_approval(self, plan_id: str, *, channel: str) -> Answer:
        """Approval requests for the plan's steps that need one (one per step, reused); runs nothing."""
        from escher.ops.model import OpError

        stored = self.plans.get(plan_id)
        out: list[dict[str, Any]] = []
        with self._serial(), self._runtime(channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i, step in enumerate(stored.steps):
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    out.append(
                        {
                            "step": i,
                            "operation": step.operation_id,
                            "status": "cannot_plan",
                            "message": exc.message,
                        }
                    )
                    continue
                decision = gate.decide(plan)
                item: dict[str, Any] = {"step": i, "operation": step.operation_id}
                if decision.allowed:
                    item.update(status="no_approval_needed" if decision.via != "noop" else "nothing_to_change",
                                message=decision.reason)  # fmt: skip
                elif decision.needs_approval:
                    req = self._request(rt, stored, i, plan)
                    item.update(status="approval_requested", approval_request=req.request_id,
                                message=decision.reason, how_to_approve=_how_to_approve(rt, req.request_id))  # fmt: skip
                else:
                    item.update(status="refused", message=decision.reason)
                out.append(item)
        asked = [o["approval_request"] for o in out if o.get("approval_request")]
        return Answer(f"{len(asked)} approval request(s): {', '.join(asked)}; a person approves them outside "
                      "this AI client" if asked else "no step of this plan needs an approval",
                      {"plan_id": plan_id, "steps": out})  # fmt: skip

    def execute_plan(self, plan_id: str, *, steps: Sequence[int] | None = None, channel: str) -> Answer:
        """Run the plan's steps (all, or these indices) through the engine and the gate, as ``escher ask`` does.

        Each step is planned again from the cloud now. A step the gate holds for approval does not run: it gets
        (or keeps) its approval request. A step with a recorded approval, or that needs none, runs."""
        from escher.assist.execute import run_steps
        from escher.ops.model import OpError

        stored = self.plans.get(plan_id)
        chosen = list(range(len(stored.steps))) if not steps else list(dict.fromkeys(steps))
        bad = [i for i in chosen if not 0 <= i < len(stored.steps)]
        if bad:
            raise McpError(f"plan {plan_id} has steps 0..{len(stored.steps) - 1}, not {bad}",
                           hint="pass step indices from the plan, or none for every step")  # fmt: skip
        out: list[dict[str, Any]] = []
        with self._serial(), self._runtime(channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i in chosen:
                step = stored.steps[i]
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    out.append(
                        {
                            "step": i,
                            "operation": step.operation_id,
                            "status": "failed",
                            "message": exc.message,
                        }
                    )
                    break
                decision = gate.decide(plan)
                if not decision.allowed and decision.needs_approval:
                    req = self._request(rt, stored, i, plan)
                    out.append({"step": i, "operation": step.operation_id, "status": "needs_approval",
                                "message": f"{decision.reason}. Not executed.", "approval_request": req.request_id,
                                "how_to_approve": _how_to_approve(rt, req.request_id), "plan": _changes(plan)})  # fmt: skip
                    continue
                # the same function `escher ask` runs a step with; calling execute_plan is the confirmation
                [outcome] = run_steps(rt, [step], can_confirm=False, yes=True, confirm=_never, engine=engine)
                if outcome.approval_request:
                    stored.approval_requests[i] = outcome.approval_request
                item = {"step": i, **outcome.to_dict()}
                if item.get("plan"):
                    item["plan"] = {"plan_id": item["plan"]["plan_id"], "changes": item["plan"]["changes"]}
                out.append(item)
                if outcome.status == "failed":
                    break
        counts: dict[str, int] = {}
        for o in out:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
        return Answer(", ".join(f"{n} step(s) {s}" for s, n in counts.items()) or "nothing to run",
                      {"plan_id": plan_id, "steps": out})  # fmt: skip

    def _request(self, rt: Runtime, stored: StoredPlan, index: int, plan: Plan) -> ApprovalRequest:
        """This step's pending request if it still covers the plan, else a new one (recorded in the ledger)."""
        from escher.policy.gate import plan_targets

        targets = plan_targets(plan)
        params = plan.params.model_dump(mode="json")
        known = stored.approval_requests.get(index)
        if known is not None:
            req = rt.approvals.get(known)
            if (req.status_at(datetime.now(UTC)) == "pending" and req.operation == plan.operation.id
                    and req.params == params and set(targets) <= set(req.targets)):  # fmt: skip
                return req
        req = rt.approvals.request(plan.operation.id, targets, params, by=rt.actor, reason=plan.reason)
        stored.approval_requests[index] = req.request_id
        return req


def _never(_question: str) -> bool:
    return False


def _engine_plan(rt: Runtime, engine: Engine, step: PlanStep) -> Plan:
    """The engine plan of a step exactly as ``escher ask`` makes it (``escher.assist.execute``)."""
    from escher.assist.execute import _engine_plan as ask_engine_plan

    return ask_engine_plan(rt, engine, step)


def _changes(plan: Plan) -> list[dict[str, Any]]:
    out = []
    for c in plan.changes:
        now = {k: v for k, v in (c.before or {}).items() if k in c.wanted} if c.before else None
        out.append({"target": c.target.resource_id, "region": c.target.region, "action": c.action,
                    "now": now, "wanted": c.wanted, "error": c.error, "cli": c.cli})  # fmt: skip
    return out


def _plan_line(plan: dict[str, Any]) -> str:
    parts = []
    for s in plan["steps"]:
        n = len([c for c in s.get("changes", []) if c["action"] == "change"])
        parts.append(f"step {s['step']} {s['operation']}: {n} change(s), {s['status']}")
    return f"plan {plan['plan_id']}: " + "; ".join(parts)


def _next(steps: list[dict[str, Any]], plan_id: str) -> str:
    if any(s["status"] == "needs_approval" for s in steps):
        return (f"steps that need approval do not run: request_approval(plan_id={plan_id!r}) asks for it; a person "
                "approves outside this AI client, then execute_plan runs what is approved")  # fmt: skip
    if any(s["status"] == "ready" for s in steps):
        return f"show the user this plan; if they want it, execute_plan(plan_id={plan_id!r})"
    return "nothing in this plan can run now"


def _how_to_approve(rt: Runtime, request_id: str) -> str:
    if rt.single_operator and rt.actor.is_manager:
        return (f"the user approves it themselves in a terminal (a recorded self-approval; it then runs there): "
                f"escher approvals run {request_id} --approve \"reason\"")  # fmt: skip
    return (f"another manager runs 'escher approvals approve {request_id}'; then execute_plan runs it "
            f"(or 'escher approvals run {request_id}')")  # fmt: skip
