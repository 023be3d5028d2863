"""What the worker trusts a grant's signature to: only the key the published settings name for its decider.

Real Ed25519 keys (``escher.store.keys``), real grants as the laptop writes them; the forged ones are what anyone
who can write ``approvals/grants/<id>.json`` could put there."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escher.extend.approvals_remote import Grant, approver_keys, grant_message, request_digest
from escher.pipeline.granted import _problem
from escher.policy.approvals import ApprovalRequest
from escher.store.keys import SigningKey, approver_key

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    return tmp_path / "laptop"


@pytest.fixture
def published(laptop: Path) -> dict[str, Any]:
    """The extensions a worker reads from the settings alice's laptop published: two managers and their keys."""
    personas = {"personas": {"managers": ["alice", "bob"]}}
    return {**personas, "approvers": approver_keys(laptop, personas, {"ESCHER_USER": "alice"})}


def _request(decided_by: str = "alice") -> ApprovalRequest:
    return ApprovalRequest(
        request_id="r-1",
        operation="aws.s3.block_public_access",
        targets=["shop-exports@us-east-1"],
        requested_by="aws",
        requested_at=NOW,
        expires_at=NOW + timedelta(days=1),
        status="approved",
        decided_by=decided_by,
        decided_at=NOW + timedelta(hours=6),
    )


def _grant(req: ApprovalRequest, key: SigningKey | None, **changes: str) -> Grant:
    grant = Grant(
        request_id=req.request_id,
        request_sha256=request_digest(req),
        decision="approved",
        decided_by=req.decided_by or "",
        decided_at=NOW.isoformat(),
        key_id=key.key_id if key else "",
        public_key=key.public_key_b64 if key else "",
    )
    grant = Grant(**{**grant.__dict__, **changes})
    if key is None:
        return grant
    return Grant(**{**grant.__dict__, "signature": key.sign(grant_message(grant))})


def test_a_grant_signed_with_the_deciders_published_key_is_accepted(
    laptop: Path, published: dict[str, Any]
) -> None:
    req = _request()
    assert _problem(_grant(req, approver_key(laptop, "alice")), req, published) is None


def test_a_grant_self_signed_with_a_key_the_laptop_never_published_is_refused(
    tmp_path: Path, published: dict[str, Any]
) -> None:
    req = _request()
    intruder = approver_key(tmp_path / "intruder", "alice")  # a fresh key, carried inside the grant
    problem = _problem(_grant(req, intruder), req, published)
    assert problem == "the grant is not signed by the key published for alice"


def test_an_unsigned_grant_is_refused(published: dict[str, Any]) -> None:
    req = _request()
    assert _problem(_grant(req, None), req, published) == "the grant is not signed"


def test_a_managers_grant_signed_with_another_managers_key_is_refused(
    laptop: Path, published: dict[str, Any]
) -> None:
    req = _request("alice")
    bobs = approver_key(laptop, "bob")  # published, but for bob
    assert (
        _problem(_grant(req, bobs), req, published)
        == "the grant is not signed by the key published for alice"
    )


def test_a_signed_grant_changed_afterwards_is_refused(laptop: Path, published: dict[str, Any]) -> None:
    req = _request()
    grant = _grant(req, approver_key(laptop, "alice"))
    changed = Grant(**{**grant.__dict__, "note": "something else"})
    assert _problem(changed, req, published) == "the grant is not signed by the key published for alice"


@pytest.mark.parametrize(
    "approvers",
    [None, {}, {"bob": ["x"]}, {"alice": []}, {"alice": "not-a-list"}, "not-a-map"],
    ids=["absent", "empty", "other-person", "no-key", "malformed-entry", "malformed"],
)
def test_without_a_published_key_for_the_decider_a_signed_grant_is_refused(
    laptop: Path, approvers: Any
) -> None:
    req = _request()
    extensions: dict[str, Any] = {"personas": {"managers": ["alice", "bob"]}}
    if approvers is not None:
        extensions["approvers"] = approvers
    problem = _problem(_grant(req, approver_key(laptop, "alice")), req, extensions)
    assert problem is not None and problem.startswith("no approver key is published for alice")


def test_without_cryptography_on_the_worker_every_grant_is_refused(
    laptop: Path, published: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    req = _request()
    grant = _grant(req, approver_key(laptop, "alice"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cryptography" else real(name, *a)
    )
    assert _problem(grant, req, published) == (
        "this worker cannot check the grant's signature (cryptography is not in its bundle)"
    )


def test_single_operator_mode_publishes_the_local_operators_key(laptop: Path) -> None:
    published = {"approvers": approver_keys(laptop, {}, {"ESCHER_USER": "sam"})}
    assert list(published["approvers"]) == ["sam"]
    req = _request("sam")
    assert _problem(_grant(req, approver_key(laptop, "sam")), req, published) is None
    other = _request("eve")  # anyone may decide in single-operator mode, but only with a published key
    assert (_problem(_grant(other, approver_key(laptop, "eve")), other, published) or "").startswith(
        "no approver key is published for eve"
    )


def test_an_approvers_key_is_made_once_private_and_kept(laptop: Path) -> None:
    first = approver_key(laptop, "alice")
    assert approver_key(laptop, "alice").public_key_b64 == first.public_key_b64
    assert approver_key(laptop, "bob").public_key_b64 != first.public_key_b64
    path = laptop / "keys" / "approvers" / "alice.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    odd = approver_key(laptop, "../etc/passwd")  # a name is never a path
    assert odd.public_key_b64 and not (laptop / "etc").exists()
    assert all(p.parent == laptop / "keys" / "approvers" for p in (laptop / "keys").rglob("*.pem"))


@pytest.mark.parametrize("cloud", ["aws", "azure", "gcp"])
def test_every_workers_bundle_carries_cryptography_to_check_grants(cloud: str) -> None:
    from escher.infra.bundle import worker_requirements

    source_root = Path(__file__).resolve().parents[3]
    assert any(r.startswith("cryptography") for r in worker_requirements(cloud, source_root)), cloud


def test_a_teammates_key_listed_on_this_laptop_is_published_too(tmp_path: Path) -> None:
    from escher.store.errors import StoreError
    from escher.store.keys import approvers_file

    personas = {"personas": {"managers": ["alice", "bob"]}}
    alices_laptop, bobs_laptop = tmp_path / "alice", tmp_path / "bob"
    alices = approver_key(alices_laptop, "alice")
    approvers_file(bobs_laptop).parent.mkdir(parents=True)
    approvers_file(bobs_laptop).write_text(f"# alice's laptop\nalice {alices.public_key_b64}\n")
    # what bob's laptop publishes: its own keys, and alice's key from her laptop
    published = {**personas, "approvers": approver_keys(bobs_laptop, personas, {})}
    assert alices.public_key_b64 in published["approvers"]["alice"]
    assert len(published["approvers"]["alice"]) == 2 and len(published["approvers"]["bob"]) == 1
    req = _request("alice")
    assert _problem(_grant(req, alices), req, published) is None
    # a line that is not a name and a key is an error that says where, never a key silently skipped
    approvers_file(bobs_laptop).write_text("alice not-a-key\n")
    with pytest.raises(StoreError, match="line 1"):
        approver_keys(bobs_laptop, personas, {})
