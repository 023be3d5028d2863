"""The pipeline end to end on in-memory parts: decide, act, verify, audit, notify, alert; and the refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from escher.audit.objects import ObjectAuditSink
from escher.notify import RecordingNotifier
from escher.pipeline.core import Outcome
from escher.pipeline.deadletter import MemoryDeadLetters
from escher.pipeline.objects import MemoryObjects
from escher.pipeline.remediations import load_remediations
from escher.policy.approvals import MemoryApprovalStore
from tests.unit.pipeline.conftest import PipelineFactory
from tests.unit.pipeline.fakes import FakeS3, bucket_public_event


def test_public_pii_bucket_is_made_private_verified_audited_and_notified(
    make_pipeline: PipelineFactory,
) -> None:
    # GIVEN a PII bucket made public, and "make public buckets private" pre-approved
    s3, objects = FakeS3(["my-data"]), MemoryObjects()
    pipeline = make_pipeline(s3, objects=objects, pii=("my-data",))
    # WHEN the EventBridge event is handled
    result = pipeline.handle(bucket_public_event("evt-1", "my-data"), source="eventbridge")
    # THEN the bucket is blocked once, and the fix verified
    assert result.outcome is Outcome.auto_resolved, result.reason
    assert s3.puts == 1 and all(s3.blocks["my-data"].values())
    assert result.severity == "CRITICAL"
    # one audit record carrying every stage's time, in order
    records = ObjectAuditSink(objects).records()
    assert len(records) == 1
    record = records[0]
    assert record.action == "aws.s3.block_public_access" and record.outcome == "verified"
    assert set(record.timings) == {"event", "received", "decided", "fixed", "verified"}
    t = record.timings
    assert t["event"] <= t["received"] <= t["decided"] <= t["fixed"] <= t["verified"]
    assert record.details["severity"]["rule"] == "public bucket holding PII"
    assert [s["action"] for s in record.details["steps"]] == [
        "policy.allow",
        "aws.s3.block_public_access",
        "aws.s3.block_public_access",
    ]
    # CRITICAL routes to email + SMS + Slack/PagerDuty (+ the banner)
    notifier = pipeline.notifier
    assert isinstance(notifier, RecordingNotifier)
    assert [c for c, _ in notifier.sent] == ["email", "sms", "slack", "pagerduty", "banner"]
    alert = pipeline.alerts.get(result.alert_id or "")
    assert alert.status == "auto_resolved" and alert.verification and alert.data_classification == "PII"
    assert alert.exposure_seconds is not None and alert.exposure_seconds > 0


def test_fix_not_pre_approved_becomes_an_approval_request_and_changes_nothing(
    make_pipeline: PipelineFactory,
) -> None:
    s3, approvals = FakeS3(["logs"]), MemoryApprovalStore()
    pipeline = make_pipeline(s3, pre_approve=False, approvals=approvals)
    result = pipeline.handle(bucket_public_event("evt-2", "logs"), source="eventbridge")
    assert result.outcome is Outcome.needs_approval
    assert s3.puts == 0
    [request] = approvals.all()
    assert request.operation == "aws.s3.block_public_access" and request.targets == ["logs@us-east-1"]
    alert = pipeline.alerts.get(result.alert_id or "")
    assert alert.severity == "HIGH"  # public, not known to hold PII: the "compliance violation" default
    assert f"escher approvals approve {request.request_id}" in alert.next_steps
    assert (
        "once approved: escher ops run aws.s3.block_public_access --target logs --region us-east-1"
        in alert.next_steps
    )
    assert alert.operation_cli and "put-public-access-block --bucket logs" in alert.operation_cli


def test_a_second_delivery_of_a_handled_event_does_nothing(make_pipeline: PipelineFactory) -> None:
    s3, objects = FakeS3(["b1"]), MemoryObjects()
    pipeline = make_pipeline(s3, objects=objects)
    event = bucket_public_event("evt-3", "b1")
    assert pipeline.handle(event, source="eventbridge").outcome is Outcome.auto_resolved
    s3.blocks["b1"] = {}  # even if the bucket were public again, the same delivery must not act twice
    again = pipeline.handle(event, source="eventbridge")
    assert again.outcome is Outcome.duplicate
    assert s3.puts == 1
    assert len(ObjectAuditSink(objects).records()) == 1


def test_payload_that_is_not_an_event_is_dead_lettered_with_the_reason(
    make_pipeline: PipelineFactory,
) -> None:
    letters = MemoryDeadLetters()
    pipeline = make_pipeline(FakeS3([]), dead_letters=letters)
    result = pipeline.handle(b'{"hello": "world"}', source="sqs", attempts=3)
    assert result.outcome is Outcome.dead_lettered
    [letter] = letters.letters
    assert letter.error == "NormalizationError" and "not a known envelope" in letter.reason
    assert letter.payload == '{"hello": "world"}' and letter.attempts == 3 and letter.source == "sqs"


def test_event_without_a_target_is_dead_lettered_not_dropped(make_pipeline: PipelineFactory) -> None:
    letters = MemoryDeadLetters()
    pipeline = make_pipeline(FakeS3([]), dead_letters=letters)
    result = pipeline.handle(bucket_public_event("evt-4", ""), source="eventbridge")
    assert result.outcome is Outcome.dead_lettered, result
    assert letters.letters[0].event_id == "evt-4"


def test_event_with_no_remediation_is_an_open_alert_with_an_audit_record(
    make_pipeline: PipelineFactory,
) -> None:
    from tests.unit.pipeline.fakes import SAMPLES

    objects = MemoryObjects()
    pipeline = make_pipeline(FakeS3([]), objects=objects)
    payload = json.loads((SAMPLES / "aws" / "rds_instance_shutdown.json").read_text())
    result = pipeline.handle(payload, source="eventbridge")
    assert result.outcome is Outcome.open
    assert result.severity == "CRITICAL"  # database down
    [record] = ObjectAuditSink(objects).records()
    assert record.action == "event.observe" and record.outcome == "info"


def test_with_an_events_log_only_decisions_become_audit_objects(make_pipeline: PipelineFactory) -> None:
    from tests.unit.pipeline.fakes import SAMPLES

    # GIVEN audit objects on their own (WORM) storage and an events log in the state storage
    state, worm = MemoryObjects(), MemoryObjects()
    s3 = FakeS3(["my-data"])
    pipeline = make_pipeline(
        s3,
        objects=state,
        audit=ObjectAuditSink(worm),
        events_log=ObjectAuditSink(state, "events-log"),
        pii=("my-data",),
    )
    # WHEN an event nobody acts on and an event that is fixed arrive
    payload = json.loads((SAMPLES / "aws" / "rds_instance_shutdown.json").read_text())
    observed = pipeline.handle(payload, source="eventbridge")
    fixed = pipeline.handle(bucket_public_event("evt-7", "my-data"), source="eventbridge")
    # THEN the undecided one is only in the events log, the fix only in the audit storage
    assert (observed.outcome, fixed.outcome) == (Outcome.open, Outcome.auto_resolved)
    [logged] = ObjectAuditSink(state, "events-log/").records()
    assert logged.action == "event.observe" and logged.correlation_id == observed.alert_id
    assert state.list("events-log/")[0].startswith(f"events-log/{logged.at:%Y/%m/%d}/")
    [audited] = ObjectAuditSink(worm).records()
    assert audited.action == "aws.s3.block_public_access" and worm.list("events-log/") == []
    assert state.list("audit/") == []
    # a redelivery of the undecided event writes nothing twice
    assert pipeline.handle(payload, source="eventbridge").outcome is Outcome.duplicate
    assert len(state.list("events-log/")) == 1


def test_failed_fix_is_reported_as_such(make_pipeline: PipelineFactory) -> None:
    pipeline = make_pipeline(FakeS3([]))  # the bucket does not exist (deleted since the event)
    result = pipeline.handle(bucket_public_event("evt-5", "gone"), source="eventbridge")
    assert result.outcome is Outcome.remediation_failed
    alert = pipeline.alerts.get(result.alert_id or "")
    assert "failed" in alert.summary and alert.next_steps[0].startswith("fix it by hand")


def test_every_mapped_operation_exists_in_the_catalogue() -> None:
    from escher.ops import OPERATIONS

    entries = load_remediations()
    assert {(e.cloud, e.event_type) for e in entries} >= {
        ("aws", "storage_bucket_public"),
        ("aws", "security_group_open_to_world"),
        ("azure", "storage_bucket_changed"),
        ("gcp", "storage_bucket_public"),
    }
    for entry in entries:
        assert OPERATIONS.get(entry.operation).cloud == entry.cloud.value


def test_when_the_dead_letter_destination_fails_the_delivery_fails(make_pipeline: PipelineFactory) -> None:
    from escher.pipeline.deadletter import DeadLetter
    from escher.pipeline.errors import DeadLetterError

    class Broken:
        def send(self, letter: DeadLetter) -> str:
            raise DeadLetterError("queue gone", hint="recreate it")

    pipeline = make_pipeline(FakeS3([]), dead_letters=Broken())
    with pytest.raises(
        DeadLetterError
    ):  # the platform sees the failure and retries: nothing is lost silently
        pipeline.handle(b"not json", source="sqs")


def test_info_events_wait_for_the_morning_report(escher_home: Path) -> None:
    from escher.pipeline import runtime
    from escher.pipeline.jobs import run_job
    from tests.unit.pipeline.fakes import SAMPLES

    payload = json.loads((SAMPLES / "aws" / "ec2_run_instances.json").read_text())
    runtime.reset()
    try:
        result = runtime.build_pipeline("local").handle(payload, source="eventbridge")
    finally:
        runtime.reset()
    assert result.severity == "INFO" and result.outcome is Outcome.open
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    digest = run_job("local", {"job": "morning_digest", "params": {"day": day}})
    assert digest["alerts"] == 1
    queued = list((escher_home / "data" / "state" / "morning-report" / day).glob("*.json"))
    assert [json.loads(p.read_text())["alert_id"] for p in queued] == [result.alert_id]
