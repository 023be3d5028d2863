"""Storage operations against real emulators: GCS (gcp-storage-emulator, fake-gcs-server) and Azure (azurite).

Each test changes the resource through the engine, then reads it back with the SDK directly.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run


@pytest.fixture
def engine(sink: MemoryAuditSink) -> Engine:
    return make_engine(CloudContext(), sink)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- GCS ----------------------------------------------------------------------------------------------------
@pytest.fixture
def gcs_iam(gcs_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """google-cloud-storage against gcp-storage-emulator (it stores IAM and public access prevention)."""
    from google.cloud import storage

    for key, value in gcs_emulator.env().items():
        monkeypatch.setenv(key, value)
    return storage.Client(project="escher-test")


@pytest.fixture
def gcs(gcs_env: Any) -> Any:
    from google.cloud import storage

    return storage.Client(project="escher-test")


def test_gcs_enforce_public_access_prevention(engine: Engine, gcs_iam: Any) -> None:
    name = _name("pap")
    gcs_iam.create_bucket(name)
    result = run(engine, "gcp.storage.enforce_public_access_prevention", [Target("gcp", name)])
    assert result.ok, result.to_dict()
    assert gcs_iam.get_bucket(name).iam_configuration.public_access_prevention == "enforced"
    assert run(engine, "gcp.storage.enforce_public_access_prevention", [Target("gcp", name)]).counts() == {
        "noop": 1
    }


def test_gcs_remove_public_bindings_keeps_other_members(engine: Engine, gcs_iam: Any) -> None:
    name = _name("iam")
    bucket = gcs_iam.create_bucket(name)
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.bindings.append(
        {"role": "roles/storage.objectViewer", "members": {"allUsers", "user:bob@example.com"}}
    )
    policy.bindings.append({"role": "roles/storage.legacyBucketReader", "members": {"allAuthenticatedUsers"}})
    bucket.set_iam_policy(policy)

    result = run(engine, "gcp.storage.remove_public_bindings", [Target("gcp", name)])
    assert result.ok, result.to_dict()
    assert result.results[0].before == {
        "public_bindings": [
            {"role": "roles/storage.legacyBucketReader", "members": ["allAuthenticatedUsers"]},
            {"role": "roles/storage.objectViewer", "members": ["allUsers"]},
        ]
    }
    members = {
        m
        for b in gcs_iam.get_bucket(name).get_iam_policy(requested_policy_version=3).bindings
        for m in b["members"]
    }
    assert "allUsers" not in members and "allAuthenticatedUsers" not in members
    assert "user:bob@example.com" in members


def test_gcs_versioning(engine: Engine, gcs_iam: Any) -> None:
    # on gcp-storage-emulator: fake-gcs-server's fs backend answers 500 "does not support versioning"
    name = _name("ver")
    gcs_iam.create_bucket(name)
    result = run(engine, "gcp.storage.enable_versioning", [Target("gcp", name)])
    assert result.ok, result.to_dict()
    assert gcs_iam.get_bucket(name).versioning_enabled is True


def test_gcs_labels(engine: Engine, gcs_iam: Any) -> None:
    name = _name("lbl")
    gcs_iam.create_bucket(name)
    result = run(engine, "gcp.storage.set_bucket_labels", [Target("gcp", name)], {"labels": {"env": "dev"}})
    assert result.ok, result.to_dict()
    assert gcs_iam.get_bucket(name).labels == {"env": "dev"}


def test_verify_reports_a_change_the_server_accepted_but_did_not_keep(engine: Engine, gcs: Any) -> None:
    # fake-gcs-server answers 200 to a labels PATCH and drops the labels: only reading back shows it
    name = _name("lbl")
    gcs.create_bucket(name)
    result = run(engine, "gcp.storage.set_bucket_labels", [Target("gcp", name)], {"labels": {"env": "dev"}})
    (res,) = result.results
    assert not result.ok and res.outcome == "verify_failed"
    assert res.details["evidence"]["mismatched"] == {"tag:env": {"wanted": "dev", "observed": None}}
    assert [r.outcome for r in engine.sink.records if r.action == "gcp.storage.set_bucket_labels"] == [
        "succeeded",
        "verify_failed",
    ]


def test_gcs_missing_bucket_fails_with_a_clear_reason(engine: Engine, gcs: Any) -> None:
    result = run(engine, "gcp.storage.enable_versioning", [Target("gcp", "no-such-bucket-x")])
    assert result.results[0].outcome == "failed"
    assert "Cloud Storage bucket no-such-bucket-x was not found" in (result.results[0].error or "")


# -- Azure Blob (azurite) -----------------------------------------------------------------------------------
def test_azure_make_container_private_on_azurite(engine: Engine, azure_env: Any) -> None:
    import os

    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    name = _name("public")
    service.create_container(name, public_access="container")
    assert service.get_container_client(name).get_container_properties().public_access == "container"

    result = run(engine, "azure.storage.make_container_private", [Target("azure", name)])
    assert result.ok, result.to_dict()
    assert result.results[0].before == {"public_access": "container"}
    assert service.get_container_client(name).get_container_properties().public_access is None
    assert run(engine, "azure.storage.make_container_private", [Target("azure", name)]).counts() == {
        "noop": 1
    }
