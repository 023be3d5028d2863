"""The markers on escher.state's real backends: S3 (moto), GCS (fake-gcs-server), Blob (azurite), a directory.

40 events, each delivered 3 times at once, must give exactly 40 owners; a lost race is an answer (None), never a
second owner. The backends' own contract tests live with escher.state; here the adapter and the markers are
proven on top of them.
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
from escher.pipeline.objects import LocalObjects, PipelineObjects, StateObjects, open_objects


@pytest.fixture(params=["s3", "gcs", "blob", "local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PipelineObjects]:
    name = f"state-{uuid.uuid4().hex[:10]}"
    if request.param == "s3":
        from escher.clouds.aws.state import S3Store

        moto: MotoEmulator = request.getfixturevalue("aws_env")
        client = boto3.client("s3", region_name="us-east-1", endpoint_url=moto.endpoint_url)
        client.create_bucket(Bucket=name)
        yield StateObjects(S3Store(name, "escher", client=client))
    elif request.param == "gcs":
        fake: FakeGcsEmulator = request.getfixturevalue("fake_gcs")
        objects = open_objects(f"gs://{name}/escher?endpoint={fake.endpoint_url}")
        assert isinstance(objects, StateObjects)
        objects.state._bucket.client.create_bucket(name)
        yield objects
    elif request.param == "blob":
        from azure.storage.blob import BlobServiceClient

        from escher.clouds.azure.state import AzureBlobStore

        azurite: AzuriteEmulator = request.getfixturevalue("azure_env")
        service = BlobServiceClient.from_connection_string(azurite.connection_string)
        service.create_container(name)
        yield StateObjects(AzureBlobStore(name, "escher", service=service))
        service.delete_container(name)
    else:
        yield LocalObjects(tmp_path / "state")


def test_the_adapter_answers_races_with_none(store: PipelineObjects) -> None:
    first = store.put_if_absent("markers/a.json", b"one")
    assert first is not None
    assert store.put_if_absent("markers/a.json", b"two") is None
    current = store.get("markers/a.json")
    assert current is not None and current.data == b"one" and current.version == first
    second = store.replace("markers/a.json", b"three", first)
    assert second is not None and second != first
    assert store.replace("markers/a.json", b"stale", first) is None
    assert store.get("markers/none.json") is None
    store.put("alerts/x.json", b"{}")
    store.put("alerts/x.json", b"{1}")  # an overwrite: the newest alert state wins
    assert store.get("alerts/x.json").data == b"{1}"  # type: ignore[union-attr]
    assert store.list("markers/") == ["markers/a.json"] and store.list("alerts/") == ["alerts/x.json"]


def test_markers_claimed_concurrently_give_one_owner_per_event(store: PipelineObjects) -> None:
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
