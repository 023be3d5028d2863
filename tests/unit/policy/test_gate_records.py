"""Every act on the record, the same rules on every path, and every record in its account.

- a refusal the gate makes for a step is recorded once, whichever method asked (``decide``: a step about to
  run; ``authorize``: the engine), and a preview (``escher ops plan``) records nothing;
- an automation's remediation switch is no approval for production: ``decide`` and ``authorize`` agree;
- the engine's per-resource records name the account the resource is in;
- over several accounts each --target id is planned in the accounts the inventory holds it in.

No cloud: plans are built by hand with the state the engine would have read; the engine only dry-runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import OPERATIONS, Plan, PlannedChange, Target
from escher.ops.context import CloudContext
from escher.ops.engine import Engine
from escher.ops.model import OpError
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona
from escher.policy.remediation import RemediationSettings
from escher.policy.settings import PolicySettings

EDDIE = Actor("eddie", Persona.executor)
WORKER = Actor("aws", Persona.automation)
STOP = "aws.ec2.stop_instances"
IDLE = RemediationSettings(stop_idle_instances=True, idle_hours=2)
PROD = {"tag:env": "production"}
DEV = {"tag:env": "dev"}


def plan_for(
    op_id: str, targets: list[tuple[str, dict[str, Any] | None]], region: str | None = "us-east-1"
) -> Plan:
    op = OPERATIONS.get(op_id)
    changes = [PlannedChange(Target(op.cloud, t, region), "change", state, {}, "") for t, state in targets]
    return Plan(operation=op, params=op.parse_params(None), changes=changes, actor="user:x", reason="why")


def refusals(sink: MemoryAuditSink) -> list[Any]:
    return [r for r in sink.records if r.action == "policy.refuse"]


# -- a refusal is recorded once, for every caller --------------------------------------------------------------
def test_decide_records_a_refusal_once_and_authorize_of_the_same_plan_does_not_repeat_it() -> None:
    sink = MemoryAuditSink()
    gate = Gate(EDDIE, sink, account="111122223333")
    plan = plan_for(STOP, [("i-1", PROD)])

    held = gate.decide(plan)
    assert not held.allowed and held.needs_approval
    assert gate.authorize(plan) == held and gate.decide(plan) == held

    [refusal] = refusals(sink)
    assert refusal.outcome == "refused" and refusal.reason == held.reason
    assert refusal.correlation_id == plan.plan_id and refusal.target == "i-1@us-east-1"
    assert refusal.details["account"] == "111122223333" and refusal.details["needs_approval"] is True
    another = plan_for(STOP, [("i-1", PROD)])  # a new plan is a new decision: recorded
    gate.decide(another)
    assert [r.correlation_id for r in refusals(sink)] == [plan.plan_id, another.plan_id]


def test_a_preview_records_nothing_and_an_allowed_decision_is_recorded_only_when_the_step_runs() -> None:
    sink = MemoryAuditSink()
    gate = Gate(EDDIE, sink)

    assert not gate.preview(plan_for(STOP, [("i-1", PROD)])).allowed
    assert gate.decide(plan_for(STOP, [("i-2", DEV)])).allowed
    assert sink.records == ()
    assert gate.authorize(plan_for(STOP, [("i-3", DEV)])).allowed
    assert [r.action for r in sink.records] == ["policy.allow"]


def test_a_refusal_in_the_engine_is_recorded_by_the_gate_and_each_resource_is_refused() -> None:
    sink = MemoryAuditSink()
    gate = Gate(EDDIE, sink, account="111122223333")
    engine = Engine(CloudContext(), sink, gate, account="111122223333")
    plan = plan_for(STOP, [("i-1", PROD), ("i-2", DEV)])

    result = engine.execute(plan)

    assert [r.outcome for r in result.results] == ["refused", "refused"]
    assert len(refusals(sink)) == 1
    per_resource = [r for r in sink.records if r.action == STOP]
    assert [(r.target, r.outcome, r.details["account"]) for r in per_resource] == [
        ("i-1", "refused", "111122223333"),
        ("i-2", "refused", "111122223333"),
    ]


# -- a remediation switch is no approval for production --------------------------------------------------------
@pytest.mark.parametrize("ask", ["decide", "authorize"])
def test_an_automations_switch_does_not_cover_a_production_target_on_either_path(ask: str) -> None:
    sink = MemoryAuditSink()
    gate = Gate(WORKER, sink, remediation=IDLE, facts={"idle_hours": 3})

    decision = getattr(gate, ask)(plan_for(STOP, [("i-1", DEV), ("i-2", PROD)]))

    assert not decision.allowed and decision.needs_approval
    assert (
        "stop_idle_instances" in decision.reason
        and "1 target(s) in production: i-2@us-east-1" in decision.reason
    )
    assert len(refusals(sink)) == 1
    assert getattr(gate, ask)(plan_for(STOP, [("i-3", DEV)])).via == "remediation:stop_idle_instances"


def test_with_the_production_rule_off_the_switch_covers_production_as_for_a_person() -> None:
    off = PolicySettings(production_needs_approval=False)
    worker = Gate(WORKER, MemoryAuditSink(), remediation=IDLE, facts={"idle_hours": 3}, policy=off)
    person = Gate(EDDIE, MemoryAuditSink(), policy=off)
    plan = plan_for(STOP, [("i-2", PROD)])

    assert worker.decide(plan).allowed and worker.authorize(plan).allowed
    assert person.decide(plan).allowed


# -- the engine's records name the account -----------------------------------------------------------------------
def _dry_run_accounts(engine: Engine, plan: Plan) -> list[Any]:
    sink = engine.sink
    assert isinstance(sink, MemoryAuditSink)
    engine.execute(plan, dry_run=True)
    return [r.details.get("account") for r in sink.records if r.action == plan.operation.id]


def test_each_engine_record_names_the_account_the_engine_acts_in() -> None:
    sink = MemoryAuditSink()
    engine = Engine(CloudContext(), sink, Gate(EDDIE, sink), account="444455556666")
    assert _dry_run_accounts(engine, plan_for(STOP, [("i-1", DEV), ("i-2", DEV)])) == ["444455556666"] * 2


def test_without_an_account_the_engine_names_the_one_the_target_or_its_context_is_in() -> None:
    vm = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
    sink = MemoryAuditSink()
    azure = Engine(CloudContext(azure_subscription_id="sub-0"), sink, Gate(EDDIE, sink))
    assert _dry_run_accounts(azure, plan_for("azure.compute.deallocate_vm", [(vm, DEV)], None)) == ["sub-1"]

    sink = MemoryAuditSink()
    gcp = Engine(CloudContext(gcp_project="proj-0"), sink, Gate(EDDIE, sink))
    gce = "projects/proj-1/zones/us-central1-a/instances/web"
    assert _dry_run_accounts(
        gcp, plan_for("gcp.compute.stop_instance", [(gce, DEV), ("web2", DEV)], None)
    ) == [
        "proj-1",
        "proj-0",
    ]

    sink = MemoryAuditSink()
    aws = Engine(CloudContext(), sink, Gate(EDDIE, sink))
    assert _dry_run_accounts(aws, plan_for(STOP, [("i-1", DEV)])) == [None]  # a bare id names no account


# -- several accounts: each id where the inventory holds it ------------------------------------------------------
def _records(*held: tuple[str, str], cloud: str = "aws") -> list[dict[str, Any]]:
    return [
        {"cloud": cloud, "type": "aws.ec2.instance", "id": i, "account": a, "region": "us-east-1"}
        for i, a in held
    ]


def test_each_id_is_placed_in_the_named_accounts_that_hold_it_in_two_only_when_the_inventory_says_so() -> (
    None
):
    from escher.cli.commands.ops_cmd import place_targets

    records = _records(("i-a", "A"), ("i-b", "B"), ("i-ab", "A"), ("i-ab", "B"), ("i-c", "C"))
    placed = place_targets(records, "aws", ["A", "B"], ["i-a", "i-b", "i-ab", "i-a"])
    assert placed == {"A": ["i-a", "i-ab"], "B": ["i-b", "i-ab"]}
    assert place_targets(records, "aws", ["A", "B", "C"], ["i-c"]) == {"A": [], "B": [], "C": ["i-c"]}


def test_an_id_in_none_of_the_named_accounts_is_refused_naming_them() -> None:
    from escher.cli.commands.ops_cmd import place_targets

    records = _records(
        ("i-a", "A"),
        ("i-c", "C"),
        (
            "i-x",
            "B",
        ),
        cloud="aws",
    ) + _records(("i-z", "B"), cloud="gcp")
    with pytest.raises(OpError) as caught:
        place_targets(records, "aws", ["A", "B"], ["i-a", "i-c", "i-z"])
    assert caught.value.message.startswith("i-c, i-z: in none of the accounts searched (A, B)")
    assert "escher scan --cloud aws --account ID" in str(caught.value.hint)


def test_the_account_a_resource_id_names() -> None:
    from escher.ops._common import resource_account

    assert resource_account("aws", "arn:aws:ec2:us-east-1:111122223333:instance/i-1") == "111122223333"
    assert resource_account("aws", "arn:aws:s3:::bucket") is None and resource_account("aws", "i-1") is None
    assert resource_account("azure", "/SUBSCRIPTIONS/s1/resourceGroups/rg/providers/p/t/n") == "s1"
    assert resource_account("gcp", "projects/p1/global/firewalls/f") == "p1"
    assert resource_account("gcp", "//compute.googleapis.com/projects/p2/zones/z/instances/n") == "p2"
    assert resource_account("gcp", "web") is None
