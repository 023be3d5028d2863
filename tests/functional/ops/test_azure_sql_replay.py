"""Azure SQL database operations through the real azure-mgmt-sql client, ARM replayed at the azure-core transport.

Bodies follow azure-rest-api-specs' Microsoft.Sql examples (PauseDatabase.json: a DataWarehouse database; the
serverless vCore shape with kind ``v12.0,user,vcore,serverless`` and ``autoPauseDelay``). Every change is an ARM
long-running operation answered as ARM does: 202 with ``Azure-AsyncOperation`` and ``Location``, polled.
"""

from __future__ import annotations

from typing import Any

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.replay import (
    ARM,
    arm_async_operation,
    arm_error,
    arm_location_operation,
    arm_not_found,
    server_error,
    throttled,
)

SUB = "00000000-1111-2222-3333-444444444444"
RG = f"/subscriptions/{SUB}/resourceGroups/Default-SQL-SouthEastAsia"
DW = f"{RG}/providers/Microsoft.Sql/servers/testsvr/databases/testdwdb"
SERVERLESS = f"{RG}/providers/Microsoft.Sql/servers/testsvr/databases/orders"
API = (
    "api-version=2025-01-01"  # what azure-mgmt-sql 4 sends; the Databases paths are the same in every version
)
OPS = f"/subscriptions/{SUB}/providers/Microsoft.Sql/locations/southeastasia"


def warehouse(status: str) -> dict[str, Any]:
    """PauseDatabase.json's 200 body (a dedicated SQL pool, formerly SQL DW)."""
    return {
        "sku": {"name": "DataWarehouse", "tier": "DataWarehouse", "capacity": 900},
        "kind": "v12.0,user,datawarehouse,gen2",
        "properties": {
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": 10995116277760,
            "status": status,
            "databaseId": "6c764297-577b-470f-9af4-96d3d41e2ba3",
            "creationDate": "2017-07-13T02:04:26.187Z",
            "currentServiceObjectiveName": "DW100c",
            "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
        },
        "location": "southeastasia",
        "id": DW,
        "name": "testdwdb",
        "type": "Microsoft.Sql/servers/databases",
    }


def serverless(status: str = "Online", delay: int = 60) -> dict[str, Any]:
    return {
        "sku": {"name": "GP_S_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2},
        "kind": "v12.0,user,vcore,serverless",
        "properties": {
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": 34359738368,
            "status": status,
            "databaseId": "7d2a3f4e-0000-4000-8000-000000000002",
            "currentServiceObjectiveName": "GP_S_Gen5_2",
            "autoPauseDelay": delay,
            "minCapacity": 0.5,
        },
        "location": "southeastasia",
        "id": SERVERLESS,
        "name": "orders",
        "type": "Microsoft.Sql/servers/databases",
    }


def engine_for(replay: Replay, sink: MemoryAuditSink, *, sdk_retries: bool = False) -> Engine:
    """``sdk_retries``: azure-core's retry policy as in production (the other tests turn it off)."""
    options: dict[str, Any] = {"polling_interval": 0}
    if not sdk_retries:
        options["retry_total"] = 0
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options=options,
    )
    return make_engine(ctx, sink, concurrency=1)


def pause_accepted(op: str, *, error: dict[str, Any] | None = None, in_progress: int = 1) -> list[Exchange]:
    """How the SQL resource provider answers POST .../pause: 202, both headers, the async operation polled."""
    return arm_async_operation(
        "POST",
        f"{DW}/pause",
        f"{ARM}{OPS}/databaseAzureAsyncOperation/{op}?{API}",
        location=f"{ARM}{OPS}/databaseOperationResults/{op}?{API}",
        in_progress=in_progress,
        error=error,
    )


def ledger(sink: MemoryAuditSink, action: str) -> list[str]:
    return [r.outcome for r in sink.records if r.action == action]


