"""The scans' :class:`~escher.scans.persist.ResultStore` on the knowledge store (``escher.store``).

Where each kind goes (the store's own collection model):

- ``estate``: one ``InventoryItem`` per resource in the estate inventory collection, stamped with the scan's
  collection time; "the estate" is every item seen by the latest scan (older ones are resources since gone).
- ``scan``: an ``AlertRecord(alert_kind="scan_result")`` in alerts & events: findings, passes, and what could
  not be read. Never replaced.
- ``cost``: a ``ReportRecord(report_kind="cost_snapshot")`` in the immutable reports ledger (hash-chained).
- ``report``: an ``AlertRecord(alert_kind="morning_report")`` (the store files morning reports under alerts &
  events); written once, never replaced: this adapter refuses a second write as the JSON store does.
- ``template``: an ``AlertRecord(alert_kind="report_template")``, replaced on change.

The morning report's "critical alerts of the last 24 h" are ``AlertRecord(alert_kind="alert")`` records.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from escher.clouds import CLOUDS
from escher.scans.model import Inventory, Record
from escher.scans.persist import MUTABLE_KINDS, ImmutableRecordError

if TYPE_CHECKING:
    from escher.store.models import AlertRecord, InventoryItem
    from escher.store.store import Store

__all__ = ["StoreResults"]

_ALERT_KINDS = {"scan": "scan_result", "report": "morning_report", "template": "report_template"}
_CLOUDS = CLOUDS
KEYS_LIMIT = 1000  # how many scans / reports / snapshots keys() lists (newest kept): ~3 years of daily runs
ESTATE_LIMIT = 1_000_000


def _cloud(value: Any) -> Any:
    return value if value in _CLOUDS else None


def _item(rec: Record, at: datetime) -> InventoryItem:
    from escher.store.models import InventoryItem

    state = rec.attrs.get("state") or rec.attrs.get("status") or rec.attrs.get("power_state") or ""
    return InventoryItem(
        at=at,
        cloud=_cloud(rec.cloud),
        account=rec.account or None,
        region=rec.region or None,
        resource_id=rec.id,
        resource_type=rec.type,
        name=rec.name,
        state=str(state),
        tags=dict(rec.tags),
        properties=dict(rec.attrs),
    )


def _record(item: InventoryItem) -> dict[str, Any]:
    return Record(
        cloud=item.cloud or "",
        type=item.resource_type,
        id=item.resource_id,
        region=item.region or "",
        account=item.account or "",
        name=item.name,
        tags=dict(item.tags),
        attrs=dict(item.properties),
    ).to_dict()


class StoreResults:
    """A :class:`ResultStore` over an open :class:`escher.store.store.Store` (closed by :meth:`close` when
    this object opened it)."""

    def __init__(self, store: Store, *, owns: bool = False) -> None:
        self.store = store
        self._owns = owns

    @classmethod
    def open(cls) -> StoreResults:
        from escher.store.store import Store

        return cls(Store.open(), owns=True)

    def close(self) -> None:
        if self._owns:
            self.store.close()

    # -- ResultStore --------------------------------------------------------------------------------------
    def put(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        if kind not in MUTABLE_KINDS and self.get(kind, key) is not None:
            raise ImmutableRecordError(
                f"{kind} {key} is already stored", hint="reports are immutable; use a new key"
            )
        if kind == "estate":
            inv = Inventory.from_dict(payload)
            self.store.put_many(_item(r, inv.collected_at) for r in inv.records)
            return
        if kind == "cost":
            self.store.put(self._cost(key, payload))
            return
        self.store.put(self._alert(kind, key, payload))

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        from escher.store.models import AlertRecord, Collection, ReportRecord

        if kind == "estate":
            return self._estate() if key == "latest" else None
        if kind == "cost":
            found = self.store.get(Collection.reports, _cost_id(key))
            return dict(found.data) if isinstance(found, ReportRecord) else None
        found = self.store.get(Collection.alerts, f"{_alert_kind(kind)}:{key}")
        return dict(found.data) if isinstance(found, AlertRecord) else None

    def keys(self, kind: str) -> list[str]:
        from escher.store.models import AlertRecord, Collection, ReportRecord, SearchFilter

        if kind == "estate":
            return ["latest"] if self._latest_scan() is not None else []
        if kind == "cost":
            found = self.store.records(
                Collection.reports, SearchFilter(kinds=("cost_snapshot",)), limit=KEYS_LIMIT
            )
            return sorted(r.name for r in found if isinstance(r, ReportRecord))
        flt = SearchFilter(kinds=(_alert_kind(kind),))
        found = self.store.records(Collection.alerts, flt, limit=KEYS_LIMIT)
        return sorted(r.name for r in found if isinstance(r, AlertRecord))

    def latest(self, kind: str) -> dict[str, Any] | None:
        keys = self.keys(kind)
        return self.get(kind, keys[-1]) if keys else None

    def alerts_since(self, since: datetime) -> list[dict[str, Any]]:
        """Alerts (``alert_kind="alert"``) recorded since ``since``, as the report builder takes them."""
        from escher.store.models import AlertRecord, Collection, SearchFilter

        found = self.store.records(Collection.alerts, SearchFilter(kinds=("alert",), since=since), limit=500)
        out = []
        for rec in found:
            if not isinstance(rec, AlertRecord):
                continue
            data = rec.data
            out.append(
                {
                    "severity": str(rec.severity or data.get("severity") or "info").upper(),
                    "title": str(data.get("title") or rec.summary or rec.name),
                    "detail": str(data.get("summary") or data.get("status") or ""),
                    "at": rec.at.isoformat(),
                }
            )
        return out

    # -- mapping ------------------------------------------------------------------------------------------
    def _alert(self, kind: str, key: str, payload: dict[str, Any]) -> AlertRecord:
        from escher.store.models import AlertRecord

        summary = ""
        if kind == "scan":
            failed = sum(1 for f in payload.get("findings", []) if f.get("status") == "FAIL")
            summary = f"scan {key}: {failed} findings"
        elif kind == "report":
            summary = f"morning report {payload.get('report_date', key)}"
        return AlertRecord(alert_kind=_alert_kind(kind), name=key, summary=summary, data=payload)  # type: ignore[arg-type]

    def _cost(self, key: str, payload: dict[str, Any]) -> Any:
        from escher.store.models import ReportRecord

        return ReportRecord(
            record_id=_cost_id(key),
            report_kind="cost_snapshot",
            name=key,
            cloud=_cloud(payload.get("cloud")),
            summary=f"{payload.get('cloud', '')} costs of {payload.get('day', '')}",
            data=payload,
        )

    def _latest_scan(self) -> dict[str, Any] | None:
        return self.latest("scan")

    def _estate(self) -> dict[str, Any] | None:
        from escher.store.models import Collection, InventoryItem, SearchFilter

        scan = self._latest_scan()
        if scan is None:
            return None
        meta = scan.get("inventory", {})
        collected = datetime.fromisoformat(meta["collected_at"])
        items = self.store.records(Collection.inventory, SearchFilter(since=collected), limit=ESTATE_LIMIT)
        return {
            "collected_at": meta["collected_at"],
            "records": [_record(i) for i in items if isinstance(i, InventoryItem)],
            "errors": meta.get("errors", []),
            "covered": meta.get("covered", []),
        }


def _alert_kind(kind: str) -> str:
    try:
        return _ALERT_KINDS[kind]
    except KeyError:
        from escher.scans.errors import ScanError

        raise ScanError(
            f"no store collection for {kind!r} records", hint="kinds: estate, scan, cost, report, template"
        ) from None


def _cost_id(key: str) -> str:
    return f"cost-{key}"
