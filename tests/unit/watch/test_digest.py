"""The pipeline's alerts and queued INFO events of the last 24 h, in the morning report's alert shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escher.alerts.model import Alert
from escher.alerts.store import AlertStore
from escher.pipeline.adapters import MorningQueue
from escher.pipeline.objects import MemoryObjects
from escher.watch.digest import morning_events, pipeline_alerts

NOW = datetime.now(UTC)


def _alert(alert_id: str, status: str, severity: str, age: timedelta, **extra: object) -> Alert:
    return Alert.model_validate(
        {
            "alert_id": alert_id, "correlation_id": "c", "event_id": "e", "event_type": "storage_bucket_public",
            "severity": severity, "severity_rule": "default", "cloud": "aws", "account_id": "1",
            "region": "us-east-1", "resource_type": "AWS::S3::Bucket", "resource_id": "arn:aws:s3:::b",
            "resource_name": "b", "status": status, "title": f"bucket {alert_id} public", "summary": "made public",
            "created_at": NOW - age, **extra,
        }
    )  # fmt: skip


def test_pipeline_alerts_say_what_the_pipeline_did_within_24_hours() -> None:
    objects = MemoryObjects()
    store = AlertStore(objects)
    store.put(
        _alert(
            "fixed", "auto_resolved", "CRITICAL", timedelta(hours=1), operation="aws.s3.block_public_access"
        )
    )
    store.put(_alert("asks", "needs_approval", "HIGH", timedelta(hours=2), approval_request_id="req-1"))
    store.put(_alert("old", "open", "CRITICAL", timedelta(hours=30)))
    store.put(_alert("info", "open", "INFO", timedelta(hours=1)))

    got = pipeline_alerts(objects, NOW - timedelta(hours=24))
    assert [a["alert_id"] for a in got] == ["fixed", "asks"]
    assert got[0]["detail"].startswith("auto-resolved (aws.s3.block_public_access)")
    assert got[1]["detail"].startswith("waiting for approval")
    assert got[1]["fix_command"] == "escher approvals approve req-1"


def test_queued_info_events_are_read_back_for_the_report() -> None:
    objects = MemoryObjects()
    MorningQueue(objects).add("a1", "instance i-1 started", "by alice")
    got = morning_events(objects, NOW - timedelta(hours=24), NOW)
    assert got == [
        {"severity": "INFO", "title": "instance i-1 started", "detail": "by alice", "alert_id": "a1"}
    ]
    assert morning_events(objects, NOW - timedelta(days=5), NOW - timedelta(days=3)) == []


def test_for_morning_report_reads_this_installations_state(escher_home: object) -> None:
    from escher.pipeline.runtime import state_objects
    from escher.watch.digest import for_morning_report

    objects = state_objects()
    AlertStore(objects).put(_alert("fixed", "auto_resolved", "CRITICAL", timedelta(hours=1)))
    MorningQueue(objects).add("a1", "instance i-1 started", "by alice")
    got = for_morning_report({}, datetime.now(UTC))
    assert [(a["severity"], a["alert_id"]) for a in got] == [("CRITICAL", "fixed"), ("INFO", "a1")]
