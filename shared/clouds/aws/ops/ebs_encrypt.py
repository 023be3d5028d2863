"""Encrypt an unencrypted EBS volume for real: snapshot -> encrypted copy -> new volume -> swap.

EBS cannot encrypt a volume in place. The operation makes an encrypted copy of the volume and, when the volume is
attached, swaps it in at the same device: the instance is stopped for the swap (a maintenance window, so the
gate asks for approval: the operation is high risk) and started again if it was running. The original volume is
never deleted: it is tagged ``escher:replaced-by=<new volume>`` and left for the user to remove.

The state of the target (the original volume id) follows that tag: once replaced, ``encrypted`` and
``attachment`` are those of the new volume, so a second run is a no-op and verify proves the swap.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from escher.ops._common import missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, operation

REPLACED_BY = "escher:replaced-by"
_WAIT = {"Delay": 5, "MaxAttempts": 180}  # up to 15 minutes per step (large snapshots take a while)


class EncryptVolumeParams(Params):
    kms_key_id: str | None = Field(
        default=None,
        max_length=2048,
        description="KMS key (id, ARN or alias); none: the account's EBS default key",
    )


def _ec2(call: Call) -> Any:
    return call.ctx.aws("ec2", call.target.region)


def _volume(ec2: Any, volume_id: str) -> dict[str, Any]:
    return dict(ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0])


def _tags(vol: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in vol.get("Tags") or []}


def _attachment(vol: dict[str, Any]) -> tuple[str, str] | None:
    for att in vol.get("Attachments") or []:
        if att.get("State") in ("attaching", "attached"):
            return att["InstanceId"], att["Device"]
    return None


def _instance_state(ec2: Any, instance_id: str) -> str:
    reply = ec2.describe_instances(InstanceIds=[instance_id])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def fetch_volume_encryption(call: Call) -> dict[str, Any]:
    ec2 = _ec2(call)
    with missing_as_not_found(call, "EBS volume"):
        original = _volume(ec2, call.target.resource_id)
    replaced_by = _tags(original).get(REPLACED_BY)
    current = _volume(ec2, replaced_by) if replaced_by else original
    att = _attachment(current)
    running = att is not None and _instance_state(ec2, att[0]) in ("pending", "running")
    # worded from the attachment alone, so the same words hold after the swap (the instance running again)
    if att is None:
        window = "not needed: the volume is not attached"
    elif running:
        window = f"needed: instance {att[0]} is stopped for the swap and started again"
    else:
        window = f"not needed: instance {att[0]} is already stopped (it stays stopped)"
    return {
        "encrypted": bool(current.get("Encrypted")),
        "volume_id": current["VolumeId"],
        "attachment": f"{att[0]}:{att[1]}" if att else None,
        "maintenance_window": window,
        "original": "kept, tagged escher:replaced-by=<new volume> (never deleted)",
        "size_gb": current.get("Size"),
        "volume_type": current.get("VolumeType"),
    }


def _wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    # the maintenance window is wanted too: the plan's table shows it, and verify waits for the instance that
    # was running to run again
    return {
        "encrypted": True,
        "attachment": state["attachment"],
        "maintenance_window": state["maintenance_window"],
    }


def _encrypt(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    ec2 = _ec2(call)
    old_id = call.target.resource_id
    vol = _volume(ec2, old_id)
    if _tags(vol).get(REPLACED_BY):
        raise OpError(
            f"EBS volume {old_id} was already replaced by {_tags(vol)[REPLACED_BY]}, which is not encrypted "
            "or not attached where it was",
            hint=f"look at {_tags(vol)[REPLACED_BY]}; remove the {REPLACED_BY} tag to start over",
        )
    att = _attachment(vol)
    made: dict[str, Any] = {}
    stopped = detached = attached_new = False
    step = "snapshot the volume"
    failures: tuple[type[BaseException], ...] = (*call.ctx.sdk_errors("aws"), OpError)
    try:
        key = [{"Key": "escher:key", "Value": call.key}]
        snap = ec2.create_snapshot(
            VolumeId=old_id,
            Description=f"Escher: unencrypted source of {old_id}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": key}],
        )
        made["snapshot_id"] = snap["SnapshotId"]
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[snap["SnapshotId"]], WaiterConfig=_WAIT)

        step = "copy the snapshot with encryption"
        kms_key = call.params.kms_key_id
        if kms_key:  # AWS only fails the copy later (the snapshot ends in 'error'): name a bad key now
            call.ctx.aws("kms", call.target.region).describe_key(KeyId=kms_key)
        extra: dict[str, Any] = {"KmsKeyId": kms_key} if kms_key else {}
        copy = ec2.copy_snapshot(
            SourceSnapshotId=snap["SnapshotId"],
            SourceRegion=call.target.region,
            Encrypted=True,
            Description=f"Escher: encrypted copy of {old_id}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": key}],
            **extra,
        )
        made["encrypted_snapshot_id"] = copy["SnapshotId"]
        ec2.get_waiter("snapshot_completed").wait(SnapshotIds=[copy["SnapshotId"]], WaiterConfig=_WAIT)

        step = "create the encrypted volume"
        spec: dict[str, Any] = {
            "AvailabilityZone": vol["AvailabilityZone"],
            "SnapshotId": copy["SnapshotId"],
            "VolumeType": vol["VolumeType"],
            "Size": vol["Size"],
            "Encrypted": True,
            **extra,
        }
        if vol["VolumeType"] in ("io1", "io2", "gp3") and vol.get("Iops"):
            spec["Iops"] = vol["Iops"]
        if vol["VolumeType"] == "gp3" and vol.get("Throughput"):
            spec["Throughput"] = vol["Throughput"]
        tags = [{"Key": k, "Value": v} for k, v in _tags(vol).items() if not k.startswith("aws:")]
        spec["TagSpecifications"] = [{"ResourceType": "volume", "Tags": [*tags, *key]}]
        new_id = ec2.create_volume(**spec)["VolumeId"]
        made["new_volume_id"] = new_id
        ec2.get_waiter("volume_available").wait(VolumeIds=[new_id], WaiterConfig=_WAIT)

        if att is not None:
            instance, device = att
            if _instance_state(ec2, instance) in ("pending", "running"):
                step = f"stop instance {instance}"
                ec2.stop_instances(InstanceIds=[instance])
                stopped = True
                ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig=_WAIT)
            step = f"detach {old_id} from {instance}"
            ec2.detach_volume(VolumeId=old_id, InstanceId=instance, Device=device)
            detached = True
            ec2.get_waiter("volume_available").wait(VolumeIds=[old_id], WaiterConfig=_WAIT)
            step = f"attach {new_id} to {instance} at {device}"
            ec2.attach_volume(VolumeId=new_id, InstanceId=instance, Device=device)
            attached_new = True
            ec2.get_waiter("volume_in_use").wait(VolumeIds=[new_id], WaiterConfig=_WAIT)
            made.update(instance_id=instance, device=device)
            if stopped:
                step = f"start instance {instance} again"
                ec2.start_instances(InstanceIds=[instance])
                ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig=_WAIT)
                stopped = False
        step = f"tag {old_id} {REPLACED_BY}={new_id}"
        ec2.create_tags(Resources=[old_id], Tags=[{"Key": REPLACED_BY, "Value": new_id}])
    except failures as exc:
        restored = _restore(ec2, old_id, att, stopped=stopped, detached=detached, attached_new=attached_new)
        left = ", ".join(f"{k}={v}" for k, v in made.items()) or "nothing"
        raise OpError(
            f"could not {step} while encrypting EBS volume {old_id}: {str(exc).rstrip('.')}. {restored} Left in place: {left}; "
            f"the original volume {old_id} is untouched",
            hint="fix the cause (a KMS key id that exists and this role may use, ...) and run this again; "
            "delete the leftovers named here if you do not want them",
        ) from exc
    return made


def _restore(
    ec2: Any, old_id: str, att: tuple[str, str] | None, *, stopped: bool, detached: bool, attached_new: bool
) -> str:
    """Put the instance back as it was: its old volume at its device, started again if it was stopped here."""
    if att is None:
        return "The volume was not attached."
    instance, device = att
    said = []
    try:
        if attached_new:
            new = [a for a in _attachment_list(ec2, instance) if a["Device"] == device]
            for a in new:
                ec2.detach_volume(VolumeId=a["VolumeId"], InstanceId=instance, Device=device, Force=True)
                ec2.get_waiter("volume_available").wait(VolumeIds=[a["VolumeId"]], WaiterConfig=_WAIT)
        if detached:
            ec2.attach_volume(VolumeId=old_id, InstanceId=instance, Device=device)
            ec2.get_waiter("volume_in_use").wait(VolumeIds=[old_id], WaiterConfig=_WAIT)
            said.append(f"{old_id} is attached to {instance} at {device} again")
        if stopped:
            ec2.start_instances(InstanceIds=[instance])
            ec2.get_waiter("instance_running").wait(InstanceIds=[instance], WaiterConfig=_WAIT)
            said.append(f"instance {instance} was started again")
    except Exception as exc:  # noqa: BLE001 - the restore's own failure is reported, the first error raised
        return f"RESTORING FAILED ({exc}): check instance {instance} and volume {old_id} by hand."
    return (". ".join(said) + ".") if said else f"Instance {instance} was not touched."


def _attachment_list(ec2: Any, instance: str) -> list[dict[str, Any]]:
    reply = ec2.describe_instances(InstanceIds=[instance])
    inst = reply["Reservations"][0]["Instances"][0]
    return [
        {"Device": m["DeviceName"], "VolumeId": m["Ebs"]["VolumeId"]}
        for m in inst.get("BlockDeviceMappings", [])
        if "Ebs" in m
    ]


operation(
    id="aws.ec2.encrypt_volume",
    description=(
        "Encrypt an EBS volume: snapshot, encrypted copy, new volume with the same type/size/iops/tags, swapped "
        "in at the same device (an attached volume's instance is stopped for it: a maintenance window). The "
        "original is kept, tagged escher:replaced-by."
    ),
    risk=Risk.high,
    permissions=(
        "ec2:DescribeVolumes",
        "ec2:DescribeInstances",
        "ec2:DescribeSnapshots",
        "ec2:CreateSnapshot",
        "ec2:CopySnapshot",
        "ec2:CreateVolume",
        "ec2:CreateTags",
        "ec2:StopInstances",
        "ec2:StartInstances",
        "ec2:DetachVolume",
        "ec2:AttachVolume",
        "kms:DescribeKey",
        "kms:CreateGrant",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ),
    cli=(
        "aws ec2 create-snapshot --region {region} --volume-id {target} && aws ec2 copy-snapshot --encrypted ... "
        "&& aws ec2 create-volume --snapshot-id ... && (stop, detach, attach, start)"
    ),
    fetch=fetch_volume_encryption,
    wanted=_wanted,
    apply=_encrypt,
    params=EncryptVolumeParams,
    verify_timeout=900.0,
)
