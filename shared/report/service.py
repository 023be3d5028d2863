"""Load what a report needs from the store, build it, and keep it (immutably)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escher.errors import EscherError
from escher.report.builder import build_report
from escher.report.model import MorningReport
from escher.report.template import load_template
from escher.scans.cost import CostSnapshot
from escher.scans.model import ScanResult
from escher.scans.persist import ResultStore, close_store, open_store, recent_alerts

__all__ = ["NoScanError", "build_and_store", "get_or_build_report"]


class NoScanError(EscherError):
    exit_code = 4


def build_and_store(store: ResultStore, extensions: dict[str, object] | None = None) -> MorningReport:
    keys = store.keys("scan")
    if not keys:
        raise NoScanError("no scan has been stored yet", hint="run `escher scan` (or wait for the 02:00 job)")
    current = ScanResult.from_dict(store.get("scan", keys[-1]) or {})
    previous = ScanResult.from_dict(store.get("scan", keys[-2]) or {}) if len(keys) > 1 else None
    day = (current.started_at - timedelta(days=1)).date().isoformat()
    costs = [
        CostSnapshot.from_dict(d)
        for k in store.keys("cost")
        if k.endswith(day) and (d := store.get("cost", k))
    ]
    template = load_template(dict(extensions or {}))
    since = datetime.now(UTC) - timedelta(hours=24)
    alerts = [a for a in recent_alerts(store, since) if a.get("severity") == "CRITICAL"]
    rep = build_report(current, template, previous=previous, costs=costs, alerts=alerts)
    key = f"{rep.report_date}_{current.scan_id}"
    if store.get("report", key) is None:
        store.put("report", key, rep.to_dict())
    return rep


def get_or_build_report(
    date: str | None = None, *, rebuild: bool = False, store: ResultStore | None = None
) -> MorningReport:
    from escher.config import load_settings

    own = store is None
    store = store or open_store()
    try:
        day = date or datetime.now(UTC).date().isoformat()
        if not rebuild:
            matching = [k for k in store.keys("report") if k.startswith(day)]
            if matching:
                return MorningReport.from_dict(store.get("report", matching[-1]) or {})
            if date is not None:
                raise NoScanError(
                    f"no report stored for {date}",
                    hint="list dates with `escher report --date` of a scan day",
                )
        return build_and_store(store, load_settings().extensions)
    finally:
        if own:
            close_store(store)
