"""AWS service events delivered by Amazon EventBridge (not CloudTrail): EC2 state changes, CloudWatch alarms,
RDS, Cost Anomaly Detection, GuardDuty, Security Hub, AWS Health, and the generic fallback.

The envelope parser and the CloudTrail normalizers are in ``escher.clouds.aws.events``.
"""

from __future__ import annotations

import json
from typing import Any

from escher.events._base import Envelope, make_event, metric_signal, normalizer
from escher.events._fields import Fields
from escher.events.model import EventType, Severity, UnifiedEvent

_EB = "eventbridge"


@normalizer(
    "aws.ec2.instance_state_change",
    source_kind="EventBridge EC2 Instance State-change Notification",
    envelope=_EB,
    routes=("aws.ec2|EC2 Instance State-change Notification",),
    docs="https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html",
    event_types=(EventType.vm_state_changed,),
)
def instance_state_change(env: Envelope, d: Fields) -> UnifiedEvent:
    instance = d.text("instance-id")
    resources = env.meta["resources"]
    arn = resources[0] if resources and isinstance(resources[0], str) else instance
    return make_event(
        env,
        event_type=EventType.vm_state_changed,
        resource_type="AWS::EC2::Instance",
        resource_id=arn,
        name=instance,
        metadata={"state": d.text("state")},
    )


# CloudWatch dimensions that name the watched resource: the event is about it, not about the alarm.
_DIMENSIONS = {
    "InstanceId": "AWS::EC2::Instance",
    "DBInstanceIdentifier": "AWS::RDS::DBInstance",
    "DBClusterIdentifier": "AWS::RDS::DBCluster",
    "VolumeId": "AWS::EC2::Volume",
    "BucketName": "AWS::S3::Bucket",
    "LoadBalancer": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "FunctionName": "AWS::Lambda::Function",
}


@normalizer(
    "aws.cloudwatch.alarm_state_change",
    source_kind="EventBridge CloudWatch Alarm State Change",
    envelope=_EB,
    routes=("aws.cloudwatch|CloudWatch Alarm State Change",),
    docs="https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html",
    event_types=(EventType.metric_alarm,),
)
def alarm_state_change(env: Envelope, d: Fields) -> UnifiedEvent:
    alarm = d.text("alarmName")
    state = d.obj("state")
    previous = d.opt_obj("previousState")
    config = d.opt_obj("configuration")
    metric_name, namespace, dims = "", "", {}
    for m in config.objs("metrics") if config else []:
        stat = m.opt_obj("metricStat")
        metric = stat.opt_obj("metric") if stat else None
        if metric:
            metric_name, namespace = metric.opt_str("name"), metric.opt_str("namespace")
            dims = metric.str_map("dimensions")
            break
    value, threshold = _reason_numbers(state.opt_str("reasonData"))
    resources = env.meta["resources"]
    alarm_arn = resources[0] if resources and isinstance(resources[0], str) else alarm
    rtype, rid = next(
        ((t, dims[k]) for k, t in _DIMENSIONS.items() if k in dims), ("AWS::CloudWatch::Alarm", alarm_arn)
    )
    name = rid.rsplit(":", 1)[-1]
    qualifier = dims.get("Resource", "").partition(":")[2]
    if rtype == "AWS::Lambda::Function" and qualifier and not qualifier.isdigit():
        # a Lambda metric per alias (Resource = FUNCTION:ALIAS; a version is all digits): the alias is watched
        rtype, rid = "AWS::Lambda::Alias", dims["Resource"]
        name = rid
    facts = {"utilization_percent": value} if value is not None and _is_percent(metric_name) else {}
    return make_event(
        env,
        event_type=EventType.metric_alarm,
        resource_type=rtype,
        resource_id=rid,
        name=name,
        metadata={
            **facts,
            "state": state.text("value").lower(),
            "previous_state": (previous.opt_str("value") if previous else "").lower(),
            "alarm_name": alarm,
            "alarm_arn": alarm_arn,
            "metric_name": metric_name,
            "namespace": namespace,
            "dimensions": dims,
            "metric_value": value,
            "threshold": threshold,
            "signal": metric_signal(metric_name),
            "reason": state.opt_str("reason"),
        },
    )


def _is_percent(metric_name: str) -> bool:
    """Metrics whose value is a percentage of a capacity (CPUUtilization, StorageUsedPercent...): the value is
    the utilisation the scale-up switch's bar compares (``[remediation] capacity_percent``)."""
    return metric_name.lower().endswith(("utilization", "utilisation", "percent", "percentage"))


