"""An Azure estate with known ground truth: ARM list responses in the documented REST shapes (replayed at the
azure-core transport, two pages where ``nextLink`` matters) plus real blob containers in azurite.

Every resource is built to fail a known set of checks; :func:`seed` returns that set as (check id, resource id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


def _blob_service(account: dict[str, Any], soft_delete: bool) -> dict[str, Any]:
    return {
        "id": account["id"] + "/blobServices/default",
        "name": "default",
        "type": "Microsoft.Storage/storageAccounts/blobServices",
        "properties": {
            "cors": {"corsRules": []},
            "deleteRetentionPolicy": {"enabled": soft_delete, **({"days": 7} if soft_delete else {})},
        },
    }


def _vm(name: str, size: str, *, managed: bool = True, env: str = "dev") -> dict[str, Any]:
    os_disk: dict[str, Any] = {"osType": "Linux", "name": f"{name}-os", "createOption": "FromImage", "caching": "ReadWrite", "diskSizeGB": 30}  # fmt: skip
    if managed:
        os_disk["managedDisk"] = {
            "id": rid("rg-app", "Microsoft.Compute", "disks", f"{name}-os"),
            "storageAccountType": "Premium_LRS",
        }
    else:
        os_disk["vhd"] = {"uri": f"https://acmelegacy.blob.core.windows.net/vhds/{name}.vhd"}
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
            "osProfile": {"computerName": name, "adminUsername": "azureuser"},
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


def _rule(name: str, priority: int, source: str | list[str], ports: str | list[str], access: str = "Allow") -> dict[str, Any]:  # fmt: skip
    props: dict[str, Any] = {
        "protocol": "Tcp",
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


def _nsg(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": rid("rg-net", "Microsoft.Network", "networkSecurityGroups", name),
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "eastus",
        "etag": 'W/"00000000-0000-0000-0000-000000000000"',
        "properties": {
            "provisioningState": "Succeeded",
            "securityRules": rules,
            "defaultSecurityRules": _DEFAULT_RULES,
        },
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
    public = _account(ACCOUNT, allowBlobPublicAccess=True)
    weak = _account(
        "acmelogs",
        supportsHttpsTrafficOnly=False,
        minimumTlsVersion="TLS1_0",
        networkAcls={
            "bypass": "AzureServices",
            "virtualNetworkRules": [],
            "ipRules": [],
            "defaultAction": "Allow",
        },
        encryption={"services": {"blob": {"enabled": True}}, "keySource": "Microsoft.Storage"},
    )
    good = _account("acmesecure")
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
    truth.fails(public["id"], "azure.storage.blob_public_access")
    truth.fails(
        weak["id"],
        "azure.storage.secure_transfer",
        "azure.storage.min_tls",
        "azure.storage.network_default_deny",
        "azure.storage.soft_delete",
        "azure.storage.infrastructure_encryption",
    )
    truth.fails(good["id"])

    # -- containers (data plane: azurite) ---------------------------------------------------------------
    for name, level in (("public-blobs", "blob"), ("public-listing", "container"), ("private-data", None)):
        blob_service.create_container(name, public_access=level)
        cid = f"{public['id']}/blobServices/default/containers/{name}"
        truth.fails(cid, *(["azure.storage.container_public"] if level else []))

    # -- VMs: model and status views ---------------------------------------------------------------------
    vms = [_vm("web-1", "Standard_D2s_v3"), _vm("legacy-1", "Standard_B2s", managed=False, env="prod")]
    path = f"{sub}/Microsoft.Compute/virtualMachines"
    router.add("GET", path, {"value": vms})
    router.add("GET", path, {"value": [_vm_status(vms[0], "running"), _vm_status(vms[1], "deallocated")]},
               query="statusOnly=true")  # fmt: skip
    truth.fails(vms[0]["id"])
    truth.fails(vms[1]["id"], "azure.compute.vm_managed_disks")

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
    ssh = _nsg("nsg-ssh", [_rule("ssh", 100, "*", "22")])
    rdp_db = _nsg("nsg-rdp-db", [_rule("mgmt", 110, "Internet", ["3389", "1433-1434"])])
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
    truth.fails(ssh["id"], "azure.network.nsg_open_ssh")
    truth.fails(rdp_db["id"], "azure.network.nsg_open_rdp", "azure.network.nsg_open_database_ports")
    truth.fails(closed["id"])

    # -- SQL servers and their auditing ----------------------------------------------------------------------
    open_sql, private_sql = _sql("sql-open", "Enabled"), _sql("sql-private", "Disabled")
    router.add("GET", f"{sub}/Microsoft.Sql/servers", {"value": [open_sql, private_sql]})
    router.add("GET", open_sql["id"] + "/auditingSettings/default", _auditing(open_sql, "Disabled"))
    router.add("GET", private_sql["id"] + "/auditingSettings/default", _auditing(private_sql, "Enabled"))
    truth.fails(open_sql["id"], "azure.sql.server_public_network", "azure.sql.server_auditing")
    truth.fails(private_sql["id"])
    return truth
