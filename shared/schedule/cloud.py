"""Extend mode: the schedule list as each cloud runs it (``escher schedule specs``, for reference).

``escher schedule add`` makes the cloud side itself when the job's cloud is extended
(:mod:`escher.extend.schedules`): on AWS an EventBridge Scheduler schedule per entry (``cron(...)`` in the
schedule's own zone), on GCP a Cloud Scheduler job per entry (unix cron in its own zone). Azure has no object
per schedule: on Flex Consumption (Linux) a timer's NCRONTAB is always UTC (``WEBSITE_TIME_ZONE`` is not
supported there), so the stack deploys one timer that wakes the worker every minute, UTC
(:data:`escher.clouds.azure.schedules.AZURE_TIMER`), and the worker computes each published schedule's slots
from its unix cron in the schedule's own IANA zone, DST included, running each slot once
(:func:`escher.pipeline.user_schedules.run_due_user_schedules`). The Azure entries say exactly that.

Each cloud spells its entries in its own package (its provider's ``schedules`` module, ``spec``).
"""

from __future__ import annotations

from typing import Any

from escher.schedule.jobs import Schedule

__all__ = ["cloud_specs"]


def cloud_specs(
    schedules: list[Schedule], clouds: list[str], *, group: str = "escher"
) -> dict[str, list[dict[str, Any]]]:
    """cloud -> each schedule as that cloud's scheduler spells it."""
    from escher.clouds import provider

    spell = {c: provider(c).load("schedules").spec for c in clouds}
    out: dict[str, list[dict[str, Any]]] = {c: [] for c in clouds}
    for s in schedules:
        payload = {"schedule_id": s.id, "job": s.job.model_dump(mode="json")}
        for cloud in out:
            out[cloud].append(spell[cloud](s, f"escher-{s.id}", payload, group))
    return out
