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
    from escher.ops.context import CloudContext
    from escher.scans.cost import CostSnapshot, CostSource
    from escher.scans.persist import ResultStore

__all__ = ["ScanOptions", "collect", "cost_source", "run_scan", "sync_costs"]

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


def collect(
    settings: Settings,
    options: ScanOptions,
    progress: Progress | None = None,
    *,
    ctx: CloudContext | None = None,
) -> Inventory:
    """Read each cloud. ``ctx`` carries the Azure/GCP clients (and the transports tests hand in); by default
    it is built from the settings, as the operations build theirs."""
    import os

    from escher.scans.errors import CloudAccessError

    inventory = Inventory()
    for cloud in options.clouds:
        if cloud not in CLOUDS:
            raise ScanError(f"unknown cloud {cloud!r}", hint="use aws, azure or gcp")
    for cloud in options.clouds:
        if cloud == "aws":
            from escher.scans.collect.aws import AwsCollector

            regions = options.regions or settings.aws.regions
            inventory.extend(AwsCollector(regions, max_attempts=options.max_attempts).collect(progress))
        elif cloud == "azure":
            from escher.scans.collect.azure import AzureCollector

            sub = (ctx.azure_subscription_id if ctx else None) or settings.azure.subscription_id
            if not sub:
                raise CloudAccessError(
                    "no Azure subscription is configured",
                    hint="set subscription_id under [azure] in the Escher config file",
                )
            inventory.extend(AzureCollector(sub, ctx=ctx).collect(progress))
        else:
            from escher.scans.collect.gcp import GcpCollector

            project = (
                (ctx.gcp_project if ctx else None)
                or settings.gcp.project
                or os.environ.get("GOOGLE_CLOUD_PROJECT")
            )
            if not project:
                raise CloudAccessError(
                    "no GCP project is configured",
                    hint="set [gcp] project in the config or GOOGLE_CLOUD_PROJECT",
                )
            inventory.extend(GcpCollector(project, ctx=ctx).collect(progress))
    return inventory


def run_scan(
    settings: Settings,
    options: ScanOptions,
    *,
    store: ResultStore | None = None,
    progress: Progress | None = None,
    inventory: Inventory | None = None,
    ctx: CloudContext | None = None,
) -> ScanResult:
    started = datetime.now(UTC)
    checks = select_checks(options.checks, options.clouds)  # before collecting: a typo fails fast
    inv = inventory if inventory is not None else collect(settings, options, progress, ctx=ctx)
    run = run_checks(
        inv,
        checks,
        thresholds=options.thresholds,
        include_passed=options.include_passed,
        severity_overrides=options.severity_overrides,
    )
    result = ScanResult(
        # milliseconds: two scans in one second (a scan, then a narrower one) must not collide
        scan_id=started.strftime("%Y%m%dT%H%M%S") + f"{started.microsecond // 1000:03d}Z",
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


def cost_source(cloud: str, settings: Settings | None = None) -> CostSource | None:
    """The billing source of ``cloud``, configured from settings (loaded when not given); None when Escher
    has no cost source for that cloud."""
    if cloud == "aws":
        from escher.scans.cost import AwsCostSource

        return AwsCostSource()
    if settings is None:
        from escher.config import load_settings

        settings = load_settings()
    if cloud == "azure":
        from escher.scans.cost_azure import AzureCostSource

        return AzureCostSource(settings.azure.subscription_id)
    if cloud == "gcp":
        from escher.scans.cost_gcp import GcpBillingSource

        return GcpBillingSource(settings.gcp.billing_export_table, project=settings.gcp.project)
    return None


def sync_costs(
    clouds: Iterable[str],
    day: date | None = None,
    *,
    store: ResultStore | None = None,
    sources: Iterable[CostSource] | None = None,
    failures: list[str] | None = None,
) -> list[CostSnapshot]:
    """The once-a-day cost pull: one snapshot per cloud, stored immutably under its day.

    ``sources`` replaces the configured ones (tests, or a caller holding its own clients). A source is built
    only when its day is not stored yet, so a second call for a day needs no credentials and makes no call.
    With ``failures``, a cloud whose billing data cannot be reached is listed there (with what to do) and the
    other clouds still get their snapshot; without it, the first such error is raised.
    """
    from escher.scans.errors import CloudAccessError

    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    given = {s.cloud: s for s in sources or ()}
    wanted = list(clouds)
    snaps = []
    for cloud in [*wanted, *(c for c in given if c not in wanted)]:
        key = f"{cloud}-{day.isoformat()}"
        stored = store.get("cost", key) if store is not None else None
        if stored is not None:  # already synced today: never call the billing API twice for one day
            from escher.scans.cost import CostSnapshot

            snaps.append(CostSnapshot.from_dict(stored))
            continue
        try:
            source = given.get(cloud) or cost_source(cloud)
            if source is None:
                continue
            snap = source.snapshot(day)
        except CloudAccessError as exc:
            if failures is None:
                raise
            failures.append(f"{cloud}: {exc}")
            continue
        if store is not None:
            store.put("cost", key, snap.to_dict())
        snaps.append(snap)
    return snaps
