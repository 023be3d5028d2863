"""AWS events delivered by Amazon EventBridge.

Routes: ``<source>|<detail-type>`` for service events, ``<source>|AWS API Call via CloudTrail|<eventName>``
for CloudTrail. A CloudTrail record that carries ``errorCode`` is routed to ``api_call_failed`` before anything
else: a failed ``PutBucketAcl`` made nothing public, and must not trigger a remediation (see docs/events.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from escher.events._base import Envelope, make_event, metric_signal, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.model import CloudProvider, EventType, Severity, UnifiedEvent

__all__ = ["PARSERS"]

_CT = "AWS API Call via CloudTrail"
_EB = "eventbridge"
_PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_PUBLIC_CANNED = {"public-read", "public-read-write", "authenticated-read"}
_WORLD = {"0.0.0.0/0", "::/0"}


def parse_eventbridge(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "EventBridge event")
    source = top.text("source")
    detail_type = top.text("detail-type")
    detail = top.obj("detail")
    env = Envelope(
        envelope=_EB,
        cloud=CloudProvider.aws,
        event_id=top.text("id"),
        account_id=top.text("account"),
        region=top.opt_str("region") or "global",
        time=parse_time(data.get("time"), "EventBridge event", "time"),
        body=detail.data,
        raw=data,
        meta={"source": source, "detail-type": detail_type, "resources": top.array("resources")},
    )
    if detail_type == _CT:
        if detail.has("errorCode"):
            return env, ("cloudtrail|failed",)
        name = detail.opt_str("eventName")
        return env, (f"{source}|{_CT}|{name}", f"*|{_CT}")
    return env, (f"{source}|{detail_type}",)


PARSERS = {"eventbridge": parse_eventbridge}


# -- CloudTrail helpers -----------------------------------------------------------------------------------
def _actor(d: Fields) -> dict[str, Any]:
    who = d.opt_obj("userIdentity")
    actor = (who.opt_str("arn") or who.opt_str("principalId")) if who else ""
    return {"actor": actor, "source_ip": d.opt_str("sourceIPAddress"), "api": d.opt_str("eventName")}


def _tag_specs(params: Fields) -> dict[str, str]:
    tags: dict[str, str] = {}
    specs = params.opt_obj("tagSpecificationSet")
    for spec in specs.objs("items") if specs else []:
        for tag in spec.objs("tags"):
            tags[tag.text("key")] = tag.opt_str("value")
    return tags


def _items(f: Fields | None, key: str) -> list[Fields]:
    """CloudTrail's EC2 shape: ``{"items": [...]}`` (absent or ``{}`` means none)."""
    inner = f.opt_obj(key) if f else None
    return inner.objs("items") if inner else []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _bucket(env: Envelope, d: Fields, event_type: EventType, meta: dict[str, Any]) -> UnifiedEvent:
    bucket = d.obj("requestParameters").text("bucketName")
    return make_event(
        env,
        event_type=event_type,
        resource_type="AWS::S3::Bucket",
        resource_id=f"arn:aws:s3:::{bucket}",
        name=bucket,
        metadata={**_actor(d), **meta},
    )


_S3_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-understanding-s3-entries.html"
)
_EC2_DOC = "https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ec2.html"


@normalizer(
    "aws.s3.put_bucket_acl",
    source_kind="EventBridge CloudTrail s3:PutBucketAcl",
    envelope=_EB,
    routes=(f"aws.s3|{_CT}|PutBucketAcl",),
    docs=_S3_DOC,
    event_types=(EventType.storage_bucket_public, EventType.storage_bucket_changed),
)
def put_bucket_acl(env: Envelope, d: Fields) -> UnifiedEvent:
    params = d.obj("requestParameters")
    evidence: list[str] = []
    canned = params.data.get("x-amz-acl")  # CloudTrail records the header as a list of strings
    evidence += [f"canned ACL {c}" for c in _as_list(canned) if isinstance(c, str) and c in _PUBLIC_CANNED]
    policy = params.opt_obj("AccessControlPolicy")
    acl = policy.opt_obj("AccessControlList") if policy else None
    grants = acl.data.get("Grant") if acl else None
    for i, grant in enumerate(_as_list(grants) if grants is not None else []):
        g = Fields(
            grant, d.kind, f"{d.path}.requestParameters.AccessControlPolicy.AccessControlList.Grant[{i}]"
        )
        grantee = g.opt_obj("Grantee")
        uri = grantee.opt_str("URI") if grantee else ""
        if uri in _PUBLIC_GRANTEES:
            evidence.append(f"{g.opt_str('Permission')} granted to {uri.rsplit('/', 1)[-1]}")
    public = bool(evidence)
    return _bucket(
        env,
        d,
        EventType.storage_bucket_public if public else EventType.storage_bucket_changed,
        {"public": public, "evidence": evidence},
    )


