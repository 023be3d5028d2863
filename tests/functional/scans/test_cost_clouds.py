"""Azure and GCP daily cost snapshots: the REST answers replayed at the SDK transport, the request asserted."""

from __future__ import annotations

from datetime import date

import pytest

from escher.clouds.azure.cost import AzureCostSource
from escher.clouds.gcp.cost import GcpBillingSource, billing_sql
from escher.scans.cost import CostSnapshot, summarize
from escher.scans.errors import CloudAccessError
from escher.scans.persist import MemoryStore
from escher.scans.runner import sync_costs
from tests.functional.ops.replay import (
    AzureReplayTransport,
    Exchange,
    FakeAzureCredential,
    Replay,
    RequestsReplayAdapter,
)

SUB = "00000000-0000-0000-0000-000000000001"
QUERY_PATH = f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/query"
DAY = date(2025, 3, 14)


def _azure_page(rows: list[list[object]], next_link: str | None = None) -> dict[str, object]:
    # the Query_Usage 200 shape (REST docs): aggregation column, UsageDate, the groupings, Currency
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/query/6b0b5c35",
        "name": "6b0b5c35",
        "type": "Microsoft.CostManagement/query",
        "properties": {
            "nextLink": next_link,
            "columns": [
                {"name": "Cost", "type": "Number"},
                {"name": "UsageDate", "type": "Number"},
                {"name": "ServiceName", "type": "String"},
                {"name": "ResourceLocation", "type": "String"},
                {"name": "Currency", "type": "String"},
            ],
            "rows": rows,
        },
    }


def test_azure_snapshot_is_one_query_per_day_and_normalised() -> None:
    next_link = f"https://management.azure.com{QUERY_PATH}?api-version=2023-03-01&$skiptoken=AQAAAA%3D%3D"
    replay = Replay(
        Exchange(
            "POST",
            QUERY_PATH,
            _azure_page(
                [
                    [40.5, 20250313, "Virtual Machines", "US East", "EUR"],
                    [61.25, 20250314, "Virtual Machines", "US East", "EUR"],
                ],
                next_link,
            ),
            query="api-version=2023-03-01",
        ),
        Exchange(
            "POST",
            QUERY_PATH,
            _azure_page([[8.75, 20250314, "Storage", "EU West", "EUR"]]),
            query="skiptoken",
        ),
    )
    source = AzureCostSource(SUB, credential=FakeAzureCredential(), transport=AzureReplayTransport(replay))
    store = MemoryStore()

    snaps = sync_costs([], DAY, store=store, sources=[source])

    replay.done()
    expected_body = {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": "2025-02-01T00:00:00Z", "to": "2025-03-14T23:59:59Z"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [
                {"type": "Dimension", "name": "ServiceName"},
                {"type": "Dimension", "name": "ResourceLocation"},
            ],
        },
    }
    assert replay.bodies("POST") == [expected_body, expected_body]  # the next page repeats the query
    assert store.keys("cost") == ["azure-2025-03-14"]
    summary = summarize(snaps)
    assert summary.currency == "EUR"
    assert summary.yesterday == 70.0 and summary.previous_day == 40.5
    assert summary.by_service == [("Virtual Machines", 61.25, 20.75), ("Storage", 8.75, 8.75)]
    assert summary.by_region == [("US East", 61.25), ("EU West", 8.75)]

    again = sync_costs(
        [], DAY, store=store, sources=[source]
    )  # stored: the replay has nothing left to answer
    assert [s.to_dict() for s in again] == [s.to_dict() for s in snaps]
    assert len(replay.sent) == 2


def test_azure_refusal_says_which_role_is_missing() -> None:
    replay = Replay(Exchange("POST", QUERY_PATH, {"error": {"code": "AuthorizationFailed"}}, status=403))
    source = AzureCostSource(SUB, credential=FakeAzureCredential(), transport=AzureReplayTransport(replay))
    with pytest.raises(CloudAccessError) as info:
        source.snapshot(DAY)
    assert "Cost Management Reader" in (info.value.hint or "")


def test_azure_without_subscription_says_what_to_set() -> None:
    with pytest.raises(CloudAccessError) as info:
        AzureCostSource(None)
    assert "subscription_id" in (info.value.hint or "")


TABLE = "acme-billing.billing.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
JOBS = "/bigquery/v2/projects/acme-billing/queries"


def _session(replay: Replay) -> object:
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession

    session = AuthorizedSession(AnonymousCredentials())
    session.mount("https://", RequestsReplayAdapter(replay))
    return session


def _bq_rows(rows: list[tuple[str, str, str, str, str]]) -> list[dict[str, object]]:
    return [{"f": [{"v": v} for v in row]} for row in rows]


# the jobs.query answer (REST reference): schema + rows of f/v cells, all values as strings
_SCHEMA = {
    "fields": [
        {"name": "day", "type": "DATE", "mode": "NULLABLE"},
        {"name": "service", "type": "STRING", "mode": "NULLABLE"},
        {"name": "region", "type": "STRING", "mode": "NULLABLE"},
        {"name": "currency", "type": "STRING", "mode": "NULLABLE"},
        {"name": "cost", "type": "FLOAT", "mode": "NULLABLE"},
    ]
}


