"""A backup archive streams to and from every bucket kind (moto S3, azurite Blob, fake-gcs-server GCS, a dir)
through the SDK's file-object calls, byte for byte, and is listed like any object; a corrupted copy is caught
by the archive hash before it is opened."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from escher.state import ObjectStore, open_state
from escher.store.backup_archive import extract, file_sha256, install, roots_of, write_archive
from escher.store.backup_transfer import download_file, upload_file


def _s3(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("aws_env")
    from escher.clouds import aws

    bucket = f"escher-backup-{uuid.uuid4().hex[:8]}"
    aws.client("s3", "us-east-1", retries={"max_attempts": 1}).create_bucket(Bucket=bucket)
    return open_state(f"s3://{bucket}/laptop")


def _azure(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("azure_env")
    from escher.clouds import azure

    container = f"backup{uuid.uuid4().hex[:8]}"
    azure.blob_service().create_container(container)
    return open_state(f"az://{container}/laptop")


def _gcs(request: pytest.FixtureRequest) -> ObjectStore:
    request.getfixturevalue("gcs_env")
    from escher.clouds import gcp

    bucket = f"escher-backup-{uuid.uuid4().hex[:8]}"
    gcp.storage_client().create_bucket(bucket)
    return open_state(f"gs://{bucket}/laptop")


def _local(request: pytest.FixtureRequest) -> ObjectStore:
    tmp: Path = request.getfixturevalue("tmp_path")
    return open_state(f"file://{tmp / 'bucket'}")


BACKENDS: dict[str, Any] = {"s3": _s3, "azure": _azure, "gcs": _gcs, "local": _local}


@pytest.mark.parametrize("kind", list(BACKENDS))
def test_an_archive_round_trips_through_the_bucket(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    state = BACKENDS[kind](request)
    data, config = tmp_path / "data", tmp_path / "config"
    (data / "state" / "alerts").mkdir(parents=True)
    (data / "state" / "alerts" / "a1.json").write_text('{"a": 1}')
    (data / "keys").mkdir()
    (data / "keys" / "ledger-ed25519.pem").write_text("PRIVATE")
    config.mkdir()
    (config / "config.toml").write_text("[aws]\n")
    dump = tmp_path / "store.dump"
    dump.write_bytes(os.urandom(9 * 2**20 + 17))  # over one S3 multipart part (8 MiB)
    archive = tmp_path / "backup.tar"
    with archive.open("wb") as out:
        digest, size, entries = write_archive(out, dump, roots_of(data, config, config / "ledger"))
    assert digest == file_sha256(archive) and size == archive.stat().st_size
    assert {e.name for e in entries} == {"store.dump", "data/state/alerts/a1.json", "config/config.toml"}

    upload_file(state, "backups/x.tar", archive)
    assert [(o.key, o.size) for o in state.list("backups/")] == [("backups/x.tar", size)]
    back = tmp_path / "back.tar"
    download_file(state, "backups/x.tar", back)
    assert file_sha256(back) == digest

    staging = tmp_path / "staging"
    extract(back, [e.to_dict() for e in entries], staging)
    assert hashlib.sha256((staging / "store.dump").read_bytes()).hexdigest() == file_sha256(dump)
    fresh = {"data": tmp_path / "fresh-data", "config": tmp_path / "fresh-config"}
    assert sorted(install(staging, fresh)) == ["config/config.toml", "data/state/alerts/a1.json"]


def test_a_member_that_does_not_match_its_entry_is_refused(tmp_path: Path) -> None:
    from escher.store.errors import StoreError

    dump = tmp_path / "store.dump"
    dump.write_bytes(b"dump")
    archive = tmp_path / "backup.tar"
    with archive.open("wb") as out:
        _, _, entries = write_archive(out, dump, [])
    wrong = [{**entries[0].to_dict(), "sha256": "0" * 64}]
    with pytest.raises(StoreError, match="does not match"):
        extract(archive, wrong, tmp_path / "staging")
    with pytest.raises(StoreError, match="unexpected member"):
        extract(archive, [], tmp_path / "staging2")
