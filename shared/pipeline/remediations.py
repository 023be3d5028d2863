"""The event-type -> remediation-operation map, kept as data in ``remediations.toml`` beside this module.

A test checks that every operation named there exists in the catalogue, so the map cannot drift from it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.events.model import CloudProvider, EventType, UnifiedEvent
from escher.pipeline.errors import PermanentEventError, PipelineError

__all__ = ["Remediation", "RemediationTarget", "load_remediations", "remediation_for"]

DATA = Path(__file__).with_name("remediations.toml")


class Remediation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: EventType
    cloud: CloudProvider
    operation: str = Field(pattern=r"^(aws|azure|gcp)\.[a-z0-9_]+\.[a-z0-9_]+$")
    target: Literal["resource.id", "resource.name", "region"]
    resource_type: list[str] = Field(default_factory=list)
    when: dict[str, str | int | float | bool] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)

    def matches(self, event: UnifiedEvent) -> bool:
        if event.event_type is not self.event_type or event.cloud_provider is not self.cloud:
            return False
        if self.resource_type and event.resource.type.lower() not in {t.lower() for t in self.resource_type}:
            return False
        return all(event.resource.metadata.get(k) == v for k, v in self.when.items())

    def target_of(self, event: UnifiedEvent) -> RemediationTarget:
        value = {
            "resource.id": event.resource.id,
            "resource.name": event.resource.name,
            "region": event.region,
        }[self.target]
        if not value or (self.target == "region" and value in ("unknown", "global")):
            raise PermanentEventError(
                f"event {event.event_id} ({event.event_type}) names no {self.target} to run "
                f"{self.operation} on",
                hint="the event is parked in the dead-letter destination; fix it by hand or re-send it",
            )
        region = event.region if event.region not in ("unknown", "global", "") else None
        return RemediationTarget(self.operation, value, region, dict(self.params))


@dataclass(frozen=True)
class RemediationTarget:
    operation: str
    resource_id: str
    region: str | None
    params: dict[str, Any] = field(default_factory=dict)


def load_remediations(path: Path = DATA) -> tuple[Remediation, ...]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return tuple(Remediation.model_validate(item) for item in raw.get("remediation", []))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise PipelineError(
            f"the remediation map {path} cannot be read: {exc}", hint="fix the entry named"
        ) from exc


@cache
def _defaults() -> tuple[Remediation, ...]:
    return load_remediations()


def remediation_for(
    event: UnifiedEvent, remediations: tuple[Remediation, ...] | None = None
) -> Remediation | None:
    """The first entry that matches the event, or None when nothing in the catalogue fixes it."""
    for entry in remediations if remediations is not None else _defaults():
        if entry.matches(event):
            return entry
    return None
