"""``escher agent`` (runs due jobs, watch rounds, backups and retention while the laptop is on; ``install``,
``uninstall``, ``status`` manage it as a service) and ``escher run-due`` (one pass, for cron)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def _housekeeping_error(part: str, exc: BaseException) -> None:
    console().print(f"ERR {part}: {exc}", markup=False)


def _mark(ok: bool, skipped: bool) -> str:
    return "SKIP" if skipped else ("ok " if ok else "ERR")


def run_due_cmd(ctx: typer.Context, at: str | None = _AT) -> None:
    """Run every job that is due now, once (put `escher run-due` in crontab every few minutes)."""
    from escher.agent_service import default_housekeeping
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor
    from escher.schedule.runner import run_due

    records = run_due(open_schedules(), default_executor, _at(at))
    default_housekeeping(_housekeeping_error, persist=True, watch=False)()  # backup, retention when due
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
    action: str | None = typer.Argument(
        None,
        metavar="[install|uninstall|status]",
        help="Manage the agent as a service (systemd user unit, launchd agent, scheduled task) instead of "
        "running it here.",
    ),
    once: bool = typer.Option(
        False, "--once", help="One pass (due jobs, watch, backup and retention when due), then exit."
    ),
    at: str | None = _AT,
    no_enable: bool = typer.Option(
        False, "--no-enable", help="install: write the service file only, do not register or start it."
    ),
) -> None:
    """Stay running: due jobs, a watch round every minute, the store backup and retention, until Ctrl-C."""
    if action is not None:
        _service(ctx, action, enable=not no_enable)
        return
    from escher.agent_service import default_housekeeping
    from escher.cli.commands.schedule_cmd import open_schedules
    from escher.schedule.execute import default_executor, store_backup_hook
    from escher.schedule.runner import RunRecord, agent_loop

    backup = store_backup_hook()
    house = default_housekeeping(_housekeeping_error, persist=True)
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

    # housekeeping keeps each part's own pace (watch, backup, retention): the loop calls it every pass
    agent_loop(
        open_schedules(),
        default_executor,
        backup=house.run,
        backup_every=timedelta(0),
        on_run=on_run,
        once=once,
        clock=clock,
    )
    if failed:
        raise typer.Exit(1)


def _service(ctx: typer.Context, action: str, *, enable: bool) -> None:
    from escher.agent_service import LINGER_HINT, install, service_file, status, uninstall

    if action not in ("install", "uninstall", "status"):
        raise typer.BadParameter("use install, uninstall or status", param_hint="ACTION")
    spec = service_file()
    if action == "install":
        result = install(spec, enable=enable)
    elif action == "uninstall":
        result = uninstall(spec)
    else:
        result = status(spec)

    def text() -> None:
        state = (
            "running"
            if result.running
            else ("installed, not running" if result.installed else "not installed")
        )
        console().print(f"Escher agent ({result.platform}): {state}; {result.path}", markup=False)
        if action == "install" and result.platform == "linux":
            console().print(LINGER_HINT, markup=False)

    emit(ctx, result.to_dict(), text)
