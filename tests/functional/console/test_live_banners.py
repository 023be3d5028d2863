"""The banners are live: an alert stored through the core (the alert store the pipeline writes) reaches an open
``/events`` stream, rendered as its banner, and leaves it when acknowledged. uvicorn on a free port, as
``escher console`` runs it; the stream is read with a plain HTTP client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.functional.console.conftest import TOKEN, csrf


def _alert(alert_id: str, severity: str = "CRITICAL") -> Any:
    from escher.alerts.model import Alert

    now = datetime.now(UTC)
    return Alert(
        alert_id=alert_id, correlation_id=alert_id, event_id=f"evt-{alert_id}", event_type="storage.public_access",
        severity=severity, severity_rule="a public bucket holding PII", cloud="aws", account_id="123456789012",
        region="us-east-1", resource_type="aws.s3.bucket", resource_id="customer-data", resource_name="customer-data",
        environment="production", status="open", title="S3 bucket made public", summary="customer-data is public",
        timings={"event": now, "received": now}, created_at=now,
    )  # fmt: skip


def _events(stream: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event:
            yield event, json.loads(line[len("data: ") :])
            event = ""


def _until(
    events: Iterator[tuple[str, dict[str, Any]]], kind: str, alert_id: str | None = None
) -> dict[str, Any]:
    for event, data in events:
        if event == kind and (alert_id is None or data.get("alert_id") == alert_id):
            return data
    raise AssertionError(f"the stream ended before a {kind} event")


def test_an_alert_stored_by_the_core_appears_on_the_stream_and_goes_when_acknowledged(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.alerts.store import AlertStore
    from escher.audit import MemoryAuditSink
    from escher.console.app import serve
    from escher.pipeline.runtime import state_objects

    monkeypatch.setenv("ESCHER_USER", "solo")
    store = AlertStore(state_objects())
    with serve(port=0, token=TOKEN, sink=MemoryAuditSink()) as handle:
        assert handle.host == "127.0.0.1" and handle.port > 0
        browser = requests.Session()
        page = browser.get(handle.login_url, timeout=30)
        assert page.status_code == 200 and page.url == handle.base_url + "/"  # the token left the URL
        assert requests.get(handle.base_url + "/", timeout=30).status_code == 401  # no cookie, no page
        with browser.get(handle.base_url + "/events", stream=True, timeout=30) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = _events(stream)
            _until(events, "ready")

            stored = time.monotonic()
            store.put(_alert("A-console-1"))
            data = _until(events, "alert", "A-console-1")
            seconds = time.monotonic() - stored
            print(f"alert stored -> on the event stream: {seconds * 1000:.0f} ms")

            assert data["severity"] == "CRITICAL"
            assert 'id="banner-A-console-1"' in data["html"] and 'data-severity="CRITICAL"' in data["html"]
            assert 'data-action="ack"' in data["html"] and 'data-action="remind"' in data["html"]
            # a page opened now shows it too, without the stream
            assert 'id="banner-A-console-1"' in browser.get(handle.base_url + "/audit", timeout=30).text

            acked = browser.post(handle.base_url + "/alerts/A-console-1/ack",
                                 data={"csrf_token": csrf(page.text), "next": "/approvals"}, timeout=30)  # fmt: skip
            assert acked.status_code == 200 and "Acknowledged A-console-1" in acked.text
            assert _until(events, "remove", "A-console-1")["alert_id"] == "A-console-1"
        assert (
            store.get("A-console-1").acknowledged_by == "solo"
        )  # the same record `escher alerts ack` writes
    with pytest.raises(requests.ConnectionError):
        requests.get(handle.base_url + "/", timeout=2)
