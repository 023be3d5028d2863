"""``escher agent`` (runs due jobs while the laptop is on) and ``escher run-due`` (one pass, for cron)."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from escher.cli._render import console, emit

_AT = typer.Option(
    None,
    "--at",
    help="Take this ISO time as now (catch up a slot, or try a schedule); default: the current time.",
)


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            "use an ISO time, e.g. 2025-03-14T20:00:00+00:00", param_hint="--at"
        ) from None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _mark(ok: bool, skipped: bool) -> str:
    return "SKIP" if skipped else ("ok " if ok else "ERR")


def run_due_cmd(ctx: typer.Context, at: str | None = _AT) -> None:
    """Run every job that is due now, once (put `escher run-due` in crontab every few minutes)."""
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor
    from escher.schedule.runner import run_due

    records = run_due(open_schedules(), default_executor, _at(at))
    data = [
        {"schedule": r.schedule_id, "ok": r.ok, "skipped": r.skipped, "outcome": r.outcome} for r in records
    ]

    def text() -> None:
        for r in records:
            console().print(f"{_mark(r.ok, r.skipped)} {r.schedule_id}: {r.outcome}", markup=False)
        if not records:
            console().print("Nothing due.")

    emit(ctx, data, text)
    if any(not r.ok for r in records):
        raise typer.Exit(1)


def agent(
    ctx: typer.Context,
    once: bool = typer.Option(
        False, "--once", help="One pass (due jobs, then the backup if due), then exit."
    ),
    at: str | None = _AT,
) -> None:
    """Stay running and run due jobs (and the store's hourly backup) until Ctrl-C."""
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor, store_backup_hook
    from escher.schedule.runner import RunRecord, agent_loop

    backup = store_backup_hook()
    if not once:
        console().print(
            "Escher agent running; Ctrl-C to stop."
            + ("" if backup else " (no store backup: set ESCHER_STATE_URL or [state] url)")
        )
    failed: list[RunRecord] = []

    def on_run(r: RunRecord) -> None:
        if not r.ok:
            failed.append(r)
        console().print(f"{_mark(r.ok, r.skipped)} {r.schedule_id}: {r.outcome}", markup=False)

    fixed = _at(at)

    def clock() -> datetime:
        return fixed if fixed is not None else datetime.now(UTC)

    agent_loop(open_schedules(), default_executor, backup=backup, on_run=on_run, once=once, clock=clock)
    if failed:
        raise typer.Exit(1)
