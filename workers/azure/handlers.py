"""What the Azure triggers do, without importing azure.functions (the function app binds these)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.clouds.azure.fanout import QUEUE_CONNECTION as QUEUE_CONNECTION  # the scan queue trigger
from escher.clouds.azure.fanout import SCAN_QUEUE as SCAN_QUEUE
from escher.pipeline.errors import PipelineError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

WORKER = "azure"


def event_grid_dict(
    *,
    id: str,
    topic: str,
    subject: str,
    event_type: str,
    event_time: datetime | None,
    data: Any,
    data_version: str,
) -> dict[str, Any]:
    """The Event Grid schema as delivered, rebuilt from the trigger's fields (the normalizer reads this)."""
    return {
        "id": id,
        "topic": topic,
        "subject": subject,
        "eventType": event_type,
        "eventTime": event_time.isoformat() if event_time else None,
        "data": data,
        "dataVersion": data_version,
        "metadataVersion": "1",
    }


def on_event_grid(event: dict[str, Any]) -> dict[str, Any]:
    """Bad input is dead-lettered with the reason (and answered as handled); only transient failures, or a dead
    letter that could not be written, raise: Event Grid retries (up to 24 h), then dead-letters to its blob
    container."""
    from escher.pipeline.worker import handle_event

    return handle_event(WORKER, event, source="eventgrid")


def on_timer(job: str, *, past_due: bool = False) -> dict[str, Any]:
    from escher.pipeline.worker import handle_job

    return {**handle_job(WORKER, {"job": job}), "past_due": past_due}


def on_daily_scan_timer(
    *, past_due: bool = False, now: datetime | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The daily-scan timer: it fires at each UTC time the local scan time takes over the year (one per UTC
    offset of the zone), so only the firing whose local time is ``ESCHER_DAILY_SCAN_AT`` in ``ESCHER_TIMEZONE``
    runs the scan; the others are skipped (and say so). Without ``ESCHER_DAILY_SCAN_AT`` every firing runs."""
    env = os.environ if env is None else env
    at = env.get("ESCHER_DAILY_SCAN_AT")
    if at:
        zone_name = env.get("ESCHER_TIMEZONE") or "UTC"
        local = (now or datetime.now(UTC)).astimezone(_zone(zone_name))
        if not _is_scan_time(local, _hour_minute(at)):
            import logging  # only here: the cold start stays light

            logging.getLogger("escher.workers.azure").info(
                "daily scan skipped: %s in %s, the scan runs at %s", local.strftime("%H:%M"), zone_name, at
            )
            return {
                "job": "daily_scan",
                "skipped": True,
                "reason": f"it is {local:%H:%M} in {zone_name}; the scan runs at {at}",
                "past_due": past_due,
            }
    return on_timer("daily_scan", past_due=past_due)


def on_user_schedules_timer(
    *, past_due: bool = False, now: datetime | None = None, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The every-minute timer: run the published user schedules of Azure that are due, each slot once
    (:func:`escher.pipeline.user_schedules.run_due_user_schedules`; markers in the state storage make two
    wakes, or a late one, safe)."""
    from escher.pipeline.user_schedules import run_due_user_schedules

    result = run_due_user_schedules(WORKER, os.environ if env is None else env, now)
    return {**result, "past_due": past_due}


# the firings of one day are at least 30 minutes apart (DST shifts are 30 or 60 minutes): a host that starts the
# function a little late still lands within this of its own firing, never within it of another's
SCAN_TOLERANCE = timedelta(minutes=10)


def _is_scan_time(local: datetime, hour_minute: tuple[int, int]) -> bool:
    hour, minute = hour_minute
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    # around midnight the nearest scan time may be yesterday's or tomorrow's
    return any(abs(local - (target + timedelta(days=d))) <= SCAN_TOLERANCE for d in (-1, 0, 1))


def _hour_minute(at: str) -> tuple[int, int]:
    hour, sep, minute = at.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60:
        return int(hour), int(minute)
    from escher.config import ConfigError  # pydantic: only on this error path (the cold start stays light)

    raise ConfigError(
        f"ESCHER_DAILY_SCAN_AT is {at!r}, not a time of day",
        hint="set it as HH:MM (e.g. 02:00); 'escher extend azure' sets it from [general] daily_scan_at",
    )


def _zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        from escher.config import ConfigError

        raise ConfigError(
            f"ESCHER_TIMEZONE is {name!r}, not a known time zone",
            hint="set an IANA name such as Europe/Paris; 'escher extend azure' sets it from [general] timezone",
        ) from exc


def on_action_group(body: bytes) -> tuple[int, dict[str, Any]]:
    """Azure Monitor action-group webhook (common alert schema). A body that cannot be handled is dead-lettered
    with the reason and answered 200 (parked); 5xx (a transient failure, or no dead letter written) makes the
    action group retry."""
    from escher.pipeline.worker import handle_event

    try:  # the raw body: handle_event reads it within the limits, or parks it as delivered
        result = handle_event(WORKER, bytes(body), source="action_group")
    except PipelineError as exc:
        return 503, exc.to_dict()
    return 200, result


def on_scan_message(body: bytes, *, dequeue_count: int | None = None) -> dict[str, Any]:
    """One subscription of an organization's daily scan (:func:`escher.pipeline.fanout.scan_account`). A
    message that cannot be read raises, as does a failure that may pass: the host makes it visible again and,
    after ``maxDequeueCount`` deliveries, moves it to the ``-poison`` queue; it is never retried forever."""
    import logging

    from escher.pipeline import fanout

    text = bytes(body).decode("utf-8", errors="replace")
    try:
        return fanout.scan_account(WORKER, text, os.environ)
    except Exception as exc:
        logging.getLogger("escher.workers.azure").warning(
            "scan message not done (delivery %s): %s", dequeue_count, getattr(exc, "message", exc)
        )
        raise
