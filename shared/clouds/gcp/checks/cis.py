"""GCP checks written for CIS GCP Foundations 5.0.0 recommendations no earlier check decided: Compute Engine
instance settings, the Cloud SQL database flags (MySQL 6.1, PostgreSQL 6.2, SQL Server 6.3), the alerted
log-based metrics for audited events (2.5-2.12), essential contacts and Cloud Asset Inventory (1.17, 2.14), Cloud
KMS key rotation and public access (1.10, 1.11), API keys (1.13, 1.15, 1.16), Cloud DNS DNSSEC (3.3-3.5), VPC networks
(3.1, 3.2) and their DNS logging (2.13), load balancer logging (2.17), BigQuery (7.1-7.3) and Dataproc (8.1).

A flag left at its default is absent from ``settings.databaseFlags``; each flag check knows the engine's
default (PostgreSQL's ``log_min_messages`` defaults to ``warning``, SQL Server's ``remote access`` to on).
"""

from __future__ import annotations

from collections.abc import Callable

from escher.scans.checks.base import NA, CheckContext, Fail, Outcome, check
from escher.scans.model import Record, Severity

INSTANCE = "gcp.compute.instance"
PROJECT = "gcp.project.settings"
SQL = "gcp.sql.instance"
_ENGINES = {"MYSQL": "MySQL", "POSTGRES": "PostgreSQL", "SQLSERVER": "SQL Server"}
_FLAGS_CMD = "gcloud sql instances patch INSTANCE --database-flags={flag}={value} (lists every flag to keep)"


def _not_gke(rec: Record) -> bool:
    return not rec.name.startswith("gke-")  # GKE manages its nodes' service account and metadata


@check("gcp.compute.instance_uses_default_sa", resource=INSTANCE, reads=("default_sa",),
       title="VM runs as the Compute Engine default service account", severity=Severity.MEDIUM,
       risk="The default service account holds Editor on the project unless that grant was removed; every VM "
            "using it shares one identity, so one compromised VM acts for all.",
       remediation="gcloud compute instances set-service-account VM --zone ZONE --service-account SA@PROJECT."
                   "iam.gserviceaccount.com --scopes cloud-platform (the VM must be stopped)",
       cis=("4.1",), soc2=("CC6.3",))  # fmt: skip
def uses_default_sa(rec: Record, ctx: CheckContext) -> Outcome:
    if not _not_gke(rec):
        return NA
    return Fail("runs as PROJECT_NUMBER-compute@developer") if rec.attrs.get("default_sa") else None


@check("gcp.compute.instance_project_ssh_keys", resource=INSTANCE, reads=("block_project_ssh_keys",),
       title="VM accepts project-wide SSH keys", severity=Severity.MEDIUM,
       risk="A key in the project metadata opens every VM of the project; one leaked key is a leak everywhere.",
       remediation="gcloud compute instances add-metadata VM --zone ZONE --metadata block-project-ssh-keys=TRUE",
       cis=("4.3",), soc2=("CC6.1",))  # fmt: skip
def project_ssh_keys(rec: Record, ctx: CheckContext) -> Outcome:
    if not _not_gke(rec):
        return NA
    return None if rec.attrs.get("block_project_ssh_keys") else Fail("block-project-ssh-keys is not TRUE")


@check("gcp.compute.instance_ip_forwarding", resource=INSTANCE, reads=("ip_forward",),
       title="VM has IP forwarding enabled", severity=Severity.MEDIUM,
       risk="The VM can send and receive packets for other addresses, so it can route around firewall rules "
            "and spoof traffic.",
       remediation="Recreate the VM without --can-ip-forward (the setting cannot be changed in place), unless it "
                   "is a deliberate NAT or routing appliance.",
       cis=("4.6",), soc2=("CC6.6",))  # fmt: skip
def ip_forwarding(rec: Record, ctx: CheckContext) -> Outcome:
    if not _not_gke(rec):
        return NA
    return Fail("canIpForward is true") if rec.attrs.get("ip_forward") else None


def _members_check(key: str, attr: str, cis: str, title: str, risk: str, remediation: str, what: str) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if attr not in rec.attrs:  # the IAM policy was not read
            return NA
        members = rec.attrs[attr]
        return Fail(f"{', '.join(members)} {what}") if members else None

    check(key, resource=PROJECT, reads=(attr,), title=title, severity=Severity.MEDIUM, risk=risk,
          remediation=remediation, cis=(cis,), soc2=("CC6.3",))(fn)  # fmt: skip


