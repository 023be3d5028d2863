"""The Azure program against the documentation: the Event Grid subscription only once the triggers are synced,
an existing system topic reused, role names unique in the tenant, the audit policy locked in compliance mode,
the deployer able to write credentials, and every normalizer's events routed (Event Grid, action group)."""

from __future__ import annotations

import pytest

from escher.events._base import NORMALIZERS
from escher.infra.plan import run_plan
from escher.infra.spec import EVENT_KINDS
from tests.functional.infra.conftest import make_spec, run_under_mocks

pulumi = pytest.importorskip("pulumi")

AZ = "azure-native:"
SUB = f"{AZ}eventgrid:SystemTopicEventSubscription"
TOPIC_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/security-rg/providers/"
    "Microsoft.EventGrid/systemTopics/defender-topic"
)


def test_the_event_grid_subscription_waits_for_the_synced_triggers(bundle: str) -> None:
    """ "Destination endpoint not found": functions/on_event_grid exists only after the triggers are synced."""
    first = run_under_mocks(make_spec("azure", bundle))
    assert first.of_type(SUB) == []
    steps = first.outputs["post_deploy"]
    assert steps[0].startswith("az functionapp deployment source config-zip ")  # OneDeploy: syncs triggers
    assert steps[-1].startswith("escher extend azure")
    assert first.outputs["event_grid_subscription"].startswith("pending")
    second = run_under_mocks(make_spec("azure", bundle, azure_triggers_synced=True))
    [sub] = second.of_type(SUB)
    assert sub.inputs["destination"]["resourceId"] == "worker-id/functions/on_event_grid"
    assert not any(s.startswith("escher extend") for s in second.outputs["post_deploy"])


def test_an_existing_system_topic_is_reused(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle, azure_system_topic=TOPIC_ID, azure_triggers_synced=True))
    assert d.of_type(f"{AZ}eventgrid:SystemTopic") == []
    [sub] = d.of_type(SUB)
    assert (sub.inputs["resourceGroupName"], sub.inputs["systemTopicName"]) == (
        "security-rg",
        "defender-topic",
    )
    assert d.outputs["system_topic_reused"] is True


def test_custom_role_names_are_unique_per_subscription_and_stack(bundle: str) -> None:
    def names(subscription: str) -> set[str]:
        d = run_under_mocks(make_spec("azure", bundle, azure_subscription_id=subscription))
        return {r.inputs["roleName"] for r in d.of_type(f"{AZ}authorization:RoleDefinition")}

    one, two = names("11111111-aaaa"), names("22222222-bbbb")
    assert len(one) >= 3 and not one & two  # a second subscription in the tenant gets its own roles
    assert all("-test-" in n for n in one)  # the stack (the mocks' is "test")


def test_compliance_mode_locks_the_immutability_policy_after_deploy(bundle: str) -> None:
    locked = run_under_mocks(make_spec("azure", bundle, audit_lock_mode="compliance")).outputs
    [lock] = [s for s in locked["post_deploy"] if "/lock?" in s]
    assert "immutabilityPolicies/default/lock?api-version=" in lock and "If-Match=$etag" in lock
    # the container's own name (the provider autonames it), as the stack outputs it
    assert f"/containers/{locked['audit_container']}/" in lock and locked["audit_container"] != "audit"
    governance = run_under_mocks(make_spec("azure", bundle, audit_lock_mode="governance")).outputs
    assert not [s for s in governance["post_deploy"] if "/lock?" in s]


def test_the_deployer_may_write_the_credentials(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle))
    grant = d.one(f"{AZ}authorization:RoleAssignment", "deployer-writes-credentials")
    assert grant["principalId"] == "mock-object"  # the deploying identity (getClientConfig)
    assert grant["roleDefinitionId"].endswith("/b86a8fe4-44ce-4948-aee5-eccb2c155cd7")  # Secrets Officer
    assert grant["scope"] == "credentials-id"


def _routes(envelopes: tuple[str, ...]) -> set[str]:
    return {
        r for _, n in NORMALIZERS.items("azure.") if n.envelope in envelopes for r in n.routes if r != "*"
    }


def test_every_normalizer_route_is_routed_and_nothing_else(bundle: str) -> None:
    plan = run_plan(make_spec("azure", bundle, events=EVENT_KINDS, azure_triggers_synced=True))
    [sub] = [r.settings for r in plan.resources if r.type == SUB]
    assert set(sub["filter"]["includedEventTypes"]) == _routes(("eventgrid",))
    [not_self] = sub["filter"]["advancedFilters"]
    assert not_self["key"] == "data.authorization.evidence.principalId"
    assert not_self["operatorType"] == "StringNotIn" and not_self["values"] == ["worker-principal"]
    # alerts: the monitor and budget normalizers' routes arrive through the action group's function
    assert _routes(("azure_monitor", "azure_budget"))  # the test has teeth
    [group] = [r.settings for r in plan.resources if r.type == f"{AZ}monitor:ActionGroup"]
    [receiver] = group["azureFunctionReceivers"]
    assert receiver["functionName"] == "action_group" and receiver["useCommonAlertSchema"] is True
    assert receiver["httpTriggerUrl"].endswith("/api/action-group")
    alerts = {
        r.settings["condition"]["allOf"][0]["equals"]
        for r in plan.resources
        if r.type == f"{AZ}monitor:ActivityLogAlert"
    }
    assert alerts == {"ServiceHealth", "Security"}  # health and Defender; metric/log alerts name the group
    assert plan.outputs["action_group"]


def test_the_action_group_calls_the_workers_http_function(bundle: str) -> None:
    from tests.harness.azure_functions import indexed_functions  # indexed once per process

    plan = run_plan(make_spec("azure", bundle, events=("alarms",)))
    [group] = [r.settings for r in plan.resources if r.type == f"{AZ}monitor:ActionGroup"]
    [receiver] = group["azureFunctionReceivers"]
    routes = {
        name: b.route
        for name, f in indexed_functions().items()
        for b in f.get_bindings()
        if b.type == "httpTrigger"
    }
    assert receiver["httpTriggerUrl"].endswith(f"/api/{routes[receiver['functionName']]}")


def test_generic_events_have_an_expiring_log_in_the_state_account(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle, events_log_days=14))
    policy = d.one(f"{AZ}storage:ManagementPolicy", "state-events-log-expiry")["policy"]
    [rule] = policy["rules"]
    assert rule["definition"]["filters"]["prefixMatch"] == ["state-mock/events-log/"]
    assert rule["definition"]["actions"]["baseBlob"]["delete"] == {"daysAfterModificationGreaterThan": 14}
