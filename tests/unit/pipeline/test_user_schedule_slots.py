"""Which slots a wake of the every-minute timer runs (Azure's user schedules): those in the last few minutes,
never one before the schedule was made, each computed in the schedule's own zone exactly as the laptop computes
its next run (DST included: a slot in the spring-forward gap runs at the first minute after it), except that a
slot in the hour a fall-back repeats runs once, as Vixie cron runs it (the laptop's chain of next runs, from the
first 02:30, finds the second 02:30 too)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escher.pipeline.user_schedules import LOOKBACK, due_slots
from escher.schedule.jobs import Job, Schedule


def schedule(cron: str, tz: str = "UTC", made: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> Schedule:
    return Schedule(id="s-1", cron=cron, timezone=tz, job=Job(kind="scan", clouds=["azure"]), created_at=made)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_schedule_made_during_a_minute_fires_from_the_next_one() -> None:
    s = schedule("* * * * *", made=at("2026-07-01 12:00:30"))
    assert due_slots(s, at("2026-07-01 12:00:50")) == []
    assert due_slots(s, at("2026-07-01 12:01:02")) == [at("2026-07-01 12:01:00")]


def test_a_late_wake_sees_the_slots_of_the_last_five_minutes_only() -> None:
    s = schedule("* * * * *")
    now = at("2026-07-01 12:10:05")
    assert due_slots(s, now) == [at(f"2026-07-01 12:{m:02d}:00") for m in range(6, 11)]


def test_the_cron_is_read_in_the_schedules_zone() -> None:
    s = schedule("0 20 * * *", "Europe/Paris")
    assert due_slots(s, at("2026-07-01 18:00:03")) == [at("2026-07-01 18:00:00")]  # CEST, UTC+2
    assert due_slots(s, at("2026-01-15 19:00:03")) == [at("2026-01-15 19:00:00")]  # CET, UTC+1
    assert due_slots(s, at("2026-01-15 18:00:03")) == []


@pytest.mark.parametrize(
    ("cron", "tz", "day"),
    [
        ("30 2 * * *", "Europe/Paris", "2026-03-29"),  # 02:30 does not exist that night
        ("30 2 * * *", "Europe/Paris", "2026-10-25"),  # 02:30 happens twice: run once
        ("0 1 * * *", "America/New_York", "2026-11-01"),
        ("*/20 * * * 1-5", "Asia/Kolkata", "2026-03-30"),
    ],
)
def test_the_slots_are_the_laptops_runs(cron: str, tz: str, day: str) -> None:
    """Every wake of a DST day, one a minute: together they see the runs the laptop would make, each wall-clock
    slot once."""
    s = schedule(cron, tz)
    start = at(f"{day} 00:00:00") - timedelta(hours=14)
    seen: set[datetime] = set()
    for minute in range(0, 48 * 60):
        seen.update(due_slots(s, start + timedelta(minutes=minute, seconds=2)))
    laptop = []
    run = s.next_run(start - LOOKBACK)
    end = start + timedelta(minutes=48 * 60 - 1, seconds=2)
    while run <= end:
        if run.replace(tzinfo=None) not in [r.replace(tzinfo=None) for r in laptop]:
            laptop.append(run)
        run = s.next_run(run)
    assert sorted(seen) == laptop and laptop