_members_check("gcp.iam.project_sa_impersonation", "sa_impersonators", "1.7",
               "People can act as every service account of the project",
               "Service Account User or Token Creator granted on the project lets its holder run code as, or mint "
               "tokens for, any service account in it, including the most privileged.",
               "gcloud projects remove-iam-policy-binding PROJECT --member MEMBER --role roles/iam.serviceAccountUser "
               "(grant it on the one service account needed instead)",
               "hold Service Account User / Token Creator on the project")  # fmt: skip
_members_check("gcp.iam.sa_separation_of_duties", "sa_duty_conflicts", "1.9",
               "A member both administers and uses service accounts",
               "Whoever creates service accounts and can also act as them can give themselves any access.",
               "gcloud projects remove-iam-policy-binding PROJECT --member MEMBER --role roles/iam.serviceAccountUser",
               "hold both Service Account Admin and Service Account User")  # fmt: skip
_members_check("gcp.kms.separation_of_duties", "kms_duty_conflicts", "1.12",
               "A member both administers Cloud KMS and uses its keys",
               "A key administrator who can also encrypt and decrypt controls the data and its protection alone.",
               "gcloud projects remove-iam-policy-binding PROJECT --member MEMBER "
               "--role roles/cloudkms.cryptoKeyEncrypterDecrypter",
               "hold both Cloud KMS Admin and a CryptoKey Encrypter/Decrypter role")  # fmt: skip


@check("gcp.iam.sa_key_rotation", resource="gcp.iam.service_account", reads=("oldest_user_key",),
       title="Service account key older than 90 days", severity=Severity.MEDIUM,
       risk="A long-lived key has had long to leak, and a leaked one keeps working until someone deletes it.",
       remediation="gcloud iam service-accounts keys create NEW.json --iam-account SA, move the workload to it, "
                   "then gcloud iam service-accounts keys delete KEY_ID --iam-account SA",
       cis=("1.8",), soc2=("CC6.1",))  # fmt: skip
def sa_key_rotation(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("oldest_user_key"))
    if age is None:  # no user-managed key
        return None
    limit = ctx.thresholds.access_key_max_age_days
    return Fail(f"a user-managed key is {int(age)} days old") if age > limit else None


def _flag_check(
    key: str,
    cis: str,
    engine: str,
    flag: str,
    ok: Callable[[str | None], bool],
    *,
    want: str,
    risk: str,
    severity: Severity = Severity.LOW,
) -> None:
    """Fail a Cloud SQL instance of ``engine`` (``MYSQL``, ``POSTGRES``, ``SQLSERVER``) whose ``flag`` (None when
    left at its default) is not ``ok``; other engines are out of scope."""

    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if not str(rec.attrs.get("database_version") or "").startswith(engine):
            return NA
        if "database_flags" not in rec.attrs:
            return NA
        value = rec.attrs["database_flags"].get(flag)
        return None if ok(value) else Fail(f"{flag} is {value if value is not None else 'at its default'}")

    check(key, resource=SQL, reads=("database_version", "database_flags"),
          title=f"Cloud SQL {_ENGINES[engine]} flag {flag} is not {want}",
          severity=severity, risk=risk, remediation=_FLAGS_CMD.format(flag=flag, value=want),
          cis=(cis,), soc2=("CC7.2",) if flag.startswith(("log", "cloudsql.enable_pgaudit")) else ("CC6.1",))(fn)  # fmt: skip


def _is(*allowed: str, default_ok: bool) -> Callable[[str | None], bool]:
    def ok(value: str | None) -> bool:
        return default_ok if value is None else value.strip().lower() in allowed

    return ok


_ON, _OFF = ("on", "true", "1"), ("off", "false", "0")

# -- MySQL ---------------------------------------------------------------------------------------------------
_flag_check("gcp.sql.mysql_skip_show_database", "6.1.2", "MYSQL", "skip_show_database", _is(*_ON, default_ok=False),
            want="on", risk="Any user can list every database on the instance, names included.")  # fmt: skip
_flag_check("gcp.sql.mysql_local_infile", "6.1.3", "MYSQL", "local_infile", _is(*_OFF, default_ok=True),
            want="off", risk="LOAD DATA LOCAL lets a compromised server read files from the client.",
            severity=Severity.MEDIUM)  # fmt: skip

# -- PostgreSQL ----------------------------------------------------------------------------------------------
_PG_LOG = "The database's logs miss what an investigation needs."
_flag_check("gcp.sql.pg_log_error_verbosity", "6.2.1", "POSTGRES", "log_error_verbosity",
            _is("default", "terse", default_ok=True), want="default",
            risk="VERBOSE logs carry source locations and internals to everyone who reads the logs.")  # fmt: skip
