"""The brain's wire format, version 1: every request and response body is one of these models.

The OpenAPI document at ``/openapi.json`` is generated from them. Requests are strict (``extra="forbid"``) and
bounded (lengths, counts) so a client cannot smuggle whole resource contents or an unbounded history in.
Responses are a discriminated union on ``kind``: ``information | execution | playbook | schedule``.

Fields that decide safety (``risk``, ``requires_approval``, ``destructive``, ``cli``) are filled in by the
guard from the operations catalogue, never taken from the language model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from escher.clouds import Cloud as Cloud

__all__ = [
    "API_VERSION",
    "AskRequest",
    "AskResponse",
    "ChatTurn",
    "ContextItem",
    "ErrorBody",
    "EventAnalysisRequest",
    "EventAnalysisResponse",
    "EventFacts",
    "EventResource",
    "ExecutionResponse",
    "Filters",
    "HealthResponse",
    "InformationResponse",
    "PlanStep",
    "Playbook",
    "PlaybookResponse",
    "PlaybookStep",
    "Priority",
    "ReportFinding",
    "ReportSummaryRequest",
    "ReportSummaryResponse",
    "ScheduleJob",
    "ScheduleResponse",
    "Scope",
    "TableData",
    "Unresolved",
]

API_VERSION = "v1"
Scalar = str | int | float | bool | None
Risk = Literal["low", "medium", "high", "critical"]
Source = Literal["llm", "planner"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- what the client sends ------------------------------------------------------------------------------------
class ContextItem(_Model):
    """One thing the client's store found for this question: metadata only, never resource contents."""

    kind: Literal["resource", "chat", "operation", "report", "alert", "finding"] = "resource"
    id: str = Field(min_length=1, max_length=512, description="resource id, or the record's id")
    cloud: Cloud | None = None
    account: str | None = Field(default=None, max_length=128)
    region: str | None = Field(default=None, max_length=64)
    resource_type: str | None = Field(default=None, max_length=128, description="e.g. aws.ec2.instance")
    name: str = Field(default="", max_length=256)
    state: str = Field(default="", max_length=64)
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)
    attrs: dict[str, Scalar] = Field(
        default_factory=dict, max_length=64, description="scalar facts (instance_type, cpu_avg_30d, ...)"
    )
    text: str = Field(default="", max_length=2000, description="summary of a chat turn, alert or report")
    at: datetime | None = None

    @property
    def environment(self) -> str:
        for key in ("env", "environment", "Environment", "Env", "stage"):
            if key in self.tags:
                return self.tags[key]
        return ""


class ChatTurn(_Model):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


class AskRequest(_Model):
    query: str = Field(min_length=1, max_length=2000)
    context: list[ContextItem] = Field(default_factory=list, max_length=300)
    history: list[ChatTurn] = Field(default_factory=list, max_length=20, description="the last few turns")
    clouds: list[Cloud] = Field(default_factory=list, description="clouds the user has enabled")


# -- what the brain answers ----------------------------------------------------------------------------------
class Filters(_Model):
    cloud: Cloud | None = None
    region: str | None = None
    environment: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    state: str | None = None
    resource_type: str | None = None


class TableData(_Model):
    columns: list[str]
    rows: list[list[str]]


class PlanStep(_Model):
    operation_id: str = Field(description="a catalogue id, e.g. aws.ec2.stop_instances")
    targets: list[str] = Field(default_factory=list, description="resource ids the step acts on")
    region: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    select_by_tags: dict[str, str] = Field(
        default_factory=dict, description="when no target is named: select them by tag when the plan runs"
    )
    reason: str = ""
    risk: Risk = "low"
    requires_approval: bool = False
    destructive: bool = False
    cli: list[str] = Field(default_factory=list, description="the equivalent CLI commands, for display")


class PlaybookStep(_Model):
    title: str
    operation_id: str | None = Field(default=None, description="None: a manual or checking step")
    params: dict[str, Any] = Field(default_factory=dict)
    select_by_tags: dict[str, str] = Field(default_factory=dict)
    note: str = ""
    status: Literal["todo", "done", "missing"] = "todo"


class Playbook(_Model):
    id: str
    name: str
    clouds: list[Cloud]
    category: Literal["disaster_recovery", "security_hardening", "cost_cleanup", "incident_first_aid"]
    description: str
    steps: list[PlaybookStep]
    keywords: list[str] = Field(default_factory=list)


class Scope(_Model):
    """What a plan or a proposal acts on: the resolved resources, counted per environment and per account."""

    targets: list[str] = Field(default_factory=list, description="the resolved resource ids, sorted")
    total: int = 0
    by_environment: dict[str, int] = Field(default_factory=dict, description="'(none)': no environment tag")
    by_account: dict[str, int] = Field(default_factory=dict, description="'(unknown)': the client sent none")
    by_cloud: dict[str, int] = Field(default_factory=dict)
    select_by_tags: dict[str, str] = Field(
        default_factory=dict, description="set when targets are selected by these tags when the plan runs"
    )


class Unresolved(_Model):
    """A word of the request that names nothing in the estate or the catalogue: nothing is planned."""

    text: str
    reason: Literal["unknown", "misspelled", "no_such_resource", "no_such_tag", "unsupported_service",
                    "exclusion", "reference", "count_mismatch", "ambiguous"]  # fmt: skip
    did_you_mean: list[str] = Field(default_factory=list)
    message: str = ""


