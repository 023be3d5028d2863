"""The act tools: plan (from the user's words, or a playbook's own steps), request approval, execute.

- **Plans** come from :class:`escher.assist.client.Assistant` (``escher ask``'s resolution: a request never
  widens, a question never acts) or from a playbook's tag-selected steps, and are kept here under an
  unguessable id. The model can only name that id: it never hands in targets, so it cannot widen a plan.
- **Execution** re-plans each step from the cloud now and asks the one gate; a step that needs approval gets
  an approval request (one per step, reused) and runs only once a person's approval is recorded. Nothing here
  approves: ``Runtime.self_approval`` stays ``None``, so neither ``--approve`` nor a "yes" exists here.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.mcp_server._base import Answer, McpError, ToolBase

if TYPE_CHECKING:
    from escher.brain.models import PlanStep
    from escher.ops.engine import Engine, Plan
    from escher.policy.approvals import ApprovalRequest
    from escher.policy.runtime import Runtime

__all__ = ["Acts", "PlanBook", "StoredPlan"]

PLAN_TTL = timedelta(hours=24)
MAX_PLANS = 200


@dataclass
class StoredPlan:
    plan_id: str
    origin: str  # the request, or "playbook <id>"
    steps: list[PlanStep]
    channel: str
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    approval_requests: dict[int, str] = field(default_factory=dict)  # step index -> request id


class PlanBook:
    """Plans made in this server, by id; at most :data:`MAX_PLANS`, each for :data:`PLAN_TTL`."""

    def __init__(self) -> None:
        self._plans: dict[str, StoredPlan] = {}
        self._lock = threading.Lock()

    def add(self, origin: str, steps: list[PlanStep], channel: str) -> StoredPlan:
        plan = StoredPlan("P-" + secrets.token_hex(8), origin, steps, channel)
        with self._lock:
            self._plans[plan.plan_id] = plan
            while len(self._plans) > MAX_PLANS:
                self._plans.pop(next(iter(self._plans)))
        return plan

    def get(self, plan_id: str) -> StoredPlan:
        with self._lock:
            plan = self._plans.get(plan_id)
        if plan is None or datetime.now(UTC) - plan.created_at > PLAN_TTL:
            raise McpError(
                f"no plan {plan_id!r} in this server (plans are kept 24 h, in memory)",
                hint="make the plan again with plan_request or plan_playbook, then use the id it returns",
            )
        return plan


class Acts(ToolBase):
    def __init__(self) -> None:
        super().__init__()
        self.plans = PlanBook()

    def plan_request(self, request: str, *, channel: str) -> Answer:
        """Plain language, resolved exactly as ``escher ask`` resolves it; an execution plan is kept, not run."""
        from contextlib import ExitStack

        from escher.assist.factory import open_assistant
        from escher.config import load_settings, resolve_paths

        with self._serial():
            paths = resolve_paths()
            with ExitStack() as stack:
                answer = open_assistant(load_settings(paths), paths, stack).ask(request)
            r = answer.response
            data: dict[str, Any] = {"kind": r.kind, "summary": r.summary, "source": answer.source,
                                    "notices": [*answer.notices, *r.notices]}  # fmt: skip
            dumped = r.model_dump(mode="json")
            if r.kind == "execution" and r.steps:
                stored = self.plans.add(request, list(r.steps), channel)
                data["plan"] = self._preview(stored)
                return Answer(_plan_line(data["plan"]), data)
            for key in (
                "table",
                "resource_ids",
                "unresolved",
                "scope",
                "playbook",
                "jobs",
                "suggested_questions",
            ):
                if dumped.get(key):
                    data[key] = dumped[key]
            if r.kind == "playbook":
                data["next_step"] = f"plan_playbook with playbook_id={r.playbook.id!r} plans its steps"
            return Answer(f"{r.kind}: {r.summary}", data)

    def plan_playbook(self, playbook_id: str, *, region: str | None = None, channel: str) -> Answer:
        """A playbook's operation steps that select their own targets (by tag) become a plan; the rest are listed."""
        from escher.brain.models import PlanStep
        from escher.ops.model import OPERATIONS, OpError

        found = self._playbooks().get(playbook_id)
        if found is None:
            raise McpError(f"no playbook {playbook_id!r}", hint="list_playbooks shows the ids")
        _, pb = found
        steps: list[PlanStep] = []
        skipped: list[dict[str, str]] = []
        for s in pb.steps:
            if not s.operation_id:
                skipped.append({"title": s.title, "why": "a manual step: a person does it"})
                continue
            try:
                op = OPERATIONS.get(s.operation_id)
            except OpError as exc:
                skipped.append({"title": s.title, "why": exc.message})
                continue
            if not s.select_by_tags:
                skipped.append({"title": s.title, "why": f"{op.id} names no targets: ask for it by name with "
                                                        "plan_request (nothing is selected for you)"})  # fmt: skip
                continue
            steps.append(PlanStep(operation_id=op.id, select_by_tags=dict(s.select_by_tags), params=dict(s.params),
                                  region=region, reason=f"playbook {pb.id}: {s.title}"[:500], risk=op.risk.value,
                                  destructive=op.risk.value in ("high", "critical")))  # fmt: skip
        data: dict[str, Any] = {"playbook": pb.id, "name": pb.name, "not_planned": skipped}
        if not steps:
            return Answer(f"{pb.name}: no step selects its own targets; nothing planned", data)
        with self._serial():
            stored = self.plans.add(f"playbook {pb.id}", steps, channel)
            data["plan"] = self._preview(stored)
        return Answer(_plan_line(data["plan"]), data)

    def _preview(self, stored: StoredPlan) -> dict[str, Any]:
        """Each step planned from the cloud now: targets, now -> wanted, risk, and what the gate would say."""
        from escher.ops.model import OpError

        out: list[dict[str, Any]] = []
        with self._runtime(stored.channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i, step in enumerate(stored.steps):
                item: dict[str, Any] = {"step": i, "operation": step.operation_id, "region": step.region,
                                        "reason": step.reason}  # fmt: skip
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    item.update(status="cannot_plan", message=exc.message, hint=exc.hint or "")
                    out.append(item)
                    continue
                decision = gate.preview(plan)
                reasons = gate.approval_reasons(plan)
                status = ("nothing_to_change" if not plan.to_change else "ready" if decision.allowed
                          else "needs_approval" if decision.needs_approval else "refused")  # fmt: skip
                item.update(status=status, risk=plan.operation.risk.value, approval_needed=bool(reasons),
                            approval_reasons=reasons, gate=decision.reason, changes=_changes(plan))  # fmt: skip
                if decision.allowed and decision.via.startswith("approval:"):
                    item["approved_by_request"] = decision.via.split(":", 1)[1]
                out.append(item)
        return {"plan_id": stored.plan_id, "origin": stored.origin, "steps": out,
                "next_step": _next(out, stored.plan_id)}  # fmt: skip

    def request_approval(self, plan_id: str, *, channel: str) -> Answer:
        """Approval requests for the plan's steps that need one (one per step, reused); runs nothing."""
        from escher.ops.model import OpError

        stored = self.plans.get(plan_id)
        out: list[dict[str, Any]] = []
        with self._serial(), self._runtime(channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i, step in enumerate(stored.steps):
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    out.append(
                        {
                            "step": i,
                            "operation": step.operation_id,
                            "status": "cannot_plan",
                            "message": exc.message,
                        }
                    )
                    continue
                decision = gate.preview(plan)
                item: dict[str, Any] = {"step": i, "operation": step.operation_id}
                if decision.allowed:
                    status = ("nothing_to_change" if decision.via == "noop" else "approved"
                              if decision.via.startswith("approval:") else "no_approval_needed")  # fmt: skip
                    item.update(status=status, message=decision.reason)
                elif decision.needs_approval:
                    req = self._request(rt, stored, i, plan)
                    item.update(status="approval_requested", approval_request=req.request_id,
                                message=decision.reason, how_to_approve=_how_to_approve(rt, req.request_id))  # fmt: skip
                else:
                    item.update(status="refused", message=decision.reason)
                out.append(item)
        asked = [o["approval_request"] for o in out if o.get("approval_request")]
        return Answer(f"{len(asked)} approval request(s): {', '.join(asked)}; a person approves them outside "
                      "this AI client" if asked else "no step of this plan needs an approval",
                      {"plan_id": plan_id, "steps": out})  # fmt: skip

    def execute_plan(self, plan_id: str, *, steps: Sequence[int] | None = None, channel: str) -> Answer:
        """Run the plan's steps (all, or these indices) through the engine and the gate, as ``escher ask`` does.

        Each step is planned again from the cloud now. A step the gate holds for approval does not run: it gets
        (or keeps) its approval request. A step with a recorded approval, or that needs none, runs."""
        from escher.assist.execute import run_steps
        from escher.ops.model import OpError

        stored = self.plans.get(plan_id)
        chosen = list(range(len(stored.steps))) if not steps else list(dict.fromkeys(steps))
        bad = [i for i in chosen if not 0 <= i < len(stored.steps)]
        if bad:
            raise McpError(f"plan {plan_id} has steps 0..{len(stored.steps) - 1}, not {bad}",
                           hint="pass step indices from the plan, or none for every step")  # fmt: skip
        out: list[dict[str, Any]] = []
        with self._serial(), self._runtime(channel) as rt:
            engine, gate = rt.engine(), rt.gate()
            for i in chosen:
                step = stored.steps[i]
                try:
                    plan = _engine_plan(rt, engine, step)
                except OpError as exc:
                    out.append(
                        {
                            "step": i,
                            "operation": step.operation_id,
                            "status": "failed",
                            "message": exc.message,
                        }
                    )
                    break
                decision = gate.preview(plan)
                if not decision.allowed and decision.needs_approval:
                    req = self._request(rt, stored, i, plan)
                    out.append({"step": i, "operation": step.operation_id, "status": "needs_approval",
                                "message": f"{decision.reason}. Not executed.", "approval_request": req.request_id,
                                "how_to_approve": _how_to_approve(rt, req.request_id), "plan": _changes(plan)})  # fmt: skip
                    continue
                # the same function `escher ask` runs a step with; calling execute_plan is the confirmation
                [outcome] = run_steps(rt, [step], can_confirm=False, yes=True, confirm=_never, engine=engine)
                if outcome.approval_request:
                    stored.approval_requests[i] = outcome.approval_request
                item = {"step": i, **outcome.to_dict()}
                if item.get("plan"):
                    item["plan"] = {"plan_id": item["plan"]["plan_id"], "changes": item["plan"]["changes"]}
                out.append(item)
                if outcome.status == "failed":
                    break
        counts: dict[str, int] = {}
        for o in out:
            counts[o["status"]] = counts.get(o["status"], 0) + 1
        return Answer(", ".join(f"{n} step(s) {s}" for s, n in counts.items()) or "nothing to run",
                      {"plan_id": plan_id, "steps": out})  # fmt: skip

    def _request(self, rt: Runtime, stored: StoredPlan, index: int, plan: Plan) -> ApprovalRequest:
        """This step's pending request if it still covers the plan, else a new one (recorded in the ledger)."""
        from escher.policy.gate import plan_targets

        targets = plan_targets(plan)
        params = plan.params.model_dump(mode="json")
        known = stored.approval_requests.get(index)
        if known is not None:
            req = rt.approvals.get(known)
            if (req.status_at(datetime.now(UTC)) == "pending" and req.operation == plan.operation.id
                    and req.params == params and set(targets) <= set(req.targets)):  # fmt: skip
                return req
        req = rt.approvals.request(plan.operation.id, targets, params, by=rt.actor, reason=plan.reason)
        stored.approval_requests[index] = req.request_id
        return req


def _never(_question: str) -> bool:
    return False


def _engine_plan(rt: Runtime, engine: Engine, step: PlanStep) -> Plan:
    """The engine plan of a step exactly as ``escher ask`` makes it (``escher.assist.execute``)."""
    from escher.assist.execute import engine_plan

    return engine_plan(rt, engine, step)


def _changes(plan: Plan) -> list[dict[str, Any]]:
    out = []
    for c in plan.changes:
        now = {k: v for k, v in (c.before or {}).items() if k in c.wanted} if c.before else None
        out.append({"target": c.target.resource_id, "region": c.target.region, "action": c.action,
                    "now": now, "wanted": c.wanted, "error": c.error, "cli": c.cli})  # fmt: skip
    return out


def _plan_line(plan: dict[str, Any]) -> str:
    parts = []
    for s in plan["steps"]:
        n = len([c for c in s.get("changes", []) if c["action"] == "change"])
        parts.append(f"step {s['step']} {s['operation']}: {n} change(s), {s['status']}")
    return f"plan {plan['plan_id']}: " + "; ".join(parts)


def _next(steps: list[dict[str, Any]], plan_id: str) -> str:
    if any(s["status"] == "needs_approval" for s in steps):
        return (f"steps that need approval do not run: request_approval(plan_id={plan_id!r}) asks for it; a person "
                "approves outside this AI client, then execute_plan runs what is approved")  # fmt: skip
    if any(s["status"] == "ready" for s in steps):
        return f"show the user this plan; if they want it, execute_plan(plan_id={plan_id!r})"
    return "nothing in this plan can run now"


def _how_to_approve(rt: Runtime, request_id: str) -> str:
    if rt.single_operator and rt.actor.is_manager:
        return (f"the user approves it themselves in a terminal (a recorded self-approval; it then runs there): "
                f"escher approvals run {request_id} --approve \"reason\"")  # fmt: skip
    return (f"another manager runs 'escher approvals approve {request_id}'; then execute_plan runs it "
            f"(or 'escher approvals run {request_id}')")  # fmt: skip
