"""AWS RDS: stop, start and snapshot DB instances. The target is the DB instance identifier."""

from __future__ import annotations

from typing import Any

from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.model import Call, Risk, operation


def _rds(call: Call) -> Any:
    return call.ctx.aws("rds", call.target.region)


def fetch_db(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "RDS DB instance"):
        db = _rds(call).describe_db_instances(DBInstanceIdentifier=call.target.resource_id)["DBInstances"][0]
    # the tags ride along so the policy gate sees the environment (a production DB needs approval)
    tags = {t["Key"]: t["Value"] for t in db.get("TagList") or []}
    return {"status": db["DBInstanceStatus"], "engine": db.get("Engine"), **flat_tags(tags)}


def _db_action(method: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        getattr(_rds(call), method)(DBInstanceIdentifier=call.target.resource_id)

    return apply


operation(
    id="aws.rds.stop_db_instance",
    description="Stop an RDS DB instance (AWS starts it again by itself after 7 days).",
    risk=Risk.medium,
    permissions=("rds:DescribeDBInstances", "rds:StopDBInstance"),
    cli="aws rds stop-db-instance --region {region} --db-instance-identifier {target}",
    fetch=fetch_db,
    wanted=lambda call, state: {"status": "stopped"},
    apply=_db_action("stop_db_instance"),
    inverse="aws.rds.start_db_instance",
    reversible=True,
    verify_timeout=900.0,
)

operation(
    id="aws.rds.start_db_instance",
    description="Start a stopped RDS DB instance.",
    risk=Risk.low,
    permissions=("rds:DescribeDBInstances", "rds:StartDBInstance"),
    cli="aws rds start-db-instance --region {region} --db-instance-identifier {target}",
    fetch=fetch_db,
    wanted=lambda call, state: {"status": "available"},
    apply=_db_action("start_db_instance"),
    inverse="aws.rds.stop_db_instance",
    reversible=True,
    verify_timeout=900.0,
)


def snapshot_name(call: Call) -> str:
    # deterministic per plan and target: a retried request finds its snapshot instead of making a second
    return f"{call.target.resource_id}-escher-{call.key[:10]}"


def fetch_db_snapshot(call: Call) -> dict[str, Any]:
    fetch_db(call)  # the instance must exist
    try:
        snaps = _rds(call).describe_db_snapshots(DBSnapshotIdentifier=snapshot_name(call))["DBSnapshots"]
    except call.ctx.sdk_errors("aws") as exc:
        if not call.ctx.is_not_found("aws", exc):
            raise
        snaps = []
    return {"snapshot_exists": bool(snaps), "snapshot_id": snapshot_name(call) if snaps else None}


operation(
    id="aws.rds.create_db_snapshot",
    description="Take a manual snapshot of an RDS DB instance.",
    risk=Risk.low,
    permissions=("rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:CreateDBSnapshot"),
    cli="aws rds create-db-snapshot --region {region} --db-instance-identifier {target} "
    "--db-snapshot-identifier {target}-escher-<key>",
    fetch=fetch_db_snapshot,
    wanted=lambda call, state: {"snapshot_exists": True},
    apply=lambda call, state: {
        "snapshot_id": _rds(call).create_db_snapshot(
            DBInstanceIdentifier=call.target.resource_id, DBSnapshotIdentifier=snapshot_name(call)
        )["DBSnapshot"]["DBSnapshotIdentifier"]
    },
    reversible=False,
)
