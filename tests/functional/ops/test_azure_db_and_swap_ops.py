"""Azure SQL database growth and SKU change (azure-mgmt-sql) and the function-app slot swap back (ARM through an
installed management client's pipeline), replayed at the azure-core transport.

Bodies follow azure-rest-api-specs: Microsoft.Sql ``Database`` (a vCore General Purpose database,
``maxSizeBytes``, ``currentServiceObjectiveName``; a DTU Standard database whose ``sku.name`` is its edition) and
``DatabaseUpdate`` PATCHes answered as the SQL provider does (202, ``Azure-AsyncOperation``, polled); Microsoft.Web
``Site`` with ``slotSwapStatus`` and ``POST .../slotsswap`` with ``CsmSlotEntity`` (202 and a ``Location`` to poll).
"""

from __future__ import annotations

from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.clouds.azure.ops.functions import API_VERSION as WEB_API
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.replay import (
    ARM,
    arm_async_operation,
    arm_error,
    arm_location_operation,
    arm_not_found,
    throttled,
)

SUB = "00000000-1111-2222-3333-444444444444"
RG = f"/subscriptions/{SUB}/resourceGroups/orders-rg"
DB = f"{RG}/providers/Microsoft.Sql/servers/orders-sql/databases/orders"
SQL_API = "api-version=2025-01-01"
SQL_OPS = f"/subscriptions/{SUB}/providers/Microsoft.Sql/locations/westeurope"
GIB = 1024**3


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    import escher.clouds.azure.ops.functions

    monkeypatch.setattr(escher.clouds.azure.ops.functions, "POLL_SECONDS", 0.0)


def engine_for(replay: Replay, sink: MemoryAuditSink, *, sdk_retries: bool = False) -> Engine:
    options: dict[str, Any] = {"polling_interval": 0}
    if not sdk_retries:
        options["retry_total"] = 0
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options=options,
    )
    return make_engine(ctx, sink, concurrency=1, verify_interval=0.01)


def vcore(max_gb: int = 32, *, capacity: int = 2, status: str = "Online") -> dict[str, Any]:
    return {
        "sku": {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": capacity},
        "kind": "v12.0,user,vcore",
        "properties": {
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": max_gb * GIB,
            "status": status,
            "databaseId": "7d2a3f4e-0000-4000-8000-000000000003",
            "currentServiceObjectiveName": f"GP_Gen5_{capacity}",
            "requestedServiceObjectiveName": f"GP_Gen5_{capacity}",
            "currentSku": {
                "name": "GP_Gen5",
                "tier": "GeneralPurpose",
                "family": "Gen5",
                "capacity": capacity,
            },
        },
        "location": "westeurope",
        "id": DB,
        "name": "orders",
        "type": "Microsoft.Sql/servers/databases",
    }


def dtu(objective: str, *, dtus: int) -> dict[str, Any]:
    """A DTU database: ``sku.name`` is the edition (Standard), the objective (S3) is a property."""
    body = vcore()
    body["sku"] = {"name": "Standard", "tier": "Standard", "capacity": dtus}
    body["kind"] = "v12.0,user"
    body["properties"]["currentServiceObjectiveName"] = objective
    body["properties"]["maxSizeBytes"] = 250 * GIB
    return body


def patch_accepted(op: str, *, error: dict[str, Any] | None = None, in_progress: int = 1) -> list[Exchange]:
    return arm_async_operation(
        "PATCH",
        DB,
        f"{ARM}{SQL_OPS}/databaseAzureAsyncOperation/{op}?{SQL_API}",
        in_progress=in_progress,
        error=error,
    )


def test_increase_max_size_patches_max_size_bytes_and_polls(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DB, vcore(32)),  # plan
        Exchange("GET", DB, vcore(32)),  # execute reads again
        patch_accepted("op-1", in_progress=2),
        Exchange("GET", DB, vcore(40)),  # the SDK's final GET of a PATCH
        Exchange("GET", DB, vcore(40)),  # verify
    )
    result = run(engine_for(replay, sink), "azure.sql.increase_max_size", [Target("azure", DB)])
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"properties": {"maxSizeBytes": 40 * GIB}}]  # 32 GB + 25 %
    (patch,) = [s for s in replay.sent if s.method == "PATCH"]
    assert patch.path == DB and SQL_API in patch.query
    (res,) = result.results
    assert (res.before or {})["max_size_bytes"] == 32 * GIB and (res.after or {})[
        "max_size_bytes"
    ] == 40 * GIB
    assert [r.outcome for r in sink.records if r.action == "azure.sql.increase_max_size"] == [
        "succeeded",
        "verified",
    ]


