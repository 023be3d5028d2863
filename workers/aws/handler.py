"""The Lambda entry point: route, unwrap, call the core. All logic is in ``escher.pipeline``.

- EventBridge events (CloudTrail API calls, service events) -> the pipeline;
- EventBridge Scheduler ``{"job": ...}`` -> a scheduled job;
- SQS records (redrive of the dead-letter queue) -> the pipeline, failures reported per message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

WORKER = "aws"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from escher.workers.aws import _tools

    log, metrics = _tools.logger(), _tools.metrics()
    log.append_keys(request_id=getattr(context, "aws_request_id", None))
    try:
        if "job" in event:
            return _job(event, log, metrics)
        records = event.get("Records")
        if isinstance(records, list):
            if records and all(r.get("EventSource") == "aws:sns" for r in records if isinstance(r, dict)):
                return _sns(records, log, metrics)  # a topic subscribed to the function directly (Budgets)
            return _sqs(records, log, metrics)
        return _eventbridge(event, log, metrics)
    finally:
        metrics.flush_metrics()


def _eventbridge(event: dict[str, Any], log: Any, metrics: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    from escher.pipeline.worker import handle_event
    from escher.workers.aws import _tools

    try:
        _tools.parse(event)
    except ValidationError as exc:
        from escher.pipeline.runtime import build_pipeline

        result = build_pipeline(WORKER).dead_letter(event, _invalid(exc), source="eventbridge").to_dict()
    else:
        result = handle_event(WORKER, event, source="eventbridge")
    _record(result, log, metrics)
    return result


def _invalid(exc: ValidationError) -> Exception:
    from escher.pipeline.errors import PermanentEventError

    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return PermanentEventError(
        f"not an EventBridge event: {where}: {first['msg']}", hint="send the event as delivered"
    )


def _job(event: dict[str, Any], log: Any, metrics: Any) -> dict[str, Any]:
    from escher.pipeline.worker import handle_job

    result = handle_job(WORKER, event)
    metrics.add_metric(name="ScheduledJobs", unit="Count", value=1)
    log.info("scheduled job", extra={"result": result})
    return result


def _sqs(records: list[dict[str, Any]], log: Any, metrics: Any) -> dict[str, Any]:
    from escher.pipeline.errors import PipelineError
    from escher.pipeline.worker import handle_event, unwrap_redrive

    failures = []
    for record in records:
        attempts = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
        try:
            result = handle_event(
                WORKER, unwrap_redrive(record.get("body", "")), source="sqs", attempts=attempts
            )
        except PipelineError as exc:  # transient (in progress, state store down): SQS redelivers this one
            log.warning(
                "redelivery deferred", extra={"message_id": record.get("messageId"), "reason": exc.message}
            )
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        _record(result, log, metrics)
    return {"batchItemFailures": failures}


def _sns(records: list[dict[str, Any]], log: Any, metrics: Any) -> dict[str, Any]:
    """SNS invokes with one record at a time; each goes to normalize in the Lambda SNS form it arrived in."""
    from escher.pipeline.worker import handle_event

    results = [handle_event(WORKER, {"Records": [record]}, source="sns") for record in records]
    for result in results:
        _record(result, log, metrics)
    return results[0] if len(results) == 1 else {"results": results}


def _record(result: dict[str, Any], log: Any, metrics: Any) -> None:
    metrics.add_metric(name=f"Outcome_{result['outcome']}", unit="Count", value=1)
    timings = result.get("timings") or {}
    if "event" in timings and "verified" in timings:
        from datetime import datetime

        latency = datetime.fromisoformat(timings["verified"]) - datetime.fromisoformat(timings["event"])
        metrics.add_metric(
            name="EventToVerifiedFixMs", unit="Milliseconds", value=latency.total_seconds() * 1000
        )
    log.info("event handled", extra={"result": result})
