"""Deployed shape, on moto: the AWS worker runs from its unpacked bundle with the generated environment. Someone
who can write the state bucket but holds no published approver key forges grants (self-signed with a fresh key,
and unsigned) and flips the requests to approved; the worker's next wake refuses both, records each refusal once,
and leaves the buckets alone, while the grant bob signed on the laptop is carried out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker
from tests.functional.deployed.test_aws_deployed import REGION, Deployment, bundle, public_bucket

pytest.importorskip("pulumi")

__all__ = ["bundle"]  # the module-scoped bundle fixture of test_aws_deployed (cached by content hash)

OPERATION = "aws.s3.block_public_access"
BUCKETS = ("shop-exports", "shop-forged", "shop-unsigned")


@pytest.fixture
def laptop(
    aws_env: MotoEmulator,
    escher_home: Path,
    bundle: Unpacked,
    pg_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Deployment:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_USER", "alice")
    deployment = Deployment(aws_env, escher_home, bundle)
    with deployment.paths.config_file.open("a", encoding="utf-8") as fh:
        fh.write('\n[personas]\nmanagers = ["alice", "bob"]\n')
    return deployment


def _json(laptop: Deployment, *args: str) -> Any:
    return json.loads(laptop.cli("-o", "json", *args))


def _forge(laptop: Deployment, tmp_path: Path, request_id: str, *, signed: bool) -> None:
    """What a bucket writer can do: approve the request as bob and write a grant for it, bound to the right
    digest, self-signed with a key of their own (carried in the grant) or not signed at all."""
    from escher.extend.approvals_remote import Grant, grant_message, request_digest
    from escher.policy.approvals import ApprovalRequest
    from escher.store.keys import approver_key

    bucket = laptop.env["ESCHER_STATE_BUCKET"]
    now = datetime.now(UTC)
    req = ApprovalRequest.model_validate(laptop.read(f"approvals/{request_id}.json"))
    approved = req.model_copy(update={"status": "approved", "decided_by": "bob", "decided_at": now})
    laptop.s3.put_object(Bucket=bucket, Key=f"approvals/{request_id}.json", Body=approved.model_dump_json())
    key = approver_key(tmp_path / "intruder", "bob") if signed else None
    grant = Grant(request_id=request_id, request_sha256=request_digest(approved), decision="approved",
                  decided_by="bob", decided_at=now.isoformat(), key_id=key.key_id if key else "",
                  public_key=key.public_key_b64 if key else "")  # fmt: skip
    if key is not None:
        grant = Grant(**{**grant.__dict__, "signature": key.sign(grant_message(grant))})
    laptop.s3.put_object(Bucket=bucket, Key=f"approvals/grants/{request_id}.json", Body=grant.to_bytes())


def _is_private(laptop: Deployment, name: str) -> bool:
    try:
        block = laptop.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    except laptop.s3.exceptions.ClientError:
        return False
    return all(block.values())


def test_forged_grants_are_refused_and_recorded_once_and_the_signed_one_runs(
    laptop: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.demo.events import bucket_made_public

    # GIVEN the laptop's settings published, with the managers' approver keys
    laptop.cli("extend", "sync-settings")
    published = laptop.read("settings/effective.json")["content"]["config"]["extensions"]["approvers"]
    assert sorted(published) == ["alice", "bob"] and all(len(keys) == 1 for keys in published.values())
    # and three buckets made public at night: the worker holds each fix for approval
    for name in BUCKETS:
        public_bucket(laptop.s3, name)
    env = laptop.platform_env()
    events = [bucket_made_public(f"pin-evt-{i}", name, region=REGION) for i, name in enumerate(BUCKETS)]
    held = run_worker(laptop.bundle_run, env, events, tmp_path).results
    assert [h["ok"]["outcome"] for h in held] == ["needs_approval"] * 3, held
    requests = {r["targets"][0].split("@")[0]: r["request_id"] for r in _json(laptop, "approvals", "list")}
    assert sorted(requests) == sorted(BUCKETS)

    # WHEN bob approves one on the laptop, and a bucket writer forges grants for the other two
    monkeypatch.setenv("ESCHER_USER", "bob")
    laptop.cli("approvals", "approve", requests["shop-exports"], "--note", "exports stay private")
    grant = laptop.read(f"approvals/grants/{requests['shop-exports']}.json")
    assert grant["signature"] and grant["public_key"] == published["bob"][0]
    _forge(laptop, tmp_path, requests["shop-forged"], signed=True)
    _forge(laptop, tmp_path, requests["shop-unsigned"], signed=False)
    # and the worker wakes twice (the scheduler's daily payload)
    for _wake in range(2):
        run = run_worker(laptop.bundle_run, env, [laptop.schedule_input], tmp_path)
        assert "ok" in run.results[0], run.results
        assert run.outside == []

    # THEN only bob's signed grant ran; the forged ones changed nothing and their requests were not used
    assert _is_private(laptop, "shop-exports")
    assert not _is_private(laptop, "shop-forged") and not _is_private(laptop, "shop-unsigned")
    assert laptop.read(f"approvals/{requests['shop-exports']}.json")["status"] == "executed"
    assert laptop.read(f"approvals/{requests['shop-forged']}.json")["status"] == "approved"
    assert laptop.read(f"approvals/{requests['shop-unsigned']}.json")["status"] == "approved"
    # and the laptop's ledger, after a sync, holds each refusal once, with its reason
    laptop.cli("sync")
    rows = _json(laptop, "audit", "list", "--limit", "500", "--no-sync")
    refused = {
        r["details"]["request_id"]: r["reason"] for r in rows if r["action"] == "approval.grant_refused"
    }
    assert refused == {
        requests["shop-forged"]: "the grant is not signed by the key published for bob",
        requests["shop-unsigned"]: "the grant is not signed",
    }, refused
    assert len([r for r in rows if r["action"] == "approval.grant_refused"]) == 2
    assert all(r["actor"] == "worker:aws" and r["outcome"] == "refused" for r in rows
               if r["action"] == "approval.grant_refused")  # fmt: skip
    fixed = [r for r in rows if r["actor"] == "worker:aws" and r["action"] == OPERATION
             and r["outcome"] == "verified"]  # fmt: skip
    assert len(fixed) == 1 and "shop-exports" in fixed[0]["target"], fixed
    assert json.loads(laptop.cli("-o", "json", "audit", "verify"))["ok"] is True
