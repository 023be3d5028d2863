"""GCP Cloud SQL: stop, start, restart and resize instances, grow their storage. Target: ``projects/P/instances/I``
(or ``P:I``, the ``database_id`` a Cloud Monitoring incident names).

Cloud SQL has no stopped *state* (sqladmin v1's ``DatabaseInstance.state`` is RUNNABLE, SUSPENDED, PENDING_CREATE,
MAINTENANCE, FAILED, ...): a stopped instance is ``RUNNABLE`` with ``settings.activationPolicy`` ``NEVER``, a
started one ``RUNNABLE`` with ``ALWAYS``. Stop and start are ``instances.patch`` of the activation policy (what
``gcloud sql instances patch --activation-policy`` sends), polled through ``operations.get`` until DONE; verify
reads both the state and the policy back.

The rest, per the same discovery document (sqladmin v1): ``instances.restart`` (POST, an ``Operation``) restarts
a running instance; ``instances.patch`` with ``settings.dataDiskSizeGb`` grows its storage (it never shrinks) and
with ``settings.tier`` changes its machine (``db-custom-4-16384``, ``db-perf-optimized-N-8``; the instance
restarts). Every change is an ``Operation`` polled until DONE; one that ends with ``error`` is an
:class:`OpError` with Google's code and message.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from escher.ops._common import missing_as_not_found
from escher.ops.model import Call, OpError, Params, Risk, operation

NUM_RETRIES = 5  # googleapiclient's own retry of 429/5xx with exponential backoff
OPERATION_TIMEOUT = 900.0
POLL_SECONDS = 2.0


# states in which an activation policy change cannot be asked for (not ones a change passes through)
UNCHANGEABLE = {
    "SUSPENDED": "Google suspended it (billing or a policy issue); starting or stopping it cannot help",
    "PENDING_CREATE": "it is still being created",
    "PENDING_DELETE": "it is being deleted",
    "FAILED": "its creation failed",
}


def _path(call: Call) -> tuple[str, str]:
    rid = call.target.resource_id
    if "/" not in rid and rid.count(":") == 1 and all(rid.split(":")):
        project, instance = rid.split(":")  # a Cloud Monitoring database_id
        return project, instance
    parts = rid.strip("/").split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "instances":
        raise OpError(
            f"{call.target.resource_id!r} is not a Cloud SQL instance path",
            hint="use projects/<project>/instances/<instance> (or <project>:<instance>)",
        )
    return parts[1], parts[3]


def _read(call: Call) -> dict[str, Any]:
    """The instance (``DatabaseInstance``), refusing (at plan time too) one in a state no change can help."""
    project, instance = _path(call)
    with missing_as_not_found(call, "Cloud SQL instance"):
        inst: dict[str, Any] = (
            call.ctx.gcp_sql()
            .instances()
            .get(project=project, instance=instance)
            .execute(num_retries=NUM_RETRIES)
        )
    state = inst.get("state")
    if state in UNCHANGEABLE:
        raise OpError(
            f"Cloud SQL instance {call.target.resource_id} is {state}: {UNCHANGEABLE[state]}",
            hint="see the instance in the Cloud console (or 'gcloud sql instances describe'); run this again once "
            "it is RUNNABLE",
        )
    return inst


def fetch_sql(call: Call) -> dict[str, Any]:
    inst = _read(call)
    return {"state": inst.get("state"), "activation_policy": inst.get("settings", {}).get("activationPolicy")}


def fetch_settings(call: Call) -> dict[str, Any]:
    """The state, the machine tier and the storage (size, automatic increase and its cap, in GB)."""
    inst = _read(call)
    settings = inst.get("settings", {})
    return {
        "state": inst.get("state"),
        "activation_policy": settings.get("activationPolicy"),
        "tier": settings.get("tier"),
        "data_disk_size_gb": int(settings["dataDiskSizeGb"]) if settings.get("dataDiskSizeGb") else None,
        "storage_auto_resize": settings.get("storageAutoResize"),
        "storage_auto_resize_limit_gb": int(settings.get("storageAutoResizeLimit") or 0),
    }


def _wait(call: Call, sql: Any, project: str, op: dict[str, Any], doing: str) -> dict[str, Any]:
    """Poll a Cloud SQL ``Operation`` until DONE; an error in it is the change's failure, in Google's words."""
    deadline = time.monotonic() + OPERATION_TIMEOUT
    while op.get("status") != "DONE":
        if time.monotonic() > deadline:
            raise OpError(
                f"Cloud SQL operation {op.get('name')} did not finish in {OPERATION_TIMEOUT:.0f} s",
                hint=f"see it with 'gcloud sql operations describe {op.get('name')}'",
            )
        time.sleep(POLL_SECONDS)
        op = sql.operations().get(project=project, operation=op["name"]).execute(num_retries=NUM_RETRIES)
    if op.get("error"):
        errors = "; ".join(
            f"{e.get('code', 'error')}: {e.get('message', '')}".strip() for e in op["error"].get("errors", [])
        )
        raise OpError(
            f"Cloud SQL could not {doing} (operation {op.get('name')}): {errors or 'no reason given'}",
            hint="do what the error asks, then run this again: it reads the instance first",
        )
    return {"operation": op.get("name")}


def _patch_settings(call: Call, settings: dict[str, Any], doing: str) -> dict[str, Any]:
    project, instance = _path(call)
    sql = call.ctx.gcp_sql()
    body = {"settings": settings}
    op = sql.instances().patch(project=project, instance=instance, body=body).execute(num_retries=NUM_RETRIES)
    return _wait(call, sql, project, op, doing)


def _set_policy(policy: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> dict[str, Any]:
        doing = f"set the activation policy of {call.target.resource_id} to {policy}"
        return _patch_settings(call, {"activationPolicy": policy}, doing)

    return apply


operation(
    id="gcp.sql.stop_instance",
    description="Stop a Cloud SQL instance (activation policy NEVER): no instance billing, storage kept.",
    risk=Risk.medium,
    permissions=("cloudsql.instances.get", "cloudsql.instances.update"),
    cli="gcloud sql instances patch {target} --activation-policy=NEVER",
    fetch=fetch_sql,
    wanted=lambda call, state: {"activation_policy": "NEVER", "state": "RUNNABLE"},
    apply=_set_policy("NEVER"),
    inverse="gcp.sql.start_instance",
    reversible=True,
)

operation(
    id="gcp.sql.start_instance",
    description="Start a stopped Cloud SQL instance (activation policy ALWAYS).",
    risk=Risk.low,
    permissions=("cloudsql.instances.get", "cloudsql.instances.update"),
    cli="gcloud sql instances patch {target} --activation-policy=ALWAYS",
    fetch=fetch_sql,
    wanted=lambda call, state: {"activation_policy": "ALWAYS", "state": "RUNNABLE"},
    apply=_set_policy("ALWAYS"),
    inverse="gcp.sql.stop_instance",
    reversible=True,
)


def _running(call: Call, state: dict[str, Any], doing: str) -> None:
    if state["activation_policy"] == "NEVER":
        raise OpError(
            f"Cloud SQL instance {call.target.resource_id} is stopped (activation policy NEVER): {doing}",
            hint="start it with gcp.sql.start_instance",
        )
    if state["state"] != "RUNNABLE":
        raise OpError(
            f"Cloud SQL instance {call.target.resource_id} is {state['state']}, not RUNNABLE: {doing}",
            hint="run this again once it is RUNNABLE (after its maintenance or the change in progress)",
        )


def _restart(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    _running(call, state, "there is nothing to restart")
    project, instance = _path(call)
    sql = call.ctx.gcp_sql()
    op = sql.instances().restart(project=project, instance=instance).execute(num_retries=NUM_RETRIES)
    return _wait(call, sql, project, op, f"restart {call.target.resource_id}")


operation(
    id="gcp.sql.restart_instance",
    description="Restart a running Cloud SQL instance (a minute or so of downtime; connections drop).",
    risk=Risk.medium,
    permissions=("cloudsql.instances.get", "cloudsql.instances.restart"),
    cli="gcloud sql instances restart {target}",
    fetch=fetch_settings,
    wanted=lambda call, state: {"state": "RUNNABLE", "activation_policy": "ALWAYS"},
    apply=_restart,
    mode="action",
)


MAX_DISK_GB = 65536  # 64 TB, Cloud SQL's largest data disk


class IncreaseStorageParams(Params):
    increase_percent: int = Field(
        default=10, ge=1, le=100, description="grow the data disk by this much (rounded up to a whole GB)"
    )


def grown_disk(state: dict[str, Any], percent: int) -> int:
    size = int(state["data_disk_size_gb"] or 0)
    return min(-(-size * (100 + percent) // 100), MAX_DISK_GB)


def _increase_storage(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    name = call.target.resource_id
    if not state["data_disk_size_gb"]:
        raise OpError(
            f"Cloud SQL instance {name} reports no data disk size", hint="see it in the Cloud console"
        )
    _running(call, state, "its storage cannot grow now")
    size = grown_disk(state, call.params.increase_percent)
    if size <= state["data_disk_size_gb"]:
        raise OpError(
            f"Cloud SQL instance {name} already has {state['data_disk_size_gb']} GB, the most Cloud SQL allows",
            hint="move data out, or archive it, by hand",
        )
    limit = state["storage_auto_resize_limit_gb"]
    if state["storage_auto_resize"] and limit and limit < size:
        raise OpError(
            f"Cloud SQL instance {name} has automatic storage increase capped at {limit} GB, under the {size} GB "
            "asked for: Cloud SQL would refuse the change",
            hint=f"raise the cap first: 'gcloud sql instances patch {name} --storage-auto-increase-limit={size}'",
        )
    details = _patch_settings(call, {"dataDiskSizeGb": str(size)}, f"grow the storage of {name} to {size} GB")
    return {
        **details,
        "data_disk_size_gb_before": state["data_disk_size_gb"],
        "data_disk_size_gb_requested": size,
    }


operation(
    id="gcp.sql.increase_storage",
    description="Grow a Cloud SQL instance's data disk by a percentage (10 % unless told): no downtime, but "
    "storage never shrinks again. What a disk/utilization alert near capacity calls for.",
    risk=Risk.medium,
    permissions=("cloudsql.instances.get", "cloudsql.instances.update"),
    cli="gcloud sql instances patch {target} --storage-size=<current + {increase_percent}%>",
    fetch=fetch_settings,
    # from the size read before the change: verify reads the new size and must not want yet more
    wanted=lambda call, state: {"data_disk_size_gb": grown_disk(state, call.params.increase_percent)},
    apply=_increase_storage,
    params=IncreaseStorageParams,
)


class ResizeInstanceParams(Params):
    tier: str = Field(
        pattern=r"^db-[a-z0-9-]+$",
        description="the machine tier, e.g. db-custom-4-16384 or db-perf-optimized-N-8",
    )


def _resize(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    _running(call, state, "its tier can be changed only while it runs")
    doing = f"change the tier of {call.target.resource_id} to {call.params.tier}"
    details = _patch_settings(call, {"tier": call.params.tier}, doing)
    return {**details, "tier_before": state["tier"]}


operation(
    id="gcp.sql.resize_instance",
    description="Change a Cloud SQL instance's machine tier: the instance restarts (minutes of downtime). "
    "Always asks for an approval.",
    risk=Risk.high,
    permissions=("cloudsql.instances.get", "cloudsql.instances.update"),
    cli="gcloud sql instances patch {target} --tier={tier}",
    fetch=fetch_settings,
    wanted=lambda call, state: {"tier": call.params.tier, "state": "RUNNABLE"},
    apply=_resize,
    params=ResizeInstanceParams,
    verify_timeout=1800.0,
)
