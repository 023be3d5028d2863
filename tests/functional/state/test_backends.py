"""The four state backends through the real SDKs against moto, azurite and fake-gcs-server (and a directory).

Each backend gets the same contract: get / list / put-if-absent / compare-and-swap, and two writers that
update one document 100 times each lose nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from escher.state import (
    AlreadyExistsError,
    NotFoundError,
    ObjectStore,
    VersionConflictError,
    open_state,
    update_json,
)


def _s3(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("aws_env")
    from escher.clouds import aws

    bucket = f"escher-state-{uuid.uuid4().hex[:8]}"
    aws.client("s3", "us-east-1", retries={"max_attempts": 1}).create_bucket(Bucket=bucket)
    return open_state(f"s3://{bucket}/team-a")


def _azure(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("azure_env")
    from escher.clouds import azure

    container = f"state{uuid.uuid4().hex[:8]}"
    azure.blob_service().create_container(container)
    return open_state(f"az://{container}/team-a")


def _gcs(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("gcs_env")
    from escher.clouds import gcp

    bucket = f"escher-state-{uuid.uuid4().hex[:8]}"
    gcp.storage_client().create_bucket(bucket)
    return open_state(f"gs://{bucket}/team-a")


def _local(request: pytest.FixtureRequest) -> ObjectStore:
    tmp: Path = request.getfixturevalue("tmp_path")
    return open_state(f"file://{tmp / 'state'}")


BACKENDS: dict[str, Any] = {"s3": _s3, "azure": _azure, "gcs": _gcs, "local": _local}


@pytest.fixture(params=list(BACKENDS))
def state(request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    yield BACKENDS[request.param](request)


def test_put_if_absent_creates_once(state: ObjectStore) -> None:
    version = state.put_if_absent("markers/evt-1", b"first")
    with pytest.raises(AlreadyExistsError):
        state.put_if_absent("markers/evt-1", b"second")
    blob = state.get("markers/evt-1")
    assert (blob.data, blob.version) == (b"first", version)


def test_get_of_a_missing_key_is_not_found(state: ObjectStore) -> None:
    with pytest.raises(NotFoundError):
        state.get("nothing/here")


def test_compare_and_swap_accepts_the_current_version_only(state: ObjectStore) -> None:
    v1 = state.put_if_absent("doc.json", b"1")
    v2 = state.compare_and_swap("doc.json", b"2", v1)
    assert v2 != v1
    with pytest.raises(VersionConflictError):
        state.compare_and_swap("doc.json", b"3", v1)  # stale: someone wrote v2 meanwhile
    assert state.get("doc.json").data == b"2"
    with pytest.raises(VersionConflictError):
        state.compare_and_swap("gone.json", b"x", v2)


def test_list_returns_keys_under_a_prefix_relative_to_the_store(state: ObjectStore) -> None:
    for key in ("records/inventory/b", "records/inventory/a", "records/chat/c", "other"):
        state.put_if_absent(key, key.encode())
    assert [o.key for o in state.list("records/inventory/")] == ["records/inventory/a", "records/inventory/b"]
    assert {o.key for o in state.list()} == {
        "records/inventory/a",
        "records/inventory/b",
        "records/chat/c",
        "other",
    }
    assert all(o.size > 0 for o in state.list())


def test_two_writers_updating_one_document_lose_nothing(state: ObjectStore) -> None:
    def writer(name: str) -> None:
        mine = open_state(state.url)  # each writer has its own client, as two processes would
        for i in range(100):
            update_json(mine, "shared/counter.json", lambda doc, i=i: {**doc, "n": doc["n"] + 1,
                        "seen": [*doc["seen"], f"{name}{i}"]}, default={"n": 0, "seen": []})  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(writer, "a"), pool.submit(writer, "b")]:
            future.result()
    import json

    doc = json.loads(state.get("shared/counter.json").data)
    assert doc["n"] == 200
    assert sorted(doc["seen"]) == sorted([f"a{i}" for i in range(100)] + [f"b{i}" for i in range(100)])


def test_unknown_scheme_is_a_clear_error() -> None:
    from escher.state import StateError

    with pytest.raises(StateError, match="unknown state URL scheme"):
        open_state("ftp://x/y")
