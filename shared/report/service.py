"""Load what a report needs from the store, build it, and keep it (immutably)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from escher.errors import EscherError
from escher.report.builder import build_report
from escher.report.estate import EstateView, is_full, merge_scans
from escher.report.model import MorningReport
from escher.report.template import load_template
from escher.scans.cost import CostSnapshot
from escher.scans.model import ScanResult
from escher.scans.persist import ResultStore, close_store, open_store, recent_alerts

__all__ = ["NoScanError", "build_and_store", "get_or_build_report", "registered_checks"]


class NoScanError(EscherError):
    """Nothing to report on yet: exit 2, as `escher findings` says when no scan is stored."""

    exit_code = 2


_WALK = 10  # scans read back at most to fill a filtered scan's gaps (the last full one ends the walk sooner)
_WALK_DAYS = 31  # nor older than this: a month-old finding is history, not the estate


def registered_checks() -> dict[str, set[str]]:
    """cloud -> the ids of every registered check (what a full scan of that cloud runs)."""
    from escher.scans.engine import select_checks

    out: dict[str, set[str]] = {}
    for chk in select_checks():
        out.setdefault(chk.id.split(".", 1)[0], set()).add(chk.id)
    return out


class _Scans:
    """The stored scans, oldest first, each read at most once."""

    def __init__(self, store: ResultStore) -> None:
        self.store = store
        self.keys = store.keys("scan")
        self._cache: dict[str, ScanResult] = {}

    def load(self, key: str) -> ScanResult:
        if key not in self._cache:
            self._cache[key] = ScanResult.from_dict(self.store.get("scan", key) or {})
        return self._cache[key]

    def view(self, index: int, all_checks: dict[str, set[str]]) -> EstateView:
        latest = self.load(self.keys[index])

        def older() -> Iterator[ScanResult]:
            for key in reversed(self.keys[max(0, index - _WALK) : index]):
                scan = self.load(key)
                if latest.started_at - scan.started_at > timedelta(days=_WALK_DAYS):
                    return
                yield scan

        return merge_scans(latest, older(), all_checks)


def build_and_store(store: ResultStore, extensions: dict[str, object] | None = None) -> MorningReport:
    """The report of the latest scan, its gaps filled from earlier ones (see :mod:`escher.report.estate`);
    kept under ``<day>_<scan id>`` unless a report of that scan is already stored."""
    scans = _Scans(store)
    if not scans.keys:
        raise NoScanError("no scan has been stored yet", hint="run `escher scan` (or wait for the 02:00 job)")
    all_checks = registered_checks()
    view = scans.view(len(scans.keys) - 1, all_checks)
    previous = None
    if len(scans.keys) > 1:  # what "changed" compares with: filled in too, unless it is full (one read less)
        previous = scans.load(scans.keys[-2])
        if not is_full(previous, all_checks):
            previous = scans.view(len(scans.keys) - 2, all_checks).scan
    current = view.scan
    day = (current.started_at - timedelta(days=1)).date().isoformat()
    costs = [
        CostSnapshot.from_dict(d)
        for k in store.keys("cost")
        if k.endswith(day) and (d := store.get("cost", k))
    ]
    template = load_template(dict(extensions or {}))
    since = datetime.now(UTC) - timedelta(hours=24)
    alerts = [a for a in recent_alerts(store, since) if a.get("severity") == "CRITICAL"]
    alerts += _pipeline_alerts(extensions)
    rep = build_report(
        current,
        template,
        previous=previous,
        costs=costs,
        alerts=alerts,
        as_of=view.as_of,
        notes=view.notes,
    )
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
        # Without --date the report follows the latest scan: built from it every time (milliseconds; ~2 s
        # at 100,000 resources), so a scan after this morning's report shows at once. ``rebuild`` (--new)
        # is kept for scripts that pass it; it is now what happens anyway.
        if date is not None and not rebuild:
            matching = [k for k in store.keys("report") if k.startswith(date)]
            if matching:
                return MorningReport.from_dict(store.get("report", matching[-1]) or {})
            raise NoScanError(
                f"no report stored for {date}",
                hint="run `escher report` without --date for the latest scan's report",
            )
        return build_and_store(store, load_settings().extensions)
    finally:
        if own:
            close_store(store)


def _pipeline_alerts(extensions: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What the event pipeline (a worker, ``escher watch``) did in the last 24 h and the INFO events it queued
    for this report; a state storage that cannot be read is left out of the report, never fatal to it."""
    from escher.watch.digest import for_morning_report

    try:
        return for_morning_report(dict(extensions or {}), datetime.now(UTC))
    except EscherError:
        return []
