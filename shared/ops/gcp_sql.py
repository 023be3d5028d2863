"""GCP Cloud SQL: stop and start instances (activation policy). Target: ``projects/P/instances/I``."""

from __future__ import annotations

import time
from typing import Any

from escher.ops._common import missing_as_not_found
from escher.ops.model import Call, OpError, Risk, operation

NUM_RETRIES = 5  # googleapiclient's own retry of 429/5xx with exponential backoff
OPERATION_TIMEOUT = 900.0


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
    return {"state": inst.get("state"), "activation_policy": inst.get("settings", {}).get("activationPolicy")}


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
            errors = op["error"].get("errors", [])
            raise OpError(
                f"Cloud SQL operation {op.get('name')} failed: {errors}", hint="see the errors named"
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
    wanted=lambda call, state: {"activation_policy": "NEVER"},
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
