"""An AWS scan: the caller's own account, or each account of an organization through its role.

:func:`scan` is the provider's ``scan`` (``escher.scans.runner.collect`` calls it for AWS), :func:`all_accounts`
what ``--all-accounts`` means, :func:`check_regions` the region names' check before any call.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from escher.errors import EscherError
from escher.scans.errors import ScanError
from escher.scans.model import WHOLE_CLOUD, CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.clouds.aws.collect import AwsCollector
    from escher.config import Settings
    from escher.ops.context import CloudContext
    from escher.scans.collect.base import Progress
    from escher.scans.runner import ScanOptions

__all__ = ["all_accounts", "check_regions", "run_account_tasks", "scan"]


def scan(
    settings: Settings, options: ScanOptions, progress: Progress | None, ctx: CloudContext | None = None
) -> Inventory:
    """The configured account, or each of ``options.accounts["aws"]`` (``--account`` / ``--all-accounts``)."""
    from escher.clouds.aws.collect import AwsCollector

    regions = options.regions or settings.aws.regions
    if "aws" in options.accounts:
        return _collect_accounts(settings, options, regions, progress)
    return AwsCollector(regions, max_attempts=options.max_attempts, wants=_wants(options)).collect(progress)


def check_regions(settings: Settings, options: ScanOptions) -> None:
    """``-r/--region`` or ``[aws] regions``: each a region AWS has."""
    from escher.clouds.aws import check_regions as check

    where = "-r/--region" if options.regions else "[aws] regions (ESCHER_AWS__REGIONS)"
    check(options.regions or settings.aws.regions, where=where)


def _wants(options: ScanOptions) -> dict[str, frozenset[str]] | None:
    """What ``--checks`` reads, so only that is collected; None (everything) for the daily scan."""
    if not options.checks:
        return None
    from escher.clouds.aws.collect import wants_of
    from escher.scans.engine import select_checks

    return wants_of(select_checks(options.checks, ["aws"]))


def all_accounts(settings: Settings, ctx: CloudContext | None = None) -> list[str]:
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


def _collect_accounts(
    settings: Settings, options: ScanOptions, regions: list[str], progress: Progress | None
) -> Inventory:
    """Read each account of ``options.accounts["aws"]`` through its role. The roles are assumed together (one STS
    client, one GetCallerIdentity), then the tasks of every account run in one pool, so a slow service in one
    account never holds a whole wave of accounts back. Each account keeps its own token buckets and botocore's
    adaptive retry mode (a client-side rate limiter that slows down when AWS throttles). An account that cannot
    be entered (AssumeRole denied, no such role) is recorded as not read and the others are read; only when
    none could be read is the first failure raised."""
    from concurrent.futures import ThreadPoolExecutor

    from escher.clouds.aws import AccountSessions
    from escher.clouds.aws.collect import AwsCollector
    from escher.clouds.errors import translate
    from escher.scans.collect.coverage import ACCOUNT_READ
    from escher.scans.runner import UNREACHABLE_ACCOUNT

    accounts = list(dict.fromkeys(options.accounts.get("aws") or []))
    if not accounts:
        raise ScanError("no AWS account to scan", hint="check [aws] accounts or the organization's filters")
    role = settings.aws.organization_role
    sessions = AccountSessions(
        role=role,
        profile=settings.aws.profile,
        endpoint_url=settings.aws.endpoint_url,
        region=regions[0],
        share_clients=True,  # one client per service and region for all the accounts, not one per account
    )

    wants = _wants(options)

    def enter(account: str) -> AwsCollector | EscherError:
        try:
            # only what --checks reads, as in one account (the daily scan: everything)
            collector = AwsCollector(
                regions, max_attempts=options.max_attempts, session=sessions.enter(account), wants=wants
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
        if inv.covered:  # read, if only in part: the report counts it (--checks may leave it no record)
            inv.covered.append(("aws", ACCOUNT_READ, account))
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
