"""``escher agent`` (runs due jobs while the laptop is on) and ``escher run-due`` (one pass, for cron)."""

from __future__ import annotations

import typer

from escher.cli._render import console, emit


def run_due_cmd(ctx: typer.Context) -> None:
    """Run every job that is due now, once (put `escher run-due` in crontab every few minutes)."""
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor
    from escher.schedule.runner import run_due

    records = run_due(open_schedules(), default_executor)
    data = [{"schedule": r.schedule_id, "ok": r.ok, "outcome": r.outcome} for r in records]

    def text() -> None:
        for r in records:
            console().print(f"{'ok ' if r.ok else 'ERR'} {r.schedule_id}: {r.outcome}", markup=False)
        if not records:
            console().print("Nothing due.")

    emit(ctx, data, text)
    if any(not r.ok for r in records):
        raise typer.Exit(1)


def agent(ctx: typer.Context) -> None:
    """Stay running and run due jobs (and the store's hourly backup) until Ctrl-C."""
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor, store_backup_hook
    from escher.schedule.runner import agent_loop

    backup = store_backup_hook()
    console().print(
        "Escher agent running; Ctrl-C to stop." + ("" if backup else " (no store backup hook yet)")
    )
    agent_loop(
        open_schedules(),
        default_executor,
        backup=backup,
        on_run=lambda r: console().print(
            f"{'ok ' if r.ok else 'ERR'} {r.schedule_id}: {r.outcome}", markup=False
        ),
    )
