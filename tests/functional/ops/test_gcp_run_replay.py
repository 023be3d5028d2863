"""Cloud Run services through googleapiclient's Cloud Run Admin v2 client (the discovery document it ships), the
wire replayed at its ``httplib2`` seam. Bodies follow the document's ``GoogleCloudRunV2Service`` and
``GoogleLongrunningOperation`` schemas; the tests assert each request the client sent, and a failed operation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from escher.audit import MemoryAuditSink
from escher.clouds.gcp.ops.run import RESTART_ANNOTATION, STOP_ANNOTATION
from escher.ops import CloudContext, Engine, Target
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import Exchange, HttplibReplay, Replay
from tests.harness.replay import google_not_found, throttled

NAME = "projects/acme-prod/locations/us-central1/services/orders-api"
PATH = f"/v2/{NAME}"
OPS = "/v2/projects/acme-prod/locations/us-central1/operations"
AUTOMATIC = {"scalingMode": "AUTOMATIC", "minInstanceCount": 1, "maxInstanceCount": 10}


def service(
    scaling: dict[str, Any] | None = None,
    *,
    annotations: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    reconciling: bool = False,
    revision: str = "orders-api-00007-xyz",
) -> dict[str, Any]:
    """``GoogleCloudRunV2Service`` as services.get answers it."""
    body: dict[str, Any] = {
        "name": NAME,
        "uid": "0d7c2a2e-8f57-4a3c-9d8a-5f7e0f1b2c3d",
        "generation": "7",
        "labels": labels if labels is not None else {"team": "orders"},
        "annotations": annotations if annotations is not None else {"owner": "orders-team"},
        "createTime": "2026-11-02T10:00:00.000000Z",
        "updateTime": "2026-12-01T10:00:00.000000Z",
        "creator": "dev@acme.example",
        "lastModifier": "dev@acme.example",
        "ingress": "INGRESS_TRAFFIC_ALL",
        "launchStage": "GA",
        "template": {
            "revision": "orders-api-v7",
            "annotations": template_annotations or {},
            "scaling": {"maxInstanceCount": 100},
            "timeout": "300s",
            "serviceAccount": "orders@acme-prod.iam.gserviceaccount.com",
            "containers": [
                {"image": "us-docker.pkg.dev/acme-prod/app/orders:7", "ports": [{"containerPort": 8080}]}
            ],
            "maxInstanceRequestConcurrency": 80,
        },
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "observedGeneration": "7",
        "terminalCondition": {"type": "Ready", "state": "CONDITION_SUCCEEDED"},
        "latestReadyRevision": f"{NAME}/revisions/{revision}",
        "latestCreatedRevision": f"{NAME}/revisions/{revision}",
        "uri": "https://orders-api-abc123-uc.a.run.app",
        "reconciling": reconciling,
        "etag": '"CKj9p7sGEOjLq7sD/cHJvamVjdHMv"',
    }
    if scaling is not None:
        body["scaling"] = scaling
    return body


def lro(name: str, *, done: bool, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """``GoogleLongrunningOperation`` (metadata: the service; a failure is done with ``error``)."""
    op: dict[str, Any] = {
        "name": f"projects/acme-prod/locations/us-central1/operations/{name}",
        "metadata": {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": NAME},
        "done": done,
    }
    if error:
        op["error"] = error
    elif done:
        op["response"] = {"@type": "type.googleapis.com/google.cloud.run.v2.Service", "name": NAME}
    return op


def engine_for(replay: Replay, sink: MemoryAuditSink, gate: Any = None) -> Engine:
    ctx = CloudContext(gcp_discovery_http=HttplibReplay(replay))
    if gate is not None:
        return Engine(ctx, sink, gate, verify_interval=0.01, verify_timeout=2.0)
    return make_engine(ctx, sink, verify_interval=0.01)


def query(replay: Replay, method: str) -> dict[str, list[str]]:
    (sent,) = [s for s in replay.sent if s.method == method]
    return parse_qs(sent.query)


def test_the_discovery_document_has_what_the_operations_send() -> None:
    import googleapiclient

    doc = json.loads(
        (Path(googleapiclient.__file__).parent / "discovery_cache/documents/run.v2.json").read_text()
    )
    scaling = doc["schemas"]["GoogleCloudRunV2ServiceScaling"]["properties"]
    assert {"MANUAL", "AUTOMATIC"} <= set(scaling["scalingMode"]["enum"])
    assert {"manualInstanceCount", "minInstanceCount", "maxInstanceCount"} <= set(scaling)
    services = doc["resources"]["projects"]["resources"]["locations"]["resources"]["services"]["methods"]
    assert services["patch"]["httpMethod"] == "PATCH" and services["patch"]["path"] == "v2/{+name}"
    assert {"updateMask", "forceNewRevision"} <= set(services["patch"]["parameters"])
    assert services["patch"]["response"] == {"$ref": "GoogleLongrunningOperation"}
    assert "annotations" in doc["schemas"]["GoogleCloudRunV2RevisionTemplate"]["properties"]
    assert "stop" not in services  # there is no stop method: hence scale to zero


def test_scale_to_zero_remembers_the_scaling_and_polls_the_operation(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", PATH, service(AUTOMATIC)),  # plan
        Exchange("GET", PATH, service(AUTOMATIC)),  # execute reads again
        Exchange("GET", PATH, service(AUTOMATIC)),  # the full annotations and the etag for the patch
        Exchange("PATCH", PATH, lro("op-1", done=False)),
        Exchange("GET", f"{OPS}/op-1", lro("op-1", done=True)),
        Exchange(
            "GET",
            PATH,
            service(
                {"scalingMode": "MANUAL", "manualInstanceCount": 0},
                annotations={"owner": "orders-team", STOP_ANNOTATION: json.dumps(AUTOMATIC, sort_keys=True)},
            ),
        ),  # verify
    )
    result = run(engine_for(replay, sink), "gcp.run.scale_to_zero", [Target("gcp", NAME)])
    assert result.ok, result.to_dict()
    remembered = json.dumps(AUTOMATIC, sort_keys=True)
    assert replay.bodies("PATCH") == [
        {
            "scaling": {"scalingMode": "MANUAL", "manualInstanceCount": 0},
            "annotations": {"owner": "orders-team", STOP_ANNOTATION: remembered},
            "etag": '"CKj9p7sGEOjLq7sD/cHJvamVjdHMv"',
        }
    ]
    assert query(replay, "PATCH")["updateMask"] == ["scaling,annotations"]
    (res,) = result.results
    assert res.before is not None and res.before["scaling_mode"] == "AUTOMATIC"
    assert res.before["min_instance_count"] == 1 and res.before["tag:team"] == "orders"
    assert res.details == {
        "authorized_via": res.details["authorized_via"],
        "operation": "projects/acme-prod/locations/us-central1/operations/op-1",
        "remembered_scaling": remembered,
    }
    assert [r.outcome for r in sink.records if r.action == "gcp.run.scale_to_zero"] == [
        "succeeded",
        "verified",
    ]


def test_restore_puts_the_remembered_scaling_back_and_drops_the_annotation(sink: MemoryAuditSink) -> None:
    stopped = service(
        {"scalingMode": "MANUAL", "manualInstanceCount": 0},
        annotations={"owner": "orders-team", STOP_ANNOTATION: json.dumps(AUTOMATIC, sort_keys=True)},
    )
    replay = Replay(
        Exchange("GET", PATH, stopped),
        Exchange("GET", PATH, stopped),
        Exchange("GET", PATH, stopped),
        Exchange("PATCH", PATH, lro("op-2", done=True)),
        Exchange("GET", PATH, service(AUTOMATIC, reconciling=True)),  # verify waits for reconciling to end
        Exchange("GET", PATH, service(AUTOMATIC)),
    )
    result = run(engine_for(replay, sink), "gcp.run.restore_scaling", [Target("gcp", NAME)])
    assert result.ok, result.to_dict()
    (body,) = replay.bodies("PATCH")
    assert body["scaling"] == AUTOMATIC and body["annotations"] == {"owner": "orders-team"}
    assert (result.results[0].after or {})["scaling_mode"] == "AUTOMATIC"


def test_restore_of_a_serving_service_is_a_noop(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", PATH, service(AUTOMATIC)), Exchange("GET", PATH, service(AUTOMATIC)))
    assert run(engine_for(replay, sink), "gcp.run.restore_scaling", [Target("gcp", NAME)]).counts() == {
        "noop": 1
    }


def test_restart_makes_a_new_revision_from_the_same_template(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", PATH, service()),
        Exchange("GET", PATH, service()),
        Exchange("GET", PATH, service()),
        throttled(
            Exchange("PATCH", PATH, lro("op-3", done=False)), google=True
        ),  # retried by googleapiclient
        Exchange("GET", f"{OPS}/op-3", lro("op-3", done=True)),
    )
    engine = engine_for(replay, sink)
    plan = engine.plan("gcp.run.restart_service", [Target("gcp", NAME)], actor="user:alice")
    key = plan.key_for(Target("gcp", NAME))
    replay.extend(
        [
            Exchange(
                "GET",
                PATH,
                service(template_annotations={RESTART_ANNOTATION: key}, revision="orders-api-00008-abc"),
            )
        ]
    )
    result = engine.execute(plan)
    assert result.ok, result.to_dict()
    bodies = replay.bodies("PATCH")
    assert len(bodies) == 2 and bodies[0] == bodies[1]  # the 429, then the same request again
    template = bodies[0]["template"]
    assert "revision" not in template  # a named revision cannot be made twice
    assert template["annotations"] == {RESTART_ANNOTATION: key}
    assert template["containers"] == service()["template"]["containers"]  # otherwise the same template
    sent = next(s for s in replay.sent if s.method == "PATCH")
    assert parse_qs(sent.query) == {"updateMask": ["template"], "forceNewRevision": ["true"], "alt": ["json"]}
    assert (result.results[0].after or {})["latest_ready_revision"].endswith("orders-api-00008-abc")


def test_a_failed_operation_is_the_service_s_failure_with_google_s_reason(sink: MemoryAuditSink) -> None:
    error = {"code": 9, "message": "Revision 'orders-api-00008-abc' is not ready and cannot serve traffic."}
    replay = Replay(
        Exchange("GET", PATH, service()),
        Exchange("GET", PATH, service()),
        Exchange("GET", PATH, service()),
        Exchange("PATCH", PATH, lro("op-4", done=False)),
        Exchange("GET", f"{OPS}/op-4", lro("op-4", done=False)),
        Exchange("GET", f"{OPS}/op-4", lro("op-4", done=True, error=error)),
    )
    (res,) = run(engine_for(replay, sink), "gcp.run.restart_service", [Target("gcp", NAME)]).results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Cloud Run could not restart {NAME} (operation projects/acme-prod/locations/us-central1/operations/op-4): "
        "9: Revision 'orders-api-00008-abc' is not ready and cannot serve traffic."
    )
    assert [r.outcome for r in sink.records if r.action == "gcp.run.restart_service"] == ["failed"]


def test_restart_of_a_service_scaled_to_zero_is_refused(sink: MemoryAuditSink) -> None:
    zero = service({"scalingMode": "MANUAL", "manualInstanceCount": 0})
    replay = Replay(Exchange("GET", PATH, zero), Exchange("GET", PATH, zero))
    (res,) = run(engine_for(replay, sink), "gcp.run.restart_service", [Target("gcp", NAME)]).results
    assert res.outcome == "failed" and "is scaled to zero" in (res.error or "")


def test_a_missing_service_is_reported(sink: MemoryAuditSink) -> None:
    replay = Replay(google_not_found(PATH, NAME))
    (res,) = run(engine_for(replay, sink), "gcp.run.scale_to_zero", [Target("gcp", NAME)]).results
    assert res.error == f"Cloud Run service {NAME} was not found"


def test_scaling_a_production_service_to_zero_needs_an_approval(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", PATH, service(AUTOMATIC, labels={"env": "production"})))
    engine = engine_for(replay, sink, gate=Gate(Actor("bob", Persona.executor), sink))
    plan = engine.plan("gcp.run.scale_to_zero", [Target("gcp", NAME)], actor="user:bob")
    (res,) = engine.execute(plan).results
    assert res.outcome == "refused" and "production" in (res.error or "")
