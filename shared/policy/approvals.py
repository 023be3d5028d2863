"""Approval requests: someone asks, another manager approves or rejects, the approved plan runs once, before expiry.

A request expires ``ttl`` after it was made whether it is pending or approved: an approval nobody used stops
working too. Expiry is written to the store and audited (``approval.expire``) the first time it is noticed.
In single-operator mode a manager may approve their own step with an explicit reason (:meth:`Approvals.self_approve`,
audited as ``approval.request`` + ``approval.self_grant``); nothing else approves one's own request.

Persisted behind :class:`ApprovalStore`; :class:`JsonFileApprovalStore` keeps them in ``<data dir>/approvals.json``.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from escher.audit import AuditOutcome, AuditRecord, AuditSink
from escher.policy._jsonfile import JsonDocument
from escher.policy.errors import ApprovalError, UnknownApprovalError
from escher.policy.personas import Actor

__all__ = ["ApprovalRequest", "ApprovalStore", "Approvals", "JsonFileApprovalStore", "MemoryApprovalStore"]

Status = Literal["pending", "approved", "rejected", "executed", "expired"]
DEFAULT_TTL = timedelta(hours=24)


def _now() -> datetime:
    return datetime.now(UTC)


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    operation: str
    targets: list[str] = Field(description="'<resource id>@<region>' or '<resource id>'")
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    requested_by: str
    requested_at: datetime = Field(default_factory=_now)
    expires_at: datetime
    status: Status = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str = ""
    executed_plan: str | None = None

    def status_at(self, now: datetime) -> Status:
        if self.status in ("pending", "approved") and now >= self.expires_at:
            return "expired"
        return self.status


class ApprovalStore(Protocol):
    def put(self, request: ApprovalRequest) -> None: ...
    def get(self, request_id: str) -> ApprovalRequest | None: ...
    def all(self) -> list[ApprovalRequest]: ...


class MemoryApprovalStore:
    def __init__(self) -> None:
        self._items: dict[str, ApprovalRequest] = {}

    def put(self, request: ApprovalRequest) -> None:
        self._items[request.request_id] = request.model_copy(deep=True)

    def get(self, request_id: str) -> ApprovalRequest | None:
        item = self._items.get(request_id)
        return None if item is None else item.model_copy(deep=True)

    def all(self) -> list[ApprovalRequest]:
        return [r.model_copy(deep=True) for r in self._items.values()]


class JsonFileApprovalStore:
    def __init__(self, data_dir: Path) -> None:
        self._doc = JsonDocument(data_dir / "approvals.json")

    def put(self, request: ApprovalRequest) -> None:
        def change(data: dict[str, Any]) -> None:
            data[request.request_id] = request.model_dump(mode="json")

        self._doc.update(change)

    def get(self, request_id: str) -> ApprovalRequest | None:
        raw = self._doc.read().get(request_id)
        return None if raw is None else ApprovalRequest.model_validate(raw)

    def all(self) -> list[ApprovalRequest]:
        return [ApprovalRequest.model_validate(v) for v in self._doc.read().values()]


class Approvals:
    """The rules around the store: who may decide, expiry, one execution per approval, audit of each step."""

    def __init__(self, store: ApprovalStore, sink: AuditSink, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.store = store
        self.sink = sink
        self.ttl = ttl

    def request(
        self,
        operation: str,
        targets: builtins.list[str],
        params: dict[str, Any],
        *,
        by: Actor,
        reason: str = "",
    ) -> ApprovalRequest:
        now = _now()
        req = ApprovalRequest(
            operation=operation,
            targets=sorted(targets),
            params=params,
            reason=reason,
            requested_by=by.name,
            requested_at=now,
            expires_at=now + self.ttl,
        )
        self.store.put(req)
        self._audit(req, str(by), "approval_requested", "approval.request")
        return req

    def list(
        self, status: Status | None = None, now: datetime | None = None
    ) -> builtins.list[ApprovalRequest]:
        now = now or _now()
        items = sorted(self.store.all(), key=lambda r: r.requested_at)
        items = [self._notice_expiry(r, now) for r in items]
        return [r for r in items if status is None or r.status_at(now) == status]

    def get(self, request_id: str) -> ApprovalRequest:
        req = self.store.get(request_id)
        if req is None:
            raise UnknownApprovalError(
                f"no approval request {request_id!r}", hint="see 'escher approvals list'"
            )
        return self._notice_expiry(req, _now())

    def _notice_expiry(self, req: ApprovalRequest, now: datetime) -> ApprovalRequest:
        """Write down (and audit, once) that a pending or approved request has run out of time."""
        if req.status not in ("pending", "approved") or now < req.expires_at:
            return req
        stored = self.store.get(req.request_id)  # another process may have noticed it first
        if stored is None or stored.status not in ("pending", "approved"):
            return stored or req
        was = stored.status
        stored.status = "expired"
        self.store.put(stored)
        self.sink.append(
            AuditRecord(
                actor="policy",
                action="approval.expire",
                target=",".join(stored.targets),
                reason=f"{was} request expired at {stored.expires_at.isoformat()} unused",
                outcome="info",
                details={"request_id": stored.request_id, "operation": stored.operation, "was": was},
                correlation_id=stored.request_id,
            )
        )
        return stored

    def approve(self, request_id: str, *, by: Actor, note: str = "") -> ApprovalRequest:
        return self._decide(request_id, by, "approved", note)

    def reject(self, request_id: str, *, by: Actor, note: str = "") -> ApprovalRequest:
        return self._decide(request_id, by, "rejected", note)

    def _decide(
        self, request_id: str, by: Actor, status: Literal["approved", "rejected"], note: str
    ) -> ApprovalRequest:
        req = self.get(request_id)
        now = _now()
        if not by.is_manager:
            raise ApprovalError(
                f"{by.name} is not a manager and cannot decide approval requests",
                hint="ask a manager (the [personas] managers list in the config)",
            )
        if by.name == req.requested_by:
            raise ApprovalError(
                "an approval request cannot be decided by the person who made it",
                hint="ask another manager",
            )
        current = req.status_at(now)
        if current != "pending":
            raise ApprovalError(
                f"approval request {request_id} is {current}, not pending",
                hint="make a new request with 'escher ops run' if it is still needed",
            )
        req.status, req.decided_by, req.decided_at, req.note = status, by.name, now, note
        self.store.put(req)
        self._audit(req, str(by), status, f"approval.{'grant' if status == 'approved' else 'reject'}")
        return req

    def find_approved(
        self,
        operation: str,
        targets: builtins.list[str],
        params: dict[str, Any],
        now: datetime | None = None,
        *,
        request_id: str | None = None,
    ) -> ApprovalRequest | None:
        """An approved, unexpired, unused request for exactly this operation and these parameters, naming every
        one of these targets (a plan never reaches beyond what was approved). ``request_id``: only that one."""
        now = now or _now()
        for req in self.list("approved", now):
            if request_id is not None and req.request_id != request_id:
                continue
            if _covers(req, operation, targets, params):
                return req
        return None

    def self_approve(
        self,
        operation: str,
        targets: builtins.list[str],
        params: dict[str, Any],
        *,
        by: Actor,
        reason: str,
        plan_reason: str = "",
        request_id: str | None = None,
    ) -> ApprovalRequest:
        """Single-operator mode: ``by`` approves their own step, with a reason. The caller checks the mode.

        Grants ``by``'s own pending request for exactly this step (``request_id``, or the one an earlier
        ``--yes`` left), else makes one first: either way the ledger has the request and the self-grant."""
        if not by.is_manager:
            raise ApprovalError(
                f"{by.name} is not a manager and cannot approve anything",
                hint="ask a manager (the [personas] managers list in the config)",
            )
        if not reason.strip():
            raise ApprovalError("a self-approval needs a reason", hint='pass --approve "why this is safe"')
        now = _now()
        pending = [
            r
            for r in self.list("pending", now)
            if r.requested_by == by.name
            and (request_id is None or r.request_id == request_id)
            and _covers(r, operation, targets, params)
        ]
        if request_id is not None and not pending:
            raise ApprovalError(
                f"approval request {request_id} is not your pending request for this step",
                hint="see 'escher approvals list'",
            )
        req = pending[0] if pending else self.request(operation, targets, params, by=by, reason=plan_reason)
        req.status, req.decided_by, req.decided_at, req.note = "approved", by.name, now, reason
        self.store.put(req)
        self._audit(req, str(by), "approved", "approval.self_grant", reason)
        return req

    def mark_executed(self, req: ApprovalRequest, plan_id: str) -> None:
        """Use the approval up. Read again first: another run may have used it since it was found."""
        current = self.get(req.request_id)
        if current.status != "approved":
            raise ApprovalError(
                f"approval request {req.request_id} is {current.status}: it was used or ended meanwhile",
                hint="nothing ran; see 'escher approvals list' and make a new request if it is still needed",
            )
        current.status, current.executed_plan = "executed", plan_id
        self.store.put(current)

    def _audit(
        self, req: ApprovalRequest, actor: str, outcome: AuditOutcome, action: str, reason: str = ""
    ) -> None:
        self.sink.append(
            AuditRecord(
                actor=actor,
                action=action,
                target=",".join(req.targets),
                reason=reason or req.reason or req.note,
                outcome=outcome,
                details={"request_id": req.request_id, "operation": req.operation, "params": req.params},
                correlation_id=req.request_id,
            )
        )


def _covers(req: ApprovalRequest, operation: str, targets: list[str], params: dict[str, Any]) -> bool:
    return (
        bool(targets)
        and req.operation == operation
        and req.params == params
        and set(targets) <= set(req.targets)
    )
