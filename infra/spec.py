"""What one extension is made of: the plain, pulumi-free inputs every cloud's component takes.

The components never read config or the catalogue themselves: the driver (or ``--plan``) builds an
:class:`ExtensionSpec` from the user's settings and hands it over, so a test can build any spec it likes.
User-facing knobs live in the ``[extend]`` section of ``config.toml`` (validated by :class:`ExtendSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from escher.clouds import Cloud
from escher.config import ConfigError, Settings

__all__ = [
    "DEFAULT_EVENTS",
    "EVENTS_LOG_PREFIX",
    "EVENT_KINDS",
    "ExtendSettings",
    "ExtensionSpec",
    "WorkerEntryPoints",
    "extend_settings",
]

LockMode = Literal["governance", "compliance"]

# event kinds a user can enable; each cloud maps the ones it has onto its own event source
# (resource_events: EC2 instance state changes, RDS instance events; Azure/GCP have none of their own)
EventKind = Literal[
    "api_calls", "alarms", "threat_findings", "security_findings", "health", "budgets", "resource_events"
]
EVENT_KINDS: tuple[str, ...] = (
    "api_calls",
    "alarms",
    "threat_findings",
    "security_findings",
    "health",
    "budgets",
    "resource_events",
)
DEFAULT_EVENTS: tuple[str, ...] = (
    EVENT_KINDS  # every kind a normalizer reads is wired unless the user narrows
)
# generic events (no rule fired, nothing decided) go to this prefix of the state storage, expiring after
# events_log_days, instead of an audit object under a year-long lock; the worker reads ESCHER_EVENTS_LOG_PREFIX
EVENTS_LOG_PREFIX = "events-log/"


def _default_events() -> list[EventKind]:
    return list(DEFAULT_EVENTS)  # type: ignore[arg-type]  # the same literals


class ExtendSettings(BaseModel):
    """The ``[extend]`` section of config.toml."""

    model_config = ConfigDict(extra="forbid")

    operations: list[str] | None = Field(
        default=None, description="catalogue operation ids the workers may run; empty means the defaults"
    )
    events: list[EventKind] = Field(
        default_factory=lambda: _default_events(),
        description="event kinds wired to the worker (all by default). AWS api_calls needs a CloudTrail trail "
        "that is logging in every watched region (escher extend aws --check checks it); AWS budgets needs each "
        "budget's notifications pointed at the output budgets_topic",
    )
    notify_email: str | None = Field(default=None, description="an address for SNS/e-mail notifications")
    audit_lock_mode: LockMode | None = Field(
        default=None,
        description="compliance locks the audit retention for good; governance leaves it changeable by an "
        "administrator (never by the worker). Default: compliance on GCP, governance on AWS and Azure",
    )
    log_retention_days: int = Field(default=30, ge=1)
    events_log_days: int = Field(
        default=30, ge=1, description="days the log of generic events (nothing decided) is kept"
    )
    azure_system_topic: str | None = Field(
        default=None,
        description="Azure: the resource id of the subscription's existing Event Grid system topic to reuse "
        "(only one per source is allowed; 'escher extend azure --check' finds it)",
    )
    name_prefix: str = Field(default="escher", pattern=r"^[a-z][a-z0-9-]{1,14}$")
    resource_groups: list[Annotated[str, Field(pattern=r"^[-\w.()]{0,89}[-\w()]$")]] = Field(
        default_factory=list,
        description="Azure: the resource groups the worker's operations may change (role assignments there, "
        "never at the subscription); without any, operations on storage, key vault, web, event grid and "
        "authorization resources are not granted, so the worker cannot reach its own accounts",
    )


def extend_settings(settings: Settings) -> ExtendSettings:
    raw = settings.extensions.get("extend", {})
    try:
        return ExtendSettings.model_validate(raw)
    except ValidationError as exc:
        details = "; ".join(f"[extend.{'.'.join(map(str, e['loc']))}] {e['msg']}" for e in exc.errors())
        raise ConfigError(f"config.toml: {details}", hint="fix the [extend] section of config.toml") from exc


@dataclass(frozen=True)
class WorkerEntryPoints:
    """Where each cloud's runtime enters the worker code (owned by the workers package)."""

    aws_handler: str = "escher.workers.aws.handler.handler"
    azure_script: str = "escher.workers.azure.function_app"  # the module exposing the v2 ``app``
    # (Event Grid trigger, timer trigger): v2 function names are the Python function names
    azure_functions: tuple[str, str] = ("on_event_grid", "daily_scan")
    # the HTTP function an Azure Monitor action group calls (route under /api/)
    azure_action_group: str = "action_group"
    azure_action_group_route: str = "action-group"
    # the HTTP target in escher.workers.gcp.main: Cloud Scheduler's {"job": ...} and Pub/Sub push envelopes
    gcp_module: str = "escher.workers.gcp.main"
    gcp_target: str = "on_schedule"