_flag_check("gcp.sql.pg_log_connections", "6.2.2", "POSTGRES", "log_connections", _is(*_ON, default_ok=False),
            want="on", risk="Connection attempts, the first sign of brute force, are not logged.")  # fmt: skip
_flag_check("gcp.sql.pg_log_disconnections", "6.2.3", "POSTGRES", "log_disconnections",
            _is(*_ON, default_ok=False), want="on", risk="Session ends and lengths are not logged.")  # fmt: skip
_flag_check("gcp.sql.pg_log_statement", "6.2.4", "POSTGRES", "log_statement", _is("ddl", default_ok=False),
            want="ddl", risk="Schema changes (DDL) leave no record in the logs.")  # fmt: skip
_flag_check("gcp.sql.pg_log_min_messages", "6.2.5", "POSTGRES", "log_min_messages",
            _is("warning", "error", "log", "fatal", "panic", default_ok=True), want="warning", risk=_PG_LOG)  # fmt: skip
_flag_check("gcp.sql.pg_log_min_error_statement", "6.2.6", "POSTGRES", "log_min_error_statement",
            _is("error", "log", "fatal", "panic", default_ok=True), want="error",
            risk="Statements that fail are not logged with their error, or too much is logged to find them.")  # fmt: skip
_flag_check("gcp.sql.pg_log_min_duration_statement", "6.2.7", "POSTGRES", "log_min_duration_statement",
            _is("-1", default_ok=True), want="-1",
            risk="Whole statements, with the data and secrets in them, are written to the logs.")  # fmt: skip
_flag_check("gcp.sql.pg_pgaudit", "6.2.8", "POSTGRES", "cloudsql.enable_pgaudit", _is(*_ON, default_ok=False),
            want="on", risk="Database activity is not audited (pgAudit) to Cloud Logging.",
            severity=Severity.MEDIUM)  # fmt: skip

# -- SQL Server ----------------------------------------------------------------------------------------------
_flag_check("gcp.sql.mssql_external_scripts", "6.3.1", "SQLSERVER", "external scripts enabled",
            _is(*_OFF, default_ok=True), want="off", severity=Severity.MEDIUM,
            risk="R and Python scripts run inside the database engine with its rights.")  # fmt: skip
_flag_check("gcp.sql.mssql_cross_db_ownership_chaining", "6.3.2", "SQLSERVER", "cross db ownership chaining",
            _is(*_OFF, default_ok=True), want="off", severity=Severity.MEDIUM,
            risk="A database owner can reach objects in other databases without a permission check.")  # fmt: skip
_flag_check("gcp.sql.mssql_user_connections", "6.3.3", "SQLSERVER", "user connections",
            _is("0", default_ok=True), want="0",
            risk="A connection cap lets a burst of clients lock everyone else out.")  # fmt: skip
_flag_check("gcp.sql.mssql_user_options", "6.3.4", "SQLSERVER", "user options", lambda v: v is None,
            want="unset", risk="Server-wide session defaults change query behaviour for every user silently.")  # fmt: skip
_flag_check("gcp.sql.mssql_remote_access", "6.3.5", "SQLSERVER", "remote access", _is(*_OFF, default_ok=False),
            want="off", severity=Severity.MEDIUM,
            risk="Stored procedures can be run from remote servers, a path for lateral movement.")  # fmt: skip
_flag_check("gcp.sql.mssql_trace_3625", "6.3.6", "SQLSERVER", "3625", _is(*_ON, default_ok=False),
            want="on", risk="Error messages show non-administrators parameters and internals.")  # fmt: skip
_flag_check("gcp.sql.mssql_contained_db_auth", "6.3.7", "SQLSERVER", "contained database authentication",
            _is(*_OFF, default_ok=True), want="off", severity=Severity.MEDIUM,
            risk="Users of a contained database log in without a server login, outside the server's control.")  # fmt: skip


# -- Logging: a log-based metric for each event, watched by an enabled alert policy (2.5-2.12) ---------------
def _normal_filter(text: str) -> str:
    """A metric filter without spaces and with one kind of quote, so ``a = "x"`` and ``a="x"`` compare equal."""
    return "".join(text.replace("'", '"').split())


