"""A laptop about to run 'escher extend aws' on moto: its config, the session Postgres as its store, a CloudTrail
trail that is logging (the preflight asks for one), a stand-in ``pulumi`` on PATH, and the offline stand-in
stack (:mod:`tests.functional.extend_wizard.standin`)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from escher.emulators import MotoEmulator

pytest.importorskip("pulumi")

REGION = "us-east-1"
LAPTOP_CONFIG = f"""# my laptop's Escher
[aws]
regions = ["{REGION}"]

[azure]
subscription_id = "00000000-0000-0000-0000-000000000000"

[notify.routes]
CRITICAL = ["banner"]
"""
HOOK_URL = "json://127.0.0.1:9/hooks/T0KEN-only-on-the-laptop"


@dataclass
class Laptop:
    home: Path
    config: Path
    env: dict[str, str]  # what a terminal on this laptop has (for a subprocess)


def logging_trail(region: str = REGION) -> None:
    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket="org-trail-logs")
    trail = boto3.client("cloudtrail", region_name=region)
    trail.create_trail(Name="org-trail", S3BucketName="org-trail-logs", IsMultiRegionTrail=True)
    trail.start_logging(Name="org-trail")


@pytest.fixture
def laptop(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Laptop:
    from tests.functional.extend_wizard.standin import install

    config = escher_home / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(LAPTOP_CONFIG, encoding="utf-8")
    fake_bin = escher_home / "bin"
    fake_bin.mkdir()
    (fake_bin / "pulumi").write_text("#!/bin/sh\nexit 0\n")
    (fake_bin / "pulumi").chmod(stat.S_IRWXU)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_USER", "alice")
    monkeypatch.setenv("ESCHER_TEST_HOOK_URL", HOOK_URL)
    # a service principal on the laptop: the extension must not get it unless the user says so
    monkeypatch.setenv("AZURE_TENANT_ID", "11111111-1111-1111-1111-111111111111")
    monkeypatch.setenv("AZURE_CLIENT_ID", "22222222-2222-2222-2222-222222222222")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "laptop-only-secret")
    logging_trail()
    install(monkeypatch.setattr)
    keep = ("PATH", "HOME", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_EC2_METADATA_DISABLED", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "ESCHER_CONFIG_DIR",
            "ESCHER_DATA_DIR", "ESCHER_DATABASE_URL", "ESCHER_USER", "ESCHER_TEST_HOOK_URL", "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CONFIG_DIR", "CLOUDSDK_CONFIG", "NO_GCE_CHECK")  # fmt: skip
    env = {k: os.environ[k] for k in keep if k in os.environ}
    return Laptop(escher_home, config, env)
