"""The banners' feed: new alerts at once, acknowledgements on the next full read, nothing twice."""

from __future__ import annotations

from datetime import UTC, datetime

from escher.alerts.model import Alert
from escher.alerts.store import AlertStore
from escher.console.events import AlertWatch, sse
from escher.pipeline.objects import MemoryObjects


def _alert(alert_id: str, severity: str = "HIGH") -> Alert:
    return Alert(
        alert_id=alert_id, correlation_id=alert_id, event_id="e", event_type="compute.started", severity=severity,
        severity_rule="rule", cloud="aws", account_id="1", region="us-east-1", resource_type="aws.ec2.instance",
        resource_id="i-1", resource_name="i-1", status="open", title="t", summary="s",
    )  # fmt: skip


def test_new_alerts_come_once_and_an_acknowledged_one_is_removed() -> None:
    objects = MemoryObjects()
    store = AlertStore(objects)
    store.put(_alert("A-1"))
    watch = AlertWatch(objects, full_every=3)
    assert [(c.kind, c.alert.alert_id) for c in watch.poll()] == [
        ("alert", "A-1")
    ]  # the first poll: all open
    store.put(_alert("A-2", "CRITICAL"))
    assert [(c.kind, c.alert.alert_id) for c in watch.poll()] == [("alert", "A-2")]  # new key: read at once
    store.acknowledge("A-1", by="solo", at=datetime.now(UTC))
    assert watch.poll() == []  # tick 3: known keys are not re-read
    assert [(c.kind, c.alert.alert_id) for c in watch.poll()] == [("remove", "A-1")]  # tick 4: the full read


def test_an_alert_put_off_is_not_shown() -> None:
    objects = MemoryObjects()
    AlertStore(objects).put(_alert("A-1"))
    assert AlertWatch(objects, hidden=lambda: {"A-1"}).poll() == []


def test_an_event_with_several_lines_keeps_them() -> None:
    assert sse("alert", "a\nb") == b"event: alert\ndata: a\ndata: b\n\n"
