"""Restores from snapshots on the moto server: a new EBS volume and a new RDS DB instance, read back with boto3."""

from __future__ import annotations

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


def t(resource: str) -> Target:
    return Target("aws", resource, REGION)


def _snapshot(ec2: Any, zone: str = f"{REGION}b") -> tuple[str, str]:
    vol = ec2.create_volume(AvailabilityZone=zone, Size=8)["VolumeId"]
    snap = ec2.create_snapshot(
        VolumeId=vol,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "env", "Value": "dev"},
                                                                 {"Key": "app", "Value": "web"}]}],
    )["SnapshotId"]  # fmt: skip
    return vol, snap


def test_restore_volume_lands_in_the_source_zone_with_the_snapshot_s_tags(
    engine: Engine, sink: MemoryAuditSink
) -> None:
    ec2 = _client("ec2")
    _, snap = _snapshot(ec2)
    plan = engine.plan("aws.ec2.restore_volume_from_snapshot", [t(snap)], actor="user:alice", plan_id="ev-1")
    result = engine.execute(plan)
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    (res,) = result.results
    new = ec2.describe_volumes(VolumeIds=[res.details["volume_id"]])["Volumes"][0]
    assert (
        new["SnapshotId"] == snap and new["AvailabilityZone"] == f"{REGION}b" and new["VolumeType"] == "gp3"
    )
    tags = {x["Key"]: x["Value"] for x in new["Tags"]}
    assert tags == {"env": "dev", "app": "web", "escher:key": plan.key_for(t(snap)),
                    "escher:restored-from": snap}  # fmt: skip
    assert (res.after or {})["volume_state"] == "available" and (res.before or {})["volume_id"] is None
    ledger = [r.outcome for r in sink.records if r.action == "aws.ec2.restore_volume_from_snapshot"]
    assert ledger == ["succeeded", "verified"]

    # the same request again (a redelivered event): it finds its volume, makes no second one
    again = engine.execute(engine.plan("aws.ec2.restore_volume_from_snapshot", [t(snap)], actor="user:alice",
                                       plan_id="ev-1"))  # fmt: skip
    assert again.counts() == {"noop": 1}
    made = ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snap]}])["Volumes"]
    assert len(made) == 1


def test_restore_volume_to_a_given_zone_and_type(engine: Engine) -> None:
    ec2 = _client("ec2")
    _, snap = _snapshot(ec2)
    params = {"availability_zone": f"{REGION}c", "volume_type": "gp2"}
    result = run(engine, "aws.ec2.restore_volume_from_snapshot", [t(snap)], params)
    assert result.ok, result.to_dict()
    new = ec2.describe_volumes(VolumeIds=[result.results[0].details["volume_id"]])["Volumes"][0]
    assert (new["AvailabilityZone"], new["VolumeType"]) == (f"{REGION}c", "gp2")


def test_restore_volume_whose_source_is_gone_asks_for_a_zone(engine: Engine) -> None:
    ec2 = _client("ec2")
    vol, snap = _snapshot(ec2)
    ec2.delete_volume(VolumeId=vol)
    result = run(engine, "aws.ec2.restore_volume_from_snapshot", [t(snap)])
    (res,) = result.results
    assert res.outcome == "failed" and "no longer exists" in (res.error or "")
    assert "availability_zone" in (res.error or "")
    assert ec2.describe_volumes(Filters=[{"Name": "snapshot-id", "Values": [snap]}])["Volumes"] == []


def test_restore_of_a_missing_snapshot_is_a_clear_failure(engine: Engine) -> None:
    result = run(engine, "aws.ec2.restore_volume_from_snapshot", [t("snap-0123456789abcdef0")])
    (res,) = result.results
    assert res.outcome == "failed" and "EBS snapshot snap-0123456789abcdef0 was not found" in (
        res.error or ""
    )


def _db_snapshot(rds: Any) -> str:
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", MasterUsername="admin",
        MasterUserPassword="password123", AllocatedStorage=20, Tags=[{"Key": "env", "Value": "dev"}],
    )  # fmt: skip
    rds.create_db_snapshot(
        DBInstanceIdentifier="orders",
        DBSnapshotIdentifier="orders-before",
        Tags=[{"Key": "env", "Value": "dev"}],
    )
    return "orders-before"


def test_restore_db_makes_a_new_available_instance_from_the_snapshot(engine: Engine) -> None:
    rds = _client("rds")
    snap = _db_snapshot(rds)
    params = {"db_instance_identifier": "orders-restored", "db_instance_class": "db.t3.small"}
    result = run(engine, "aws.rds.restore_db_from_snapshot", [t(snap)], params)
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    db = rds.describe_db_instances(DBInstanceIdentifier="orders-restored")["DBInstances"][0]
    assert db["DBInstanceStatus"] == "available" and db["DBInstanceClass"] == "db.t3.small"
    tags = {x["Key"]: x["Value"] for x in db["TagList"]}
    assert tags == {"env": "dev", "escher:restored-from": snap}
    (res,) = result.results
    assert (res.before or {})["instance_exists"] is False
    assert (res.after or {})["instance_status"] == "available"
    # the original is untouched
    assert rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["DBInstanceClass"] == (
        "db.t3.micro"
    )
    # asked again: the instance restored from this snapshot is found, nothing is restored twice
    assert run(engine, "aws.rds.restore_db_from_snapshot", [t(snap)], params).counts() == {"noop": 1}


def test_restore_db_never_takes_someone_else_s_instance_for_its_own(engine: Engine) -> None:
    rds = _client("rds")
    snap = _db_snapshot(rds)
    result = run(engine, "aws.rds.restore_db_from_snapshot", [t(snap)], {"db_instance_identifier": "orders"})
    (res,) = result.results
    assert res.outcome == "failed"
    assert "already exists and was not restored from orders-before" in (res.error or "")


def test_restore_db_from_a_missing_snapshot(engine: Engine) -> None:
    result = run(engine, "aws.rds.restore_db_from_snapshot", [t("nope")], {"db_instance_identifier": "x1"})
    assert "RDS DB snapshot nope was not found" in (result.results[0].error or "")
