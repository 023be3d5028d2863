"""Azure events: Event Grid (Event Grid schema and CloudEvents 1.0), Azure Monitor action groups (common alert
schema) and Cost Management budget alerts.

Azure Resource Manager events (``Microsoft.Resources.Resource*Success``) say which operation succeeded on which
resource, not the resource's new properties. So a storage-account or NSG write cannot be told public from
private here: they become ``storage_bucket_changed`` / ``security_group_changed`` with ``metadata.check`` naming
what the engine must re-read (docs/events.md, "Azure limits").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from escher.events._base import Envelope, content_id, make_event, metric_signal, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.model import CloudProvider, EventType, Severity, UnifiedEvent

__all__ = ["PARSERS", "parse_resource_id"]

_EG = "eventgrid"
_MON = "azure_monitor"
_EG_DOC = "https://learn.microsoft.com/en-us/azure/event-grid/event-schema-resource-groups"
_ALERT_DOC = "https://learn.microsoft.com/en-us/azure/azure-monitor/alerts/alerts-payload-samples"


def _subscription(*candidates: str) -> str:
    for text in candidates:
        parts = text.split("/")
        for i, part in enumerate(parts[:-1]):
            if part.lower() == "subscriptions" and parts[i + 1]:
                return parts[i + 1]
    return "unknown"


def parse_resource_id(resource_id: str) -> tuple[str, str]:
    """(type, name) from an ARM id: ``.../providers/Microsoft.Storage/storageAccounts/sa1`` ->
    (``Microsoft.Storage/storageAccounts``, ``sa1``)."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "providers" in lowered:
        at = len(lowered) - 1 - lowered[::-1].index("providers")
        rest = parts[at + 1 :]
        if len(rest) >= 3:
            types = rest[1::2][: len(rest[2::2])]
            return f"{rest[0]}/{'/'.join(types)}", rest[2::2][-1]
    if len(parts) >= 2:
        return f"Microsoft.Resources/{parts[-2]}", parts[-1]
    return "Microsoft.Resources/unknown", resource_id or "unknown"


def parse_event_grid(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "Event Grid event")
    event_type = top.text("eventType")
    topic, subject = top.opt_str("topic"), top.opt_str("subject")
    body = data.get("data")
    return _eg_envelope(
        top, body, event_type, topic, subject, top.text("id"), data.get("eventTime"), "eventTime"
    )


def parse_cloudevent(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "CloudEvent")
    source = top.text("source")
    if not source.lower().startswith("/subscriptions/") and not top.text("type").startswith("Microsoft."):
        raise top.fail("source", "is not an Azure source: only Azure and GCP Pub/Sub CloudEvents are known")
    return _eg_envelope(
        top,
        data.get("data"),
        top.text("type"),
        source,
        top.opt_str("subject"),
        top.text("id"),
        data.get("time"),
        "time",
    )


def _eg_envelope(
    top: Fields, body: Any, event_type: str, topic: str, subject: str, event_id: str, time: Any, time_key: str
) -> tuple[Envelope, tuple[str, ...]]:
    sub = body.get("subscriptionId") if isinstance(body, dict) else None
    env = Envelope(
        envelope=_EG,
        cloud=CloudProvider.azure,
        event_id=event_id,
        account_id=sub if isinstance(sub, str) and sub else _subscription(topic, subject),
        region="unknown",
        time=parse_time(time, top.kind, time_key),
        body=body,
        raw=top.data,
        meta={"event_type": event_type, "topic": topic, "subject": subject},
    )
    return env, (event_type,)


