"""The console on a moto estate: a Fix changes the resource (read back with boto3) and lands in the ledger; a
fix that needs approval makes a request and changes nothing; a manager approves and it runs; an executor does
not see the inbox and cannot decide; settings changes are manager-only and recorded."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest

from tests.functional.console.conftest import REGION, TEAM, Estate, attr, csrf


def _ec2() -> Any:
    return boto3.client("ec2", region_name=REGION)


def _instance(instance_id: str) -> dict[str, Any]:
    reply = _ec2().describe_instances(InstanceIds=[instance_id])
    inst: dict[str, Any] = reply["Reservations"][0]["Instances"][0]
    return inst


def _fix(client: Any, check_id: str) -> str:
    """Press Fix on the report's finding of ``check_id``; the plan page."""
    page = client.get("/").text
    ids = attr(page, rf'class="finding[^"]*" data-check-id="{re.escape(check_id)}"', "data-finding-ids")
    res = client.post("/fix", data={"finding_ids": ids, "csrf_token": csrf(page)})
    assert res.status_code == 200, res.text[-2000:]
    return res.text


def _confirm(client: Any, plan_page: str, **extra: str) -> str:
    plan_id = attr(plan_page, r'class="plan-item"', "data-plan-id")
    res = client.post(f"/plans/{plan_id}/confirm", data={"csrf_token": csrf(plan_page), **extra})
    assert res.status_code == 200, res.text[-2000:]
    return res.text


def _ledger(target: str) -> list[tuple[str, str]]:
    from escher.console.views import audit_rows

    return [(row.record.action, row.record.outcome) for row in audit_rows(target=target, limit=100)]


