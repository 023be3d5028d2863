"""Send one alert to the channels its severity routes to: apprise for the outside world, built-ins for the rest.

apprise is imported on the first send (never at import). Each channel gets its own ``Apprise`` object so one
failing channel is reported on its own and never stops the others. The results name each channel by a redacted
URL only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from escher.alerts.model import Delivery
from escher.lazy import require
from escher.notify.config import BUILTIN_CHANNELS, NotifySettings
from escher.notify.redact import RedactingFilter, redact, redact_url

__all__ = ["AppriseNotifier", "Message", "Notifier", "RecordingNotifier"]

log = logging.getLogger("escher.notify")


@dataclass(frozen=True)
class Message:
    alert_id: str
    severity: str
    title: str
    body: str


class Notifier(Protocol):
    def notify(self, message: Message) -> list[Delivery]: ...


class RecordingNotifier:
    """The fake: records what would be sent (unit tests, the core benchmark)."""

    def __init__(self, settings: NotifySettings | None = None) -> None:
        self.settings = settings or NotifySettings()
        self.sent: list[tuple[str, Message]] = []

    def notify(self, message: Message) -> list[Delivery]:
        out = []
        for channel in self.settings.channels_for(message.severity):
            self.sent.append((channel, message))
            out.append(Delivery(channel=channel, ok=True, target="recorded"))
        return out


_LEAKY_LOGGERS = ("apprise", "urllib3.connectionpool")
_SHARED_FILTER = RedactingFilter()  # one per process: every notifier's secrets, attached once per logger
_APPRISE_TYPES = {"CRITICAL": "failure", "HIGH": "warning", "MEDIUM": "warning", "INFO": "info"}


class AppriseNotifier:
    def __init__(
        self,
        settings: NotifySettings,
        *,
        env: Mapping[str, str] | None = None,
        morning_report: Callable[[Message], None] | None = None,
    ) -> None:
        self.settings = settings
        self.urls = settings.urls(env)
        self.morning_report = morning_report
        self._filter = _SHARED_FILTER
        self._filter.add(self.urls.values())
        self._clients: dict[str, Any] = {}

    def _client(self, channel: str) -> Any:
        if channel not in self._clients:
            apprise = require("apprise", "notify")
            # apprise logs the URLs it posts to, and urllib3 logs each request line with its path (a webhook's
            # path is its token): both loggers' records go through the same redaction as ours
            for name in _LEAKY_LOGGERS:
                if self._filter not in logging.getLogger(name).filters:
                    logging.getLogger(name).addFilter(self._filter)
            client = apprise.Apprise()
            if not client.add(self.urls[channel]):
                self._clients[channel] = None
            else:
                self._clients[channel] = client
        return self._clients[channel]

    def notify(self, message: Message) -> list[Delivery]:
        return [self._send(channel, message) for channel in self.settings.channels_for(message.severity)]

    def _send(self, channel: str, message: Message) -> Delivery:
        if channel == "banner":
            return Delivery(channel=channel, ok=True, target="in-app banner")
        if channel == "morning_report":
            if self.morning_report is not None:
                self.morning_report(message)
            return Delivery(channel=channel, ok=True, target="next morning report")
        if channel in BUILTIN_CHANNELS:  # pragma: no cover - the set and the branches above agree
            raise AssertionError(channel)
        url = self.urls.get(channel)
        if url is None:
            return Delivery(
                channel=channel, ok=False, detail="not configured: add it under [notify.channels]"
            )
        target = redact_url(url)
        client = self._client(channel)
        if client is None:
            return Delivery(
                channel=channel, ok=False, target=target, detail="apprise does not accept this URL"
            )
        apprise = require("apprise", "notify")
        ok = bool(
            client.notify(
                title=message.title,
                body=message.body,
                notify_type=getattr(apprise.NotifyType, _APPRISE_TYPES[message.severity].upper()),
            )
        )
        detail = "" if ok else "the service refused or could not be reached (see the log)"
        if not ok:
            log.warning("notification %s via %s failed", message.alert_id, target)
        return Delivery(channel=channel, ok=ok, target=target, detail=redact(detail, self._filter.secrets))
