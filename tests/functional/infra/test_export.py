"""``escher destroy`` exports the state store through ``escher.state`` before anything is destroyed.

S3 on the moto server, Azure Blob on azurite, GCS on fake-gcs-server: every object ends up in the data dir
byte-identical (checked while the stack's destroy runs, i.e. before it could remove anything); a failing
export stops the destroy with a clear error.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from escher.config import Paths
from escher.infra import driver
from escher.infra.export import MANIFEST, StateExportError, StoreExporter

OBJECTS: dict[str, bytes] = {
    "inventory/aws/2025-01-01.json": b'{"instances": 3}',
    "alerts/ab/cd/alert-1.json": json.dumps({"severity": "high", "text": "é ✓"}).encode(),
    "reports/audit.bin": os.urandom(70_000),  # binary, larger than one chunk
    "chat history/with space.json": b"[]",
    "empty.json": b"",
}


def _assert_exported(dest: Path, expected: Mapping[str, bytes]) -> None:
    files = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    manifest = json.loads(files.pop(MANIFEST))
    assert files == dict(expected)  # byte-identical, nothing more, nothing less
    assert {o["key"]: o["sha256"] for o in manifest["objects"]} == {
        k: hashlib.sha256(v).hexdigest() for k, v in expected.items()
    }


@pytest.fixture
def s3_state(aws_env: Any) -> dict[str, str]:
    from escher.clouds import aws

    bucket = f"escher-state-{uuid.uuid4().hex[:8]}"
    s3 = aws.client("s3", "eu-west-1", retries={"max_attempts": 1})
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key, data in OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")  # a console "folder": holds nothing
    s3.put_object(Bucket=bucket, Key="_deploy/worker-abc.zip", Body=b"PK")  # the Lambda package: code
    return {"cloud": "aws", "region": "eu-west-1", "state_bucket": bucket}


def test_s3_state_is_exported_byte_identical(s3_state: dict[str, str], tmp_path: Path) -> None:
    count = StoreExporter().export("aws", s3_state, tmp_path / "export")
    assert count == len(OBJECTS)
    _assert_exported(tmp_path / "export", OBJECTS)


def test_azure_blob_state_is_exported_byte_identical(azure_env: Any, tmp_path: Path) -> None:
    from escher.clouds import azure

    container = f"state{uuid.uuid4().hex[:8]}"
    client = azure.blob_service().create_container(container)
    for key, data in OBJECTS.items():
        client.upload_blob(key, data)
    # azurite's account; with another account the connection string would not be used
    outputs = {"state_account": "devstoreaccount1", "state_container": container}
    assert StoreExporter().export("azure", outputs, tmp_path / "export") == len(OBJECTS)
    _assert_exported(tmp_path / "export", OBJECTS)


def test_gcs_state_is_exported_byte_identical(gcs_env: Any, tmp_path: Path) -> None:
    from escher.clouds import gcp

    bucket = gcp.storage_client().create_bucket(f"escher-state-{uuid.uuid4().hex[:8]}")
    for key, data in OBJECTS.items():
        bucket.blob(key).upload_from_string(data)
    outputs = {"project": "escher-test", "state_bucket": bucket.name}
    assert StoreExporter().export("gcp", outputs, tmp_path / "export") == len(OBJECTS)
    _assert_exported(tmp_path / "export", OBJECTS)


# -- through the driver: export before destroy, or no destroy at all ------------------------------------------
class CheckingStack:
    """A stack whose destroy records what the data dir holds at that moment."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.seen_at_destroy: dict[str, bytes] | None = None

    def set_config(self, key: str, value: Any) -> None:
        pass

    def up(self, *, on_event: Any = None) -> Any:
        raise AssertionError("not in these tests")

    def outputs(self) -> Mapping[str, Any]:
        return {}

    def destroy(self, *, on_event: Any = None) -> Any:
        exports = self.paths.data_dir / "exports"
        self.seen_at_destroy = {
            p.name: p.read_bytes() for p in exports.rglob("*") if p.is_file() and p.name != MANIFEST
        }
        return None


@pytest.fixture
def pulumi_env(tmp_path: Path) -> dict[str, str]:
    fake = tmp_path / "bin" / "pulumi"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    return {"PATH": str(fake.parent), "PULUMI_HOME": str(tmp_path / "nohome")}


def test_destroy_exports_every_object_before_the_stack_is_destroyed(
    s3_state: dict[str, str], tmp_path: Path, pulumi_env: dict[str, str]
) -> None:
    paths = Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")
    driver.save_outputs(paths, "aws", s3_state)
    stack = CheckingStack(paths)
    result = driver.destroy(
        "aws", paths, exporter=StoreExporter(), env=pulumi_env, stack_factory=lambda *_: stack
    )
    assert stack.seen_at_destroy == {Path(k).name: v for k, v in OBJECTS.items()}
    assert result.exported_objects == len(OBJECTS)
    _assert_exported(result.export_dir, OBJECTS)


def test_a_failing_export_stops_the_destroy_with_a_clear_error(
    aws_env: Any, tmp_path: Path, pulumi_env: dict[str, str]
) -> None:
    paths = Paths(config_dir=tmp_path / "cfg", data_dir=tmp_path / "data")
    driver.save_outputs(paths, "aws", {"region": "eu-west-1", "state_bucket": "escher-state-gone"})
    stack = CheckingStack(paths)
    with pytest.raises(StateExportError) as err:
        driver.destroy("aws", paths, exporter=StoreExporter(), env=pulumi_env, stack_factory=lambda *_: stack)
    assert "s3://escher-state-gone/" in err.value.message and "NoSuchBucket" in err.value.message
    assert "nothing was destroyed" in err.value.message and err.value.hint
    assert stack.seen_at_destroy is None  # destroy never ran
    assert driver.LocalState.load(paths).runs[-1]["result"] == "export failed"


def test_outputs_without_a_state_store_stop_the_destroy(tmp_path: Path) -> None:
    with pytest.raises(StateExportError, match="state_bucket is missing"):
        StoreExporter().export("aws", {"region": "eu-west-1"}, tmp_path / "export")


def test_an_object_key_that_escapes_the_export_dir_is_refused(
    s3_state: dict[str, str], tmp_path: Path
) -> None:
    from escher.clouds import aws

    aws.client("s3", "eu-west-1").put_object(Bucket=s3_state["state_bucket"], Key="../../evil", Body=b"x")
    with pytest.raises(StateExportError, match="outside"):
        StoreExporter().export("aws", s3_state, tmp_path / "export")
    assert not (tmp_path.parent / "evil").exists()
