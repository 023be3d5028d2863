"""The GCP program against the documentation: APIs enabled before anything uses them, a build service account,
role ids that a deleted role's ghost cannot block, the scheduler's deadline and token audience, and event
sources that deliver what the normalizers parse (and nothing else)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from escher.events._base import NORMALIZERS
from escher.infra.plan import run_plan
from escher.infra.spec import EVENT_KINDS
from tests.functional.infra.conftest import make_spec

pulumi = pytest.importorskip("pulumi")

SERVICE = "gcp:projects/service:Service"


def _one(plan: Any, type_: str, name: str) -> dict[str, Any]:
    [found] = [r.settings for r in plan.resources if r.type == type_ and r.name == name]
    return found


def _of(plan: Any, type_: str) -> list[Any]:
    return [r for r in plan.resources if r.type == type_]


def _options(spec: Any) -> dict[str, Any]:
    """Each resource's options (depends_on, retain_on_delete), recorded by a stack transformation."""
    from tests.harness.pulumi_mocks import install_mocks

    seen: dict[str, Any] = {}

    def note(args: Any) -> None:
        seen[f"{args.type_}::{args.name}"] = args.opts

    install_mocks()

    @pulumi.runtime.test
    def program() -> Any:
        from escher.infra.program import declare

        pulumi.runtime.register_stack_transformation(note)
        return declare(spec).urn

    try:
        program()
    finally:
        pulumi.runtime.settings.reset_options()
    return seen


def test_the_required_apis_are_enabled_and_everything_waits_for_them(bundle: str) -> None:
    spec = make_spec("gcp", bundle, events=EVENT_KINDS)
    plan = run_plan(spec)
    apis = {r.settings["service"]: r.settings for r in _of(plan, SERVICE)}
    for api in ("cloudfunctions", "run", "cloudbuild", "artifactregistry", "cloudscheduler", "secretmanager",
                "pubsub", "iam", "logging", "monitoring", "securitycenter"):  # fmt: skip
        assert f"{api}.googleapis.com" in apis, api
    assert all(a["disableOnDestroy"] is False for a in apis.values())  # other tools may use them
    options = _options(spec)
    waiting = {key: opts for key, opts in options.items() if not key.startswith((f"{SERVICE}::", "escher:"))}
    late = [k for k, o in waiting.items() if len(o.depends_on or []) < len(apis)]
    assert waiting and not late, f"created before the APIs are enabled: {late}"


def test_the_build_runs_as_its_own_service_account(bundle: str) -> None:
    plan = run_plan(make_spec("gcp", bundle))
    fn = _one(plan, "gcp:cloudfunctionsv2/function:Function", "worker")
    assert fn["buildConfig"]["serviceAccount"] == "builder-id"
    roles = {
        r.settings["role"]
        for r in _of(plan, "gcp:projects/iAMMember:IAMMember")
        if r.name.startswith("builder")
    }
    assert roles == {"roles/logging.logWriter", "roles/artifactregistry.writer"}


def test_custom_role_ids_differ_per_stack(bundle: str) -> None:
    from escher.infra.gcp import role_suffix

    plan = run_plan(make_spec("gcp", bundle))  # stack plan-gcp
    ids = {r.settings["roleId"] for r in _of(plan, "gcp:projects/iAMCustomRole:IAMCustomRole")}
    assert ids == {"escher_operations_plan_gcp"}
    assert all(re.fullmatch(r"[a-zA-Z0-9_.]{3,64}", i) for i in ids)
    assert role_suffix("prod-eu") != role_suffix("prod-us") and role_suffix("") == "default"


def test_the_scheduler_waits_for_a_long_scan_and_signs_for_the_service(bundle: str) -> None:
    plan = run_plan(make_spec("gcp", bundle, events=("api_calls",)))
    job = _one(plan, "gcp:cloudscheduler/job:Job", "daily-scan")
    assert job["attemptDeadline"] == "1800s"
    fn = _one(plan, "gcp:cloudfunctionsv2/function:Function", "worker")
    assert fn["serviceConfig"]["timeoutSeconds"] == 1800
    service_uri = "https://worker.run.app"  # the mocks' serviceConfig.uri (the Cloud Run service)
    assert job["httpTarget"]["uri"] == job["httpTarget"]["oidcToken"]["audience"] == service_uri
    push = _one(plan, "gcp:pubsub/subscription:Subscription", "to-worker")["pushConfig"]
    assert push["pushEndpoint"] == push["oidcToken"]["audience"] == service_uri


def _routes() -> set[str]:
    return {
        route
        for _, n in NORMALIZERS.items("gcp.")
        for route in n.routes
        if "*" not in route and route != "audit:failed"
    }


def test_every_normalizer_route_is_delivered_and_nothing_else(bundle: str) -> None:
    plan = run_plan(make_spec("gcp", bundle, events=EVENT_KINDS))
    topic = "events-id"
    audit = {r.split(":", 1)[1] for r in _routes() if r.startswith("audit:")}
    assert len(audit) >= 7  # the test has teeth
    sink = _one(plan, "gcp:logging/projectSink:ProjectSink", "audit-logs")
    methods = {
        m.removeprefix("v1.").removeprefix("beta.")
        for m in re.findall(r'"([A-Za-z0-9.]+)"', sink["filter"].split("methodName=")[1].split(")")[0])
    }
    assert methods == audit  # every method a normalizer reads, and only those
    assert '-protoPayload.authenticationInfo.principalEmail="escher-worker@' in sink["filter"]
    assert sink["destination"].endswith(topic)
    channel = _one(plan, "gcp:monitoring/notificationChannel:NotificationChannel", "alarms")
    assert channel["type"] == "pubsub" and channel["labels"]["topic"] == topic  # monitoring.incident
    findings = _one(
        plan, "gcp:securitycenter/v2ProjectNotificationConfig:V2ProjectNotificationConfig", "findings"
    )
    assert findings["pubsubTopic"] == topic  # scc.finding
    publishers = {r.name: r.settings["member"] for r in _of(plan, "gcp:pubsub/topicIAMMember:TopicIAMMember")}
    assert (
        publishers["billing-may-publish"] == "serviceAccount:billing-budget-alert@system.gserviceaccount.com"
    )
    assert "gcp-sa-monitoring-notification" in publishers["monitoring-may-publish"]
    delivered = {"monitoring.incident", "scc.finding", "billing.budget"} | {f"audit:{m}" for m in methods}
    assert delivered == _routes()
    assert plan.outputs["events_not_wired"] == ["health", "resource_events"]  # no normalizer reads them


def test_generic_events_have_an_expiring_log_in_the_state_bucket(bundle: str) -> None:
    plan = run_plan(make_spec("gcp", bundle, events_log_days=14))
    [rule] = _one(plan, "gcp:storage/bucket:Bucket", "state")["lifecycleRules"]
    assert rule["condition"]["matchesPrefixes"] == ["events-log/"] and rule["condition"]["age"] == 14
    assert plan.worker_environment["ESCHER_EVENTS_LOG_PREFIX"] == "events-log/"
