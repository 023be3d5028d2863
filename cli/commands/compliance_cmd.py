"""``escher compliance list | report FRAMEWORK``: CIS, SOC 2, HIPAA and NIST 800-53 verdicts from the latest scan."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app

if TYPE_CHECKING:
    from escher.compliance.evaluate import ComplianceReport, Verdict
    from escher.scans.model import ScanResult

app = sub_app(
    "Compliance frameworks (CIS on AWS, Azure and GCP, SOC 2, HIPAA, NIST 800-53) over the latest scan."
)

REPORT_FORMATS = ("table", "json", "csv", "html", "ocsf", "md")
_SUFFIXES = {".json": "json", ".csv": "csv", ".html": "html", ".htm": "html", ".md": "md"}
_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "manual": "dim",
    "not read": "yellow",
    "not implemented": "dim",
}


def _scans() -> list[ScanResult]:
    from escher.compliance.evaluate import recent_scans
    from escher.scans.persist import close_store, open_store

    store = open_store()
    try:
        return recent_scans(store)
    finally:
        close_store(store)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the frameworks with their control counts and, when a scan is stored, % compliant."""
    from escher.compliance.catalogue import frameworks
    from escher.compliance.evaluate import evaluate, pick_scan

    scans = _scans()
    rows: list[dict[str, Any]] = []
    for fw in frameworks():
        manual = sum(1 for c in fw.controls if not c.automated)
        mapped = sum(1 for c in fw.controls if c.automated and c.checks)
        row: dict[str, Any] = {
            "id": fw.id, "name": fw.name, "version": fw.version, "cloud": fw.cloud, "controls": len(fw.controls),
            "automated": len(fw.controls) - manual, "manual": manual, "implemented": mapped,
            "percent_compliant": None, "scan_id": None,
        }  # fmt: skip
        if scans:
            report = evaluate(fw, pick_scan(scans, fw))
            row["percent_compliant"] = report.percent
            row["scan_id"] = report.scan_id
            row["counts"] = report.counts
        rows.append(row)

    def text() -> None:
        from rich.table import Table

        table = Table(title="Compliance frameworks", title_justify="left", show_edge=False, pad_edge=False)
        for name in ("Framework", "Name", "Version", "Controls", "Automated", "Implemented", "Manual"):
            table.add_column(name, no_wrap=name != "Name", overflow="fold")
        table.add_column("Compliant", no_wrap=True, justify="right")
        for r in rows:
            table.add_row(r["id"], r["name"], r["version"], str(r["controls"]), str(r["automated"]),
                          str(r["implemented"]), str(r["manual"]), _pct(r["percent_compliant"]))  # fmt: skip
        con = console()
        con.print(table)
        if not scans:
            con.print("No scan yet: run `escher scan` to see % compliant.", markup=False)
        else:
            con.print("Details: escher compliance report FRAMEWORK (e.g. cis-aws)", markup=False)

    emit(ctx, rows, text)


@app.command("report")
def report(
    ctx: typer.Context,
    framework_id: str = typer.Argument(..., metavar="FRAMEWORK", help="A framework id, e.g. cis-aws, soc2."),
    cloud: str = typer.Option(
        None, "--cloud", metavar="CLOUD", help="Only this cloud's checks (aws, azure, gcp)."
    ),
    account: str = typer.Option(
        None, "--account", metavar="ACCOUNT", help="Account, subscription or project id."
    ),
    status: list[str] = typer.Option(
        None, "--status", metavar="STATUS", help="Show only: pass, fail, manual, not-read, not-implemented."
    ),
    fmt: str = typer.Option(
        "table", "--format", "-f", metavar="FORMAT", help="table, json, csv, html, ocsf or md."
    ),
    output_file: Path = typer.Option(
        None,
        "--output-file",
        metavar="PATH",
        help="Write the report here (format from --format or the name).",
    ),
) -> None:
    """Every control of FRAMEWORK with its verdict (pass, fail, manual, not read, not implemented), the failing
    resources, and % compliant overall and per account, from the latest scan."""
    from escher.compliance.catalogue import framework
    from escher.compliance.evaluate import ComplianceError, Verdict, evaluate, pick_scan
    from escher.compliance.render import render

    fmt = fmt.strip().lower()
    if fmt == "table" and output_file is not None:  # a file takes its format from its name
        fmt = _SUFFIXES.get(output_file.suffix.lower(), "")
        if not fmt:
            raise ComplianceError(
                f"which format for {output_file.name}?", hint="add --format json, csv, html, ocsf or md"
            )
    if fmt not in REPORT_FORMATS:
        raise ComplianceError(f"unknown format {fmt!r}", hint="use " + ", ".join(REPORT_FORMATS))
    fw = framework(framework_id)
    statuses = Verdict.parse(w for item in status or () for w in item.split(","))
    result = evaluate(fw, pick_scan(_scans(), fw, cloud=cloud), cloud=cloud, account=account)
    if fmt != "table":
        data = render(result, fmt, statuses=statuses)
        if output_file is not None:
            output_file.parent.mkdir(parents=True, exist_ok=True)
            output_file.write_bytes(data)
            written = {"framework": fw.id, "format": fmt, "path": str(output_file), "bytes": len(data)}
            emit(ctx, written, lambda: console().print(f"Wrote {fw.id} ({fmt}) to {output_file}", markup=False,
                                                       highlight=False))  # fmt: skip
        else:
            typer.echo(data.decode(), nl=False)
        return
    emit(ctx, result.to_dict(statuses=statuses), lambda: _table(result, statuses))


def _table(result: ComplianceReport, statuses: tuple[Verdict, ...]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from escher.compliance.evaluate import counts, percent

    fw = result.framework
    con = console()
    con.print(f"[bold]{escape(fw.title)}[/]  scan {result.scan_id} ({result.scanned_at:%Y-%m-%d %H:%M} UTC)")
    shown = result.only(statuses)
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("Control", no_wrap=True, style="bold")
    table.add_column("Title", overflow="fold", ratio=3)
    table.add_column("Status", no_wrap=True)
    table.add_column("Resources", overflow="fold", ratio=2)
    for res in shown:
        failing = sorted({r.resource_id for r in res.failed})
        if failing:
            cell = escape(", ".join(failing[:5])) + (
                f" (+{len(failing) - 5} more)" if len(failing) > 5 else ""
            )
        elif res.status.value == "not read":
            cell = escape("; ".join(res.not_read))
        elif res.status.value == "pass":
            cell = f"{len(res.passed)} passing" if res.passed else "nothing in scope"
        else:
            cell = ""
        if res.control.note and res.status.value in ("pass", "fail"):
            cell += f" [dim](note: {escape(res.control.note)})[/]" if cell else ""
        style = _STYLE[res.status.value]
        table.add_row(escape(res.control.id), escape(res.control.title), f"[{style}]{res.status.value}[/]",
                      cell)  # fmt: skip
    con.print(table)
    c = result.counts
    con.print(
        f"Compliant: [bold]{_pct(result.percent)}[/] (pass / (pass + fail))  "
        + "  ".join(f"{k}: {v}" for k, v in c.items())
    )
    for acct, res_list in result.accounts.items():
        n = counts(res_list)
        con.print(f"  account {escape(acct)}: {_pct(percent(res_list))} ({n['pass']} pass, {n['fail']} fail)")
    if statuses and len(shown) < len(result.controls):
        con.print(f"Showing {len(shown)} of {len(result.controls)} controls (--status).", markup=False)
