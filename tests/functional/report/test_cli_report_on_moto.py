"""As a new user on moto: scan, open the report, change the estate, scan again (full, then filtered), and
`escher report` (no --new) follows, without losing what the filtered scan did not look at.

moto server + the embedded knowledge store, through the CLI; the only thing put in by hand is one day of
cost (moto has no billing history), so the report has its cost trend.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from escher.scans.synthetic import cost_snapshot
from tests.functional.scans.estate import REGION, _client, seed


def _report(runner: CliRunner, out: Path) -> str:
    from escher.cli.main import app

    res = runner.invoke(app, ["report", "--format", "html", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out.read_text()


def _scan(runner: CliRunner, *extra: str) -> None:
    from escher.cli.main import app

    res = runner.invoke(app, ["scan", "--region", REGION, *extra])
    assert res.exit_code in (0, 1), res.output  # 1: findings were found


def test_report_follows_scans_and_a_filtered_scan_keeps_the_estate(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.scans.persist_store import StoreResults
    from escher.store.store import Store

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    truth = seed(2)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with Store.open(url=pg_database) as store:
        StoreResults(store).put("cost", f"aws-{yesterday}", cost_snapshot(yesterday).to_dict())
    runner = CliRunner()

    # GIVEN a scan and the report a user opens
    _scan(runner)
    page = _report(runner, escher_home / "r1.html")
    assert 'id="headline"' in page and page.count("<svg") == 2
    assert "First scan: nothing to compare with yet." in page
    assert all(g in page for g in truth.open_groups)

    # WHEN the estate changes (one more group open to SSH) and is scanned again
    ec2 = _client("ec2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="new-open", Description="new", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    _scan(runner)
    # THEN `escher report` shows it without --new
    page = _report(runner, escher_home / "r2.html")
    assert sg in page and re.search(r"Since the previous scan: \d+ new finding", page)

    # WHEN only the S3 checks run
    _scan(runner, "--checks", "aws.s3.*")
    page = _report(runner, escher_home / "r3.html")
    # THEN open SSH is still in the report, dated, and the top says the scan was filtered
    assert all(g in page for g in truth.open_groups | {sg})
    assert page.index('id="scope"') < page.index("<section")
    assert "(a filtered scan)" in page and "as of the scan of" in page
