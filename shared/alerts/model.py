"""The alert record: what the pipeline stores for every event it handled, and what the banners show.

One alert per (provider event id, operation); the newest write wins (acknowledging an alert rewrites it). The
full story of an alert is in the audit records that share its ``correlation_id``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from escher.clouds import Cloud

__all__ = ["Alert", "AlertStatus", "Delivery", "alert_id_for"]

AlertStatus = Literal[
    "auto_resolved",  # a pre-approved fix ran and was verified
    "needs_approval",  # a fix exists but is not pre-approved: an approval request is waiting
    "remediation_failed",  # the fix ran and failed, or could not be verified
    "already_resolved",  # the resource was already in the wanted state when the fix ran (no-op)
    "open",  # no remediation in the catalogue: a person looks at it
]


def _now() -> datetime:
    return datetime.now(UTC)


def alert_id_for(cloud: str, event_id: str, operation: str) -> str:
    """Short, stable, typeable: the same event and operation always give the same id."""
    return "A-" + hashlib.sha256(f"{cloud}|{event_id}|{operation}".encode()).hexdigest()[:10]


class Delivery(BaseModel):
    """One notification channel's result; ``target`` is redacted (never a token or a password)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    ok: bool
    target: str = ""
    detail: str = ""


class Alert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    alert_id: str
    correlation_id: str = Field(description="ties the alert to its audit records")
    event_id: str
    event_type: str
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "INFO"]
    severity_rule: str = Field(description="the rule that set the severity, and why")
    cloud: Cloud
    account_id: str
    region: str
    resource_type: str
    resource_id: str
    resource_name: str
    environment: str | None = None
    data_classification: str | None = None
    actor: str | None = Field(default=None, description="who caused the event, when the event says")
    status: AlertStatus
    title: str
    summary: str
    operation: str | None = None
    operation_cli: str | None = None
    decision: str = ""
    approval_request_id: str | None = None
    verification: str | None = None
    next_steps: list[str] = Field(default_factory=list)
    timings: dict[str, datetime] = Field(default_factory=dict)
    notifications: list[Delivery] = Field(default_factory=list)
    audit_record_id: str | None = None
    created_at: datetime = Field(default_factory=_now)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None

    @property
    def exposure_seconds(self) -> float | None:
        """Event -> verified fix, when both are known (the vision's "total exposure time")."""
        start, end = self.timings.get("event"), self.timings.get("verified")
        if start is None or end is None:
            return None
        return (end - start).total_seconds()
