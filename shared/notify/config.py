"""The ``[notify]`` section: channels (apprise URLs) and which severities go where.

    [notify.channels.email]
    url_env = "ESCHER_NOTIFY_EMAIL_URL"          # keep secrets out of the file: read the URL from the env
    [notify.channels.slack]
    url = "slack://T000/B000/XXXX"               # or inline (the file is the user's own, mode 0600)
    [notify.routes]
    CRITICAL = ["email", "sms", "slack", "pagerduty"]
    HIGH = ["email", "slack"]
    MEDIUM = ["banner"]
    INFO = ["morning_report"]

``banner`` (the in-app alert banner: the stored alert itself) and ``morning_report`` (queued for the next
morning report) are built in and need no URL. A routed channel that is not configured is reported as skipped,
never an error: a laptop may have no SMS gateway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from escher.errors import EscherError

__all__ = ["BUILTIN_CHANNELS", "DEFAULT_ROUTES", "Channel", "NotifyError", "NotifySettings", "load_notify"]

BUILTIN_CHANNELS = frozenset({"banner", "morning_report"})
DEFAULT_ROUTES: dict[str, list[str]] = {
    "CRITICAL": ["email", "sms", "slack", "pagerduty", "banner"],
    "HIGH": ["email", "slack", "banner"],
    "MEDIUM": ["banner"],
    "INFO": ["morning_report"],
}


class NotifyError(EscherError):
    """The notification settings are invalid, or a channel cannot be used."""


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, description="an apprise URL: mailto://, slack://, json://, ...")
    url_env: str | None = Field(default=None, description="the environment variable holding the URL")

    @model_validator(mode="after")
    def _one_source(self) -> Channel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url or url_env")
        return self

    def resolve(self, env: Mapping[str, str]) -> str | None:
        return self.url if self.url is not None else env.get(self.url_env or "")


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: dict[str, Channel] = Field(default_factory=dict)
    routes: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROUTES.items()}
    )

    @model_validator(mode="after")
    def _known_severities(self) -> NotifySettings:
        unknown = set(self.routes) - set(DEFAULT_ROUTES)
        if unknown:
            raise ValueError(
                f"routes for unknown severities {sorted(unknown)}; use CRITICAL, HIGH, MEDIUM, INFO"
            )
        clash = BUILTIN_CHANNELS & set(self.channels)
        if clash:
            raise ValueError(f"{sorted(clash)} are built-in channels and take no URL")
        return self

    def channels_for(self, severity: str) -> list[str]:
        return list(self.routes.get(severity, DEFAULT_ROUTES.get(severity, [])))

    def urls(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """channel -> URL, for every channel whose URL is known (the secrets; never log them)."""
        env = os.environ if env is None else env
        found = {name: ch.resolve(env) for name, ch in self.channels.items()}
        return {k: v for k, v in found.items() if v}


def load_notify(extensions: Mapping[str, Any]) -> NotifySettings:
    raw = extensions.get("notify", {})
    routes = raw.get("routes") if isinstance(raw, dict) else None
    if isinstance(routes, dict):  # severities as people write them: "critical" is CRITICAL
        raw = {**raw, "routes": {str(k).upper(): v for k, v in routes.items()}}
    try:
        return NotifySettings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise NotifyError(
            f"[notify] {where}: {err['msg']}",
            hint="see the [notify] example in the README (channels with url or url_env, routes per severity)",
        ) from None
