"""Notifications by severity: CRITICAL -> email + SMS + Slack/PagerDuty, HIGH -> email + Slack, MEDIUM -> the
in-app banner, INFO -> the morning report. Channels and routes come from ``[notify]``; apprise sends."""

from __future__ import annotations

from escher.notify.config import (
    BUILTIN_CHANNELS,
    DEFAULT_ROUTES,
    Channel,
    NotifyError,
    NotifySettings,
    load_notify,
)
from escher.notify.redact import RedactingFilter, redact, redact_url
from escher.notify.send import AppriseNotifier, Message, Notifier, RecordingNotifier

__all__ = [
    "BUILTIN_CHANNELS",
    "DEFAULT_ROUTES",
    "AppriseNotifier",
    "Channel",
    "Message",
    "Notifier",
    "NotifyError",
    "NotifySettings",
    "RecordingNotifier",
    "RedactingFilter",
    "load_notify",
    "redact",
    "redact_url",
]
