"""A scan, end to end: collect each cloud (the only cloud calls), run the checks, store the result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from escher.scans.checks.base import Thresholds
from escher.scans.collect.base import Progress
from escher.scans.engine import run_checks, select_checks
from escher.scans.errors import ScanError
from escher.scans.model import Inventory, ScanResult, Severity

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.scans.cost import CostSnapshot
    from escher.scans.persist import ResultStore

__all__ = ["ScanOptions", "collect", "run_scan", "sync_costs"]

CLOUDS = ("aws", "azure", "gcp")


@dataclass(slots=True)
class ScanOptions:
    clouds: list[str] = field(default_factory=lambda: ["aws"])
    regions: list[str] | None = None  # None: the configured regions of each cloud
    checks: list[str] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    include_passed: bool = False
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    max_attempts: int = 5


def collect(settings: Settings, options: ScanOptions, progress: Progress | None = None) -> Inventory:
    inventory = Inventory()
    for cloud in options.clouds:
        if cloud not in CLOUDS:
            raise ScanError(f"unknown cloud {cloud!r}", hint="use aws, azure or gcp")
        if cloud == "aws":
            from escher.scans.collect.aws import AwsCollector

            regions = options.regions or settings.aws.regions
            inventory.extend(AwsCollector(regions, max_attempts=options.max_attempts).collect(progress))
        else:
            # The azure/gcp checks exist (pure functions over records); their collectors do not yet.
            raise ScanError(
                f"the {cloud} inventory collector is not built yet",
                hint=f"{cloud} checks can run on records you supply (escher.scans.engine.run_checks); scan aws for now",
            )
    return inventory


def run_scan(
    settings: Settings,
    options: ScanOptions,
    *,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    inventory: Inventory | None = None,
) -> ScanResult:
    started = datetime.now(UTC)
    checks = select_checks(options.checks, options.clouds)  # before collecting: a typo fails fast
    inv = inventory if inventory is not None else collect(settings, options, progress)
    run = run_checks(
        inv,
        checks,
        thresholds=options.thresholds,
        include_passed=options.include_passed,
        severity_overrides=options.severity_overrides,
    )
    result = ScanResult(
        scan_id=started.strftime("%Y%m%dT%H%M%SZ"),
        started_at=started,
        finished_at=datetime.now(UTC),
        inventory=inv,
        findings=run.findings,
    )
    result.passed = run.passed
    if store is not None:
        store.put("scan", result.scan_id, result.to_dict())
        store.put("estate", "latest", inv.to_dict())
    return result


def sync_costs(
    clouds: Iterable[str], day: date | None = None, *, store: ResultStore | None = None
) -> list[CostSnapshot]:
    """The once-a-day cost pull: one snapshot per cloud, stored immutably under its day."""
    from escher.scans.cost import AwsCostSource, CostSource

    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    sources: list[CostSource] = []
    for cloud in clouds:
        if cloud == "aws":
            sources.append(AwsCostSource())
    snaps = []
    for source in sources:
        key = f"{source.cloud}-{day.isoformat()}"
        stored = store.get("cost", key) if store is not None else None
        if stored is not None:  # already synced today: never call the billing API twice for one day
            from escher.scans.cost import CostSnapshot

            snaps.append(CostSnapshot.from_dict(stored))
            continue
        snap = source.snapshot(day)
        if store is not None:
            store.put("cost", key, snap.to_dict())
        snaps.append(snap)
    return snaps
