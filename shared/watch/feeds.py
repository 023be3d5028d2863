"""What ``escher watch`` reads: the activity-feed protocol and the helpers the clouds' feeds share.

Each cloud's feed lives in its package and is named by its provider (``watch``: a ``watch_sources(ctx,
settings)`` function): AWS CloudTrail ``LookupEvents`` (``escher.clouds.aws.feed``), the Azure Activity Log
(``escher.clouds.azure.feed``), GCP's admin-activity audit log (``escher.clouds.gcp.feed``).

Clients come from the pipeline's :class:`~escher.ops.CloudContext` (the endpoints, credentials and transports the
fixes use), so a test replays responses at the SDK's transport and the real client code runs. Any failure of a
feed is a :class:`FeedUnavailable` carrying the reason: the watch reports it and, where the cloud has one, falls
back to its critical-state check (moto, for one, has no ``LookupEvents``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from escher.errors import EscherError

__all__ = ["ActivityFeed", "FeedUnavailable", "StateCheck", "WatchSources", "iso", "utc_z"]


class FeedUnavailable(EscherError):
    """An activity API could not be read this round (not offered, denied, unreachable)."""


class ActivityFeed(Protocol):
    cloud: str

    @property
    def name(self) -> str:
        """The watermark's key: cloud, kind, account, region."""
        ...

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        """Every record in [since, until], oldest first where the API allows, as JSON-ready dicts."""
        ...


class StateCheck(Protocol):
    """A cloud's critical-state check: what is wrong now, diffed against the last round by the watcher."""

    def findings(self) -> Iterator[Any]: ...


@dataclass
class WatchSources:
    """What one cloud gives the watcher: its feeds, and its state checks as ``(scope, check)`` where the scope
    starts with the cloud's name (``aws:123456789012``)."""

    feeds: list[ActivityFeed]
    checks: list[tuple[str, StateCheck]] = field(default_factory=list)


def iso(value: Any) -> Any:
    """A datetime as ISO 8601 text; anything else as it is."""
    return value.isoformat() if isinstance(value, datetime) else value


def utc_z(when: datetime) -> str:
    """``2024-05-02T09:30:00Z``: the timestamp form the activity APIs' filters take."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
