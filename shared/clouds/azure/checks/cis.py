"""Azure checks written for CIS Azure Foundations 6.0.0 recommendations no earlier check decided: Defender for
Cloud (8.1.x), Key Vault settings and, from its data plane, the keys, secrets and certificates in each vault
(8.3.x), storage accounts and Azure Files (9.x), networking and Application Gateway (7.x), Databricks (2.1.x),
logging and alerting (6.1.x), subscription roles (5.x) and, from Microsoft Graph, the Entra ID tenant's security
defaults and MFA (5.1.1, 5.1.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from escher.scans.checks._declarative import attr_check, is_false, is_true, truthy
from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity

SUBSCRIPTION = "azure.monitor.subscription"
ACCOUNT = "azure.storage.account"
VAULT = "azure.keyvault.vault"

# CIS id -> (Defender for Cloud pricing name, what it protects, severity)
DEFENDER_PLANS: dict[str, tuple[str, str, Severity]] = {
    "8.1.1.1": ("CloudPosture", "Defender CSPM (attack paths, agentless scanning)", Severity.MEDIUM),
    "8.1.2.1": ("Api", "Defender for APIs", Severity.LOW),
    "8.1.3.1": ("VirtualMachines", "Defender for Servers", Severity.HIGH),
    "8.1.4.1": ("Containers", "Defender for Containers", Severity.MEDIUM),
    "8.1.5.1": ("StorageAccounts", "Defender for Storage", Severity.MEDIUM),
    "8.1.6.1": ("AppServices", "Defender for App Service", Severity.MEDIUM),
    "8.1.7.1": ("CosmosDbs", "Defender for Azure Cosmos DB", Severity.LOW),
    "8.1.7.2": (
        "OpenSourceRelationalDatabases",
        "Defender for open-source relational databases",
        Severity.LOW,
    ),
    "8.1.7.3": ("SqlServers", "Defender for Azure SQL databases", Severity.MEDIUM),
    "8.1.7.4": ("SqlServerVirtualMachines", "Defender for SQL servers on machines", Severity.LOW),
    "8.1.8.1": ("KeyVaults", "Defender for Key Vault", Severity.MEDIUM),
    "8.1.9.1": ("Arm", "Defender for Resource Manager", Severity.MEDIUM),
}


def _defender_check(cis: str, plan: str, label: str, severity: Severity) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if "defender_plans" not in rec.attrs:  # the pricings were not read
            return NA
        return None if plan in rec.attrs["defender_plans"] else Fail(f"{plan} plan is not on Standard")

    check(f"azure.security.defender_{plan.lower()}", resource=SUBSCRIPTION, reads=("defender_plans",),
          title=f"{label} is off", severity=severity,
          risk=f"Threats {label} would detect on these resources raise no alert.",
          remediation=f"az security pricing create --name {plan} --tier Standard", cis=(cis,),
          soc2=("CC7.2",))(fn)  # fmt: skip


for _cis, (_plan, _label, _severity) in DEFENDER_PLANS.items():
    _defender_check(_cis, _plan, _label, _severity)

ACTIVITY_LOG_CATEGORIES = ("Administrative", "Alert", "Policy", "Security")


@check("azure.monitor.activity_log_categories", resource=SUBSCRIPTION, reads=("exported_categories",),
       title="Activity Log export misses categories CIS asks for", severity=Severity.LOW,
       risk="Role and policy changes, security alerts or alert activity are not kept outside the 90-day "
            "Activity Log.",
       remediation="az monitor diagnostic-settings subscription create --name NAME --location LOCATION "
                   "--workspace WORKSPACE_ID --logs '[{\"category\":\"Administrative\",\"enabled\":true},"
                   "{\"category\":\"Alert\",\"enabled\":true},{\"category\":\"Policy\",\"enabled\":true},"
                   "{\"category\":\"Security\",\"enabled\":true}]'",
       cis=("6.1.1.2",), soc2=("CC7.2",))  # fmt: skip
def activity_log_categories(rec: Record, ctx: CheckContext) -> Outcome:
    if "exported_categories" not in rec.attrs:
        return NA
    missing = [c for c in ACTIVITY_LOG_CATEGORIES if c not in rec.attrs["exported_categories"]]
    return Fail(f"not exported: {', '.join(missing)}") if missing else None


# -- Key Vault -----------------------------------------------------------------------------------------------
attr_check("azure.keyvault.rbac", VAULT, "rbac_authorization", is_true,
           title="Key Vault uses access policies instead of Azure RBAC", severity=Severity.MEDIUM,
           message="enableRbacAuthorization is off",
           risk="Vault access policies are granted per vault outside Azure RBAC: no PIM, no deny assignments, "
                "and any Contributor on the vault can grant themselves data access.",
           remediation="az keyvault update --name VAULT --enable-rbac-authorization true (assign Key Vault "
                       "data roles first)", cis=("8.3.6",), soc2=("CC6.1",))  # fmt: skip
attr_check("azure.keyvault.public_network", VAULT, "public_network_access", lambda v: v == "Disabled",
           title="Key Vault is reachable from public networks", severity=Severity.MEDIUM,
           message="publicNetworkAccess is not Disabled",
           risk="Keys and secrets are one stolen credential away from anyone on the internet.",
           remediation="az keyvault update --name VAULT --public-network-access Disabled (use a private endpoint)",
           cis=("8.3.7",), soc2=("CC6.6",))  # fmt: skip

# -- storage accounts ------------------------------------------------------------------------------------------
attr_check("azure.storage.container_soft_delete", ACCOUNT, "container_soft_delete", is_true, category="operational",
           title="Storage account container soft delete is off", severity=Severity.LOW,
           message="containerDeleteRetentionPolicy is off", risk="A deleted container and every blob in it are gone.",
           remediation="az storage account blob-service-properties update --account-name ACCOUNT "
                       "--enable-container-delete-retention true --container-delete-retention-days 7",
           cis=("9.2.2",), soc2=("A1.2",))  # fmt: skip
attr_check("azure.storage.versioning", ACCOUNT, "versioning", is_true, category="operational",
           title="Storage account blob versioning is off", severity=Severity.LOW, message="isVersioningEnabled is off",
           risk="An overwritten blob cannot be restored.",
           remediation="az storage account blob-service-properties update --account-name ACCOUNT "
                       "--enable-versioning true", cis=("9.2.3",), soc2=("A1.2",))  # fmt: skip
attr_check("azure.storage.shared_key_access", ACCOUNT, "allow_shared_key_access", is_false,
           title="Storage account allows shared key access", severity=Severity.MEDIUM,
           message="allowSharedKeyAccess is not false",
           risk="An account key or a SAS signed with it gives full access with no identity and no expiry control.",
           remediation="az storage account update --name ACCOUNT --allow-shared-key-access false",
           cis=("9.3.1.3",), soc2=("CC6.1",))  # fmt: skip
attr_check("azure.storage.public_network", ACCOUNT, "public_network_access", lambda v: v == "Disabled",
           title="Storage account is reachable from public networks", severity=Severity.MEDIUM,
           message="publicNetworkAccess is {value}", risk="The account's endpoints accept traffic from the internet.",
           remediation="az storage account update --name ACCOUNT --public-network-access Disabled "
                       "(use private endpoints)", cis=("9.3.2.2",), soc2=("CC6.6",))  # fmt: skip
attr_check("azure.storage.default_oauth", ACCOUNT, "default_oauth", is_true,
           title="Storage account does not default to Entra ID authorization in the portal", severity=Severity.LOW,
           message="defaultToOAuthAuthentication is off",
           risk="Portal users read data with the account key, which leaves no per-user trail.",
           remediation="az storage account update --name ACCOUNT --set defaultToOAuthAuthentication=true",
           cis=("9.3.3.1",), soc2=("CC6.1",))  # fmt: skip
attr_check("azure.storage.trusted_services", ACCOUNT, "trusted_services_bypass", is_true,
           title="Storage firewall blocks trusted Microsoft services", severity=Severity.LOW,
           message="networkAcls.bypass does not include AzureServices",
           risk="Backup, logging and Defender cannot reach the account, so those protections silently stop.",
           remediation="az storage account update --name ACCOUNT --bypass AzureServices",
           cis=("9.3.5",), soc2=("A1.2",))  # fmt: skip
attr_check("azure.storage.cross_tenant_replication", ACCOUNT, "cross_tenant_replication", is_false,
           title="Storage account allows cross-tenant object replication", severity=Severity.MEDIUM,
           message="allowCrossTenantReplication is true",
           risk="Blobs can be replicated to an account in another Entra tenant, outside your control.",
           remediation="az storage account update --name ACCOUNT --allow-cross-tenant-replication false",
           cis=("9.3.7",), soc2=("CC6.1",))  # fmt: skip
attr_check("azure.storage.private_endpoints", ACCOUNT, "private_endpoints", truthy,
           title="Storage account has no private endpoint", severity=Severity.LOW,
           message="no approved private endpoint connection",
           risk="Clients reach the account over its public endpoint; traffic and access cannot be kept on the VNet.",
           remediation="az network private-endpoint create --name PE --resource-group RG --vnet-name VNET --subnet SUBNET "
                       "--private-connection-resource-id ACCOUNT_ID --group-id blob --connection-name PE",
           cis=("9.3.2.1",), soc2=("CC6.6",))  # fmt: skip
attr_check("azure.storage.key_rotation_reminder", ACCOUNT, "key_expiration_days", truthy,
           title="Storage account has no key rotation reminder", severity=Severity.LOW,
           message="no key expiration policy (keyPolicy.keyExpirationPeriodInDays)",
           risk="Account keys live forever unless someone remembers to rotate them.",
           remediation="az storage account update --name ACCOUNT --key-exp-days 90",
           cis=("9.3.1.1",), soc2=("CC6.1",))  # fmt: skip
attr_check("azure.keyvault.private_endpoints", VAULT, "private_endpoints", truthy,
           title="Key Vault has no private endpoint", severity=Severity.LOW,
           message="no approved private endpoint connection",
           risk="Keys and secrets are read over the vault's public endpoint.",
           remediation="az network private-endpoint create --name PE --resource-group RG --vnet-name VNET --subnet SUBNET "
                       "--private-connection-resource-id VAULT_ID --group-id vault --connection-name PE",
           cis=("8.3.8",), soc2=("CC6.6",))  # fmt: skip

# -- network security groups -----------------------------------------------------------------------------------
_ANYWHERE = frozenset({"*", "0.0.0.0/0", "::/0", "Internet", "Any"})


def _world_rules(rec: Record, protocols: frozenset[str], ports: tuple[int, ...] | None) -> list[str]:
    """Names of inbound Allow rules open to the internet for ``protocols`` (and any of ``ports``, or any port)."""
    hits = []
    for rule in rec.attrs.get("rules", []):
        if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
            continue
        if str(rule.get("protocol") or "*").lower() not in protocols:
            continue
        if not {str(s) for s in rule.get("sources", [])} & _ANYWHERE:
            continue
        ranges = rule.get("port_ranges", [])
        if ports is None or any(lo <= p <= hi for lo, hi in ranges for p in ports):
            hits.append(str(rule.get("name")))
    return hits


@check("azure.network.nsg_open_udp", resource="azure.network.nsg", reads=("rules",),
       title="NSG allows UDP from the internet", severity=Severity.MEDIUM,
       risk="Open UDP services (DNS, NTP, SSDP, CLDAP) are used to amplify DDoS attacks and are rarely meant to "
            "be public.",
       remediation="az network nsg rule update --nsg-name NSG --resource-group RG --name RULE "
                   "--source-address-prefixes OFFICE_RANGE (or delete the rule)",
       cis=("7.3",), soc2=("CC6.6",))  # fmt: skip
def nsg_open_udp(rec: Record, ctx: CheckContext) -> Outcome:
    hits = _world_rules(rec, frozenset({"udp", "*"}), None)
    return Fail(f"rule {', '.join(hits)} allows UDP from the internet") if hits else None


@check("azure.network.nsg_open_http", resource="azure.network.nsg", reads=("rules",),
       title="NSG allows HTTP(S) straight from the internet", severity=Severity.LOW,
       risk="Web servers reached directly, not through Application Gateway or Front Door with a WAF, face the "
            "internet unfiltered.",
       remediation="Put the site behind Application Gateway / Front Door and restrict the rule's source to its "
                   "service tag (az network nsg rule update ... --source-address-prefixes GatewayManager)",
       cis=("7.4",), soc2=("CC6.6",))  # fmt: skip
def nsg_open_http(rec: Record, ctx: CheckContext) -> Outcome:
    hits = _world_rules(rec, frozenset({"tcp", "*"}), (80, 443))
    return Fail(f"rule {', '.join(hits)} allows HTTP(S) from the internet") if hits else None


def _retention_check(key: str, attr: str, cis: str, kind: str) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        days = rec.attrs.get(attr)
        if days is None:  # no such flow log covers the NSG (azure.network.nsg_flow_logs decides that)
            return NA
        return None if days == 0 or days >= 90 else Fail(f"{kind} flow log keeps {days} days")

    check(key, resource="azure.network.nsg", reads=(attr,), title=f"{kind} flow log is kept under 90 days",
          severity=Severity.LOW, risk="Traffic older than the retention is gone when an incident is found late.",
          remediation="az network watcher flow-log update --location LOCATION --name FLOW_LOG --retention 90",
          cis=(cis,), soc2=("CC7.2",))(fn)  # fmt: skip


_retention_check("azure.network.nsg_flow_log_retention", "nsg_flow_log_retention", "7.5", "NSG")
_retention_check("azure.network.vnet_flow_log_retention", "vnet_flow_log_retention", "7.8", "VNet")


# -- Activity Log alerts (6.1.2.x): an enabled alert scoped to the subscription for each operation ---------------
# CIS id -> (check key suffix, operation name or "category:<name>", what changes)
ACTIVITY_ALERTS: dict[str, tuple[str, str, str]] = {
    "6.1.2.1": ("policy_assignment_write", "Microsoft.Authorization/policyAssignments/write",
                "policy assignments created"),
    "6.1.2.2": ("policy_assignment_delete", "Microsoft.Authorization/policyAssignments/delete",
                "policy assignments deleted"),
    "6.1.2.3": ("nsg_write", "Microsoft.Network/networkSecurityGroups/write",
                "network security groups created or updated"),
    "6.1.2.4": ("nsg_delete", "Microsoft.Network/networkSecurityGroups/delete", "network security groups deleted"),
    "6.1.2.5": ("security_solution_write", "Microsoft.Security/securitySolutions/write",
                "security solutions created or updated"),
    "6.1.2.6": ("security_solution_delete", "Microsoft.Security/securitySolutions/delete",
                "security solutions deleted"),
    "6.1.2.7": ("sql_firewall_write", "Microsoft.Sql/servers/firewallRules/write",
                "SQL server firewall rules created or updated"),
    "6.1.2.8": ("sql_firewall_delete", "Microsoft.Sql/servers/firewallRules/delete",
                "SQL server firewall rules deleted"),
    "6.1.2.9": ("public_ip_write", "Microsoft.Network/publicIPAddresses/write",
                "public IP addresses created or updated"),
    "6.1.2.10": ("public_ip_delete", "Microsoft.Network/publicIPAddresses/delete", "public IP addresses deleted"),
    "6.1.2.11": ("service_health", "category:ServiceHealth", "Azure service incidents"),
}  # fmt: skip


def _activity_alert_check(cis: str, suffix: str, operation: str, what: str) -> None:
    category = operation.startswith("category:")
    condition = (
        f"--condition category={operation.split(':', 1)[1]}"
        if category
        else f"--condition category=Administrative and operationName={operation}"
    )

    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if "alerted_operations" not in rec.attrs:  # the Activity Log alerts were not read
            return NA
        if operation.lower() in rec.attrs["alerted_operations"]:
            return None
        return Fail(f"no enabled Activity Log alert on {operation} for the subscription")

    check(f"azure.monitor.alert_{suffix}", resource=SUBSCRIPTION, reads=("alerted_operations",),
          title=f"No Activity Log alert for {what}", severity=Severity.MEDIUM if not category else Severity.LOW,
          risk=f"Nobody is told when {what}; the change is found, if at all, by reading the Activity Log.",
          remediation=f"az monitor activity-log alert create --name NAME --resource-group RG --scope "
                      f"/subscriptions/SUBSCRIPTION_ID {condition} --action-group ACTION_GROUP_ID",
          cis=(cis,), soc2=("CC7.2",))(fn)  # fmt: skip


for _cis, (_suffix, _operation, _what) in ACTIVITY_ALERTS.items():
    _activity_alert_check(_cis, _suffix, _operation, _what)


# -- storage account keys and redundancy (9.3.1.2, 9.3.11) -------------------------------------------------------
@check("azure.storage.key_regenerated", resource=ACCOUNT, reads=("oldest_key_created",),
       title="Storage account access key not regenerated in 90 days", severity=Severity.MEDIUM,
       risk="An account key is full access to every blob, file, queue and table; one that has lived long has "
            "had long to leak, and keeps working until regenerated.",
       remediation="az storage account keys renew --account-name ACCOUNT --resource-group RG --key key1 (move "
                   "clients to key2 first, then renew key2 the same way)",
       cis=("9.3.1.2",), soc2=("CC6.1",))  # fmt: skip
def key_regenerated(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("oldest_key_created"))
    if age is None:  # keyCreationTime not returned
        return NA
    limit = ctx.thresholds.access_key_max_age_days
    return Fail(f"an access key was last generated {int(age)} days ago") if age > limit else None


GEO_REDUNDANT = frozenset({"Standard_GRS", "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS"})


@check("azure.storage.geo_redundant", resource=ACCOUNT, reads=("sku",),
       title="Storage account is not geo-redundant", severity=Severity.LOW,
       risk="The data lives in one region; a regional outage or disaster makes it unavailable or loses it.",
       remediation="az storage account update --name ACCOUNT --resource-group RG --sku Standard_GRS (Premium "
                   "accounts cannot be geo-redundant: copy critical data to a Standard GRS account)",
       cis=("9.3.11",), soc2=("A1.2",))  # fmt: skip
def geo_redundant(rec: Record, ctx: CheckContext) -> Outcome:
    sku = rec.attrs.get("sku")
    if sku is None:
        return NA
    return None if sku in GEO_REDUNDANT else Fail(f"redundancy is {sku}")


# -- Defender for Cloud security contact (8.1.12-8.1.15) ---------------------------------------------------------
_CONTACT_CMD = (
    "az rest --method put --url https://management.azure.com/subscriptions/SUBSCRIPTION_ID/providers/"
    'Microsoft.Security/securityContacts/default?api-version=2023-12-01-preview --body \'{"properties": '
    '{"isEnabled": true, "emails": "secops@example.com", "notificationsByRole": {"state": "On", "roles": '
    '["Owner"]}, "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "High"}, '
    '{"sourceType": "AttackPath", "minimalRiskLevel": "Critical"}]}}\''
)


def _contact_check(
    key: str, cis: str, title: str, risk: str, missing: str, ok: Callable[[dict[str, Any]], bool]
) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if "security_contact" not in rec.attrs:  # the security contacts were not read
            return NA
        return None if ok(rec.attrs["security_contact"]) else Fail(missing)

    check(key, resource=SUBSCRIPTION, reads=("security_contact",), title=title, severity=Severity.LOW, risk=risk,
          remediation=_CONTACT_CMD, cis=(cis,), soc2=("CC7.3",))(fn)  # fmt: skip


_contact_check("azure.security.contact_owners", "8.1.12", "Defender for Cloud does not notify subscription owners",
               "High-severity alerts reach nobody who owns the subscription.",
               "notifications by role are off or do not include Owner", lambda c: "Owner" in c["roles"])  # fmt: skip
_contact_check("azure.security.contact_email", "8.1.13", "Defender for Cloud has no security contact email",
               "Microsoft and Defender for Cloud have no address to tell your security team about a breach.",
               "no additional email address is set", lambda c: bool(c["emails"]))  # fmt: skip
_contact_check("azure.security.contact_alerts", "8.1.14", "Defender for Cloud sends no alert notifications",
               "Security alerts wait in the portal until someone happens to look.",
               "alert notifications are off", lambda c: c["alert_severity"] is not None)  # fmt: skip
_contact_check("azure.security.contact_attack_paths", "8.1.15",
               "Defender for Cloud sends no attack path notifications",
               "Newly found attack paths to critical resources wait in the portal until someone looks.",
               "attack path notifications are off", lambda c: c["attack_path_risk"] is not None)  # fmt: skip


# -- subscription roles (5.3.3, 5.4, 5.7) -------------------------------------------------------------------------
@check("azure.iam.subscription_owners", resource=SUBSCRIPTION, reads=("owners",),
       title="Subscription does not have two or three owners", severity=Severity.MEDIUM,
       risk="One owner is a single point of failure (and of compromise, unnoticed by anyone else); more than "
            "three is more standing full control than anyone can review.",
       remediation="az role assignment create --role Owner --assignee PRINCIPAL --scope /subscriptions/"
                   "SUBSCRIPTION_ID, or az role assignment delete --role Owner --assignee PRINCIPAL --scope "
                   "/subscriptions/SUBSCRIPTION_ID, until two or three remain",
       cis=("5.7",), soc2=("CC6.3",))  # fmt: skip
def subscription_owners(rec: Record, ctx: CheckContext) -> Outcome:
    if "owners" not in rec.attrs:  # the role assignments were not read
        return NA
    count = len(rec.attrs["owners"])
    return None if 2 <= count <= 3 else Fail(f"{count} principal{'s hold' if count != 1 else ' holds'} Owner")


@check("azure.iam.root_user_access_admin", resource=SUBSCRIPTION, reads=("root_access_admins",),
       title="Someone holds User Access Administrator at the root scope", severity=Severity.HIGH,
       risk="User Access Administrator at / (what a Global Administrator's \"elevate access\" grants) can give "
            "anyone any role on every subscription and management group of the tenant.",
       remediation="az role assignment delete --role \"User Access Administrator\" --assignee PRINCIPAL "
                   "--scope / (or turn off \"Access management for Azure resources\" in Entra ID properties)",
       cis=("5.3.3",), soc2=("CC6.3",))  # fmt: skip
def root_user_access_admin(rec: Record, ctx: CheckContext) -> Outcome:
    if "root_access_admins" not in rec.attrs:
        return NA
    admins = rec.attrs["root_access_admins"]
    return Fail(f"principal {', '.join(admins)} holds it at /") if admins else None


@check("azure.iam.custom_admin_roles", resource=SUBSCRIPTION, reads=("custom_admin_roles",),
       title="A custom role grants every action on the subscription", severity=Severity.MEDIUM,
       risk="A custom role with actions \"*\" is Owner under another name, outside the reviews that watch Owner.",
       remediation="az role definition update --role-definition ROLE.json with only the actions needed, or "
                   "az role definition delete --name ROLE",
       cis=("5.4",), soc2=("CC6.3",))  # fmt: skip
def custom_admin_roles(rec: Record, ctx: CheckContext) -> Outcome:
    if "custom_admin_roles" not in rec.attrs:
        return NA
    roles = rec.attrs["custom_admin_roles"]
    return Fail(f'{", ".join(roles)} allow{"s" if len(roles) == 1 else ""} actions "*"') if roles else None


# -- virtual networks and Bastion (7.11, 8.5, 8.4.1) -------------------------------------------------------------
@check("azure.network.subnet_without_nsg", resource="azure.network.vnet", reads=("subnets_without_nsg",),
       title="Virtual network has subnets without a network security group", severity=Severity.MEDIUM,
       risk="Traffic to and between the subnet's resources is filtered by nothing but their own NICs, if "
            "those have an NSG at all.",
       remediation="az network vnet subnet update --vnet-name VNET --name SUBNET --resource-group RG "
                   "--network-security-group NSG",
       cis=("7.11",), soc2=("CC6.6",))  # fmt: skip
def subnet_without_nsg(rec: Record, ctx: CheckContext) -> Outcome:
    bare = rec.attrs.get("subnets_without_nsg") or []
    return Fail(f"no NSG on {', '.join(bare)}") if bare else None


attr_check("azure.network.vnet_ddos_protection", "azure.network.vnet", "ddos_protection", is_true,
           title="Virtual network has no DDoS Network Protection", severity=Severity.LOW,
           message="enableDdosProtection is off",
           risk="Public endpoints in the network have only the basic infrastructure protection: no tuned "
                "mitigation, attack telemetry or cost protection during a volumetric attack.",
           remediation="az network vnet update --name VNET --resource-group RG --ddos-protection true "
                       "--ddos-protection-plan PLAN_ID (a plan is billed monthly; one covers many VNets)",
           cis=("8.5",), soc2=("A1.2",))  # fmt: skip


@check("azure.network.bastion_host", resource=SUBSCRIPTION, reads=("bastion_hosts",),
       title="Subscription has no Azure Bastion host", severity=Severity.LOW,
       risk="Without Bastion, reaching VMs means RDP or SSH open to some network, or public IPs on the VMs.",
       remediation="az network bastion create --name BASTION --resource-group RG --vnet-name VNET "
                   "--public-ip-address PIP --location LOCATION (needs an AzureBastionSubnet)",
       cis=("8.4.1",), soc2=("CC6.6",))  # fmt: skip
def bastion_host(rec: Record, ctx: CheckContext) -> Outcome:
    if "bastion_hosts" not in rec.attrs:  # the Bastion hosts were not read
        return NA
    return None if rec.attrs["bastion_hosts"] else Fail("no Bastion host in the subscription")


# -- Azure Databricks (2.1.1, 2.1.2, 2.1.9, 2.1.10, 2.1.11) --------------------------------------------------------
DATABRICKS = "azure.databricks.workspace"
_DBX_VNET = ("Deploy a new workspace with VNet injection (--vnet VNET --public-subnet PUBLIC --private-subnet "
             "PRIVATE) and move the jobs: a workspace cannot leave the managed network in place")  # fmt: skip

attr_check("azure.databricks.custom_vnet", DATABRICKS, "custom_vnet", truthy,
           title="Databricks workspace runs in the managed virtual network", severity=Severity.MEDIUM,
           message="not deployed in a customer-managed VNet (VNet injection)",
           risk="The clusters' network is Databricks', so your NSGs, routes, firewalls and private endpoints "
                "cannot govern what they reach.",
           remediation=_DBX_VNET, cis=("2.1.1",), soc2=("CC6.6",))  # fmt: skip
attr_check("azure.databricks.no_public_ip", DATABRICKS, "no_public_ip", is_true,
           title="Databricks clusters get public IP addresses", severity=Severity.HIGH,
           message="secure cluster connectivity (enableNoPublicIp) is off",
           risk="Every cluster node has a public IP and open inbound ports from the control plane; the data "
                "plane is exposed to the internet.",
           remediation="az databricks workspace update --name WS --resource-group RG --enable-no-public-ip",
           cis=("2.1.9",), soc2=("CC6.6",))  # fmt: skip
attr_check("azure.databricks.public_network", DATABRICKS, "public_network_access", lambda v: v == "Disabled",
           title="Databricks workspace is reachable from public networks", severity=Severity.MEDIUM,
           message="publicNetworkAccess is not Disabled",
           risk="The workspace UI and REST API answer anyone on the internet holding a token.",
           remediation="az databricks workspace update --name WS --resource-group RG --public-network-access "
                       "Disabled --required-nsg-rules NoAzureDatabricksRules (after a private endpoint exists)",
           cis=("2.1.10",), soc2=("CC6.6",))  # fmt: skip
attr_check("azure.databricks.private_endpoints", DATABRICKS, "private_endpoints", truthy,
           title="Databricks workspace has no private endpoint", severity=Severity.LOW,
           message="no approved private endpoint connection",
           risk="Users and the clusters reach the workspace over its public endpoint.",
           remediation="az network private-endpoint create --name PE --resource-group RG --vnet-name VNET "
                       "--subnet SUBNET --private-connection-resource-id WS_ID --group-id databricks_ui_api "
                       "--connection-name PE",
           cis=("2.1.11",), soc2=("CC6.6",))  # fmt: skip


@check("azure.databricks.subnet_nsg", resource=DATABRICKS,
       reads=("custom_vnet", "vnet_subnets", "azure.network.vnet:subnets_without_nsg"),
       title="Databricks workspace subnet has no network security group", severity=Severity.MEDIUM,
       risk="The cluster subnets' traffic is filtered by nothing; Databricks' required rules and your own "
            "restrictions are not enforced.",
       remediation="az network vnet subnet update --vnet-name VNET --name SUBNET --resource-group RG "
                   "--network-security-group NSG",
       cis=("2.1.2",), soc2=("CC6.6",))  # fmt: skip
def databricks_subnet_nsg(rec: Record, ctx: CheckContext) -> Outcome:
    vnet_id = str(rec.attrs.get("custom_vnet") or "").lower()
    vnet = next((v for v in ctx.index.get("azure.network.vnet", ()) if v.id.lower() == vnet_id), None)
    if vnet is None:  # the managed VNet (2.1.1 decides), or the VNet was not read
        return NA
    bare = [
        s for s in rec.attrs.get("vnet_subnets") or [] if s in (vnet.attrs.get("subnets_without_nsg") or [])
    ]
    return Fail(f"no NSG on {', '.join(bare)}") if bare else None


# -- Azure Files (9.1.1-9.1.3) ----------------------------------------------------------------------------------------
def _only(allowed: frozenset[str]) -> Callable[[Any], bool]:
    """True when the account's SMB setting lists nothing outside ``allowed`` (None: left at the default,
    which allows every version or cipher)."""
    return lambda values: values is not None and set(values) <= allowed


attr_check("azure.storage.file_soft_delete", ACCOUNT, "file_soft_delete", is_true,
           title="Storage account has no soft delete for file shares", severity=Severity.MEDIUM,
           message="shareDeleteRetentionPolicy is off",
           risk="A share deleted by mistake or by an attacker is gone at once, with every file in it.",
           remediation="az storage account file-service-properties update --account-name ACCOUNT "
                       "--resource-group RG --enable-delete-retention true --delete-retention-days 7",
           cis=("9.1.1",), soc2=("A1.2",))  # fmt: skip
attr_check("azure.storage.smb_version", ACCOUNT, "smb_versions", _only(frozenset({"SMB3.1.1"})),
           title="File shares accept SMB versions older than 3.1.1", severity=Severity.LOW,
           message="SMB versions allowed are not limited to SMB3.1.1",
           risk="Older SMB dialects lack pre-authentication integrity and the strongest encryption, so a "
                "client can be downgraded.",
           remediation="az storage account file-service-properties update --account-name ACCOUNT "
                       "--resource-group RG --versions SMB3.1.1",
           cis=("9.1.2",), soc2=("CC6.7",))  # fmt: skip
attr_check("azure.storage.smb_channel_encryption", ACCOUNT, "smb_channel_encryption",
           _only(frozenset({"AES-256-GCM"})),
           title="File shares accept SMB channel encryption weaker than AES-256-GCM", severity=Severity.LOW,
           message="SMB channel encryption allowed is not limited to AES-256-GCM",
           risk="Clients may negotiate AES-128 ciphers for data in transit to the shares.",
           remediation="az storage account file-service-properties update --account-name ACCOUNT "
                       "--resource-group RG --channel-encryption AES-256-GCM",
           cis=("9.1.3",), soc2=("CC6.7",))  # fmt: skip
attr_check("azure.keyvault.audit_logging", VAULT, "audit_logged", is_true,
           title="Key Vault audit logs are not kept", severity=Severity.MEDIUM,
           message="no diagnostic setting sends the AuditEvent log anywhere",
           risk="Who read which secret or key, and when, is recorded nowhere you can search after an incident.",
           remediation="az monitor diagnostic-settings create --name audit --resource VAULT_ID --workspace "
                       "WORKSPACE_ID --logs '[{\"categoryGroup\":\"audit\",\"enabled\":true}]'",
           cis=("6.1.1.4",), soc2=("CC7.2",))  # fmt: skip
attr_check("azure.databricks.diagnostic_logs", DATABRICKS, "diagnostic_logs", is_true,
           title="Databricks workspace delivers no diagnostic logs", severity=Severity.MEDIUM,
           message="no diagnostic setting sends the workspace's logs anywhere",
           risk="Logins, job runs, cluster and permission changes in the workspace are recorded nowhere you "
                "can search after an incident.",
           remediation="az monitor diagnostic-settings create --name audit --resource WS_ID --workspace "
                       "WORKSPACE_ID --logs '[{\"categoryGroup\":\"allLogs\",\"enabled\":true}]' (Premium tier)",
           cis=("2.1.7",), soc2=("CC7.2",))  # fmt: skip


# -- subscription: Application Insights (6.1.3.1), Defender for Endpoint integration (8.1.3.3) --------------------
@check("azure.monitor.app_insights", resource=SUBSCRIPTION, reads=("app_insights",),
       title="Subscription has no Application Insights component", severity=Severity.LOW,
       risk="Application requests, failures and dependencies are not traced, so an attack or outage in the "
            "application layer goes unseen.",
       remediation="az monitor app-insights component create --app NAME --location LOCATION --resource-group RG "
                   "--workspace WORKSPACE_ID (then instrument the applications)",
       cis=("6.1.3.1",), soc2=("CC7.2",))  # fmt: skip
def app_insights(rec: Record, ctx: CheckContext) -> Outcome:
    if "app_insights" not in rec.attrs:  # the components were not read
        return NA
    return (
        None if rec.attrs["app_insights"] else Fail("no Application Insights component in the subscription")
    )


attr_check("azure.security.endpoint_protection", SUBSCRIPTION, "endpoint_protection", is_true,
           title="Defender for Cloud's endpoint protection component is off", severity=Severity.MEDIUM,
           message="the WDATP setting (Microsoft Defender for Endpoint integration) is not enabled",
           risk="Servers covered by Defender for Servers get no endpoint detection and response: malware and "
                "hands-on-keyboard attacks on them raise no alert.",
           remediation="az rest --method put --url https://management.azure.com/subscriptions/SUBSCRIPTION_ID/"
                       "providers/Microsoft.Security/settings/WDATP?api-version=2022-05-01 --body "
                       "'{\"kind\": \"DataExportSettings\", \"properties\": {\"enabled\": true}}'",
           cis=("8.1.3.3",), soc2=("CC6.8",))  # fmt: skip


# -- networking: Network Watcher per region in use (7.6), VPN point-to-site with Entra ID only (7.9) --------------
@check("azure.network.network_watcher", resource="azure.network.vnet", reads=("network_watcher",),
       title="No Network Watcher in the virtual network's region", severity=Severity.LOW,
       risk="Flow logs, connection troubleshooting and topology cannot be used for the region's networks when "
            "an incident needs them.",
       remediation="az network watcher configure --locations LOCATION --enabled true --resource-group "
                   "NetworkWatcherRG",
       cis=("7.6",), soc2=("CC7.2",))  # fmt: skip
def network_watcher(rec: Record, ctx: CheckContext) -> Outcome:
    if "network_watcher" not in rec.attrs:  # the watchers were not read
        return NA
    return None if rec.attrs["network_watcher"] else Fail(f"no Network Watcher in {rec.region}")


@check("azure.network.vpn_p2s_entra_only", resource="azure.network.vpn_gateway", reads=("p2s_auth_types",),
       title="VPN gateway point-to-site accepts more than Entra ID authentication", severity=Severity.MEDIUM,
       risk="Certificates and RADIUS logins skip Conditional Access and MFA, and a leaked client certificate "
            "keeps working until someone revokes it.",
       remediation="az network vnet-gateway update --name GATEWAY --resource-group RG --vpn-auth-type AAD "
                   "--aad-tenant https://login.microsoftonline.com/TENANT_ID --aad-audience "
                   "c632b3df-fb67-4d84-bdcf-b95ad541b5c8 --aad-issuer https://sts.windows.net/TENANT_ID/",
       cis=("7.9",), soc2=("CC6.1",))  # fmt: skip
def vpn_p2s_entra_only(rec: Record, ctx: CheckContext) -> Outcome:
    types = rec.attrs.get("p2s_auth_types")
    if types is None:  # no point-to-site configuration: nothing to authenticate
        return NA
    return None if types == ["AAD"] else Fail(f"point-to-site authentication: {', '.join(types) or 'none'}")


# -- Application Gateway and its WAF (7.10, 7.12-7.15) -----------------------------------------------------------
APP_GATEWAY = "azure.network.app_gateway"
_MODERN_TLS = frozenset({"TLSv1_2", "TLSv1_3"})

attr_check("azure.network.appgw_waf", APP_GATEWAY, "waf", is_true,
           title="Application Gateway has no Web Application Firewall", severity=Severity.HIGH,
           message="no enabled WAF (WAF tier with an enabled WAF policy)",
           risk="SQL injection, cross-site scripting and other OWASP attacks reach the backends unfiltered.",
           remediation="az network application-gateway waf-policy create --name POLICY --resource-group RG, then "
                       "az network application-gateway update --name GATEWAY --resource-group RG --sku WAF_v2 "
                       "--set firewallPolicy.id=POLICY_ID",
           cis=("7.10",), soc2=("CC6.6",))  # fmt: skip


@check("azure.network.appgw_min_tls", resource=APP_GATEWAY, reads=("min_tls",),
       title="Application Gateway accepts TLS older than 1.2", severity=Severity.MEDIUM,
       risk="Clients can negotiate TLS 1.0 or 1.1, whose weaknesses expose traffic to downgrade and decryption.",
       remediation="az network application-gateway ssl-policy set --gateway-name GATEWAY --resource-group RG "
                   "--policy-type Predefined --name AppGwSslPolicy20220101",
       cis=("7.12",), soc2=("CC6.7",))  # fmt: skip
def appgw_min_tls(rec: Record, ctx: CheckContext) -> Outcome:
    if "min_tls" not in rec.attrs:
        return NA
    version = rec.attrs["min_tls"]
    if version is None:
        return Fail("no TLS policy set: the default accepts TLS 1.0 on gateways deployed with API versions "
                    "before 2023-02-01")  # fmt: skip
    return None if version in _MODERN_TLS else Fail(f"minimum protocol version is {version}")


attr_check("azure.network.appgw_http2", APP_GATEWAY, "http2", is_true,
           title="Application Gateway has HTTP/2 off", severity=Severity.LOW, message="enableHttp2 is off",
           risk="Clients fall back to HTTP/1.1, without HTTP/2's header compression and multiplexing.",
           remediation="az network application-gateway update --name GATEWAY --resource-group RG --http2 Enabled",
           cis=("7.13",), soc2=("A1.2",))  # fmt: skip


def _waf_check(key: str, attr: str, cis: str, title: str, message: str, risk: str, remediation: str) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if rec.attrs.get(attr) is None:  # no WAF (azure.network.appgw_waf decides) or its policy not read
            return NA
        return None if rec.attrs[attr] is True else Fail(message)

    check(key, resource=APP_GATEWAY, reads=(attr,), title=title, severity=Severity.MEDIUM, risk=risk,
          remediation=remediation, cis=(cis,), soc2=("CC6.6",))(fn)  # fmt: skip


_waf_check("azure.network.appgw_request_body_check", "request_body_check", "7.14",
           "Application Gateway WAF does not inspect request bodies", "request body inspection is off",
           "Attacks carried in POST bodies (form fields, JSON, XML) pass the WAF unexamined.",
           "az network application-gateway waf-policy policy-setting update --policy-name POLICY "
           "--resource-group RG --request-body-check true")  # fmt: skip
_waf_check("azure.network.appgw_bot_protection", "bot_protection", "7.15",
           "Application Gateway WAF has no bot protection", "the Microsoft_BotManagerRuleSet is not on",
           "Traffic from known malicious bots (scrapers, credential stuffers, vulnerability scanners) reaches "
           "the application.",
           "az network application-gateway waf-policy managed-rule rule-set add --policy-name POLICY "
           "--resource-group RG --type Microsoft_BotManagerRuleSet --version 1.1")  # fmt: skip


# -- Key Vault data plane (8.3.1-8.3.4, 8.3.9, 8.3.11) -------------------------------------------------------------
def _vault_items_check(
    key: str, attr: str, cis: str, rbac: bool | None, title: str, what: str, risk: str, remediation: str,
    severity: Severity = Severity.MEDIUM,
) -> None:  # fmt: skip
    """Fail when the vault's data plane lists items in ``attr``; ``rbac`` True / False: only for vaults using
    Azure RBAC / access policies (CIS splits the expiry controls by the vault's permission model)."""
    reads = (attr, "rbac_authorization") if rbac is not None else (attr,)

    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if attr not in rec.attrs:  # the data plane was not read
            return NA
        if rbac is not None and bool(rec.attrs.get("rbac_authorization")) is not rbac:
            return NA
        items = rec.attrs[attr]
        return Fail(f"{what}: {', '.join(items)}") if items else None

    check(key, resource=VAULT, reads=reads, title=title, severity=severity, risk=risk, remediation=remediation,
          cis=(cis,), soc2=("CC6.1",))(fn)  # fmt: skip


_KEY_EXP = "az keyvault key set-attributes --vault-name VAULT --name KEY --expires YYYY-MM-DDTHH:MM:SSZ"
_SECRET_EXP = (
    "az keyvault secret set-attributes --vault-name VAULT --name SECRET --expires YYYY-MM-DDTHH:MM:SSZ"
)
_NO_KEY_EXP = (
    "Keys without an expiration date can be used forever, so a leaked or outdated key never stops working."
)
_NO_SECRET_EXP = "Secrets without an expiration date are never forced to rotate: a leaked one stays valid."

_vault_items_check("azure.keyvault.key_expiry_rbac", "keys_without_expiry", "8.3.1", True,
                   "Key Vault (RBAC) has keys without an expiration date", "keys with no expiry",
                   _NO_KEY_EXP, _KEY_EXP)  # fmt: skip
_vault_items_check("azure.keyvault.key_expiry_access_policy", "keys_without_expiry", "8.3.2", False,
                   "Key Vault (access policies) has keys without an expiration date", "keys with no expiry",
                   _NO_KEY_EXP, _KEY_EXP)  # fmt: skip
_vault_items_check("azure.keyvault.secret_expiry_rbac", "secrets_without_expiry", "8.3.3", True,
                   "Key Vault (RBAC) has secrets without an expiration date", "secrets with no expiry",
                   _NO_SECRET_EXP, _SECRET_EXP)  # fmt: skip
_vault_items_check("azure.keyvault.secret_expiry_access_policy", "secrets_without_expiry", "8.3.4", False,
                   "Key Vault (access policies) has secrets without an expiration date", "secrets with no expiry",
                   _NO_SECRET_EXP, _SECRET_EXP)  # fmt: skip
_vault_items_check("azure.keyvault.key_auto_rotation", "keys_without_rotation", "8.3.9", None,
                   "Key Vault keys are not rotated automatically", "no Rotate action in the rotation policy of",
                   "Keys stay in use until someone remembers to rotate them; the longer one lives, the more data "
                   "a compromise of it exposes.",
                   "az keyvault key rotation-policy update --vault-name VAULT --name KEY --value "
                   "'{\"lifetimeActions\": [{\"trigger\": {\"timeBeforeExpiry\": \"P30D\"}, \"action\": "
                   "{\"type\": \"Rotate\"}}], \"attributes\": {\"expiryTime\": \"P1Y\"}}'",
                   Severity.LOW)  # fmt: skip
_vault_items_check("azure.keyvault.certificate_validity", "long_lived_certificates", "8.3.11", None,
                   "Key Vault certificates are issued for more than 12 months", "validity over 12 months",
                   "A long-lived certificate's key stays in use, and trusted, long after it may have leaked.",
                   "az keyvault certificate set-attributes --vault-name VAULT --name CERT --policy @policy.json "
                   "(x509_props.validity_months at most 12; applies from the next issuance)",
                   Severity.LOW)  # fmt: skip


attr_check("azure.compute.vm_update_assessment", "azure.compute.vm", "patch_assessment",
           lambda v: v == "AutomaticByPlatform",
           title="VM is not checked periodically for missing OS updates", severity=Severity.MEDIUM,
           message="patch assessment mode is {value}, not AutomaticByPlatform",
           risk="Missing security updates are found only when someone asks, so Defender for Cloud's system "
                "update recommendation misses the machine and known holes stay open.",
           remediation="az vm update --resource-group RG --name VM --set osProfile.linuxConfiguration."
                       "patchSettings.assessmentMode=AutomaticByPlatform (windowsConfiguration on Windows)",
           cis=("8.1.10",), soc2=("CC7.1",))  # fmt: skip


# -- Entra ID, read from Microsoft Graph: security defaults (5.1.1), MFA for all users (5.1.3) --------------------
TENANT = "azure.entra.tenant"


@check("azure.entra.security_defaults", resource=TENANT, reads=("security_defaults", "ca_mfa_all_users"),
       title="Entra ID security defaults are off and no Conditional Access policy requires MFA for all users",
       severity=Severity.HIGH,
       risk="Nothing makes the tenant's users and administrators prove a second factor, and legacy "
            "authentication (which cannot do MFA) stays open: one phished or sprayed password is an account.",
       remediation="Entra admin center > Identity > Overview > Properties > Manage security defaults > Enabled "
                   "(or, with Entra ID P1, an enabled Conditional Access policy for All users and All resources "
                   "that grants access only with MFA)",
       cis=("5.1.1",), soc2=("CC6.1",))  # fmt: skip
def security_defaults(rec: Record, ctx: CheckContext) -> Outcome:
    """CIS 5.1.1 applies where Conditional Access is not used: an enabled policy requiring MFA for all users
    counts, as CIS's audit procedure lets it."""
    if "security_defaults" not in rec.attrs:  # Graph refused the policy read
        return NA
    if rec.attrs["security_defaults"] or rec.attrs.get("ca_mfa_all_users"):
        return None
    if "ca_mfa_all_users" not in rec.attrs:  # Conditional Access not read: cannot tell whether it is used
        return NA
    return Fail(
        "security defaults are off and no enabled Conditional Access policy requires MFA for all users"
    )


@check("azure.entra.mfa_all_users", resource=TENANT,
       reads=("security_defaults", "ca_mfa_all_users", "users_without_mfa"),
       title="Not every Entra ID user has multifactor authentication", severity=Severity.HIGH,
       risk="A user without a registered second factor signs in with a password alone, so a phished or "
            "reused password is enough to take the account.",
       remediation="Enforce MFA for everyone (security defaults, or a Conditional Access policy for All users "
                   "requiring MFA) and have the listed users register a method at "
                   "https://aka.ms/mysecurityinfo",
       cis=("5.1.3",), soc2=("CC6.1",))  # fmt: skip
def mfa_all_users(rec: Record, ctx: CheckContext) -> Outcome:
    """MFA enforced for everyone (security defaults, or Conditional Access for all users) passes; otherwise the
    users Graph's registration report shows without an MFA method fail it. Nothing read: no verdict."""
    if rec.attrs.get("security_defaults") or rec.attrs.get("ca_mfa_all_users"):
        return None
    if "users_without_mfa" not in rec.attrs:  # the registration report was not read (permission, licence)
        return NA
    users: list[str] = rec.attrs["users_without_mfa"]
    if not users:
        return None
    more = f" and {len(users) - 5} more" if len(users) > 5 else ""
    return Fail(f"{len(users)} users have no MFA method registered and MFA is not enforced: "
                f"{', '.join(users[:5])}{more}")  # fmt: skip
