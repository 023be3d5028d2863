"""Dead letters: an event that cannot be handled is parked with the reason, never dropped.

Destinations (``ESCHER_DEAD_LETTER_URL``):

- ``sqs://<queue name>``: an SQS queue (the AWS worker's; the same queue takes Lambda's on-failure records);
- ``azblob://<container>/<prefix>[?account_url=...]``, ``s3://...``, ``gs://...``, ``file:///dir``: one JSON
  object per letter;
- ``pubsub://projects/<p>/topics/<t>``: a Pub/Sub dead-letter topic (reason and source as attributes).

A destination that cannot take the letter raises :class:`DeadLetterError`: the worker then reports failure to
the platform, whose own retry and dead-letter policy takes over. Nothing is silently lost on either path.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from escher.lazy import require
from escher.pipeline.errors import DeadLetterError, PipelineError
from escher.pipeline.objects import ObjectStore, open_objects

__all__ = [
    "DeadLetter",
    "DeadLetterSink",
    "MemoryDeadLetters",
    "ObjectDeadLetters",
    "PubSubDeadLetters",
    "SqsDeadLetters",
    "open_dead_letters",
]


def _now() -> datetime:
    return datetime.now(UTC)


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(description="what went wrong, in words a person can act on")
    error: str = Field(description="the error type")
    hint: str | None = None
    source: str = Field(description="eventbridge, sqs, eventgrid, pubsub, http, schedule, ...")
    event_id: str | None = None
    attempts: int | None = Field(default=None, description="delivery attempts so far, when the platform says")
    received_at: datetime = Field(default_factory=_now)
    payload: Any = Field(description="the delivery as received (JSON, or text when it was not JSON)")

    @property
    def letter_id(self) -> str:
        body = json.dumps(self.payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(body).hexdigest()[:24]

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class DeadLetterSink(Protocol):
    def send(self, letter: DeadLetter) -> str:
        """Park the letter durably; return where it went. Raise :class:`DeadLetterError` when it could not."""
        ...


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []
        self._lock = threading.Lock()

    def send(self, letter: DeadLetter) -> str:
        with self._lock:
            self.letters.append(letter)
            return f"memory:{len(self.letters)}"


class ObjectDeadLetters:
    """One object per letter under ``prefix`` (Azure Blob in the Azure worker; a directory on a laptop)."""

    def __init__(self, objects: ObjectStore, prefix: str = "dead-letters") -> None:
        self.objects, self.prefix = objects, prefix.strip("/")

    def send(self, letter: DeadLetter) -> str:
        day = letter.received_at.strftime("%Y/%m/%d")
        name = f"{day}/{letter.received_at.strftime('%H%M%S')}-{letter.letter_id}.json"
        key = f"{self.prefix}/{name}" if self.prefix else name
        try:
            self.objects.put(key, letter.to_json())
        except (PipelineError, OSError) as exc:
            raise DeadLetterError(
                f"cannot park the dead letter at {key}: {exc}", hint="check the dead-letter storage"
            ) from exc
        return key

    def list(self) -> list[DeadLetter]:
        out = []
        for key in self.objects.list(f"{self.prefix}/" if self.prefix else ""):
            item = self.objects.get(key)
            if item is not None:
                out.append(DeadLetter.model_validate_json(item.data))
        return out


class SqsDeadLetters:
    def __init__(self, queue: str, *, client: Any = None) -> None:
        self.queue = queue
        self._client = client
        self._url: str | None = queue if queue.startswith(("http://", "https://")) else None

    @property
    def client(self) -> Any:
        if self._client is None:
            from escher.clouds import aws

            self._client = aws.client("sqs")
        return self._client

    def send(self, letter: DeadLetter) -> str:
        from escher.clouds import aws

        try:
            if self._url is None:
                self._url = str(self.client.get_queue_url(QueueName=self.queue)["QueueUrl"])
            reply = self.client.send_message(
                QueueUrl=self._url,
                MessageBody=letter.to_json().decode(),
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": letter.reason[:1024]},
                    "error": {"DataType": "String", "StringValue": letter.error},
                    "source": {"DataType": "String", "StringValue": letter.source},
                },
            )
        except aws.errors() as exc:
            raise DeadLetterError(
                f"cannot send the dead letter to SQS queue {self.queue}: {exc}",
                hint="check the queue exists and the worker may sqs:SendMessage to it",
            ) from exc
        return f"sqs:{self.queue}:{reply['MessageId']}"


class PubSubDeadLetters:
    def __init__(self, topic: str, *, publisher: Any = None) -> None:
        self.topic = topic
        self._publisher = publisher

    def send(self, letter: DeadLetter) -> str:
        pubsub = require("google.cloud.pubsub_v1", "gcp")
        exceptions = require("google.api_core.exceptions", "gcp")
        if self._publisher is None:
            self._publisher = pubsub.PublisherClient()
        try:
            future = self._publisher.publish(
                self.topic,
                letter.to_json(),
                reason=letter.reason[:1024],
                error=letter.error,
                source=letter.source,
            )
            message_id = future.result(timeout=30)
        except (exceptions.GoogleAPIError, TimeoutError) as exc:
            raise DeadLetterError(
                f"cannot publish the dead letter to {self.topic}: {exc}",
                hint="check the topic exists and the worker may pubsub.topics.publish to it",
            ) from exc
        return f"pubsub:{self.topic}:{message_id}"


def open_dead_letters(url: str) -> DeadLetterSink:
    parts = urlsplit(url)
    if parts.scheme == "sqs":
        return SqsDeadLetters(parts.netloc + parts.path)
    if parts.scheme == "pubsub":
        return PubSubDeadLetters((parts.netloc + parts.path).strip("/"))
    if parts.scheme == "memory":
        return MemoryDeadLetters()
    if parts.scheme in ("azblob", "s3", "gs"):
        query = f"?{parts.query}" if parts.query else ""  # azblob's account_url, s3/gs's endpoint
        return ObjectDeadLetters(
            open_objects(f"{parts.scheme}://{parts.netloc}{query}"), parts.path or "dead-letters"
        )
    if parts.scheme in ("", "file"):
        return ObjectDeadLetters(open_objects(url), "")
    raise PipelineError(
        f"unknown dead-letter destination {url!r}",
        hint="use sqs://queue, pubsub://projects/P/topics/T, azblob://container/prefix or file:///dir",
    )
