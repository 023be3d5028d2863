"""Function app start / stop / restart through an installed azure-mgmt client's pipeline, ARM replayed at the
azure-core transport. Bodies follow azure-rest-api-specs' Microsoft.Web examples (GetWebApp.json's site with
``properties.state``; StopWebApp / StartWebApp / RestartWebApp answer 200 with no body)."""

from __future__ import annotations

from typing import Any

from escher.audit import MemoryAuditSink
from escher.clouds.azure.ops.functions import API_VERSION
from escher.ops import CloudContext, Engine, Target
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.replay import arm_not_found, arm_pages, throttled

SUB = "34adfa4f-cedf-4dc0-ba29-b6d1a69ab345"
RG = f"/subscriptions/{SUB}/resourceGroups/testrg123"
APP = f"{RG}/providers/Microsoft.Web/sites/orders-fn"
API = f"api-version={API_VERSION}"


def site(
    state: str, *, kind: str = "functionapp,linux", tags: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "id": APP,
        "name": "orders-fn",
        "type": "Microsoft.Web/sites",
        "kind": kind,
        "location": "East US",
        "tags": tags if tags is not None else {"team": "orders"},
        "properties": {
            "state": state,
            "hostNames": ["orders-fn.azurewebsites.net"],
            "enabled": True,
            "enabledHostNames": ["orders-fn.azurewebsites.net", "orders-fn.scm.azurewebsites.net"],
            "availabilityState": "Normal",
            "serverFarmId": f"{RG}/providers/Microsoft.Web/serverfarms/EastUSLinuxDynamicPlan",
            "reserved": True,
            "httpsOnly": True,
            "defaultHostName": "orders-fn.azurewebsites.net",
        },
    }


def engine_for(
    replay: Replay, sink: MemoryAuditSink, *, sdk_retries: bool = False, gate: Any = None
) -> Engine:
    options: dict[str, Any] = {"polling_interval": 0}
    if not sdk_retries:
        options["retry_total"] = 0
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options=options,
        azure_subscription_id=SUB,
    )
    if gate is not None:
        return Engine(ctx, sink, gate, verify_interval=0.01, verify_timeout=2.0, concurrency=1)
    return make_engine(ctx, sink, concurrency=1, verify_interval=0.01)


def ledger(sink: MemoryAuditSink, action: str) -> list[str]:
    return [r.outcome for r in sink.records if r.action == action]


def test_stop_posts_stop_and_verifies_the_state(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site("Running")),  # plan
        Exchange("GET", APP, site("Running")),  # execute reads again
        Exchange("POST", f"{APP}/stop", None),
        Exchange("GET", APP, site("Stopped")),  # verify
    )
    result = run(engine_for(replay, sink), "azure.functions.stop_app", [Target("azure", APP)])
    assert result.ok, result.to_dict()
    (res,) = result.results
    assert res.before == {"state": "Running", "kind": "functionapp,linux", "tag:team": "orders"}
    assert (res.after or {})["state"] == "Stopped"
    post = next(s for s in replay.sent if s.method == "POST")
    assert post.path == f"{APP}/stop" and post.query == API and post.body is None
    assert all(API in s.query for s in replay.sent)
    assert ledger(sink, "azure.functions.stop_app") == ["succeeded", "verified"]


def test_start_waits_until_the_app_is_running(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site("Stopped")),
        Exchange("GET", APP, site("Stopped")),
        Exchange("POST", f"{APP}/start", None),
        Exchange("GET", APP, site("Stopped")),  # not yet
        Exchange("GET", APP, site("Running")),
    )
    result = run(engine_for(replay, sink), "azure.functions.start_app", [Target("azure", APP)])
    assert result.ok, result.to_dict()
    assert replay.count("GET", APP) == 4


def test_stop_of_a_stopped_app_is_a_noop(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", APP, site("Stopped")), Exchange("GET", APP, site("Stopped")))
    assert run(engine_for(replay, sink), "azure.functions.stop_app", [Target("azure", APP)]).counts() == {
        "noop": 1
    }


def test_restart_runs_once_and_is_verified_running(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site("Running")),
        Exchange("GET", APP, site("Running")),
        Exchange("POST", f"{APP}/restart", None),
        Exchange("GET", APP, site("Running")),
    )
    result = run(engine_for(replay, sink), "azure.functions.restart_app", [Target("azure", APP)])
    assert result.ok, result.to_dict()
    assert replay.count("POST", f"{APP}/restart") == 1


def test_restart_of_a_stopped_app_is_refused(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", APP, site("Stopped")), Exchange("GET", APP, site("Stopped")))
    (res,) = run(engine_for(replay, sink), "azure.functions.restart_app", [Target("azure", APP)]).results
    assert res.outcome == "failed"
    assert "is Stopped, not Running" in (res.error or "")
    assert replay.count("POST", f"{APP}/restart") == 0


def test_a_web_app_is_not_a_function_app(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", APP, site("Running", kind="app")))
    plan = engine_for(replay, sink).plan("azure.functions.stop_app", [Target("azure", APP)], actor="user:a")
    assert plan.changes[0].action == "error"
    assert "of kind 'app', not a function app" in (plan.changes[0].error or "")


def test_a_missing_app_is_reported(sink: MemoryAuditSink) -> None:
    replay = Replay(arm_not_found(APP))
    (res,) = run(engine_for(replay, sink), "azure.functions.stop_app", [Target("azure", APP)]).results
    assert res.outcome == "failed"
    assert res.error == f"function app {APP} was not found"


def test_a_throttled_stop_is_retried_by_azure_core(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site("Running")),
        Exchange("GET", APP, site("Running")),
        throttled(Exchange("POST", f"{APP}/stop", None)),
        Exchange("GET", APP, site("Stopped")),
    )
    result = run(
        engine_for(replay, sink, sdk_retries=True), "azure.functions.stop_app", [Target("azure", APP)]
    )
    assert result.ok, result.to_dict()
    assert replay.count("POST", f"{APP}/stop") == 2


def test_stopping_a_production_app_needs_an_approval(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", APP, site("Running", tags={"environment": "prod"})))
    gate = Gate(Actor("bob", Persona.executor), sink)
    engine = engine_for(replay, sink, gate=gate)
    plan = engine.plan("azure.functions.stop_app", [Target("azure", APP)], actor="user:bob")
    (res,) = engine.execute(plan).results
    assert res.outcome == "refused" and "production" in (res.error or "")
    assert replay.count("POST", f"{APP}/stop") == 0


def test_apps_are_selected_by_tag_over_every_page(sink: MemoryAuditSink) -> None:
    other = {**site("Running", tags={"schedule": "nightly"}), "id": f"{RG}/providers/Microsoft.Web/sites/web"}
    other["kind"] = "app"  # a web app with the tag is not a function app
    replay = Replay(
        arm_pages(
            f"/subscriptions/{SUB}/providers/Microsoft.Web/sites",
            [[site("Running", tags={"schedule": "nightly"})], [other, site("Running")]],
            api_version=API_VERSION,
        )
    )
    engine = engine_for(replay, sink)
    op = engine.plan("azure.functions.stop_app", [], actor="x").operation
    assert engine.resolve_targets(op, tags={"schedule": "nightly"}) == [Target("azure", APP)]
    assert [s.query.count("api-version=") for s in replay.sent] == [1, 1]  # the nextLink keeps its own
