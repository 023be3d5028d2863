"""Words for people: the alert's title, summary, next steps, the notification text and the audit outcome.

Kept apart from the control flow in ``core`` so the wording can change without touching the pipeline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from escher.audit import AuditOutcome

if TYPE_CHECKING:
    from escher.alerts.model import Alert, AlertStatus
    from escher.events.model import UnifiedEvent

__all__ = ["AUDIT_OUTCOME", "message_body", "next_steps", "summary", "title"]

_WHAT = {
    "storage_bucket_public": "made public",
    "storage_public_access_block_removed": "lost its public access block",
    "storage_bucket_changed": "configuration changed",
    "security_group_open_to_world": "opened to the world",
    "security_group_changed": "rule changed",
    "volume_unencrypted": "created without encryption",
    "db_down": "is down",
    "budget_exceeded": "budget exceeded",
    "cost_anomaly": "unusual spend",
}

_KIND = {
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::EC2::SecurityGroup": "Security group",
    "gcs_bucket": "GCS bucket",
    "gce_firewall_rule": "Firewall rule",
    "Microsoft.Storage/storageAccounts": "Storage account",
    "Microsoft.Network/networkSecurityGroups/securityRules": "NSG rule",
}

_FOLLOW_UP = {
    "storage_bucket_public": [
        "Review the bucket policy and ACLs so it cannot happen again",
        "Tell the security team about the exposure window",
        "Check the access logs for reads during the exposure window",
    ],
    "security_group_open_to_world": [
        "Find out who needs this port and from where",
        "Narrow the rule to the office or VPN range instead of removing it, if it is needed",
    ],
}

AUDIT_OUTCOME: dict[str, AuditOutcome] = {
    "auto_resolved": "verified",
    "already_resolved": "noop",
    "needs_approval": "approval_requested",
    "remediation_failed": "failed",
    "open": "info",
}

_STATUS_LINE = {
    "auto_resolved": "AUTO-RESOLVED",
    "already_resolved": "ALREADY RESOLVED",
    "needs_approval": "REQUIRES YOUR APPROVAL",
    "remediation_failed": "AUTO-REMEDIATION FAILED",
    "open": "OPEN",
}


def title(event: UnifiedEvent) -> str:
    kind = _KIND.get(event.resource.type, event.resource.type)
    what = _WHAT.get(event.event_type.value, event.event_type.value.replace("_", " "))
    return f"{kind} '{event.resource.name}' {what}"


def summary(event: UnifiedEvent, status: AlertStatus, operation: str | None, error: str | None) -> str:
    who = event.resource.metadata.get("actor")
    parts = [f"{title(event)} at {event.timestamp:%H:%M:%S %Z}" + (f" by {who}" if who else "") + "."]
    if status == "auto_resolved":
        parts.append(f"Escher ran {operation} (pre-approved) and verified the fix.")
    elif status == "already_resolved":
        parts.append(f"{operation}: the resource was already in the safe state; nothing changed.")
    elif status == "needs_approval":
        parts.append(f"{operation} is not pre-approved: an approval request is waiting.")
    elif status == "remediation_failed":
        parts.append(f"{operation} failed: {error or 'see the audit record'}.")
    else:
        parts.append("No remediation in the catalogue for this event.")
    return " ".join(parts)


def next_steps(
    event: UnifiedEvent, status: AlertStatus, approval_id: str | None, cli: str | None, run: str | None = None
) -> list[str]:
    steps: list[str] = []
    if status == "needs_approval" and approval_id:
        steps += [f"escher approvals approve {approval_id}", f"escher approvals reject {approval_id}"]
        if run:
            steps.append(f"once approved: {run}")
        if cli:
            steps.append(f"what it runs: {cli}")
    if status == "remediation_failed" and cli:
        steps.append(f"fix it by hand: {cli}")
    return steps + _FOLLOW_UP.get(event.event_type.value, [])


def message_body(alert: Alert) -> str:
    lines = [f"{alert.severity} ALERT - {_STATUS_LINE[alert.status]}", "", alert.summary, ""]
    lines.append(f"Resource: {alert.resource_id} ({alert.cloud} {alert.account_id} {alert.region})")
    lines.append(f"Severity: {alert.severity_rule}")
    if alert.verification:
        lines.append(f"Verification: {alert.verification}")
    if alert.next_steps:
        lines += ["", "Next steps:", *(f"- {s}" for s in alert.next_steps)]
    lines += ["", f"escher alerts timeline {alert.alert_id}"]
    return "\n".join(lines)


def facts(event: UnifiedEvent) -> dict[str, Any]:
    """What the policy's pre-approval bars look at (idle hours, utilisation), from the event."""
    meta = event.resource.metadata
    return {k: meta[k] for k in ("idle_hours", "utilization_percent") if k in meta}
