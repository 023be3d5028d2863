"""Control-plane activity as the activity APIs return it, not as a push service wraps it.

``escher watch`` reads these; ``escher events normalize`` accepts them too:

- a raw CloudTrail record (one element of a trail log file's ``Records``, or what EventBridge puts in ``detail``);
- one ``Events[]`` item of CloudTrail ``LookupEvents`` (the record is the JSON *string* ``CloudTrailEvent``);
- an AWS Config rule invocation (``invokingEvent`` is a JSON string too; oversized items carry a summary only);
- one ``value[]`` entry of the Azure Activity Log REST API (``Microsoft.Insights/eventtypes/management/values``);
- one GCP Cloud Logging ``LogEntry`` (``entries.list``), the same object a log sink publishes to Pub/Sub.

The pitfall handled here: each is the *same* event the push paths already classify, in another wrapper. So the
parsers below build the envelope of the push path (``eventbridge``, ``eventgrid``, ``pubsub``) around the same
body and reuse its routes: a public-ACL ``PutBucketAcl`` read from ``LookupEvents`` meets the very normalizer
(and remediation) the EventBridge delivery meets. The event id is the provider's own id of the record
(CloudTrail ``eventID``, Activity Log ``eventDataId``, LogEntry ``insertId``), so the idempotency key is stable
however often a poller reads it. Only AWS Config has normalizers of its own.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from escher.events._base import Envelope, content_id, make_event, normalizer, parse_time
from escher.events._fields import Fields
from escher.events.errors import NormalizationError
from escher.events.model import CloudProvider, EventType, UnifiedEvent

__all__ = ["ENVELOPES", "PARSERS", "detect_activity", "trail_records"]

_CT = "AWS API Call via CloudTrail"
_CONFIG = "aws_config"
_CONFIG_DOC = "https://docs.aws.amazon.com/config/latest/developerguide/evaluate-config_develop-rules_example-events.html"


def detect_activity(data: dict[str, Any]) -> str | None:
    """The activity envelope of ``data`` from its top-level keys, or None (not an activity record)."""
    if "CloudTrailEvent" in data and "EventId" in data:
        return "cloudtrail_lookup"
    if "eventVersion" in data and "eventSource" in data and "eventName" in data:
        return "cloudtrail"
    if "invokingEvent" in data and "configRuleName" in data:
        return _CONFIG
    if "eventDataId" in data and "operationName" in data:
        return "azure_activity_log"
    if "insertId" in data and "logName" in data:
        return "gcp_log_entry"
    return None


ENVELOPES = ("cloudtrail", "cloudtrail_lookup", _CONFIG, "azure_activity_log", "gcp_log_entry")


# -- AWS CloudTrail ----------------------------------------------------------------------------------------
def _cloudtrail(record: Fields, raw: dict[str, Any]) -> tuple[Envelope, tuple[str, ...]]:
    source = record.text("eventSource")
    who = record.opt_obj("userIdentity")
    env = Envelope(
        envelope="eventbridge",  # the body is EventBridge's detail: the CloudTrail normalizers read it as is
        cloud=CloudProvider.aws,
        event_id=record.text("eventID"),
        account_id=record.opt_str("recipientAccountId")
        or (who.opt_str("accountId") if who else "")
        or "unknown",
        region=record.opt_str("awsRegion") or "global",
        time=parse_time(record.data.get("eventTime"), record.kind, lambda: record.where("eventTime")),
        body=record.data,
        raw=raw,
        meta={"source": "aws." + source.split(".", 1)[0], "detail-type": _CT, "resources": []},
    )
    if record.has("errorCode"):
        return env, ("cloudtrail|failed",)
    return env, (f"{env.meta['source']}|{_CT}|{record.opt_str('eventName')}", f"*|{_CT}")


def parse_cloudtrail(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    return _cloudtrail(Fields(data, "CloudTrail record"), data)


def parse_lookup(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "CloudTrail LookupEvents item")
    record = _json_field(top, "CloudTrailEvent")
    return _cloudtrail(Fields(record, "CloudTrail LookupEvents item", "CloudTrailEvent"), data)


def _json_field(top: Fields, key: str) -> dict[str, Any]:
    text = top.text(key)
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise top.fail(key, "is not a JSON document") from None
    if not isinstance(value, dict):
        raise top.fail(key, "must hold a JSON object")
    return value


# -- AWS Config rule invocations ---------------------------------------------------------------------------
def parse_config(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "AWS Config rule invocation")
    invoking = Fields(_json_field(top, "invokingEvent"), top.kind, "invokingEvent")
    item = invoking.opt_obj("configurationItem") or invoking.opt_obj("configurationItemSummary")
    when = (item.data.get("configurationItemCaptureTime") if item else None) or invoking.data.get(
        "notificationCreationTime"
    )
    env = Envelope(
        envelope=_CONFIG,
        cloud=CloudProvider.aws,
        # one invocation per rule and item state: the same item re-evaluated by the same rule is the same event
        event_id="config:"
        + content_id(
            [top.opt_str("configRuleArn") or top.text("configRuleName"), item.data if item else invoking.data]
        )[7:],
        account_id=top.opt_str("accountId") or (item.opt_str("awsAccountId") if item else "") or "unknown",
        region=(item.opt_str("awsRegion") if item else "") or "global",
        time=parse_time(when, top.kind, "invokingEvent.configurationItem.configurationItemCaptureTime"),
        body=item.data if item else invoking.data,
        raw=data,
        meta={"rule": top.text("configRuleName"), "message_type": invoking.opt_str("messageType")},
    )
    return env, (("item",) if item else ("*",))


_CONFIG_KINDS: dict[str, tuple[EventType, dict[str, Any]]] = {
    "AWS::S3::Bucket": (EventType.storage_bucket_changed, {"check": "public_access"}),
    "AWS::EC2::SecurityGroup": (EventType.security_group_changed, {"check": "open_to_world"}),
}


@normalizer(
    "aws.config.configuration_item",
    source_kind="AWS Config rule invocation (configuration item change)",
    envelope=_CONFIG,
    routes=("item",),
    docs=_CONFIG_DOC,
    event_types=(
        EventType.storage_bucket_changed,
        EventType.security_group_changed,
        EventType.resource_changed,
        EventType.resource_deleted,
    ),
)
def config_item(env: Envelope, d: Fields) -> UnifiedEvent:
    rtype = d.text("resourceType")
    status = d.opt_str("configurationItemStatus")
    meta: dict[str, Any] = {}
    if status in ("ResourceDeleted", "ResourceDeletedNotRecorded"):
        event_type = EventType.resource_deleted
    else:
        event_type, known = _CONFIG_KINDS.get(rtype, (EventType.resource_changed, {}))
        meta.update(known)
    rid = d.opt_str("resourceId")
    return make_event(
        env,
        event_type=event_type,
        resource_type=rtype,
        resource_id=d.opt_str("ARN") or rid or env.event_id,
        name=d.opt_str("resourceName") or rid,
        tags=d.str_map("tags"),
        metadata={
            **meta,
            "status": status,
            "rule": env.meta["rule"],
            "message_type": env.meta["message_type"],
        },
    )


@normalizer(
    "aws.config.generic",
    source_kind="AWS Config rule invocation",
    envelope=_CONFIG,
    routes=("*",),
    docs=_CONFIG_DOC,
    event_types=(EventType.generic,),
)
def config_generic(env: Envelope, d: Fields) -> UnifiedEvent:
    return make_event(
        env,
        event_type=EventType.generic,
        resource_type="AWS::Config::ConfigRule",
        resource_id=env.meta["rule"],
        name=env.meta["rule"],
        metadata={"message_type": env.meta["message_type"]},
    )


# -- Azure Activity Log ------------------------------------------------------------------------------------
_AZ_ROUTES = {
    "delete": "Microsoft.Resources.ResourceDeleteSuccess",
    "action": "Microsoft.Resources.ResourceActionSuccess",
}


def _value(f: Fields, key: str) -> str:
    """Activity Log names are localizable: ``{"value": ..., "localizedValue": ...}``."""
    inner = f.opt_obj(key)
    return inner.opt_str("value") if inner else f.opt_str(key)


def parse_activity_log(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    top = Fields(data, "Azure Activity Log entry")
    operation = _value(top, "operationName")
    status = _value(top, "status")
    resource_id = top.opt_str("resourceId")
    # the body in Event Grid's resource-event shape, so the ARM-operation normalizers read it unchanged
    body: dict[str, Any] = {
        "resourceUri": resource_id,
        "operationName": operation,
        "status": status,
        "claims": top.data.get("claims") if isinstance(top.data.get("claims"), dict) else {},
        "resourceGroup": top.opt_str("resourceGroupName"),
        "correlationId": top.opt_str("correlationId"),
        "subscriptionId": top.opt_str("subscriptionId"),
        "caller": top.opt_str("caller"),
    }
    if status == "Succeeded" and _value(top, "category") in ("Administrative", ""):
        kind = operation.rsplit("/", 1)[-1].lower()
        route = _AZ_ROUTES.get(kind, "Microsoft.Resources.ResourceWriteSuccess")
    else:  # Started / Accepted / Failed, other categories: a valid entry, not classified
        route = f"Microsoft.Insights.ActivityLog.{status or 'Unknown'}"
    env = Envelope(
        envelope="eventgrid",
        cloud=CloudProvider.azure,
        event_id=top.text("eventDataId"),
        account_id=top.opt_str("subscriptionId") or "unknown",
        region="unknown",
        time=parse_time(top.data.get("eventTimestamp"), top.kind, "eventTimestamp"),
        body=body,
        raw=data,
        meta={"event_type": route, "topic": "", "subject": resource_id},
    )
    return env, (route,)


# -- GCP Cloud Logging -------------------------------------------------------------------------------------
def parse_log_entry(data: dict[str, Any], _received: datetime | None) -> tuple[Envelope, tuple[str, ...]]:
    from escher.clouds.gcp.events import _routes

    top = Fields(data, "Cloud Logging LogEntry")
    log_name = top.text("logName")
    resource = top.opt_obj("resource")
    labels = resource.str_map("labels") if resource else {}
    parts = log_name.split("/")
    project = labels.get("project_id") or (parts[1] if len(parts) > 2 and parts[0] == "projects" else "")
    env = Envelope(
        envelope="pubsub",  # the body a log sink publishes: the audit-log normalizers read it as is
        cloud=CloudProvider.gcp,
        # insertId is unique per log and timestamp; the log name keeps two logs' ids apart
        event_id=f"{top.text('insertId')}@{top.opt_str('timestamp') or log_name}",
        account_id=project or "unknown",
        region="global",
        time=parse_time(top.data.get("timestamp") or top.data.get("receiveTimestamp"), top.kind, "timestamp"),
        body=data,
        raw=data,
        meta={"attributes": {}, "subscription": ""},
    )
    return env, _routes(data, {})


PARSERS = {
    "cloudtrail": parse_cloudtrail,
    "cloudtrail_lookup": parse_lookup,
    _CONFIG: parse_config,
    "azure_activity_log": parse_activity_log,
    "gcp_log_entry": parse_log_entry,
}


def trail_records(payload: Any) -> list[dict[str, Any]]:
    """The records of a CloudTrail log file (``{"Records": [...]}``), each one event for :func:`normalize`."""
    records = payload.get("Records") if isinstance(payload, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise NormalizationError("CloudTrail log file", "Records", "must be a list of records")
    return records
