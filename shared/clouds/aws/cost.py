"""AWS's billing: Cost Explorer, two ``GetCostAndUsage`` queries per day over the window of
:func:`escher.scans.cost.window` (the snapshots, summaries and sync are generic: :mod:`escher.scans.cost`)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from escher.scans.cost import CostRow, CostSnapshot, window

if TYPE_CHECKING:
    from escher.config import Settings

__all__ = ["AwsCostSource"]


class AwsCostSource:
    """Cost Explorer: two GetCostAndUsage queries per day (CE allows two group-bys per query)."""

    cloud = "aws"

    def __init__(self, tag_key: str = "env", client: Any = None) -> None:
        self.tag_key = tag_key
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> AwsCostSource:
        """As the provider registry builds it (``provider("aws").cost_source(settings)``)."""
        return cls()

    def _ce(self) -> Any:
        if self._client is None:
            from escher.clouds import aws

            self._client = aws.client("ce", "us-east-1")  # Cost Explorer answers in us-east-1 only
        return self._client

    def _query(self, day: date, group_by: list[dict[str, str]]) -> list[dict[str, Any]]:
        start, end = window(day)
        out: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": group_by,
        }
        while True:
            resp = self._ce().get_cost_and_usage(**kwargs)
            out.extend(resp.get("ResultsByTime", []))
            token = resp.get("NextPageToken")
            if not token:
                return out
            kwargs["NextPageToken"] = token

    @staticmethod
    def _rows(results: list[dict[str, Any]], fields: tuple[str, str]) -> tuple[list[CostRow], str]:
        rows, currency = [], "USD"
        for period in results:
            day = period["TimePeriod"]["Start"]
            for group in period.get("Groups", []):
                metric = group["Metrics"].get("UnblendedCost") or next(iter(group["Metrics"].values()))
                currency = metric.get("Unit", currency)
                keys = [*group.get("Keys", []), "", ""]
                values = {fields[0]: keys[0], fields[1]: keys[1].split("$", 1)[-1]}
                rows.append(CostRow(day=day, amount=float(metric["Amount"]), **values))
            if not period.get("Groups") and period.get("Total"):
                metric = next(iter(period["Total"].values()))
                currency = metric.get("Unit", currency)
                rows.append(CostRow(day=day, amount=float(metric["Amount"])))
        return rows, currency

    def snapshot(self, day: date) -> CostSnapshot:
        by_service = self._query(
            day, [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "REGION"}]
        )
        by_account = self._query(
            day, [{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}, {"Type": "TAG", "Key": self.tag_key}]
        )
        rows, currency = self._rows(by_service, ("service", "region"))
        account_rows, _ = self._rows(by_account, ("account", "tag"))
        return CostSnapshot("aws", day.isoformat(), currency, rows, account_rows)
