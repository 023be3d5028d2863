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


# -- the schedule fires through the worker, run from its unpacked bundle with the generated environment ----------
@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("pulumi")
    from tests.functional.deployed.harness import unpacked_bundle

    return unpacked_bundle("aws", tmp_path_factory.mktemp("aws-bundle"))


def _ec2() -> Any:
    return boto3.client("ec2", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def _launch(env: str, n: int) -> list[str]:
    resp = _ec2().run_instances(
        ImageId="ami-12c6146b", MinCount=n, MaxCount=n, InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}],
    )  # fmt: skip
    return [i["InstanceId"] for i in resp["Instances"]]


def _states(ids: list[str]) -> set[str]:
    resp = _ec2().describe_instances(InstanceIds=ids)
    return {i["State"]["Name"] for r in resp["Reservations"] for i in r["Instances"]}


def test_a_schedule_added_on_the_laptop_fires_through_the_worker_within_its_template(
    aws_env: MotoEmulator, escher_home: Path, bundle: Any, tmp_path: Path
) -> None:
    from escher.config import resolve_paths
    from escher.infra.driver import load_outputs, save_outputs
    from tests.functional.deployed.harness import run_worker
    from tests.functional.deployed.test_aws_deployed import Deployment

    # GIVEN AWS extended (the program's resources made real on moto, its outputs and thin-client mode kept)
    deployed = Deployment(aws_env, escher_home, bundle)
    paths = resolve_paths()
    # the stack outputs its scheduler role; under the mocks it is no IAM ARN moto would take: a real-shaped one
    save_outputs(paths, "aws", {**load_outputs(paths, "aws"), "scheduler_role": ROLE})
    group = load_outputs(paths, "aws")["schedule_group"]
    _scheduler().create_schedule_group(Name=group)
    (escher_home / "stop-dev.toml").write_text(TEMPLATE)
    deployed.cli("templates", "add", str(escher_home / "stop-dev.toml"))
    dev, staging = _launch("dev", 2), _launch("staging", 1)

    # WHEN two schedules are added under the stop-dev template: one inside its bounds, one outside (staging)
    inputs = []
    for tag in ("dev", "staging"):  # staging: not production, only the template keeps it out
        res = _cli("schedule", "add", "0 20 * * *", f"stop instances tagged env={tag} in {REGION}",
                   "--template", "stop-dev", "--tz", "Europe/Paris")  # fmt: skip
        assert res.exit_code == 0, res.output
        got = _scheduler().get_schedule(Name=f"escher-user-{json.loads(res.stdout)['id']}", GroupName=group)
        assert got["Target"]["Arn"] == load_outputs(paths, "aws")["worker_arn"]  # the stack's worker
        inputs.append(json.loads(got["Target"]["Input"]))
    deployed.cli("extend", "sync-settings")
    # AND the cloud scheduler fires them at the worker (the enabled operations include the one scheduled)
    env = deployed.platform_env()
    env["ESCHER_OPERATIONS"] = env.get("ESCHER_OPERATIONS", "") + ",aws.ec2.stop_instances"
    run = run_worker(deployed.bundle_run, env, inputs, tmp_path)

    # THEN the dev instances are stopped, staging is not, and the run outside the template was refused
    inside, outside = (r.get("ok") for r in run.results)
    assert inside is not None and inside["ok"], run.results
    assert outside is not None and not outside["ok"] and outside["refused"], run.results
    assert _states(dev) == {"stopped"} and _states(staging) == {"running"}
    assert run.outside == []
    # AND both outcomes are in the worker's audit objects
    s3 = boto3.client("s3", region_name=REGION)
    bucket = deployed.env["ESCHER_AUDIT_BUCKET"]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    records = [json.loads(s3.get_object(Bucket=bucket, Key=k)["Body"].read())["record"] for k in keys]
    changed = {(r["target"], r["outcome"]) for r in records if r["action"] == "aws.ec2.stop_instances"}
    assert {(i, "succeeded") for i in dev} <= changed
    assert {(i, "refused") for i in staging} <= changed and not {(i, "succeeded") for i in staging} & changed
    refusals = [r for r in records if r["action"] == "policy.refuse"]
    assert [r["target"] for r in refusals] == [f"{staging[0]}@{REGION}"]
    assert all(r["actor"] == "worker:aws" for r in records if r["action"] == "aws.ec2.stop_instances")
