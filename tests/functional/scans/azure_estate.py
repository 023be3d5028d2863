"""An Azure estate with known ground truth: ARM list responses in the documented REST shapes (replayed at the
azure-core transport, two pages where ``nextLink`` matters) plus real blob containers in azurite.

Every resource is built to fail a known set of checks; :func:`seed` returns that set as (check id, resource id).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from escher.scans.collect.metrics import window
from tests.functional.scans.replay import Router

SUB = "00000000-0000-0000-0000-0000000000aa"
ARM = "https://management.azure.com"
ACCOUNT = "devstoreaccount1"  # azurite's account: its containers belong to this ARM account


def rid(rg: str, provider: str, kind: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}/providers/{provider}/{kind}/{name}"


@dataclass
class AzureTruth:
    failing: set[tuple[str, str]] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)

    def fails(self, resource_id: str, *checks: str) -> None:
        self.resources.add(resource_id)
        self.failing |= {(c, resource_id) for c in checks}


def _account(name: str, **props: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "creationTime": "2024-05-02T09:00:00.0000000Z",
        "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
        "primaryLocation": "eastus",
        "supportsHttpsTrafficOnly": True,
        "minimumTlsVersion": "TLS1_2",
        "allowBlobPublicAccess": False,
        "allowSharedKeyAccess": False,
        "publicNetworkAccess": "Disabled",
        "allowCrossTenantReplication": False,
        "defaultToOAuthAuthentication": True,
        "networkAcls": {
            "bypass": "AzureServices",
            "virtualNetworkRules": [],
            "ipRules": [],
            "defaultAction": "Deny",
        },
        "encryption": {
            "services": {"blob": {"enabled": True, "keyType": "Account"}},
            "keySource": "Microsoft.Storage",
            "requireInfrastructureEncryption": True,
        },
    }
    base.update(props)
    return {
        "id": rid("rg-data", "Microsoft.Storage", "storageAccounts", name),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": "eastus",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "tags": {"env": "prod"},
        "properties": base,
    }


def _endpoint(name: str) -> dict[str, Any]:
    """An approved private endpoint connection as a storage account or vault lists it."""
    return {
        "id": f"{name}/privateEndpointConnections/{name}-pe",
        "properties": {
            "privateEndpoint": {"id": rid("rg-net", "Microsoft.Network", "privateEndpoints", f"{name}-pe")},
            "privateLinkServiceConnectionState": {
                "status": "Approved",
                "description": "",
                "actionsRequired": "None",
            },
            "provisioningState": "Succeeded",
        },
    }


def _blob_service(account: dict[str, Any], soft_delete: bool) -> dict[str, Any]:
    """``soft_delete`` False: no blob or container soft delete and no versioning (CIS 9.2.1-9.2.3)."""
    return {
        "id": account["id"] + "/blobServices/default",
        "name": "default",
        "type": "Microsoft.Storage/storageAccounts/blobServices",
        "properties": {
            "cors": {"corsRules": []},
            "deleteRetentionPolicy": {"enabled": soft_delete, **({"days": 7} if soft_delete else {})},
            "containerDeleteRetentionPolicy": {
                "enabled": soft_delete,
                **({"days": 7} if soft_delete else {}),
            },
            "isVersioningEnabled": soft_delete,
        },
    }


def _file_service(account: dict[str, Any], *, soft_delete: bool, strict_smb: bool = False) -> dict[str, Any]:
    """``File Services - Get Service Properties``: SMB settings appear only once someone set them."""
    props: dict[str, Any] = {
        "cors": {"corsRules": []},
        "shareDeleteRetentionPolicy": {"enabled": soft_delete, **({"days": 7} if soft_delete else {})},
    }
    if strict_smb:
        props["protocolSettings"] = {"smb": {"versions": "SMB3.1.1;", "channelEncryption": "AES-256-GCM;",
                                             "authenticationMethods": "Kerberos;", "kerberosTicketEncryption": "AES-256;"}}  # fmt: skip
    return {
        "id": account["id"] + "/fileServices/default",
        "name": "default",
        "type": "Microsoft.Storage/storageAccounts/fileServices",
        "sku": account["sku"],
        "properties": props,
    }


def _vm(
    name: str, size: str, *, managed: bool = True, env: str = "dev", assessment: str | None = None
) -> dict[str, Any]:
    """``assessment``: the Linux patch settings' assessmentMode (None: no patchSettings, as on older VMs)."""
    os_disk: dict[str, Any] = {"osType": "Linux", "name": f"{name}-os", "createOption": "FromImage", "caching": "ReadWrite", "diskSizeGB": 30}  # fmt: skip
    if managed:
        os_disk["managedDisk"] = {
            "id": rid("rg-app", "Microsoft.Compute", "disks", f"{name}-os"),
            "storageAccountType": "Premium_LRS",
        }
    else:
        os_disk["vhd"] = {"uri": f"https://acmelegacy.blob.core.windows.net/vhds/{name}.vhd"}
    linux: dict[str, Any] = {}
    if assessment:
        patch_mode = "AutomaticByPlatform" if assessment == "AutomaticByPlatform" else "ImageDefault"
        linux["linuxConfiguration"] = {"disablePasswordAuthentication": True, "provisionVMAgent": True,
                                       "patchSettings": {"patchMode": patch_mode, "assessmentMode": assessment}}  # fmt: skip
    return {
        "id": rid("rg-app", "Microsoft.Compute", "virtualMachines", name),
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "tags": {"env": env},
        "properties": {
            "vmId": f"0f47b100-583c-48e3-a4c0-{len(name):012d}",
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"osDisk": os_disk, "dataDisks": []},
            "osProfile": {"computerName": name, "adminUsername": "azureuser", **linux},
            "provisioningState": "Succeeded",
        },
    }


def _vm_status(vm: dict[str, Any], power: str) -> dict[str, Any]:
    return {
        "id": vm["id"],
        "name": vm["name"],
        "type": vm["type"],
        "location": vm["location"],
        "properties": {
            "instanceView": {
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                    },
                    {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
                ]
            }
        },
    }


def _disk(name: str, state: str, encryption: str, size: int = 128) -> dict[str, Any]:
    return {
        "id": rid("rg-app", "Microsoft.Compute", "disks", name),
        "name": name,
        "type": "Microsoft.Compute/disks",
        "location": "eastus",
        "sku": {"name": "Premium_LRS", "tier": "Premium"},
        "properties": {
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": size,
            "diskState": state,
            "encryption": {"type": encryption},
            "provisioningState": "Succeeded",
            "timeCreated": "2024-11-05T10:00:00.0000000+00:00",
        },
    }


def _rule(name: str, priority: int, source: str | list[str], ports: str | list[str], access: str = "Allow", protocol: str = "Tcp") -> dict[str, Any]:  # fmt: skip
    props: dict[str, Any] = {
        "protocol": protocol,
        "sourcePortRange": "*",
        "destinationAddressPrefix": "*",
        "access": access,
        "priority": priority,
        "direction": "Inbound",
        "provisioningState": "Succeeded",
    }
    props.update(
        {"sourceAddressPrefixes": source} if isinstance(source, list) else {"sourceAddressPrefix": source}
    )
    props.update(
        {"destinationPortRanges": ports} if isinstance(ports, list) else {"destinationPortRange": ports}
    )
    return {
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": props,
    }


_DEFAULT_RULES = [
    _rule("AllowVnetInBound", 65000, "VirtualNetwork", "*"),
    _rule("AllowAzureLoadBalancerInBound", 65001, "AzureLoadBalancer", "*"),
    _rule("DenyAllInBound", 65500, "*", "*", access="Deny"),
]


def _nsg(name: str, rules: list[dict[str, Any]], subnet: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "securityRules": rules,
        "defaultSecurityRules": _DEFAULT_RULES,
    }
    if subnet:
        props["subnets"] = [{"id": rid("rg-net", "Microsoft.Network", "virtualNetworks", subnet)}]
    return {
        "id": rid("rg-net", "Microsoft.Network", "networkSecurityGroups", name),
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": props,
    }


