"""The brain's intents for the resource operations of issue 21: restore from a snapshot, RDS reboot / resize /
storage, encrypting a named volume, and tags or labels on every collected kind. Each request plans exactly the
named (or filtered) resources with the catalogue's parameters, and never more."""

from __future__ import annotations

from typing import Any

import pytest

from escher.brain.catalog import OpsCatalog
from escher.brain.knowledge import load_knowledge
from escher.brain.models import AskRequest, ExecutionResponse, InformationResponse, PlanStep
from escher.brain.planner import Planner
from escher.ops import OPERATIONS
from tests.unit.brain.estate import ESTATE, SUB, r

AZ_SNAP = f"{SUB}/prod/providers/Microsoft.Compute/snapshots/prod-disk-snap"
GCP_SNAP = "projects/p1/global/snapshots/disk-1-nightly"
MORE = [
    r("orders-nightly", "aws", "aws.rds.snapshot", "us-east-1", name="orders-nightly", env="prod",
      db_instance_id="db-orders"),
    r(AZ_SNAP, "azure", "azure.compute.snapshot", "eastus", name="prod-disk-snap", env="prod"),
    r(GCP_SNAP, "gcp", "gcp.compute.snapshot", "global", name="disk-1-nightly", env="prod",
      source_disk="projects/p1/zones/us-central1-a/disks/disk-1"),
    r("gce-snap-2", "gcp", "gcp.compute.snapshot", "global", name="gce-snap-2"),  # its source disk unknown
]  # fmt: skip
CONTEXT = ESTATE + MORE


@pytest.fixture(scope="module")
def planner() -> Planner:
    return Planner(OpsCatalog(), load_knowledge())


def steps(planner: Planner, query: str) -> list[PlanStep]:
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    assert isinstance(resp, ExecutionResponse), resp.summary
    assert planner.check_plan(AskRequest(query=query, context=CONTEXT), resp.steps) is None
    for step in resp.steps:  # every planned parameter set is one the operation itself accepts
        OPERATIONS.get(step.operation_id).parse_params(step.params)
    return resp.steps


def plan(planner: Planner, query: str) -> list[tuple[str, list[str], dict[str, Any]]]:
    return sorted(
        (s.operation_id, s.targets, {k: v for k, v in s.params.items() if v is not None})
        for s in steps(planner, query)
    )


