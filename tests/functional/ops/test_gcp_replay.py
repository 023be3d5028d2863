"""GCP Compute Engine and Cloud SQL operations through the real google-cloud-compute and googleapiclient code.

Compute: a ``requests`` adapter on the REST transport's session replays responses in the documented shapes.
Cloud SQL Admin: the discovery document shipped with google-api-python-client, and an ``httplib2``-like replay.
The tests assert the exact requests each SDK sent.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import Exchange, HttplibReplay, Replay, RequestsReplayAdapter
from tests.harness.replay import google_not_found, google_pages, server_error, throttled

BASE = "/compute/v1/projects/acme-prod/zones/us-central1-a"
INSTANCE = "projects/acme-prod/zones/us-central1-a/instances/web-1"
LINK = "https://compute.googleapis.com" + BASE


def instance(status: str, machine: str = "e2-medium", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "compute#instance",
        "id": "4567890123456789012",
        "name": "web-1",
        "zone": LINK,
        "machineType": f"{LINK}/machineTypes/{machine}",
        "status": status,
        "labels": labels if labels is not None else {"env": "dev"},
        "labelFingerprint": "42WmSpB8rSM=",
        "selfLink": f"{LINK}/instances/web-1",
    }


def operation(kind: str) -> dict[str, Any]:
    return {
        "kind": "compute#operation",
        "id": "1234567890",
        "name": f"operation-{kind}",
        "zone": LINK,
        "operationType": kind,
        "targetLink": f"{LINK}/instances/web-1",
        "status": "DONE",
        "progress": 100,
        "selfLink": f"{LINK}/operations/operation-{kind}",
    }


def engine_for(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsReplayAdapter(replay),
        gcp_discovery_http=HttplibReplay(replay),
    )
    return make_engine(ctx, sink, concurrency=1)


def test_stop_instance(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("POST", f"{BASE}/instances/web-1/stop", operation("stop")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
    )
    result = run(engine_for(replay, sink), "gcp.compute.stop_instance", [Target("gcp", INSTANCE)])
    assert result.ok, result.to_dict()
    replay.done()
    assert result.results[0].before == {
        "status": "RUNNING",
        "machine_type": "e2-medium",
        "label_fingerprint": "42WmSpB8rSM=",
        "tag:env": "dev",
    }


def test_set_machine_type_and_labels_send_the_documented_bodies(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("POST", f"{BASE}/instances/web-1/setMachineType", operation("setMachineType")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED", "e2-standard-4")),
    )
    engine = engine_for(replay, sink)
    assert run(
        engine, "gcp.compute.set_machine_type", [Target("gcp", INSTANCE)], {"machine_type": "e2-standard-4"}
    ).ok
    assert replay.bodies("POST") == [{"machineType": "zones/us-central1-a/machineTypes/e2-standard-4"}]

    merged = {"env": "dev", "team": "web"}
    replay2 = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("POST", f"{BASE}/instances/web-1/setLabels", operation("setLabels")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING", labels=merged)),
    )
    engine2 = engine_for(replay2, sink)
    assert run(
        engine2, "gcp.compute.set_instance_labels", [Target("gcp", INSTANCE)], {"labels": {"team": "web"}}
    ).ok
    assert replay2.bodies("POST") == [{"labelFingerprint": "42WmSpB8rSM=", "labels": merged}]


def test_reset_of_a_stopped_instance_is_refused(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
    )
    result = run(engine_for(replay, sink), "gcp.compute.reset_instance", [Target("gcp", INSTANCE)])
    assert result.results[0].outcome == "failed" and "not RUNNING" in (result.results[0].error or "")


def test_missing_instance_is_reported(sink: MemoryAuditSink) -> None:
    err = {
        "error": {
            "code": 404,
            "message": "The resource 'projects/acme-prod/zones/us-central1-a/instances/web-1' was not found",
            "errors": [{"message": "not found", "domain": "global", "reason": "notFound"}],
        }
    }
    replay = Replay(Exchange("GET", f"{BASE}/instances/web-1", err, status=404))
    result = run(engine_for(replay, sink), "gcp.compute.stop_instance", [Target("gcp", INSTANCE)])
    assert result.results[0].outcome == "failed"
    assert "Compute Engine instance" in (result.results[0].error or "")


FW = "projects/acme-prod/global/firewalls/allow-ssh"
FW_PATH = "/compute/v1/projects/acme-prod/global/firewalls/allow-ssh"


def firewall(disabled: bool, ranges: list[str]) -> dict[str, Any]:
    return {
        "kind": "compute#firewall",
        "id": "99",
        "name": "allow-ssh",
        "network": "global/networks/default",
        "direction": "INGRESS",
        "priority": 1000,
        "sourceRanges": ranges,
        "disabled": disabled,
        "allowed": [{"IPProtocol": "tcp", "ports": ["22"]}],
    }


def test_firewall_restrict_then_disable(sink: MemoryAuditSink) -> None:
    glob = {**operation("patch"), "zone": None}
    glob.pop("zone")
    replay = Replay(
        Exchange("GET", FW_PATH, firewall(False, ["0.0.0.0/0"])),
        Exchange("GET", FW_PATH, firewall(False, ["0.0.0.0/0"])),
        Exchange("PATCH", FW_PATH, glob),
        Exchange("GET", FW_PATH, firewall(False, ["203.0.113.0/24"])),
        Exchange("GET", FW_PATH, firewall(False, ["203.0.113.0/24"])),
        Exchange("GET", FW_PATH, firewall(False, ["203.0.113.0/24"])),
        Exchange("PATCH", FW_PATH, glob),
        Exchange("GET", FW_PATH, firewall(True, ["203.0.113.0/24"])),
    )
    engine = engine_for(replay, sink)
    assert run(
        engine,
        "gcp.compute.restrict_firewall_rule",
        [Target("gcp", FW)],
        {"source_ranges": ["203.0.113.0/24"]},
    ).ok
    assert run(engine, "gcp.compute.disable_firewall_rule", [Target("gcp", FW)]).ok
    replay.done()
    assert replay.bodies("PATCH") == [{"sourceRanges": ["203.0.113.0/24"]}, {"disabled": True}]


SQL = "projects/acme-prod/instances/orders-db"
SQL_PATH = "/v1/projects/acme-prod/instances/orders-db"
SQL_OPS = "/v1/projects/acme-prod/operations"


def sql_instance(policy: str, state: str = "RUNNABLE") -> dict[str, Any]:
    """sqladmin v1 ``DatabaseInstance``: a stopped instance is RUNNABLE with activationPolicy NEVER."""
    return {
        "kind": "sql#instance",
        "name": "orders-db",
        "project": "acme-prod",
        "state": state,
        "databaseVersion": "POSTGRES_15",
        "region": "us-central1",
        "connectionName": "acme-prod:us-central1:orders-db",
        "instanceType": "CLOUD_SQL_INSTANCE",
        "backendType": "SECOND_GEN",
        "settings": {
            "kind": "sql#settings",
            "tier": "db-custom-1-3840",
            "activationPolicy": policy,
            "settingsVersion": "7",
        },
        "selfLink": "https://sqladmin.googleapis.com/v1/projects/acme-prod/instances/orders-db",
    }


def sql_operation(name: str, status: str, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """sqladmin v1 ``Operation`` (status PENDING / RUNNING / DONE; a failure is DONE with ``error``)."""
    op = {
        "kind": "sql#operation",
        "name": name,
        "status": status,
        "operationType": "UPDATE",
        "targetId": "orders-db",
        "targetProject": "acme-prod",
        "targetLink": "https://sqladmin.googleapis.com/v1/projects/acme-prod/instances/orders-db",
        "selfLink": f"https://sqladmin.googleapis.com{SQL_OPS}/{name}",
        "insertTime": "2026-12-07T11:00:00.000Z",
    }
    if error:
        op["error"] = {"kind": "sql#operationErrors", "errors": [{"kind": "sql#operationError", **error}]}
    return op


def test_the_sqladmin_discovery_document_has_no_stopped_state() -> None:
    """What the fixtures and the operations rely on, read from the discovery document googleapiclient ships."""
    import json
    from pathlib import Path

    import googleapiclient

    doc = json.loads(
        (Path(googleapiclient.__file__).parent / "discovery_cache/documents/sqladmin.v1.json").read_text()
    )
    states = doc["schemas"]["DatabaseInstance"]["properties"]["state"]["enum"]
    assert "RUNNABLE" in states and "STOPPED" not in states
    assert {"ALWAYS", "NEVER"} <= set(doc["schemas"]["Settings"]["properties"]["activationPolicy"]["enum"])
    from escher.clouds.gcp.ops.sql import UNCHANGEABLE

    assert set(UNCHANGEABLE) <= set(states)
    assert (
        doc["resources"]["instances"]["methods"]["patch"]["path"]
        == "v1/projects/{project}/instances/{instance}"
    )


def test_cloud_sql_stop_patches_the_activation_policy_and_verifies_runnable_never(
    sink: MemoryAuditSink,
) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("PATCH", SQL_PATH, sql_operation("op-77", "DONE")),
        Exchange("GET", SQL_PATH, sql_instance("NEVER")),
    )
    result = run(engine_for(replay, sink), "gcp.sql.stop_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"settings": {"activationPolicy": "NEVER"}}]
    (res,) = result.results
    assert res.details["operation"] == "op-77"
    assert res.before == {"state": "RUNNABLE", "activation_policy": "ALWAYS"}
    assert res.after == {"state": "RUNNABLE", "activation_policy": "NEVER"}


def test_cloud_sql_start_polls_a_running_operation(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("NEVER")),
        Exchange("GET", SQL_PATH, sql_instance("NEVER")),
        Exchange("PATCH", SQL_PATH, sql_operation("op-78", "PENDING")),
        Exchange("GET", f"{SQL_OPS}/op-78", sql_operation("op-78", "DONE")),
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS", "MAINTENANCE")),  # verify waits for RUNNABLE
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
    )
    result = run(engine_for(replay, sink), "gcp.sql.start_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"settings": {"activationPolicy": "ALWAYS"}}]
    assert (result.results[0].after or {}) == {"state": "RUNNABLE", "activation_policy": "ALWAYS"}


def test_cloud_sql_stop_of_a_stopped_instance_is_a_noop(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("NEVER")), Exchange("GET", SQL_PATH, sql_instance("NEVER"))
    )
    assert run(engine_for(replay, sink), "gcp.sql.stop_instance", [Target("gcp", SQL)]).counts() == {
        "noop": 1
    }


def test_cloud_sql_a_failed_operation_is_the_instance_s_failure_with_google_s_reason(
    sink: MemoryAuditSink,
) -> None:
    failed = sql_operation(
        "op-79",
        "DONE",
        {"code": "INTERNAL_ERROR", "message": "An internal error has occurred. Please retry your request."},
    )
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("PATCH", SQL_PATH, failed),
    )
    result = run(engine_for(replay, sink), "gcp.sql.stop_instance", [Target("gcp", SQL)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Cloud SQL could not set the activation policy of {SQL} to NEVER (operation op-79): INTERNAL_ERROR: "
        "An internal error has occurred."
    ), res.error
    assert [r.outcome for r in sink.records if r.action == "gcp.sql.stop_instance"] == ["failed"]


def test_cloud_sql_a_suspended_instance_is_refused_at_plan_time(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", SQL_PATH, sql_instance("ALWAYS", "SUSPENDED")))
    engine = engine_for(replay, sink)
    plan = engine.plan("gcp.sql.stop_instance", [Target("gcp", SQL)], actor="user:alice")
    assert plan.changes[0].action == "error"
    assert "is SUSPENDED: Google suspended it" in (plan.changes[0].error or "")


def test_cloud_sql_throttled_and_unavailable_are_retried_by_googleapiclient(sink: MemoryAuditSink) -> None:
    replay = Replay(
        google_not_found(SQL_PATH, "orders-db"),  # a first run: the instance is not there (yet)
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        server_error(Exchange("GET", SQL_PATH, sql_instance("ALWAYS")), google=True),
        throttled(Exchange("PATCH", SQL_PATH, sql_operation("op-80", "DONE")), google=True),
        Exchange("GET", SQL_PATH, sql_instance("NEVER")),
    )
    engine = engine_for(replay, sink)
    missing = run(engine, "gcp.sql.stop_instance", [Target("gcp", SQL)])
    assert "Cloud SQL instance projects/acme-prod/instances/orders-db was not found" in (
        missing.results[0].error or ""
    )
    result = run(engine, "gcp.sql.stop_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    assert replay.count("PATCH", SQL_PATH) == 2  # the 429 was retried by googleapiclient (num_retries)
    # the first run's plan; then the plan, execute's re-read (a 503, retried) and verify
    assert replay.count("GET", SQL_PATH) == 5


# -- successful changes, and long-running operations polled through the same (injected) transport ---------------
def zone_op_path(name: str) -> str:
    return f"{BASE}/operations/{name}"


def running(kind: str) -> dict[str, Any]:
    return {**operation(kind), "status": "RUNNING", "progress": 0}


def test_start_instance_polls_a_running_operation_until_done(sink: MemoryAuditSink) -> None:
    # The POST answers RUNNING; the SDK's ExtendedOperation polls zoneOperations.get through the operations
    # client, which must use the same session (adapter) as the instances client: RUNNING once, then DONE.
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("POST", f"{BASE}/instances/web-1/start", running("start")),
        Exchange("GET", zone_op_path("operation-start"), running("start")),
        Exchange("GET", zone_op_path("operation-start"), operation("start")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
    )
    result = run(engine_for(replay, sink), "gcp.compute.start_instance", [Target("gcp", INSTANCE)])
    assert result.ok, result.to_dict()
    replay.done()
    assert [f"{s.method} {s.path}" for s in replay.sent[2:5]] == [
        f"POST {BASE}/instances/web-1/start",
        f"GET {zone_op_path('operation-start')}",
        f"GET {zone_op_path('operation-start')}",
    ]
    assert replay.bodies("POST") == [None]
    assert (result.results[0].after or {})["status"] == "RUNNING"


def test_an_operation_that_ends_in_error_is_the_resource_s_failure(sink: MemoryAuditSink) -> None:
    failed = {
        **operation("start"),
        "httpErrorStatusCode": 400,
        "httpErrorMessage": "BAD REQUEST",
        "error": {
            "errors": [
                {
                    "code": "ZONE_RESOURCE_POOL_EXHAUSTED",
                    "message": "The zone 'projects/acme-prod/zones/us-central1-a' does not have enough resources",
                }
            ]
        },
    }
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        Exchange("POST", f"{BASE}/instances/web-1/start", running("start")),
        Exchange("GET", zone_op_path("operation-start"), failed),
    )
    result = run(engine_for(replay, sink), "gcp.compute.start_instance", [Target("gcp", INSTANCE)])
    replay.done()
    (res,) = result.results
    assert res.outcome == "failed" and "BAD REQUEST" in (res.error or "")


def test_reset_of_a_running_instance(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
        Exchange("POST", f"{BASE}/instances/web-1/reset", operation("reset")),
        Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
    )
    result = run(engine_for(replay, sink), "gcp.compute.reset_instance", [Target("gcp", INSTANCE)])
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    assert [s.path for s in replay.sent if s.method == "POST"] == [f"{BASE}/instances/web-1/reset"]


DISK = "projects/acme-prod/zones/us-central1-a/disks/web-1-boot"
SNAPSHOTS = "/compute/v1/projects/acme-prod/global/snapshots"


def disk_body() -> dict[str, Any]:
    return {
        "kind": "compute#disk",
        "id": "8765",
        "name": "web-1-boot",
        "sizeGb": "10",
        "zone": LINK,
        "status": "READY",
        "type": f"{LINK}/diskTypes/pd-balanced",
        "selfLink": f"{LINK}/disks/web-1-boot",
    }


def not_found(what: str) -> dict[str, Any]:
    return {
        "error": {
            "code": 404,
            "message": f"The resource '{what}' was not found",
            "errors": [
                {"message": f"The resource '{what}' was not found", "domain": "global", "reason": "notFound"}
            ],
        }
    }


def snapshot_body(name: str, key: str) -> dict[str, Any]:
    return {
        "kind": "compute#snapshot",
        "id": "5555",
        "name": name,
        "status": "READY",
        "sourceDisk": f"{LINK}/disks/web-1-boot",
        "diskSizeGb": "10",
        "storageBytes": "1048576",
        "labels": {"escher-key": key},
        "selfLink": f"https://compute.googleapis.com{SNAPSHOTS}/{name}",
    }


def test_create_disk_snapshot_with_a_deterministic_name(sink: MemoryAuditSink) -> None:
    from escher.ops.engine import Plan

    target = Target("gcp", DISK)
    fixed = Plan.__new__(Plan)  # the key depends on the plan id and target only
    fixed.plan_id = "event-7"
    key = Plan.key_for(fixed, target)
    name = f"web-1-boot-escher-{key[:10]}"
    disk_path = f"{BASE}/disks/web-1-boot"
    gone = not_found(f"projects/acme-prod/global/snapshots/{name}")
    replay = Replay(
        Exchange("GET", disk_path, disk_body()),
        Exchange("GET", f"{SNAPSHOTS}/{name}", gone, status=404),
        Exchange("GET", disk_path, disk_body()),
        Exchange("GET", f"{SNAPSHOTS}/{name}", gone, status=404),
        Exchange("POST", f"{disk_path}/createSnapshot", running("createSnapshot")),
        Exchange("GET", zone_op_path("operation-createSnapshot"), operation("createSnapshot")),
        Exchange("GET", disk_path, disk_body()),
        Exchange("GET", f"{SNAPSHOTS}/{name}", snapshot_body(name, key)),
    )
    engine = engine_for(replay, sink)
    plan = engine.plan("gcp.compute.create_disk_snapshot", [target], actor="user:alice", plan_id="event-7")
    result = engine.execute(plan)
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("POST") == [{"name": name, "labels": {"escher-key": key}}]
    assert result.results[0].details["snapshot_id"] == f"projects/acme-prod/global/snapshots/{name}"


def test_delete_snapshot_polls_the_global_operation(sink: MemoryAuditSink) -> None:
    snap = "projects/acme-prod/global/snapshots/old-1"
    glob_op = {**running("delete"), "targetLink": f"https://compute.googleapis.com{SNAPSHOTS}/old-1"}
    glob_op.pop("zone")
    glob_op["selfLink"] = (
        "https://compute.googleapis.com/compute/v1/projects/acme-prod/global/operations/operation-delete"
    )
    ops_path = "/compute/v1/projects/acme-prod/global/operations/operation-delete"
    replay = Replay(
        Exchange("GET", f"{SNAPSHOTS}/old-1", snapshot_body("old-1", "k")),
        Exchange("GET", f"{SNAPSHOTS}/old-1", snapshot_body("old-1", "k")),
        Exchange("DELETE", f"{SNAPSHOTS}/old-1", glob_op),
        Exchange("GET", ops_path, {**glob_op, "status": "DONE", "progress": 100}),
        Exchange("GET", f"{SNAPSHOTS}/old-1", not_found(snap), status=404),
    )
    result = run(engine_for(replay, sink), "gcp.compute.delete_snapshot", [Target("gcp", snap)])
    assert result.ok, result.to_dict()
    replay.done()
    assert result.results[0].before == {"exists": True} and result.results[0].after == {"exists": False}


def test_tag_selects_instances_by_label_with_one_filtered_aggregated_list(sink: MemoryAuditSink) -> None:
    other = {**instance("RUNNING"), "name": "web-9", "zone": LINK.replace("-a", "-b")}
    no_results = {
        "warning": {
            "code": "NO_RESULTS_ON_PAGE",
            "message": "There are no results for scope 'zones/europe-west1-b' on this page.",
            "data": [{"key": "scope", "value": "zones/europe-west1-b"}],
        }
    }
    # two pages (nextPageToken): the matching instance is on the second, so the SDK must follow the token
    pages = google_pages(
        "/compute/v1/projects/acme-prod/aggregated/instances",
        "items",
        [
            {
                "zones/us-central1-b": {"instances": [{**other, "labels": {"env": "dev", "team": "web"}}]},
                "zones/europe-west1-b": no_results,
            },
            {
                "zones/us-central1-a": {
                    "instances": [instance("RUNNING", labels={"env": "dev", "team": "web"})]
                }
            },
        ],
        kind="compute#instanceAggregatedList",
        id="projects/acme-prod/aggregated/instances",
        selfLink="https://compute.googleapis.com/compute/v1/projects/acme-prod/aggregated/instances",
    )
    replay = Replay(pages)
    ctx = CloudContext(
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsReplayAdapter(replay),
        gcp_project="acme-prod",
    )
    engine = make_engine(ctx, sink)
    from escher.ops import OPERATIONS

    op = OPERATIONS.get("gcp.compute.stop_instance")
    found = engine.resolve_targets(op, tags={"team": "web", "env": "dev"}, regions=["us-central1-a"])
    replay.done()
    assert found == [Target("gcp", INSTANCE, "us-central1-a")]  # us-central1-b is outside the region asked
    assert "pageToken=page1" in replay.sent[1].query
    from urllib.parse import parse_qs

    for page in replay.sent[:2]:  # the filter goes with the page token too
        assert parse_qs(page.query)["filter"] == ['(labels.env = "dev") (labels.team = "web")']

    replay.pending.extend(
        [
            Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
            Exchange("GET", f"{BASE}/instances/web-1", instance("RUNNING")),
            Exchange("POST", f"{BASE}/instances/web-1/stop", operation("stop")),
            Exchange("GET", f"{BASE}/instances/web-1", instance("TERMINATED")),
        ]
    )
    assert run(engine, "gcp.compute.stop_instance", found).ok
    replay.done()


def test_a_label_selector_that_could_inject_into_the_filter_is_refused(sink: MemoryAuditSink) -> None:
    from escher.ops import OPERATIONS, OpError

    ctx = CloudContext(gcp_credentials=AnonymousCredentials(), gcp_project="acme-prod")
    with pytest.raises(OpError, match="not a GCP label selector"):
        make_engine(ctx, sink).resolve_targets(
            OPERATIONS.get("gcp.compute.stop_instance"), tags={"env": 'dev") OR (name = "x'}
        )
