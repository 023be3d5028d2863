"""``escher audit`` as a new user meets it, on moto: an operation lands in the ledger; rollback and erase are named."""

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


def _escher(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def s3(aws_env: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ESCHER_USER", "alice")
    client = boto3.client("s3", region_name="us-east-1")
    for name in ("logs-a", "logs-b"):
        client.create_bucket(Bucket=name)
    return client


def _enable_versioning(bucket: str) -> None:
    done = _escher("-o", "json", "ops", "run", "aws.s3.enable_versioning", "--target", bucket, "-r", "us-east-1",
                   "--yes", "--reason", "keep old copies")  # fmt: skip
    assert done.exit_code == 0, done.stdout


def _verify() -> tuple[int, list[dict[str, Any]]]:
    result = _escher("-o", "json", "audit", "verify")
    return result.exit_code, [i for c in json.loads(result.stdout)["chains"] for i in c["issues"]]


def test_an_operation_is_listed_shown_exported_and_verified(s3: Any, escher_home: Path) -> None:
    _enable_versioning("logs-a")
    assert s3.get_bucket_versioning(Bucket="logs-a")["Status"] == "Enabled"
    assert not (escher_home / "data" / "audit" / "operations.jsonl").exists()  # no second, unsigned log

    listed = json.loads(_escher("-o", "json", "audit", "list", "--target", "logs-a").stdout)
    outcomes = [r["outcome"] for r in listed]  # newest first
    assert outcomes[0] == "verified" and "succeeded" in outcomes
    assert listed[-1]["action"].startswith("policy.")  # the gate's decision, written before the cloud call
    verified = listed[0]
    assert (verified["actor"], verified["action"], verified["cloud"], verified["reason"]) == (
        "user:alice", "aws.s3.enable_versioning", "aws", "keep old copies",
    )  # fmt: skip
    assert [
        r["seq"] for r in json.loads(_escher("-o", "json", "audit", "list", "--actor", "bob").stdout)
    ] == []
    assert json.loads(_escher("-o", "json", "audit", "list", "--outcome", "verified").stdout)[0][
        "target"
    ].endswith("logs-a")

    shown = json.loads(_escher("-o", "json", "audit", "show", verified["record_id"][:10]).stdout)
    assert shown["seq"] == verified["seq"] and shown["after"]
    from escher.errors import NotFoundError

    with pytest.raises(NotFoundError) as missing:  # names nothing: bad input (exit 2), like every unknown id
        _escher("audit", "show", "no-such-record")
    assert missing.value.exit_code == 2

    ocsf = [json.loads(line) for line in _escher("audit", "export", "--format", "ocsf").stdout.splitlines()]
    assert {e["class_uid"] for e in ocsf} == {6003} and ocsf[-1]["api"][
        "operation"
    ] == "aws.s3.enable_versioning"
    csv_lines = _escher("audit", "export", "--format", "csv", "--outcome", "verified").stdout.splitlines()
    assert csv_lines[0].startswith("seq,at,actor") and len(csv_lines) == 2

    assert _verify() == (0, [])

    from escher.config import Paths
    from escher.store.models import OperationRecord
    from escher.store.store import Store

    with Store.open(paths=Paths(escher_home / "config", escher_home / "data")) as store:
        executed = [r for r in store.records("operations") if isinstance(r, OperationRecord)]
    assert [(r.operation, r.target, r.status) for r in executed] == [
        ("aws.s3.enable_versioning", verified["target"], "succeeded")
    ]  # the Executed Operations collection, filled from the ledger
    assert executed[0].result["audit_record"] == verified["record_id"]


def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)  # keeps the server user's ownership


def test_an_older_data_dir_copied_back_or_a_deleted_database_fails_verify(s3: Any, escher_home: Path) -> None:
    data = escher_home / "data"
    _enable_versioning("logs-a")
    _copy(data, escher_home / "older")
    _enable_versioning("logs-b")
    assert _verify() == (0, [])

    subprocess.run(["rm", "-rf", str(data)], check=True)
    _copy(escher_home / "older", data)
    code, issues = _verify()
    assert code == 1 and [i["kind"] for i in issues] == ["rollback"]
    assert "older copy" in issues[0]["detail"]

    subprocess.run(["rm", "-rf", str(data / "postgres")], check=True)
    code, issues = _verify()
    assert code == 1 and [i["kind"] for i in issues] == ["erased"]
    text = _escher("audit", "verify")
    flat = text.stdout.replace("\n", "")  # rich wraps a long temp path at the terminal's width
    assert text.exit_code == 1 and "erased" in flat and "anchors.jsonl" in flat


def test_a_legacy_jsonl_log_moves_into_the_ledger_once_keeping_its_times(s3: Any, escher_home: Path) -> None:
    legacy = escher_home / "data" / "audit" / "operations.jsonl"
    legacy.parent.mkdir(parents=True)
    old = {"record_id": "old-1", "at": "2025-11-02T20:00:00+00:00", "actor": "user:alice",
           "action": "aws.ec2.stop_instances", "target": "i-0abc", "cloud": "aws", "outcome": "verified"}  # fmt: skip
    legacy.write_text(json.dumps(old) + "\n" + "{not json\n")
    listed = json.loads(_escher("-o", "json", "audit", "list").stdout)
    assert [r["action"] for r in listed] == [
        "audit.migrate_jsonl", "audit.migrate_jsonl.unreadable", "aws.ec2.stop_instances"
    ]  # fmt: skip
    assert listed[-1]["at"].startswith("2025-11-02T20:00:00")
    assert not legacy.exists() and legacy.with_name("operations.jsonl.migrated").exists()
    assert len(json.loads(_escher("-o", "json", "audit", "list").stdout)) == 3  # once


def test_switches_and_deployments_are_recorded_acts(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.commands.extend_cmd import _recorded_act
    from escher.config import resolve_paths

    monkeypatch.setenv("ESCHER_USER", "mona")
    (escher_home / "config").mkdir(parents=True)
    (escher_home / "config" / "config.toml").write_text('[personas]\nmanagers = ["mona"]\n')
    assert _escher("remediation", "enable", "stop_idle_instances", "--idle-hours", "8").exit_code == 0

    act = _recorded_act(
        resolve_paths(), "aws", "escher.extend", "escher/aws/eu-west-1", {"region": "eu-west-1"}
    )
    with pytest.raises(RuntimeError, match="pulumi up failed"), act:
        raise RuntimeError("pulumi up failed")

    listed = json.loads(_escher("-o", "json", "audit", "list").stdout)
    assert [(r["action"], r["outcome"]) for r in listed] == [
        ("escher.extend", "failed"), ("escher.extend", "started"), ("remediation.enable", "succeeded"),
    ]  # fmt: skip
    assert listed[0]["details"]["error"] == "RuntimeError: pulumi up failed"
    assert listed[0]["correlation_id"] == listed[1]["record_id"]
    assert (listed[2]["actor"], listed[2]["after"]["idle_hours"]) == ("user:mona", 8.0)


def test_without_a_reachable_ledger_nothing_changes_in_the_cloud(
    s3: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCHER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    done = runner.invoke(app, ["-o", "json", "ops", "run", "aws.s3.enable_versioning", "--target", "logs-a",
                               "-r", "us-east-1", "--yes"])  # fmt: skip
    from escher.store.errors import StoreUnavailableError

    assert isinstance(done.exception, StoreUnavailableError), done.stdout  # the CLI exits 4 with its hint
    assert "ESCHER_DATABASE_URL" in (done.exception.hint or "")
    assert "Status" not in s3.get_bucket_versioning(Bucket="logs-a")  # the gate's record failed first
    assert not (escher_home / "data" / "audit").exists()  # and no second, silent log was written instead


def test_runtimes_of_one_process_share_one_store_and_a_long_one_still_reaches_the_bucket(
    escher_home: Path, pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent runs job after job in one process: one store for all of them (not a connection a job), and its
    head still reaches the bucket while it runs, not only when it exits."""
    import escher.audit.ledger as audit_sink
    from escher.audit import AuditRecord
    from escher.policy.runtime import open_runtime

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_AUDIT_URL", f"file://{tmp_path / 'bucket'}")
    monkeypatch.setattr(audit_sink, "FLUSH_SECONDS", 0.0)
    first, second = open_runtime().sink, open_runtime().sink
    assert isinstance(first, audit_sink.LedgerAuditSink) and isinstance(second, audit_sink.LedgerAuditSink)
    for n, sink in enumerate((first, second, first)):
        sink.append(AuditRecord(actor="scheduler", action="schedule.run", target=f"job-{n}", outcome="info"))
    assert first.store is second.store
    anchored = sorted(p.name for p in (tmp_path / "bucket" / "ledger-anchors").rglob("*.json"))
    assert [name[:15] for name in anchored] == [f"{n:015d}" for n in (1, 2, 3)]  # each job's head, as it ran
    first.close()
    second.append(AuditRecord(actor="scheduler", action="schedule.run", target="job-3", outcome="info"))
    second.close()  # a store closed meanwhile is opened again, not written to closed
    assert len(audit_sink_records(escher_home)) == 4


def audit_sink_records(home: Path) -> list[dict[str, Any]]:
    from tests.harness.ledger import audit_records

    return audit_records(home)
