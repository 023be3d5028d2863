"""Unified events: one schema (``UnifiedEvent``) and normalizers for AWS, Azure and GCP payloads.

    from escher.events import normalize
    event = normalize(body)            # EventBridge, Event Grid / CloudEvents, Azure Monitor, Pub/Sub push

Importing this package is cheap: the cloud normalizer modules load on the first ``normalize`` call.
"""

from __future__ import annotations

from escher.events._base import NORMALIZERS, Normalizer
from escher.events.enrich import EnrichedEvent, Enrichment, EstateLookup, EstateRecord, InMemoryEstate, enrich
from escher.events.errors import NormalizationError
from escher.events.model import (
    CloudProvider,
    DataClassification,
    Environment,
    EventContext,
    EventType,
    Resource,
    Severity,
    UnifiedEvent,
)
from escher.events.normalize import normalize, normalize_batch, resolve

__all__ = [
    "NORMALIZERS",
    "CloudProvider",
    "DataClassification",
    "EnrichedEvent",
    "Enrichment",
    "Environment",
    "EstateLookup",
    "EstateRecord",
    "EventContext",
    "EventType",
    "InMemoryEstate",
    "NormalizationError",
    "Normalizer",
    "Resource",
    "Severity",
    "UnifiedEvent",
    "enrich",
    "normalize",
    "normalize_batch",
    "resolve",
]
