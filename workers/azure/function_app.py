"""The Azure Functions app (v2 model). The runtime imports this file and needs ``app`` at import time, so this is
the one Azure module that imports ``azure.functions`` eagerly (listed in the import-hygiene test's
ALLOWED_HEAVY). Each function is a line or two: the work is in :mod:`escher.workers.azure.handlers`.
"""

from __future__ import annotations

import json

import azure.functions as func

from escher.workers.azure import handlers

USER_SCHEDULES_NCRONTAB = "0 * * * * *"  # second 0 of every minute

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.event_grid_trigger(arg_name="event")
def on_event_grid(event: func.EventGridEvent) -> None:
    handlers.on_event_grid(
        handlers.event_grid_dict(
            id=event.id,
            topic=event.topic,
            subject=event.subject,
            event_type=event.event_type,
            event_time=event.event_time,
            data=event.get_json(),
            data_version=event.data_version,
        )
    )


# %...% is an app setting, resolved by the host: `escher extend azure` sets it to every UTC time the user's local
# scan time takes over the year (Linux Consumption ignores WEBSITE_TIME_ZONE); the handler runs the one firing
# that is ESCHER_DAILY_SCAN_AT in ESCHER_TIMEZONE and skips the others
@app.timer_trigger(schedule="%ESCHER_DAILY_SCAN_SCHEDULE%", arg_name="timer", run_on_startup=False)
def daily_scan(timer: func.TimerRequest) -> None:
    handlers.on_daily_scan_timer(past_due=timer.past_due)


# user schedules (escher schedule add): every minute, UTC; the handler evaluates each schedule's cron in its own
# zone and runs the due ones once (a create-only marker per schedule and minute in the state storage)
@app.timer_trigger(schedule=USER_SCHEDULES_NCRONTAB, arg_name="timer", run_on_startup=False)
def user_schedules(timer: func.TimerRequest) -> None:
    handlers.on_user_schedules_timer(past_due=timer.past_due)


# the organization scan (escher.pipeline.fanout): one subscription a message; the host's queue settings (app
# settings AzureFunctionsJobHost__extensions__queues__*) take one message at a time per instance and move a
# message that failed maxDequeueCount deliveries to escher-scan-poison
@app.queue_trigger(arg_name="msg", queue_name=handlers.SCAN_QUEUE, connection=handlers.QUEUE_CONNECTION)
def scan_account(msg: func.QueueMessage) -> None:
    handlers.on_scan_message(msg.get_body(), dequeue_count=msg.dequeue_count)


@app.route(route="action-group", methods=["POST"])
def action_group(req: func.HttpRequest) -> func.HttpResponse:
    status, body = handlers.on_action_group(req.get_body())
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")
