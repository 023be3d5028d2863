"""aws.ec2.encrypt_volume against the moto server: snapshot -> encrypted copy -> new volume -> swap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from typer.testing import CliRunner

from escher.audit import MemoryAuditSink
from escher.cli.main import app
from escher.ops import CloudContext, Engine, Target
from escher.policy.gate import Gate
from escher.policy.personas import Actor, Persona
from escher.policy.remediation import RemediationSettings, pre_approved
from tests.functional.ops.conftest import NO_RETRY, make_engine, run

REGION = "us-east-1"
runner = CliRunner()


@pytest.fixture
def ec2(aws_env: Any, escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("ESCHER_USER", "alice")
    return boto3.client("ec2", region_name=REGION, config=Config(retries={"max_attempts": 1}))


def _volume(ec2: Any, **extra: Any) -> str:
    tags = [{"Key": "team", "Value": "data"}]
    return str(
        ec2.create_volume(
            AvailabilityZone=f"{REGION}a",
            Size=20,
            VolumeType="io1",
            Iops=300,
            TagSpecifications=[{"ResourceType": "volume", "Tags": tags}],
            **extra,
        )["VolumeId"]
    )


def _attached(ec2: Any) -> tuple[str, str]:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0][
        "InstanceId"
    ]
    vol = _volume(ec2)
    ec2.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdf")
    return iid, vol


def _vol(ec2: Any, vid: str) -> dict[str, Any]:
    return dict(ec2.describe_volumes(VolumeIds=[vid])["Volumes"][0])


def _tags(vol: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in vol.get("Tags") or []}


def _instance(ec2: Any, iid: str) -> dict[str, Any]:
    return dict(ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0])


def _at(ec2: Any, iid: str, device: str) -> str:
    maps = _instance(ec2, iid)["BlockDeviceMappings"]
    return str(next(m["Ebs"]["VolumeId"] for m in maps if m["DeviceName"] == device))


def _invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_an_unattached_volume_gets_an_encrypted_copy_and_the_original_is_kept_and_tagged(
    ec2: Any, sink: MemoryAuditSink
) -> None:
    engine: Engine = make_engine(CloudContext(aws_retries=NO_RETRY), sink)
    old = _volume(ec2)
    target = Target("aws", old, REGION)
    plan = engine.plan("aws.ec2.encrypt_volume", [target], actor="user:alice")
    (change,) = plan.changes
    assert change.action == "change" and change.before is not None
    assert change.before["maintenance_window"] == "not needed: the volume is not attached"
    assert "never deleted" in change.before["original"]

    result = engine.execute(plan)
    assert result.ok, [r.error for r in result.results]
    new = _tags(_vol(ec2, old))["escher:replaced-by"]
    copy = _vol(ec2, new)
    assert copy["Encrypted"] is True and new != old
    assert (copy["Size"], copy["VolumeType"], copy["Iops"], copy["AvailabilityZone"]) == (
        20,
        "io1",
        300,
        "us-east-1a",
    )
    assert _tags(copy)["team"] == "data"
    assert _vol(ec2, old)["Encrypted"] is False  # the original is still there, untouched but for the tag
    details = result.results[0].details
    assert details["new_volume_id"] == new and details["encrypted_snapshot_id"].startswith("snap-")
    # a second run reads through the tag: already encrypted, nothing to do
    again = engine.plan("aws.ec2.encrypt_volume", [target], actor="user:alice")
    assert [c.action for c in again.changes] == ["noop"]


def test_an_attached_volume_asks_for_approval_then_swaps_with_the_instance_running_again(ec2: Any) -> None:
    iid, old = _attached(ec2)
    args = ("-o", "json", "ops", "run", "aws.ec2.encrypt_volume", "-t", old, "-r", REGION, "--yes")
    dry = json.loads(_invoke(*args[:-1], "--dry-run").stdout)
    assert "needed: instance" in json.dumps(dry) and iid in json.dumps(dry)

    asked = _invoke(*args)
    assert asked.exit_code == 5, asked.stdout
    assert json.loads(asked.stdout)["approval_request"]["request_id"]
    assert _at(ec2, iid, "/dev/sdf") == old  # nothing happened

    ran = _invoke(*args, "--approve", "maintenance window tonight")
    assert ran.exit_code == 0, ran.stdout
    new = _tags(_vol(ec2, old))["escher:replaced-by"]
    assert _at(ec2, iid, "/dev/sdf") == new and _vol(ec2, new)["Encrypted"] is True
    assert _instance(ec2, iid)["State"]["Name"] == "running"
    assert _vol(ec2, old)["State"] == "available"  # kept, detached


def test_a_bad_kms_key_leaves_the_instance_running_with_its_old_volume_and_names_what_was_made(
    ec2: Any, sink: MemoryAuditSink
) -> None:
    engine = make_engine(CloudContext(aws_retries=NO_RETRY), sink)
    iid, old = _attached(ec2)
    result = run(
        engine, "aws.ec2.encrypt_volume", [Target("aws", old, REGION)], {"kms_key_id": "alias/does-not-exist"}
    )
    assert not result.ok
    error = result.results[0].error or ""
    assert "could not copy the snapshot with encryption" in error
    snap = ec2.describe_snapshots(Filters=[{"Name": "volume-id", "Values": [old]}])["Snapshots"]
    assert len(snap) == 1 and f"snapshot_id={snap[0]['SnapshotId']}" in error
    assert _instance(ec2, iid)["State"]["Name"] == "running"
    assert _at(ec2, iid, "/dev/sdf") == old
    assert "escher:replaced-by" not in _tags(_vol(ec2, old))


def test_the_encrypt_switch_pre_approves_only_a_volume_known_to_be_unattached(ec2: Any) -> None:
    on = RemediationSettings(encrypt_unencrypted_volumes=True)
    assert pre_approved(on, "aws.ec2.encrypt_volume", {"attached": False}) == "encrypt_unencrypted_volumes"
    assert pre_approved(on, "aws.ec2.encrypt_volume", {"attached": True}) is None
    assert pre_approved(on, "aws.ec2.encrypt_volume", {}) is None  # unknown counts as attached
    assert pre_approved(RemediationSettings(), "aws.ec2.encrypt_volume", {"attached": False}) is None

    # the gate, acting for the worker with the switch on, refuses the attached volume's swap: it needs approval
    _, old = _attached(ec2)
    sink = MemoryAuditSink()
    worker = Actor("worker", Persona.automation)
    for facts, allowed in (({"attached": True}, False), ({"attached": False}, True)):
        gate = Gate(worker, sink, remediation=on, facts=facts)
        engine = Engine(CloudContext(aws_retries=NO_RETRY), sink, gate)
        plan = engine.plan("aws.ec2.encrypt_volume", [Target("aws", old, REGION)], actor="worker")
        decision = gate.decide(plan)
        assert decision.allowed is allowed
        assert decision.needs_approval is not allowed
    # a person (not the worker) always needs approval for it: high risk
    person = Gate(Actor("alice", Persona.manager), sink)
    plan = Engine(CloudContext(aws_retries=NO_RETRY), sink, person).plan(
        "aws.ec2.encrypt_volume", [Target("aws", old, REGION)], actor="user:alice"
    )
    assert person.decide(plan).needs_approval
