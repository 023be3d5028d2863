"""escher sync's pull on a directory as the extension's storage and the session Postgres as the laptop's store:
audit objects verified into the ledger once, a changed one rejected and named on every sync, an acknowledgement
made on the laptop kept, and destroy's 'nothing is deployed' without a Pulumi CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.alerts.model import Alert
from escher.alerts.store import AlertStore
from escher.audit import AuditRecord
from escher.audit.objects import ObjectAuditSink
from escher.extend.pull import Source, pull
from escher.pipeline.objects import LocalObjects


def _alert(alert_id: str) -> Alert:
    return Alert(
        alert_id=alert_id, correlation_id=alert_id, event_id="evt-1", event_type="storage_bucket_public",
        severity="CRITICAL", severity_rule="public bucket", cloud="aws", account_id="123456789012",
        region="us-east-1", resource_type="aws.s3.bucket", resource_id="shop-exports", resource_name="shop-exports",
        status="needs_approval", title="Bucket shop-exports made public", summary="held for approval",
    )  # fmt: skip


@pytest.fixture
def store(escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from escher.store.store import Store

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    with Store.open() as opened:
        yield opened


def test_audit_is_verified_into_the_ledger_once_and_a_changed_object_is_named_every_time(
    store,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    bucket = LocalObjects(tmp_path / "extension")
    sink = ObjectAuditSink(bucket)
    for n in range(3):
        sink.append(AuditRecord(record_id=f"rec-{n}", actor="worker:aws", action="aws.s3.block_public_access",
                                target="shop-exports", outcome="verified"))  # fmt: skip
    # one object changed after it was written (its record no longer matches the hash in its envelope)
    [tampered] = [k for k in bucket.list("audit/") if k.endswith("rec-2.json")]
    envelope = json.loads(bucket.get(tampered).data)  # type: ignore[union-attr]
    envelope["record"]["outcome"] = "failed"
    bucket.put(tampered, json.dumps(envelope).encode())
    AlertStore(bucket).put(_alert("A-1"))
    laptop_state = LocalObjects(tmp_path / "laptop-state")
    source = Source("aws", bucket.state.url, bucket.state.url)

    first = pull(store, source, local_state=laptop_state)
    assert first.pulled == {"audit": 2, "alerts": 1}
    assert first.rejected == [f"{bucket.state.url}{tampered}"]
    head = store.ledger.head("audit")
    # the laptop acknowledges the alert; the worker rewrites it; a second sync keeps the acknowledgement
    AlertStore(laptop_state).acknowledge("A-1", by="alice", at=datetime(2026, 12, 7, tzinfo=UTC))
    AlertStore(bucket).put(_alert("A-1").model_copy(update={"summary": "still held"}))

    second = pull(store, source, local_state=laptop_state)
    assert second.pulled == {"alerts": 1} and second.rejected == first.rejected
    assert store.ledger.head("audit") == head  # nothing appended twice
    kept = AlertStore(laptop_state).get("A-1")
    assert kept.acknowledged_by == "alice" and kept.summary == "still held"
    assert store.verify().ok


def test_destroy_with_nothing_deployed_says_so_without_pulumi(
    escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.main import app

    monkeypatch.setenv("PATH", str(escher_home))  # no pulumi anywhere
    for args in (["destroy", "--yes"], ["destroy", "aws", "--yes"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert "Nothing is deployed" in result.output and "Pulumi" not in result.output
