"""Extend mode: the schedule list as per-cloud schedule specs, for the infra package to create.

The infra engineer's Pulumi components consume :func:`cloud_specs` and create one schedule per entry in the
scheduler group they provision (EventBridge Scheduler group, the Functions app / Logic App, Cloud Scheduler).
"""

from __future__ import annotations

from typing import Any

from escher.schedule.cron import CronError, parse
from escher.schedule.jobs import Schedule

__all__ = ["cloud_specs", "to_eventbridge", "to_ncrontab"]

_DOW = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def _dow_names(field: str) -> str:
    def one(token: str) -> str:
        return _DOW[int(token) % 7] if token.isdigit() else token.upper()

    out = []
    for part in field.split(","):
        body, slash, step = part.partition("/")
        if "-" in body:
            a, b = body.split("-", 1)
            body = f"{one(a)}-{one(b)}"
        elif body != "*":
            body = one(body)
        out.append(body + (slash + step if slash else ""))
    return ",".join(out)


def to_eventbridge(cron: str) -> str:
    """Unix cron -> EventBridge Scheduler ``cron(min hour dom month dow year)``; one of dom/dow must be ``?``."""
    expr = parse(cron)
    minute, hour, dom, month, dow = expr.fields
    if not expr.dom_any and not expr.dow_any:
        raise CronError(
            f"{cron!r} restricts both day-of-month and day-of-week, which EventBridge cannot express",
            hint="split it into two schedules",
        )
    if expr.dow_any:
        return f"cron({minute} {hour} {dom} {month.upper()} ? *)"
    return f"cron({minute} {hour} ? {month.upper()} {_dow_names(dow)} *)"


def to_ncrontab(cron: str) -> str:
    """Unix cron -> Azure Functions NCRONTAB (a seconds field first)."""
    return "0 " + " ".join(parse(cron).fields)


def cloud_specs(
    schedules: list[Schedule], clouds: list[str], *, group: str = "escher"
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in clouds}
    for s in schedules:
        payload = {"schedule_id": s.id, "job": s.job.model_dump(mode="json")}
        name = f"escher-{s.id}"
        if "aws" in out:
            out["aws"].append(
                {
                    "name": name,
                    "group_name": group,
                    "schedule_expression": to_eventbridge(s.cron),
                    "schedule_expression_timezone": s.timezone,
                    "flexible_time_window": {"mode": "OFF"},
                    "input": payload,
                }
            )
        if "azure" in out:
            # Timer triggers read WEBSITE_TIME_ZONE (IANA names on Linux plans) for the whole app
            out["azure"].append(
                {"name": name, "schedule": to_ncrontab(s.cron), "time_zone": s.timezone, "input": payload}
            )
        if "gcp" in out:
            out["gcp"].append({"name": name, "schedule": s.cron, "time_zone": s.timezone, "body": payload})
    return out
