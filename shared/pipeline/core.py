"""The pipeline: one delivered event in, one verified fix (or an approval request), one audit record, the
notifications and one alert record out. Every cloud and every worker runs exactly this.

Each step's time lands in the audit record's ``timings`` (event, received, decided, fixed, verified), so the
event-to-fix latency is measured for every incident. Stages are recorded in the event's marker
(``escher.pipeline.markers``) so a redelivery resumes where a crashed attempt stopped and never acts twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from escher.alerts.model import Alert, AlertStatus, alert_id_for
from escher.audit import AuditRecord, AuditSink, MemoryAuditSink
from escher.events import NormalizationError, UnifiedEvent, enrich, normalize
from escher.pipeline import incident
from escher.pipeline.deadletter import DeadLetter, DeadLetterSink
from escher.pipeline.errors import PermanentEventError
from escher.pipeline.markers import Claim, Markers, Stage
from escher.pipeline.remediations import Remediation, RemediationTarget, remediation_for

if TYPE_CHECKING:
    from escher.alerts.store import AlertStore
    from escher.events import EstateLookup
    from escher.notify.send import Notifier
    from escher.ops import CloudContext
    from escher.policy.approvals import ApprovalStore
    from escher.policy.remediation import RemediationSettings
    from escher.rules import RuleSet, SeverityDecision

__all__ = ["Outcome", "Pipeline", "PipelineResult"]


class Outcome(StrEnum):
    auto_resolved = "auto_resolved"
    already_resolved = "already_resolved"
    needs_approval = "needs_approval"
    remediation_failed = "remediation_failed"
    open = "open"  # handled: alert stored, nothing in the catalogue fixes it
    duplicate = "duplicate"  # this event was handled to the end before: nothing done twice
    dead_lettered = "dead_lettered"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class PipelineResult:
    outcome: Outcome
    event_id: str | None = None
    alert_id: str | None = None
    operation: str | None = None
    severity: str | None = None
    reason: str = ""
    dead_letter: str | None = None
    timings: dict[str, datetime] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "event_id": self.event_id,
            "alert_id": self.alert_id,
            "operation": self.operation,
            "severity": self.severity,
            "reason": self.reason,
            "dead_letter": self.dead_letter,
            "timings": {k: v.isoformat() for k, v in self.timings.items()},
        }


@dataclass
class _Action:
    """What the decide/act step produced; stored in the marker at ``acted`` so a resumed attempt reuses it."""

    status: AlertStatus
    decision: str
    timings: dict[str, str]
    steps: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    cli: str | None = None
    approval_request_id: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Pipeline:
    worker: str  # "aws", "azure", "gcp", "local": who the audit records name as the actor
    markers: Markers
    audit: AuditSink
    alerts: AlertStore
    notifier: Notifier
    dead_letters: DeadLetterSink
    approvals: ApprovalStore
    rules: RuleSet
    remediation: RemediationSettings
    cloud: CloudContext
    estate: EstateLookup | None = None
    remediations: tuple[Remediation, ...] | None = None
    # the record of an event that led to no decision (no fix, no approval asked): an expiring log in the state
    # storage, not a year under the WORM lock (ESCHER_EVENTS_LOG_PREFIX); None: the audit storage (Local Only)
    events_log: AuditSink | None = None
    verify_interval: float = 1.0
    verify_timeout: float | None = 60.0
    # fault injection for the at-least-once tests: called with "acted" / "audited" after each is recorded
    fault: Callable[[str], None] | None = None
    clock: Callable[[], datetime] = _now

    # -- entry points -----------------------------------------------------------------------------------------
    def handle(
        self, payload: Any, *, source: str, received_at: datetime | None = None, attempts: int | None = None
    ) -> PipelineResult:
        """One delivery. Permanent problems are dead-lettered (and answered); transient ones raise."""
        received = received_at or self.clock()
        try:
            event = normalize(payload, received_at=received)
        except _NORMALIZER_BUGS as exc:
            # normalize is pure: whatever it raises, it raises on every delivery of this payload, so retrying is
            # pointless; the payload is parked with the error (a bug to fix in its normalizer), never lost
            bug = PermanentEventError(
                f"the normalizer failed on this event ({type(exc).__name__}: {exc})"[:1000],
                hint="a bug in Escher's normalizer: report it with the dead letter",
            )
            return self.dead_letter(
                payload,
                bug,
                source=source,
                attempts=attempts,
                received_at=received,
                event_id=_delivery_id(payload),
            )
        except NormalizationError as exc:
            return self.dead_letter(
                payload,
                exc,
                source=source,
                attempts=attempts,
                received_at=received,
                event_id=_delivery_id(payload),
            )
        try:
            return self.handle_event(event, received_at=received)
        except PermanentEventError as exc:
            return self.dead_letter(
                payload, exc, source=source, attempts=attempts, received_at=received, event_id=event.event_id
            )

    def dead_letter(
        self,
        payload: Any,
        error: BaseException,
        *,
        source: str,
        attempts: int | None = None,
        received_at: datetime | None = None,
        event_id: str | None = None,
    ) -> PipelineResult:
        """Park ``payload`` with the reason. Raises DeadLetterError when even that fails (the platform retries).
        Any payload can be parked: the letter keeps what is not JSON as base64 (``escher.pipeline.deadletter``)."""
        letter = DeadLetter(
            reason=getattr(error, "message", str(error)),
            error=type(error).__name__,
            hint=getattr(error, "hint", None),
            source=source,
            event_id=event_id,
            attempts=attempts,
            received_at=received_at or self.clock(),
            payload=payload,
        )
        where = self.dead_letters.send(letter)
        return PipelineResult(
            Outcome.dead_lettered, event_id=event_id, reason=letter.reason, dead_letter=where
        )

    def handle_event(self, event: UnifiedEvent, *, received_at: datetime | None = None) -> PipelineResult:
        received = received_at or self.clock()
        event = enrich(event, self.estate).event
        event, severity = self.rules.apply(event)
        remedy = remediation_for(event, self.remediations)
        target = remedy.target_of(event) if remedy else None
        operation = target.operation if target else "observe"
        cloud = event.cloud_provider.value
        claim = self.markers.claim(cloud, event.event_id, operation)
        if claim is None:
            return PipelineResult(
                Outcome.duplicate, event.event_id, operation=operation, reason="already handled"
            )
        alert_id = alert_id_for(cloud, event.event_id, operation)
        if claim.reached(Stage.acted):
            action = _Action(**claim.data["action"])
        else:
            timings = {"event": event.timestamp.isoformat(), "received": received.isoformat()}
            action = self._act(event, target, timings, plan_id=_incident_key(claim))
            self.markers.advance(claim, Stage.acted, action=action.to_json())
        self._checkpoint("acted")
        record = self._audit_record(event, severity, target, action, claim, alert_id)
        if not claim.reached(Stage.audited):
            undecided = action.status == "open"  # nothing was fixed, asked for, refused or failed
            ledger = self.events_log if undecided and self.events_log is not None else self.audit
            ledger.append(record)
            self.markers.advance(claim, Stage.audited, audit_record_id=record.record_id)
        self._checkpoint("audited")
        alert = self._alert(event, severity, target, action, record, alert_id)
        from escher.notify.send import Message

        alert.notifications = self.notifier.notify(
            Message(
                alert.alert_id,
                alert.severity,
                f"[{alert.severity}] {alert.title}",
                incident.message_body(alert),
            )
        )
        alert.timings["notified"] = self.clock()
        self.alerts.put(alert)
        self.markers.advance(claim, Stage.done, alert_id=alert_id)
        return PipelineResult(
            Outcome(action.status),
            event.event_id,
            alert_id=alert_id,
            operation=target.operation if target else None,
            severity=event.severity.value,
            reason=action.decision,
            timings=dict(record.timings),
        )

    # -- the steps ------------------------------------------------------------------------------------------
    def _act(
        self, event: UnifiedEvent, target: RemediationTarget | None, timings: dict[str, str], *, plan_id: str
    ) -> _Action:
        if target is None:
            timings["decided"] = self.clock().isoformat()
            return _Action(
                "open", f"no remediation for {event.event_type} on {event.cloud_provider}", timings
            )
        from escher.ops import Engine, Target
        from escher.policy.approvals import Approvals
        from escher.policy.gate import Gate
        from escher.policy.personas import Actor, Persona
        from escher.policy.remediation import pre_approved

        actor = Actor(self.worker, Persona.automation)
        steps = MemoryAuditSink()  # the engine's and the gate's records become steps of one incident record
        facts = incident.facts(event)
        switch = pre_approved(self.remediation, target.operation, facts)
        timings["decided"] = self.clock().isoformat()
        op_target = Target(event.cloud_provider.value, target.resource_id, target.region)
        reason = f"event {event.event_id} ({event.event_type.value})"

        def ask_approval(why: str) -> _Action:
            from escher.ops import OPERATIONS

            op = OPERATIONS.get(target.operation)
            params = op.parse_params(target.params)
            # the request names the parameters as the engine will see them (defaults filled in), so the gate
            # finds it when the approved operation is run ('escher ops run ...')
            req = Approvals(self.approvals, steps).request(
                target.operation, [str(op_target)], params.model_dump(mode="json"), by=actor, reason=reason
            )
            return _Action(
                "needs_approval",
                why,
                timings,
                steps=_dump(steps),
                cli=op.cli_for(op_target, params),
                approval_request_id=req.request_id,
            )

        if switch is None:
            return ask_approval(f"{target.operation} is not pre-approved for automatic remediation")
        gate = Gate(actor, steps, remediation=self.remediation, facts=facts)
        engine = Engine(
            self.cloud, steps, gate, verify_interval=self.verify_interval, verify_timeout=self.verify_timeout
        )
        # plan + execute in one call: the target is read once before the fix (and again to verify it)
        run = engine.run(
            target.operation, [op_target], target.params, actor=str(actor), reason=reason, plan_id=plan_id
        )
        plan, result = run.plan, run.results[0]
        if result.outcome == "refused" and result.details.get("needs_approval"):
            # the switch covers the fix, but the gate holds it (a production target): a person is asked
            return ask_approval(f"pre-approved by [remediation] {switch}, but held: {result.error}")
        for stage in ("fixed", "verified"):
            if stage in result.timings:
                timings[stage] = result.timings[stage].isoformat()
        status: AlertStatus = {"verified": "auto_resolved", "noop": "already_resolved"}.get(
            result.outcome, "remediation_failed"
        )  # type: ignore[assignment]
        return _Action(
            status,
            f"pre-approved by [remediation] {switch}",
            timings,
            steps=_dump(steps),
            before=result.before,
            after=result.after,
            cli=plan.changes[0].cli if plan.changes else None,
            error=result.error,
        )

    def _audit_record(
        self,
        event: UnifiedEvent,
        severity: SeverityDecision,
        target: RemediationTarget | None,
        action: _Action,
        claim: Claim,
        alert_id: str,
    ) -> AuditRecord:
        return AuditRecord(
            record_id=_incident_key(claim),  # a redelivery writes the same record (a no-op)
            at=datetime.fromisoformat(action.timings.get("verified") or action.timings["decided"]),
            actor=f"worker:{self.worker}",
            action=target.operation if target else "event.observe",
            target=target.resource_id if target else event.resource.id,
            cloud=event.cloud_provider.value,
            reason=f"event {event.event_id} ({event.event_type.value}): {severity.explanation}",
            outcome=(
                "verify_failed"
                if action.status == "remediation_failed" and action.after is not None
                else incident.AUDIT_OUTCOME[action.status]
            ),
            before=action.before,
            after=action.after,
            details={
                "event_id": event.event_id,
                "event_type": event.event_type.value,
                "severity": severity.to_dict(),
                "decision": action.decision,
                "approval_request_id": action.approval_request_id,
                "cli": action.cli,
                "error": action.error,
                "resumed": claim.resumed,
                "steps": action.steps,
            },
            timings={k: datetime.fromisoformat(v) for k, v in action.timings.items()},
            correlation_id=alert_id,
        )

    def _alert(
        self,
        event: UnifiedEvent,
        severity: SeverityDecision,
        target: RemediationTarget | None,
        action: _Action,
        record: AuditRecord,
        alert_id: str,
    ) -> Alert:
        operation = target.operation if target else None
        verification = None
        if action.status == "auto_resolved":
            verification = f"read back: {action.after}"
        elif action.status == "remediation_failed" and action.after is not None:
            verification = f"the change does not hold: {action.after}"
        ctx = event.context
        return Alert(
            alert_id=alert_id,
            correlation_id=alert_id,
            event_id=event.event_id,
            event_type=event.event_type.value,
            severity=event.severity.value,  # type: ignore[arg-type]
            severity_rule=severity.explanation,
            cloud=event.cloud_provider.value,  # type: ignore[arg-type]
            account_id=event.account_id,
            region=event.region,
            resource_type=event.resource.type,
            resource_id=event.resource.id,
            resource_name=event.resource.name,
            environment=ctx.environment.value if ctx.environment else None,
            data_classification=ctx.data_classification.value if ctx.data_classification else None,
            actor=event.resource.metadata.get("actor"),
            status=action.status,
            title=incident.title(event),
            summary=incident.summary(event, action.status, operation, action.error),
            operation=operation,
            operation_cli=action.cli,
            decision=action.decision,
            approval_request_id=action.approval_request_id,
            verification=verification,
            next_steps=incident.next_steps(
                event, action.status, action.approval_request_id, action.cli, _run_command(target)
            ),
            timings=dict(record.timings),
            audit_record_id=record.record_id,
            created_at=record.timings.get("received", self.clock()),
        )

    def _checkpoint(self, name: str) -> None:
        if self.fault is not None:
            self.fault(name)


# what a pure function raises on input it did not expect (NormalizationError is the expected one)
_NORMALIZER_BUGS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError, UnicodeError)


def _incident_key(claim: Claim) -> str:
    """Stable per (event, operation): the engine's plan id (its idempotency keys) and the audit record's id."""
    return hashlib.sha256(claim.key.encode()).hexdigest()[:32]


def _run_command(target: RemediationTarget | None) -> str | None:
    if target is None:
        return None
    region = f" --region {target.region}" if target.region else ""
    params = "".join(f" --param {k}={v}" for k, v in target.params.items())
    return f"escher ops run {target.operation} --target {target.resource_id}{region}{params}"


def _delivery_id(payload: Any) -> str | None:
    """The provider's id of a delivery Escher could not read, when it is visible (for the dead letter)."""
    if isinstance(payload, dict):
        message = payload.get("message")
        for found in (payload.get("id"), message.get("messageId") if isinstance(message, dict) else None):
            if isinstance(found, str) and found:
                return found
    return None


def _dump(sink: MemoryAuditSink) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in sink.records]
