"""Run the jobs that are due: ``escher run-due`` (for cron) and ``escher agent`` (a loop while the laptop is on)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from escher.errors import EscherError
from escher.schedule.jobs import Job, Schedule
from escher.schedule.store import BrokenSchedule, ScheduleStore

__all__ = ["JobExecutor", "RunRecord", "agent_loop", "due", "run_due"]


class JobExecutor(Protocol):
    def __call__(self, job: Job) -> str: ...


@dataclass(frozen=True)
class RunRecord:
    schedule_id: str
    started_at: datetime
    ok: bool
    outcome: str
    skipped: bool = False  # a broken schedule: not run, its error in ``outcome``


def due(schedules: list[Schedule], now: datetime) -> list[Schedule]:
    """Schedules whose next run (after their last run) is not in the future. A laptop that was off runs a
    missed job once on wake, not once per missed slot."""
    return [s for s in schedules if s.next_run() <= now]


def run_due(store: ScheduleStore, execute: JobExecutor, now: datetime | None = None) -> list[RunRecord]:
    """Run each due job once. Each is claimed before it runs, so an overlapping runner skips it.

    A broken schedule (one that cannot compute its next run) is reported as skipped with its error, first,
    and the others still run."""
    now = now or datetime.now(UTC)
    entries = store.entries()
    records = [
        RunRecord(b.id, now, False, f"skipped, broken: {b.error}" + (f" ({b.hint})" if b.hint else ""), True)
        for b in entries
        if isinstance(b, BrokenSchedule)
    ]
    for candidate in due([s for s in entries if isinstance(s, Schedule)], now):
        schedule = store.claim(candidate.id, now)
        if schedule is None:  # another runner took this slot
            continue
        try:
            outcome, ok = execute(schedule.job), True
        except EscherError as exc:  # one failing job must not stop the others; the reason is kept
            outcome, ok = f"failed: {exc}", False
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
) -> None:
    """Run due jobs and the hourly backup until ``stop()``; ``once``: one pass (cron, tests)."""
    last_backup: datetime | None = None
    told: set[str] = set()  # a broken schedule is reported once per agent, not once a minute
    while not stop():
        now = clock()
        for record in run_due(store, execute, now):
            if record.skipped:
                if record.outcome in told:
                    continue
                told.add(record.outcome)
            if on_run:
                on_run(record)
        if backup is not None and (last_backup is None or now - last_backup >= backup_every):
            backup()
            last_backup = now
        if once:
            return
        upcoming = min((s.next_run() for s in store.all()), default=now + timedelta(minutes=1))
        sleep(max(1.0, min(60.0, (upcoming - clock()).total_seconds())))