def parse_monitor_alert(data: dict[str, Any], received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "Azure Monitor alert")
    if top.text("schemaId") != "azureMonitorCommonAlertSchema":
        env = Envelope(
            envelope=_MON,
            cloud=CloudProvider.azure,
            event_id=content_id(data),
            account_id="unknown",
            region="unknown",
            time=received or datetime.now(UTC),
            body=data.get("data"),
            raw=data,
            meta={"schema": top.text("schemaId")},
        )
        return env, ("*",)
    essentials = top.obj("data").obj("essentials")
    condition = essentials.text("monitorCondition")
    targets = [t for t in essentials.array("alertTargetIDs") if isinstance(t, str)]
    when = essentials.data.get("resolvedDateTime") if condition == "Resolved" else None
    env = Envelope(
        envelope=_MON,
        cloud=CloudProvider.azure,
        # Fired and Resolved share one alertId; the condition makes each notification its own event.
        event_id=f"{essentials.text('alertId')}:{condition}",
        account_id=_subscription(essentials.text("alertId"), *targets),
        region="unknown",
        time=parse_time(
            when or essentials.data.get("firedDateTime"), essentials.kind, "data.essentials.firedDateTime"
        ),
        body=data.get("data"),
        raw=data,
        meta={"condition": condition, "targets": targets, "service": essentials.opt_str("monitoringService")},
    )
    return env, (f"service:{env.meta['service']}", f"signal:{essentials.opt_str('signalType')}")


def parse_budget(data: dict[str, Any], received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "Cost Management budget alert")
    body = top.obj("data")
    env = Envelope(
        envelope="azure_budget",
        cloud=CloudProvider.azure,
        # the payload has no id and no time: the content hash is stable across redeliveries
        event_id=content_id(data),
        account_id=body.opt_str("SubscriptionId") or "unknown",
        region="global",
        time=received or datetime.now(UTC),
        body=body.data,
        raw=data,
    )
    return env, ("budget",)


PARSERS = {
    "eventgrid": parse_event_grid,
    "cloudevent": parse_cloudevent,
    "azure_monitor": parse_monitor_alert,
    "azure_budget": parse_budget,
}


# -- ARM operations, shared by Event Grid resource events and activity-log alerts ------------------------
_VM = "microsoft.compute/virtualmachines"
_OPERATIONS: dict[str, tuple[EventType, dict[str, Any]]] = {
    f"{_VM}/deallocate/action": (EventType.vm_state_changed, {"state": "deallocated"}),
    f"{_VM}/poweroff/action": (EventType.vm_state_changed, {"state": "stopped"}),
    f"{_VM}/start/action": (EventType.vm_state_changed, {"state": "running"}),
    f"{_VM}/restart/action": (EventType.vm_state_changed, {"state": "restarting"}),
    f"{_VM}/delete": (EventType.vm_state_changed, {"state": "terminated"}),
    "microsoft.storage/storageaccounts/write": (EventType.storage_bucket_changed, {"check": "public_access"}),
    "microsoft.storage/storageaccounts/blobservices/containers/write": (
        EventType.storage_bucket_changed,
        {"check": "public_access"},
    ),
    "microsoft.network/networksecuritygroups/write": (
        EventType.security_group_changed,
        {"check": "open_to_world"},
    ),
    "microsoft.network/networksecuritygroups/securityrules/write": (
        EventType.security_group_changed,
        {"check": "open_to_world"},
    ),
}


def _classify(operation: str) -> tuple[EventType, dict[str, Any]]:
    known = _OPERATIONS.get(operation.lower())
    if known:
        return known[0], dict(known[1])
    if operation.lower().endswith("/delete"):
        return EventType.resource_deleted, {}
    return EventType.resource_changed, {}


