"""Operations in another account of the organization: `escher ops plan|run --account ID` act there through the
organization role and the ledger records the account; a template's `accounts` allow-list is a hard bound of
the one gate (an op in an account outside it is refused, and the refusal is recorded with the account).

Every act is on the record: a step `escher ops run` does not run because the gate refused or held it leaves
its refusal in the (verified) ledger, and every record the engine writes for a resource names the account the
resource is in. Over several accounts each --target id is planned only in the account the inventory holds it
in."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.orgs.org_estate import REGION, Org, member_session, seed_org

OP = "aws.s3.block_public_access"
STOP = "aws.ec2.stop_instances"


@pytest.fixture
def org(aws_env: MotoEmulator, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Org]:
    monkeypatch.setenv("ESCHER_USER", "alice")
    monkeypatch.setenv("COLUMNS", "200")  # the audit table shows the account column whole
    yield seed_org(2)


def _invoke(*args: str) -> Any:
    from escher.cli.main import app

    return CliRunner().invoke(app, list(args))


def _instance(account: str, env: str = "dev") -> tuple[Any, str]:
    """An EC2 instance made inside ``account`` (moto keeps each account's instances apart, as S3 buckets are
    not: their names are global there too), and that account's EC2 client."""
    ec2 = member_session(account).client("ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}
    made = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=[spec]
    )
    return ec2, str(made["Instances"][0]["InstanceId"])


