"""``escher mcp`` through the SDK's own client, over stdio and streamable HTTP, on a moto estate.

Every read tool answers from what the scan, the cost snapshot and the alert pipeline stored; a plan made from
plain language stops exactly the dev instances (read back with boto3) and lands in the ledger with the MCP
client as the channel; "delete all snapshots" returns an approval request and deletes nothing until another
manager approves; a prompt-injection tag changes nothing that is planned; no planted secret is in any answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.functional.mcp.conftest import (
    ESCHER,
    INJECTION,
    TOKEN,
    HttpServer,
    McpEstate,
    call,
    http_client,
    stdio_client,
)
from tests.unit.brain import canaries

READ_TOOLS = {"search_estate", "get_resource", "list_findings", "morning_report", "cost", "list_alerts",
              "incident_timeline", "audit_list", "audit_verify", "list_approvals", "list_playbooks", "get_playbook",
              "compliance_status"}  # fmt: skip
ACT_TOOLS = {"plan_request", "plan_playbook", "request_approval", "execute_plan"}


async def read_sweep(client: Any, estate: McpEstate) -> None:
    """Each read tool once, its answer held to the seeded truth."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == READ_TOOLS | ACT_TOOLS  # no tool approves anything
    assert all(tools[n].annotations.read_only_hint for n in READ_TOOLS)

    dev = await call(
        client, estate, "search_estate", {"environment": "dev", "resource_type": "aws.ec2.instance"}
    )
    assert sorted(r["id"] for r in dev["resources"]) == estate.dev
    assert "withheld" in dev  # the planted secret was there, and was withheld
    one = await call(client, estate, "get_resource", {"resource_id": estate.prod[0]})
    assert [r["id"] for r in one["resources"]] == [estate.prod[0]]
    note = one["resources"][0]["tags"]["note"]  # kept as data, fenced
    assert note["untrusted_data"] == INJECTION and "never an instruction" in note["warning"]
    assert any(p.endswith(".tags.note") for p in one["untrusted"]["paths"])

    findings = await call(client, estate, "list_findings")
    assert findings["total"] == len(findings["findings"]) and all(
        f["status"] == "FAIL" for f in findings["findings"]
    )
    assert sum(findings["by_severity"].values()) == findings["total"] > 0
    cli = await _cli_findings()  # `escher findings list`: the same selection, in the same order
    assert [(f["id"], f["check_id"], f["resource_id"]) for f in findings["findings"]] == cli
    typo = await client.call_tool("list_findings", {"check": "aws.nosuchservice.*"})
    assert typo.is_error  # a filter that matches no check is refused, never "no filter"
    report = await call(client, estate, "morning_report")
    assert report["resources"] >= len(estate.dev + estate.prod) and "findings" not in report
    security = await call(client, estate, "morning_report", {"section": "security"})
    assert security["section"] == "security" and security["security"] == report["security"]

    summary = await call(client, estate, "cost", {"view": "summary"})
    assert (summary["yesterday"], summary["previous_day"], summary["currency"]) == (45.0, 46.0, "USD")
    drivers = await call(client, estate, "cost", {"view": "drivers"})
    assert drivers["by_service"][0] == {"service": "Amazon EC2", "cost": 40.0, "change_vs_previous_day": -1.0}
    trend = await call(client, estate, "cost", {"view": "trend", "days": 3})
    assert [d["total"] for d in trend["days"]] == [47.0, 46.0, 45.0]

    alerts = await call(client, estate, "list_alerts")
    assert [a["alert_id"] for a in alerts["alerts"]] == [estate.alert_id]
    timeline = await call(client, estate, "incident_timeline", {"alert_id": estate.alert_id})
    assert any("Verification" in e["what"] for e in timeline["timeline"])

    audit = await call(client, estate, "audit_list", {"limit": 5})
    assert isinstance(audit["records"], list)
    verified = await call(client, estate, "audit_verify")
    assert verified["ok"] is True
    approvals = await call(client, estate, "list_approvals")
    assert approvals["requests"] == []
    books = await call(client, estate, "list_playbooks", {"query": "dev", "cloud": "aws"})
    assert "aws-cost-dev-after-hours" in [p["id"] for p in books["playbooks"]]
    book = await call(client, estate, "get_playbook", {"playbook_id": "aws-cost-dev-after-hours"})
    assert book["playbook"]["steps"][0]["operation_id"] == "aws.ec2.stop_instances"


async def _cli_findings() -> list[tuple[str, str, str]]:
    done = await anyio.run_process([ESCHER, "-o", "json", "findings", "list"], check=False)
    return [(f["id"], f["check"], f["resource"]) for f in json.loads(done.stdout)]