@dataclass(frozen=True)
class ExtensionSpec:
    """Everything one cloud's ``Extension`` component needs; plain data, no pulumi types."""

    cloud: Cloud
    region: str
    bundle_path: str  # the worker zip (see escher.infra.bundle)
    permissions: tuple[str, ...]  # sorted, from the enabled catalogue operations
    operations: tuple[str, ...] = ()
    events: tuple[str, ...] = DEFAULT_EVENTS
    # every region the extension watches ([aws] regions); the first is where it is deployed. Empty: region only
    regions: tuple[str, ...] = ()
    events_log_days: int = 30
    azure_system_topic: str | None = None  # an existing subscription system topic to subscribe to
    # the driver sets it once the package is deployed (which syncs the function triggers): only then can the
    # Event Grid subscription name functions/on_event_grid as its destination
    azure_triggers_synced: bool = False
    timezone: str = "UTC"
    daily_scan_at: str = "02:00"
    audit_retention_days: int = 365
    audit_lock_mode: LockMode | None = None  # None: the cloud's default (its deploy description's)
    log_retention_days: int = 30
    notify_email: str | None = None
    name_prefix: str = "escher"
    credential_names: tuple[str, ...] = ()  # secrets to create (values are written later, never in state)
    entry_points: WorkerEntryPoints = field(default_factory=WorkerEntryPoints)
    # cloud-specific identifiers the program cannot find out offline
    gcp_project: str | None = None
    azure_subscription_id: str | None = None
    azure_tenant_id: str | None = None
    azure_resource_groups: tuple[
        str, ...
    ] = ()  # where Azure operations may change things (see ExtendSettings)

    @property
    def lock_mode(self) -> LockMode:
        """The audit lock mode: the user's, else the cloud's default."""
        from escher.infra.deploy import deploy_of

        return self.audit_lock_mode or deploy_of(self.cloud).default_lock_mode

    @property
    def watched_regions(self) -> tuple[str, ...]:
        """The deploy region first, then the other enabled regions (each once)."""
        return tuple(dict.fromkeys((self.region, *self.regions)))

    @property
    def scan_hour_minute(self) -> tuple[int, int]:
        hour, minute = self.daily_scan_at.split(":")
        return int(hour), int(minute)


def spec_from_settings(
    cloud: str,
    *,
    bundle_path: str,
    region: str | None = None,
    settings: Settings | None = None,
    operations: list[str] | None = None,
) -> ExtensionSpec:
    """Map the user's configuration onto the spec of one cloud's extension."""
    from escher.clouds import CLOUDS
    from escher.config import load_settings
    from escher.infra.deploy import deploy_of
    from escher.infra.permissions import default_operations, operation_permissions

    deploy = deploy_of(cloud)  # an unknown cloud raises, saying which there are
    settings = settings or load_settings()
    extend = extend_settings(settings)
    ops = tuple(sorted(operations or extend.operations or default_operations(cloud)))
    configured = list(deploy.regions(settings))
    region = region or (configured[0] if configured else None)
    deploy.require_settings(settings)
    # the extension on one cloud manages all clouds: it keeps the other clouds' credentials
    credentials = tuple(c for c in CLOUDS if c != cloud and getattr(settings, c).enabled)
    return ExtensionSpec(
        cloud=cloud,  # type: ignore[arg-type]  # a cloud with a deploy description
        region=region or deploy.default_region,
        regions=tuple(configured) if deploy.watches_regions else (),
        events_log_days=extend.events_log_days,
        azure_system_topic=extend.azure_system_topic,
        bundle_path=bundle_path,
        permissions=operation_permissions(cloud, ops),
        operations=ops,
        events=tuple(extend.events),
        timezone=settings.general.timezone,
        daily_scan_at=settings.general.daily_scan_at,
        audit_retention_days=settings.retention.audit_days,
        audit_lock_mode=extend.audit_lock_mode,
        log_retention_days=extend.log_retention_days,
        notify_email=extend.notify_email,
        name_prefix=extend.name_prefix,
        credential_names=credentials,
        gcp_project=settings.gcp.project,
        azure_subscription_id=settings.azure.subscription_id,
        azure_tenant_id=settings.azure.tenant_id,
        azure_resource_groups=tuple(extend.resource_groups),
    )
