"""Azure and GCP daily cost snapshots: the REST answers replayed at the SDK transport, the request asserted."""

from __future__ import annotations

from datetime import date

import pytest

from escher.scans.cost import summarize
from escher.scans.cost_azure import AzureCostSource
from escher.scans.errors import CloudAccessError
from escher.scans.persist import MemoryStore
from escher.scans.runner import sync_costs
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay

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
