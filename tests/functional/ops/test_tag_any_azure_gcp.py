"""azure.resources.tag_resource and gcp.resources.set_labels through the real SDKs, answered at their transports
in the documented shapes (azure-rest-api-specs Tags_GetAtScope / Tags_UpdateAtScope, api-version 2021-04-01;
compute v1 setLabels, sqladmin v1 instances.patch, run v2 services.patch); buckets on gcp-storage-emulator.
The exact requests are asserted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import (
    AzureReplayTransport,
    Exchange,
    FakeAzureCredential,
    HttplibReplay,
    Replay,
    RequestsReplayAdapter,
)
from tests.harness.replay import arm_not_found, google_not_found

SUB = "00000000-0000-0000-0000-000000000001"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv-app"
AZ = "azure.resources.tag_resource"
GCP = "gcp.resources.set_labels"


def azure_engine(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    return make_engine(ctx, sink, concurrency=1)


def tags_resource(scope: str, tags: dict[str, str]) -> dict[str, Any]:
    """``TagsResource`` as Tags_GetAtScope / Tags_UpdateAtScope answer it."""
    return {
        "id": f"{scope}/providers/Microsoft.Resources/tags/default",
        "name": "default",
        "type": "Microsoft.Resources/tags",
        "properties": {"tags": tags},
    }


@pytest.mark.parametrize(
    "scope",
    [VAULT, f"/subscriptions/{SUB}/resourceGroups/rg-app", f"/subscriptions/{SUB}",
     f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Sql/servers/sql-1/databases/orders"],
    ids=["key-vault", "resource-group", "subscription", "sql-database"],
)  # fmt: skip
def test_azure_tags_any_scope_with_one_merge_patch(sink: MemoryAuditSink, scope: str) -> None:
    tags_path = f"{scope}/providers/Microsoft.Resources/tags/default"
    merged = {"env": "dev", "owner": "carol"}
    replay = Replay(
        Exchange("GET", tags_path, tags_resource(scope, {"env": "dev"}), query="api-version=2021-04-01"),
        Exchange("GET", tags_path, tags_resource(scope, {"env": "dev"})),
        Exchange("PATCH", tags_path, tags_resource(scope, merged), query="api-version=2021-04-01"),
        Exchange("GET", tags_path, tags_resource(scope, merged)),
    )
    result = run(azure_engine(replay, sink), AZ, [Target("azure", scope)], {"tags": {"owner": "carol"}})
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [{"operation": "Merge", "properties": {"tags": {"owner": "carol"}}}]
    (res,) = result.results
    assert res.before == {"tag:env": "dev"} and res.after == {"tag:env": "dev", "tag:owner": "carol"}


def test_azure_a_tag_already_set_is_a_noop(sink: MemoryAuditSink) -> None:
    tags_path = f"{VAULT}/providers/Microsoft.Resources/tags/default"
    replay = Replay(
        Exchange("GET", tags_path, tags_resource(VAULT, {"owner": "carol"})),
        Exchange("GET", tags_path, tags_resource(VAULT, {"owner": "carol"})),
    )
    result = run(azure_engine(replay, sink), AZ, [Target("azure", VAULT)], {"tags": {"owner": "carol"}})
    assert result.counts() == {"noop": 1}
    assert replay.bodies("PATCH") == []


def test_azure_a_missing_resource_is_reported(sink: MemoryAuditSink) -> None:
    tags_path = f"{VAULT}/providers/Microsoft.Resources/tags/default"
    replay = Replay(arm_not_found(VAULT, status_path=tags_path))
    result = run(azure_engine(replay, sink), AZ, [Target("azure", VAULT)], {"tags": {"owner": "carol"}})
    (res,) = result.results
    assert res.outcome == "failed" and f"Azure resource {VAULT} was not found" in (res.error or "")


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("my-container", "not an Azure resource id"),
        (f"/subscriptions/{SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/sa/blobServices/"
         "default/containers/logs", "ARM tags do not apply"),
    ],
)  # fmt: skip
def test_azure_what_cannot_be_tagged_is_refused(sink: MemoryAuditSink, target: str, says: str) -> None:
    engine = azure_engine(Replay(), sink)
    plan = engine.plan(AZ, [Target("azure", target)], {"tags": {"owner": "carol"}}, actor="user:alice")
    assert plan.changes[0].action == "error" and says in (plan.changes[0].error or "")


# -- GCP: Compute ------------------------------------------------------------------------------------------------
ZONE = "/compute/v1/projects/acme-prod/zones/us-central1-a"
ZLINK = "https://compute.googleapis.com" + ZONE
GLOBAL = "/compute/v1/projects/acme-prod/global"


def gcp_engine(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsReplayAdapter(replay),
        gcp_discovery_http=HttplibReplay(replay),
    )
    return make_engine(ctx, sink, concurrency=1, verify_interval=0.01)


def labelled(
    kind: str, name: str, labels: dict[str, str], fingerprint: str = "42WmSpB8rSM="
) -> dict[str, Any]:
    return {"kind": f"compute#{kind}", "id": "1", "name": name, "labels": labels, "labelFingerprint": fingerprint,
            "status": "READY" if kind != "instance" else "RUNNING", "machineType": f"{ZLINK}/machineTypes/e2-small",
            "selfLink": f"{ZLINK}/{kind}s/{name}"}  # fmt: skip


def compute_op(name: str, status: str, where: str = ZLINK) -> dict[str, Any]:
    return {"kind": "compute#operation", "id": "7", "name": name, "status": status, "operationType": "setLabels",
            "progress": 100 if status == "DONE" else 0, "selfLink": f"{where}/operations/{name}",
            **({"zone": ZLINK} if where == ZLINK else {})}  # fmt: skip


@pytest.mark.parametrize(
    ("target", "path", "kind", "ops"),
    [
        ("projects/acme-prod/zones/us-central1-a/instances/web-1", f"{ZONE}/instances/web-1", "instance",
         f"{ZONE}/operations"),
        ("projects/acme-prod/zones/us-central1-a/disks/web-1-boot", f"{ZONE}/disks/web-1-boot", "disk",
         f"{ZONE}/operations"),
        ("projects/acme-prod/global/snapshots/web-1-nightly", f"{GLOBAL}/snapshots/web-1-nightly", "snapshot",
         f"{GLOBAL}/operations"),
    ],
    ids=["instance", "disk", "snapshot"],
)  # fmt: skip
def test_gcp_compute_set_labels_with_the_fingerprint_and_polls(
    sink: MemoryAuditSink, target: str, path: str, kind: str, ops: str
) -> None:
    name = path.rsplit("/", 1)[1]
    where = "https://compute.googleapis.com" + ops.rsplit("/operations", 1)[0]
    merged = {"env": "dev", "team": "web"}
    replay = Replay(
        Exchange("GET", path, labelled(kind, name, {"env": "dev"})),
        Exchange("GET", path, labelled(kind, name, {"env": "dev"})),
        Exchange("POST", f"{path}/setLabels", compute_op("op-l", "RUNNING", where)),
        Exchange("GET", f"{ops}/op-l", compute_op("op-l", "DONE", where)),
        Exchange("GET", path, labelled(kind, name, merged, "newFingerprint=")),
    )
    result = run(gcp_engine(replay, sink), GCP, [Target("gcp", target)], {"tags": {"team": "web"}})
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    assert replay.bodies("POST") == [{"labelFingerprint": "42WmSpB8rSM=", "labels": merged}]


def test_gcp_compute_set_labels_whose_operation_fails(sink: MemoryAuditSink) -> None:
    path = f"{ZONE}/disks/web-1-boot"
    failed = {**compute_op("op-l", "DONE"), "httpErrorStatusCode": 412, "httpErrorMessage": "PRECONDITION FAILED",
              "error": {"errors": [{"code": "CONDITION_NOT_MET",
                                    "message": "Labels fingerprint either invalid or resource labels have changed"}]}}  # fmt: skip
    replay = Replay(
        Exchange("GET", path, labelled("disk", "web-1-boot", {})),
        Exchange("GET", path, labelled("disk", "web-1-boot", {})),
        Exchange("POST", f"{path}/setLabels", compute_op("op-l", "RUNNING")),
        Exchange("GET", f"{ZONE}/operations/op-l", failed),
    )
    result = run(gcp_engine(replay, sink), GCP, [Target("gcp", "projects/acme-prod/zones/us-central1-a/disks/web-1-boot")],
                 {"tags": {"team": "web"}})  # fmt: skip
    replay.done()
    (res,) = result.results
    assert res.outcome == "failed" and "PRECONDITION FAILED" in (res.error or ""), res.error


def test_gcp_a_missing_disk_is_reported(sink: MemoryAuditSink) -> None:
    path = f"{ZONE}/disks/gone"
    replay = Replay(google_not_found(path, "projects/acme-prod/zones/us-central1-a/disks/gone"))
    result = run(gcp_engine(replay, sink), GCP, [Target("gcp", "projects/acme-prod/zones/us-central1-a/disks/gone")],
                 {"tags": {"team": "web"}})  # fmt: skip
    assert "Compute Engine disk projects/acme-prod/zones/us-central1-a/disks/gone was not found" in (
        result.results[0].error or ""
    )


# -- GCP: Cloud SQL and Cloud Run (googleapiclient on the shipped discovery documents) ----------------------------
SQL = "projects/acme-prod/instances/orders-db"
SQL_PATH = "/v1/projects/acme-prod/instances/orders-db"


def sql_instance(labels: dict[str, str]) -> dict[str, Any]:
    return {"kind": "sql#instance", "name": "orders-db", "project": "acme-prod", "state": "RUNNABLE",
            "settings": {"kind": "sql#settings", "tier": "db-custom-1-3840", "activationPolicy": "ALWAYS",
                         "userLabels": labels, "settingsVersion": "7"}}  # fmt: skip


def sql_op(status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"kind": "sql#operation", "name": "op-9", "status": status, "operationType": "UPDATE",
                          "targetId": "orders-db", "targetProject": "acme-prod"}  # fmt: skip
    if error:
        op["error"] = {"kind": "sql#operationErrors", "errors": [{"kind": "sql#operationError", **error}]}
    return op


def test_gcp_cloud_sql_user_labels_patched_and_the_operation_polled(sink: MemoryAuditSink) -> None:
    merged = {"env": "dev", "team": "orders"}
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance({"env": "dev"})),
        Exchange("GET", SQL_PATH, sql_instance({"env": "dev"})),
        Exchange("PATCH", SQL_PATH, sql_op("PENDING")),
        Exchange("GET", "/v1/projects/acme-prod/operations/op-9", sql_op("DONE")),
        Exchange("GET", SQL_PATH, sql_instance(merged)),
    )
    result = run(gcp_engine(replay, sink), GCP, [Target("gcp", SQL)], {"tags": {"team": "orders"}})
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [{"settings": {"userLabels": merged}}]


def test_gcp_cloud_sql_a_failed_operation_is_the_instance_s_failure(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance({})),
        Exchange("GET", SQL_PATH, sql_instance({})),
        Exchange(
            "PATCH", SQL_PATH, sql_op("DONE", {"code": "INTERNAL_ERROR", "message": "An internal error."})
        ),
    )
    (res,) = run(gcp_engine(replay, sink), GCP, [Target("gcp", SQL)], {"tags": {"team": "orders"}}).results
    assert res.outcome == "failed" and "INTERNAL_ERROR: An internal error." in (res.error or "")


RUN = "projects/acme-prod/locations/us-central1/services/orders-api"
RUN_PATH = f"/v2/{RUN}"
RUN_OPS = "/v2/projects/acme-prod/locations/us-central1/operations"


def run_service(labels: dict[str, str]) -> dict[str, Any]:
    return {"name": RUN, "uid": "0d7c", "generation": "7", "labels": labels, "etag": '"CKj9p7sG"',
            "template": {"containers": [{"image": "us-docker.pkg.dev/acme-prod/app/orders:7"}]},
            "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"}}  # fmt: skip


def run_lro(done: bool, error: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"name": "projects/acme-prod/locations/us-central1/operations/op-r", "done": done,
                          "metadata": {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": RUN}}  # fmt: skip
    if error:
        op["error"] = error
    return op


def test_gcp_cloud_run_labels_patched_with_update_mask_and_etag(sink: MemoryAuditSink) -> None:
    merged = {"team": "orders", "env": "prod"}
    replay = Replay(
        Exchange("GET", RUN_PATH, run_service({"team": "orders"})),
        Exchange("GET", RUN_PATH, run_service({"team": "orders"})),
        Exchange("PATCH", RUN_PATH, run_lro(False), query="updateMask=labels"),
        Exchange("GET", f"{RUN_OPS}/op-r", run_lro(True)),
        Exchange("GET", RUN_PATH, run_service(merged)),
    )
    result = run(gcp_engine(replay, sink), GCP, [Target("gcp", RUN)], {"tags": {"env": "prod"}})
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [{"labels": merged, "etag": '"CKj9p7sG"'}]


def test_gcp_cloud_run_a_failed_operation(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", RUN_PATH, run_service({})),
        Exchange("GET", RUN_PATH, run_service({})),
        Exchange("PATCH", RUN_PATH, run_lro(False)),
        Exchange("GET", f"{RUN_OPS}/op-r", run_lro(True, {"code": 9, "message": "Revision is not ready"})),
    )
    (res,) = run(gcp_engine(replay, sink), GCP, [Target("gcp", RUN)], {"tags": {"env": "prod"}}).results
    replay.done()
    assert res.outcome == "failed" and "Cloud Run could not label" in (res.error or "")


@pytest.mark.parametrize(
    ("target", "tags", "says"),
    [
        ("projects/acme-prod/global/firewalls/allow-ssh", {"a": "b"}, "firewall rules have no labels"),
        (
            "projects/acme-prod/regions/us-central1/subnetworks/default",
            {"a": "b"},
            "subnetworks have no labels",
        ),
        ("projects/acme-prod/serviceAccounts/x@acme-prod.iam.gserviceaccount.com", {"a": "b"}, "no labels"),
        ("projects/acme-prod/zones/us-central1-a/disks/d", {"Owner": "Carol"}, "is not a GCP label"),
    ],
)
def test_gcp_what_cannot_be_labelled_is_refused(
    sink: MemoryAuditSink, target: str, tags: dict[str, str], says: str
) -> None:
    replay = Replay()  # refused before anything is read
    plan = gcp_engine(replay, sink).plan(GCP, [Target("gcp", target)], {"tags": tags}, actor="user:alice")
    assert plan.changes[0].action == "error" and says in (plan.changes[0].error or ""), plan.changes[0].error


# -- GCP: a bucket on gcp-storage-emulator ------------------------------------------------------------------------
def test_gcp_bucket_labels_merged_on_the_emulator(
    sink: MemoryAuditSink, gcs_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud import storage

    for key, value in gcs_emulator.env().items():
        monkeypatch.setenv(key, value)
    gcs = storage.Client(project="escher-test")
    name = f"labels-{uuid.uuid4().hex[:8]}"
    bucket = gcs.create_bucket(name)
    bucket.labels = {"env": "dev"}
    bucket.patch()
    engine = make_engine(CloudContext(), sink)
    result = run(engine, GCP, [Target("gcp", name)], {"tags": {"team": "web"}})
    assert result.ok, result.to_dict()
    assert gcs.get_bucket(name).labels == {"env": "dev", "team": "web"}
