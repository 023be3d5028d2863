"""boto3 clients with Escher's retry policy; endpoints come from boto3's own settings.

boto3 reads ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>`` (and ``endpoint_url`` in the profile) by
itself, so pointing Escher at LocalStack or moto needs no code: only an explicit ``endpoint_url`` (the
``[aws] endpoint_url`` setting) overrides them.
"""

from __future__ import annotations

import threading
from typing import Any

from escher.lazy import require

__all__ = ["DEFAULT_RETRIES", "client", "error_code", "errors", "is_not_found"]

# botocore's adaptive mode: standard retries (throttling, 5xx, transient errors) plus a client-side rate limiter.
DEFAULT_RETRIES: dict[str, Any] = {"mode": "adaptive", "max_attempts": 10}

_lock = threading.Lock()  # boto3 sessions are not thread-safe while they create clients


def client(
    service: str,
    region: str | None = None,
    *,
    retries: dict[str, Any] | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
) -> Any:
    """A boto3 client for ``service`` in ``region`` (None: the SDK's default region)."""
    boto3 = require("boto3", "aws")
    config_mod = require("botocore.config", "aws")
    config = config_mod.Config(retries=dict(retries or DEFAULT_RETRIES), user_agent_extra="escher")
    with _lock:
        session = boto3.session.Session(profile_name=profile)
        return session.client(service, region_name=region, config=config, endpoint_url=endpoint_url)


def errors() -> tuple[type[BaseException], ...]:
    """The SDK's error types: what a failed AWS call raises after botocore's retries gave up."""
    exc = require("botocore.exceptions", "aws")
    return (exc.ClientError, exc.BotoCoreError)


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def is_not_found(error: BaseException) -> bool:
    code = error_code(error)
    return code.endswith(("NotFound", ".NotFound", "NotFoundFault")) or code in {
        "NoSuchBucket",
        "404",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
    }
