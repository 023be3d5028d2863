"""Events and reports through the brain on loopback: ``UnifiedEvent`` -> /v1/events/analyze, scan results ->
/v1/reports/summarize, and ``escher ask`` follow-ups answered from stored alerts and cost snapshots.

Canaries planted in an event's raw payload, tags and metadata must not reach the server; identities go out as
``person-NNNN`` tokens and come back restored.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.alerts.model import Alert
from escher.alerts.store import AlertStore
from escher.assist.alerts import AlertSource, alert_item, event_request, report_request
from escher.assist.client import Assistant, BrainError, HttpBrain
from escher.brain.models import EventAnalysisResponse, ReportSummaryResponse
from escher.cli.main import app
from escher.events.model import EventContext, Resource, UnifiedEvent
from escher.pipeline.objects import LocalObjects
from escher.scans.persist import JsonFileStore
from escher.scans.synthetic import cost_snapshot
from tests.functional.brain.conftest import RunningBrain
from tests.unit.brain import canaries

T0 = datetime(2025, 3, 4, 2, 14, 7, tzinfo=UTC)
BUCKET = "customer-exports"


def s3_public_event() -> UnifiedEvent:
    raw = {"detail": {"userIdentity": {"arn": "arn:aws:iam::123456789012:user/alice"},
                      "requestParameters": {"bucketName": BUCKET, "x-amz-acl": "public-read"},
                      "planted": list(canaries.ALL)}}  # fmt: skip
    return UnifiedEvent(
        event_id="7f1c9a2e-0b4d-4e44-9d0e-d1e3b1a2c3d4",
        event_type="storage_bucket_public",
        severity="CRITICAL",
        cloud_provider="aws",
        account_id="123456789012",
        region="us-east-1",
        resource=Resource(
            type="AWS::S3::Bucket",
            id=f"arn:aws:s3:::{BUCKET}",
            name=BUCKET,
            tags={"env": "production", "owner": "alice@example.com", "note": canaries.AWS_KEY_ID},
            metadata={
                "grant": "AllUsers:READ",
                "actor": "arn:aws:iam::123456789012:user/alice",
                "password": "hunter2-but-longer",
                "policy": {"Statement": [{"Sid": canaries.ALL[1]}]},
                "note": canaries.ALL[2],
            },
        ),
        context=EventContext(environment="production", data_classification="PII", affected_users=1200),
        timestamp=T0,
        raw_event=raw,
    )


def test_event_request_drops_the_raw_payload_and_nested_documents() -> None:
    req = event_request(s3_public_event())
    body = req.model_dump(mode="json")
    assert "raw_event" not in json.dumps(body) and "requestParameters" not in json.dumps(body)
    assert "policy" not in body["event"]["resource"]["metadata"]  # nested documents are not facts
    assert body["event"]["severity"] == "CRITICAL" and body["event"]["data_classification"] == "PII"


def test_an_event_is_analyzed_on_the_server_without_its_secrets(rules_brain: RunningBrain) -> None:
    analysis = Assistant([], HttpBrain(rules_brain.url)).analyze_event(s3_public_event())
    assert analysis.source == "brain" and isinstance(analysis.response, EventAnalysisResponse)
    assert len(rules_brain.recorder.bodies) == 1
    sent = rules_brain.recorder.bodies[0].decode()
    assert canaries.leaked(sent) == []
    assert "hunter2" not in sent and "alice@example.com" not in sent and "user/alice" not in sent
    assert "person-0001" in sent  # pseudonymized, not dropped: the brain can still say "the owner"
    assert analysis.withheld >= 3 and analysis.pseudonymized >= 1
    resp = analysis.response
    assert resp.severity == "CRITICAL"
    assert [s.operation_id for s in resp.first_aid] == ["aws.s3.block_public_access"]
    assert resp.first_aid[0].targets == [BUCKET]  # the S3 operations take the bucket's name, not its ARN
    assert "person-0" not in json.dumps(resp.model_dump(mode="json"))  # restored on the way back


def test_the_unscrubbed_request_would_have_been_refused(rules_brain: RunningBrain) -> None:
    """The canaries above are real credential shapes: sent as is, the server refuses them (the test has teeth)."""
    with pytest.raises(BrainError) as info:
        HttpBrain(rules_brain.url).analyze_event(event_request(s3_public_event()))
    assert info.value.status == 422 and info.value.error == "CredentialInPayloadError"


def test_a_scan_and_cost_summary_are_summarized_on_the_server(rules_brain: RunningBrain) -> None:
    scan = {"findings": [
        {"check_id": "aws.s3.bucket_public", "title": "S3 bucket is readable by anyone", "status": "FAIL",
         "severity": "CRITICAL", "cloud": "aws", "region": "us-east-1", "resource_id": BUCKET,
         "resource_type": "aws.s3.bucket", "fix_operation": "aws.s3.block_public_access",
         "message": f"grant to AllUsers; {canaries.AWS_KEY_ID}", "remediation": canaries.ALL[1]},
        {"check_id": "aws.ec2.idle", "title": f"idle: {canaries.ALL[2]}", "status": "FAIL", "severity": "LOW",
         "cloud": "aws", "region": "us-east-1", "resource_id": "i-0abc", "category": "cost", "monthly_saving": 61.3},
        {"check_id": "aws.s3.versioning", "title": "ok", "status": "PASS", "severity": "LOW", "cloud": "aws",
         "resource_id": "logs"},
    ]}  # fmt: skip
    req = report_request(scan, {"day": "2025-03-03", "yesterday": 1182.4, "month_delta_pct": 17.2})
    assert [f.check_id for f in req.findings] == ["aws.s3.bucket_public", "aws.ec2.idle"]
    analysis = Assistant([], HttpBrain(rules_brain.url)).summarize_report(req)
    assert analysis.source == "brain" and isinstance(analysis.response, ReportSummaryResponse)
    sent = rules_brain.recorder.bodies[0].decode()
    assert canaries.leaked(sent) == [] and "remediation" not in sent and "message" not in sent
    assert analysis.withheld == 1  # the canary in a title
    resp = analysis.response
    assert (
        resp.priorities[0].severity == "CRITICAL"
        and resp.priorities[0].operation_id == "aws.s3.block_public_access"
    )
    assert "17" in resp.narrative or any("17" in q for q in resp.suggested_questions)


# -- follow-ups from stored alerts and cost snapshots ------------------------------------------------------
def exposure_alert() -> Alert:
    timings = {"event": T0, "received": T0 + timedelta(seconds=2), "decided": T0 + timedelta(seconds=3),
               "executed": T0 + timedelta(seconds=5), "verified": T0 + timedelta(seconds=9)}  # fmt: skip
    return Alert(alert_id="A-5e0c1d2a3b", correlation_id="c-1", event_id="7f1c9a2e", event_type="storage_bucket_public",
                 severity="CRITICAL", severity_rule="public bucket with PII", cloud="aws", account_id="123456789012",
                 region="us-east-1", resource_type="AWS::S3::Bucket", resource_id=f"arn:aws:s3:::{BUCKET}",
                 resource_name=BUCKET, status="auto_resolved", title=f"S3 bucket {BUCKET} was made public",
                 summary="public-read ACL; Block Public Access restored", operation="aws.s3.block_public_access",
                 timings=timings, created_at=T0)  # fmt: skip


def other_alert() -> Alert:
    return Alert(alert_id="A-00000000aa", correlation_id="c-2", event_id="e2", event_type="vm_state_changed",
                 severity="MEDIUM", severity_rule="r", cloud="aws", account_id="123456789012", region="us-east-1",
                 resource_type="AWS::EC2::Instance", resource_id="i-0abc", resource_name="web", status="open",
                 title="web stopped", summary="", timings={"event": T0}, created_at=T0)  # fmt: skip


def test_alert_source_gives_alerts_only_for_alert_and_timeline_questions(tmp_path: Path) -> None:
    store = AlertStore(LocalObjects(tmp_path))
    store.put(exposure_alert())
    source = AlertSource(store)
    assert source.search("stop the dev instances", 50) == []
    [item] = source.search("show me the timeline of the S3 exposure", 50)
    assert item == alert_item(exposure_alert())
    assert item.attrs["t.event"] == T0.isoformat() and item.attrs["exposure_seconds"] == 9.0


@pytest.fixture
def stored(escher_home: Path) -> Path:
    """What the pipeline and the scans leave in the data dir: two alerts, two days of cost snapshots."""
    data = escher_home / "data"
    alerts = AlertStore(LocalObjects(data / "state"))
    alerts.put(other_alert())
    alerts.put(exposure_alert())
    results = JsonFileStore(data / "reports")
    day = date(2025, 3, 3)
    results.put("cost", f"aws-{day - timedelta(days=1)}", cost_snapshot(day - timedelta(days=1)).to_dict())
    results.put("cost", f"aws-{day}", cost_snapshot(day, spike=172.0).to_dict())
    return data


def _ask(url: str, question: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["-o", "json", "ask", question, "--brain-url", url])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_the_timeline_of_the_s3_exposure_comes_from_the_stored_alert(
    stored: Path, rules_brain: RunningBrain
) -> None:
    out = _ask(rules_brain.url, "show me the timeline of the S3 exposure")
    resp = out["response"]
    assert out["source"] == "brain" and isinstance(resp, dict)
    assert resp["intent"] == "timeline" and resp["resource_ids"] == ["A-5e0c1d2a3b"]
    assert [r[1] for r in resp["table"]["rows"]] == ["event", "received", "decided", "executed", "verified"]
    assert "exposed for 9 s" in resp["summary"] and "auto_resolved" in resp["summary"]
    sent = json.loads(rules_brain.recorder.bodies[0])
    assert {c["kind"] for c in sent["context"]} == {"alert"}  # no resources ride along with an alert question


def test_why_spending_increased_names_the_service_that_moved(stored: Path, rules_brain: RunningBrain) -> None:
    out = _ask(rules_brain.url, "why did spending increase 17%?")
    resp = out["response"]
    assert isinstance(resp, dict) and resp["intent"] == "cost_change"
    assert "The biggest rise is Amazon Elastic Compute Cloud - Compute on aws" in resp["summary"]
    rows = resp["table"]["rows"]
    assert rows[0][1] == "Amazon Elastic Compute Cloud - Compute" and float(rows[0][4].replace(",", "")) > 150
    pct = float(resp["summary"].split("(")[1].split("%")[0])
    assert 12 < pct < 22  # 172 on ~1,010 a day, with the synthetic data's +-3 % noise
