"""GCP Compute Engine: instances (power, machine type, labels), disk snapshots, firewall rules.

Targets are resource paths: ``projects/P/zones/Z/instances/N``, ``projects/P/zones/Z/disks/D``,
``projects/P/global/snapshots/S``, ``projects/P/global/firewalls/F``.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from pydantic import Field

from escher.lazy import require
from escher.ops._common import flat_tags, missing_as_not_found, parse_gcp_path
from escher.ops.model import Call, OpError, Params, Risk, Target, operation

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

OPERATION_TIMEOUT = 600.0


def _compute() -> Any:
    return require("google.cloud.compute_v1", "gcp")


def _instance_args(call: Call) -> dict[str, str]:
    path = parse_gcp_path(call.target.resource_id, "instances", scope="zones")
    return {"project": path.project, "zone": str(path.location), "instance": path.name}


def _instances(call: Call) -> Any:
    return call.ctx.gcp_compute("instances")


def fetch_instance(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "Compute Engine instance"):
        inst = _instances(call).get(**_instance_args(call))
    return {
        "status": inst.status,
        "machine_type": inst.machine_type.rsplit("/", 1)[-1],
        "label_fingerprint": inst.label_fingerprint,
        **flat_tags(dict(inst.labels)),
    }


_LABEL = re.compile(r"^[a-z0-9_-]{1,63}$")  # what GCP allows in label keys (values may also be empty)


def _label_filter(tags: dict[str, str]) -> str:
    """``(labels.env = "dev") (labels.team = "web")``: the list API's filter, each expression ANDed."""
    for key, value in tags.items():
        if not _LABEL.match(key) or not (value == "" or _LABEL.match(value)):
            raise OpError(
                f"{key}={value} is not a GCP label selector",
                hint="label keys and values are lowercase letters, digits, '_' and '-' (at most 63)",
            )
    return " ".join(f'(labels.{k} = "{v}")' for k, v in sorted(tags.items()))


def _project(ctx: CloudContext) -> str:
    project = (
        ctx.gcp_project or os.environ.get("GOOGLE_CLOUD_PROJECT") or os.environ.get("CLOUDSDK_CORE_PROJECT")
    )
    if not project:
        raise OpError(
            "no GCP project to look for labelled instances in",
            hint="set [gcp] project in the config (or GOOGLE_CLOUD_PROJECT)",
        )
    return project


def discover_instances(ctx: CloudContext, region: str | None, tags: dict[str, str]) -> list[Target]:
    """Instances of the configured project with every label in ``tags``, in all zones (or the zones of
    ``region``: ``us-central1`` or ``us-central1-a``), by one filtered ``aggregatedList``."""
    project = _project(ctx)
    pages = ctx.gcp_compute("instances").aggregated_list(
        request={"project": project, "filter": _label_filter(tags)}
    )
    found = []
    for scope, scoped in pages:
        zone = scope.removeprefix("zones/")
        if region and zone != region and not zone.startswith(f"{region}-"):
            continue
        for inst in scoped.instances:
            if all(inst.labels.get(k) == v for k, v in tags.items()):  # the filter's semantics, rechecked
                found.append(Target("gcp", f"projects/{project}/zones/{zone}/instances/{inst.name}", region))
    return found


def _wait(operation: Any) -> None:
    """Block on the long-running operation; the SDK polls the zonal/global operation for us."""
    operation.result(timeout=OPERATION_TIMEOUT)