class _Response(_Model):
    intent: str = Field(description="what the brain understood: list, stop, cost_driver, playbook, ...")
    summary: str
    filters: Filters = Field(default_factory=Filters)
    source: Source = "planner"
    model: str | None = None
    notices: list[str] = Field(default_factory=list)
    suggested_questions: list[str] = Field(default_factory=list)
    api_version: Literal["v1"] = "v1"


class InformationResponse(_Response):
    kind: Literal["information"] = "information"
    table: TableData | None = None
    resource_ids: list[str] = Field(default_factory=list)
    unresolved: list[Unresolved] = Field(
        default_factory=list, description="what the request named that was not found; nothing was planned"
    )
    scope: Scope | None = Field(default=None, description="a question about an action: what it would affect")


class ExecutionResponse(_Response):
    kind: Literal["execution"] = "execution"
    steps: list[PlanStep]
    impact: str = ""
    scope: Scope | None = Field(default=None, description="the resolved targets, per environment and account")

    @property
    def operation_ids(self) -> list[str]:
        return [s.operation_id for s in self.steps]


class PlaybookResponse(_Response):
    kind: Literal["playbook"] = "playbook"
    playbook: Playbook


class ScheduleJob(_Model):
    """One job that ``escher schedule add CRON JOB`` would store: an operation and its resolved selector."""

    operation_id: str
    cloud: Cloud
    targets: list[str] = Field(
        default_factory=list, description="resolved ids (used when no tag selector fits)"
    )
    select_by_tags: dict[str, str] = Field(default_factory=dict, description="stored as tag:k=v")
    regions: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    job: str = Field(description="the JOB argument of escher schedule add")
    command: str = Field(description="the full command, for display; nothing was stored")
    risk: Risk = "low"
    requires_approval: bool = False
    destructive: bool = False


class ScheduleResponse(_Response):
    """A schedule phrase ("at 8pm daily", "every weekday", "tonight"): a proposal, never a run now."""

    kind: Literal["schedule"] = "schedule"
    cron: str = Field(description="5 fields: minute hour day-of-month month day-of-week")
    when: str = Field(description="how the phrase was read, e.g. 'every weekday at 20:00'")
    recurring: bool = Field(description="False: a one-off phrase ('tonight'); escher schedule repeats it")
    timezone_note: str
    jobs: list[ScheduleJob]
    template_required: bool = Field(
        description="a scheduled change runs only within a manager's template (--template) or a pre-approved "
        "remediation switch"
    )
    scope: Scope


AskResponse = Annotated[
    InformationResponse | ExecutionResponse | PlaybookResponse | ScheduleResponse, Field(discriminator="kind")
]


# -- event analysis ------------------------------------------------------------------------------------------
class EventResource(_Model):
    type: str = Field(max_length=256)
    id: str = Field(max_length=1024)
    name: str = Field(default="", max_length=256)
    tags: dict[str, str] = Field(default_factory=dict, max_length=64)
    metadata: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict, max_length=64)


class EventFacts(_Model):
    """A ``UnifiedEvent`` without its raw payload: what the brain needs to judge it, nothing more."""

    event_id: str = Field(min_length=1, max_length=256)
    event_type: str = Field(max_length=64)
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "INFO"]
    cloud_provider: Cloud
    account_id: str = Field(max_length=128)
    region: str = Field(max_length=64)
    resource: EventResource
    environment: str | None = None
    data_classification: str | None = None
    cost_impact: float | None = None
    affected_users: int | None = None
    timestamp: datetime


class EventAnalysisRequest(_Model):
    event: EventFacts
    context: list[ContextItem] = Field(default_factory=list, max_length=100)


class EventAnalysisResponse(_Model):
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "INFO"]
    root_cause: str
    impact: str
    risk: Risk
    first_aid: list[PlanStep]
    playbook: Playbook | None = None
    source: Source = "planner"
    model: str | None = None
    notices: list[str] = Field(default_factory=list)
    api_version: Literal["v1"] = "v1"


# -- report summary ------------------------------------------------------------------------------------------
class ReportFinding(_Model):
    check_id: str = Field(max_length=128)
    title: str = Field(max_length=512)
    severity: Literal["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"]
    cloud: Cloud
    region: str = Field(default="", max_length=64)
    resource_id: str = Field(max_length=1024)
    resource_type: str = Field(default="", max_length=128)
    category: str = Field(default="security", max_length=64)
    monthly_saving: float = 0.0
    fix_operation: str | None = None


class ReportSummaryRequest(_Model):
    findings: list[ReportFinding] = Field(default_factory=list, max_length=5000)
    cost_total: float | None = None
    cost_change_pct: float | None = None
    period: str | None = Field(default=None, max_length=64)


class Priority(_Model):
    title: str
    severity: str
    count: int
    monthly_saving: float = 0.0
    operation_id: str | None = None
    clouds: list[Cloud] = Field(default_factory=list)


class ReportSummaryResponse(_Model):
    narrative: str
    priorities: list[Priority]
    suggested_questions: list[str]
    source: Source = "planner"
    model: str | None = None
    notices: list[str] = Field(default_factory=list)
    api_version: Literal["v1"] = "v1"


# -- health and errors ---------------------------------------------------------------------------------------
class HealthResponse(_Model):
    status: Literal["ok"] = "ok"
    api_version: Literal["v1"] = "v1"
    version: str
    llm: Literal["configured", "not_configured"]
    model: str | None = None
    stateless: Literal[True] = True
    knowledge: dict[str, int]
    operations: int


class ErrorBody(_Model):
    error: str = Field(description="the error's type, e.g. CredentialInPayloadError")
    message: str
    hint: str | None = None
    status: int
