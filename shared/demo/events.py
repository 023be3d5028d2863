"""Real-shaped EventBridge deliveries of CloudTrail API calls (as AWS sends them), for the demo and the tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

__all__ = ["bucket_made_public", "cloudtrail_event", "gcs_bucket_made_public", "security_group_opened"]

ACCOUNT = "123456789012"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cloudtrail_event(
    event_id: str,
    source: str,
    event_name: str,
    request: dict[str, Any],
    *,
    region: str = "us-east-1",
    at: datetime | None = None,
    user: str = "john",
) -> dict[str, Any]:
    at = at or datetime.now(UTC)
    service = source.split(".", 1)[1]
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": ACCOUNT,
        "time": _iso(at),
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                "accountId": ACCOUNT,
                "userName": user,
            },
            "eventTime": _iso(at),
            "eventSource": f"{service}.amazonaws.com",
            "eventName": event_name,
            "awsRegion": region,
            "sourceIPAddress": "203.0.113.10",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": request,
            "responseElements": None,
            "requestID": uuid.uuid4().hex[:16].upper(),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
        },
    }


def bucket_made_public(
    event_id: str, bucket: str, *, region: str = "us-east-1", at: datetime | None = None
) -> dict[str, Any]:
    """PutBucketAcl granting READ to AllUsers."""
    acl = {
        "AccessControlList": {
            "Grant": [{"Grantee": {"xsi:type": "Group", "URI": ALL_USERS}, "Permission": "READ"}]
        }
    }
    request = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.{region}.amazonaws.com",
        "AccessControlPolicy": acl,
    }
    return cloudtrail_event(event_id, "aws.s3", "PutBucketAcl", request, region=region, at=at)


def security_group_opened(
    event_id: str, group_id: str, *, port: int = 22, region: str = "us-east-1", at: datetime | None = None
) -> dict[str, Any]:
    """AuthorizeSecurityGroupIngress admitting 0.0.0.0/0 on ``port``."""
    request = {
        "groupId": group_id,
        "ipPermissions": {
            "items": [
                {
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                    "groups": {},
                    "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                    "ipv6Ranges": {},
                    "prefixListIds": {},
                }
            ]
        },
    }
    return cloudtrail_event(
        event_id, "aws.ec2", "AuthorizeSecurityGroupIngress", request, region=region, at=at
    )


def gcs_bucket_made_public(
    message_id: str, bucket: str, *, project: str = "shop-prod-4711", at: datetime | None = None
) -> dict[str, Any]:
    """A Cloud Audit Log entry (storage.setIamPermissions adding allUsers) as a Pub/Sub CloudEvent from a log sink."""
    import base64
    import json

    at = at or datetime.now(UTC)
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    entry = {
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "status": {},
            "authenticationInfo": {"principalEmail": "john@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.10", "callerSuppliedUserAgent": "google-cloud-sdk"},
            "serviceName": "storage.googleapis.com",
            "methodName": "storage.setIamPermissions",
            "resourceName": f"projects/_/buckets/{bucket}",
            "serviceData": {
                "@type": "type.googleapis.com/google.iam.v1.logging.AuditData",
                "policyDelta": {
                    "bindingDeltas": [
                        {"action": "ADD", "role": "roles/storage.objectViewer", "member": "allUsers"}
                    ]
                },
            },
        },
        "insertId": uuid.uuid4().hex[:12],
        "resource": {
            "type": "gcs_bucket",
            "labels": {"bucket_name": bucket, "project_id": project, "location": "europe-west1"},
        },
        "timestamp": stamp,
        "severity": "NOTICE",
        "logName": f"projects/{project}/logs/cloudaudit.googleapis.com%2Factivity",
    }
    message = {
        "data": base64.b64encode(json.dumps(entry).encode()).decode(),
        "messageId": message_id,
        "publishTime": stamp,
        "attributes": {"logging.googleapis.com/timestamp": stamp},
    }
    return {
        "specversion": "1.0",
        "id": message_id,
        "source": f"//pubsub.googleapis.com/projects/{project}/topics/escher-events",
        "type": "google.cloud.pubsub.topic.v1.messagePublished",
        "time": stamp,
        "datacontenttype": "application/json",
        "data": {"message": message, "subscription": f"projects/{project}/subscriptions/escher-events"},
    }
