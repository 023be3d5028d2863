"""AWS operations against the moto server: run through the engine, then read the resource back with boto3."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import NO_RETRY, make_engine, run

REGION = "us-east-1"


@pytest.fixture
def engine(aws_env: Any, sink: MemoryAuditSink) -> Engine:
    return make_engine(CloudContext(aws_retries=NO_RETRY), sink)


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION, config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def ec2(aws_env: Any) -> Any:
    return _client("ec2")


@pytest.fixture
def s3(aws_env: Any) -> Any:
    return _client("s3")


def _instances(ec2: Any, n: int = 1, tags: dict[str, str] | None = None) -> list[str]:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    spec: dict[str, Any] = {"ImageId": image, "MinCount": n, "MaxCount": n, "InstanceType": "t3.micro"}
    if tags:
        spec["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return [i["InstanceId"] for i in ec2.run_instances(**spec)["Instances"]]


def _state(ec2: Any, instance_id: str) -> str:
    reply = ec2.describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def t(resource: str) -> Target:
    return Target("aws", resource, REGION)


def test_stop_then_start_instances_change_the_real_state(
    engine: Engine, ec2: Any, sink: MemoryAuditSink
) -> None:
    a, b = _instances(ec2, 2)
    result = run(engine, "aws.ec2.stop_instances", [t(a), t(b)])
    assert result.ok and result.counts() == {"verified": 2}
    assert _state(ec2, a) == _state(ec2, b) == "stopped"
    # the audit trail says who, what, why, before and after for each resource
    verified = [r for r in sink.records if r.outcome == "verified"]
    assert {r.target for r in verified} == {a, b}
    assert all(r.before and r.before["state"] == "running" for r in verified)
    assert all(r.after and r.after["state"] == "stopped" for r in verified)
    assert all(r.actor == "user:alice" and r.reason == "test" for r in verified)
    assert all({"planned", "started", "fixed", "verified"} <= set(r.timings) for r in verified)

    assert run(engine, "aws.ec2.start_instances", [t(a)]).ok
    assert _state(ec2, a) == "running" and _state(ec2, b) == "stopped"


def test_an_already_applied_change_is_a_successful_noop(engine: Engine, ec2: Any) -> None:
    (a,) = _instances(ec2)
    ec2.stop_instances(InstanceIds=[a])
    plan = engine.plan("aws.ec2.stop_instances", [t(a)], actor="user:alice")
    assert [c.action for c in plan.changes] == ["noop"]
    result = engine.execute(plan)
    assert result.ok and result.counts() == {"noop": 1}


def test_partial_failure_is_reported_per_resource(engine: Engine, ec2: Any) -> None:
    (a,) = _instances(ec2)
    result = run(engine, "aws.ec2.stop_instances", [t(a), t("i-0123456789abcdef0")])
    outcomes = {r.target.resource_id: r for r in result.results}
    assert outcomes[a].outcome == "verified"
    assert outcomes["i-0123456789abcdef0"].outcome == "failed"
    assert "was not found" in (outcomes["i-0123456789abcdef0"].error or "")
    assert not result.ok and _state(ec2, a) == "stopped"


def test_dry_run_changes_nothing(engine: Engine, ec2: Any, sink: MemoryAuditSink) -> None:
    (a,) = _instances(ec2)
    plan = engine.plan("aws.ec2.stop_instances", [t(a)], actor="user:alice")
    result = engine.execute(plan, dry_run=True)
    assert result.counts() == {"dry_run": 1} and _state(ec2, a) == "running"
    assert [r.outcome for r in sink.records] == ["dry_run"]


def test_targets_selected_by_tag(engine: Engine, ec2: Any) -> None:
    dev = _instances(ec2, 2, {"env": "dev"})
    prod = _instances(ec2, 1, {"env": "prod"})
    op = engine.plan("aws.ec2.stop_instances", [], actor="x").operation
    targets = engine.resolve_targets(op, tags={"env": "dev"}, regions=[REGION])
    assert sorted(x.resource_id for x in targets) == sorted(dev)
    assert run(engine, op.id, targets).ok
    assert [_state(ec2, i) for i in dev] == ["stopped", "stopped"] and _state(ec2, prod[0]) == "running"


def test_reboot_and_modify_instance_type(engine: Engine, ec2: Any) -> None:
    (a,) = _instances(ec2)
    assert run(engine, "aws.ec2.reboot_instances", [t(a)]).counts() == {"verified": 1}
    refused = run(engine, "aws.ec2.modify_instance_type", [t(a)], {"instance_type": "t3.large"})
    assert refused.results[0].outcome == "failed" and "only change when stopped" in (
        refused.results[0].error or ""
    )
    ec2.stop_instances(InstanceIds=[a])
    assert run(engine, "aws.ec2.modify_instance_type", [t(a)], {"instance_type": "t3.large"}).ok
    attr = ec2.describe_instance_attribute(InstanceId=a, Attribute="instanceType")
    assert attr["InstanceType"]["Value"] == "t3.large"


def test_snapshot_create_is_idempotent_within_a_plan_and_delete_removes_it(engine: Engine, ec2: Any) -> None:
    vol = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=8)["VolumeId"]
    plan = engine.plan(
        "aws.ec2.create_snapshot", [t(vol)], {"description": "before patch"}, actor="user:alice"
    )
    first = engine.execute(plan)
    assert first.ok
    snap_id = first.results[0].details["snapshot_id"]
    again = engine.execute(plan)  # the same plan re-delivered: finds its snapshot, makes no second one
    assert again.counts() == {"noop": 1}
    mine = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [vol]}])
    assert [s["SnapshotId"] for s in mine["Snapshots"]] == [snap_id]
    assert mine["Snapshots"][0]["Description"] == "before patch"

    assert run(engine, "aws.ec2.delete_snapshot", [t(snap_id)]).ok
    mine = ec2.describe_snapshots(OwnerIds=["self"], Filters=[{"Name": "volume-id", "Values": [vol]}])
    assert mine["Snapshots"] == []


def test_enable_ebs_encryption_by_default(engine: Engine, ec2: Any) -> None:
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is False
    assert run(engine, "aws.ec2.enable_ebs_encryption_by_default", [t(REGION)]).ok
    assert ec2.get_ebs_encryption_by_default()["EbsEncryptionByDefault"] is True


def test_revoke_world_open_ingress_keeps_other_sources(engine: Engine, ec2: Any) -> None:
    sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "10.0.0.0/8"}],
            },
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        ],
    )
    # only port 22: the HTTPS rule stays open
    assert run(engine, "aws.ec2.revoke_open_ingress", [t(sg)], {"ports": [22]}).ok
    perms = ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["IpPermissions"]
    by_port = {p["FromPort"]: sorted(r["CidrIp"] for r in p["IpRanges"]) for p in perms}
    assert by_port == {22: ["10.0.0.0/8"], 443: ["0.0.0.0/0"]}


def test_tag_resources(engine: Engine, ec2: Any) -> None:
    (a,) = _instances(ec2, 1, {"owner": "bob"})
    assert run(engine, "aws.ec2.tag_resources", [t(a)], {"tags": {"env": "dev", "owner": "carol"}}).ok
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [a]}])["Tags"]
    assert {x["Key"]: x["Value"] for x in tags} == {"env": "dev", "owner": "carol"}


def test_s3_block_public_access_encryption_and_versioning(engine: Engine, s3: Any) -> None:
    s3.create_bucket(Bucket="public-data")
    bucket = Target("aws", "public-data", REGION)
    assert run(engine, "aws.s3.block_public_access", [bucket]).ok
    conf = s3.get_public_access_block(Bucket="public-data")["PublicAccessBlockConfiguration"]
    assert all(conf.values()) and len(conf) == 4

    assert run(engine, "aws.s3.enable_default_encryption", [bucket], {"algorithm": "aws:kms"}).ok
    rule = s3.get_bucket_encryption(Bucket="public-data")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"

    assert run(engine, "aws.s3.enable_versioning", [bucket]).ok
    assert s3.get_bucket_versioning(Bucket="public-data")["Status"] == "Enabled"
    assert run(engine, "aws.s3.enable_versioning", [bucket]).counts() == {"noop": 1}


def test_s3_missing_bucket_fails_with_a_clear_reason(engine: Engine) -> None:
    result = run(engine, "aws.s3.block_public_access", [Target("aws", "no-such-bucket", REGION)])
    assert result.results[0].outcome == "failed"
    assert "S3 bucket no-such-bucket was not found" in (result.results[0].error or "")


@pytest.fixture
def rds(aws_env: Any) -> Iterator[Any]:
    yield _client("rds")


def test_rds_stop_start_and_snapshot(engine: Engine, rds: Any) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    db = Target("aws", "orders", REGION)

    def status() -> str:
        return str(
            rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["DBInstanceStatus"]
        )

    assert run(engine, "aws.rds.stop_db_instance", [db]).ok and status() == "stopped"
    assert run(engine, "aws.rds.start_db_instance", [db]).ok and status() == "available"
    snap = run(engine, "aws.rds.create_db_snapshot", [db])
    assert snap.ok
    name = snap.results[0].details["snapshot_id"]
    found = rds.describe_db_snapshots(DBInstanceIdentifier="orders", SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in found] == [name]


def _create_db(rds: Any, name: str = "orders") -> Target:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="password123",
        AllocatedStorage=20,
    )
    return Target("aws", name, REGION)


def _sent(engine: Engine, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` call the engine's own RDS client makes (botocore's event hook)."""
    calls: list[dict[str, Any]] = []
    engine.ctx.aws("rds", REGION).meta.events.register(
        f"before-call.rds.{operation}", lambda params, **kw: calls.append(dict(params["body"]))
    )
    return calls


