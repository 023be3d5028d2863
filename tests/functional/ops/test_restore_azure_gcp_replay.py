"""Restoring a snapshot to a new disk on Azure and GCP, through the real azure-mgmt-compute and
google-cloud-compute clients, answered at their transports in the documented shapes (azure-rest-api-specs
Disks_CreateOrUpdate "Create a managed disk from an existing snapshot": 202 + Azure-AsyncOperation, polled;
compute v1 disks.insert with ``sourceSnapshot``: a zonal operation, polled). The exact requests are asserted."""

from __future__ import annotations

from typing import Any

from google.auth.credentials import AnonymousCredentials

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from escher.ops.engine import Plan
from tests.functional.ops.conftest import make_engine
from tests.functional.ops.replay import (
    AzureReplayTransport,
    Exchange,
    FakeAzureCredential,
    Replay,
    RequestsReplayAdapter,
)
from tests.harness.replay import ARM, arm_async_operation, arm_error, arm_not_found, google_not_found

SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app"
SNAP = f"{RG}/providers/Microsoft.Compute/snapshots/web-1-os-nightly"


def key_for(plan_id: str, target: Target) -> str:
    fixed = Plan.__new__(Plan)  # the key depends on the plan id and the target only
    fixed.plan_id = plan_id
    return Plan.key_for(fixed, target)