def _log_alert_check(key: str, cis: str, event: str, parts: tuple[str, ...], filter_: str) -> None:
    """Fail the project when no alerted log-based metric's filter holds every one of ``parts`` (the terms of
    the CIS filter; a filter narrowing them further still counts)."""
    wanted = tuple(_normal_filter(p) for p in parts)

    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if "alerted_log_filters" not in rec.attrs:  # the metrics or the alert policies were not read
            return NA
        for text in rec.attrs["alerted_log_filters"]:
            if all(p in _normal_filter(text) for p in wanted):
                return None
        return Fail(f"no log-based metric with an enabled alert policy matches {event}")

    check(key, resource=PROJECT, reads=("alerted_log_filters",),
          title=f"No log metric and alert for {event}", severity=Severity.MEDIUM,
          risk=f"{event[0].upper()}{event[1:]} go unnoticed until someone reads the audit logs, if anyone does.",
          remediation=f"gcloud logging metrics create NAME --log-filter='{filter_}', then "
                      "gcloud alpha monitoring policies create with a condition on "
                      'metric.type="logging.googleapis.com/user/NAME" and a notification channel',
          cis=(cis,), soc2=("CC7.2",))(fn)  # fmt: skip


_log_alert_check(
    "gcp.logging.alert_project_ownership", "2.5", "project ownership changes",
    ('protoPayload.serviceName="cloudresourcemanager.googleapis.com"', "ProjectOwnership", "projectOwnerInvitee",
     'bindingDeltas.action="REMOVE"', 'bindingDeltas.action="ADD"', 'bindingDeltas.role="roles/owner"'),
    '(protoPayload.serviceName="cloudresourcemanager.googleapis.com") AND (ProjectOwnership OR '
    'projectOwnerInvitee) OR (protoPayload.serviceData.policyDelta.bindingDeltas.action="REMOVE" AND '
    'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner") OR '
    '(protoPayload.serviceData.policyDelta.bindingDeltas.action="ADD" AND '
    'protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner")',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_audit_config", "2.6", "audit configuration changes",
    ('protoPayload.methodName="SetIamPolicy"', "protoPayload.serviceData.policyDelta.auditConfigDeltas:*"),
    'protoPayload.methodName="SetIamPolicy" AND protoPayload.serviceData.policyDelta.auditConfigDeltas:*',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_custom_roles", "2.7", "custom role changes",
    ('resource.type="iam_role"', "google.iam.admin.v1.CreateRole", "google.iam.admin.v1.DeleteRole",
     "google.iam.admin.v1.UpdateRole"),
    'resource.type="iam_role" AND (protoPayload.methodName="google.iam.admin.v1.CreateRole" OR '
    'protoPayload.methodName="google.iam.admin.v1.DeleteRole" OR '
    'protoPayload.methodName="google.iam.admin.v1.UpdateRole")',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_firewall_changes", "2.8", "VPC firewall rule changes",
    ('resource.type="gce_firewall_rule"', "compute.firewalls.patch", "compute.firewalls.insert",
     "compute.firewalls.delete"),
    'resource.type="gce_firewall_rule" AND (protoPayload.methodName:"compute.firewalls.patch" OR '
    'protoPayload.methodName:"compute.firewalls.insert" OR protoPayload.methodName:"compute.firewalls.delete")',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_route_changes", "2.9", "VPC route changes",
    ('resource.type="gce_route"', "compute.routes.delete", "compute.routes.insert"),
    'resource.type="gce_route" AND (protoPayload.methodName:"compute.routes.delete" OR '
    'protoPayload.methodName:"compute.routes.insert")',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_network_changes", "2.10", "VPC network changes",
    ('resource.type="gce_network"', "compute.networks.insert", "compute.networks.patch",
     "compute.networks.delete", "compute.networks.removePeering", "compute.networks.addPeering"),
    'resource.type="gce_network" AND (protoPayload.methodName:"compute.networks.insert" OR '
    'protoPayload.methodName:"compute.networks.patch" OR protoPayload.methodName:"compute.networks.delete" OR '
    'protoPayload.methodName:"compute.networks.removePeering" OR '
    'protoPayload.methodName:"compute.networks.addPeering")',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_storage_iam", "2.11", "Cloud Storage IAM permission changes",
    ('resource.type="gcs_bucket"', "storage.setIamPermissions"),
    'resource.type="gcs_bucket" AND protoPayload.methodName="storage.setIamPermissions"',
)  # fmt: skip
_log_alert_check(
    "gcp.logging.alert_sql_config", "2.12", "SQL instance configuration changes",
    ("cloudsql.instances.update",),
    'protoPayload.methodName="cloudsql.instances.update"',
)  # fmt: skip


