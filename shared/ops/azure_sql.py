"""Azure SQL: pause/resume a dedicated SQL pool, a serverless database's auto-pause delay, server firewall rules.
Targets are ARM ids (``.../providers/Microsoft.Sql/servers/<server>/databases/<database>``).

What the API supports, per azure-rest-api-specs (Microsoft.Sql, api-version 2025-01-01 as azure-mgmt-sql sends):

- ``POST .../databases/{db}/pause`` and ``/resume`` act on a dedicated SQL pool (formerly SQL DW: a database of the
  DataWarehouse edition) only. A serverless database (a ``*_S_*`` vCore SKU, kind ``...,serverless``) pauses
  itself after ``autoPauseDelay`` minutes without connections and resumes on the next connection; asking the API
  to pause one fails. So both are refused at plan time for anything but a DataWarehouse database, saying what
  to do instead;
- ``PATCH .../databases/{db}`` with ``properties.autoPauseDelay`` sets when a serverless database pauses itself
  (minutes; -1 turns auto-pause off): :data:`azure.sql.set_auto_pause_delay`.

Each change is an ARM long-running operation: a failed one is an :class:`OpError` with Azure's code and message
(:func:`escher.ops._common.arm_wait`); 429 and 5xx are retried by azure-core's retry policy (``Retry-After``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from escher.ops._common import arm_wait, missing_as_not_found, parse_arm_id
from escher.ops.model import Call, OpError, Params, Risk, operation

DATABASE = ("servers", "databases")
FIREWALL_RULE = ("servers", "firewallRules")


def _sql(call: Call, *types: str) -> tuple[Any, Any]:
    arm = parse_arm_id(call.target.resource_id, *types)
    return call.ctx.azure("sql", arm.subscription), arm


def _text(value: Any) -> str | None:
    """An SDK enum or string as its plain value (``DatabaseStatus.ONLINE`` -> ``Online``)."""
    return None if value is None else str(getattr(value, "value", value))


def fetch_database(call: Call) -> dict[str, Any]:
    client, arm = _sql(call, *DATABASE)
    with missing_as_not_found(call, "SQL database"):
        db = client.databases.get(arm.resource_group, arm.parent, arm.name)
    sku = db.sku
    kind = (db.kind or "").lower()
    sku_name = _text(sku.name) if sku else None
    tier = _text(sku.tier) if sku else None
    if "datawarehouse" in kind or "DataWarehouse" in (tier, sku_name):
        edition = "datawarehouse"
    elif "serverless" in kind or "_S_" in (sku_name or ""):
        edition = "serverless"
    else:
        edition = "provisioned"
    return {
        "status": _text(db.status),
        "edition": edition,
        "sku": sku_name,
        "service_objective": db.current_service_objective_name,
        "auto_pause_delay": db.auto_pause_delay,
    }


def fetch_warehouse(call: Call) -> dict[str, Any]:
    """The database's state, refusing (at plan time too) anything the pause/resume API does not act on."""
    state = fetch_database(call)
    if state["edition"] == "serverless":
        delay = state["auto_pause_delay"]
        when = (
            "its auto-pause is off (autoPauseDelay -1)"
            if delay in (None, -1)
            else f"Azure pauses it by itself after {delay} minutes without connections"
        )
        raise OpError(
            f"SQL database {call.target.resource_id} is serverless ({state['sku']}): {when}, and it resumes on "
            "the next connection; the pause and resume API is for dedicated SQL pools (DataWarehouse) only",
            hint="to pause it sooner, set a shorter delay with azure.sql.set_auto_pause_delay (minutes); to keep "
            "it from pausing, set -1; to wake it, connect to it",
        )
    if state["edition"] != "datawarehouse":
        raise OpError(
            f"SQL database {call.target.resource_id} is a provisioned {state['sku']} database: Azure SQL cannot "
            "pause it (pause and resume are for dedicated SQL pools, the DataWarehouse edition, only)",
            hint="to stop paying for idle compute, move it to a serverless SKU (e.g. GP_S_Gen5_1) with an "
            "auto-pause delay in the portal or 'az sql db update --compute-model Serverless'",
        )
    return state


