"""AWS EC2 and EBS operations: instances, volumes' snapshots, default encryption, security groups, tags."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from escher.ops._common import flat_tags, missing_as_not_found
from escher.ops.context import CloudContext
from escher.ops.model import Call, OpError, Params, Risk, Target, operation

WORLD = ("0.0.0.0/0", "::/0")


def _ec2(call: Call) -> Any:
    return call.ctx.aws("ec2", call.target.region)


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


# -- instances -----------------------------------------------------------------------------------------------
def fetch_instance(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "EC2 instance"):
        reply = _ec2(call).describe_instances(InstanceIds=[call.target.resource_id])
    instances = [i for r in reply.get("Reservations", []) for i in r.get("Instances", [])]
    if not instances:
        raise OpError(f"EC2 instance {call.target.resource_id} was not returned", hint="check the id")
    inst = instances[0]
    return {
        "state": inst["State"]["Name"],
        "instance_type": inst.get("InstanceType"),
        **flat_tags(_tags(inst.get("Tags"))),
    }


def discover_instances(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    filters.append({"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]})
    paginator = ctx.aws("ec2", region).get_paginator("describe_instances")
    return [
        Target("aws", inst["InstanceId"], region)
        for page in paginator.paginate(Filters=filters)
        for res in page.get("Reservations", [])
        for inst in res.get("Instances", [])
    ]


operation(
    id="aws.ec2.stop_instances",
    description="Stop EC2 instances (EBS-backed; the instance store is lost, the EBS volumes are kept).",
    risk=Risk.medium,
    permissions=("ec2:DescribeInstances", "ec2:StopInstances"),
    cli="aws ec2 stop-instances --region {region} --instance-ids {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"state": "stopped"},
    apply=lambda call, state: _ec2(call).stop_instances(InstanceIds=[call.target.resource_id]) and None,
    inverse="aws.ec2.start_instances",
    reversible=True,
    discover=discover_instances,
)

operation(
    id="aws.ec2.start_instances",
    description="Start stopped EC2 instances.",
    risk=Risk.low,
    permissions=("ec2:DescribeInstances", "ec2:StartInstances"),
    cli="aws ec2 start-instances --region {region} --instance-ids {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"state": "running"},
    apply=lambda call, state: _ec2(call).start_instances(InstanceIds=[call.target.resource_id]) and None,
    inverse="aws.ec2.stop_instances",
    reversible=True,
    discover=discover_instances,
)


def _reboot(call: Call, state: dict[str, Any]) -> None:
    if state["state"] != "running":
        raise OpError(
            f"EC2 instance {call.target.resource_id} is {state['state']}, not running: a reboot would do nothing",
            hint="start it with aws.ec2.start_instances instead",
        )
    _ec2(call).reboot_instances(InstanceIds=[call.target.resource_id])


operation(
    id="aws.ec2.reboot_instances",
    description="Reboot running EC2 instances (restart a failed service the hard way).",
    risk=Risk.medium,
    permissions=("ec2:DescribeInstances", "ec2:RebootInstances"),
    cli="aws ec2 reboot-instances --region {region} --instance-ids {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"state": "running"},
    apply=_reboot,
    mode="action",
    discover=discover_instances,
)


class InstanceTypeParams(Params):
    instance_type: str = Field(pattern=r"^[a-z0-9-]+\.[a-z0-9]+$", description="e.g. t3.large")


def _modify_type(call: Call, state: dict[str, Any]) -> None:
    if state["state"] != "stopped":
        raise OpError(
            f"EC2 instance {call.target.resource_id} is {state['state']}: its type can only change when stopped",
            hint="stop it first (aws.ec2.stop_instances), then start it again afterwards",
        )
    _ec2(call).modify_instance_attribute(
        InstanceId=call.target.resource_id, InstanceType={"Value": call.params.instance_type}
    )


operation(
    id="aws.ec2.modify_instance_type",
    description="Change a stopped EC2 instance's type (scale up or down).",
    risk=Risk.high,
    permissions=("ec2:DescribeInstances", "ec2:ModifyInstanceAttribute"),
    cli='aws ec2 modify-instance-attribute --region {region} --instance-id {target} --instance-type "{{\\"Value\\": \\"{instance_type}\\"}}"',
    fetch=fetch_instance,
    wanted=lambda call, state: {"instance_type": call.params.instance_type},
    apply=_modify_type,
    params=InstanceTypeParams,
    inverse="aws.ec2.modify_instance_type",
    reversible=True,
    discover=discover_instances,
)


# -- EBS snapshots -------------------------------------------------------------------------------------------
class SnapshotParams(Params):
    description: str = Field(default="Escher snapshot", max_length=255)


def fetch_volume_snapshot(call: Call) -> dict[str, Any]:
    ec2 = _ec2(call)
    with missing_as_not_found(call, "EBS volume"):
        ec2.describe_volumes(VolumeIds=[call.target.resource_id])
    snaps = ec2.describe_snapshots(
        OwnerIds=["self"],
        Filters=[
            {"Name": "volume-id", "Values": [call.target.resource_id]},
            {"Name": "tag:escher:key", "Values": [call.key]},
        ],
    ).get("Snapshots", [])
    return {"snapshot_exists": bool(snaps), "snapshot_id": snaps[0]["SnapshotId"] if snaps else None}


def _create_snapshot(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    snap = _ec2(call).create_snapshot(
        VolumeId=call.target.resource_id,
        Description=call.params.description,
        TagSpecifications=[{"ResourceType": "snapshot", "Tags": [{"Key": "escher:key", "Value": call.key}]}],
    )
    return {"snapshot_id": snap["SnapshotId"]}


operation(
    id="aws.ec2.create_snapshot",
    description="Snapshot an EBS volume (tagged escher:key so a retried request finds it, never makes two).",
    risk=Risk.low,
    permissions=("ec2:DescribeVolumes", "ec2:DescribeSnapshots", "ec2:CreateSnapshot", "ec2:CreateTags"),
    cli='aws ec2 create-snapshot --region {region} --volume-id {target} --description "{description}"',
    fetch=fetch_volume_snapshot,
    wanted=lambda call, state: {"snapshot_exists": True},
    apply=_create_snapshot,
    params=SnapshotParams,
    inverse="aws.ec2.delete_snapshot",
    reversible=True,
)


def fetch_snapshot(call: Call) -> dict[str, Any]:
    try:
        snaps = _ec2(call).describe_snapshots(SnapshotIds=[call.target.resource_id]).get("Snapshots", [])
    except call.ctx.sdk_errors("aws") as exc:
        if call.ctx.is_not_found("aws", exc):
            return {"exists": False}
        raise
    return {"exists": bool(snaps), "volume_id": snaps[0].get("VolumeId") if snaps else None}


operation(
    id="aws.ec2.delete_snapshot",
    description="Delete an EBS snapshot (irreversible: the data is gone).",
    risk=Risk.high,
    permissions=("ec2:DescribeSnapshots", "ec2:DeleteSnapshot"),
    cli="aws ec2 delete-snapshot --region {region} --snapshot-id {target}",
    fetch=fetch_snapshot,
    wanted=lambda call, state: {"exists": False},
    apply=lambda call, state: _ec2(call).delete_snapshot(SnapshotId=call.target.resource_id) and None,
)


# -- account-level EBS encryption: the target is the region ---------------------------------------------------
def _ebs_call(call: Call) -> Any:
    return call.ctx.aws("ec2", call.target.region or call.target.resource_id)


operation(
    id="aws.ec2.enable_ebs_encryption_by_default",
    description="Encrypt every new EBS volume in a region by default (target: the region name).",
    risk=Risk.medium,
    permissions=("ec2:GetEbsEncryptionByDefault", "ec2:EnableEbsEncryptionByDefault"),
    cli="aws ec2 enable-ebs-encryption-by-default --region {target}",
    fetch=lambda call: {"enabled": _ebs_call(call).get_ebs_encryption_by_default()["EbsEncryptionByDefault"]},
    wanted=lambda call, state: {"enabled": True},
    apply=lambda call, state: _ebs_call(call).enable_ebs_encryption_by_default() and None,
    inverse=None,
    reversible=True,
)


# -- security groups -----------------------------------------------------------------------------------------
class OpenIngressParams(Params):
    ports: list[int] | None = Field(default=None, description="only these ports; none: every world-open rule")


def _world_open(call: Call, perms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The world-open part of each ingress permission (other CIDRs in the same rule are kept)."""
    ports: list[int] | None = call.params.ports
    out = []
    for perm in perms:
        lo, hi = perm.get("FromPort", 0), perm.get("ToPort", 65535)
        if perm.get("IpProtocol") == "-1":
            lo, hi = 0, 65535
        if ports is not None and not any(lo <= p <= hi for p in ports):
            continue
        v4 = [r for r in perm.get("IpRanges", []) if r.get("CidrIp") in WORLD]
        v6 = [r for r in perm.get("Ipv6Ranges", []) if r.get("CidrIpv6") in WORLD]
        if v4 or v6:
            part: dict[str, Any] = {k: perm[k] for k in ("IpProtocol", "FromPort", "ToPort") if k in perm}
            part.update({"IpRanges": [{"CidrIp": r["CidrIp"]} for r in v4]} if v4 else {})
            part.update({"Ipv6Ranges": [{"CidrIpv6": r["CidrIpv6"]} for r in v6]} if v6 else {})
            out.append(part)
    return out


