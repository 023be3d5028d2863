"""``escher findings list | show``: the latest scan's failing findings, with the ids ``escher fix`` takes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app

if TYPE_CHECKING:
    from escher.scans.model import Finding, ScanResult

app = sub_app("The latest scan's findings: list them with filters, show one with its fix.")


def _latest() -> ScanResult:
    from escher.scans.findings import latest_scan
    from escher.scans.persist import close_store, open_store

    store = open_store()
    try:
        return latest_scan(store)
    finally:
        close_store(store)


def _row(f: Finding) -> dict[str, Any]:
    return {
        "id": f.id,
        "severity": f.severity.value,
        "check": f.check_id,
        "resource": f.resource_id,
        "region": f.region,
        "account": f.account,
        "environment": f.environment,
        "fix": f"escher fix {f.id}" if f.fix_operation else None,
    }


def render_table(findings: list[Finding], *, title: str | None = None) -> None:
    """The findings as one table: id, severity, check, resource, region (what `escher fix ID` needs)."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("ID", no_wrap=True, style="bold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Check", overflow="fold")
    table.add_column("Resource", overflow="fold")
    table.add_column("Region", no_wrap=True)
    for f in findings:
        table.add_row(f.id, f.severity.value, f.check_id, f.resource_id, f.region)
    console().print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    cloud: list[str] = typer.Option(None, "--cloud", metavar="CLOUD", help="aws, azure or gcp (repeatable)."),
    severity: list[str] = typer.Option(
        None, "--severity", "-s", metavar="SEVERITY", help="critical, high, medium, low, info (repeatable)."
    ),
    check: list[str] = typer.Option(
        None, "--check", metavar="CHECK", help="Check id or pattern, e.g. 'aws.s3.*' (repeatable)."
    ),
    environment: list[str] = typer.Option(
        None, "--env", "--environment", metavar="ENV", help="The resource's env tag, e.g. prod (repeatable)."
    ),
    account: list[str] = typer.Option(
        None, "--account", metavar="ACCOUNT", help="Account, subscription or project id (repeatable)."
    ),
    limit: int = typer.Option(0, "--limit", "-n", metavar="N", help="Show the N worst only (0: all)."),
) -> None:
    """List the latest scan's failing findings, worst first, each with its id for `escher fix ID`."""
    from escher.scans.findings import FindingFilter, select

    flt = FindingFilter.parse(
        clouds=cloud, severities=severity, checks=check, environments=environment, accounts=account
    )
    scan = _latest()
    found = select(scan, flt)
    shown = found[:limit] if limit > 0 else found

    def text() -> None:
        if not shown:
            console().print(f"No failing findings match in scan {scan.scan_id}.")
            return
        render_table(shown, title=f"Scan {scan.scan_id}: {len(found)} finding(s)")
        more = f" ({len(found) - len(shown)} more: drop --limit)" if len(shown) < len(found) else ""
        console().print(f"Details: escher findings show ID; fix one: escher fix ID{more}", markup=False)

    emit(ctx, [_row(f) for f in shown], text)


@app.command("show")
def show(
    ctx: typer.Context,
    finding_id: str = typer.Argument(..., metavar="ID", help="A finding id (F-...)."),
) -> None:
    """Show one finding: what is wrong, where, why it matters and how to fix it."""
    from escher.scans.findings import get

    f = get(_latest(), finding_id)

    def text() -> None:
        con = console()
        con.print(f"[bold]{f.id}[/]  {f.severity.value}  {f.title}", highlight=False)
        for label, value in (
            ("check", f.check_id),
            ("resource", f"{f.resource_id} ({f.resource_type})"),
            ("where", f"{f.cloud} {f.account} {f.region}"),
            ("environment", f.environment or "-"),
            ("finding", f.message),
            ("saving", f"${f.monthly_saving:,.2f}/month" if f.monthly_saving else ""),
            ("remediation", f.remediation),
            ("compliance", "; ".join(f"{k} {', '.join(v)}" for k, v in f.compliance.items())),
            (
                "fix",
                f"escher fix {f.id}  (plans {f.fix_operation}; policy and approvals apply)"
                if f.fix_operation
                else "no catalogue operation: do it by hand (see remediation)",
            ),
        ):
            if value:
                con.print(f"  {label:<12} {value}", markup=False, highlight=False)

    emit(ctx, f.to_dict(), text)