def _sql(name: str, public: str) -> dict[str, Any]:
    return {
        "id": rid("rg-db", "Microsoft.Sql", "servers", name),
        "name": name,
        "type": "Microsoft.Sql/servers",
        "location": "eastus",
        "kind": "v12.0",
        "properties": {
            "administratorLogin": "dbadmin",
            "version": "12.0",
            "state": "Ready",
            "fullyQualifiedDomainName": f"{name}.database.windows.net",
            "minimalTlsVersion": "1.2",
            "publicNetworkAccess": public,
        },
    }


def _auditing(server: dict[str, Any], state: str) -> dict[str, Any]:
    return {
        "id": server["id"] + "/auditingSettings/Default",
        "name": "Default",
        "type": "Microsoft.Sql/servers/auditingSettings",
        "properties": {"state": state, "retentionDays": 0, "isAzureMonitorTargetEnabled": state == "Enabled"},
    }


def seed(router: Router, blob_service: Any) -> AzureTruth:
    """Route the ARM answers on ``router`` and create the containers in azurite; returns the truth."""
    truth = AzureTruth()
    sub = f"/subscriptions/{SUB}/providers"

    # -- storage accounts: two pages -------------------------------------------------------------------
    # access keys (CIS 9.3.1.2): acmelogs' key1 is as old as the account, the others' were renewed last week
    renewed = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    fresh_keys = {"key1": renewed, "key2": renewed}
    public = _account(ACCOUNT, allowBlobPublicAccess=True, keyCreationTime=fresh_keys)
    weak = _account(
        "acmelogs",
        supportsHttpsTrafficOnly=False,
        minimumTlsVersion="TLS1_0",
        networkAcls={
            "bypass": "None",
            "virtualNetworkRules": [],
            "ipRules": [],
            "defaultAction": "Allow",
        },
        encryption={"services": {"blob": {"enabled": True}}, "keySource": "Microsoft.Storage"},
        publicNetworkAccess="Enabled",
        allowCrossTenantReplication=True,
        keyCreationTime={"key1": "2024-05-02T09:00:00.0000000Z", "key2": renewed},
    )
    for never_set in ("allowSharedKeyAccess", "defaultToOAuthAuthentication"):  # absent: keys on, OAuth off
        del weak["properties"][never_set]
    good = _account(
        "acmesecure",
        keyPolicy={"keyExpirationPeriodInDays": 90},
        privateEndpointConnections=[_endpoint("acmesecure")],
        keyCreationTime=fresh_keys,
    )
    good["sku"] = {"name": "Standard_RAGRS", "tier": "Standard"}  # the others are LRS (CIS 9.3.11)
    del good["properties"]["allowBlobPublicAccess"]  # never set: the API leaves it out
    path = f"{sub}/Microsoft.Storage/storageAccounts"
    router.add(
        "GET",
        path,
        {"value": [public, weak], "nextLink": f"{ARM}{path}?api-version=2026-09-01&$skipToken=acct2"},
    )
    router.add("GET", path, {"value": [good]}, query="$skipToken=acct2")
    for acct, soft in ((public, True), (weak, False), (good, True)):
        router.add("GET", acct["id"] + "/blobServices/default", _blob_service(acct, soft))
    # Azure Files (CIS 9.1.x): acmelogs has no share soft delete; only acmesecure limits SMB to 3.1.1/AES-256-GCM
    router.add("GET", public["id"] + "/fileServices/default", _file_service(public, soft_delete=True))
    router.add("GET", weak["id"] + "/fileServices/default", _file_service(weak, soft_delete=False))
    router.add(
        "GET", good["id"] + "/fileServices/default", _file_service(good, soft_delete=True, strict_smb=True)
    )
    truth.fails(public["id"], "azure.storage.blob_public_access", "azure.storage.private_endpoints",
                "azure.storage.key_rotation_reminder", "azure.storage.geo_redundant", "azure.storage.smb_version",
                "azure.storage.smb_channel_encryption")  # fmt: skip
    truth.fails(
        weak["id"],
        "azure.storage.secure_transfer",
        "azure.storage.min_tls",
        "azure.storage.network_default_deny",
        "azure.storage.soft_delete",
        "azure.storage.infrastructure_encryption",
        "azure.storage.container_soft_delete",
        "azure.storage.versioning",
        "azure.storage.shared_key_access",
        "azure.storage.public_network",
        "azure.storage.default_oauth",
        "azure.storage.trusted_services",
        "azure.storage.cross_tenant_replication",
        "azure.storage.private_endpoints",
        "azure.storage.key_rotation_reminder",
        "azure.storage.key_regenerated",
        "azure.storage.geo_redundant",
        "azure.storage.file_soft_delete",
        "azure.storage.smb_version",
        "azure.storage.smb_channel_encryption",
    )
    truth.fails(good["id"])

    # -- containers (data plane: azurite) ---------------------------------------------------------------
    for name, level in (("public-blobs", "blob"), ("public-listing", "container"), ("private-data", None)):
        blob_service.create_container(name, public_access=level)
        cid = f"{public['id']}/blobServices/default/containers/{name}"
        truth.fails(cid, *(["azure.storage.container_public"] if level else []))

    # -- VMs: model and status views, CPU from Azure Monitor, backup from Recovery Services -------------------
    # OS update assessment (CIS 8.1.10): web-1 is assessed by the platform every day, api-1 on demand only
    # (ImageDefault) and legacy-1 has no patch settings at all (the same)
    vms = [
        _vm("web-1", "Standard_D2s_v3", assessment="AutomaticByPlatform"),
        _vm("legacy-1", "Standard_B2s", managed=False, env="prod"),
        _vm("api-1", "Standard_D4s_v3", env="prod", assessment="ImageDefault"),
    ]
    path = f"{sub}/Microsoft.Compute/virtualMachines"
    router.add("GET", path, {"value": vms})
    router.add("GET", path, {"value": [_vm_status(vms[0], "running"), _vm_status(vms[1], "deallocated"),
                                       _vm_status(vms[2], "running")]}, query="statusOnly=true")  # fmt: skip
    # running VMs only: web-1 idle (peak day 2.9%), api-1 busy enough not to be idle, not enough for a D4
    for vm, daily in ((vms[0], [1.2, 2.9]), (vms[2], [11.0, 19.5])):
        router.add("GET", vm["id"] + "/providers/Microsoft.Insights/metrics", _cpu_metrics(vm, daily),
                   query="metricnames=Percentage CPU")  # fmt: skip
    vault = _recovery_vault("rsv-prod")
    router.add("GET", f"{sub}/Microsoft.RecoveryServices/vaults", {"value": [vault]})
    router.add("GET", vault["id"] + "/backupProtectedItems", {"value": [
        _protected_item(vault, vms[0], "Protected"), _protected_item(vault, vms[1], "ProtectionStopped"),
    ]}, query="backupManagementType eq 'AzureIaasVM'")  # fmt: skip
    truth.fails(vms[0]["id"], "azure.compute.vm_idle")
    truth.fails(vms[1]["id"], "azure.compute.vm_managed_disks", "azure.compute.vm_backup",
                "azure.compute.vm_update_assessment")  # fmt: skip
    truth.fails(vms[2]["id"], "azure.compute.vm_overprovisioned", "azure.compute.vm_backup",
                "azure.compute.vm_update_assessment")  # fmt: skip

    # -- disks -------------------------------------------------------------------------------------------
    pmk, cmk = "EncryptionAtRestWithPlatformKey", "EncryptionAtRestWithCustomerKey"
    disks = [
        _disk("web-1-os", "Attached", pmk, 30),
        _disk("orphan-cmk", "Unattached", cmk),
        _disk("orphan-pmk", "Unattached", pmk, 512),
        _disk("db-data", "Attached", cmk),
    ]
    router.add("GET", f"{sub}/Microsoft.Compute/disks", {"value": disks})
    truth.fails(disks[0]["id"], "azure.compute.disk_encryption")
    truth.fails(disks[1]["id"], "azure.compute.disk_unattached")
    truth.fails(disks[2]["id"], "azure.compute.disk_encryption", "azure.compute.disk_unattached")
    truth.fails(disks[3]["id"])

    # -- NSGs: two pages ---------------------------------------------------------------------------------
    ssh = _nsg("nsg-ssh", [_rule("ssh", 100, "*", "22"), _rule("dns", 200, "Internet", "53", protocol="Udp"),
                           _rule("web", 210, "*", ["80", "443"])])  # fmt: skip
    rdp_db = _nsg(
        "nsg-rdp-db", [_rule("mgmt", 110, "Internet", ["3389", "1433-1434"])], subnet="vnet-app/subnets/db"
    )
    closed = _nsg(
        "nsg-closed",
        [_rule("ssh-office", 100, ["10.0.0.0/8", "192.168.0.0/16"], "22"), _rule("deny-rdp", 120, "*", "3389", access="Deny")],
    )  # fmt: skip
    path = f"{sub}/Microsoft.Network/networkSecurityGroups"
    router.add(
        "GET",
        path,
        {"value": [ssh, rdp_db], "nextLink": f"{ARM}{path}?api-version=2025-05-01&$skiptoken=nsg2"},
    )
    router.add("GET", path, {"value": [closed]}, query="$skiptoken=nsg2")
    # flow logs: nsg-closed has an NSG flow log, nsg-rdp-db is on a subnet of a VNet with a VNet flow log;
    # nsg-ssh's flow log is disabled
    watcher = _network_watcher("NetworkWatcher_eastus")
    router.add("GET", f"{sub}/Microsoft.Network/networkWatchers", {"value": [watcher]})
    router.add("GET", watcher["id"] + "/flowLogs", {"value": [
        _flow_log(watcher, "fl-closed", closed["id"], enabled=True),
        _flow_log(watcher, "fl-vnet-app", rid("rg-net", "Microsoft.Network", "virtualNetworks", "vnet-app"), enabled=True, days=30),
        _flow_log(watcher, "fl-ssh", ssh["id"], enabled=False),
    ]})  # fmt: skip
    truth.fails(ssh["id"], "azure.network.nsg_open_ssh", "azure.network.nsg_flow_logs", "azure.network.nsg_open_udp",
                "azure.network.nsg_open_http")  # fmt: skip
    truth.fails(rdp_db["id"], "azure.network.nsg_open_rdp", "azure.network.nsg_open_database_ports",
                "azure.network.vnet_flow_log_retention")  # fmt: skip
    truth.fails(closed["id"])
    # virtual networks (CIS 7.11, 8.5): vnet-app's web subnet has no NSG (its GatewaySubnet may not have one)
    # and no DDoS plan; vnet-hub is covered, but is in westus, where there is no Network Watcher (CIS 7.6)
    app_net = _vnet("vnet-app", [("db", rdp_db["id"]), ("web", None), ("GatewaySubnet", None)], ddos=False)
    hub_net = _vnet("vnet-hub", [("mgmt", closed["id"]), ("AzureFirewallSubnet", None), ("GatewaySubnet", None)],
                    ddos=True, location="westus")  # fmt: skip
    # VPN gateways on the GatewaySubnets (CIS 7.9): vpngw-app's point-to-site takes certificates besides Entra
    # ID; vpngw-hub takes Entra ID only. The subnets name them in their IP configurations
    app_gw = _vpn_gateway("vpngw-app", app_net, ["AAD", "Certificate"])
    hub_gw = _vpn_gateway("vpngw-hub", hub_net, ["AAD"])
    router.add("GET", f"{sub}/Microsoft.Network/virtualNetworks", {"value": [app_net, hub_net]})
    router.add("GET", app_gw["id"], app_gw)
    router.add("GET", hub_gw["id"], hub_gw)
    truth.fails(app_net["id"], "azure.network.subnet_without_nsg", "azure.network.vnet_ddos_protection")
    truth.fails(hub_net["id"], "azure.network.network_watcher")
    truth.fails(app_gw["id"], "azure.network.vpn_p2s_entra_only")
    truth.fails(hub_gw["id"])

    # -- Application Gateways and their WAF policies (CIS 7.10, 7.12-7.15): agw-legacy is Standard_v2 on the
    # 2015 TLS policy with HTTP/2 off; agw-edge's WAF policy inspects no request bodies and has no bot rule
    # set; agw-shop is WAF_v2 with everything on
    edge_waf = _waf_policy("waf-edge", body_check=False, bots=False)
    shop_waf = _waf_policy("waf-shop", body_check=True, bots=True)
    legacy_agw = _app_gateway("agw-legacy", "Standard_v2", {"policyType": "Predefined", "policyName": "AppGwSslPolicy20150501"}, http2=False)  # fmt: skip
    edge_agw = _app_gateway("agw-edge", "WAF_v2", {"policyType": "Custom", "minProtocolVersion": "TLSv1_2", "cipherSuites": [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}, http2=True, waf=edge_waf)  # fmt: skip
    shop_agw = _app_gateway("agw-shop", "WAF_v2", {"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}, http2=True, waf=shop_waf)  # fmt: skip
    path = f"{sub}/Microsoft.Network/applicationGateways"
    router.add(
        "GET",
        path,
        {"value": [legacy_agw, edge_agw], "nextLink": f"{ARM}{path}?api-version=2025-05-01&$skiptoken=agw2"},
    )
    router.add("GET", path, {"value": [shop_agw]}, query="$skiptoken=agw2")
    router.add("GET", f"{sub}/Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
               {"value": [edge_waf, shop_waf]})  # fmt: skip
    truth.fails(
        legacy_agw["id"],
        "azure.network.appgw_waf",
        "azure.network.appgw_min_tls",
        "azure.network.appgw_http2",
    )
    truth.fails(
        edge_agw["id"], "azure.network.appgw_request_body_check", "azure.network.appgw_bot_protection"
    )
    truth.fails(shop_agw["id"])

    # -- Azure Databricks (CIS 2.1.x): dbx-analytics is the portal's quick-create (managed VNet, public IPs,
    # public access, no private endpoint); dbx-secure is injected into vnet-app, whose web subnet has no NSG
    analytics = _databricks(
        "dbx-analytics", {"enableNoPublicIp": {"type": "Bool", "value": False}}, "Enabled", []
    )
    secure = _databricks("dbx-secure", {
        "customVirtualNetworkId": {"type": "String", "value": app_net["id"]},
        "customPublicSubnetName": {"type": "String", "value": "web"},
        "customPrivateSubnetName": {"type": "String", "value": "db"},
        "enableNoPublicIp": {"type": "Bool", "value": True},
    }, "Disabled", [_endpoint("dbx-secure")])  # fmt: skip
    router.add("GET", f"{sub}/Microsoft.Databricks/workspaces", {"value": [analytics, secure]})
    # diagnostic log delivery (CIS 2.1.7): dbx-secure sends its logs to a workspace; dbx-analytics' one setting
    # has every log off
    settings = "/providers/Microsoft.Insights/diagnosticSettings"
    router.add("GET", analytics["id"] + settings, {"value": [_resource_diagnostics(analytics, "to-archive", enabled=False)]})  # fmt: skip
    router.add("GET", secure["id"] + settings, {"value": [_resource_diagnostics(secure, "to-sentinel", enabled=True)]})  # fmt: skip
    truth.fails(analytics["id"], "azure.databricks.custom_vnet", "azure.databricks.no_public_ip",
                "azure.databricks.public_network", "azure.databricks.private_endpoints",
                "azure.databricks.diagnostic_logs")  # fmt: skip
    truth.fails(secure["id"], "azure.databricks.subnet_nsg")

    # -- SQL servers and their auditing ----------------------------------------------------------------------
    open_sql, private_sql = _sql("sql-open", "Enabled"), _sql("sql-private", "Disabled")
    router.add("GET", f"{sub}/Microsoft.Sql/servers", {"value": [open_sql, private_sql]})
    router.add("GET", open_sql["id"] + "/auditingSettings/default", _auditing(open_sql, "Disabled"))
    router.add("GET", private_sql["id"] + "/auditingSettings/default", _auditing(private_sql, "Enabled"))
    truth.fails(open_sql["id"], "azure.sql.server_public_network", "azure.sql.server_auditing")
    truth.fails(private_sql["id"])

    # -- SQL databases: master is skipped; TDE and short-term retention per database ---------------------------
    master, app, orders = (
        _database(open_sql, "master"),
        _database(open_sql, "appdb"),
        _database(private_sql, "orders"),
    )
    router.add("GET", open_sql["id"] + "/databases", {"value": [master, app]})
    router.add("GET", private_sql["id"] + "/databases", {"value": [orders]})
    for db, tde, days in ((app, "Disabled", 3), (orders, "Enabled", 14)):
        router.add("GET", db["id"] + "/transparentDataEncryption/current", _tde(db, tde))
        router.add("GET", db["id"] + "/backupShortTermRetentionPolicies/default", _retention(db, days))
    truth.fails(app["id"], "azure.sql.database_tde", "azure.sql.database_backup_retention")
    truth.fails(orders["id"])

    # -- managed disk snapshots ------------------------------------------------------------------------------
    snaps = [_snapshot("web-1-os-snap", disks[0], "Enabled"), _snapshot("db-data-snap", disks[3], "Disabled")]
    router.add("GET", f"{sub}/Microsoft.Compute/snapshots", {"value": snaps})
    truth.fails(snaps[0]["id"], "azure.compute.snapshot_public_network")
    truth.fails(snaps[1]["id"])

    # -- Key Vault: two pages --------------------------------------------------------------------------------
    weak, strong = (
        _vault("kv-legacy", soft_delete=False, purge=False),
        _vault("kv-prod", soft_delete=True, purge=True),
    )
    path = f"{sub}/Microsoft.KeyVault/vaults"
    router.add(
        "GET", path, {"value": [weak], "nextLink": f"{ARM}{path}?api-version=2023-07-01&$skiptoken=kv2"}
    )
    router.add("GET", path, {"value": [strong]}, query="$skiptoken=kv2")
    # diagnostic settings (CIS 6.1.1.4): kv-prod sends its audit logs to a workspace, kv-legacy has none
    settings = "/providers/Microsoft.Insights/diagnosticSettings"
    router.add("GET", weak["id"] + settings, {"value": []})
    router.add("GET", strong["id"] + settings, {"value": [{
        "id": strong["id"] + settings + "/to-sentinel", "name": "to-sentinel",
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "workspaceId": rid("rg-sec", "Microsoft.OperationalInsights", "workspaces", "sentinel"),
            "logs": [{"categoryGroup": "audit", "enabled": True, "retentionPolicy": {"enabled": False, "days": 0}},
                     {"categoryGroup": "allLogs", "enabled": False, "retentionPolicy": {"enabled": False, "days": 0}}],
            "metrics": [{"category": "AllMetrics", "enabled": False}],
        },
    }]})  # fmt: skip
    # the data plane (CIS 8.3.1-8.3.4, 8.3.9, 8.3.11), two pages of keys: the router matches paths, not hosts,
    # so both vaults answer the same contents. "signing" has no expiry and no Rotate action (the disabled
    # "retired" key is not judged); every secret expires (the certificate's managed secret is the certificate's
    # business); "legacy-sso" is issued for 24 months. kv-prod uses RBAC (8.3.1, 8.3.3), kv-legacy access
    # policies (8.3.2, 8.3.4)
    _seed_vault_data(router, "https://kv-prod.vault.azure.net")
    truth.fails(weak["id"], "azure.keyvault.purge_protection", "azure.keyvault.soft_delete", "azure.keyvault.rbac",
                "azure.keyvault.public_network", "azure.keyvault.private_endpoints",
                "azure.keyvault.audit_logging", "azure.keyvault.key_expiry_access_policy",
                "azure.keyvault.key_auto_rotation", "azure.keyvault.certificate_validity")  # fmt: skip
    truth.fails(strong["id"], "azure.keyvault.key_expiry_rbac", "azure.keyvault.key_auto_rotation",
                "azure.keyvault.certificate_validity")  # fmt: skip

    # -- App Service sites, two pages: function apps are kept, the web app is not (no check reads them yet) ---
    billing = _site("billing-fn", "functionapp", "Running", env="dev")
    www = _site("www", "app,linux", "Running", env="prod")
    reports = _site("reports-fn", "functionapp,linux", "Stopped", env="prod")
    path = f"{sub}/Microsoft.Web/sites"
    router.add(
        "GET",
        path,
        {"value": [billing, www], "nextLink": f"{ARM}{path}?api-version=2024-11-01&$skipToken=web2"},
    )
    router.add("GET", path, {"value": [reports]}, query="$skipToken=web2")
    truth.fails(billing["id"])
    truth.fails(reports["id"])

    # -- the subscription: an Activity Log setting with every category off; Defender for servers on ------------
    router.add(
        "GET", f"{sub}/Microsoft.Insights/diagnosticSettings", {"value": [_diagnostic_setting("to-archive")]}
    )
    router.add("GET", f"{sub}/Microsoft.Security/pricings", {"value": [
        _pricing("VirtualMachines", "Standard", "P2"), _pricing("StorageAccounts", "Free"), _pricing("SqlServers", "Free"),
        _pricing("KeyVaults", "Standard"), _pricing("Arm", "Standard"), _pricing("Containers", "Standard"),
        _pricing("CloudPosture", "Standard"), _pricing("Api", "Free"), _pricing("AppServices", "Free"),
    ]})  # fmt: skip
    # Defender plans (CIS 8.1.x): a plan on Free, or not listed at all, fails
    off = ("StorageAccounts", "SqlServers", "Api", "AppServices", "CosmosDbs", "OpenSourceRelationalDatabases",
           "SqlServerVirtualMachines")  # fmt: skip
    truth.fails(f"/subscriptions/{SUB}", "azure.monitor.activity_log_exported", "azure.monitor.activity_log_categories",
                *(f"azure.security.defender_{plan.lower()}" for plan in off))  # fmt: skip

    # -- Activity Log alerts (CIS 6.1.2.x, two pages): policy assignments (one alert, anyOf), NSG writes and
    # service health alerted; the NSG delete alert is disabled and the public IP one watches one resource group
    path = f"{sub}/Microsoft.Insights/activityLogAlerts"
    policy_ops = {"anyOf": [{"field": "operationName", "equals": "Microsoft.Authorization/policyAssignments/write"},
                            {"field": "operationName", "equals": "Microsoft.Authorization/policyAssignments/delete"}]}  # fmt: skip
    router.add("GET", path, {"value": [
        _activity_alert("policy-assignments", [policy_ops]),
        _activity_alert("nsg-write", [{"field": "operationName", "equals": "microsoft.network/networksecuritygroups/write"}]),
        _activity_alert("nsg-delete", [{"field": "operationName", "equals": "Microsoft.Network/networkSecurityGroups/delete"}], enabled=False),
    ], "nextLink": f"{ARM}{path}?api-version=2020-10-01&$skipToken=alerts2"})  # fmt: skip
    router.add("GET", path, {"value": [
        _activity_alert("service-health", [{"field": "category", "equals": "ServiceHealth"},
                                           {"field": "properties.incidentType", "equals": "Incident"}]),
        _activity_alert("public-ip-write", [{"field": "operationName", "equals": "Microsoft.Network/publicIPAddresses/write"}],
                        scope=f"/subscriptions/{SUB}/resourceGroups/rg-web"),
    ]}, query="$skipToken=alerts2")  # fmt: skip
    truth.fails(f"/subscriptions/{SUB}", *(f"azure.monitor.alert_{x}" for x in (
        "nsg_delete", "security_solution_write", "security_solution_delete", "sql_firewall_write",
        "sql_firewall_delete", "public_ip_write", "public_ip_delete")))  # fmt: skip

    # -- Defender for Cloud's security contact (CIS 8.1.12-8.1.15): owners and an address told of high alerts,
    # attack path notifications off
    router.add("GET", f"{sub}/Microsoft.Security/securityContacts", {"value": [{
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/securityContacts/default",
        "name": "default",
        "type": "Microsoft.Security/securityContacts",
        "properties": {
            "notificationsSources": [{"sourceType": "Alert", "minimalSeverity": "High"}],
            "emails": "secops@acme.test;ciso@acme.test",
            "phone": "",
            "isEnabled": True,
            "notificationsByRole": {"state": "On", "roles": ["Owner", "ServiceAdmin"]},
        },
    }]})  # fmt: skip
    truth.fails(f"/subscriptions/{SUB}", "azure.security.contact_attack_paths")

    # -- role assignments (two pages) and custom roles (CIS 5.3.3, 5.4, 5.7): one Owner on the subscription (a
    # second holds it on a resource group only), User Access Administrator on a resource group, not at /; a
    # custom "ops-admin" role allowing every action
    path = f"{sub}/Microsoft.Authorization/roleAssignments"
    router.add("GET", path, {"value": [
        _role_assignment("a1", f"/subscriptions/{SUB}", OWNER, "11111111-aaaa-4aaa-8aaa-000000000001"),
        _role_assignment("a2", f"/subscriptions/{SUB}/resourceGroups/rg-web", OWNER, "11111111-aaaa-4aaa-8aaa-000000000002"),
    ], "nextLink": f"{ARM}{path}?api-version=2022-04-01&$skipToken=ra2"})  # fmt: skip
    router.add("GET", path, {"value": [
        _role_assignment("a3", f"/subscriptions/{SUB}/resourceGroups/rg-data", ACCESS_ADMIN, "11111111-aaaa-4aaa-8aaa-000000000003"),
    ]}, query="$skipToken=ra2")  # fmt: skip
    router.add("GET", f"{sub}/Microsoft.Authorization/roleDefinitions", {"value": [
        _custom_role("ops-admin", ["*"]), _custom_role("vm-operator", ["Microsoft.Compute/virtualMachines/start/action"]),
    ]}, query="$filter=type eq 'CustomRole'")  # fmt: skip
    truth.fails(f"/subscriptions/{SUB}", "azure.iam.subscription_owners", "azure.iam.custom_admin_roles")

    # -- no Azure Bastion host (CIS 8.4.1), answered as an empty list ------------------------------------------
    router.add("GET", f"{sub}/Microsoft.Network/bastionHosts", {"value": []})
    truth.fails(f"/subscriptions/{SUB}", "azure.network.bastion_host")

    # -- Application Insights (CIS 6.1.3.1): one component; Defender for Cloud's settings (CIS 8.1.3.3): the
    # Defender for Endpoint integration (WDATP) is off, Defender for Cloud Apps (MCAS) on ------------------------
    router.add("GET", f"{sub}/Microsoft.Insights/components", {"value": [_app_insights("acme-web")]})
    router.add("GET", f"{sub}/Microsoft.Security/settings", {"value": [
        _security_setting("MCAS", "DataExportSettings", True), _security_setting("WDATP", "DataExportSettings", False),
        _security_setting("Sentinel", "AlertSyncSettings", False),
    ]})  # fmt: skip
    truth.fails(f"/subscriptions/{SUB}", "azure.security.endpoint_protection")

    # -- the Entra ID tenant, from Microsoft Graph (CIS 5.1.1, 5.1.3): security defaults off; of the Conditional
    # Access policies, the one requiring MFA for all users is report-only and the enabled one covers admins only;
    # two pages of registration details, one user without an MFA method -------------------------------------------
    _seed_graph(router)
    truth.fails(TENANT_ID, "azure.entra.security_defaults", "azure.entra.mfa_all_users")
    return truth


def _resource_diagnostics(resource: dict[str, Any], name: str, *, enabled: bool) -> dict[str, Any]:
    """A resource's diagnostic setting as ``Diagnostic Settings - List`` returns it (2021-05-01-preview)."""
    return {
        "id": f"{resource['id']}/providers/microsoft.insights/diagnosticSettings/{name}",
        "name": name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "workspaceId": rid("rg-sec", "Microsoft.OperationalInsights", "workspaces", "sentinel"),
            "logs": [{"categoryGroup": "allLogs", "enabled": enabled, "retentionPolicy": {"enabled": False, "days": 0}}],
            "metrics": [],
        },
    }  # fmt: skip


def _app_insights(name: str) -> dict[str, Any]:
    """An Application Insights component as ``Components - List`` returns it (2020-02-02, trimmed)."""
    return {
        "id": rid("rg-monitor", "Microsoft.Insights", "components", name),
        "name": name,
        "type": "microsoft.insights/components",
        "location": "eastus",
        "kind": "web",
        "tags": {},
        "properties": {
            "ApplicationId": name,
            "AppId": "7c8e3a5b-1f2d-4e6a-9b0c-3d4e5f6a7b8c",
            "Application_Type": "web",
            "InstrumentationKey": "00000000-0000-0000-0000-00000000a1a1",
            "ConnectionString": "InstrumentationKey=00000000-0000-0000-0000-00000000a1a1",
            "CreationDate": "2025-03-01T10:00:00.0000000+00:00",
            "TenantId": SUB,
            "provisioningState": "Succeeded",
            "IngestionMode": "LogAnalytics",
            "WorkspaceResourceId": rid("rg-sec", "Microsoft.OperationalInsights", "workspaces", "sentinel"),
        },
    }


def _security_setting(name: str, kind: str, enabled: bool) -> dict[str, Any]:
    """A Defender for Cloud setting as ``Settings - List`` returns it (2022-05-01)."""
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/settings/{name}",
        "name": name,
        "type": "Microsoft.Security/settings",
        "kind": kind,
        "properties": {"enabled": enabled},
    }


