"""A fix that is not pre-approved, end to end on moto: the event asks, a manager approves, the executor runs the
command the alert suggests.

Local Only: the worker's approval request goes where ``escher approvals`` reads, and the command the alert
suggests is the one the policy gate accepts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from escher.demo.events import security_group_opened
from escher.emulators import MotoEmulator
from escher.pipeline import runtime

ESCHER = str(Path(sys.executable).parent / "escher")
CONFIG = '[personas]\nmanagers = ["alice"]\nexecutors = ["bob"]\n'


def escher(*args: str, user: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ESCHER_USER": user}
    return subprocess.run([ESCHER, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_ssh_open_to_world_waits_then_the_suggested_command_fixes_it(
    aws_env: MotoEmulator, escher_home: Path
) -> None:
    (escher_home / "config").mkdir()
    (escher_home / "config" / "config.toml").write_text(CONFIG, encoding="utf-8")
    ec2 = boto3.client("ec2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    world = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=world)

    runtime.reset()
    try:
        result = runtime.build_pipeline("aws").handle(
            security_group_opened("evt-sg", group), source="eventbridge"
        )
    finally:
        runtime.reset()
    assert result.outcome.value == "needs_approval"
    [alert] = json.loads(escher("-o", "json", "alerts", user="bob").stdout)
    run_step = next(s for s in alert["next_steps"] if s.startswith("once approved: "))
    run = [*run_step.removeprefix("once approved: escher ").split(), "--yes"]

    pending = json.loads(escher("-o", "json", "approvals", "list", "--status", "pending", user="bob").stdout)
    assert [r["request_id"] for r in pending] == [alert["approval_request_id"]]
    assert ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]  # untouched

    approved = escher("approvals", "approve", alert["approval_request_id"], user="alice")
    assert approved.returncode == 0, approved.stderr
    done = escher("-o", "json", *run, user="bob")
    assert done.returncode == 0, done.stdout + done.stderr
    rules = ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]
    assert not any(r.get("CidrIp") == "0.0.0.0/0" for p in rules for r in p.get("IpRanges", []))
