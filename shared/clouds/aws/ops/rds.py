"""AWS RDS: stop, start, reboot, resize and snapshot DB instances. The target is the DB instance identifier."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, operation


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


def _reboot(call: Call, state: dict[str, Any]) -> None:
    # RDS answers InvalidDBInstanceState for anything but available: say so before asking, with what to do
    if state["status"] != "available":
        raise OpError(
            f"RDS DB instance {call.target.resource_id} is {state['status']}, not available: it cannot reboot",
            hint="start a stopped instance with aws.rds.start_db_instance; otherwise wait until it is available",
        )
    _rds(call).reboot_db_instance(DBInstanceIdentifier=call.target.resource_id)


operation(
    id="aws.rds.reboot_db_instance",
    description="Reboot an available RDS DB instance (a short outage), then wait until it is available again.",
    risk=Risk.medium,
    permissions=("rds:DescribeDBInstances", "rds:RebootDBInstance"),
    cli="aws rds reboot-db-instance --region {region} --db-instance-identifier {target}",
    fetch=fetch_db,
    wanted=lambda call, state: {"status": "available"},
    apply=_reboot,
    mode="action",
    verify_timeout=900.0,
)


class ResizeDbParams(Params):
    db_instance_class: str = Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", description="e.g. db.m6g.large")
    apply_immediately: bool = Field(
        default=False,
        description="resize now (an outage of a few minutes) instead of in the next maintenance window",
    )


def fetch_db_class(call: Call) -> dict[str, Any]:
    """The instance's class now and the one it will have after the maintenance window (a pending change)."""
    with missing_as_not_found(call, "RDS DB instance"):
        db = _rds(call).describe_db_instances(DBInstanceIdentifier=call.target.resource_id)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in db.get("TagList") or []}
    pending = (db.get("PendingModifiedValues") or {}).get("DBInstanceClass")
    return {
        "status": db["DBInstanceStatus"],
        "instance_class": db["DBInstanceClass"],
        "class_after_window": pending or db["DBInstanceClass"],
        **flat_tags(tags),
    }


def _resize_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    wanted = call.params.db_instance_class
    if call.params.apply_immediately:
        return {"instance_class": wanted, "status": "available"}
    # in the next maintenance window: what verify can prove now is the pending change (or the class itself)
    return {"class_after_window": wanted}


def _resize(call: Call, state: dict[str, Any]) -> None:
    _rds(call).modify_db_instance(
        DBInstanceIdentifier=call.target.resource_id,
        DBInstanceClass=call.params.db_instance_class,
        ApplyImmediately=call.params.apply_immediately,
    )


operation(
    id="aws.rds.resize_db_instance",
    description="Change an RDS DB instance's class: in the next maintenance window, or now with "
    "apply_immediately (a few minutes of outage). A resize always needs an approval.",
    risk=Risk.high,
    permissions=("rds:DescribeDBInstances", "rds:ModifyDBInstance"),
    cli="aws rds modify-db-instance --region {region} --db-instance-identifier {target} "
    "--db-instance-class {db_instance_class} [--apply-immediately]",
    fetch=fetch_db_class,
    wanted=_resize_wanted,
    apply=_resize,
    params=ResizeDbParams,
    verify_timeout=1800.0,
)


# RDS refuses a storage increase of less than 10 %; 65536 GiB is the most any engine's gp2/gp3/io1 storage takes
MIN_INCREASE_PERCENT = 10
MAX_STORAGE_GIB = 65536


class IncreaseStorageParams(Params):
    increase_percent: int = Field(
        default=MIN_INCREASE_PERCENT,
        ge=MIN_INCREASE_PERCENT,
        le=100,
        description="grow the allocated storage by this much (RDS takes no less than 10 %)",
    )


def fetch_db_storage(call: Call) -> dict[str, Any]:
    """The allocated storage now and the size it will have once a pending change is applied."""
    with missing_as_not_found(call, "RDS DB instance"):
        db = _rds(call).describe_db_instances(DBInstanceIdentifier=call.target.resource_id)["DBInstances"][0]
    tags = {t["Key"]: t["Value"] for t in db.get("TagList") or []}
    allocated = int(db["AllocatedStorage"])
    pending = (db.get("PendingModifiedValues") or {}).get("AllocatedStorage")
    return {
        "status": db["DBInstanceStatus"],
        "allocated_gib": allocated,
        "storage_after_change": int(pending) if pending is not None else allocated,
        "max_allocated_gib": db.get("MaxAllocatedStorage"),  # storage autoscaling's ceiling, if on
        **flat_tags(tags),
    }


