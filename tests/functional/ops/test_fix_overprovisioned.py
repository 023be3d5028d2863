"""A rightsizing finding's 1-click fix carries a parameter (the smaller size): on moto, a real scan finds the
light-CPU instance, and ``escher fix`` plans, and then makes, exactly that size, with the parameter as the
check worked it out (not its JSON text)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escher.emulators import MotoEmulator
from tests.functional.scans.estate import _client

CHECK = "aws.ec2.instance_overprovisioned"


def _light_instance() -> str:
    """An m5.xlarge with 30 days at 12% CPU: over-provisioned (m5.large would do), not idle."""
    ec2 = _client("ec2")
    iid = str(
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m5.xlarge")[
            "Instances"
        ][0]["InstanceId"]
    )
    now = datetime.now(UTC)
    _client("cloudwatch").put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": iid}],
         "Timestamp": now - timedelta(days=d, hours=1), "Value": 12.0, "Unit": "Percent"}
        for d in range(30)
    ])  # fmt: skip
    return iid


def _scan_finding(runner: CliRunner, iid: str) -> dict[str, object]:
    from escher.cli.main import app

    res = runner.invoke(app, ["scan", "--region", "us-east-1", "--checks", CHECK, "--output", "json"])
    assert res.exit_code == 0, res.output
    found = [f for f in json.loads(res.stdout)["findings"] if f["check_id"] == CHECK]
    assert [f["resource_id"] for f in found] == [iid]
    return dict(found[0])


def test_fix_dry_run_plans_the_smaller_size(aws_env: MotoEmulator, escher_home: Path) -> None:
    from escher.cli.main import app

    iid = _light_instance()
    runner = CliRunner()
    finding = _scan_finding(runner, iid)
    res = runner.invoke(app, ["fix", str(finding["id"]), "--dry-run", "--output", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["plan"]["operation"] == "aws.ec2.modify_instance_type"
    assert data["plan"]["params"] == {"instance_type": "m5.large"}
    assert [r["outcome"] for r in data["result"]["results"]] == ["dry_run"]
    ec2 = _client("ec2")
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["InstanceType"] == "m5.xlarge"  # a dry run changes nothing
    res = runner.invoke(app, ["fix", str(finding["id"]), "--dry-run"])  # the table a person reads
    assert res.exit_code == 0, res.output
    assert "m5.large" in res.output and "done: 1 dry_run" in res.output


def test_fix_runs_through_the_gate_and_the_console_plans_the_same(
    aws_env: MotoEmulator, escher_home: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Resizing is high risk: ``--yes`` raises an approval request and changes nothing; the console's Fix plans
    the very same step (one core); a single operator's ``--approve "reason"`` resizes the stopped instance."""
    from escher.cli.main import app
    from escher.console import actions
    from escher.policy.runtime import open_runtime

    monkeypatch.setenv("ESCHER_DATABASE_URL", pg_database)
    monkeypatch.setenv("ESCHER_USER", "solo")
    iid = _light_instance()
    runner = CliRunner()
    finding = _scan_finding(runner, iid)
    ec2 = _client("ec2")
    ec2.stop_instances(InstanceIds=[iid])  # the maintenance window: its type can only change when stopped

    res = runner.invoke(app, ["fix", str(finding["id"]), "--yes", "--output", "json"])
    assert res.exit_code == 5, res.output
    held = json.loads(res.stdout)
    assert held["executed"] is False and held["approval_request"]["params"] == {"instance_type": "m5.large"}
    assert "--approve" in held["next_step"]

    def size() -> str:
        return str(
            ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["InstanceType"]
        )

    assert size() == "m5.xlarge"

    [plan] = actions.plan_fix(open_runtime(), [str(finding["id"])])
    assert plan.operation.id == held["plan"]["operation"]
    assert plan.params.model_dump(mode="json") == held["plan"]["params"]
    assert [c.target.resource_id for c in plan.to_change] == [iid]
    assert actions.needs_approval(open_runtime(), plan)  # the console shows why before the confirm

    res = runner.invoke(app, ["fix", str(finding["id"]), "--approve", "maintenance window", "-o", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["result"]["counts"] == {"verified": 1}
    assert size() == "m5.large"
