"""``UnifiedEvent``: one schema for every cloud event Escher handles (the vision's "Unified Event Schema").

The model is the boundary type between the normalizers and everything downstream (enrichment, severity rules,
policy, the brain), so it is strict: frozen, ``extra="forbid"``, and ``event_type`` is a closed vocabulary shared
by all clouds. The cloud's own resource type stays in ``resource.type``; ``event_type`` says what happened.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "CloudProvider",
    "DataClassification",
    "Environment",
    "EventContext",
    "EventType",
    "Resource",
    "Severity",
    "UnifiedEvent",
]


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    INFO = "INFO"

    @property
    def rank(self) -> int:
        """Higher is more urgent: CRITICAL 3 ... INFO 0."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 3, Severity.HIGH: 2, Severity.MEDIUM: 1, Severity.INFO: 0}


class CloudProvider(StrEnum):
    aws = "aws"
    azure = "azure"
    gcp = "gcp"


class Environment(StrEnum):
    production = "production"
    staging = "staging"
    dev = "dev"


class DataClassification(StrEnum):
    PII = "PII"
    confidential = "confidential"
    public = "public"


class EventType(StrEnum):
    """What happened, in words shared by every cloud. docs/events.md describes each one."""

    storage_bucket_public = "storage_bucket_public"
    storage_public_access_block_removed = "storage_public_access_block_removed"
    storage_bucket_changed = "storage_bucket_changed"
    security_group_open_to_world = "security_group_open_to_world"
    security_group_changed = "security_group_changed"
    vm_created = "vm_created"
    vm_state_changed = "vm_state_changed"
    volume_created = "volume_created"
    volume_unencrypted = "volume_unencrypted"
    db_down = "db_down"
    db_event = "db_event"
    db_changed = "db_changed"
    budget_exceeded = "budget_exceeded"
    budget_warning = "budget_warning"
    budget_status = "budget_status"
    cost_anomaly = "cost_anomaly"
    metric_alarm = "metric_alarm"
    log_alert = "log_alert"
    threat_finding = "threat_finding"
    compliance_finding = "compliance_finding"
    service_health = "service_health"
    resource_changed = "resource_changed"
    resource_deleted = "resource_deleted"
    api_call_failed = "api_call_failed"
    generic = "generic"


EVENT_TYPE_DOCS: dict[EventType, str] = {
    EventType.storage_bucket_public: "a bucket / storage container became readable or writable by anyone "
    "(public ACL grant, policy with Principal '*', allUsers IAM binding, public-bucket finding)",
    EventType.storage_public_access_block_removed: "a guard against public access was removed "
    "(S3 Block Public Access deleted); the bucket is not necessarily public yet",
    EventType.storage_bucket_changed: "a bucket / storage account configuration changed and the event does not "
    "show it public; metadata.check names what the engine should re-read",
    EventType.security_group_open_to_world: "an inbound rule now admits 0.0.0.0/0 or ::/0 "
    "(security group, firewall rule, NSG, database authorized network)",
    EventType.security_group_changed: "a network rule changed without opening it to the world (as far as shown)",
    EventType.vm_created: "an instance / VM was launched",
    EventType.vm_state_changed: "an instance / VM changed state; metadata.state is running, stopped, "
    "deallocated, terminated, ...",
    EventType.volume_created: "a block volume / disk was created encrypted (or encryption is not shown)",
    EventType.volume_unencrypted: "a block volume was created without encryption",
    EventType.db_down: "a managed database stopped serving (shutdown, failure)",
    EventType.db_event: "another managed-database notification (backup, maintenance, restart, ...)",
    EventType.db_changed: "a managed database configuration changed",
    EventType.budget_exceeded: "actual spend reached or passed the budget; metadata.percent_used says how far",
    EventType.budget_warning: "spend crossed an alert threshold below 100 % of the budget",
    EventType.budget_status: "a periodic budget status report with no threshold crossed",
    EventType.cost_anomaly: "unusual spend detected; context.cost_impact is the impact in the currency",
    EventType.metric_alarm: "a metric alert changed state; metadata.state is alarm, ok or insufficient_data",
    EventType.log_alert: "a log-query alert changed state",
    EventType.threat_finding: "a threat-detection finding (GuardDuty, Defender for Cloud, SCC threat)",
    EventType.compliance_finding: "a posture / compliance finding (Security Hub, SCC misconfiguration)",
    EventType.service_health: "the provider reports an incident or maintenance affecting the account",
    EventType.resource_changed: "another resource was created or updated",
    EventType.resource_deleted: "a resource was deleted",
    EventType.api_call_failed: "an audited API call failed (CloudTrail errorCode, audit log status); "
    "metadata.attempted says what it would have been",
    EventType.generic: "a valid envelope of a kind Escher does not classify yet; raw_event keeps it all",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Resource(_Frozen):
    type: str = Field(
        description="the cloud's own resource type, e.g. AWS::S3::Bucket, Microsoft.Storage/"
        "storageAccounts, gcs_bucket"
    )
    id: str = Field(description="the cloud's identifier: ARN, Azure resource id, GCP resource name")
    name: str = Field(description="the short, human name")
    tags: dict[str, str] = Field(default_factory=dict, description="tags / labels carried by the event")
    metadata: dict[str, Any] = Field(default_factory=dict, description="what the event says about the change")


class EventContext(_Frozen):
    environment: Environment | None = None
    data_classification: DataClassification | None = None
    cost_impact: float | None = Field(default=None, description="money at stake, in the event's currency")
    affected_users: int | None = Field(default=None, ge=0)


class UnifiedEvent(_Frozen):
    event_id: str = Field(
        min_length=1,
        description="the provider's stable delivery id (EventBridge id, "
        "Event Grid id, Pub/Sub messageId); idempotency keys are built from it",
    )
    event_type: EventType
    severity: Severity
    cloud_provider: CloudProvider
    account_id: str = Field(description="AWS account, Azure subscription, GCP project (or billing account)")
    region: str = Field(description="the region, 'global' for global services, 'unknown' when not given")
    resource: Resource
    context: EventContext = Field(default_factory=EventContext)
    timestamp: AwareDatetime = Field(description="when it happened, ISO-8601 with a time zone")
    raw_event: Any = Field(description="the original cloud payload, unchanged")
