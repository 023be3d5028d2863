"""At-least-once safety: one marker per (provider event id, operation), created if absent, advanced by swap.

Deliveries are retried for up to 24 h, sometimes concurrently. The first delivery creates the marker (``claimed``)
and owns it for a lease; every later stage (``acted`` -> ``audited`` -> ``done``) is a compare-and-swap, so
exactly one attempt moves it forward. Another delivery of the same event:

- finds ``done``: nothing to do (a duplicate does nothing twice);
- finds a live lease: :class:`EventInProgressError`, the platform retries later;
- finds an expired lease (the owner crashed): takes the marker over and resumes from the stage it records. At
  ``acted`` the action is not repeated: the marker holds its result, and the audit record is written from it.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from escher.pipeline.errors import EventInProgressError
from escher.pipeline.objects import PipelineObjects

__all__ = ["Claim", "Markers", "Stage", "marker_key"]


class Stage(StrEnum):
    claimed = "claimed"
    acted = "acted"
    audited = "audited"
    done = "done"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = [Stage.claimed, Stage.acted, Stage.audited, Stage.done]


def _now() -> datetime:
    return datetime.now(UTC)


def marker_key(cloud: str, event_id: str, operation: str) -> str:
    digest = hashlib.sha256(f"{cloud}|{event_id}".encode()).hexdigest()[:40]
    return f"markers/{cloud}/{digest}/{operation}.json"


@dataclass
class Claim:
    key: str
    body: dict[str, Any]
    version: str
    resumed: bool  # True: a previous attempt got this far and crashed or timed out

    @property
    def stage(self) -> Stage:
        return Stage(self.body["stage"])

    def reached(self, stage: Stage) -> bool:
        return self.stage.rank >= stage.rank

    @property
    def data(self) -> dict[str, Any]:
        """What earlier stages recorded (the action's result, the audit record id, ...)."""
        data: dict[str, Any] = self.body.setdefault("data", {})
        return data


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, default=str, separators=(",", ":")).encode()


class Markers:
    def __init__(
        self,
        store: PipelineObjects,
        *,
        lease: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.lease = lease
        self.clock = clock

    def claim(self, cloud: str, event_id: str, operation: str) -> Claim | None:
        """The marker, owned by this attempt; None when the event was already handled to the end."""
        key = marker_key(cloud, event_id, operation)
        now = self.clock()
        owner = uuid.uuid4().hex
        body: dict[str, Any] = {
            "event_id": event_id,
            "operation": operation,
            "cloud": cloud,
            "stage": Stage.claimed.value,
            "owner": owner,
            "lease_until": (now + self.lease).isoformat(),
            "history": [{"stage": Stage.claimed.value, "at": now.isoformat(), "owner": owner}],
            "data": {},
        }
        version = self.store.put_if_absent(key, _dump(body))
        if version is not None:
            return Claim(key, body, version, resumed=False)
        current = self.store.get(key)
        if current is None:  # deleted between the two calls (a retention purge): start again
            return self.claim(cloud, event_id, operation)
        existing: dict[str, Any] = json.loads(current.data)
        if existing["stage"] == Stage.done.value:
            return None
        lease_until = datetime.fromisoformat(existing["lease_until"])
        if lease_until > now:
            raise EventInProgressError(
                f"event {event_id} ({operation}) is being handled by another delivery "
                f"(stage {existing['stage']}, lease until {lease_until.isoformat()})",
                hint="the platform retries this delivery later; nothing is lost",
            )
        existing["owner"] = owner
        existing["lease_until"] = (now + self.lease).isoformat()
        existing["history"].append({"stage": "resumed", "at": now.isoformat(), "owner": owner})
        version = self.store.replace(key, _dump(existing), current.version)
        if version is None:
            raise EventInProgressError(
                f"event {event_id} ({operation}) was taken over by another delivery just now",
                hint="the platform retries this delivery later; nothing is lost",
            )
        return Claim(key, existing, version, resumed=True)

    def advance(self, claim: Claim, stage: Stage, **data: Any) -> None:
        """Record that ``stage`` is reached (with what it produced); the lease is renewed."""
        now = self.clock()
        body = dict(claim.body)
        body["stage"] = stage.value
        body["lease_until"] = (now + self.lease).isoformat()
        body["history"] = [*body["history"], {"stage": stage.value, "at": now.isoformat()}]
        body["data"] = {**claim.data, **data}
        version = self.store.replace(claim.key, _dump(body), claim.version)
        if version is None:
            raise EventInProgressError(
                f"lost the marker of event {body['event_id']} ({body['operation']}) to another delivery "
                f"before stage {stage.value}",
                hint="this attempt outlived its lease; the other delivery finishes the work",
            )
        claim.body, claim.version = body, version

    def read(self, cloud: str, event_id: str, operation: str) -> dict[str, Any] | None:
        current = self.store.get(marker_key(cloud, event_id, operation))
        return None if current is None else dict(json.loads(current.data))
