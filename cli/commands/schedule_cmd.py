"""``escher schedule add|list|remove|specs``: jobs on a cron schedule, local or in the cloud."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import typer

from escher.cli._render import console, emit, sub_app
from escher.clouds import CLOUDS
from escher.clouds.provider import enabled_clouds

if TYPE_CHECKING:
    from escher.schedule.jobs import Schedule
    from escher.schedule.store import ScheduleStore

app = sub_app("Scheduled scans, reports and operations.")


def open_schedules() -> ScheduleStore:
    from escher.config import load_settings, resolve_paths
    from escher.schedule.store import ScheduleStore

    settings = load_settings()
    enabled = enabled_clouds(settings)
    clouds = enabled[:1] or ["aws"]
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
    """Add a schedule; when its cloud is extended it runs there too (AWS, GCP: a cloud schedule; Azure: the
    published settings, run by the extension's every-minute timer)."""
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
    clouds = _add_saved(store, s)
    emit(
        ctx,
        dict(s.model_dump(mode="json"), runs_in=clouds),
        lambda: console().print(
            f"Added {s.id}: {cron} ({s.timezone}) {parsed.describe()}; next {s.next_run():%Y-%m-%d %H:%M %Z}"
            + "".join(f"\n{_where(c, s.id)}" for c in clouds),
            markup=False,
        ),
    )


def _where(cloud: str, schedule_id: str) -> str:
    """Where a schedule runs in ``cloud``, as its provider's ``schedules`` module says it."""
    from escher.clouds import provider

    where: str = provider(cloud).load("schedules").where(schedule_id)
    return where


def _add_saved(store: ScheduleStore, s: Schedule, clients: Mapping[str, Any] | None = None) -> list[str]:
    """Save ``s``; when the cloud its job runs in is extended, only once it exists there too (undone again if
    saving or publishing fails). The clouds it runs in. ``clients``: cloud -> SDK client (tests replay there)."""
    from escher.config import resolve_paths
    from escher.extend.schedules import add_in_clouds

    return add_in_clouds(
        resolve_paths(), s, lambda: store.add(s), unsave=lambda: store.remove(s.id), clients=clients
    )


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List schedules with their next run and where they run (a schedule whose cloud is extended runs in that
    extension, not on this laptop); a broken one is listed with its error (run-due skips it)."""
    from escher.config import resolve_paths
    from escher.extend.schedules import CLOUD_NAMES, cloud_homes
    from escher.schedule.jobs import Schedule

    items = open_schedules().entries()
    homes = cloud_homes(resolve_paths())  # the decision run-due and `schedule add` make
    data = [
        dict(s.model_dump(mode="json"), next_run=s.next_run().isoformat(), runs_in=homes(s.job.clouds))
        if isinstance(s, Schedule)
        else s.to_dict()
        for s in items
    ]

    def text() -> None:
        for s in items:
            if isinstance(s, Schedule):
                when = f"next {s.next_run():%Y-%m-%d %H:%M}"
                what = s.job.describe()
                clouds = homes(s.job.clouds)
                if clouds:
                    what += f"; runs in {'/'.join(CLOUD_NAMES[c] for c in clouds)}"
                    if set(s.job.clouds) - set(clouds):
                        what += ", the rest on this laptop"
            else:
                when, what = "BROKEN          ", s.error + (f" ({s.hint})" if s.hint else "")
            console().print(f"{s.id:<12} {s.cron:<16} {s.timezone:<16} {when}  {what}", markup=False)

    emit(ctx, data, text)


@app.command("remove")
def remove(ctx: typer.Context, schedule_id: str = typer.Argument(...)) -> None:
    """Remove a schedule ("daily" turns the built-in daily job off); also in the cloud when extended."""
    from escher.extend.schedules import CLOUD_NAMES

    clouds = _remove_everywhere(open_schedules(), schedule_id)
    also = f" (also in {', '.join(CLOUD_NAMES[c] for c in clouds)})" if clouds else ""
    emit(
        ctx,
        {"removed": schedule_id, "clouds": clouds},
        lambda: console().print(f"Removed {schedule_id}{also}", markup=False),
    )


def _remove_everywhere(
    store: ScheduleStore, schedule_id: str, clients: Mapping[str, Any] | None = None
) -> list[str]:
    """Delete the cloud schedules of ``schedule_id`` first (a failure leaves the laptop's, which still runs
    there), then the laptop's; the clouds it ran in. ``clients``: cloud -> SDK client (tests replay there)."""
    from escher.config import resolve_paths
    from escher.extend.schedules import remove_in_clouds
    from escher.schedule.jobs import Schedule

    if schedule_id == "daily":
        store.remove(schedule_id)
        return []
    found = [e for e in store.entries() if e.id == schedule_id]
    if not found:
        store.remove(schedule_id)  # says "no schedule": nothing to delete in the cloud either
    entry = found[0]
    # a schedule that cannot be read any more may run in any extended cloud: deleting is harmless where not
    job_clouds = entry.job.clouds if isinstance(entry, Schedule) else list(CLOUDS)
    restore = (lambda: store.add(entry)) if isinstance(entry, Schedule) else None
    return remove_in_clouds(
        resolve_paths(),
        schedule_id,
        job_clouds,
        lambda: store.remove(schedule_id),
        restore=restore,
        clients=clients,
    )


@app.command("specs")
def specs(ctx: typer.Context, cloud: list[str] = typer.Option(list(CLOUDS), "--cloud")) -> None:
    """Print each schedule as each cloud's scheduler spells it (for reference: `schedule add` makes the cloud
    schedule itself when the cloud is extended)."""
    from escher.cli._render import err_console, print_json
    from escher.schedule.cloud import cloud_specs

    store = open_schedules()
    for b in store.broken():  # not in the specs: say so rather than deploy fewer schedules in silence
        err_console().print(f"BROKEN {b.id}: {b.error} (left out of the specs)", markup=False)
    print_json(cloud_specs(store.all(), list(cloud)))
