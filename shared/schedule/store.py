"""The schedule list: a JSON file in the data dir (alerts & events collection once ``escher.store`` has it)."""

from __future__ import annotations

import json
import os
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
        data = self._read()
        raw = [s for s in data["schedules"] if s["id"] != schedule.id]  # type: ignore[attr-defined, index]
        raw.append(schedule.model_dump(mode="json"))
        data["schedules"] = raw
        self._write(data)
        return schedule

    def remove(self, schedule_id: str) -> None:
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
        data = self._read()
        if schedule.id == "daily":
            data["default_last_run"] = schedule.last_run.isoformat() if schedule.last_run else None
        else:
            data["schedules"] = [
                schedule.model_dump(mode="json") if s["id"] == schedule.id else s
                for s in data["schedules"]  # type: ignore[attr-defined]
            ]
        self._write(data)
