"""Scans, estate, cost snapshots and morning reports in the knowledge store (Postgres, the ``pg_database``
fixture): which collection each lands in, immutability, the estate after a resource is gone, and the morning
report's critical alerts of the last 24 h read from the alerts & events collection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from escher.config import Paths, Settings
from escher.scans import synthetic
from escher.scans.persist import ImmutableRecordError, JsonFileStore, open_store
from escher.scans.persist_store import StoreResults
from escher.scans.runner import ScanOptions, run_scan
from escher.store.models import AlertRecord, Collection, InventoryItem, ReportRecord, SearchFilter
from escher.store.store import Store


@pytest.fixture
def results(pg_database: str, tmp_path: Path) -> Iterator[StoreResults]:
    paths = Paths(config_dir=tmp_path / "config", data_dir=tmp_path / "data")
    paths.data_dir.mkdir(parents=True)
    with Store.open(paths=paths, url=pg_database) as store:
        yield StoreResults(store)


def _scan(results: StoreResults, n: int = 60, drop: int = 0):  # type: ignore[no-untyped-def]
    inv = synthetic.estate(n)
    inv.records = inv.records[drop:]
    return run_scan(Settings(), ScanOptions(clouds=["aws"]), store=results, inventory=inv)


def test_a_scan_lands_in_inventory_and_alerts_and_cannot_be_rewritten(results: StoreResults) -> None:
    result = _scan(results)
    store = results.store

    items = store.records(Collection.inventory, limit=10_000)
    assert {i.resource_id for i in items if isinstance(i, InventoryItem)} == {
        r.id for r in result.inventory.records
    }
    scans = store.records(Collection.alerts, SearchFilter(kinds=("scan_result",)))
    assert [s.name for s in scans if isinstance(s, AlertRecord)] == [result.scan_id]
    assert results.keys("scan") == [result.scan_id]
    stored = results.get("scan", result.scan_id) or {}
    assert len([f for f in stored["findings"] if f["status"] == "FAIL"]) == len(result.failed) > 0
    with pytest.raises(ImmutableRecordError):
        results.put("scan", result.scan_id, result.to_dict())

    estate = results.latest("estate") or {}
    assert sorted(r["id"] for r in estate["records"]) == sorted(r.id for r in result.inventory.records)
    one = next(r for r in estate["records"] if r["type"] == "aws.ec2.instance")
    original = next(r for r in result.inventory.records if r.id == one["id"])
    assert one == original.to_dict()  # the record round-trips through InventoryItem unchanged


def test_the_estate_is_what_the_latest_scan_saw(results: StoreResults) -> None:
    first = _scan(results)
    second = _scan(results, drop=5)
    gone = {r.id for r in first.inventory.records} - {r.id for r in second.inventory.records}
    assert len(gone) == 5
    estate = results.latest("estate") or {}
    assert {r["id"] for r in estate["records"]} == {r.id for r in second.inventory.records}
    assert results.keys("scan") == sorted([first.scan_id, second.scan_id])


def test_cost_snapshots_go_to_the_immutable_reports_ledger(results: StoreResults) -> None:
    snap = synthetic.cost_snapshot(date(2025, 3, 14))
    results.put("cost", "aws-2025-03-14", snap.to_dict())
    found = results.store.records(Collection.reports, SearchFilter(kinds=("cost_snapshot",)))
    assert [r.name for r in found if isinstance(r, ReportRecord)] == ["aws-2025-03-14"]
    assert results.get("cost", "aws-2025-03-14") == snap.to_dict()
    assert results.keys("cost") == ["aws-2025-03-14"]
    with pytest.raises(ImmutableRecordError):
        results.put("cost", "aws-2025-03-14", snap.to_dict())
    assert results.store.verify().ok  # the ledger's hash chain holds


def test_the_morning_report_shows_the_critical_alerts_of_the_last_24h(results: StoreResults) -> None:
    from escher.report.service import build_and_store

    now = datetime.now(UTC)
    results.store.put_many(
        [
            AlertRecord(alert_kind="alert", name="A-recent", severity="critical", at=now - timedelta(hours=2),
                        summary="root access key used", data={"title": "Root access key used from a new IP"}),
            AlertRecord(alert_kind="alert", name="A-old", severity="critical", at=now - timedelta(hours=30),
                        data={"title": "Yesterday's storm"}),
            AlertRecord(alert_kind="alert", name="A-high", severity="high", at=now - timedelta(hours=1),
                        data={"title": "Port 22 opened"}),
        ]
    )  # fmt: skip
    _scan(results)
    report = build_and_store(results)
    titles = [a.title for a in report.alerts]
    assert "Root access key used from a new IP" in titles
    assert "Yesterday's storm" not in titles and "Port 22 opened" not in titles
    reports = results.store.records(Collection.alerts, SearchFilter(kinds=("morning_report",)))
    assert len(reports) == 1
    key = results.keys("report")[0]
    assert results.get("report", key) == report.to_dict()
    with pytest.raises(ImmutableRecordError):
        results.put("report", key, report.to_dict())


def test_open_store_prefers_the_knowledge_store(
    pg_database: str, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    store = open_store()
    try:
        assert isinstance(store, StoreResults)
    finally:
        store.close()


def test_without_the_store_extra_results_are_json_files(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import escher.lazy

    real = escher.lazy.is_installed
    monkeypatch.setattr(escher.lazy, "is_installed", lambda name: name != "psycopg" and real(name))
    store = open_store()
    assert isinstance(store, JsonFileStore)
    assert store.root == escher_home / "data" / "reports"
