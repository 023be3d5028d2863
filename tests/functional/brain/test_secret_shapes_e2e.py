"""43 credential shapes and 5 secret-named fields, planted where an estate keeps text — resource tags, descriptions,
log lines, scan findings, event payloads, the config — and sent through every path to the brain on loopback:
none reaches the brain's request bodies, the model (the fake Anthropic endpoint), a log line or an answer
(issue 14, item 2)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from escher.assist.alerts import event_request, report_request
from escher.assist.client import Assistant, HttpBrain
from escher.assist.history import MemoryChatLog
from escher.assist.sources import EstateSource, MemorySource
from escher.brain.models import ContextItem
from escher.brain.server import BrainService, ServerConfig
from escher.events.model import EventContext, Resource, UnifiedEvent
from escher.scans.persist import JsonFileStore
from tests.functional.brain.conftest import RunningBrain
from tests.harness.fake_anthropic import FakeAnthropic, tool_use
from tests.unit.brain.secret_shapes import FIELD_SECRETS, SHAPES, leaked

VALUES = [s.value for s in SHAPES]


def log_line(value: str) -> str:
    return (f"2025-03-03T02:00:04.113Z ERROR app[4242] upload to the backup bucket failed after 3 retries; the "
            f"job config was {value} ; region us-east-1; request 7f1c9a2e-0b4d; next attempt in 30 s")  # fmt: skip


def planted_estate(root: Path) -> JsonFileStore:
    """One instance per shape: the shape in a tag, a description and user data; the field secrets as tags."""
    store = JsonFileStore(root / "reports")
    records = [
        {"cloud": "aws", "type": "aws.ec2.instance", "id": f"i-0d{i:015x}", "region": "us-east-1",
         "account": "123456789012", "name": f"web-{i}",
         "tags": {"env": "dev", "owner": "alice@example.com", "note": value, **FIELD_SECRETS},
         "attrs": {"state": "running", "description": value, "user_data": log_line(value),
                   "instance_type": "t3.large"}}
        for i, value in enumerate(VALUES)
    ]  # fmt: skip
    store.put("estate", "latest", {"collected_at": "2025-03-03T02:00:00+00:00", "records": records})
    findings = [
        {"check_id": "aws.ec2.imdsv1", "title": f"IMDSv1 on web-{i}", "status": "FAIL", "severity": "HIGH",
         "cloud": "aws", "region": "us-east-1", "resource_id": f"i-0d{i:015x}", "resource_type": "aws.ec2.instance",
         "message": log_line(value)}
        for i, value in enumerate(VALUES)
    ]  # fmt: skip
    store.put("scan", "2025-03-03T02-00-00", {"findings": findings})
    return store


@pytest.fixture
def planted(escher_home: Path) -> JsonFileStore:
    return planted_estate(escher_home / "data")


CHANNELS = {"slack": "hooks.slack.com", "teams": "webhook.office.com", "discord": "discord.com/api/webhooks"}


def write_config(home: Path, brain_token: str) -> str:
    """A config holding secrets of its own: the brain token and notification channels' webhook URLs."""
    urls = {name: next(s.value for s in SHAPES if host in s.value) for name, host in CHANNELS.items()}
    channels = "".join(f'[notify.channels.{name}]\nurl = "{url}"\n' for name, url in urls.items())
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(f'[brain]\ntoken = "{brain_token}"\n\n{channels}', encoding="utf-8")
    return (config / "config.toml").read_text()


def log_items() -> list[ContextItem]:
    """Alerts and chat turns whose text holds log lines, as the knowledge store would return them."""
    return [ContextItem(kind="alert", id=f"alert-{i}", name="backup failed", text=log_line(v))
            for i, v in enumerate(VALUES)]  # fmt: skip


def seen(
    brain: RunningBrain, fake: FakeAnthropic | None, caplog: pytest.LogCaptureFixture, *extra: Any
) -> str:
    parts = [
        *(b.decode() for b in brain.recorder.bodies),
        caplog.text,
        *(json.dumps(x, default=str) for x in extra),
    ]
    if fake is not None:
        parts.append(json.dumps(fake.requests))
    return "\n".join(parts)


