"""The schedule list: a JSON file in the data dir, changed under a file lock.

``run-due`` from cron and ``escher agent`` may overlap: a job is *claimed* (its last run set to this slot)
under the lock before it runs, so a second runner in the same minute finds nothing due.

One schedule that cannot be read (an unknown time zone saved by an older version, a hand-edited cron) is
listed as :class:`BrokenSchedule` with its error; it never stops the others from being listed or run.
The built-in daily job is anchored when the store is first used (``default_since``): its first run is the
next 02:00 after that, not a slot in 2020.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from escher.errors import EscherError, NotFoundError
from escher.schedule.jobs import Schedule, default_daily

__all__ = ["BrokenSchedule", "ScheduleStore", "UnknownScheduleError"]


@dataclass(frozen=True, slots=True)
class BrokenSchedule:
    """A stored schedule that cannot run: shown by ``schedule list``, skipped (with this error) by run-due."""

    id: str
    cron: str
    timezone: str
    error: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), broken=True)


def _why(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, EscherError):
        return exc.message, exc.hint or ""
    return str(exc).splitlines()[0], ""


class UnknownScheduleError(NotFoundError):
    """``schedule remove ID`` names no schedule (exit 2)."""


class ScheduleStore:
    def __init__(
        self,
        path: Path,
        *,
        timezone: str = "UTC",
        daily_scan_at: str = "02:00",
        clouds: list[str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.timezone = timezone
        self._clock = clock
        self._held = False
        self._daily = (daily_scan_at, timezone, clouds or ["aws"])

    def _read(self) -> dict[str, object]:
        if not self.path.exists():
            return {"schedules": [], "default_removed": False, "default_last_run": None}
        data: dict[str, object] = json.loads(self.path.read_text())
        return data

    def _anchor(self) -> None:
        """Record when the built-in daily job began to exist, once, so its next run is right from the start."""
        if self._read().get("default_since"):
            return
        if self._held:  # claim() holds the lock: write in place
            self._write(dict(self._read(), default_since=self._clock().isoformat()))
            return
        with self._locked():
            data = self._read()
            if not data.get("default_since"):
                data["default_since"] = self._clock().isoformat()
                self._write(data)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: one runner at a time is the user's to ensure
            yield
            return
        with open(self.path.with_suffix(".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            self._held = True
            try:
                yield
            finally:
                self._held = False
                fcntl.flock(fh, fcntl.LOCK_UN)

    def claim(self, schedule_id: str, now: datetime) -> Schedule | None:
        """Take a due schedule's slot ``now`` before running it; None when it is not (or no longer) due."""
        with self._locked():
            for schedule in self.all():
                if schedule.id == schedule_id and schedule.next_run() <= now:
                    schedule.last_run, schedule.last_outcome = now, "running"
                    self._mark_run(schedule)
                    return schedule
        return None

    def _write(self, data: dict[str, object]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, self.path)

    def all(self) -> list[Schedule]:
        """The schedules that can run (see :meth:`entries` for the broken ones too)."""
        return [s for s in self.entries() if isinstance(s, Schedule)]

    def broken(self) -> list[BrokenSchedule]:
        return [s for s in self.entries() if isinstance(s, BrokenSchedule)]

    def entries(self) -> list[Schedule | BrokenSchedule]:
        """Every schedule in list order, each either runnable or broken with its reason."""
        data = self._read()
        items: list[Schedule | BrokenSchedule] = []
        for raw in data["schedules"]:  # type: ignore[attr-defined]
            try:
                schedule = Schedule.model_validate(raw)
                schedule.next_run()  # a cron that no longer fires is broken too
                items.append(schedule)
            except (EscherError, ValidationError) as exc:
                message, hint = _why(exc)
                get = raw.get if isinstance(raw, dict) else {}.get
                items.append(
                    BrokenSchedule(
                        str(get("id", "?")), str(get("cron", "")), str(get("timezone", "")), message, hint
                    )
                )
        if not data.get("default_removed"):
            items.insert(0, self._default_entry(data))
        return items

    def _default_entry(self, data: dict[str, object]) -> Schedule | BrokenSchedule:
        at, zone, clouds = self._daily
        try:
            daily = default_daily(at, zone, clouds)
        except (EscherError, ValueError) as exc:  # [general] timezone / daily_scan_at unusable
            message, hint = _why(exc)
            return BrokenSchedule(
                "daily", at, zone, message, hint or "fix [general] timezone / daily_scan_at in the config"
            )
        last = data.get("default_last_run")
        if last:
            daily.last_run = datetime.fromisoformat(str(last))
        else:
            self._anchor()
            since = self._read().get("default_since")
            if since:
                daily.created_at = datetime.fromisoformat(str(since))
        return daily

    def add(self, schedule: Schedule) -> Schedule:
        with self._locked():
            return self._add(schedule)

    def _add(self, schedule: Schedule) -> Schedule:
        data = self._read()
        raw = [s for s in data["schedules"] if s["id"] != schedule.id]  # type: ignore[attr-defined, index]
        raw.append(schedule.model_dump(mode="json"))
        data["schedules"] = raw
        self._write(data)
        return schedule

    def remove(self, schedule_id: str) -> None:
        with self._locked():
            self._remove(schedule_id)

    def _remove(self, schedule_id: str) -> None:
        data = self._read()
        if schedule_id == "daily":
            data["default_removed"] = True
        else:
            raw = list(data["schedules"])  # type: ignore[call-overload]
            kept = [s for s in raw if s["id"] != schedule_id]
            if len(kept) == len(raw):
                raise UnknownScheduleError(f"no schedule {schedule_id!r}", hint="see `escher schedule list`")
            data["schedules"] = kept
        self._write(data)

    def mark_run(self, schedule: Schedule) -> None:
        with self._locked():
            self._mark_run(schedule)

    def _mark_run(self, schedule: Schedule) -> None:
        data = self._read()
        if schedule.id == "daily":
            data["default_last_run"] = schedule.last_run.isoformat() if schedule.last_run else None
        else:
            data["schedules"] = [
                schedule.model_dump(mode="json") if s["id"] == schedule.id else s
                for s in data["schedules"]  # type: ignore[attr-defined]
            ]
        self._write(data)
