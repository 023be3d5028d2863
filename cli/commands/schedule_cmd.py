"""``escher schedule add|list|remove|specs``: jobs on a cron schedule, local or in the cloud."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from escher.cli._render import console, emit, sub_app

if TYPE_CHECKING:
    from escher.schedule.jobs import Schedule
    from escher.schedule.store import ScheduleStore

app = sub_app("Scheduled scans, reports and operations.")


def open_schedules() -> ScheduleStore:
    from escher.config import load_settings, resolve_paths
    from escher.schedule.store import ScheduleStore

    settings = load_settings()
    clouds = [c for c in ("aws", "azure", "gcp") if getattr(settings, c).enabled][:1] or ["aws"]
    return ScheduleStore(
        resolve_paths().data_dir / "schedule" / "schedules.json",
        timezone=settings.general.timezone,
        daily_scan_at=settings.general.daily_scan_at,
        clouds=clouds,
    )


@app.command("add")
def add(
    ctx: typer.Context,
    cron: str = typer.Argument(..., help='5-field cron, e.g. "0 20 * * *"'),
    job: str = typer.Argument(
        ..., help='"scan", "report", "daily", "stop instances tagged env=dev", or OP tag:k=v'
    ),
    timezone: str | None = typer.Option(None, "--tz", help="IANA zone; default general.timezone"),
    template: str | None = typer.Option(
        None,
        "--template",
        help="A manager's template (escher templates add) that bounds a scheduled operation; without one "
        "only a pre-approved [remediation] switch lets it change anything.",
    ),
) -> None:
    """Add a schedule."""
    import getpass

    from escher.schedule.cron import check_timezone, parse
    from escher.schedule.jobs import JobError, Schedule, parse_job, schedule_id

    store = open_schedules()
    parse(cron)
    zone = check_timezone(timezone or store.timezone)  # before anything is saved: "Paris" -> Europe/Paris?
    parsed = parse_job(job)
    if template is not None:
        from escher.policy.runtime import open_runtime

        if parsed.kind != "operation":
            raise JobError("--template bounds an operation", hint="scans and reports need no template")
        found = open_runtime().templates.get(template)
        if found is None or found.operation != parsed.operation:
            raise JobError(
                f"no template {template!r} that runs {parsed.operation}",
                hint="a manager adds one with `escher templates add FILE`; see `escher templates list`",
            )
        parsed = parsed.model_copy(update={"template": template})
    else:
        from escher.config import load_settings
        from escher.policy.remediation import load_remediation
        from escher.schedule.admit import check_admissible

        check_admissible(parsed, load_remediation(load_settings().extensions))
    s = Schedule(
        id=schedule_id(cron, parsed),
        cron=cron,
        timezone=zone,
        job=parsed,
        created_by=getpass.getuser(),
    )
    _add_saved(store, s)
    emit(
        ctx,
        s.model_dump(mode="json"),
        lambda: console().print(
            f"Added {s.id}: {cron} ({s.timezone}) {parsed.describe()}; next {s.next_run():%Y-%m-%d %H:%M %Z}"
        ),
    )


def _add_saved(store: ScheduleStore, s: Schedule) -> None:
    """Save ``s``; when AWS is extended, only after its cloud schedule exists (removed again if saving fails)."""
    from escher.config import resolve_paths
    from escher.extend.schedules import aws_target, create_aws, delete_aws

    target = aws_target(resolve_paths())
    if target is not None:
        create_aws(target, s)
    try:
        store.add(s)
    except BaseException:
        if target is not None:
            delete_aws(target, s.id)
        raise


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List schedules with their next run; a broken one is listed with its error (run-due skips it)."""
    from escher.schedule.jobs import Schedule

    items = open_schedules().entries()
    data = [
        dict(s.model_dump(mode="json"), next_run=s.next_run().isoformat())
        if isinstance(s, Schedule)
        else s.to_dict()
        for s in items
    ]

    def text() -> None:
        for s in items:
            if isinstance(s, Schedule):
                when = f"next {s.next_run():%Y-%m-%d %H:%M}"
                what = s.job.describe()
            else:
                when, what = "BROKEN          ", s.error + (f" ({s.hint})" if s.hint else "")
            console().print(f"{s.id:<12} {s.cron:<16} {s.timezone:<16} {when}  {what}", markup=False)

    emit(ctx, data, text)


@app.command("remove")
def remove(ctx: typer.Context, schedule_id: str = typer.Argument(...)) -> None:
    """Remove a schedule ("daily" turns the built-in daily job off); also in the cloud when extended."""
    from escher.config import resolve_paths
    from escher.extend.schedules import aws_target, delete_aws

    store = open_schedules()
    target = aws_target(resolve_paths()) if schedule_id != "daily" else None
    if target is not None:
        if schedule_id not in {s.id for s in store.entries()}:
            store.remove(schedule_id)  # says "no schedule": nothing to delete in the cloud either
        delete_aws(target, schedule_id)  # first: a failure leaves the local schedule, which still runs there
    store.remove(schedule_id)
    emit(ctx, {"removed": schedule_id}, lambda: console().print(f"Removed {schedule_id}"))


@app.command("specs")
def specs(ctx: typer.Context, cloud: list[str] = typer.Option(["aws", "azure", "gcp"], "--cloud")) -> None:
    """Print the per-cloud schedule specs that `escher extend` creates (EventBridge, Functions, Cloud Scheduler)."""
    from escher.cli._render import err_console, print_json
    from escher.schedule.cloud import cloud_specs

    store = open_schedules()
    for b in store.broken():  # not in the specs: say so rather than deploy fewer schedules in silence
        err_console().print(f"BROKEN {b.id}: {b.error} (left out of the specs)", markup=False)
    print_json(cloud_specs(store.all(), list(cloud)))
