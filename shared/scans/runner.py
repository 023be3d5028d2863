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
    Record,
    ScanResult,
    Severity,
    new_scan_id,
)

if TYPE_CHECKING:
    from escher.clouds.aws.collect import AwsCollector
    from escher.config import Settings
    from escher.ops.context import CloudContext
    from escher.scans.cost import CostSnapshot, CostSource
    from escher.scans.persist import ResultStore

__all__ = [
    "UNREACHABLE_ACCOUNT",
    "ScanOptions",
    "check_regions",
    "collect",
    "cost_source",
    "org_accounts",
    "org_projects",
    "org_subscriptions",
    "run_account_tasks",
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
    # AWS accounts to read, each through [aws] organization_role; None: only the caller's own account
    accounts: list[str] | None = None
    # an organization scan runs every account's tasks (one per service and region) in one pool of `org_workers`
    # threads, at most `tasks_per_account` of one account and `tasks_per_service` of one service at once
    org_workers: int = 32
    tasks_per_account: int = 8
    tasks_per_service: int = 8
    # Azure subscriptions / GCP projects to read, one after another; None: the configured one
    azure_subscriptions: list[str] | None = None
    gcp_projects: list[str] | None = None


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


def _not_read(inventory: Inventory, cloud: str, exc: EscherError) -> EscherError:
    code = str(getattr(exc, "code", "") or type(exc).__name__)
    inventory.errors.append(CollectionError(cloud, *WHOLE_CLOUD, exc.message, code, exc.hint or ""))
    return exc


def check_regions(settings: Settings, options: ScanOptions) -> None:
    """Refuse a region name that is not one (``us-eats-1``: did you mean ``us-east-1``?), before any call."""
    if "aws" in options.clouds:
        from escher.clouds.aws import check_regions

        where = "-r/--region" if options.regions else "[aws] regions (ESCHER_AWS__REGIONS)"
        check_regions(options.regions or settings.aws.regions, where=where)
    if "gcp" in options.clouds:
        from escher.clouds.gcp import check_regions as check_gcp

        check_gcp(settings.gcp.regions)
    if "azure" in options.clouds:
        from escher.clouds.azure import check_locations

        check_locations(settings.azure.locations)


def _collect_cloud(
    cloud: str, settings: Settings, options: ScanOptions, progress: Progress | None, ctx: CloudContext | None
) -> Inventory:
    import os

    from escher.scans.errors import CloudAccessError

    if cloud == "aws":
        from escher.clouds.aws.collect import AwsCollector

        regions = options.regions or settings.aws.regions
        if options.accounts is not None:
            return _collect_aws_accounts(settings, options, regions, progress)
        return AwsCollector(regions, max_attempts=options.max_attempts, wants=_aws_wants(options)).collect(
            progress
        )
    if cloud == "azure" and options.azure_subscriptions is not None:
        return _each_account("azure", options.azure_subscriptions, lambda sub: _azure(sub, ctx, progress))
    if cloud == "gcp" and options.gcp_projects is not None:
        return _each_account("gcp", options.gcp_projects, lambda project: _gcp(project, ctx, progress))
    if cloud == "azure":
        from escher.clouds.azure.collect import AzureCollector

        sub = (ctx.azure_subscription_id if ctx else None) or settings.azure.subscription_id
        if not sub:
            raise CloudAccessError(
                "no Azure subscription is configured",
                hint="set subscription_id under [azure] in the Escher config file",
            )
        return AzureCollector(sub, ctx=ctx).collect(progress)
    from escher.clouds.gcp.collect import GcpCollector

    project = (
        (ctx.gcp_project if ctx else None) or settings.gcp.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    )
    if not project:
        raise CloudAccessError(
            "no GCP project is configured", hint="set [gcp] project in the config or GOOGLE_CLOUD_PROJECT"
        )
    return GcpCollector(project, ctx=ctx).collect(progress)


def _azure(subscription: str, ctx: CloudContext | None, progress: Progress | None) -> Inventory:
    import threading
    from dataclasses import replace as with_

    from escher.clouds.azure.collect import AzureCollector
    from escher.ops.context import CloudContext

    there = (
        with_(ctx, azure_subscription_id=subscription, _cache={}, _lock=threading.Lock())  # its own clients
        if ctx
        else CloudContext(azure_subscription_id=subscription)
    )
    return AzureCollector(subscription, ctx=there).collect(progress)


def _gcp(project: str, ctx: CloudContext | None, progress: Progress | None) -> Inventory:
    import threading
    from dataclasses import replace as with_

    from escher.clouds.gcp.collect import GcpCollector
    from escher.ops.context import CloudContext

    there = (
        with_(ctx, gcp_project=project, _cache={}, _lock=threading.Lock())  # its own clients
        if ctx
        else CloudContext(gcp_project=project)
    )
    return GcpCollector(project, ctx=there).collect(progress)


def _each_account(cloud: str, accounts: list[str], read: Callable[[str], Inventory]) -> Inventory:
    """Read each Azure subscription / GCP project in turn (each collector runs its own tasks in parallel).
    One that cannot be read at all is recorded as not read, with why and what to do, and the others are
    read; the parts of one that failed name it. Only when none could be read is the first failure raised."""
    from escher.clouds.errors import translate

    accounts = list(dict.fromkeys(accounts))
    what = "subscription" if cloud == "azure" else "project"
    if not accounts:
        raise ScanError(
            f"no {cloud} {what} to scan", hint=f"check [{cloud}] in the config, or name one with --account"
        )
    inventory = Inventory()
    failed: list[EscherError] = []
    for account in accounts:
        try:
            got = read(account)
        except EscherError as exc:
            error: EscherError = exc
        except Exception as exc:  # the SDK's own error: the subscription / project could not be entered
            translated = translate(exc)
            if translated is None:
                raise  # not a cloud failure: a bug, shown as one
            error = translated
        else:
            got.errors = [replace(e, message=f"{what} {account}: {e.message}") for e in got.errors]
            inventory.extend(got)
            continue
        failed.append(error)
        code = str(getattr(error, "code", "") or type(error).__name__)
        inventory.errors.append(
            CollectionError(
                cloud, UNREACHABLE_ACCOUNT + account, WHOLE_CLOUD[1], error.message, code, error.hint or ""
            )
        )
    if len(failed) == len(accounts):
        raise failed[0]
    return inventory


def org_subscriptions(settings: Settings, ctx: CloudContext | None = None) -> list[str]:
    """The Azure subscriptions ``--all-accounts`` means (see :func:`escher.clouds.azure.accounts.list_subscriptions`)."""
    from escher.clouds.azure.accounts import list_subscriptions

    found = list_subscriptions(
        subscriptions=settings.azure.subscriptions,
        management_group=settings.azure.management_group,
        credential_=ctx.azure_credential if ctx else None,
        transport=ctx.azure_transport if ctx else None,
    )
    if not found:
        raise ScanError(
            "no enabled Azure subscription to scan",
            hint="check [azure] management_group, or name subscriptions in [azure] subscriptions or with --account",
        )
    return [s.id for s in found]


def org_projects(settings: Settings, ctx: CloudContext | None = None) -> list[str]:
    """The GCP projects ``--all-accounts`` means (see :func:`escher.clouds.gcp.accounts.list_projects`)."""
    from escher.clouds.gcp.accounts import list_projects

    found = list_projects(
        projects=settings.gcp.projects,
        parent=settings.gcp.parent,
        credentials_=ctx.gcp_credentials if ctx else None,
        http=ctx.gcp_discovery_http if ctx else None,
    )
    if not found:
        raise ScanError(
            "no active GCP project to scan",
            hint="check [gcp] parent, or name projects in [gcp] projects or with --account",
        )
    return [p.id for p in found]


def _aws_wants(options: ScanOptions) -> dict[str, frozenset[str]] | None:
    """What ``--checks`` reads, so only that is collected; None (everything) for the daily scan."""
    if not options.checks:
        return None
    from escher.clouds.aws.collect import wants_of

    return wants_of(select_checks(options.checks, ["aws"]))


def org_accounts(settings: Settings) -> list[str]:
    """The AWS accounts ``--all-accounts`` means: ``[aws] accounts`` when set, else the organization's active
    accounts (narrowed by ``[aws] organization_units`` and ``account_tags``)."""
    if settings.aws.accounts:
        return list(settings.aws.accounts)
    from escher.clouds.aws import list_accounts

    found = list_accounts(
        profile=settings.aws.profile,
        endpoint_url=settings.aws.endpoint_url,
        units=settings.aws.organization_units,
        tags=settings.aws.tag_filter() or None,
    )
    if not found:
        raise ScanError(
            "the organization lists no active account to scan",
            hint="check [aws] organization_units and account_tags, or name accounts with --account",
        )
    return [a.id for a in found]


# the service of the CollectionError for an AWS account that could not be entered at all ("account 1111...")
UNREACHABLE_ACCOUNT = "account "


def _collect_aws_accounts(
    settings: Settings, options: ScanOptions, regions: list[str], progress: Progress | None
) -> Inventory:
    """Read each account of ``options.accounts`` through its role. The roles are assumed together (one STS
    client, one GetCallerIdentity), then the tasks of every account run in one pool, so a slow service in one
    account never holds a whole wave of accounts back. Each account keeps its own token buckets and botocore's
    adaptive retry mode (a client-side rate limiter that slows down when AWS throttles). An account that cannot
    be entered (AssumeRole denied, no such role) is recorded as not read and the others are read; only when
    none could be read is the first failure raised."""
    from concurrent.futures import ThreadPoolExecutor

    from escher.clouds.aws import AccountSessions
    from escher.clouds.aws.collect import AwsCollector
    from escher.clouds.errors import translate

    accounts = list(dict.fromkeys(options.accounts or []))
    if not accounts:
        raise ScanError("no AWS account to scan", hint="check [aws] accounts or the organization's filters")
    role = settings.aws.organization_role
    sessions = AccountSessions(
        role=role, profile=settings.aws.profile, endpoint_url=settings.aws.endpoint_url, region=regions[0]
    )

    def enter(account: str) -> AwsCollector | EscherError:
        try:
            # each account is read whole, --checks or not: the report counts an account read by its records
            collector = AwsCollector(
                regions, max_attempts=options.max_attempts, session=sessions.enter(account)
            )
        except EscherError as exc:
            return exc
        except Exception as exc:  # the SDK's own error: AssumeRole refused, the account unreachable
            error = translate(exc)
            if error is None:
                raise  # not a cloud failure: a bug, shown as one
            if getattr(exc, "operation_name", "") == "AssumeRole":
                error.hint = (
                    f"check that the role {role!r} exists in account {account} and trusts this identity "
                    "([aws] organization_role names it), or leave the account out"
                )
            return error
        collector.account = account
        return collector

    inventory = Inventory()
    failed: list[EscherError] = []
    entered: dict[str, AwsCollector] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(len(accounts), options.org_workers))) as pool:
        for account, got in zip(accounts, pool.map(enter, accounts), strict=True):
            if isinstance(got, AwsCollector):
                entered[account] = got
                continue
            failed.append(got)
            code = str(getattr(got, "code", "") or type(got).__name__)
            inventory.errors.append(
                CollectionError(
                    "aws", UNREACHABLE_ACCOUNT + account, WHOLE_CLOUD[1], got.message, code, got.hint or ""
                )
            )
    if len(failed) == len(accounts):
        raise failed[0]
    for account, inv in run_account_tasks(entered, options, progress).items():
        inv.errors = [replace(e, message=f"account {account}: {e.message}") for e in inv.errors]
        inventory.extend(inv)
    return inventory


