"""Enrichment: what the estate knows about the event's resource (environment, data classification, owner,
cost), added to ``UnifiedEvent.context``.

The store implements :class:`EstateLookup` later; :class:`InMemoryEstate` is the fake the tests use. Every value
says where it came from (``Enrichment.sources``), so ``escher events explain`` can show its reasoning.

Precedence, highest first: a value the normalizer already set (a budget's overrun is the cost impact), the estate
record's curated field, the event's own tags, the estate record's tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from escher.events.model import CloudProvider, DataClassification, Environment, UnifiedEvent

__all__ = [
    "EnrichedEvent",
    "Enrichment",
    "EstateLookup",
    "EstateRecord",
    "InMemoryEstate",
    "classification_from",
    "enrich",
    "environment_from",
]

ENVIRONMENT_TAGS = ("env", "environment", "stage")
CLASSIFICATION_TAGS = (
    "data_classification",
    "data-classification",
    "dataclassification",
    "classification",
    "data_class",
    "sensitivity",
)
OWNER_TAGS = ("owner", "team", "contact", "created_by", "createdby")

_ENVIRONMENTS = {
    Environment.production: ("production", "prod", "prd", "live", "prod-eu", "prod-us"),
    Environment.staging: ("staging", "stage", "stg", "preprod", "pre-prod", "uat"),
    Environment.dev: ("dev", "development", "develop", "test", "testing", "qa", "sandbox", "sbx"),
}
_ENV_WORDS = {word: env for env, words in _ENVIRONMENTS.items() for word in words}
_CLASSIFICATIONS = {
    DataClassification.PII: ("pii", "personal", "personal-data", "gdpr", "phi", "sensitive-pii"),
    DataClassification.confidential: ("confidential", "restricted", "internal", "secret", "sensitive"),
    DataClassification.public: ("public", "open"),
}
_CLASS_WORDS = {word: c for c, words in _CLASSIFICATIONS.items() for word in words}


@dataclass(frozen=True)
class EstateRecord:
    """What the estate inventory holds about one resource (curated fields win over tags)."""

    tags: Mapping[str, str] = field(default_factory=dict)
    environment: str | None = None
    data_classification: str | None = None
    owner: str | None = None
    monthly_cost: float | None = None
    affected_users: int | None = None


class EstateLookup(Protocol):
    def find_resource(self, cloud: CloudProvider, account_id: str, resource_id: str) -> EstateRecord | None:
        """The record for a resource, or None when the estate does not know it."""
        ...


class InMemoryEstate:
    """A dict-backed :class:`EstateLookup` (tests, ``escher events explain --estate``)."""

    def __init__(self, records: Mapping[tuple[CloudProvider, str], EstateRecord] | None = None) -> None:
        self._records: dict[tuple[CloudProvider, str], EstateRecord] = dict(records or {})

    def add(self, cloud: CloudProvider, resource_id: str, record: EstateRecord) -> None:
        self._records[(cloud, resource_id)] = record

    def find_resource(self, cloud: CloudProvider, account_id: str, resource_id: str) -> EstateRecord | None:
        # Resource ids are unique within a cloud (ARNs and ARM ids embed the account), so the account is unused.
        return self._records.get((cloud, resource_id))


@dataclass(frozen=True)
class Enrichment:
    owner: str | None = None
    sources: dict[str, str] = field(default_factory=dict)  # context field -> where its value came from
    estate_record_found: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "sources": dict(self.sources),
            "estate_record_found": self.estate_record_found,
        }


@dataclass(frozen=True)
class EnrichedEvent:
    event: UnifiedEvent
    enrichment: Enrichment


def _tag(tags: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    lowered = {k.lower(): (k, v) for k, v in tags.items()}
    for name in names:
        if name in lowered:
            return lowered[name]
    return None


def environment_from(value: str | None) -> Environment | None:
    """'Prod', 'PRD', 'live' -> production; 'stage', 'UAT' -> staging; 'dev', 'test', 'qa' -> dev."""
    return _ENV_WORDS.get(value.strip().lower()) if value else None


def classification_from(value: str | None) -> DataClassification | None:
    return _CLASS_WORDS.get(value.strip().lower()) if value else None


def _from_tags(
    tags: Mapping[str, str], names: tuple[str, ...], parse: Any, label: str
) -> tuple[Any, str] | None:
    found = _tag(tags, names)
    if found and (value := parse(found[1])) is not None:
        return value, f"{label} tag {found[0]}={found[1]}"
    return None


def enrich(event: UnifiedEvent, estate: EstateLookup | None = None) -> EnrichedEvent:
    record = (
        estate.find_resource(event.cloud_provider, event.account_id, event.resource.id) if estate else None
    )
    ctx = event.context
    sources: dict[str, str] = {}
    updates: dict[str, Any] = {}

    def pick(name: str, current: Any, candidates: list[tuple[Any, str] | None]) -> None:
        if current is not None:
            sources[name] = "event"
            return
        for candidate in candidates:
            if candidate is not None:
                updates[name], sources[name] = candidate
                return

    estate_tags: Mapping[str, str] = record.tags if record else {}
    pick(
        "environment",
        ctx.environment,
        [
            (environment_from(record.environment), "estate record")
            if record and environment_from(record.environment)
            else None,
            _from_tags(event.resource.tags, ENVIRONMENT_TAGS, environment_from, "event"),
            _from_tags(estate_tags, ENVIRONMENT_TAGS, environment_from, "estate"),
        ],
    )
    pii = _tag(event.resource.tags, ("pii",)) or _tag(estate_tags, ("pii",))
    pick(
        "data_classification",
        ctx.data_classification,
        [
            (classification_from(record.data_classification), "estate record")
            if record and classification_from(record.data_classification)
            else None,
            _from_tags(event.resource.tags, CLASSIFICATION_TAGS, classification_from, "event"),
            _from_tags(estate_tags, CLASSIFICATION_TAGS, classification_from, "estate"),
            (DataClassification.PII, f"tag {pii[0]}={pii[1]}")
            if pii and pii[1].lower() in ("true", "yes", "1")
            else None,
        ],
    )
    pick(
        "cost_impact",
        ctx.cost_impact,
        [
            (record.monthly_cost, "estate record monthly cost")
            if record and record.monthly_cost is not None
            else None,
        ],
    )
    pick(
        "affected_users",
        ctx.affected_users,
        [
            (record.affected_users, "estate record")
            if record and record.affected_users is not None
            else None,
        ],
    )
    owner_tag = _tag(event.resource.tags, OWNER_TAGS) or _tag(estate_tags, OWNER_TAGS)
    owner = (record.owner if record and record.owner else None) or (owner_tag[1] if owner_tag else None)
    if owner:
        sources["owner"] = (
            "estate record" if record and record.owner else f"tag {owner_tag[0] if owner_tag else ''}"
        )
    enriched = event.model_copy(update={"context": ctx.model_copy(update=updates)}) if updates else event
    return EnrichedEvent(
        enriched, Enrichment(owner=owner, sources=sources, estate_record_found=record is not None)
    )
