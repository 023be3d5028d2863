"""``escher alerts``, ``ack`` and ``timeline`` as a user types them, over alerts the pipeline stored locally."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from escher.alerts.store import AlertStore
from escher.pipeline.objects import LocalObjects
from tests.unit.pipeline.conftest import PipelineFactory
from tests.unit.pipeline.fakes import FakeS3, bucket_public_event

ESCHER = str(Path(sys.executable).parent / "escher")


def escher(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ESCHER, *args], capture_output=True, text=True, env=dict(os.environ), timeout=60,
                          check=False)  # fmt: skip


def seed(make_pipeline: PipelineFactory, home: Path) -> tuple[str, str]:
    objects = LocalObjects(home / "data" / "state")  # where the CLI looks by default
    s3 = FakeS3(["my-data", "logs"])
    fixed = make_pipeline(s3, objects=objects, pii=("my-data",)).handle(
        bucket_public_event("e-1", "my-data"), source="eventbridge"
    )
    waiting = make_pipeline(s3, objects=objects, pre_approve=False).handle(
        bucket_public_event("e-2", "logs"), source="eventbridge"
    )
    return fixed.alert_id or "", waiting.alert_id or ""


def test_banners_ack_and_timeline(make_pipeline: PipelineFactory, escher_home: Path) -> None:
    fixed, waiting = seed(make_pipeline, escher_home)
    out = escher("alerts")
    assert out.returncode == 0, out.stderr
    assert (
        "CRITICAL ALERT - AUTO-RESOLVED" in out.stdout and "HIGH ALERT - Requires Your Approval" in out.stdout
    )
    assert "escher approvals approve" in out.stdout
    listed = json.loads(escher("-o", "json", "alerts").stdout)
    assert [a["alert_id"] for a in listed] == [fixed, waiting]  # most severe first

    assert escher("alerts", "ack", fixed).returncode == 0
    assert [a["alert_id"] for a in json.loads(escher("-o", "json", "alerts").stdout)] == [waiting]
    assert {a["alert_id"] for a in json.loads(escher("-o", "json", "alerts", "--all").stdout)} == {
        fixed,
        waiting,
    }
    assert AlertStore(LocalObjects(escher_home / "data" / "state")).get(fixed).acknowledged_by

    timeline = json.loads(escher("-o", "json", "alerts", "timeline", fixed).stdout)["timeline"]
    whats = [e["what"] for e in timeline]
    for stage in (
        "Event occurred",
        "Worker received",
        "Decision made",
        "Remediation executed",
        "Verification",
    ):
        assert any(w.startswith(stage) for w in whats), (stage, whats)
    assert [e["at"] for e in timeline] == sorted(e["at"] for e in timeline)
    text = escher("alerts", "timeline", fixed).stdout
    assert "Event to verified fix" in text


def test_unknown_alert_id_is_a_clear_error(escher_home: Path) -> None:
    out = escher("alerts", "timeline", "A-nope")
    # an id that names nothing exits 2, like any other unusable input
    assert out.returncode == 2 and "no alert 'A-nope'" in out.stderr and "escher alerts --all" in out.stderr


def test_no_alerts_says_so(escher_home: Path) -> None:
    out = escher("alerts")
    assert out.returncode == 0 and "No open alerts" in out.stdout


def test_locally_the_approval_an_alert_names_is_the_one_escher_approvals_lists(escher_home: Path) -> None:
    from escher.pipeline import runtime

    runtime.reset()
    try:
        result = runtime.build_pipeline("local").handle(
            bucket_public_event("e-9", "logs"), source="eventbridge"
        )
    finally:
        runtime.reset()
    assert result.outcome.value == "needs_approval"  # nothing pre-approved in a fresh config
    alert = json.loads(escher("-o", "json", "alerts").stdout)[0]
    listed = json.loads(escher("-o", "json", "approvals", "list").stdout)
    assert alert["approval_request_id"] in {r["request_id"] for r in listed}