def test_fix_on_the_report_makes_the_bucket_private_and_lands_in_the_ledger(
    estate: Estate, client: Any
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    report = client.get("/").text
    assert 'id="headline"' in report and 'id="severity-chart"' in report and 'id="severity-table"' in report
    plan = _fix(client, "aws.s3.bucket_public")
    # the plan from the engine: the target, now -> wanted, risk, no approval needed
    assert attr(plan, r'class="plan-item"', "data-operation") == "aws.s3.block_public_access"
    assert attr(plan, r'class="plan-item"', "data-needs-approval") == "false"
    assert estate.bucket in plan and "BlockPublicAcls=False" in plan and "BlockPublicAcls=True" in plan
    with pytest.raises(s3.exceptions.ClientError):  # nothing changed by showing the plan
        s3.get_public_access_block(Bucket=estate.bucket)

    result = _confirm(client, plan)

    assert attr(result, r'id="plan-result"', "data-outcome") == "executed", result[-2000:]
    conf = s3.get_public_access_block(Bucket=estate.bucket)["PublicAccessBlockConfiguration"]
    assert all(conf.values()) and len(conf) == 4
    ledger = _ledger(estate.bucket)
    assert ("aws.s3.block_public_access", "verified") in ledger and ("policy.allow", "info") in ledger
    audit = client.get(f"/audit?target={estate.bucket}").text
    assert "aws.s3.block_public_access" in audit and 'data-outcome="verified"' in audit
    # the plan was used up: confirming it again does nothing
    again = _confirm_status(client, plan)
    assert again == 400


def _confirm_status(client: Any, plan_page: str) -> int:
    plan_id = attr(plan_page, r'class="plan-item"', "data-plan-id")
    return int(client.post(f"/plans/{plan_id}/confirm", data={"csrf_token": csrf(plan_page)}).status_code)


def test_a_destructive_fix_raises_an_approval_request_and_changes_nothing(
    estate: Estate, client: Any
) -> None:
    before = _instance(estate.dev_instance)["InstanceType"]
    plan = _fix(client, "aws.ec2.instance_overprovisioned")
    assert attr(plan, r'class="plan-item"', "data-needs-approval") == "true"
    assert "destructive" in plan

    result = _confirm(client, plan)

    assert attr(result, r'id="plan-result"', "data-outcome") == "needs_approval"
    request_id = attr(result, r'id="plan-result"', "data-request-id")
    assert _instance(estate.dev_instance)["InstanceType"] == before == "m5.xlarge"
    inbox = client.get("/approvals").text
    assert attr(inbox, rf'id="approval-{request_id}"', "data-status") == "pending"
    assert ("approval.request", "approval_requested") in _ledger(estate.dev_instance)


def test_an_executor_asks_a_manager_approves_in_the_inbox_and_it_runs(
    estate: Estate, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate.configure(TEAM)
    # GIVEN eddie (an executor) presses Fix on the idle production instance: production needs approval
    monkeypatch.setenv("ESCHER_USER", "eddie")
    report = client.get("/").text
    assert 'data-nav="approvals"' not in report  # an executor has no inbox
    result = _confirm(client, _fix(client, "aws.ec2.instance_idle"))
    assert attr(result, r'id="plan-result"', "data-outcome") == "needs_approval"
    request_id = attr(result, r'id="plan-result"', "data-request-id")
    assert _instance(estate.prod_instance)["State"]["Name"] == "running"
    token = csrf(result)
    assert client.get("/approvals").status_code == 403
    denied = client.post(f"/approvals/{request_id}/approve-run", data={"csrf_token": token, "reason": "mine"})
    assert denied.status_code == 403 and _instance(estate.prod_instance)["State"]["Name"] == "running"

    # WHEN mona (a manager) opens the inbox: the plan and who asked; she approves with a reason, and it runs
    monkeypatch.setenv("ESCHER_USER", "mona")
    inbox = client.get("/approvals").text
    assert 'data-nav="approvals"' in inbox
    assert f'id="approval-{request_id}"' in inbox and "eddie" in inbox and estate.prod_instance in inbox
    preview = client.get(f"/approvals/{request_id}/plan").text  # the plan, read now; nothing to confirm there
    assert (
        "state=running" in preview and "state=stopped" in preview and 'data-action="confirm"' not in preview
    )
    ran = client.post(f"/approvals/{request_id}/approve-run",
                      data={"csrf_token": csrf(inbox), "reason": "idle for a month, owner agreed"})  # fmt: skip

    # THEN the instance is stopped (read back) and the ledger has the grant and the verified stop
    assert ran.status_code == 200, ran.text[-2000:]
    assert attr(ran.text, r'id="plan-result"', "data-outcome") == "executed", ran.text[-2000:]
    assert _instance(estate.prod_instance)["State"]["Name"] == "stopped"
    ledger = _ledger(estate.prod_instance)
    assert ("approval.grant", "approved") in ledger and ("aws.ec2.stop_instances", "verified") in ledger
    after = client.get("/approvals").text
    assert attr(after, rf'id="approval-{request_id}"', "data-status") == "executed"


def test_a_requester_cannot_approve_their_own_request(
    estate: Estate, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate.configure(TEAM)  # not single-operator: no self-grant path
    monkeypatch.setenv("ESCHER_USER", "alice")
    result = _confirm(client, _fix(client, "aws.ec2.instance_idle"))
    request_id = attr(result, r'id="plan-result"', "data-request-id")
    inbox = client.get("/approvals").text
    assert "another manager approves it" in inbox
    res = client.post(f"/approvals/{request_id}/approve", data={"csrf_token": csrf(inbox), "reason": "me"})
    assert res.status_code == 400 and "person who made it" in res.text
    assert _instance(estate.prod_instance)["State"]["Name"] == "running"


def test_settings_switch_is_for_managers_and_is_recorded(
    estate: Estate, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate.configure(TEAM)
    monkeypatch.setenv("ESCHER_USER", "eddie")
    page = client.get("/settings").text
    data = {"csrf_token": csrf(page), "name": "make_public_buckets_private", "enabled": "on"}
    assert client.post("/settings/remediation", data=data).status_code == 403
    monkeypatch.setenv("ESCHER_USER", "mona")
    res = client.post("/settings/remediation", data=data)
    assert res.status_code == 200 and 'data-switch="make_public_buckets_private" data-enabled="true"' in (
        client.get("/settings").text
    )
    assert "make_public_buckets_private = true" in (estate.home / "config" / "config.toml").read_text()
    assert ("remediation.enable", "succeeded") in _ledger("remediation/make_public_buckets_private")