def _reason_numbers(reason_data: str) -> tuple[float | None, float | None]:
    """reasonData is a JSON string inside the event; unreadable means 'not given', not a broken event."""
    try:
        data = json.loads(reason_data) if reason_data else {}
    except (json.JSONDecodeError, RecursionError):
        return None, None
    if not isinstance(data, dict):
        return None, None
    points = data.get("recentDatapoints")
    value = points[-1] if isinstance(points, list) and points else None
    threshold = data.get("threshold")
    return (
        float(value) if isinstance(value, int | float) and _is_num(value) else None,
        float(threshold) if isinstance(threshold, int | float) and _is_num(threshold) else None,
    )


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


# RDS events that mean the instance stopped serving (RDS event categories "failure", and the shutdown event).
_RDS_DOWN_IDS = {
    "RDS-EVENT-0004",
    "RDS-EVENT-0022",
    "RDS-EVENT-0031",
    "RDS-EVENT-0034",
    "RDS-EVENT-0035",
    "RDS-EVENT-0036",
    "RDS-EVENT-0058",
    "RDS-EVENT-0221",
}


@normalizer(
    "aws.rds.db_instance_event",
    source_kind="EventBridge RDS DB Instance Event",
    envelope=_EB,
    routes=("aws.rds|RDS DB Instance Event",),
    docs="https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-cloud-watch-events.sample.html",
    event_types=(EventType.db_down, EventType.db_event),
)
def rds_instance_event(env: Envelope, d: Fields) -> UnifiedEvent:
    categories = [c for c in d.array("EventCategories") if isinstance(c, str)]
    event_id = d.opt_str("EventID")
    down = "failure" in categories or event_id in _RDS_DOWN_IDS
    name = d.text("SourceIdentifier")
    return make_event(
        env,
        event_type=EventType.db_down if down else EventType.db_event,
        resource_type="AWS::RDS::DBInstance",
        resource_id=d.opt_str("SourceArn") or name,
        name=name,
        tags=d.str_map("Tags"),
        metadata={"rds_event_id": event_id, "categories": categories, "message": d.opt_str("Message")},
    )


@normalizer(
    "aws.ce.anomaly_detected",
    source_kind="EventBridge Cost Anomaly Detection Anomaly Detected",
    envelope=_EB,
    routes=("aws.ce|Anomaly Detected",),
    docs="https://docs.aws.amazon.com/cost-management/latest/userguide/cad-eventbridge.html",
    event_types=(EventType.cost_anomaly,),
)
def anomaly_detected(env: Envelope, d: Fields) -> UnifiedEvent:
    impact = d.obj("impact")
    resources = env.meta["resources"]
    monitor = d.opt_str("monitorArn") or (resources[0] if resources and isinstance(resources[0], str) else "")
    causes = [
        {
            "service": c.opt_str("service"),
            "region": c.opt_str("region"),
            "account": c.opt_str("linkedAccount"),
            "usage_type": c.opt_str("usageType"),
        }
        for c in d.objs("rootCauses")
    ]
    return make_event(
        env,
        event_type=EventType.cost_anomaly,
        resource_type="AWS::CE::AnomalyMonitor",
        resource_id=monitor or d.text("anomalyId"),
        name=d.opt_str("dimensionValue") or "cost monitor",
        cost_impact=impact.num("totalImpact"),
        region="global",
        metadata={
            "anomaly_id": d.text("anomalyId"),
            "impact_percentage": impact.opt_num("totalImpactPercentage"),
            "actual_spend": impact.opt_num("totalActualSpend"),
            "expected_spend": impact.opt_num("totalExpectedSpend"),
            "root_causes": causes,
        },
    )


def _guardduty_severity(score: float) -> Severity:
    # GuardDuty bands: 9-10 critical, 7-8.9 high, 4-6.9 medium, 1-3.9 low.
    return (
        Severity.CRITICAL
        if score >= 9
        else Severity.HIGH
        if score >= 7
        else Severity.MEDIUM
        if score >= 4
        else Severity.INFO
    )


@normalizer(
    "aws.guardduty.finding",
    source_kind="EventBridge GuardDuty Finding",
    envelope=_EB,
    routes=("aws.guardduty|GuardDuty Finding",),
    docs="https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings_eventbridge.html",
    event_types=(EventType.threat_finding,),
)
def guardduty_finding(env: Envelope, d: Fields) -> UnifiedEvent:
    score = d.num("severity")
    res = d.opt_obj("resource")
    rtype, rid, tags = "AWS::GuardDuty::Finding", d.opt_str("arn") or d.text("id"), {}
    instance = res.opt_obj("instanceDetails") if res else None
    if instance and instance.has("instanceId"):
        rtype, rid = "AWS::EC2::Instance", instance.text("instanceId")
        tags = {t.text("key"): t.opt_str("value") for t in instance.objs("tags")}
    elif res and res.array("s3BucketDetails"):
        bucket = res.objs("s3BucketDetails")[0]
        rtype, rid = "AWS::S3::Bucket", bucket.opt_str("arn") or bucket.text("name")
    elif res and (key := res.opt_obj("accessKeyDetails")):
        rtype, rid = "AWS::IAM::AccessKey", key.opt_str("accessKeyId") or key.opt_str("userName") or rid
    return make_event(
        env,
        event_type=EventType.threat_finding,
        severity=_guardduty_severity(score),
        resource_type=rtype,
        resource_id=rid,
        name=rid.rsplit("/", 1)[-1],
        tags=tags,
        metadata={
            "finding_id": d.text("id"),
            "finding_type": d.text("type"),
            "title": d.opt_str("title"),
            "provider_severity": score,
            "resource_kind_reported": res.opt_str("resourceType") if res else "",
        },
    )


