"""``escher report``: the morning report, built from the stored scan and cost snapshot, stored immutably; the
extension's newest organization scan (pulled by sync) gives it the per-account breakdown when it is newer."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, state
from escher.cli.commands.sync_cmd import NO_SYNC, auto_sync

if TYPE_CHECKING:
    from escher.report.model import MorningReport
    from escher.report.org import PulledOrgReport


def report(
    ctx: typer.Context,
    date: str | None = typer.Option(
        None,
        "--date",
        help="YYYY-MM-DD: the report stored for that day. Default: the latest scan's report, built now.",
    ),
    fmt: str = typer.Option("text", "--format", "-f", help="text, md, html, pdf, csv, xlsx, json or ocsf."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (needed for pdf and xlsx)."),
    rebuild: bool = typer.Option(
        False, "--new", help="Build from the latest scan (what happens anyway without --date)."
    ),
    no_sync: bool = NO_SYNC,
    account: list[str] = typer.Option(
        None,
        "--account",
        metavar="ID",
        help="Only these accounts (AWS account, Azure subscription, GCP project; repeatable): built from the "
        "latest scan, not stored.",
    ),
    all_accounts: bool = typer.Option(
        False,
        "--all-accounts",
        help="Every account the scan read: the whole estate's report, broken down per account (the default "
        "too; named for symmetry with scan and ops).",
    ),
    run: str | None = typer.Option(
        None,
        "--run",
        metavar="RUN",
        help="The extension's organization scan with this run id: its per-account breakdown, whatever its "
        "age (default: the newest one pulled, when it is newer than the local scan).",
    ),
) -> None:
    """Show or export the morning report (the extension's scans and reports are synced first)."""
    auto_sync(no_sync)
    from escher.report.render import render
    from escher.report.render.terminal import print_report
    from escher.report.service import NoScanError, get_or_build_report

    if account and all_accounts:
        raise typer.BadParameter("give --account ID or --all-accounts, not both", param_hint="--all-accounts")
    if account and date is not None:
        raise typer.BadParameter("a report of some accounts is built from the latest scan: drop --date")
    if run is not None and date is not None:
        raise typer.BadParameter(
            "--date shows a stored report as it was: drop --run or --date", param_hint="--run"
        )
    accounts = list(dict.fromkeys(account or []))
    org = None if date is not None else _org_report(run)
    try:
        rep = _for_accounts(accounts) if accounts else get_or_build_report(date=date, rebuild=rebuild)
    except NoScanError:
        if org is None:
            raise
        rep = _org_only(org, accounts)  # the extension scanned the organization; this laptop has no scan
    except typer.BadParameter:  # --account: the local scan did not read one; the organization scan may have
        if org is None or not set(accounts) <= {s.account for s in org.report.accounts}:
            raise
        rep = _org_only(org, accounts)
    else:
        if org is not None:
            from escher.report.org import apply_org

            rep = apply_org(rep, org, chosen=run is not None, accounts=accounts or None)
    if fmt == "text" and out is None and state(ctx).json:  # -o json before or after the command
        fmt = "json"
    if fmt == "text" and out is None:
        print_report(rep, console())
        return
    data = render(rep, fmt)
    if out is not None:
        out.write_bytes(data)
        console().print(f"Wrote {out} ({len(data):,} bytes)")
    elif fmt in ("pdf", "xlsx"):
        raise typer.BadParameter(f"{fmt} is binary: pass --out FILE", param_hint="--out")
    else:
        sys.stdout.write(data.decode())


def _org_report(run: str | None) -> PulledOrgReport | None:
    """The organization scan ``--run`` names, else the newest the extension joined and sync pulled."""
    from escher.config import resolve_paths
    from escher.extend.pull import sources
    from escher.report.org import choose, local_objects

    paths = resolve_paths()
    return choose(local_objects(paths), run, extended=bool(sources(paths)))


def _org_only(org: PulledOrgReport, accounts: list[str]) -> MorningReport:
    from escher.config import load_settings
    from escher.report.org import org_report
    from escher.report.template import load_template

    return org_report(org, load_template(load_settings().extensions), accounts=accounts or None)


def _for_accounts(accounts: list[str]) -> MorningReport:
    """The morning report of the latest scan narrowed to ``accounts``: their resources, findings and the parts
    of them not read. Never stored (the day's report is the whole estate's); no cost section (billing is
    per cloud here, not per account)."""
    from dataclasses import replace

    from escher.config import load_settings
    from escher.report.builder import build_report
    from escher.report.service import NoScanError
    from escher.report.template import load_template
    from escher.scans.collect.coverage import ACCOUNT_READ
    from escher.scans.model import Inventory, ScanResult
    from escher.scans.persist import close_store, open_store

    wanted = set(accounts)

    def only(scan: ScanResult) -> ScanResult:
        inv = scan.inventory
        narrowed = Inventory(
            records=[r for r in inv.records if r.account in wanted],
            errors=[e for e in inv.errors if any(a in f"{e.service} {e.message}" for a in wanted)],
            covered=[c for c in inv.covered if c[1] != ACCOUNT_READ or c[2] in wanted],  # theirs only
            collected_at=inv.collected_at,
        )
        return replace(scan, inventory=narrowed, findings=[f for f in scan.findings if f.account in wanted])

    store = open_store()
    try:
        keys = store.keys("scan")
        if not keys:
            raise NoScanError("no scan has been stored yet", hint="run `escher scan --all-accounts` first")
        current = ScanResult.from_dict(store.get("scan", keys[-1]) or {})
        previous = ScanResult.from_dict(store.get("scan", keys[-2]) or {}) if len(keys) > 1 else None
    finally:
        close_store(store)
    seen = {r.account for r in current.inventory.records} | {f.account for f in current.findings}
    seen |= {c[2] for c in current.inventory.covered if c[1] == ACCOUNT_READ}  # read, if with no record
    missing = [
        a for a in accounts if a not in seen and not any(a in e.service for e in current.inventory.errors)
    ]
    if missing:
        raise typer.BadParameter(
            f"the latest scan did not read {', '.join(missing)}: scan it with `escher scan --account ID`",
            param_hint="--account",
        )
    template = load_template(load_settings().extensions)
    return build_report(only(current), template, previous=only(previous) if previous else None)
