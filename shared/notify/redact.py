"""Secrets never reach a log line: webhook tokens, SMTP passwords, API keys.

:func:`redact_url` shows where a message went without the secret part; :class:`RedactingFilter` scrubs every
log record (message, arguments, extra fields) of the configured secrets and of well-known token shapes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RedactingFilter", "redact", "redact_url"]

MASK = "***"
# Shapes that are secrets wherever they appear (Slack tokens and webhooks, bearer tokens, URL passwords,
# query parameters that carry keys).
_PATTERNS = (
    (re.compile(r"xox[abposr]-[A-Za-z0-9-]{8,}"), MASK),
    # apprise URLs whose every part is a token (slack://TokenA/TokenB/TokenC, pagerduty://key@key, ...)
    (
        re.compile(r"(?i)\b(slack|pagerduty|discord|msteams|twilio|sns|pushover|tgram|opsgenie)://[^\s\"']+"),
        r"\g<1>://" + MASK,
    ),
    (re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/]+"), r"\g<1>" + MASK),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\g<1>" + MASK),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+(@)"), r"\g<1>" + MASK + r"\g<2>"),
    (
        re.compile(r"(?i)((?:password|passwd|pwd|token|secret|apikey|api_key|key|sig)=)[^&\s\"']+"),
        r"\g<1>" + MASK,
    ),
)


def redact_url(url: str) -> str:
    """``scheme://host/***``: enough to say which channel, nothing that grants access."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/{MASK}" if parts.scheme else MASK


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """The configured secrets, the channel-URL shapes above, then every credential shape Escher knows
    (:mod:`escher.secret_scan`, the same detection the brain's privacy boundary uses) masked."""
    for secret in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _mask_shapes(text)


def _mask_shapes(text: str) -> str:
    from escher.secret_scan import scan_text

    out, pos = [], 0
    for span in scan_text(text):
        if span.end <= pos:
            continue
        out.append(text[pos : max(pos, span.start)])
        out.append(MASK)
        if span.whole:  # key material: its body follows the part that was recognised
            return "".join(out)
        pos = span.end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def _secret_parts(url: str) -> list[str]:
    """The URL and the pieces of it that are secrets on their own (password, path tokens, query values)."""
    parts = [url]
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    if split.password:
        parts.append(split.password)
    parts.extend(seg for seg in split.path.split("/") if len(seg) >= 8)
    if split.netloc and split.scheme not in ("mailto", "mailtos", "json", "jsons", "http", "https"):
        parts.append(split.netloc)  # slack://TOKEN_A/TOKEN_B/...: the "host" is a token
    return parts


class RedactingFilter(logging.Filter):
    """Attach to a handler (or logger): rewrites records so no configured secret is emitted."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: set[str] = set()
        self.add(secrets)

    def add(self, urls_or_secrets: Iterable[str]) -> None:
        for item in urls_or_secrets:
            self.secrets.update(_secret_parts(item) if "://" in item else [item])

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        for name, value in list(record.__dict__.items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value, self.secrets))
            elif name not in _STANDARD and isinstance(value, dict):
                setattr(record, name, _scrub(value, self.secrets))
        return True


def _scrub(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
