"""An AWS organization of 5 member accounts on moto, each reached through its OrganizationAccountAccessRole:
`escher scan --all-accounts` finds each account's public bucket under that account's id, `--account` reads
only the one named, an account whose role cannot be assumed is reported and the others are read, the morning
report breaks the findings down by account, and `escher accounts list` lists the organization."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.orgs.org_estate import REGION, DenyingProxy, Org, seed_org

PUBLIC = "aws.s3.bucket_public"


@pytest.fixture
def org(aws_env: MotoEmulator, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("COLUMNS", "200")
    yield seed_org(5)


def _scan(*args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    from escher.cli.main import app

    res = CliRunner().invoke(
        app, ["-o", "json", "scan", "--cloud", "aws", "-r", REGION, "--checks", PUBLIC, *args]
    )
    assert res.exit_code in (0, 1, 2), res.output
    return res.exit_code, json.loads(res.stdout)


def _public(data: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """account -> public bucket found there."""
    found = [f for f in data["findings"] if f["check_id"] == PUBLIC and f["status"] == "FAIL"]
    out = {f["account"]: f["resource_id"] for f in found}
    assert len(out) == len(found), found  # one public bucket per account
    return out


def test_all_accounts_finds_each_accounts_public_bucket_under_its_id(org: Org) -> None:
    code, data = _scan("--all-accounts")

    assert code == 0, data["partial"]
    assert _public(data) == org.members  # 5 distinct member accounts, each with its own bucket
    assert org.management not in _public(data)  # read too (no assume), and it has no public bucket


def test_account_option_reads_only_that_account(org: Org) -> None:
    one = sorted(org.members)[2]

    code, data = _scan("--account", one)

    assert code == 0, data["partial"]
    assert _public(data) == {one: org.members[one]}


def test_an_account_whose_role_cannot_be_assumed_is_reported_and_the_rest_read(
    org: Org, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = sorted(org.members)[0]
    with DenyingProxy(aws_env.port, {locked}) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        code, data = _scan("--all-accounts")

    assert proxy.refused >= 1
    assert code == 2  # partial, as any scan that could not read a part
    assert _public(data) == {a: b for a, b in org.members.items() if a != locked}
    (missing,) = [p for p in data["partial"] if locked in p["service"]]
    assert missing["code"] == "AccessDenied"
    assert "OrganizationAccountAccessRole" in missing["hint"]


def test_report_breaks_findings_down_by_account_and_names_the_unreachable(
    org: Org, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from escher.cli.main import app

    locked = sorted(org.members)[-1]
    with DenyingProxy(aws_env.port, {locked}) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        _scan("--all-accounts")

    runner = CliRunner()
    text = runner.invoke(app, ["report"])
    assert text.exit_code == 0, text.output
    assert "5 accounts read, 1 not reached" in text.output  # 4 members + the management account
    for account in org.members:
        if account != locked:
            assert f"aws {account}: 1 finding (1 critical)" in text.output
    assert f"NOT REACHED {locked}" in text.output
    md = runner.invoke(app, ["report", "--format", "md"])
    assert md.exit_code == 0, md.output
    assert "## Accounts" in md.output and f"NOT REACHED {locked}" in md.output
    rows = json.loads(runner.invoke(app, ["report", "--format", "json"]).stdout)["accounts"]
    assert {r["account"]: r["findings"] for r in rows if r["findings"]} == {
        a: 1 for a in org.members if a != locked
    }
    html = runner.invoke(app, ["report", "--format", "html", "--out", str(tmp_path / "r.html")])
    assert html.exit_code == 0, html.output
    page = (tmp_path / "r.html").read_text()
    assert "Accounts: 5 accounts read, 1 not reached" in page and f"<td>{locked}</td>" not in page
    assert all(f"<td>{a}</td>" in page for a in org.members if a != locked)


def test_accounts_list_lists_the_organization(org: Org) -> None:
    from escher.cli.main import app

    res = CliRunner().invoke(app, ["-o", "json", "accounts", "list", "--cloud", "aws"])

    assert res.exit_code == 0, res.output
    listed = {a["id"] for a in json.loads(res.stdout)["accounts"]}
    assert listed == {*org.members, org.management}
    text = CliRunner().invoke(app, ["accounts", "list"])
    assert "6 AWS accounts" in text.output and sorted(org.members)[0] in text.output


def test_accounts_list_narrows_by_unit_and_tag(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from escher.cli.main import app

    client = boto3.client("organizations", region_name=REGION)
    root = client.list_roots()["Roots"][0]["Id"]
    unit = client.create_organizational_unit(ParentId=root, Name="data")["OrganizationalUnit"]["Id"]
    inner = client.create_organizational_unit(ParentId=unit, Name="inner")["OrganizationalUnit"]["Id"]
    first, second, third = sorted(org.members)[:3]
    client.move_account(AccountId=first, SourceParentId=root, DestinationParentId=unit)
    client.move_account(AccountId=second, SourceParentId=root, DestinationParentId=inner)
    client.tag_resource(ResourceId=second, Tags=[{"Key": "team", "Value": "data"}])
    client.tag_resource(ResourceId=third, Tags=[{"Key": "team", "Value": "data"}])

    def listed() -> set[str]:
        res = CliRunner().invoke(app, ["-o", "json", "accounts", "list"])
        assert res.exit_code == 0, res.output
        return {a["id"] for a in json.loads(res.stdout)["accounts"]}

    monkeypatch.setenv("ESCHER_AWS__ORGANIZATION_UNITS", unit)
    assert listed() == {first, second}  # the unit and the units under it
    monkeypatch.setenv("ESCHER_AWS__ACCOUNT_TAGS", "team=data")
    assert listed() == {second}
    monkeypatch.delenv("ESCHER_AWS__ORGANIZATION_UNITS")
    assert listed() == {second, third}
    monkeypatch.setenv("ESCHER_AWS__ACCOUNTS", third)
    assert listed() == {third}  # an explicit list wins


def test_report_of_some_accounts_shows_only_theirs(org: Org) -> None:
    from escher.cli.main import app

    first, second, third = sorted(org.members)[:3]
    _scan("--all-accounts")
    runner = CliRunner()

    both = runner.invoke(app, ["report", "--account", first, "--account", second, "--format", "json"])
    assert both.exit_code == 0, both.output
    rows = json.loads(both.stdout)["accounts"]
    assert {r["account"]: r["findings"] for r in rows} == {first: 1, second: 1}
    one = runner.invoke(app, ["report", "--account", first])
    assert one.exit_code == 0, one.output
    assert org.members[first] in one.output and org.members[third] not in one.output
    whole = runner.invoke(app, ["report", "--format", "json"])
    assert len(json.loads(whole.stdout)["accounts"]) == 6  # the stored report is still the whole estate's
    unknown = runner.invoke(app, ["report", "--account", "999999999999"])
    assert unknown.exit_code == 2 and "did not read 999999999999" in unknown.output
