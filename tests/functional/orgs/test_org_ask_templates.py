"""Asking about, and acting in, some accounts of the organization (moto Organizations, each member account reached
through its OrganizationAccountAccessRole, the local planner, no model):

- `escher ask --account A` sees only A's resources, and a plan it makes acts only in A;
- `escher ops plan|run --account A --account B` (and `--all-accounts`) plans and runs per account, one gate
  decision and ledger record per account;
- `escher templates run NAME --account ID` runs a template limited to some accounts in one of them, and the
  gate refuses, and records, a run in another;
- `escher report --all-accounts` is the whole estate's report (the default).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.orgs.org_estate import REGION, Org, member_session, seed_org

STOP = "aws.ec2.stop_instances"
QUESTION = "stop the dev instances in us-east-1"


@pytest.fixture
def org(aws_env: MotoEmulator, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("ESCHER_USER", "alice")
    monkeypatch.setenv("COLUMNS", "200")
    yield seed_org(2)


def _invoke(*args: str) -> Any:
    from escher.cli.main import app

    return CliRunner().invoke(app, list(args))


def _instance(account: str) -> tuple[Any, str]:
    ec2 = member_session(account).client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "dev"}]}
    made = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=[spec]
    )
    return ec2, str(made["Instances"][0]["InstanceId"])


def _state(ec2: Any, iid: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"])


def _scan(*accounts: str) -> None:
    # a scan reads what its checks need in each account: the buckets, and the instances the plans act on
    res = _invoke("-o", "json", "scan", "--cloud", "aws", "-r", REGION,
                  "--checks", "aws.s3.bucket_public,aws.ec2.instance_public_ip",
                  *[a for account in accounts for a in ("--account", account)])  # fmt: skip
    assert res.exit_code == 0, res.output


def _ledger(action: str) -> list[dict[str, Any]]:
    rows = json.loads(_invoke("-o", "json", "audit", "list", "--action", action).stdout)
    return [r for r in rows if r.get("details", {}).get("operation") == STOP]


# -- ask -------------------------------------------------------------------------------------------------------
def test_ask_with_an_account_sees_only_that_accounts_buckets(org: Org) -> None:
    a, b = sorted(org.members)
    _scan(a, b)

    whole = _invoke("-o", "json", "ask", "list the s3 buckets", "--local")
    assert whole.exit_code == 0, whole.output
    assert org.members[a] in whole.stdout and org.members[b] in whole.stdout  # the estate holds both

    only_a = _invoke("-o", "json", "ask", "list the s3 buckets", "--local", "--account", a)
    assert only_a.exit_code == 0, only_a.output
    rows = json.loads(only_a.stdout)["response"]["table"]["rows"]
    assert any(org.members[a] in " ".join(row) for row in rows)
    assert org.members[b] not in only_a.stdout


def test_ask_to_stop_with_an_account_never_touches_another_accounts_instances(org: Org) -> None:
    a, b = sorted(org.members)
    ec2_a, in_a = _instance(a)
    ec2_b, in_b = _instance(b)
    _scan(a, b)

    res = _invoke("-o", "json", "ask", QUESTION, "--local", "--yes", "--account", a)

    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [s["targets"] for s in out["response"]["steps"]] == [[in_a]]  # the plan saw only A's instance
    assert [e["status"] for e in out["execution"]] == ["executed"]
    assert _state(ec2_a, in_a) == "stopped" and _state(ec2_b, in_b) == "running"
    assert [r["details"]["account"] for r in _ledger("policy.allow")] == [a]


def test_ask_over_all_accounts_acts_on_each_target_in_its_own_account(org: Org) -> None:
    a, b = sorted(org.members)
    ec2_a, in_a = _instance(a)
    ec2_b, in_b = _instance(b)
    _scan(a, b)

    res = _invoke("-o", "json", "ask", QUESTION, "--local", "--yes", "--all-accounts")

    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert sorted(out["response"]["steps"][0]["targets"]) == sorted([in_a, in_b])
    assert [e["status"] for e in out["execution"]] == ["executed", "executed"]
    assert _state(ec2_a, in_a) == "stopped" and _state(ec2_b, in_b) == "stopped"
    assert sorted(r["details"]["account"] for r in _ledger("policy.allow")) == [a, b]


def test_ask_with_account_and_all_accounts_together_is_refused(org: Org) -> None:
    res = _invoke("ask", QUESTION, "--local", "--account", sorted(org.members)[0], "--all-accounts")
    assert res.exit_code == 2 and "not both" in res.output


# -- ops plan|run over several accounts ------------------------------------------------------------------------
def test_ops_run_in_two_accounts_runs_in_each_with_its_own_ledger_records(org: Org) -> None:
    a, b = sorted(org.members)
    ec2_a, in_a = _instance(a)
    ec2_b, in_b = _instance(b)
    base = (STOP, "--tag", "env=dev", "-r", REGION, "--account", a, "--account", b)

    plan = _invoke("-o", "json", "ops", "plan", *base)
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert [(p["account"], [c["target"] for c in p["changes"]]) for p in planned] == [
        (a, [in_a]),
        (b, [in_b]),
    ]

    done = _invoke("-o", "json", "ops", "run", *base, "--yes")
    assert done.exit_code == 0, done.output
    assert [r["account"] for r in json.loads(done.stdout)] == [a, b]
    assert _state(ec2_a, in_a) == "stopped" and _state(ec2_b, in_b) == "stopped"
    assert sorted(r["details"]["account"] for r in _ledger("policy.allow")) == [a, b]
    verified = json.loads(_invoke("-o", "json", "audit", "list", "--action", STOP).stdout)
    assert sorted(r["target"] for r in verified if r["outcome"] == "verified") == sorted([in_a, in_b])


def test_ops_plan_over_all_accounts_plans_in_every_account_of_the_organization(org: Org) -> None:
    res = _invoke("-o", "json", "ops", "plan", STOP, "--tag", "env=dev", "-r", REGION, "--all-accounts")
    assert res.exit_code == 0, res.output
    accounts = [p["account"] for p in json.loads(res.stdout)]
    assert set(org.members) <= set(accounts) and org.management in accounts
    both = _invoke("ops", "plan", STOP, "-r", REGION, "--all-accounts", "--account", org.management)
    assert both.exit_code == 2 and "not both" in both.output


# -- templates -------------------------------------------------------------------------------------------------
def test_a_template_limited_to_an_account_runs_there_and_is_refused_and_recorded_elsewhere(
    org: Org, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = sorted(org.members)
    ec2_a, in_a = _instance(a)
    ec2_b, in_b = _instance(b)
    (escher_home / "config").mkdir(parents=True, exist_ok=True)
    (escher_home / "config" / "config.toml").write_text('[personas]\nmanagers = ["mona"]\n')
    tpl = escher_home / "stop.toml"
    tpl.write_text(f'name = "stop-dev-a"\noperation = "{STOP}"\naccounts = ["{a}"]\n')
    monkeypatch.setenv("ESCHER_USER", "mona")
    assert _invoke("templates", "add", str(tpl)).exit_code == 0
    monkeypatch.setenv("ESCHER_USER", "alice")
    base = ("-o", "json", "templates", "run", "stop-dev-a", "-r", REGION, "--yes")

    ok = _invoke(*base, "-t", in_a, "--account", a)
    assert ok.exit_code == 0, ok.output
    assert _state(ec2_a, in_a) == "stopped"

    refused = _invoke(*base, "-t", in_b, "--account", b)
    assert refused.exit_code == 4, refused.output
    assert f"account {b} is not one template stop-dev-a allows" in json.loads(refused.stdout)["refused"]
    assert _state(ec2_b, in_b) == "running"
    assert [r["details"]["account"] for r in _ledger("policy.refuse")] == [b]
    assert [r["details"]["account"] for r in _ledger("policy.allow")] == [a]


# -- report ----------------------------------------------------------------------------------------------------
def test_report_over_all_accounts_is_the_whole_estates_report(org: Org) -> None:
    a, b = sorted(org.members)
    _scan(a, b)
    whole = json.loads(_invoke("report", "--format", "json").stdout)["accounts"]
    every = _invoke("report", "--all-accounts", "--format", "json")
    assert every.exit_code == 0, every.output
    assert json.loads(every.stdout)["accounts"] == whole and len(whole) == 2
    one = json.loads(_invoke("report", "--account", a, "--format", "json").stdout)["accounts"]
    assert one != whole  # so the comparison above can tell the two apart
    both = _invoke("report", "--all-accounts", "--account", a)
    assert both.exit_code == 2 and "not both" in both.output


def test_the_context_of_some_accounts_keeps_what_is_theirs_and_what_belongs_to_no_account() -> None:
    from escher.assist.sources import in_accounts
    from escher.brain.models import ContextItem

    items = [
        ContextItem(kind="resource", id="i-a", account="111122223333"),
        ContextItem(kind="resource", id="i-b", account="444455556666"),
        ContextItem(kind="resource", id="i-none"),  # a resource that names no account is no one's to show
        ContextItem(kind="finding", id="f-b", account="444455556666"),
        ContextItem(
            kind="report",
            id="cost:account:aws:444455556666",
            name="444455556666",
            attrs={"dimension": "account"},
        ),
        ContextItem(
            kind="report",
            id="cost:account:aws:111122223333",
            name="111122223333",
            attrs={"dimension": "account"},
        ),
        ContextItem(kind="report", id="cost:total"),
        ContextItem(kind="alert", id="a-1"),
    ]
    kept = [i.id for i in in_accounts(items, {"111122223333"})]
    assert kept == ["i-a", "cost:account:aws:111122223333", "cost:total", "a-1"]
    assert [i.id for i in in_accounts(items, None)] == [i.id for i in items]