def test_pause_of_a_dedicated_sql_pool_polls_the_async_operation_then_verifies(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DW, warehouse("Online")),  # plan
        Exchange("GET", DW, warehouse("Online")),  # execute re-reads
        pause_accepted("op-1"),
        Exchange("GET", f"{OPS}/databaseOperationResults/op-1", warehouse("Paused")),  # the SDK's final GET
        Exchange("GET", DW, warehouse("Paused")),  # verify
    )
    result = run(engine_for(replay, sink), "azure.sql.pause_database", [Target("azure", DW)])
    assert result.ok, result.to_dict()
    (res,) = result.results
    assert res.before == {
        "status": "Online",
        "edition": "datawarehouse",
        "sku": "DataWarehouse",
        "service_objective": "DW100c",
        "auto_pause_delay": None,
    }
    assert (res.after or {})["status"] == "Paused"
    post = next(s for s in replay.sent if s.method == "POST")
    assert post.path == f"{DW}/pause" and API in post.query and post.body is None
    assert ledger(sink, "azure.sql.pause_database") == ["succeeded", "verified"]


def test_resume_of_a_paused_pool_follows_the_location_until_done(sink: MemoryAuditSink) -> None:
    monitor = f"{ARM}{OPS}/databaseOperationResults/op-9?{API}"
    replay = Replay(
        Exchange("GET", DW, warehouse("Paused")),
        Exchange("GET", DW, warehouse("Paused")),
        arm_location_operation("POST", f"{DW}/resume", monitor, in_progress=2, result=warehouse("Resuming")),
        Exchange("GET", DW, warehouse("Resuming")),  # verify waits for Online
        Exchange("GET", DW, warehouse("Online")),
    )
    result = run(engine_for(replay, sink), "azure.sql.resume_database", [Target("azure", DW)])
    assert result.ok, result.to_dict()
    assert (result.results[0].after or {})["status"] == "Online"
    assert replay.count("GET", f"{OPS}/databaseOperationResults/op-9") == 3


def test_pause_of_a_serverless_database_is_refused_at_plan_time_with_what_to_do(
    sink: MemoryAuditSink,
) -> None:
    replay = Replay(Exchange("GET", SERVERLESS, serverless()))
    engine = engine_for(replay, sink)
    plan = engine.plan("azure.sql.pause_database", [Target("azure", SERVERLESS)], actor="user:alice")
    (change,) = plan.changes
    assert change.action == "error"
    assert "is serverless (GP_S_Gen5): Azure pauses it by itself after 60 minutes" in (change.error or "")
    assert "azure.sql.set_auto_pause_delay" in (change.error or "")  # the hint names the op to use instead
    result = engine.execute(plan)
    assert result.results[0].outcome == "failed"
    assert [s.method for s in replay.sent] == ["GET"]  # nothing was asked of the pause API
    assert ledger(sink, "azure.sql.pause_database") == ["failed"]


def test_resume_of_a_provisioned_database_is_refused(sink: MemoryAuditSink) -> None:
    provisioned = serverless()
    provisioned["sku"] = {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2}
    provisioned["kind"] = "v12.0,user,vcore"
    del provisioned["properties"]["autoPauseDelay"]
    replay = Replay(Exchange("GET", SERVERLESS, provisioned))
    result = run(engine_for(replay, sink), "azure.sql.resume_database", [Target("azure", SERVERLESS)])
    assert result.results[0].outcome == "failed"
    assert "Azure SQL cannot pause it" in (result.results[0].error or "")


def test_a_failed_long_running_pause_is_the_resource_s_failure_with_azure_s_reason(
    sink: MemoryAuditSink,
) -> None:
    busy = arm_error(
        "DatabaseIsBusy", "Another operation is in progress on database 'testdwdb'. Retry after it completes."
    )
    replay = Replay(
        Exchange("GET", DW, warehouse("Online")),
        Exchange("GET", DW, warehouse("Online")),
        pause_accepted("op-2", error=busy, in_progress=2),
    )
    result = run(engine_for(replay, sink), "azure.sql.pause_database", [Target("azure", DW)])
    (res,) = result.results
    assert res.outcome == "failed"
    assert (res.error or "").startswith(
        f"Azure could not pause {DW}: DatabaseIsBusy: Another operation is in progress on database 'testdwdb'. "
        "Retry after it completes. (do what Azure's message asks"
    ), res.error
    (record,) = [r for r in sink.records if r.action == "azure.sql.pause_database"]
    assert record.outcome == "failed" and "DatabaseIsBusy" in record.details["error"]