@check("gcp.compute.instance_confidential_computing", resource=INSTANCE, reads=("confidential_computing",),
       title="VM does not use Confidential Computing", severity=Severity.LOW,
       risk="The VM's memory is not encrypted in use; whoever reaches the host can read the data being "
            "processed.",
       remediation="Recreate the VM on a machine type that supports it (N2D, C2D, C3) with "
                   "--confidential-compute-type=SEV and --maintenance-policy=TERMINATE",
       cis=("4.11",), soc2=("CC6.1",))  # fmt: skip
def confidential_computing(rec: Record, ctx: CheckContext) -> Outcome:
    if not _not_gke(rec):
        return NA
    return None if rec.attrs.get("confidential_computing") else Fail("Confidential Computing is off")


@check("gcp.logging.sink_bucket_retention_locked", resource="gcp.storage.bucket",
       reads=("retention_seconds", "retention_locked", f"{PROJECT}:sink_buckets"),
       title="Bucket receiving exported logs has no locked retention policy", severity=Severity.MEDIUM,
       risk="Whoever can write to the bucket can delete or shorten the exported logs, the record an "
            "investigation depends on.",
       remediation="gsutil retention set 400d gs://BUCKET, then gsutil retention lock gs://BUCKET (a lock "
                   "cannot be undone)",
       cis=("2.4",), soc2=("CC7.2",))  # fmt: skip
def sink_bucket_retention_locked(rec: Record, ctx: CheckContext) -> Outcome:
    projects = [p for p in ctx.index.get(PROJECT, ()) if "sink_buckets" in p.attrs]
    if not any(rec.name in p.attrs["sink_buckets"] for p in projects):
        return NA  # not a log sink's destination, or the sinks were not read
    if not rec.attrs.get("retention_seconds"):
        return Fail("a log sink exports here and the bucket has no retention policy")
    return None if rec.attrs.get("retention_locked") else Fail("the retention policy is not locked")


@check("gcp.compute.instance_csek_disks", resource=INSTANCE, reads=("csek_disks",),
       title="VM disks are not encrypted with a customer-supplied key (CSEK)", severity=Severity.LOW,
       risk="Google holds the keys to the VM's disks; CIS wants critical VMs' disks under a key only you "
            "supply, so a copy of the disk is unreadable without it.",
       remediation="Snapshot each disk, recreate it with gcloud compute disks create DISK --source-snapshot SNAP "
                   "--csek-key-file KEYS.json, and attach it in place of the old one",
       cis=("4.7",), soc2=("CC6.1",))  # fmt: skip
def csek_disks(rec: Record, ctx: CheckContext) -> Outcome:
    if not _not_gke(rec):
        return NA
    return (
        None if rec.attrs.get("csek_disks") else Fail("a disk is not encrypted with a customer-supplied key")
    )


# -- Project: essential contacts (1.17), Cloud Asset Inventory (2.14) ----------------------------------------
_CONTACT_CATEGORIES = ("LEGAL", "SECURITY", "SUSPENSION", "TECHNICAL")


@check("gcp.project.essential_contacts", resource=PROJECT, reads=("contact_categories",),
       title="No essential contact for legal, security, suspension or technical notices", severity=Severity.LOW,
       risk="Google's notices of a security incident, an imminent suspension or a legal request go only to "
            "whoever holds certain IAM roles, who may have left or not be watching.",
       remediation='gcloud essential-contacts create --email="SECURITY@EXAMPLE.COM" '
                   '--notification-categories="LEGAL,SECURITY,SUSPENSION,TECHNICAL" --organization=ORG_ID',
       cis=("1.17",), soc2=("CC2.3",))  # fmt: skip
def essential_contacts(rec: Record, ctx: CheckContext) -> Outcome:
    if "contact_categories" not in rec.attrs:  # the contacts were not read
        return NA
    covered = set(rec.attrs["contact_categories"])
    if "ALL" in covered:
        return None
    missing = [c for c in _CONTACT_CATEGORIES if c not in covered]
    return Fail(f"no essential contact for {', '.join(missing)}") if missing else None


@check("gcp.project.asset_inventory", resource=PROJECT, reads=("asset_inventory",),
       title="Cloud Asset Inventory is not enabled", severity=Severity.LOW,
       risk="Without the Cloud Asset API there is no history of what existed and how it was configured, which "
            "an investigation or an audit needs.",
       remediation="gcloud services enable cloudasset.googleapis.com --project PROJECT",
       cis=("2.14",), soc2=("CC7.1",))  # fmt: skip
def asset_inventory(rec: Record, ctx: CheckContext) -> Outcome:
    if "asset_inventory" not in rec.attrs:
        return NA
    return None if rec.attrs["asset_inventory"] else Fail("cloudasset.googleapis.com is not enabled")


