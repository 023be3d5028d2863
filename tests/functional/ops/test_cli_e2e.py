"""``escher ops run ID ... --yes`` as a person runs it: the installed console script in a subprocess, one per
cloud, against the emulator the SDK finds through its own setting (AWS_ENDPOINT_URL, STORAGE_EMULATOR_HOST,
AZURE_STORAGE_CONNECTION_STRING). Each test reads the real state back with the SDK and the audit file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

ESCHER = str(Path(sys.executable).with_name("escher"))


def escher(*args: str) -> tuple[int, Any]:
    env = {**os.environ, "ESCHER_USER": "alice"}
    done = subprocess.run(
        [ESCHER, "-o", "json", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    try:
        out = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {done.returncode}): {done.stdout!r} {done.stderr!r}")
    return done.returncode, out


def audit(home: Path) -> list[dict[str, Any]]:
    from tests.harness.ledger import audit_records

    return audit_records(home)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_aws_block_public_access_on_buckets_selected_by_tag(aws_env: Any, escher_home: Path) -> None:
    import boto3
    from botocore.exceptions import ClientError

    s3 = boto3.client("s3", region_name="us-east-1")
    dev, prod, untagged = _name("dev"), _name("prod"), _name("none")
    for name, env in ((dev, "dev"), (prod, "prod"), (untagged, None)):
        s3.create_bucket(Bucket=name)
        if env:
            s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "env", "Value": env}]})

    code, out = escher(
        "ops", "run", "aws.s3.block_public_access", "--tag", "env=dev", "-r", "us-east-1", "--yes",
        "--reason", "public bucket found",
    )  # fmt: skip
    assert code == 0, out
    assert out["result"]["counts"] == {"verified": 1}
    assert [c["target"] for c in out["plan"]["changes"]] == [dev]
    conf = s3.get_public_access_block(Bucket=dev)["PublicAccessBlockConfiguration"]
    assert all(conf.values()) and len(conf) == 4
    for other in (prod, untagged):
        with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
            s3.get_public_access_block(Bucket=other)
    (verified,) = [r for r in audit(escher_home) if r["outcome"] == "verified"]
    assert verified["action"] == "aws.s3.block_public_access" and verified["target"] == dev
    assert verified["actor"] == "user:alice" and verified["reason"] == "public bucket found"
    assert verified["after"] == dict.fromkeys(conf, True)


def test_gcp_enforce_public_access_prevention_on_the_emulator(
    gcs_emulator: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud import storage

    for key, value in gcs_emulator.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "escher-test")
    gcs = storage.Client(project="escher-test")
    name = _name("cli")
    gcs.create_bucket(name)
    assert gcs.get_bucket(name).iam_configuration.public_access_prevention != "enforced"

    code, out = escher("ops", "run", "gcp.storage.enforce_public_access_prevention", "-t", name, "--yes")
    assert code == 0, out
    assert out["result"]["counts"] == {"verified": 1}
    assert gcs.get_bucket(name).iam_configuration.public_access_prevention == "enforced"
    outcomes = [(r["action"], r["target"], r["outcome"]) for r in audit(escher_home)]
    assert ("gcp.storage.enforce_public_access_prevention", name, "verified") in outcomes

    again_code, again = escher(
        "ops", "run", "gcp.storage.enforce_public_access_prevention", "-t", name, "--yes"
    )
    assert again_code == 0 and again["result"]["counts"] == {"noop": 1}


def test_azure_make_container_private_on_azurite(azure_env: Any, escher_home: Path) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(os.environ["AZURE_STORAGE_CONNECTION_STRING"])
    name = _name("public")
    service.create_container(name, public_access="blob")

    code, out = escher("ops", "run", "azure.storage.make_container_private", "--target", name, "--yes")
    assert code == 0, out
    assert out["result"]["counts"] == {"verified": 1}
    assert service.get_container_client(name).get_container_properties().public_access is None
    (verified,) = [r for r in audit(escher_home) if r["outcome"] == "verified"]
    assert verified["target"] == name and verified["before"] == {"public_access": "blob"}
    assert verified["after"] == {"public_access": None}


def test_a_failure_exits_non_zero_and_is_audited(aws_env: Any, escher_home: Path) -> None:
    code, out = escher("ops", "run", "aws.s3.enable_versioning", "-t", _name("missing"), "--yes")
    assert code == 1 and out["result"]["counts"] == {"failed": 1}
    (failed,) = [
        r for r in audit(escher_home) if r["action"] == "aws.s3.enable_versioning" and r["outcome"] != "info"
    ]
    assert failed["outcome"] == "failed" and "was not found" in failed["details"]["error"]
