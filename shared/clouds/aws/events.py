"""AWS events delivered by Amazon EventBridge.

Routes: ``<source>|<detail-type>`` for service events, ``<source>|AWS API Call via CloudTrail|<eventName>``
for CloudTrail. A CloudTrail record that carries ``errorCode`` is routed to ``api_call_failed`` before anything
else: a failed ``PutBucketAcl`` made nothing public, and must not trigger a remediation (see docs/events.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from escher.events._base import Envelope, make_event, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.model import CloudProvider, EventType, UnifiedEvent

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
