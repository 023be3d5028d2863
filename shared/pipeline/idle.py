"""Stop idle instances: the daily scan's idle-VM findings become fixes through the event pipeline.

The ``stop_idle_instances`` switch is the user's standing approval to stop a VM whose CPU stayed idle for at
least ``idle_hours``. The idle checks (``aws.ec2.instance_idle``, ``azure.compute.vm_idle``,
``gcp.compute.instance_idle``) see it once a day, so the daily job hands each idle finding to the same
:class:`~escher.pipeline.core.Pipeline` an event goes through: the automation persona, the switch and its
threshold (``facts = {"idle_hours": cpu_days * 24}``), the engine (plan, stop, read back), one audit record,
one alert and its notifications. A finding is handed over only when the switch pre-approves its operation:
with the switch off, or the instance idle for less than the threshold, nothing runs and the finding stays a
finding in the morning report. An instance tagged as production (``[policy] production_environments``) is
never stopped by the switch: the pipeline asks for an approval instead.

The event id is the finding's id and the day, so a retried daily job acts once per instance per day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.pipeline.core import Pipeline
    from escher.policy.settings import PolicySettings
    from escher.scans.model import Finding, Record, ScanResult

__all__ = ["IDLE_CHECKS", "IdleStop", "idle_event", "stop_idle", "stop_idle_locally"]

# the idle check -> the operation that stops what it found (the checks' own ``fix``)
IDLE_CHECKS: dict[str, str] = {
    "aws.ec2.instance_idle": "aws.ec2.stop_instances",
    "azure.compute.vm_idle": "azure.compute.deallocate_vm",
    "gcp.compute.instance_idle": "gcp.compute.stop_instance",
}
SWITCH = "stop_idle_instances"


@dataclass(frozen=True)
class IdleStop:
    """What became of one idle finding the switch covers."""

    finding_id: str
    resource_id: str
    operation: str
    idle_hours: float
    production: bool
    outcome: str  # a pipeline Outcome value: auto_resolved, needs_approval, duplicate, ...
    alert_id: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def idle_hours(record: Record | None) -> float | None:
    """How long the scan saw the VM idle: its days of CPU data in the last week, in hours."""
    if record is None or record.attrs.get("cpu_days") is None:
        return None
    return float(int(record.attrs["cpu_days"]) * 24)


def idle_event(finding: Finding, hours: float, *, day: str, at: datetime) -> Any:
    """The finding as the pipeline's event: a metric condition (CPU idle) on the VM, with its idle hours."""
    from escher.events.model import CloudProvider, EventType, Resource, Severity, UnifiedEvent

    target = finding.fix_target or finding.resource_id
    return UnifiedEvent(
        event_id=f"idle-{day}-{finding.id}",
        event_type=EventType.metric_alarm,
        severity=Severity.INFO,
        cloud_provider=CloudProvider(finding.cloud),
        account_id=finding.account or "unknown",
        region=finding.region or "unknown",
        resource=Resource(
            type=finding.resource_type,
            id=target,
            name=target.rsplit("/", 1)[-1],
            tags={"environment": finding.environment} if finding.environment else {},
            metadata={
                "state": "alarm",
                "signal": "idle",
                "check": finding.check_id,
                "finding_id": finding.id,
                "idle_hours": hours,
                "metric_name": "CPUUtilization",
                "reason": finding.message,
                "source": "daily scan",
            },
        ),
        timestamp=at,
        raw_event=finding.to_dict(),
    )


def stop_idle(
    result: ScanResult,
    pipeline: Pipeline,
    policy: PolicySettings,
    *,
    day: str | None = None,
    enabled_operations: Iterable[str] | None = None,
) -> list[IdleStop]:
    """Hand every idle finding of ``result`` that the switch pre-approves to ``pipeline``; the rest stay findings.

    ``enabled_operations``: in a deployed worker, the operations its role may run (``ESCHER_OPERATIONS``); an
    idle finding whose stop is not among them stays a finding (never tried and denied).
    """
    from escher.events.model import CloudProvider, EventType
    from escher.pipeline.remediations import Remediation
    from escher.policy.remediation import pre_approved

    settings = pipeline.remediation
    if not getattr(settings, SWITCH):
        return []
    enabled = set(enabled_operations) if enabled_operations is not None else None
    records = {r.id: r for r in result.inventory.records}
    at = result.finished_at if result.finished_at.tzinfo else result.finished_at.replace(tzinfo=UTC)
    day = day or at.strftime("%Y-%m-%d")
    done: list[IdleStop] = []
    for finding in result.failed:
        operation = IDLE_CHECKS.get(finding.check_id)
        if operation is None or (finding.fix_operation or operation) != operation:
            continue
        if enabled is not None and operation not in enabled:
            continue
        record = records.get(finding.resource_id)
        hours = idle_hours(record)
        if hours is None or pre_approved(settings, operation, {"idle_hours": hours}) is None:
            continue  # under the threshold: the finding stays a finding
        tags = {
            **(record.tags if record else {}),
            **({"env": finding.environment} if finding.environment else {}),
        }
        production = policy.production_needs_approval and any(
            policy.is_production({f"tag:{k}": v}) for k, v in tags.items()
        )
        remedy = Remediation(
            event_type=EventType.metric_alarm,
            cloud=CloudProvider(finding.cloud),
            operation=operation,
            target="resource.id",
            when={"check": finding.check_id, "signal": "idle"},
        )
        # production: the switch does not cover it, so the pipeline asks for an approval instead of stopping
        judged = settings.model_copy(update={SWITCH: False}) if production else settings
        run = replace(pipeline, remediations=(remedy,), remediation=judged)
        out = run.handle_event(idle_event(finding, hours, day=day, at=at), received_at=pipeline.clock())
        reason = out.reason
        if production:
            reason = f"the instance is tagged production: {reason} (switches never cover production)"
        done.append(
            IdleStop(
                finding.id,
                finding.fix_target or finding.resource_id,
                operation,
                hours,
                production,
                out.outcome.value,
                out.alert_id,
                reason,
            )
        )
    return done


def stop_idle_locally(result: ScanResult, settings: Settings) -> list[IdleStop]:
    """The laptop's daily scan (Local Only): the same stops, by the local pipeline (its audit, approvals file,
    alerts and channels, the laptop's ledger as the audit); nothing when the switch is off."""
    import os

    from escher.policy.remediation import load_remediation
    from escher.policy.settings import load_policy
    from escher.watch.runner import local_pipeline

    if not load_remediation(settings.extensions).stop_idle_instances:
        return []
    pipeline = local_pipeline(os.environ)
    try:
        return stop_idle(result, pipeline, load_policy(settings.extensions))
    finally:
        close = getattr(pipeline.audit, "close", None)
        if close is not None:
            close()  # sign and anchor the ledger's head now: a daily run is one shot
