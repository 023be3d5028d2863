"""`escher schedule add|remove` while AWS is extended, against moto: the user's schedule becomes an EventBridge
Scheduler schedule in the stack's group (the cron in the schedule's zone, the worker as target with the stack's
scheduler role, input naming the schedule), removing it deletes that, and a cloud schedule that cannot be
created leaves nothing saved on the laptop."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from typer.testing import CliRunner

from escher.cli.main import app
from escher.emulators import MotoEmulator

REGION = "us-east-1"
TEMPLATE = """
name = "stop-dev"
operation = "aws.ec2.stop_instances"
description = "Stop development instances in the evening"
max_targets = 5
regions = ["us-east-1"]
target_tags = { env = ["dev"] }
"""
ROLE = "arn:aws:iam::123456789012:role/escher-scheduler-role"
WORKER = "arn:aws:lambda:us-east-1:123456789012:function:escher-worker"


def _scheduler() -> Any:
    return boto3.client("scheduler", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, ["--output", "json", *args])


def _local_ids() -> list[str]:
    return [s["id"] for s in json.loads(_cli("schedule", "list").stdout)]


@pytest.fixture
def extended(aws_env: MotoEmulator, escher_home: Path) -> str:
    """The files `escher extend aws` leaves behind: state.json (thin client) and the stack's outputs."""
    group = _scheduler().create_schedule_group(Name="escher-test")["ScheduleGroupArn"].split("/")[-1]
    extend = escher_home / "data" / "extend"
    extend.mkdir(parents=True, exist_ok=True)
    (extend / "state.json").write_text(json.dumps({"clouds": {"aws": {"mode": "thin-client"}}, "runs": []}))
    outputs = {
        "cloud": "aws", "region": REGION, "worker": "escher-worker",
        "worker_role": "arn:aws:iam::123456789012:role/escher-worker-role",
        "schedule_group": group, "scheduler_role": ROLE,
    }  # fmt: skip
    (extend / "aws-outputs.json").write_text(json.dumps(outputs))
    (escher_home / "stop-dev.toml").write_text(TEMPLATE)
    assert _cli("templates", "add", str(escher_home / "stop-dev.toml")).exit_code == 0
    return group


def test_add_creates_the_cloud_schedule_and_remove_deletes_it(extended: str) -> None:
    res = _cli("schedule", "add", "0 20 * * 1-5", f"stop instances tagged env=dev in {REGION}",
               "--template", "stop-dev", "--tz", "Europe/Paris")  # fmt: skip
    assert res.exit_code == 0, res.output
    schedule_id = json.loads(res.stdout)["id"]

    got = _scheduler().get_schedule(Name=f"escher-user-{schedule_id}", GroupName=extended)
    assert got["ScheduleExpression"] == "cron(0 20 ? * MON-FRI *)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert got["Target"]["Arn"] == WORKER and got["Target"]["RoleArn"] == ROLE
    assert json.loads(got["Target"]["Input"]) == {"job": "user_schedule", "schedule_id": schedule_id}
    assert schedule_id in _local_ids()

    res = _cli("schedule", "remove", schedule_id)
    assert res.exit_code == 0, res.output
    names = [s["Name"] for s in _scheduler().list_schedules(GroupName=extended)["Schedules"]]
    assert f"escher-user-{schedule_id}" not in names
    assert schedule_id not in _local_ids()


def test_a_cloud_schedule_that_cannot_be_made_leaves_nothing_saved(extended: str, escher_home: Path) -> None:
    from escher.extend.schedules import CloudScheduleError

    outputs_file = escher_home / "data" / "extend" / "aws-outputs.json"
    outputs = json.loads(outputs_file.read_text())
    del outputs["scheduler_role"]  # a stack deployed before it output its scheduler role
    outputs_file.write_text(json.dumps(outputs))
    before = _local_ids()
    res = _cli("schedule", "add", "0 20 * * *", f"stop instances tagged env=dev in {REGION}",
               "--template", "stop-dev", "--tz", "UTC")  # fmt: skip
    assert res.exit_code != 0 and isinstance(res.exception, CloudScheduleError), res.output
    assert "escher extend aws" in (res.exception.hint or "")
    assert _local_ids() == before
    assert _scheduler().list_schedules(GroupName=extended)["Schedules"] == []


def test_not_extended_stays_on_the_laptop(aws_env: MotoEmulator, escher_home: Path) -> None:
    res = _cli("schedule", "add", "0 3 * * *", "scan", "--tz", "UTC")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["id"] in _local_ids()


class _Denied(BaseHTTPRequestHandler):
    """EventBridge Scheduler as it answers a caller without scheduler:CreateSchedule (moto allows everything)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"Message": "not authorized to perform: scheduler:CreateSchedule"}).encode()
        self.send_response(403)
        self.send_header("x-amzn-ErrorType", "AccessDeniedException")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_a_refused_cloud_call_leaves_nothing_saved(
    extended: str, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.extend.schedules import CloudScheduleError

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Denied)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SCHEDULER", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        before = _local_ids()
        res = _cli("schedule", "add", "0 20 * * *", f"stop instances tagged env=dev in {REGION}",
                   "--template", "stop-dev", "--tz", "UTC")  # fmt: skip
    finally:
        server.shutdown()
    assert res.exit_code != 0 and isinstance(res.exception, CloudScheduleError), res.output
    assert "could not create the cloud schedule" in res.exception.message
    assert "scheduler:CreateSchedule" in str(res.exception)
    assert _local_ids() == before