def _db(rds: Any, name: str = "orders") -> dict[str, Any]:
    found: dict[str, Any] = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]
    return found


def test_rds_reboot_runs_once_and_verifies_available(engine: Engine, rds: Any, sink: MemoryAuditSink) -> None:
    db = _create_db(rds)
    reboots = _sent(engine, "RebootDBInstance")
    result = run(engine, "aws.rds.reboot_db_instance", [db])
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    assert [c["DBInstanceIdentifier"] for c in reboots] == ["orders"]  # an action: sent although "available"
    assert [r.outcome for r in sink.records if r.action == "aws.rds.reboot_db_instance"] == [
        "succeeded",
        "verified",
    ]


def test_rds_reboot_of_a_stopped_instance_is_refused_with_what_to_do(engine: Engine, rds: Any) -> None:
    db = _create_db(rds)
    rds.stop_db_instance(DBInstanceIdentifier="orders")
    reboots = _sent(engine, "RebootDBInstance")
    (res,) = run(engine, "aws.rds.reboot_db_instance", [db]).results
    assert res.outcome == "failed" and "is stopped, not available" in (res.error or "")
    assert "aws.rds.start_db_instance" in (res.error or "") and reboots == []


def test_rds_resize_needs_an_approval(rds: Any, sink: MemoryAuditSink, aws_env: Any) -> None:
    from escher.policy.gate import Gate
    from tests.functional.ops.conftest import MANAGER

    db = _create_db(rds)
    engine = Engine(CloudContext(aws_retries=NO_RETRY), sink, Gate(MANAGER, sink), verify_interval=0.05)
    params = {"db_instance_class": "db.t3.small", "apply_immediately": True}
    (res,) = run(engine, "aws.rds.resize_db_instance", [db], params).results
    assert res.outcome == "refused" and res.details["needs_approval"] is True
    assert _db(rds)["DBInstanceClass"] == "db.t3.micro"


