"""The schedule list: a JSON file in the data dir, changed under a file lock.

``run-due`` from cron and ``escher agent`` may overlap: a job is *claimed* (its last run set to this slot)
under the lock before it runs, so a second runner in the same minute finds nothing due.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from escher.errors import EscherError
from escher.schedule.jobs import Schedule, default_daily

__all__ = ["ScheduleStore", "UnknownScheduleError"]


class UnknownScheduleError(EscherError):
    exit_code = 2


class ScheduleStore:
    def __init__(
        self,
        path: Path,
        *,
        timezone: str = "UTC",
        daily_scan_at: str = "02:00",
        clouds: list[str] | None = None,
    ) -> None:
        self.path = path
        self.timezone = timezone
        self._default = default_daily(daily_scan_at, timezone, clouds or ["aws"])

    def _read(self) -> dict[str, object]:
        if not self.path.exists():
            return {"schedules": [], "default_removed": False, "default_last_run": None}
        data: dict[str, object] = json.loads(self.path.read_text())
        return data

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
            try:
                yield
            finally:
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
        data = self._read()
        items = [Schedule.model_validate(s) for s in data["schedules"]]  # type: ignore[attr-defined]
        if not data.get("default_removed"):
            daily = self._default.model_copy()
            last = data.get("default_last_run")
            if last:
                from datetime import datetime

                daily.last_run = datetime.fromisoformat(str(last))
            items.insert(0, daily)
        return items

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
