"""Azure Compute: virtual machines (power, size, tags) and managed disk snapshots. Targets are ARM ids."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pydantic import Field

from escher.lazy import require
from escher.ops._common import arm_wait, flat_tags, missing_as_not_found, parse_arm_id
from escher.ops.model import Call, OpError, Params, Risk, Target, operation

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

VM = ("virtualMachines",)


def _compute(call: Call, *types: str) -> tuple[Any, Any]:
    arm = parse_arm_id(call.target.resource_id, *types)
    return call.ctx.azure("compute", arm.subscription), arm


def _models() -> Any:
    return require("azure.mgmt.compute.models", "azure")


def fetch_vm(call: Call) -> dict[str, Any]:
    client, arm = _compute(call, *VM)
    with missing_as_not_found(call, "virtual machine"):
        vm = client.virtual_machines.get(arm.resource_group, arm.name, expand="instanceView")
    statuses = vm.instance_view.statuses if vm.instance_view else []
    power = next((s.code.split("/", 1)[1] for s in statuses or [] if s.code.startswith("PowerState/")), None)
    return {"power_state": power, "vm_size": vm.hardware_profile.vm_size, **flat_tags(vm.tags)}


def discover_vms(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    """VMs of the configured subscription with every tag in ``tags`` (in location ``region``, if given).

    ARM has no tag filter for listing VMs (Resource Graph would need another SDK): list them, filter here.
    """
    subscription = ctx.azure_subscription_id or os.environ.get("AZURE_SUBSCRIPTION_ID")
    if not subscription:
        raise OpError(
            "no Azure subscription to look for tagged VMs in",
            hint="set [azure] subscription_id in the config (or AZURE_SUBSCRIPTION_ID)",
        )
    where = region.replace(" ", "").lower() if region else None
    return [
        Target("azure", vm.id, region)
        for vm in ctx.azure("compute", subscription).virtual_machines.list_all()
        if all((vm.tags or {}).get(k) == v for k, v in tags.items())
        and (where is None or vm.location.replace(" ", "").lower() == where)
    ]


def _vm_action(method: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        client, arm = _compute(call, *VM)
        getattr(client.virtual_machines, method)(arm.resource_group, arm.name).result()

    return apply


operation(
    id="azure.compute.deallocate_vm",
    description="Stop and deallocate a VM: compute billing stops, disks are kept.",
    risk=Risk.medium,
    permissions=(
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Compute/virtualMachines/deallocate/action",
    ),
    cli="az vm deallocate --ids {target}",
    fetch=fetch_vm,
    wanted=lambda call, state: {"power_state": "deallocated"},
    apply=_vm_action("begin_deallocate"),
    inverse="azure.compute.start_vm",
    reversible=True,
    discover=discover_vms,
)

operation(
    id="azure.compute.start_vm",
    description="Start a stopped or deallocated VM.",
    risk=Risk.low,
    permissions=("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/start/action"),
    cli="az vm start --ids {target}",
    fetch=fetch_vm,
    wanted=lambda call, state: {"power_state": "running"},
    apply=_vm_action("begin_start"),
    inverse="azure.compute.deallocate_vm",
    reversible=True,
    discover=discover_vms,
)


def _restart(call: Call, state: dict[str, Any]) -> None:
    if state["power_state"] != "running":
        raise OpError(
            f"VM {call.target.resource_id} is {state['power_state']}, not running",
            hint="start it with azure.compute.start_vm instead",
        )
    _vm_action("begin_restart")(call, state)


operation(
    id="azure.compute.restart_vm",
    description="Restart a running VM.",
    risk=Risk.medium,
    permissions=(
        "Microsoft.Compute/virtualMachines/read",
        "Microsoft.Compute/virtualMachines/restart/action",
    ),
    cli="az vm restart --ids {target}",
    fetch=fetch_vm,
    wanted=lambda call, state: {"power_state": "running"},
    apply=_restart,
    mode="action",
    discover=discover_vms,
)


class ResizeParams(Params):
    vm_size: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="e.g. Standard_D4s_v5")


def _resize(call: Call, state: dict[str, Any]) -> None:
    client, arm = _compute(call, *VM)
    models = _models()
    update = models.VirtualMachineUpdate(hardware_profile=models.HardwareProfile(vm_size=call.params.vm_size))
    client.virtual_machines.begin_update(arm.resource_group, arm.name, update).result()


operation(
    id="azure.compute.resize_vm",
    description="Change a VM's size (Azure restarts it if needed).",
    risk=Risk.high,
    permissions=("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/write"),
    cli="az vm resize --ids {target} --size {vm_size}",
    fetch=fetch_vm,
    wanted=lambda call, state: {"vm_size": call.params.vm_size},
    apply=_resize,
    params=ResizeParams,
    inverse="azure.compute.resize_vm",
    reversible=True,
)


class TagParams(Params):
    tags: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")


def _tag(call: Call, state: dict[str, Any]) -> None:
    client, arm = _compute(call, *VM)
    current = {k.removeprefix("tag:"): v for k, v in state.items() if k.startswith("tag:")}
    update = _models().VirtualMachineUpdate(tags={**current, **call.params.tags})
    client.virtual_machines.begin_update(arm.resource_group, arm.name, update).result()


operation(
    id="azure.compute.tag_vm",
    description="Add or overwrite tags on a VM (existing tags are kept).",
    risk=Risk.low,
    permissions=("Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachines/write"),
    cli="az tag update --resource-id {target} --operation merge --tags {tags}",
    fetch=fetch_vm,
    wanted=lambda call, state: flat_tags(call.params.tags),
    apply=_tag,
    params=TagParams,
    reversible=True,
)


# -- snapshots ------------------------------------------------------------------------------------------------
def snapshot_name(call: Call) -> str:
    disk = parse_arm_id(call.target.resource_id, "disks").name
    return f"{disk}-escher-{call.key[:10]}"  # deterministic: a retried PUT finds the same snapshot


def fetch_disk_snapshot(call: Call) -> dict[str, Any]:
    client, arm = _compute(call, "disks")
    with missing_as_not_found(call, "managed disk"):
        client.disks.get(arm.resource_group, arm.name)
    try:
        snap = client.snapshots.get(arm.resource_group, snapshot_name(call))
    except call.ctx.sdk_errors("azure") as exc:
        if not call.ctx.is_not_found("azure", exc):
            raise
        return {"snapshot_exists": False}
    return {"snapshot_exists": snap.provisioning_state == "Succeeded"}


def _snapshot(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    client, arm = _compute(call, "disks")
    disk = client.disks.get(arm.resource_group, arm.name)
    models = _models()
    snap = models.Snapshot(
        location=disk.location,
        incremental=True,
        creation_data=models.CreationData(create_option="Copy", source_resource_id=disk.id),
        tags={"escher:key": call.key},
    )
    made = client.snapshots.begin_create_or_update(arm.resource_group, snapshot_name(call), snap).result()
    return {"snapshot_id": made.id}


operation(
    id="azure.compute.create_disk_snapshot",
    description="Take an incremental snapshot of a managed disk (same resource group, deterministic name).",
    risk=Risk.low,
    permissions=(
        "Microsoft.Compute/disks/read",
        "Microsoft.Compute/disks/beginGetAccess/action",
        "Microsoft.Compute/snapshots/read",
        "Microsoft.Compute/snapshots/write",
    ),
    cli="az snapshot create --source {target} --incremental true --name <disk>-escher-<key>",
    fetch=fetch_disk_snapshot,
    wanted=lambda call, state: {"snapshot_exists": True},
    apply=_snapshot,
    inverse="azure.compute.delete_snapshot",
    reversible=True,
)


def fetch_snapshot(call: Call) -> dict[str, Any]:
    client, arm = _compute(call, "snapshots")
    try:
        client.snapshots.get(arm.resource_group, arm.name)
    except call.ctx.sdk_errors("azure") as exc:
        if call.ctx.is_not_found("azure", exc):
            return {"exists": False}
        raise
    return {"exists": True}


def _delete_snapshot(call: Call, state: dict[str, Any]) -> None:
    client, arm = _compute(call, "snapshots")
    client.snapshots.begin_delete(arm.resource_group, arm.name).result()


operation(
    id="azure.compute.delete_snapshot",
    description="Delete a managed disk snapshot (irreversible).",
    risk=Risk.high,
    permissions=("Microsoft.Compute/snapshots/read", "Microsoft.Compute/snapshots/delete"),
    cli="az snapshot delete --ids {target}",
    fetch=fetch_snapshot,
    wanted=lambda call, state: {"exists": False},
    apply=_delete_snapshot,
)


# -- restore: a managed disk from a snapshot ----------------------------------------------------------------
class DiskFromSnapshotParams(Params):
    disk_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,80}$",
        description="the new disk's name; default: <snapshot>-restored-<key> (a retry finds the same disk)",
    )
    sku: str | None = Field(
        default=None,
        pattern=r"^(Standard_LRS|Premium_LRS|StandardSSD_LRS|UltraSSD_LRS|Premium_ZRS|StandardSSD_ZRS|PremiumV2_LRS)$",
        description="the new disk's SKU; default: Azure's (Standard_LRS)",
    )


def restored_disk_name(call: Call) -> str:
    if call.params.disk_name:
        return str(call.params.disk_name)
    snapshot = parse_arm_id(call.target.resource_id, "snapshots").name
    return f"{snapshot}-restored-{call.key[:10]}"[:80]


def fetch_snapshot_restore(call: Call) -> dict[str, Any]:
    client, arm = _compute(call, "snapshots")
    with missing_as_not_found(call, "snapshot"):
        snap = client.snapshots.get(arm.resource_group, arm.name)
    try:
        disk = client.disks.get(arm.resource_group, restored_disk_name(call))
    except call.ctx.sdk_errors("azure") as exc:
        if not call.ctx.is_not_found("azure", exc):
            raise
        disk = None
    source = disk.creation_data.source_resource_id if disk is not None and disk.creation_data else None
    return {
        "disk_exists": disk is not None,
        "disk_state": disk.provisioning_state if disk is not None else None,
        # ARM ids compare without case; a disk of that name made from something else is never taken for ours
        "disk_from_snapshot": (source or "").lower() == call.target.resource_id.lower(),
        **flat_tags(snap.tags),  # the snapshot's environment, for the policy gate
    }


def _disk_from_snapshot(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    client, arm = _compute(call, "snapshots")
    name = restored_disk_name(call)
    if state["disk_exists"] and not state["disk_from_snapshot"]:
        raise OpError(
            f"a managed disk named {name} already exists in {arm.resource_group} and was not made from this "
            "snapshot",
            hint="choose another disk_name; the existing disk is left as it is",
        )
    snap = client.snapshots.get(arm.resource_group, arm.name)
    models = _models()
    tags = {k: v for k, v in (snap.tags or {}).items() if not k.startswith("escher:")}
    disk = models.Disk(
        location=snap.location,
        sku=models.DiskSku(name=call.params.sku) if call.params.sku else None,
        creation_data=models.CreationData(create_option="Copy", source_resource_id=snap.id),
        tags={**tags, "escher:key": call.key, "escher:restored-from": arm.name},
    )
    poller = client.disks.begin_create_or_update(arm.resource_group, name, disk)
    made = arm_wait(call, poller, "create a disk from snapshot")
    return {"disk_id": made.id}


operation(
    id="azure.compute.create_disk_from_snapshot",
    description="Restore a snapshot to a new managed disk (same resource group and location; the snapshot's "
    "tags copied). A deterministic name unless told, so a retried request finds its disk.",
    risk=Risk.medium,
    permissions=(
        "Microsoft.Compute/snapshots/read",
        "Microsoft.Compute/disks/read",
        "Microsoft.Compute/disks/write",
    ),
    cli="az disk create --source {target} --name <snapshot>-restored-<key> --resource-group <rg>",
    fetch=fetch_snapshot_restore,
    wanted=lambda call, state: {"disk_from_snapshot": True, "disk_state": "Succeeded"},
    apply=_disk_from_snapshot,
    params=DiskFromSnapshotParams,
    verify_timeout=900.0,
)
