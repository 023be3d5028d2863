"""Cloud SQL restart / resize / storage growth and the Cloud Run rollback, through googleapiclient's clients built
from the discovery documents it ships (sqladmin v1, run v2), the wire replayed at the ``httplib2`` seam. Bodies
follow the documents' ``DatabaseInstance`` / ``Operation`` and ``GoogleCloudRunV2Service`` / ``Revision`` /
``GoogleLongrunningOperation`` schemas; each test asserts the exact requests, operations that poll, one that
fails, throttling retried and a target that is not there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import Exchange, HttplibReplay, Replay
from tests.harness.replay import google_not_found, throttled

SQL = "projects/acme-prod/instances/orders-db"
SQL_PATH = "/v1/projects/acme-prod/instances/orders-db"
SQL_OPS = "/v1/projects/acme-prod/operations"


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    import escher.clouds.gcp.ops.run
    import escher.clouds.gcp.ops.sql

    monkeypatch.setattr(escher.clouds.gcp.ops.sql, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(escher.clouds.gcp.ops.run, "FIRST_POLL", 0.0)


def discovery(name: str) -> dict[str, Any]:
    import googleapiclient

    path = Path(googleapiclient.__file__).parent / "discovery_cache/documents" / name
    return dict(json.loads(path.read_text()))


def engine_for(replay: Replay, sink: MemoryAuditSink) -> Engine:
    return make_engine(CloudContext(gcp_discovery_http=HttplibReplay(replay)), sink, concurrency=1)


def instance(
    *, tier: str = "db-custom-2-7680", disk: int = 100, state: str = "RUNNABLE", policy: str = "ALWAYS",
    auto_resize: bool = False, limit: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """sqladmin v1 ``DatabaseInstance`` (int64 fields as strings, as the API sends them)."""
    return {
        "kind": "sql#instance",
        "name": "orders-db",
        "project": "acme-prod",
        "state": state,
        "databaseVersion": "POSTGRES_15",
        "region": "europe-west1",
        "connectionName": "acme-prod:europe-west1:orders-db",
        "instanceType": "CLOUD_SQL_INSTANCE",
        "backendType": "SECOND_GEN",
        "settings": {
            "kind": "sql#settings",
            "tier": tier,
            "activationPolicy": policy,
            "dataDiskSizeGb": str(disk),
            "dataDiskType": "PD_SSD",
            "storageAutoResize": auto_resize,
            "storageAutoResizeLimit": str(limit),
            "settingsVersion": "12",
        },
        "selfLink": f"https://sqladmin.googleapis.com{SQL_PATH}",
    }


def sql_operation(
    name: str, status: str, kind: str = "UPDATE", error: dict[str, Any] | None = None
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "kind": "sql#operation",
        "name": name,
        "status": status,
        "operationType": kind,
        "targetId": "orders-db",
        "targetProject": "acme-prod",
        "targetLink": f"https://sqladmin.googleapis.com{SQL_PATH}",
        "selfLink": f"https://sqladmin.googleapis.com{SQL_OPS}/{name}",
        "insertTime": "2026-12-07T11:00:00.000Z",
    }
    if error:
        op["error"] = {"kind": "sql#operationErrors", "errors": [{"kind": "sql#operationError", **error}]}
    return op


def test_the_discovery_documents_have_what_the_operations_send() -> None:
    sql = discovery("sqladmin.v1.json")
    methods = sql["resources"]["instances"]["methods"]
    assert methods["restart"]["httpMethod"] == "POST"
    assert methods["restart"]["path"] == "v1/projects/{project}/instances/{instance}/restart"
    assert methods["restart"]["response"] == {"$ref": "Operation"}
    settings = sql["schemas"]["Settings"]["properties"]
    assert settings["dataDiskSizeGb"]["type"] == "string" and settings["dataDiskSizeGb"]["format"] == "int64"
    assert {"tier", "storageAutoResize", "storageAutoResizeLimit"} <= set(settings)
    assert "DONE" in sql["schemas"]["Operation"]["properties"]["status"]["enum"]
    run_doc = discovery("run.v2.json")
    services = run_doc["resources"]["projects"]["resources"]["locations"]["resources"]["services"]
    assert services["resources"]["revisions"]["methods"]["list"]["path"] == "v2/{+parent}/revisions"
    traffic = run_doc["schemas"]["GoogleCloudRunV2TrafficTarget"]["properties"]
    assert "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION" in traffic["type"]["enum"]
    assert {"revision", "percent"} <= set(traffic)


# -- Cloud SQL ---------------------------------------------------------------------------------------------
def test_restart_posts_restart_and_polls_the_operation(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, instance()),  # plan
        Exchange("GET", SQL_PATH, instance()),  # execute reads again
        Exchange("POST", f"{SQL_PATH}/restart", sql_operation("op-r1", "PENDING", "RESTART")),
        Exchange("GET", f"{SQL_OPS}/op-r1", sql_operation("op-r1", "RUNNING", "RESTART")),
        Exchange("GET", f"{SQL_OPS}/op-r1", sql_operation("op-r1", "DONE", "RESTART")),
        Exchange("GET", SQL_PATH, instance()),  # verify
    )
    result = run(engine_for(replay, sink), "gcp.sql.restart_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    assert [(s.method, s.path) for s in replay.sent if s.method != "GET"] == [("POST", f"{SQL_PATH}/restart")]
    assert replay.bodies("POST") == [None]
    assert result.results[0].details["operation"] == "op-r1"


def test_restart_of_a_stopped_instance_is_refused_with_what_to_do(sink: MemoryAuditSink) -> None:
    stopped = instance(policy="NEVER")
    replay = Replay(Exchange("GET", SQL_PATH, stopped), Exchange("GET", SQL_PATH, stopped))
    (res,) = run(engine_for(replay, sink), "gcp.sql.restart_instance", [Target("gcp", SQL)]).results
    assert res.outcome == "failed"
    assert "is stopped (activation policy NEVER)" in (res.error or "")
    assert "gcp.sql.start_instance" in (res.error or "")
    assert [s.method for s in replay.sent] == ["GET", "GET"]  # nothing was asked of the restart API


def test_a_database_id_from_a_monitoring_incident_is_a_target_too(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, instance()),
        Exchange("GET", SQL_PATH, instance()),
        Exchange("POST", f"{SQL_PATH}/restart", sql_operation("op-r2", "DONE", "RESTART")),
        Exchange("GET", SQL_PATH, instance()),
    )
    result = run(engine_for(replay, sink), "gcp.sql.restart_instance", [Target("gcp", "acme-prod:orders-db")])
    assert result.ok, result.to_dict()


def test_increase_storage_patches_the_disk_size_and_verifies_it(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, instance(disk=100)),
        Exchange("GET", SQL_PATH, instance(disk=100)),
        Exchange("PATCH", SQL_PATH, sql_operation("op-s1", "PENDING")),
        Exchange("GET", f"{SQL_OPS}/op-s1", sql_operation("op-s1", "DONE")),
        Exchange("GET", SQL_PATH, instance(disk=100)),  # verify waits: the new size shows up later
        Exchange("GET", SQL_PATH, instance(disk=125)),
    )
    result = run(
        engine_for(replay, sink), "gcp.sql.increase_storage", [Target("gcp", SQL)], {"increase_percent": 25}
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"settings": {"dataDiskSizeGb": "125"}}]
    (res,) = result.results
    assert (res.before or {})["data_disk_size_gb"] == 100 and (res.after or {})["data_disk_size_gb"] == 125
    assert res.details["data_disk_size_gb_requested"] == 125


def test_increase_storage_under_a_lower_auto_increase_cap_is_refused_before_asking(
    sink: MemoryAuditSink,
) -> None:
    capped = instance(disk=100, auto_resize=True, limit=105)
    replay = Replay(Exchange("GET", SQL_PATH, capped), Exchange("GET", SQL_PATH, capped))
    result = run(engine_for(replay, sink), "gcp.sql.increase_storage", [Target("gcp", SQL)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert "capped at 105 GB, under the 110 GB" in (res.error or "")
    assert "--storage-auto-increase-limit=110" in (res.error or "")
    assert not replay.bodies("PATCH")


def test_a_failed_storage_operation_is_the_instance_s_failure_with_google_s_reason(
    sink: MemoryAuditSink,
) -> None:
    failed = sql_operation(
        "op-s2",
        "DONE",
        error={"code": "INVALID_DISK_SIZE", "message": "Disk size cannot be decreased or exceed the quota."},
    )
    replay = Replay(
        Exchange("GET", SQL_PATH, instance(disk=100)),
        Exchange("GET", SQL_PATH, instance(disk=100)),
        Exchange("PATCH", SQL_PATH, sql_operation("op-s2", "RUNNING")),
        Exchange("GET", f"{SQL_OPS}/op-s2", failed),
    )
    result = run(engine_for(replay, sink), "gcp.sql.increase_storage", [Target("gcp", SQL)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Cloud SQL could not grow the storage of {SQL} to 110 GB (operation op-s2): INVALID_DISK_SIZE: "
        "Disk size cannot be decreased"
    ), res.error
    assert [r.outcome for r in sink.records if r.action == "gcp.sql.increase_storage"] == ["failed"]


def test_resize_patches_the_tier_retrying_a_throttled_patch(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, instance()),
        Exchange("GET", SQL_PATH, instance()),
        throttled(Exchange("PATCH", SQL_PATH, sql_operation("op-t1", "PENDING")), google=True),
        Exchange("GET", f"{SQL_OPS}/op-t1", sql_operation("op-t1", "DONE")),
        Exchange("GET", SQL_PATH, instance(tier="db-custom-4-16384", state="MAINTENANCE")),
        Exchange("GET", SQL_PATH, instance(tier="db-custom-4-16384")),
    )
    result = run(
        engine_for(replay, sink),
        "gcp.sql.resize_instance",
        [Target("gcp", SQL)],
        {"tier": "db-custom-4-16384"},
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"settings": {"tier": "db-custom-4-16384"}}] * 2  # the 429, then again
    assert result.results[0].details["tier_before"] == "db-custom-2-7680"


def test_resize_of_a_missing_instance_is_reported_not_raised(sink: MemoryAuditSink) -> None:
    replay = Replay(google_not_found(SQL_PATH, "orders-db"))
    result = run(
        engine_for(replay, sink),
        "gcp.sql.resize_instance",
        [Target("gcp", SQL)],
        {"tier": "db-custom-4-16384"},
    )
    assert result.results[0].outcome == "failed"
    assert f"Cloud SQL instance {SQL} was not found" in (result.results[0].error or "")


# -- Cloud Run rollback -----------------------------------------------------------------------------------
SERVICE = "projects/acme-prod/locations/us-central1/services/orders-api"
RUN_PATH = f"/v2/{SERVICE}"
RUN_OPS = "/v2/projects/acme-prod/locations/us-central1/operations"


def service(traffic: list[dict[str, Any]], statuses: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": SERVICE,
        "uid": "0d7c2a2e-8f57-4a3c-9d8a-5f7e0f1b2c3d",
        "generation": "9",
        "labels": {"team": "orders"},
        "template": {"containers": [{"image": "us-docker.pkg.dev/acme-prod/app/orders:9"}]},
        "traffic": traffic,
        "trafficStatuses": statuses if statuses is not None else traffic,
        "observedGeneration": "9",
        "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        "latestReadyRevision": f"{SERVICE}/revisions/orders-api-00009-new",
        "latestCreatedRevision": f"{SERVICE}/revisions/orders-api-00009-new",
        "reconciling": False,
        "etag": '"CKj9p7sGEOjLq7sD/orders9"',
    }


LATEST = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]


def pinned(revision: str, percent: int = 100) -> dict[str, Any]:
    return {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": revision, "percent": percent}


def revision(name: str, created: str, *, ready: bool = True) -> dict[str, Any]:
    return {
        "name": f"{SERVICE}/revisions/{name}",
        "service": SERVICE,
        "createTime": created,
        "conditions": [
            {"type": "Ready", "state": "CONDITION_SUCCEEDED" if ready else "CONDITION_FAILED"},
            {"type": "Active", "state": "CONDITION_SUCCEEDED"},
        ],
    }


REVISIONS = [
    revision("orders-api-00009-new", "2026-12-07T10:00:00Z"),
    revision("orders-api-00008-bad", "2026-12-06T10:00:00Z", ready=False),  # never became ready
    revision("orders-api-00007-old", "2026-12-05T10:00:00Z"),
    revision("orders-api-00006-older", "2026-12-04T10:00:00Z"),
]


def revisions_pages() -> list[Exchange]:
    """services.revisions.list in two pages (``nextPageToken``), not in creation order."""
    first = {"revisions": [REVISIONS[2], REVISIONS[0]], "nextPageToken": "p2"}
    return [
        Exchange("GET", f"{RUN_PATH}/revisions", first),
        Exchange(
            "GET", f"{RUN_PATH}/revisions", {"revisions": [REVISIONS[3], REVISIONS[1]]}, query="pageToken=p2"
        ),
    ]


def run_op(name: str, *, done: bool, error: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "name": f"projects/acme-prod/locations/us-central1/operations/{name}",
        "metadata": {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": SERVICE},
        "done": done,
    }
    if error:
        op["error"] = error
    elif done:
        op["response"] = {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": SERVICE}
    return op


def test_rollback_sends_all_traffic_to_the_last_ready_revision_and_polls(sink: MemoryAuditSink) -> None:
    rolled = service([pinned("orders-api-00007-old")])
    replay = Replay(
        Exchange("GET", RUN_PATH, service(LATEST)),  # plan: the service and its revisions
        revisions_pages(),
        Exchange("GET", RUN_PATH, service(LATEST)),  # execute reads again
        revisions_pages(),
        Exchange("GET", RUN_PATH, service(LATEST)),  # the etag for the patch
        Exchange("PATCH", RUN_PATH, run_op("op-rb", done=False)),
        Exchange("GET", f"{RUN_OPS}/op-rb", run_op("op-rb", done=True)),
        Exchange("GET", RUN_PATH, rolled),  # verify
        revisions_pages(),
    )
    result = run(engine_for(replay, sink), "gcp.run.rollback_revision", [Target("gcp", SERVICE)])
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [
        {"traffic": [pinned("orders-api-00007-old")], "etag": '"CKj9p7sGEOjLq7sD/orders9"'}
    ]
    (patch,) = [s for s in replay.sent if s.method == "PATCH"]
    assert parse_qs(patch.query)["updateMask"] == ["traffic"]
    (res,) = result.results
    assert (res.before or {})["traffic"] == {"orders-api-00009-new": 100}
    assert (res.before or {})["rollback_to"] == "orders-api-00007-old"  # 00008 never became ready
    assert (res.after or {})["traffic"] == {"orders-api-00007-old": 100}
    assert res.details["rolled_back_to"] == "orders-api-00007-old"


def test_rollback_during_a_canary_goes_to_the_revision_the_rest_of_the_traffic_is_on(
    sink: MemoryAuditSink,
) -> None:
    canary = service([pinned("orders-api-00009-new", 10), pinned("orders-api-00007-old", 90)])
    replay = Replay(Exchange("GET", RUN_PATH, canary), revisions_pages())
    engine = engine_for(replay, sink)
    plan = engine.plan("gcp.run.rollback_revision", [Target("gcp", SERVICE)], actor="user:alice")
    (change,) = plan.changes
    assert change.wanted == {"traffic": {"orders-api-00007-old": 100}, "reconciling": False}


def test_rollback_with_nothing_older_is_refused_and_sends_nothing(sink: MemoryAuditSink) -> None:
    only = [revision("orders-api-00009-new", "2026-12-07T10:00:00Z")]
    replay = Replay(
        Exchange("GET", RUN_PATH, service(LATEST)),
        Exchange("GET", f"{RUN_PATH}/revisions", {"revisions": only}),
        Exchange("GET", RUN_PATH, service(LATEST)),
        Exchange("GET", f"{RUN_PATH}/revisions", {"revisions": only}),
    )
    result = run(engine_for(replay, sink), "gcp.run.rollback_revision", [Target("gcp", SERVICE)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert "has no ready revision older than the newest serving one (orders-api-00009-new)" in (
        res.error or ""
    )
    assert not replay.bodies("PATCH")


def test_a_failed_rollback_operation_is_the_service_s_failure_with_google_s_reason(
    sink: MemoryAuditSink,
) -> None:
    error = {"code": 9, "message": "Revision 'orders-api-00007-old' is not ready and cannot serve traffic."}
    replay = Replay(
        Exchange("GET", RUN_PATH, service(LATEST)),
        revisions_pages(),
        Exchange("GET", RUN_PATH, service(LATEST)),
        revisions_pages(),
        Exchange("GET", RUN_PATH, service(LATEST)),
        Exchange("PATCH", RUN_PATH, run_op("op-rf", done=False)),
        Exchange("GET", f"{RUN_OPS}/op-rf", run_op("op-rf", done=True, error=error)),
    )
    result = run(engine_for(replay, sink), "gcp.run.rollback_revision", [Target("gcp", SERVICE)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert "9: Revision 'orders-api-00007-old' is not ready" in (res.error or ""), res.error
    assert [r.outcome for r in sink.records if r.action == "gcp.run.rollback_revision"] == ["failed"]


def test_rollback_to_a_named_revision_that_never_became_ready_is_refused(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", RUN_PATH, service(LATEST)),
        revisions_pages(),
        Exchange("GET", RUN_PATH, service(LATEST)),
        revisions_pages(),
    )
    (res,) = run(
        engine_for(replay, sink),
        "gcp.run.rollback_revision",
        [Target("gcp", SERVICE)],
        {"to_revision": "orders-api-00008-bad"},
    ).results
    assert res.outcome == "failed"
    assert "revision orders-api-00008-bad of Cloud Run service" in (res.error or "")
    assert "ready revisions: orders-api-00009-new, orders-api-00007-old, orders-api-00006-older" in (
        res.error or ""
    )
    assert not replay.bodies("PATCH")