def test_increase_max_size_to_a_given_size(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DB, vcore(32)),
        Exchange("GET", DB, vcore(32)),
        patch_accepted("op-2"),
        Exchange("GET", DB, vcore(64)),
        Exchange("GET", DB, vcore(64)),
    )
    result = run(
        engine_for(replay, sink), "azure.sql.increase_max_size", [Target("azure", DB)], {"max_size_gb": 64}
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"properties": {"maxSizeBytes": 64 * GIB}}]


def test_a_failed_long_running_size_change_carries_azure_s_reason(sink: MemoryAuditSink) -> None:
    refused = arm_error(
        "InvalidMaxSizeTierCombination",
        "The tier 'GeneralPurpose' does not support the database max size '42949672960'.",
    )
    replay = Replay(
        Exchange("GET", DB, vcore(32)),
        Exchange("GET", DB, vcore(32)),
        patch_accepted("op-3", error=refused),
    )
    (res,) = run(engine_for(replay, sink), "azure.sql.increase_max_size", [Target("azure", DB)]).results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Azure could not grow the maximum size of {DB}: InvalidMaxSizeTierCombination: The tier"
    ), res.error


def test_a_smaller_size_is_refused_before_asking(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", DB, vcore(32)), Exchange("GET", DB, vcore(32)))
    (res,) = run(
        engine_for(replay, sink), "azure.sql.increase_max_size", [Target("azure", DB)], {"max_size_gb": 16}
    ).results
    assert res.outcome == "failed" and "16 GB would not grow it" in (res.error or "")
    assert not replay.bodies("PATCH")


def test_resize_to_a_vcore_capacity_patches_the_sku_and_verifies_the_objective(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DB, vcore(capacity=2)),
        Exchange("GET", DB, vcore(capacity=2)),
        throttled(patch_accepted("op-4")[0]),  # 429 with Retry-After first: azure-core asks again
        patch_accepted("op-4")[1:],
        Exchange("GET", DB, vcore(capacity=4)),
        Exchange("GET", DB, vcore(capacity=4)),
    )
    result = run(
        engine_for(replay, sink, sdk_retries=True),
        "azure.sql.resize_database",
        [Target("azure", DB)],
        {"sku": "GP_Gen5", "capacity": 4},
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"sku": {"name": "GP_Gen5", "capacity": 4}}] * 2
    assert (result.results[0].after or {})["service_objective"] == "GP_Gen5_4"


def test_resize_to_a_dtu_objective_is_proved_by_the_objective_not_the_edition(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DB, dtu("S1", dtus=20)),
        Exchange("GET", DB, dtu("S1", dtus=20)),
        patch_accepted("op-5"),
        Exchange("GET", DB, dtu("S3", dtus=100)),
        Exchange("GET", DB, dtu("S3", dtus=100)),
    )
    result = run(engine_for(replay, sink), "azure.sql.resize_database", [Target("azure", DB)], {"sku": "S3"})
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"sku": {"name": "S3"}}]
    assert (result.results[0].after or {})["sku"] == "Standard"  # the edition; the objective proved it


def test_resize_of_a_missing_database_is_reported(sink: MemoryAuditSink) -> None:
    replay = Replay(arm_not_found(DB))
    (res,) = run(
        engine_for(replay, sink), "azure.sql.resize_database", [Target("azure", DB)], {"sku": "S3"}
    ).results
    assert res.outcome == "failed" and f"SQL database {DB} was not found" in (res.error or "")


def test_there_is_no_azure_sql_restart_operation() -> None:
    """The Databases API has no restart: the catalogue must not pretend (see escher.clouds.azure.ops.sql)."""
    import escher.clouds.azure.ops.sql as module
    from escher.ops import OPERATIONS

    assert not [i for i in OPERATIONS.keys("azure.sql.") if "restart" in i or "reboot" in i]
    assert "no restart" in (module.__doc__ or "")


# -- function app slot swap -------------------------------------------------------------------------------
APP = f"{RG}/providers/Microsoft.Web/sites/orders-fn"
WEB_OPS = f"/subscriptions/{SUB}/providers/Microsoft.Web/locations/westeurope/operationResults"


def site(swapped_at: str | None, *, state: str = "Running") -> dict[str, Any]:
    props: dict[str, Any] = {
        "state": state,
        "hostNames": ["orders-fn.azurewebsites.net"],
        "enabled": True,
        "availabilityState": "Normal",
        "defaultHostName": "orders-fn.azurewebsites.net",
    }
    if swapped_at:
        props["slotSwapStatus"] = {
            "timestampUtc": swapped_at,
            "sourceSlotName": "staging",
            "destinationSlotName": "production",
        }
    return {
        "id": APP,
        "name": "orders-fn",
        "type": "Microsoft.Web/sites",
        "kind": "functionapp",
        "location": "West Europe",
        "tags": {"team": "orders"},
        "properties": props,
    }