def _resource_event(env: Envelope, d: Fields) -> UnifiedEvent:
    uri = d.opt_str("resourceUri") or env.meta["subject"]
    if not uri:
        raise d.fail("resourceUri", "is missing")
    operation = d.text("operationName")
    event_type, meta = _classify(operation)
    rtype, name = parse_resource_id(uri)
    claims = d.opt_obj("claims")
    caller = (
        (
            claims.opt_str("name")
            or claims.opt_str("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
        )
        if claims
        else ""
    )
    return make_event(
        env,
        event_type=event_type,
        resource_type=rtype,
        resource_id=uri,
        name=name,
        metadata={
            **meta,
            "operation": operation,
            "status": d.opt_str("status"),
            "actor": caller,
            "resource_group": d.opt_str("resourceGroup"),
            "correlation_id": d.opt_str("correlationId"),
        },
    )


_RESOURCE_TYPES = (
    EventType.vm_state_changed,
    EventType.storage_bucket_changed,
    EventType.security_group_changed,
    EventType.resource_changed,
    EventType.resource_deleted,
)


# The three resource notifications differ only in their Event Grid type: one table, one body.
for _key, _event_type in (
    ("azure.resources.write_success", "Microsoft.Resources.ResourceWriteSuccess"),
    ("azure.resources.action_success", "Microsoft.Resources.ResourceActionSuccess"),
    ("azure.resources.delete_success", "Microsoft.Resources.ResourceDeleteSuccess"),
):
    normalizer(
        _key,
        source_kind=f"Event Grid {_event_type}",
        envelope=_EG,
        routes=(_event_type,),
        docs=_EG_DOC,
        event_types=_RESOURCE_TYPES,
    )(_resource_event)


@normalizer(
    "azure.eventgrid.generic",
    source_kind="Event Grid event",
    envelope=_EG,
    routes=("*",),
    docs="https://learn.microsoft.com/en-us/azure/event-grid/event-schema",
    event_types=(EventType.generic,),
)
def eventgrid_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    subject = env.meta["subject"] or env.meta["topic"] or env.event_id
    rtype, name = (
        parse_resource_id(subject)
        if subject.startswith("/subscriptions/")
        else (env.meta["event_type"], subject.rsplit("/", 1)[-1])
    )
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type=rtype,
        resource_id=subject,
        name=name,
        metadata={"event_type": env.meta["event_type"], "topic": env.meta["topic"]},
    )


# -- Azure Monitor common alert schema -------------------------------------------------------------------
_SEV = {"Sev0": Severity.CRITICAL, "Sev1": Severity.HIGH, "Sev2": Severity.MEDIUM}
_STATE = {"Fired": "alarm", "Resolved": "ok"}


def _alert(
    env: Envelope,
    d: Fields,
    event_type: EventType,
    meta: dict[str, Any],
    severity: Severity | None = None,
    target: str = "",
) -> UnifiedEvent:
    essentials = d.obj("essentials")
    targets: list[str] = env.meta["targets"]
    rid = target or (targets[0] if targets else essentials.text("alertId"))
    rtype, name = parse_resource_id(rid)
    return make_event(
        env,
        event_type=event_type,
        resource_type=rtype,
        resource_id=rid,
        name=name,
        severity=severity or _SEV.get(essentials.opt_str("severity"), Severity.INFO),
        metadata={
            "alert_rule": essentials.opt_str("alertRule"),
            "state": _STATE.get(env.meta["condition"], env.meta["condition"].lower()),
            "provider_severity": essentials.opt_str("severity"),
            **meta,
        },
    )


def _first_criterion(d: Fields) -> Fields | None:
    context = d.opt_obj("alertContext")
    condition = context.opt_obj("condition") if context else None
    criteria = condition.objs("allOf") if condition else []
    return criteria[0] if criteria else None


@normalizer(
    "azure.monitor.metric_alert",
    source_kind="Azure Monitor metric alert (common alert schema)",
    envelope=_MON,
    routes=("signal:Metric",),
    docs=_ALERT_DOC,
    event_types=(EventType.metric_alarm,),
)
def metric_alert(env: Envelope, d: Fields) -> UnifiedEvent:
    c = _first_criterion(d)
    metric = c.opt_str("metricName") if c else ""
    value = c.opt_num("metricValue") if c else None
    # a percentage of a capacity (storage_percent, cpu_percent, Percentage CPU): the scale-up switch's bar
    facts = {"utilization_percent": value} if value is not None and "percent" in metric.lower() else {}
    return _alert(
        env,
        d,
        EventType.metric_alarm,
        {
            **facts,
            "metric_name": metric,
            "namespace": c.opt_str("metricNamespace") if c else "",
            "metric_value": value,
            "threshold": c.opt_num("threshold") if c else None,
            "operator": c.opt_str("operator") if c else "",
            "signal": metric_signal(metric),
        },
    )


