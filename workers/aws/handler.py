"""The Lambda entry point: route, unwrap, call the core. All logic is in ``escher.pipeline``.

- EventBridge events (CloudTrail API calls, service events) -> the pipeline;
- EventBridge Scheduler ``{"job": ...}`` -> a scheduled job;
- SQS records of the scan queue (an organization's daily scan, one account a message) -> escher.pipeline.fanout;
- SQS records (redrive of the dead-letter queue) -> the pipeline, through powertools' batch utility: a partial
  batch response (the event source mapping needs ``FunctionResponseTypes: ["ReportBatchItemFailures"]``).

A delivery that cannot be handled (not JSON, nested too deep, a huge integer, a lone surrogate, wrong types, too
big) is dead-lettered with the reason and answered as handled. Only a transient failure (state storage down, the
event in progress elsewhere) or a dead letter that could not be written fails: the whole invocation for an
EventBridge event (Lambda retries, then its on-failure queue), that one message for SQS (redelivered alone).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

    from escher.pipeline.errors import PermanentEventError

WORKER = "aws"


def handler(event: Any, context: Any) -> dict[str, Any]:
    from escher.workers.aws import _tools

    log, metrics = _tools.logger(), _tools.metrics()
    log.append_keys(request_id=getattr(context, "aws_request_id", None))
    try:
        if not isinstance(event, dict):  # a direct invoke may send any JSON value
            return _eventbridge(event, log, metrics)
        if "job" in event:
            return _job(event, log, metrics)
        records = event.get("Records")
        if (
            isinstance(records, list) and records
        ):  # (an empty list holds nothing to handle: dead-lettered below)
            if all(r.get("EventSource") == "aws:sns" for r in records if isinstance(r, dict)):
                return _sns(records, log, metrics)  # a topic subscribed to the function directly (Budgets)
            return _sqs(event, context, log, metrics)
        return _eventbridge(event, log, metrics)
    finally:
        metrics.flush_metrics()


def _eventbridge(event: Any, log: Any, metrics: Any) -> dict[str, Any]:
    from pydantic import ValidationError

    from escher.pipeline import payloads
    from escher.pipeline.errors import PermanentEventError
    from escher.pipeline.worker import handle_event
    from escher.workers.aws import _tools

    try:
        payloads.check(event)  # before the parser: pydantic recurses, and quotes what it cannot read
        if not isinstance(event, dict):
            raise PermanentEventError(
                f"the event is a JSON {type(event).__name__}, not an EventBridge event object",
                hint="send the event as delivered",
            )
        _tools.parse(event)
    except (ValidationError, PermanentEventError) as exc:
        from escher.pipeline.worker import park

        result = park(
            WORKER, event, _invalid(exc) if isinstance(exc, ValidationError) else exc, source="eventbridge"
        )
    else:
        result = handle_event(WORKER, event, source="eventbridge")
    _record(result, log, metrics)
    return result


def _invalid(exc: ValidationError) -> PermanentEventError:
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


def _sqs(event: dict[str, Any], context: Any, log: Any, metrics: Any) -> dict[str, Any]:
    """Each message on its own: a bad one is dead-lettered (and deleted from the queue as handled); one whose
    handling failed for a reason that may pass (or whose dead letter could not be written) is reported in
    ``batchItemFailures``, so SQS redelivers it alone and the rest of the batch is done."""
    import os

    from escher.lazy import require
    from escher.pipeline import fanout
    from escher.pipeline.errors import PipelineError
    from escher.pipeline.worker import delivery_count, handle_event, park, unwrap_redrive

    batch = require("aws_lambda_powertools.utilities.batch", "workers")

    def record_handler(record: Any) -> None:
        message = record.raw_event
        fields = message if isinstance(message, dict) else {}
        attributes = fields.get("attributes")
        count = attributes.get("ApproximateReceiveCount") if isinstance(attributes, dict) else None
        body = fields.get("body")
        try:
            if fanout.is_scan_message(body):  # one account of an organization's daily scan
                result = fanout.scan_account(WORKER, body, os.environ)
            elif isinstance(body, str):
                result = handle_event(
                    WORKER, unwrap_redrive(body), source="sqs", attempts=delivery_count(count)
                )
            else:  # SQS bodies are strings: this is not an SQS message
                from escher.pipeline.errors import PermanentEventError

                what = (
                    f"the SQS record's body is {type(body).__name__}, not a string"
                    if isinstance(message, dict)
                    else f"the SQS record is {type(message).__name__}, not an object"
                )
                problem = PermanentEventError(what, hint="send SQS records as Lambda delivers them")
                result = park(WORKER, message, problem, source="sqs")
        except PipelineError as exc:  # transient, or no dead letter written: SQS redelivers this one
            log.warning(
                "redelivery deferred", extra={"message_id": fields.get("messageId"), "reason": exc.message}
            )
            raise
        except Exception:  # a bug: this message alone is redelivered (then the queue's redrive policy)
            log.exception("message failed", extra={"message_id": fields.get("messageId")})
            raise
        _record(result, log, metrics)

    # all messages failing is answered per message too (not by raising), so each is redelivered on its own
    processor = batch.BatchProcessor(event_type=batch.EventType.SQS, raise_on_entire_batch_failure=False)
    response: dict[str, Any] = batch.process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return response


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
