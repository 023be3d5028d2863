"""``escher doctor``: what is ready on this machine, one check a line, each fix under it, never cut."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit

if TYPE_CHECKING:
    from escher.doctor import Check

_MARK = {
    "ok": "[green]✓[/]",
    "warn": "[yellow]![/]",
    "fail": "[bold red]✗[/]",
    "skip": "[dim]-[/]",
}


def _render(checks: list[Check], code: int) -> None:
    """A vertical layout: area headings, then mark, name and detail, the fix on its own line below. A table cut
    the fix commands at 80 and 120 columns (`AZURE_CLIENT_SECR…`); here each line is soft-wrapped by the
    terminal: nothing is cut, and a command copied from it has no line break inserted."""
    from rich.markup import escape

    con = console()
    con.print("[bold]escher doctor[/]")
    width = max(len(c.name) for c in checks)
    for area in dict.fromkeys(c.area for c in checks):
        con.print(f"\n[bold]{escape(area)}[/]")
        for c in (c for c in checks if c.area == area):
            line = f" {_MARK[c.status.value]} {escape(c.name.ljust(width))}  {escape(c.detail)}"
            con.print(line, soft_wrap=True, highlight=False)
            if c.hint and c.status.value != "ok":
                con.print(f"   [cyan]→[/] {escape(c.hint)}", soft_wrap=True, highlight=False)
    con.print()
    waiting = sum(1 for c in checks if c.status.value == "warn")
    if code:
        con.print("[bold red]Something required is broken: see the lines marked ✗.[/]")
    elif waiting:
        con.print(f"[yellow]Nothing required is broken; {waiting} not ready (marked !): the line under each "
                  "says what to do.[/]")  # fmt: skip
    else:
        con.print("[green]Everything is ready.[/]")


def doctor(
    ctx: typer.Context,
    store: bool = typer.Option(True, "--store/--no-store", help="Also start the embedded store to check it."),
) -> None:
    """Check config, data dir, store, credentials and account per cloud, the brain, notification channels,
    Pulumi and optional extras. Changes nothing."""
    from escher.doctor import exit_code, run_checks

    checks = run_checks(with_store=store)
    code = exit_code(checks)

    emit(ctx, {"ok": code == 0, "checks": [c.to_dict() for c in checks]}, lambda: _render(checks, code))
    raise typer.Exit(code)
