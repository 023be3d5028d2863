"""``escher scan``: inventory + checks, with a progress bar; JSON or OCSF findings for scripts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, err_console, print_json, state
from escher.clouds.provider import CLOUDS, one_of

if TYPE_CHECKING:
    from escher.scans.model import ScanResult

_CLOUD = typer.Option(None, "--cloud", "-c", help=f"{one_of()} (repeatable); default: aws.")
_REGION = typer.Option(None, "--region", "-r", help="Regions to read (repeatable); default: from config.")
_CHECKS = typer.Option(None, "--checks", help="Comma-separated check ids or patterns (aws.s3.*).")
_OUTPUT = typer.Option(
    None, "--output", "-o", metavar="FORMAT", help="text or json (same as before the command)."
)
_FORMAT = typer.Option(None, "--format", "-f", metavar="FORMAT", help="ocsf: the findings as OCSF JSON.")
_ALL_ACCOUNTS = typer.Option(
    False,
    "--all-accounts",
    help="Every account of each cloud: AWS, the organization's (or [aws] accounts) through [aws] "
    "organization_role; Azure, the subscriptions under [azure] management_group (or [azure] subscriptions, "
    "else all visible); GCP, the projects under [gcp] parent (or [gcp] projects, else all visible).",
)
_ACCOUNT = typer.Option(
    None,
    "--account",
    metavar="ID",
    help="Read this AWS account (12 digits), Azure subscription (a GUID) or GCP project (repeatable).",
)


def scan(
    ctx: typer.Context,
    cloud: list[str] = _CLOUD,
    region: list[str] = _REGION,
    checks: str | None = _CHECKS,
    output: str | None = _OUTPUT,
    file_format: str | None = _FORMAT,
    include_passed: bool = typer.Option(False, "--all", help="Also list resources that passed."),
    list_checks: bool = typer.Option(False, "--list-checks", help="List the checks and exit."),
    all_accounts: bool = _ALL_ACCOUNTS,
    account: list[str] = _ACCOUNT,
) -> None:
    """Read the estate, run the checks and store the result (the morning report reads it)."""
    from escher.config import load_settings
    from escher.report.template import load_template
    from escher.scans.engine import select_checks
    from escher.scans.persist import close_store, open_store
    from escher.scans.runner import ScanOptions, check_regions, run_scan

    # `-o ocsf` is the old spelling of `--format ocsf` and still works
    if file_format not in (None, "ocsf"):
        raise typer.BadParameter("use ocsf (or -o json for Escher's own JSON)", param_hint="--format")
    if output not in (None, "text", "json", "ocsf"):
        raise typer.BadParameter("use text or json", param_hint="--output")
    fmt = file_format or output or ("json" if state(ctx).json else "text")
    unknown = sorted(set(cloud or []) - set(CLOUDS))
    if unknown:
        raise typer.BadParameter(f"unknown cloud {unknown[0]!r}; use {one_of()}", param_hint="--cloud")
    patterns = [p for p in (checks or "").split(",") if p.strip()] or None
    if list_checks:
        from escher.scans.collect.coverage import coverage

        found = select_checks(patterns, cloud or None)
        covered = coverage(found)  # which of them a collector feeds: the others can never give a verdict
        if fmt == "text":
            for c in found:
                fix = f"  [fix: {c.fix_operation}]" if c.fix_operation else ""
                unfed = (
                    "  [not fed: no collector reads what it needs]" if c.id in covered[c.cloud].unfed else ""
                )
                console().print(
                    f"{c.id:<48} {c.severity.value:<8} {c.title}{fix}{unfed}", markup=False, highlight=False
                )
            console().print(f"{len(found)} checks", style="bold")
            for cov in covered.values():
                console().print(
                    f"{cov.cloud}: {cov.can_fire} of {len(cov.registered)} can fire", highlight=False
                )
        else:
            by_id = {c.id: c for c in found}
            print_json(
                {
                    cov.cloud: {
                        "registered": len(cov.registered),
                        "can_fire": cov.can_fire,
                        "checks": [
                            {
                                **by_id[cid].metadata(),
                                "reads": sorted(f"{t}:{a}" for t, a in by_id[cid].needs),
                                "can_fire": cid not in cov.unfed,
                                "not_produced": cov.unfed.get(cid, []),
                            }
                            for cid in cov.registered
                        ],
                    }
                    for cov in covered.values()
                }
            )
        return
    settings = load_settings()
    template = load_template(settings.extensions)
    options = ScanOptions(
        clouds=list(cloud or []) or ["aws"],
        regions=list(region or []) or None,
        checks=patterns,
        thresholds=template.thresholds.scan_thresholds(),
        include_passed=include_passed,
        severity_overrides=template.severity.for_checks(),
    )
    select_checks(options.checks, options.clouds)  # mistakes in the arguments fail before the store starts
    check_regions(settings, options)
    picked = _accounts(settings, options.clouds, all_accounts, list(account or []))
    options.accounts = picked
    store = open_store()
    try:
        result = _run_with_progress(
            lambda progress: run_scan(settings, options, store=store, progress=progress)
        )
        from escher.scans.cost import billing_clouds, sync_if_due

        sync_if_due([c for c in options.clouds if c in billing_clouds(settings)], store)  # cost on day one
    finally:
        close_store(store)
    if fmt == "ocsf":
        from escher.report.render.ocsf import to_ocsf

        print_json([to_ocsf(f.to_dict()) for f in result.findings])
    elif fmt == "json":
        print_json(_json(result))
    else:
        emit(ctx, _json(result), lambda: _text(result, all_=include_passed))
    if result.inventory.errors:
        raise typer.Exit(2)  # partial: some of the estate was not read


def account_cloud(account: str, clouds: list[str]) -> str:
    """Which of ``clouds`` an ``--account ID`` belongs to, by its form; a clear error when none."""
    import re

    from escher.clouds import providers_for

    known = providers_for(clouds)  # each provider says what its account ids look like
    for cloud in known:
        if cloud.account_pattern and re.fullmatch(cloud.account_pattern, account):
            return cloud.name
    wanted = " or ".join(c.account_example or f"a {c.title} {c.account_word}" for c in known)
    raise typer.BadParameter(f"{account!r} is not {wanted}", param_hint="--account")


def _accounts(
    settings: Any, clouds: list[str], all_accounts: bool, given: list[str], ctx: Any = None
) -> dict[str, list[str]]:
    """The accounts to read per cloud, from --account or --all-accounts (a cloud missing: its own one)."""
    if not (all_accounts or given):
        return {}
    picked: dict[str, list[str]] = {}
    for account in dict.fromkeys(given):
        picked.setdefault(account_cloud(account, clouds), []).append(account)
    if given:
        return picked
    from escher.scans import runner

    return {cloud: runner.all_accounts(cloud, settings, ctx) for cloud in clouds}


def _run_with_progress(job: Any) -> ScanResult:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} parts"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as bar:
        task = bar.add_task("Reading the estate", total=None)

        def progress(label: str, found: int) -> None:
            bar.update(task, advance=1, description=f"Read {label}: {found}")

        result: ScanResult = job(progress)
    return result


def _json(result: ScanResult) -> dict[str, Any]:
    return {
        "scan_id": result.scan_id,
        "resources": len(result.inventory.records),
        "partial": [
            {
                "cloud": e.cloud,
                "service": e.service,
                "region": e.region,
                "message": e.message,
                "code": e.code,
                "hint": e.hint,
            }
            for e in result.inventory.errors
        ],
        "findings": [f.to_dict() for f in result.findings],
    }


def _text(result: ScanResult, *, all_: bool = False) -> None:
    from collections import Counter

    from rich.markup import escape
    from rich.table import Table

    con = console()
    fails = result.failed
    table = Table(
        title=f"Scan {result.scan_id}: {len(result.inventory.records):,} resources, {len(fails):,} findings"
    )
    for col in ("severity", "check", "count"):
        table.add_column(col)
    counts = Counter((f.severity, f.check_id) for f in fails)
    for (sev, check_id), n in sorted(counts.items(), key=lambda kv: (-kv[0][0].rank, -kv[1])):
        table.add_row(sev.value, check_id, str(n))
    con.print(table)
    from escher.clouds import PROVIDERS

    for cloud in PROVIDERS.values():  # a cloud read in more than one account: its findings by account
        if len({r.account for r in result.inventory.records if r.cloud == cloud.name}) > 1:
            accounts = Counter(f.account for f in fails if f.cloud == cloud.name)
            by_account = ", ".join(f"{a}: {n}" for a, n in sorted(accounts.items()))
            con.print(
                f"Findings by {cloud.title} {cloud.account_word}: {by_account or 'none'}", highlight=False
            )
    for e in result.inventory.errors:
        con.print(f"[yellow]NOT READ[/] {e.cloud} {e.service} {e.region}: {escape(e.message)}")
        if e.hint:
            con.print(f"  [yellow]What to do:[/] {escape(e.hint)}")
    from escher.cli.commands.findings_cmd import render_table
    from escher.scans.findings import top

    render_table(top(result, 0 if all_ else 10), title="Top findings" + ("" if all_ else " (all: --all)"))
    con.print("Open the report with [bold]escher report[/]; fix one finding with [bold]escher fix ID[/].")
