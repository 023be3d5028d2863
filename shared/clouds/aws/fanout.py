"""The organization scan's queue on AWS (:mod:`escher.pipeline.fanout`): SQS, ten messages a call.

The worker enters each account through ``[aws] organization_role`` inside the scan itself (AssumeRole refused
is the scan's error), so :func:`enter` has nothing to check first.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SCHEME", "SEND_PERMISSION", "enter", "organization", "send"]

SCHEME = "sqs"  # ESCHER_SCAN_QUEUE_URL's scheme names this cloud
SEND_PERMISSION = "sqs:SendMessage"
BATCH = 10  # SendMessageBatch's limit


def organization(settings: Any) -> bool:
    """``[aws] accounts``, ``organization_units`` or ``account_tags`` ask for the organization."""
    aws = settings.aws
    return bool(aws.accounts or aws.organization_units or aws.account_tags)


def send(url: str, bodies: list[str]) -> list[int]:
    """Send each body to the queue ``url`` (``sqs://<name>`` or the queue's URL); the indexes SQS refused."""
    from escher.clouds import aws

    sqs = aws.client("sqs")
    queue = url
    if url.startswith("sqs://"):
        queue = str(sqs.get_queue_url(QueueName=url.removeprefix("sqs://"))["QueueUrl"])
    failed: list[int] = []
    for start in range(0, len(bodies), BATCH):
        entries = [
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + BATCH], start)
        ]
        answer = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        failed += [int(f["Id"]) for f in answer.get("Failed", [])]
    return failed


def enter(account: str, ctx: Any) -> None:
    """Nothing to check before the scan: it assumes the organization role and says so when refused."""
    del account, ctx