def _databricks(name: str, parameters: dict[str, Any], public: str, endpoints: list[Any]) -> dict[str, Any]:
    """A workspace as ``Workspaces - List By Subscription`` returns it (2024-05-01, trimmed)."""
    return {
        "id": rid("rg-dbx", "Microsoft.Databricks", "workspaces", name),
        "name": name,
        "type": "Microsoft.Databricks/workspaces",
        "location": "eastus",
        "sku": {"name": "premium"},
        "properties": {
            "managedResourceGroupId": f"/subscriptions/{SUB}/resourceGroups/databricks-rg-{name}",
            "parameters": {"prepareEncryption": {"type": "Bool", "value": False}, **parameters},
            "provisioningState": "Succeeded",
            "publicNetworkAccess": public,
            "requiredNsgRules": "AllRules" if public == "Enabled" else "NoAzureDatabricksRules",
            "privateEndpointConnections": endpoints,
            "workspaceUrl": f"adb-{len(name)}1234567890.12.azuredatabricks.net",
        },
    }


def _vnet(
    name: str, subnets: list[tuple[str, str | None]], *, ddos: bool, location: str = "eastus"
) -> dict[str, Any]:
    """A virtual network as ``Virtual Networks - List All`` returns it, its subnets inline."""
    vnet_id = rid("rg-net", "Microsoft.Network", "virtualNetworks", name)
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
        "subnets": [
            {
                "id": f"{vnet_id}/subnets/{sub}",
                "name": sub,
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": {
                    "addressPrefix": f"10.0.{i}.0/24",
                    "provisioningState": "Succeeded",
                    **({"networkSecurityGroup": {"id": nsg}} if nsg else {}),
                },
            }
            for i, (sub, nsg) in enumerate(subnets)
        ],
        "enableDdosProtection": ddos,
    }
    if ddos:
        props["ddosProtectionPlan"] = {
            "id": rid("rg-net", "Microsoft.Network", "ddosProtectionPlans", "ddos-plan")
        }
    return {
        "id": vnet_id,
        "name": name,
        "type": "Microsoft.Network/virtualNetworks",
        "location": location,
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": props,
    }


OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
ACCESS_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def _role_assignment(name: str, scope: str, role: str, principal: str) -> dict[str, Any]:
    """A role assignment as ``Role Assignments - List For Subscription`` returns it (2022-04-01)."""
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}",
            "principalId": principal,
            "principalType": "User",
            "scope": scope,
            "createdOn": "2024-05-02T09:00:00.0000000Z",
        },
    }


def _custom_role(name: str, actions: list[str]) -> dict[str, Any]:
    """A custom role definition as ``Role Definitions - List`` returns it (2022-04-01)."""
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{name}-0000",
        "name": f"{name}-0000",
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": name,
            "type": "CustomRole",
            "description": "",
            "permissions": [{"actions": actions, "notActions": [], "dataActions": [], "notDataActions": []}],
            "assignableScopes": [f"/subscriptions/{SUB}"],
        },
    }


# -- the shapes of the calls made through a client's pipeline (azure-rest-api-specs examples) -----------------
def _cpu_metrics(vm: dict[str, Any], low_high: list[float]) -> dict[str, Any]:
    """Metrics_List for ``Percentage CPU``, P1D over the collector's 30-day window: one point a day, the last
    week alternating between the two values given, the 23 days before at their mean; the newest day carries
    no average (Azure leaves it out while the day is incomplete or the VM reported nothing)."""
    start, end = window(datetime.now(UTC))
    low, high = low_high
    data: list[dict[str, Any]] = []
    for n in range(30):
        day = start + timedelta(days=n)
        value = (low + high) / 2 if n < 23 else (high if n % 2 else low)
        data.append({"timeStamp": day.strftime("%Y-%m-%dT%H:%M:%SZ"), "average": value})
    data.append({"timeStamp": end.strftime("%Y-%m-%dT%H:%M:%SZ")})
    return {
        "cost": 719,
        "timespan": f"{start:%Y-%m-%dT%H:%M:%SZ}/{end:%Y-%m-%dT%H:%M:%SZ}",
        "interval": "P1D",
        "value": [
            {
                "id": vm["id"] + "/providers/Microsoft.Insights/metrics/Percentage CPU",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": "Percentage CPU", "localizedValue": "Percentage CPU"},
                "displayDescription": "The percentage of allocated compute units that are currently in use",
                "unit": "Percent",
                "timeseries": [{"metadatavalues": [], "data": data}],
                "errorCode": "Success",
            }
        ],
        "namespace": "Microsoft.Compute/virtualMachines",
        "resourceregion": "eastus",
    }