_ASFF_SEVERITY = {"CRITICAL": Severity.CRITICAL, "HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM}


@normalizer(
    "aws.securityhub.findings_imported",
    source_kind="EventBridge Security Hub Findings - Imported",
    envelope=_EB,
    routes=("aws.securityhub|Security Hub Findings - Imported",),
    docs="https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-cwe-event-formats.html",
    event_types=(EventType.compliance_finding, EventType.threat_finding),
)
def securityhub_finding(env: Envelope, d: Fields) -> UnifiedEvent:
    findings = d.objs("findings")
    if not findings:
        raise d.fail("findings", "is empty (Security Hub sends one finding per event)")
    f = findings[0]
    label = f.obj("Severity").opt_str("Label", "INFORMATIONAL").upper()
    types = [t for t in f.array("Types") if isinstance(t, str)]
    threat = any(t.startswith(("TTPs", "Effects", "Unusual Behaviors")) for t in types)
    compliance = f.opt_obj("Compliance")
    resources = f.objs("Resources")
    res = resources[0] if resources else None
    rid = res.text("Id") if res else f.text("Id")
    return make_event(
        env,
        event_type=EventType.threat_finding if threat else EventType.compliance_finding,
        severity=_ASFF_SEVERITY.get(label, Severity.INFO),
        resource_type=res.opt_str("Type", "Other") if res else "Other",
        resource_id=rid,
        name=rid.rsplit("/", 1)[-1].rsplit(":", 1)[-1],
        tags=res.str_map("Tags") if res else {},
        account_id=f.opt_str("AwsAccountId") or env.account_id,
        region=(res.opt_str("Region") if res else "") or env.region,
        metadata={
            "finding_id": f.text("Id"),
            "title": f.opt_str("Title"),
            "types": types,
            "product": f.opt_str("ProductName"),
            "provider_severity": label,
            "compliance_status": compliance.opt_str("Status") if compliance else "",
            "generator": f.opt_str("GeneratorId"),
        },
    )


@normalizer(
    "aws.health.event",
    source_kind="EventBridge AWS Health Event",
    envelope=_EB,
    routes=("aws.health|AWS Health Event",),
    docs="https://docs.aws.amazon.com/health/latest/ug/aws-health-events-eventbridge-schema.html",
    event_types=(EventType.service_health,),
)
def health_event(env: Envelope, d: Fields) -> UnifiedEvent:
    category = d.opt_str("eventTypeCategory")
    entities = [e.opt_str("entityValue") for e in d.objs("affectedEntities")]
    descriptions = d.objs("eventDescription")
    return make_event(
        env,
        event_type=EventType.service_health,
        severity=Severity.MEDIUM if category == "issue" else Severity.INFO,
        resource_type=f"AWS::Health::{d.opt_str('service', 'Unknown')}",
        resource_id=entities[0] if entities else d.text("eventArn"),
        name=entities[0] if entities else d.opt_str("eventTypeCode"),
        region=d.opt_str("eventRegion") or env.region,
        metadata={
            "event_arn": d.text("eventArn"),
            "service": d.opt_str("service"),
            "event_type_code": d.opt_str("eventTypeCode"),
            "category": category,
            "status": d.opt_str("statusCode"),
            "affected_entities": entities,
            "description": descriptions[0].opt_str("latestDescription") if descriptions else "",
        },
    )


@normalizer(
    "aws.eventbridge.generic",
    source_kind="EventBridge event",
    envelope=_EB,
    routes=("*",),
    docs="https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html",
    event_types=(EventType.generic,),
)
def generic(env: Envelope, d: Fields) -> UnifiedEvent:
    resources = [r for r in env.meta["resources"] if isinstance(r, str)]
    source = env.meta["source"]
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type=source,
        resource_id=resources[0] if resources else env.event_id,
        name=(resources[0] if resources else source).rsplit("/", 1)[-1],
        metadata={"source": source, "detail_type": env.meta["detail-type"]},
    )
