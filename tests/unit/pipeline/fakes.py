"""Fakes for the pipeline's unit tests: real-shaped events and an in-memory S3 behind the real operation.

``FakeS3`` answers the three calls ``aws.s3.block_public_access`` makes (head_bucket, get/put public access
block) with botocore's own error type, so the catalogue's operation and the engine run unchanged; it counts the
changes it receives (the "actions").
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from escher.ops import CloudContext

SAMPLES = Path(__file__).parents[1] / "events" / "samples"


def bucket_public_event(event_id: str, bucket: str, *, region: str = "us-east-1") -> dict[str, Any]:
    """An EventBridge "AWS API Call via CloudTrail" PutBucketAcl granting READ to AllUsers."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2024-05-02T09:15:00Z",
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "arn": "arn:aws:iam::123456789012:user/john",
                "userName": "john",
            },
            "eventTime": "2024-05-02T09:14:58Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketAcl",
            "awsRegion": region,
            "sourceIPAddress": "203.0.113.10",
            "requestParameters": {
                "bucketName": bucket,
                "AccessControlPolicy": {
                    "AccessControlList": {
                        "Grant": [
                            {
                                "Grantee": {
                                    "xsi:type": "Group",
                                    "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
                                },
                                "Permission": "READ",
                            }
                        ]
                    }
                },
            },
            "responseElements": None,
            "eventID": f"ct-{event_id}",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": "123456789012",
        },
    }


def sg_open_event(
    event_id: str, group_id: str, *, region: str = "us-east-1", port: int = 22
) -> dict[str, Any]:
    """An EventBridge AuthorizeSecurityGroupIngress opening ``port`` to 0.0.0.0/0 (shape of the samples)."""
    sample = json.loads((SAMPLES / "aws" / "ec2_authorize_ingress_world.json").read_text())
    event = copy.deepcopy(sample)
    event["id"], event["region"] = event_id, region
    event["detail"]["awsRegion"] = region
    params = event["detail"]["requestParameters"]
    params["groupId"] = group_id
    for item in params.get("ipPermissions", {}).get("items", []):
        item["fromPort"] = item["toPort"] = port
    return event


def _error(code: str, op: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, op)


class FakeS3:
    def __init__(self, buckets: list[str]) -> None:
        self.blocks: dict[str, dict[str, bool]] = {b: {} for b in buckets}
        self.puts = 0
        self._lock = threading.Lock()

    def head_bucket(self, Bucket: str) -> dict[str, Any]:
        if Bucket not in self.blocks:
            raise _error("404", "HeadBucket")
        return {}

    def get_public_access_block(self, Bucket: str) -> dict[str, Any]:
        with self._lock:
            conf = dict(self.blocks[Bucket])
        if not conf:
            raise _error("NoSuchPublicAccessBlockConfiguration", "GetPublicAccessBlock")
        return {"PublicAccessBlockConfiguration": conf}

    def put_public_access_block(
        self, Bucket: str, PublicAccessBlockConfiguration: dict[str, bool]
    ) -> dict[str, Any]:
        with self._lock:
            self.blocks[Bucket] = dict(PublicAccessBlockConfiguration)
            self.puts += 1
        return {}


class FakeS3Context(CloudContext):
    """A CloudContext whose S3 client is the in-memory fake (every other service is unavailable)."""

    def __init__(self, s3: FakeS3) -> None:
        super().__init__()
        self.s3 = s3

    def aws(self, service: str, region: str | None = None) -> Any:
        assert service == "s3", f"the fake cloud has no {service}"
        return self.s3
