"""GCP checks over normalized records (types ``gcp.<service>.<kind>``; attrs from the REST resource shapes)."""

from __future__ import annotations

from escher.scans.checks import _sizing
from escher.scans.checks._declarative import attr_check, is_false, is_true, truthy
from escher.scans.checks.base import CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity
from escher.scans.pricing import GCP_DISK_GB_MONTH, GCP_HOURLY, gcp_smaller

BUCKET = "gcp.storage.bucket"
_ENC = ("164.312(a)(2)(iv)",)
_PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


@check("gcp.storage.bucket_public", resource=BUCKET, title="GCS bucket is readable by anyone", severity=Severity.CRITICAL,
       reads=("public_access_prevention", "iam_members"),
       risk="allUsers / allAuthenticatedUsers in the bucket IAM policy expose every object.",
       remediation="Remove allUsers and allAuthenticatedUsers bindings; enforce public access prevention.",
       cis=("5.1",), soc2=("CC6.1", "CC6.6"), hipaa=("164.312(a)(1)",), fix="gcp.storage.remove_public_bindings")  # fmt: skip
def bucket_public(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("public_access_prevention") == "enforced":
        return None
    members = sorted(set(rec.attrs.get("iam_members", [])) & _PUBLIC_MEMBERS)
    return Fail(f"IAM grants {', '.join(members)}") if members else None


attr_check("gcp.storage.public_access_prevention", BUCKET, "public_access_prevention", lambda v: v == "enforced",
           title="GCS bucket does not enforce public access prevention", severity=Severity.HIGH,
           message="publicAccessPrevention is {value}", risk="One IAM change makes the bucket public.",
           remediation="gcloud storage buckets update gs://B --public-access-prevention", cis=("5.1",), soc2=("CC6.1",),
           fix="gcp.storage.enforce_public_access_prevention")  # fmt: skip
attr_check("gcp.storage.uniform_access", BUCKET, "uniform_access", is_true,
           title="GCS bucket uses object ACLs", severity=Severity.MEDIUM, message="uniform bucket-level access is off",
           risk="Per-object ACLs can make single objects public unnoticed.",
           remediation="Enable uniform bucket-level access.", cis=("5.2",), soc2=("CC6.1",))  # fmt: skip
attr_check("gcp.storage.versioning", BUCKET, "versioning", is_true, category="operational",
           title="GCS bucket versioning is off", severity=Severity.LOW, message="versioning is off",
           risk="Overwritten objects cannot be recovered.", remediation="Enable object versioning.", soc2=("A1.2",),
           fix="gcp.storage.enable_versioning")  # fmt: skip
attr_check("gcp.storage.retention_logging", BUCKET, "logging", is_true,
           title="GCS bucket access logging is off", severity=Severity.LOW, message="no usage logs",
           risk="Reads leave no trail outside Data Access audit logs.",
           remediation="Configure usage logs or enable Data Access audit logs for storage.", soc2=("CC7.2",))  # fmt: skip
# CIS GCP 5.0.0: no control for this check (4.7 asks for customer-supplied keys (CSEK); the check tests customer-managed keys (CMEK))
attr_check("gcp.compute.disk_cmek", "gcp.compute.disk", "cmek", is_true,
           title="Disk is not encrypted with a customer key", severity=Severity.LOW, message="Google-managed key",
           risk="Key lifecycle is outside your control.", remediation="Use a Cloud KMS key (CMEK) for disks.",
           cis=(), hipaa=_ENC)  # fmt: skip
attr_check("gcp.compute.instance_public_ip", "gcp.compute.instance", "public_ip", lambda v: not v,
           title="VM has an external IP", severity=Severity.LOW, message="external IP {value}",
           risk="The VM is directly reachable from the internet.", remediation="Remove the access config; use IAP or Cloud NAT.",
           cis=("4.9",), soc2=("CC6.6",))  # fmt: skip
attr_check("gcp.compute.instance_default_sa", "gcp.compute.instance", "default_sa_full_scope", is_false,
           title="VM uses the default service account with full API access", severity=Severity.HIGH,
           message="default compute SA with cloud-platform scope",
           risk="Any process on the VM can act as project editor.",
           remediation="Use a dedicated service account with least privilege.", cis=("4.2",), soc2=("CC6.3",))  # fmt: skip
attr_check("gcp.compute.instance_shielded_vm", "gcp.compute.instance", "shielded_secure_boot", is_true,
           title="VM has Secure Boot off", severity=Severity.LOW, message="Shielded VM secure boot is off",
           risk="Boot-level malware is not blocked.", remediation="Enable Shielded VM secure boot.", cis=("4.8",))  # fmt: skip
attr_check("gcp.compute.instance_serial_port", "gcp.compute.instance", "serial_port_enabled", lambda v: not v,
           title="VM serial port access is enabled", severity=Severity.MEDIUM, message="serial-port-enable is true",
           risk="The interactive serial console is reachable with project SSH keys.",
           remediation="Set metadata serial-port-enable=false.", cis=("4.5",))  # fmt: skip
attr_check("gcp.compute.instance_os_login", "gcp.compute.instance", "os_login", is_true,
           title="VM does not use OS Login", severity=Severity.LOW, message="enable-oslogin is not true",
           risk="SSH keys in metadata are not tied to IAM identities.", remediation="Set enable-oslogin=TRUE.",
           cis=("4.4",), soc2=("CC6.1",))  # fmt: skip
attr_check("gcp.sql.instance_public_ip", "gcp.sql.instance", "public_ip", lambda v: not v,
           title="Cloud SQL instance has a public IP", severity=Severity.HIGH, message="public IP enabled",
           risk="The database is reachable from the internet.", remediation="Use private IP only.", cis=("6.7",),
           soc2=("CC6.6",))  # fmt: skip
attr_check("gcp.sql.instance_open_networks", "gcp.sql.instance", "authorized_networks",
           lambda v: "0.0.0.0/0" not in (v or []), title="Cloud SQL allows 0.0.0.0/0", severity=Severity.CRITICAL,
           message="authorized network 0.0.0.0/0", risk="Anyone can try to log in to the database.",
           remediation="Remove 0.0.0.0/0 from authorized networks.", cis=("6.5",), soc2=("CC6.6",))  # fmt: skip
attr_check("gcp.sql.instance_backups", "gcp.sql.instance", "backups_enabled", is_true, category="operational",
           title="Cloud SQL automated backups are off", severity=Severity.HIGH, message="backups disabled",
           risk="No restore point.", remediation="Enable automated backups and point-in-time recovery.", cis=("6.8",),
           soc2=("A1.2",), hipaa=("164.308(a)(7)(ii)(A)",))  # fmt: skip
attr_check("gcp.sql.instance_ssl", "gcp.sql.instance", "ssl_required", is_true,
           title="Cloud SQL does not require SSL", severity=Severity.MEDIUM, message="SSL not required",
           risk="Connections may be unencrypted.", remediation="Set sslMode to ENCRYPTED_ONLY.", cis=("6.4",),
           soc2=("CC6.7",), hipaa=("164.312(e)(1)",))  # fmt: skip
attr_check("gcp.logging.audit_logs", "gcp.project.settings", "data_access_audit_logs", truthy,
           title="Data Access audit logs are off", severity=Severity.MEDIUM, message="no DATA_READ/DATA_WRITE audit config",
           risk="Reads of data leave no trail.", remediation="Enable Data Access audit logs for allServices.",
           cis=("2.1",), soc2=("CC7.2",), hipaa=("164.312(b)",))  # fmt: skip
attr_check("gcp.logging.sink_all", "gcp.project.settings", "log_sink_all", is_true,
           title="No log sink exports all logs", severity=Severity.LOW, message="no sink without a filter",
           risk="Logs expire with the default retention.", remediation="Create a sink for all logs to storage or BigQuery.",
           cis=("2.3",), soc2=("CC7.2",))  # fmt: skip
attr_check("gcp.iam.sa_user_keys", "gcp.iam.service_account", "user_managed_keys", lambda v: int(v or 0) == 0,
           title="Service account has user-managed keys", severity=Severity.MEDIUM, message="{value} user-managed keys",
           risk="Downloaded keys leak and never expire.", remediation="Delete the keys; use workload identity.",
           cis=("1.5",), soc2=("CC6.1",))  # fmt: skip
attr_check("gcp.iam.sa_admin", "gcp.iam.service_account", "admin_roles", lambda v: not v,
           title="Service account holds owner/editor", severity=Severity.HIGH, message="roles: {value}",
           risk="A leaked credential controls the project.", remediation="Grant narrow predefined roles instead.",
           cis=("1.6",), soc2=("CC6.3",))  # fmt: skip
attr_check("gcp.compute.vpc_flow_logs", "gcp.compute.subnetwork", "flow_logs", is_true,
           title="Subnet flow logs are off", severity=Severity.LOW, message="flow logs disabled",
           risk="Network traffic leaves no record.", remediation="Enable VPC flow logs on the subnet.", cis=("3.10",),
           soc2=("CC7.2",))  # fmt: skip


def _fw_check(key: str, title: str, ports: tuple[int, ...], cis: tuple[str, ...] = ()) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        a = rec.attrs
        if (
            a.get("direction") != "INGRESS"
            or a.get("disabled")
            or "0.0.0.0/0" not in a.get("source_ranges", [])
        ):
            return None
        hits = [p for p in ports for lo, hi in a.get("port_ranges", []) if lo <= p <= hi]
        return Fail(f"port {', '.join(map(str, sorted(set(hits))))} open to 0.0.0.0/0") if hits else None

    check(key, resource="gcp.compute.firewall", reads=("direction", "disabled", "source_ranges", "port_ranges"),
          title=title, severity=Severity.HIGH,
          risk="Anyone on the internet can reach the service.", cis=cis, soc2=("CC6.6",),
          remediation="Restrict source ranges to known CIDRs or use IAP TCP forwarding (35.235.240.0/20).",
          fix="gcp.compute.disable_firewall_rule")(fn)  # fmt: skip


_fw_check("gcp.compute.firewall_open_ssh", "Firewall rule opens SSH (22) to the internet", (22,), ("3.6",))
_fw_check(
    "gcp.compute.firewall_open_rdp", "Firewall rule opens RDP (3389) to the internet", (3389,), ("3.7",)
)
# CIS GCP 5.0.0: no control for this check (3.6/3.7 name SSH and RDP only)
_fw_check(
    "gcp.compute.firewall_open_database_ports",
    "Firewall rule opens database ports to the internet",
    (1433, 3306, 5432, 27017),
)


@check("gcp.compute.disk_unattached", resource="gcp.compute.disk", title="Persistent disk is not attached",
       reads=("users", "size_gb"),
       severity=Severity.LOW, category="cost", risk="You pay for storage nobody uses.",
       remediation="Snapshot it if needed, then delete the disk.")  # fmt: skip
def disk_unattached(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("users"):
        return None
    size = float(rec.attrs.get("size_gb") or 0)
    return Fail(f"{size:.0f} GB disk has no users", round(size * GCP_DISK_GB_MONTH, 2))


@check("gcp.compute.instance_idle", resource="gcp.compute.instance", title="VM is idle", severity=Severity.MEDIUM,
       reads=("status", "machine_type", "cpu_days", "cpu_max_daily_7d"),
       category="cost", risk="You pay for compute that does no work.", remediation="Stop it or delete it.",
       fix="gcp.compute.stop_instance")  # fmt: skip
def instance_idle(rec: Record, ctx: CheckContext) -> Outcome:
    running = rec.attrs.get("status") == "RUNNING"
    return _sizing.idle(rec, ctx, running=running, hourly=GCP_HOURLY, size=str(rec.attrs.get("machine_type")))


@check("gcp.compute.instance_overprovisioned", resource="gcp.compute.instance", title="VM is over-provisioned",
       reads=("status", "machine_type", "cpu_avg_30d", "cpu_days_30d", "cpu_max_daily_7d"),
       severity=Severity.LOW, category="cost", risk="A smaller machine type would do the same work for less.",
       remediation="Change the machine type (stop, set-machine-type, start).", fix="gcp.compute.set_machine_type")  # fmt: skip
def instance_overprovisioned(rec: Record, ctx: CheckContext) -> Outcome:
    return _sizing.overprovisioned(
        rec,
        ctx,
        running=rec.attrs.get("status") == "RUNNING",
        hourly=GCP_HOURLY,
        size=str(rec.attrs.get("machine_type")),
        smaller_of=gcp_smaller,
        fix_param="machine_type",
    )


@check("gcp.compute.snapshot_old", resource="gcp.compute.snapshot", title="Old snapshot whose source disk is gone",
       reads=("created", "source_disk", "size_gb", "gcp.compute.disk:id"),
       severity=Severity.LOW, category="cost", risk="Forgotten snapshots accumulate cost.",
       remediation="Delete it if nothing restores from it.", fix="gcp.compute.delete_snapshot")  # fmt: skip
def snapshot_old(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("created"))
    if (
        age is None
        or age < ctx.thresholds.old_snapshot_days
        or rec.attrs.get("source_disk") in ctx.ids("gcp.compute.disk")
    ):
        return None
    return Fail(
        f"{age:.0f} days old, source disk deleted", round(float(rec.attrs.get("size_gb") or 0) * 0.026, 2)
    )
