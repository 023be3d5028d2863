"""``escher audit accept-restore``: a deliberate restore on the same machine, accepted on the record.

Verify calls a restore a rollback, by design; accepting it moves the local anchors aside (kept), records who,
why and the heads they held, and anchors anew. The WORM bucket's anchors are untouched, so verify still reports
the history against them, and says the restore was accepted.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.cli.main import app

runner = CliRunner()
BUCKET = "escher-audit-worm"


def _escher(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _verify() -> tuple[int, list[dict[str, Any]]]:
    result = _escher("-o", "json", "audit", "verify")
    return result.exit_code, [i for c in json.loads(result.stdout)["chains"] for i in c["issues"]]


def _enable_versioning(bucket: str) -> None:
    done = _escher("-o", "json", "ops", "run", "aws.s3.enable_versioning", "--target", bucket, "-r", "us-east-1",
                   "--yes", "--reason", "keep old copies")  # fmt: skip
    assert done.exit_code == 0, done.stdout


def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)  # keeps the server user's ownership


@pytest.fixture
def s3(aws_env: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ESCHER_USER", "alice")
    client = boto3.client("s3", region_name="us-east-1")
    for name in ("logs-a", "logs-b"):
        client.create_bucket(Bucket=name)
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    client.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled",
                                 "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 365}}},
    )  # fmt: skip
    monkeypatch.setenv("ESCHER_AUDIT_URL", f"s3://{BUCKET}/laptop")
    return client


def _anchor_objects(s3: Any) -> list[str]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="laptop/ledger-anchors/").get("Contents", [])
    return sorted(o["Key"] for o in listed)


def test_an_accepted_restore_is_recorded_and_named_next_to_the_worm_rollback(
    s3: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, anchors = escher_home / "data", escher_home / "config" / "ledger" / "anchors.jsonl"
    _enable_versioning("logs-a")
    _copy(data, escher_home / "backup")
    _enable_versioning("logs-b")
    assert _verify() == (0, [])
    before = _anchor_objects(s3)
    newest = anchors.read_text().splitlines()[-1]

    # GIVEN the data dir restored from the older copy: a rollback, by design
    subprocess.run(["rm", "-rf", str(data)], check=True)
    _copy(escher_home / "backup", data)
    assert [i["kind"] for i in _verify()[1]] == ["rollback"]

    # WHEN alice accepts it
    refused = _escher("audit", "accept-restore")  # never without a reason
    assert refused.exit_code == 2 and "--reason" in refused.output
    done = _escher("-o", "json", "audit", "accept-restore", "--reason", "restored Monday's backup")
    assert done.exit_code == 0, done.stdout
    accepted = json.loads(done.stdout)

    # THEN the old anchors are kept aside, and the record names the heads they held
    kept = Path(accepted["anchors_kept"])
    assert kept.name.startswith("anchors.jsonl.") and kept.read_text().splitlines()[-1] == newest
    assert accepted["anchored_heads"]["audit"]["seq"] > accepted["restored_heads"]["audit"]["seq"]
    (record,) = json.loads(_escher("-o", "json", "audit", "list", "--action", "audit.accept_restore").stdout)
    assert (record["actor"], record["reason"]) == ("user:alice", "restored Monday's backup")
    assert record["details"]["anchored_heads"] == accepted["anchored_heads"]

    # the bucket's anchors are untouched (one more, the new head): verify still reports the WORM history,
    # and says the restore was accepted, by whom and why
    assert set(before) < set(_anchor_objects(s3))
    code, issues = _verify()
    assert code == 1 and [i["kind"] for i in issues] == ["rollback"]
    assert (
        "accepted by user:alice" in issues[0]["detail"] and "restored Monday's backup" in issues[0]["detail"]
    )

    # locally, the ledger is judged from the restored state on
    monkeypatch.delenv("ESCHER_AUDIT_URL")
    assert _verify() == (0, [])
    _enable_versioning("logs-b")
    assert _verify() == (0, [])
