"""The worker carries out what a manager approved on the laptop, on its next wake (an event or a scheduled job).

A request the worker raised (``approvals/<id>.json``) runs here only when all of these hold:

- it is ``approved`` and unexpired, its operation is this worker's cloud's;
- its grant (``approvals/grants/<id>.json``, written by :mod:`escher.extend.approvals_remote`) approves exactly
  this request (the SHA-256 of the request as asked), names a decider other than the requester who is a manager
  in the published ``[personas]`` (any person in single-operator mode), and it is signed (Ed25519) by a key the
  published settings name for that decider (``approvers``, see :func:`escher.extend.approvals_remote.approver_keys`).
  The key a grant carries is never trusted: an unsigned grant, one signed by a key the laptop never published, or
  by another person's key, is refused, and so is every grant on a worker without ``cryptography`` (every bundle
  carries it: :func:`escher.infra.bundle.worker_requirements`);
- the worker claims it with a marker (create-if-absent), so two wakes never run it twice.

It runs through the one gate and engine: a :class:`~escher.policy.gate.Gate` for which every step needs an
approval (``max_targets_without_approval = 0``) and only this request may give it, so the gate itself uses the
approval up (a compare-and-swap on the request: a laptop running it at the same time loses, or wins and this one
is refused). Each record goes to the worker's audit storage, which the laptop pulls into its ledger. A refused
grant is recorded once (``approval.grant_refused``) and left alone.
"""

from __future__ import annotations

import importlib.util
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escher.audit import AuditRecord

if TYPE_CHECKING:
    from escher.pipeline.core import Pipeline
    from escher.pipeline.objects import PipelineObjects
    from escher.policy.approvals import ApprovalRequest

__all__ = ["ConditionalApprovalStore", "run_granted"]

log = logging.getLogger("escher.pipeline.granted")


class ConditionalApprovalStore:
    """``approvals/<id>.json`` written only over the version this store read (or created if absent): of a worker
    and a laptop using the same approval at once, one write fails and that one is refused by the gate."""

    PREFIX = "approvals/"

    def __init__(self, objects: PipelineObjects) -> None:
        self.objects = objects
        self._versions: dict[str, str] = {}

    def get(self, request_id: str) -> ApprovalRequest | None:
        from escher.policy.approvals import ApprovalRequest

        item = self.objects.get(f"{self.PREFIX}{request_id}.json")
        if item is None:
            return None
        self._versions[request_id] = item.version
        return ApprovalRequest.model_validate_json(item.data)

    def all(self) -> list[ApprovalRequest]:
        found = []
        for key in self.objects.list(self.PREFIX):
            rest = key[len(self.PREFIX) :]
            if "/" not in rest and rest.endswith(".json") and (req := self.get(rest[: -len(".json")])):
                found.append(req)
        return found

    def put(self, request: ApprovalRequest) -> None:
        from escher.policy.errors import ApprovalError

        key, data = f"{self.PREFIX}{request.request_id}.json", request.model_dump_json().encode()
        version = self._versions.get(request.request_id)
        written = (
            self.objects.put_if_absent(key, data)
            if version is None
            else self.objects.replace(key, data, version)
        )
        if written is None:
            raise ApprovalError(
                f"approval request {request.request_id} changed while it was being used",
                hint="nothing ran here; see 'escher approvals list' on the laptop",
            )
        self._versions[request.request_id] = written


def _problem(grant: Any, req: ApprovalRequest, extensions: dict[str, Any]) -> str | None:
    from escher.extend.approvals_remote import grant_message, request_digest
    from escher.policy.personas import load_personas

    if grant.request_id != req.request_id or grant.decision != "approved":
        return "the grant does not approve this request"
    if grant.request_sha256 != request_digest(req):
        return "the request changed after it was approved (its digest differs from the grant's)"
    if not grant.decided_by or grant.decided_by != req.decided_by or grant.decided_by == req.requested_by:
        return f"the grant's decider {grant.decided_by!r} is not the request's or is its requester"
    personas = load_personas(extensions)
    if personas is not None and personas.managers and grant.decided_by not in personas.managers:
        return f"{grant.decided_by} is not a manager in the published [personas]"
    if not grant.signature:
        return "the grant is not signed"
    keys = _published_keys(extensions, grant.decided_by)
    if not keys:
        return (
            f"no approver key is published for {grant.decided_by} (the settings' approvers; run "
            "'escher extend sync-settings' on their laptop)"
        )
    if importlib.util.find_spec("cryptography") is None:
        return "this worker cannot check the grant's signature (cryptography is not in its bundle)"
    from escher.store.keys import verify_signature

    message = grant_message(grant)
    if not any(verify_signature(key, message, grant.signature) for key in keys):
        return f"the grant is not signed by the key published for {grant.decided_by}"
    return None