def azure_engine(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    return make_engine(ctx, sink, concurrency=1)


def snapshot_body() -> dict[str, Any]:
    return {
        "name": "web-1-os-nightly",
        "id": SNAP,
        "type": "Microsoft.Compute/snapshots",
        "location": "westeurope",
        "tags": {"env": "dev", "escher:key": "an-old-key"},
        "properties": {
            "provisioningState": "Succeeded",
            "diskSizeGB": 30,
            "incremental": True,
            "creationData": {"createOption": "Copy", "sourceResourceId": f"{RG}/providers/Microsoft.Compute/disks/web-1-os"},
        },
    }  # fmt: skip


def disk_body(name: str, state: str = "Succeeded", source: str = SNAP) -> dict[str, Any]:
    return {
        "name": name,
        "id": f"{RG}/providers/Microsoft.Compute/disks/{name}",
        "type": "Microsoft.Compute/disks",
        "location": "westeurope",
        "sku": {"name": "Premium_LRS", "tier": "Premium"},
        "tags": {"env": "dev"},
        "properties": {
            "provisioningState": state,
            "diskSizeGB": 30,
            "diskState": "Unattached",
            "creationData": {"createOption": "Copy", "sourceResourceId": source},
        },
    }


def compute_operation(name: str) -> str:
    return f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/operations/{name}"


def test_azure_disk_from_snapshot_puts_a_copy_and_polls_the_operation(sink: MemoryAuditSink) -> None:
    target = Target("azure", SNAP)
    key = key_for("event-9", target)
    name = f"web-1-os-nightly-restored-{key[:10]}"
    disk = f"{RG}/providers/Microsoft.Compute/disks/{name}"
    replay = Replay(
        Exchange("GET", SNAP, snapshot_body()),  # plan: the snapshot, then its disk (not there yet)
        arm_not_found(disk),
        Exchange("GET", SNAP, snapshot_body()),  # execute re-reads
        arm_not_found(disk),
        Exchange("GET", SNAP, snapshot_body()),  # apply: the snapshot's location and tags
        arm_async_operation(
            "PUT",
            disk,
            compute_operation("op-disk"),
            in_progress=2,
            location=compute_operation("op-disk") + "?monitor=true",
        ),
        Exchange("GET", disk, disk_body(name)),  # the SDK's final GET after Succeeded
        Exchange("GET", SNAP, snapshot_body()),  # verify
        Exchange("GET", disk, disk_body(name)),
    )
    engine = azure_engine(replay, sink)
    plan = engine.plan(
        "azure.compute.create_disk_from_snapshot", [target], {"sku": "Premium_LRS"}, actor="user:alice",
        plan_id="event-9",
    )  # fmt: skip
    result = engine.execute(plan)
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    (put,) = replay.bodies("PUT")
    assert put == {
        "location": "westeurope",
        "tags": {"env": "dev", "escher:key": key, "escher:restored-from": "web-1-os-nightly"},
        "sku": {"name": "Premium_LRS"},
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": SNAP}},
    }
    assert result.results[0].details["disk_id"] == disk
    assert (result.results[0].after or {})["disk_state"] == "Succeeded"


def test_azure_disk_from_snapshot_whose_operation_fails_is_recorded_as_failed(sink: MemoryAuditSink) -> None:
    name = "web-1-restored"
    disk = f"{RG}/providers/Microsoft.Compute/disks/{name}"
    quota = arm_error(
        "OperationNotAllowed",
        "Operation results in exceeding quota limits of Core. Maximum allowed: 10, Current in use: 10.",
    )
    replay = Replay(
        Exchange("GET", SNAP, snapshot_body()),
        arm_not_found(disk),
        Exchange("GET", SNAP, snapshot_body()),
        arm_not_found(disk),
        Exchange("GET", SNAP, snapshot_body()),
        arm_async_operation("PUT", disk, compute_operation("op-bad"), error=quota),
    )
    engine = azure_engine(replay, sink)
    plan = engine.plan("azure.compute.create_disk_from_snapshot", [Target("azure", SNAP)],
                       {"disk_name": name}, actor="user:alice")  # fmt: skip
    result = engine.execute(plan)
    replay.done()
    (res,) = result.results
    assert res.outcome == "failed"
    assert f"Azure could not create a disk from snapshot {SNAP}: OperationNotAllowed" in (res.error or "")
    records = [r.outcome for r in sink.records if r.action == "azure.compute.create_disk_from_snapshot"]
    assert records == ["failed"]


def test_azure_an_existing_disk_made_from_something_else_is_never_taken_for_the_restore(
    sink: MemoryAuditSink,
) -> None:
    name = "web-1-restored"
    disk = f"{RG}/providers/Microsoft.Compute/disks/{name}"
    other = disk_body(name, source=f"{RG}/providers/Microsoft.Compute/snapshots/other")
    replay = Replay(
        Exchange("GET", SNAP, snapshot_body()),
        Exchange("GET", disk, other),
        Exchange("GET", SNAP, snapshot_body()),
        Exchange("GET", disk, other),
    )
    engine = azure_engine(replay, sink)
    plan = engine.plan("azure.compute.create_disk_from_snapshot", [Target("azure", SNAP)],
                       {"disk_name": name}, actor="user:alice")  # fmt: skip
    (res,) = engine.execute(plan).results
    replay.done()
    assert res.outcome == "failed" and "was not made from this snapshot" in (res.error or "")
    assert replay.bodies("PUT") == []


def test_azure_restore_of_a_missing_snapshot(sink: MemoryAuditSink) -> None:
    replay = Replay(arm_not_found(SNAP))
    engine = azure_engine(replay, sink)
    plan = engine.plan("azure.compute.create_disk_from_snapshot", [Target("azure", SNAP)], actor="user:alice")
    assert plan.changes[0].action == "error" and "was not found" in (plan.changes[0].error or "")


# -- GCP -------------------------------------------------------------------------------------------------------
GSNAP = "projects/acme-prod/global/snapshots/web-1-boot-nightly"
GSNAP_PATH = "/compute/v1/projects/acme-prod/global/snapshots/web-1-boot-nightly"
ZONE = "/compute/v1/projects/acme-prod/zones/europe-west1-b"
ZLINK = "https://compute.googleapis.com" + ZONE


def gcp_engine(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        gcp_credentials=AnonymousCredentials(), gcp_session_adapter=RequestsReplayAdapter(replay)
    )
    return make_engine(ctx, sink, concurrency=1)


def gsnapshot(status: str = "READY") -> dict[str, Any]:
    return {
        "kind": "compute#snapshot",
        "id": "5555",
        "name": "web-1-boot-nightly",
        "status": status,
        "diskSizeGb": "10",
        "labels": {"env": "dev", "escher-key": "an-old-key"},
        "selfLink": f"https://compute.googleapis.com{GSNAP_PATH}",
    }


def gdisk(name: str, status: str = "READY") -> dict[str, Any]:
    return {
        "kind": "compute#disk",
        "id": "8766",
        "name": name,
        "sizeGb": "10",
        "zone": ZLINK,
        "status": status,
        "sourceSnapshot": f"https://www.googleapis.com{GSNAP_PATH}",
        "type": f"{ZLINK}/diskTypes/pd-ssd",
        "selfLink": f"{ZLINK}/disks/{name}",
    }


def zone_operation(name: str, status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "kind": "compute#operation", "id": "42", "name": name, "zone": ZLINK, "operationType": "insert",
        "targetLink": f"{ZLINK}/disks/x", "status": status, "progress": 100 if status == "DONE" else 0,
        "selfLink": f"{ZLINK}/operations/{name}",
    }  # fmt: skip
    if error:
        op.update(error)
    return op


def test_gcp_disk_from_snapshot_inserts_with_source_snapshot_and_polls_the_zone_operation(
    sink: MemoryAuditSink,
) -> None:
    target = Target("gcp", GSNAP)
    key = key_for("event-3", target)
    name = f"web-1-boot-nightly-restored-{key[:10]}"
    disk = f"{ZONE}/disks/{name}"
    gone = f"projects/acme-prod/zones/europe-west1-b/disks/{name}"
    replay = Replay(
        Exchange("GET", GSNAP_PATH, gsnapshot()),
        google_not_found(disk, gone),
        Exchange("GET", GSNAP_PATH, gsnapshot()),
        google_not_found(disk, gone),
        Exchange("POST", f"{ZONE}/disks", zone_operation("operation-insert", "RUNNING")),
        Exchange("GET", f"{ZONE}/operations/operation-insert", zone_operation("operation-insert", "RUNNING")),
        Exchange("GET", f"{ZONE}/operations/operation-insert", zone_operation("operation-insert", "DONE")),
        Exchange("GET", GSNAP_PATH, gsnapshot()),  # verify: the disk is still being made, then READY
        Exchange("GET", disk, gdisk(name, "CREATING")),
        Exchange("GET", GSNAP_PATH, gsnapshot()),
        Exchange("GET", disk, gdisk(name)),
    )
    engine = gcp_engine(replay, sink)
    params = {"zone": "europe-west1-b", "disk_type": "pd-ssd"}
    plan = engine.plan("gcp.compute.create_disk_from_snapshot", [target], params, actor="user:alice",
                       plan_id="event-3")  # fmt: skip
    result = engine.execute(plan)
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    assert replay.bodies("POST") == [
        {
            "name": name,
            "sourceSnapshot": "projects/acme-prod/global/snapshots/web-1-boot-nightly",
            "type": "projects/acme-prod/zones/europe-west1-b/diskTypes/pd-ssd",
            "labels": {"env": "dev", "escher-key": key},
        }
    ]
    assert result.results[0].details["disk_id"] == f"projects/acme-prod/zones/europe-west1-b/disks/{name}"


def test_gcp_disk_from_snapshot_whose_operation_fails(sink: MemoryAuditSink) -> None:
    failed = zone_operation(
        "operation-insert",
        "DONE",
        {
            "httpErrorStatusCode": 403,
            "httpErrorMessage": "FORBIDDEN",
            "error": {"errors": [{"code": "QUOTA_EXCEEDED",
                                  "message": "Quota 'SSD_TOTAL_GB' exceeded. Limit: 500.0 in region europe-west1."}]},
        },
    )  # fmt: skip
    disk = f"{ZONE}/disks/restored-1"
    gone = "projects/acme-prod/zones/europe-west1-b/disks/restored-1"
    replay = Replay(
        Exchange("GET", GSNAP_PATH, gsnapshot()),
        google_not_found(disk, gone),
        Exchange("GET", GSNAP_PATH, gsnapshot()),
        google_not_found(disk, gone),
        Exchange("POST", f"{ZONE}/disks", zone_operation("operation-insert", "RUNNING")),
        Exchange("GET", f"{ZONE}/operations/operation-insert", failed),
    )
    engine = gcp_engine(replay, sink)
    plan = engine.plan("gcp.compute.create_disk_from_snapshot", [Target("gcp", GSNAP)],
                       {"zone": "europe-west1-b", "disk_name": "restored-1"}, actor="user:alice")  # fmt: skip
    (res,) = engine.execute(plan).results
    replay.done()
    assert res.outcome == "failed" and "FORBIDDEN" in (res.error or ""), res.error


def test_gcp_restore_of_a_snapshot_not_ready_is_refused_before_any_insert(sink: MemoryAuditSink) -> None:
    disk = f"{ZONE}/disks/restored-1"
    gone = "projects/acme-prod/zones/europe-west1-b/disks/restored-1"
    replay = Replay(
        Exchange("GET", GSNAP_PATH, gsnapshot("CREATING")),
        google_not_found(disk, gone),
        Exchange("GET", GSNAP_PATH, gsnapshot("CREATING")),
        google_not_found(disk, gone),
    )
    engine = gcp_engine(replay, sink)
    plan = engine.plan("gcp.compute.create_disk_from_snapshot", [Target("gcp", GSNAP)],
                       {"zone": "europe-west1-b", "disk_name": "restored-1"}, actor="user:alice")  # fmt: skip
    (res,) = engine.execute(plan).results
    replay.done()
    assert res.outcome == "failed" and "is CREATING: only a READY snapshot" in (res.error or "")
    assert replay.bodies("POST") == []


def test_gcp_restore_of_a_missing_snapshot(sink: MemoryAuditSink) -> None:
    replay = Replay(google_not_found(GSNAP_PATH, GSNAP))
    engine = gcp_engine(replay, sink)
    plan = engine.plan("gcp.compute.create_disk_from_snapshot", [Target("gcp", GSNAP)],
                       {"zone": "europe-west1-b"}, actor="user:alice")  # fmt: skip
    assert plan.changes[0].action == "error"
    assert f"snapshot {GSNAP} was not found" in (plan.changes[0].error or "")
