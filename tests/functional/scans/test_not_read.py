"""A cloud that cannot be read is reported "not read", with why and what to do, and the rest is still read;
scans started at the same moment are all kept (issue 14)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from escher.config import Settings
from escher.emulators import MotoEmulator
from escher.scans import synthetic
from escher.scans.model import new_scan_id
from escher.scans.persist import JsonFileStore
from escher.scans.runner import ScanOptions, run_scan

ESCHER = str(Path(sys.executable).parent / "escher")


def _escher(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ESCHER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_a_multi_cloud_scan_without_a_gcp_project_still_reads_aws(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str
) -> None:
    # GIVEN an AWS estate on moto and no GCP project anywhere
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="still-read")
    # WHEN both clouds are scanned
    out = _escher("-o", "json", "scan", "-c", "aws", "-c", "gcp", env={"ESCHER_DATABASE_URL": pg_database})
    # THEN AWS was read, GCP is reported not read with why and what to do, and the exit code says "partial"
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    assert result["resources"] > 0
    [gcp] = [p for p in result["partial"] if p["cloud"] == "gcp"]
    assert "no GCP project is configured" in gcp["message"] and "GOOGLE_CLOUD_PROJECT" in gcp["hint"]
    assert not [p for p in result["partial"] if p["cloud"] == "aws"]


def test_a_scan_where_no_cloud_can_be_read_says_why(escher_home: Path, pg_database: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {"AWS_ENDPOINT_URL": dead, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    out = _escher("scan", "-c", "aws", "-c", "gcp", env={**env, "ESCHER_DATABASE_URL": pg_database})
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    text = " ".join(out.stderr.split())
    assert f"cannot reach AWS at {dead}" in text and "What to do:" in text


def test_scan_ids_are_unique_and_sort_by_time() -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    same_ms = [new_scan_id(now) for _ in range(10_000)]
    assert len(set(same_ms)) == len(same_ms)  # the old millisecond ids were all one id here
    assert new_scan_id(now) < new_scan_id(now + timedelta(milliseconds=1))
    old_style = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z"  # before issue 14
    assert new_scan_id(now) > old_style  # a stored old id still sorts as older


def test_scans_started_at_the_same_moment_are_all_stored(tmp_path: Path) -> None:
    # GIVEN eight scans that start together (before issue 14 their millisecond ids collided: one was lost)
    store = JsonFileStore(tmp_path / "reports")
    inventory = synthetic.estate(5)
    start = threading.Barrier(8)

    def scan() -> str:
        start.wait()
        return run_scan(Settings(), ScanOptions(clouds=["aws"]), store=store, inventory=inventory).scan_id

    # WHEN they run (a failure in any of them is raised here by result())
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [f.result() for f in [pool.submit(scan) for _ in range(8)]]
    # THEN every one is stored under its own id
    assert sorted(store.keys("scan")) == sorted(ids) and len(set(ids)) == 8


def _reset_auth(moto: MotoEmulator, count: str) -> None:
    import urllib.request

    # text/plain: with urllib's default form content type moto parses the body away (a 500)
    req = urllib.request.Request(
        f"{moto.endpoint_url}/moto-api/reset-auth", data=count.encode(), method="POST",
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def test_services_the_identity_may_not_read_are_reported_with_what_to_do(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str
) -> None:
    # GIVEN an identity allowed S3 and nothing else, with moto enforcing IAM (process-wide: reset after)
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="s3-only")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:*"], "Resource": "*"}],
    }
    iam.put_user_policy(UserName="s3-only", PolicyName="s3", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="s3-only")["AccessKey"]
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="readable")
    env = {
        "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        "AWS_SESSION_TOKEN": "",  # the fixture's token would make the key a (fake) session's
        "ESCHER_DATABASE_URL": pg_database,
    }
    _reset_auth(aws_env, "0")
    try:
        # WHEN the estate is scanned with it
        out = _escher("-o", "json", "scan", "-r", "us-east-1", env=env)
    finally:
        _reset_auth(aws_env, "inf")
    # THEN S3 is read, every denied service is "not read" with the permission to grant, and nothing crashed
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    denied = [p for p in result["partial"] if p["code"] in ("AccessDenied", "UnauthorizedOperation")]
    assert denied and all("permission" in p["hint"] for p in denied)
    assert not [p for p in result["partial"] if p["service"] == "s3"]
    assert result["resources"] >= 1
