"""Azure inventory: ARM (storage accounts, VMs with CPU and backup, disks, snapshots, NSGs with flow logs, VNets,
VPN gateways, Application Gateways with their WAF policies, SQL servers and databases, Key Vault, function apps,
Databricks, the subscription's Activity Log export, alerts, roles and Defender settings), the Blob data plane
(containers), the Key Vault data plane (keys, secrets and certificates: metadata, never a value) and Microsoft
Graph (the Entra ID tenant's security defaults, Conditional Access policies and MFA registration).

Clients come from :class:`escher.ops.context.CloudContext`, the same object the operations use, so an
azure-core transport handed in there (tests replay recorded-shape ARM responses at it) carries every call;
the SDK's own paging follows ``nextLink``. Where no azure-mgmt package is installed (Key Vault, Recovery
Services, Monitor, Security, Web) the documented REST call goes through an installed management client's own
pipeline (``send_request``: the same credential, retry policy and transport). The normalizers below are pure
functions over the REST shapes (``model.as_dict()`` gives them back), so they are tested without any SDK.

A part of a task that cannot be read (a VM's CPU metrics, the backup vaults, Network Watcher's flow logs)
leaves its attribute off the records, so the matching check gives no verdict, and is reported as not read.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from escher.lazy import require
from escher.scans.collect.base import Produces, Progress, Task, produces, run_tasks
from escher.scans.collect.metrics import cpu_attrs, parse_time, window
from escher.scans.model import CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

__all__ = [
    "PRODUCES",
    "AzureCollector",
    "alerted_operations",
    "diagnostic_logs_sent",
    "normalize_app_gateway",
    "normalize_databricks_workspace",
    "normalize_disk",
    "normalize_entra_tenant",
    "normalize_function_app",
    "normalize_nsg",
    "normalize_snapshot",
    "normalize_sql_database",
    "normalize_sql_server",
    "normalize_storage_account",
    "normalize_subscription",
    "normalize_vault",
    "normalize_vm",
    "normalize_vnet",
    "normalize_vpn_gateway",
    "port_ranges",
    "requires_mfa_for_all",
    "role_facts",
    "security_contact",
    "vault_audit_logged",
    "vault_contents",
    "vnet_gateway_ids",
]

GLOBAL = "global"
# api-versions of the calls made through a client's pipeline (the azure-rest-api-specs stable versions)
KEYVAULT_API = "2023-07-01"
# the Key Vault data plane (keys, secrets, certificates): its own host and token scope
KEYVAULT_DATA_API = "7.5"
VAULT_DATA_HINT = (
    "give the scanning identity the Key Vault Reader role on the vault (RBAC vaults), or an access policy with "
    "keys list/get, secrets list and certificates list/get (access-policy vaults); a vault reachable only "
    "through a private endpoint must be scanned from inside its network"
)
# Microsoft Graph (Entra ID): its own host and token scope; a sovereign cloud's Graph (or a test's stand-in) is
# named in ESCHER_AZURE_GRAPH_ENDPOINT
GRAPH_ENDPOINT = "https://graph.microsoft.com"
GRAPH_ENDPOINT_ENV = "ESCHER_AZURE_GRAPH_ENDPOINT"
GRAPH_POLICY_HINT = (
    "grant the scanning app registration the Microsoft Graph application permission Policy.Read.All, with "
    "admin consent (Entra ID > App registrations > API permissions)"
)
GRAPH_REPORT_HINT = (
    "grant the scanning app registration the Microsoft Graph application permission AuditLog.Read.All, with "
    "admin consent; the registration report also needs Entra ID P1 or P2 in the tenant"
)
# the error Graph's reports answer in a tenant without Entra ID P1/P2
GRAPH_NO_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
MONITOR_METRICS_API = "2023-10-01"
DIAGNOSTIC_SETTINGS_API = "2021-05-01-preview"
SECURITY_PRICINGS_API = "2024-01-01"
ACTIVITY_LOG_ALERTS_API = "2020-10-01"
AUTHORIZATION_API = "2022-04-01"
NETWORK_API = "2024-05-01"
FILE_KINDS = frozenset({"StorageV2", "Storage", "FileStorage"})  # account kinds that hold Azure Files
DATABRICKS_API = "2024-05-01"
APP_INSIGHTS_API = "2020-02-02"  # Microsoft.Insights/components
SECURITY_SETTINGS_API = "2022-05-01"  # Microsoft.Security/settings (WDATP: Defender for Endpoint)
# the minimum TLS version of Application Gateway's predefined TLS policies (the TLS policy overview)
PREDEFINED_TLS_POLICIES = {
    "AppGwSslPolicy20150501": "TLSv1_0",
    "AppGwSslPolicy20170401": "TLSv1_1",
    "AppGwSslPolicy20170401S": "TLSv1_2",
    "AppGwSslPolicy20220101": "TLSv1_2",
    "AppGwSslPolicy20220101S": "TLSv1_2",
}
BOT_MANAGER_RULE_SET = "Microsoft_BotManagerRuleSet"
# subnets Azure keeps free of NSGs (gateways, firewalls, Route Server): out of CIS Azure 7.11's scope
NO_NSG_SUBNETS = frozenset(
    {"gatewaysubnet", "azurefirewallsubnet", "azurefirewallmanagementsubnet", "routeserversubnet"}
)
OWNER_ROLE = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # built-in role definition ids (the same in every tenant)
USER_ACCESS_ADMIN_ROLE = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
SECURITY_CONTACTS_API = "2023-12-01-preview"  # notificationsSources (alerts, attack paths) arrived here
RECOVERY_SERVICES_API = "2023-04-01"
WEB_API = "2024-11-01"  # Microsoft.Web, as escher.clouds.azure.ops.functions calls it
BACKUP_PROTECTED = frozenset({"Protected", "IRPending"})  # protectionState of an item whose backups run

# What each task yields (record type -> attrs). tests/functional/scans/test_every_check_fed.py holds it to
# the records the tasks return on the replayed estate, both ways.
PRODUCES: dict[str, Produces] = {
    "storage": produces({
        "azure.storage.account": "allow_blob_public_access https_only min_tls network_default_action "
                                 "infrastructure_encryption blob_endpoint kind allow_shared_key_access "
                                 "public_network_access cross_tenant_replication default_oauth "
                                 "trusted_services_bypass private_endpoints key_expiration_days blob_soft_delete "
                                 "container_soft_delete versioning sku oldest_key_created file_soft_delete "
                                 "smb_versions smb_channel_encryption",
    }),
    "blob": produces({"azure.storage.container": "public_access storage_account"}),
    "compute": produces({
        "azure.compute.vm": "vm_size power_state managed_disks os_type disks backup_protected "
                            "cpu_days cpu_max_daily_7d cpu_days_30d cpu_avg_30d patch_assessment",
    }),
    "disks": produces({"azure.compute.disk": "disk_state size_gb encryption_type sku managed_by created"}),
    "snapshots": produces({
        "azure.compute.snapshot": "public_network_access size_gb created source_disk encryption_type incremental",
    }),
    "network": produces({
        "azure.network.nsg": "rules subnets flow_logs nsg_flow_log_retention vnet_flow_log_retention",
        "azure.network.vnet": "ddos_protection subnets_without_nsg network_watcher",
        "azure.network.vpn_gateway": "gateway_type p2s_auth_types",
    }),
    "appgateway": produces({
        "azure.network.app_gateway": "sku_tier min_tls http2 waf_policy waf request_body_check bot_protection",
    }),
    "sql": produces({
        "azure.sql.server": "public_network_access min_tls fqdn auditing",
        "azure.sql.database": "server status sku tde backup_retention_days",
    }),
    "keyvault": produces({
        "azure.keyvault.vault": "soft_delete purge_protection soft_delete_retention_days rbac_authorization "
                                "public_network_access network_default_action private_endpoints audit_logged "
                                "keys_without_expiry secrets_without_expiry keys_without_rotation "
                                "long_lived_certificates",
    }),
    "functions": produces({"azure.web.function_app": "state kind"}),
    "databricks": produces({
        "azure.databricks.workspace": "custom_vnet vnet_subnets no_public_ip public_network_access "
                                      "private_endpoints diagnostic_logs",
    }),
    "graph": produces({
        "azure.entra.tenant": "security_defaults ca_policies ca_mfa_all_users users_without_mfa",
    }),
    "monitor": produces({
        "azure.monitor.subscription": "diagnostic_settings activity_log_exported exported_categories "
                                      "defender_plans alerted_operations security_contact owners "
                                      "root_access_admins custom_admin_roles bastion_hosts app_insights "
                                      "endpoint_protection",
    }),
}  # fmt: skip


def _rest(item: Any) -> dict[str, Any]:
    """The REST shape of an azure-mgmt model (the typespec models are mappings with ``as_dict``)."""
    if isinstance(item, Mapping):
        return dict(item.as_dict()) if hasattr(item, "as_dict") else dict(item)
    data: dict[str, Any] = item.as_dict()
    return data


def resource_group(arm_id: str) -> str:
    parts = arm_id.split("/")
    return parts[4] if len(parts) > 4 and parts[3].lower() == "resourcegroups" else ""


def _props(raw: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = raw.get("properties") or {}
    return props


def _record(raw: dict[str, Any], type_: str, subscription: str, attrs: dict[str, Any]) -> Record:
    return Record(
        cloud="azure",
        type=type_,
        id=str(raw["id"]),
        region=str(raw.get("location") or GLOBAL),
        account=subscription,
        name=str(raw.get("name") or ""),
        tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
        attrs=attrs,
    )


# -- normalizers (REST shape -> Record) ----------------------------------------------------------------------
def _approved_endpoints(props: dict[str, Any]) -> int:
    """Private endpoint connections of a resource whose connection the owner approved."""
    return sum(
        1
        for c in props.get("privateEndpointConnections") or []
        if ((_props(c).get("privateLinkServiceConnectionState") or {}).get("status")) == "Approved"
    )


def normalize_storage_account(
    raw: dict[str, Any],
    subscription: str,
    blob_service: dict[str, Any] | None = None,
    file_service: dict[str, Any] | None = None,
) -> Record:
    p = _props(raw)
    attrs: dict[str, Any] = {
        # absent means the platform default: false for accounts created since 2023, true before (the API
        # only returns the property once someone set it); we report what the API says and treat absent as None
        "allow_blob_public_access": p.get("allowBlobPublicAccess"),
        "https_only": p.get("supportsHttpsTrafficOnly"),
        "min_tls": p.get("minimumTlsVersion"),
        "network_default_action": (p.get("networkAcls") or {}).get("defaultAction"),
        "infrastructure_encryption": bool((p.get("encryption") or {}).get("requireInfrastructureEncryption")),
        "blob_endpoint": (p.get("primaryEndpoints") or {}).get("blob"),
        "kind": raw.get("kind"),
        # absent: shared keys allowed, public network access enabled, Entra ID not the portal default; cross-
        # tenant replication absent is off (the default for accounts since December 2023)
        "allow_shared_key_access": p.get("allowSharedKeyAccess") is not False,
        "public_network_access": p.get("publicNetworkAccess") or "Enabled",
        "cross_tenant_replication": bool(p.get("allowCrossTenantReplication")),
        "default_oauth": bool(p.get("defaultToOAuthAuthentication")),
        "private_endpoints": _approved_endpoints(p),
        "key_expiration_days": (p.get("keyPolicy") or {}).get("keyExpirationPeriodInDays"),
        "trusted_services_bypass": "AzureServices"
        in str((p.get("networkAcls") or {}).get("bypass", "AzureServices")),
        "sku": (raw.get("sku") or {}).get("name"),
        # when the older of the two access keys was last (re)generated; None: the API does not say
        "oldest_key_created": min(
            (str(t) for t in (p.get("keyCreationTime") or {}).values() if t), default=None
        ),
    }
    if blob_service is not None:
        blob = _props(blob_service)
        attrs["blob_soft_delete"] = bool((blob.get("deleteRetentionPolicy") or {}).get("enabled"))
        attrs["container_soft_delete"] = bool(
            (blob.get("containerDeleteRetentionPolicy") or {}).get("enabled")
        )
        attrs["versioning"] = bool(blob.get("isVersioningEnabled"))
    if file_service is not None:  # Azure Files (CIS 9.1.x); SMB settings absent: every version and cipher
        files = _props(file_service)
        smb = (files.get("protocolSettings") or {}).get("smb") or {}
        attrs["file_soft_delete"] = bool((files.get("shareDeleteRetentionPolicy") or {}).get("enabled"))
        attrs["smb_versions"] = [v for v in str(smb.get("versions") or "").split(";") if v] or None
        attrs["smb_channel_encryption"] = [
            c for c in str(smb.get("channelEncryption") or "").split(";") if c
        ] or None
    return _record(raw, "azure.storage.account", subscription, attrs)


def _power_state(status_view: dict[str, Any] | None) -> str | None:
    statuses = (_props(status_view or {}).get("instanceView") or {}).get("statuses") or []
    for status in statuses:
        code = str(status.get("code") or "")
        if code.startswith("PowerState/"):
            return code.split("/", 1)[1]
    return None


def normalize_vm(raw: dict[str, Any], subscription: str, status_view: dict[str, Any] | None = None) -> Record:
    p = _props(raw)
    storage = p.get("storageProfile") or {}
    os_disk = storage.get("osDisk") or {}
    os_profile = p.get("osProfile") or {}
    os_config = os_profile.get("linuxConfiguration") or os_profile.get("windowsConfiguration") or {}
    attrs: dict[str, Any] = {
        # how the VM is assessed for missing OS updates: AutomaticByPlatform (every 24 hours) or ImageDefault
        # (on demand only; also what an absent setting means) - CIS Azure 8.1.10, Azure Policy bd876905
        "patch_assessment": (os_config.get("patchSettings") or {}).get("assessmentMode") or "ImageDefault",
        "vm_size": (p.get("hardwareProfile") or {}).get("vmSize"),
        "power_state": _power_state(status_view),
        "managed_disks": "managedDisk" in os_disk and "vhd" not in os_disk,
        "os_type": os_disk.get("osType"),
        "disks": [
            d["managedDisk"]["id"]
            for d in [os_disk, *(storage.get("dataDisks") or [])]
            if (d.get("managedDisk") or {}).get("id")
        ],
    }
    return _record(raw, "azure.compute.vm", subscription, attrs)


def normalize_disk(raw: dict[str, Any], subscription: str) -> Record:
    p = _props(raw)
    attrs = {
        "disk_state": p.get("diskState"),
        "size_gb": p.get("diskSizeGB"),
        "encryption_type": (p.get("encryption") or {}).get("type"),
        "sku": (raw.get("sku") or {}).get("name"),
        "managed_by": raw.get("managedBy"),
        "created": p.get("timeCreated"),
    }
    return _record(raw, "azure.compute.disk", subscription, attrs)


def port_ranges(single: str | None, many: list[str] | None) -> list[tuple[int, int]]:
    """``"22"``, ``"1000-2000"``, ``"*"`` (and the plural property) as inclusive (low, high) pairs."""
    out: list[tuple[int, int]] = []
    for spec in [single, *(many or [])]:
        if not spec:
            continue
        spec = str(spec).strip()
        if spec == "*":
            out.append((0, 65535))
        elif "-" in spec:
            lo, hi = spec.split("-", 1)
            out.append((int(lo), int(hi)))
        else:
            out.append((int(spec), int(spec)))
    return out


def normalize_nsg(raw: dict[str, Any], subscription: str) -> Record:
    p = _props(raw)
    rules = []
    for rule in [*(p.get("securityRules") or []), *(p.get("defaultSecurityRules") or [])]:
        rp = _props(rule)
        sources = [rp.get("sourceAddressPrefix"), *(rp.get("sourceAddressPrefixes") or [])]
        rules.append(
            {
                "name": rule.get("name"),
                "direction": rp.get("direction"),
                "access": rp.get("access"),
                "protocol": rp.get("protocol"),
                "priority": rp.get("priority"),
                "sources": [str(s) for s in sources if s],
                "port_ranges": port_ranges(rp.get("destinationPortRange"), rp.get("destinationPortRanges")),
            }
        )
    subnets = [str(s["id"]) for s in p.get("subnets") or [] if s.get("id")]
    return _record(raw, "azure.network.nsg", subscription, {"rules": rules, "subnets": subnets})


def normalize_vnet(raw: dict[str, Any], subscription: str) -> Record:
    p = _props(raw)
    bare = [
        str(sn.get("name"))
        for sn in p.get("subnets") or []
        if not (_props(sn).get("networkSecurityGroup") or {}).get("id")
        and str(sn.get("name")).lower() not in NO_NSG_SUBNETS
    ]
    attrs = {"ddos_protection": bool(p.get("enableDdosProtection")), "subnets_without_nsg": sorted(bare)}
    return _record(raw, "azure.network.vnet", subscription, attrs)


def vnet_gateway_ids(raw_vnets: list[dict[str, Any]]) -> list[str]:
    """The virtual network gateways (VPN, ExpressRoute) on the VNets' GatewaySubnets, from the IP configurations
    the subnets list: Virtual Network Gateways has no subscription-wide list, only one per resource group."""
    out: set[str] = set()
    for vnet in raw_vnets:
        for subnet in _props(vnet).get("subnets") or []:
            for ip in _props(subnet).get("ipConfigurations") or []:
                ip_id = str(ip.get("id") or "")
                if "/virtualnetworkgateways/" in ip_id.lower():
                    out.add(ip_id.split("/ipConfigurations/")[0])
    return sorted(out)


def normalize_vpn_gateway(raw: dict[str, Any], subscription: str) -> Record:
    """A virtual network gateway: its type (``Vpn``, ``ExpressRoute``) and the point-to-site authentication
    types (``AAD``, ``Certificate``, ``Radius``); None: no point-to-site configuration."""
    p = _props(raw)
    p2s = p.get("vpnClientConfiguration")
    auth = None
    if p2s and (p2s.get("vpnClientAddressPool") or {}).get("addressPrefixes"):
        auth = sorted(str(t) for t in p2s.get("vpnAuthenticationTypes") or [])
        if not auth:  # before vpnAuthenticationTypes: what is configured says which
            auth = sorted(
                t
                for t, keys in (
                    ("AAD", ("aadTenant",)),
                    ("Certificate", ("vpnClientRootCertificates",)),
                    ("Radius", ("radiusServerAddress", "radiusServers")),
                )
                if any(p2s.get(k) for k in keys)
            )
    attrs = {"gateway_type": p.get("gatewayType"), "p2s_auth_types": auth}
    return _record(raw, "azure.network.vpn_gateway", subscription, attrs)


def app_gateway_min_tls(ssl_policy: dict[str, Any] | None) -> str | None:
    """The lowest TLS version a gateway's TLS policy accepts: stated for a custom policy, implied by a
    predefined one's name; None when no policy is set (the default then depends on the API version the
    gateway was last deployed with: AppGwSslPolicy20150501, TLS 1.0, before 2023-02-01)."""
    if not ssl_policy:
        return None
    if ssl_policy.get("minProtocolVersion"):
        return str(ssl_policy["minProtocolVersion"])
    return PREDEFINED_TLS_POLICIES.get(str(ssl_policy.get("policyName")))


def normalize_app_gateway(
    raw: dict[str, Any], subscription: str, waf_policies: dict[str, dict[str, Any]] | None = None
) -> Record:
    """An Application Gateway: SKU tier, minimum TLS, HTTP/2, and, when the WAF policies were read
    (``waf_policies``: id in lower case -> policy), whether its WAF is on and inspects request bodies and
    runs the bot manager rule set. A gateway on a WAF tier uses its linked WAF policy, else its legacy
    in-gateway WAF configuration (which has no bot protection); on another tier it has no WAF."""
    p = _props(raw)
    tier = str((p.get("sku") or {}).get("tier") or "")
    policy_id = (p.get("firewallPolicy") or {}).get("id")
    attrs: dict[str, Any] = {
        "sku_tier": tier or None,
        "min_tls": app_gateway_min_tls(p.get("sslPolicy")),
        "http2": bool(p.get("enableHttp2")),
        "waf_policy": policy_id,
    }
    if waf_policies is not None:
        waf, body, bots = False, None, None
        legacy = p.get("webApplicationFirewallConfiguration") or {}
        if tier.startswith("WAF") and policy_id:
            policy = waf_policies.get(str(policy_id).lower())
            waf = True  # linked; a policy in another subscription is not listed here, so its settings are unknown
            if policy is not None:
                settings = _props(policy).get("policySettings") or {}
                waf = settings.get("state", "Enabled") == "Enabled"
                body = settings.get("requestBodyCheck") is not False  # absent: the default, on
                bots = any(
                    rs.get("ruleSetType") == BOT_MANAGER_RULE_SET
                    for rs in (_props(policy).get("managedRules") or {}).get("managedRuleSets") or []
                )
        elif tier.startswith("WAF") and legacy.get("enabled"):
            waf, body, bots = True, legacy.get("requestBodyCheck") is not False, False
        attrs.update(
            {"waf": waf, "request_body_check": body if waf else None, "bot_protection": bots if waf else None}
        )
    return _record(raw, "azure.network.app_gateway", subscription, attrs)


def flow_logged(nsg: Record, targets: set[str]) -> bool:
    """Whether an enabled flow log covers the NSG: NSG flow logs name it; VNet flow logs name the virtual
    network or subnet the NSG is on (what Microsoft moves NSG flow logs to)."""
    scopes = {nsg.id.lower()}
    for subnet in nsg.attrs.get("subnets") or []:
        scopes.add(subnet.lower())
        scopes.add(subnet.lower().split("/subnets/")[0])
    return bool(scopes & targets)


def flow_log_retention(nsg: Record, retention: dict[str, int]) -> tuple[int | None, int | None]:
    """Days the enabled flow logs covering the NSG keep their records (0: forever), the shortest of each kind:
    (NSG flow logs naming it, VNet flow logs naming its subnet or virtual network); None: no such flow log."""
    own = retention.get(nsg.id.lower())
    scopes = set()
    for subnet in nsg.attrs.get("subnets") or []:
        scopes |= {subnet.lower(), subnet.lower().split("/subnets/")[0]}
    vnet = [retention[s] for s in scopes if s in retention]
    return own, (min(vnet, key=lambda d: d or 10**6) if vnet else None)


def normalize_snapshot(raw: dict[str, Any], subscription: str) -> Record:
    p = _props(raw)
    attrs = {
        # absent: the API default, Enabled (an export SAS works from anywhere)
        "public_network_access": p.get("publicNetworkAccess", "Enabled"),
        "size_gb": p.get("diskSizeGB"),
        "created": p.get("timeCreated"),
        "source_disk": (p.get("creationData") or {}).get("sourceResourceId"),
        "encryption_type": (p.get("encryption") or {}).get("type"),
        "incremental": bool(p.get("incremental")),
    }
    return _record(raw, "azure.compute.snapshot", subscription, attrs)


def normalize_vault(raw: dict[str, Any], subscription: str) -> Record:
    """A Key Vault (Microsoft.KeyVault/vaults). ``enableSoftDelete`` absent is true: the API's default since
    2020, and it cannot be turned off; ``enablePurgeProtection`` absent is off."""
    p = _props(raw)
    attrs = {
        "soft_delete": p.get("enableSoftDelete", True) is not False,
        "purge_protection": bool(p.get("enablePurgeProtection")),
        "soft_delete_retention_days": p.get("softDeleteRetentionInDays"),
        "rbac_authorization": bool(p.get("enableRbacAuthorization")),
        "public_network_access": p.get("publicNetworkAccess"),
        "network_default_action": (p.get("networkAcls") or {}).get("defaultAction"),
        "private_endpoints": _approved_endpoints(p),
    }
    return _record(raw, "azure.keyvault.vault", subscription, attrs)


def normalize_sql_database(
    raw: dict[str, Any],
    subscription: str,
    tde: dict[str, Any] | None = None,
    retention: dict[str, Any] | None = None,
) -> Record:
    p = _props(raw)
    attrs: dict[str, Any] = {
        "server": raw["id"].split("/databases/")[0],
        "status": p.get("status"),
        "sku": (raw.get("sku") or {}).get("name"),
    }
    if tde is not None:
        attrs["tde"] = _props(tde).get("state") == "Enabled"
    if retention is not None:
        attrs["backup_retention_days"] = _props(retention).get("retentionDays")
    return _record(raw, "azure.sql.database", subscription, attrs)


def alerted_operations(subscription: str, alerts: list[dict[str, Any]]) -> list[str]:
    """What the enabled Activity Log alerts scoped to the whole subscription fire on: each operation name a
    condition equals (lower case, as ARM compares them), and ``category:<name>`` for an alert on a category
    with no operation named (CIS Azure 6.1.2.11 wants ``category:servicehealth``)."""
    scope = f"/subscriptions/{subscription}".lower()
    out: set[str] = set()
    for alert in alerts:
        props = _props(alert)
        if props.get("enabled") is False or scope not in {
            str(s).lower().rstrip("/") for s in props.get("scopes") or []
        }:
            continue
        leaves = [
            leaf
            for cond in (props.get("condition") or {}).get("allOf") or []
            for leaf in (cond.get("anyOf") or [cond])
        ]
        operations = {
            str(c.get("equals")).lower() for c in leaves if str(c.get("field")).lower() == "operationname"
        }
        categories = {
            str(c.get("equals")).lower() for c in leaves if str(c.get("field")).lower() == "category"
        }
        out |= operations or {f"category:{c}" for c in categories}
    return sorted(out)


def security_contact(contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """Who Defender for Cloud notifies, merged over the subscription's enabled security contacts (there is at
    most one, ``default``): the email addresses, the roles notified, and the lowest alert severity and attack
    path risk level that notify (None: that source is off)."""
    out: dict[str, Any] = {"emails": [], "roles": [], "alert_severity": None, "attack_path_risk": None}
    for contact in contacts:
        props = _props(contact)
        if props.get("isEnabled") is False:
            continue
        out["emails"] += [e.strip() for e in str(props.get("emails") or "").split(";") if e.strip()]
        by_role = props.get("notificationsByRole") or {}
        if by_role.get("state") == "On":
            out["roles"] += [str(r) for r in by_role.get("roles") or []]
        for source in props.get("notificationsSources") or []:
            if source.get("sourceType") == "Alert":
                out["alert_severity"] = source.get("minimalSeverity")
            elif source.get("sourceType") == "AttackPath":
                out["attack_path_risk"] = source.get("minimalRiskLevel")
    return out


def role_facts(
    subscription: str, assignments: list[dict[str, Any]], definitions: list[dict[str, Any]]
) -> dict[str, list[str]]:
    """From the role assignments and custom role definitions visible at the subscription: the principals
    holding Owner on the subscription itself (CIS Azure 5.7 wants 2 or 3), those holding User Access
    Administrator at the root scope ``/`` (what "elevate access" grants a Global Administrator, 5.3.3), and
    custom roles assignable here that allow every action (``*``, 5.4)."""
    scope = f"/subscriptions/{subscription}".lower()

    def holders(role: str, at: str) -> list[str]:
        return sorted(
            {
                str(_props(a).get("principalId"))
                for a in assignments
                if str(_props(a).get("roleDefinitionId", "")).lower().endswith(role)
                and str(_props(a).get("scope", "")).lower().rstrip("/") == at
            }
        )

    custom_admins = sorted(
        str(_props(d).get("roleName") or d.get("name"))
        for d in definitions
        if _props(d).get("type") == "CustomRole"
        and any(str(s).lower().rstrip("/") in ("", scope) for s in _props(d).get("assignableScopes") or [])
        and any("*" in (p.get("actions") or []) for p in _props(d).get("permissions") or [])
    )
    return {
        "owners": holders(OWNER_ROLE, scope),
        "root_access_admins": holders(USER_ACCESS_ADMIN_ROLE, ""),
        "custom_admin_roles": custom_admins,
    }


def normalize_subscription(
    subscription: str,
    diagnostic_settings: list[dict[str, Any]] | None,
    pricings: list[dict[str, Any]] | None,
    alerts: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    roles: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    bastions: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    security_settings: list[dict[str, Any]] | None = None,
) -> Record:
    """The subscription's settings: Activity Log diagnostic settings (exported when one sends an enabled
    category to a workspace, storage account or event hub), the Defender for Cloud plans on Standard and what
    its Activity Log alerts fire on, and whom Defender for Cloud notifies; its Application Insights
    components, and whether Defender for Cloud's endpoint protection integration (the ``WDATP`` setting,
    Microsoft Defender for Endpoint) is on."""
    attrs: dict[str, Any] = {}
    if diagnostic_settings is not None:
        exporting = [
            str(d.get("name"))
            for d in diagnostic_settings
            if any(
                _props(d).get(k) for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId")
            )
            and any(log.get("enabled") for log in _props(d).get("logs") or [])
        ]
        attrs["diagnostic_settings"] = sorted(str(d.get("name")) for d in diagnostic_settings)
        attrs["activity_log_exported"] = bool(exporting)
        # the Activity Log categories some exporting setting sends (CIS Azure 6.1.1.2)
        attrs["exported_categories"] = sorted(
            {
                str(log.get("category"))
                for d in diagnostic_settings
                if str(d.get("name")) in exporting
                for log in _props(d).get("logs") or []
                if log.get("enabled")
            }
        )
    if pricings is not None:
        attrs["defender_plans"] = sorted(
            str(p.get("name")) for p in pricings if _props(p).get("pricingTier") == "Standard"
        )
    if alerts is not None:
        attrs["alerted_operations"] = alerted_operations(subscription, alerts)
    if contacts is not None:
        attrs["security_contact"] = security_contact(contacts)
    if roles is not None:
        attrs.update(role_facts(subscription, *roles))
    if bastions is not None:
        attrs["bastion_hosts"] = sorted(str(b.get("name")) for b in bastions)
    if components is not None:
        attrs["app_insights"] = sorted(str(c.get("name")) for c in components)
    if security_settings is not None:
        attrs["endpoint_protection"] = any(
            str(st.get("name")) == "WDATP" and _props(st).get("enabled") is True for st in security_settings
        )
    return Record(
        cloud="azure",
        type="azure.monitor.subscription",
        id=f"/subscriptions/{subscription}",
        region=GLOBAL,
        account=subscription,
        name=subscription,
        attrs=attrs,
    )


def normalize_sql_server(
    raw: dict[str, Any], subscription: str, auditing: dict[str, Any] | None = None
) -> Record:
    p = _props(raw)
    attrs: dict[str, Any] = {
        "public_network_access": p.get("publicNetworkAccess"),
        "min_tls": p.get("minimalTlsVersion"),
        "fqdn": p.get("fullyQualifiedDomainName"),
    }
    if auditing is not None:
        attrs["auditing"] = _props(auditing).get("state") == "Enabled"
    return _record(raw, "azure.sql.server", subscription, attrs)


def vault_audit_logged(settings: list[dict[str, Any]]) -> bool:
    """Whether a diagnostic setting sends the vault's AuditEvent log (by category, or the ``audit`` /
    ``allLogs`` group) to a workspace, storage account or event hub."""
    return any(
        any(_props(s).get(k) for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId"))
        and any(
            log.get("enabled")
            and (
                log.get("category") == "AuditEvent"
                or str(log.get("categoryGroup")).lower() in ("audit", "alllogs")
            )
            for log in _props(s).get("logs") or []
        )
        for s in settings
    )


def vault_contents(
    keys: list[dict[str, Any]],
    rotation_policies: dict[str, dict[str, Any]],
    secrets: list[dict[str, Any]],
    certificate_policies: dict[str, dict[str, Any]],
) -> dict[str, list[str]]:
    """What a vault's data plane says about CIS Azure 8.3.1-8.3.4, 8.3.9 and 8.3.11: its enabled keys and
    secrets with no expiration date (``attributes.exp``; the secrets behind certificates, ``managed``, are left
    to the certificates), enabled keys whose rotation policy has no ``Rotate`` action (``rotation_policies``:
    key name -> policy), and certificates whose policy issues them for more than 12 months
    (``certificate_policies``: name -> policy, ``x509_props.validity_months``)."""

    def name(item: dict[str, Any], key: str) -> str:
        return str(item.get(key) or "").rstrip("/").rsplit("/", 1)[-1]

    def enabled(item: dict[str, Any]) -> bool:
        return (item.get("attributes") or {}).get("enabled") is not False

    live_keys = [k for k in keys if enabled(k)]
    return {
        "keys_without_expiry": sorted(
            name(k, "kid") for k in live_keys if not (k.get("attributes") or {}).get("exp")
        ),
        "secrets_without_expiry": sorted(
            name(s, "id")
            for s in secrets
            if enabled(s) and not s.get("managed") and not (s.get("attributes") or {}).get("exp")
        ),
        "keys_without_rotation": sorted(
            name(k, "kid")
            for k in live_keys
            if not any(
                str((a.get("action") or {}).get("type")).lower() == "rotate"
                for a in rotation_policies.get(name(k, "kid"), {}).get("lifetimeActions") or []
            )
        ),
        "long_lived_certificates": sorted(
            f"{cert} ({months} months)"
            for cert, policy in certificate_policies.items()
            if (months := (policy.get("x509_props") or {}).get("validity_months")) is not None
            and int(months) > 12
        ),
    }


def diagnostic_logs_sent(settings: list[dict[str, Any]]) -> bool:
    """Whether a diagnostic setting sends some enabled log (a category or a category group) of the resource
    to a workspace, storage account or event hub."""
    return any(
        any(_props(s).get(k) for k in ("workspaceId", "storageAccountId", "eventHubAuthorizationRuleId"))
        and any(log.get("enabled") for log in _props(s).get("logs") or [])
        for s in settings
    )


def normalize_databricks_workspace(raw: dict[str, Any], subscription: str) -> Record:
    """A workspace's network settings: the customer VNet it is injected into (None: the managed one) with its
    two subnets, secure cluster connectivity (``enableNoPublicIp``), public network access, private endpoints."""
    p = _props(raw)
    params = p.get("parameters") or {}

    def param(name: str) -> Any:
        return (params.get(name) or {}).get("value")

    attrs = {
        "custom_vnet": param("customVirtualNetworkId"),
        "vnet_subnets": [
            str(n) for n in (param("customPublicSubnetName"), param("customPrivateSubnetName")) if n
        ],
        "no_public_ip": param("enableNoPublicIp") is True,
        "public_network_access": p.get("publicNetworkAccess") or "Enabled",
        "private_endpoints": _approved_endpoints(p),
    }
    return _record(raw, "azure.databricks.workspace", subscription, attrs)


MFA_CONTROLS = frozenset({"mfa", "authenticationStrength"})


def requires_mfa_for_all(policy: dict[str, Any]) -> bool:
    """A Conditional Access policy (v1.0 ``conditionalAccessPolicy``) that is on (not report-only), targets all
    users and all cloud apps, and cannot be satisfied without MFA: its grant controls include ``mfa`` or an
    authentication strength, and either they are ANDed or MFA is the only control. Excluded users and groups
    (the break-glass accounts CIS expects) are allowed."""
    if policy.get("state") != "enabled":
        return False
    conditions = policy.get("conditions") or {}
    users = conditions.get("users") or {}
    apps = conditions.get("applications") or {}
    if "All" not in (users.get("includeUsers") or []) or "All" not in (apps.get("includeApplications") or []):
        return False
    grant = policy.get("grantControls") or {}
    controls = {str(c) for c in grant.get("builtInControls") or []}
    if grant.get("authenticationStrength"):
        controls.add("authenticationStrength")
    if not controls & MFA_CONTROLS:
        return False
    return str(grant.get("operator") or "OR").upper() == "AND" or controls <= MFA_CONTROLS


def normalize_entra_tenant(
    subscription: str,
    defaults: dict[str, Any] | None,
    policies: list[dict[str, Any]] | None,
    registrations: list[dict[str, Any]] | None,
) -> Record:
    """The subscription's Entra ID tenant as Microsoft Graph describes it. Each read that was refused (None)
    leaves its attributes off, so the checks on them give no verdict."""
    attrs: dict[str, Any] = {}
    if defaults is not None:  # identitySecurityDefaultsEnforcementPolicy
        attrs["security_defaults"] = bool(defaults.get("isEnabled"))
    if policies is not None:
        attrs["ca_policies"] = sum(1 for p in policies if p.get("state") == "enabled")
        attrs["ca_mfa_all_users"] = sorted(
            str(p.get("displayName") or p.get("id")) for p in policies if requires_mfa_for_all(p)
        )
    if registrations is not None:  # userRegistrationDetails (enabled users only)
        attrs["users_without_mfa"] = sorted(
            str(u.get("userPrincipalName") or u.get("id"))
            for u in registrations
            if not u.get("isMfaRegistered")
        )
    return Record(
        cloud="azure",
        type="azure.entra.tenant",
        id=f"/subscriptions/{subscription}/entra-tenant",
        region=GLOBAL,
        account=subscription,
        name="Entra ID tenant",
        tags={},
        attrs=attrs,
    )


def is_function_app(raw: dict[str, Any]) -> bool:
    """A Microsoft.Web site whose ``kind`` lists ``functionapp`` (``functionapp``, ``functionapp,linux``,
    ``functionapp,linux,container,azurecontainerapps``); web apps (``app``, ``app,linux``) are not."""
    return "functionapp" in str(raw.get("kind") or "").lower().split(",")


def normalize_function_app(raw: dict[str, Any], subscription: str) -> Record:
    """A function app from ``Microsoft.Web/sites``: ``state`` is ``Running`` or ``Stopped``. Microsoft.Web
    answers the location as a display name (``East US``); the record keeps the ARM name (``eastus``) the
    other resources carry."""
    attrs = {"state": _props(raw).get("state"), "kind": str(raw.get("kind") or "").lower()}
    rec = _record(raw, "azure.web.function_app", subscription, attrs)
    rec.region = rec.region.replace(" ", "").lower()
    return rec


def normalize_container(account: str, props: Any, account_id: str | None = None) -> Record:
    """A container from the Blob API (``ContainerProperties``): ``public_access`` is None, blob or container."""
    name = str(props["name"])
    return Record(
        cloud="azure",
        type="azure.storage.container",
        id=f"{account_id or account}/blobServices/default/containers/{name}",
        region=GLOBAL,
        account="",
        name=name,
        tags={str(k): str(v) for k, v in (props.get("metadata") or {}).items()},
        attrs={"public_access": props.get("public_access"), "storage_account": account},
    )


# -- the collector ---------------------------------------------------------------------------------------------
class AzureCollector:
    def __init__(
        self,
        subscription_id: str,
        *,
        ctx: CloudContext | None = None,
        services: list[str] | None = None,
        max_workers: int = 6,
        now: datetime | None = None,
    ) -> None:
        from escher.ops.context import CloudContext

        self.subscription = subscription_id
        self.ctx = ctx or CloudContext(azure_subscription_id=subscription_id)
        self.services = set(services) if services else None
        self.max_workers = max_workers
        self.now = now or datetime.now(UTC)
        self._accounts: list[dict[str, Any]] | None = None
        self._accounts_lock = threading.Lock()
        # a part of a task that failed (CPU metrics, backup, flow logs) without costing the task its records
        self.part_errors: list[CollectionError] = []

    def client(self, kind: str) -> Any:
        return self.ctx.azure(kind, self.subscription)

    def arm_list(self, path: str, api_version: str, **query: str) -> Iterator[dict[str, Any]]:
        """The items of a documented ARM GET (``{"value": [...], "nextLink": ...}``), sent through an installed
        management client's pipeline (credential, retries on 429/5xx with Retry-After, the transport)."""
        rest = require("azure.core.rest", "azure")
        client = self.client("compute")
        url: str | None = path  # relative: the client's endpoint (a sovereign cloud's, a test's) applies
        params: dict[str, str] | None = {"api-version": api_version, **query}
        while url:
            response = client.send_request(rest.HttpRequest("GET", url, params=params))
            response.raise_for_status()
            page = response.json()
            yield from page.get("value") or []
            url, params = page.get("nextLink"), None  # the link carries its own query

    def _part_failed(self, service: str, what: str, exc: BaseException, hint: str = "") -> None:
        error = self._error(service, GLOBAL, exc)
        if error is None:
            raise exc
        self.part_errors.append(
            dataclasses.replace(error, message=f"{what} not read: {error.message}", hint=hint or error.hint)
        )

    def storage_accounts(self) -> list[dict[str, Any]]:
        """Listed once, shared by the ARM task and the Blob task."""
        with self._accounts_lock:
            if self._accounts is None:
                self._accounts = [_rest(a) for a in self.client("storage").storage_accounts.list()]
            return self._accounts

    # -- tasks -------------------------------------------------------------------------------------------
    def collect_storage(self) -> list[Record]:
        client = self.client("storage")
        out = []
        for raw in self.storage_accounts():
            group = resource_group(raw["id"])
            props = _rest(client.blob_services.get_service_properties(group, raw["name"]))
            files = None
            if raw.get("kind") in FILE_KINDS:
                files = _rest(client.file_services.get_service_properties(group, raw["name"]))
            out.append(normalize_storage_account(raw, self.subscription, props, files))
        return out

    def collect_containers(self) -> list[Record]:
        """Blob containers from the data plane: the account of ``AZURE_STORAGE_CONNECTION_STRING`` (azurite's
        or a real one), else every ARM account through its blob endpoint with the Azure credential."""
        import os

        from escher.clouds import azure

        by_name = {a["name"]: a for a in self.storage_accounts()}
        services: list[tuple[str, Any]] = []
        if os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):
            client = self.ctx.azure_blob()
            services.append((str(client.account_name), client))
        else:
            for name, raw in by_name.items():
                endpoint = (_props(raw).get("primaryEndpoints") or {}).get("blob")
                if endpoint:
                    cred = self.ctx.azure_credential
                    services.append((name, azure.blob_service(account_url=endpoint, credential_=cred)))
        out = []
        for name, client in services:
            account_id = by_name.get(name, {}).get("id")
            for props in client.list_containers(include_metadata=True):
                rec = normalize_container(name, props, account_id)
                rec.account = self.subscription
                rec.region = str(by_name.get(name, {}).get("location") or GLOBAL)
                out.append(rec)
        return out

    def collect_vms(self) -> list[Record]:
        vms = self.client("compute").virtual_machines
        statuses = {str(v["id"]).lower(): v for v in map(_rest, vms.list_all(status_only="true"))}
        records = [
            normalize_vm(raw, self.subscription, statuses.get(str(raw["id"]).lower()))
            for raw in map(_rest, vms.list_all())
        ]
        self._add_cpu([r for r in records if r.attrs.get("power_state") == "running"])
        self._add_backup(records)
        return records

    def _add_cpu(self, vms: list[Record]) -> None:
        """Daily average ``Percentage CPU`` from Azure Monitor over the last 30 whole days, per running VM (one
        Metrics_List call each, ``max_workers`` at a time)."""
        from concurrent.futures import ThreadPoolExecutor

        azure_exc = require("azure.core.exceptions", "azure")
        start, end = window(self.now)
        span = f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}"

        def read(rec: Record) -> list[dict[str, Any]] | BaseException:
            try:
                return list(
                    self.arm_list(
                        f"{rec.id}/providers/Microsoft.Insights/metrics",
                        MONITOR_METRICS_API,
                        metricnames="Percentage CPU",
                        aggregation="Average",
                        interval="P1D",
                        timespan=span,
                    )
                )
            except azure_exc.AzureError as exc:
                error: BaseException = exc
                return error

        failed: list[str] = []
        last: BaseException | None = None
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="escher-metrics") as pool:
            for rec, metrics in zip(vms, pool.map(read, vms), strict=True):
                if isinstance(metrics, BaseException):
                    failed.append(rec.name)
                    last = metrics
                    continue
                points = [
                    (parse_time(str(d["timeStamp"])), float(d["average"]))
                    for metric in metrics
                    for series in metric.get("timeseries") or []
                    for d in series.get("data") or []
                    if d.get("average") is not None
                ]
                rec.attrs.update(cpu_attrs(points, end))
        if last is not None:
            more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
            self._part_failed("monitor", f"CPU of {len(failed)} VMs ({', '.join(failed[:5])}{more})", last)

    def _add_backup(self, vms: list[Record]) -> None:
        """``backup_protected``: an Azure Backup item (any Recovery Services vault) protects the VM."""
        azure_exc = require("azure.core.exceptions", "azure")
        protected: set[str] = set()
        vaults = f"/subscriptions/{self.subscription}/providers/Microsoft.RecoveryServices/vaults"
        try:
            for vault in self.arm_list(vaults, RECOVERY_SERVICES_API):
                items = self.arm_list(
                    f"{vault['id']}/backupProtectedItems",
                    RECOVERY_SERVICES_API,
                    **{"$filter": "backupManagementType eq 'AzureIaasVM'"},
                )
                for item in items:
                    p = _props(item)
                    if p.get("protectionState") in BACKUP_PROTECTED:
                        protected.add(str(p.get("virtualMachineId") or p.get("sourceResourceId")).lower())
        except azure_exc.AzureError as exc:
            self._part_failed("backup", "VM backup protection", exc)
            return
        for rec in vms:
            rec.attrs["backup_protected"] = rec.id.lower() in protected

    def collect_disks(self) -> list[Record]:
        return [normalize_disk(_rest(d), self.subscription) for d in self.client("compute").disks.list()]

    def collect_snapshots(self) -> list[Record]:
        return [
            normalize_snapshot(_rest(s), self.subscription) for s in self.client("compute").snapshots.list()
        ]

    def collect_nsgs(self) -> list[Record]:
        network = self.client("network")
        records = [
            normalize_nsg(_rest(g), self.subscription) for g in network.network_security_groups.list_all()
        ]
        azure_exc = require("azure.core.exceptions", "azure")
        try:
            raw_vnets = [_rest(v) for v in network.virtual_networks.list_all()]
        except azure_exc.AzureError as exc:
            self._part_failed("network", "virtual networks", exc)
            raw_vnets = []
        vnets = [normalize_vnet(v, self.subscription) for v in raw_vnets]
        gateways = self._vpn_gateways(network, raw_vnets)
        targets: set[str] = set()
        retention: dict[str, int] = {}  # target -> days kept (0: forever, as when retention is off)
        try:
            watchers = [_rest(w) for w in network.network_watchers.list_all()]
        except azure_exc.AzureError as exc:
            self._part_failed("flowlogs", "NSG flow logs (Network Watcher)", exc)
            return records + vnets + gateways
        # CIS 7.6: a Network Watcher in each region the subscription has virtual networks in
        watched = {
            str(w.get("location")).lower()
            for w in watchers
            if _props(w).get("provisioningState", "Succeeded") == "Succeeded"
        }
        for net in vnets:
            net.attrs["network_watcher"] = net.region.lower() in watched
        try:
            for watcher in watchers:
                for flow_log in network.flow_logs.list(resource_group(watcher["id"]), watcher["name"]):
                    p = _props(_rest(flow_log))
                    if p.get("enabled"):
                        target = str(p.get("targetResourceId")).lower()
                        targets.add(target)
                        policy = p.get("retentionPolicy") or {}
                        retention[target] = int(policy.get("days") or 0) if policy.get("enabled") else 0
        except azure_exc.AzureError as exc:
            self._part_failed("flowlogs", "NSG flow logs (Network Watcher)", exc)
            return records + vnets + gateways
        for rec in records:
            rec.attrs["flow_logs"] = flow_logged(rec, targets)
            own, vnet = flow_log_retention(rec, retention)
            rec.attrs["nsg_flow_log_retention"] = own
            rec.attrs["vnet_flow_log_retention"] = vnet
        return records + vnets + gateways

    def _vpn_gateways(self, network: Any, raw_vnets: list[dict[str, Any]]) -> list[Record]:
        """The virtual network gateways on the VNets' GatewaySubnets, read one by one; when one cannot be read
        none are returned (their checks give no verdict) and that is reported."""
        azure_exc = require("azure.core.exceptions", "azure")
        try:
            return [
                normalize_vpn_gateway(
                    _rest(network.virtual_network_gateways.get(resource_group(gw), gw.rsplit("/", 1)[-1])),
                    self.subscription,
                )
                for gw in vnet_gateway_ids(raw_vnets)
            ]
        except azure_exc.AzureError as exc:
            self._part_failed("network", "virtual network gateways", exc)
            return []

    def collect_sql(self) -> list[Record]:
        sql = self.client("sql")
        out = []
        for raw in map(_rest, sql.servers.list()):
            group, server = resource_group(raw["id"]), raw["name"]
            policy = _rest(sql.server_blob_auditing_policies.get(group, server))
            out.append(normalize_sql_server(raw, self.subscription, policy))
            for db in map(_rest, sql.databases.list_by_server(group, server)):
                if str(db["name"]).lower() == "master":  # the logical server's system database
                    continue
                tde = _rest(sql.transparent_data_encryptions.get(group, server, db["name"], "current"))
                retention = None
                if "datawarehouse" not in str(db.get("kind") or "").lower():  # no PITR policy on a DW
                    retention = _rest(
                        sql.backup_short_term_retention_policies.get(group, server, db["name"], "default")
                    )
                out.append(normalize_sql_database(db, self.subscription, tde, retention))
        return out

    def collect_keyvault(self) -> list[Record]:
        """The vaults, then each vault's diagnostic settings (is its AuditEvent log sent somewhere, CIS 6.1.1.4)
        and its data plane's keys, secrets and certificates (CIS 8.3.x); when those cannot be read the vaults
        are still returned, without those attributes."""
        azure_exc = require("azure.core.exceptions", "azure")
        path = f"/subscriptions/{self.subscription}/providers/Microsoft.KeyVault/vaults"
        raws = list(self.arm_list(path, KEYVAULT_API))
        records = [normalize_vault(v, self.subscription) for v in raws]
        try:
            logged = {
                rec.id: vault_audit_logged(
                    list(
                        self.arm_list(
                            f"{rec.id}/providers/Microsoft.Insights/diagnosticSettings",
                            DIAGNOSTIC_SETTINGS_API,
                        )
                    )
                )
                for rec in records
            }
        except azure_exc.AzureError as exc:
            self._part_failed("keyvault", "Key Vault diagnostic settings", exc)
        else:
            for rec in records:
                rec.attrs["audit_logged"] = logged[rec.id]
        self._add_vault_contents(records, [str(_props(v).get("vaultUri") or "") for v in raws])
        return records

    def _vault_pipeline(self, vault_uri: str) -> Any:
        """An azure-core pipeline to a vault's data plane, with the Key Vault token scope of the vault's cloud
        (``https://vault.azure.net/.default`` for ``*.vault.azure.net``)."""
        from urllib.parse import urlsplit

        host = urlsplit(vault_uri).hostname or ""
        return self._data_pipeline(vault_uri, f"https://{host.split('.', 1)[-1]}/.default")

    def _data_pipeline(self, base_url: str, scope: str) -> Any:
        """An azure-core pipeline to a data plane outside ARM: the scan's credential with the plane's token
        scope, the client options' retry settings and the context's transport (a test's replay)."""
        from escher.clouds import azure

        core = require("azure.core", "azure")
        policies = require("azure.core.pipeline.policies", "azure")
        retry = {k: v for k, v in self.ctx.azure_client_options.items() if k.startswith("retry_")}
        cred = self.ctx.azure_credential if self.ctx.azure_credential is not None else azure.credential()
        kwargs: dict[str, Any] = {}
        if self.ctx.azure_transport is not None:
            kwargs["transport"] = self.ctx.azure_transport
        return core.PipelineClient(
            base_url=base_url,
            policies=[
                policies.HeadersPolicy(),
                policies.UserAgentPolicy(sdk_moniker="escher-scan"),
                policies.RetryPolicy(**retry),
                policies.BearerTokenCredentialPolicy(cred, scope),
                policies.HttpLoggingPolicy(),
            ],
            **kwargs,
        )

    def _vault_get(self, client: Any, url: str) -> dict[str, Any]:
        rest = require("azure.core.rest", "azure")
        response = client.send_request(
            rest.HttpRequest("GET", url, params={"api-version": KEYVAULT_DATA_API})
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _vault_list(self, client: Any, url: str) -> Iterator[dict[str, Any]]:
        rest = require("azure.core.rest", "azure")
        next_url: str | None = url
        params: dict[str, str] | None = {"api-version": KEYVAULT_DATA_API}
        while next_url:
            response = client.send_request(rest.HttpRequest("GET", next_url, params=params))
            response.raise_for_status()
            page = response.json()
            yield from page.get("value") or []
            next_url, params = page.get("nextLink"), None  # the link carries its own query

    def _add_vault_contents(self, vaults: list[Record], uris: list[str]) -> None:
        """Each vault's keys (and their rotation policies), secrets and certificates (and their policies), read
        from its data plane (metadata only: no secret value is asked for). A vault whose data plane refuses
        (no data-plane role or access policy, a firewall, a private endpoint only) keeps its other attributes;
        the vaults not read are reported."""
        azure_exc = require("azure.core.exceptions", "azure")
        failed: list[str] = []
        last: BaseException | None = None
        for rec, uri in zip(vaults, uris, strict=True):
            if not uri:
                continue
            base = uri.rstrip("/")
            try:
                client = self._vault_pipeline(base + "/")
                keys = list(self._vault_list(client, f"{base}/keys"))
                rotation = {
                    name: self._vault_get(client, f"{base}/keys/{name}/rotationpolicy")
                    for k in keys
                    if (k.get("attributes") or {}).get("enabled") is not False
                    for name in [str(k.get("kid") or "").rstrip("/").rsplit("/", 1)[-1]]
                }
                secrets = list(self._vault_list(client, f"{base}/secrets"))
                certificates = {
                    name: self._vault_get(client, f"{base}/certificates/{name}/policy")
                    for c in self._vault_list(client, f"{base}/certificates")
                    for name in [str(c.get("id") or "").rstrip("/").rsplit("/", 1)[-1]]
                }
            except azure_exc.AzureError as exc:
                failed.append(rec.name)
                last = exc
                continue
            rec.attrs.update(vault_contents(keys, rotation, secrets, certificates))
        if last is not None:
            self._part_failed(
                "keyvault",
                f"keys, secrets and certificates of {len(failed)} vaults ({', '.join(failed)})",
                last,
                hint=VAULT_DATA_HINT,
            )

    def collect_function_apps(self) -> list[Record]:
        """The subscription's App Service sites (one paged list), kept where the kind is a function app."""
        path = f"/subscriptions/{self.subscription}/providers/Microsoft.Web/sites"
        return [
            normalize_function_app(site, self.subscription)
            for site in self.arm_list(path, WEB_API)
            if is_function_app(site)
        ]

    def collect_databricks(self) -> list[Record]:
        """The workspaces, then each one's diagnostic settings (are its logs delivered anywhere, CIS 2.1.7);
        when those cannot be read the workspaces are still returned, without the attribute."""
        azure_exc = require("azure.core.exceptions", "azure")
        path = f"/subscriptions/{self.subscription}/providers/Microsoft.Databricks/workspaces"
        records = [
            normalize_databricks_workspace(ws, self.subscription)
            for ws in self.arm_list(path, DATABRICKS_API)
        ]
        try:
            sent = {
                rec.id: diagnostic_logs_sent(
                    list(
                        self.arm_list(
                            f"{rec.id}/providers/Microsoft.Insights/diagnosticSettings",
                            DIAGNOSTIC_SETTINGS_API,
                        )
                    )
                )
                for rec in records
            }
        except azure_exc.AzureError as exc:
            self._part_failed("databricks", "Databricks diagnostic settings", exc)
            return records
        for rec in records:
            rec.attrs["diagnostic_logs"] = sent[rec.id]
        return records

    def collect_app_gateways(self) -> list[Record]:
        """The Application Gateways, then the WAF policies they link to (their state, request body
        inspection, bot protection); when the policies cannot be read the gateways are still returned, without
        the WAF attributes."""
        azure_exc = require("azure.core.exceptions", "azure")
        network = self.client("network")
        gateways = [_rest(g) for g in network.application_gateways.list_all()]
        policies: dict[str, dict[str, Any]] | None = None
        if gateways:
            try:
                policies = {
                    str(pol["id"]).lower(): pol
                    for pol in map(_rest, network.web_application_firewall_policies.list_all())
                }
            except azure_exc.AzureError as exc:
                self._part_failed("appgateway", "Application Gateway WAF policies", exc)
        return [normalize_app_gateway(g, self.subscription, policies) for g in gateways]

    def collect_graph(self) -> list[Record]:
        """The subscription's Entra ID tenant from Microsoft Graph: security defaults and the Conditional Access
        policies (Policy.Read.All), and which users have registered an MFA method (AuditLog.Read.All, Entra ID
        P1/P2). Graph permissions are not Azure roles: a refused read leaves its attributes off (the matching
        checks give no verdict) and says what to grant; the tenant record is returned when at least one read
        answered (a record of nothing would stand for a tenant Escher could not see)."""
        import os

        azure_exc = require("azure.core.exceptions", "azure")
        base = (os.environ.get(GRAPH_ENDPOINT_ENV) or GRAPH_ENDPOINT).rstrip("/")
        client = self._data_pipeline(base + "/", f"{base}/.default")
        defaults: dict[str, Any] | None = None
        policies: list[dict[str, Any]] | None = None
        registrations: list[dict[str, Any]] | None = None
        try:
            defaults = self._graph_get(
                client, f"{base}/v1.0/policies/identitySecurityDefaultsEnforcementPolicy"
            )
        except azure_exc.AzureError as exc:
            self._part_failed("graph", "Entra ID security defaults", exc, hint=GRAPH_POLICY_HINT)
        try:
            policies = list(self._graph_list(client, f"{base}/v1.0/identity/conditionalAccess/policies"))
        except azure_exc.AzureError as exc:
            self._part_failed("graph", "Conditional Access policies", exc, hint=GRAPH_POLICY_HINT)
        try:
            registrations = list(
                self._graph_list(client, f"{base}/v1.0/reports/authenticationMethods/userRegistrationDetails")
            )
        except azure_exc.AzureError as exc:
            code = str(getattr(getattr(exc, "error", None), "code", "") or "")
            hint = GRAPH_REPORT_HINT
            if code == GRAPH_NO_PREMIUM:
                hint = (
                    "the tenant has no Entra ID P1 or P2 licence, which Graph's authentication methods "
                    "registration report needs; enforce MFA with security defaults or Conditional Access instead"
                )
            self._part_failed("graph", "users' MFA registration", exc, hint=hint)
        if defaults is None and policies is None and registrations is None:
            return []  # every Graph read refused: nothing is known of the tenant (part_errors say why)
        return [normalize_entra_tenant(self.subscription, defaults, policies, registrations)]

    def _graph_get(self, client: Any, url: str) -> dict[str, Any]:
        rest = require("azure.core.rest", "azure")
        response = client.send_request(rest.HttpRequest("GET", url))
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def _graph_list(self, client: Any, url: str) -> Iterator[dict[str, Any]]:
        """A Graph collection's items, following ``@odata.nextLink`` (which carries its own query)."""
        next_url: str | None = url
        while next_url:
            page = self._graph_get(client, next_url)
            yield from page.get("value") or []
            next_url = page.get("@odata.nextLink")

    def collect_monitor(self) -> list[Record]:
        """The subscription's Activity Log diagnostic settings, Defender for Cloud pricings and Activity Log
        alerts; one failing leaves its attribute off (no verdict) and is reported, the others are still read.
        When every read is refused there is no subscription record at all, only the errors."""
        azure_exc = require("azure.core.exceptions", "azure")
        sub = f"/subscriptions/{self.subscription}/providers"
        settings: list[dict[str, Any]] | None = None
        pricings: list[dict[str, Any]] | None = None
        try:
            settings = list(
                self.arm_list(f"{sub}/Microsoft.Insights/diagnosticSettings", DIAGNOSTIC_SETTINGS_API)
            )
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Activity Log diagnostic settings", exc)
        try:
            pricings = list(self.arm_list(f"{sub}/Microsoft.Security/pricings", SECURITY_PRICINGS_API))
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Defender for Cloud plans", exc)
        alerts: list[dict[str, Any]] | None = None
        try:
            alerts = list(
                self.arm_list(f"{sub}/Microsoft.Insights/activityLogAlerts", ACTIVITY_LOG_ALERTS_API)
            )
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Activity Log alerts", exc)
        contacts: list[dict[str, Any]] | None = None
        try:
            contacts = list(
                self.arm_list(f"{sub}/Microsoft.Security/securityContacts", SECURITY_CONTACTS_API)
            )
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Defender for Cloud security contacts", exc)
        roles: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
        try:
            auth = f"{sub}/Microsoft.Authorization"
            assignments = list(self.arm_list(f"{auth}/roleAssignments", AUTHORIZATION_API))
            custom = list(
                self.arm_list(
                    f"{auth}/roleDefinitions", AUTHORIZATION_API, **{"$filter": "type eq 'CustomRole'"}
                )
            )
            roles = (assignments, custom)
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "role assignments and custom roles", exc)
        bastions: list[dict[str, Any]] | None = None
        try:
            bastions = list(self.arm_list(f"{sub}/Microsoft.Network/bastionHosts", NETWORK_API))
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Azure Bastion hosts", exc)
        components: list[dict[str, Any]] | None = None
        try:
            components = list(self.arm_list(f"{sub}/Microsoft.Insights/components", APP_INSIGHTS_API))
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Application Insights components", exc)
        security: list[dict[str, Any]] | None = None
        try:
            security = list(self.arm_list(f"{sub}/Microsoft.Security/settings", SECURITY_SETTINGS_API))
        except azure_exc.AzureError as exc:
            self._part_failed("monitor", "Defender for Cloud settings", exc)
        reads = (settings, pricings, alerts, contacts, roles, bastions, components, security)
        if all(read is None for read in reads):
            return []  # every read refused: nothing is known of the subscription (part_errors say why)
        return [
            normalize_subscription(
                self.subscription, settings, pricings, alerts, contacts, roles, bastions, components, security
            )
        ]

    def tasks(self) -> list[Task]:
        table: dict[str, Callable[[], list[Record]]] = {
            "storage": self.collect_storage,
            "blob": self.collect_containers,
            "compute": self.collect_vms,
            "disks": self.collect_disks,
            "snapshots": self.collect_snapshots,
            "network": self.collect_nsgs,
            "sql": self.collect_sql,
            "keyvault": self.collect_keyvault,
            "functions": self.collect_function_apps,
            "databricks": self.collect_databricks,
            "appgateway": self.collect_app_gateways,
            "graph": self.collect_graph,
            "monitor": self.collect_monitor,
        }
        return [
            Task("azure", name, GLOBAL, fn, PRODUCES[name])
            for name, fn in table.items()
            if self.services is None or name in self.services
        ]

    def _to_error(self, task: Task, exc: BaseException) -> CollectionError | None:
        return self._error(task.service, task.region, exc)

    def _error(self, service: str, region: str, exc: BaseException) -> CollectionError | None:
        from escher.clouds.azure import translate
        from escher.errors import EscherError

        azure_exc = require("azure.core.exceptions", "azure")
        hint = (error.hint or "") if (error := translate(exc)) is not None else ""
        if isinstance(exc, azure_exc.HttpResponseError):
            code = str(getattr(getattr(exc, "error", None), "code", "") or exc.status_code or "")
            return CollectionError("azure", service, region, exc.message or str(exc), code, hint)
        if isinstance(exc, azure_exc.AzureError):
            return CollectionError("azure", service, region, str(exc), type(exc).__name__, hint)
        if isinstance(exc, EscherError):
            return CollectionError("azure", service, region, exc.message, type(exc).__name__, exc.hint or "")
        return None

    def collect(self, progress: Progress | None = None) -> Inventory:
        inventory = run_tasks(
            self.tasks(), to_error=self._to_error, max_workers=self.max_workers, progress=progress
        )
        inventory.errors.extend(self.part_errors)
        return inventory
