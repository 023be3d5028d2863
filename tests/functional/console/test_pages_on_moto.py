"""The other pages on the moto estate: Ask (typed answers, a plan confirmed and run), Estate (filters and one
resource's findings and audit), Settings (the report template, recorded), and an alert banner's Approve and
Stop dev only buttons."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.functional.console.conftest import REGION, TEAM, Estate, attr, csrf


def _state(instance_id: str) -> str:
    reply = boto3.client("ec2", region_name=REGION).describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_ask_answers_with_a_table_and_a_confirmed_plan_runs(estate: Estate, client: Any) -> None:
    page = client.get("/ask").text
    answer = client.post("/ask", data={"q": "which buckets are public?", "csrf_token": csrf(page)}).text
    assert attr(answer, r'class="answer', "data-kind") == "information"
    assert estate.bucket in answer and "<table>" in answer

    listing = client.post(
        "/ask", data={"q": "list the instances in us-east-1", "csrf_token": csrf(page)}
    ).text
    assert estate.dev_instance in listing and estate.prod_instance in listing
    narrowed = client.post("/ask", data={"q": "only the dev ones", "csrf_token": csrf(page)}).text
    latest = narrowed.split('class="answer', 2)[1]  # the newest answer comes first
    assert (
        estate.dev_instance in latest and estate.prod_instance not in latest
    )  # a follow-up, as in escher chat

    plan = client.post(
        "/ask", data={"q": "stop all dev instances in us-east-1", "csrf_token": csrf(page)}
    ).text
    assert attr(plan, r'class="answer', "data-kind") == "execution", plan[-3000:]
    assert "aws.ec2.stop_instances" in plan and _state(estate.dev_instance) == "running"
    entry = attr(plan, r'class="answer', "id").removeprefix("answer-")
    done = client.post(f"/ask/{entry}/confirm", data={"csrf_token": csrf(plan)}).text
    assert 'data-status="executed"' in done, done[-3000:]
    assert _state(estate.dev_instance) == "stopped" and _state(estate.prod_instance) == "running"


def test_ask_for_a_playbook_and_save_it(estate: Estate, client: Any) -> None:
    page = client.get("/ask").text
    answer = client.post("/ask", data={"q": "playbook for a public bucket", "csrf_token": csrf(page)}).text
    assert attr(answer, r'class="answer', "data-kind") == "playbook", answer[-3000:]
    entry = attr(answer, r'class="answer', "id").removeprefix("answer-")
    saved = client.post(f"/ask/{entry}/save", data={"csrf_token": csrf(answer)}).text
    found = re.search(r"Saved to ([^<]+)\.</p>", saved)
    assert found, saved[-2000:]
    kept = Path(found.group(1))
    assert kept.is_file() and kept.is_relative_to(estate.home / "data") and '"steps"' in kept.read_text()


def test_estate_filters_and_shows_a_resources_findings_and_audit(estate: Estate, client: Any) -> None:
    everything = client.get("/estate").text
    assert estate.bucket in everything and estate.prod_instance in everything
    prod = client.get("/estate", params={"environment": "production"}).text
    assert estate.prod_instance in prod and estate.dev_instance not in prod and estate.bucket not in prod
    assert estate.bucket in client.get("/estate", params={"type": "aws.s3", "q": "console-public"}).text
    assert estate.dev_instance in client.get("/estate", params={"tag": "env=dev"}).text
    detail = client.get("/estate", params={"resource": estate.bucket}).text
    assert attr(detail, r'id="resource"', "data-resource-id") == estate.bucket
    assert "aws.s3.bucket_public" not in detail or "public" in detail
    assert 'data-action="fix"' in detail  # its finding, with the same Fix as the report


def test_the_report_template_is_saved_to_the_config_and_recorded(estate: Estate, client: Any) -> None:
    from escher.console.views import audit_rows

    page = client.get("/settings").text
    res = client.post("/settings/report", data={
        "csrf_token": csrf(page), "sections": ["alerts", "security"], "focus": "security", "format": "compact",
        "thresholds.cost_increase_usd": "250",
    })  # fmt: skip
    assert res.status_code == 200 and "Report template saved" in res.text
    text = (estate.home / "config" / "config.toml").read_text()
    assert 'focus = "security"' in text and "cost_increase_usd = 250.0" in text
    assert [r.record.action for r in audit_rows(target="config/report", limit=5)] == [
        "settings.report_template"
    ]
    bad = client.post("/settings/report", data={"csrf_token": csrf(page), "focus": "everything"})
    assert bad.status_code == 400 and "focus" in bad.text

    # the notification routes: only configured channels, saved under [notify.routes], recorded
    estate.configure(text + '\n[notify.channels.ops]\nurl = "json://localhost/hook"\n')
    page = client.get("/settings").text
    assert 'id="route-CRITICAL-ops"' in page
    res = client.post(
        "/settings/routes", data={"csrf_token": csrf(page), "route.CRITICAL": "ops", "route.HIGH": "ops"}
    )
    assert res.status_code == 200 and "routes saved" in res.text
    saved = tomllib.loads((estate.home / "config" / "config.toml").read_text())
    assert saved["notify"]["routes"]["CRITICAL"] == ["ops"] and saved["notify"]["routes"]["MEDIUM"] == []
    assert (
        saved["notify"]["channels"]["ops"]["url"] == "json://localhost/hook"
        and saved["report"]["focus"] == "security"
    )
    assert [r.record.action for r in audit_rows(target="config/notify.routes", limit=5)] == [
        "settings.notify_routes"
    ]
    unknown = client.post("/settings/routes", data={"csrf_token": csrf(page), "route.CRITICAL": "pager"})
    assert unknown.status_code == 400 and "no channel named pager" in unknown.text


def test_an_alert_banner_approves_the_waiting_fix_and_stop_dev_only_plans_the_dev_machine(
    estate: Estate, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.alerts.store import AlertStore
    from escher.pipeline.runtime import state_objects
    from escher.policy.personas import Actor, Persona
    from escher.policy.runtime import open_runtime
    from tests.functional.console.test_live_banners import _alert

    estate.configure(TEAM)
    # GIVEN the pipeline held a stop of the production machine for approval and stored a HIGH alert about it
    rt = open_runtime()
    target = f"{estate.prod_instance}@{REGION}"
    req = rt.approvals.request("aws.ec2.stop_instances", [target], {}, by=Actor("eddie", Persona.executor),
                               reason="idle production instance")  # fmt: skip
    alert = _alert("A-stop-1", "HIGH").model_copy(update={
        "status": "needs_approval", "approval_request_id": req.request_id, "resource_type": "aws.ec2.instance",
        "resource_id": estate.prod_instance, "details": {"resource_ids": [estate.prod_instance, estate.dev_instance]},
    })  # fmt: skip
    AlertStore(state_objects()).put(alert)
    monkeypatch.setenv("ESCHER_USER", "mona")
    page = client.get("/").text
    banner = attr(page, r'id="banner-A-stop-1"', "data-severity")
    assert banner == "HIGH" and 'data-action="approve"' in page and 'data-action="stop-dev"' in page

    # WHEN Stop dev only is pressed: the plan names the dev machine only (its env tag read now)
    plan = client.post("/alerts/A-stop-1/stop-dev", data={"csrf_token": csrf(page)}).text
    assert estate.dev_instance in plan and estate.prod_instance not in plan.split('id="plan"', 1)[1]

    # WHEN the manager presses Approve on the banner: the waiting request is granted and runs
    ran = client.post("/alerts/A-stop-1/approve", data={"csrf_token": csrf(page)})
    assert attr(ran.text, r'id="plan-result"', "data-outcome") == "executed", ran.text[-2000:]
    assert _state(estate.prod_instance) == "stopped" and _state(estate.dev_instance) == "running"

    # an executor sees no Approve button on the same banner
    monkeypatch.setenv("ESCHER_USER", "eddie")
    assert 'data-action="approve"' not in client.get("/").text

    # the incident is listed on the Audit page, its timeline one click away
    audit = client.get("/audit").text
    assert 'href="/alerts/A-stop-1/timeline"' in audit
    timeline = client.get("/alerts/A-stop-1/timeline")
    assert timeline.status_code == 200 and 'id="timeline"' in timeline.text
