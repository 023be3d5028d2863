"""GCP billing: the daily snapshot from the Cloud Billing export in BigQuery, in one ``jobs.query`` call.

GCP has no cost API to ask; billing data is exported to a BigQuery table (``[gcp] billing_export_table``,
``project.dataset.table``). One parameterised query per day sums ``cost`` by day, service and region over the
same window as AWS (:func:`escher.scans.cost.window`). ``cost`` is before credits (sustained-use, committed-use,
promotions), as the export stores them apart.

A plain REST call through google-auth's ``AuthorizedSession`` (no BigQuery client dependency); tests mount a
``requests`` adapter on the session to replay the ``jobs.query`` answer (schema + rows of ``f``/``v`` cells).
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from escher.scans.cost import CostRow, CostSnapshot, window
from escher.scans.errors import CloudAccessError

if TYPE_CHECKING:
    from escher.config import Settings

__all__ = ["BIGQUERY", "GcpBillingSource", "billing_sql"]

BIGQUERY = "https://bigquery.googleapis.com/bigquery/v2"
_TABLE = re.compile(r"^[A-Za-z0-9_.:-]+\.[A-Za-z0-9_]+\.[A-Za-z0-9_$-]+$")
_HINT = (
    "set [gcp] billing_export_table = 'project.dataset.gcp_billing_export_v1_XXXXXX' (Billing > Billing export "
    "> BigQuery export in the console shows it)"
)


def billing_sql(table: str) -> str:
    # Partitions are by export time, which is never before usage time: the partition filter is safe and keeps
    # the bytes scanned (and billed) to the window instead of the whole table.
    return (
        "SELECT DATE(usage_start_time) AS day, service.description AS service, "
        "IFNULL(location.region, '') AS region, currency, SUM(cost) AS cost "
        f"FROM `{table}` "
        "WHERE DATE(_PARTITIONTIME) >= @start AND DATE(usage_start_time) BETWEEN @start AND @day "
        "GROUP BY day, service, region, currency ORDER BY day, service, region"
    )


def _cells(row: dict[str, Any]) -> list[Any]:
    return [cell.get("v") for cell in row.get("f", [])]


class GcpBillingSource:
    """``session`` is an authorised ``requests`` session; built from Application Default Credentials if None."""

    cloud = "gcp"

    def __init__(
        self, table: str | None, *, project: str | None = None, session: Any = None, timeout_ms: int = 60_000
    ) -> None:
        if not table:
            raise CloudAccessError(
                "no GCP billing export table is configured for the cost snapshot", hint=_HINT
            )
        if not _TABLE.match(table):
            raise CloudAccessError(
                f"{table!r} is not a BigQuery table id (project.dataset.table)", hint=_HINT
            )
        self.table = table
        self.project = project or table.split(".", 1)[0]  # the project the query job runs (and is billed) in
        self.timeout_ms = timeout_ms
        self._session = session

    @classmethod
    def from_settings(cls, settings: Settings) -> GcpBillingSource:
        """``[gcp] billing_export_table``, queried in ``[gcp] project`` (``provider("gcp").cost_source(...)``)."""
        return cls(settings.gcp.billing_export_table, project=settings.gcp.project)

    def _http(self) -> Any:
        if self._session is None:
            from escher.clouds import gcp

            self._session = gcp.authorized_session()
        return self._session

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http().request(method, url, timeout=120, **kwargs)
        if response.status_code in (401, 403):
            raise CloudAccessError(
                f"BigQuery refused the billing query on {self.table} ({response.status_code})",
                hint="grant the identity Escher runs as roles/bigquery.jobUser on project "
                f"{self.project} and roles/bigquery.dataViewer on the billing export dataset",
            )
        if response.status_code == 404:
            raise CloudAccessError(f"BigQuery has no table {self.table} (404)", hint=_HINT)
        if response.status_code >= 400:
            raise CloudAccessError(
                f"BigQuery billing query failed ({response.status_code}): {response.text[:300]}",
                hint="retry later; the sync runs once a day and stores what it read",
            )
        data: dict[str, Any] = response.json()
        return data

    def _request(self, day: date) -> dict[str, Any]:
        start, _ = window(day)
        return {
            "query": billing_sql(self.table),
            "useLegacySql": False,
            "parameterMode": "NAMED",
            "queryParameters": [
                {
                    "name": "start",
                    "parameterType": {"type": "DATE"},
                    "parameterValue": {"value": start.isoformat()},
                },
                {
                    "name": "day",
                    "parameterType": {"type": "DATE"},
                    "parameterValue": {"value": day.isoformat()},
                },
            ],
            "timeoutMs": self.timeout_ms,
        }

    def snapshot(self, day: date) -> CostSnapshot:
        page = self._call("POST", f"{BIGQUERY}/projects/{self.project}/queries", json=self._request(day))
        job = page.get("jobReference", {})
        results = f"{BIGQUERY}/projects/{self.project}/queries/{job.get('jobId', '')}"
        raw_rows: list[list[Any]] = []
        names: list[str] = []
        while True:
            if page.get("jobComplete", True):
                names = names or [f["name"] for f in page.get("schema", {}).get("fields", [])]
                raw_rows.extend(_cells(r) for r in page.get("rows", []))
                token = page.get("pageToken")
                if not token:
                    break
                params: dict[str, Any] = {"pageToken": token}
            else:  # still running after timeoutMs: wait on getQueryResults, same job, no new query
                params = {"timeoutMs": self.timeout_ms}
            if job.get("location"):
                params["location"] = job["location"]
            page = self._call("GET", results, params=params)
        at = {n: i for i, n in enumerate(names)}
        rows, currency = [], "USD"
        for cells in raw_rows:
            currency = str(cells[at["currency"]] or currency)
            rows.append(
                CostRow(
                    day=str(cells[at["day"]]),
                    amount=float(cells[at["cost"]] or 0.0),
                    service=str(cells[at["service"]] or ""),
                    region=str(cells[at["region"]] or ""),
                )
            )
        return CostSnapshot("gcp", day.isoformat(), currency, rows)