def fetch_security_group(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "security group"):
        groups = _ec2(call).describe_security_groups(GroupIds=[call.target.resource_id])["SecurityGroups"]
    perms = groups[0].get("IpPermissions", [])
    return {"world_open_ingress": _world_open(call, perms), "ingress_rules": len(perms)}


operation(
    id="aws.ec2.revoke_open_ingress",
    description="Remove world-open (0.0.0.0/0, ::/0) ingress from a security group; other sources are kept.",
    risk=Risk.medium,
    permissions=("ec2:DescribeSecurityGroups", "ec2:RevokeSecurityGroupIngress"),
    cli="aws ec2 revoke-security-group-ingress --region {region} --group-id {target} --ip-permissions ...",
    fetch=fetch_security_group,
    wanted=lambda call, state: {"world_open_ingress": []},
    apply=lambda call, state: (
        _ec2(call).revoke_security_group_ingress(
            GroupId=call.target.resource_id, IpPermissions=state["world_open_ingress"]
        )
        and None
    ),
    params=OpenIngressParams,
    reversible=True,
    inverse=None,
)


# -- tags ----------------------------------------------------------------------------------------------------
class TagParams(Params):
    tags: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")


def fetch_resource_tags(call: Call) -> dict[str, Any]:
    reply = _ec2(call).describe_tags(Filters=[{"Name": "resource-id", "Values": [call.target.resource_id]}])
    return flat_tags({t["Key"]: t["Value"] for t in reply.get("Tags", [])})


