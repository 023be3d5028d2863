"""Checks are pure functions over records: each tested on a passing and a failing record, no cloud needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escher.scans.checks import CHECKS, CheckContext, Fail
from escher.scans.checks.base import NA
from escher.scans.engine import UnknownCheckError, run_checks, select_checks
from escher.scans.model import Inventory, Record, Severity, Status

NOW = datetime(2025, 3, 15, 2, 0, tzinfo=UTC)


def rec(type_: str, id_: str = "r-1", tags: dict[str, str] | None = None, **attrs: object) -> Record:
    return Record(type_.split(".")[0], type_, id_, "us-east-1", "123", tags=tags or {}, attrs=dict(attrs))


def run(key: str, record: Record, records: list[Record] | None = None) -> object:
    index: dict[str, list[Record]] = {}
    for r in [record, *(records or [])]:
        index.setdefault(r.type, []).append(r)
    return CHECKS.get(key).fn(record, CheckContext(now=NOW, index=index))


def test_every_cloud_has_its_minimum_number_of_checks_with_full_metadata() -> None:
    counts = {c: len(CHECKS.keys(c + ".")) for c in ("aws", "azure", "gcp")}
    assert counts["aws"] >= 40 and counts["azure"] >= 20 and counts["gcp"] >= 20, counts
    for _, chk in CHECKS.items():
        assert (
            chk.title and chk.risk and chk.remediation and chk.category in ("security", "cost", "operational")
        )
        assert chk.resource_type.split(".")[0] == chk.cloud
    from escher.ops import OPERATIONS

    missing = {
        c.fix_operation for _, c in CHECKS.items() if c.fix_operation and c.fix_operation not in OPERATIONS
    }
    assert not missing, f"checks name operations the catalogue does not have: {missing}"


@pytest.mark.parametrize(
    ("key", "good", "bad"),
    [
        ("aws.s3.bucket_public", rec("aws.s3.bucket", acl_public=True, public_access_block={"IgnorePublicAcls": True}), rec("aws.s3.bucket", acl_public=True)),
        ("aws.s3.bucket_public", rec("aws.s3.bucket", policy_public=False), rec("aws.s3.bucket", policy_public=True)),
        ("aws.ec2.sg_open_ssh", rec("aws.ec2.security_group", ingress=[{"protocol": "tcp", "from_port": 22, "to_port": 22, "cidrs": ["10.0.0.0/8"]}]), rec("aws.ec2.security_group", ingress=[{"protocol": "tcp", "from_port": 0, "to_port": 1024, "cidrs": ["0.0.0.0/0"]}])),
        ("aws.ec2.sg_open_all_ports", rec("aws.ec2.security_group", ingress=[]), rec("aws.ec2.security_group", ingress=[{"protocol": "-1", "cidrs": ["::/0"]}])),
        ("aws.ec2.volume_encrypted", rec("aws.ec2.volume", encrypted=True), rec("aws.ec2.volume", encrypted=False)),
        ("aws.rds.automated_backups", rec("aws.rds.instance", backup_retention=7), rec("aws.rds.instance", backup_retention=0)),
        ("aws.iam.root_mfa", rec("aws.iam.account", root_mfa=True), rec("aws.iam.account", root_mfa=False)),
        ("aws.iam.password_policy_length", rec("aws.iam.account", password_policy={"MinimumPasswordLength": 14}), rec("aws.iam.account", password_policy={"MinimumPasswordLength": 8})),
        ("aws.iam.access_key_unused", rec("aws.iam.user", access_keys=[{"id": "k", "status": "Active", "last_used": (NOW - timedelta(days=3)).isoformat()}]), rec("aws.iam.user", access_keys=[{"id": "k", "status": "Active", "last_used": (NOW - timedelta(days=200)).isoformat()}])),
        ("aws.cloudtrail.enabled", rec("aws.cloudtrail.account", multi_region_logging=True), rec("aws.cloudtrail.account", multi_region_logging=False)),
        ("aws.ec2.instance_idle", rec("aws.ec2.instance", state="running", cpu_days=7, cpu_max_daily_7d=40.0), rec("aws.ec2.instance", state="running", cpu_days=7, cpu_max_daily_7d=2.0, instance_type="m5.large")),
        ("azure.storage.container_public", rec("azure.storage.container", public_access=None), rec("azure.storage.container", public_access="blob")),
        ("azure.network.nsg_open_rdp", rec("azure.network.nsg", rules=[]), rec("azure.network.nsg", rules=[{"direction": "Inbound", "access": "Allow", "sources": ["*"], "port_ranges": [[3389, 3389]]}])),
        ("azure.monitor.activity_log_exported", rec("azure.monitor.subscription", activity_log_exported=True), rec("azure.monitor.subscription", activity_log_exported=False)),
        ("gcp.storage.bucket_public", rec("gcp.storage.bucket", iam_members=["user:a@b.c"]), rec("gcp.storage.bucket", iam_members=["allUsers"])),
        ("gcp.compute.firewall_open_ssh", rec("gcp.compute.firewall", direction="INGRESS", source_ranges=["10.0.0.0/8"], port_ranges=[[22, 22]]), rec("gcp.compute.firewall", direction="INGRESS", source_ranges=["0.0.0.0/0"], port_ranges=[[22, 22]])),
        ("gcp.sql.instance_backups", rec("gcp.sql.instance", backups_enabled=True), rec("gcp.sql.instance", backups_enabled=False)),
    ],
)  # fmt: skip
def test_check_passes_good_and_fails_bad(key: str, good: Record, bad: Record) -> None:
    assert run(key, good) is None
    assert isinstance(run(key, bad), Fail)


def test_idle_needs_a_full_week_of_data_and_a_running_instance() -> None:
    assert (
        run(
            "aws.ec2.instance_idle",
            rec("aws.ec2.instance", state="running", cpu_days=3, cpu_max_daily_7d=1.0),
        )
        is NA
    )
    assert (
        run(
            "aws.ec2.instance_idle",
            rec("aws.ec2.instance", state="stopped", cpu_days=7, cpu_max_daily_7d=1.0),
        )
        is NA
    )


def test_overprovisioned_names_a_smaller_size_and_the_saving() -> None:
    r = rec(
        "aws.ec2.instance",
        state="running",
        instance_type="m5.2xlarge",
        cpu_days=7,
        cpu_max_daily_7d=25.0,
        cpu_days_30d=30,
        cpu_avg_30d=12.0,
    )
    out = run("aws.ec2.instance_overprovisioned", r)
    assert isinstance(out, Fail) and "m5.xlarge" in out.message
    assert out.monthly_saving == pytest.approx((0.384 - 0.192) * 730, abs=0.01)
    assert out.fix_params == {"instance_type": "m5.xlarge"}


def test_orphaned_snapshot_only_when_old_and_source_gone() -> None:
    old = (NOW - timedelta(days=120)).isoformat()
    snap = rec("aws.ec2.snapshot", "snap-1", volume_id="vol-1", start_time=old, size_gb=100)
    assert run("aws.ec2.snapshot_orphaned", snap, [rec("aws.ec2.volume", "vol-1")]) is None
    out = run("aws.ec2.snapshot_orphaned", snap)
    assert isinstance(out, Fail) and out.monthly_saving == 5.0


def test_engine_counts_passes_applies_overrides_and_rejects_unknown_patterns() -> None:
    inv = Inventory(
        records=[
            rec("aws.ec2.volume", "v1", encrypted=True),
            rec("aws.ec2.volume", "v2", encrypted=False, tags={"env": "prod"}),
        ]
    )
    run_ = run_checks(inv, select_checks(["aws.ec2.volume_encrypted"]), now=NOW)
    assert [f.resource_id for f in run_.findings] == ["v2"] and run_.passed["aws.ec2.volume_encrypted"] == 1
    assert run_.findings[0].severity is Severity.HIGH  # production raises it
    over = run_checks(
        inv,
        select_checks(["aws.ec2.volume_encrypted"]),
        now=NOW,
        severity_overrides={"aws.ec2.volume_encrypted": Severity.CRITICAL},
        include_passed=True,
    )
    assert {f.status for f in over.findings} == {Status.PASS, Status.FAIL}
    assert all(f.severity is Severity.CRITICAL for f in over.findings)
    with pytest.raises(UnknownCheckError):
        select_checks(["aws.nope.*"])
