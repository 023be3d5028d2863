"""A scan, end to end: collect each cloud (the only cloud calls), run the checks, store the result."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.clouds import CLOUDS
from escher.errors import EscherError
from escher.scans.checks.base import Thresholds
from escher.scans.collect.base import Progress
from escher.scans.engine import run_checks, select_checks
from escher.scans.errors import ScanError
from escher.scans.model import (
    WHOLE_CLOUD,
    CollectionError,
    Inventory,
    ScanResult,
    Severity,
    new_scan_id,
)

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops.context import CloudContext
    from escher.scans.cost import CostSnapshot, CostSource
    from escher.scans.persist import ResultStore

__all__ = [
    "UNREACHABLE_ACCOUNT",
    "ScanOptions",
    "all_accounts",
    "check_regions",
    "collect",
    "cost_source",
    "each_account",
    "run_scan",
    "sync_costs",
]


@dataclass(slots=True)
class ScanOptions:
    clouds: list[str] = field(default_factory=lambda: ["aws"])
    regions: list[str] | None = None  # None: the configured regions of each cloud
    checks: list[str] | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
    include_passed: bool = False
    severity_overrides: dict[str, Severity] = field(default_factory=dict)
    max_attempts: int = 5
    # cloud -> the accounts to read there (AWS accounts through [aws] organization_role, Azure subscriptions,
    # GCP projects); a cloud not named: only its own configured account
    accounts: dict[str, list[str]] = field(default_factory=dict)
    # an AWS organization scan runs every account's tasks (one per service and region) in one pool of
    # `org_workers` threads, at most `tasks_per_account` of one account and `tasks_per_service` of one service
    org_workers: int = 32
    tasks_per_account: int = 8
    tasks_per_service: int = 8


def collect(
    settings: Settings,
    options: ScanOptions,
    progress: Progress | None = None,
    *,
    ctx: CloudContext | None = None,
) -> Inventory:
    """Read each cloud. ``ctx`` carries the Azure/GCP clients (and the transports tests hand in); by default
    it is built from the settings, as the operations build theirs.

    A cloud that cannot be read at all (no credentials, no project, unreachable) is recorded as not read, with
    why and what to do, and the other clouds are still read; only when no cloud could be read is its error
    raised. A region name that is not one (``us-eats-1``) fails the scan before any call.
    """
    from escher.clouds.errors import translate

    inventory = Inventory()
    for cloud in options.clouds:
        if cloud not in CLOUDS:
            raise ScanError(f"unknown cloud {cloud!r}", hint="use aws, azure or gcp")
    check_regions(settings, options)
    failed: list[EscherError] = []
    for cloud in options.clouds:
        try:
            inventory.extend(_collect_cloud(cloud, settings, options, progress, ctx))
        except EscherError as exc:
            failed.append(_not_read(inventory, cloud, exc))
        except Exception as exc:  # an SDK's own error type, from building a client or the first call
            error = translate(exc)
            if error is None:
                raise  # not a cloud failure: a bug, shown as one
            failed.append(_not_read(inventory, cloud, error))
    if failed and len(failed) == len(options.clouds):
        raise failed[0]
    return inventory


# the service of the CollectionError for an account that could not be entered at all ("account 1111...")
UNREACHABLE_ACCOUNT = "account "


def _not_read(inventory: Inventory, cloud: str, exc: EscherError) -> EscherError:
    code = str(getattr(exc, "code", "") or type(exc).__name__)
    inventory.errors.append(CollectionError(cloud, *WHOLE_CLOUD, exc.message, code, exc.hint or ""))
    return exc


def check_regions(settings: Settings, options: ScanOptions) -> None:
    """Refuse a region name that is not one (``us-eats-1``: did you mean ``us-east-1``?), before any call.
    Each cloud checks its own (its provider's ``scan_regions``)."""
    from escher.clouds import provider

    for cloud in options.clouds:
        provider(cloud).load("scan_regions")(settings, options)


def _collect_cloud(
    cloud: str, settings: Settings, options: ScanOptions, progress: Progress | None, ctx: CloudContext | None
) -> Inventory:
    """One cloud's inventory: its provider's ``scan`` reads its own account, or each of ``options.accounts``."""
    from escher.clouds import provider

    inventory: Inventory = provider(cloud).load("scan")(settings, options, progress, ctx)
    return inventory


def all_accounts(cloud: str, settings: Settings, ctx: CloudContext | None = None) -> list[str]:
    """The accounts ``--all-accounts`` means on ``cloud`` (its provider's ``all_accounts``): the configured
    list, else what the organization, management group or folder holds."""
    from escher.clouds import provider

    found: list[str] = provider(cloud).load("all_accounts")(settings, ctx)
    return found


def each_account(
    cloud: str, accounts: list[str], read: Callable[[str], Inventory], *, at_once: int = 4
) -> Inventory:
    """Read each account (an Azure subscription, a GCP project), ``at_once`` of them at a time (each collector
    runs its own tasks in parallel too); the inventory keeps the accounts' order.
    One that cannot be read at all is recorded as not read, with why and what to do, and the others are
    read; the parts of one that failed name it. Only when none could be read is the first failure raised."""
    from concurrent.futures import ThreadPoolExecutor

    from escher.clouds import provider
    from escher.clouds.errors import translate

    accounts = list(dict.fromkeys(accounts))
    what = provider(cloud).account_word
    if not accounts:
        raise ScanError(
            f"no {cloud} {what} to scan", hint=f"check [{cloud}] in the config, or name one with --account"
        )

    def one(account: str) -> Inventory | EscherError:
        try:
            return read(account)
        except EscherError as exc:
            return exc
        except Exception as exc:  # the SDK's own error: the subscription / project could not be entered
            translated = translate(exc)
            if translated is None:
                raise  # not a cloud failure: a bug, shown as one
            return translated

    inventory = Inventory()
    failed: list[EscherError] = []
    with ThreadPoolExecutor(
        max_workers=max(1, min(at_once, len(accounts))), thread_name_prefix="escher-acct"
    ) as pool:
        for account, got in zip(accounts, pool.map(one, accounts), strict=True):
            if isinstance(got, Inventory):
                got.errors = [replace(e, message=f"{what} {account}: {e.message}") for e in got.errors]
                inventory.extend(got)
                continue
            failed.append(got)
            code = str(getattr(got, "code", "") or type(got).__name__)
            inventory.errors.append(
                CollectionError(
                    cloud, UNREACHABLE_ACCOUNT + account, WHOLE_CLOUD[1], got.message, code, got.hint or ""
                )
            )
    if len(failed) == len(accounts):
        raise failed[0]
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
        scan_id=new_scan_id(started),
        started_at=started,
        finished_at=datetime.now(UTC),
        inventory=inv,
        findings=run.findings,
    )
    result.passed = run.passed
    if store is not None:
        store.put("scan", result.scan_id, result.to_dict())
        estate = inv.to_dict()
        if options.checks:  # it read only what its checks read: the other kinds stay as the estate had them
            estate = _merged_estate(store.latest("estate"), estate)
        store.put("estate", "latest", estate)
    return result


def _merged_estate(previous: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The estate after a ``--checks`` scan: its records, and the earlier estate's records of every kind
    (cloud, type) it did not collect, so a narrow scan never empties what ``ask`` and the report know."""
    fresh = {(r["cloud"], r["type"]) for r in new["records"]}
    kept = [r for r in (previous or {}).get("records", []) if (r.get("cloud"), r.get("type")) not in fresh]
    return {**new, "records": [*new["records"], *kept]}


def cost_source(cloud: str, settings: Settings | None = None) -> CostSource | None:
    """The billing source of ``cloud``, configured from settings (loaded when not given); None when Escher
    has no cost source for that cloud. Each provider names its own (``escher.clouds.PROVIDERS``)."""
    from escher.clouds import PROVIDERS

    if cloud not in PROVIDERS:
        return None
    if settings is None:
        from escher.config import load_settings

        settings = load_settings()
    source: CostSource = PROVIDERS[cloud].cost_source(settings)
    return source


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
