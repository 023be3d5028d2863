"""Typed records of the five collections, the filters that select them and the hits a search returns.

Collections (the vision's client-side RAG): estate inventory, chat history, executed operations, immutable
reports (cost snapshots, audit log, compliance reports) and alerts & events (rules, alert history, scan
results, remediation settings, report templates, morning reports). Every record carries the same metadata
(cloud, account, region, resource type, time) so one filter model selects in any of them.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from escher.audit import AuditRecord
from escher.clouds import Cloud

__all__ = [
    "AlertRecord",
    "AnyRecord",
    "ChatMessage",
    "Cloud",
    "Collection",
    "InventoryItem",
    "OperationRecord",
    "ReportRecord",
    "SearchFilter",
    "SearchHit",
    "canonical_json",
    "content_hash",
    "parse_record",
]


class Collection(StrEnum):
    inventory = "inventory"
    chat = "chat"
    operations = "operations"
    reports = "reports"
    alerts = "alerts"


def _now() -> datetime:
    return datetime.now(UTC)


def canonical_json(data: Any) -> str:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    collection: ClassVar[Collection]

    at: datetime = Field(default_factory=_now, description="when it happened (or was observed)")
    cloud: Cloud | None = None
    account: str | None = Field(default=None, description="AWS account, Azure subscription, GCP project")
    region: str | None = None

    @property
    def key(self) -> str:
        """Natural key inside the collection: a newer record with the same key replaces the older one."""
        raise NotImplementedError

    @property
    def kind(self) -> str:
        return str(self.collection)

    @property
    def resource_kind(self) -> str | None:
        return None

    def title(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        """What search sees."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["collection"] = str(self.collection)
        return data


class InventoryItem(_Record):
    """One resource of the estate as last seen by a scan."""

    collection: ClassVar[Collection] = Collection.inventory
    resource_id: str = Field(min_length=1, description="ARN, Azure resource id, GCP resource name")
    resource_type: str = Field(min_length=1, description="e.g. aws.ec2.instance, azure.compute.vm")
    name: str = ""
    state: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.resource_id

    @property
    def resource_kind(self) -> str | None:
        return self.resource_type

    def title(self) -> str:
        return f"{self.resource_type} {self.name or self.resource_id}"

    def text(self) -> str:
        tags = " ".join(f"{k} {v}" for k, v in sorted(self.tags.items()))
        props = " ".join(f"{k} {v}" for k, v in sorted(self.properties.items()) if isinstance(v, str | int))
        return f"{self.resource_type} {self.name} {self.state} {tags} {props}".strip()


class ChatMessage(_Record):
    collection: ClassVar[Collection] = Collection.chat
    message_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    conversation_id: str
    role: Literal["user", "assistant", "system"]
    content: str

    @property
    def key(self) -> str:
        return self.message_id

    @property
    def kind(self) -> str:
        return self.role

    def title(self) -> str:
        return f"{self.role} in {self.conversation_id}"

    def text(self) -> str:
        return self.content


class OperationRecord(_Record):
    """One executed (or attempted) operation from the catalogue, with its latest status."""

    collection: ClassVar[Collection] = Collection.operations
    operation_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    operation: str = Field(description="catalogue id, e.g. aws.ec2.stop_instances")
    target: str = ""
    resource_type: str | None = None
    status: Literal["planned", "running", "succeeded", "failed", "rolled_back", "refused"]
    summary: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.operation_id

    @property
    def kind(self) -> str:
        return self.status

    @property
    def resource_kind(self) -> str | None:
        return self.resource_type

    def title(self) -> str:
        return f"{self.operation} {self.status}"

    def text(self) -> str:
        return f"{self.operation.replace('.', ' ').replace('_', ' ')} {self.target} {self.summary}"


ReportKind = Literal["cost_snapshot", "compliance"]


class ReportRecord(_Record):
    """A cost snapshot or a compliance report: immutable once stored (the audit log is ``AuditRecord``)."""

    collection: ClassVar[Collection] = Collection.reports
    record_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    report_kind: ReportKind
    name: str
    summary: str = ""
    resource_type: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.record_id

    @property
    def kind(self) -> str:
        return self.report_kind

    @property
    def resource_kind(self) -> str | None:
        return self.resource_type

    def title(self) -> str:
        return self.name

    def text(self) -> str:
        return f"{self.report_kind.replace('_', ' ')} {self.name} {self.summary}"


AlertKind = Literal[
    "rule", "alert", "scan_result", "remediation_setting", "report_template", "morning_report", "event"
]


class AlertRecord(_Record):
    """Alerts & events: rules and settings (keyed by name, replaced on change) and what happened (history)."""

    collection: ClassVar[Collection] = Collection.alerts
    alert_kind: AlertKind
    name: str = Field(description="stable key for rules, settings and templates; an id for history entries")
    severity: Literal["critical", "high", "medium", "low", "info"] | None = None
    resource_type: str | None = None
    summary: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.alert_kind}:{self.name}"

    @property
    def kind(self) -> str:
        return self.alert_kind

    @property
    def resource_kind(self) -> str | None:
        return self.resource_type

    def title(self) -> str:
        return f"{self.alert_kind.replace('_', ' ')} {self.name}"

    def text(self) -> str:
        return f"{self.severity or ''} {self.summary}".strip()


AnyRecord = InventoryItem | ChatMessage | OperationRecord | ReportRecord | AlertRecord
MUTABLE_MODELS: dict[Collection, type[_Record]] = {
    Collection.inventory: InventoryItem,
    Collection.chat: ChatMessage,
    Collection.operations: OperationRecord,
    Collection.alerts: AlertRecord,
}


def parse_record(collection: str, data: dict[str, Any]) -> AnyRecord | AuditRecord:
    """Rebuild a typed record from its stored JSON (``collection`` key removed)."""
    payload = {k: v for k, v in data.items() if k != "collection"}
    if collection == "audit":
        return AuditRecord.model_validate(payload)
    if collection == Collection.reports:
        return ReportRecord.model_validate(payload)
    model = MUTABLE_MODELS.get(Collection(collection))
    if model is None:  # pragma: no cover - every collection is mapped
        raise ValueError(collection)
    record: AnyRecord = model.model_validate(payload)  # type: ignore[assignment]
    return record


class SearchFilter(BaseModel):
    """Metadata filter: every field given must match; ``None`` means any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    collections: tuple[Collection, ...] | None = None
    kinds: tuple[str, ...] | None = None
    cloud: Cloud | None = None
    account: str | None = None
    region: str | None = None
    resource_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class SearchHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    doc_id: str
    collection: Collection
    kind: str
    title: str
    text: str
    at: datetime
    cloud: str | None = None
    account: str | None = None
    region: str | None = None
    resource_type: str | None = None
    score: float = Field(description="reciprocal-rank-fused score (higher is better)")
    vector_rank: int | None = None
    text_rank: int | None = None


RecordAdapter: TypeAdapter[Annotated[AnyRecord, "record"]] = TypeAdapter(AnyRecord)
