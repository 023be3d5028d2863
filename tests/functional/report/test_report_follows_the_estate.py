"""`escher report` on a stored history: it follows the latest scan, and a filtered scan does not shrink it.

Real JSON result store in a temp dir, real scans (the synthetic estate handed to the runner instead of a
cloud), the same service function the CLI calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from escher.config import Settings
from escher.report.render import render
from escher.report.service import NoScanError, get_or_build_report
from escher.scans.model import Inventory, Record
from escher.scans.persist import JsonFileStore
from escher.scans.runner import ScanOptions, run_scan
from escher.scans.synthetic import estate


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> JsonFileStore:
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    return JsonFileStore(tmp_path / "data" / "reports")


def _scan(store: JsonFileStore, inv: Inventory, checks: list[str] | None = None) -> None:
    run_scan(Settings(), ScanOptions(checks=checks), store=store, inventory=inv)


def test_report_shows_a_new_scan_without_new(store: JsonFileStore) -> None:
    # GIVEN this morning's report was built and stored
    _scan(store, estate(60))
    first = get_or_build_report(store=store)
    assert first.changes == []
    # WHEN the estate changes (a new large instance, an open SSH group) and is scanned again
    changed = estate(60)
    changed.records.append(
        Record("aws", "aws.ec2.instance", "i-new", "us-east-1", "123456789012",
               attrs={"state": "running", "instance_type": "m5.2xlarge"})
    )  # fmt: skip
    for rec in changed.records:
        if rec.id == "sg-00000001":
            rec.attrs["ingress"] = [
                {"protocol": "tcp", "from_port": 22, "to_port": 22, "cidrs": ["0.0.0.0/0"]}
            ]
    _scan(store, changed)
    # THEN `escher report` (no --new) is the new scan's report
    second = get_or_build_report(store=store)
    assert second.scan_id != first.scan_id
    assert [c.resource_id for c in second.changes if c.kind == "added"] == ["i-new"]
    assert second.new_findings >= 1
    page = render(second, "html").decode()
    assert f"Since the previous scan: {second.new_findings} new finding" in page
    # and --date still gives back what was stored for the day (the latest of it)
    assert get_or_build_report(date=second.report_date, store=store).scan_id == second.scan_id


def test_a_filtered_scan_does_not_drop_the_rest_of_the_estate(store: JsonFileStore) -> None:
    _scan(store, estate(60))
    full = get_or_build_report(store=store)
    assert any(g.check_id == "aws.ec2.sg_open_ssh" for g in full.security)
    # WHEN only the S3 checks run
    _scan(store, estate(60), ["aws.s3.*"])
    rep = get_or_build_report(store=store)
    # THEN open SSH is still reported, dated, and the top of the report says the scan was filtered
    ssh = [g for g in rep.security if g.check_id == "aws.ec2.sg_open_ssh"]
    assert ssh and ssh[0].as_of.endswith("(earlier today)")
    assert rep.scope_notes and "filtered" in rep.scope_notes[0]
    html = render(rep, "html").decode()
    assert html.index('id="scope"') < html.index('id="alerts"')
    assert "as of the scan of" in html
    assert {f["check_id"] for f in rep.findings} >= {"aws.ec2.sg_open_ssh", "aws.s3.bucket_public"}


def test_a_date_without_a_report_is_a_typed_error(store: JsonFileStore) -> None:
    _scan(store, estate(12))
    with pytest.raises(NoScanError):
        get_or_build_report(date="2001-01-01", store=store)
