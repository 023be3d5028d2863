"""Run the jobs that are due: ``escher run-due`` (for cron) and ``escher agent`` (a loop while the laptop is on).

A schedule whose job's cloud is extended runs in that extension (:mod:`escher.extend.schedules`), so the
laptop does not run it too: its slot is taken and recorded as run there, and it is reported as skipped
("runs in GCP"). Which cloud runs it is decided by :func:`escher.extend.schedules.cloud_homes`, the function
``schedule add`` uses, from the extend state as it is at each pass: once ``escher destroy`` brings that cloud
back to Local Only, the laptop runs the schedule again from its next slot (the slots the cloud ran are not
run again). A scan or report over several clouds of which only some are extended runs here for the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from escher.errors import EscherError
from escher.schedule.jobs import Job, Schedule
from escher.schedule.store import BrokenSchedule, ScheduleStore

__all__ = ["CloudHomes", "JobExecutor", "RunRecord", "agent_loop", "due", "run_due", "where_it_runs"]

CloudHomes = Callable[[Iterable[str]], list[str]]
"""job clouds -> the extended clouds that run the job (:func:`escher.extend.schedules.cloud_homes`)."""


class JobExecutor(Protocol):
    def __call__(self, job: Job) -> str: ...


@dataclass(frozen=True)
class RunRecord:
    schedule_id: str
    started_at: datetime
    ok: bool
    outcome: str
    # not run here: a broken schedule (ok False, its error in ``outcome``) or one an extension runs (ok True)
    skipped: bool = False


def due(schedules: list[Schedule], now: datetime) -> list[Schedule]:
    """Schedules whose next run (after their last run) is not in the future. A laptop that was off runs a
    missed job once on wake, not once per missed slot."""
    return [s for s in schedules if s.next_run() <= now]


def where_it_runs() -> CloudHomes:
    """The extend state of this machine's data dir, now (read once per pass)."""
    from escher.config import resolve_paths
    from escher.extend.schedules import cloud_homes

    return cloud_homes(resolve_paths())


def _names(clouds: list[str]) -> str:
    from escher.extend.schedules import CLOUD_NAMES

    return "/".join(CLOUD_NAMES.get(c, c) for c in clouds)


def run_due(
    store: ScheduleStore,
    execute: JobExecutor,
    now: datetime | None = None,
    *,
    homes: CloudHomes | None = None,
) -> list[RunRecord]:
    """Run each due job once. Each is claimed before it runs, so an overlapping runner skips it.

    A broken schedule (one that cannot compute its next run) is reported as skipped with its error, first,
    and the others still run. A schedule an extension runs (``homes``, default :func:`where_it_runs`) is not
    run here: its slot is taken, and it is reported as skipped ("runs in GCP"); for a job over several clouds
    only the clouds no extension runs are run here."""
    now = now or datetime.now(UTC)
    homes = homes or where_it_runs()
    entries = store.entries()
    records = [
        RunRecord(b.id, now, False, f"skipped, broken: {b.error}" + (f" ({b.hint})" if b.hint else ""), True)
        for b in entries
        if isinstance(b, BrokenSchedule)
    ]
    for candidate in due([s for s in entries if isinstance(s, Schedule)], now):
        elsewhere = homes(candidate.job.clouds)
        here = [c for c in candidate.job.clouds if c not in elsewhere]
        schedule = store.claim(candidate.id, now)
        if schedule is None:  # another runner took this slot
            continue
        if elsewhere and not here:  # the extension runs this slot: taken here, so it is not run here later
            schedule.last_outcome = f"runs in {_names(elsewhere)}"
            store.mark_run(schedule)
            records.append(RunRecord(schedule.id, now, True, f"not run here: {schedule.last_outcome}", True))
            continue
        job = schedule.job.model_copy(update={"clouds": here}) if elsewhere else schedule.job
        try:
            outcome, ok = execute(job), True
        except EscherError as exc:  # one failing job must not stop the others; the reason is kept
            outcome, ok = f"failed: {exc}", False
        if elsewhere:
            outcome += f" (the {_names(elsewhere)} part runs in its extension)"
        schedule.last_outcome = outcome
        store.mark_run(schedule)
        records.append(RunRecord(schedule.id, now, ok, outcome))
    return records


def agent_loop(
    store: ScheduleStore,
    execute: JobExecutor,
    *,
    backup: Callable[[], None] | None = None,
    backup_every: timedelta = timedelta(hours=1),
    on_run: Callable[[RunRecord], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    once: bool = False,
    homes: Callable[[], CloudHomes] | None = None,
) -> None:
    """Run due jobs and the hourly backup until ``stop()``; ``once``: one pass (cron, tests). ``homes``: as
    :func:`run_due` (default: the extend state, read again at each pass)."""
    last_backup: datetime | None = None
    # a skipped schedule (broken, or run by an extension) is reported once per agent, not at every slot
    told: set[tuple[str, str]] = set()
    while not stop():
        now = clock()
        for record in run_due(store, execute, now, homes=homes() if homes else None):
            if record.skipped:
                if (record.schedule_id, record.outcome) in told:
                    continue
                told.add((record.schedule_id, record.outcome))
            if on_run:
                on_run(record)
        if backup is not None and (last_backup is None or now - last_backup >= backup_every):
            backup()
            last_backup = now
        if once:
            return
        upcoming = min((s.next_run() for s in store.all()), default=now + timedelta(minutes=1))
        sleep(max(1.0, min(60.0, (upcoming - clock()).total_seconds())))
