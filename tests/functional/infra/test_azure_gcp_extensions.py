"""escher:azure:Extension and escher:gcp:Extension under Pulumi mocks."""

from __future__ import annotations

import pytest

from escher.infra.azure import utc_ncrontab
from escher.infra.permissions import FALLBACK_OPERATIONS, azure_state_data_actions
from escher.scans.collect.permissions import scan_permissions
from tests.functional.infra.conftest import all_strings, make_spec, run_under_mocks

pytest.importorskip("pulumi")

AZ = "azure-native:"


# -- Azure ---------------------------------------------------------------------------------------------------
def test_azure_storage_audit_immutability_and_key_vault_rbac(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle))
    accounts = {r.name: r.inputs for r in d.of_type(f"{AZ}storage:StorageAccount")}
    assert set(accounts) == {"state", "audit", "host"}
    assert all(
        a["allowBlobPublicAccess"] is False and a["minimumTlsVersion"] == "TLS1_2" for a in accounts.values()
    )
    containers = {r.name: r.inputs for r in d.of_type(f"{AZ}storage:BlobContainer")}
    assert {"state", "audit", "dead-letters", "deployments"} == set(containers)
    policy = d.one(f"{AZ}storage:BlobContainerImmutabilityPolicy", "audit-immutability")
    assert policy["immutabilityPeriodSinceCreationInDays"] == 400
    vault = d.one(f"{AZ}keyvault:Vault", "credentials")
    assert vault["properties"]["enableRbacAuthorization"] is True
    assert vault["properties"]["tenantId"] == "11111111-1111-1111-1111-111111111111"  # from getClientConfig
    assert {r.name for r in d.of_type(f"{AZ}keyvault:Secret")} == {"credential-aws", "credential-gcp"}


def test_azure_function_app_is_python_with_identity_and_the_timer_in_utc(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle))
    plan = d.one(f"{AZ}web:AppServicePlan", "functions-plan")
    # Flex Consumption, the current serverless plan (Y1 Linux Consumption is legacy)
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["reserved"] is True
    app = d.one(f"{AZ}web:WebApp", "worker")
    assert app["kind"] == "functionapp,linux"
    assert app["identity"] == {"type": "SystemAssigned"}
    config = app["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.12"}
    assert config["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}
    settings = {s["name"]: s["value"] for s in app["siteConfig"]["appSettings"]}
    assert "FUNCTIONS_WORKER_RUNTIME" not in settings  # Flex refuses it: the runtime is in functionAppConfig
    assert settings["AzureFunctionsJobHost__functionTimeout"] == "00:30:00"  # not the 5-minute default
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
    assert d.of_type(f"{AZ}applicationinsights:Component")
    assert settings["ESCHER_TIMEZONE"] == "Europe/Paris"
    # 02:00 Paris is 00:00 UTC in summer, 01:00 in winter: the timer fires at both, the worker picks
    assert settings["ESCHER_DAILY_SCAN_SCHEDULE"] == "0 0 0,1 * * *"
    assert settings["ESCHER_DAILY_SCAN_AT"] == "02:00"
    assert "WEBSITE_TIME_ZONE" not in settings  # ignored on Linux Consumption
    assert "ignore WEBSITE_TIME_ZONE" in d.outputs["daily_scan_note"]


def test_utc_ncrontab_covers_every_offset_of_the_year() -> None:
    assert utc_ncrontab("Europe/Paris", "02:00", year=2025) == "0 0 0,1 * * *"
    assert utc_ncrontab("America/New_York", "20:00", year=2025) == "0 0 0,1 * * *"
    assert utc_ncrontab("UTC", "02:30", year=2025) == "0 30 2 * * *"
    assert utc_ncrontab("Asia/Kolkata", "02:00", year=2025) == "0 30 20 * * *"  # no DST, half-hour offset
    # Lord Howe moves by 30 minutes: both minutes and hours appear (the worker still picks one firing)
    assert utc_ncrontab("Australia/Lord_Howe", "02:00", year=2025) == "0 0,30 15 * * *"


def test_azure_custom_roles_are_exactly_the_operations_and_state_access(bundle: str) -> None:
    spec = make_spec(
        "azure", bundle, operations=("azure.scan.daily_inventory", "azure.compute.deallocate_vm")
    )
    d = run_under_mocks(spec)
    ops_role = d.one(f"{AZ}authorization:RoleDefinition", "operations-role")
    read_role = d.one(f"{AZ}authorization:RoleDefinition", "read-role")
    expected = set(scan_permissions("azure")) | set(FALLBACK_OPERATIONS["azure.compute.deallocate_vm"])
    assert set(ops_role["permissions"][0]["actions"]) == {
        "Microsoft.Compute/virtualMachines/deallocate/action"
    }
    assert (
        set(ops_role["permissions"][0]["actions"]) | set(read_role["permissions"][0]["actions"]) == expected
    )
    assert ops_role["assignableScopes"] == ["/subscriptions/00000000-0000-0000-0000-000000000000"]
    state_role = d.one(f"{AZ}authorization:RoleDefinition", "state-role")
    assert set(state_role["permissions"][0]["dataActions"]) == set(azure_state_data_actions())
    grants = {r.name for r in d.of_type(f"{AZ}authorization:RoleAssignment")}
    assert grants == {
        "grant-read",
        "grant-operations",
        "grant-state",
        "grant-audit",
        "grant-credentials",
        "grant-host",
        "grant-scan-queue",  # the organization scan's Storage queue (built-in Queue Data Contributor)
        "deployer-writes-credentials",
    }
    actions = [
        a
        for r in d.of_type(f"{AZ}authorization:RoleDefinition")
        for p in r.inputs["permissions"]
        for a in (*p.get("actions", []), *p.get("dataActions", []))
    ]
    assert actions and [a for a in actions if "*" in a] == []


def test_azure_subscription_events_reach_the_function_with_dead_letters(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle, azure_triggers_synced=True))
    topic = d.one(f"{AZ}eventgrid:SystemTopic", "subscription-events")
    assert topic["topicType"] == "Microsoft.Resources.Subscriptions" and topic["location"] == "global"
    sub = d.one(f"{AZ}eventgrid:SystemTopicEventSubscription", "to-worker")
    assert sub["destination"]["endpointType"] == "AzureFunction"
    assert sub["destination"]["resourceId"].endswith("/functions/on_event_grid")
    assert sub["deadLetterDestination"]["endpointType"] == "StorageBlob"
    assert "Microsoft.Resources.ResourceWriteSuccess" in sub["filter"]["includedEventTypes"]
    assert d.outputs["events_not_wired"] == ["resource_events"]  # EC2/RDS-style events: none on Azure


