"""Azure checks over normalized records (types ``azure.<provider>.<kind>``; attrs from the ARM shapes).

Record attrs are named after the ARM properties they come from (``allowBlobPublicAccess`` ->
``allow_blob_public_access``) by ``escher.clouds.azure.collect``.
"""

from __future__ import annotations

from escher.scans.checks import _sizing
from escher.scans.checks._declarative import attr_check, is_false, is_true, truthy
from escher.scans.checks.base import CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity
from escher.scans.pricing import AZURE_DISK_GB_MONTH, AZURE_HOURLY, azure_smaller

# the internet as an NSG rule's source: the CIDRs, and the service tags and wildcard that mean it
_INTERNET = frozenset({"0.0.0.0/0", "::/0", "*", "Internet", "Any"})

SA = "azure.storage.account"
_ENC = ("164.312(a)(2)(iv)",)

attr_check("azure.storage.blob_public_access", SA, "allow_blob_public_access", lambda v: v is not True,
           title="Storage account allows public blob access", severity=Severity.HIGH,
           risk="Any container can be switched to anonymous read.", message="allowBlobPublicAccess is true",
           remediation="Set allowBlobPublicAccess=false on the account.", cis=("9.3.8",), soc2=("CC6.1",),
           fix="azure.storage.disallow_blob_public_access")  # fmt: skip
attr_check("azure.storage.secure_transfer", SA, "https_only", is_true,
           title="Storage account accepts HTTP", severity=Severity.MEDIUM, message="supportsHttpsTrafficOnly is false",
           risk="Data can travel unencrypted.", remediation="Enable 'Secure transfer required'.", cis=("9.3.4",),
           soc2=("CC6.7",), hipaa=("164.312(e)(1)",), fix="azure.storage.require_secure_transfer")  # fmt: skip
attr_check("azure.storage.min_tls", SA, "min_tls", lambda v: str(v) in ("TLS1_2", "TLS1_3"),
           title="Storage account allows TLS below 1.2", severity=Severity.MEDIUM, message="minimumTlsVersion is {value}",
           risk="Old TLS versions are breakable.", remediation="Set minimumTlsVersion to TLS1_2.", cis=("9.3.6",),
           soc2=("CC6.7",))  # fmt: skip
attr_check("azure.storage.network_default_deny", SA, "network_default_action", lambda v: v == "Deny",
           title="Storage account network access is open", severity=Severity.MEDIUM,
           message="default network action is {value}", risk="The account is reachable from every network.",
           remediation="Set the firewall default action to Deny and allow selected networks.", cis=("9.3.2.3",),
           soc2=("CC6.6",))  # fmt: skip
attr_check("azure.storage.soft_delete", SA, "blob_soft_delete", is_true, category="operational",
           title="Blob soft delete is off", severity=Severity.LOW, message="deleted blobs cannot be recovered",
           risk="A deletion is final.", remediation="Enable blob soft delete (7+ days).", cis=("9.2.1",),
           soc2=("A1.2",))  # fmt: skip
attr_check("azure.storage.infrastructure_encryption", SA, "infrastructure_encryption", is_true,
           title="Storage infrastructure encryption is off", severity=Severity.LOW, message="single encryption layer",
           risk="Only one layer of encryption at rest.", remediation="Create accounts with requireInfrastructureEncryption.",
           soc2=("CC6.1",), hipaa=_ENC)  # fmt: skip
# the container operation works on the data plane and takes the container's name, not its ARM-style id
attr_check("azure.storage.container_public", "azure.storage.container", "public_access", lambda v: v in (None, "None", "none", ""),
           title="Blob container allows anonymous read", severity=Severity.CRITICAL, message="public access level: {value}",
           risk="Anyone with the URL can read (and for 'container', list) the blobs.",
           remediation="Set the container's public access level to Private.", cis=("9.3.8",), soc2=("CC6.1", "CC6.6"),
           hipaa=("164.312(a)(1)",), fix="azure.storage.make_container_private",
           fix_target=lambda rec: rec.name)  # fmt: skip
# CIS Azure 6.0.0: no control for this check (disk encryption moved to the CIS Azure Compute Services benchmark)
attr_check("azure.compute.disk_encryption", "azure.compute.disk", "encryption_type",
           lambda v: v in ("EncryptionAtRestWithCustomerKey", "EncryptionAtRestWithPlatformAndCustomerKeys"),
           title="Managed disk is not encrypted with a customer key", severity=Severity.LOW,
           message="encryption: {value}", risk="Keys are managed by the platform only.",
           remediation="Use a disk encryption set with a customer-managed key.", cis=(), hipaa=_ENC)  # fmt: skip
