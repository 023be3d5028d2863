"""The report's estate is never silently partial: a filtered scan is filled in from the last full one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from escher.config import Settings
from escher.report.estate import merge_scans, scope_of
from escher.report.service import build_and_store, registered_checks
from escher.scans.model import Inventory, Record, ScanResult
from escher.scans.persist import MemoryStore
from escher.scans.runner import ScanOptions, run_scan
from escher.scans.synthetic import estate

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
ALL = registered_checks()


def _scan(inv: Inventory, checks: list[str] | None = None, at: datetime = NOW) -> ScanResult:
    scan = run_scan(Settings(), ScanOptions(checks=checks), inventory=inv)
    scan.started_at = at
    return scan


def test_a_filtered_scan_keeps_the_other_checks_findings_with_their_date() -> None:
    # GIVEN a full scan two days ago that found open SSH, THEN a scan of the S3 checks only
    full = _scan(estate(60, now=NOW), at=NOW - timedelta(days=2))
    s3_only = _scan(estate(60, now=NOW), ["aws.s3.*"])
    assert "aws.ec2.sg_open_ssh" not in {f.check_id for f in s3_only.failed}
    # WHEN the report's estate is built
    view = merge_scans(s3_only, [full], ALL)
    # THEN open SSH is still there, dated, and the top of the report says why
    ssh = [f for f in view.scan.failed if f.check_id == "aws.ec2.sg_open_ssh"]
    assert ssh and view.as_of[ssh[0].id] == "2026-12-05 (2 days old)"
    assert view.full_scan_id == full.scan_id
    assert any("ran" in n and "filtered" in n for n in view.notes)
    assert any("2026-12-05 (2 days old)" in n for n in view.notes)
    # the S3 findings are today's, not dated
    s3 = [f for f in view.scan.failed if f.check_id.startswith("aws.s3.")]
    assert s3 and not any(f.id in view.as_of for f in s3)


def test_a_finding_fixed_since_is_not_brought_back() -> None:
    full = _scan(estate(60, now=NOW), at=NOW - timedelta(days=1))
    fixed = estate(60, now=NOW)
    for rec in fixed.records:
        if rec.type == "aws.s3.bucket":
            rec.attrs["acl_public"] = False
    s3_only = _scan(fixed, ["aws.s3.*"])
    view = merge_scans(s3_only, [full], ALL)
    assert "aws.s3.bucket_public" in {f.check_id for f in full.failed}
    assert "aws.s3.bucket_public" not in {f.check_id for f in view.scan.failed}


def test_without_a_full_scan_the_report_says_what_was_not_read() -> None:
    view = merge_scans(_scan(estate(60, now=NOW), ["aws.s3.*"]), [], ALL)
    assert view.full_scan_id is None
    assert any(
        n.startswith("No earlier full scan") and "Run `escher scan` without --checks" in n for n in view.notes
    )
    assert not view.as_of


def test_a_full_latest_scan_is_the_estate_as_it_is() -> None:
    old = _scan(estate(60, now=NOW), at=NOW - timedelta(days=1))
    latest = _scan(estate(30, now=NOW))
    view = merge_scans(latest, [old], ALL)
    assert not view.notes and not view.as_of
    assert {f.id for f in view.scan.failed} == {f.id for f in latest.failed}


def _region_inv(regions: list[str], public: bool) -> Inventory:
    recs = [
        Record(
            "aws",
            "aws.s3.bucket",
            f"b-{r}",
            r,
            "1",
            attrs={"acl_public": public, "public_access_block": None},
        )
        for r in regions
    ]
    return Inventory(records=recs, covered=[("aws", "s3", r) for r in regions], collected_at=NOW)


def test_a_region_not_read_comes_from_the_scan_that_read_it() -> None:
    both = _scan(_region_inv(["us-east-1", "eu-west-1"], True), at=NOW - timedelta(days=3))
    one = _scan(_region_inv(["us-east-1"], False))  # us-east-1 fixed, eu-west-1 not looked at
    assert scope_of(one).read == frozenset({("aws", "s3", "us-east-1")})
    view = merge_scans(one, [both], ALL)
    failing = {f.resource_id for f in view.scan.failed if f.check_id == "aws.s3.bucket_public"}
    assert "b-eu-west-1" in failing and "b-us-east-1" not in failing
    assert {r.id for r in view.scan.inventory.records} == {"b-us-east-1", "b-eu-west-1"}


class _CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.scan_reads: list[str] = []

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        if kind == "scan":
            self.scan_reads.append(key)
        return super().get(kind, key)


def test_the_report_reads_two_scans_when_they_are_full_and_walks_back_only_past_filtered_ones() -> None:
    store = _CountingStore()
    for _ in range(4):
        run_scan(Settings(), ScanOptions(), store=store, inventory=estate(24, now=NOW))
    build_and_store(store)
    assert len(set(store.scan_reads)) == 2  # the latest and the previous, each read once
    assert len(store.scan_reads) == 2
    # two filtered scans on top: the walk reads back to the last full scan, and no further
    run_scan(Settings(), ScanOptions(checks=["aws.s3.*"]), store=store, inventory=estate(24, now=NOW))
    run_scan(Settings(), ScanOptions(checks=["aws.ec2.*"]), store=store, inventory=estate(24, now=NOW))
    store.scan_reads.clear()
    rep = build_and_store(store)
    assert len(store.scan_reads) == 3 and len(set(store.scan_reads)) == 3
    assert any(g.check_id == "aws.rds.storage_encrypted" and g.as_of for g in rep.security)
