"""Issue 21 item 4 on GCP, through the deployed worker's Pub/Sub CloudEvent function (``on_pubsub`` in
workers/gcp/main.py, called with the CloudEvent object functions-framework hands it), state and audit on
fake-gcs-server, the Google APIs replayed at their transports (Cloud SQL Admin and Cloud Run Admin over the
discovery clients' ``httplib2`` seam, Compute Engine over google-cloud-compute's ``requests`` session):

- scale up near capacity: a Cloud Monitoring incident on a Cloud SQL database's disk/utilization grows its disk
  (gcp.sql.increase_storage) when the utilisation is at or above [remediation] capacity_percent;
- restart failed services: an incident on a VM that stopped reporting uptime resets it (gcp.compute.reset_instance);
- rollback failed deployments: a Cloud Run 5xx incident sends the traffic back (gcp.run.rollback_revision).

The incidents are the golden samples (the documented Pub/Sub notification, schema 1.2). A switch off, or an
incident under the bar, gives an approval request and no API request at all.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from escher.emulators import FakeGcsEmulator
from escher.ops import CloudContext
from escher.pipeline import runtime
from tests.functional.ops.replay import Exchange, HttplibReplay, Replay, RequestsReplayAdapter
from tests.unit.events._samples import sample


@pytest.fixture
def state(fake_gcs: FakeGcsEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import escher.clouds.gcp.ops.run
    import escher.clouds.gcp.ops.sql

    client = storage.Client(
        project="escher-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": fake_gcs.endpoint_url},
    )
    name = f"escher-state-{tmp_path.name[-8:].lower().replace('_', '-')}"
    bucket = client.create_bucket(name)
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("ESCHER_STATE_URL", f"gs://{name}?endpoint={fake_gcs.endpoint_url}")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", f"file://{tmp_path / 'dead-letters'}")
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(config))
    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "escher-test")
    monkeypatch.setattr(escher.clouds.gcp.ops.sql, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(escher.clouds.gcp.ops.run, "FIRST_POLL", 0.0)
    runtime.reset()
    yield {"bucket": bucket, "config": config / "config.toml"}
    runtime.reset()


def switches(config: Path, **on: Any) -> None:
    lines = ["[remediation]", *(f"{k} = {json.dumps(v)}" for k, v in on.items())]
    config.write_text("\n".join(lines) + '\n\n[notify.routes]\nHIGH = ["banner"]\n', encoding="utf-8")
    runtime.reset()


def incident(name: str, message_id: str, **changes: Any) -> dict[str, Any]:
    push = copy.deepcopy(sample("gcp", name))
    body = json.loads(base64.b64decode(push["message"]["data"]))
    body["incident"].update(changes)
    push["message"]["data"] = base64.b64encode(json.dumps(body).encode()).decode()
    push["message"]["messageId"] = push["message"]["message_id"] = message_id
    return dict(push)


def deliver(push: dict[str, Any], replay: Replay) -> None:
    """What functions-framework does with an Eventarc Pub/Sub delivery: a CloudEvent to on_pubsub."""
    from cloudevents.http import CloudEvent

    from escher.workers.gcp.main import on_pubsub

    message = push["message"]
    event = CloudEvent(
        {
            "id": message["messageId"],
            "source": "//pubsub.googleapis.com/projects/shop-prod-4711/topics/escher-events",
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
            "time": message["publishTime"],
            "datacontenttype": "application/json",
        },
        {"message": message, "subscription": push["subscription"]},
    )
    ctx = CloudContext(
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsReplayAdapter(replay),
        gcp_discovery_http=HttplibReplay(replay),
    )
    with runtime.override("gcp", cloud=ctx):
        on_pubsub(event)


def audit(bucket: Any, action: str) -> list[dict[str, Any]]:
    blobs = bucket.client.list_blobs(bucket.name, prefix="audit/")
    records = [json.loads(b.download_as_bytes())["record"] for b in blobs]
    return [r for r in records if r.get("action") == action]


# -- scale up near capacity: Cloud SQL disk ------------------------------------------------------------------
SQL_PATH = "/v1/projects/shop-prod-4711/instances/orders-pg"
SQL_OPS = "/v1/projects/shop-prod-4711/operations"


def sql_instance(disk: int) -> dict[str, Any]:
    return {
        "kind": "sql#instance",
        "name": "orders-pg",
        "project": "shop-prod-4711",
        "state": "RUNNABLE",
        "region": "europe-west1",
        "settings": {
            "tier": "db-custom-2-7680",
            "activationPolicy": "ALWAYS",
            "dataDiskSizeGb": str(disk),
            "storageAutoResize": False,
            "storageAutoResizeLimit": "0",
        },
    }


def sql_op(status: str) -> dict[str, Any]:
    return {"kind": "sql#operation", "name": "op-disk", "status": status, "operationType": "UPDATE"}


def test_cloud_sql_disk_incident_over_the_bar_grows_the_disk_with_the_switch_on(
    state: dict[str, Any],
) -> None:
    switches(state["config"], scale_up_near_capacity=True, capacity_percent=90.0)
    replay = Replay(
        Exchange("GET", SQL_PATH, sql_instance(200)),  # the plan's read stands for execute's
        Exchange("PATCH", SQL_PATH, sql_op("PENDING")),
        Exchange("GET", f"{SQL_OPS}/op-disk", sql_op("DONE")),
        Exchange("GET", SQL_PATH, sql_instance(220)),  # verify
    )
    deliver(incident("monitoring_incident_cloudsql_disk", "m-sql-1"), replay)  # 0.912 -> 91.2 %
    assert replay.bodies("PATCH") == [{"settings": {"dataDiskSizeGb": "220"}}]
    [record] = audit(state["bucket"], "gcp.sql.increase_storage")
    assert record["outcome"] == "verified" and record["target"] == "shop-prod-4711:orders-pg"
    assert record["details"]["decision"] == "pre-approved by [remediation] scale_up_near_capacity"


def test_cloud_sql_disk_incident_under_the_bar_asks_for_approval(state: dict[str, Any]) -> None:
    switches(state["config"], scale_up_near_capacity=True, capacity_percent=95.0)
    replay = Replay()
    deliver(incident("monitoring_incident_cloudsql_disk", "m-sql-2"), replay)
    [record] = audit(state["bucket"], "gcp.sql.increase_storage")
    assert record["outcome"] == "approval_requested" and record["details"]["approval_request_id"]
    assert replay.sent == []


# -- restart failed services: a VM that stopped reporting -----------------------------------------------------
BASE = "/compute/v1/projects/shop-prod-4711/zones/europe-west1-b"
LINK = "https://compute.googleapis.com" + BASE


def vm(status: str) -> dict[str, Any]:
    return {
        "kind": "compute#instance",
        "id": "4585216377291806427",
        "name": "web-1",
        "zone": LINK,
        "machineType": f"{LINK}/machineTypes/e2-medium",
        "status": status,
        "labels": {"env": "dev"},
        "labelFingerprint": "42WmSpB8rSM=",
        "selfLink": f"{LINK}/instances/web-1",
    }


def reset_done() -> dict[str, Any]:
    return {
        "kind": "compute#operation",
        "id": "1234567890",
        "name": "operation-reset",
        "zone": LINK,
        "operationType": "reset",
        "targetLink": f"{LINK}/instances/web-1",
        "status": "DONE",
        "progress": 100,
        "selfLink": f"{LINK}/operations/operation-reset",
    }


def test_a_vm_that_stopped_reporting_uptime_is_reset_with_the_switch_on(state: dict[str, Any]) -> None:
    switches(state["config"], restart_failed_services=True)
    replay = Replay(
        Exchange("GET", f"{BASE}/instances/web-1", vm("RUNNING")),  # running, yet silent: hung
        Exchange("POST", f"{BASE}/instances/web-1/reset", reset_done()),
        Exchange("GET", f"{BASE}/instances/web-1", vm("RUNNING")),  # verify
    )
    deliver(incident("monitoring_incident_gce_instance_down", "m-vm-1"), replay)
    assert [s.path for s in replay.sent if s.method == "POST"] == [f"{BASE}/instances/web-1/reset"]
    [record] = audit(state["bucket"], "gcp.compute.reset_instance")
    assert record["outcome"] == "verified"
    assert record["target"] == "projects/shop-prod-4711/zones/europe-west1-b/instances/web-1"
    assert record["details"]["decision"] == "pre-approved by [remediation] restart_failed_services"


def test_a_stopped_vm_is_not_started_by_the_reset(state: dict[str, Any]) -> None:
    switches(state["config"], restart_failed_services=True)
    replay = Replay(Exchange("GET", f"{BASE}/instances/web-1", vm("TERMINATED")))
    deliver(incident("monitoring_incident_gce_instance_down", "m-vm-2"), replay)
    [record] = audit(state["bucket"], "gcp.compute.reset_instance")
    assert record["outcome"] == "failed" and "not RUNNING" in record["details"]["error"]
    assert [s.method for s in replay.sent] == ["GET"]


# -- rollback failed deployments: Cloud Run 5xx ---------------------------------------------------------------
SERVICE = "projects/shop-prod-4711/locations/us-central1/services/orders-api"
RUN_PATH = f"/v2/{SERVICE}"


def service(traffic: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": SERVICE,
        "traffic": traffic,
        "trafficStatuses": traffic,
        "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        "latestReadyRevision": f"{SERVICE}/revisions/orders-api-00009-new",
        "reconciling": False,
        "etag": '"orders-etag-9"',
    }


def revisions() -> dict[str, Any]:
    def revision(name: str, created: str) -> dict[str, Any]:
        ready = {"type": "Ready", "state": "CONDITION_SUCCEEDED"}
        return {"name": f"{SERVICE}/revisions/{name}", "createTime": created, "conditions": [ready]}

    return {
        "revisions": [
            revision("orders-api-00009-new", "2024-05-02T09:00:00Z"),
            revision("orders-api-00008-good", "2024-05-01T09:00:00Z"),
        ]
    }


LATEST = [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}]
BACK = [
    {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "orders-api-00008-good", "percent": 100}
]


def test_a_cloud_run_5xx_incident_sends_the_traffic_back_with_the_switch_on(state: dict[str, Any]) -> None:
    switches(state["config"], rollback_failed_deployments=True)
    ops = "/v2/projects/shop-prod-4711/locations/us-central1/operations"
    name = "projects/shop-prod-4711/locations/us-central1/operations/op-back"
    replay = Replay(
        Exchange("GET", RUN_PATH, service(LATEST)),
        Exchange("GET", f"{RUN_PATH}/revisions", revisions()),
        Exchange("GET", RUN_PATH, service(LATEST)),  # the etag for the patch
        Exchange("PATCH", RUN_PATH, {"name": name, "done": False}),
        Exchange("GET", f"{ops}/op-back", {"name": name, "done": True, "response": {"name": SERVICE}}),
        Exchange("GET", RUN_PATH, service(BACK)),  # verify
        Exchange("GET", f"{RUN_PATH}/revisions", revisions()),
    )
    deliver(incident("monitoring_incident_cloud_run_5xx", "m-run-1"), replay)
    assert replay.bodies("PATCH") == [{"traffic": BACK, "etag": '"orders-etag-9"'}]
    [record] = audit(state["bucket"], "gcp.run.rollback_revision")
    assert record["outcome"] == "verified" and record["target"] == SERVICE
    assert record["details"]["decision"] == "pre-approved by [remediation] rollback_failed_deployments"


def test_a_cloud_run_5xx_incident_with_the_switch_off_asks_for_approval(state: dict[str, Any]) -> None:
    switches(state["config"], rollback_failed_deployments=False)
    replay = Replay()
    deliver(incident("monitoring_incident_cloud_run_5xx", "m-run-2"), replay)
    [record] = audit(state["bucket"], "gcp.run.rollback_revision")
    assert record["outcome"] == "approval_requested"
    assert replay.sent == []
