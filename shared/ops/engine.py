"""The one path by which Escher changes a cloud: plan -> policy gate -> execute -> verify -> audit.

- ``plan`` reads every target's state now (never an event's or an inventory's copy) and says what will change.
- ``execute`` asks the :class:`Authorizer` (``escher.policy``), re-reads each target (the plan may be minutes
  old), skips what already holds (idempotent no-op), applies, then proves the change by reading it back. Work
  runs in threads, at most ``concurrency`` at once per cloud and region (a single target runs inline: no pool);
  throttling and 5xx are retried by the SDK's own retry machinery configured in ``escher.clouds``. One resource
  failing never stops the others.
- ``run`` is plan + execute in one call (an event's pre-approved fix, a scheduled job). There the plan's read,
  made by this same call a moment earlier, *is* execute's fresh read: one read per resource before applying, not
  two. Only within :data:`SAME_CALL_READ_SECONDS` of it; an older read (a slow gate, a queue behind the
  concurrency limit) is read again, and a plan handed to ``execute`` on its own is always read again.
- Each resource's outcome is an :class:`~escher.audit.AuditRecord` (who, what, why, before, after, timings, and
  the account the resource is in: ``details["account"]``, as the gate's records name it).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from escher.audit import AuditOutcome, AuditRecord, AuditSink
from escher.ops.context import CloudContext
from escher.ops.model import (
    OPERATIONS,
    Call,
    Operation,
    OpError,
    Params,
    Target,
    TargetNotFoundError,
    subset_holds,
)

__all__ = [
    "Authorizer",
    "Decision",
    "Engine",
    "Plan",
    "PlannedChange",
    "ResourceResult",
    "RunResult",
]

_In = TypeVar("_In")
_Out = TypeVar("_Out")

Outcome = Literal["dry_run", "noop", "verified", "failed", "verify_failed", "refused"]

# how old a read made by the same ``run`` call may be and still stand for execute's re-read
SAME_CALL_READ_SECONDS = 0.25


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Decision:
    """The policy gate's answer for one plan: allowed, and why (or why not)."""

    allowed: bool
    reason: str
    via: str = ""  # "manager", "approval:<id>", "template:<name>", "remediation:<setting>", "low-risk"
    needs_approval: bool = False


class Authorizer(Protocol):
    def authorize(self, plan: Plan) -> Decision: ...


@dataclass
class PlannedChange:
    target: Target
    action: Literal["change", "noop", "error"]
    before: dict[str, Any] | None
    wanted: dict[str, Any]
    cli: str
    error: str | None = None
    read_at: float | None = field(default=None, repr=False, compare=False)  # time.monotonic() of ``before``

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.resource_id,
            "region": self.target.region,
            "action": self.action,
            "before": self.before,
            "wanted": self.wanted,
            "cli": self.cli,
            "error": self.error,
        }


@dataclass
class Plan:
    operation: Operation
    params: Params
    changes: list[PlannedChange]
    actor: str
    reason: str
    plan_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    created_at: datetime = field(default_factory=_now)

    def key_for(self, target: Target) -> str:
        """Stable per plan and target: names created resources so a retry finds them instead of duplicating."""
        return hashlib.sha256(f"{self.plan_id}|{target}".encode()).hexdigest()[:16]

    @property
    def to_change(self) -> list[PlannedChange]:
        return [c for c in self.changes if c.action == "change"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "operation": self.operation.id,
            "risk": self.operation.risk.value,
            "params": self.params.model_dump(mode="json"),
            "actor": self.actor,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "changes": [c.to_dict() for c in self.changes],
        }


@dataclass
class ResourceResult:
    target: Target
    outcome: Outcome
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, datetime] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in ("dry_run", "noop", "verified")

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target.resource_id,
            "region": self.target.region,
            "outcome": self.outcome,
            "before": self.before,
            "after": self.after,
            "error": self.error,
            "details": self.details,
            "timings": {k: v.isoformat() for k, v in self.timings.items()},
        }


@dataclass
class RunResult:
    plan: Plan
    results: list[ResourceResult]
    dry_run: bool
    decision: Decision | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan.plan_id,
            "operation": self.plan.operation.id,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "decision": None if self.decision is None else self.decision.__dict__,
            "counts": self.counts(),
            "results": [r.to_dict() for r in self.results],
        }


