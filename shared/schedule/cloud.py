"""Extend mode: the schedule list as each cloud runs it (``escher schedule specs``, for reference).

``escher schedule add`` makes the cloud side itself when the job's cloud is extended
(:mod:`escher.extend.schedules`): on AWS an EventBridge Scheduler schedule per entry (``cron(...)`` in the
schedule's own zone), on GCP a Cloud Scheduler job per entry (unix cron in its own zone). Azure has no object
per schedule: on Flex Consumption (Linux) a timer's NCRONTAB is always UTC (``WEBSITE_TIME_ZONE`` is not
supported there), so the stack deploys one timer that wakes the worker every minute, UTC
(:data:`AZURE_TIMER`), and the worker computes each published schedule's slots from its unix cron in the
schedule's own IANA zone, DST included, running each slot once
(:func:`escher.pipeline.user_schedules.run_due_user_schedules`). The Azure entries say exactly that.
"""

from __future__ import annotations

from typing import Any

from escher.schedule.cron import CronError, parse
from escher.schedule.jobs import Schedule

__all__ = ["AZURE_TIMER", "cloud_specs", "to_eventbridge", "to_ncrontab"]

# the user schedules' timer on Azure (escher.infra.azure.USER_SCHEDULES_NCRONTAB): every minute, in UTC
AZURE_TIMER = "0 * * * * *"

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
            # no timer per schedule: the every-minute UTC timer wakes the worker, which finds this schedule's
            # slots from its cron in its own zone (a timer's NCRONTAB on Flex Consumption is UTC only)
            out["azure"].append(
                {
                    "name": name,
                    "cron": s.cron,
                    "time_zone": s.timezone,
                    "timer": AZURE_TIMER,
                    "timer_time_zone": "UTC",
                    "input": payload,
                }
            )
        if "gcp" in out:
            out["gcp"].append({"name": name, "schedule": s.cron, "time_zone": s.timezone, "body": payload})
    return out
