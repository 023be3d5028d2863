"""Notifications by severity through apprise, to a loopback webhook and a loopback SMTP server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from escher.emulators import free_port
from escher.notify import AppriseNotifier, Message, load_notify
from tests.functional.pipeline.servers import SmtpServer, WebhookReceiver

SMTP_PASSWORD = "hunter2-smtp-secret"
HOOK_TOKEN = "T0KEN-abcdef123456"


@pytest.fixture
def servers() -> Iterator[tuple[WebhookReceiver, SmtpServer]]:
    with WebhookReceiver() as hook, SmtpServer() as smtp:
        yield hook, smtp


def notifier_for(
    hook: WebhookReceiver, smtp: SmtpServer, morning: list[Message] | None = None
) -> AppriseNotifier:
    settings = load_notify(
        {
            "notify": {
                "channels": {
                    "email": {"url_env": "ESCHER_NOTIFY_EMAIL_URL"},
                    "slack": {"url": f"json://127.0.0.1:{hook.port}/hooks/{HOOK_TOKEN}"},
                },
                "routes": {"critical": ["email", "sms", "slack", "banner"]},
            }
        }
    )
    env = {
        "ESCHER_NOTIFY_EMAIL_URL": f"mailto://escher:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}"
        "?from=escher@example.com&to=oncall@example.com&mode=insecure"
    }
    sink = morning if morning is not None else []
    return AppriseNotifier(settings, env=env, morning_report=sink.append)


def message(severity: str) -> Message:
    return Message(
        "A-123", severity, f"[{severity}] S3 bucket 'my-data' made public", "Escher made it private."
    )


def test_critical_goes_to_email_slack_and_the_banner_and_says_what_is_missing(
    servers: tuple[WebhookReceiver, SmtpServer], caplog: pytest.LogCaptureFixture
) -> None:
    hook, smtp = servers
    caplog.set_level(logging.DEBUG)
    deliveries = notifier_for(hook, smtp).notify(message("CRITICAL"))
    by_channel = {d.channel: d for d in deliveries}
    assert by_channel["email"].ok and by_channel["slack"].ok and by_channel["banner"].ok
    assert not by_channel["sms"].ok and "not configured" in by_channel["sms"].detail
    [mail] = smtp.mails
    assert mail.recipients == ["oncall@example.com"] and mail.auth == [SMTP_PASSWORD]
    assert "S3 bucket 'my-data' made public" in mail.data
    [post] = hook.received
    assert post.path == f"/hooks/{HOOK_TOKEN}" and post.body["title"].startswith("[CRITICAL]")
    # what the alert records and the logs show never carries a secret
    shown = " ".join(d.target + d.detail for d in deliveries) + caplog.text
    assert SMTP_PASSWORD not in shown and HOOK_TOKEN not in shown


def test_high_goes_to_email_and_slack_only(servers: tuple[WebhookReceiver, SmtpServer]) -> None:
    hook, smtp = servers
    deliveries = notifier_for(hook, smtp).notify(message("HIGH"))
    assert [d.channel for d in deliveries] == ["email", "slack", "banner"]
    assert len(smtp.mails) == 1 and len(hook.received) == 1


def test_medium_is_a_banner_and_info_waits_for_the_morning_report(
    servers: tuple[WebhookReceiver, SmtpServer],
) -> None:
    hook, smtp = servers
    morning: list[Message] = []
    notifier = notifier_for(hook, smtp, morning)
    assert [d.channel for d in notifier.notify(message("MEDIUM"))] == ["banner"]
    assert [d.channel for d in notifier.notify(message("INFO"))] == ["morning_report"]
    assert [m.severity for m in morning] == ["INFO"]
    assert smtp.mails == [] and hook.received == []


def test_unreachable_webhook_is_reported_failed_and_the_log_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead_port = free_port()
    settings = load_notify(
        {
            "notify": {
                "channels": {"slack": {"url": f"json://127.0.0.1:{dead_port}/hooks/{HOOK_TOKEN}"}},
                "routes": {"HIGH": ["slack"]},
            }
        }
    )
    caplog.set_level(logging.DEBUG)
    [delivery] = AppriseNotifier(settings, env={}).notify(message("HIGH"))
    assert not delivery.ok and delivery.target == f"json://127.0.0.1:{dead_port}/***"
    assert HOOK_TOKEN not in caplog.text
