"""The policy gate: the engine asks it before any change; it answers allowed (and by what) or refused (and why).

One gate for every path (``escher ops run``, ``fix``, ``ask``/``chat``, templates, schedules, event workers).
In order:

1. an automation (a worker on an event, a schedule without a template) runs only what a remediation switch
   pre-approves: the switch is the user's standing approval, never for a production target while
   ``[policy] production_needs_approval`` holds (the same production rule as every other step);
2. a template run must stay inside the template's bounds: a manager's template is a standing approval; its
   ``accounts`` allow-list is a hard bound (refused, recorded, whatever approval is given);
3. otherwise a step *needs approval* (:meth:`Gate.approval_reasons`) when the catalogue says so, when it is
   destructive (delete, resize, restore, high / critical risk), when any target is in production (its
   env / environment / stage tag as the engine read it), or when it touches more than
   ``[policy] max_targets_without_approval`` resources. Such a step runs only on an approval recorded in the
   ledger: a request approved by another manager (``escher approvals approve ID``), or, in single-operator mode,
   the manager's own explicit ``--approve "reason"`` (recorded as ``approval.request`` + ``approval.self_grant``).
   Being a manager, ``--yes`` or a "y" at a prompt approve nothing;
4. a step that needs no approval runs for anyone.

Every refusal the gate makes for a step is recorded in the ledger once (``policy.refuse``, with the reason and
the account), whoever asked: :meth:`Gate.decide` (a step about to run: ``escher ops run``, ``fix``, templates,
``ask``) and :meth:`Gate.authorize` (the engine, at execution) both record it; :meth:`Gate.preview` (a plan
shown, nothing acted on: ``escher ops plan``) records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord, AuditSink
from escher.ops.engine import Decision
from escher.policy.errors import ApprovalError
from escher.policy.personas import Actor, Persona
from escher.policy.remediation import RemediationSettings, pre_approved
from escher.policy.settings import PolicySettings

if TYPE_CHECKING:
    from escher.ops.engine import Plan
    from escher.policy.approvals import Approvals
    from escher.policy.templates import Template

__all__ = ["DESTRUCTIVE_VERBS", "Gate", "is_destructive", "plan_targets"]

# An operation whose name starts with one of these loses or replaces something, whatever its risk says.
DESTRUCTIVE_VERBS = ("delete", "terminate", "destroy", "purge", "drop", "wipe", "resize", "restore")
# Resizes spelled otherwise in the catalogue (they are high risk too; named so a risk change cannot drop them).
_RESIZES = ("modify_instance_type", "set_machine_type", "resize_vm")


def plan_targets(plan: Plan) -> list[str]:
    """How an approval request names the targets of a plan: every one execute may change. That includes those
    already in the wanted state when planned: execute reads them again and changes them if they drifted."""
    return sorted(str(c.target) for c in plan.changes if c.action != "error")


def is_destructive(operation_id: str, risk: str) -> bool:
    verb = operation_id.rsplit(".", 1)[-1]
    return risk in ("high", "critical") or verb in _RESIZES or verb.startswith(DESTRUCTIVE_VERBS)


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
    policy: PolicySettings = field(default_factory=PolicySettings)
    single_operator: bool = False  # may a manager approve their own step (--approve)?
    self_approval: str | None = None  # the reason given with --approve, if any
    approval_id: str | None = None  # 'escher approvals run ID': only this request may approve the plan
    # the account the plan acts in (`--account ID`: an AWS account, Azure subscription or GCP project); None:
    # the caller's own. A template's `accounts` allow-list is checked against it and the ledger records it.
    account: str | None = None
    _refused: set[str] = field(default_factory=set, init=False, repr=False)  # plan ids recorded as refused

    def approval_reasons(self, plan: Plan) -> list[str]:
        """Why this plan needs an approval (empty: it does not)."""
        op = plan.operation
        targets = [c for c in plan.changes if c.action != "error"]
        reasons = []
        if is_destructive(op.id, op.risk.value):
            reasons.append(f"{op.id} is destructive ({op.risk.value} risk)")
        elif op.approval_required:
            reasons.append(f"the catalogue marks {op.id} as needing approval")
        if production := self._production(plan):
            reasons.append(production)
        limit = self.policy.max_targets_without_approval
        if len(targets) > limit:
            reasons.append(
                f"{len(targets)} targets at once, more than [policy] max_targets_without_approval={limit}"
            )
        return reasons

    def _production(self, plan: Plan) -> str:
        """The production rule: which targets are in production, when ``[policy]`` says they need approval
        ("" when none are, or the rule is off)."""
        if not self.policy.production_needs_approval:
            return ""
        prod = [
            str(c.target) for c in plan.changes if c.action != "error" and self.policy.is_production(c.before)
        ]
        if not prod:
            return ""
        shown = ", ".join(prod[:3]) + (f" (+{len(prod) - 3})" if len(prod) > 3 else "")
        return f"{len(prod)} target(s) in production: {shown}"

    def authorize(self, plan: Plan) -> Decision:
        """The engine's question: decide, record a self-approval, use up the approval it relies on (once only),
        and audit the answer (allowed or refused)."""
        decision = self._rules(plan)
        if decision.allowed and decision.via == "self-approval":
            req = self._approvals().self_approve(
                plan.operation.id,
                plan_targets(plan),
                plan.params.model_dump(mode="json"),
                by=self.actor,
                reason=self.self_approval or "",
                plan_reason=plan.reason,
                request_id=self.approval_id,
            )
            decision = Decision(True, decision.reason, via=f"approval:{req.request_id}")
        used = decision.via.split(":", 1)[1] if decision.via.startswith("approval:") else self.approval_id
        if decision.allowed and used is not None:
            # 'escher approvals run ID' uses its request up even when the step passes by itself now (the
            # production tag went, nothing is left to change): an approved request runs once, never again later
            approvals = self._approvals()
            try:
                request = approvals.get(used)
                if decision.via.startswith("approval:") or request.status != "pending":  # pending: not given
                    approvals.mark_executed(request, plan.plan_id)
            except ApprovalError as exc:  # used by a concurrent run between find and use: refuse this one
                decision = Decision(False, exc.message, needs_approval=True)
        self._record(plan, decision)
        return decision

    def decide(self, plan: Plan) -> Decision:
        """The answer for a step about to run, before anyone is asked to confirm it (``escher ops run``, ``fix``,
        templates, ``ask``): a refusal (or a hold for approval) is recorded here, once per plan; an allowed step
        is recorded by :meth:`authorize` when it runs (a self-approval too, only then)."""
        decision = self._rules(plan)
        if not decision.allowed:
            self._record(plan, decision)
        return decision

    def preview(self, plan: Plan) -> Decision:
        """What :meth:`decide` would answer now, recording nothing but an expiry it notices: for a plan shown and
        not acted on (``escher ops plan``)."""
        return self._rules(plan)

    def _record(self, plan: Plan, decision: Decision) -> None:
        """The decision in the ledger; a refusal of a plan already recorded as refused by this gate is not
        written twice (``decide`` then ``authorize`` of one plan)."""
        if not decision.allowed:
            if plan.plan_id in self._refused:
                return
            self._refused.add(plan.plan_id)
        self.sink.append(
            AuditRecord(
                actor=str(self.actor),
                action=f"policy.{'allow' if decision.allowed else 'refuse'}",
                target=",".join(plan_targets(plan)),
                cloud=plan.operation.cloud,
                reason=decision.reason,
                outcome="info" if decision.allowed else "refused",
                details={
                    "operation": plan.operation.id,
                    "via": decision.via,
                    "plan_id": plan.plan_id,
                    **({"needs_approval": True} if decision.needs_approval else {}),
                    **({"account": self.account} if self.account else {}),
                },
                correlation_id=plan.plan_id,
            )
        )

    def _rules(self, plan: Plan) -> Decision:
        """The rules, in the module's order; records nothing but an expiry it notices."""
        op = plan.operation
        now = self.now or datetime.now(UTC)
        if self.template is not None and (why := self.template.account_violation(self.account)) is not None:
            return Decision(False, why)  # no approval widens a template's accounts: another template does
        if self.actor.persona is Persona.automation:
            switch = pre_approved(self.remediation, op.id, self.facts)
            if switch is None:
                return Decision(
                    False,
                    f"{op.id} is not pre-approved for automatic remediation",
                    needs_approval=True,
                )
            if production := self._production(plan):  # a switch is no approval for production
                return Decision(
                    False,
                    f"[remediation] {switch} pre-approves {op.id}, but not in production "
                    f"([policy] production_needs_approval): {production}",
                    needs_approval=True,
                )
            return Decision(True, f"pre-approved by [remediation] {switch}", via=f"remediation:{switch}")
        if self.template is not None:
            if self.template.operation != op.id:
                return Decision(
                    False, f"template {self.template.name} runs {self.template.operation}, not {op.id}"
                )
            targets = [(c.target.resource_id, c.target.region, c.before) for c in plan.changes]
            outside = self.template.violations(targets, now, self.timezone)
            if not outside:
                return Decision(
                    True, f"inside template {self.template.name}", via=f"template:{self.template.name}"
                )
            if self.self_approval is None:  # outside the bounds only the person's own approval may run it
                return Decision(False, f"outside template {self.template.name}: " + "; ".join(outside))
        if not plan.to_change:  # execute re-reads each target and only records that it holds
            return Decision(True, "nothing to change", via="noop")
        reasons = self.approval_reasons(plan)
        if not reasons:
            return Decision(True, f"{op.risk.value}-risk operation: no approval needed", via="low-risk")
        why = f"{op.id} on {len(plan_targets(plan))} target(s) needs approval: " + "; ".join(reasons)
        if self.approvals is not None:
            req = self.approvals.find_approved(
                op.id,
                plan_targets(plan),
                plan.params.model_dump(mode="json"),
                now,
                request_id=self.approval_id,
            )
            if req is not None:
                return Decision(True, f"approved by {req.decided_by}", via=f"approval:{req.request_id}")
        if self.self_approval is not None:
            if not self.single_operator:
                return Decision(
                    False,
                    f"{why}. --approve is a self-approval, allowed only in single-operator mode "
                    "([personas] single_operator = true); here another manager approves: "
                    "run without --approve to make the request",
                )
            if not self.actor.is_manager:
                return Decision(False, f"{why}. {self.actor.name} is not a manager and cannot approve it")
            if not self.self_approval.strip():
                return Decision(False, f'{why}. --approve needs a reason: --approve "why this is safe"')
            return Decision(
                True, f"self-approved by {self.actor.name}: {self.self_approval}", via="self-approval"
            )
        return Decision(False, why, needs_approval=True)

    def next_step(self, request_id: str) -> str:
        """What the person does about a step held for approval ``request_id``: one sentence for the CLI."""
        if self.single_operator and self.actor.is_manager:
            return (
                f'approve it yourself: run the same command again with --approve "reason", or '
                f"'escher approvals run {request_id} --approve \"reason\"'"
            )
        return (
            f"a manager other than you runs 'escher approvals approve {request_id}', then run "
            f"'escher approvals run {request_id}'"
        )

    def _approvals(self) -> Approvals:
        if self.approvals is None:  # the records still reach the ledger; only the request is not kept
            from escher.policy.approvals import Approvals, MemoryApprovalStore

            self.approvals = Approvals(MemoryApprovalStore(), self.sink)
        return self.approvals
