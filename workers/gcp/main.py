"""functions-framework targets. Run locally with:

    functions-framework --source workers/gcp/main.py --target on_pubsub --signature-type cloudevent
    functions-framework --source workers/gcp/main.py --target on_schedule --signature-type http
    functions-framework --source workers/gcp/main.py --target on_scan --signature-type http

Errors that may pass with time raise, so the framework answers 500 and Pub/Sub redelivers (then, with a
dead-letter policy, moves the message to the dead-letter topic); events that can never be handled (bad shape, not
JSON, nested too deep, huge integers, lone surrogates, too big) are published to ``ESCHER_DEAD_LETTER_URL`` by the
pipeline with the reason, and acknowledged. A dead letter that cannot be written raises (500: redelivered).
"""

from __future__ import annotations

import json
from typing import Any

WORKER = "gcp"


def on_pubsub(cloud_event: Any) -> None:
    """A Pub/Sub message as a CloudEvent (Eventarc, or a push subscription converted by the framework)."""
    from escher.pipeline.worker import delivery_count, handle_event

    payload = {**cloud_event.get_attributes(), "data": cloud_event.get_data()}
    data = payload["data"] if isinstance(payload["data"], dict) else {}
    handle_event(WORKER, payload, source="pubsub", attempts=delivery_count(data.get("deliveryAttempt")))


def on_schedule(request: Any) -> tuple[str, int, dict[str, str]]:
    """Cloud Scheduler's HTTP call: ``{"job": "daily_scan"}``; a Pub/Sub push envelope is accepted too."""
    from escher.pipeline import payloads
    from escher.pipeline.errors import PermanentEventError
    from escher.pipeline.worker import handle_event, handle_job

    raw = request.get_data()  # not get_json(): Flask's parser raises RecursionError on deep nesting
    try:
        body = payloads.parse_json(raw)
    except PermanentEventError:
        body = None  # handle_event parks the raw body with the reason
    if isinstance(body, dict) and "job" in body:
        result = handle_job(WORKER, body)
    else:
        result = handle_event(WORKER, raw, source="http")
    return json.dumps(result, default=str), 200, {"Content-Type": "application/json"}


def on_scan(request: Any) -> tuple[str, int, dict[str, str]]:
    """The organization scan's push subscription: one project a message
    (:func:`escher.pipeline.fanout.scan_account`).

    2xx acknowledges. A message that cannot be read, or a failure that may pass, answers 500: Pub/Sub
    redelivers it, then after the subscription's maximum delivery attempts forwards it to the scan's
    dead-letter topic; it is never retried forever."""
    import base64
    import binascii
    import logging
    import os

    from escher.errors import EscherError
    from escher.pipeline import fanout, payloads
    from escher.pipeline.errors import PermanentEventError

    headers = {"Content-Type": "application/json"}
    envelope: Any = None
    try:
        envelope = payloads.parse_json(request.get_data())
        message = envelope.get("message") if isinstance(envelope, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("data"), str):
            raise PermanentEventError(
                "not a Pub/Sub push envelope", hint="only the scan topic's push posts here"
            )
        try:
            body = base64.b64decode(message["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise PermanentEventError(
                "the message's data is not base64 of UTF-8 text", hint="only the scan topic's push posts here"
            ) from None
        result = fanout.scan_account(WORKER, body, os.environ)
    except EscherError as exc:
        attempt = envelope.get("deliveryAttempt") if isinstance(envelope, dict) else None
        logging.getLogger("escher.workers.gcp").warning(
            "scan message not done (delivery %s): %s", attempt, exc.message
        )
        return json.dumps({"error": exc.message, "hint": exc.hint or ""}), 500, headers
    return json.dumps(result, default=str), 200, headers
