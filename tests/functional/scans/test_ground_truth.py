"""On a moto estate whose truth we seeded, the scan finds exactly that truth - no more, no less."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.config import Settings
from escher.emulators import MotoEmulator
from escher.scans.persist import MemoryStore
from escher.scans.runner import ScanOptions, run_scan, sync_costs
from tests.functional.scans.estate import seed


def _ids(result, check_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.resource_id for f in result.failed if f.check_id == check_id}


def test_findings_equal_the_seeded_truth(aws_env: MotoEmulator) -> None:
    truth = seed(12)
    result = run_scan(Settings(), ScanOptions(clouds=["aws"], regions=["us-east-1"], max_attempts=1))
    assert not result.inventory.errors
    assert _ids(result, "aws.s3.bucket_public") == truth.public_buckets
    assert _ids(result, "aws.s3.bucket_public_access_block") == truth.public_buckets
    assert _ids(result, "aws.ec2.volume_encrypted") == truth.unencrypted_volumes
    assert _ids(result, "aws.ec2.sg_open_ssh") == truth.open_groups
    assert _ids(result, "aws.ec2.sg_open_rdp") == set()
    assert _ids(result, "aws.ec2.instance_idle") == truth.idle_instances
    # the seeded volumes are all unattached; the instances' root volumes are attached
    assert _ids(result, "aws.ec2.volume_unattached") == truth.unencrypted_volumes | truth.encrypted_volumes
    assert result.passed["aws.s3.bucket_public"] == len(truth.blocked_buckets)
    idle = [f for f in result.failed if f.check_id == "aws.ec2.instance_idle"]
    assert all(f.fix_operation == "aws.ec2.stop_instances" and f.monthly_saving > 0 for f in idle)


def test_a_failed_service_is_reported_not_counted_as_zero(
    aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(2)
    # an endpoint override for one service that nothing listens on: that service fails, the rest is read
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", "http://127.0.0.1:9")
    result = run_scan(Settings(), ScanOptions(regions=["us-east-1"], max_attempts=1))
    failed = {(e.service, e.region) for e in result.inventory.errors}
    assert ("rds", "us-east-1") in failed
    assert ("rds", "aws", "us-east-1") not in {(s, c, r) for c, s, r in result.inventory.covered}
    assert _ids(result, "aws.s3.bucket_public")  # the other services still scanned


def test_unreadable_cpu_metrics_cost_no_ec2_records(
    aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetMetricData failing (throttled, timed out) leaves the instances without a CPU verdict and is reported;
    it used to fail the whole EC2 task, which is how the 2,000-per-type benchmark lost every idle instance."""
    truth = seed(4)
    monkeypatch.setenv(
        "AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9"
    )  # CloudWatch's endpoint, unreachable
    result = run_scan(Settings(), ScanOptions(regions=["us-east-1"], max_attempts=1))
    assert [(e.service, e.region) for e in result.inventory.errors] == [("cloudwatch", "us-east-1")]
    assert "CPU of 4 instances not read" in result.inventory.errors[0].message
    instances = [r for r in result.inventory.records if r.type == "aws.ec2.instance"]
    assert {r.id for r in instances} == truth.idle_instances | truth.busy_instances
    assert all("cpu_days" not in r.attrs for r in instances)
    assert _ids(result, "aws.ec2.instance_idle") == set()  # no data, no verdict
    assert _ids(result, "aws.ec2.volume_encrypted") == truth.unencrypted_volumes
    assert _ids(result, "aws.ec2.sg_open_ssh") == truth.open_groups


def test_cost_snapshot_is_taken_once_per_day(aws_env: MotoEmulator) -> None:
    day = date(2025, 3, 14)
    period = {"Start": "2025-03-14", "End": "2025-03-15"}
    prev = {"Start": "2025-03-13", "End": "2025-03-14"}

    def group(keys: list[str], amount: str) -> dict[str, object]:
        return {"Keys": keys, "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}

    aws_env.set_cost_and_usage(
        [
            {"ResultsByTime": [
                {"TimePeriod": prev, "Groups": [group(["Amazon EC2", "us-east-1"], "100")], "Estimated": False},
                {"TimePeriod": period, "Groups": [group(["Amazon EC2", "us-east-1"], "186"), group(["Amazon S3", "us-east-1"], "12")], "Estimated": False},
            ]},
            {"ResultsByTime": [{"TimePeriod": period, "Groups": [group(["123456789012", "env$prod"], "198")], "Estimated": False}]},
        ]
    )  # fmt: skip
    store = MemoryStore()
    snaps = sync_costs(["aws"], day, store=store)
    assert store.keys("cost") == ["aws-2025-03-14"]
    from escher.scans.cost import summarize

    summary = summarize(snaps)
    assert summary.yesterday == 198.0 and summary.previous_day == 100.0
    assert summary.by_service[0] == ("Amazon EC2", 186.0, 86.0)
    assert summary.by_tag == [("prod", 198.0)]
    again = sync_costs(["aws"], day, store=store)  # the stored snapshot, not a second API call
    assert again[0].to_dict() == snaps[0].to_dict()


def test_cli_scan_report_and_fix_end_to_end(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)  # the knowledge store, as on a real install

    truth = seed(4)
    runner = CliRunner()
    res = runner.invoke(app, ["scan", "--region", "us-east-1", "--output", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    public = [f for f in data["findings"] if f["check_id"] == "aws.s3.bucket_public"]
    assert {f["resource_id"] for f in public} == truth.public_buckets
    assert {"check_id", "resource_id", "status", "severity", "cloud", "region"} <= set(public[0])
    ocsf = json.loads(runner.invoke(app, ["scan", "--checks", "aws.s3.*", "--output", "ocsf"]).stdout)
    assert ocsf and all(o["class_uid"] == 2004 for o in ocsf)
    out = escher_home / "r.html"
    res = runner.invoke(app, ["report", "--new", "--format", "html", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "S3 bucket is readable by anyone" in out.read_text()
    from escher.store.models import Collection, SearchFilter
    from escher.store.store import Store

    with Store.open(url=pg_database) as store:  # the CLI wrote there, not to JSON files
        scans = store.records(Collection.alerts, SearchFilter(kinds=("scan_result",)))
        reports = store.records(Collection.alerts, SearchFilter(kinds=("morning_report",)))
        assert len(scans) == 2 and len(reports) == 1
        assert store.records(Collection.inventory, SearchFilter(resource_type="aws.s3.bucket"), limit=100)
    assert not (escher_home / "data" / "reports").exists()
    target = public[0]
    res = runner.invoke(app, ["fix", target["id"], "--yes"])
    assert res.exit_code == 0, res.output
    import boto3

    pab = boto3.client("s3", region_name="us-east-1").get_public_access_block(Bucket=target["resource_id"])
    assert all(pab["PublicAccessBlockConfiguration"].values())
    rescan = run_scan(
        Settings(), ScanOptions(regions=["us-east-1"], checks=["aws.s3.bucket_public"], max_attempts=1)
    )
    assert _ids(rescan, "aws.s3.bucket_public") == truth.public_buckets - {target["resource_id"]}


def _unused() -> None:  # keep imports used for type checkers
    _ = (datetime, UTC, timedelta)
