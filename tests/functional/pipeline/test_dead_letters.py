"""Dead-letter destinations on the emulators: Pub/Sub topic, Azure blob, SQS (each keeps the reason)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import boto3
import pytest

from escher.clouds.azure.state import AzureBlobStore
from escher.emulators import AzuriteEmulator, MotoEmulator, PubSubEmulator
from escher.pipeline.deadletter import DeadLetter, ObjectDeadLetters, PubSubDeadLetters, SqsDeadLetters
from escher.pipeline.errors import DeadLetterError
from escher.pipeline.objects import StateObjects

LETTER = DeadLetter(
    reason="EventBridge CloudTrail s3:PutBucketAcl: field 'detail.requestParameters.bucketName' is empty",
    error="NormalizationError",
    hint="send the event as delivered",
    source="eventbridge",
    event_id="evt-1",
    attempts=2,
    payload={"id": "evt-1", "detail": {}},
)


def test_pubsub_dead_letter_topic_receives_the_letter_and_its_reason(pubsub_env: PubSubEmulator) -> None:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("escher-test", "escher-dead-letters")
    sub = subscriber.subscription_path("escher-test", "dl-reader")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=sub, topic=topic)
    where = PubSubDeadLetters(topic).send(LETTER)
    assert where.startswith(f"pubsub:{topic}:")
    reply = subscriber.pull(subscription=sub, max_messages=5, timeout=30)
    [received] = reply.received_messages
    assert received.message.attributes["reason"] == LETTER.reason
    assert received.message.attributes["source"] == "eventbridge"
    assert DeadLetter.model_validate_json(received.message.data) == LETTER
    subscriber.close()


def test_pubsub_missing_topic_is_an_error_not_a_silent_drop(pubsub_env: PubSubEmulator) -> None:
    with pytest.raises(DeadLetterError, match="cannot publish"):
        PubSubDeadLetters("projects/escher-test/topics/does-not-exist").send(LETTER)


def test_blob_dead_letters_on_azurite(azure_env: AzuriteEmulator) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azure_env.connection_string)
    service.create_container("dl-test")
    try:
        letters = ObjectDeadLetters(StateObjects(AzureBlobStore("dl-test", service=service)), "letters")
        key = letters.send(LETTER)
        assert key.startswith("letters/") and letters.list() == [LETTER]
    finally:
        service.delete_container("dl-test")


def test_sqs_dead_letters_on_moto(aws_env: MotoEmulator) -> None:
    sqs: Any = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="dl-test")["QueueUrl"]
    SqsDeadLetters("dl-test").send(LETTER)
    [message] = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"])["reason"] == LETTER.reason
    assert message["MessageAttributes"]["error"]["StringValue"] == "NormalizationError"


def test_sqs_missing_queue_is_an_error(aws_env: MotoEmulator) -> None:
    with pytest.raises(DeadLetterError, match="cannot send"):
        SqsDeadLetters("no-such-queue").send(LETTER)


# -- poison: what a letter holds must not stop the destination taking it ---------------------------------------
def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


POISON = DeadLetter(
    reason="é" * 700
    + " \ud800 \x00 \ufffe",  # 1,400+ bytes of UTF-8, a lone surrogate, characters SQS refuses
    error="NormalizationError",
    source="pubsub",
    event_id="evt-poison",
    payload={"detail": _nested(990), "name": "\udfff"},
)


def test_pubsub_takes_a_poison_letter_with_attributes_within_its_limits(pubsub_env: PubSubEmulator) -> None:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.topic_path("escher-test", "escher-poison-letters")
    sub = subscriber.subscription_path("escher-test", "poison-reader")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(name=sub, topic=topic)
    PubSubDeadLetters(topic).send(POISON)
    [received] = subscriber.pull(subscription=sub, max_messages=5, timeout=30).received_messages
    assert len(received.message.attributes["reason"].encode()) <= 1024
    assert received.message.attributes["reason"].startswith("éé")
    parked = DeadLetter.model_validate_json(received.message.data)
    assert parked == POISON and parked.payload_encoding == "base64"
    subscriber.close()


def test_sqs_takes_a_poison_letter_and_cuts_one_over_the_message_limit(aws_env: MotoEmulator) -> None:
    sqs: Any = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="dl-poison")["QueueUrl"]
    big = DeadLetter(reason="too big", error="E", source="sqs", payload={"blob": "\u00e9" * 200_000})
    SqsDeadLetters("dl-poison").send(POISON)
    SqsDeadLetters("dl-poison").send(big)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    by_reason = {json.loads(m["Body"])["error"]: m for m in messages}
    assert all(m["Body"].isascii() and len(m["Body"]) <= 256 * 1024 for m in messages)
    assert "\x00" not in by_reason["NormalizationError"]["MessageAttributes"]["reason"]["StringValue"]
    cut = DeadLetter.model_validate_json(by_reason["E"]["Body"])
    whole = json.dumps(big.payload, separators=(",", ":")).encode()
    assert cut.truncated_from == len(whole) and whole.startswith(base64.b64decode(cut.payload))
    assert cut.payload_sha256 == hashlib.sha256(whole).hexdigest()
