"""The workers stay thin and cheap: what importing them loads, how they unwrap deliveries."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from escher.pipeline.worker import unwrap_redrive
from escher.workers.azure.handlers import event_grid_dict

_PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in
      ('aws_lambda_powertools', 'aws_xray_sdk', 'pydantic', 'escher') and m.count('.') < 3)))
"""


def loaded_by(module: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE.format(module=module)], capture_output=True, text=True,
                         check=True)  # fmt: skip
    result: list[str] = json.loads(out.stdout)
    return result


def test_importing_a_worker_loads_neither_powertools_nor_pydantic_nor_the_pipeline() -> None:
    for module in ("escher.workers.aws.handler", "escher.workers.gcp.main", "escher.workers.azure.handlers"):
        loaded = loaded_by(module)
        assert not [
            m for m in loaded if m.startswith(("aws_lambda_powertools", "aws_xray_sdk", "pydantic"))
        ], loaded
        assert "escher.pipeline.core" not in loaded


def test_first_aws_invocation_never_loads_the_xray_tracer(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from escher.workers.aws.handler import handler\n"
        "from escher.demo.events import bucket_made_public\n"
        "class C: aws_request_id = 'r'\n"
        "r = handler(bucket_made_public('e-1', 'b'), C())\n"
        "print(r['outcome'], 'aws_xray_sdk' in sys.modules)\n"
    )
    env = {
        "ESCHER_CONFIG_DIR": str(tmp_path),
        "ESCHER_DATA_DIR": str(tmp_path),
        "ESCHER_STATE_URL": "memory://",
        "ESCHER_DEAD_LETTER_URL": "memory://",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PATH": "/usr/bin",
    }
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-2:] == ["needs_approval", "False"], out.stderr


def test_redrive_unwraps_our_dead_letters_and_passes_events_through() -> None:
    event = {"id": "e", "detail-type": "x", "detail": {}}
    letter = {"reason": "r", "error": "E", "source": "eventbridge", "payload": event, "received_at": "t"}
    assert unwrap_redrive(json.dumps(letter)) == event
    assert unwrap_redrive(json.dumps(event)) == event
    assert unwrap_redrive(b"not json") == b"not json"  # the pipeline dead-letters it with the reason


def test_event_grid_fields_rebuild_the_delivered_schema() -> None:
    at = datetime(2024, 5, 2, 9, 14, 58, tzinfo=UTC)
    body = event_grid_dict(id="i", topic="t", subject="s", event_type="Microsoft.Resources.ResourceWriteSuccess",
                           event_time=at, data={"k": 1}, data_version="2")  # fmt: skip
    assert body["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"
    assert body["eventTime"] == "2024-05-02T09:14:58+00:00" and body["data"] == {"k": 1}


def test_the_lambda_logger_is_json_and_redacts_notification_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.workers.aws import _tools

    secret_url = "json://127.0.0.1:9/hooks/S3CRET-T0KEN-123"
    monkeypatch.setenv("ESCHER_NOTIFY_SLACK_URL", secret_url)
    _tools.logger.cache_clear()
    # powertools reuses the handler of an earlier Logger of the same service, bound to the stdout of whichever
    # test made it first: point it at a buffer of this test's own
    buffer = io.StringIO()
    try:
        log = _tools.logger()
        for handler in logging.getLogger(_tools.SERVICE).handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.stream = buffer  # not setStream(): it flushes the old, possibly closed, stream
        log.info("delivering to %s", secret_url, extra={"target": secret_url, "password": "x"})
    finally:
        _tools.logger.cache_clear()
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["service"] == "escher-worker" and line["level"] == "INFO"
    assert "S3CRET-T0KEN-123" not in json.dumps(line)


# -- the Azure daily-scan timer: fires at each UTC time of 02:00 Europe/Paris ("0 0 0,1 * * *"), runs once a day
PARIS = {"ESCHER_DAILY_SCAN_AT": "02:00", "ESCHER_TIMEZONE": "Europe/Paris"}


@pytest.mark.parametrize(
    ("fired_utc", "runs"),
    [
        ("2025-01-15T00:00:05", False),  # winter: 01:00 in Paris
        ("2025-01-15T01:00:05", True),  # winter: 02:00 in Paris
        ("2025-07-15T00:00:05", True),  # summer: 02:00 in Paris
        ("2025-07-15T01:00:05", False),  # summer: 03:00 in Paris
        ("2025-07-15T00:08:00", True),  # a host that started the function 8 minutes late
    ],
)
def test_the_daily_scan_timer_runs_only_the_firing_at_the_local_scan_time(
    fired_utc: str, runs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.workers.azure import handlers

    ran: list[str] = []
    monkeypatch.setattr(handlers, "on_timer", lambda job, past_due=False: ran.append(job) or {"job": job})
    now = datetime.fromisoformat(fired_utc).replace(tzinfo=UTC)
    result = handlers.on_daily_scan_timer(now=now, env=PARIS)
    assert ran == (["daily_scan"] if runs else [])
    assert result.get("skipped", False) is not runs


def test_the_daily_scan_timer_near_midnight_and_without_a_scan_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from escher.workers.azure import handlers

    ran: list[str] = []
    monkeypatch.setattr(handlers, "on_timer", lambda job, past_due=False: ran.append(job) or {"job": job})
    late = datetime(2025, 3, 1, 23, 58, tzinfo=UTC)  # 23:58 UTC for a 00:00 UTC scan: the next day's firing
    handlers.on_daily_scan_timer(now=late, env={"ESCHER_DAILY_SCAN_AT": "00:00", "ESCHER_TIMEZONE": "UTC"})
    handlers.on_daily_scan_timer(now=late, env={})  # no scan time configured: every firing runs
    assert ran == ["daily_scan", "daily_scan"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ESCHER_DAILY_SCAN_AT": "2am", "ESCHER_TIMEZONE": "UTC"}, "not a time of day"),
        ({"ESCHER_DAILY_SCAN_AT": "02:00", "ESCHER_TIMEZONE": "Mars/Olympus"}, "not a known time zone"),
    ],
)
def test_a_bad_scan_time_setting_is_a_config_error_that_says_what_to_set(
    env: dict[str, str], message: str
) -> None:
    from escher.config import ConfigError
    from escher.workers.azure.handlers import on_daily_scan_timer

    with pytest.raises(ConfigError, match=message) as caught:
        on_daily_scan_timer(now=datetime(2025, 1, 1, tzinfo=UTC), env=env)
    assert caught.value.hint