def run_account_tasks(
    collectors: dict[str, AwsCollector], options: ScanOptions, progress: Progress | None = None
) -> dict[str, Inventory]:
    """Run the tasks of every account's collector in one pool of ``options.org_workers`` threads, at most
    ``tasks_per_account`` of one account and ``tasks_per_service`` of one service running at once; the tasks
    are taken round-robin across accounts, so every account progresses from the start."""
    from collections import Counter
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
    from itertools import chain, zip_longest

    from escher.clouds.aws.collect import link_backups
    from escher.scans.collect.base import Task

    queues = [[(account, t) for t in c.tasks()] for account, c in collectors.items()]
    pending: list[tuple[str, Task]] = [p for p in chain.from_iterable(zip_longest(*queues)) if p is not None]
    out = {account: Inventory() for account in collectors}
    by_account: Counter[str] = Counter()
    by_service: Counter[str] = Counter()
    running: dict[Future[list[Record]], tuple[str, Task]] = {}

    def startable() -> int | None:
        for i, (account, task) in enumerate(pending):
            if (
                by_account[account] < options.tasks_per_account
                and by_service[task.service] < options.tasks_per_service
            ):
                return i
        return None

    with ThreadPoolExecutor(max_workers=max(1, options.org_workers), thread_name_prefix="escher-org") as pool:
        while pending or running:
            while len(running) < options.org_workers and (i := startable()) is not None:
                account, task = pending.pop(i)
                by_account[account] += 1
                by_service[task.service] += 1
                running[pool.submit(task.run)] = (account, task)
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                account, task = running.pop(future)
                by_account[account] -= 1
                by_service[task.service] -= 1
                inv = out[account]
                exc = future.exception()
                if exc is None:
                    records = future.result()
                    inv.records.extend(records)
                    inv.covered.append((task.cloud, task.service, task.region))
                    if progress:
                        progress(f"{task.label} {account}", len(records))
                    continue
                error = collectors[account].error_for(task.service, task.region, exc)
                if error is None:
                    raise exc
                inv.errors.append(error)
                if progress:
                    progress(f"{task.label} {account} (failed)", 0)
    for account, inv in out.items():
        inv.errors.extend(collectors[account].part_errors)
        link_backups(inv.records)
    return out


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
