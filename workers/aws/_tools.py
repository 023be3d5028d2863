"""Powertools pieces, built on the first invocation (never at import: a cold start pays only for what it uses).

The Tracer is not used: it imports the X-Ray SDK (~0.4 s) for spans the pipeline's audit timings already give.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from escher.lazy import require

SERVICE = "escher-worker"


@cache
def logger() -> Any:
    """JSON logs; every record goes through the redaction filter (notification URLs, tokens, passwords)."""
    logging_mod = require("aws_lambda_powertools.logging", "workers")
    from escher.notify.redact import RedactingFilter

    log = logging_mod.Logger(service=SERVICE)
    secrets = [v for k, v in os.environ.items() if k.startswith("ESCHER_NOTIFY_") and v]
    log.registered_handler.addFilter(RedactingFilter(secrets))
    return log


@cache
def metrics() -> Any:
    metrics_mod = require("aws_lambda_powertools.metrics", "workers")
    return metrics_mod.Metrics(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Escher"), service=SERVICE
    )


@cache
def models() -> tuple[Any, Any]:
    """(EventBridgeModel, CloudTrailEventBridgeModel): powertools has no CloudTrail model, so one is made here."""
    parser = require("aws_lambda_powertools.utilities.parser.models", "workers")
    from pydantic import BaseModel, ConfigDict

    class CloudTrailDetail(BaseModel):
        model_config = ConfigDict(extra="allow")

        eventName: str
        eventSource: str
        awsRegion: str
        eventID: str | None = None
        eventTime: str | None = None
        userIdentity: dict[str, Any] | None = None
        requestParameters: dict[str, Any] | None = None
        responseElements: dict[str, Any] | None = None
        errorCode: str | None = None

    class CloudTrailEventBridgeModel(parser.EventBridgeModel):  # type: ignore[misc,name-defined]
        detail: CloudTrailDetail

    return parser.EventBridgeModel, CloudTrailEventBridgeModel


def parse(event: dict[str, Any]) -> Any:
    """Validate the EventBridge envelope (and the CloudTrail detail when it is one); raise on a bad shape."""
    parser = require("aws_lambda_powertools.utilities.parser", "workers")
    plain, cloudtrail = models()
    model = cloudtrail if event.get("detail-type") == "AWS API Call via CloudTrail" else plain
    return parser.parse(event=event, model=model)