def _recovery_vault(name: str) -> dict[str, Any]:
    return {
        "id": rid("rg-backup", "Microsoft.RecoveryServices", "vaults", name),
        "name": name,
        "type": "Microsoft.RecoveryServices/vaults",
        "location": "eastus",
        "sku": {"name": "RS0", "tier": "Standard"},
        "properties": {"provisioningState": "Succeeded"},
    }


def _protected_item(vault: dict[str, Any], vm: dict[str, Any], state: str) -> dict[str, Any]:
    container = f"iaasvmcontainerv2;rg-app;{vm['name']}"
    return {
        "id": f"{vault['id']}/backupFabrics/Azure/protectionContainers/IaasVMContainer;{container}"
        f"/protectedItems/VM;{container}",
        "name": f"VM;{container}",
        "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
        "properties": {
            "friendlyName": vm["name"],
            "virtualMachineId": vm["id"],
            "protectionStatus": "Healthy" if state == "Protected" else "Unhealthy",
            "protectionState": state,
            "healthStatus": "Passed",
            "lastBackupStatus": "Completed",
            "lastBackupTime": "2026-12-06T02:31:00.0000000Z",
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "backupManagementType": "AzureIaasVM",
            "workloadType": "VM",
            "containerName": container,
            "sourceResourceId": vm["id"],
            "policyId": vault["id"] + "/backupPolicies/DefaultPolicy",
        },
    }


