"""One entry point: any cloud payload in, one ``UnifiedEvent`` out.

Detection looks at a few top-level keys only (the envelope), then dispatch is a dict lookup on route keys the
cloud parser derives (``source|detail-type|eventName`` for EventBridge, ``eventType`` for Event Grid, ...).
A valid envelope whose event Escher does not classify becomes a ``generic`` event, never an exception; input
that is not any known envelope raises :class:`NormalizationError`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from escher.events._base import NORMALIZERS, Envelope, Normalizer
from escher.events.errors import NormalizationError
from escher.events.model import UnifiedEvent

__all__ = ["detect_envelope", "normalize", "normalize_batch", "resolve"]

EnvelopeParser = Callable[[dict[str, Any], datetime | None], tuple[Envelope, tuple[str, ...]]]

_INDEX: dict[str, dict[str, Normalizer]] = {}  # envelope -> route key -> entry
_PARSERS: dict[str, EnvelopeParser] = {}


_ACTIVITY: list[
    Callable[[dict[str, Any]], str | None]
] = []  # escher.events.activity.detect_activity, once loaded


def _detect_activity(data: dict[str, Any]) -> str | None:
    if not _ACTIVITY:
        from escher.events.activity import detect_activity

        _ACTIVITY.append(detect_activity)
    return _ACTIVITY[0](data)


def _load() -> None:
    # The registry imports every normalizer module (each cloud's, as its provider lists them, and the generic
    # activity module); each may declare PARSERS, its envelopes' parsers.
    for _key, entry in NORMALIZERS.items():
        for route in entry.routes:
            _INDEX.setdefault(entry.envelope, {})[route] = entry
    for module in (m for names in NORMALIZERS.modules.values() for m in names):
        _PARSERS.update(getattr(importlib.import_module(module), "PARSERS", {}))


def _parse(payload: dict[str, Any] | list[Any] | bytes | str) -> Any:
    if isinstance(payload, bytes | bytearray | str):
        try:
            return json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise NormalizationError(
                "payload", "<root>", f"is not JSON ({exc})", hint="pass the event body exactly as delivered"
            ) from None
    return payload


def detect_envelope(data: Any) -> str:
    """The envelope name for a parsed payload, from its top-level keys alone."""
    if not isinstance(data, dict):
        raise NormalizationError("payload", "<root>", "must be a JSON object (one event)")
    if "detail-type" in data and "detail" in data:
        return "eventbridge"
    if "specversion" in data:
        ce_type = data.get("type")
        if isinstance(ce_type, str) and ce_type.startswith("google.cloud.pubsub.topic."):
            return "pubsub_cloudevent"
        return "cloudevent"
    if "eventType" in data and "data" in data and ("eventTime" in data or "subject" in data):
        return "eventgrid"
    schema_id = data.get("schemaId")
    if schema_id == "AIP Budget Notification":
        return "azure_budget"
    if isinstance(schema_id, str) and "data" in data:
        return "azure_monitor"
    if isinstance(data.get("message"), dict) and "subscription" in data:
        return "pubsub"
    if data.get("Type") == "Notification" and "TopicArn" in data and "Message" in data:
        return "sns"  # HTTPS subscription body, or an SQS message body (raw delivery off)
    records = data.get("Records")
    first = records[0] if isinstance(records, list) and records else None
    if isinstance(first, dict) and first.get("EventSource") == "aws:sns":
        return "sns"  # the Lambda SNS event
    activity = _detect_activity(data)  # what the activity APIs return (escher watch)
    if activity is not None:
        return activity
    raise NormalizationError(
        "payload",
        "<root>",
        "is not a known envelope (EventBridge, Event Grid, CloudEvents, Azure Monitor action group, "
        "Pub/Sub push, SNS notification, CloudTrail record or LookupEvents item, AWS Config rule "
        "invocation, Azure Activity Log entry, Cloud Logging LogEntry)",
        hint="send the body the cloud delivered, without wrapping it",
    )


def resolve(payload: dict[str, Any] | bytes | str, *, received_at: datetime | None = None) -> Normalizer:
    """The registry entry that would normalize ``payload`` (for ``escher events explain``)."""
    return _route(_parse(payload), received_at)[1]


def _route(data: Any, received_at: datetime | None) -> tuple[Envelope, Normalizer]:
    if not _PARSERS:
        _load()
    env, routes = _PARSERS[detect_envelope(data)](data, received_at)
    index = _INDEX[env.envelope]
    for route in routes:
        entry = index.get(route)
        if entry is not None:
            return env, entry
    return env, index["*"]  # every envelope registers a generic fallback under "*"


def normalize(payload: dict[str, Any] | bytes | str, *, received_at: datetime | None = None) -> UnifiedEvent:
    """Normalize one delivered event.

    ``received_at`` is the time used when the payload carries none (Azure budget alerts); it defaults to now.
    """
    data = _parse(payload)
    if isinstance(data, list):
        if len(data) != 1:
            raise NormalizationError(
                "Event Grid batch", "<root>", f"holds {len(data)} events", hint="use normalize_batch()"
            )
        data = data[0]
    env, entry = _route(data, received_at)
    return entry(env)


def normalize_batch(
    payload: list[Any] | dict[str, Any] | bytes | str, *, received_at: datetime | None = None
) -> list[UnifiedEvent]:
    """Event Grid delivers arrays; every element is normalized (one bad element fails the batch)."""
    data = _parse(payload)
    items = data if isinstance(data, list) else [data]
    return [normalize(item, received_at=received_at) for item in items]