async def stop_dev(client: Any, estate: McpEstate, channel: str) -> None:
    asked = await call(
        client, estate, "plan_request", {"request": "which instances are running in us-east-1?"}
    )
    assert asked["kind"] == "information" and "plan" not in asked  # a question is answered, never planned
    planned = await call(client, estate, "plan_request", {"request": "stop the dev instances in us-east-1"})
    [step] = planned["plan"]["steps"]
    assert step["operation"] == "aws.ec2.stop_instances" and step["status"] == "ready"
    assert sorted(c["target"] for c in step["changes"]) == estate.dev  # the injection tag planned nothing
    assert all(
        c["now"] == {"state": "running"} and c["wanted"] == {"state": "stopped"} for c in step["changes"]
    )
    assert set(estate.states().values()) == {"running"}  # planning changed nothing

    done = await call(client, estate, "execute_plan", {"plan_id": planned["plan"]["plan_id"]})
    [ran] = done["steps"]
    assert ran["status"] == "executed" and ran["result"]["counts"] == {"verified": 2}
    states = estate.states()
    assert {i: states[i] for i in estate.dev} == dict.fromkeys(estate.dev, "stopped")
    assert {i: states[i] for i in estate.prod} == dict.fromkeys(estate.prod, "running")
    ledger = estate.audit()
    verified = [r for r in ledger if r["action"] == "aws.ec2.stop_instances" and r["outcome"] == "verified"]
    assert sorted(r["target"] for r in verified) == estate.dev
    assert {(r["actor"], r["details"]["channel"]) for r in verified} == {("user:mona", channel)}
    [allowed] = [r for r in ledger if r["action"] == "policy.allow"]
    assert allowed["details"]["channel"] == channel
    mine = await call(client, estate, "audit_list", {"channel_prefix": channel, "outcome": "verified"})
    assert sorted(r["target"] for r in mine["records"]) == estate.dev


def test_stdio_read_tools_answer_from_the_estate_and_no_secret_leaves(mcp_estate: McpEstate) -> None:
    async def go() -> None:
        async with stdio_client() as client:
            await read_sweep(client, mcp_estate)
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {"morning_review", "incident_first_aid", "cost_review"}
            report = await client.read_resource("escher://report/latest")
            alerts = await client.read_resource("escher://alerts/open")
            texts = [report.contents[0].text, alerts.contents[0].text]
            mcp_estate.answers.extend(texts)
            assert json.loads(texts[1])["alerts"][0]["alert_id"] == mcp_estate.alert_id

    anyio.run(go)
    seen = "\n".join(mcp_estate.answers)
    assert canaries.leaked(seen) == []
    assert set(mcp_estate.states().values()) == {"running"}  # reading changed nothing


def test_stdio_plan_and_execute_stops_only_the_dev_instances(mcp_estate: McpEstate) -> None:
    async def go() -> None:
        async with stdio_client() as client:
            await stop_dev(client, mcp_estate, "mcp:pytest-stdio")

    anyio.run(go)
    assert canaries.leaked("\n".join(mcp_estate.answers)) == []


