"""Approvals both ways over one state storage (a directory: the same conditional writes as S3/Blob/GCS): two
laptops deciding at once, a laptop and a worker using one approval at once, and grants the worker refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from escher.audit import MemoryAuditSink
from escher.extend.approvals_remote import ExtendedApprovalStore, Grant, approver_keys, pull_approvals
from escher.pipeline.granted import ConditionalApprovalStore, _problem
from escher.pipeline.objects import LocalObjects
from escher.policy.approvals import Approvals
from escher.policy.errors import ApprovalError
from escher.policy.personas import Actor, Persona
from escher.store.keys import load_or_create

URL = "file:///extension-state"
MANAGERS = {"personas": {"managers": ["alice", "bob"]}}


@pytest.fixture
def bucket(tmp_path: Path) -> LocalObjects:
    return LocalObjects(tmp_path / "bucket")


def _worker_request(bucket: LocalObjects) -> str:
    """What a worker leaves when a fix is not pre-approved."""
    worker = Approvals(ConditionalApprovalStore(bucket), MemoryAuditSink())
    req = worker.request(
        "aws.s3.block_public_access", ["shop-exports@us-east-1"], {}, by=Actor("aws", Persona.automation)
    )
    return req.request_id


def _laptop(tmp_path: Path, name: str, bucket: LocalObjects) -> tuple[Approvals, MemoryAuditSink]:
    store = ExtendedApprovalStore(tmp_path / name, signer=load_or_create(tmp_path / name),
                                  open_objects=lambda url: bucket)  # fmt: skip
    listing = {k: bucket.get(k).version for k in bucket.list("approvals/")}  # type: ignore[union-attr]
    pull_approvals(store, "aws", URL, listing)
    sink = MemoryAuditSink()
    return Approvals(store, sink), sink


def test_two_laptops_deciding_at_once_one_wins_and_the_other_records_nothing(
    tmp_path: Path, bucket: LocalObjects
) -> None:
    request_id = _worker_request(bucket)
    laptop_a, ledger_a = _laptop(tmp_path, "a", bucket)
    laptop_b, ledger_b = _laptop(tmp_path, "b", bucket)
    # both read it pending; alice approves first
    laptop_a.approve(request_id, by=Actor("alice", Persona.manager))
    with pytest.raises(ApprovalError, match="changed on the aws extension"):
        laptop_b.reject(request_id, by=Actor("bob", Persona.manager))
    assert [r.action for r in ledger_a.records] == ["approval.grant"]
    assert not ledger_b.records
    # the storage has the one decision, and laptop B now shows it
    assert bucket.list("approvals/grants/") == [f"approvals/grants/{request_id}.json"]
    assert laptop_b.get(request_id).status == "approved"


def test_a_laptop_and_a_worker_using_one_approval_at_once_only_one_runs(
    tmp_path: Path, bucket: LocalObjects
) -> None:
    request_id = _worker_request(bucket)
    laptop, _ = _laptop(tmp_path, "a", bucket)
    laptop.approve(request_id, by=Actor("alice", Persona.manager))
    worker = Approvals(ConditionalApprovalStore(bucket), MemoryAuditSink())
    seen_by_worker = worker.get(request_id)
    # the laptop uses it ('escher approvals run ID') after the worker read it, before the worker wrote
    laptop.mark_executed(laptop.get(request_id), "laptop-plan")
    with pytest.raises(ApprovalError):
        worker.store.put(seen_by_worker.model_copy(update={"status": "executed"}))
    assert worker.get(request_id).executed_plan == "laptop-plan"


def test_the_worker_refuses_a_grant_that_does_not_bind_this_request(
    tmp_path: Path, bucket: LocalObjects
) -> None:
    request_id = _worker_request(bucket)
    laptop, _ = _laptop(tmp_path, "a", bucket)
    laptop.approve(request_id, by=Actor("alice", Persona.manager))
    grant = Grant.from_bytes(bucket.get(f"approvals/grants/{request_id}.json").data)  # type: ignore[union-attr]
    req = ConditionalApprovalStore(bucket).get(request_id)
    # what laptop A publishes: the managers and their approver keys (alice's signed the grant)
    published = {**MANAGERS, "approvers": approver_keys(tmp_path / "a", MANAGERS, {})}
    assert req is not None and _problem(grant, req, published) is None
    # a request widened after the approval
    widened = req.model_copy(update={"targets": [*req.targets, "other@us-east-1"]})
    assert "digest" in (_problem(grant, widened, published) or "")
    # a decider who is not a published manager
    assert "not a manager" in (_problem(grant, req, {**published, "personas": {"managers": ["carol"]}}) or "")
    # a signature that does not match what it signs
    forged = Grant(**{**grant.__dict__, "note": "something else"})
    assert "not signed by the key published for alice" in (_problem(forged, req, published) or "")
    # settings published without alice's key (or none at all): her grant is not trusted
    assert "no approver key is published for alice" in (_problem(grant, req, MANAGERS) or "")