def test_rds_resize_now_with_approval_changes_the_class(engine: Engine, rds: Any) -> None:
    db = _create_db(rds)
    modifies = _sent(engine, "ModifyDBInstance")
    params = {"db_instance_class": "db.t3.small", "apply_immediately": True}
    result = run(engine, "aws.rds.resize_db_instance", [db], params)
    assert result.ok, result.to_dict()
    assert _db(rds)["DBInstanceClass"] == "db.t3.small"
    assert modifies == [  # the query API's form, as sent
        {
            "Action": "ModifyDBInstance",
            "Version": "2014-10-31",
            "DBInstanceIdentifier": "orders",
            "DBInstanceClass": "db.t3.small",
            "ApplyImmediately": "true",
        }
    ]
    (res,) = result.results
    assert (res.before or {})["instance_class"] == "db.t3.micro"
    assert (res.after or {})["instance_class"] == "db.t3.small" and (res.after or {})["status"] == "available"
    # again: already that class, a successful no-op without a call
    assert run(engine, "aws.rds.resize_db_instance", [db], params).counts() == {"noop": 1}
    assert len(modifies) == 1


def test_rds_resize_by_default_waits_for_the_maintenance_window(engine: Engine, rds: Any) -> None:
    db = _create_db(rds)
    modifies = _sent(engine, "ModifyDBInstance")
    result = run(engine, "aws.rds.resize_db_instance", [db], {"db_instance_class": "db.t3.small"})
    assert result.ok, result.to_dict()
    assert [c["ApplyImmediately"] for c in modifies] == ["false"]
    # verify reads the class the instance will have after the window (RDS's PendingModifiedValues; moto
    # applies the class at once, so here it is the class itself)
    assert (result.results[0].after or {})["class_after_window"] == "db.t3.small"


def test_rds_resize_refuses_a_malformed_class(engine: Engine, rds: Any) -> None:
    from escher.ops import OpError

    db = _create_db(rds)
    with pytest.raises(
        OpError, match=r"invalid parameters for aws\.rds\.resize_db_instance: db_instance_class"
    ):
        run(engine, "aws.rds.resize_db_instance", [db], {"db_instance_class": "t3.small"})
