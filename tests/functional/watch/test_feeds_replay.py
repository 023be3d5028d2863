"""The three activity feeds with responses replayed at the transport (the SDK clients run unchanged), through
the real pipeline (switches off: approvals, alerts) with a memory audit sink.

- CloudTrail ``LookupEvents``: a loopback HTTP server answers botocore (no SDK method patched), two pages;
- Azure Activity Log: azure-core's transport; ``Started`` entries are left out, ``nextLink`` followed;
- Cloud Logging ``entries.list``: a requests adapter on the authorized session; ``nextPageToken`` followed.

Each: the public-bucket record reaches the storage remediation (an approval request), the watermark moves and
survives a new watcher (a restart), and a second round re-reads the overlap without acting twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.clouds.aws.feed import AwsCloudTrailFeed
from escher.clouds.azure.feed import AzureActivityLogFeed
from escher.clouds.gcp.feed import GcpAuditLogFeed
from escher.ops import CloudContext
from escher.pipeline.runtime import build_pipeline, state_objects
from escher.watch.feeds import FeedUnavailable
from escher.watch.runner import Watcher
from escher.watch.watermarks import OVERLAP, Watermarks
from tests.functional.ops.replay import FakeAzureCredential
from tests.harness.replay import ReplayAdapter, ReplayTransport
from tests.unit.events._samples import sample

NOW = datetime(2024, 5, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def home(escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    return escher_home


def _watcher(feed: Any, ctx: CloudContext, audit: MemoryAuditSink, now: datetime = NOW) -> Watcher:
    pipeline = build_pipeline("local", audit=audit, cloud=ctx)
    return Watcher(pipeline, [feed], Watermarks(state_objects()), clock=lambda: now)


def _outcomes(watcher: Watcher) -> dict[str, int]:
    [report] = watcher.run_once()
    assert report.error is None, report.error
    return dict(report.outcomes)


# -- AWS: a loopback server speaking the CloudTrail JSON protocol ------------------------------------------
class _CloudTrail(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    fail = False

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.headers["X-Amz-Target"].endswith(".LookupEvents")
        type(self).requests.append(body)
        if type(self).fail:
            self._send(400, {"__type": "AccessDeniedException", "message": "no"})
            return
        acl = sample("aws", "cloudtrail_lookup_put_bucket_acl_public")
        run = {**acl, "EventId": "run-1", "EventName": "RunInstances"}
        run["CloudTrailEvent"] = json.dumps(
            sample("aws", "cloudtrail_record_run_instances") | {"eventID": "run-1"}
        )
        # newest first, like the API; two pages
        page = {"Events": [run], "NextToken": "p2"} if "NextToken" not in body else {"Events": [acl]}
        self._send(200, page)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cloudtrail() -> Iterator[str]:
    _CloudTrail.requests, _CloudTrail.fail = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CloudTrail)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_cloudtrail_lookup_events_reach_the_pipeline_once(home: Path, cloudtrail: str) -> None:
    ctx = CloudContext(aws_endpoint_url=cloudtrail, aws_retries={"max_attempts": 1})
    audit = MemoryAuditSink()
    feed = AwsCloudTrailFeed(ctx, "eu-west-1", "123456789012")

    assert _outcomes(_watcher(feed, ctx, audit)) == {"needs_approval": 1, "open": 1}
    first = _CloudTrail.requests[0]
    assert first["LookupAttributes"] == [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    assert datetime.fromtimestamp(first["StartTime"], UTC) == NOW - timedelta(
        minutes=60
    )  # first run: lookback

    later = NOW + timedelta(minutes=1)
    again = _watcher(feed, ctx, audit, later)  # a new watcher: the watermark came from the state storage
    assert _outcomes(again) == {"duplicate": 2}
    assert datetime.fromtimestamp(_CloudTrail.requests[-1]["StartTime"], UTC) == NOW - OVERLAP
    assert len([r for r in audit.records if r.action == "aws.s3.block_public_access"]) == 1


def test_cloudtrail_denied_is_reported_and_the_watermark_stays(home: Path, cloudtrail: str) -> None:
    _CloudTrail.fail = True
    ctx = CloudContext(aws_endpoint_url=cloudtrail, aws_retries={"max_attempts": 1})
    feed = AwsCloudTrailFeed(ctx, "eu-west-1", "123456789012")
    watcher = _watcher(feed, ctx, MemoryAuditSink())
    [report] = watcher.run_once()
    assert report.error and "AccessDenied" in report.error
    assert watcher.watermarks.get(feed.name) is None
    with pytest.raises(FeedUnavailable):
        list(feed.read(NOW - timedelta(hours=1), NOW))


# -- Azure Activity Log -----------------------------------------------------------------------------------
def test_azure_activity_log_pages_and_final_entries_only(home: Path) -> None:
    seen: list[str] = []
    written = sample("azure", "activity_log_storage_account_write")
    started = sample("azure", "activity_log_started_generic")

    def answer(method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        seen.append(url)
        assert headers["Authorization"] == "Bearer fake-token"
        if "page=2" in url:
            return 200, {}, json.dumps({"value": [written]}).encode()
        nxt = url + "&page=2"
        return 200, {}, json.dumps({"value": [started], "nextLink": nxt}).encode()

    ctx = CloudContext(azure_credential=FakeAzureCredential(), azure_transport=ReplayTransport(answer))
    feed = AzureActivityLogFeed(ctx, "5b0e5e7a-1c41-4f4e-9d7a-0a3f2c8e9b11")
    records = list(feed.read(NOW - timedelta(hours=1), NOW))
    assert [r["eventDataId"] for r in records] == [written["eventDataId"]]  # Started is not an event yet
    assert "/providers/Microsoft.Insights/eventtypes/management/values" in seen[0]
    assert "eventTimestamp ge '2024-05-02T08:30:00Z'" in seen[0].replace("%20", " ").replace("%27", "'")
    audit = MemoryAuditSink()
    assert _outcomes(_watcher(feed, ctx, audit)) == {"needs_approval": 1}  # as from Event Grid
    assert _outcomes(_watcher(feed, ctx, audit, NOW + timedelta(minutes=1))) == {"duplicate": 1}


# -- GCP Cloud Logging ------------------------------------------------------------------------------------
def test_gcp_audit_log_entries_list_pages(home: Path) -> None:
    from google.auth.credentials import AnonymousCredentials

    bodies: list[dict[str, Any]] = []
    public = sample("gcp", "log_entry_storage_set_iam_all_users")
    firewall = sample("gcp", "log_entry_firewall_insert_world")

    def answer(method: str, url: str, headers: Any, body: Any) -> tuple[int, dict[str, str], bytes]:
        assert (method, url) == ("POST", "https://logging.googleapis.com/v2/entries:list")
        request = json.loads(body)
        bodies.append(request)
        if request.get("pageToken") == "t2":
            return 200, {}, json.dumps({"entries": [firewall]}).encode()
        return 200, {}, json.dumps({"entries": [public], "nextPageToken": "t2"}).encode()

    ctx = CloudContext(gcp_credentials=AnonymousCredentials(), gcp_session_adapter=ReplayAdapter(answer))
    feed = GcpAuditLogFeed(ctx, "shop-prod-4711")
    audit = MemoryAuditSink()
    assert _outcomes(_watcher(feed, ctx, audit)) == {"needs_approval": 2}
    assert bodies[0]["resourceNames"] == ["projects/shop-prod-4711"]
    assert (
        'logName="projects/shop-prod-4711/logs/cloudaudit.googleapis.com%2Factivity"' in bodies[0]["filter"]
    )
    assert 'timestamp>="2024-05-02T08:30:00Z"' in bodies[0]["filter"]
    assert _outcomes(_watcher(feed, ctx, audit, NOW + timedelta(minutes=1))) == {"duplicate": 2}


# -- records that cannot be handled are parked, not dropped -----------------------------------------------
class _ListFeed:
    cloud = "aws"
    name = "aws:cloudtrail:test:eu-west-1"

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records

    def read(self, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
        yield from self.records


def test_unreadable_records_are_dead_lettered_with_the_reason(home: Path) -> None:
    bad_json = {**sample("aws", "cloudtrail_lookup_put_bucket_acl_public"), "CloudTrailEvent": "{not json"}
    too_deep: dict[str, Any] = {"EventId": "deep", "CloudTrailEvent": "{}"}
    node = too_deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    feed = _ListFeed([bad_json, too_deep])
    watcher = _watcher(feed, CloudContext(), MemoryAuditSink())
    [report] = watcher.run_once()
    assert dict(report.outcomes) == {"dead_lettered": 2}
    assert "not a JSON document" in report.results[0]["reason"]
    letters = [k.key if hasattr(k, "key") else k for k in state_objects().list("dead-letters/")]
    assert len(letters) == 2


class _FailingAlerts:
    """The alerts store of a state storage that is down for one round (a fake, the pipeline's own port)."""

    def __init__(self, real: Any) -> None:
        self.real, self.down = real, True

    def put(self, alert: Any) -> None:
        from escher.pipeline.errors import StateStoreError

        if self.down:
            raise StateStoreError("state storage unreachable", hint="retried")
        self.real.put(alert)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_transient_failure_keeps_the_watermark_and_the_next_round_finishes(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESCHER_MARKER_LEASE_SECONDS", "0")  # the failed attempt's claim lapses at once
    record = sample("aws", "cloudtrail_record_run_instances")
    feed = _ListFeed([record])
    pipeline = build_pipeline("local", audit=MemoryAuditSink(), cloud=CloudContext())
    alerts = _FailingAlerts(pipeline.alerts)
    pipeline.alerts = alerts  # type: ignore[assignment]
    watcher = Watcher(pipeline, [feed], Watermarks(state_objects()), clock=lambda: NOW)
    [report] = watcher.run_once()
    assert report.error and "unreachable" in report.error
    assert watcher.watermarks.get(feed.name) is None  # not moved past what was not handled
    alerts.down = False
    [report] = watcher.run_once()
    assert report.error is None and dict(report.outcomes) == {"open": 1}
    assert watcher.watermarks.get(feed.name) == NOW
