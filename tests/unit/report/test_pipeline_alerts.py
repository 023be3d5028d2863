"""The morning report shows what the event pipeline did in the last 24 h (a worker, `escher watch`): each alert
with what happened and the command that finishes it, read from this installation's state storage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escher.config import Settings
from escher.report.builder import build_report
from escher.report.render import render
from escher.scans.runner import ScanOptions, run_scan
from escher.scans.synthetic import estate


def _held_alert(data_dir: Path) -> None:
    from escher.alerts.model import Alert
    from escher.alerts.store import AlertStore
    from escher.pipeline.objects import LocalObjects

    now = datetime.now(UTC)
    alert = Alert(alert_id="A-0123456789", correlation_id="corr-1", event_id="ev-1", event_type="s3_public",
                  severity="CRITICAL", severity_rule="default", cloud="aws", account_id="123456789012",
                  region="us-east-1", resource_type="aws.s3.bucket", resource_id="orders-exports",
                  resource_name="orders-exports", status="needs_approval", approval_request_id="abc123def456",
                  title="S3 bucket made public", summary="orders-exports was made public",
                  timings={"event": now - timedelta(seconds=5)})  # fmt: skip
    AlertStore(LocalObjects(data_dir / "state")).put(alert)


def test_a_held_event_appears_in_the_report_with_the_approve_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.report.service import _pipeline_alerts

    monkeypatch.setenv("ESCHER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ESCHER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("ESCHER_STATE_URL", raising=False)
    _held_alert(tmp_path / "data")

    alerts = _pipeline_alerts({})
    report = build_report(run_scan(Settings(), ScanOptions(), inventory=estate(20)), alerts=alerts)

    held = [a for a in report.alerts if a.title == "S3 bucket made public"]
    assert len(held) == 1 and "waiting for approval" in held[0].detail
    assert held[0].fix_command == "escher approvals approve abc123def456"
    assert b"escher approvals approve abc123def456" in render(report, "md")