def _network_watcher(name: str) -> dict[str, Any]:
    return {
        "id": rid("NetworkWatcherRG", "Microsoft.Network", "networkWatchers", name),
        "name": name,
        "type": "Microsoft.Network/networkWatchers",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": {"provisioningState": "Succeeded"},
    }


def _flow_log(
    watcher: dict[str, Any], name: str, target: str, *, enabled: bool, days: int = 90
) -> dict[str, Any]:
    return {
        "id": f"{watcher['id']}/flowLogs/{name}",
        "name": name,
        "type": "Microsoft.Network/networkWatchers/flowLogs",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": {
            "targetResourceId": target,
            "targetResourceGuid": "00000000-0000-0000-0000-00000000f10f",
            "storageId": rid("rg-data", "Microsoft.Storage", "storageAccounts", "acmelogs"),
            "enabled": enabled,
            "retentionPolicy": {"days": days, "enabled": True},
            "format": {"type": "JSON", "version": 2},
            "provisioningState": "Succeeded",
        },
    }


def _database(server: dict[str, Any], name: str) -> dict[str, Any]:
    user = name != "master"
    sku = {"name": "GP_Gen5", "tier": "GeneralPurpose", "family": "Gen5", "capacity": 2}
    return {
        "id": f"{server['id']}/databases/{name}",
        "name": name,
        "type": "Microsoft.Sql/servers/databases",
        "location": "eastus",
        "kind": "v12.0,user" if user else "v12.0,system",
        "sku": sku if user else {"name": "System", "tier": "System", "capacity": 0},
        "properties": {
            "collation": "SQL_Latin1_General_CP1_CI_AS",
            "maxSizeBytes": 34359738368,
            "status": "Online",
            "databaseId": "6c764297-577b-470f-9af4-96d3d41e2ba3",
            "creationDate": "2025-02-11T09:10:36.54Z",
            "currentServiceObjectiveName": "GP_Gen5_2" if user else "System0",
            "defaultSecondaryLocation": "westus",
            "catalogCollation": "SQL_Latin1_General_CP1_CI_AS",
            "zoneRedundant": False,
            "readScale": "Disabled",
        },
    }


def _tde(db: dict[str, Any], state: str) -> dict[str, Any]:
    return {
        "id": db["id"] + "/transparentDataEncryption/Current",
        "name": "Current",
        "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
        "properties": {"state": state},
    }


def _retention(db: dict[str, Any], days: int) -> dict[str, Any]:
    return {
        "id": db["id"] + "/backupShortTermRetentionPolicies/default",
        "name": "default",
        "type": "Microsoft.Sql/resourceGroups/servers/databases/backupShortTermRetentionPolicies",
        "properties": {"retentionDays": days, "diffBackupIntervalInHours": 12},
    }


def _snapshot(name: str, disk: dict[str, Any], public: str) -> dict[str, Any]:
    return {
        "id": rid("rg-app", "Microsoft.Compute", "snapshots", name),
        "name": name,
        "type": "Microsoft.Compute/snapshots",
        "location": "eastus",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "osType": "Linux",
            "creationData": {"createOption": "Copy", "sourceResourceId": disk["id"]},
            "diskSizeGB": disk["properties"]["diskSizeGB"],
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "incremental": True,
            "networkAccessPolicy": "AllowAll" if public == "Enabled" else "DenyAll",
            "publicNetworkAccess": public,
            "timeCreated": "2026-10-01T04:41:35.9278721+00:00",
            "provisioningState": "Succeeded",
            "diskState": "Unattached",
        },
    }


def _vault(name: str, *, soft_delete: bool, purge: bool) -> dict[str, Any]:
    """``purge`` True is the hardened vault: also Azure RBAC and no public network access (CIS 8.3.6, 8.3.7)."""
    props: dict[str, Any] = {
        "tenantId": "00000000-0000-0000-0000-0000000000ee",
        "sku": {"family": "A", "name": "standard"},
        "accessPolicies": [],
        "enabledForDeployment": False,
        "enableSoftDelete": soft_delete,
        "softDeleteRetentionInDays": 90,
        "enableRbacAuthorization": purge,
        "vaultUri": f"https://{name}.vault.azure.net/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": "Disabled" if purge else "Enabled",
    }
    if purge:
        props["enablePurgeProtection"] = True  # absent means off: the API only returns it once set
        props["privateEndpointConnections"] = [_endpoint(name)]
    return {
        "id": rid("rg-sec", "Microsoft.KeyVault", "vaults", name),
        "name": name,
        "type": "Microsoft.KeyVault/vaults",
        "location": "eastus",
        "tags": {"env": "prod"},
        "properties": props,
    }


def _diagnostic_setting(name: str) -> dict[str, Any]:
    categories = ("Administrative", "Security", "ServiceHealth", "Alert", "Recommendation", "Policy", "Autoscale", "ResourceHealth")  # fmt: skip
    return {
        "id": f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/{name}",
        "name": name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "storageAccountId": rid("rg-data", "Microsoft.Storage", "storageAccounts", "acmelogs"),
            "logs": [{"category": c, "enabled": False} for c in categories],
        },
    }


def _activity_alert(
    name: str, conditions: list[dict[str, Any]], *, enabled: bool = True, scope: str = f"/subscriptions/{SUB}"
) -> dict[str, Any]:
    """An Activity Log alert as ``Activity Log Alerts - List By Subscription Id`` returns it (2020-10-01)."""
    administrative = (
        []
        if any(c.get("field") == "category" for c in conditions)
        else [{"field": "category", "equals": "Administrative"}]
    )
    return {
        "id": rid("rg-monitor", "Microsoft.Insights", "activityLogAlerts", name),
        "name": name,
        "type": "Microsoft.Insights/ActivityLogAlerts",
        "location": "Global",
        "tags": {},
        "properties": {
            "scopes": [scope],
            "condition": {"allOf": administrative + conditions},
            "actions": {
                "actionGroups": [
                    {
                        "actionGroupId": rid("rg-monitor", "Microsoft.Insights", "actionGroups", "secops"),
                        "webhookProperties": {},
                    }
                ]
            },
            "enabled": enabled,
            "description": "",
        },
    }