def _published_keys(extensions: dict[str, Any], name: str) -> list[str]:
    """The public keys (base64) the published settings name for ``name``; none when the entry is malformed."""
    from escher.extend.settings_doc import APPROVERS

    approvers = extensions.get(APPROVERS)
    keys = approvers.get(name) if isinstance(approvers, dict) else None
    return [k for k in keys if isinstance(k, str) and k] if isinstance(keys, list) else []


def run_granted(
    pipeline: Pipeline, extensions: dict[str, Any], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Run every approved, granted request of this worker that no one ran yet; one summary per request."""
    from escher.extend.approvals_remote import GRANTS, Grant

    objects = getattr(pipeline.approvals, "objects", None)
    if objects is None:  # Local Only: the laptop runs its approvals itself
        return []
    now = now or datetime.now(UTC)
    store = ConditionalApprovalStore(objects)
    done = []
    for key in objects.list(GRANTS):
        request_id = key[len(GRANTS) : -len(".json")]
        req = store.get(request_id)
        if (
            req is None
            or req.status_at(now) != "approved"
            or not req.operation.startswith(f"{pipeline.worker}.")
        ):
            continue
        item = objects.get(key)
        if item is None:
            continue
        grant = Grant.from_bytes(item.data)
        problem = _problem(grant, req, extensions)
        if problem is not None:
            pipeline.audit.append(_refusal(pipeline.worker, req, problem))
            continue
        claim = pipeline.markers.claim(pipeline.worker, f"approval:{request_id}", req.operation)
        if claim is None:
            continue
        done.append(_run(pipeline, store, extensions, req))
        from escher.pipeline.markers import Stage

        pipeline.markers.advance(claim, Stage.done, result=done[-1])
    return done


def _refusal(worker: str, req: ApprovalRequest, problem: str) -> AuditRecord:
    return AuditRecord(
        record_id=f"grant-refused-{req.request_id}",  # once: a later wake writes the same record (a no-op)
        actor=f"worker:{worker}",
        action="approval.grant_refused",
        target=",".join(req.targets),
        reason=problem,
        outcome="refused",
        details={"request_id": req.request_id, "operation": req.operation},
        correlation_id=req.request_id,
    )


def _run(
    pipeline: Pipeline, store: ConditionalApprovalStore, extensions: dict[str, Any], req: ApprovalRequest
) -> dict[str, Any]:
    from escher.ops import OPERATIONS, Engine, Target
    from escher.policy.approvals import Approvals
    from escher.policy.gate import Gate
    from escher.policy.personas import Actor, Persona
    from escher.policy.settings import load_policy

    # every step of this run needs an approval, and only this request may give it (model_copy skips the
    # settings' own lower bound of 1 on purpose: a person never sets this, the run does)
    policy = load_policy(extensions).model_copy(update={"max_targets_without_approval": 0})
    cloud = OPERATIONS.get(req.operation).cloud
    actor = Actor(pipeline.worker, Persona.executor)
    gate = Gate(actor, pipeline.audit, approvals=Approvals(store, pipeline.audit), policy=policy,
                approval_id=req.request_id)  # fmt: skip
    engine = Engine(pipeline.cloud, pipeline.audit, gate, verify_interval=pipeline.verify_interval,
                    verify_timeout=pipeline.verify_timeout)  # fmt: skip
    targets = [
        Target(cloud, rid, region or None)
        for rid, _, region in (t.rpartition("@") if "@" in t else (t, "", "") for t in req.targets)
    ]
    reason = f"{req.reason} (approval {req.request_id}, approved by {req.decided_by})".strip()
    run = engine.run(req.operation, targets, req.params, actor=f"worker:{pipeline.worker}", reason=reason,
                     plan_id=f"approval-{req.request_id}")  # fmt: skip
    current = store.get(req.request_id)
    if current is not None and current.status == "approved":  # nothing to change: the gate did not use it
        Approvals(store, pipeline.audit).mark_executed(current, run.plan.plan_id)
    log.info("approval %s run: %s", req.request_id, run.counts())
    if run.ok:
        _resolve_alert(pipeline, req, run.results[0].after if run.results else None)
    return {"request_id": req.request_id, "operation": req.operation, **run.to_dict()}


def _resolve_alert(pipeline: Pipeline, req: ApprovalRequest, after: Any) -> None:
    """The alert that held this request says it is fixed, and by whose approval (its banner stops asking).
    The pipeline names the event in the request's reason (``event <id> (<type>)``): one read, no listing."""
    import re

    from escher.alerts.model import alert_id_for
    from escher.alerts.store import AlertNotFoundError

    found = re.match(r"event (\S+) \(", req.reason)
    if found is None:
        return
    try:
        alert = pipeline.alerts.get(alert_id_for(pipeline.worker, found.group(1), req.operation))
    except AlertNotFoundError:
        return
    if alert.approval_request_id != req.request_id or alert.status != "needs_approval":
        return
    alert.status = "auto_resolved"
    alert.decision = f"approved by {req.decided_by} (approval {req.request_id}), run by the worker"
    alert.verification = f"read back: {after}"
    alert.next_steps = []
    pipeline.alerts.put(alert)
