"""The user's other choice: a request the extension's worker raised is approved and run from the laptop
(``escher approvals run ID``) with the user's own credentials, on moto. The approval is used up in the extension's
storage before the bucket changes, so the worker's next wake does not run it again, even for a low-risk step."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from escher.audit import MemoryAuditSink
from escher.emulators import MotoEmulator
from escher.pipeline.granted import ConditionalApprovalStore
from escher.pipeline.objects import LocalObjects
from escher.policy.approvals import Approvals
from escher.policy.personas import Actor, Persona

OPERATION = "aws.s3.block_public_access"


def _cli(*args: str) -> str:
    from escher.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_run_from_the_laptop_uses_the_approval_up_in_the_extension(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs
    from escher.ops import OPERATIONS

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(
        '[aws]\nregions = ["us-east-1"]\n\n[personas]\nmanagers = ["alice", "bob"]\n'
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="shop-exports")
    s3.put_bucket_acl(Bucket="shop-exports", ACL="public-read")
    # GIVEN an extension (its state storage a directory here) whose worker held the fix for approval
    extension = LocalObjects(escher_home / "extension")
    save_outputs(paths, "aws", {"state_url": extension.state.url})
    local = LocalState.load(paths)
    local.clouds["aws"] = {"mode": "thin-client"}
    local.save()
    params = OPERATIONS.get(OPERATION).parse_params({}).model_dump(mode="json")
    held = Approvals(ConditionalApprovalStore(extension), MemoryAuditSink()).request(
        OPERATION,
        ["shop-exports@us-east-1"],
        params,
        by=Actor("aws", Persona.automation),
        reason="event e-1 (x)",
    )
    # WHEN bob approves it and runs it from the laptop
    monkeypatch.setenv("ESCHER_USER", "bob")
    _cli("approvals", "approve", held.request_id)
    _cli("approvals", "run", held.request_id, "--yes")
    # THEN the bucket is private, and the approval is used up where the worker reads it
    block = s3.get_public_access_block(Bucket="shop-exports")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    remote = ConditionalApprovalStore(extension).get(held.request_id)
    assert remote is not None and remote.status == "executed" and remote.executed_plan
    rows = json.loads(_cli("-o", "json", "audit", "list", "--no-sync"))
    assert any(
        r["action"] == "policy.allow" and r["details"]["via"] == f"approval:{held.request_id}" for r in rows
    )
    # and a second run is refused: it is used
    from escher.cli.main import app

    again = CliRunner().invoke(app, ["approvals", "run", held.request_id, "--yes"])
    assert again.exit_code != 0 and "is executed" in str(again.exception)
