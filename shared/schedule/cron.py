"""Five-field cron (minute hour day-of-month month day-of-week) with time zones, on croniter and the IANA
zone database (tzdata, so Windows and slim images have the zones too).

croniter does the matching and the DST-aware next run (a slot inside a spring-forward gap runs at the first
minute after it; Vixie cron's rule holds: when both day fields are restricted, either may match). Escher keeps
the 5-field form only: that is what the cloud converters (EventBridge, NCRONTAB, Cloud Scheduler) translate,
so seconds and year columns are refused here rather than silently dropped in the cloud.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from escher.errors import EscherError

__all__ = ["CronError", "CronExpr", "TimezoneError", "check_timezone", "parse"]

_MACROS = {"@daily": "0 0 * * *", "@hourly": "0 * * * *", "@weekly": "0 0 * * 0", "@monthly": "0 0 1 * *"}


class CronError(EscherError):
    exit_code = 2


class TimezoneError(EscherError):
    exit_code = 2


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def check_timezone(name: str) -> str:
    """``name`` when it is an IANA zone; else a TimezoneError naming the closest zones ("Paris" ->
    "Europe/Paris"), so a schedule is never saved with a zone nothing can compute."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    zones = _zones()
    lower = name.strip().lower().replace(" ", "_")
    exact = [z for z in zones if z.lower() == lower]
    by_city = [z for z in zones if z.lower().rsplit("/", 1)[-1] == lower]
    close = exact or by_city or difflib.get_close_matches(name, zones, n=3, cutoff=0.6)
    if not close:
        cities = {z.lower().rsplit("/", 1)[-1]: z for z in zones}
        close = [cities[c] for c in difflib.get_close_matches(lower, list(cities), n=3, cutoff=0.7)]
    hint = f"did you mean {' or '.join(close)}?" if close else "use an IANA zone such as Europe/Paris or UTC"
    raise TimezoneError(f"unknown time zone {name!r}", hint=hint)


@dataclass(frozen=True)
class CronExpr:
    text: str
    fields: tuple[str, ...]

    @property
    def dom_any(self) -> bool:
        return self.fields[2] in ("*", "?")

    @property
    def dow_any(self) -> bool:
        return self.fields[4] in ("*", "?")

    def matches(self, t: datetime) -> bool:
        from croniter import croniter

        return bool(croniter.match(self.text, t))

    def next_after(self, after: datetime, tz: str = "UTC") -> datetime:
        """The first matching minute strictly after ``after``, computed in ``tz`` (DST-aware), returned aware."""
        from croniter import CroniterBadDateError, croniter

        start = after.astimezone(ZoneInfo(check_timezone(tz)))
        try:
            nxt: datetime = croniter(self.text, start).get_next(datetime)
        except CroniterBadDateError:
            raise CronError(
                f"{self.text!r} never fires", hint="check the day-of-month / month combination"
            ) from None
        return nxt


def parse(text: str) -> CronExpr:
    from croniter import CroniterError, croniter

    expr = _MACROS.get(text.strip(), text.strip())
    fields = tuple(expr.split())
    if len(fields) != 5:
        raise CronError(
            f"{text!r} is not a 5-field cron expression",
            hint='use "minute hour day month weekday", e.g. "0 20 * * *"',
        )
    cron = CronExpr(" ".join(fields), fields)
    try:
        croniter(cron.text)
    except (CroniterError, ValueError) as exc:
        raise CronError(
            f"bad cron expression {text!r}: {exc}", hint='e.g. "0 20 * * 1-5" (20:00 on weekdays)'
        ) from None
    cron.next_after(datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))  # "0 0 30 2 *" is valid and never fires
    return cron