def test_delete_all_snapshots_waits_for_a_person_and_runs_once_another_manager_approved(
    mcp_estate: McpEstate,
) -> None:
    config = mcp_estate.home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('[personas]\nmanagers = ["mona", "alice"]\n', encoding="utf-8")

    async def go() -> str:
        async with stdio_client() as client:
            planned = await call(client, mcp_estate, "plan_request", {"request": "delete all snapshots"})
            [step] = planned["plan"]["steps"]
            assert step["operation"] == "aws.ec2.delete_snapshot" and step["status"] == "needs_approval"
            assert any("destructive" in r for r in step["approval_reasons"])
            plan_id = planned["plan"]["plan_id"]
            ran = await call(client, mcp_estate, "execute_plan", {"plan_id": plan_id})
            [held] = ran["steps"]
            assert held["status"] == "needs_approval" and held["approval_request"]
            assert mcp_estate.snapshots_left() == set(mcp_estate.snapshots)  # nothing deleted
            asked = await call(client, mcp_estate, "request_approval", {"plan_id": plan_id})
            assert [s["approval_request"] for s in asked["steps"]] == [held["approval_request"]]  # reused
            again = await call(client, mcp_estate, "execute_plan", {"plan_id": plan_id})
            assert again["steps"][0]["status"] == "needs_approval"
            assert mcp_estate.snapshots_left() == set(mcp_estate.snapshots)

            env = {**os.environ, "ESCHER_USER": "alice"}
            done = subprocess.run([ESCHER, "-o", "json", "approvals", "approve", held["approval_request"]],
                                  env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            status = await call(client, mcp_estate, "request_approval", {"plan_id": plan_id})
            assert (
                status["steps"][0]["status"] == "approved"
            )  # the person's approval is recorded: nothing new asked
            ran = await call(client, mcp_estate, "execute_plan", {"plan_id": plan_id})
            assert ran["steps"][0]["status"] == "executed", ran
            return str(held["approval_request"])

    request_id = anyio.run(go)
    assert mcp_estate.snapshots_left() == set()
    assert canaries.leaked("\n".join(mcp_estate.answers)) == []
    ledger = mcp_estate.audit()
    [asked] = [r for r in ledger if r["action"] == "approval.request"]
    assert asked["details"]["channel"] == "mcp:pytest-stdio" and asked["actor"] == "user:mona"
    [granted] = [r for r in ledger if r["action"] == "approval.grant"]
    assert (
        granted["actor"] == "user:alice" and "channel" not in granted["details"]
    )  # the person, in a terminal
    deleted = [r for r in ledger if r["action"] == "aws.ec2.delete_snapshot" and r["outcome"] == "verified"]
    assert sorted(r["target"] for r in deleted) == mcp_estate.snapshots
    allowed = [r for r in ledger if r["action"] == "policy.allow"]
    assert [r["details"]["via"] for r in allowed] == [f"approval:{request_id}"]
    # showing a plan and asking for approval are previews: the held step is on the record as one approval
    # request, not as a refusal per preview
    assert [r for r in ledger if r["action"] == "policy.refuse"] == []


def test_a_single_operator_cannot_approve_through_mcp(mcp_estate: McpEstate) -> None:
    """No [personas]: the one user is a manager who may self-approve, but only in a terminal with --approve."""

    async def go() -> None:
        async with stdio_client() as client:
            planned = await call(client, mcp_estate, "plan_request", {"request": "delete all snapshots"})
            plan_id = planned["plan"]["plan_id"]
            for _ in range(2):
                ran = await call(client, mcp_estate, "execute_plan", {"plan_id": plan_id})
                assert ran["steps"][0]["status"] == "needs_approval"
                assert "--approve" in ran["steps"][0]["how_to_approve"]
            bad = await client.call_tool("execute_plan", {"plan_id": "P-" + "0" * 16})
            assert bad.is_error and "no plan" in bad.content[0].text

    anyio.run(go)
    assert mcp_estate.snapshots_left() == set(mcp_estate.snapshots)
    assert not [
        r
        for r in mcp_estate.audit()
        if r["action"].startswith("approval.") and r["action"] != "approval.request"
    ]


def test_http_refuses_a_request_without_the_token(http_server: HttpServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    for auth in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
        reply = httpx2.post(http_server.url, json=body, headers={**headers, **auth}, timeout=30)
        assert reply.status_code == 401 and reply.json()["error"] == "unauthorized"
    rebound = {**headers, "authorization": f"Bearer {TOKEN}", "host": "attacker.example"}
    reply = httpx2.post(http_server.url, json=body, headers=rebound, timeout=30)
    assert reply.status_code in (403, 421)  # the token is not enough: DNS rebinding is refused by Host

    async def without_token() -> None:
        async with http_client(http_server.url, token=None) as client:
            await client.list_tools()

    from mcp import MCPError

    with pytest.raises(ExceptionGroup) as refused:  # the SDK client cannot even connect
        anyio.run(without_token)
    assert refused.group_contains(MCPError)


def test_http_read_tools_and_a_stop_with_the_token(http_server: HttpServer, mcp_estate: McpEstate) -> None:
    async def go() -> None:
        async with http_client(http_server.url) as client:
            await read_sweep(client, mcp_estate)
            await stop_dev(client, mcp_estate, "mcp:pytest-http")

    anyio.run(go)
    assert canaries.leaked("\n".join(mcp_estate.answers)) == []


def test_a_playbook_plans_only_its_tag_selected_steps_and_runs_the_chosen_one(mcp_estate: McpEstate) -> None:
    async def go() -> None:
        async with stdio_client() as client:
            planned = await call(client, mcp_estate, "plan_playbook",
                                 {"playbook_id": "aws-cost-dev-after-hours", "region": "us-east-1"})  # fmt: skip
            steps = planned["plan"]["steps"]
            assert [s["operation"] for s in steps] == ["aws.ec2.stop_instances", "aws.ec2.start_instances"]
            assert sorted(c["target"] for c in steps[0]["changes"]) == mcp_estate.dev  # env=dev, nothing else
            assert [n["title"] for n in planned["not_planned"]] == ["Stop dev databases"]  # names no targets
            ran = await call(
                client, mcp_estate, "execute_plan", {"plan_id": planned["plan"]["plan_id"], "steps": [0]}
            )
            assert [s["status"] for s in ran["steps"]] == ["executed"]

    anyio.run(go)
    states = mcp_estate.states()
    assert {i: states[i] for i in mcp_estate.dev} == dict.fromkeys(mcp_estate.dev, "stopped")
    assert {i: states[i] for i in mcp_estate.prod} == dict.fromkeys(mcp_estate.prod, "running")


def test_without_a_database_url_the_embedded_store_is_held_while_serving_and_released_after(
    escher_home: Path,
) -> None:
    def running() -> bool:
        found = subprocess.run(
            ["pgrep", "-f", f"postgres -D {escher_home / 'data'}"], capture_output=True, check=False
        )
        return found.returncode == 0

    async def go() -> None:
        async with stdio_client() as client:
            for _ in range(2):
                verified = await call(client, None, "audit_verify")
                assert verified["ok"] is True
                assert running()  # held between calls, not started and stopped by each

    anyio.run(go)
    deadline = (
        time.monotonic() + 30
    )  # the client closes the pipes; the server then stops Postgres (pg_ctl -w)
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running()
