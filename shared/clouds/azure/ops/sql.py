"""Azure SQL: pause/resume a dedicated SQL pool, a serverless database's auto-pause delay, a database's maximum
size and its SKU, server firewall rules. Targets are ARM ids (``.../providers/Microsoft.Sql/servers/<server>/databases/<database>``).

What the API supports, per azure-rest-api-specs (Microsoft.Sql, api-version 2025-01-01 as azure-mgmt-sql sends):

- ``POST .../databases/{db}/pause`` and ``/resume`` act on a dedicated SQL pool (formerly SQL DW: a database of the
  DataWarehouse edition) only. A serverless database (a ``*_S_*`` vCore SKU, kind ``...,serverless``) pauses
  itself after ``autoPauseDelay`` minutes without connections and resumes on the next connection; asking the API
  to pause one fails. So both are refused at plan time for anything but a DataWarehouse database, saying what
  to do instead;
- ``PATCH .../databases/{db}`` with ``properties.autoPauseDelay`` sets when a serverless database pauses itself
  (minutes; -1 turns auto-pause off): :data:`azure.sql.set_auto_pause_delay`;
- ``PATCH .../databases/{db}`` with ``properties.maxSizeBytes`` grows the most data the database may hold
  (:data:`azure.sql.increase_max_size`, what a storage_percent alert near capacity calls for), and with ``sku``
  changes its service objective (:data:`azure.sql.resize_database`, ``az sql db update --service-objective``).
  Azure accepts only the sizes the edition offers (whole GB for vCore; a fixed list for DTU tiers): a size it
  does not offer is refused with its own message, which the ledger records;
- there is **no restart**: the Databases API has no restart or reboot operation (the nearest, ``POST
  .../failover``, moves a database to another replica and is not built here). A stuck database is a support
  case, not a remediation.

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


GIB = 1024**3
MAX_SIZE_BYTES = 4 * 1024**4  # 4 TB: the most any single database edition offers (Hyperscale excepted)


class IncreaseMaxSizeParams(Params):
    increase_percent: int = Field(
        default=25, ge=1, le=300, description="grow the maximum size by this much (rounded up to a whole GB)"
    )
    max_size_gb: int | None = Field(
        default=None, ge=1, description="this maximum size in GB instead of a percentage (must be larger)"
    )


def fetch_size(call: Call) -> dict[str, Any]:
    client, arm = _sql(call, *DATABASE)
    with missing_as_not_found(call, "SQL database"):
        db = client.databases.get(arm.resource_group, arm.parent, arm.name)
    sku = db.sku
    return {
        "status": _text(db.status),
        "sku": _text(sku.name) if sku else None,
        "tier": _text(sku.tier) if sku else None,
        "capacity": sku.capacity if sku else None,
        "service_objective": db.current_service_objective_name,
        "max_size_bytes": db.max_size_bytes,
    }


def grown_max_size(call: Call, state: dict[str, Any]) -> int:
    """The maximum size to ask for: the parameter, else the current one grown by the percentage (whole GB)."""
    if call.params.max_size_gb is not None:
        return int(call.params.max_size_gb) * GIB
    current = int(state["max_size_bytes"] or 0)
    grown = -(-current * (100 + int(call.params.increase_percent)) // 100)
    return min(-(-grown // GIB) * GIB, MAX_SIZE_BYTES)


def _increase_max_size(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    name = call.target.resource_id
    if state["max_size_bytes"] is None:
        raise OpError(
            f"SQL database {name} reports no maximum size (an elastic pool's or Hyperscale database's storage "
            "grows with the pool or by itself)",
            hint="grow the elastic pool's maximum size in the portal or with 'az sql elastic-pool update'",
        )
    size = grown_max_size(call, state)
    if size <= int(state["max_size_bytes"]):
        raise OpError(
            f"SQL database {name} already has a maximum size of {int(state['max_size_bytes']) // GIB} GB: "
            f"{size // GIB} GB would not grow it",
            hint="ask for a larger max_size_gb, or move it to an edition that offers more (azure.sql.resize_database)",
        )
    client, arm = _sql(call, *DATABASE)
    body = {"properties": {"maxSizeBytes": size}}
    arm_wait(
        call,
        client.databases.begin_update(arm.resource_group, arm.parent, arm.name, body),
        "grow the maximum size of",
    )
    return {"max_size_bytes_before": state["max_size_bytes"], "max_size_bytes_requested": size}


operation(
    id="azure.sql.increase_max_size",
    description="Grow a SQL database's maximum size (25 % unless told, whole GB): no downtime; the edition must "
    "offer the size. What a storage_percent alert near capacity calls for.",
    risk=Risk.medium,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/write"),
    cli="az sql db update --ids {target} --max-size <current + {increase_percent}%>",
    fetch=fetch_size,
    # from the size read before the change: verify reads the new size and must not want yet more
    wanted=lambda call, state: {"max_size_bytes": grown_max_size(call, state)},
    apply=_increase_max_size,
    params=IncreaseMaxSizeParams,
    verify_timeout=600.0,
)


class ResizeDatabaseParams(Params):
    sku: str = Field(
        pattern=r"^[A-Za-z0-9_]+$",
        description="the SKU name: a DTU objective (S3, P1, ...) or a vCore family (GP_Gen5, BC_Gen5, GP_S_Gen5)",
    )
    capacity: int | None = Field(
        default=None, ge=1, description="vCores (or DTUs) for the SKU; leave out for a DTU objective like S3"
    )


def _objective(call: Call) -> str:
    """The service objective the database reports once scaled: ``S3`` for a DTU objective, ``GP_Gen5_4`` for
    a vCore family with its capacity (a DTU database's ``sku.name`` is its edition, ``Standard``, so the
    objective is what proves the change)."""
    sku = str(call.params.sku)
    return sku if call.params.capacity is None else f"{sku}_{call.params.capacity}"


def _resize_wanted(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    return {"service_objective": _objective(call), "status": "Online"}


def _resize_database(call: Call, state: dict[str, Any]) -> dict[str, Any]:
    if state["status"] != "Online":
        raise OpError(
            f"SQL database {call.target.resource_id} is {state['status']}, not Online: it cannot be scaled now",
            hint="run this again when it is Online (a paused serverless database wakes on a connection)",
        )
    sku: dict[str, Any] = {"name": call.params.sku}
    if call.params.capacity is not None:
        sku["capacity"] = call.params.capacity
    client, arm = _sql(call, *DATABASE)
    arm_wait(
        call,
        client.databases.begin_update(arm.resource_group, arm.parent, arm.name, {"sku": sku}),
        "change the SKU of",
    )
    return {"sku_before": state["sku"], "capacity_before": state["capacity"]}


operation(
    id="azure.sql.resize_database",
    description="Change a SQL database's SKU (service objective): it stays online, but open connections drop "
    "when the new compute takes over. Always asks for an approval.",
    risk=Risk.high,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/write"),
    cli="az sql db update --ids {target} --service-objective {sku} [--capacity {capacity}]",
    fetch=fetch_size,
    wanted=_resize_wanted,
    apply=_resize_database,
    params=ResizeDatabaseParams,
    verify_timeout=1800.0,
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