DEPLOYED = "2026-12-07T09:00:00Z"  # the swap that shipped the failed build
ROLLED_BACK = "2026-12-07T09:20:00Z"


def swap(op: str, **kwargs: Any) -> list[Exchange]:
    return arm_location_operation(
        "POST", f"{APP}/slotsswap", f"{ARM}{WEB_OPS}/{op}?api-version={WEB_API}", **kwargs
    )


def test_swap_slot_posts_the_slot_swap_follows_the_location_and_verifies(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site(DEPLOYED)),  # plan
        Exchange("GET", APP, site(DEPLOYED)),  # execute reads again
        swap("op-w1", in_progress=2),
        Exchange("GET", APP, site(ROLLED_BACK)),  # the swap happened: a new slotSwapStatus
        Exchange("GET", APP, site(ROLLED_BACK)),  # verify
    )
    result = run(engine_for(replay, sink), "azure.functions.swap_slot", [Target("azure", APP)])
    assert result.ok, result.to_dict()
    assert replay.bodies("POST") == [{"targetSlot": "staging", "preserveVnet": True}]
    (post,) = [s for s in replay.sent if s.method == "POST"]
    assert post.path == f"{APP}/slotsswap" and post.query == f"api-version={WEB_API}"
    assert replay.count("GET", f"{WEB_OPS}/op-w1") == 3  # 202, 202, 200
    (res,) = result.results
    assert res.details["swapped_at"] == ROLLED_BACK and res.details["swap_before"] == DEPLOYED
    assert (res.after or {})["last_swap"] == "production<->staging"


def test_a_failed_swap_is_the_app_s_failure_with_azure_s_reason(sink: MemoryAuditSink) -> None:
    failed = arm_error(
        "Conflict",
        "Cannot swap slots for site 'orders-fn' because the 'staging' slot did not respond to the warm-up request.",
    )
    replay = Replay(
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("GET", APP, site(DEPLOYED)),
        swap("op-w2", error=failed, error_status=409),
    )
    (res,) = run(engine_for(replay, sink), "azure.functions.swap_slot", [Target("azure", APP)]).results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Azure could not swap the staging slot with production of {APP}: Conflict: Cannot swap slots"
    ), res.error
    assert [r.outcome for r in sink.records if r.action == "azure.functions.swap_slot"] == ["failed"]


def test_a_swap_azure_calls_done_but_that_left_no_trace_is_not_claimed(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("GET", APP, site(DEPLOYED)),
        swap("op-w3", in_progress=0),
        Exchange("GET", APP, site(DEPLOYED)),  # slotSwapStatus unchanged
    )
    (res,) = run(engine_for(replay, sink), "azure.functions.swap_slot", [Target("azure", APP)]).results
    assert res.outcome == "failed" and "the app's last swap is still the one of" in (res.error or "")


def test_swap_of_a_missing_slot_says_how_to_list_the_slots(sink: MemoryAuditSink) -> None:
    missing = arm_error("NotFound", "Cannot find Site with name orders-fn(canary).")
    replay = Replay(
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("POST", f"{APP}/slotsswap", missing, status=404),
    )
    (res,) = run(
        engine_for(replay, sink), "azure.functions.swap_slot", [Target("azure", APP)], {"slot": "canary"}
    ).results
    assert res.outcome == "failed"
    assert "NotFound: Cannot find Site" in (res.error or "")
    assert "az functionapp deployment slot list" in (res.error or "")
    assert replay.bodies("POST") == [{"targetSlot": "canary", "preserveVnet": True}]


def test_a_swap_tracked_by_azure_asyncoperation_polls_it_and_a_failed_one_is_reported(
    sink: MemoryAuditSink,
) -> None:
    status = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Web/locations/westeurope/operations/op-w4"
    ok = Replay(
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("GET", APP, site(DEPLOYED)),
        arm_async_operation("POST", f"{APP}/slotsswap", f"{status}?api-version={WEB_API}", in_progress=2),
        Exchange("GET", APP, site(ROLLED_BACK)),
        Exchange("GET", APP, site(ROLLED_BACK)),
    )
    assert run(engine_for(ok, sink), "azure.functions.swap_slot", [Target("azure", APP)]).ok
    busy = arm_error("SlotSwapInProgress", "Another swap operation is in progress for site 'orders-fn'.")
    failed = Replay(
        Exchange("GET", APP, site(DEPLOYED)),
        Exchange("GET", APP, site(DEPLOYED)),
        arm_async_operation("POST", f"{APP}/slotsswap", f"{status}?api-version={WEB_API}", error=busy),
    )
    (res,) = run(engine_for(failed, sink), "azure.functions.swap_slot", [Target("azure", APP)]).results
    assert res.outcome == "failed"
    assert "SlotSwapInProgress: Another swap operation is in progress" in (res.error or ""), res.error
