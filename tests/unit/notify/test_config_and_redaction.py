"""The [notify] section and the redaction that keeps secrets out of logs (no network)."""

from __future__ import annotations

import logging

import pytest

from escher.notify import NotifyError, RecordingNotifier, load_notify, redact, redact_url
from escher.notify.redact import RedactingFilter
from escher.notify.send import Message


def test_default_routes_follow_the_vision() -> None:
    settings = load_notify({})
    assert settings.channels_for("CRITICAL")[:4] == ["email", "sms", "slack", "pagerduty"]
    assert settings.channels_for("HIGH")[:2] == ["email", "slack"]
    assert settings.channels_for("MEDIUM") == ["banner"]
    assert settings.channels_for("INFO") == ["morning_report"]


def test_routes_are_case_insensitive_and_url_env_is_resolved_from_the_environment() -> None:
    settings = load_notify(
        {"notify": {"channels": {"slack": {"url_env": "SLACK_URL"}}, "routes": {"high": ["slack"]}}}
    )
    assert settings.channels_for("HIGH") == ["slack"]
    assert settings.urls({"SLACK_URL": "slack://a/b/c"}) == {"slack": "slack://a/b/c"}
    assert settings.urls({}) == {}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"channels": {"x": {}}}, "exactly one of url or url_env"),
        ({"channels": {"x": {"url": "a://", "url_env": "B"}}}, "exactly one of url or url_env"),
        ({"routes": {"URGENT": ["x"]}}, "unknown severities"),
        ({"channels": {"banner": {"url": "json://x"}}}, "built-in"),
        ({"chanels": {}}, "chanels"),
    ],
)
def test_bad_notify_sections_are_named(raw: dict[str, object], words: str) -> None:
    with pytest.raises(NotifyError, match=words):
        load_notify({"notify": raw})


def test_redaction_removes_passwords_tokens_and_configured_secrets() -> None:
    text = (
        "mailto://ops:hunter22@smtp.example.com:587 slack://TA/TB/TC https://hooks.slack.com/services/T1/B2/XYZ "
        "token=abc123 Authorization: Bearer abcdefghijkl xoxb-1234567890-abcdef secretvalue"
    )
    out = redact(text, ["secretvalue"])
    for secret in (
        "hunter22",
        "TA/TB/TC",
        "T1/B2/XYZ",
        "abc123",
        "abcdefghijkl",
        "xoxb-1234567890",
        "secretvalue",
    ):
        assert secret not in out
    assert (
        redact_url("mailto://ops:hunter22@smtp.example.com:587?to=a@b") == "mailto://smtp.example.com:587/***"
    )


def test_the_logging_filter_scrubs_message_args_and_extra_fields(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("escher.test.redaction")
    filt = RedactingFilter(["json://127.0.0.1:9/hooks/SECRET-TOKEN-42"])
    log.addFilter(filt)
    try:
        with caplog.at_level(logging.INFO):
            log.info(
                "posting to %s",
                "json://127.0.0.1:9/hooks/SECRET-TOKEN-42",
                extra={"detail": {"u": "SECRET-TOKEN-42"}},
            )
    finally:
        log.removeFilter(filt)
    assert "SECRET-TOKEN-42" not in caplog.text
    assert "SECRET-TOKEN-42" not in str(caplog.records[0].__dict__)


def test_recording_notifier_routes_by_severity() -> None:
    notifier = RecordingNotifier()
    notifier.notify(Message("A-1", "HIGH", "t", "b"))
    assert [c for c, _ in notifier.sent] == ["email", "slack", "banner"]
