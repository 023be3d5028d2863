"""Issue 21 item 4 on Azure, through the deployed Function App's action-group HTTP trigger (the function the
Functions host indexes), state and audit on azurite, ARM replayed at the azure-core transport:

- scale up near capacity: a metric alert on a SQL database's storage_percent grows its maximum size
  (azure.sql.increase_max_size) when the utilisation is at or above [remediation] capacity_percent;
- restart failed services: a Resource Health alert saying a VM became Unavailable, platform-initiated,
  restarts it (azure.compute.restart_vm); a user-initiated one is left alone;
- rollback failed deployments: a function app's Http5xx alert swaps the staging slot back
  (azure.functions.swap_slot).

The alerts are the golden samples (the documented common alert schema). Each switch off, or under its bar,
gives an approval request and no ARM request at all.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.storage.blob import BlobServiceClient

from escher.emulators import AzuriteEmulator
from escher.ops import CloudContext
from escher.pipeline import runtime
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.azure_functions import indexed_functions
from tests.harness.replay import ARM, arm_async_operation, arm_location_operation
from tests.unit.events._samples import sample

FUNCTIONS = {name: f.get_user_function() for name, f in indexed_functions().items()}
SUB = "8f2c1d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"
GIB = 1024**3


@pytest.fixture
def blob(azure_env: AzuriteEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    service = BlobServiceClient.from_connection_string(azure_env.connection_string)
    for name in ("escher-state", "escher-dead-letters"):
        service.create_container(name)
    monkeypatch.setenv("ESCHER_STATE_URL", "azblob://escher-state")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "azblob://escher-dead-letters/letters")
    yield service
    for name in ("escher-state", "escher-dead-letters"):
        service.delete_container(name)


def switches(config: Path, **on: Any) -> None:
    lines = ["[remediation]", *(f"{k} = {json.dumps(v)}" for k, v in on.items())]
    config.write_text("\n".join(lines) + '\n\n[notify.routes]\nHIGH = ["banner"]\n', encoding="utf-8")
    runtime.reset()  # the worker reads its config once per cold start


def alert(name: str, event_id: str, **changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(sample("azure", name))
    body["data"]["essentials"]["alertId"] = (
        f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{event_id}"
    )
    for key, value in changes.items():
        holder = body["data"]["alertContext"]
        if key == "metricValue":
            holder["condition"]["allOf"][0]["metricValue"] = value
        else:
            holder["properties"][key] = value
    return body


def post(body: dict[str, Any], replay: Replay) -> dict[str, Any]:
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    request = func.HttpRequest(
        method="POST", url="/api/action-group", body=json.dumps(body).encode(), headers={}
    )
    with runtime.override("azure", cloud=ctx):
        response = FUNCTIONS["action_group"](request)
    assert response.status_code == 200
    return dict(json.loads(response.get_body()))


def audit(blob: Any, action: str) -> list[dict[str, Any]]:
    state = blob.get_container_client("escher-state")
    records = [
        json.loads(state.download_blob(n).readall())["record"]
        for n in state.list_blob_names(name_starts_with="audit/")
    ]
    return [r for r in records if r.get("action") == action]


# -- scale up near capacity: Azure SQL storage --------------------------------------------------------------
DB = f"/subscriptions/{SUB}/resourceGroups/orders-rg/providers/Microsoft.Sql/servers/orders-sql/databases/orders"


def database(max_gb: int) -> dict[str, Any]:
    return {
        "sku": {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2},
        "kind": "v12.0,user,vcore",
        "properties": {
            "maxSizeBytes": max_gb * GIB,
            "status": "Online",
            "currentServiceObjectiveName": "GP_Gen5_2",
        },
        "location": "westeurope",
        "id": DB,
        "name": "orders",
        "type": "Microsoft.Sql/servers/databases",
    }


def test_sql_storage_alert_over_the_bar_grows_the_database_with_the_switch_on(
    blob: Any, worker_config: Path
) -> None:
    switches(worker_config / "config.toml", scale_up_near_capacity=True, capacity_percent=90.0)
    op = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Sql/locations/westeurope/databaseAzureAsyncOperation/op-1"
    replay = Replay(
        Exchange("GET", DB, database(32)),  # the plan's read stands for execute's
        arm_async_operation("PATCH", DB, op),
        Exchange("GET", DB, database(40)),  # the SDK's final GET of the PATCH
        Exchange("GET", DB, database(40)),  # verify
    )
    result = post(alert("metric_alert_sql_storage", "sql-1"), replay)  # storage_percent 91.2
    assert result["outcome"] == "auto_resolved", result
    assert replay.bodies("PATCH") == [{"properties": {"maxSizeBytes": 40 * GIB}}]
    [record] = audit(blob, "azure.sql.increase_max_size")
    assert record["outcome"] == "verified" and record["target"].lower() == DB.lower()
    assert record["details"]["decision"] == "pre-approved by [remediation] scale_up_near_capacity"
    assert record["before"]["max_size_bytes"] == 32 * GIB and record["after"]["max_size_bytes"] == 40 * GIB


def test_sql_storage_alert_under_the_bar_asks_for_approval_and_touches_nothing(
    blob: Any, worker_config: Path
) -> None:
    switches(worker_config / "config.toml", scale_up_near_capacity=True, capacity_percent=95.0)
    replay = Replay()  # not one ARM request
    result = post(alert("metric_alert_sql_storage", "sql-2"), replay)
    assert result["outcome"] == "needs_approval", result
    [record] = audit(blob, "azure.sql.increase_max_size")
    assert record["outcome"] == "approval_requested" and record["details"]["approval_request_id"]
    assert replay.sent == []


# -- restart failed services: Resource Health on a VM --------------------------------------------------------
VM = f"/subscriptions/{SUB}/resourceGroups/app-rg/providers/Microsoft.Compute/virtualMachines/app-vm-01"


def vm(power: str) -> dict[str, Any]:
    return {
        "name": "app-vm-01",
        "id": VM,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "westeurope",
        "tags": {"env": "dev"},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B2s"},
            "provisioningState": "Succeeded",
            "instanceView": {"statuses": [{"code": f"PowerState/{power}", "level": "Info"}]},
        },
    }


def test_resource_health_unavailable_vm_is_restarted_with_the_switch_on(
    blob: Any, worker_config: Path
) -> None:
    switches(worker_config / "config.toml", restart_failed_services=True)
    op = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/westeurope/operations/op-r"
    replay = Replay(
        Exchange("GET", VM, vm("running"), query="$expand=instanceView"),  # running, yet not answering
        arm_async_operation("POST", f"{VM}/restart", op),
        Exchange("GET", VM, vm("running"), query="$expand=instanceView"),  # verify
    )
    result = post(alert("resource_health_vm_unavailable", "rh-1"), replay)
    assert result["outcome"] == "auto_resolved", result
    assert [s.path for s in replay.sent if s.method == "POST"] == [f"{VM}/restart"]
    [record] = audit(blob, "azure.compute.restart_vm")
    assert record["outcome"] == "verified"
    assert record["details"]["decision"] == "pre-approved by [remediation] restart_failed_services"


def test_a_vm_its_user_stopped_is_not_restarted(blob: Any, worker_config: Path) -> None:
    switches(worker_config / "config.toml", restart_failed_services=True)
    replay = Replay()
    body = alert("resource_health_vm_unavailable", "rh-2", cause="UserInitiated", title="Stopped by user")
    result = post(body, replay)
    assert result["outcome"] == "open", result  # an alert, no remediation
    assert replay.sent == [] and not audit(blob, "azure.compute.restart_vm")


def test_resource_health_with_the_switch_off_asks_for_approval(blob: Any, worker_config: Path) -> None:
    switches(worker_config / "config.toml", restart_failed_services=False)
    replay = Replay()
    result = post(alert("resource_health_vm_unavailable", "rh-3"), replay)
    assert result["outcome"] == "needs_approval", result
    assert replay.sent == []


# -- rollback failed deployments: a function app's 5xx -----------------------------------------------------
APP = f"/subscriptions/{SUB}/resourcegroups/orders-rg/providers/microsoft.web/sites/orders-fn"  # as the alert names it


def site(swapped_at: str) -> dict[str, Any]:
    return {
        "id": APP,
        "name": "orders-fn",
        "type": "Microsoft.Web/sites",
        "kind": "functionapp",
        "location": "West Europe",
        "tags": {},
        "properties": {
            "state": "Running",
            "slotSwapStatus": {
                "timestampUtc": swapped_at,
                "sourceSlotName": "staging",
                "destinationSlotName": "production",
            },
        },
    }


def test_function_app_5xx_alert_swaps_the_staging_slot_back_with_the_switch_on(
    blob: Any, worker_config: Path
) -> None:
    import escher.clouds.azure.ops.functions as module

    switches(worker_config / "config.toml", rollback_failed_deployments=True)
    location = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Web/locations/westeurope/operationResults/op-s"
    replay = Replay(
        Exchange("GET", APP, site("2024-05-02T09:00:00Z")),  # the deployment's swap
        arm_location_operation("POST", f"{APP}/slotsswap", f"{location}?api-version={module.API_VERSION}"),
        Exchange("GET", APP, site("2024-05-02T09:25:00Z")),  # the swap back happened
        Exchange("GET", APP, site("2024-05-02T09:25:00Z")),  # verify
    )
    result = post(alert("metric_alert_function_http5xx", "fn-1"), replay)
    assert result["outcome"] == "auto_resolved", result
    assert replay.bodies("POST") == [{"targetSlot": "staging", "preserveVnet": True}]
    [record] = audit(blob, "azure.functions.swap_slot")
    assert record["outcome"] == "verified"
    assert record["details"]["decision"] == "pre-approved by [remediation] rollback_failed_deployments"


def test_function_app_5xx_alert_with_the_switch_off_asks_for_approval(blob: Any, worker_config: Path) -> None:
    switches(worker_config / "config.toml", rollback_failed_deployments=False)
    replay = Replay()
    result = post(alert("metric_alert_function_http5xx", "fn-2"), replay)
    assert result["outcome"] == "needs_approval", result
    assert replay.sent == []