@normalizer(
    "azure.monitor.log_alert",
    source_kind="Azure Monitor log search alert (common alert schema)",
    envelope=_MON,
    routes=("signal:Log",),
    docs=_ALERT_DOC,
    event_types=(EventType.log_alert,),
)
def log_alert(env: Envelope, d: Fields) -> UnifiedEvent:
    c = _first_criterion(d)
    return _alert(
        env,
        d,
        EventType.log_alert,
        {
            "query": c.opt_str("searchQuery") if c else "",
            "metric_value": c.opt_num("metricValue") if c else None,
            "threshold": c.opt_num("threshold") if c else None,
            "operator": c.opt_str("operator") if c else "",
        },
    )


@normalizer(
    "azure.monitor.activity_log_alert",
    source_kind="Azure Monitor activity log alert (common alert schema)",
    envelope=_MON,
    routes=("service:Activity Log - Administrative",),
    docs=_ALERT_DOC,
    event_types=_RESOURCE_TYPES,
)
def activity_log_alert(env: Envelope, d: Fields) -> UnifiedEvent:
    context = d.obj("alertContext")
    operation = context.text("operationName")
    event_type, meta = _classify(operation)
    auth = context.opt_obj("authorization")
    return _alert(
        env,
        d,
        event_type,
        {
            **meta,
            "operation": operation,
            "status": context.opt_str("status"),
            "actor": context.opt_str("caller"),
        },
        target=auth.opt_str("scope") if auth else "",
    )


_HEALTH_SEVERITY = {"Unavailable": Severity.HIGH, "Degraded": Severity.MEDIUM}


@normalizer(
    "azure.monitor.resource_health",
    source_kind="Azure Resource Health alert (activity log, common alert schema)",
    envelope=_MON,
    routes=("service:Resource Health",),
    docs=_ALERT_DOC,
    event_types=(EventType.vm_state_changed, EventType.resource_changed),
)
def resource_health(env: Envelope, d: Fields) -> UnifiedEvent:
    """A resource's health changed: ``state`` is its health now (unavailable, degraded, available, unknown) and
    ``cause`` says who caused it (PlatformInitiated, UserInitiated, Unknown): a VM a user stopped is
    unavailable too, so only a platform-initiated outage is a failed service to restart."""
    context = d.obj("alertContext")
    props = context.obj("properties")
    current = props.opt_str("currentHealthStatus")
    targets: list[str] = env.meta["targets"]
    rtype, _ = parse_resource_id(targets[0]) if targets else ("", "")
    is_vm = rtype.lower() == _VM
    return _alert(
        env,
        d,
        EventType.vm_state_changed if is_vm else EventType.resource_changed,
        {
            "state": current.lower() or "unknown",
            "previous_state": props.opt_str("previousHealthStatus").lower(),
            "cause": props.opt_str("cause"),
            "health_event_type": props.opt_str("type"),
            "title": props.opt_str("title"),
            "details": props.opt_str("details"),
            "operation": context.opt_str("operationName"),
            "status": context.opt_str("status"),
        },
        severity=_HEALTH_SEVERITY.get(current, Severity.INFO),
    )


_INCIDENT_SEVERITY = {
    "Incident": Severity.MEDIUM,
    "Security": Severity.HIGH,
    "ActionRequired": Severity.MEDIUM,
}


