"""Poison messages on the emulators: each is parked with its reason and answered as handled, the rest of the
delivery goes on, and only a dead letter that could not be written comes back for a retry (moto SQS/S3, azurite,
a running functions-framework with fake-gcs-server)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.emulators import AzuriteEmulator, MotoEmulator
from escher.pipeline.deadletter import DeadLetter
from escher.workers.aws.handler import handler
from tests.functional.workers.conftest import LambdaContext
from tests.unit.pipeline.fakes import bucket_public_event

STATE, DLQ = "escher-state-poison", "escher-dead-letters-poison"
HUGE = '{"detail-type": "x", "detail": {"n": 1' + "0" * 5000 + "}}"  # over Python's 4,300-digit limit
DEEP = "[" * 990 + "]" * 990  # the measured depth at which the dead-letter writer crashed


def record(message_id: str, body: Any, attributes: Any = None) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "3"} if attributes is None else attributes,
        "messageAttributes": {},
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{DLQ}",
        "awsRegion": "us-east-1",
    }


def redrive(event_id: str, bucket: str) -> str:
    return json.dumps({"reason": "state was down", "error": "StateStoreError", "source": "eventbridge",
                       "payload": bucket_public_event(event_id, bucket)})  # fmt: skip


@pytest.fixture
def aws_poison(aws_env: MotoEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    s3.create_bucket(Bucket=STATE)
    queue_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]
    monkeypatch.setenv("ESCHER_STATE_URL", f"s3://{STATE}")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", f"sqs://{DLQ}")
    return {"s3": s3, "sqs": sqs, "queue_url": queue_url}


def _public_bucket(s3: Any, name: str) -> None:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "data_classification", "Value": "PII"}]})
    s3.put_bucket_acl(Bucket=name, ACL="public-read")


def _blocked(s3: Any, name: str) -> bool:
    return all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())


def _letters(sqs: Any, url: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    while reply := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages"):
        for m in reply:
            assert m["Body"].isascii()
            out.append((json.loads(m["Body"]), m["MessageAttributes"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def test_poison_messages_in_an_sqs_batch_are_parked_and_the_good_ones_done(
    aws_poison: dict[str, Any],
) -> None:
    s3, sqs = aws_poison["s3"], aws_poison["sqs"]
    _public_bucket(s3, "batch-ok")
    _public_bucket(s3, "batch-attrs")
    records = [
        record("m-ok", redrive("evt-batch-ok", "batch-ok")),
        record("m-huge", HUGE),
        record("m-deep", DEEP),
        record("m-surrogate", json.dumps({"detail-type": "x", "detail": {"name": "bad\ud800"}})),
        record("m-not-json", "\x00 not json"),
        record("m-oversize", json.dumps({"blob": "x" * (1 << 20)})),
        record("m-attrs", redrive("evt-batch-attrs", "batch-attrs"), attributes=["not", "a", "map"]),
    ]
    # WHEN one Lambda invocation gets the whole batch
    reply = handler({"Records": records}, LambdaContext())
    # THEN no message is reported failed: the good ones are fixed, the poison ones parked (none redelivered)
    assert reply == {"batchItemFailures": []}
    assert _blocked(s3, "batch-ok") and _blocked(s3, "batch-attrs")  # wrong attribute types: handled anyway
    letters = _letters(sqs, aws_poison["queue_url"])
    reasons = sorted(letter["reason"] for letter, _ in letters)
    assert len(letters) == 5, reasons
    assert all(letter["source"] == "sqs" and letter["attempts"] == 3 for letter, _ in letters)
    for says in (
        "integer of 5,001 digits",
        "nested deeper than 64",
        "lone surrogate",
        "not JSON",
        "over the",
    ):
        assert any(says in r for r in reasons), (says, reasons)
    assert all(attrs["reason"]["StringValue"] == letter["reason"][:1024] for letter, attrs in letters)
    # each one as delivered: the deep body as text, the huge one too, the oversize one cut to fit the queue
    bodies = {json.dumps(letter["payload"])[:30]: letter for letter, _ in letters}
    assert any(letter.get("truncated_from") for letter in bodies.values())


def test_only_a_message_whose_dead_letter_failed_comes_back(
    aws_poison: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the letters go to an object store that is not there (a bucket nobody created)
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "s3://escher-no-such-bucket/letters")
    _public_bucket(aws_poison["s3"], "batch-ok-2")
    records = [record("m-ok", redrive("evt-ok-2", "batch-ok-2")), record("m-poison", DEEP)]
    reply = handler({"Records": records}, LambdaContext())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-poison"}]}
    assert _blocked(aws_poison["s3"], "batch-ok-2")


def test_an_eventbridge_event_no_parser_survives_is_parked_as_base64(aws_poison: dict[str, Any]) -> None:
    event = bucket_public_event("evt-poison", "nowhere")
    deep: list[Any] = []
    for _ in range(900):
        deep = [deep]
    event["detail"]["requestParameters"]["x"] = {"deep": deep}
    result = handler(event, LambdaContext())
    assert result["outcome"] == "dead_lettered" and "nested deeper than 64" in result["reason"]
    [(letter, _)] = _letters(aws_poison["sqs"], aws_poison["queue_url"])
    parked = DeadLetter.model_validate(letter)
    assert parked.payload_encoding == "base64" and parked.event_id == "evt-poison"
    assert base64.b64decode(parked.payload).startswith(b'{"version":"0","id":"evt-poison"')


# -- Azure: the function app's own functions, letters on azurite -----------------------------------------------
@pytest.fixture
def blob(azure_env: AzuriteEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azure_env.connection_string)
    for name in ("escher-state-poison", "escher-letters-poison"):
        service.create_container(name)
    monkeypatch.setenv("ESCHER_STATE_URL", "azblob://escher-state-poison")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "azblob://escher-letters-poison/letters")
    yield service
    for name in ("escher-state-poison", "escher-letters-poison"):
        service.delete_container(name)


def _azure(name: str) -> Any:
    from tests.harness.azure_functions import indexed_functions

    return indexed_functions()[name].get_user_function()


def _grid(data: Any) -> Any:
    import azure.functions as func

    return func.EventGridEvent(id="eg-poison", data=data, topic="/subscriptions/x", subject="/subscriptions/x/r",
                               event_type="Microsoft.Resources.ResourceWriteSuccess", event_time=None,
                               data_version="2")  # fmt: skip


def test_azure_poison_is_parked_in_the_container_and_acknowledged(blob: Any) -> None:
    import azure.functions as func

    _azure("on_event_grid")(_grid({"resourceUri": "bad\udc00", "n": [1, 2]}))
    response = _azure("action_group")(
        func.HttpRequest(method="POST", url="/api/action-group", body=DEEP.encode(), headers={})
    )
    assert response.status_code == 200
    assert json.loads(response.get_body())["outcome"] == "dead_lettered"
    container = blob.get_container_client("escher-letters-poison")
    letters = {
        letter["source"]: letter
        for letter in (json.loads(container.download_blob(n).readall()) for n in container.list_blob_names())
    }
    assert sorted(letters) == ["action_group", "eventgrid"]
    grid = letters["eventgrid"]  # an object no JSON writer takes: base64 of its JSON text, with the reason
    assert grid["payload_encoding"] == "base64" and "lone surrogate" in grid["payload_note"]
    assert grid["event_id"] == "eg-poison" and "lone surrogate" in grid["reason"]
    webhook = letters["action_group"]  # a body that is text: kept as that text
    assert webhook["payload"] == DEEP and "nested deeper than 64" in webhook["reason"]


def test_azure_raises_and_answers_503_when_the_letter_cannot_be_written(
    blob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import azure.functions as func

    from escher.pipeline.errors import DeadLetterError

    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "azblob://escher-no-such-container/letters")
    with pytest.raises(
        DeadLetterError
    ):  # the host reports failure: Event Grid retries, then its own dead letter
        _azure("on_event_grid")(_grid({"n": 10**5000}))
    response = _azure("action_group")(
        func.HttpRequest(method="POST", url="/api/action-group", body=DEEP.encode(), headers={})
    )
    assert response.status_code == 503  # the action group retries
