"""``escher report``: the morning report, built from the stored scan and cost snapshot, stored immutably."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from escher.cli._render import console, state
from escher.cli.commands.sync_cmd import NO_SYNC, auto_sync


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
) -> None:
    """Show or export the morning report (the extension's scans and reports are synced first)."""
    auto_sync(no_sync)
    from escher.report.render import render
    from escher.report.render.terminal import print_report
    from escher.report.service import get_or_build_report

    rep = get_or_build_report(date=date, rebuild=rebuild)
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