@normalizer(
    "azure.monitor.service_health",
    source_kind="Azure Service Health alert (common alert schema)",
    envelope=_MON,
    routes=("service:ServiceHealth",),
    docs=_ALERT_DOC,
    event_types=(EventType.service_health,),
)
def service_health(env: Envelope, d: Fields) -> UnifiedEvent:
    props = d.obj("alertContext").obj("properties")
    incident = props.opt_str("incidentType")
    return _alert(
        env,
        d,
        EventType.service_health,
        {
            "title": props.opt_str("title"),
            "service": props.opt_str("service"),
            "regions": props.opt_str("region"),
            "incident_type": incident,
            "tracking_id": props.opt_str("trackingId"),
            "stage": props.opt_str("stage"),
        },
        severity=_INCIDENT_SEVERITY.get(incident, Severity.INFO),
    )


_DEFENDER_SEVERITY = {"High": Severity.HIGH, "Medium": Severity.MEDIUM}


@normalizer(
    "azure.defender.security_alert",
    source_kind="Azure Defender for Cloud alert (activity log security, common alert schema)",
    envelope=_MON,
    routes=("service:Activity Log - Security",),
    docs=_ALERT_DOC,
    event_types=(EventType.threat_finding,),
)
def security_alert(env: Envelope, d: Fields) -> UnifiedEvent:
    context = d.obj("alertContext")
    props = context.obj("properties")
    level = props.opt_str("severity")
    return _alert(
        env,
        d,
        EventType.threat_finding,
        {
            "operation": context.opt_str("operationName"),
            "category": props.opt_str("category"),
            "compromised_entity": props.opt_str("compromisedEntity"),
            "threat_status": props.opt_str("threatStatus"),
            "action_taken": props.opt_str("actionTaken"),
            "provider_severity": level,
        },
        severity=_DEFENDER_SEVERITY.get(level, Severity.INFO),
    )


@normalizer(
    "azure.monitor.generic",
    source_kind="Azure Monitor alert",
    envelope=_MON,
    routes=("*",),
    docs=_ALERT_DOC,
    event_types=(EventType.generic,),
)
def monitor_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    targets: list[str] = env.meta.get("targets", [])
    rid = targets[0] if targets else env.event_id
    rtype, name = parse_resource_id(rid) if targets else ("Microsoft.AlertsManagement/alerts", rid)
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type=rtype,
        resource_id=rid,
        name=name,
        metadata={
            "monitoring_service": env.meta.get("service", ""),
            "schema": env.meta.get("schema", "azureMonitorCommonAlertSchema"),
        },
    )


@normalizer(
    "azure.cost.budget_alert",
    source_kind="Azure Cost Management budget alert (AIP Budget Notification)",
    envelope="azure_budget",
    routes=("budget",),
    docs="https://learn.microsoft.com/en-us/azure/cost-management-billing/manage/cost-management-budget-scenario",
    event_types=(EventType.budget_exceeded, EventType.budget_warning),
)
def budget_alert(env: Envelope, d: Fields) -> UnifiedEvent:
    spent, budget = d.num("SpendingAmount"), d.num("Budget")
    if budget <= 0:
        raise d.fail("Budget", "must be greater than zero")
    percent = round(spent / budget * 100, 2)
    name = d.text("BudgetName")
    return make_event(
        env,
        event_type=EventType.budget_exceeded if percent >= 100 else EventType.budget_warning,
        resource_type="Microsoft.Consumption/budgets",
        resource_id=f"/subscriptions/{env.account_id}/providers/Microsoft.Consumption/budgets/{name}",
        name=name,
        cost_impact=round(max(spent - budget, 0.0), 2),
        metadata={
            "budget_amount": budget,
            "actual_spend": spent,
            "percent_used": percent,
            "overrun_amount": round(max(spent - budget, 0.0), 2),
            "currency": d.opt_str("Unit"),
            "threshold": d.opt_num("NotificationThresholdAmount"),
            "budget_type": d.opt_str("BudgetType"),
        },
    )
