"""Azure SQL: pause/resume databases, remove server firewall rules. Targets are ARM ids."""

from __future__ import annotations

from typing import Any

from escher.ops._common import missing_as_not_found, parse_arm_id
from escher.ops.model import Call, Risk, operation

DATABASE = ("servers", "databases")
FIREWALL_RULE = ("servers", "firewallRules")


def _sql(call: Call, *types: str) -> tuple[Any, Any]:
    arm = parse_arm_id(call.target.resource_id, *types)
    return call.ctx.azure("sql", arm.subscription), arm


def fetch_database(call: Call) -> dict[str, Any]:
    client, arm = _sql(call, *DATABASE)
    with missing_as_not_found(call, "SQL database"):
        db = client.databases.get(arm.resource_group, arm.parent, arm.name)
    return {"status": db.status}


def _db_action(method: str) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        client, arm = _sql(call, *DATABASE)
        getattr(client.databases, method)(arm.resource_group, arm.parent, arm.name).result()

    return apply


operation(
    id="azure.sql.pause_database",
    description="Pause a serverless or Synapse SQL database (compute billing stops).",
    risk=Risk.medium,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/pause/action"),
    cli="az sql db pause --ids {target}",
    fetch=fetch_database,
    wanted=lambda call, state: {"status": "Paused"},
    apply=_db_action("begin_pause"),
    inverse="azure.sql.resume_database",
    reversible=True,
)

operation(
    id="azure.sql.resume_database",
    description="Resume a paused SQL database.",
    risk=Risk.low,
    permissions=("Microsoft.Sql/servers/databases/read", "Microsoft.Sql/servers/databases/resume/action"),
    cli="az sql db resume --ids {target}",
    fetch=fetch_database,
    wanted=lambda call, state: {"status": "Online"},
    apply=_db_action("begin_resume"),
    inverse="azure.sql.pause_database",
    reversible=True,
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
