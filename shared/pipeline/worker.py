"""What every worker does with a delivery, whatever the platform: the workers only unwrap envelopes.

- :func:`handle_event`: one event -> the pipeline; the answer the platform should get;
- :func:`handle_job`: a scheduler call; an unknown job is dead-lettered with the reason;
- :func:`unwrap_redrive`: an SQS / queue message body may be an event or one of our own dead letters being
  redriven: either way the original event comes out.

Transient failures raise (the platform retries; the markers make that safe); permanent ones are dead-lettered
by the pipeline and answered as handled, so the platform does not retry what can never succeed. A delivery that is
not plain JSON within :mod:`escher.pipeline.payloads`' limits (deep nesting, huge integers, lone surrogates, NaN,
over 1 MiB, not UTF-8) is one of those: it is parked with the reason before anything reads it. Only a failure to
park it raises (:class:`~escher.pipeline.errors.DeadLetterError`), so the platform retries exactly that delivery.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from escher.pipeline import payloads
from escher.pipeline.errors import PermanentEventError

__all__ = ["delivery_count", "handle_event", "handle_job", "park", "unwrap_redrive"]


def handle_event(
    worker: str,
    payload: Any,
    *,
    source: str,
    attempts: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    from escher.pipeline.runtime import build_pipeline

    try:
        event = payloads.parse_json(payload) if isinstance(payload, str | bytes | bytearray) else payload
        payloads.check(event)
    except PermanentEventError as exc:
        return park(worker, payload, exc, source=source, attempts=attempts, env=env)
    carry_out_approvals(worker, env)
    return build_pipeline(worker, env).handle(event, source=source, attempts=attempts).to_dict()


_APPROVALS_CHECKED: dict[str, float] = {}


def carry_out_approvals(worker: str, env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """On a wake, run what a manager approved on the laptop since (:mod:`escher.pipeline.granted`); at most
    every ``ESCHER_APPROVALS_MAX_AGE_SECONDS`` (30) in a warm process. Only with state storage (extended). An
    Escher error here is logged and the delivery is still handled: the next wake tries again."""
    import logging
    import os
    import time

    env = os.environ if env is None else env
    if not env.get("ESCHER_STATE_URL"):
        return []
    max_age = float(env.get("ESCHER_APPROVALS_MAX_AGE_SECONDS", 30))
    if time.monotonic() - _APPROVALS_CHECKED.get(worker, -1e9) < max_age:
        return []
    _APPROVALS_CHECKED[worker] = time.monotonic()
    from escher.errors import EscherError
    from escher.extend.approvals_remote import GRANTS
    from escher.extend.settings_doc import settings_from_document
    from escher.pipeline.granted import run_granted
    from escher.pipeline.objects import open_objects
    from escher.pipeline.runtime import build_pipeline, published_settings

    try:
        # Build (and so cache) the pipeline only when a grant waits: built now, before the daily scan stored the
        # estate, it would enrich this and later events without it (a public PII bucket rated HIGH, not CRITICAL).
        if not list(open_objects(env["ESCHER_STATE_URL"]).list(GRANTS)):
            return []
        published = published_settings(env)
        extensions = settings_from_document(published).extensions if published else {}
        return run_granted(build_pipeline(worker, env), dict(extensions))
    except EscherError as exc:
        logging.getLogger("escher.pipeline.granted").warning("granted approvals not run: %s", exc.message)
        return []


def park(
    worker: str,
    payload: Any,
    error: PermanentEventError,
    *,
    source: str,
    attempts: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Dead-letter ``payload`` with the reason (and its delivery id when it shows one); the answer to give."""
    from escher.pipeline.core import _delivery_id
    from escher.pipeline.runtime import build_pipeline

    pipeline = build_pipeline(worker, env)
    event_id = _delivery_id(payload)
    return pipeline.dead_letter(payload, error, source=source, attempts=attempts, event_id=event_id).to_dict()


def handle_job(
    worker: str, request: Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    from escher.pipeline.jobs import run_job

    try:
        payloads.check(request)
        carry_out_approvals(worker, env)
        return run_job(worker, request, env)
    except PermanentEventError as exc:
        return park(worker, request, exc, source="schedule", env=env)


def unwrap_redrive(body: str | bytes | Mapping[str, Any]) -> Any:
    """The event inside a queue message: a dead letter of ours gives back its original payload."""
    data: Any = body
    if isinstance(body, str | bytes):
        try:
            data = payloads.parse_json(body)
        except PermanentEventError:
            return body  # handle_event dead-letters it with the reason
    if isinstance(data, dict) and {"reason", "error", "payload", "source"} <= set(data):
        if data.get("payload_encoding") == "base64":  # a letter of ours that could not hold it as JSON
            try:
                return base64.b64decode(data["payload"], validate=True)
            except (ValueError, TypeError):
                return data
        return data["payload"]
    return data


def delivery_count(value: Any) -> int | None:
    """A platform's delivery count (SQS ApproximateReceiveCount, Pub/Sub deliveryAttempt) when it is one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 1 << 31 else None
    if isinstance(value, str) and value.isdecimal() and len(value) < 10:
        return int(value)
    return None
