"""Approval is its own act: which steps need one, who may give it, and that it is used once, before expiry.

No cloud: plans are built by hand with the state the engine would have read (``tag:env`` etc.).
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import OPERATIONS, Plan, PlannedChange, Target
from escher.ops.model import Risk
from escher.policy.approvals import ApprovalRequest, Approvals, MemoryApprovalStore
from escher.policy.errors import ApprovalError, PolicyError
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona, current_actor, load_personas, single_operator
from escher.policy.remediation import RemediationSettings
from escher.policy.settings import PolicySettings, load_policy
from escher.policy.templates import parse_template

MONA = Actor("mona", Persona.manager)
MAX = Actor("max", Persona.manager)
EDDIE = Actor("eddie", Persona.executor)
WORKER = Actor("aws", Persona.automation)
DEV = {"tag:env": "dev"}


def plan_for(
    op_id: str,
    targets: list[tuple[str, dict[str, Any] | None]],
    params: dict[str, Any] | None = None,
    *,
    action: str = "change",
    **op_changes: Any,
) -> Plan:
    op = OPERATIONS.get(op_id)
    if op_changes:  # the same operation as the catalogue might one day (mis)declare it
        op = dataclasses.replace(op, **op_changes)
    changes = [
        PlannedChange(Target(op.cloud, t, "us-east-1"), action, state, {}, "")  # type: ignore[arg-type]
        for t, state in targets
    ]
    return Plan(operation=op, params=op.parse_params(params), changes=changes, actor="user:x", reason="why")


def stop(n: int, state: dict[str, Any] | None = None) -> Plan:
    return plan_for("aws.ec2.stop_instances", [(f"i-{i}", state or DEV) for i in range(n)])


def held(gate: Gate, plan: Plan) -> bool:
    decision = gate.decide(plan)
    return not decision.allowed and decision.needs_approval


# -- which steps need approval -------------------------------------------------------------------------------
def test_a_medium_risk_step_on_a_few_dev_targets_needs_none() -> None:
    decision = Gate(EDDIE, MemoryAuditSink()).decide(stop(3))
    assert decision.allowed and decision.via == "low-risk"


def test_a_manager_gets_no_pass_on_a_step_that_needs_approval() -> None:
    gate = Gate(MONA, MemoryAuditSink(), single_operator=True)
    assert held(gate, plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})]))
    assert held(gate, stop(1, {"tag:env": "production"}))


@pytest.mark.parametrize(
    ("op_id", "params"),
    [
        ("aws.ec2.delete_snapshot", None),
        ("gcp.compute.delete_snapshot", None),
        ("aws.ec2.modify_instance_type", {"instance_type": "t3.large"}),
        ("azure.compute.resize_vm", {"vm_size": "Standard_B2s"}),
    ],
)
def test_destructive_steps_need_approval_even_when_the_catalogue_calls_them_low_risk(
    op_id: str, params: dict[str, Any] | None
) -> None:
    plan = plan_for(op_id, [("r-1", DEV)], params, risk=Risk.low, requires_approval=False)
    decision = Gate(MONA, MemoryAuditSink()).decide(plan)
    assert not decision.allowed and decision.needs_approval and "destructive" in decision.reason


def test_the_catalogue_flag_alone_makes_a_step_need_approval() -> None:
    plan = plan_for("aws.ec2.start_instances", [("i-1", DEV)], requires_approval=True)
    assert held(Gate(MONA, MemoryAuditSink()), plan)


@pytest.mark.parametrize(
    "state",
    [
        {"tag:env": "production"},
        {"tag:Environment": "PROD"},
        {"tag:stage": "prd"},
        {"tag:env": "live", "tag:Name": "web"},
    ],
)
def test_any_production_target_makes_a_step_need_approval(state: dict[str, str]) -> None:
    plan = plan_for("aws.ec2.stop_instances", [("i-dev", DEV), ("i-prod", state)])
    decision = Gate(MONA, MemoryAuditSink()).decide(plan)
    assert not decision.allowed and "1 target(s) in production: i-prod@us-east-1" in decision.reason


def test_production_words_and_the_production_rule_come_from_the_policy_section() -> None:
    plan = stop(2, {"tag:env": "main"})
    assert not held(Gate(MONA, MemoryAuditSink()), plan)
    words = load_policy({"policy": {"production_environments": ["Main"]}})
    assert held(Gate(MONA, MemoryAuditSink(), policy=words), plan)
    off = load_policy({"policy": {"production_needs_approval": False}})
    assert not held(Gate(MONA, MemoryAuditSink(), policy=off), stop(2, {"tag:env": "prod"}))


def test_a_target_in_the_wanted_state_counts_too_execute_may_still_change_it() -> None:
    plan = plan_for("aws.ec2.stop_instances", [("i-dev", DEV)])
    plan.changes.append(
        PlannedChange(Target("aws", "i-prod", "us-east-1"), "noop", {"tag:env": "prod"}, {}, "")
    )
    assert held(Gate(MONA, MemoryAuditSink()), plan)


def test_a_plan_that_changes_nothing_needs_no_approval() -> None:
    plan = plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": False})], action="noop")
    assert Gate(EDDIE, MemoryAuditSink()).decide(plan).via == "noop"


def test_more_targets_than_the_limit_need_approval_and_the_limit_is_configurable() -> None:
    gate = Gate(MONA, MemoryAuditSink())
    assert not held(gate, stop(10))
    decision = gate.decide(stop(11))
    assert not decision.allowed and "11 targets at once" in decision.reason
    gate.policy = load_policy({"policy": {"max_targets_without_approval": 20}})
    assert not held(gate, stop(11))


def test_the_policy_section_is_validated_by_the_policy_package() -> None:
    assert load_policy({}) == PolicySettings()
    with pytest.raises(PolicyError, match=r"max_targets_without_approvals.*known settings: max_targets"):
        load_policy({"policy": {"max_targets_without_approvals": 5}})
    with pytest.raises(PolicyError, match="max_targets_without_approval"):
        load_policy({"policy": {"max_targets_without_approval": 0}})
    assert load_policy({"policy": {"approval_ttl_hours": 2}}).approval_ttl == timedelta(hours=2)


# -- who may approve -----------------------------------------------------------------------------------------
def test_personas_default_to_one_operator_who_must_still_approve_explicitly() -> None:
    assert single_operator({}) and current_actor({}, {"ESCHER_USER": "solo"}).is_manager
    team = {"personas": {"managers": ["mona", "max"], "executors": ["eddie"]}}
    assert not single_operator(team)
    assert current_actor(team, {"ESCHER_USER": "max"}).is_manager
    assert current_actor(team, {"ESCHER_USER": "eddie"}).persona is Persona.executor
    alone = {"personas": {"single_operator": True}}
    assert single_operator(alone) and current_actor(alone, {"ESCHER_USER": "solo"}).is_manager
    with pytest.raises(PolicyError, match="single_operator"):
        load_personas({"personas": {"single_operators": True}})


def test_a_single_operator_approves_their_own_step_with_a_reason_recorded_in_the_ledger() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink)
    gate = Gate(MONA, sink, approvals=approvals, single_operator=True, self_approval="old backups, checked")
    plan = plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})])
    decision = gate.authorize(plan)
    assert decision.allowed and decision.via.startswith("approval:")
    [req] = approvals.list()
    assert decision.via == f"approval:{req.request_id}" and req.status == "executed"
    assert req.decided_by == "mona" and req.note == "old backups, checked"
    records = [(r.action, r.outcome, r.actor) for r in sink.records]
    assert records == [
        ("approval.request", "approval_requested", "user:mona"),
        ("approval.self_grant", "approved", "user:mona"),
        ("policy.allow", "info", "user:mona"),
    ]
    assert sink.records[1].reason == "old backups, checked"
    # the self-approval was for that run only: without --approve the same step is held again
    gate.self_approval = None
    assert held(gate, plan)


def test_a_self_approval_grants_the_pending_request_an_earlier_yes_left() -> None:
    approvals = Approvals(MemoryApprovalStore(), MemoryAuditSink())
    plan = plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})])
    first = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=MONA)
    gate = Gate(MONA, approvals.sink, approvals=approvals, single_operator=True, self_approval="ok")
    assert gate.authorize(plan).via == f"approval:{first.request_id}"
    assert [r.status for r in approvals.list()] == ["executed"]


@pytest.mark.parametrize(
    ("actor", "alone", "reason", "why"),
    [
        (MONA, False, "ok", "only in single-operator mode"),
        (EDDIE, True, "ok", "eddie is not a manager"),
        (MONA, True, "  ", "needs a reason"),
    ],
)
def test_self_approval_is_refused_outside_single_operator_mode_for_executors_and_without_a_reason(
    actor: Actor, alone: bool, reason: str, why: str
) -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink)
    gate = Gate(actor, sink, approvals=approvals, single_operator=alone, self_approval=reason)
    decision = gate.authorize(plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})]))
    assert not decision.allowed and why in decision.reason
    assert approvals.list() == [] and [r.action for r in sink.records] == ["policy.refuse"]
    with pytest.raises(ApprovalError):
        approvals.self_approve("aws.ec2.delete_snapshot", ["snap-1"], {}, by=EDDIE, reason="x")


def test_another_managers_approval_runs_it_once_for_those_targets_and_params_only() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink)
    params = {"instance_type": "t3.large"}
    req = approvals.request(
        "aws.ec2.modify_instance_type", ["i-1@us-east-1", "i-2@us-east-1"], params, by=MONA
    )
    with pytest.raises(ApprovalError, match="person who made it"):
        approvals.approve(req.request_id, by=MONA)
    approvals.approve(req.request_id, by=MAX)
    gate = Gate(MONA, sink, approvals=approvals)
    op = "aws.ec2.modify_instance_type"
    assert held(gate, plan_for(op, [("i-1", DEV)], {"instance_type": "t3.xlarge"}))  # other params
    assert held(gate, plan_for(op, [("i-1", DEV), ("i-3", DEV)], params))  # a target beyond it
    assert approvals.find_approved(op, [], params) is None  # an approval never covers "nothing named"
    decision = gate.authorize(plan_for(op, [("i-1", DEV), ("i-2", DEV)], params))
    assert decision.allowed and decision.via == f"approval:{req.request_id}"
    assert held(gate, plan_for(op, [("i-1", DEV), ("i-2", DEV)], params))  # used up


def test_an_approval_used_by_a_concurrent_run_is_refused_to_the_other() -> None:
    class Stale(Approvals):  # what a second process found a moment before the first one used it
        seen: ApprovalRequest | None = None

        def find_approved(self, *args: Any, **kwargs: Any) -> ApprovalRequest | None:
            return self.seen

    sink = MemoryAuditSink()
    approvals = Stale(MemoryApprovalStore(), sink)
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EDDIE)
    approvals.seen = approvals.approve(req.request_id, by=MONA)
    approvals.mark_executed(approvals.seen, "the-other-run")
    decision = Gate(EDDIE, sink, approvals=approvals).authorize(
        plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})])
    )
    assert not decision.allowed and "used or ended meanwhile" in decision.reason
    assert approvals.get(req.request_id).executed_plan == "the-other-run"


def test_approvals_run_id_uses_that_request_and_no_other() -> None:
    approvals = Approvals(MemoryApprovalStore(), MemoryAuditSink())
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EDDIE)
    approvals.approve(req.request_id, by=MONA)
    plan = plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})])
    assert held(Gate(EDDIE, approvals.sink, approvals=approvals, approval_id="someother"), plan)
    gate = Gate(EDDIE, approvals.sink, approvals=approvals, approval_id=req.request_id)
    assert gate.decide(plan).via == f"approval:{req.request_id}"


# -- expiry --------------------------------------------------------------------------------------------------
def test_an_approved_but_unused_request_stops_working_at_its_expiry_and_that_is_audited_once() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink, ttl=timedelta(hours=1))
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EDDIE)
    approved = approvals.approve(req.request_id, by=MONA)
    assert approved.status_at(req.expires_at - timedelta(seconds=1)) == "approved"
    assert approved.status_at(req.expires_at) == "expired"  # whatever else notices it
    plan = plan_for("aws.ec2.delete_snapshot", [("snap-1", {"exists": True})])
    before = Gate(EDDIE, sink, approvals=approvals, now=req.expires_at - timedelta(seconds=1))
    assert before.decide(plan).allowed
    after = Gate(EDDIE, sink, approvals=approvals, now=req.expires_at)
    decision = after.decide(plan)
    assert not decision.allowed and decision.needs_approval
    after.decide(plan)
    approvals.list(now=req.expires_at + timedelta(hours=1))
    expired = [r for r in sink.records if r.action == "approval.expire"]
    assert len(expired) == 1 and expired[0].details["was"] == "approved"
    assert approvals.store.get(req.request_id).status == "expired"  # type: ignore[union-attr]


def test_a_pending_request_expires_too_and_then_cannot_be_approved() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink, ttl=timedelta(seconds=-1))
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EDDIE)
    with pytest.raises(ApprovalError, match="is expired"):
        approvals.approve(req.request_id, by=MONA)
    assert [r.action for r in sink.records] == ["approval.request", "approval.expire"]


# -- standing approvals: remediation switches and templates ---------------------------------------------------
def test_automation_runs_only_what_a_switch_pre_approves_whatever_else_is_approved() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink)
    req = approvals.request("aws.ec2.stop_instances", ["i-0@us-east-1"], {}, by=EDDIE)
    approvals.approve(req.request_id, by=MONA)
    off = Gate(WORKER, sink, approvals=approvals, single_operator=True, self_approval="x")
    decision = off.decide(stop(1))
    assert not decision.allowed and "not pre-approved" in decision.reason
    on = Gate(WORKER, sink, remediation=RemediationSettings(stop_idle_instances=True, idle_hours=2))
    assert not on.decide(stop(1)).allowed  # the switch's bar: idle long enough
    on.facts = {"idle_hours": 3}
    assert on.decide(stop(1)).via == "remediation:stop_idle_instances"


def test_a_managers_template_is_a_standing_approval_inside_its_bounds_only() -> None:
    tpl = parse_template(
        {"name": "dev-resize", "operation": "aws.ec2.modify_instance_type", "max_targets": 2,
         "variables": {"instance_type": {"choices": ["t3.small"]}}, "target_tags": {"env": ["dev"]}},
        created_by="mona",
    )  # fmt: skip
    inside = plan_for("aws.ec2.modify_instance_type", [("i-1", DEV)], {"instance_type": "t3.small"})
    outside = plan_for(
        "aws.ec2.modify_instance_type", [("i-2", {"tag:env": "prod"})], {"instance_type": "t3.small"}
    )
    sink = MemoryAuditSink()
    gate = Gate(EDDIE, sink, template=tpl)
    assert gate.decide(inside).via == "template:dev-resize"
    refused = gate.decide(outside)
    assert not refused.allowed and "outside template dev-resize" in refused.reason
    # outside its bounds the person's own approval is the only way, and only where self-approval is allowed
    solo = Gate(MONA, sink, template=tpl, single_operator=True, self_approval="one-off")
    assert solo.decide(outside).via == "self-approval"
    team = Gate(MONA, sink, template=tpl, self_approval="one-off")
    assert not team.decide(outside).allowed


def test_a_held_step_says_what_to_do_next() -> None:
    alone = Gate(MONA, MemoryAuditSink(), single_operator=True)
    assert '--approve "reason"' in alone.next_step("abc")
    team = Gate(MONA, MemoryAuditSink())
    assert "escher approvals approve abc" in team.next_step("abc")
    assert "escher approvals run abc" in team.next_step("abc")


def test_running_a_request_uses_it_up_even_when_the_step_no_longer_needs_approval() -> None:
    """`escher approvals run ID` on a request whose step now passes the gate by itself (its production tag was
    removed, or nothing is left to change) still uses the request up: an approved request runs once, never again
    later when the step might need approval again."""
    approvals = Approvals(MemoryApprovalStore(), MemoryAuditSink())
    req = approvals.request("aws.ec2.stop_instances", ["i-1@us-east-1"], {}, by=EDDIE)
    approvals.approve(req.request_id, by=MONA)
    gate = Gate(EDDIE, approvals.sink, approvals=approvals, approval_id=req.request_id)
    decision = gate.authorize(stop(1))  # a dev instance now: low risk, no approval needed
    assert decision.allowed and decision.via == "low-risk"
    used = approvals.get(req.request_id)
    assert used.status == "executed" and used.executed_plan is not None
    again = Gate(EDDIE, approvals.sink, approvals=approvals, approval_id=req.request_id).authorize(stop(1))
    assert not again.allowed and "used or ended meanwhile" in again.reason


def test_a_pending_request_run_for_a_step_that_needs_no_approval_stays_pending() -> None:
    approvals = Approvals(MemoryApprovalStore(), MemoryAuditSink())
    req = approvals.request("aws.ec2.stop_instances", ["i-1@us-east-1"], {}, by=EDDIE)
    decision = Gate(EDDIE, approvals.sink, approvals=approvals, approval_id=req.request_id).authorize(stop(1))
    assert decision.allowed and approvals.get(req.request_id).status == "pending"
