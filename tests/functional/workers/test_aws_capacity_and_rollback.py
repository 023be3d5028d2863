"""Issue 21 item 4 on moto, through the AWS worker's handler: a CloudWatch alarm on an RDS instance's storage
grows it (scale up near capacity), and an alarm on a Lambda alias's Errors rolls the alias back (rollback failed
deployments) — each only with its [remediation] switch on, else an approval request and nothing touched."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.emulators import MotoEmulator
from escher.pipeline import runtime
from escher.workers.aws.handler import handler
from tests.functional.workers.conftest import LambdaContext
from tests.unit.events._samples import sample

STATE = "escher-state-test"
REGION = "us-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture
def worker(aws_env: MotoEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=STATE)
    boto3.client("sqs", region_name=REGION).create_queue(QueueName="escher-dead-letters")
    monkeypatch.setenv("ESCHER_STATE_URL", f"s3://{STATE}")
    monkeypatch.setenv("ESCHER_DEAD_LETTER_URL", "sqs://escher-dead-letters")
    return {"s3": s3, "config": worker_config / "config.toml"}


def _switches(config: Path, **on: Any) -> None:
    lines = ["[remediation]", *(f"{k} = {json.dumps(v)}" for k, v in on.items())]
    config.write_text("\n".join(lines) + '\n\n[notify.routes]\nHIGH = ["banner"]\n', encoding="utf-8")
    runtime.reset()  # the worker reads its config once per cold start


def _alarm(name: str, event_id: str, dimensions: dict[str, str], metric: str, value: float) -> dict[str, Any]:
    base = (
        "cloudwatch_alarm_rds_storage"
        if "DBInstanceIdentifier" in dimensions
        else "cloudwatch_alarm_lambda_alias_errors"
    )
    event = copy.deepcopy(sample("aws", base))
    event["id"], event["region"] = event_id, REGION
    detail = event["detail"]
    detail["alarmName"] = name
    reason = json.loads(detail["state"]["reasonData"])
    reason["recentDatapoints"] = [value]
    detail["state"]["reasonData"] = json.dumps(reason)
    metric_stat = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric_stat["dimensions"], metric_stat["name"] = dimensions, metric
    return event


# -- scale up near capacity: RDS storage ------------------------------------------------------------------
@pytest.fixture
def rds(worker: dict[str, Any]) -> Any:
    client = boto3.client("rds", region_name=REGION)
    client.create_db_instance(
        DBInstanceIdentifier="orders-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=100,
        MasterUsername="escher",
        MasterUserPassword="not-a-secret-1",
    )
    return client


def _allocated(rds: Any) -> int:
    return int(
        rds.describe_db_instances(DBInstanceIdentifier="orders-db")["DBInstances"][0]["AllocatedStorage"]
    )


def _storage_alarm(event_id: str, used: float) -> dict[str, Any]:
    dims = {"DBInstanceIdentifier": "orders-db"}
    return _alarm("orders-db-disk-full", event_id, dims, "StorageUsedPercent", used)


def test_storage_alarm_over_the_bar_grows_the_rds_storage_with_the_switch_on(
    worker: dict[str, Any], rds: Any
) -> None:
    _switches(worker["config"], scale_up_near_capacity=True, capacity_percent=90.0)

    result = handler(_storage_alarm("evt-rds-1", 91.5), LambdaContext())

    assert result["outcome"] == "auto_resolved", result
    assert result["operation"] == "aws.rds.increase_storage"
    assert _allocated(rds) == 110  # 100 GiB + 10 %
    [key] = [o["Key"] for o in worker["s3"].list_objects_v2(Bucket=STATE, Prefix="audit/")["Contents"]]
    record = json.loads(worker["s3"].get_object(Bucket=STATE, Key=key)["Body"].read())["record"]
    assert record["action"] == "aws.rds.increase_storage" and record["outcome"] == "verified"
    assert record["before"]["allocated_gib"] == 100 and record["after"]["allocated_gib"] == 110
    assert "scale_up_near_capacity" in record["details"]["decision"]
    # the same alarm delivered again grows nothing twice
    assert handler(_storage_alarm("evt-rds-1", 91.5), LambdaContext())["outcome"] == "duplicate"
    assert _allocated(rds) == 110


def test_storage_alarm_under_the_bar_asks_for_approval_and_leaves_the_storage(
    worker: dict[str, Any], rds: Any
) -> None:
    _switches(worker["config"], scale_up_near_capacity=True, capacity_percent=95.0)

    result = handler(_storage_alarm("evt-rds-2", 91.5), LambdaContext())

    assert result["outcome"] == "needs_approval", result
    assert result["operation"] == "aws.rds.increase_storage"
    assert _allocated(rds) == 100


def test_storage_alarm_with_the_switch_off_asks_for_approval(worker: dict[str, Any], rds: Any) -> None:
    _switches(worker["config"], scale_up_near_capacity=False)

    result = handler(_storage_alarm("evt-rds-3", 99.0), LambdaContext())

    assert result["outcome"] == "needs_approval", result
    assert _allocated(rds) == 100


def test_free_storage_space_alarm_carries_no_utilisation_so_it_asks_for_approval(
    worker: dict[str, Any], rds: Any
) -> None:
    _switches(worker["config"], scale_up_near_capacity=True, capacity_percent=50.0)
    event = _alarm(
        "orders-db-low", "evt-rds-4", {"DBInstanceIdentifier": "orders-db"}, "FreeStorageSpace", 1e9
    )

    result = handler(event, LambdaContext())

    assert result["outcome"] == "needs_approval", result
    assert result["operation"] == "aws.rds.increase_storage"
    assert _allocated(rds) == 100


# -- rollback failed deployments: a Lambda alias -----------------------------------------------------------
def _zip(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handler.py", body)
    return buf.getvalue()


@pytest.fixture
def lam(worker: dict[str, Any]) -> Any:
    """orders-api with versions 1 (good) and 2 (the failed deployment); alias live serves 2."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="orders-api-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(
        FunctionName="orders-api",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="handler.handler",
        Code={"ZipFile": _zip("def handler(event, context):\n    return 1\n")},
    )
    assert client.publish_version(FunctionName="orders-api")["Version"] == "1"
    client.update_function_code(FunctionName="orders-api", ZipFile=_zip("def handler(e, c):\n    raise X\n"))
    assert client.publish_version(FunctionName="orders-api")["Version"] == "2"
    client.create_alias(FunctionName="orders-api", Name="live", FunctionVersion="2")
    return client