def _state(ec2: Any, iid: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"])


def test_ops_run_with_account_acts_in_that_account_and_the_ledger_says_which(org: Org) -> None:
    member = sorted(org.members)[1]
    ec2, iid = _instance(member)

    plan = _invoke("-o", "json", "ops", "plan", STOP, "-t", iid, "-r", REGION, "--account", member)
    assert plan.exit_code == 0, plan.output
    planned = json.loads(plan.stdout)
    assert planned["account"] == member and planned["decision"]["allowed"]
    assert [c["action"] for c in planned["changes"]] == ["change"]  # read in the member account

    mine = _invoke("-o", "json", "ops", "plan", STOP, "-t", iid, "-r", REGION)  # the caller's own account
    assert [c["action"] for c in json.loads(mine.stdout)["changes"]] == ["error"], mine.output

    done = _invoke("-o", "json", "ops", "run", STOP, "-t", iid, "-r", REGION, "--account", member, "--yes")
    assert done.exit_code == 0, done.output
    assert _state(ec2, iid) == "stopped"

    audit = json.loads(_invoke("-o", "json", "audit", "list", "--action", "policy.allow").stdout)
    assert [r["details"]["account"] for r in audit if r.get("details", {}).get("operation") == STOP] == [
        member
    ]


def test_ops_run_into_an_account_whose_role_is_refused_says_what_to_do(
    org: Org, aws_env: MotoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.functional.orgs.org_estate import DenyingProxy

    locked = sorted(org.members)[0]
    ec2, iid = _instance(locked)
    with DenyingProxy(aws_env.port, {locked}) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
        res = _invoke("ops", "run", STOP, "-t", iid, "-r", REGION, "--account", locked, "--yes")

    assert res.exit_code != 0 and proxy.refused == 1
    from escher.clouds.errors import CloudError

    error = res.exception  # what `escher` prints: the message and the hint, no traceback
    assert isinstance(error, CloudError) and error.code == "AccessDenied"
    assert "OrganizationAccountAccessRole" in str(error.hint) and locked in str(error.hint)
    assert _state(ec2, iid) == "running"


def _ledger(action: str) -> list[dict[str, Any]]:
    """The ledger's records of ``action`` (an operation id, or policy.allow / policy.refuse of STOP)."""
    rows = json.loads(_invoke("-o", "json", "audit", "list", "--action", action).stdout)
    return [r for r in rows if r["action"] == STOP or r.get("details", {}).get("operation") == STOP]


def _verified() -> bool:
    res = _invoke("-o", "json", "audit", "verify")
    return res.exit_code == 0 and json.loads(res.stdout)["ok"] is True


# -- every act on the record -----------------------------------------------------------------------------------
def test_ops_run_of_a_step_the_gate_holds_leaves_its_refusal_in_the_verified_ledger_and_runs_nothing(
    org: Org,
) -> None:
    member = sorted(org.members)[1]
    ec2, iid = _instance(member, env="production")

    res = _invoke("-o", "json", "ops", "run", STOP, "-t", iid, "-r", REGION, "--account", member, "--yes")

    assert res.exit_code == 5, res.output  # held for approval: --yes approves nothing
    assert _state(ec2, iid) == "running"
    [refusal] = _ledger("policy.refuse")
    assert refusal["outcome"] == "refused" and "in production" in refusal["reason"]
    assert refusal["details"]["account"] == member and refusal["details"]["needs_approval"] is True
    assert refusal["target"] == f"{iid}@{REGION}"
    assert _ledger(STOP) == [] and _ledger("policy.allow") == []  # the engine ran nothing
    assert _verified()


def test_ops_run_refused_outright_is_recorded_once(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    """--approve outside single-operator mode: a refusal, not a hold (no approval request is made)."""
    member = sorted(org.members)[0]
    ec2, iid = _instance(member, env="production")
    config = Path(os.environ["ESCHER_CONFIG_DIR"])
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text('[personas]\nsingle_operator = false\nmanagers = ["alice"]\n')

    res = _invoke(
        "-o", "json", "ops", "run", STOP, "-t", iid, "-r", REGION, "--account", member, "--approve", "hotfix"
    )

    assert res.exit_code == 4, res.output
    assert "single-operator mode" in json.loads(res.stdout)["refused"]
    assert _state(ec2, iid) == "running"
    [refusal] = _ledger("policy.refuse")
    assert "single-operator mode" in refusal["reason"] and refusal["details"]["account"] == member
    assert "needs_approval" not in refusal["details"]
    assert _ledger(STOP) == []
    assert _verified()


def test_every_record_the_engine_writes_for_a_resource_in_a_member_account_names_that_account(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli._render import console

    monkeypatch.setattr(console(), "width", 200)  # the process's console may predate COLUMNS: the table whole
    member = sorted(org.members)[1]
    ec2, iid = _instance(member)

    done = _invoke("-o", "json", "ops", "run", STOP, "-t", iid, "-r", REGION, "--account", member, "--yes")

    assert done.exit_code == 0, done.output and _state(ec2, iid) == "stopped"
    acts = _ledger(STOP)
    assert sorted(r["outcome"] for r in acts) == ["succeeded", "verified"]
    assert [r["details"]["account"] for r in acts] == [member, member]
    shown = _invoke("audit", "list", "--action", STOP)
    assert shown.exit_code == 0 and "account" in shown.stdout and shown.stdout.count(member) == 2


# -- several accounts: each id where the inventory holds it ----------------------------------------------------
def _inventory(held: dict[str, str]) -> None:
    """The store's latest inventory: each instance id (-> account) where a scan found it, stored by the scan's
    own run_scan, as `escher scan --account A --account B` stores it (the collector is not what is tested here:
    test_org_scan.py is)."""
    from escher.config import load_settings
    from escher.scans.model import Inventory, Record
    from escher.scans.persist import close_store, open_store
    from escher.scans.runner import ScanOptions, run_scan

    records = [Record("aws", "aws.ec2.instance", iid, REGION, account) for iid, account in held.items()]
    store = open_store()
    try:
        options = ScanOptions(checks=["aws.ec2.instance_public_ip"])
        run_scan(load_settings(), options, store=store, inventory=Inventory(records=records))
    finally:
        close_store(store)


def test_ops_over_two_accounts_plans_and_runs_each_id_only_in_the_account_that_holds_it(org: Org) -> None:
    a, b = sorted(org.members)
    ec2_a, in_a = _instance(a)
    ec2_b, in_b = _instance(b)
    _inventory({in_a: a, in_b: b})
    ids = (STOP, "-t", in_a, "-t", in_b, "-r", REGION, "--account", a, "--account", b)

    plan = _invoke("-o", "json", "ops", "plan", *ids)

    assert plan.exit_code == 0, plan.output
    planned = [
        (p["account"], [(c["target"], c["action"]) for c in p["changes"]]) for p in json.loads(plan.stdout)
    ]
    assert planned == [(a, [(in_a, "change")]), (b, [(in_b, "change")])]

    done = _invoke("-o", "json", "ops", "run", *ids, "--yes")

    assert done.exit_code == 0, done.output
    assert _state(ec2_a, in_a) == _state(ec2_b, in_b) == "stopped"
    acts = _ledger(STOP)
    assert not [r for r in acts if r["outcome"] == "failed"]  # no id was looked for where it is not
    assert sorted(
        (r["target"], r["details"]["account"]) for r in acts if r["outcome"] == "verified"
    ) == sorted([(in_a, a), (in_b, b)])


def test_an_id_in_none_of_the_named_accounts_is_refused_naming_the_accounts_searched(org: Org) -> None:
    from escher.ops.model import OpError

    a, b = sorted(org.members)
    ec2, in_a = _instance(a)
    _inventory({in_a: a, "i-0aaaaaaaaaaaaaaaa": b})
    stray = "i-0123456789abcdef0"

    for command in ("plan", "run"):
        res = _invoke("ops", command, STOP, "-t", in_a, "-t", stray, "-r", REGION, "--account", a,
                      "--account", b, *(["--yes"] if command == "run" else []))  # fmt: skip
        error = res.exception
        assert isinstance(error, OpError), res.output
        assert stray in error.message and a in error.message and b in error.message
        assert in_a not in error.message and "escher scan" in str(error.hint)
    assert _state(ec2, in_a) == "running" and _ledger(STOP) == []


def test_a_bad_account_id_is_refused_before_any_call(org: Org) -> None:
    res = _invoke("ops", "plan", STOP, "-t", "i-0", "--account", "12345")
    assert res.exit_code == 2 and "12 digits" in res.output


# -- the one gate: a template's accounts ---------------------------------------------------------------------
def _plan(account_bucket: str) -> Any:
    from escher.ops import OPERATIONS, Plan, PlannedChange, Target

    op = OPERATIONS.get(OP)
    change = PlannedChange(Target("aws", account_bucket, "us-east-1"), "change", {"tag:env": "dev"}, {}, "")
    return Plan(operation=op, params=op.parse_params({}), changes=[change], actor="user:eddie", reason="why")


def test_a_template_refuses_an_account_outside_its_list_and_the_refusal_is_recorded() -> None:
    from escher.audit import MemoryAuditSink
    from escher.policy.gate import Gate
    from escher.policy.personas import Actor, Persona
    from escher.policy.templates import parse_template

    tpl = parse_template(
        {"name": "prod-s3", "operation": OP, "accounts": ["111122223333"]}, created_by="mona"
    )
    eddie = Actor("eddie", Persona.executor)
    sink = MemoryAuditSink()

    inside = Gate(eddie, sink, template=tpl, account="111122223333").authorize(_plan("b1"))
    assert inside.allowed and inside.via == "template:prod-s3"

    outside = Gate(eddie, sink, template=tpl, account="444455556666").authorize(_plan("b2"))
    assert not outside.allowed
    assert "account 444455556666 is not one template prod-s3 allows (111122223333)" in outside.reason
    refused = [r for r in sink.records if r.action == "policy.refuse"]
    assert [r.details["account"] for r in refused] == ["444455556666"]

    unnamed = Gate(eddie, sink, template=tpl).decide(_plan("b3"))
    assert not unnamed.allowed and "names no account (--account ID)" in unnamed.reason
    # no approval widens the list: a manager's own --approve cannot take the template to another account
    mona = Actor("mona", Persona.manager)
    solo = Gate(mona, sink, template=tpl, account="444455556666", single_operator=True, self_approval="now")
    assert not solo.decide(_plan("b4")).allowed
    # a template without accounts allows any
    anywhere = parse_template({"name": "any-s3", "operation": OP}, created_by="mona")
    assert Gate(eddie, sink, template=anywhere, account="444455556666").decide(_plan("b5")).allowed


def test_a_template_file_with_accounts_that_are_not_a_list_is_refused() -> None:
    from escher.policy.errors import TemplateError
    from escher.policy.templates import parse_template

    with pytest.raises(TemplateError, match="accounts"):
        parse_template({"name": "x", "operation": OP, "accounts": "111122223333"}, created_by="mona")
