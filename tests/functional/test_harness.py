"""Self-tests of the harness: each fixture round-trips through the real SDK against a real local server.

The round trips are plain functions so that the negative tests can point them at a dead port and prove they
fail: a self-test that passed against nothing would prove nothing.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from escher.emulators import (
    AzuriteEmulator,
    EmbeddedPostgres,
    EmulatorError,
    FakeGcsEmulator,
    GcsStorageEmulator,
    MotoEmulator,
    PubSubEmulator,
    free_port,
)
from escher.emulators._process import ManagedProcess
from tests.harness.fake_anthropic import FakeAnthropic, FakeAnthropicServer, overloaded, tool_use


def s3_round_trip(endpoint_url: str | None = None) -> bytes:
    import boto3
    from botocore.config import Config

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    bucket = f"harness-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    body: bytes = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    return body


def blob_round_trip(connection_string: str) -> bytes:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(connection_string, retry_total=0)
    container = client.create_container(f"harness-{uuid.uuid4().hex[:8]}")
    container.upload_blob("k", b"hello")
    data: bytes = container.download_blob("k").readall()
    return data


def gcs_round_trip(endpoint: str) -> bytes:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    client = storage.Client(project="escher-test", credentials=AnonymousCredentials())
    bucket = client.create_bucket(f"harness-{uuid.uuid4().hex[:8]}", retry=None)
    bucket.blob("k").upload_from_string(b"hello", retry=None)
    data: bytes = bucket.blob("k").download_as_bytes(retry=None)
    return data


# -- AWS --------------------------------------------------------------------------------------------------
def test_moto_round_trip_through_boto3_and_the_standard_endpoint_variable(aws_env: MotoEmulator) -> None:
    # boto3 finds the emulator through AWS_ENDPOINT_URL alone, as a user's LocalStack setup would
    assert os.environ["AWS_ENDPOINT_URL"] == aws_env.endpoint_url
    assert s3_round_trip() == b"hello"


def test_moto_reset_forgets_everything(moto: MotoEmulator) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=moto.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="to-be-forgotten")
    moto.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_a_dead_aws_endpoint_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import EndpointConnectionError

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(EndpointConnectionError):
        s3_round_trip(f"http://127.0.0.1:{free_port()}")


# -- Azure ------------------------------------------------------------------------------------------------
def test_azurite_round_trip_through_azure_storage_blob(azure_env: AzuriteEmulator) -> None:
    assert blob_round_trip(os.environ["AZURE_STORAGE_CONNECTION_STRING"]) == b"hello"


def test_a_dead_azurite_port_fails_the_round_trip(azurite: AzuriteEmulator) -> None:
    from azure.core.exceptions import ServiceRequestError

    dead = azurite.connection_string.replace(f":{azurite.port}/", f":{free_port()}/")
    with pytest.raises(ServiceRequestError):
        blob_round_trip(dead)


# -- GCP --------------------------------------------------------------------------------------------------
def test_fake_gcs_round_trip_and_it_enforces_if_generation_match(gcs_env: FakeGcsEmulator) -> None:
    from google.api_core.exceptions import PreconditionFailed
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    assert gcs_round_trip(gcs_env.endpoint_url) == b"hello"
    client = storage.Client(project="escher-test", credentials=AnonymousCredentials())
    bucket = client.create_bucket(f"marker-{uuid.uuid4().hex[:8]}")
    bucket.blob("once").upload_from_string(b"1", if_generation_match=0)
    with pytest.raises(PreconditionFailed):  # create-if-absent: the second writer loses
        bucket.blob("once").upload_from_string(b"2", if_generation_match=0, retry=None)


def test_gcs_storage_emulator_keeps_iam_policies(
    gcs_emulator: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint_url)
    client = storage.Client(project="escher-test", credentials=AnonymousCredentials())
    bucket = client.create_bucket(f"iam-{uuid.uuid4().hex[:8]}")
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
    bucket.set_iam_policy(policy)
    again = client.bucket(bucket.name).get_iam_policy(requested_policy_version=3)
    assert any("allUsers" in b["members"] for b in again.bindings)


def test_a_dead_gcs_endpoint_fails_the_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "unset")
    with pytest.raises(requests.exceptions.ConnectionError):
        gcs_round_trip(f"http://127.0.0.1:{free_port()}")


def test_pubsub_emulator_round_trip(pubsub_env: PubSubEmulator) -> None:
    from google.cloud import pubsub_v1

    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=f"projects/escher-test/topics/t-{uuid.uuid4().hex[:8]}").name
    sub = subscriber.create_subscription(
        name=f"projects/escher-test/subscriptions/s-{uuid.uuid4().hex[:8]}", topic=topic
    ).name
    publisher.publish(topic, b"hello", kind="test").result(timeout=30)
    received = subscriber.pull(subscription=sub, max_messages=1, timeout=30).received_messages
    assert received[0].message.data == b"hello"
    assert received[0].message.attributes["kind"] == "test"


def test_pubsub_emulator_reports_why_it_cannot_run(tmp_path: Any) -> None:
    emulator = PubSubEmulator(binary=tmp_path / "missing")
    assert "not installed" in (emulator.available() or "")
    with pytest.raises(EmulatorError):
        emulator.start()


# -- Postgres + pgvector ----------------------------------------------------------------------------------
def test_postgres_with_pgvector_round_trip(pg_database: str) -> None:
    import psycopg

    with psycopg.connect(pg_database) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE TABLE docs (id int PRIMARY KEY, embedding vector(3))")
        conn.execute("INSERT INTO docs VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')")
        rows = conn.execute("SELECT id FROM docs ORDER BY embedding <-> '[1,0,0]' LIMIT 2").fetchall()
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
    assert [r[0] for r in rows] == [1, 3]
    assert version is not None and version[0].startswith("0.8")


def test_a_wrong_postgres_socket_fails(postgres: EmbeddedPostgres, tmp_path: Any) -> None:
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://postgres:@/postgres?host={tmp_path}", connect_timeout=2)


# -- Anthropic --------------------------------------------------------------------------------------------
def test_fake_anthropic_over_loopback_with_the_real_sdk(
    fake_anthropic_server: FakeAnthropicServer, fake_anthropic: FakeAnthropic
) -> None:
    import anthropic

    fake_anthropic.queue(tool_use("plan", {"operation": "aws.ec2.stop_instances"}))
    client = anthropic.Anthropic(
        api_key="sk-test-not-real", base_url=fake_anthropic_server.base_url, max_retries=0
    )
    reply = client.messages.create(
        model="claude-sonnet-5-5", max_tokens=100, messages=[{"role": "user", "content": "stop dev"}]
    )
    assert reply.stop_reason == "tool_use"
    assert reply.content[0].type == "tool_use" and reply.content[0].input == {
        "operation": "aws.ec2.stop_instances"
    }
    assert fake_anthropic.requests[0]["messages"][0]["content"] == "stop dev"


def test_fake_anthropic_transport_and_overload() -> None:
    import anthropic
    import httpx2

    fake = FakeAnthropic()
    fake.queue(overloaded())
    client = anthropic.Anthropic(
        api_key="sk-test-not-real", max_retries=0, http_client=httpx2.Client(transport=fake.transport())
    )
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 529
    reply = client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].type == "text"


def test_a_dead_anthropic_endpoint_fails() -> None:
    import anthropic

    client = anthropic.Anthropic(
        api_key="x", base_url=f"http://127.0.0.1:{free_port()}", max_retries=0, timeout=3
    )
    with pytest.raises(anthropic.APIConnectionError):
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}])


# -- process management -----------------------------------------------------------------------------------
def test_a_server_that_never_listens_is_reported_and_stopped() -> None:
    proc = ManagedProcess("sleeper", ["sleep", "30"])
    with pytest.raises(EmulatorError, match="did not listen"):
        proc.start(free_port(), timeout=1)
    assert proc.process is None


def test_a_server_that_exits_early_is_reported_with_its_stderr() -> None:
    proc = ManagedProcess("crasher", ["sh", "-c", "echo boom >&2; exit 3"])
    with pytest.raises(EmulatorError, match="boom"):
        proc.start(free_port(), timeout=5)


def test_start_twice_is_one_server_and_stop_is_idempotent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)  # the round trip sets it; undo afterwards
    emulator = GcsStorageEmulator()
    with emulator:
        port = emulator.start().port  # a second start inside the with: the same server
        assert port == emulator.port
        assert gcs_round_trip(emulator.endpoint_url) == b"hello"
    emulator.stop()  # already stopped: nothing to do
