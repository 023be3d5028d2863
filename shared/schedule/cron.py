"""A small five-field cron parser (minute hour day-of-month month day-of-week) with time zones.

Written here rather than depending on croniter: 5 fields, lists, ranges, steps and names are all Escher needs,
and the same parsed form is what the cloud converters (EventBridge, NCRONTAB, Cloud Scheduler) translate.
Day-of-month and day-of-week follow Vixie cron: when both are restricted, either may match.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from escher.errors import EscherError

__all__ = ["CronError", "CronExpr", "parse"]

_MONTHS = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
    )
}
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES: tuple[dict[str, int], ...] = ({}, {}, {}, _MONTHS, _DAYS)
_MACROS = {"@daily": "0 0 * * *", "@hourly": "0 * * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


class CronError(EscherError):
    exit_code = 2


@dataclass(frozen=True)
class CronExpr:
    text: str
    fields: tuple[str, ...]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    @property
    def dom_any(self) -> bool:
        return self.fields[2] == "*"

    @property
    def dow_any(self) -> bool:
        return self.fields[4] == "*"

    def matches(self, t: datetime) -> bool:
        if t.minute not in self.minutes or t.hour not in self.hours or t.month not in self.months:
            return False
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        if self.dom_any or self.dow_any:
            return dom and dow
        return dom or dow

    def next_after(self, after: datetime, tz: str = "UTC") -> datetime:
        """The first matching minute strictly after ``after``, computed in ``tz`` (DST-aware), returned aware."""
        zone = ZoneInfo(tz)
        t = after.astimezone(zone).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_ok(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
                continue
            if self.matches(t):
                return t
            t += timedelta(minutes=1)
        raise CronError(f"{self.text!r} never fires", hint="check the day-of-month / month combination")

    def _day_ok(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.isoweekday() % 7) in self.weekdays
        return (dom and dow) if (self.dom_any or self.dow_any) else (dom or dow)


def _field(text: str, index: int) -> frozenset[int]:
    lo, hi = _BOUNDS[index]
    names = _NAMES[index]
    out: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_s = part.partition("/")
        step = int(step_s) if step_s else 1
        if step < 1:
            raise ValueError("step must be positive")
        if body in ("*", ""):
            a, b = lo, hi
        elif "-" in body:
            x, y = body.split("-", 1)
            a = names[x] if x in names else int(x)
            b = names[y] if y in names else int(y)
        else:
            a = names[body] if body in names else int(body)
            b = hi if step_s else a
        if index == 4 and b == 7:  # 7 is Sunday too
            out.add(0)
            b = 6
        if not (lo <= a <= hi and lo <= b <= hi and a <= b):
            raise ValueError(f"{part!r} is outside {lo}-{hi}")
        out.update(range(a, b + 1, step))
    return frozenset(out)


def parse(text: str) -> CronExpr:
    expr = _MACROS.get(text.strip(), text.strip())
    fields = tuple(expr.split())
    if len(fields) != 5:
        raise CronError(
            f"{text!r} is not a 5-field cron expression",
            hint='use "minute hour day month weekday", e.g. "0 20 * * *"',
        )
    try:
        sets = [_field(f, i) for i, f in enumerate(fields)]
    except (ValueError, KeyError) as exc:
        raise CronError(
            f"bad cron expression {text!r}: {exc}", hint='e.g. "0 20 * * 1-5" (20:00 on weekdays)'
        ) from None
    return CronExpr(expr, fields, *sets)
