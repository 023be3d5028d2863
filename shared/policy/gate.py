"""The policy gate: the engine asks it before any change; it answers allowed (and by what) or refused (and why).

In order: an automation may only run what a remediation switch pre-approves; a template run must stay inside
the template's bounds; low-risk operations run for anyone; a manager may run anything; an executor needs an
approved, unexpired request for exactly this operation, these parameters and these targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord, AuditSink
from escher.ops.engine import Decision
from escher.policy.personas import Actor, Persona
from escher.policy.remediation import RemediationSettings, pre_approved

if TYPE_CHECKING:
    from escher.ops.engine import Plan
    from escher.policy.approvals import Approvals
    from escher.policy.templates import Template

__all__ = ["Gate", "plan_targets"]


def plan_targets(plan: Plan) -> list[str]:
    """How an approval request names the targets of a plan (the ones that would change)."""
    return sorted(str(c.target) for c in plan.to_change)


@dataclass
class Gate:
    actor: Actor
    sink: AuditSink
    approvals: Approvals | None = None
    remediation: RemediationSettings = field(default_factory=RemediationSettings)
    facts: dict[str, Any] = field(default_factory=dict)  # the event's facts, for automation
    template: Template | None = None
    timezone: str = "UTC"
    now: datetime | None = None  # fixed in tests; else the time of the decision

    def authorize(self, plan: Plan) -> Decision:
        """The engine's question: decide, use up the approval it relies on (once only), and audit the answer."""
        decision = self.decide(plan)
        if decision.allowed and decision.via.startswith("approval:") and self.approvals is not None:
            self.approvals.mark_executed(self.approvals.get(decision.via.split(":", 1)[1]), plan.plan_id)
        self.sink.append(
            AuditRecord(
                actor=str(self.actor),
                action=f"policy.{'allow' if decision.allowed else 'refuse'}",
                target=",".join(plan_targets(plan)),
                cloud=plan.operation.cloud,
                reason=decision.reason,
                outcome="info" if decision.allowed else "refused",
                details={"operation": plan.operation.id, "via": decision.via, "plan_id": plan.plan_id},
                correlation_id=plan.plan_id,
            )
        )
        return decision

    def decide(self, plan: Plan) -> Decision:
        """What :meth:`authorize` would answer, with no side effect (the CLI asks before it prompts)."""
        op = plan.operation
        now = self.now or datetime.now(UTC)
        if self.actor.persona is Persona.automation:
            switch = pre_approved(self.remediation, op.id, self.facts)
            if switch is None:
                return Decision(
                    False,
                    f"{op.id} is not pre-approved for automatic remediation",
                    needs_approval=True,
                )
            return Decision(True, f"pre-approved by [remediation] {switch}", via=f"remediation:{switch}")
        if self.template is not None:
            if self.template.operation != op.id:
                return Decision(
                    False, f"template {self.template.name} runs {self.template.operation}, not {op.id}"
                )
            targets = [(c.target.resource_id, c.target.region, c.before) for c in plan.changes]
            reasons = self.template.violations(targets, now, self.timezone)
            if reasons:
                return Decision(False, f"outside template {self.template.name}: " + "; ".join(reasons))
            return Decision(
                True, f"inside template {self.template.name}", via=f"template:{self.template.name}"
            )
        if not op.approval_required:
            return Decision(True, f"{op.risk.value}-risk operation: no approval needed", via="low-risk")
        if self.actor.is_manager:
            return Decision(True, f"{self.actor.name} is a manager", via="manager")
        if self.approvals is not None:
            req = self.approvals.find_approved(
                op.id, plan_targets(plan), plan.params.model_dump(mode="json"), now
            )
            if req is not None:
                return Decision(True, f"approved by {req.decided_by}", via=f"approval:{req.request_id}")
        return Decision(
            False,
            f"{op.id} is {op.risk.value}-risk and needs a manager's approval",
            needs_approval=True,
        )