def _errors_alarm(event_id: str) -> dict[str, Any]:
    dims = {"FunctionName": "orders-api", "Resource": "orders-api:live"}
    return _alarm("orders-api-live-errors", event_id, dims, "Errors", 42.0)


def test_errors_alarm_on_an_alias_rolls_it_back_with_the_switch_on(worker: dict[str, Any], lam: Any) -> None:
    _switches(worker["config"], rollback_failed_deployments=True)

    result = handler(_errors_alarm("evt-lambda-1"), LambdaContext())

    assert result["outcome"] == "auto_resolved", result
    assert result["operation"] == "aws.lambda.rollback_alias"
    assert lam.get_alias(FunctionName="orders-api", Name="live")["FunctionVersion"] == "1"
    [key] = [o["Key"] for o in worker["s3"].list_objects_v2(Bucket=STATE, Prefix="audit/")["Contents"]]
    record = json.loads(worker["s3"].get_object(Bucket=STATE, Key=key)["Body"].read())["record"]
    assert record["outcome"] == "verified"
    assert record["before"]["alias_version"] == "2" and record["after"]["alias_version"] == "1"
    assert "rollback_failed_deployments" in record["details"]["decision"]


def test_errors_alarm_with_the_switch_off_asks_for_approval_and_leaves_the_alias(
    worker: dict[str, Any], lam: Any
) -> None:
    _switches(worker["config"], rollback_failed_deployments=False)

    result = handler(_errors_alarm("evt-lambda-2"), LambdaContext())

    assert result["outcome"] == "needs_approval", result
    assert lam.get_alias(FunctionName="orders-api", Name="live")["FunctionVersion"] == "2"
