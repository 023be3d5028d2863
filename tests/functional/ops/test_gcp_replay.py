"""GCP Compute Engine and Cloud SQL operations through the real google-cloud-compute and googleapiclient code.

Compute: a ``requests`` adapter on the REST transport's session replays responses in the documented shapes.
Cloud SQL Admin: the discovery document shipped with google-api-python-client, and an ``httplib2``-like replay.
The tests assert the exact requests each SDK sent.
"""

from __future__ import annotations

from typing import Any

from google.auth.credentials import AnonymousCredentials

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import Exchange, HttplibReplay, Replay, RequestsReplayAdapter

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
        gcp_sql_http=HttplibReplay(replay),
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


def sql_instance(policy: str, state: str = "RUNNABLE") -> dict[str, Any]:
    return {
        "kind": "sql#instance",
        "name": "orders-db",
        "project": "acme-prod",
        "state": state,
        "databaseVersion": "POSTGRES_15",
        "region": "us-central1",
        "settings": {"kind": "sql#settings", "tier": "db-custom-1-3840", "activationPolicy": policy},
    }


def test_cloud_sql_stop_patches_the_activation_policy(sink: MemoryAuditSink) -> None:
    op = {
        "kind": "sql#operation",
        "name": "op-77",
        "status": "DONE",
        "operationType": "UPDATE",
        "targetId": "orders-db",
        "targetProject": "acme-prod",
    }
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
        Exchange("PATCH", SQL_PATH, op),
        Exchange("GET", SQL_PATH, sql_instance("NEVER", "STOPPED")),
    )
    result = run(engine_for(replay, sink), "gcp.sql.stop_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [{"settings": {"activationPolicy": "NEVER"}}]
    assert result.results[0].details["operation"] == "op-77"


def test_cloud_sql_start_polls_a_running_operation(sink: MemoryAuditSink) -> None:
    running = {"kind": "sql#operation", "name": "op-78", "status": "RUNNING", "operationType": "UPDATE"}
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance("NEVER", "STOPPED")),
        Exchange("GET", SQL_PATH, sql_instance("NEVER", "STOPPED")),
        Exchange("PATCH", SQL_PATH, running),
        Exchange("GET", "/v1/projects/acme-prod/operations/op-78", {**running, "status": "DONE"}),
        Exchange("GET", SQL_PATH, sql_instance("ALWAYS")),
    )
    result = run(engine_for(replay, sink), "gcp.sql.start_instance", [Target("gcp", SQL)])
    assert result.ok, result.to_dict()
    replay.done()
