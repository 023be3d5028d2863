"""The AWS worker end to end on moto: the Lambda handler with real EventBridge / Scheduler / SQS payloads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.audit.objects import ObjectAuditSink
from escher.emulators import MotoEmulator
from escher.pipeline.runtime import audit_objects
from escher.workers.aws.handler import handler
from tests.functional.workers.conftest import LambdaContext
from tests.unit.pipeline.fakes import bucket_public_event, sg_open_event

STATE = "escher-state-test"
DLQ = "escher-dead-letters"


@pytest.fixture
def aws_worker(aws_env: MotoEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=STATE)
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    monkeypatch.setenv("ESCHER_STATE_URL", f"s3://{STATE}")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", f"sqs://{DLQ}")
    return {"s3": s3, "sqs": sqs, "queue_url": queue_url}


def _seed_pii_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "data_classification", "Value": "PII"}]})
    s3.put_bucket_acl(Bucket=name, ACL="public-read")


def _state_keys(s3: Any, prefix: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=STATE, Prefix=prefix).get("Contents", [])]


def test_eventbridge_bucket_public_is_blocked_on_moto_and_audited_in_the_state_bucket(
    aws_worker: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = aws_worker["s3"]
    _seed_pii_bucket(s3, "my-data")
    # the nightly scan (EventBridge Scheduler -> the same handler) records the estate: my-data holds PII
    scan = handler({"job": "daily_scan"}, LambdaContext())
    assert scan["job"] == "daily_scan", scan
    # WHEN CloudTrail's PutBucketAcl arrives through EventBridge
    result = handler(bucket_public_event("0b9c-evt-1", "my-data"), LambdaContext())
    # THEN moto shows the bucket blocked, and the audit object is in the state bucket
    assert result["outcome"] == "auto_resolved", result
    assert result["severity"] == "CRITICAL"
    block = s3.get_public_access_block(Bucket="my-data")["PublicAccessBlockConfiguration"]
    assert all(block.values())
    [key] = _state_keys(s3, "audit/")
    envelope = json.loads(s3.get_object(Bucket=STATE, Key=key)["Body"].read())
    record = envelope["record"]
    assert record["action"] == "aws.s3.block_public_access" and record["outcome"] == "verified"
    assert {"event", "received", "decided", "fixed", "verified"} <= set(record["timings"])
    assert _state_keys(s3, "alerts/") == [f"alerts/{result['alert_id']}.json"]
    # powertools Metrics flushed the event-to-fix latency as CloudWatch EMF
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("EventToVerifiedFixMs" in m and "Outcome_auto_resolved" in m for m in emf), emf
    # a redelivery (EventBridge retries) does nothing twice
    again = handler(bucket_public_event("0b9c-evt-1", "my-data"), LambdaContext())
    assert again["outcome"] == "duplicate"
    assert len(_state_keys(s3, "audit/")) == 1


def test_security_group_open_to_world_waits_for_approval(aws_worker: dict[str, Any]) -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    result = handler(sg_open_event("evt-sg-1", group), LambdaContext())
    assert result["outcome"] == "needs_approval", result
    assert result["severity"] == "HIGH"
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert rules[0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]  # untouched until someone approves
    assert len(_state_keys(aws_worker["s3"], "approvals/")) == 1


def test_unreadable_event_goes_to_the_sqs_dead_letter_queue_with_the_reason(
    aws_worker: dict[str, Any],
) -> None:
    bad = {
        "version": "0",
        "id": "evt-bad",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2024-05-02T09:15:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {"eventSource": "s3.amazonaws.com"},
    }  # no eventName, no awsRegion
    result = handler(bad, LambdaContext())
    assert result["outcome"] == "dead_lettered"
    messages = aws_worker["sqs"].receive_message(
        QueueUrl=aws_worker["queue_url"], MessageAttributeNames=["All"], WaitTimeSeconds=0
    )["Messages"]
    letter = json.loads(messages[0]["Body"])
    assert letter["source"] == "eventbridge" and letter["payload"]["id"] == "evt-bad"
    assert "eventName" in letter["reason"]
    assert messages[0]["MessageAttributes"]["reason"]["StringValue"] == letter["reason"]


def test_sqs_redrive_of_a_dead_letter_replays_the_original_event(aws_worker: dict[str, Any]) -> None:
    s3 = aws_worker["s3"]
    _seed_pii_bucket(s3, "redriven")
    letter = {
        "reason": "state bucket was down",
        "error": "StateStoreError",
        "source": "eventbridge",
        "payload": bucket_public_event("evt-redrive", "redriven"),
    }
    records = [
        {
            "messageId": "m-1",
            "body": json.dumps(letter),
            "attributes": {"ApproximateReceiveCount": "1"},
            "eventSource": "aws:sqs",
        }
    ]
    reply = handler({"Records": records}, LambdaContext())
    assert reply == {"batchItemFailures": []}
    assert all(s3.get_public_access_block(Bucket="redriven")["PublicAccessBlockConfiguration"].values())


def test_unknown_scheduled_job_is_dead_lettered(aws_worker: dict[str, Any]) -> None:
    result = handler({"job": "make_coffee"}, LambdaContext())
    assert result["outcome"] == "dead_lettered" and "make_coffee" in result["reason"]


AUDIT = "escher-audit-test"


def test_audit_goes_to_the_object_lock_bucket_once_when_escher_audit_url_is_set(
    aws_worker: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = aws_worker["s3"]
    # the audit bucket as escher:aws:Extension provisions it: Object Lock with a default retention
    s3.create_bucket(Bucket=AUDIT, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=AUDIT,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    monkeypatch.setenv("ESCHER_AUDIT_URL", f"s3://{AUDIT}")
    _seed_pii_bucket(s3, "locked-data")
    assert handler({"job": "daily_scan"}, LambdaContext())["job"] == "daily_scan"

    result = handler(bucket_public_event("0b9c-evt-lock", "locked-data"), LambdaContext())

    assert result["outcome"] == "auto_resolved", result
    lock = s3.get_object_lock_configuration(Bucket=AUDIT)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    retention = lock["Rule"]["DefaultRetention"]
    assert (retention["Mode"], retention["Days"]) == ("GOVERNANCE", 1)
    audit_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=AUDIT).get("Contents", [])]
    [key] = audit_keys
    assert key.startswith("audit/") and key.endswith(".json")
    assert _state_keys(s3, "audit/") == []  # not in the state bucket
    assert _state_keys(s3, "alerts/") == [f"alerts/{result['alert_id']}.json"]  # alerts stay in state
    body = s3.get_object(Bucket=AUDIT, Key=key)["Body"].read()
    envelope = json.loads(body)
    canonical = json.dumps(envelope["record"], sort_keys=True, separators=(",", ":")).encode()
    assert envelope["sha256"] == hashlib.sha256(canonical).hexdigest()
    assert envelope["record"]["action"] == "aws.s3.block_public_access"
    assert key.endswith(f"/{envelope['record']['record_id']}.json")
    # what 'escher alerts timeline' reads: the same place, through the runtime's own resolver
    [record] = ObjectAuditSink(audit_objects()).records()
    assert record.record_id == envelope["record"]["record_id"]

    # a second delivery of the same event writes no second audit object (nor a second version)
    again = handler(bucket_public_event("0b9c-evt-lock", "locked-data"), LambdaContext())
    assert again["outcome"] == "duplicate"
    versions = s3.list_object_versions(Bucket=AUDIT).get("Versions", [])
    assert [v["Key"] for v in versions] == [key]


def test_an_event_nobody_acts_on_goes_to_the_expiring_events_log_not_the_object_lock_bucket(
    aws_worker: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = aws_worker["s3"]
    # GIVEN the environment escher:aws:Extension sets: a WORM audit bucket and the events log prefix
    s3.create_bucket(Bucket=AUDIT, ObjectLockEnabledForBucket=True)
    monkeypatch.setenv("ESCHER_AUDIT_URL", f"s3://{AUDIT}")
    monkeypatch.setenv("ESCHER_EVENTS_LOG_PREFIX", "events-log/")
    monkeypatch.setenv("ESCHER_EVENTS_LOG_DAYS", "30")
    samples = Path(__file__).parents[2] / "unit" / "events" / "samples" / "aws"
    generic = json.loads((samples / "ecs_task_state_change_generic.json").read_text())
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="ssh", Description="ssh", VpcId=vpc)["GroupId"]
    # WHEN a generic ECS event and a security group opened to the world arrive
    observed = handler(generic, LambdaContext())
    held = handler(sg_open_event("evt-sg-log", group), LambdaContext())
    # THEN the generic one is logged in the state bucket under the expiring prefix, and only the decision
    # (held for approval) is an audit object under the lock
    assert (observed["outcome"], held["outcome"]) == ("open", "needs_approval"), (observed, held)
    [logged] = _state_keys(s3, "events-log/")
    record = json.loads(s3.get_object(Bucket=STATE, Key=logged)["Body"].read())["record"]
    assert record["action"] == "event.observe" and record["correlation_id"] == observed["alert_id"]
    [audited] = ObjectAuditSink(audit_objects()).records()
    assert (audited.action, audited.outcome) == ("aws.ec2.revoke_open_ingress", "approval_requested")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=AUDIT).get("Contents", [])] == [
        ObjectAuditSink.PREFIX + f"{audited.at:%Y/%m/%d}/{audited.record_id}.json"
    ]
    assert _state_keys(s3, "audit/") == []


def test_a_budget_alert_from_an_sns_topic_subscribed_directly_is_handled_not_dead_lettered(
    aws_worker: dict[str, Any],
) -> None:
    # GIVEN AWS Budgets' SNS notification, delivered by a topic subscribed straight to the function
    sample = (
        Path(__file__).parents[2]
        / "unit"
        / "events"
        / "samples"
        / "aws"
        / "budgets_sns_actual_245_percent.json"
    )
    notification = json.loads(sample.read_text())
    event = {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": notification["TopicArn"] + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": notification,
            }
        ]
    }
    # WHEN the handler gets it
    result = handler(event, LambdaContext())
    # THEN it is normalized and judged (245 % of budget: CRITICAL), nothing parked in the dead-letter queue
    assert result["outcome"] != "dead_lettered", result
    assert result["severity"] == "CRITICAL", result
    messages = aws_worker["sqs"].receive_message(QueueUrl=aws_worker["queue_url"], WaitTimeSeconds=0)
    assert "Messages" not in messages