attr_check("azure.sql.server_public_network", "azure.sql.server", "public_network_access", lambda v: v != "Enabled",
           title="SQL server is reachable from public networks", severity=Severity.HIGH,
           message="publicNetworkAccess is Enabled", risk="The database is one password away from the internet.",
           remediation="Disable public network access; use private endpoints.", soc2=("CC6.6",))  # fmt: skip
# CIS Azure 6.0.0: no control for this check (SQL moved to the CIS Azure Database Services benchmark)
attr_check("azure.sql.server_auditing", "azure.sql.server", "auditing", is_true,
           title="SQL server auditing is off", severity=Severity.MEDIUM, message="auditing is disabled",
           risk="Database access leaves no trail.", remediation="Enable auditing to a storage account or Log Analytics.",
           cis=(), soc2=("CC7.2",), hipaa=("164.312(b)",))  # fmt: skip
# CIS Azure 6.0.0: no control for this check (SQL moved to the CIS Azure Database Services benchmark)
attr_check("azure.sql.database_tde", "azure.sql.database", "tde", is_true,
           title="SQL database transparent data encryption is off", severity=Severity.HIGH,
           message="TDE is disabled", risk="Database files and backups are unencrypted.",
           remediation="Enable transparent data encryption.", cis=(), soc2=("CC6.1",), hipaa=_ENC)  # fmt: skip
attr_check("azure.sql.database_backup_retention", "azure.sql.database", "backup_retention_days", lambda v: int(v) >= 7,
           category="operational", title="SQL database backup retention under 7 days", severity=Severity.MEDIUM,
           message="{value} days", risk="Short point-in-time restore window.",
           remediation="Raise short-term backup retention to 7+ days.", soc2=("A1.2",))  # fmt: skip
attr_check("azure.keyvault.purge_protection", "azure.keyvault.vault", "purge_protection", is_true,
           title="Key Vault purge protection is off", severity=Severity.MEDIUM, message="purge protection is off",
           risk="A deleted vault and its keys can be purged for good.", remediation="Enable purge protection.",
           cis=("8.3.5",), soc2=("A1.2",))  # fmt: skip
attr_check("azure.keyvault.soft_delete", "azure.keyvault.vault", "soft_delete", is_true,
           title="Key Vault soft delete is off", severity=Severity.MEDIUM, message="soft delete is off",
           risk="Deleted secrets cannot be recovered.", remediation="Enable soft delete.", soc2=("A1.2",))  # fmt: skip
attr_check("azure.monitor.activity_log_exported", "azure.monitor.subscription", "activity_log_exported", is_true,
           title="Activity Log is not exported", severity=Severity.HIGH, message="no diagnostic setting exports the Activity Log",
           risk="Control-plane history is kept 90 days only and cannot be searched with other logs.",
           remediation="Create a subscription diagnostic setting to Log Analytics or storage.", cis=("6.1.1.1",),
           soc2=("CC7.2",), hipaa=("164.312(b)",))  # fmt: skip
# CIS Azure 6.0.0: no control for this check (tests for any paid Defender plan; v6 has one recommendation per plan (8.1.x))
attr_check("azure.security.defender_enabled", "azure.monitor.subscription", "defender_plans", truthy,
           title="Microsoft Defender for Cloud has no paid plan", severity=Severity.MEDIUM, message="no Defender plan",
           risk="Threats against VMs, storage and SQL are not detected.",
           remediation="Enable Defender plans for servers, storage and SQL.", cis=(), soc2=("CC7.2",))  # fmt: skip
# CIS Azure 6.0.0: no control for this check (managed disks moved to the CIS Azure Compute Services benchmark)
attr_check("azure.compute.vm_managed_disks", "azure.compute.vm", "managed_disks", is_true,
           category="operational", title="VM uses unmanaged disks", severity=Severity.LOW, message="unmanaged (VHD) disks",
           risk="Unmanaged disks are retired and lack managed-disk encryption and backup features.",
           remediation="Convert the VM to managed disks.", cis=())  # fmt: skip
attr_check("azure.compute.vm_backup", "azure.compute.vm", "backup_protected", is_true,
           category="operational", title="VM is not protected by Azure Backup", severity=Severity.MEDIUM,
           message="no backup item", risk="A lost disk loses the data.",
           remediation="Add the VM to a Recovery Services vault backup policy.", soc2=("A1.2",),
           hipaa=("164.308(a)(7)(ii)(A)",))  # fmt: skip