def _pricing(name: str, tier: str, sub_plan: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"pricingTier": tier, "freeTrialRemainingTime": "PT0S"}
    if sub_plan:
        props["subPlan"] = sub_plan
    return {
        "id": f"/subscriptions/{SUB}/providers/Microsoft.Security/pricings/{name}",
        "name": name,
        "type": "Microsoft.Security/pricings",
        "properties": props,
    }


def _site(name: str, kind: str, state: str, *, env: str) -> dict[str, Any]:
    """A Microsoft.Web site as ``Web Apps - List`` returns it (WebApps.json's example, trimmed)."""
    return {
        "id": rid("rg-fn", "Microsoft.Web", "sites", name),
        "name": name,
        "type": "Microsoft.Web/sites",
        "kind": kind,
        "location": "East US",
        "tags": {"env": env},
        "properties": {
            "state": state,
            "hostNames": [f"{name}.azurewebsites.net"],
            "enabled": state == "Running",
            "serverFarmId": rid("rg-fn", "Microsoft.Web", "serverfarms", "plan-eastus"),
            "reserved": "linux" in kind,
            "httpsOnly": True,
            "defaultHostName": f"{name}.azurewebsites.net",
        },
    }


def _vpn_gateway(name: str, vnet: dict[str, Any], auth_types: list[str]) -> dict[str, Any]:
    """A VPN gateway as ``Virtual Network Gateways - Get`` returns it (2024-05-01, trimmed), with a point-to-site
    configuration; its IP configuration is also listed on the VNet's GatewaySubnet, as ARM does."""
    gw_id = rid("rg-net", "Microsoft.Network", "virtualNetworkGateways", name)
    [subnet] = [s for s in vnet["properties"]["subnets"] if s["name"] == "GatewaySubnet"]
    ip_config = f"{gw_id}/ipConfigurations/default"
    subnet["properties"]["ipConfigurations"] = [{"id": ip_config}]
    tenant = "00000000-0000-0000-0000-0000000000ee"
    p2s: dict[str, Any] = {
        "vpnClientAddressPool": {"addressPrefixes": ["172.16.201.0/24"]},
        "vpnClientProtocols": ["OpenVPN"],
        "vpnAuthenticationTypes": auth_types,
        "vpnClientRootCertificates": [],
        "vpnClientRevokedCertificates": [],
        "vpnClientIpsecPolicies": [],
        "radiusServers": [],
        "aadTenant": f"https://login.microsoftonline.com/{tenant}",
        "aadAudience": "c632b3df-fb67-4d84-bdcf-b95ad541b5c8",
        "aadIssuer": f"https://sts.windows.net/{tenant}/",
    }
    if "Certificate" in auth_types:
        p2s["vpnClientRootCertificates"] = [{
            "id": f"{gw_id}/vpnClientRootCertificates/p2s-root", "name": "p2s-root",
            "properties": {"publicCertData": "MIIC5zCCAc+gAwIBAgIQ", "provisioningState": "Succeeded"},
        }]  # fmt: skip
    return {
        "id": gw_id,
        "name": name,
        "type": "Microsoft.Network/virtualNetworkGateways",
        "location": vnet["location"],
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": {
            "provisioningState": "Succeeded",
            "ipConfigurations": [
                {
                    "id": ip_config,
                    "name": "default",
                    "properties": {
                        "privateIPAllocationMethod": "Dynamic",
                        "subnet": {"id": subnet["id"]},
                        "publicIPAddress": {
                            "id": rid("rg-net", "Microsoft.Network", "publicIPAddresses", f"{name}-pip")
                        },
                        "provisioningState": "Succeeded",
                    },
                }
            ],
            "gatewayType": "Vpn",
            "vpnType": "RouteBased",
            "enableBgp": False,
            "activeActive": False,
            "sku": {"name": "VpnGw1", "tier": "VpnGw1", "capacity": 2},
            "vpnGatewayGeneration": "Generation1",
            "vpnClientConfiguration": p2s,
        },
    }


def _waf_policy(name: str, *, body_check: bool, bots: bool) -> dict[str, Any]:
    """A WAF policy as ``Web Application Firewall Policies - List All`` returns it (2024-05-01, trimmed)."""
    rule_sets: list[dict[str, Any]] = [
        {"ruleSetType": "OWASP", "ruleSetVersion": "3.2", "ruleGroupOverrides": []}
    ]
    if bots:
        rule_sets.append({"ruleSetType": "Microsoft_BotManagerRuleSet", "ruleSetVersion": "1.0", "ruleGroupOverrides": []})  # fmt: skip
    policy_id = rid("rg-web", "Microsoft.Network", "ApplicationGatewayWebApplicationFirewallPolicies", name)
    return {
        "id": policy_id,
        "name": name,
        "type": "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": {
            "provisioningState": "Succeeded",
            "resourceState": "Enabled",
            "policySettings": {
                "state": "Enabled",
                "mode": "Prevention",
                "requestBodyCheck": body_check,
                "maxRequestBodySizeInKb": 128,
                "fileUploadLimitInMb": 100,
            },
            "customRules": [],
            "managedRules": {"managedRuleSets": rule_sets, "exclusions": []},
            "applicationGateways": [
                {
                    "id": rid(
                        "rg-web", "Microsoft.Network", "applicationGateways", name.replace("waf-", "agw-")
                    )
                }
            ],
        },
    }


