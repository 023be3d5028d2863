"""GCP Cloud SQL: stop and start instances (activation policy). Target: ``projects/P/instances/I``.

Cloud SQL has no stopped *state* (sqladmin v1's ``DatabaseInstance.state`` is RUNNABLE, SUSPENDED, PENDING_CREATE,
MAINTENANCE, FAILED, ...): a stopped instance is ``RUNNABLE`` with ``settings.activationPolicy`` ``NEVER``, a
started one ``RUNNABLE`` with ``ALWAYS``. Stop and start are ``instances.patch`` of the activation policy (what
``gcloud sql instances patch --activation-policy`` sends), polled through ``operations.get`` until DONE; verify
reads both the state and the policy back.
"""

from __future__ import annotations

import time
from typing import Any

from escher.ops._common import missing_as_not_found
from escher.ops.model import Call, OpError, Risk, operation

NUM_RETRIES = 5  # googleapiclient's own retry of 429/5xx with exponential backoff
OPERATION_TIMEOUT = 900.0


# states in which an activation policy change cannot be asked for (not ones a change passes through)
UNCHANGEABLE = {
    "SUSPENDED": "Google suspended it (billing or a policy issue); starting or stopping it cannot help",
    "PENDING_CREATE": "it is still being created",
    "PENDING_DELETE": "it is being deleted",
    "FAILED": "its creation failed",
}


def _path(call: Call) -> tuple[str, str]:
    parts = call.target.resource_id.strip("/").split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "instances":
        raise OpError(
            f"{call.target.resource_id!r} is not a Cloud SQL instance path",
            hint="use projects/<project>/instances/<instance>",
        )
    return parts[1], parts[3]


def fetch_sql(call: Call) -> dict[str, Any]:
    project, instance = _path(call)
    with missing_as_not_found(call, "Cloud SQL instance"):
        inst = (
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
    return {"state": state, "activation_policy": inst.get("settings", {}).get("activationPolicy")}


def _set_policy(policy: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> dict[str, Any]:
        project, instance = _path(call)
        sql = call.ctx.gcp_sql()
        body = {"settings": {"activationPolicy": policy}}
        op = (
            sql.instances()
            .patch(project=project, instance=instance, body=body)
            .execute(num_retries=NUM_RETRIES)
        )
        deadline = time.monotonic() + OPERATION_TIMEOUT
        while op.get("status") != "DONE":
            if time.monotonic() > deadline:
                raise OpError(
                    f"Cloud SQL operation {op.get('name')} did not finish", hint="check the console"
                )
            time.sleep(2)
            op = sql.operations().get(project=project, operation=op["name"]).execute(num_retries=NUM_RETRIES)
        if op.get("error"):
            errors = "; ".join(
                f"{e.get('code', 'error')}: {e.get('message', '')}".strip()
                for e in op["error"].get("errors", [])
            )
            raise OpError(
                f"Cloud SQL could not set the activation policy of {call.target.resource_id} to {policy} "
                f"(operation {op.get('name')}): {errors or 'no reason given'}",
                hint="do what the error asks, then run this again: it reads the instance first",
            )
        return {"operation": op.get("name")}

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
