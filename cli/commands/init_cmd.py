"""``escher init``: create the config file and the data dir (idempotent)."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit


def init(
    ctx: typer.Context,
    force: bool = typer.Option(
        False, "--force", help="Overwrite the config file with defaults (your edits are lost)."
    ),
) -> None:
    """Create the config file and the data dir. Safe to run again: an existing config is kept and checked."""
    from escher.config import init_config

    paths, written = init_config(force=force)
    data = {"config_file": str(paths.config_file), "data_dir": str(paths.data_dir), "written": written}

    def text() -> None:
        verb = "Wrote" if written else "Kept existing"
        console().print(f"[green]✓[/] {verb} config [bold]{paths.config_file}[/]")
        console().print(f"[green]✓[/] Data dir [bold]{paths.data_dir}[/]")
        console().print("Next: [bold]escher doctor[/] to see what is ready.")

    emit(ctx, data, text)