def grown_size(allocated_gib: int, percent: int) -> int:
    """``allocated_gib`` grown by ``percent`` (rounded up to a whole GiB), at most RDS's maximum."""
    return min(-(-allocated_gib * (100 + percent) // 100), MAX_STORAGE_GIB)


def _storage_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    # from the size read before the change: a verify reads the new size and must not want yet more
    return {"storage_after_change": grown_size(state["allocated_gib"], call.params.increase_percent)}


def _increase_storage(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    name = call.target.resource_id
    if state["status"] != "available":
        # storage-optimization after the last change (up to 6 hours), modifying, stopped: RDS refuses
        raise OpError(
            f"RDS DB instance {name} is {state['status']}, not available: its storage cannot grow now",
            hint="RDS allows one storage change every 6 hours; run this again when the instance is available",
        )
    size = grown_size(state["allocated_gib"], call.params.increase_percent)
    if size <= state["allocated_gib"]:
        raise OpError(
            f"RDS DB instance {name} already has {state['allocated_gib']} GiB, the most RDS allows",
            hint="move data out, or to a larger engine / storage type by hand",
        )
    changes: dict[str, Any] = {"AllocatedStorage": size}
    ceiling = state.get("max_allocated_gib")
    if ceiling is not None and int(ceiling) <= size:
        # storage autoscaling on: its ceiling must stay above the new size, or RDS refuses the change
        changes["MaxAllocatedStorage"] = min(grown_size(size, call.params.increase_percent), MAX_STORAGE_GIB)
    _rds(call).modify_db_instance(DBInstanceIdentifier=name, ApplyImmediately=True, **changes)
    return {"allocated_gib_before": state["allocated_gib"], "allocated_gib_requested": size}


operation(
    id="aws.rds.increase_storage",
    description="Grow an RDS DB instance's allocated storage by a percentage (10 % unless told), applied now: "
    "no outage, but storage never shrinks again. Autoscaling's ceiling is raised when it would block the change.",
    risk=Risk.medium,
    permissions=("rds:DescribeDBInstances", "rds:ModifyDBInstance"),
    cli="aws rds modify-db-instance --region {region} --db-instance-identifier {target} "
    "--allocated-storage <allocated + {increase_percent}%> --apply-immediately",
    fetch=fetch_db_storage,
    wanted=_storage_wanted,
    apply=_increase_storage,
    params=IncreaseStorageParams,
    mode="action",
    verify_timeout=1800.0,
)


# -- restore a DB instance from a snapshot --------------------------------------------------------------------
class RestoreDbParams(Params):
    db_instance_identifier: str = Field(
        pattern=r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$", description="the new DB instance's identifier"
    )
    db_instance_class: str | None = Field(
        default=None, pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$", description="default: the snapshot's instance's"
    )


def fetch_db_restore(call: Call) -> dict[str, Any]:
    """The snapshot (target) and the instance restored from it, if any: an instance with the new identifier
    that was not restored from this snapshot by Escher is someone else's, and is never taken for ours."""
    rds = _rds(call)
    with missing_as_not_found(call, "RDS DB snapshot"):
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=call.target.resource_id)["DBSnapshots"][0]
    name = call.params.db_instance_identifier
    try:
        dbs = rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"]
    except call.ctx.sdk_errors("aws") as exc:
        if not call.ctx.is_not_found("aws", exc):
            raise
        dbs = []
    db = dbs[0] if dbs else {}
    db_tags = {t["Key"]: t["Value"] for t in db.get("TagList") or []}
    snap_tags = {t["Key"]: t["Value"] for t in snap.get("TagList") or []}
    return {
        "snapshot_status": snap.get("Status"),
        "instance_exists": bool(db),
        "instance_status": db.get("DBInstanceStatus"),
        "instance_restored_from": db_tags.get("escher:restored-from"),
        **flat_tags(snap_tags),  # the snapshot's environment, for the policy gate
    }


def _restore_db(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    name, snapshot = call.params.db_instance_identifier, call.target.resource_id
    if state["instance_exists"]:
        if state["instance_restored_from"] == snapshot:  # an earlier try of this request: wait for it
            return {"db_instance_identifier": name}
        raise OpError(
            f"an RDS DB instance named {name} already exists and was not restored from {snapshot}",
            hint="choose another db_instance_identifier; the existing instance is left as it is",
        )
    if state["snapshot_status"] != "available":
        raise OpError(
            f"RDS DB snapshot {snapshot} is {state['snapshot_status']}: only an available snapshot can be restored",
            hint="wait until it is available, then run this again",
        )
    rds = _rds(call)
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"][0]
    tags = {
        t["Key"]: t["Value"]
        for t in snap.get("TagList") or []
        if not t["Key"].startswith(("aws:", "escher:"))
    }
    tags["escher:restored-from"] = snapshot
    args: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "DBSnapshotIdentifier": snapshot,
        "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
    }
    if call.params.db_instance_class:
        args["DBInstanceClass"] = call.params.db_instance_class
    db = rds.restore_db_instance_from_db_snapshot(**args)["DBInstance"]
    return {"db_instance_identifier": db["DBInstanceIdentifier"], "engine": snap.get("Engine")}


operation(
    id="aws.rds.restore_db_from_snapshot",
    description="Restore an RDS DB snapshot to a new DB instance (a new identifier; the snapshot's tags "
    "copied, tagged escher:restored-from), then wait until it is available. The snapshot is kept.",
    risk=Risk.medium,
    permissions=(
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBInstances",
        "rds:RestoreDBInstanceFromDBSnapshot",
        "rds:AddTagsToResource",
    ),
    cli="aws rds restore-db-instance-from-db-snapshot --region {region} --db-snapshot-identifier {target} "
    "--db-instance-identifier {db_instance_identifier}",
    fetch=fetch_db_restore,
    wanted=lambda call, state: {
        "instance_status": "available",
        "instance_restored_from": call.target.resource_id,
    },
    apply=_restore_db,
    params=RestoreDbParams,
    verify_timeout=3600.0,
)
