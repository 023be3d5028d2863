"""The console against a moto estate: the real app (Starlette TestClient, or uvicorn on a port for the event
stream), the real scan, the real engine and gate, the suite's Postgres for the ledger.

The estate: a public bucket (its fix runs without approval), a dev m5.xlarge that is over-provisioned (its fix,
a resize, is destructive: approval), a production instance that is idle (its fix, a stop, touches production:
approval).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

TOKEN = "console-test-token-0123456789"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
REGION = "us-east-1"
TEAM = '[personas]\nmanagers = ["alice", "mona"]\nexecutors = ["eddie"]\n'


@dataclass
class Estate:
    bucket: str
    dev_instance: str
    prod_instance: str
    home: Path

    def configure(self, text: str) -> None:
        (self.home / "config").mkdir(parents=True, exist_ok=True)
        (self.home / "config" / "config.toml").write_text(text, encoding="utf-8")


def _boto(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)


def _metrics(instance: str, cpu: float, days: int) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": instance}],
         "Timestamp": now - timedelta(days=day) + timedelta(hours=2), "Value": cpu, "Unit": "Percent"}
        for day in range(1, days + 1)
    ]  # fmt: skip


@pytest.fixture
def estate(aws_env: Any, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch) -> Estate:
    from typer.testing import CliRunner

    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_USER", "solo")
    monkeypatch.setenv("ESCHER_NO_SYNC", "1")
    s3 = _boto("s3")
    bucket = "console-public-bucket"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    ec2 = _boto("ec2")
    ids = {}
    for env, size in (("dev", "m5.xlarge"), ("production", "m5.large")):
        spec = {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}
        out = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=size,
                                TagSpecifications=[spec])  # fmt: skip
        ids[env] = out["Instances"][0]["InstanceId"]
    cw = _boto("cloudwatch")
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=_metrics(ids["dev"], 15.0, 30))
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=_metrics(ids["production"], 1.5, 30))
    checks = "aws.s3.bucket_public,aws.ec2.instance_idle,aws.ec2.instance_overprovisioned"
    res = CliRunner().invoke(app, ["scan", "--region", REGION, "--checks", checks])
    assert res.exit_code in (0, 1), res.output  # 1: findings were found
    return Estate(bucket, ids["dev"], ids["production"], escher_home)


@pytest.fixture
def client(escher_home: Path) -> Iterator[Any]:
    """The app as ``escher console`` serves it, signed in (the token exchanged for the cookie)."""
    from starlette.testclient import TestClient

    from escher.console.app import Console, create_app
    from escher.console.auth import Access

    access = Access(TOKEN)
    access.allow_port(PORT)
    console = Console(access)
    with TestClient(create_app(console), base_url=BASE) as tc:
        res = tc.get(f"/?token={TOKEN}", follow_redirects=False)
        assert res.status_code == 303 and res.headers["location"] == "/"
        yield tc
    console.close()


def csrf(page: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def attr(page: str, element_pattern: str, name: str) -> str:
    """The value of attribute ``name`` of the first element whose opening tag matches ``element_pattern``."""
    for tag in re.findall(r"<[a-z]+\b[^>]*>", page):
        if re.search(element_pattern, tag):
            found = re.search(rf'\b{name}="([^"]*)"', tag)
            if found:
                return found.group(1)
    raise AssertionError(f"no element {element_pattern!r} with {name}= in the page")