attr_check("azure.network.nsg_flow_logs", "azure.network.nsg", "flow_logs", is_true,
           title="NSG flow logs are off", severity=Severity.LOW, message="no flow log",
           risk="Network traffic leaves no record.", remediation="Enable NSG (or VNet) flow logs in Network Watcher.",
           cis=("6.1.1.5",), soc2=("CC7.2",))  # fmt: skip
attr_check("azure.compute.snapshot_public_network", "azure.compute.snapshot", "public_network_access",
           lambda v: v != "Enabled", title="Disk snapshot can be exported publicly", severity=Severity.MEDIUM,
           message="publicNetworkAccess is Enabled", risk="A SAS URL can export the disk data from anywhere.",
           remediation="Disable public network access on the snapshot.", soc2=("CC6.1",))  # fmt: skip
_ = is_false  # kept for symmetry with the GCP list


def _nsg_world(rec: Record, ports: tuple[int, ...]) -> list[int]:
    hits = []
    for rule in rec.attrs.get("rules", []):
        if rule.get("direction") != "Inbound" or rule.get("access") != "Allow":
            continue
        if not ({str(s) for s in rule.get("sources", [])} & _INTERNET):
            continue
        for lo, hi in rule.get("port_ranges", []):
            hits += [p for p in ports if lo <= p <= hi]
    return sorted(set(hits))


def _nsg_check(key: str, title: str, ports: tuple[int, ...], cis: tuple[str, ...] = ()) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        hit = _nsg_world(rec, ports)
        return Fail(f"port {', '.join(map(str, hit))} open to the internet") if hit else None

    check(key, resource="azure.network.nsg", reads=("rules",), title=title, severity=Severity.HIGH,
          risk="Anyone on the internet can reach the service.", cis=cis, soc2=("CC6.6",),
          remediation="Restrict the rule's source to known ranges or use Azure Bastion.",
          )(fn)  # fmt: skip


_nsg_check("azure.network.nsg_open_ssh", "NSG opens SSH (22) to the internet", (22,), ("7.2",))
_nsg_check("azure.network.nsg_open_rdp", "NSG opens RDP (3389) to the internet", (3389,), ("7.1",))
# CIS Azure 6.0.0: no control for this check (7.1/7.2 name RDP and SSH only)
_nsg_check(
    "azure.network.nsg_open_database_ports",
    "NSG opens database ports to the internet",
    (1433, 3306, 5432, 27017),
)


@check("azure.compute.disk_unattached", resource="azure.compute.disk", title="Managed disk is not attached",
       reads=("disk_state", "size_gb"),
       severity=Severity.LOW, category="cost", risk="You pay for storage nobody uses.",
       remediation="Snapshot it if needed, then delete the disk.")  # fmt: skip
def disk_unattached(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("disk_state") != "Unattached":
        return None
    size = float(rec.attrs.get("size_gb") or 0)
    return Fail(f"{size:.0f} GB disk is unattached", round(size * AZURE_DISK_GB_MONTH, 2))


@check("azure.compute.vm_idle", resource="azure.compute.vm", title="VM is idle", severity=Severity.MEDIUM,
       reads=("power_state", "vm_size", "cpu_days", "cpu_max_daily_7d"),
       category="cost", risk="You pay for compute that does no work.", remediation="Deallocate or delete it.",
       fix="azure.compute.deallocate_vm")  # fmt: skip
def vm_idle(rec: Record, ctx: CheckContext) -> Outcome:
    running = rec.attrs.get("power_state") == "running"
    return _sizing.idle(rec, ctx, running=running, hourly=AZURE_HOURLY, size=str(rec.attrs.get("vm_size")))


@check("azure.compute.vm_overprovisioned", resource="azure.compute.vm", title="VM is over-provisioned",
       reads=("power_state", "vm_size", "cpu_avg_30d", "cpu_days_30d", "cpu_max_daily_7d"),
       severity=Severity.LOW, category="cost", risk="A smaller size would do the same work for less.",
       remediation="Resize to the suggested size.", fix="azure.compute.resize_vm")  # fmt: skip
def vm_overprovisioned(rec: Record, ctx: CheckContext) -> Outcome:
    return _sizing.overprovisioned(
        rec,
        ctx,
        running=rec.attrs.get("power_state") == "running",
        hourly=AZURE_HOURLY,
        size=str(rec.attrs.get("vm_size")),
        smaller_of=azure_smaller,
        fix_param="vm_size",
    )
