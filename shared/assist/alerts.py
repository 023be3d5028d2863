"""Alerts and events as the brain sees them: stored alerts as context, a ``UnifiedEvent`` as an analysis request.

    AlertSource(AlertStore(objects))      # follow-ups: "show me the timeline of the S3 exposure"
    event_request(event, context=[...])   # -> EventAnalysisRequest for /v1/events/analyze
    report_request(scan, cost_summary)    # -> ReportSummaryRequest for /v1/reports/summarize

Neither keeps the event's raw payload: the brain gets the normalized facts, tags and scalar metadata only, and
the :class:`~escher.assist.client.Assistant` scrubs and pseudonymizes them like any other request.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from escher.brain._parse import parse
from escher.brain.models import (
    ContextItem,
    EventAnalysisRequest,
    EventFacts,
    EventResource,
    ReportFinding,
    ReportSummaryRequest,
)
from escher.clouds import CLOUDS
from escher.privacy import cut

if TYPE_CHECKING:
    from escher.alerts.model import Alert
    from escher.events.model import UnifiedEvent

__all__ = ["AlertSource", "alert_item", "event_request", "open_alert_source", "report_request"]

_CLOUDS = CLOUDS
_MAX_METADATA = 64


class _Alerts(Protocol):
    def list(self, *, include_acknowledged: bool = False) -> list[Alert]: ...


def alert_item(alert: Alert) -> ContextItem:
    """One stored alert: what happened, to what, how it ended, and each stage's time (``t.<stage>``)."""
    attrs: dict[str, str | int | float | bool | None] = {
        "status": alert.status,
        "event_type": alert.event_type,
        "resource_id": alert.resource_id[:200],
        "resource_name": alert.resource_name[:200],
        "operation": alert.operation,
        "acknowledged": alert.acknowledged_at is not None,
    }
    if alert.exposure_seconds is not None:
        attrs["exposure_seconds"] = round(alert.exposure_seconds, 3)
    for stage, at in sorted(alert.timings.items(), key=lambda kv: kv[1])[:40]:
        attrs[f"t.{stage}"[:64]] = at.isoformat()
    text = " ".join(p for p in (alert.summary, alert.decision, alert.verification or "") if p)
    return ContextItem(kind="alert", id=alert.alert_id[:512], cloud=alert.cloud,
                       account=alert.account_id[:128] or None, region=alert.region[:64] or None,
                       resource_type=alert.resource_type[:128] or None, name=alert.title[:256],
                       state=alert.severity.lower(), text=text[:2000], attrs=attrs, at=alert.created_at)  # fmt: skip


class AlertSource:
    """The alerts the event pipeline stored (``escher.alerts.store.AlertStore``), for alert and timeline questions."""

    def __init__(self, alerts: _Alerts) -> None:
        self.alerts = alerts

    def search(self, query: str, limit: int) -> list[ContextItem]:
        q = parse(query)
        if q.special not in ("alerts", "timeline"):
            return []
        items = [alert_item(a) for a in self.alerts.list(include_acknowledged=q.special == "timeline")]
        if q.cloud:
            items = [i for i in items if i.cloud == q.cloud]
        return items[:limit]


def open_alert_source(data_dir: Path) -> AlertSource | None:
    """The laptop's alerts (``<data dir>/state/alerts/``), when the pipeline has stored any."""
    root = data_dir / "state"
    if not (root / "alerts").is_dir():
        return None
    from escher.alerts.store import AlertStore
    from escher.pipeline.objects import LocalObjects

    return AlertSource(AlertStore(LocalObjects(root)))


def _scalar(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, bool | int | float):
        return value
    return cut(str(value), 256)  # not value[:256]: a secret cut in half is no longer recognised, yet leaks


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    """Scalars and short lists of scalars; nested documents (policies, request bodies) are dropped."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if len(out) >= _MAX_METADATA:
            break
        if isinstance(value, list | tuple):
            if all(v is None or isinstance(v, str | int | float | bool) for v in value):
                out[str(key)[:128]] = [_scalar(v) for v in value[:32]]
        elif not isinstance(value, dict):
            out[str(key)[:128]] = _scalar(value)
    return out


def event_request(event: UnifiedEvent, context: Sequence[ContextItem] = ()) -> EventAnalysisRequest:
    """The analysis request for a normalized event: facts, tags and scalar metadata; never ``raw_event``."""
    ctx = event.context
    facts = EventFacts(
        event_id=event.event_id[:256],
        event_type=str(event.event_type),
        severity=event.severity.value,  # type: ignore[arg-type]  # the same four names
        cloud_provider=event.cloud_provider.value,  # type: ignore[arg-type]
        account_id=event.account_id[:128],
        region=event.region[:64],
        resource=EventResource(
            type=event.resource.type[:256],
            id=event.resource.id[:1024],
            name=event.resource.name[:256],
            tags={str(k)[:128]: cut(str(v), 256) for k, v in list(event.resource.tags.items())[:64]},
            metadata=_metadata(event.resource.metadata),
        ),
        environment=ctx.environment.value if ctx.environment else None,
        data_classification=ctx.data_classification.value if ctx.data_classification else None,
        cost_impact=ctx.cost_impact,
        affected_users=ctx.affected_users,
        timestamp=event.timestamp,
    )
    return EventAnalysisRequest(event=facts, context=list(context)[:100])


def report_request(
    scan: dict[str, Any] | None, cost: dict[str, Any] | None = None, *, period: str | None = None
) -> ReportSummaryRequest:
    """A stored scan (``escher.scans`` findings, as kept by the scans) and a cost summary -> the summary request.

    Only failed findings go, and only their identifying fields: no messages, remediation text or parameters.
    """
    findings: list[ReportFinding] = []
    for f in (scan or {}).get("findings", []):
        if f.get("status") != "FAIL" or f.get("cloud") not in _CLOUDS or len(findings) >= 5000:
            continue
        findings.append(ReportFinding(
            check_id=str(f.get("check_id", ""))[:128], title=str(f.get("title", ""))[:512],
            severity=f.get("severity") if f.get("severity") in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO") else "INFO",
            cloud=f["cloud"], region=str(f.get("region") or "")[:64], resource_id=str(f.get("resource_id", ""))[:1024],
            resource_type=str(f.get("resource_type") or "")[:128], category=str(f.get("category") or "security")[:64],
            monthly_saving=float(f.get("monthly_saving") or 0.0), fix_operation=f.get("fix_operation") or None,
        ))  # fmt: skip
    cost = cost or {}
    total = cost.get("yesterday")
    change = cost.get("month_delta_pct", cost.get("day_delta_pct"))
    return ReportSummaryRequest(
        findings=findings,
        cost_total=float(total) if isinstance(total, int | float) else None,
        cost_change_pct=float(change) if isinstance(change, int | float) else None,
        period=(period or cost.get("day") or None),
    )