def test_gcp_snapshot_is_one_billing_query_per_day_and_normalised() -> None:
    job = {"projectId": "acme-billing", "jobId": "job_abc123", "location": "US"}
    replay = Replay(
        Exchange(
            "POST",
            JOBS,
            {
                "kind": "bigquery#queryResponse",
                "schema": _SCHEMA,
                "jobReference": job,
                "totalRows": "3",
                "pageToken": "BFHX2",
                "rows": _bq_rows(
                    [
                        ("2025-03-13", "Compute Engine", "us-central1", "USD", "30.5"),
                        ("2025-03-14", "Compute Engine", "us-central1", "USD", "45.25"),
                    ]
                ),
                "totalBytesProcessed": "1048576",
                "jobComplete": True,
                "cacheHit": False,
            },
        ),
        Exchange(
            "GET",
            f"{JOBS}/job_abc123",
            {
                "kind": "bigquery#getQueryResultsResponse",
                "schema": _SCHEMA,
                "jobReference": job,
                "totalRows": "3",
                "rows": _bq_rows([("2025-03-14", "Cloud Storage", "", "USD", "4.75")]),
                "jobComplete": True,
            },
            query="pageToken=BFHX2",
        ),
    )
    source = GcpBillingSource(TABLE, session=_session(replay))
    store = MemoryStore()

    snaps = sync_costs([], DAY, store=store, sources=[source])

    replay.done()
    assert replay.bodies("POST") == [
        {
            "query": (
                "SELECT DATE(usage_start_time) AS day, service.description AS service, "
                "IFNULL(location.region, '') AS region, currency, SUM(cost) AS cost "
                f"FROM `{TABLE}` "
                "WHERE DATE(_PARTITIONTIME) >= @start AND DATE(usage_start_time) BETWEEN @start AND @day "
                "GROUP BY day, service, region, currency ORDER BY day, service, region"
            ),
            "useLegacySql": False,
            "parameterMode": "NAMED",
            "queryParameters": [
                {
                    "name": "start",
                    "parameterType": {"type": "DATE"},
                    "parameterValue": {"value": "2025-02-01"},
                },
                {"name": "day", "parameterType": {"type": "DATE"}, "parameterValue": {"value": "2025-03-14"}},
            ],
            "timeoutMs": 60000,
        }
    ]
    assert "location=US" in replay.sent[1].query
    assert store.keys("cost") == ["gcp-2025-03-14"]
    summary = summarize(snaps)
    assert summary.yesterday == 50.0 and summary.previous_day == 30.5
    assert summary.by_service == [("Compute Engine", 45.25, 14.75), ("Cloud Storage", 4.75, 4.75)]
    assert summary.by_region == [("us-central1", 45.25), ("(none)", 4.75)]

    again = sync_costs([], DAY, store=store, sources=[source])
    assert [s.to_dict() for s in again] == [s.to_dict() for s in snaps]
    assert len(replay.sent) == 2


def test_gcp_query_still_running_waits_on_the_same_job() -> None:
    job = {"projectId": "acme-billing", "jobId": "job_slow", "location": "EU"}
    replay = Replay(
        Exchange("POST", JOBS, {"kind": "bigquery#queryResponse", "jobReference": job, "jobComplete": False}),
        Exchange(
            "GET",
            f"{JOBS}/job_slow",
            {"schema": _SCHEMA, "jobReference": job, "jobComplete": True,
             "rows": _bq_rows([("2025-03-14", "BigQuery", "europe-west1", "EUR", "2.5")])},
            query="timeoutMs=60000",
        ),
    )  # fmt: skip
    snap = GcpBillingSource(TABLE, session=_session(replay)).snapshot(DAY)
    replay.done()
    assert snap.currency == "EUR"
    assert [(r.day, r.service, r.region, r.amount) for r in snap.rows] == [
        ("2025-03-14", "BigQuery", "europe-west1", 2.5)
    ]


@pytest.mark.parametrize("table", [None, "", "billing_export", "a.b.c; DROP TABLE x"])
def test_gcp_without_a_usable_table_says_what_to_set(table: str | None) -> None:
    with pytest.raises(CloudAccessError) as info:
        GcpBillingSource(table)
    assert "billing_export_table" in (info.value.hint or "")


def test_gcp_sql_quotes_the_configured_table() -> None:
    assert f"FROM `{TABLE}` " in billing_sql(TABLE)


def test_one_unreachable_billing_api_does_not_cost_the_others_their_snapshot() -> None:
    # GIVEN Azure refuses (403) and a second cloud answers
    def refused() -> AzureCostSource:
        denied = Exchange("POST", QUERY_PATH, {"error": {"code": "AuthorizationFailed"}}, status=403)
        return AzureCostSource(
            SUB, credential=FakeAzureCredential(), transport=AzureReplayTransport(Replay(denied))
        )

    class Answering:
        cloud = "gcp"

        def snapshot(self, day: date) -> CostSnapshot:
            return CostSnapshot(cloud="gcp", day=day.isoformat(), currency="USD")

    store = MemoryStore()
    failures: list[str] = []
    # WHEN the daily pull runs with failures collected
    snaps = sync_costs([], DAY, store=store, sources=[refused(), Answering()], failures=failures)
    # THEN the answering cloud is stored, and the refused one is reported with what to do
    assert [s.cloud for s in snaps] == ["gcp"]
    assert store.get("cost", f"gcp-{DAY.isoformat()}") is not None
    assert store.get("cost", f"azure-{DAY.isoformat()}") is None
    assert len(failures) == 1 and failures[0].startswith("azure:") and "Cost Management Reader" in failures[0]
    # and without a failures list the error is raised as before
    with pytest.raises(CloudAccessError):
        sync_costs([], DAY, store=MemoryStore(), sources=[refused()])
