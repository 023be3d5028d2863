"""Issue 16's "done when", as a new user would on moto: the AWS worker runs from its unpacked bundle with the
generated environment while the laptop is closed; the laptop syncs, a second manager approves, the worker's next
wake fixes the bucket, the ledger holds both acts, and destroy brings everything home."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from escher.emulators import MotoEmulator
from tests.functional.deployed.harness import Unpacked, run_worker
from tests.functional.deployed.test_aws_deployed import REGION, Deployment, bundle, public_bucket

pytest.importorskip("pulumi")

__all__ = [
    "bundle"
]  # the module-scoped bundle fixture, shared with test_aws_deployed (cached by content hash)

OPERATION = "aws.s3.block_public_access"


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


def _audit(laptop: Deployment) -> list[dict[str, Any]]:
    return list(_json(laptop, "audit", "list", "--limit", "500", "--no-sync"))


class _Stack:
    """What is left of a Pulumi stack once its outputs are known: destroy only (no Pulumi CLI here)."""

    destroyed = False

    def destroy(self, *, on_event: Callable[[Any], Any] | None = None) -> None:
        _Stack.destroyed = True

    def outputs(self) -> Mapping[str, Any]:
        return {}


def test_held_at_night_approved_on_the_laptop_fixed_by_the_next_wake_and_brought_home(
    laptop: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.demo.events import bucket_made_public

    # GIVEN the laptop's settings published (the switch off), then the laptop closed
    laptop.cli("extend", "sync-settings")
    public_bucket(laptop.s3, "shop-exports")
    env = laptop.platform_env()
    # WHEN the bucket is made public at night: the worker holds the fix for approval
    [held] = run_worker(laptop.bundle_run, env, [bucket_made_public("home-evt-1", "shop-exports", region=REGION)],
                        tmp_path).results  # fmt: skip
    assert held["ok"]["outcome"] == "needs_approval", held

    # THEN the laptop, opened, shows it: 'escher alerts' syncs first (the alert, the request, the audit object)
    alerts = _json(laptop, "alerts")
    [request] = [r for r in _json(laptop, "approvals", "list", "--no-sync") if r["operation"] == OPERATION]
    assert [a["approval_request_id"] for a in alerts] == [request["request_id"]]
    assert request["status"] == "pending" and request["requested_by"] == "aws"
    assert request["targets"] == [f"shop-exports@{REGION}"]
    held_acts = [r for r in _audit(laptop) if r["actor"] == "worker:aws" and r["action"] == OPERATION]
    assert [r["details"]["approval_request_id"] for r in held_acts] == [request["request_id"]]
    # and 'escher sync' after it reads nothing new and duplicates nothing
    before = len(_audit(laptop))
    [again] = _json(laptop, "sync")["synced"]
    assert again["pulled"] == {} and again["rejected"] == [] and len(_audit(laptop)) == before
    assert len(_json(laptop, "approvals", "list")) == 1

    # WHEN bob, a second manager, approves it on the laptop
    monkeypatch.setenv("ESCHER_USER", "bob")
    laptop.cli("approvals", "approve", request["request_id"], "--note", "exports stay private")
    # THEN the grant is in the state storage, bound to bob and to the request, and the request says approved there
    grant = laptop.read(f"approvals/grants/{request['request_id']}.json")
    assert grant["decided_by"] == "bob" and grant["decision"] == "approved" and grant["signature"]
    assert laptop.read(f"approvals/{request['request_id']}.json")["status"] == "approved"
    with pytest.raises(laptop.s3.exceptions.ClientError):  # nothing ran yet: the laptop did not act
        laptop.s3.get_public_access_block(Bucket="shop-exports")

    # WHEN the worker wakes next (the scheduler's daily payload)
    run = run_worker(laptop.bundle_run, env, [laptop.schedule_input], tmp_path)
    assert "ok" in run.results[0], run.results
    # THEN it carried out the approval: the bucket is private, read back with boto3, and the approval is used
    block = laptop.s3.get_public_access_block(Bucket="shop-exports")["PublicAccessBlockConfiguration"]
    assert all(block.values()), block
    assert laptop.read(f"approvals/{request['request_id']}.json")["status"] == "executed"
    assert run.outside == []

    # WHEN the user destroys the extension (the stack itself stands in: no Pulumi CLI here)
    from escher.extend.pull import importer
    from escher.infra import driver
    from escher.infra.export import StoreExporter

    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "pulumi").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "pulumi").chmod(stat.S_IRWXU)
    result = driver.destroy("aws", laptop.paths, exporter=StoreExporter(), importer=importer(laptop.paths),
                            stack_factory=lambda spec, cloud, env: _Stack(), env={"PATH": str(fake_bin)})  # fmt: skip
    # THEN everything the extension knew came home before the stack went: the scan, the morning report, the audit
    assert _Stack.destroyed and result.imported["rejected"] == []
    pulled = result.imported["pulled"]
    assert pulled.get("report") == 1 and pulled.get("scan") == 1 and pulled.get("audit", 0) >= 2, pulled
    assert result.audit_location == f"s3://{laptop.env['ESCHER_AUDIT_BUCKET']}"
    report = _json(laptop, "report", "--no-sync")
    assert report["scan_id"] and report["report_date"], report
    # the alert says it was fixed on bob's approval, and the request is used up, here as in the extension
    [alert] = _json(laptop, "alerts", "--no-sync")
    assert alert["status"] == "auto_resolved" and "approved by bob" in alert["decision"], alert
    [used] = _json(laptop, "approvals", "list", "--no-sync")
    assert used["status"] == "executed" and used["decided_by"] == "bob"
    # the ledger has the worker's acts and the laptop's approval, each once
    rows = _audit(laptop)
    acts = {(r["actor"], r["action"], r["outcome"]) for r in rows}
    assert ("user:bob", "approval.grant", "approved") in acts, acts
    fixed = [r for r in rows if r["actor"] == "worker:aws" and r["action"] == OPERATION
             and r["outcome"] == "verified"]  # fmt: skip
    assert fixed, acts
    allowed = [r for r in rows if r["action"] == "policy.allow" and r["details"].get("via") ==
               f"approval:{request['request_id']}"]  # fmt: skip
    assert allowed, acts
    assert len({r["record_id"] for r in rows}) == len(rows)
    assert _json(laptop, "sync")["synced"] == []  # Local Only again: nothing to sync
    assert "Nothing is deployed" in laptop.cli("destroy", "--yes")
    verified = json.loads(laptop.cli("-o", "json", "audit", "verify"))
    assert verified["ok"] is True
