"""Dead letters: an event that cannot be handled is parked with the reason, never dropped.

Destinations (``ESCHER_DEAD_LETTER_URL``):

- ``sqs://<queue name>``: an SQS queue (the AWS worker's; the same queue takes Lambda's on-failure records);
- ``azblob://<container>/<prefix>[?account_url=...]``, ``s3://...``, ``gs://...``, ``file:///dir``: one JSON
  object per letter;
- ``pubsub://projects/<p>/topics/<t>``: a Pub/Sub dead-letter topic (reason and source as attributes).

A destination that cannot take the letter raises :class:`DeadLetterError`: the worker then reports failure to
the platform, whose own retry and dead-letter policy takes over. Nothing is silently lost on either path.

Any payload can be parked: one that is plain JSON within :mod:`escher.pipeline.payloads`' limits is kept as JSON
(``payload_encoding="json"``); anything else (nesting ~1,000 deep, a huge integer, a lone surrogate, bytes that are
not UTF-8) is kept as base64 of its bytes or JSON text (``payload_encoding="base64"``) with ``payload_note``
saying why. A letter over a queue's message limit keeps the head of its payload with the whole one's size and
SHA-256 (``truncated_from``, ``payload_sha256``); object storage keeps every letter whole.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from escher.pipeline.errors import DeadLetterError, PipelineError
from escher.pipeline.objects import PipelineObjects, open_objects
from escher.pipeline.payloads import problem, render

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
    payload: Any = Field(description="the delivery as received: JSON, or base64 (see payload_encoding)")
    payload_encoding: Literal["json", "base64"] = "json"
    payload_note: str | None = Field(default=None, description="why the payload is not kept as JSON")
    truncated_from: int | None = Field(default=None, description="bytes of the whole payload, when cut")
    payload_sha256: str | None = Field(default=None, description="of the whole payload, when cut")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """Whatever was delivered, the letter can be written: text fields lose lone surrogates (escaped), and a
        payload that is not plain JSON becomes base64 with the reason."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name, limit in _TEXT_LIMITS.items():
            if isinstance(data.get(name), str):
                data[name] = _clean(data[name], limit)
        if data.get("payload_encoding", "json") == "json" and "payload" in data:
            data["payload"], data["payload_encoding"], note = storable(data["payload"])
            data["payload_note"] = data.get("payload_note") or note
        return data

    @property
    def letter_id(self) -> str:
        body = json.dumps(self.payload, sort_keys=True).encode()
        return hashlib.sha256(body).hexdigest()[:24]

    def to_json(self, *, ascii_only: bool = False) -> bytes:
        if ascii_only:  # queues take a subset of Unicode: escaped, any payload text fits
            return json.dumps(self.model_dump(mode="json"), ensure_ascii=True).encode()
        return self.model_dump_json().encode()

    def fitted(self, max_bytes: int) -> DeadLetter:
        """This letter, or one whose payload is cut to its head so the whole letter (ASCII JSON) fits in
        ``max_bytes``; the cut one says so, with the whole payload's size and SHA-256."""
        size = len(self.to_json(ascii_only=True))
        if size <= max_bytes:
            return self
        whole = base64.b64decode(self.payload) if self.payload_encoding == "base64" else render(self.payload)
        room = max(0, (max_bytes - (size - len(json.dumps(self.payload))) - 1024) * 3 // 4)
        note = f"{self.payload_note}; " if self.payload_note else ""
        return self.model_copy(
            update={
                "payload": base64.b64encode(whole[:room]).decode("ascii"),
                "payload_encoding": "base64",
                "payload_note": f"{note}cut to its first {room:,} of {len(whole):,} bytes to fit the "
                f"destination's {max_bytes:,}-byte message limit",
                "truncated_from": len(whole),
                "payload_sha256": hashlib.sha256(whole).hexdigest(),
            }
        )


_TEXT_LIMITS = {"reason": 4000, "error": 200, "hint": 1000, "source": 200, "event_id": 512}


def _clean(text: str, limit: int) -> str:
    if not text.isascii():
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates -> \udXXX
    return text if len(text) <= limit else text[: limit - 3] + "..."


def storable(payload: Any) -> tuple[Any, Literal["json", "base64"], str | None]:
    """(payload as kept, its encoding, why it is not JSON): JSON when it is plain JSON at any size, else base64 of
    its bytes (not UTF-8 text) or of its JSON text (:func:`escher.pipeline.payloads.render`)."""
    if isinstance(payload, bytes | bytearray | memoryview):
        try:
            return bytes(payload).decode("utf-8"), "json", None
        except UnicodeDecodeError:
            return (
                _b64(bytes(payload)),
                "base64",
                "the payload is not UTF-8 text: kept as base64 of its bytes",
            )
    found = problem(payload, max_bytes=None)
    if found is None:
        return payload, "json", None
    return _b64(render(payload)), "base64", f"the payload {found}: kept as base64 of its JSON text"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


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

    def __init__(self, objects: PipelineObjects, prefix: str = "dead-letters") -> None:
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


# SQS takes these characters only, in bodies and attribute values; anything else is InvalidMessageContents
_NOT_SQS_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _attribute(text: str, max_bytes: int = 1024) -> str:
    """An attribute value any queue or topic takes: no forbidden characters, at most ``max_bytes`` of UTF-8."""
    text = _NOT_SQS_TEXT.sub("?", text)
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore") or "-"


class SqsDeadLetters:
    """One message per letter. A letter over ``max_bytes`` (256 KiB: the limit of every SQS queue, whatever its
    MaximumMessageSize) keeps the head of its payload, with the whole one's size and SHA-256."""

    def __init__(self, queue: str, *, client: Any = None, max_bytes: int = 256 * 1024) -> None:
        self.queue = queue
        self.max_bytes = max_bytes
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
                MessageBody=letter.fitted(self.max_bytes - 4096).to_json(ascii_only=True).decode(),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": _attribute(value)}
                    for name, value in (
                        ("reason", letter.reason),
                        ("error", letter.error),
                        ("source", letter.source),
                    )
                },
            )
        except aws.errors() as exc:
            raise DeadLetterError(
                f"cannot send the dead letter to SQS queue {self.queue}: {exc}",
                hint="check the queue exists and the worker may sqs:SendMessage to it",
            ) from exc
        return f"sqs:{self.queue}:{reply['MessageId']}"


class PubSubDeadLetters:
    """One message per letter, reason and source as attributes; a letter over ``max_bytes`` (Pub/Sub takes 10 MB
    a request) keeps the head of its payload, with the whole one's size and SHA-256."""

    def __init__(self, topic: str, *, publisher: Any = None, max_bytes: int = 9_000_000) -> None:
        self.topic = topic
        self.max_bytes = max_bytes
        self._publisher = publisher

    def send(self, letter: DeadLetter) -> str:
        from escher.clouds import gcp

        if self._publisher is None:
            self._publisher = gcp.publisher()
        failures: tuple[type[BaseException], ...] = (*gcp.errors(), TimeoutError)
        try:
            future = self._publisher.publish(
                self.topic,
                letter.fitted(self.max_bytes).to_json(ascii_only=True),
                reason=_attribute(letter.reason),
                error=_attribute(letter.error),
                source=_attribute(letter.source),
            )
            message_id = future.result(timeout=30)
        except failures as exc:
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
