"""Remediation switches, approvals, templates and the gate: no cloud involved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escher.audit import MemoryAuditSink
from escher.config import Paths, load_settings
from escher.ops import OPERATIONS, Plan, PlannedChange, Target
from escher.policy.approvals import Approvals, JsonFileApprovalStore, MemoryApprovalStore
from escher.policy.errors import ApprovalError, PolicyError, TemplateError
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona, current_actor
from escher.policy.remediation import RemediationSettings, load_remediation, pre_approved, save_remediation
from escher.policy.runtime import parse_assignments
from escher.policy.templates import JsonFileTemplateStore, parse_template

MANAGER = Actor("mona", Persona.manager)
EXECUTOR = Actor("eddie", Persona.executor)
WORKER = Actor("aws", Persona.automation)


def plan_for(
    op_id: str, targets: list[tuple[str, dict[str, str]]], params: dict[str, str] | None = None
) -> Plan:
    op = OPERATIONS.get(op_id)
    changes = [
        PlannedChange(Target(op.cloud, t, "us-east-1"), "change", state, {}, "") for t, state in targets
    ]
    return Plan(operation=op, params=op.parse_params(params), changes=changes, actor="user:x", reason="")


# -- remediation -------------------------------------------------------------------------------------------
def test_remediation_is_off_by_default_and_each_switch_covers_its_operations() -> None:
    off = load_remediation({})
    assert pre_approved(off, "aws.s3.block_public_access", {}) is None
    on = load_remediation(
        {"remediation": {"make_public_buckets_private": True, "stop_idle_instances": True, "idle_hours": 3}}
    )
    assert pre_approved(on, "gcp.storage.remove_public_bindings", {}) == "make_public_buckets_private"
    assert pre_approved(on, "aws.ec2.stop_instances", {"idle_hours": 2.5}) is None  # not idle long enough
    assert pre_approved(on, "aws.ec2.stop_instances", {"idle_hours": 3}) == "stop_idle_instances"
    assert pre_approved(on, "aws.ec2.delete_snapshot", {"idle_hours": 99}) is None


def test_every_switch_names_real_operations() -> None:
    from escher.policy.remediation import SWITCHES

    assert all(op in OPERATIONS for s in SWITCHES for op in s.operations)


def test_remediation_typos_are_errors_and_saving_keeps_other_sections(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="stop_idle_instance"):
        load_remediation({"remediation": {"stop_idle_instance": True}})
    paths = Paths(tmp_path / "c", tmp_path / "d")
    paths.config_dir.mkdir()
    paths.config_file.write_text('[general]\ntimezone = "Europe/Paris"\n')
    save_remediation(paths, RemediationSettings(encrypt_unencrypted_volumes=True))
    settings = load_settings(paths, env={})
    assert settings.general.timezone == "Europe/Paris"
    assert load_remediation(settings.extensions).encrypt_unencrypted_volumes is True


# -- personas ----------------------------------------------------------------------------------------------
def test_personas() -> None:
    assert current_actor({}, {"ESCHER_USER": "solo"}).is_manager  # alone: manager of your own estate
    ext = {"personas": {"managers": ["mona"]}}
    assert current_actor(ext, {"ESCHER_USER": "mona"}).is_manager
    assert current_actor(ext, {"ESCHER_USER": "eddie"}).persona is Persona.executor


# -- approvals ---------------------------------------------------------------------------------------------
def test_approval_lifecycle_on_the_json_file(tmp_path: Path) -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(JsonFileApprovalStore(tmp_path), sink)
    req = approvals.request(
        "aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EXECUTOR, reason="cleanup"
    )
    with pytest.raises(ApprovalError, match="not a manager"):
        approvals.approve(req.request_id, by=EXECUTOR)
    with pytest.raises(ApprovalError, match="person who made it"):
        approvals.approve(req.request_id, by=Actor("eddie", Persona.manager))
    approved = approvals.approve(req.request_id, by=MANAGER, note="ok")
    assert approved.status == "approved" and approved.decided_by == "mona"
    # a second process sees the same state (it is on disk)
    again = Approvals(JsonFileApprovalStore(tmp_path), sink)
    assert again.get(req.request_id).status == "approved"
    with pytest.raises(ApprovalError, match="is approved, not pending"):
        again.reject(req.request_id, by=MANAGER)
    assert [r.outcome for r in sink.records] == ["approval_requested", "approved"]


def test_expired_requests_cannot_be_approved_or_used() -> None:
    approvals = Approvals(MemoryApprovalStore(), MemoryAuditSink(), ttl=timedelta(seconds=-1))
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EXECUTOR)
    assert approvals.list("expired") == [req] or approvals.list("expired")[0].request_id == req.request_id
    with pytest.raises(ApprovalError, match="expired"):
        approvals.approve(req.request_id, by=MANAGER)


# -- gate --------------------------------------------------------------------------------------------------
def test_gate_decisions() -> None:
    sink = MemoryAuditSink()
    risky = plan_for("aws.ec2.delete_snapshot", [("snap-1", {})])
    low = plan_for("aws.ec2.start_instances", [("i-1", {})])
    # being a manager approves nothing (this once encoded the unsafe rule: a manager ran it at once)
    held = Gate(MANAGER, sink).authorize(risky)
    assert not held.allowed and held.needs_approval
    assert Gate(EXECUTOR, sink).authorize(low).via == "low-risk"
    refused = Gate(EXECUTOR, sink).authorize(risky)
    assert not refused.allowed and refused.needs_approval and "approval" in refused.reason
    worker = Gate(WORKER, sink, remediation=RemediationSettings(make_public_buckets_private=True))
    assert worker.authorize(plan_for("aws.s3.block_public_access", [("b", {})])).allowed
    assert not worker.authorize(low).allowed  # even a low-risk op: automation runs only what was pre-approved
    assert [r.outcome for r in sink.records].count("refused") == 3


def test_an_approval_is_used_once_and_only_for_what_it_covers() -> None:
    sink = MemoryAuditSink()
    approvals = Approvals(MemoryApprovalStore(), sink)
    req = approvals.request("aws.ec2.delete_snapshot", ["snap-1@us-east-1"], {}, by=EXECUTOR)
    approvals.approve(req.request_id, by=MANAGER)
    gate = Gate(EXECUTOR, sink, approvals=approvals)
    other = plan_for("aws.ec2.delete_snapshot", [("snap-2", {})])
    assert not gate.authorize(other).allowed
    first = gate.authorize(plan_for("aws.ec2.delete_snapshot", [("snap-1", {})]))
    assert first.allowed and first.via == f"approval:{req.request_id}"
    assert not gate.authorize(plan_for("aws.ec2.delete_snapshot", [("snap-1", {})])).allowed


# -- templates ---------------------------------------------------------------------------------------------
TEMPLATE = {
    "name": "night-stop",
    "operation": "aws.ec2.modify_instance_type",
    "variables": {"instance_type": {"choices": ["t3.small", "t3.medium"]}},
    "max_targets": 2,
    "target_tags": {"env": ["dev", "staging"]},
    "window": "18:00-08:00",
}


def test_template_validation() -> None:
    with pytest.raises(TemplateError, match="has no parameter"):
        parse_template({**TEMPLATE, "fixed": {"size": "x"}}, created_by="mona")
    with pytest.raises(TemplateError, match="no operation named"):
        parse_template({**TEMPLATE, "operation": "aws.ec2.nuke"}, created_by="mona")
    with pytest.raises(TemplateError, match="HH:MM-HH:MM"):
        parse_template({**TEMPLATE, "window": "6pm-8am"}, created_by="mona")


def test_template_bounds_inside_and_outside(tmp_path: Path) -> None:
    store = JsonFileTemplateStore(tmp_path)
    store.put(parse_template(TEMPLATE, created_by="mona"))
    tpl = store.get("night-stop")
    assert tpl is not None
    assert tpl.params_for({"instance_type": "t3.small"}) == {"instance_type": "t3.small"}
    with pytest.raises(TemplateError, match="is not one of"):
        tpl.params_for({"instance_type": "m5.24xlarge"})
    night = datetime(2026, 1, 10, 22, 0, tzinfo=UTC)  # 23:00 in Paris
    day = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)
    dev = ("i-1", "us-east-1", {"tag:env": "dev"})
    assert tpl.violations([dev], night, "Europe/Paris") == []
    assert tpl.violations([dev], day, "Europe/Paris") == [
        "now is outside the window 18:00-08:00 (Europe/Paris)"
    ]
    why = tpl.violations([dev, ("i-2", "us-east-1", {"tag:env": "prod"}), dev], night, "Europe/Paris")
    assert "3 targets, at most 2 allowed" in why and any("env='prod'" in w for w in why)
    gate = Gate(EXECUTOR, MemoryAuditSink(), template=tpl, timezone="Europe/Paris", now=night)
    plan = plan_for(
        "aws.ec2.modify_instance_type", [("i-1", {"tag:env": "dev"})], {"instance_type": "t3.small"}
    )
    assert gate.authorize(plan).via == "template:night-stop"
    gate.now = day
    assert "outside template night-stop" in gate.authorize(plan).reason


def test_numeric_bounds_and_assignments() -> None:
    from escher.policy.templates import VariableBound

    bound = VariableBound(minimum=1, maximum=10)
    assert bound.violation("n", "5") is None and "above the maximum" in (bound.violation("n", 11) or "")
    assert parse_assignments(["tags.env=dev", "ports=[22, 443]", "n=5"], "param") == {
        "tags": {"env": "dev"},
        "ports": [22, 443],
        "n": "5",
    }
