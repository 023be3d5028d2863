"""What the Azure triggers do, without importing azure.functions (the function app binds these)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from escher.pipeline.errors import PipelineError

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
    """Transient failures raise: Event Grid retries (up to 24 h), then dead-letters to its blob container."""
    from escher.pipeline.worker import handle_event

    return handle_event(WORKER, event, source="eventgrid")


def on_timer(job: str, *, past_due: bool = False) -> dict[str, Any]:
    from escher.pipeline.worker import handle_job

    return {**handle_job(WORKER, {"job": job}), "past_due": past_due}


def on_action_group(body: bytes) -> tuple[int, dict[str, Any]]:
    """Azure Monitor action-group webhook (common alert schema). 5xx makes the action group retry."""
    from escher.pipeline.worker import handle_event

    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = body  # not JSON: the pipeline dead-letters it with the reason, and answers 200 (parked)
    try:
        result = handle_event(WORKER, payload, source="action_group")
    except PipelineError as exc:
        return 503, exc.to_dict()
    return 200, result
