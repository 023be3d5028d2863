"""Azure Cost Management: the daily snapshot from one Query API call (plus its pages).

``POST /subscriptions/{id}/providers/Microsoft.CostManagement/query`` with a Daily granularity, grouped by
ServiceName and ResourceLocation, over the same window as AWS (:func:`escher.scans.cost.window`). The answer is
a table (``properties.columns`` + ``properties.rows``); rows become :class:`CostRow` s by service / region / day.

Sent through azure-core's pipeline (bearer token, retries honouring ``Retry-After`` on 429, which Cost
Management returns readily), with the transport injectable so tests replay the REST answer at the wire.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from escher.scans.cost import CostRow, CostSnapshot, window
from escher.scans.errors import CloudAccessError

if TYPE_CHECKING:
    from escher.config import Settings

__all__ = ["API_VERSION", "AzureCostSource", "query_body"]

API_VERSION = "2023-03-01"
ARM = "https://management.azure.com"
SCOPE = "https://management.azure.com/.default"
_COST_COLUMNS = ("Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD")


def query_body(day: date) -> dict[str, Any]:
    start, _ = window(day)
    return {
        "type": "ActualCost",
        "timeframe": "Custom",
        "timePeriod": {"from": f"{start.isoformat()}T00:00:00Z", "to": f"{day.isoformat()}T23:59:59Z"},
        "dataset": {
            "granularity": "Daily",
            "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
            "grouping": [
                {"type": "Dimension", "name": "ServiceName"},
                {"type": "Dimension", "name": "ResourceLocation"},
            ],
        },
    }


def _day(value: Any) -> str:
    """UsageDate comes as a number (20250314) or, for some scopes, an ISO string."""
    text = str(int(value)) if isinstance(value, int | float) else str(value)
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text[:10]


def rows_from(properties: dict[str, Any]) -> tuple[list[CostRow], str | None]:
    """Columns + rows of one Query page into CostRows, and the currency the rows are in."""
    names = [c["name"] for c in properties.get("columns", [])]
    cost = next((names.index(n) for n in _COST_COLUMNS if n in names), None)
    if cost is None or "UsageDate" not in names:
        raise CloudAccessError(
            f"Azure Cost Management answered without a cost or UsageDate column (columns: {names})",
            hint=f"the query uses api-version {API_VERSION} with a Daily granularity; check the scope is a "
            "subscription",
        )
    at = {n: i for i, n in enumerate(names)}
    rows, currency = [], None
    for raw in properties.get("rows", []):
        if "Currency" in at:
            currency = str(raw[at["Currency"]])
        rows.append(
            CostRow(
                day=_day(raw[at["UsageDate"]]),
                amount=float(raw[cost]),
                service=str(raw[at["ServiceName"]]) if "ServiceName" in at else "",
                region=str(raw[at["ResourceLocation"]]) if "ResourceLocation" in at else "",
            )
        )
    return rows, currency


class AzureCostSource:
    """One subscription's daily costs. ``transport`` / ``credential`` are for tests and special setups."""

    cloud = "azure"

    def __init__(self, subscription_id: str | None, *, credential: Any = None, transport: Any = None) -> None:
        if not subscription_id:
            raise CloudAccessError(
                "no Azure subscription is configured for the cost snapshot",
                hint="set [azure] subscription_id in the Escher config (or ESCHER_AZURE__SUBSCRIPTION_ID)",
            )
        self.subscription_id = subscription_id
        self._credential = credential
        self._transport = transport
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AzureCostSource:
        """``[azure] subscription_id``'s costs (``provider("azure").cost_source(settings)``)."""
        return cls(settings.azure.subscription_id)

    def _pipeline(self) -> Any:
        if self._client is None:
            from escher.clouds import azure

            self._client = azure.pipeline_client(
                ARM, SCOPE, credential_=self._credential, transport=self._transport
            )
        return self._client

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        from escher.clouds import azure

        request = azure.request("POST", url, json=body)
        response = self._pipeline().send_request(request)
        if response.status_code == 204:  # no usage in the window
            return {"properties": {"columns": [], "rows": []}}
        if response.status_code in (401, 403):
            raise CloudAccessError(
                f"Azure Cost Management refused the query for subscription {self.subscription_id} "
                f"({response.status_code})",
                hint="grant the identity Escher runs as the 'Cost Management Reader' role on the subscription",
            )
        if response.status_code >= 400:
            raise CloudAccessError(
                f"Azure Cost Management query failed ({response.status_code}): {response.text()[:300]}",
                hint="retry later; Cost Management throttles per tenant and the 02:00 sync runs once a day",
            )
        data: dict[str, Any] = response.json()
        return data

    def snapshot(self, day: date) -> CostSnapshot:
        url = (
            f"{ARM}/subscriptions/{self.subscription_id}/providers/Microsoft.CostManagement/query"
            f"?api-version={API_VERSION}"
        )
        body = query_body(day)
        rows: list[CostRow] = []
        currency = "USD"
        next_url: str | None = url
        while next_url:
            props = self._post(next_url, body).get("properties", {})
            page, page_currency = rows_from(props) if props.get("columns") else ([], None)
            rows.extend(page)
            currency = page_currency or currency
            next_url = props.get("nextLink") or None
        return CostSnapshot("azure", day.isoformat(), currency, rows)
