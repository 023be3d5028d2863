"""`escher report` reads the organization scan the extension joined (issue #19 item 4).

On moto: an organization of 3 member accounts, one of which refuses the organization role; the extension's
state storage is a moto S3 bucket. The extension's side runs as the worker does: `fanout.dispatch` lists the
accounts and queues one message each on a real SQS queue, `fanout.scan_account` scans each account named by a
message and writes its part, and the last part makes `fanout.join` write `reports/org/<run>.json`. The laptop's
side goes through the CLI: `escher sync` pulls the joined report (once per version), and `escher report`
(text and `-o json`) shows its summary and per-account breakdown, says where it came from, and names the
account that could not be scanned and why.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.orgs.org_estate import REGION, DenyingProxy, Org, seed_org

BUCKET = "escher-state-org"
STATE_URL = f"s3://{BUCKET}"


def _squash(text: str) -> str:
    """``text`` without its whitespace: the console may fold a line anywhere (under xdist it can be made before
    a test sets COLUMNS), so what is looked for is compared without it."""
    return "".join(text.split())


def _cli(*args: str, code: int | tuple[int, ...] = 0) -> Any:
    from escher.cli.main import app

    res = CliRunner().invoke(app, list(args))
    assert res.exit_code in ((code,) if isinstance(code, int) else code), res.output
    return res


def _extended(home: Path) -> None:
    """What `escher extend aws` leaves on the laptop: the stack's outputs and thin-client mode."""
    from escher.config import resolve_paths
    from escher.infra.driver import LocalState, save_outputs

    paths = resolve_paths()
    save_outputs(paths, "aws", {"state_url": STATE_URL})
    local = LocalState.load(paths)
    local.clouds["aws"] = {"mode": "thin-client"}
    local.save()