operation(
    id="aws.ec2.tag_resources",
    description="Add or overwrite tags on EC2 resources (instances, volumes, snapshots, security groups, ...).",
    risk=Risk.low,
    # DescribeInstances: targets found by tag are instances (discover_instances)
    permissions=("ec2:DescribeInstances", "ec2:DescribeTags", "ec2:CreateTags"),
    cli="aws ec2 create-tags --region {region} --resources {target} --tags {tags}",
    fetch=fetch_resource_tags,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=lambda call, state: (
        _ec2(call).create_tags(
            Resources=[call.target.resource_id],
            Tags=[{"Key": k, "Value": v} for k, v in call.params.tags.items()],
        )
        and None
    ),
    params=TagParams,
    reversible=True,
    discover=discover_instances,
)


# -- restore a volume from a snapshot -------------------------------------------------------------------------
class RestoreVolumeParams(Params):
    availability_zone: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$",
        description="where the new volume goes; default: the zone of the volume the snapshot was taken of",
    )
    volume_type: str | None = Field(
        default=None,
        pattern=r"^(gp2|gp3|st1|sc1|standard)$",
        description="default: gp3 (io1/io2 need IOPS: not offered)",
    )


def _restored_volumes(call: Call) -> list[dict[str, Any]]:
    """The volumes this request made (tagged with its escher:key): a retry finds its volume, never makes two."""
    reply = _ec2(call).describe_volumes(
        Filters=[
            {"Name": "snapshot-id", "Values": [call.target.resource_id]},
            {"Name": "tag:escher:key", "Values": [call.key]},
        ]
    )
    return list(reply.get("Volumes", []))


