"""Running an execution plan from the brain: through the same engine and policy gate as ``escher ops run``.

The plan is data. Each step becomes an engine plan (targets re-read from the cloud now), the policy gate
decides, and only then, after the user confirmed, does the engine execute. A step the gate says needs approval
(destructive, production, too many targets, or so marked in the catalogue: the gate's rule, the same for every
path) never runs on ``--yes`` or a "y": it becomes an approval request, unless an approval already covers it or
the person approves it themselves with ``--approve "reason"`` in single-operator mode (``rt.self_approval``).
Without a terminal and without ``--yes`` or ``--approve``, nothing is ever executed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from escher.brain.models import PlanStep

if TYPE_CHECKING:
    from escher.ops.engine import Decision, Engine, Plan
    from escher.policy.runtime import Runtime

__all__ = ["StepOutcome", "authorize_step", "engine_plan", "run_steps", "synthetic_plan"]

Status = Literal["not_executed", "needs_approval", "refused", "declined", "executed", "failed"]


@dataclass
class StepOutcome:
    step: PlanStep
    status: Status
    message: str = ""
    plan: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    approval_request: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"operation_id": self.step.operation_id, "status": self.status, "message": self.message,
                "plan": self.plan, "result": self.result, "approval_request": self.approval_request}  # fmt: skip


def synthetic_plan(step: PlanStep, actor: str = "escher-ask") -> Plan:
    """An engine plan for a step without reading the cloud (every named target counted as a change)."""
    from escher.ops.engine import Plan, PlannedChange
    from escher.ops.model import OPERATIONS, Target

    op = OPERATIONS.get(step.operation_id)
    changes = [PlannedChange(Target(op.cloud, t, step.region), "change", None, {}, "") for t in step.targets]
    return Plan(
        operation=op, params=op.parse_params(step.params), changes=changes, actor=actor, reason=step.reason
    )


def authorize_step(step: PlanStep, plan: Plan, gate: Any) -> Decision:
    """The gate's decision for a step. Destructive steps need approval by the gate's own rule (every path has
    it), so nothing here can loosen or tighten it; ``step`` is kept for callers that pass it."""
    decision: Decision = gate.decide(plan)
    return decision


def engine_plan(rt: Runtime, engine: Engine, step: PlanStep) -> Plan:
    """The engine plan of one planner step: its targets resolved in the estate (never widened), as `escher ask`
    and the MCP server plan it."""
    from escher.ops.model import OPERATIONS

    op = OPERATIONS.get(step.operation_id)
    regions = [step.region] if step.region and op.cloud != "azure" else []
    targets = engine.resolve_targets(op, step.targets, tags=step.select_by_tags or None, regions=regions)
    return engine.plan(
        op.id, targets, step.params, actor=str(rt.actor), reason=f"escher ask: {step.reason}"[:500]
    )


def run_steps(
    rt: Runtime,
    steps: list[PlanStep],
    *,
    can_confirm: bool,
    yes: bool,
    confirm: Callable[[str], bool],
    engine: Engine | None = None,
) -> list[StepOutcome]:
    """Plan, gate, confirm and execute each step in order; stop at the first failure."""
    from escher.ops.model import OpError
    from escher.policy.gate import plan_targets

    yes = yes or rt.self_approval is not None  # --approve "reason" is an explicit answer, stronger than --yes
    if not yes and not can_confirm:
        return [StepOutcome(s, "not_executed", "no terminal to confirm on and no --yes") for s in steps]
    engine = engine or rt.engine()
    gate = rt.gate()
    outcomes: list[StepOutcome] = []
    for i, step in enumerate(steps):
        try:
            plan = engine_plan(rt, engine, step)
        except OpError as exc:
            outcomes.append(StepOutcome(step, "failed", str(exc)))
            break
        decision = authorize_step(step, plan, gate)
        if not decision.allowed:
            if decision.needs_approval:
                req = rt.approvals.request(plan.operation.id, plan_targets(plan), plan.params.model_dump(mode="json"),
                                           by=rt.actor, reason=plan.reason)  # fmt: skip
                message = f"{decision.reason}. Not executed; {gate.next_step(req.request_id)}"
                outcomes.append(StepOutcome(step, "needs_approval", message, plan.to_dict(),
                                            approval_request=req.request_id))  # fmt: skip
            else:
                outcomes.append(StepOutcome(step, "refused", decision.reason, plan.to_dict()))
            continue
        question = f"Step {i + 1}: run {step.operation_id} on {len(plan.to_change)} resource(s)?"
        if not plan.to_change:
            outcomes.append(StepOutcome(step, "executed", "nothing to change", plan.to_dict()))
            continue
        if not yes and not confirm(question):
            outcomes.append(StepOutcome(step, "declined", "not confirmed", plan.to_dict()))
            continue
        result = engine.execute(plan)
        outcomes.append(
            StepOutcome(step, "executed" if result.ok else "failed", "", plan.to_dict(), result.to_dict())
        )
        if not result.ok:
            break
    return outcomes