class Engine:
    def __init__(
        self,
        ctx: CloudContext,
        sink: AuditSink,
        authorizer: Authorizer,
        *,
        concurrency: int = 4,
        verify_interval: float = 2.0,
        verify_timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        account: str | None = None,
    ) -> None:
        """``account``: the AWS account, Azure subscription or GCP project ``ctx`` acts in (``--account ID``);
        None: the caller's own, named in the records where the target's id or ``ctx`` names it."""
        if concurrency < 1:
            raise OpError("concurrency must be at least 1", hint="pass a positive number")
        self.ctx = ctx
        self.sink = sink
        self.authorizer = authorizer
        self.concurrency = concurrency
        self.verify_interval = verify_interval
        self.verify_timeout = verify_timeout
        self._sleep = sleep
        self.account = account
        self._gates: dict[tuple[str, str], threading.Semaphore] = {}
        self._gates_lock = threading.Lock()

    # -- targets ------------------------------------------------------------------------------------------
    def resolve_targets(
        self,
        op: Operation,
        targets: Sequence[str] = (),
        *,
        tags: dict[str, str] | None = None,
        regions: Sequence[str] = (),
    ) -> list[Target]:
        """Explicit ids (in each region given, or the default one) plus whatever the tag filter selects."""
        region_list: list[str | None] = list(regions) or [None]
        found = [Target(op.cloud, t, r) for t in targets for r in region_list]
        if tags:
            if op.discover is None:
                raise OpError(
                    f"{op.id} cannot select its targets by tag",
                    hint="name each target with --target",
                )
            for region in region_list:
                found.extend(op.discover(self.ctx, region, dict(tags)))
        unique = list(dict.fromkeys(found))
        if not unique:
            raise OpError(
                f"no targets for {op.id}", hint="name them with --target, or select them with --tag"
            )
        return unique

    # -- plan ---------------------------------------------------------------------------------------------
    def plan(
        self,
        operation_id: str,
        targets: Sequence[Target],
        params: dict[str, Any] | Params | None = None,
        *,
        actor: str,
        reason: str = "",
        plan_id: str | None = None,
    ) -> Plan:
        """``plan_id``: pass a stable one (the provider's event id) so a redelivered event reuses its keys."""
        op = OPERATIONS.get(operation_id)
        parsed = op.parse_params(params)
        plan = Plan(operation=op, params=parsed, changes=[], actor=actor, reason=reason)
        if plan_id:
            plan.plan_id = plan_id
        plan.changes = self._each(lambda t: self._plan_one(plan, t), list(targets))
        return plan

    def run(
        self,
        operation_id: str,
        targets: Sequence[Target],
        params: dict[str, Any] | Params | None = None,
        *,
        actor: str,
        reason: str = "",
        plan_id: str | None = None,
    ) -> RunResult:
        """Plan and execute at once (nothing in between asks a person): each resource is read once before the
        change, by the plan, and that read stands for execute's re-read while it is this call's and fresh."""
        plan = self.plan(operation_id, targets, params, actor=actor, reason=reason, plan_id=plan_id)
        return self._execute(plan, reuse_reads_within=SAME_CALL_READ_SECONDS)

    def _plan_one(self, plan: Plan, target: Target) -> PlannedChange:
        op = plan.operation
        call = Call(self.ctx, target, plan.params, plan.key_for(target))
        cli = op.cli_for(target, plan.params)
        with self._gate(target):
            try:
                before = op.fetch(call)
            except self._errors(op.cloud) as exc:
                return PlannedChange(target, "error", None, {}, cli, error=_explain(exc))
            read_at = time.monotonic()
        wanted = op.wanted(call, before)
        holds = op.mode == "converge" and subset_holds(before, wanted)
        return PlannedChange(target, "noop" if holds else "change", before, wanted, cli, read_at=read_at)

    # -- execute ------------------------------------------------------------------------------------------
    def execute(self, plan: Plan, *, dry_run: bool = False) -> RunResult:
        """Every target is read again before it is changed: the plan may be minutes old."""
        return self._execute(plan, dry_run=dry_run)

    def _execute(self, plan: Plan, *, dry_run: bool = False, reuse_reads_within: float = 0.0) -> RunResult:
        if dry_run:
            results = [self._dry_run(plan, c) for c in plan.changes]
            return RunResult(plan, results, dry_run=True)
        decision = self.authorizer.authorize(plan)
        if not decision.allowed:
            results = [self._refused(plan, c, decision) for c in plan.changes]
            return RunResult(plan, results, dry_run=False, decision=decision)
        results = self._each(lambda c: self._execute_one(plan, c, decision, reuse_reads_within), plan.changes)
        return RunResult(plan, results, dry_run=False, decision=decision)

    def _dry_run(self, plan: Plan, change: PlannedChange) -> ResourceResult:
        outcome: Outcome = "failed" if change.action == "error" else "dry_run"
        result = ResourceResult(
            change.target,
            outcome,
            before=change.before,
            error=change.error,
            details={"would": change.action, "wanted": change.wanted, "cli": change.cli},
            timings={"planned": plan.created_at},
        )
        self._audit(plan, result, "dry_run" if outcome == "dry_run" else "failed")
        return result

    def _refused(self, plan: Plan, change: PlannedChange, decision: Decision) -> ResourceResult:
        result = ResourceResult(
            change.target,
            "refused",
            before=change.before,
            error=decision.reason,
            details={"needs_approval": decision.needs_approval},
            timings={"planned": plan.created_at, "decided": _now()},
        )
        self._audit(plan, result, "refused")
        return result

    def _execute_one(
        self, plan: Plan, change: PlannedChange, decision: Decision, reuse_reads_within: float = 0.0
    ) -> ResourceResult:
        op, target = plan.operation, change.target
        call = Call(self.ctx, target, plan.params, plan.key_for(target))
        result = ResourceResult(target, "failed", before=change.before)
        result.details["authorized_via"] = decision.via
        result.timings.update(planned=plan.created_at, decided=_now())
        if change.action == "error":
            result.error = change.error
            self._audit(plan, result, "failed")
            return result
        errors = self._errors(op.cloud)
        with self._gate(target):
            try:
                # now, not the plan's copy (someone may have fixed it meanwhile), unless this very call read it a
                # moment ago (``run``): then that read is the fresh one
                recent = change.before if _fresh(change, reuse_reads_within) else None
                before = recent if recent is not None else op.fetch(call)
                result.before = before
                wanted = op.wanted(call, before)
                if op.mode == "converge" and subset_holds(before, wanted):
                    result.outcome, result.after = "noop", before
                    result.timings["verified"] = _now()
                    self._audit(plan, result, "noop")
                    return result
                result.timings["started"] = _now()
                result.details.update(op.apply(call, before) or {})
                result.timings["fixed"] = _now()
            except errors as exc:
                result.error = _explain(exc)
                self._audit(plan, result, "failed")
                return result
        self._audit(plan, result, "succeeded")
        self._verify(plan, call, wanted, result)
        return result

    def _verify(self, plan: Plan, call: Call, wanted: dict[str, Any], result: ResourceResult) -> None:
        op = plan.operation
        timeout = self.verify_timeout if self.verify_timeout is not None else op.verify_timeout
        deadline = time.monotonic() + timeout
        observed: dict[str, Any] | None = None
        last_error: str | None = None
        while True:
            try:
                with self._gate(call.target):
                    observed = op.fetch(call)
                last_error = None
                if subset_holds(observed, wanted):
                    result.outcome, result.after = "verified", observed
                    result.timings["verified"] = _now()
                    self._audit(plan, result, "verified")
                    return
            except self._errors(op.cloud) as exc:
                last_error = _explain(exc)
            if time.monotonic() >= deadline:
                break
            self._sleep(self.verify_interval)
        result.outcome, result.after = "verify_failed", observed
        mismatched = {k: {"wanted": v, "observed": (observed or {}).get(k)} for k, v in wanted.items()}
        result.details["evidence"] = {
            "mismatched": {k: v for k, v in mismatched.items() if v["wanted"] != v["observed"]},
            "read_error": last_error,
            "waited_seconds": timeout,
        }
        result.error = "the change could not be confirmed by reading the resource back"
        result.timings["verified"] = _now()
        self._audit(plan, result, "verify_failed")

    # -- helpers ------------------------------------------------------------------------------------------
    def _account(self, target: Target) -> str | None:
        """The account ``target`` is in: the one this engine acts in, else the one its id names (an ARN, an ARM
        id, a GCP path), else the subscription or project ``ctx`` acts in (Azure, GCP)."""
        from escher.ops._common import resource_account

        if self.account:
            return self.account
        named = resource_account(target.cloud, target.resource_id)
        if named:
            return named
        acting_in = {"azure": self.ctx.azure_subscription_id, "gcp": self.ctx.gcp_project}
        return acting_in.get(target.cloud)

    def _errors(self, cloud: str) -> tuple[type[BaseException], ...]:
        """What a per-resource step may raise and still be reported as that resource's failure: our own
        errors and the cloud SDK's (after its retries). Anything else is a bug and propagates."""
        return (OpError, *self.ctx.sdk_errors(cloud))

    def _each(self, work: Callable[[_In], _Out], items: list[_In]) -> list[_Out]:
        """``work`` over ``items`` in order: inline for one (the common event case; a pool costs more than the
        work), else in threads (the per-region gates still bound what runs at once)."""
        if len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(32, len(items))) as pool:
            return list(pool.map(work, items))

    def _gate(self, target: Target) -> threading.Semaphore:
        key = (target.cloud, target.region or "")
        with self._gates_lock:
            if key not in self._gates:
                self._gates[key] = threading.Semaphore(self.concurrency)
            return self._gates[key]

    def _audit(self, plan: Plan, result: ResourceResult, outcome: AuditOutcome) -> None:
        details = dict(result.details)
        if result.error:
            details["error"] = result.error
        details["params"] = plan.params.model_dump(mode="json")
        if result.target.region:
            details["region"] = result.target.region
        if account := self._account(result.target):
            details["account"] = account
        self.sink.append(
            AuditRecord(
                actor=plan.actor,
                action=plan.operation.id,
                target=result.target.resource_id,
                cloud=plan.operation.cloud,
                reason=plan.reason,
                outcome=outcome,
                before=result.before,
                after=result.after,
                details=details,
                timings=dict(result.timings),
                correlation_id=plan.plan_id,
            )
        )


def _fresh(change: PlannedChange, within: float) -> bool:
    return (
        within > 0
        and change.before is not None
        and change.read_at is not None
        and time.monotonic() - change.read_at <= within
    )


def _explain(exc: BaseException) -> str:
    if isinstance(exc, TargetNotFoundError):
        return exc.message
    if isinstance(exc, OpError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