def _app_gateway(
    name: str, tier: str, ssl_policy: dict[str, Any], *, http2: bool, waf: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An Application Gateway as ``Application Gateways - List All`` returns it (2024-05-01, trimmed)."""
    gw_id = rid("rg-web", "Microsoft.Network", "applicationGateways", name)
    props: dict[str, Any] = {
        "provisioningState": "Succeeded",
        "operationalState": "Running",
        "sku": {"name": tier, "tier": tier, "capacity": 2},
        "gatewayIPConfigurations": [
            {
                "id": f"{gw_id}/gatewayIPConfigurations/appgw-ip",
                "name": "appgw-ip",
                "properties": {
                    "subnet": {
                        "id": rid("rg-net", "Microsoft.Network", "virtualNetworks", "vnet-app/subnets/web")
                    }
                },
            }
        ],
        "sslPolicy": ssl_policy,
        "enableHttp2": http2,
        "frontendPorts": [
            {"id": f"{gw_id}/frontendPorts/https", "name": "https", "properties": {"port": 443}}
        ],
    }
    if waf is not None:
        props["firewallPolicy"] = {"id": waf["id"]}
    return {
        "id": gw_id,
        "name": name,
        "type": "Microsoft.Network/applicationGateways",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": props,
    }


# -- the Key Vault data plane (7.5; https://<vault>.vault.azure.net): Keys - Get Keys, Get Key Rotation Policy,
# Secrets - Get Secrets, Certificates - Get Certificates, Get Certificate Policy; times are Unix seconds
_CREATED, _EXPIRES = 1735689600, 1798761600  # 2025-01-01, 2027-01-01


def _kv_attributes(*, exp: bool, enabled: bool = True) -> dict[str, Any]:
    attrs: dict[str, Any] = {"enabled": enabled, "created": _CREATED, "updated": _CREATED,
                             "recoveryLevel": "Recoverable", "recoverableDays": 90}  # fmt: skip
    if exp:
        attrs["exp"] = _EXPIRES
    return attrs


def _rotation_policy(vault: str, key: str, *, rotate: bool) -> dict[str, Any]:
    """A key's rotation policy; a key never given one answers the default, which only notifies."""
    actions: list[dict[str, Any]] = [{"trigger": {"timeBeforeExpiry": "P30D"}, "action": {"type": "Notify"}}]
    if rotate:
        actions.insert(0, {"trigger": {"timeAfterCreate": "P11M"}, "action": {"type": "Rotate"}})
    attributes: dict[str, Any] = (
        {"expiryTime": "P1Y", "created": _CREATED, "updated": _CREATED} if rotate else {}
    )
    return {"id": f"{vault}/keys/{key}/rotationpolicy", "lifetimeActions": actions, "attributes": attributes}


def _certificate_policy(vault: str, name: str, subject: str, months: int) -> dict[str, Any]:
    return {
        "id": f"{vault}/certificates/{name}/policy",
        "key_props": {"exportable": True, "kty": "RSA", "key_size": 2048, "reuse_key": False},
        "secret_props": {"contentType": "application/x-pkcs12"},
        "x509_props": {
            "subject": subject,
            "sans": {"dns_names": [subject.removeprefix("CN=")]},
            "ekus": ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"],
            "key_usage": ["digitalSignature", "keyEncipherment"],
            "validity_months": months,
            "basic_constraints": {"ca": False},
        },
        "lifetime_actions": [
            {"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "AutoRenew"}}
        ],
        "issuer": {"name": "Self"},
        "attributes": {"enabled": True, "created": _CREATED, "updated": _CREATED},
    }


def _seed_vault_data(router: Router, vault: str) -> None:
    keys = [
        {"kid": f"{vault}/keys/cmk-storage", "attributes": _kv_attributes(exp=True), "tags": {}},
        {"kid": f"{vault}/keys/signing", "attributes": _kv_attributes(exp=False), "tags": {}},
    ]
    retired = {
        "kid": f"{vault}/keys/retired",
        "attributes": _kv_attributes(exp=False, enabled=False),
        "tags": {},
    }
    router.add(
        "GET",
        "/keys",
        {"value": keys, "nextLink": f"{vault}/keys?api-version=7.5&$skiptoken=keys2&maxresults=25"},
    )
    router.add("GET", "/keys", {"value": [retired], "nextLink": None}, query="$skiptoken=keys2")
    router.add("GET", "/keys/cmk-storage/rotationpolicy", _rotation_policy(vault, "cmk-storage", rotate=True))
    router.add("GET", "/keys/signing/rotationpolicy", _rotation_policy(vault, "signing", rotate=False))
    router.add("GET", "/secrets", {"value": [
        {"id": f"{vault}/secrets/db-password", "attributes": _kv_attributes(exp=True), "contentType": "text/plain", "tags": {}},
        {"id": f"{vault}/secrets/api-token", "attributes": _kv_attributes(exp=True), "tags": {}},
        {"id": f"{vault}/secrets/tls-web", "attributes": _kv_attributes(exp=False), "contentType": "application/x-pkcs12",
         "managed": True, "tags": {}},
    ], "nextLink": None})  # fmt: skip
    router.add("GET", "/certificates", {"value": [
        {"id": f"{vault}/certificates/tls-web", "x5t": "fLi3U52HunIVNXubkEnf8tP6Wbo", "attributes": _kv_attributes(exp=True),
         "subject": "CN=www.acme.test", "tags": {}},
        {"id": f"{vault}/certificates/legacy-sso", "x5t": "bO3Wpf8tEnUkbuXvNIuH25Ui3Lf", "attributes": _kv_attributes(exp=True),
         "subject": "CN=sso.acme.test", "tags": {}},
    ], "nextLink": None})  # fmt: skip
    router.add(
        "GET", "/certificates/tls-web/policy", _certificate_policy(vault, "tls-web", "CN=www.acme.test", 12)
    )
    router.add(
        "GET",
        "/certificates/legacy-sso/policy",
        _certificate_policy(vault, "legacy-sso", "CN=sso.acme.test", 24),
    )


# -- Microsoft Graph v1.0 (https://graph.microsoft.com): identitySecurityDefaultsEnforcementPolicy - Get,
# conditionalAccessPolicy - List, userRegistrationDetails - List
GRAPH = "https://graph.microsoft.com"
TENANT_ID = f"/subscriptions/{SUB}/entra-tenant"  # the record the graph task returns


def security_defaults_policy(enabled: bool) -> dict[str, Any]:
    return {
        "@odata.context": f"{GRAPH}/v1.0/$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity",
        "id": "00000000-0000-0000-0000-000000000005",
        "displayName": "Security Defaults",
        "description": "Security defaults is a set of basic identity security mechanisms recommended by Microsoft.",
        "isEnabled": enabled,
    }


def ca_policy(name: str, state: str, *, users: list[str], apps: list[str], controls: list[str],
              operator: str = "OR", exclude_users: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """A Conditional Access policy as ``List policies`` returns it (v1.0, trimmed of empty conditions)."""
    return {
        "id": f"5c1e4f3a-0b7d-4d2e-9a61-{zlib.crc32(name.encode()):012d}",
        "templateId": None,
        "displayName": name,
        "createdDateTime": "2025-02-11T09:14:00.0000000Z",
        "modifiedDateTime": "2025-06-02T16:40:00.0000000Z",
        "state": state,
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"], "platforms": None,
            "locations": None, "times": None, "deviceStates": None, "devices": None, "clientApplications": None,
            "applications": {"includeApplications": apps, "excludeApplications": [], "includeUserActions": [],
                             "includeAuthenticationContextClassReferences": [], "applicationFilter": None},
            "users": {"includeUsers": users, "excludeUsers": exclude_users or [], "includeGroups": [],
                      "excludeGroups": [], "includeRoles": [], "excludeRoles": [],
                      "includeGuestsOrExternalUsers": None, "excludeGuestsOrExternalUsers": None},
        },
        "grantControls": {"operator": operator, "builtInControls": controls, "customAuthenticationFactors": [],
                          "termsOfUse": [], "authenticationStrength@odata.context": (
                              f"{GRAPH}/v1.0/$metadata#identity/conditionalAccess/policies('x')/grantControls/"
                              "authenticationStrength/$entity"), "authenticationStrength": None},
    }  # fmt: skip


def registration(upn: str, mfa: bool, *, admin: bool = False) -> dict[str, Any]:
    """A user's row of the authentication methods registration report (userRegistrationDetails)."""
    return {
        "id": f"86462606-fde0-4fc4-9e0c-{zlib.crc32(upn.encode()):012d}",
        "userPrincipalName": upn,
        "userDisplayName": upn.split("@")[0].title(),
        "userType": "member",
        "isAdmin": admin,
        "isSsprRegistered": mfa,
        "isSsprEnabled": False,
        "isSsprCapable": False,
        "isMfaRegistered": mfa,
        "isMfaCapable": mfa,
        "isPasswordlessCapable": False,
        "methodsRegistered": ["microsoftAuthenticatorPush", "softwareOneTimePasscode"] if mfa else [],
        "isSystemPreferredAuthenticationMethodEnabled": True,
        "systemPreferredAuthenticationMethods": ["push"] if mfa else [],
        "userPreferredMethodForSecondaryAuthentication": "push" if mfa else "none",
        "lastUpdatedDateTime": "2026-12-06T03:12:44.0000000Z",
    }


def _seed_graph(router: Router) -> None:
    router.add(
        "GET", "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", security_defaults_policy(False)
    )
    router.add("GET", "/v1.0/identity/conditionalAccess/policies", {
        "@odata.context": f"{GRAPH}/v1.0/$metadata#identity/conditionalAccess/policies",
        "value": [
            ca_policy("Require MFA for everyone (pilot)", "enabledForReportingButNotEnforced", users=["All"],
                      apps=["All"], controls=["mfa"], exclude_users=["0b1e2c3d-0000-4000-8000-00000000b6a5"]),
            ca_policy("Require MFA for admins", "enabled", users=["None"], apps=["All"], controls=["mfa"]),
        ],
    })  # fmt: skip
    path = "/v1.0/reports/authenticationMethods/userRegistrationDetails"
    router.add("GET", path, {
        "@odata.context": f"{GRAPH}/v1.0/$metadata#reports/authenticationMethods/userRegistrationDetails",
        "value": [registration("admin@acme.test", True, admin=True), registration("dev@acme.test", True)],
        "@odata.nextLink": f"{GRAPH}{path}?$skiptoken=users2",
    })  # fmt: skip
    router.add("GET", path, {"value": [registration("intern@acme.test", False)]}, query="$skiptoken=users2")
