"""Verdicts per control from a scan result: fail with the resource, pass, not read (type not collected, check
not run), manual, not implemented; % compliant and per-account scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escher.compliance.catalogue import framework
from escher.compliance.evaluate import ComplianceError, Verdict, evaluate, pick_scan
from escher.config import Settings
from escher.scans.model import Inventory, Record, ScanResult
from escher.scans.runner import ScanOptions, run_scan

PAB = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)


def _bucket(name: str, account: str, *, public: bool) -> Record:
    attrs = {"acl_public": public, "policy_public": False, "public_access_block": {} if public else PAB,
             "ssl_only": True, "encryption": True, "versioning": "Enabled", "logging": True}  # fmt: skip
    return Record("aws", "aws.s3.bucket", name, "us-east-1", account, name=name, attrs=attrs)


def _scan(
    records: list[Record], *, covered: list[tuple[str, str, str]], checks: list[str] | None = None
) -> ScanResult:
    inv = Inventory(records=records, covered=covered)
    return run_scan(Settings(), ScanOptions(clouds=["aws"], checks=checks), inventory=inv)


def test_public_bucket_fails_and_private_passes_per_account() -> None:
    scan = _scan(
        [_bucket("open", "111111111111", public=True), _bucket("shut", "222222222222", public=False)],
        covered=[("aws", "s3", "global")],
    )
    report = evaluate(framework("cis-aws"), scan)
    block = next(c for c in report.controls if c.control.id == "3.1.4")
    assert block.status is Verdict.FAIL
    assert {r.resource_id for r in block.failed} == {"open"} and [r.resource_id for r in block.passed] == [
        "shut"
    ]
    ssl = next(c for c in report.controls if c.control.id == "3.1.1")
    assert ssl.status is Verdict.PASS and len(ssl.passed) == 2

    per = {a: {c.control.id: c.status for c in res} for a, res in report.accounts.items()}
    assert per["111111111111"]["3.1.4"] is Verdict.FAIL and per["222222222222"]["3.1.4"] is Verdict.PASS

    iam = next(c for c in report.controls if c.control.id == "2.4")  # IAM was not collected in this scan
    assert iam.status is Verdict.NOT_READ and "aws.iam.account was not collected" in iam.not_read[0]
    assert next(c for c in report.controls if c.control.id == "2.1.1").status is Verdict.MANUAL
    aa = next(c for c in report.controls if c.control.id == "2.18")  # nor was Access Analyzer
    assert aa.status is Verdict.NOT_READ and "aws.accessanalyzer.region was not collected" in aa.not_read[0]
    n = report.counts
    assert sum(n.values()) == 70 and report.percent == round(100 * n["pass"] / (n["pass"] + n["fail"]), 1)

    only = evaluate(framework("cis-aws"), scan, account="222222222222")
    assert next(c for c in only.controls if c.control.id == "3.1.4").status is Verdict.PASS
    with pytest.raises(ComplianceError, match="no account '333'"):
        evaluate(framework("cis-aws"), scan, account="333")


def test_collected_but_empty_passes_and_a_check_not_run_is_not_read() -> None:
    scan = _scan([], covered=[("aws", "rds", "us-east-1")], checks=["aws.rds.public"])
    report = evaluate(framework("cis-aws"), scan)
    status = {c.control.id: c.status for c in report.controls}
    assert status["3.2.3"] is Verdict.PASS  # RDS was read and there is no instance: nothing is public
    assert status["3.2.1"] is Verdict.NOT_READ  # aws.rds.storage_encrypted did not run (--checks)


def test_cloud_filter_and_framework_cloud() -> None:
    scan = _scan([_bucket("open", "1", public=True)], covered=[("aws", "s3", "global")])
    with pytest.raises(ComplianceError, match="cis-aws is a framework for aws"):
        evaluate(framework("cis-aws"), scan, cloud="gcp")
    gcp_only = evaluate(framework("nist-800-53"), scan, cloud="gcp")
    sc28 = next(c for c in gcp_only.controls if c.control.id == "SC-28")
    assert sc28.checks == ("gcp.compute.disk_cmek",) and sc28.status is Verdict.NOT_READ
    au9 = next(c for c in gcp_only.controls if c.control.id == "AU-9")  # AWS-only checks: none for gcp
    assert au9.status is Verdict.NOT_IMPLEMENTED


def test_pick_scan_prefers_the_newest_scan_of_the_frameworks_cloud() -> None:
    aws = _scan([_bucket("open", "1", public=True)], covered=[("aws", "s3", "global")])
    azure_only = ScanResult(
        "z", datetime.now(UTC), datetime.now(UTC), Inventory(), [], passed={"azure.x.y": 0}
    )
    assert pick_scan([azure_only, aws], framework("cis-aws")) is aws
    assert pick_scan([azure_only, aws], framework("cis-azure")) is azure_only
    with pytest.raises(ComplianceError, match="no scan yet"):
        pick_scan([], framework("cis-aws"))


@pytest.mark.parametrize("words", [["fail,manual"], ["not-read", "not_implemented"]])
def test_status_words(words: list[str]) -> None:
    assert Verdict.parse(w for item in words for w in item.split(","))
    with pytest.raises(ComplianceError, match="unknown status 'failed'"):
        Verdict.parse(["failed"])


def test_recent_scans_reads_back_only_to_the_newest_scan_of_each_cloud() -> None:
    from dataclasses import replace

    from escher.compliance.evaluate import recent_scans
    from escher.scans.persist import MemoryStore

    def other(scan_id: str, check: str) -> ScanResult:
        return ScanResult(scan_id, datetime.now(UTC), datetime.now(UTC), Inventory(), [], passed={check: 0})

    store = MemoryStore()
    old_aws = replace(
        _scan([_bucket("a", "1", public=True)], covered=[("aws", "s3", "global")]), scan_id="20260101"
    )
    new_aws = replace(
        _scan([_bucket("b", "1", public=False)], covered=[("aws", "s3", "global")]), scan_id="20260103"
    )
    gcp, azure = other("20260102", "gcp.storage.uniform_access"), other("20260104", "azure.storage.min_tls")
    for scan in (old_aws, gcp, new_aws, azure):
        store.put("scan", scan.scan_id, scan.to_dict())
    reads: list[str] = []
    get = store.get
    store.get = lambda kind, key: reads.append(key) or get(kind, key)  # type: ignore[method-assign]

    scans = recent_scans(store)
    assert [s.scan_id for s in scans] == ["20260104", "20260103", "20260102"]
    assert "20260101" not in reads  # every cloud's newest scan was found before it: never read
    assert pick_scan(scans, framework("cis-aws")).scan_id == "20260103"
    assert pick_scan(scans, framework("cis-azure")).scan_id == "20260104"
    assert pick_scan(scans, framework("cis-gcp")).scan_id == "20260102"
    assert pick_scan(scans, framework("soc2")).scan_id == "20260104"


def test_a_type_counts_as_read_only_when_the_task_that_produces_it_ran() -> None:
    """EBS default encryption lives on ``aws.ec2.region_settings``, which the ``region_settings`` task reads, not
    ``ec2``: a scan that ran ``ec2`` but not ``region_settings`` has not read it, so CIS 6.1.1 is not read — not a
    pass over nothing (the name's service segment is not the task; the collectors' declarations say which is)."""
    ec2_only = _scan([], covered=[("aws", "ec2", "us-east-1"), ("aws", "s3", "global")])
    control = next(c for c in evaluate(framework("cis-aws"), ec2_only).controls if c.control.id == "6.1.1")
    assert control.status is Verdict.NOT_READ
    assert "aws.ec2.region_settings was not collected" in control.not_read[0]

    settings_read = _scan([], covered=[("aws", "region_settings", "us-east-1")])
    control = next(
        c for c in evaluate(framework("cis-aws"), settings_read).controls if c.control.id == "6.1.1"
    )
    assert control.status is Verdict.PASS  # read, and no region has it off
