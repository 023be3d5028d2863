"""Issue 17, item 2: findings you can act on. `escher findings list | show` lists the latest scan's failing
findings with the ids `escher fix` takes, filtered by cloud, severity, check, environment and account."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.cli.main import app
from escher.errors import EscherError
from escher.scans.findings import FindingFilter, UnknownFindingError, get, select, top
from escher.scans.model import Finding, Inventory, ScanResult, Severity, Status
from escher.scans.persist import JsonFileStore


def _f(
    check: str, rid: str, sev: Severity, *, cloud: str = "aws", env: str = "", account: str = "111"
) -> Finding:
    return Finding(
        check_id=check, resource_id=rid, resource_type=f"{check.rsplit('.', 1)[0]}.x", status=Status.FAIL,
        severity=sev, cloud=cloud, region="us-east-1", account=account, title=f"{check} on {rid}",
        message="bad", environment=env, fix_operation="aws.s3.block_public_access" if "s3" in check else None,
        remediation="do the right thing",
    )  # fmt: skip


def _scan() -> ScanResult:
    at = datetime(2026, 12, 7, 2, tzinfo=UTC)
    findings = [
        _f("aws.s3.bucket_public", "logs-public", Severity.CRITICAL, env="prod"),
        _f("aws.ec2.sg_open_ssh", "sg-1", Severity.HIGH, env="dev"),
        _f("aws.ec2.sg_open_ssh", "sg-2", Severity.HIGH, env="prod", account="222"),
        _f("gcp.storage.bucket_public", "gbucket", Severity.CRITICAL, cloud="gcp", env="dev"),
        _f("aws.ec2.volume_unencrypted", "vol-1", Severity.MEDIUM, env="dev"),
    ]
    return ScanResult("scan-1", at, at, Inventory(), findings)


def test_filters_narrow_and_order_is_worst_first() -> None:
    scan = _scan()
    assert [f.severity for f in select(scan)][:2] == [Severity.CRITICAL, Severity.CRITICAL]
    dev = select(scan, FindingFilter.parse(environments=["dev"], clouds=["aws"]))
    assert [f.resource_id for f in dev] == ["sg-1", "vol-1"]
    ssh = select(scan, FindingFilter.parse(checks=["aws.ec2.*"], severities=["high"], accounts=["222"]))
    assert [f.resource_id for f in ssh] == ["sg-2"]
    assert len(top(scan, 2)) == 2 and len(top(scan, 0)) == 5


@pytest.mark.parametrize("bad", [{"clouds": ["gpc"]}, {"severities": ["hihg"]}, {"checks": ["aws.nope.*"]}])
def test_a_typo_in_a_filter_is_an_error_not_no_filter(bad: dict[str, list[str]]) -> None:
    with pytest.raises(EscherError):  # FindingsError, or the checks' own UnknownCheckError
        FindingFilter.parse(**bad)  # type: ignore[arg-type]


def test_get_by_id_or_close_match() -> None:
    scan = _scan()
    f = scan.failed[0]
    assert get(scan, f.id) is f
    with pytest.raises(UnknownFindingError) as err:
        get(scan, f.id[:-1] + ("0" if f.id[-1] != "0" else "1"))
    assert f.id in (err.value.hint or "")


@pytest.fixture
def stored(escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> ScanResult:
    import escher.lazy

    real = escher.lazy.is_installed  # JSON files, not the embedded Postgres, for a unit test
    monkeypatch.setattr(escher.lazy, "is_installed", lambda name: name != "psycopg" and real(name))
    scan = _scan()
    JsonFileStore(escher_home / "data" / "reports").put("scan", scan.scan_id, scan.to_dict())
    return scan


def test_cli_list_json_with_filters(stored: ScanResult) -> None:
    res = CliRunner().invoke(
        app, ["findings", "list", "--severity", "critical", "--cloud", "aws", "-o", "json"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["resource"] for r in rows] == ["logs-public"]
    assert rows[0]["id"].startswith("F-") and rows[0]["fix"] == f"escher fix {rows[0]['id']}"


def test_cli_list_text_shows_ids_and_show_gives_the_fix(stored: ScanResult) -> None:
    res = CliRunner().invoke(app, ["findings", "list", "--env", "prod"], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    public = next(f for f in stored.failed if f.resource_id == "logs-public")
    assert public.id in res.stdout and "sg-2" in res.stdout and "sg-1" not in res.stdout
    shown = CliRunner().invoke(app, ["findings", "show", public.id], env={"COLUMNS": "120"})
    assert shown.exit_code == 0 and f"escher fix {public.id}" in shown.stdout
    missing = CliRunner().invoke(app, ["findings", "show", "F-0000000000"])
    assert isinstance(missing.exception, UnknownFindingError)