def _instance_action(method: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        _wait(getattr(_instances(call), method)(**_instance_args(call)))

    return apply


operation(
    id="gcp.compute.stop_instance",
    description="Stop a Compute Engine instance (TERMINATED: no vCPU/RAM billing, disks are kept).",
    risk=Risk.medium,
    permissions=(
        "compute.instances.get",
        "compute.instances.stop",
        "compute.zoneOperations.get",
        "compute.instances.list",
    ),
    cli="gcloud compute instances stop {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"status": "TERMINATED"},
    apply=_instance_action("stop"),
    inverse="gcp.compute.start_instance",
    reversible=True,
    discover=discover_instances,
)

operation(
    id="gcp.compute.start_instance",
    description="Start a stopped Compute Engine instance.",
    risk=Risk.low,
    permissions=(
        "compute.instances.get",
        "compute.instances.start",
        "compute.zoneOperations.get",
        "compute.instances.list",
    ),
    cli="gcloud compute instances start {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"status": "RUNNING"},
    apply=_instance_action("start"),
    inverse="gcp.compute.stop_instance",
    reversible=True,
    discover=discover_instances,
)


def _reset(call: Call, state: dict[str, Any]) -> None:
    if state["status"] != "RUNNING":
        raise OpError(
            f"instance {call.target.resource_id} is {state['status']}, not RUNNING: a reset would fail",
            hint="start it with gcp.compute.start_instance instead",
        )
    _instance_action("reset")(call, state)


operation(
    id="gcp.compute.reset_instance",
    description="Hard-reset a running instance (like pressing the reset button).",
    risk=Risk.medium,
    permissions=(
        "compute.instances.get",
        "compute.instances.reset",
        "compute.zoneOperations.get",
        "compute.instances.list",
    ),
    cli="gcloud compute instances reset {target}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"status": "RUNNING"},
    apply=_reset,
    mode="action",
    discover=discover_instances,
)


class MachineTypeParams(Params):
    machine_type: str = Field(pattern=r"^[a-z0-9-]+$", description="e.g. e2-standard-4")


def _set_machine_type(call: Call, state: dict[str, Any]) -> None:
    if state["status"] != "TERMINATED":
        raise OpError(
            f"instance {call.target.resource_id} is {state['status']}: its machine type can change only when stopped",
            hint="stop it first (gcp.compute.stop_instance)",
        )
    args = _instance_args(call)
    body = _compute().InstancesSetMachineTypeRequest(
        machine_type=f"zones/{args['zone']}/machineTypes/{call.params.machine_type}"
    )
    _wait(_instances(call).set_machine_type(**args, instances_set_machine_type_request_resource=body))


operation(
    id="gcp.compute.set_machine_type",
    description="Change a stopped instance's machine type (scale up or down).",
    risk=Risk.high,
    permissions=("compute.instances.get", "compute.instances.setMachineType", "compute.zoneOperations.get"),
    cli="gcloud compute instances set-machine-type {target} --machine-type {machine_type}",
    fetch=fetch_instance,
    wanted=lambda call, state: {"machine_type": call.params.machine_type},
    apply=_set_machine_type,
    params=MachineTypeParams,
    inverse="gcp.compute.set_machine_type",
    reversible=True,
)


class LabelParams(Params):
    labels: dict[str, str] = Field(min_length=1, description="key -> value, added or overwritten")


def _set_labels(call: Call, state: dict[str, Any]) -> None:
    current = {k.removeprefix("tag:"): v for k, v in state.items() if k.startswith("tag:")}
    body = _compute().InstancesSetLabelsRequest(
        label_fingerprint=state["label_fingerprint"],  # optimistic lock: a concurrent change fails, not lost
        labels={**current, **call.params.labels},
    )
    _wait(_instances(call).set_labels(**_instance_args(call), instances_set_labels_request_resource=body))


operation(
    id="gcp.compute.set_instance_labels",
    description="Add or overwrite labels on an instance (existing labels are kept).",
    risk=Risk.low,
    permissions=("compute.instances.get", "compute.instances.setLabels", "compute.zoneOperations.get"),
    cli="gcloud compute instances add-labels {target} --labels={labels}",
    fetch=fetch_instance,
    wanted=lambda call, state: flat_tags(call.params.labels),
    apply=_set_labels,
    params=LabelParams,
    reversible=True,
)


# -- snapshots ------------------------------------------------------------------------------------------------
def _disk(call: Call) -> Any:
    return parse_gcp_path(call.target.resource_id, "disks", scope="zones")


def snapshot_name(call: Call) -> str:
    return f"{_disk(call).name}-escher-{call.key[:10]}"[:63]  # deterministic: a retry finds the same one


def _snapshot_exists(call: Call, project: str, name: str) -> bool:
    try:
        call.ctx.gcp_compute("snapshots").get(project=project, snapshot=name)
    except call.ctx.sdk_errors("gcp") as exc:
        if call.ctx.is_not_found("gcp", exc):
            return False
        raise
    return True


def fetch_disk_snapshot(call: Call) -> dict[str, Any]:
    disk = _disk(call)
    with missing_as_not_found(call, "persistent disk"):
        call.ctx.gcp_compute("disks").get(project=disk.project, zone=disk.location, disk=disk.name)
    return {"snapshot_exists": _snapshot_exists(call, disk.project, snapshot_name(call))}


def _create_snapshot(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    disk = _disk(call)
    body = _compute().Snapshot(name=snapshot_name(call), labels={"escher-key": call.key})
    _wait(
        call.ctx.gcp_compute("disks").create_snapshot(
            project=disk.project, zone=disk.location, disk=disk.name, snapshot_resource=body
        )
    )
    return {"snapshot_id": f"projects/{disk.project}/global/snapshots/{snapshot_name(call)}"}


operation(
    id="gcp.compute.create_disk_snapshot",
    description="Snapshot a persistent disk (deterministic name per request: retries never make two).",
    risk=Risk.low,
    permissions=(
        "compute.disks.get",
        "compute.disks.createSnapshot",
        "compute.snapshots.create",
        "compute.snapshots.get",
        "compute.zoneOperations.get",
    ),
    cli="gcloud compute snapshots create <disk>-escher-<key> --source-disk {target}",
    fetch=fetch_disk_snapshot,
    wanted=lambda call, state: {"snapshot_exists": True},
    apply=_create_snapshot,
    inverse="gcp.compute.delete_snapshot",
    reversible=True,
)


def fetch_snapshot(call: Call) -> dict[str, Any]:
    path = parse_gcp_path(call.target.resource_id, "snapshots", scope=None)
    return {"exists": _snapshot_exists(call, path.project, path.name)}


def _delete_snapshot(call: Call, state: dict[str, Any]) -> None:
    path = parse_gcp_path(call.target.resource_id, "snapshots", scope=None)
    _wait(call.ctx.gcp_compute("snapshots").delete(project=path.project, snapshot=path.name))


operation(
    id="gcp.compute.delete_snapshot",
    description="Delete a disk snapshot (irreversible).",
    risk=Risk.high,
    permissions=("compute.snapshots.get", "compute.snapshots.delete", "compute.globalOperations.get"),
    cli="gcloud compute snapshots delete {target}",
    fetch=fetch_snapshot,
    wanted=lambda call, state: {"exists": False},
    apply=_delete_snapshot,
)


# -- firewall rules -------------------------------------------------------------------------------------------
def fetch_firewall(call: Call) -> dict[str, Any]:
    path = parse_gcp_path(call.target.resource_id, "firewalls", scope=None)
    with missing_as_not_found(call, "firewall rule"):
        rule = call.ctx.gcp_compute("firewalls").get(project=path.project, firewall=path.name)
    return {"disabled": bool(rule.disabled), "source_ranges": sorted(rule.source_ranges)}


def _patch_firewall(call: Call, **fields: Any) -> None:
    path = parse_gcp_path(call.target.resource_id, "firewalls", scope=None)
    body = _compute().Firewall(**fields)
    _wait(
        call.ctx.gcp_compute("firewalls").patch(
            project=path.project, firewall=path.name, firewall_resource=body
        )
    )


operation(
    id="gcp.compute.disable_firewall_rule",
    description="Disable a VPC firewall rule (kept, not enforced; enable it again to undo).",
    risk=Risk.medium,
    permissions=("compute.firewalls.get", "compute.firewalls.update", "compute.globalOperations.get"),
    cli="gcloud compute firewall-rules update {target} --disabled",
    fetch=fetch_firewall,
    wanted=lambda call, state: {"disabled": True},
    apply=lambda call, state: _patch_firewall(call, disabled=True),
    reversible=True,
)


class SourceRangesParams(Params):
    source_ranges: list[str] = Field(min_length=1, description="the CIDRs the rule keeps allowing")


operation(
    id="gcp.compute.restrict_firewall_rule",
    description="Narrow a firewall rule's source ranges (e.g. from 0.0.0.0/0 to the office CIDR).",
    risk=Risk.medium,
    permissions=("compute.firewalls.get", "compute.firewalls.update", "compute.globalOperations.get"),
    cli="gcloud compute firewall-rules update {target} --source-ranges={source_ranges}",
    fetch=fetch_firewall,
    wanted=lambda call, state: {"source_ranges": sorted(call.params.source_ranges)},
    apply=lambda call, state: _patch_firewall(call, source_ranges=sorted(call.params.source_ranges)),
    params=SourceRangesParams,
    reversible=True,
)


# -- restore: a persistent disk from a snapshot --------------------------------------------------------------
class DiskFromSnapshotParams(Params):
    zone: str = Field(
        pattern=r"^[a-z]+-[a-z]+\d+-[a-z]$", description="where the new disk goes, e.g. us-central1-a"
    )
    disk_name: str | None = Field(
        default=None,
        pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="the new disk's name; default: <snapshot>-restored-<key> (a retry finds the same disk)",
    )
    disk_type: str | None = Field(
        default=None, pattern=r"^pd-(standard|balanced|ssd|extreme)$", description="default: pd-balanced"
    )


def restored_disk_name(call: Call) -> str:
    if call.params.disk_name:
        return str(call.params.disk_name)
    snapshot = parse_gcp_path(call.target.resource_id, "snapshots", scope=None).name
    suffix = f"-restored-{call.key[:10]}"
    return f"{snapshot[: 63 - len(suffix)]}{suffix}"


def fetch_snapshot_restore(call: Call) -> dict[str, Any]:
    path = parse_gcp_path(call.target.resource_id, "snapshots", scope=None)
    with missing_as_not_found(call, "snapshot"):
        snap = call.ctx.gcp_compute("snapshots").get(project=path.project, snapshot=path.name)
    try:
        disk = call.ctx.gcp_compute("disks").get(
            project=path.project, zone=call.params.zone, disk=restored_disk_name(call)
        )
    except call.ctx.sdk_errors("gcp") as exc:
        if not call.ctx.is_not_found("gcp", exc):
            raise
        disk = None
    source = (disk.source_snapshot if disk is not None else "") or ""
    return {
        "snapshot_status": snap.status,
        "disk_status": disk.status if disk is not None else None,
        # sourceSnapshot is a full URL; a disk of that name made from something else is never taken for ours
        "disk_from_snapshot": disk is not None
        and source.endswith(f"/{path.project}/global/snapshots/{path.name}"),
        **flat_tags(dict(snap.labels)),  # the snapshot's environment, for the policy gate
    }


def _disk_from_snapshot(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    path = parse_gcp_path(call.target.resource_id, "snapshots", scope=None)
    name, zone = restored_disk_name(call), call.params.zone
    if state["disk_status"] is not None and not state["disk_from_snapshot"]:
        raise OpError(
            f"a disk named {name} already exists in {zone} and was not made from this snapshot",
            hint="choose another disk_name; the existing disk is left as it is",
        )
    if state["disk_status"] is not None:  # an earlier try of this request: wait for it, never a second
        return {"disk_id": f"projects/{path.project}/zones/{zone}/disks/{name}"}
    if state["snapshot_status"] != "READY":
        raise OpError(
            f"snapshot {call.target.resource_id} is {state['snapshot_status']}: only a READY snapshot can be restored",
            hint="wait until it is READY, then run this again",
        )
    labels = {
        k.removeprefix("tag:"): v for k, v in state.items() if k.startswith("tag:") and k != "tag:escher-key"
    }
    body = _compute().Disk(
        name=name,
        source_snapshot=f"projects/{path.project}/global/snapshots/{path.name}",
        type_=f"projects/{path.project}/zones/{zone}/diskTypes/{call.params.disk_type or 'pd-balanced'}",
        labels={**labels, "escher-key": call.key},
    )
    _wait(call.ctx.gcp_compute("disks").insert(project=path.project, zone=zone, disk_resource=body))
    return {"disk_id": f"projects/{path.project}/zones/{zone}/disks/{name}"}


operation(
    id="gcp.compute.create_disk_from_snapshot",
    description="Restore a snapshot to a new persistent disk in a zone (the snapshot's labels copied). A "
    "deterministic name unless told, so a retried request finds its disk; the snapshot is kept.",
    risk=Risk.medium,
    permissions=(
        "compute.snapshots.get",
        "compute.snapshots.useReadOnly",
        "compute.disks.get",
        "compute.disks.create",
        "compute.disks.setLabels",
        "compute.zoneOperations.get",
    ),
    cli="gcloud compute disks create <snapshot>-restored-<key> --zone {zone} --source-snapshot {target}",
    fetch=fetch_snapshot_restore,
    wanted=lambda call, state: {"disk_from_snapshot": True, "disk_status": "READY"},
    apply=_disk_from_snapshot,
    params=DiskFromSnapshotParams,
    verify_timeout=900.0,
)
