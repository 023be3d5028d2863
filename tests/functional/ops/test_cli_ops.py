"""The ``escher ops|approvals|templates`` commands end to end against the moto server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from escher.cli.main import app

runner = CliRunner()


@pytest.fixture
def ec2(aws_env: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ESCHER_USER", "alice")
    return boto3.client("ec2", region_name="us-east-1")


def _instance(ec2: Any, env: str = "dev") -> str:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec = {"ResourceType": "instance", "Tags": [{"Key": "env", "Value": env}]}
    inst = ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro", TagSpecifications=[spec]
    )
    return str(inst["Instances"][0]["InstanceId"])


def _state(ec2: Any, iid: str) -> str:
    return str(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"])


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def _personas(home: Path, managers: list[str]) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(f"[personas]\nmanagers = {json.dumps(managers)}\n")


def test_list_and_show_in_json() -> None:
    listed = json.loads(_invoke("--output", "json", "ops", "list", "--cloud", "azure").stdout)
    assert len(listed) >= 12 and all(o["id"].startswith("azure.") for o in listed)
    shown = json.loads(_invoke("-o", "json", "ops", "show", "aws.ec2.modify_instance_type").stdout)
    assert shown["requires_approval"] is True and "ec2:ModifyInstanceAttribute" in shown["permissions"]
    assert "instance_type" in shown["parameters"]["properties"]


def test_without_a_tty_and_without_yes_nothing_executes(ec2: Any) -> None:
    iid = _instance(ec2)
    result = _invoke("-o", "json", "ops", "run", "aws.ec2.stop_instances", "--target", iid, "-r", "us-east-1")
    assert result.exit_code == 1 and json.loads(result.stdout)["executed"] is False
    assert _state(ec2, iid) == "running"


def test_run_with_yes_by_tag_and_dry_run(ec2: Any, escher_home: Path) -> None:
    dev, prod = _instance(ec2, "dev"), _instance(ec2, "prod")
    dry = _invoke(
        "-o",
        "json",
        "ops",
        "run",
        "aws.ec2.stop_instances",
        "--tag",
        "env=dev",
        "-r",
        "us-east-1",
        "--dry-run",
    )
    assert dry.exit_code == 0 and json.loads(dry.stdout)["result"]["counts"] == {"dry_run": 1}
    assert _state(ec2, dev) == "running"

    done = _invoke(
        "-o",
        "json",
        "ops",
        "run",
        "aws.ec2.stop_instances",
        "--tag",
        "env=dev",
        "-r",
        "us-east-1",
        "--yes",
        "--reason",
        "nightly",
    )
    out = json.loads(done.stdout)
    assert done.exit_code == 0 and out["result"]["counts"] == {"verified": 1}
    assert _state(ec2, dev) == "stopped" and _state(ec2, prod) == "running"
    audit = json.loads(_invoke("-o", "json", "audit", "list", "--action", "aws.ec2.stop_instances").stdout)
    assert {"action": "aws.ec2.stop_instances", "outcome": "verified", "reason": "nightly"}.items() <= next(
        r for r in audit if r["outcome"] == "verified"
    ).items()


def test_executor_needs_approval_then_runs_once(
    ec2: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _personas(escher_home, ["mona"])
    iid = _instance(ec2)
    ec2.stop_instances(InstanceIds=[iid])
    args = (
        "-o",
        "json",
        "ops",
        "run",
        "aws.ec2.modify_instance_type",
        "-t",
        iid,
        "-r",
        "us-east-1",
        "-p",
        "instance_type=t3.large",
        "--yes",
    )
    asked = _invoke(*args)
    assert asked.exit_code == 5
    request_id = json.loads(asked.stdout)["approval_request"]["request_id"]

    own = runner.invoke(app, ["approvals", "approve", request_id])  # alice is an executor
    assert own.exit_code != 0

    monkeypatch.setenv("ESCHER_USER", "mona")
    assert _invoke("approvals", "approve", request_id, "--note", "ok for tonight").exit_code == 0
    monkeypatch.setenv("ESCHER_USER", "alice")
    ran = _invoke(*args)
    assert ran.exit_code == 0, ran.stdout
    assert json.loads(ran.stdout)["result"]["decision"]["via"] == f"approval:{request_id}"
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")
    assert attr["InstanceType"]["Value"] == "t3.large"

    listed = json.loads(_invoke("-o", "json", "approvals", "list").stdout)
    assert [r["status"] for r in listed] == ["executed"]
    # the approval is used up: the same change (back to t3.micro is another one anyway) needs a new approval
    again = _invoke(*args[:-2], "instance_type=t3.xlarge", "--yes")
    assert again.exit_code == 5


def test_templates_add_and_run_inside_and_outside_bounds(
    ec2: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _personas(escher_home, ["mona"])
    tpl = escher_home / "resize.toml"
    tpl.write_text(
        'name = "dev-resize"\noperation = "aws.ec2.modify_instance_type"\nmax_targets = 1\n'
        '[variables.instance_type]\nchoices = ["t3.small", "t3.medium"]\n'
        '[target_tags]\nenv = ["dev", "staging"]\n'
    )
    refused = runner.invoke(app, ["templates", "add", str(tpl)])  # alice is an executor
    assert refused.exit_code != 0
    monkeypatch.setenv("ESCHER_USER", "mona")
    assert _invoke("templates", "add", str(tpl)).exit_code == 0
    monkeypatch.setenv("ESCHER_USER", "alice")

    dev, prod = _instance(ec2, "dev"), _instance(ec2, "prod")
    ec2.stop_instances(InstanceIds=[dev, prod])
    base = ("-o", "json", "templates", "run", "dev-resize", "-r", "us-east-1", "--yes")
    ok = _invoke(*base, "-t", dev, "--var", "instance_type=t3.medium")
    assert ok.exit_code == 0, ok.stdout
    assert (
        ec2.describe_instance_attribute(InstanceId=dev, Attribute="instanceType")["InstanceType"]["Value"]
        == "t3.medium"
    )

    bad_tag = _invoke(*base, "-t", prod, "--var", "instance_type=t3.small")
    assert bad_tag.exit_code == 4 and "has tag env='prod'" in json.loads(bad_tag.stdout)["refused"]
    bad_var = runner.invoke(app, [*base, "-t", dev, "--var", "instance_type=m5.24xlarge"])
    assert bad_var.exit_code != 0 and "is not one of" in str(bad_var.exception or bad_var.stdout)
    assert (
        ec2.describe_instance_attribute(InstanceId=prod, Attribute="instanceType")["InstanceType"]["Value"]
        == "t3.micro"
    )
