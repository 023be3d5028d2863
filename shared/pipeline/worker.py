"""What every worker does with a delivery, whatever the platform: the workers only unwrap envelopes.

- :func:`handle_event`: one event -> the pipeline; the answer the platform should get;
- :func:`handle_job`: a scheduler call; an unknown job is dead-lettered with the reason;
- :func:`unwrap_redrive`: an SQS / queue message body may be an event or one of our own dead letters being
  redriven: either way the original event comes out.

Transient failures raise (the platform retries; the markers make that safe); permanent ones are dead-lettered
by the pipeline and answered as handled, so the platform does not retry what can never succeed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from escher.pipeline.errors import PermanentEventError

__all__ = ["handle_event", "handle_job", "unwrap_redrive"]


def handle_event(
    worker: str,
    payload: Any,
    *,
    source: str,
    attempts: int | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    from escher.pipeline.runtime import build_pipeline

    result = build_pipeline(worker, env).handle(payload, source=source, attempts=attempts)
    return result.to_dict()


def handle_job(
    worker: str, request: Mapping[str, Any], *, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    from escher.pipeline.jobs import run_job
    from escher.pipeline.runtime import build_pipeline

    try:
        return run_job(worker, request, env)
    except PermanentEventError as exc:
        return build_pipeline(worker, env).dead_letter(dict(request), exc, source="schedule").to_dict()


def unwrap_redrive(body: str | bytes | Mapping[str, Any]) -> Any:
    """The event inside a queue message: a dead letter of ours gives back its original payload."""
    data: Any = body
    if isinstance(body, str | bytes):
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return body  # not JSON: the pipeline dead-letters it with the reason
    if isinstance(data, dict) and {"reason", "error", "payload", "source"} <= set(data):
        return data["payload"]
    return data
