"""User schedules on Azure: no cloud object per schedule; the stack's every-minute timer runs the published ones.

The Azure stack deploys one timer-triggered function, ``user_schedules`` (NCRONTAB ``0 * * * * *``, UTC), in
the worker's function app (:mod:`escher.workers.azure.function_app`). Each wake reads the user schedules from
the settings the laptop published and runs those due in the last few minutes, each schedule and minute exactly
once: a create-only marker per schedule and minute in the state storage decides which wake runs it
(:func:`escher.pipeline.user_schedules.run_due_user_schedules`). So ``escher schedule add|remove`` on the
laptop only publishes the settings (:func:`escher.infra.sync.sync_settings`, as ``escher extend sync-settings``
does): the schedule runs in Azure from the next minute, and a removed one stops there with the next wake.

Why not a Logic App per schedule (ARM): each schedule would be an ARM write from the laptop
(``Microsoft.Logic/workflows/write``) plus a way for the workflow to call the function (its key in the workflow
definition, or an identity granted on the app), a broader permission and a secret more; its Recurrence trigger
takes Windows zone names and frequency/hours/weekdays rather than cron, so every schedule would need a
conversion that not every cron has; and a failed remove would leave a workflow firing in the cloud. The timer
needs no new permission (the laptop already writes the state storage), follows each schedule's IANA zone and
DST as the laptop does (NCRONTAB is UTC on Flex Consumption), and a removed schedule cannot be left behind.
The price: 43,200 short executions a month whether or not a schedule is due (not measured here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from escher.extend.schedules import CloudScheduleError

if TYPE_CHECKING:
    from escher.config import Paths
    from escher.schedule.jobs import Schedule

__all__ = ["AZURE_TIMER", "publish", "publish_azure", "spec", "to_ncrontab", "where"]


def publish_azure(paths: Paths) -> int:
    """Publish this machine's settings (and with them its schedules) to the Azure extension; the version."""
    from escher.config import load_settings
    from escher.errors import EscherError
    from escher.infra.sync import sync_settings
    from escher.policy.personas import current_actor

    try:
        actor = str(current_actor(load_settings(paths).extensions))
        [result] = sync_settings(paths, ["azure"], published_by=actor)
    except EscherError as exc:
        raise CloudScheduleError(
            f"could not publish the schedules to the Azure extension: {exc.message}",
            hint=(exc.hint or "") + ("; " if exc.hint else "") + "nothing was changed on this machine",
        ) from None
    return result.version


# -- what the generic side (escher.extend.schedules, escher.schedule.cloud) asks of every cloud's schedules ------
# the user schedules' timer (escher.infra.azure.USER_SCHEDULES_NCRONTAB): every minute, in UTC
AZURE_TIMER = "0 * * * * *"


def publish(paths: Paths) -> int:
    """Azure has no object per schedule: they ride in the published settings (:func:`publish_azure`)."""
    return publish_azure(paths)


def where(schedule_id: str) -> str:
    return "Runs in Azure from the next minute (the extension's timer reads the published settings)."


def spec(schedule: Schedule, name: str, payload: dict[str, Any], group: str) -> dict[str, Any]:
    """No timer per schedule: the every-minute UTC timer wakes the worker, which finds this schedule's slots
    from its cron in its own zone (a timer's NCRONTAB on Flex Consumption is UTC only)."""
    return {
        "name": name,
        "cron": schedule.cron,
        "time_zone": schedule.timezone,
        "timer": AZURE_TIMER,
        "timer_time_zone": "UTC",
        "input": payload,
    }


def to_ncrontab(cron: str) -> str:
    """Unix cron -> Azure Functions NCRONTAB (a seconds field first)."""
    from escher.schedule.cron import parse

    return "0 " + " ".join(parse(cron).fields)
