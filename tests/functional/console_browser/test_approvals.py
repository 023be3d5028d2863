"""The approvals inbox: alice asked to delete an old snapshot (destructive: it needs another manager's approval);
mona, a manager, approves it in the browser with a reason and runs it: the snapshot is gone from moto, the
request is used up, and the ledger holds the grant and the run under it. An executor is not offered the inbox."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from playwright.sync_api import BrowserContext, expect

from escher.console.app import RunningConsole
from tests.functional.console_browser.conftest import REGION, Estate, core_runtime, signed_in

OPERATION = "aws.ec2.delete_snapshot"


def _snapshot() -> tuple[Any, str]:
    ec2 = boto3.client("ec2", region_name=REGION)
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=10)["VolumeId"]
    return ec2, ec2.create_snapshot(VolumeId=volume, Description="nightly backup 2023-01-02")["SnapshotId"]


def _request_by_alice(snapshot: str) -> Any:
    from escher.ops import OPERATIONS
    from escher.policy.personas import Actor, Persona

    params = OPERATIONS.get(OPERATION).parse_params({}).model_dump(mode="json")
    with core_runtime() as rt:
        return rt.approvals.request(
            OPERATION, [f"{snapshot}@{REGION}"], params, by=Actor("alice", Persona.manager),
            reason="snapshot of a volume deleted in 2023",
        )  # fmt: skip


def _exists(ec2: Any, snapshot: str) -> bool:
    owned = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    return any(s["SnapshotId"] == snapshot for s in owned)


def test_manager_approves_and_the_action_runs(
    context: BrowserContext, console: RunningConsole, estate: Estate
) -> None:
    ec2, snapshot = _snapshot()
    held = _request_by_alice(snapshot)
    visit = signed_in(context, console, "/approvals")
    page = visit.page
    # GIVEN mona sees alice's pending request with what it does, to what, and who asked
    item = page.locator(f"#approval-{held.request_id}")
    expect(item).to_have_attribute("data-status", "pending")
    expect(item).to_contain_text("alice")
    expect(item).to_contain_text(snapshot)
    expect(item).to_contain_text(OPERATION)
    assert _exists(ec2, snapshot)
    # WHEN she approves it with a reason and runs it
    page.locator(f"#reason-{held.request_id}").fill("checked: nobody restores from it")
    item.locator("button[data-action='approve-run']").click()
    # THEN it ran under that approval and was verified: moto has no such snapshot any more
    expect(page.locator("#plan-result")).to_have_attribute("data-outcome", "executed")
    assert not _exists(ec2, snapshot)
    # and the request says who decided and why, and is used up (it cannot run twice)
    with core_runtime() as rt:
        decided = rt.approvals.get(held.request_id)
    assert (decided.status, decided.decided_by) == ("executed", "mona")
    assert decided.note == "checked: nobody restores from it"
    # and the ledger has mona's grant and the gate's allow via that approval
    records = _ledger()
    grant = next(r for r in records if r["action"] == "approval.grant")
    assert grant["actor"] == "user:mona" and grant["details"]["request_id"] == held.request_id
    assert any(
        r["action"] == "policy.allow" and r["details"].get("via") == f"approval:{held.request_id}"
        for r in records
    )
    assert visit.errors == []


def test_without_approval_the_destructive_step_does_not_run(
    context: BrowserContext, console: RunningConsole, estate: Estate
) -> None:
    ec2, snapshot = _snapshot()
    held = _request_by_alice(snapshot)
    visit = signed_in(context, console, "/approvals")
    page = visit.page
    # WHEN mona denies it, with a reason the requester reads
    page.locator(f"#reason-{held.request_id}").fill("keep it until the audit")
    page.locator(f"#approval-{held.request_id} button[data-action='deny']").click()
    # THEN it is rejected and the snapshot is still there
    expect(page.locator(f"#approval-{held.request_id}")).to_have_attribute("data-status", "rejected")
    assert _exists(ec2, snapshot)


def test_executor_is_not_offered_the_inbox(
    context: BrowserContext, console: RunningConsole, estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, snapshot = _snapshot()
    held = _request_by_alice(snapshot)
    monkeypatch.setenv("ESCHER_USER", "eddie")  # the console reads the acting person per request
    visit = signed_in(context, console)
    expect(visit.page.locator("a[data-nav='approvals']")).to_have_count(0)
    reply = visit.page.goto(console.base_url + "/approvals")
    assert reply is not None and reply.status == 403
    expect(visit.page.locator(f"#approval-{held.request_id}")).to_have_count(0)


def _ledger() -> list[dict[str, Any]]:
    """The ledger as `escher audit list` reads it."""
    import json

    from typer.testing import CliRunner

    from escher.cli.main import app

    listed = CliRunner().invoke(app, ["-o", "json", "audit", "list", "--no-sync"])
    assert listed.exit_code == 0, listed.output
    rows: list[dict[str, Any]] = json.loads(listed.output)
    return rows
