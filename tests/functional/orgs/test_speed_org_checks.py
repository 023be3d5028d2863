"""An organization scan with ``--checks`` reads in each account only what those checks need, as a scan of one
account does, and each account's calls are signed with that account's own keys although the accounts share
one client per service (``escher.clouds.aws.SharedClients``): on moto with 3 member accounts, ``escher scan
--all-accounts --checks aws.s3.*`` makes no EC2 call in any account, finds each member's public bucket under
its id, and the report still counts the management account (no bucket, so no record) as read."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.orgs.org_estate import REGION, DenyingProxy, Org, seed_org


class CountingProxy(DenyingProxy):
    """Forwards everything (refuses nothing) and counts each request by the account whose keys signed it and
    its API action (the query APIs' Action, the JSON APIs' target, S3's ``GET acl``)."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port, set())
        self.calls: Counter[tuple[str, str]] = Counter()
        self._count = threading.Lock()

    def answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        got = super().answer(method, path, headers, body)  # first: an AssumeRole answer maps its key
        target = next((v for k, v in headers.items() if k.lower() == "x-amz-target"), "")
        if target:
            action = target.rsplit(".", 1)[-1]
        elif method == "POST" and b"Action=" in body:
            action = parse_qs(body.decode()).get("Action", ["?"])[0]
        else:
            action = f"{method} {urlsplit(path).query.split('=')[0]}".strip()
        with self._count:
            self.calls[(self.account_of(headers), action)] += 1
        return got


@pytest.fixture
def org(aws_env: MotoEmulator, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("COLUMNS", "200")
    yield seed_org(3)


def test_checks_over_all_accounts_read_only_what_they_need_in_each_account_on_its_own_keys(
    org: Org, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.main import app

    with CountingProxy(aws_env.port) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        res = CliRunner().invoke(
            app,
            ["-o", "json", "scan", "--cloud", "aws", "-r", REGION, "--all-accounts", "--checks", "aws.s3.*"],
        )
    assert res.exit_code in (0, 1), res.output
    data = json.loads(res.stdout)
    public = {f["account"]: f["resource_id"] for f in data["findings"]
              if f["check_id"] == "aws.s3.bucket_public" and f["status"] == "FAIL"}  # fmt: skip
    assert public == org.members

    accounts = {account for account, _ in proxy.calls}
    assert set(org.members) <= accounts
    for account in accounts:
        made = {action for (a, action), n in proxy.calls.items() if a == account}
        ec2 = {a for a in made if a.startswith("Describe") or a.startswith("GetEbs")}
        assert not ec2, f"account {account} was read beyond S3: {sorted(ec2)}"
    for member in org.members:  # its bucket's reads were signed with its own role's keys
        assert proxy.calls[(member, "GET acl")] >= 1, proxy.calls
        assert proxy.calls[(member, "GET publicAccessBlock")] == 1, proxy.calls

    report = CliRunner().invoke(app, ["report"])
    assert report.exit_code == 0, report.output
    assert "4 accounts read" in report.output  # 3 members + the management account, which has no bucket