def test_no_shape_reaches_the_brain_or_the_model_from_questions(
    planted: JsonFileStore, claude_brain: RunningBrain, fake_anthropic: FakeAnthropic,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    questions = ["Show running instances in us-east-1", "Stop all dev VMs", "What failed in last night's scan?",
                 "Who owns web-3?"]  # fmt: skip
    fake_anthropic.queue(*[tool_use("answer_information", {"intent": "list", "summary": "see the table",
                                                           "resource_ids": []})] * len(questions))  # fmt: skip
    sources = [EstateSource(planted), MemorySource(log_items())]
    assistant = Assistant(sources, HttpBrain(claude_brain.url), history=MemoryChatLog())
    answers = [assistant.ask(q) for q in questions]
    assert all(a.source == "brain" for a in answers)
    assert len(claude_brain.recorder.bodies) == len(questions) == len(fake_anthropic.requests)
    sent = json.loads(claude_brain.recorder.bodies[0])
    assert len(sent["context"]) >= len(SHAPES)  # the planted resources and log lines did go, scrubbed
    assert answers[0].withheld >= len(SHAPES) * 2
    text = seen(claude_brain, fake_anthropic, caplog, [a.to_dict() for a in answers])
    assert leaked(text) == []
    assert "alice@example.com" not in "".join(b.decode() for b in claude_brain.recorder.bodies)


def straddling(value: str) -> str:
    """Text whose 256-character cut falls inside the secret: a cut token must not go out half-recognised."""
    return "x " * ((256 - len(value) // 2) // 2) + value + " end"


def _event(i: int, value: str) -> UnifiedEvent:
    return UnifiedEvent(
        event_id=f"evt-{i:04d}", event_type="storage_bucket_public", severity="CRITICAL", cloud_provider="aws",
        account_id="123456789012", region="us-east-1",
        resource=Resource(type="AWS::S3::Bucket", id=f"arn:aws:s3:::exports-{i}", name=f"exports-{i}",
                          tags={"env": "production", "note": value, **FIELD_SECRETS, "cut": straddling(value)},
                          metadata={"grant": "AllUsers:READ", "description": value, "log": log_line(value),
                                    "cut": straddling(value)}),
        context=EventContext(environment="production"),
        timestamp=datetime(2025, 3, 4, 2, 14, 7, tzinfo=UTC),
        raw_event={"detail": {"requestParameters": {"bucketName": f"exports-{i}"}, "userData": value,
                              "responseElements": {"log": log_line(value)}}},
    )  # fmt: skip


def test_no_shape_reaches_the_brain_from_event_payloads_or_reports(
    planted: JsonFileStore, rules_brain: RunningBrain, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assistant = Assistant([], HttpBrain(rules_brain.url))
    context = log_items()[:20]
    analyses = [assistant.analyze_event(_event(i, v), context=context) for i, v in enumerate(VALUES)]
    assert all(a.source == "brain" for a in analyses)
    assert all(a.withheld >= 2 for a in analyses)
    scan = planted.get("scan", "2025-03-03T02-00-00")
    findings = [{**f, "title": f"{f['title']}: {v}"} for f, v in zip(scan["findings"], VALUES, strict=True)]
    summary = assistant.summarize_report(report_request({"findings": findings}))
    assert summary.source == "brain" and summary.withheld >= len(SHAPES)
    assert len(rules_brain.recorder.bodies) == len(SHAPES) + 1
    answers = [a.response.model_dump(mode="json") for a in analyses] + [
        summary.response.model_dump(mode="json")
    ]
    assert leaked(seen(rules_brain, None, caplog, answers)) == []
    assert leaked(
        json.dumps(event_request(_event(0, VALUES[0])).model_dump(mode="json"))
    )  # planted, before scrub


def test_escher_ask_with_a_config_full_of_secrets_sends_none(
    planted: JsonFileStore, escher_home: Path, rules_brain: RunningBrain, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """The CLI as a user runs it: the brain's token comes from [brain] token, channel URLs sit beside it."""
    from typer.testing import CliRunner

    from escher.cli.main import app

    caplog.set_level(logging.DEBUG)
    write_config(escher_home, rules_brain.token)
    monkeypatch.delenv("ESCHER_BRAIN_TOKEN", raising=False)  # only the config holds it
    monkeypatch.delenv("ESCHER_DATABASE_URL", raising=False)
    monkeypatch.setenv("ESCHER_BRAIN_URL", rules_brain.url)
    result = CliRunner().invoke(app, ["-o", "json", "ask", "Show running instances in us-east-1"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "brain"
    bodies = "".join(b.decode() for b in rules_brain.recorder.bodies)
    assert len(rules_brain.recorder.bodies) == 1 and "i-0d" in bodies  # the planted estate was the context
    assert leaked(bodies) == [] and leaked(caplog.text) == [] and rules_brain.token not in bodies


def test_the_server_refuses_each_shape_and_each_secret_field_by_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What slips past a client (or comes from another one) is refused: 422, the path named, the value never."""
    import httpx2

    caplog.set_level(logging.DEBUG)
    cases = [("tags", {"note": v}) for v in VALUES] + [("tags", {k: v}) for k, v in FIELD_SECRETS.items()]
    cases += [("text", log_line(v)) for v in VALUES]
    unlimited = RunningBrain(BrainService(ServerConfig(rate_per_minute=0)))  # ~100 requests from one client
    with unlimited, httpx2.Client(timeout=10, headers={"authorization": f"Bearer {unlimited.token}"}) as http:
        for field, value in cases:
            body = {"query": "list vms", "context": [{"id": "i-1"}, {"id": "i-2", field: value}]}
            resp = http.post(f"{unlimited.url}/v1/ask", json=body)
            assert resp.status_code == 422, (field, value[:20], resp.text[:200])
            assert resp.json()["error"] == "CredentialInPayloadError"
            assert f"$.context[1].{field}" in resp.json()["message"]
            assert leaked(resp.text) == []
    assert leaked(caplog.text) == []
