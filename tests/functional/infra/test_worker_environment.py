"""Each component's worker environment, read from the recorded function inputs and opened by the pipeline
runtime's own parsers: a component that drifts from the formats ``escher.pipeline.runtime`` reads fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from escher.pipeline.deadletter import ObjectDeadLetters, PubSubDeadLetters, SqsDeadLetters, open_dead_letters
from escher.pipeline.objects import StateObjects
from escher.pipeline.runtime import audit_objects, state_objects
from tests.functional.infra.conftest import Deployed, make_spec, run_under_mocks

pytest.importorskip("pulumi")


@pytest.fixture(autouse=True)
def offline_sdks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Building a backend makes no call; these only let the SDK clients be constructed on any machine."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)  # the Function App has none
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # GCS: no credentials lookup
    yield


def aws_env(d: Deployed) -> dict[str, str]:
    return dict(d.one("aws:lambda/function:Function", "worker")["environment"]["variables"])


def azure_env(d: Deployed) -> dict[str, str]:
    settings = d.one("azure-native:web:WebApp", "worker")["siteConfig"]["appSettings"]
    return {s["name"]: s["value"] for s in settings}


def gcp_env(d: Deployed) -> dict[str, str]:
    return dict(
        d.one("gcp:cloudfunctionsv2/function:Function", "worker")["serviceConfig"]["environmentVariables"]
    )


def state_backend(env: dict[str, str]) -> Any:
    objects = state_objects(env)
    assert isinstance(objects, StateObjects), f"{env['ESCHER_STATE_URL']} did not open cloud state storage"
    return objects.state


def audit_backend(env: dict[str, str]) -> Any:
    """The audit objects' storage as the runtime opens it: ESCHER_AUDIT_URL, and not the state storage."""
    assert env["ESCHER_AUDIT_URL"] != env["ESCHER_STATE_URL"]
    objects = audit_objects(env)
    assert isinstance(objects, StateObjects), f"{env['ESCHER_AUDIT_URL']} did not open cloud storage"
    return objects.state


# what would let the worker remove, overwrite or unlock an audit record on AWS
AWS_AUDIT_FORBIDDEN = {
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutLifecycleConfiguration",
    "s3:DeleteBucket",
}


def test_aws_worker_writes_audit_to_the_object_lock_bucket_and_cannot_delete_there(bundle: str) -> None:
    import json

    from escher.clouds.aws.state import S3Store

    d = run_under_mocks(make_spec("aws", bundle))
    env = aws_env(d)
    store = audit_backend(env)
    assert isinstance(store, S3Store) and store.bucket == d.outputs["audit_bucket"] and store.prefix == ""
    assert d.one("aws:s3/bucket:Bucket", "audit")["objectLockEnabled"] is True
    document = json.loads(d.outputs["worker_policy"])
    # the mocks name an ARN after its resource: the "audit" bucket's is arn:aws:mock:::audit
    audit_arn = "arn:aws:mock:::audit"
    allows = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    on_audit = [s for s in allows if any(r.startswith(audit_arn) for r in s["Resource"])]
    assert [s["Sid"] for s in on_audit] == ["AuditAppend"]
    assert on_audit[0]["Resource"] == [f"{audit_arn}/*"]
    assert set(on_audit[0]["Action"]) == {"s3:GetObject", "s3:PutObject"}
    allowed = {a for s in allows for a in s["Action"]}
    assert allowed & AWS_AUDIT_FORBIDDEN == set()


def test_azure_worker_writes_audit_to_the_immutable_container_through_its_identity(bundle: str) -> None:
    from escher.clouds.azure.state import AzureBlobStore
    from escher.infra.permissions import azure_audit_data_actions

    d = run_under_mocks(make_spec("azure", bundle))
    env = azure_env(d)
    store = audit_backend(env)
    assert isinstance(store, AzureBlobStore)
    account_url = f"https://{d.outputs['audit_account']}.blob.core.windows.net"
    assert store._container.url == f"{account_url}/{d.outputs['audit_container']}"
    assert d.outputs["audit_account"] != d.outputs["state_account"]
    # the role on the audit account creates new blobs and reads them: no overwrite (blobs/write), no delete
    role = d.one("azure-native:authorization:RoleDefinition", "audit-role")
    data_actions = set(role["permissions"][0]["dataActions"])
    assert data_actions == set(azure_audit_data_actions())
    assert "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action" in data_actions
    assert not [
        a
        for a in data_actions
        if a.endswith(("/write", "/delete", "/immutableStorage/runAsSuperUser/action"))
    ]
    assert not role["permissions"][0].get("actions")


