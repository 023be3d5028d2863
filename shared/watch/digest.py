"""What the pipeline did in the last 24 h, in the shape the morning report's "critical alerts" reads.

The pipeline (workers, ``escher watch``) stores its alerts in the state storage (:class:`escher.alerts.store.
AlertStore`) and queues INFO events for the morning (:class:`escher.pipeline.adapters.MorningQueue`); the report
builder reads ``{"severity", "title", "detail", "fix_command"}`` dicts. :func:`pipeline_alerts` and
:func:`morning_events` turn the first two into the third, so nothing the pipeline handled is stranded in a
bucket nobody reads: an auto-resolved fix says so, an alert waiting for approval says how to approve it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from escher.pipeline.objects import PipelineObjects

__all__ = ["for_morning_report", "morning_events", "pipeline_alerts"]

_DID = {
    "auto_resolved": "auto-resolved",
    "already_resolved": "already resolved",
    "needs_approval": "waiting for approval",
    "remediation_failed": "fix failed",
    "open": "open",
}


def pipeline_alerts(objects: PipelineObjects, since: datetime) -> list[dict[str, Any]]:
    """Alerts the pipeline stored since ``since`` (not INFO: those are :func:`morning_events`), newest first."""
    from escher.alerts.store import AlertStore

    found = [a for a in AlertStore(objects).list(include_acknowledged=True) if a.created_at >= since]
    out: list[dict[str, Any]] = []
    for a in sorted(found, key=lambda a: a.created_at, reverse=True):
        if a.severity == "INFO":
            continue
        did = _DID.get(a.status, a.status)
        if a.status == "needs_approval" and a.approval_request_id:
            fix = f"escher approvals approve {a.approval_request_id}"
        else:
            fix = a.operation_cli or ""
        detail = f"{did}" + (f" ({a.operation})" if a.operation else "") + f" -- {a.summary}"
        out.append({"severity": a.severity, "title": a.title, "detail": detail, "fix_command": fix,
                    "status": a.status, "alert_id": a.alert_id})  # fmt: skip
    return out


def morning_events(objects: PipelineObjects, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """INFO events the pipeline queued for the morning report on the days ``since`` .. ``until`` (UTC)."""
    from escher.pipeline.adapters import MorningQueue

    queue = MorningQueue(objects)
    out: list[dict[str, Any]] = []
    day = since.date()
    while day <= until.date():
        for item in queue.pending(day.isoformat()):
            out.append({"severity": "INFO", "title": str(item.get("title", "")), "detail": str(item.get("body", "")),
                        "alert_id": item.get("alert_id")})  # fmt: skip
        day += timedelta(days=1)
    return out


def for_morning_report(extensions: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Everything above for the 24 h before ``now``, from this installation's state storage (``ESCHER_STATE_URL``,
    ``[state] url`` or ``<data dir>/state``): the report's one call."""
    from escher.pipeline.runtime import state_objects

    objects = state_objects(extensions=extensions)
    since = now - timedelta(hours=24)
    return pipeline_alerts(objects, since) + morning_events(objects, since, now)