def test_throttling_and_a_503_are_retried_by_the_sdk(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DW, warehouse("Online")),
        server_error(Exchange("GET", DW, warehouse("Online"))),  # execute's re-read: 503, then the answer
        throttled(pause_accepted("op-3")[0], retry_after="0"),  # the POST: 429 with Retry-After, then 202
        pause_accepted("op-3")[1:],
        Exchange("GET", f"{OPS}/databaseOperationResults/op-3", warehouse("Paused")),
        Exchange("GET", DW, warehouse("Paused")),
    )
    result = run(
        engine_for(replay, sink, sdk_retries=True), "azure.sql.pause_database", [Target("azure", DW)]
    )
    assert result.ok, result.to_dict()
    assert replay.count("POST", f"{DW}/pause") == 2  # the 429 was retried by azure-core, not by us
    assert replay.count("GET", DW) == 4


def test_throttled_past_the_retries_is_a_failure_not_a_crash(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", DW, warehouse("Online")),
        Exchange("GET", DW, warehouse("Online")),
        throttled(pause_accepted("op-4")[0], times=1)[:1],  # only a 429; the test's context does not retry
    )
    result = run(engine_for(replay, sink), "azure.sql.pause_database", [Target("azure", DW)])
    (res,) = result.results
    assert res.outcome == "failed" and "TooManyRequests" in (res.error or ""), res.error
    assert ledger(sink, "azure.sql.pause_database") == ["failed"]


def test_a_missing_database_is_reported_not_raised(sink: MemoryAuditSink) -> None:
    replay = Replay(arm_not_found(DW))
    result = run(engine_for(replay, sink), "azure.sql.pause_database", [Target("azure", DW)])
    assert result.results[0].outcome == "failed"
    assert f"SQL database {DW} was not found" in (result.results[0].error or "")


def test_set_auto_pause_delay_patches_the_serverless_database_and_polls(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", SERVERLESS, serverless(delay=60)),
        Exchange("GET", SERVERLESS, serverless(delay=60)),
        arm_async_operation("PATCH", SERVERLESS, f"{ARM}{OPS}/databaseAzureAsyncOperation/op-5?{API}"),
        Exchange("GET", SERVERLESS, serverless(delay=15)),  # the SDK's final GET of a PATCH
        Exchange("GET", SERVERLESS, serverless(delay=15)),  # verify
    )
    result = run(
        engine_for(replay, sink),
        "azure.sql.set_auto_pause_delay",
        [Target("azure", SERVERLESS)],
        {"minutes": 15},
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"properties": {"autoPauseDelay": 15}}]
    (res,) = result.results
    assert (res.before or {})["auto_pause_delay"] == 60 and (res.after or {})["auto_pause_delay"] == 15


def test_set_auto_pause_delay_refuses_a_warehouse_and_out_of_range_minutes(sink: MemoryAuditSink) -> None:
    from escher.ops import OpError

    replay = Replay(Exchange("GET", DW, warehouse("Online")))
    engine = engine_for(replay, sink)
    plan = engine.plan(
        "azure.sql.set_auto_pause_delay", [Target("azure", DW)], {"minutes": 60}, actor="user:alice"
    )
    assert "is not serverless: it has no auto-pause" in (plan.changes[0].error or "")
    try:
        engine.plan(
            "azure.sql.set_auto_pause_delay", [Target("azure", DW)], {"minutes": 5}, actor="user:alice"
        )
    except OpError as exc:
        assert "minutes must be -1 (never pause) or between 15 and 10080" in str(exc)
    else:
        raise AssertionError("5 minutes was accepted")
