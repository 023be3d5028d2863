"""The audit record every change produces, and the small interface that receives it.

The engine, the pipeline and the policy write :class:`AuditRecord` values to an :class:`AuditSink`. The store
(``escher.store``) provides the real sink, :class:`escher.audit.ledger.LedgerAuditSink`: append-only,
hash-chained, signed with a pinned key and anchored outside the database; the state backends put the same
records on WORM object storage in Extend mode. :class:`MemoryAuditSink` is the in-memory fake.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from escher.clouds import Cloud

__all__ = ["AuditOutcome", "AuditRecord", "AuditSink", "MemoryAuditSink"]

AuditOutcome = Literal[
    "planned",  # a plan was made (nothing changed)
    "started",  # the intent, recorded before a change outside the engine (extend, destroy) begins
    "dry_run",  # what would change, shown and not done
    "succeeded",  # the change was made
    "noop",  # already in the wanted state: nothing to do, counted as success
    "failed",  # the change was attempted and failed
    "refused",  # policy said no (with the reason)
    "approval_requested",
    "approved",
    "rejected",
    "verified",  # read back: the change holds
    "verify_failed",  # read back: the change does not hold (evidence in details)
    "info",  # anything else worth a permanent line (a retention purge, an export, ...)
]


def _now() -> datetime:
    return datetime.now(UTC)


class AuditRecord(BaseModel):
    """Who did what to which resource, why, and with what result. Immutable once made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    at: datetime = Field(default_factory=_now)
    actor: str = Field(description="who: 'user:alice', 'worker:aws', 'schedule:daily-scan', 'policy'")
    action: str = Field(
        description="what: an operation id such as 'aws.ec2.stop_instances', or 'approval.grant'"
    )
    target: str = Field(description="which resource: ARN, Azure resource id, GCP resource name; '' if none")
    cloud: Cloud | None = None
    reason: str = Field(default="", description="why: the event id, the user's request, the schedule")
    outcome: AuditOutcome
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    timings: dict[str, datetime] = Field(
        default_factory=dict, description="stage -> time: event, received, decided, fixed, verified"
    )
    correlation_id: str | None = Field(default=None, description="ties the records of one incident or plan")


@runtime_checkable
class AuditSink(Protocol):
    def append(self, record: AuditRecord) -> None:
        """Persist one record durably before returning; raise on failure (never drop it)."""


class MemoryAuditSink:
    """In-memory fake for unit tests: thread-safe, append-only."""

    def __init__(self) -> None:
        self._records: list[AuditRecord] = []
        self._lock = threading.Lock()

    def append(self, record: AuditRecord) -> None:
        with self._lock:
            self._records.append(record)

    @property
    def records(self) -> tuple[AuditRecord, ...]:
        with self._lock:
            return tuple(self._records)