CASES: list[tuple[str, list[tuple[str, list[str], dict[str, Any]]]]] = [
    ("Reboot db-orders", [("aws.rds.reboot_db_instance", ["db-orders"], {})]),
    ("Restart the dev databases on AWS", [("aws.rds.reboot_db_instance", ["db-dev"], {})]),
    ("Resize db-dev to db.t3.large",
     [("aws.rds.resize_db_instance", ["db-dev"], {"db_instance_class": "db.t3.large", "apply_immediately": False})]),
    ("Increase the storage of db-orders by 20%", [("aws.rds.increase_storage", ["db-orders"], {"increase_percent": 20})]),
    ("Grow storage of all prod databases", [("aws.rds.increase_storage", ["db-orders"], {"increase_percent": 10})]),
    ("Increase the allocated storage of db-orders", [("aws.rds.increase_storage", ["db-orders"], {"increase_percent": 10})]),
    ("Restore snap-0a00000000000002 as a new volume",
     [("aws.ec2.restore_volume_from_snapshot", ["snap-0a00000000000002"], {})]),
    ("Restore snap-0a00000000000002", [("aws.ec2.restore_volume_from_snapshot", ["snap-0a00000000000002"], {})]),
    ("Restore the orders-nightly snapshot to a new database",
     [("aws.rds.restore_db_from_snapshot", ["orders-nightly"], {"db_instance_identifier": "orders-nightly-restored"})]),
    ("Restore prod-disk-snap", [("azure.compute.create_disk_from_snapshot", [AZ_SNAP], {})]),
    ("Restore snapshot disk-1-nightly", [("gcp.compute.create_disk_from_snapshot", [GCP_SNAP], {"zone": "us-central1-a"})]),
    ("Encrypt data-vol", [("aws.ec2.encrypt_volume", ["vol-0a00000000000001"], {})]),
    ("Tag db-orders with owner=alice",
     [("aws.tagging.tag_resource", ["db-orders"], {"tags": {"owner": "alice"}, "resource_type": "aws.rds.instance"})]),
    ("Tag all dev databases with owner=alice", [
        ("aws.tagging.tag_resource", ["db-dev"], {"tags": {"owner": "alice"}, "resource_type": "aws.rds.instance"}),
        ("azure.resources.tag_resource", [f"{SUB}/dev/providers/Microsoft.Sql/servers/s1/databases/orders-dev"],
         {"tags": {"owner": "alice"}}),
        ("gcp.resources.set_labels", ["projects/p1/instances/sql-dev"], {"tags": {"owner": "alice"}}),
    ]),
    ("Label disk-1 with Team=Data",
     [("gcp.resources.set_labels", ["projects/p1/zones/us-central1-a/disks/disk-1"], {"tags": {"team": "data"}})]),
    ("Tag the logs-public bucket with owner=alice",
     [("aws.tagging.tag_resource", ["logs-public"], {"tags": {"owner": "alice"}, "resource_type": "aws.s3.bucket"})]),
    ("Tag ssh-open with owner=alice", [("aws.tagging.tag_resource", ["sg-0a00000000000001"],
                                        {"tags": {"owner": "alice"}, "resource_type": "aws.ec2.security_group"})]),
    ("Tag prod-disk with owner=alice",
     [("azure.resources.tag_resource", [f"{SUB}/prod/providers/Microsoft.Compute/disks/prod-disk"],
       {"tags": {"owner": "alice"}})]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_request_plans_exactly_its_operation_targets_and_parameters(
    planner: Planner, query: str, expected: list[tuple[str, list[str], dict[str, Any]]]
) -> None:
    assert plan(planner, query) == sorted(expected)


def test_every_issue_21_operation_has_an_intent(planner: Planner) -> None:
    """Each operation issue 21 added is planned by some request above or in the golden utterances (the function
    operations: tests/unit/brain/test_planner_golden.py and the safety corpus)."""
    planned = {op for _, expected in CASES for op, _, _ in expected}
    from escher.brain.planner import OPS

    mapped = {op for per_cloud in OPS.values() for op in per_cloud.values()}
    wanted = {
        "aws.rds.increase_storage", "aws.rds.reboot_db_instance", "aws.rds.resize_db_instance",
        "aws.ec2.encrypt_volume", "aws.ec2.restore_volume_from_snapshot", "aws.rds.restore_db_from_snapshot",
        "azure.compute.create_disk_from_snapshot", "gcp.compute.create_disk_from_snapshot",
        "aws.tagging.tag_resource", "azure.resources.tag_resource", "gcp.resources.set_labels",
        "aws.lambda.stop_function", "aws.lambda.start_function", "aws.lambda.restart_function",
        "azure.functions.stop_app", "azure.functions.start_app", "azure.functions.restart_app",
        "gcp.run.scale_to_zero", "gcp.run.restore_scaling", "gcp.run.restart_service",
    }  # fmt: skip
    assert wanted - planned - mapped == set()
    assert wanted <= set(OPERATIONS.keys())


@pytest.mark.parametrize(
    "query", ["Restore all snapshots", "Restore old snapshots", "Restore the prod snapshots"]
)
def test_a_restore_never_picks_its_snapshots_by_filter(planner: Planner, query: str) -> None:
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    assert isinstance(resp, InformationResponse) and "Which snapshot?" in resp.summary
    # nor may the language model's plan do it for the same request
    step = PlanStep(operation_id="aws.ec2.restore_volume_from_snapshot", targets=["snap-0a00000000000001"],
                    region="us-east-1", params={}, reason=query)  # fmt: skip
    assert "must name each snapshot" in (
        planner.check_plan(AskRequest(query=query, context=CONTEXT), [step]) or ""
    )


def test_a_restore_never_reaches_a_snapshot_it_did_not_name(planner: Planner) -> None:
    req = AskRequest(query="Restore snap-0a00000000000002", context=CONTEXT)
    step = PlanStep(operation_id="aws.ec2.restore_volume_from_snapshot",
                    targets=["snap-0a00000000000001", "snap-0a00000000000002"], region="us-east-1", params={},
                    reason=req.query)  # fmt: skip
    assert "reaches beyond what you named" in (planner.check_plan(req, [step]) or "")


def test_a_gcp_snapshot_without_a_known_zone_is_not_planned_and_says_why(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="Restore gce-snap-2", context=CONTEXT))
    assert isinstance(resp, InformationResponse)
    assert any("needs a zone for gce-snap-2" in n for n in resp.notices), resp.notices


def test_broad_encryption_keeps_the_region_default_and_a_named_volume_is_encrypted_itself(
    planner: Planner,
) -> None:
    assert [s.operation_id for s in steps(planner, "Encrypt all unencrypted EBS volumes")] == [
        "aws.ec2.enable_ebs_encryption_by_default"
    ]
    (step,) = steps(planner, "Encrypt data-vol")
    assert step.operation_id == "aws.ec2.encrypt_volume" and step.requires_approval


def test_a_blob_container_is_not_tagged(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="Tag public-c with owner=alice", context=CONTEXT))
    assert isinstance(resp, InformationResponse)
    assert any("no tag operation for azure.storage.container" in n for n in resp.notices)


def test_increase_in_a_cost_question_is_not_a_storage_action(planner: Planner) -> None:
    resp = planner.ask(AskRequest(query="Why did the increase in storage cost happen?", context=CONTEXT))
    assert not isinstance(resp, ExecutionResponse) and resp.intent != "grow"


@pytest.mark.parametrize("query", ["Stop new instances", "Tag allocated disks with owner=alice"])
def test_the_restore_and_storage_phrases_teach_no_filter_word_to_be_ignored(
    planner: Planner, query: str
) -> None:
    # "new" and "allocated" are read only inside "to a new volume" / "allocated storage": alone they stay
    # unknown words, so the request plans nothing instead of acting on every instance or disk
    resp = planner.ask(AskRequest(query=query, context=CONTEXT))
    assert isinstance(resp, InformationResponse) and resp.intent == "not_found", resp.summary