@pytest.fixture
def laptop(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    from escher.config import resolve_paths

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    from escher.cli._render import console, err_console

    monkeypatch.setenv("COLUMNS", "220")
    for made in (console(), err_console()):  # the process's consoles may predate COLUMNS (xdist)
        monkeypatch.setattr(made, "width", 220)
    paths = resolve_paths()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    paths.config_file.write_text(f'[aws]\nregions = ["{REGION}"]\n', encoding="utf-8")
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
    return escher_home


def _org_scan(org: Org, locked: str, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The extension's 02:00 organization scan, as the worker runs it: dispatch, one scan per message, join."""
    from escher.config import load_settings
    from escher.pipeline import fanout
    from escher.pipeline.objects import open_objects

    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="escher-scan-queue")["QueueUrl"]
    env = {fanout.SCAN_QUEUE_ENV: "sqs://escher-scan-queue", "ESCHER_STATE_URL": STATE_URL}
    settings = load_settings().model_copy(
        update={"aws": load_settings().aws.model_copy(update={"accounts": sorted(org.members)})}
    )
    assert fanout.enabled(settings, env)
    sent = fanout.dispatch(settings, env, open_objects(STATE_URL), now=datetime.now(UTC))
    assert sent["queued"] == len(org.members)
    bodies = []
    while got := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        bodies += [m["Body"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    assert len(bodies) == len(org.members)
    with DenyingProxy(aws_env.port, {locked}) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        parts = [fanout.scan_account("aws", body, {**env, "AWS_ENDPOINT_URL": proxy.url}) for body in bodies]
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.endpoint_url)
    assert proxy.refused >= 1
    assert [p["joined"] for p in parts][-1] is True and sum(p["joined"] for p in parts) == 1
    return str(sent["org_run"])


def _report_json(*args: str) -> dict[str, Any]:
    return dict(json.loads(_cli("-o", "json", "report", *args).stdout))


def test_sync_pulls_the_joined_org_report_once_and_report_shows_it_with_where_it_came_from(
    laptop: Path, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = seed_org(3)
    locked = sorted(org.members)[0]
    _extended(laptop)
    # GIVEN the extension joined an organization scan in which one account refused the role
    run = _org_scan(org, locked, aws_env, monkeypatch)

    # WHEN the laptop syncs, twice
    first = json.loads(_cli("-o", "json", "sync").stdout)["synced"]
    again = json.loads(_cli("-o", "json", "sync").stdout)["synced"]
    # THEN the joined report came home once, and nothing the second time
    assert first[0]["pulled"].get("org_report") == 1, first
    assert "org_report" not in again[0]["pulled"], again

    # WHEN `escher report` runs on a laptop that has no scan of its own
    data = _report_json()
    # THEN the report is the organization scan's: summary, per-account breakdown, the unscanned account and why
    orgsum = data["organization"]
    assert orgsum["origin"] == "extension" and orgsum["cloud"] == "aws" and orgsum["run"] == run
    assert orgsum["source"] == f"{STATE_URL}/reports/org/{run}.json"
    assert orgsum["accounts"] == 3 and orgsum["scanned"] == 2 and orgsum["complete"] is True
    [refused] = orgsum["not_scanned"]
    assert refused["account"] == locked and refused["status"] == "not scanned"
    assert "OrganizationAccountAccessRole" in refused["hint"]
    rows = {r["account"]: r for r in data["accounts"]}
    assert set(rows) == set(org.members) - {locked}
    assert all(r["findings"] >= 1 and r["resources"] >= 1 for r in rows.values())
    [unreachable] = data["unreachable_accounts"]
    assert unreachable.startswith(f"{locked}: not scanned: ")
    public = {
        f["account"]: f["resource_id"] for f in data["findings"] if f["check_id"] == "aws.s3.bucket_public"
    }
    assert public == {a: b for a, b in org.members.items() if a != locked}
    text = _squash(_cli("report").output)
    assert (
        _squash(f"the aws extension's organization scan {run}") in text
        and _squash(f"not reached - organization scan {run}") in text
    )
    assert _squash("2 accounts read, 1 not reached") in text
    assert _squash(f"NOT REACHED {locked}: not scanned") in text
    for account in rows:
        assert _squash(f"aws {account}: ") in text

    # WHEN this laptop then scans (its own account): its scan is newer than the organization scan
    _cli("scan", "--cloud", "aws", "-r", REGION, "--checks", "aws.s3.bucket_public", code=(0, 1))
    data = _report_json()
    # THEN the report is the local scan's, naming the older organization scan and how to see it
    assert data["organization"] is None and data["accounts"] == []
    assert any(f"escher report --run {run}" in n for n in data["scope_notes"]), data["scope_notes"]
    # and --run picks the organization scan whatever its age
    picked = _report_json("--run", run)
    assert picked["organization"]["run"] == run and picked["organization"]["newer_than_local_scan"] is False
    assert {r["account"] for r in picked["accounts"]} == set(rows)
    assert picked["scan_id"] == data["scan_id"]  # the findings are still the local scan's
    # and --account of a member the local scan never read: that account's part of the organization scan
    one = sorted(rows)[0]
    narrowed = _report_json("--account", one)
    assert [r["account"] for r in narrowed["accounts"]] == [one] and narrowed["organization"]["run"] == run
    assert {f["account"] for f in narrowed["findings"]} == {one} and narrowed["unreachable_accounts"] == []

    # WHEN a late join writes the run's report again (a new version of the same object)
    from escher.pipeline.fanout import join
    from escher.pipeline.objects import open_objects

    rejoined = join(open_objects(STATE_URL), run, now=datetime.now(UTC) + timedelta(minutes=1))
    assert rejoined is not None
    synced = _squash(_cli("sync").output)
    # THEN sync brings the new version and the laptop keeps one report of that run, now newer than the scan
    assert _squash("1 org report from") in synced
    data = _report_json()
    assert data["organization"]["run"] == run and data["organization"]["newer_than_local_scan"] is True
    assert data["organization"]["joined_at"] == rejoined["joined_at"]
    assert any(
        n.startswith("Accounts: from the aws extension's organization scan") for n in data["scope_notes"]
    )
    from escher.config import resolve_paths
    from escher.report.org import local_objects, pulled

    assert [p.run for p in pulled(local_objects(resolve_paths()))] == [run]


def test_report_run_says_what_to_do_when_the_extension_has_none(
    laptop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.report.org import NoOrgReportError
    from escher.report.service import NoScanError

    # Local Only: nothing is extended (the runner returns the error `escher` shows, exit 2, no traceback)
    err = _cli("report", "--run", "2026-12-07T020000-abc123", code=1).exception
    assert isinstance(err, NoOrgReportError) and err.exit_code == 2
    assert "no organization scan has been pulled" in err.message and "nothing is extended" in (err.hint or "")
    # extended, but the extension has joined none yet
    _extended(laptop)
    err = _cli("report", "--run", "2026-12-07T020000-abc123", code=1).exception
    assert isinstance(err, NoOrgReportError) and "escher sync" in (err.hint or "")
    # and without --run, no scan and no organization scan: the usual "no scan" error
    err = _cli("report", code=1).exception
    assert isinstance(err, NoScanError) and "no scan has been stored yet" in err.message


def test_an_object_that_is_not_a_joined_report_is_named_and_not_kept(
    laptop: Path, aws_env: MotoEmulator
) -> None:
    from escher.config import resolve_paths
    from escher.report.org import local_objects, pulled

    _extended(laptop)
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key="reports/org/broken.json", Body=b'{"run": "broken"}')

    res = _cli("sync", code=5)

    assert _squash(f"rejected {STATE_URL}/reports/org/broken.json") in _squash(res.output)
    assert _squash("not an organization report") in _squash(res.output)
    assert pulled(local_objects(resolve_paths())) == []