def _policy_public(policy: Any) -> list[str]:
    """Statements that Allow anyone without a Condition (the bucket policy is JSON, sometimes a string)."""
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return []
    if not isinstance(policy, dict):
        return []
    found = []
    for st in _as_list(policy.get("Statement", [])):
        if not isinstance(st, dict) or st.get("Effect") != "Allow" or st.get("Condition"):
            continue
        principal = st.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        if "*" in _as_list(aws):
            found.append(f"Allow {st.get('Action')} to Principal '*'")
    return found


@normalizer(
    "aws.s3.put_bucket_policy",
    source_kind="EventBridge CloudTrail s3:PutBucketPolicy",
    envelope=_EB,
    routes=(f"aws.s3|{_CT}|PutBucketPolicy",),
    docs=_S3_DOC,
    event_types=(EventType.storage_bucket_public, EventType.storage_bucket_changed),
)
def put_bucket_policy(env: Envelope, d: Fields) -> UnifiedEvent:
    evidence = _policy_public(d.obj("requestParameters").data.get("bucketPolicy"))
    public = bool(evidence)
    return _bucket(
        env,
        d,
        EventType.storage_bucket_public if public else EventType.storage_bucket_changed,
        {"public": public, "evidence": evidence},
    )


@normalizer(
    "aws.s3.delete_bucket_public_access_block",
    source_kind="EventBridge CloudTrail s3:DeleteBucketPublicAccessBlock",
    envelope=_EB,
    routes=(f"aws.s3|{_CT}|DeleteBucketPublicAccessBlock",),
    docs=_S3_DOC,
    event_types=(EventType.storage_public_access_block_removed,),
)
def delete_public_access_block(env: Envelope, d: Fields) -> UnifiedEvent:
    return _bucket(env, d, EventType.storage_public_access_block_removed, {"check": "public_access"})


@normalizer(
    "aws.ec2.authorize_security_group_ingress",
    source_kind="EventBridge CloudTrail ec2:AuthorizeSecurityGroupIngress",
    envelope=_EB,
    routes=(f"aws.ec2|{_CT}|AuthorizeSecurityGroupIngress",),
    docs=_EC2_DOC,
    event_types=(EventType.security_group_open_to_world, EventType.security_group_changed),
)
def authorize_ingress(env: Envelope, d: Fields) -> UnifiedEvent:
    params = d.obj("requestParameters")
    group = params.opt_str("groupId") or params.text("groupName")
    rules: list[dict[str, Any]] = []
    open_rules: list[dict[str, Any]] = []
    for perm in _items(params, "ipPermissions"):
        ranges = [r.opt_str("cidrIp") for r in _items(perm, "ipRanges")]
        ranges += [r.opt_str("cidrIpv6") for r in _items(perm, "ipv6Ranges")]
        rule: dict[str, Any] = {
            "protocol": perm.opt_str("ipProtocol"),
            "from_port": perm.opt_num("fromPort"),
            "to_port": perm.opt_num("toPort"),
            "sources": ranges,
        }
        rules.append(rule)
        if _WORLD.intersection(ranges):
            open_rules.append(rule)
    event_type = EventType.security_group_open_to_world if open_rules else EventType.security_group_changed
    ports = sorted({int(p) for r in open_rules if isinstance(p := r["from_port"], float)})
    return make_event(
        env,
        event_type=event_type,
        resource_type="AWS::EC2::SecurityGroup",
        resource_id=group,
        name=group,
        metadata={**_actor(d), "rules": rules, "open_ports": ports},
    )


