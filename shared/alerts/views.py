"""What people see of an alert: the banner (the vision's "Alert Banners") and the incident timeline.

Pure functions over :class:`Alert` and :class:`AuditRecord`; the CLI renders them with rich, ``--output json``
prints the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escher.alerts.model import Alert
from escher.audit import AuditRecord

__all__ = ["Banner", "TimelineEntry", "banner", "timeline"]

_STYLE = {"CRITICAL": "red", "HIGH": "dark_orange", "MEDIUM": "yellow", "INFO": "blue"}
_ICON = {"CRITICAL": "🚨", "HIGH": "⚠️", "MEDIUM": "🟡", "INFO": "\u2139\ufe0f"}
_HEAD = {
    "auto_resolved": "AUTO-RESOLVED",
    "already_resolved": "ALREADY RESOLVED",
    "needs_approval": "Requires Your Approval",
    "remediation_failed": "AUTO-REMEDIATION FAILED",
    "open": "OPEN",
}


@dataclass(frozen=True)
class Banner:
    alert_id: str
    style: str
    header: str
    lines: list[str]
    actions: list[str]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _ago(at: datetime, now: datetime) -> str:
    seconds = int((now - at).total_seconds())
    if seconds < 90:
        return f"{max(seconds, 0)} seconds ago"
    if seconds < 5400:
        return f"{seconds // 60} minutes ago"
    return f"{seconds // 3600} hours ago"


def banner(alert: Alert, now: datetime) -> Banner:
    header = f"{_ICON[alert.severity]} {alert.severity} ALERT - {_HEAD[alert.status]}"
    if alert.status in ("auto_resolved", "already_resolved"):
        header += f" {_ago(alert.created_at, now)}"
    lines = [alert.summary, ""]
    if alert.status == "auto_resolved":
        lines.append(f"✅ Escher ran {alert.operation}")
    details = [
        f"Resource: {alert.resource_id} ({alert.cloud}, {alert.region})",
        f"Why {alert.severity}: {alert.severity_rule}",
    ]
    if alert.environment or alert.data_classification:
        details.append(
            f"Context: {alert.environment or '?'} environment, data {alert.data_classification or '?'}"
        )
    if alert.actor:
        details.append(f"Caused by: {alert.actor}")
    if alert.operation_cli:
        details.append(f"Remediation: {alert.operation_cli}")
    if alert.verification:
        details.append(f"Verification: {alert.verification} ✅")
    if alert.exposure_seconds is not None:
        details.append(f"Exposure: {alert.exposure_seconds:.1f} s from the event to the verified fix")
    sent = [d.channel for d in alert.notifications if d.ok]
    if sent:
        details.append(f"Notified: {', '.join(sent)}")
    lines += ["Details:", *(f"• {d}" for d in details)]
    if alert.next_steps:
        lines += ["", "💡 Next steps:", *(f"{i}. {s}" for i, s in enumerate(alert.next_steps, 1))]
    actions = [f"escher alerts timeline {alert.alert_id}", f"escher alerts ack {alert.alert_id}"]
    if alert.approval_request_id:
        actions.insert(0, f"escher approvals approve {alert.approval_request_id}")
    return Banner(alert.alert_id, _STYLE[alert.severity], header, lines, actions)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "what": self.what}


_STAGES = {
    "event": "Event occurred at the cloud",
    "received": "Worker received the event",
    "decided": "Decision made",
    "fixed": "Remediation executed",
    "verified": "Verification read the resource back",
}


def timeline(alert: Alert, records: list[AuditRecord]) -> list[TimelineEntry]:
    """Every stage's time from the incident's audit records, plus the steps inside them, in time order."""
    entries: list[TimelineEntry] = []
    for record in records:
        for stage, at in record.timings.items():
            label = _STAGES.get(stage, stage)
            if stage == "event" and alert.actor:
                label += f" ({alert.title} by {alert.actor})"
            if stage == "decided":
                label += f": {record.details.get('decision') or record.outcome}"
            if stage == "fixed" and record.details.get("cli"):
                label += f": {record.details['cli']}"
            if stage == "verified":
                label += f": {record.outcome}"
            entries.append(TimelineEntry(at, label))
        for step in record.details.get("steps", []):
            when = datetime.fromisoformat(step["at"])
            entries.append(
                TimelineEntry(when, f"audit: {step['action']} {step['outcome']} ({step['actor']})")
            )
        entries.append(
            TimelineEntry(record.at, f"Audit record {record.record_id[:12]} written: {record.outcome}")
        )
    if alert.notifications and "notified" in alert.timings:
        sent = ", ".join(d.channel for d in alert.notifications if d.ok) or "none"
        entries.append(TimelineEntry(alert.timings["notified"], f"Notifications sent: {sent}"))
    if alert.acknowledged_at:
        entries.append(TimelineEntry(alert.acknowledged_at, f"Acknowledged by {alert.acknowledged_by}"))
    return sorted(entries, key=lambda e: e.at)
