"""Azure network security group rules. The target is the rule's ARM id
(``.../networkSecurityGroups/<nsg>/securityRules/<rule>``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from escher.ops._common import missing_as_not_found, parse_arm_id
from escher.ops.model import Call, Params, Risk, operation

RULE = ("networkSecurityGroups", "securityRules")


def _network(call: Call) -> tuple[Any, Any]:
    arm = parse_arm_id(call.target.resource_id, *RULE)
    return call.ctx.azure("network", arm.subscription), arm


def _get_rule(call: Call) -> Any:
    client, arm = _network(call)
    return client.security_rules.get(arm.resource_group, arm.parent, arm.name)


def fetch_rule_exists(call: Call) -> dict[str, Any]:
    try:
        rule = _get_rule(call)
    except call.ctx.sdk_errors("azure") as exc:
        if call.ctx.is_not_found("azure", exc):
            return {"exists": False}
        raise
    return {"exists": True, "access": rule.access, "direction": rule.direction, "sources": _sources(rule)}


def _sources(rule: Any) -> list[str]:
    prefixes = list(rule.source_address_prefixes or [])
    if rule.source_address_prefix:
        prefixes.append(rule.source_address_prefix)
    return sorted(prefixes)


def _delete(call: Call, state: dict[str, Any]) -> None:
    client, arm = _network(call)
    client.security_rules.begin_delete(arm.resource_group, arm.parent, arm.name).result()


operation(
    id="azure.network.remove_nsg_rule",
    description="Delete a rule from a network security group.",
    risk=Risk.high,
    permissions=(
        "Microsoft.Network/networkSecurityGroups/securityRules/read",
        "Microsoft.Network/networkSecurityGroups/securityRules/delete",
    ),
    cli="az network nsg rule delete --ids {target}",
    fetch=fetch_rule_exists,
    wanted=lambda call, state: {"exists": False},
    apply=_delete,
)


class RestrictParams(Params):
    sources: list[str] = Field(
        min_length=1, description="the CIDRs (or service tags) the rule keeps allowing"
    )


def fetch_rule(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "NSG rule"):
        rule = _get_rule(call)
    return {"sources": _sources(rule), "access": rule.access, "direction": rule.direction}


def _restrict(call: Call, state: dict[str, Any]) -> None:
    client, arm = _network(call)
    rule = client.security_rules.get(arm.resource_group, arm.parent, arm.name)
    wanted = sorted(call.params.sources)
    rule.source_address_prefix = wanted[0] if len(wanted) == 1 else None
    rule.source_address_prefixes = wanted if len(wanted) > 1 else []
    client.security_rules.begin_create_or_update(arm.resource_group, arm.parent, arm.name, rule).result()


operation(
    id="azure.network.restrict_nsg_rule",
    description="Narrow an NSG rule's sources (e.g. from * or Internet to the office CIDR).",
    risk=Risk.medium,
    permissions=(
        "Microsoft.Network/networkSecurityGroups/securityRules/read",
        "Microsoft.Network/networkSecurityGroups/securityRules/write",
    ),
    cli="az network nsg rule update --ids {target} --source-address-prefixes {sources}",
    fetch=fetch_rule,
    wanted=lambda call, state: {"sources": sorted(call.params.sources)},
    apply=_restrict,
    params=RestrictParams,
    reversible=True,
)