@normalizer(
    "aws.ec2.create_volume",
    source_kind="EventBridge CloudTrail ec2:CreateVolume",
    envelope=_EB,
    routes=(f"aws.ec2|{_CT}|CreateVolume",),
    docs=_EC2_DOC,
    event_types=(EventType.volume_unencrypted, EventType.volume_created),
)
def create_volume(env: Envelope, d: Fields) -> UnifiedEvent:
    params = d.obj("requestParameters")
    response = d.opt_obj("responseElements")
    # The response is what AWS did (account-level default encryption may apply); the request is what was asked.
    encrypted = response.opt_bool("encrypted") if response else None
    if encrypted is None:
        encrypted = params.opt_bool("encrypted")
    volume = (response.opt_str("volumeId") if response else "") or "unknown-volume"
    event_type = EventType.volume_unencrypted if encrypted is False else EventType.volume_created
    return make_event(
        env,
        event_type=event_type,
        resource_type="AWS::EC2::Volume",
        resource_id=volume,
        name=volume,
        tags=_tag_specs(params),
        metadata={
            **_actor(d),
            "encrypted": encrypted,
            "size_gib": params.opt_num("size"),
            "availability_zone": params.opt_str("zone"),
        },
    )


@normalizer(
    "aws.ec2.run_instances",
    source_kind="EventBridge CloudTrail ec2:RunInstances",
    envelope=_EB,
    routes=(f"aws.ec2|{_CT}|RunInstances",),
    docs=_EC2_DOC,
    event_types=(EventType.vm_created,),
)
def run_instances(env: Envelope, d: Fields) -> UnifiedEvent:
    params = d.obj("requestParameters")
    launched = _items(d.opt_obj("responseElements"), "instancesSet")
    ids = [i.text("instanceId") for i in launched]
    first = ids[0] if ids else "unknown-instance"
    return make_event(
        env,
        event_type=EventType.vm_created,
        resource_type="AWS::EC2::Instance",
        resource_id=first,
        name=first,
        tags=_tag_specs(params),
        metadata={
            **_actor(d),
            "instance_ids": ids,
            "instance_type": params.opt_str("instanceType"),
            "image_id": next((i.opt_str("imageId") for i in launched), ""),
        },
    )


@normalizer(
    "aws.cloudtrail.api_call",
    source_kind="EventBridge CloudTrail API call",
    envelope=_EB,
    routes=(f"*|{_CT}",),
    docs="https://docs.aws.amazon.com/eventbridge/latest/ref/events.html",
    event_types=(EventType.generic,),
)
def api_call(env: Envelope, d: Fields) -> UnifiedEvent:
    source = d.opt_str("eventSource", "unknown")
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type=f"cloudtrail:{source}",
        resource_id=d.opt_str("eventID") or env.event_id,
        name=d.opt_str("eventName") or source,
        metadata={**_actor(d), "event_source": source},
    )


@normalizer(
    "aws.cloudtrail.api_call_failed",
    source_kind="EventBridge CloudTrail failed API call",
    envelope=_EB,
    routes=("cloudtrail|failed",),
    docs="https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html",
    event_types=(EventType.api_call_failed,),
)
def api_call_failed(env: Envelope, d: Fields) -> UnifiedEvent:
    params = d.opt_obj("requestParameters")
    target = (
        (params.opt_str("bucketName") or params.opt_str("groupId") or params.opt_str("volumeId"))
        if params
        else ""
    )
    source = d.opt_str("eventSource", "unknown")
    return make_event(
        env,
        event_type=EventType.api_call_failed,
        resource_type=f"cloudtrail:{source}",
        resource_id=target or d.opt_str("eventID") or env.event_id,
        name=target or d.opt_str("eventName"),
        metadata={
            **_actor(d),
            "attempted": f"{source}:{d.opt_str('eventName')}",
            "error_code": d.text("errorCode"),
            "error_message": d.opt_str("errorMessage"),
        },
    )


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
    return make_event(
        env,
        event_type=EventType.metric_alarm,
        resource_type=rtype,
        resource_id=rid,
        name=rid.rsplit(":", 1)[-1],
        metadata={
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