# -- GCP -----------------------------------------------------------------------------------------------------
GCP = "gcp:"


def test_gcp_buckets_secrets_and_the_custom_role(bundle: str) -> None:
    spec = make_spec("gcp", bundle, operations=("gcp.scan.daily_inventory", "gcp.compute.stop_instance"))
    d = run_under_mocks(spec)
    buckets = {r.name: r.inputs for r in d.of_type("gcp:storage/bucket:Bucket")}
    assert set(buckets) == {"state", "audit", "sources"}
    assert all(
        b["publicAccessPrevention"] == "enforced" and b["uniformBucketLevelAccess"] for b in buckets.values()
    )
    assert buckets["audit"]["retentionPolicy"]["retentionPeriod"] == str(400 * 86400)
    assert buckets["state"]["versioning"] == {"enabled": True}
    role = d.one("gcp:projects/iAMCustomRole:IAMCustomRole", "operations-role")
    assert set(role["permissions"]) == set(scan_permissions("gcp")) | set(
        FALLBACK_OPERATIONS["gcp.compute.stop_instance"]
    )
    assert {r.name for r in d.of_type("gcp:secretmanager/secret:Secret")} == {
        "credential-aws",
        "credential-azure",
    }
    bindings = {r.name: r.inputs["role"] for r in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    assert bindings == {
        "grant-state": "roles/storage.objectUser",  # with a condition: never settings/ nor approvals/grants/
        "grant-state-read": "roles/storage.objectViewer",  # reads everything, the settings included
        "grant-audit": "roles/storage.objectCreator",
        "builder-reads-sources": "roles/storage.objectViewer",  # the build reads the worker's source
    }


def test_gcp_function_scheduler_and_event_path(bundle: str) -> None:
    d = run_under_mocks(make_spec("gcp", bundle, events=("api_calls",)))
    fn = d.one("gcp:cloudfunctionsv2/function:Function", "worker")
    assert fn["buildConfig"]["runtime"] == "python312"
    assert fn["buildConfig"]["entryPoint"] == "on_schedule"
    assert fn["serviceConfig"]["minInstanceCount"] == 0
    job = d.one("gcp:cloudscheduler/job:Job", "daily-scan")
    assert job["schedule"] == "0 2 * * *" and job["timeZone"] == "Europe/Paris"
    assert "oidcToken" in job["httpTarget"]
    sink = d.one("gcp:logging/projectSink:ProjectSink", "audit-logs")
    assert sink["filter"].startswith('logName:"cloudaudit.googleapis.com%2Factivity" AND ')
    sub = d.one("gcp:pubsub/subscription:Subscription", "to-worker")
    assert sub["deadLetterPolicy"]["maxDeliveryAttempts"] == 10
    assert "oidcToken" in sub["pushConfig"]
    agent = "serviceAccount:service-123456789@gcp-sa-pubsub.iam.gserviceaccount.com"
    assert d.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "dead-letters-publisher")["member"] == agent
    perms = [s for r in d.resources for s in all_strings(r.inputs.get("permissions", []))]
    assert perms and [p for p in perms if "*" in p] == []


def test_gcp_without_events_has_no_sink(bundle: str) -> None:
    d = run_under_mocks(make_spec("gcp", bundle, events=()))
    assert d.of_type("gcp:logging/projectSink:ProjectSink") == []
    assert d.of_type("gcp:cloudscheduler/job:Job")  # the schedule stays
