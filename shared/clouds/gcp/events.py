"""GCP events delivered by Pub/Sub: the push envelope and the Eventarc CloudEvent
(``google.cloud.pubsub.topic.v1.messagePublished``) carry the same message.

The message data is base64 JSON: a Cloud Audit Log entry from a log sink, a Cloud Monitoring incident, a Cloud
Billing budget notification or a Security Command Center finding. Routes: ``audit:<method>`` (the API version
prefix dropped: ``v1.compute.firewalls.insert`` -> ``compute.firewalls.insert``), ``monitoring.incident``,
``billing.budget``, ``scc.finding``. An audit entry whose ``status.code`` is not 0 is a failed call.
"""

from __future__ import annotations

import binascii
import json
from datetime import datetime
from typing import Any

from escher.events._base import Envelope, make_event, metric_signal, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.model import CloudProvider, EventType, Severity, UnifiedEvent

__all__ = ["PARSERS"]

_PS = "pubsub"
_AUDIT_DOC = "https://cloud.google.com/logging/docs/audit/understanding-audit-logs"
_WORLD = {"0.0.0.0/0", "::/0"}
_PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}


def _decode(message: Fields) -> Any:
    """The message data as JSON; data that is not JSON stays a string (a generic event, not an error)."""
    raw = message.opt_str("data")
    if not raw:
        return None
    try:
        # binascii directly: base64.b64decode(validate=True) is this call behind two Python frames
        text = binascii.a2b_base64(raw, strict_mode=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise message.fail("data", "is not base64-encoded UTF-8") from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


def _envelope(push: Fields, raw: dict[str, Any]) -> tuple[Envelope, tuple[str, ...]]:
    message = push.obj("message")
    attributes = message.str_map("attributes")
    body = _decode(message)
    subscription = push.opt_str("subscription")
    project = (
        subscription.split("/")[1] if subscription.startswith("projects/") and "/" in subscription[9:] else ""
    )
    message_id = message.opt_str("messageId") or message.text("message_id")
    publish = message.data.get("publishTime") or message.data.get("publish_time")
    env = Envelope(
        envelope=_PS,
        cloud=CloudProvider.gcp,
        event_id=message_id,
        account_id=project or "unknown",
        region="global",
        time=parse_time(publish, push.kind, lambda: f"{message.path}.publishTime"),
        body=body,
        raw=raw,
        meta={"attributes": attributes, "subscription": subscription},
    )
    return env, _routes(body, attributes)


def _routes(body: Any, attributes: dict[str, str]) -> tuple[str, ...]:
    if "budgetId" in attributes and "billingAccountId" in attributes:
        return ("billing.budget",)
    if not isinstance(body, dict):
        return ("*",)
    proto = body.get("protoPayload")
    if isinstance(proto, dict):
        status = proto.get("status")
        if isinstance(status, dict) and status.get("code") not in (None, 0):
            return ("audit:failed",)
        method = proto.get("methodName")
        method = (
            method.split(".", 1)[1]
            if isinstance(method, str) and method.startswith(("v1.", "beta.", "alpha."))
            else method
        )
        return (f"audit:{method}", "audit:*")
    if "incident" in body:
        return ("monitoring.incident",)
    if "finding" in body:
        return ("scc.finding",)
    return ("*",)


def parse_push(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    return _envelope(Fields(data, "Pub/Sub push"), data)


def parse_cloudevent(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "Pub/Sub CloudEvent")
    inner = top.obj("data")
    env, routes = _envelope(inner, data)
    if env.account_id == "unknown":  # source: //pubsub.googleapis.com/projects/P/topics/T
        parts = top.opt_str("source").split("/")
        env.account_id = parts[parts.index("projects") + 1] if "projects" in parts[:-1] else "unknown"
    return env, routes


PARSERS = {"pubsub": parse_push, "pubsub_cloudevent": parse_cloudevent}


# -- Cloud Audit Logs ------------------------------------------------------------------------------------
def _audit(
    env: Envelope,
    d: Fields,
    event_type: EventType,
    meta: dict[str, Any],
    *,
    resource_type: str = "",
    region: str = "",
) -> UnifiedEvent:
    proto = d.obj("protoPayload")
    resource = d.opt_obj("resource")
    labels = resource.str_map("labels") if resource else {}
    name = proto.text("resourceName")
    auth = proto.opt_obj("authenticationInfo")
    request_meta = proto.opt_obj("requestMetadata")
    return make_event(
        env,
        event_type=event_type,
        resource_type=resource_type
        or (resource.opt_str("type") if resource else "")
        or proto.opt_str("serviceName"),
        resource_id=name,
        name=name.rstrip("/").rsplit("/", 1)[-1],
        account_id=labels.get("project_id") or env.account_id,
        region=region or labels.get("zone") or labels.get("region") or labels.get("location") or "global",
        time=parse_time(d.data.get("timestamp"), d.kind, lambda: d.where("timestamp"))
        if d.has("timestamp")
        else None,
        metadata={
            "method": proto.opt_str("methodName"),
            "actor": auth.opt_str("principalEmail") if auth else "",
            "caller_ip": request_meta.opt_str("callerIp") if request_meta else "",
            **meta,
        },
    )


def _binding_deltas(proto: Fields) -> list[Fields]:
    for holder in ("serviceData", "metadata"):
        outer = proto.opt_obj(holder)
        delta = outer.opt_obj("policyDelta") if outer else None
        if delta:
            return delta.objs("bindingDeltas")
    return []


@normalizer(
    "gcp.storage.set_iam_permissions",
    source_kind="Pub/Sub audit log storage.setIamPermissions",
    envelope=_PS,
    routes=("audit:storage.setIamPermissions",),
    docs=_AUDIT_DOC,
    event_types=(EventType.storage_bucket_public, EventType.storage_bucket_changed),
)
def storage_set_iam(env: Envelope, d: Fields) -> UnifiedEvent:
    deltas = _binding_deltas(d.obj("protoPayload"))
    evidence = [
        f"{x.opt_str('role')} granted to {x.opt_str('member')}"
        for x in deltas
        if x.opt_str("action") == "ADD" and x.opt_str("member") in _PUBLIC_MEMBERS
    ]
    changes = [
        {"action": x.opt_str("action"), "role": x.opt_str("role"), "member": x.opt_str("member")}
        for x in deltas
    ]
    return _audit(
        env,
        d,
        EventType.storage_bucket_public if evidence else EventType.storage_bucket_changed,
        {"public": bool(evidence), "evidence": evidence, "binding_changes": changes},
    )


def _firewall(env: Envelope, d: Fields) -> UnifiedEvent:
    request = d.obj("protoPayload").opt_obj("request")
    if request is None:  # the closing entry of a long-running operation has no request: re-read the rule
        return _audit(env, d, EventType.security_group_changed, {"check": "open_to_world"})
    ranges = [r for r in request.array("sourceRanges") if isinstance(r, str)]
    ingress = request.opt_str("direction", "INGRESS") == "INGRESS" and not request.opt_bool("disabled")
    allowed = [
        {"protocol": a.opt_str("IPProtocol"), "ports": [str(p) for p in a.array("ports")]}
        for a in request.objs("alloweds")
    ]
    world = ingress and bool(allowed) and bool(_WORLD.intersection(ranges))
    return _audit(
        env,
        d,
        EventType.security_group_open_to_world if world else EventType.security_group_changed,
        {
            "source_ranges": ranges,
            "allowed": allowed,
            "direction": request.opt_str("direction", "INGRESS"),
            "open_ports": sorted({p for a in allowed for p in a["ports"]}) if world else [],
        },
    )


_FW_TYPES = (EventType.security_group_open_to_world, EventType.security_group_changed)


@normalizer(
    "gcp.compute.firewalls_insert",
    source_kind="Pub/Sub audit log compute.firewalls.insert",
    envelope=_PS,
    routes=("audit:compute.firewalls.insert",),
    docs=_AUDIT_DOC,
    event_types=_FW_TYPES,
)
def firewalls_insert(env: Envelope, d: Fields) -> UnifiedEvent:
    return _firewall(env, d)


@normalizer(
    "gcp.compute.firewalls_patch",
    source_kind="Pub/Sub audit log compute.firewalls.patch",
    envelope=_PS,
    routes=("audit:compute.firewalls.patch", "audit:compute.firewalls.update"),
    docs=_AUDIT_DOC,
    event_types=_FW_TYPES,
)
def firewalls_patch(env: Envelope, d: Fields) -> UnifiedEvent:
    return _firewall(env, d)


def _instance(env: Envelope, d: Fields, state: str) -> UnifiedEvent:
    operation = d.opt_obj("operation")
    phase = "last" if operation and operation.opt_bool("last") else "first" if operation else ""
    return _audit(env, d, EventType.vm_state_changed, {"state": state, "operation_phase": phase})


@normalizer(
    "gcp.compute.instances_stop",
    source_kind="Pub/Sub audit log compute.instances.stop",
    envelope=_PS,
    routes=("audit:compute.instances.stop",),
    docs=_AUDIT_DOC,
    event_types=(EventType.vm_state_changed,),
)
def instances_stop(env: Envelope, d: Fields) -> UnifiedEvent:
    return _instance(env, d, "stopped")


@normalizer(
    "gcp.compute.instances_delete",
    source_kind="Pub/Sub audit log compute.instances.delete",
    envelope=_PS,
    routes=("audit:compute.instances.delete",),
    docs=_AUDIT_DOC,
    event_types=(EventType.vm_state_changed,),
)
def instances_delete(env: Envelope, d: Fields) -> UnifiedEvent:
    return _instance(env, d, "terminated")


@normalizer(
    "gcp.cloudsql.instances_update",
    source_kind="Pub/Sub audit log cloudsql.instances.update",
    envelope=_PS,
    routes=("audit:cloudsql.instances.update", "audit:cloudsql.instances.patch"),
    docs=_AUDIT_DOC,
    event_types=(EventType.security_group_open_to_world, EventType.db_changed),
)
def cloudsql_update(env: Envelope, d: Fields) -> UnifiedEvent:
    request = d.obj("protoPayload").opt_obj("request")
    body = (request.opt_obj("body") or request) if request else None
    settings = body.opt_obj("settings") if body else None
    ip = settings.opt_obj("ipConfiguration") if settings else None
    networks = [n.opt_str("value") for n in ip.objs("authorizedNetworks")] if ip else []
    world = bool(_WORLD.intersection(networks))
    return _audit(
        env,
        d,
        EventType.security_group_open_to_world if world else EventType.db_changed,
        {
            "authorized_networks": networks,
            "open_to_world": world,
            "activation_policy": settings.opt_str("activationPolicy") if settings else "",
        },
        resource_type="cloudsql_database",
    )


@normalizer(
    "gcp.audit.api_call",
    source_kind="Pub/Sub audit log entry",
    envelope=_PS,
    routes=("audit:*",),
    docs=_AUDIT_DOC,
    event_types=(EventType.generic,),
)
def audit_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    return _audit(env, d, EventType.generic, {"service": d.obj("protoPayload").opt_str("serviceName")})


@normalizer(
    "gcp.audit.api_call_failed",
    source_kind="Pub/Sub audit log failed call",
    envelope=_PS,
    routes=("audit:failed",),
    docs=_AUDIT_DOC,
    event_types=(EventType.api_call_failed,),
)
def audit_failed(env: Envelope, d: Fields) -> UnifiedEvent:
    proto = d.obj("protoPayload")
    status = proto.obj("status")
    return _audit(
        env,
        d,
        EventType.api_call_failed,
        {
            "attempted": proto.opt_str("methodName"),
            "error_code": status.opt_str("code"),
            "error_message": status.opt_str("message"),
        },
    )


# -- Cloud Monitoring, Billing, Security Command Center --------------------------------------------------
_INCIDENT_SEVERITY = {"critical": Severity.CRITICAL, "error": Severity.HIGH, "warning": Severity.MEDIUM}
_ID_LABELS = ("instance_id", "database_id", "bucket_name", "volume_id", "cluster_name", "service_name")


@normalizer(
    "gcp.monitoring.incident",
    source_kind="Pub/Sub Cloud Monitoring incident",
    envelope=_PS,
    routes=("monitoring.incident",),
    docs="https://cloud.google.com/monitoring/support/notification-options#schema-pubsub",
    event_types=(EventType.metric_alarm,),
)
def monitoring_incident(env: Envelope, d: Fields) -> UnifiedEvent:
    inc = d.obj("incident")
    state = inc.text("state").lower()
    resource = inc.opt_obj("resource")
    labels = resource.str_map("labels") if resource else {}
    resource_type = (resource.opt_str("type") if resource else "") or "monitored_resource"
    metric = inc.opt_obj("metric")
    metric_type = metric.opt_str("type") if metric else ""
    metric_labels = metric.str_map("labels") if metric else {}
    display_name = inc.opt_str("resource_display_name")
    rid = (
        _resource_path(resource_type, labels, display_name)
        or next((labels[k] for k in _ID_LABELS if labels.get(k)), "")
        or inc.opt_str("resource_id")
        or inc.opt_str("resource_name")
        or inc.text("incident_id")
    )
    when = (
        inc.data.get("ended_at") if state == "closed" and inc.has("ended_at") else inc.data.get("started_at")
    )
    value = inc.opt_num("observed_value")
    # Cloud Monitoring's */utilization metrics are fractions (0.912): as a percentage, the scale-up switch's bar
    facts = (
        {"utilization_percent": round(value * 100, 2)}
        if value is not None and metric_type.endswith("/utilization")
        else {}
    )
    extra: dict[str, Any] = {"metric_labels": metric_labels} if metric_labels else {}
    if metric_labels.get("response_code_class"):
        extra["response_code_class"] = metric_labels["response_code_class"]
    if resource_type == "gce_instance" and labels.get("instance_id"):
        extra["instance_id"] = labels["instance_id"]
    return make_event(
        env,
        event_type=EventType.metric_alarm,
        resource_type=resource_type,
        resource_id=rid,
        name=display_name or rid,
        severity=_INCIDENT_SEVERITY.get(inc.opt_str("severity").lower(), Severity.INFO),
        account_id=inc.opt_str("scoping_project_id") or labels.get("project_id") or env.account_id,
        region=labels.get("zone") or labels.get("region") or labels.get("location") or "global",
        time=parse_time(when, d.kind, lambda: f"{inc.path}.started_at") if when is not None else None,
        metadata={
            **facts,
            "state": {"open": "alarm", "closed": "ok"}.get(state, state),
            "incident_id": inc.text("incident_id"),
            "policy_name": inc.opt_str("policy_name"),
            "condition_name": inc.opt_str("condition_name"),
            "metric_name": metric_type,
            "metric_value": value,
            "threshold": inc.opt_num("threshold_value"),
            "signal": metric_signal(metric_type),
            "summary": inc.opt_str("summary"),
            "url": inc.opt_str("url"),
            "labels": labels,
            **extra,
        },
    )


def _resource_path(resource_type: str, labels: dict[str, str], display_name: str) -> str:
    """The API path of an incident's resource where an operation needs one: a Compute Engine instance by name
    (its label is the numeric id; the incident's display name is the instance name), a Cloud Run service."""
    project = labels.get("project_id")
    if resource_type == "gce_instance" and project and labels.get("zone") and display_name:
        return f"projects/{project}/zones/{labels['zone']}/instances/{display_name}"
    if (
        resource_type == "cloud_run_revision"
        and project
        and labels.get("location")
        and labels.get("service_name")
    ):
        return f"projects/{project}/locations/{labels['location']}/services/{labels['service_name']}"
    return ""


@normalizer(
    "gcp.billing.budget",
    source_kind="Pub/Sub Cloud Billing budget notification",
    envelope=_PS,
    routes=("billing.budget",),
    docs="https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications",
    event_types=(EventType.budget_exceeded, EventType.budget_warning, EventType.budget_status),
)
def billing_budget(env: Envelope, d: Fields) -> UnifiedEvent:
    attributes: dict[str, str] = env.meta["attributes"]
    cost, budget = d.num("costAmount"), d.num("budgetAmount")
    if budget <= 0:
        raise d.fail("budgetAmount", "must be greater than zero")
    percent = round(cost / budget * 100, 2)
    threshold = d.opt_num("alertThresholdExceeded")
    event_type = (
        EventType.budget_exceeded
        if percent >= 100
        else EventType.budget_warning
        if threshold is not None
        else EventType.budget_status
    )
    overrun = round(max(cost - budget, 0.0), 2)
    account = attributes["billingAccountId"]
    return make_event(
        env,
        event_type=event_type,
        resource_type="billing_budget",
        resource_id=f"billingAccounts/{account}/budgets/{attributes['budgetId']}",
        name=d.opt_str("budgetDisplayName") or attributes["budgetId"],
        account_id=account,
        cost_impact=overrun,
        metadata={
            "budget_amount": budget,
            "actual_spend": cost,
            "percent_used": percent,
            "overrun_amount": overrun,
            "currency": d.opt_str("currencyCode"),
            "threshold": threshold,
            "forecast_threshold": d.opt_num("forecastThresholdExceeded"),
            "interval_start": d.opt_str("costIntervalStart"),
        },
    )


_SCC_TYPES = {
    "PUBLIC_BUCKET_ACL": EventType.storage_bucket_public,
    "OPEN_FIREWALL": EventType.security_group_open_to_world,
    "OPEN_SSH_PORT": EventType.security_group_open_to_world,
    "OPEN_RDP_PORT": EventType.security_group_open_to_world,
}
_SCC_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM}


@normalizer(
    "gcp.scc.finding",
    source_kind="Pub/Sub Security Command Center finding",
    envelope=_PS,
    routes=("scc.finding",),
    docs="https://cloud.google.com/security-command-center/docs/how-to-notifications",
    event_types=(
        EventType.threat_finding,
        EventType.compliance_finding,
        EventType.storage_bucket_public,
        EventType.security_group_open_to_world,
    ),
)
def scc_finding(env: Envelope, d: Fields) -> UnifiedEvent:
    f = d.obj("finding")
    category = f.text("category")
    finding_class = f.opt_str("findingClass")
    event_type = _SCC_TYPES.get(category) or (
        EventType.threat_finding if finding_class == "THREAT" else EventType.compliance_finding
    )
    res = d.opt_obj("resource")
    target = f.text("resourceName")
    service = target.lstrip("/").split("/", 1)[0]
    return make_event(
        env,
        event_type=event_type,
        severity=_SCC_SEVERITY.get(f.opt_str("severity"), Severity.INFO),
        resource_type=(res.opt_str("type") if res else "") or service,
        resource_id=target,
        name=target.rstrip("/").rsplit("/", 1)[-1],
        account_id=(res.opt_str("projectDisplayName") if res else "") or _scc_owner(f.text("parent"), env),
        time=parse_time(f.data.get("eventTime"), d.kind, lambda: f.where("eventTime"))
        if f.has("eventTime")
        else None,
        metadata={
            "finding": f.text("name"),
            "category": category,
            "finding_class": finding_class,
            "state": f.opt_str("state"),
            "provider_severity": f.opt_str("severity"),
            "external_uri": f.opt_str("externalUri"),
        },
    )


@normalizer(
    "gcp.pubsub.generic",
    source_kind="Pub/Sub message",
    envelope=_PS,
    routes=("*",),
    docs="https://cloud.google.com/pubsub/docs/push",
    event_types=(EventType.generic,),
)
def pubsub_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    subscription = env.meta["subscription"] or "unknown-subscription"
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type="pubsub_subscription",
        resource_id=subscription,
        name=subscription.rsplit("/", 1)[-1],
        metadata={"attributes": env.meta["attributes"]},
    )


def _scc_owner(parent: str, env: Envelope) -> str:
    """organizations/123/sources/456 -> 123 (the finding's organization) when the project is not named."""
    parts = parent.split("/")
    return parts[1] if len(parts) > 1 and parts[1] else env.account_id
