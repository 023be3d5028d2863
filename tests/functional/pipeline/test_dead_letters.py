"""Dead-letter destinations on the emulators: Pub/Sub topic, Azure blob, SQS (each keeps the reason)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from escher.emulators import AzuriteEmulator, MotoEmulator, PubSubEmulator
from escher.pipeline.deadletter import DeadLetter, ObjectDeadLetters, PubSubDeadLetters, SqsDeadLetters
from escher.pipeline.errors import DeadLetterError
from escher.pipeline.objects import StateObjects
from escher.state.azure_blob import AzureBlobStore

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
