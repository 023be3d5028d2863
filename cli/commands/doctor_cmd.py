"""``escher doctor``: a table of what is ready on this machine."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit

_STYLE = {
    "ok": "[green]✓ ok[/]",
    "warn": "[yellow]! warn[/]",
    "fail": "[bold red]✗ fail[/]",
    "skip": "[dim]- skip[/]",
}


def doctor(
    ctx: typer.Context,
    store: bool = typer.Option(True, "--store/--no-store", help="Also start the embedded store to check it."),
) -> None:
    """Check config, data dir, store, credentials per cloud, Pulumi and optional extras. Changes nothing."""
    from escher.doctor import exit_code, run_checks

    checks = run_checks(with_store=store)
    code = exit_code(checks)

    def text() -> None:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title="escher doctor", show_lines=False)
        for col in ("area", "check", "status", "detail", "what to do"):
            table.add_column(col)
        for c in checks:
            table.add_row(c.area, c.name, _STYLE[c.status.value], escape(c.detail), escape(c.hint or ""))
        console().print(table)
        if code:
            console().print("[bold red]Something required is broken: see the rows marked fail.[/]")
        else:
            console().print("[green]Nothing required is broken.[/]")

    emit(ctx, {"ok": code == 0, "checks": [c.to_dict() for c in checks]}, text)
    raise typer.Exit(code)