def fetch_snapshot_restore(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "EBS snapshot"):
        snap = _ec2(call).describe_snapshots(SnapshotIds=[call.target.resource_id])["Snapshots"][0]
    volumes = _restored_volumes(call)
    volume = volumes[0] if volumes else {}
    return {
        "snapshot_state": snap.get("State"),
        "volume_id": volume.get("VolumeId"),
        "volume_state": volume.get("State"),
        **flat_tags(_tags(snap.get("Tags"))),  # the snapshot's tags: the policy gate sees its environment
    }


def _zone_of_source(call: Call, snap: dict[str, Any]) -> str:
    if call.params.availability_zone:
        return str(call.params.availability_zone)
    try:
        vols = _ec2(call).describe_volumes(VolumeIds=[snap["VolumeId"]]).get("Volumes", [])
    except call.ctx.sdk_errors("aws") as exc:
        if not call.ctx.is_not_found("aws", exc):
            raise
        vols = []
    if not vols:
        raise OpError(
            f"EBS snapshot {call.target.resource_id} was taken of {snap.get('VolumeId')}, which no longer exists: "
            "there is no zone to restore it to by default",
            hint="name the zone with availability_zone (e.g. us-east-1a)",
        )
    return str(vols[0]["AvailabilityZone"])


def _restore_volume(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    ec2 = _ec2(call)
    if state["volume_id"]:  # made by an earlier try of this request, still creating: wait for it, not another
        return {"volume_id": state["volume_id"]}
    if state["snapshot_state"] != "completed":
        raise OpError(
            f"EBS snapshot {call.target.resource_id} is {state['snapshot_state']}: only a completed snapshot "
            "can be restored",
            hint="wait until it is completed, then run this again",
        )
    snap = ec2.describe_snapshots(SnapshotIds=[call.target.resource_id])["Snapshots"][0]
    tags = {k: v for k, v in _tags(snap.get("Tags")).items() if not k.startswith(("aws:", "escher:"))}
    tags.update({"escher:key": call.key, "escher:restored-from": call.target.resource_id})
    volume = ec2.create_volume(
        SnapshotId=call.target.resource_id,
        AvailabilityZone=_zone_of_source(call, snap),
        VolumeType=call.params.volume_type or "gp3",
        TagSpecifications=[
            {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
        ],
    )
    return {"volume_id": volume["VolumeId"], "availability_zone": volume["AvailabilityZone"]}


operation(
    id="aws.ec2.restore_volume_from_snapshot",
    description="Restore an EBS snapshot to a new volume (in the source volume's zone unless told), with the "
    "snapshot's tags; the snapshot is kept. Tagged escher:key, so a retried request finds its volume.",
    risk=Risk.medium,
    permissions=("ec2:DescribeSnapshots", "ec2:DescribeVolumes", "ec2:CreateVolume", "ec2:CreateTags"),
    cli="aws ec2 create-volume --region {region} --snapshot-id {target} --availability-zone <zone> "
    "--volume-type gp3 --tag-specifications ...",
    fetch=fetch_snapshot_restore,
    wanted=lambda call, state: {"volume_state": "available"},
    apply=_restore_volume,
    params=RestoreVolumeParams,
    verify_timeout=900.0,
)