# -- Cloud KMS (1.11) --------------------------------------------------------------------------------------
KMS_KEY = "gcp.kms.key"
_ROTATION_DAYS = 90


@check("gcp.kms.key_rotation", resource=KMS_KEY, reads=("purpose", "rotation_seconds"),
       title="Cloud KMS key is not rotated within 90 days", severity=Severity.MEDIUM,
       risk="The longer one key version encrypts, the more data a single leaked version exposes.",
       remediation="gcloud kms keys update KEY --keyring RING --location LOCATION --rotation-period 90d "
                   "--next-rotation-time NEXT_ROTATION_TIME",
       cis=("1.11",), soc2=("CC6.1",))  # fmt: skip
def kms_key_rotation(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("purpose") != "ENCRYPT_DECRYPT":  # only symmetric keys rotate automatically
        return NA
    seconds = rec.attrs.get("rotation_seconds")
    if seconds is None:
        return Fail("no automatic rotation period")
    days = seconds / 86400
    return Fail(f"rotated every {days:g} days") if days > _ROTATION_DAYS else None


@check("gcp.kms.key_public", resource=KMS_KEY, reads=("public_members",),
       title="Cloud KMS key is open to everyone", severity=Severity.HIGH,
       risk="allUsers or allAuthenticatedUsers on the key's IAM policy lets anyone on the internet, or any Google "
            "account, use or inspect the key, and so decrypt what it protects.",
       remediation="gcloud kms keys remove-iam-policy-binding KEY --keyring RING --location LOCATION "
                   "--member allUsers --role ROLE (and the same for allAuthenticatedUsers)",
       cis=("1.10",), soc2=("CC6.1",))  # fmt: skip
def kms_key_public(rec: Record, ctx: CheckContext) -> Outcome:
    if "public_members" not in rec.attrs:  # the key's IAM policy was not read
        return NA
    members = rec.attrs["public_members"]
    return Fail(f"the IAM policy grants {', '.join(members)}") if members else None


# -- Cloud DNS (3.3-3.5) -------------------------------------------------------------------------------------
DNS_ZONE = "gcp.dns.managed_zone"


@check("gcp.dns.dnssec", resource=DNS_ZONE, reads=("visibility", "dnssec"),
       title="Public Cloud DNS zone without DNSSEC", severity=Severity.MEDIUM,
       risk="Answers for the zone are not signed, so a resolver cannot tell them from spoofed ones (cache "
            "poisoning, redirection to an attacker's site).",
       remediation="gcloud dns managed-zones update ZONE --dnssec-state on (then publish the DS record at the "
                   "registrar)",
       cis=("3.3",), soc2=("CC6.6",))  # fmt: skip
def dnssec(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("visibility") != "public":  # private zones cannot be signed
        return NA
    return None if rec.attrs.get("dnssec") == "on" else Fail(f"DNSSEC is {rec.attrs.get('dnssec')}")


def _dnssec_algorithm_check(key: str, cis: str, attr: str, which: str, flag: str) -> None:
    def fn(rec: Record, ctx: CheckContext) -> Outcome:
        if rec.attrs.get("visibility") != "public" or rec.attrs.get("dnssec") == "off":
            return NA  # unsigned: 3.3 reports it
        return Fail(f"the {which} uses RSASHA1") if "rsasha1" in rec.attrs.get(attr, []) else None

    check(key, resource=DNS_ZONE, reads=("visibility", "dnssec", attr),
          title=f"Cloud DNS zone signs with RSASHA1 ({which})", severity=Severity.MEDIUM,
          risk="SHA-1 is broken for signatures; RSASHA1 signatures no longer give DNSSEC's guarantee.",
          remediation=f"gcloud dns managed-zones update ZONE --dnssec-state off, then gcloud dns managed-zones "
                      f"update ZONE --dnssec-state on --{flag}-algorithm rsasha256 (re-publish the DS record)",
          cis=(cis,), soc2=("CC6.6",))(fn)  # fmt: skip


_dnssec_algorithm_check("gcp.dns.ksk_rsasha1", "3.4", "key_signing_algorithms", "key-signing key", "ksk")
_dnssec_algorithm_check("gcp.dns.zsk_rsasha1", "3.5", "zone_signing_algorithms", "zone-signing key", "zsk")


# -- API keys (1.13, 1.15, 1.16) -----------------------------------------------------------------------------
API_KEY = "gcp.apikeys.key"


@check("gcp.apikeys.key_exists", resource=API_KEY, reads=("id",),
       title="API key in the project", severity=Severity.LOW,
       risk="An API key is a bearer secret with no identity behind it; it ends up in apps and repositories, and "
            "anyone holding it can call the APIs it allows.",
       remediation="gcloud services api-keys delete KEY_ID (use a service account or OAuth instead, and keep "
                   "a key only for a service that accepts nothing else)",
       cis=("1.13",), soc2=("CC6.1",))  # fmt: skip
def api_key_exists(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("an API key exists: delete it unless a service in use accepts nothing else")


@check("gcp.apikeys.key_unrestricted_apis", resource=API_KEY, reads=("api_targets",),
       title="API key is not restricted to the APIs it needs", severity=Severity.MEDIUM,
       risk="A key without API restrictions calls every API enabled in the project; a leaked one reaches all of "
            "them.",
       remediation="gcloud services api-keys update KEY_ID --api-target=service=SERVICE.googleapis.com (one per "
                   "API the application calls)",
       cis=("1.15",), soc2=("CC6.3",))  # fmt: skip
def api_key_unrestricted_apis(rec: Record, ctx: CheckContext) -> Outcome:
    targets = rec.attrs.get("api_targets") or []
    if not targets:
        return Fail("no API restriction: the key works for every enabled API")
    return Fail("restricted to cloudapis.googleapis.com, i.e. every Google Cloud API") if (
        "cloudapis.googleapis.com" in targets
    ) else None  # fmt: skip


@check("gcp.apikeys.key_rotation", resource=API_KEY, reads=("created",),
       title="API key older than 90 days", severity=Severity.MEDIUM,
       risk="A long-lived key has had long to leak, and a leaked one keeps working until it is deleted.",
       remediation="gcloud services api-keys create with the same restrictions, move the application to the new "
                   "key, then gcloud services api-keys delete OLD_KEY_ID",
       cis=("1.16",), soc2=("CC6.1",))  # fmt: skip
def api_key_rotation(rec: Record, ctx: CheckContext) -> Outcome:
    age = ctx.age_days(rec.attrs.get("created"))
    if age is None:
        return NA
    limit = ctx.thresholds.access_key_max_age_days
    return Fail(f"created {int(age)} days ago") if age > limit else None


# -- BigQuery (7.1-7.3) --------------------------------------------------------------------------------------
@check("gcp.bigquery.dataset_public", resource="gcp.bigquery.dataset", reads=("public_members",),
       title="BigQuery dataset is open to everyone", severity=Severity.HIGH,
       risk="allUsers or allAuthenticatedUsers in the dataset's access list lets anyone on the internet, or "
            "any Google account, read (or change) its tables.",
       remediation="bq show --format=prettyjson PROJECT:DATASET > ds.json, delete the allUsers / "
                   "allAuthenticatedUsers entries from \"access\", then bq update --source ds.json PROJECT:DATASET",
       cis=("7.1",), soc2=("CC6.1",))  # fmt: skip
def dataset_public(rec: Record, ctx: CheckContext) -> Outcome:
    members = rec.attrs.get("public_members") or []
    return Fail(f"access granted to {', '.join(members)}") if members else None


@check("gcp.bigquery.table_cmek", resource="gcp.bigquery.table", reads=("table_type", "cmek"),
       title="BigQuery table is not encrypted with a customer-managed key", severity=Severity.LOW,
       risk="The table is under a Google-managed key: you cannot revoke access to its data by disabling a key, "
            "nor audit the key's use in Cloud KMS.",
       remediation="bq cp -f --destination_kms_key projects/P/locations/L/keyRings/R/cryptoKeys/K "
                   "DATASET.TABLE DATASET.TABLE",
       cis=("7.2",), soc2=("CC6.1",))  # fmt: skip
def table_cmek(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("table_type") not in (
        "TABLE",
        "MATERIALIZED_VIEW",
    ):  # views and external tables store nothing
        return NA
    return None if rec.attrs.get("cmek") else Fail("no encryptionConfiguration.kmsKeyName")


@check("gcp.bigquery.dataset_default_cmek", resource="gcp.bigquery.dataset", reads=("default_cmek",),
       title="BigQuery dataset has no default customer-managed key", severity=Severity.LOW,
       risk="New tables are encrypted with Google-managed keys: you cannot revoke access to the data by "
            "disabling a key, nor audit its use in Cloud KMS.",
       remediation="bq update --default_kms_key projects/P/locations/L/keyRings/R/cryptoKeys/K PROJECT:DATASET",
       cis=("7.3",), soc2=("CC6.1",))  # fmt: skip
def dataset_default_cmek(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("default_cmek") else Fail("no defaultEncryptionConfiguration.kmsKeyName")


# -- Dataproc (8.1) ------------------------------------------------------------------------------------------
@check("gcp.dataproc.cluster_cmek", resource="gcp.dataproc.cluster", reads=("cmek",),
       title="Dataproc cluster is not encrypted with a customer-managed key", severity=Severity.LOW,
       risk="The cluster's disks are under Google-managed keys: you cannot revoke access to the data on them by "
            "disabling a key, nor audit the key's use in Cloud KMS.",
       remediation="Recreate the cluster with gcloud dataproc clusters create CLUSTER --region REGION "
                   "--gce-pd-kms-key projects/P/locations/L/keyRings/R/cryptoKeys/K (the key cannot be added "
                   "to a running cluster)",
       cis=("8.1",), soc2=("CC6.1",))  # fmt: skip
def dataproc_cluster_cmek(rec: Record, ctx: CheckContext) -> Outcome:
    return None if rec.attrs.get("cmek") else Fail("no encryptionConfig.gcePdKmsKeyName")


# -- VPC networks (3.1, 3.2) and their DNS logging (2.13); load balancer logging (2.17) -------------------------
NETWORK = "gcp.compute.network"


@check("gcp.compute.default_network", resource=NETWORK, reads=("id",),
       title="The default network exists", severity=Severity.MEDIUM,
       risk="The default network comes with a subnet in every region and firewall rules opening SSH, RDP and ICMP "
            "from anywhere and all traffic inside it: nobody designed it, and VMs land in it by default.",
       remediation="Move what runs in it to a custom-mode network, delete its firewall rules (gcloud compute "
                   "firewall-rules delete default-allow-ssh ...), then gcloud compute networks delete default",
       cis=("3.1",), soc2=("CC6.6",))  # fmt: skip
def default_network(rec: Record, ctx: CheckContext) -> Outcome:
    return Fail("a network named default exists") if rec.name == "default" else None


@check("gcp.compute.legacy_network", resource=NETWORK, reads=("mode",),
       title="Legacy network in the project", severity=Severity.MEDIUM,
       risk="A legacy network has one IP range for all regions and no subnetworks, so it cannot have VPC flow "
            "logs or Private Google Access, nor per-subnet firewall design.",
       remediation="Create a custom-mode network (gcloud compute networks create NET --subnet-mode custom), move "
                   "the VMs to it, then gcloud compute networks delete LEGACY",
       cis=("3.2",), soc2=("CC6.6",))  # fmt: skip
def legacy_network(rec: Record, ctx: CheckContext) -> Outcome:
    return (
        Fail("legacy network (single IPv4Range, no subnetworks)")
        if rec.attrs.get("mode") == "legacy"
        else None
    )


@check("gcp.dns.network_logging", resource=NETWORK, reads=("dns_logging",),
       title="VPC network without Cloud DNS logging", severity=Severity.MEDIUM,
       risk="DNS queries from the network's VMs are not logged, so lookups of attacker domains and DNS "
            "exfiltration leave no trace.",
       remediation="gcloud dns policies create dns-logging --networks NETWORK --enable-logging --description "
                   "'DNS logging' (or gcloud dns policies update POLICY --enable-logging for its existing policy)",
       cis=("2.13",), soc2=("CC7.2",))  # fmt: skip
def dns_network_logging(rec: Record, ctx: CheckContext) -> Outcome:
    if "dns_logging" not in rec.attrs:  # the DNS policies were not read
        return NA
    return None if rec.attrs["dns_logging"] else Fail("no DNS policy with logging is bound to it")


_HTTP_PROTOCOLS = ("HTTP", "HTTPS", "HTTP2")


@check("gcp.compute.backend_service_logging", resource="gcp.compute.backend_service",
       reads=("protocol", "logging"),
       title="HTTP(S) load balancer backend service does not log requests", severity=Severity.MEDIUM,
       risk="Requests through the load balancer leave no log: attacks, abuse and their source cannot be "
            "traced afterwards.",
       remediation="gcloud compute backend-services update SERVICE --global --enable-logging --logging-sample-rate 1 "
                   "(--region REGION for a regional one)",
       cis=("2.17",), soc2=("CC7.2",))  # fmt: skip
def backend_service_logging(rec: Record, ctx: CheckContext) -> Outcome:
    if rec.attrs.get("protocol") not in _HTTP_PROTOCOLS:  # TCP, SSL, UDP: not an HTTP(S) load balancer
        return NA
    return None if rec.attrs.get("logging") else Fail("logConfig.enable is not true")
