"""A finding's 1-click fix, the same on every surface: ``escher fix`` and the console's Fix button call these.

- :func:`plan_fix`: the chosen findings of the latest scan, one plan per (operation, parameters), each with its
  targets, what they are now and what they will be, and the operation's risk;
- :func:`approval_reasons`: why the gate would hold a plan for approval (empty: it would not);
- :func:`run_plan`: the plan through the one gate and the engine: a step the gate holds for approval becomes an
  approval request and does not run; a refused step does not run; an allowed step runs (after ``confirm``, when
  the surface asks its person) and is verified. Each act lands in the ledger: a refusal or a hold through the
  gate (:meth:`escher.policy.gate.Gate.decide` records it), the rest through the engine.

Nothing here loosens the gate, and nothing here prints: each surface words the :class:`Outcome` its own way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.ops.engine import Plan, RunResult
    from escher.policy.approvals import ApprovalRequest
    from escher.policy.runtime import Runtime
    from escher.policy.templates import Template
    from escher.scans.persist import ResultStore

__all__ = ["NoFindingChosenError", "Outcome", "approval_reasons", "plan_fix", "run_plan"]

OutcomeKind = Literal["executed", "failed", "needs_approval", "refused", "nothing", "declined"]


class NoFindingChosenError(EscherError):
    exit_code = 2


@dataclass
class Outcome:
    """What running a plan did: ran (and how each target ended), raised an approval request, was refused, or
    was declined by the person at the confirmation."""

    kind: OutcomeKind
    message: str
    plan: Plan | None = None
    result: RunResult | None = None
    request_id: str | None = None
    next_step: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # the gate's reason, when it held or refused the plan
    request: ApprovalRequest | None = None


def plan_fix(
    rt: Runtime, finding_ids: list[str], check: str | None = None, *, store: ResultStore | None = None
) -> list[Plan]:
    """``escher fix ID...`` / ``--check``: one plan per (operation, parameters) of the chosen findings of the
    latest scan, planned now (each target re-read)."""
    from escher.ops.model import Cloud, Target
    from escher.scans.fix import findings_to_fix

    if not finding_ids and not check:
        raise NoFindingChosenError(
            "no finding was chosen",
            hint="give F-... ids from the report or `escher scan`, or --check CHECK_ID",
        )
    engine = rt.engine()
    plans = []
    for group in findings_to_fix(list(finding_ids), check, store):
        targets = [
            Target(
                cast(Cloud, f.cloud),
                f.fix_target or f.resource_id,
                f.region if f.region != "global" else None,
            )
            for f in group.findings
        ]
        reason = "fix " + ", ".join(f.id for f in group.findings)
        plans.append(engine.plan(group.operation, targets, group.params, actor=str(rt.actor), reason=reason))
    return plans


def approval_reasons(rt: Runtime, plan: Plan) -> list[str]:
    """Why the gate would hold this plan for approval (empty: it would not, or there is nothing to change)."""
    return rt.gate().approval_reasons(plan) if plan.to_change else []


def run_plan(
    rt: Runtime,
    plan: Plan,
    *,
    confirm: Callable[[Plan], bool] | None = None,
    template: Template | None = None,
) -> Outcome:
    """Run ``plan`` through the gate and the engine, or raise an approval request.

    ``confirm`` is asked only when the gate allows the step and there is something to change (the CLI's
    prompt); a False answer runs nothing. ``rt.self_approval`` is the person's recorded self-approval and
    ``rt.approval_id`` the approval being run, as the gate reads them. A template run that does not fit is
    refused, never turned into an approval request.
    """
    from escher.policy.gate import plan_targets

    engine = rt.engine(template)  # the engine asks the gate again at execution: the same template bounds
    if not plan.to_change:  # execute re-reads each target and records the no-ops
        result = engine.execute(plan)
        return Outcome("nothing" if result.ok else "failed", "nothing to change", plan, result)
    gate = rt.gate(template)
    decision = gate.decide(plan)  # a refusal (or a hold for approval) is in the ledger once this returns
    if not decision.allowed:
        if decision.needs_approval and template is None and rt.approval_id is None:
            req = rt.approvals.request(
                plan.operation.id,
                plan_targets(plan),
                plan.params.model_dump(mode="json"),
                by=rt.actor,
                reason=plan.reason,
            )
            return Outcome(
                "needs_approval",
                f"Not executed: {decision.reason}.",
                plan,
                request_id=req.request_id,
                next_step=gate.next_step(req.request_id),
                reason=decision.reason,
                request=req,
            )
        return Outcome("refused", decision.reason, plan, reason=decision.reason)
    if confirm is not None and not confirm(plan):
        return Outcome("declined", "Nothing done.", plan)
    result = engine.execute(plan)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(result.counts().items()))
    return Outcome("executed" if result.ok else "failed", counts, plan, result)
