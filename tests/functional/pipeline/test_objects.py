"""The state storage's conditional writes on the real emulators: S3 (moto), GCS (fake-gcs-server), Blob (azurite).

Each backend gets the same contract test, then the markers are claimed concurrently through it: 40 events, each
delivered 3 times at once, must give exactly 40 claims.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from escher.emulators import AzuriteEmulator, FakeGcsEmulator, MotoEmulator
from escher.pipeline.errors import EventInProgressError
from escher.pipeline.markers import Markers, Stage
from escher.pipeline.objects import BlobObjects, GcsObjects, LocalObjects, ObjectStore, S3Objects


@pytest.fixture(params=["s3", "gcs", "blob", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    name = f"state-{uuid.uuid4().hex[:10]}"
    if request.param == "s3":
        moto: MotoEmulator = request.getfixturevalue("aws_env")
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.endpoint_url)
        client.create_bucket(Bucket=name)
        yield S3Objects(name, "escher", client=client)
    elif request.param == "gcs":
        fake: FakeGcsEmulator = request.getfixturevalue("fake_gcs")
        objects = GcsObjects(name, "escher", endpoint=fake.endpoint_url)
        objects.bucket.client.create_bucket(name)
        yield objects
    elif request.param == "blob":
        azurite: AzuriteEmulator = request.getfixturevalue("azure_env")
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container(name)
        yield BlobObjects(name, "escher", service=service)
        service.delete_container(name)
    else:
        yield LocalObjects(tmp_path / "state")


def test_create_if_absent_and_compare_and_swap(store: ObjectStore) -> None:
    first = store.put_if_absent("markers/a.json", b"one")
    assert first is not None
    assert store.put_if_absent("markers/a.json", b"two") is None
    current = store.get("markers/a.json")
    assert current is not None and current.data == b"one" and current.version == first
    second = store.replace("markers/a.json", b"three", first)
    assert second is not None and second != first
    assert store.replace("markers/a.json", b"stale", first) is None  # someone else's version now
    assert store.get("markers/a.json").data == b"three"  # type: ignore[union-attr]
    assert store.get("markers/none.json") is None
    store.put("alerts/x.json", b"{}")
    assert store.list("markers/") == ["markers/a.json"] and store.list("alerts/") == ["alerts/x.json"]


def test_markers_claimed_concurrently_give_one_owner_per_event(store: ObjectStore) -> None:
    markers = Markers(store)

    def claim(i: int) -> str:
        try:
            c = markers.claim("aws", f"evt-{i % 40}", "aws.s3.block_public_access")
        except EventInProgressError:
            return "busy"
        assert c is not None
        markers.advance(c, Stage.acted)
        return "owner"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(claim, range(120)))
    assert outcomes.count("owner") == 40
    assert outcomes.count("busy") == 80