def _warehouse_action(method: str, doing: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        client, arm = _sql(call, *DATABASE)
        arm_wait(call, getattr(client.databases, method)(arm.resource_group, arm.parent, arm.name), doing)

    return apply


operation(
    id="azure.sql.pause_database",
    description="Pause a dedicated SQL pool (a DataWarehouse-edition database): compute billing stops, storage "
    "is kept. Serverless databases pause themselves (see azure.sql.set_auto_pause_delay).",
    risk=Risk.medium,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/pause/action"),
    cli="az sql dw pause --ids {target}",
    fetch=fetch_warehouse,
    wanted=lambda call, state: {"status": "Paused"},
    apply=_warehouse_action("begin_pause", "pause"),
    inverse="azure.sql.resume_database",
    reversible=True,
    verify_timeout=900.0,
)

operation(
    id="azure.sql.resume_database",
    description="Resume a paused dedicated SQL pool (a DataWarehouse-edition database).",
    risk=Risk.low,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/resume/action"),
    cli="az sql dw resume --ids {target}",
    fetch=fetch_warehouse,
    wanted=lambda call, state: {"status": "Online"},
    apply=_warehouse_action("begin_resume", "resume"),
    inverse="azure.sql.pause_database",
    reversible=True,
    verify_timeout=900.0,
)


class AutoPauseParams(Params):
    minutes: int = Field(
        description="minutes without connections before the serverless database pauses itself (15 to 10080, "
        "7 days); -1 turns auto-pause off"
    )

    @model_validator(mode="after")
    def _in_range(self) -> AutoPauseParams:
        if self.minutes != -1 and not 15 <= self.minutes <= 10080:
            raise ValueError("minutes must be -1 (never pause) or between 15 and 10080")
        return self


def fetch_serverless(call: Call) -> dict[str, Any]:
    state = fetch_database(call)
    if state["edition"] != "serverless":
        raise OpError(
            f"SQL database {call.target.resource_id} ({state['sku']}) is not serverless: it has no auto-pause",
            hint="pause a dedicated SQL pool (DataWarehouse) with azure.sql.pause_database; a provisioned "
            "database cannot pause",
        )
    return state


def _set_auto_pause(call: Call, state: dict[str, Any]) -> None:
    client, arm = _sql(call, *DATABASE)
    body = {"properties": {"autoPauseDelay": call.params.minutes}}
    arm_wait(
        call,
        client.databases.begin_update(arm.resource_group, arm.parent, arm.name, body),
        "set the auto-pause delay of",
    )


operation(
    id="azure.sql.set_auto_pause_delay",
    description="Set after how many idle minutes a serverless SQL database pauses itself (-1: never).",
    risk=Risk.low,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/write"),
    cli="az sql db update --ids {target} --auto-pause-delay {minutes}",
    fetch=fetch_serverless,
    wanted=lambda call, state: {"auto_pause_delay": call.params.minutes},
    apply=_set_auto_pause,
    params=AutoPauseParams,
)


def fetch_firewall_rule(call: Call) -> dict[str, Any]:
    client, arm = _sql(call, *FIREWALL_RULE)
    try:
        rule = client.firewall_rules.get(arm.resource_group, arm.parent, arm.name)
    except call.ctx.sdk_errors("azure") as exc:
        if call.ctx.is_not_found("azure", exc):
            return {"exists": False}
        raise
    return {"exists": True, "start_ip": rule.start_ip_address, "end_ip": rule.end_ip_address}


def _delete_rule(call: Call, state: dict[str, Any]) -> None:
    client, arm = _sql(call, *FIREWALL_RULE)
    client.firewall_rules.delete(arm.resource_group, arm.parent, arm.name)


operation(
    id="azure.sql.remove_firewall_rule",
    description="Delete a SQL server firewall rule (e.g. one open to 0.0.0.0-255.255.255.255).",
    risk=Risk.high,
    permissions=("Microsoft.Sql/servers/firewallRules/read", "Microsoft.Sql/servers/firewallRules/delete"),
    cli="az sql server firewall-rule delete --ids {target}",
    fetch=fetch_firewall_rule,
    wanted=lambda call, state: {"exists": False},
    apply=_delete_rule,
)
