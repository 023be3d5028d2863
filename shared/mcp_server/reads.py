"""The read tools: estate, findings, morning report, cost, alerts and timelines, audit, approvals, playbooks.

Each calls the core function the CLI calls (``escher search|report|alerts|audit|approvals|compliance|brain
playbooks``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from escher.mcp_server._base import Answer, McpError, ToolBase
from escher.privacy import cut

if TYPE_CHECKING:
    from escher.scans.findings import FindingFilter

__all__ = ["REPORT_SECTIONS", "Reads"]

REPORT_SECTIONS = ("alerts", "cost", "changes", "good_news", "security", "optimization", "operational",
                   "health_ok", "questions", "totals", "partial")  # fmt: skip
Severity = Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]


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


class Reads(ToolBase):
    def _estate(self) -> list[dict[str, Any]]:
        with self._results() as store:
            estate = store.latest("estate") or {}
        return [r for r in estate.get("records", []) if isinstance(r, dict) and r.get("id")]

    def _findings(self, flt: FindingFilter | None = None) -> list[dict[str, Any]]:
        """The latest scan's failing findings, worst first (``escher findings list``'s functions)."""
        from escher.scans.findings import latest_scan, select

        with self._results() as store:
            scan = latest_scan(store)
        return [f.to_dict() for f in select(scan, flt)]

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
            from escher.scans.findings import FindingsError

            try:
                findings = self._findings()
            except FindingsError:  # an estate without a stored scan: no findings to show
                findings = []
        ids = {str(r["id"]) for r in matches}
        mine = [_finding(f) for f in findings if f.get("status") == "FAIL" and f.get("resource_id") in ids]
        data = {"resources": [_resource(r) for r in matches], "findings": mine}
        return Answer(f"{len(matches)} resource(s), {len(mine)} failed finding(s)", data)

    def list_findings(
        self, *, severity: Severity | None = None, cloud: str | None = None, check: str | None = None,
        environment: str | None = None, account: str | None = None, region: str | None = None,
        category: str | None = None, resource_id: str | None = None, limit: int = 100,
    ) -> Answer:  # fmt: skip
        """``escher findings list``'s selection (a filter that matches nothing known is an error, never no
        filter), narrowed further by region, category and resource."""
        from escher.scans.findings import FindingFilter

        def one(value: str | None) -> list[str]:
            return [value] if value else []

        flt = FindingFilter.parse(clouds=one(cloud), severities=one(severity), checks=one(check),
                                  environments=one(environment), accounts=one(account))  # fmt: skip
        with self._serial():
            findings = self._findings(flt)
        out = [
            _finding(f) for f in findings
            if (not region or str(f.get("region") or "").startswith(region))
            and (not category or f.get("category") == category)
            and (not resource_id or f.get("resource_id") == resource_id)
        ]  # fmt: skip
        counts: dict[str, int] = {}
        for f in out:
            counts[str(f.get("severity"))] = counts.get(str(f.get("severity")), 0) + 1
        return Answer(f"{len(out)} failed finding(s): " + (", ".join(f"{n} {s}" for s, n in counts.items()) or "none"),
                      {"total": len(out), "by_severity": counts, "findings": out[:limit]})  # fmt: skip

    def compliance_status(
        self, framework: str | None = None, *, cloud: str | None = None, account: str | None = None,
        status: list[str] | None = None, limit: int = 50,
    ) -> Answer:  # fmt: skip
        """``escher compliance list`` (no framework) or ``report FRAMEWORK``: per control verdict with at most
        ``limit`` failing resources each (the passing ones are counted, not listed)."""
        from escher.compliance.catalogue import framework as get_framework
        from escher.compliance.catalogue import frameworks
        from escher.compliance.evaluate import Verdict, evaluate, pick_scan, recent_scans

        with self._serial(), self._results() as store:
            scans = recent_scans(store)
        if framework is None:
            rows = []
            for fw in frameworks():
                row: dict[str, Any] = {"id": fw.id, "name": fw.name, "version": fw.version, "cloud": fw.cloud,
                                       "controls": len(fw.controls), "percent_compliant": None}  # fmt: skip
                if scans:
                    rep = evaluate(fw, pick_scan(scans, fw))
                    row.update(percent_compliant=rep.percent, counts=rep.counts, scan_id=rep.scan_id)
                rows.append(row)
            head = f"{len(rows)} frameworks" + ("" if scans else "; no scan yet: run `escher scan`")
            return Answer(head, {"frameworks": rows})
        fw = get_framework(framework)
        statuses = Verdict.parse(status or ())
        report = evaluate(fw, pick_scan(scans, fw, cloud=cloud), cloud=cloud, account=account)
        data = report.to_dict(statuses=statuses, with_passed=False)
        for control in data["controls"]:
            if len(control["failed"]) > limit:
                control["failed_total"] = len(control["failed"])
                control["failed"] = control["failed"][:limit]
        n = report.counts
        pct = "no control decided" if report.percent is None else f"{report.percent:.1f}% compliant"
        return Answer(f"{fw.title}: {pct} (" + ", ".join(f"{v} {k}" for k, v in n.items())
                      + f") on scan {report.scan_id}", data)  # fmt: skip

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
        from escher.scans.cost import stored_snapshots, summarize

        with self._serial(), self._results() as store:
            snaps = stored_snapshots(store)  # what the report, ask and chat read: the newest day per cloud
        if not snaps:
            raise McpError("no cost snapshot is stored yet",
                           hint="`escher cost sync` (or the daily job) stores one per cloud per day")  # fmt: skip
        s = summarize(snaps)
        if view == "summary":
            data = {k: v for k, v in s.to_dict().items()
                    if k not in ("by_service", "by_region", "by_account", "by_tag", "anomalies")}  # fmt: skip
            data["clouds"] = sorted(snap.cloud for snap in snaps)
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
        from escher.alerts.store import AlertStore
        from escher.audit.objects import ObjectAuditSink
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
        from escher.audit.ledger import migrate_jsonl
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