def test_gcp_worker_writes_audit_to_the_retention_bucket_with_create_only_access(bundle: str) -> None:
    from escher.clouds.gcp.state import GcsStore

    d = run_under_mocks(make_spec("gcp", bundle))
    env = gcp_env(d)
    store = audit_backend(env)
    assert isinstance(store, GcsStore) and store.url == f"gs://{d.outputs['audit_bucket']}/"
    grant = d.one("gcp:storage/bucketIAMMember:BucketIAMMember", "grant-audit")
    # objectCreator: storage.objects.create only; overwriting or deleting needs storage.objects.delete
    assert grant["role"] == "roles/storage.objectCreator"
    assert grant["bucket"] == d.outputs["audit_bucket"]


def test_without_an_audit_url_audit_stays_in_the_state_storage(tmp_path: Any) -> None:
    objects = audit_objects({"ESCHER_STATE_URL": str(tmp_path / "state")})
    assert isinstance(objects, StateObjects) and objects.state.root == (tmp_path / "state").resolve()


def assert_schedule_settings(env: dict[str, str]) -> None:
    assert env["ESCHER_DAILY_SCAN_AT"] == "03:30"
    assert ZoneInfo(env["ESCHER_TIMEZONE"]).key == "Europe/Paris"


def test_aws_worker_finds_its_state_bucket_and_dead_letter_queue(bundle: str) -> None:
    from escher.clouds.aws.state import S3Store

    d = run_under_mocks(make_spec("aws", bundle, daily_scan_at="03:30"))
    env = aws_env(d)
    store = state_backend(env)
    assert isinstance(store, S3Store) and store.bucket == d.outputs["state_bucket"] and store.prefix == ""
    letters = open_dead_letters(env["ESCHER_DEAD_LETTER_URL"])
    queue = d.of_type("aws:sqs/queue:Queue")[0]
    assert isinstance(letters, SqsDeadLetters) and letters.queue == f"{queue.name}-mock"  # its physical name
    assert env["ESCHER_STATE_URL"] == d.outputs["state_url"]
    assert env["ESCHER_DEAD_LETTER_URL"] == d.outputs["dead_letter_url"]
    assert_schedule_settings(env)


def test_azure_worker_finds_its_state_and_dead_letter_containers_through_its_identity(bundle: str) -> None:
    from escher.clouds.azure.state import AzureBlobStore

    d = run_under_mocks(make_spec("azure", bundle, daily_scan_at="03:30"))
    env = azure_env(d)
    account_url = f"https://{d.outputs['state_account']}.blob.core.windows.net"
    store = state_backend(env)
    assert isinstance(store, AzureBlobStore)
    # no connection string in a Function App: the account URL must reach the SDK (managed identity)
    assert store._container.url == f"{account_url}/{d.outputs['state_container']}"
    letters = open_dead_letters(env["ESCHER_DEAD_LETTER_URL"])
    assert isinstance(letters, ObjectDeadLetters) and letters.prefix == "worker"
    dead_container = d.one("azure-native:storage:BlobContainer", "dead-letters")
    assert dead_container["accountName"] == d.outputs["state_account"]
    assert isinstance(letters.objects, StateObjects)
    assert letters.objects.state._container.url == f"{account_url}/dead-letters-mock"
    assert_schedule_settings(env)
    from escher.infra.azure import utc_ncrontab

    assert env["ESCHER_DAILY_SCAN_SCHEDULE"] == utc_ncrontab("Europe/Paris", "03:30") == "0 30 1,2 * * *"


@pytest.mark.parametrize("events", [("api_calls",), ()])
def test_gcp_worker_finds_its_state_bucket_and_dead_letter_topic(
    bundle: str, events: tuple[str, ...]
) -> None:
    from escher.clouds.gcp.state import GcsStore

    d = run_under_mocks(make_spec("gcp", bundle, daily_scan_at="03:30", events=events))
    env = gcp_env(d)
    store = state_backend(env)
    assert isinstance(store, GcsStore) and store.url == f"gs://{d.outputs['state_bucket']}/"
    letters = open_dead_letters(env["ESCHER_DEAD_LETTER_URL"])
    assert isinstance(letters, PubSubDeadLetters)
    assert letters.topic == f"projects/escher-test/topics/{d.outputs['dead_letter_topic']}"
    # the worker may publish there, and the topic keeps what it gets even without event wiring
    grant = d.one("gcp:pubsub/topicIAMMember:TopicIAMMember", "worker-may-dead-letter")
    assert grant["role"] == "roles/pubsub.publisher" and grant["topic"] == d.outputs["dead_letter_topic"]
    assert d.one("gcp:pubsub/subscription:Subscription", "dead-letters-kept")
    assert_schedule_settings(env)


def test_a_state_url_the_runtime_cannot_read_fails_here() -> None:
    # the guard itself: what a drifted component would emit is refused by the same parser
    from escher.pipeline.errors import PipelineError

    with pytest.raises(PipelineError):
        state_objects({"ESCHER_STATE_URL": "bucket://escher-state"})
    with pytest.raises(PipelineError):
        audit_objects({"ESCHER_AUDIT_URL": "bucket://escher-audit"})
    with pytest.raises(PipelineError):
        open_dead_letters("queue://escher-dead-letters")
