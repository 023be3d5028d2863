"""Two remediation switches end to end on moto, through the AWS worker's Lambda handler.

- stop_idle_instances: the daily job's scan finds an instance idle (CPU in CloudWatch) and stops it through the
  event pipeline (gate, engine, read back, audit), or leaves it a finding (switch off), or asks for an
  approval (tagged production);
- restart_failed_services: a CloudWatch Alarm State Change on StatusCheckFailed_Instance reboots the instance.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
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

IDLE_ON = """
[remediation]
stop_idle_instances = true
idle_hours = 72
"""
RESTART_ON = """
[remediation]
restart_failed_services = true
"""


@pytest.fixture
def worker(aws_env: MotoEmulator, worker_config: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=STATE)
    monkeypatch.setenv("ESCHER_STATE_URL", f"s3://{STATE}")
    return {"s3": s3, "ec2": boto3.client("ec2", region_name=REGION), "config": worker_config / "config.toml"}


def _configure(worker: dict[str, Any], text: str) -> None:
    worker["config"].write_text(text, encoding="utf-8")
    runtime.reset()


def _idle_instance(worker: dict[str, Any], days: int, tags: dict[str, str] | None = None) -> str:
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()]}]
    out = worker["ec2"].run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.large",
        **({"TagSpecifications": spec} if tags else {}),
    )  # fmt: skip
    instance = str(out["Instances"][0]["InstanceId"])
    now = datetime.now(UTC)
    boto3.client("cloudwatch", region_name=REGION).put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "InstanceId", "Value": instance}],
                "Timestamp": now - timedelta(days=day) + timedelta(hours=2),
                "Value": 1.0,
                "Unit": "Percent",
            }
            for day in range(1, days + 1)
        ],
    )
    return instance


def _state(worker: dict[str, Any], instance: str) -> str:
    res = worker["ec2"].describe_instances(InstanceIds=[instance])["Reservations"]
    return str(res[0]["Instances"][0]["State"]["Name"])


def _audit(worker: dict[str, Any]) -> list[dict[str, Any]]:
    s3 = worker["s3"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=STATE, Prefix="audit/").get("Contents", [])]
    return [json.loads(s3.get_object(Bucket=STATE, Key=k)["Body"].read())["record"] for k in keys]


def test_daily_job_stops_an_instance_idle_for_8_days_when_the_switch_is_on_at_72_hours(
    worker: dict[str, Any],
) -> None:
    _configure(worker, IDLE_ON)
    instance = _idle_instance(worker, days=8)

    out = handler({"job": "daily_scan"}, LambdaContext())

    idle = out["parts"]["idle"]
    assert idle["ok"], idle
    [stop] = idle["stops"]
    assert (stop["resource_id"], stop["operation"], stop["outcome"]) == (
        instance,
        "aws.ec2.stop_instances",
        "auto_resolved",
    ), stop
    assert stop["idle_hours"] >= 72 and not stop["production"]
    assert _state(worker, instance) == "stopped"  # read back from moto with boto3
    [record] = [r for r in _audit(worker) if r["action"] == "aws.ec2.stop_instances"]
    assert record["target"] == instance and record["outcome"] == "verified"
    assert record["details"]["decision"] == "pre-approved by [remediation] stop_idle_instances"
    assert {"decided", "fixed", "verified"} <= set(record["timings"])
    # the platform retries the daily job: the same day's stop is not done (or audited) twice
    again = handler({"job": "daily_scan"}, LambdaContext())
    assert [s["outcome"] for s in again["parts"]["idle"]["stops"]] in ([], ["duplicate"])
    assert len([r for r in _audit(worker) if r["action"] == "aws.ec2.stop_instances"]) == 1


def test_switch_off_leaves_the_idle_instance_running_and_a_finding(worker: dict[str, Any]) -> None:
    _configure(worker, "[remediation]\nstop_idle_instances = false\n")
    instance = _idle_instance(worker, days=8)

    out = handler({"job": "daily_scan"}, LambdaContext())

    assert "idle" not in out["parts"]
    assert out["findings"] >= 1
    assert _state(worker, instance) == "running"
    assert not [r for r in _audit(worker) if r["action"] == "aws.ec2.stop_instances"]


def test_idle_under_the_threshold_is_not_stopped(worker: dict[str, Any]) -> None:
    _configure(worker, IDLE_ON.replace("idle_hours = 72", "idle_hours = 500"))
    instance = _idle_instance(worker, days=8)

    out = handler({"job": "daily_scan"}, LambdaContext())

    assert out["parts"]["idle"] == {"ok": True, "stops": []}
    assert _state(worker, instance) == "running"


def test_idle_production_instance_gets_an_approval_request_not_a_stop(worker: dict[str, Any]) -> None:
    _configure(worker, IDLE_ON)
    instance = _idle_instance(worker, days=8, tags={"env": "production"})

    out = handler({"job": "daily_scan"}, LambdaContext())

    [stop] = out["parts"]["idle"]["stops"]
    assert stop["production"] and stop["outcome"] == "needs_approval", stop
    assert _state(worker, instance) == "running"
    [record] = [r for r in _audit(worker) if r["action"] == "aws.ec2.stop_instances"]
    assert record["outcome"] == "approval_requested" and record["details"]["approval_request_id"]


def _status_check_failed(event_id: str, instance: str) -> dict[str, Any]:
    event = copy.deepcopy(sample("aws", "cloudwatch_alarm_ec2_status_check_failed"))
    event["id"] = event_id
    event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["InstanceId"] = (
        instance
    )
    return dict(event)


def test_status_check_failed_alarm_reboots_the_instance_when_the_switch_is_on(worker: dict[str, Any]) -> None:
    _configure(worker, RESTART_ON)
    instance = worker["ec2"].run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]

    result = handler(_status_check_failed("status-evt-1", instance), LambdaContext())

    assert result["outcome"] == "auto_resolved", result
    assert result["operation"] == "aws.ec2.reboot_instances"
    assert _state(worker, instance) == "running"
    [record] = [r for r in _audit(worker) if r["action"] == "aws.ec2.reboot_instances"]
    assert record["target"] == instance and record["outcome"] == "verified"
    assert record["details"]["decision"] == "pre-approved by [remediation] restart_failed_services"
    # moto records the reboot: the engine's step says RebootInstances ran
    steps = [s["action"] for s in record["details"]["steps"]]
    assert "aws.ec2.reboot_instances" in steps, steps


def test_switch_on_a_production_instance_asks_for_approval_instead_of_failing(worker: dict[str, Any]) -> None:
    # the switch pre-approves the reboot, but the production rule holds it: a person is asked (the request is
    # in the ledger), the instance is not rebooted, and the alert is not a failed remediation
    _configure(worker, RESTART_ON)
    spec = [{"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "production"}]}]
    instance = worker["ec2"].run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=spec
    )["Instances"][0]["InstanceId"]

    result = handler(_status_check_failed("status-evt-prod", instance), LambdaContext())

    assert result["outcome"] == "needs_approval", result
    [record] = [r for r in _audit(worker) if r["action"] == "aws.ec2.reboot_instances"]
    assert record["outcome"] == "approval_requested" and record["details"]["approval_request_id"], record
    assert "production" in record["details"]["decision"]
    steps = [s["action"] for s in record["details"]["steps"]]
    assert "policy.refuse" in steps or any("refus" in a for a in steps), steps


def test_status_check_failed_alarm_asks_for_approval_when_the_switch_is_off(worker: dict[str, Any]) -> None:
    _configure(worker, "[remediation]\nrestart_failed_services = false\n")
    instance = worker["ec2"].run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0][
        "InstanceId"
    ]

    result = handler(_status_check_failed("status-evt-2", instance), LambdaContext())

    assert result["outcome"] == "needs_approval", result
    assert result["operation"] == "aws.ec2.reboot_instances"


@pytest.fixture
def laptop(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_NO_SYNC", "1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_text(f'[aws]\nregions = ["{REGION}"]\n{IDLE_ON}')
    runtime.reset()
    yield escher_home
    runtime.reset()


def test_laptop_daily_scan_stops_the_idle_instance_and_the_ledger_records_it(laptop: Path) -> None:
    from typer.testing import CliRunner

    from escher.cli.main import app
    from escher.config import load_settings
    from escher.pipeline.idle import stop_idle_locally
    from escher.scans.runner import ScanOptions, run_scan

    ec2 = {"ec2": boto3.client("ec2", region_name=REGION)}
    instance = _idle_instance(ec2, days=8)
    settings = load_settings()
    result = run_scan(settings, ScanOptions(clouds=["aws"], checks=["aws.ec2.instance_idle"]))

    [stop] = stop_idle_locally(result, settings)

    assert (stop.resource_id, stop.outcome) == (instance, "auto_resolved"), stop
    assert _state(ec2, instance) == "stopped"
    out = CliRunner().invoke(app, ["-o", "json", "audit", "list", "--action", "aws.ec2.stop_instances"])
    assert out.exit_code == 0, out.output
    assert instance in out.output and "verified" in out.output, out.output


def test_the_laptops_daily_job_stops_the_idle_instance_when_the_switch_is_on(laptop: Path) -> None:
    """What `escher agent` / `run-due` run at 02:00 on a Local Only laptop: the scan, the cost, the report, and
    with the switch on the idle instances' stops, said in the run's line."""
    from escher.schedule.execute import default_executor
    from escher.schedule.jobs import Job

    ec2 = {"ec2": boto3.client("ec2", region_name=REGION)}
    instance = _idle_instance(ec2, days=8)

    line = default_executor(Job(kind="daily", clouds=["aws"]))

    assert "idle instances: 1 auto_resolved" in line, line
    assert _state(ec2, instance) == "stopped"
