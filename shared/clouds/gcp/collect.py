"""GCP inventory: Cloud Storage buckets (with IAM), Compute Engine instances (with CPU from Cloud Monitoring),
disks, snapshots, networks (with the Cloud DNS policies bound to them), subnetworks, firewalls and load balancer
backend services, Cloud SQL, service accounts (with their keys and project roles),
Cloud Run services, Cloud KMS keys (with IAM), Cloud DNS managed zones, API keys, BigQuery datasets
and tables, Dataproc clusters, and the project's settings (Data Access audit logs, log sinks, OS Login metadata, the log-based
metrics that an alert policy watches, essential contacts, whether Cloud Asset Inventory is enabled).

Clients come from :class:`escher.ops.context.CloudContext` like the operations': google-cloud-storage honours
``STORAGE_EMULATOR_HOST``; Compute runs over its REST transport (a ``requests`` adapter handed in there carries
every call); Cloud SQL Admin, IAM, Resource Manager, Logging, Monitoring, Cloud Run, Cloud KMS, Cloud DNS, API
Keys, BigQuery, Dataproc, Essential Contacts and Service Usage are discovery clients built from
the documents shipped with google-api-python-client, over the context's injectable ``httplib2`` seam
(``gcp_discovery_http``) when one is given. Instances, disks, subnetworks and backend services are read with
``aggregatedList``
(every zone or region in one paged call, 500 per page).

Normalizers take the REST JSON shapes (``Message.to_json`` for the Compute protos), so they are pure and tested
without any SDK. A part of a task that cannot be read (CPU time series) leaves its attributes off the records,
so the matching checks give no verdict, and is reported as not read.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from escher.lazy import require
from escher.scans.collect.base import Produces, Progress, Task, produces, run_tasks
from escher.scans.collect.metrics import cpu_attrs, parse_time, window
from escher.scans.model import CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

__all__ = [
    "PRODUCES",
    "GcpCollector",
    "alerted_log_filters",
    "normalize_api_key",
    "normalize_backend_service",
    "normalize_bucket",
    "normalize_dataproc_cluster",
    "normalize_dataset",
    "normalize_disk",
    "normalize_dns_zone",
    "normalize_firewall",
    "normalize_instance",
    "normalize_kms_key",
    "normalize_network",
    "normalize_project",
    "normalize_run_service",
    "normalize_service_account",
    "normalize_snapshot",
    "normalize_sql_instance",
    "normalize_subnetwork",
    "normalize_table",
]

GLOBAL = "global"
PAGE = 500  # Compute's maxResults ceiling
FULL_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_TRUE = ("true", "1", "yes", "on")
CPU_METRIC = "compute.googleapis.com/instance/cpu/utilization"
ADMIN_ROLES = frozenset({"roles/owner", "roles/editor"})
DATA_ACCESS = frozenset({"DATA_READ", "DATA_WRITE"})
# the notification categories CIS GCP 1.17 wants a contact for (or one for ALL)
ESSENTIAL_CATEGORIES = ("LEGAL", "SECURITY", "SUSPENSION", "TECHNICAL")

# What each task yields (record type -> attrs). tests/functional/scans/test_every_check_fed.py holds it to
# the records the tasks return on the replayed estate, both ways.
PRODUCES: dict[str, Produces] = {
    "storage": produces({
        "gcp.storage.bucket": "public_access_prevention uniform_access versioning logging retention_seconds "
                              "retention_locked iam_members",
    }),
    "instances": produces({
        "gcp.compute.instance": "status machine_type public_ip default_sa default_sa_full_scope "
                                "shielded_secure_boot serial_port_enabled os_login block_project_ssh_keys "
                                "ip_forward confidential_computing csek_disks disks created "
                                "cpu_days cpu_max_daily_7d cpu_days_30d cpu_avg_30d",
    }),
    "disks": produces({"gcp.compute.disk": "users size_gb cmek disk_type created"}),
    "snapshots": produces({"gcp.compute.snapshot": "created source_disk size_gb status storage_bytes"}),
    "subnetworks": produces({"gcp.compute.subnetwork": "network ip_range flow_logs private_google_access"}),
    "networks": produces({"gcp.compute.network": "mode dns_logging"}),
    "backend_services": produces({"gcp.compute.backend_service": "protocol load_balancing_scheme logging"}),
    "firewalls": produces({
        "gcp.compute.firewall": "direction disabled source_ranges port_ranges network priority",
    }),
    "sql": produces({
        "gcp.sql.instance": "public_ip authorized_networks backups_enabled ssl_required state tier "
                            "database_version database_flags",
    }),
    "iam": produces({
        "gcp.iam.service_account": "email disabled user_managed_keys oldest_user_key admin_roles",
    }),
    "run": produces({"gcp.run.service": "uri scaling conditions"}),
    "kms": produces({"gcp.kms.key": "purpose rotation_seconds public_members"}),
    "dns": produces({"gcp.dns.managed_zone": "visibility dnssec key_signing_algorithms zone_signing_algorithms"}),
    "apikeys": produces({"gcp.apikeys.key": "created api_targets"}),
    "bigquery": produces({
        "gcp.bigquery.dataset": "public_members default_cmek",
        "gcp.bigquery.table": "table_type cmek",
    }),
    "dataproc": produces({"gcp.dataproc.cluster": "state cmek"}),
    "project": produces({
        "gcp.project.settings": "data_access_audit_logs log_sink_all os_login sa_impersonators "
                                "sa_duty_conflicts kms_duty_conflicts alerted_log_filters sink_buckets "
                                "contact_categories asset_inventory",
    }),
}  # fmt: skip


def _last(url: str | None) -> str:
    return str(url or "").rstrip("/").rsplit("/", 1)[-1]


def _region_of_zone(zone: str) -> str:
    return zone.rsplit("-", 1)[0] if zone.count("-") >= 2 else zone


def _metadata(raw: dict[str, Any]) -> dict[str, str]:
    return {
        str(i.get("key")): str(i.get("value", "")) for i in (raw.get("metadata") or {}).get("items") or []
    }


def normalize_bucket(raw: dict[str, Any], project: str, iam: dict[str, Any] | None) -> Record:
    """``raw`` is the bucket resource (storage#bucket JSON), ``iam`` its IAM policy (None: not read)."""
    iam_cfg = raw.get("iamConfiguration") or {}
    attrs: dict[str, Any] = {
        "public_access_prevention": iam_cfg.get("publicAccessPrevention", "inherited"),
        "uniform_access": bool((iam_cfg.get("uniformBucketLevelAccess") or {}).get("enabled")),
        "versioning": bool((raw.get("versioning") or {}).get("enabled")),
        "logging": bool((raw.get("logging") or {}).get("logBucket")),
        "retention_seconds": int((raw.get("retentionPolicy") or {}).get("retentionPeriod") or 0),
        "retention_locked": bool((raw.get("retentionPolicy") or {}).get("isLocked")),
    }
    if iam is not None:
        attrs["iam_members"] = sorted({m for b in iam.get("bindings") or [] for m in b.get("members") or []})
    return Record(
        cloud="gcp",
        type="gcp.storage.bucket",
        id=str(raw["name"]),
        region=str(raw.get("location") or GLOBAL).lower(),
        account=project,
        name=str(raw["name"]),
        tags=_labels(raw),
        attrs=attrs,
    )


def _zonal_record(
    raw: dict[str, Any], project: str, zone: str, kind: str, collection: str, attrs: dict[str, Any]
) -> Record:
    """A Compute Engine zonal resource (instance, disk): id, region and labels are read the same way."""
    return Record(
        cloud="gcp",
        type=f"gcp.compute.{kind}",
        id=f"projects/{project}/zones/{zone}/{collection}/{raw['name']}",
        region=_region_of_zone(zone),
        account=project,
        name=str(raw["name"]),
        tags=_labels(raw),
        attrs=attrs,
    )


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    """A GCP resource's labels as the record's tags."""
    return {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}


def normalize_instance(raw: dict[str, Any], project: str) -> Record:
    zone = _last(raw.get("zone"))
    meta = _metadata(raw)
    nat_ips = [
        ac.get("natIP")
        for ni in raw.get("networkInterfaces") or []
        for ac in ni.get("accessConfigs") or []
        if ac.get("natIP")
    ]
    default_sas = [
        sa
        for sa in raw.get("serviceAccounts") or []
        if str(sa.get("email", "")).endswith("-compute@developer.gserviceaccount.com")
    ]
    default_full = any(FULL_SCOPE in (sa.get("scopes") or []) for sa in default_sas)
    attrs: dict[str, Any] = {
        "status": raw.get("status"),
        "machine_type": _last(raw.get("machineType")),
        "public_ip": nat_ips[0] if nat_ips else None,
        "default_sa": bool(default_sas),
        "default_sa_full_scope": default_full,
        "shielded_secure_boot": bool((raw.get("shieldedInstanceConfig") or {}).get("enableSecureBoot")),
        "serial_port_enabled": meta.get("serial-port-enable", "").lower() in _TRUE,
        # unset here: the project's commonInstanceMetadata decides (GcpCollector.collect links it)
        "os_login": meta["enable-oslogin"].lower() in _TRUE if "enable-oslogin" in meta else None,
        "block_project_ssh_keys": meta.get("block-project-ssh-keys", "").lower() in _TRUE,
        "ip_forward": bool(raw.get("canIpForward")),
        "confidential_computing": bool(
            (raw.get("confidentialInstanceConfig") or {}).get("enableConfidentialCompute")
            or (raw.get("confidentialInstanceConfig") or {}).get("confidentialInstanceType")
        ),
        "disks": [_last(d.get("source")) for d in raw.get("disks") or []],
        # every attached disk encrypted with a customer-supplied key (its SHA-256 is all the API shows)
        "csek_disks": bool(raw.get("disks"))
        and all((d.get("diskEncryptionKey") or {}).get("sha256") for d in raw.get("disks") or []),
        "created": raw.get("creationTimestamp"),
    }
    return _zonal_record(raw, project, zone, "instance", "instances", attrs)


def normalize_disk(raw: dict[str, Any], project: str) -> Record:
    zone = _last(raw.get("zone"))
    attrs = {
        "users": [_last(u) for u in raw.get("users") or []],
        "size_gb": int(raw.get("sizeGb") or 0),
        "cmek": bool((raw.get("diskEncryptionKey") or {}).get("kmsKeyName")),
        "disk_type": _last(raw.get("type")),
        "created": raw.get("creationTimestamp"),
    }
    return _zonal_record(raw, project, zone, "disk", "disks", attrs)


def _fw_ports(allowed: list[dict[str, Any]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for rule in allowed:
        if str(rule.get("IPProtocol", "")).lower() not in ("tcp", "udp", "all", "sctp"):
            continue
        ports = rule.get("ports") or []
        if not ports:  # no ports: every port of the protocol
            out.append((0, 65535))
        for spec in ports:
            lo, _, hi = str(spec).partition("-")
            out.append((int(lo), int(hi or lo)))
    return out


def normalize_firewall(raw: dict[str, Any], project: str) -> Record:
    attrs = {
        "direction": raw.get("direction", "INGRESS"),
        "disabled": bool(raw.get("disabled")),
        "source_ranges": list(raw.get("sourceRanges") or []),
        "port_ranges": _fw_ports(raw.get("allowed") or []),
        "network": _last(raw.get("network")),
        "priority": raw.get("priority"),
    }
    return Record(
        cloud="gcp",
        type="gcp.compute.firewall",
        id=f"projects/{project}/global/firewalls/{raw['name']}",
        region=GLOBAL,
        account=project,
        name=str(raw["name"]),
        attrs=attrs,
    )


def normalize_sql_instance(raw: dict[str, Any], project: str) -> Record:
    settings = raw.get("settings") or {}
    ip = settings.get("ipConfiguration") or {}
    ssl_mode = str(ip.get("sslMode") or "")
    attrs = {
        "public_ip": bool(ip.get("ipv4Enabled")),
        "authorized_networks": [str(n.get("value")) for n in ip.get("authorizedNetworks") or []],
        "backups_enabled": bool((settings.get("backupConfiguration") or {}).get("enabled")),
        "ssl_required": bool(ip.get("requireSsl"))
        or ssl_mode in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"),
        "state": raw.get("state"),
        "tier": settings.get("tier"),
        "database_version": raw.get("databaseVersion"),
        # name -> value as set; a flag left at its default is absent
        "database_flags": {
            str(f.get("name")): str(f.get("value", "")) for f in settings.get("databaseFlags") or []
        },
    }
    return Record(
        cloud="gcp",
        type="gcp.sql.instance",
        id=f"projects/{project}/instances/{raw['name']}",
        region=str(raw.get("region") or GLOBAL),
        account=project,
        name=str(raw["name"]),
        tags={str(k): str(v) for k, v in (settings.get("userLabels") or {}).items()},
        attrs=attrs,
    )


def _path(url: str | None) -> str:
    """``https://www.googleapis.com/compute/v1/projects/p/zones/z/disks/d`` -> ``projects/p/zones/z/disks/d``."""
    text = str(url or "")
    return text[text.index("projects/") :] if "projects/" in text else text


def normalize_snapshot(raw: dict[str, Any], project: str) -> Record:
    attrs = {
        "created": raw.get("creationTimestamp"),
        "source_disk": _path(raw.get("sourceDisk")) or None,
        "size_gb": int(raw.get("diskSizeGb") or 0),
        "status": raw.get("status"),
        "storage_bytes": int(raw.get("storageBytes") or 0),
    }
    return Record(
        cloud="gcp",
        type="gcp.compute.snapshot",
        id=f"projects/{project}/global/snapshots/{raw['name']}",
        region=GLOBAL,
        account=project,
        name=str(raw["name"]),
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_subnetwork(raw: dict[str, Any], project: str) -> Record:
    region = _last(raw.get("region"))
    attrs = {
        "network": _last(raw.get("network")),
        "ip_range": raw.get("ipCidrRange"),
        "flow_logs": bool((raw.get("logConfig") or {}).get("enable")),
        "private_google_access": bool(raw.get("privateIpGoogleAccess")),
    }
    return Record(
        cloud="gcp",
        type="gcp.compute.subnetwork",
        id=f"projects/{project}/regions/{region}/subnetworks/{raw['name']}",
        region=region,
        account=project,
        name=str(raw["name"]),
        attrs=attrs,
    )


def dns_logged_networks(policies: list[dict[str, Any]]) -> set[str]:
    """Networks (``projects/P/global/networks/N``) bound to a Cloud DNS server policy that logs queries
    (``enableLogging``): CIS GCP 2.13."""
    return {
        _path(n.get("networkUrl"))
        for policy in policies
        if policy.get("enableLogging")
        for n in policy.get("networks") or []
    }


def normalize_network(raw: dict[str, Any], project: str, dns_logged: set[str] | None) -> Record:
    """A VPC network (compute#network): ``legacy`` when it has a single ``IPv4Range`` and no subnetworks (CIS GCP
    3.2), ``auto`` or ``custom`` subnet mode otherwise; whether a DNS policy logs its queries (2.13), left off
    when the DNS policies were not read (``dns_logged`` None)."""
    subnet_mode = "auto" if raw.get("autoCreateSubnetworks") else "custom"
    mode = "legacy" if raw.get("IPv4Range") else subnet_mode
    rid = f"projects/{project}/global/networks/{raw['name']}"
    attrs: dict[str, Any] = {"mode": mode}
    if dns_logged is not None:
        attrs["dns_logging"] = rid in dns_logged
    return Record(
        cloud="gcp",
        type="gcp.compute.network",
        id=rid,
        region=GLOBAL,
        account=project,
        name=str(raw["name"]),
        attrs=attrs,
    )


def normalize_backend_service(raw: dict[str, Any], project: str) -> Record:
    """A load balancer backend service (compute#backendService), global or regional: its protocol and scheme
    (which load balancer it serves) and whether it logs requests (``logConfig.enable``; CIS GCP 2.17)."""
    region = _last(raw.get("region")) if raw.get("region") else GLOBAL
    scope = "global" if region == GLOBAL else f"regions/{region}"
    attrs = {
        "protocol": raw.get("protocol") or "HTTP",  # the API's default
        "load_balancing_scheme": raw.get("loadBalancingScheme") or "EXTERNAL",
        "logging": bool((raw.get("logConfig") or {}).get("enable")),
    }
    return Record(
        cloud="gcp",
        type="gcp.compute.backend_service",
        id=f"projects/{project}/{scope}/backendServices/{raw['name']}",
        region=region,
        account=project,
        name=str(raw["name"]),
        attrs=attrs,
    )


def admin_roles(policy: dict[str, Any], member: str) -> list[str]:
    """Roles of ``member`` that administer (owner, editor, any ``*Admin``): CIS GCP 1.5's test."""
    return sorted(
        str(b.get("role"))
        for b in policy.get("bindings") or []
        if member in (b.get("members") or [])
        and (b.get("role") in ADMIN_ROLES or str(b.get("role", "")).lower().endswith("admin"))
    )


def normalize_service_account(
    raw: dict[str, Any], project: str, keys: list[dict[str, Any]], policy: dict[str, Any] | None
) -> Record:
    """``keys`` are the account's keys as listed (user-managed ones counted), ``policy`` the project's IAM policy
    (None: not read)."""
    email = str(raw["email"])
    user_keys = [k for k in keys if k.get("keyType", "USER_MANAGED") == "USER_MANAGED"]
    created = sorted(str(k["validAfterTime"]) for k in user_keys if k.get("validAfterTime"))
    attrs: dict[str, Any] = {
        "email": email,
        "disabled": bool(raw.get("disabled")),
        "user_managed_keys": len(user_keys),
        "oldest_user_key": created[0] if created else None,  # when the oldest user-managed key was made
    }
    if policy is not None:
        attrs["admin_roles"] = admin_roles(policy, f"serviceAccount:{email}")
    return Record(
        cloud="gcp",
        type="gcp.iam.service_account",
        id=f"projects/{project}/serviceAccounts/{email}",
        region=GLOBAL,
        account=project,
        name=email,
        attrs=attrs,
    )


def alerted_log_filters(metrics: list[dict[str, Any]], policies: list[dict[str, Any]]) -> list[str]:
    """The filters of the log-based metrics an enabled alert policy watches: a condition's filter names the
    metric as ``metric.type="logging.googleapis.com/user/NAME"`` (CIS GCP 2.5-2.12 want one per event)."""
    watched = " ".join(
        str(value.get("filter") or "")
        for policy in policies
        if policy.get("enabled", True) is not False
        for condition in policy.get("conditions") or []
        for value in condition.values()
        if isinstance(value, dict)
    ).replace("'", '"')
    return sorted(
        str(m.get("filter") or "")
        for m in metrics
        if not m.get("disabled") and f'logging.googleapis.com/user/{m.get("name")}"' in watched
    )


def normalize_project(
    project: str,
    policy: dict[str, Any] | None,
    sinks: list[dict[str, Any]] | None,
    compute_project: dict[str, Any] | None,
    log_alerts: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    asset_service: dict[str, Any] | None = None,
) -> Record:
    """The project's settings. Data Access audit logs: an ``allServices`` audit config logging DATA_READ and
    DATA_WRITE for everyone (CIS GCP 2.1); a sink for all logs: an enabled sink with no filter (2.2), and the
    buckets enabled sinks export to (2.4); OS Login:
    ``enable-oslogin`` in the project's common instance metadata (4.4); ``log_alerts``: the log-based metrics
    and the alert policies (2.5-2.12); ``contacts``: the essential contacts that apply to the project, the
    organization's and folders' included (1.17); ``asset_service``: Service Usage's record of
    cloudasset.googleapis.com (2.14). Each None: not read, its attribute left off."""
    attrs: dict[str, Any] = {}
    if policy is not None:
        logged = {
            str(c.get("logType"))
            for cfg in policy.get("auditConfigs") or []
            if cfg.get("service") == "allServices"
            for c in cfg.get("auditLogConfigs") or []
            if not c.get("exemptedMembers")
        }
        attrs["data_access_audit_logs"] = logged >= DATA_ACCESS
        attrs.update(separation_of_duties(policy))
    if sinks is not None:
        attrs["log_sink_all"] = any(not s.get("filter") and not s.get("disabled") for s in sinks)
        attrs["sink_buckets"] = sorted(  # Cloud Storage buckets logs are exported to (2.4)
            str(s["destination"]).removeprefix("storage.googleapis.com/")
            for s in sinks
            if not s.get("disabled") and str(s.get("destination") or "").startswith("storage.googleapis.com/")
        )
    if compute_project is not None:
        meta = _metadata({"metadata": compute_project.get("commonInstanceMetadata") or {}})
        attrs["os_login"] = meta.get("enable-oslogin", "").lower() in _TRUE
    if log_alerts is not None:
        attrs["alerted_log_filters"] = alerted_log_filters(*log_alerts)
    if contacts is not None:  # the categories some valid (or not yet validated) contact is subscribed to
        attrs["contact_categories"] = sorted({
            str(c) for contact in contacts if contact.get("validationState") != "INVALID"
            for c in contact.get("notificationCategorySubscriptions") or []
        })  # fmt: skip
    if asset_service is not None:
        attrs["asset_inventory"] = asset_service.get("state") == "ENABLED"
    return Record(
        cloud="gcp",
        type="gcp.project.settings",
        id=f"projects/{project}",
        region=GLOBAL,
        account=project,
        name=project,
        attrs=attrs,
    )


PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})


def _duration_seconds(text: str | None) -> float | None:
    """A protobuf Duration as JSON (``"7776000s"``, ``"3.5s"``) in seconds; None when unset."""
    return float(str(text).removesuffix("s")) if text else None


def public_members(policy: dict[str, Any]) -> list[str]:
    """allUsers / allAuthenticatedUsers wherever an IAM policy grants them a role."""
    return sorted(
        {str(m) for b in policy.get("bindings") or [] for m in b.get("members") or []} & PUBLIC_MEMBERS
    )


def normalize_kms_key(raw: dict[str, Any], project: str, policy: dict[str, Any] | None = None) -> Record:
    """A Cloud KMS CryptoKey (``projects/P/locations/L/keyRings/R/cryptoKeys/K``): its purpose, its automatic
    rotation period in seconds (None: never rotated automatically; CIS GCP 1.11) and who of everyone its IAM
    ``policy`` grants a role (1.10; left off when the policy was not read)."""
    name = str(raw["name"])
    attrs: dict[str, Any] = {
        "purpose": raw.get("purpose"),
        "rotation_seconds": _duration_seconds(raw.get("rotationPeriod")),
    }
    if policy is not None:
        attrs["public_members"] = public_members(policy)
    return Record(
        cloud="gcp",
        type="gcp.kms.key",
        id=name,
        region=name.split("/")[3] if name.count("/") >= 7 else GLOBAL,
        account=project,
        name=_last(name),
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_dns_zone(raw: dict[str, Any], project: str) -> Record:
    """A Cloud DNS managed zone: public or private, its DNSSEC state (``off`` when unset; CIS GCP 3.3) and the
    algorithms of its key-signing and zone-signing key specs (3.4, 3.5)."""
    dnssec = raw.get("dnssecConfig") or {}
    specs = dnssec.get("defaultKeySpecs") or []

    def algorithms(key_type: str) -> list[str]:
        return sorted({str(s.get("algorithm")) for s in specs if s.get("keyType") == key_type})

    attrs = {
        "visibility": raw.get("visibility") or "public",
        "dnssec": dnssec.get("state") or "off",
        "key_signing_algorithms": algorithms("keySigning"),
        "zone_signing_algorithms": algorithms("zoneSigning"),
    }
    return Record(
        cloud="gcp",
        type="gcp.dns.managed_zone",
        id=f"projects/{project}/managedZones/{raw['name']}",
        region=GLOBAL,
        account=project,
        name=str(raw["name"]),
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_api_key(raw: dict[str, Any], project: str) -> Record:
    """An API key (apikeys v2 ``V2Key``; the list never carries the key string): when it was made (CIS GCP 1.16)
    and the services it is restricted to, none meaning every enabled one (1.15)."""
    targets = ((raw.get("restrictions") or {}).get("apiTargets")) or []
    attrs = {
        "created": raw.get("createTime"),
        "api_targets": sorted({str(t.get("service")) for t in targets if t.get("service")}),
    }
    return Record(
        cloud="gcp",
        type="gcp.apikeys.key",
        id=str(raw["name"]),
        region=GLOBAL,
        account=project,
        name=str(raw.get("displayName") or raw.get("uid") or _last(raw["name"])),
        attrs=attrs,
    )


def normalize_dataset(raw: dict[str, Any], project: str) -> Record:
    """A BigQuery dataset (``datasets.get``): who of everyone its access list names (CIS GCP 7.1), whether
    new tables default to a customer-managed key (7.3)."""
    ref = raw.get("datasetReference") or {}
    public = {
        str(who)
        for entry in raw.get("access") or []
        for who in (entry.get("specialGroup"), entry.get("iamMember"))
        if who in PUBLIC_MEMBERS
    }
    attrs = {
        "public_members": sorted(public),
        "default_cmek": bool((raw.get("defaultEncryptionConfiguration") or {}).get("kmsKeyName")),
    }
    return Record(
        cloud="gcp",
        type="gcp.bigquery.dataset",
        id=f"projects/{ref.get('projectId', project)}/datasets/{ref.get('datasetId')}",
        region=str(raw.get("location") or GLOBAL).lower(),
        account=project,
        name=str(ref.get("datasetId")),
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_table(raw: dict[str, Any], project: str) -> Record:
    """A BigQuery table (``tables.get``): its type (a VIEW stores nothing) and whether it is encrypted with a
    customer-managed key (CIS GCP 7.2)."""
    ref = raw.get("tableReference") or {}
    attrs = {
        "table_type": raw.get("type") or "TABLE",
        "cmek": bool((raw.get("encryptionConfiguration") or {}).get("kmsKeyName")),
    }
    return Record(
        cloud="gcp",
        type="gcp.bigquery.table",
        id=f"projects/{ref.get('projectId', project)}/datasets/{ref.get('datasetId')}/tables/{ref.get('tableId')}",
        region=str(raw.get("location") or GLOBAL).lower(),
        account=project,
        name=f"{ref.get('datasetId')}.{ref.get('tableId')}",
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_dataproc_cluster(raw: dict[str, Any], project: str, region: str) -> Record:
    """A Dataproc cluster (``clusters.list`` of ``region``): its state and whether its disks are encrypted with
    a customer-managed key (``encryptionConfig.gcePdKmsKeyName``, or ``kmsKey``, which covers them too; CIS GCP
    8.1)."""
    config = raw.get("config") or {}
    encryption = config.get("encryptionConfig") or {}
    name = str(raw["clusterName"])
    attrs = {
        "state": (raw.get("status") or {}).get("state"),
        "cmek": bool(encryption.get("gcePdKmsKeyName") or encryption.get("kmsKey")),
    }
    return Record(
        cloud="gcp",
        type="gcp.dataproc.cluster",
        id=f"projects/{raw.get('projectId') or project}/regions/{region}/clusters/{name}",
        region=region,
        account=project,
        name=name,
        tags=_labels(raw),
        attrs=attrs,
    )


def normalize_run_service(raw: dict[str, Any], project: str) -> Record:
    """A Cloud Run v2 service (``projects/P/locations/L/services/S``): its URL, the service-level scaling (an
    unset mode is automatic; manual with 0 instances serves nothing) and its conditions, the terminal one first
    (``type``, ``state``, ``reason``)."""
    name = str(raw["name"])
    scaling = raw.get("scaling") or {}
    conditions = [c for c in [raw.get("terminalCondition"), *(raw.get("conditions") or [])] if c]
    attrs: dict[str, Any] = {
        "uri": raw.get("uri"),
        "scaling": {
            "mode": scaling.get("scalingMode") or "AUTOMATIC",
            "min_instances": scaling.get("minInstanceCount"),
            "max_instances": scaling.get("maxInstanceCount"),
            "manual_instances": scaling.get("manualInstanceCount"),
        },
        "conditions": [
            {"type": c.get("type"), "state": c.get("state"), "reason": c.get("reason")} for c in conditions
        ],
    }
    return Record(
        cloud="gcp",
        type="gcp.run.service",
        id=name,
        region=name.split("/")[3] if name.count("/") >= 5 else GLOBAL,
        account=project,
        name=_last(name),
        tags=_labels(raw),
        attrs=attrs,
    )


SA_USE_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})
KMS_CRYPTO_ROLES = frozenset({
    "roles/cloudkms.cryptoKeyEncrypterDecrypter", "roles/cloudkms.cryptoKeyEncrypter", "roles/cloudkms.cryptoKeyDecrypter",
})  # fmt: skip


def separation_of_duties(policy: dict[str, Any]) -> dict[str, list[str]]:
    """From the project's IAM policy: people (not service accounts) who may act as any service account of the
    project (CIS GCP 1.7), members who both administer and use service accounts (1.9), and members who both
    administer Cloud KMS and encrypt or decrypt with its keys (1.12)."""
    roles: dict[str, set[str]] = {}
    for b in policy.get("bindings") or []:  # conditional grants count: the condition may be broad
        for member in b.get("members") or []:
            roles.setdefault(str(member), set()).add(str(b.get("role")))
    return {
        "sa_impersonators": sorted(
            m
            for m, r in roles.items()
            if r & SA_USE_ROLES and not m.startswith(("serviceAccount:", "deleted:"))
        ),
        "sa_duty_conflicts": sorted(
            m
            for m, r in roles.items()
            if {"roles/iam.serviceAccountAdmin", "roles/iam.serviceAccountUser"} <= r
        ),
        "kms_duty_conflicts": sorted(
            m for m, r in roles.items() if "roles/cloudkms.admin" in r and r & KMS_CRYPTO_ROLES
        ),
    }


def link_os_login(records: list[Record]) -> None:
    """An instance without its own ``enable-oslogin`` follows the project's metadata (off when unread)."""
    project = next((r for r in records if r.type == "gcp.project.settings"), None)
    default = bool(project.attrs.get("os_login")) if project is not None else False
    for rec in records:
        if rec.type == "gcp.compute.instance" and rec.attrs.get("os_login") is None:
            rec.attrs["os_login"] = default


def _sdk_errors() -> tuple[type[BaseException], ...]:
    """What a Google call raises once its retries gave up (what :meth:`GcpCollector._error` maps)."""
    core = require("google.api_core.exceptions", "gcp")
    api = require("googleapiclient.errors", "gcp")
    auth = require("google.auth.exceptions", "gcp")
    requests_exc = require("requests.exceptions", "gcp")
    return (core.GoogleAPIError, api.Error, auth.GoogleAuthError, requests_exc.RequestException)


def _proto_json(message: Any) -> dict[str, Any]:
    """A google-cloud-compute proto-plus message as its REST JSON (camelCase, as the API returned it)."""
    data: dict[str, Any] = json.loads(type(message).to_json(message))
    return data


class GcpCollector:
    def __init__(
        self,
        project: str,
        *,
        ctx: CloudContext | None = None,
        services: list[str] | None = None,
        max_workers: int = 6,
        now: datetime | None = None,
    ) -> None:
        from escher.ops.context import CloudContext

        self.project = project
        self.ctx = ctx or CloudContext(gcp_project=project)
        self.services = set(services) if services else None
        self.max_workers = max_workers
        self.now = now or datetime.now(UTC)
        self.part_errors: list[CollectionError] = []
        self._policy: dict[str, Any] | None = None
        self._policy_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------------------
    def discovery(self, api: str, version: str) -> Any:
        """A discovery client from the document shipped with google-api-python-client (no fetch), over the
        context's ``httplib2`` seam when one is given. Built per task: httplib2 is not thread-safe."""
        discovery = require("googleapiclient.discovery", "gcp")
        if self.ctx.gcp_discovery_http is not None:
            return discovery.build(
                api, version, http=self.ctx.gcp_discovery_http, static_discovery=True, cache_discovery=False
            )
        from escher.clouds.gcp import credentials

        creds = self.ctx.gcp_credentials if self.ctx.gcp_credentials is not None else credentials()
        return discovery.build(api, version, credentials=creds, static_discovery=True, cache_discovery=False)

    def pages(self, collection: Any, method: str, field: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Items of a paged discovery list call (``nextPageToken``), with googleapiclient's retries."""
        request = getattr(collection, method)(**kwargs)
        while request is not None:
            page = request.execute(num_retries=3)
            yield from page.get(field) or []
            request = getattr(collection, f"{method}_next")(request, page)

    def project_policy(self) -> dict[str, Any]:
        """The project's IAM policy (bindings and audit configs), read once for the IAM and project tasks."""
        with self._policy_lock:
            if self._policy is None:
                crm = self.discovery("cloudresourcemanager", "v1")
                body = {"options": {"requestedPolicyVersion": 3}}
                self._policy = (
                    crm.projects().getIamPolicy(resource=self.project, body=body).execute(num_retries=3)
                )
            return self._policy

    def _part_failed(self, service: str, what: str, exc: BaseException) -> None:
        error = self._error(service, GLOBAL, exc)
        if error is None:
            raise exc
        self.part_errors.append(dataclasses.replace(error, message=f"{what} not read: {error.message}"))

    # -- tasks -------------------------------------------------------------------------------------------
    def collect_buckets(self) -> list[Record]:
        client = self.ctx.gcs()
        out = []
        for bucket in client.list_buckets(project=self.project):
            policy = bucket.get_iam_policy(requested_policy_version=3)
            iam = {
                "bindings": [{"role": b["role"], "members": sorted(b["members"])} for b in policy.bindings]
            }
            out.append(normalize_bucket(dict(bucket._properties), self.project, iam))
        return out

    def _aggregated(self, kind: str, field: str) -> list[dict[str, Any]]:
        client = self.ctx.gcp_compute(kind)
        items: list[dict[str, Any]] = []
        for _scope, scoped in client.aggregated_list(request={"project": self.project, "max_results": PAGE}):
            items.extend(_proto_json(m) for m in getattr(scoped, field))
        return items

    def collect_instances(self) -> list[Record]:
        records = [
            normalize_instance(raw, self.project) for raw in self._aggregated("instances", "instances")
        ]
        running = [r for r in records if r.attrs.get("status") == "RUNNING"]
        if running:
            try:
                self._add_cpu(running)
            except _sdk_errors() as exc:
                self._part_failed("monitoring", f"CPU of {len(running)} instances", exc)
        return records

    def _add_cpu(self, instances: list[Record]) -> None:
        """Daily mean CPU utilization from Cloud Monitoring over the last 30 whole days, one paged call for
        the project; a series is matched to its instance by zone and instance name."""
        start, end = window(self.now)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        monitoring = self.discovery("monitoring", "v3")
        series = self.pages(
            monitoring.projects().timeSeries(),
            "list",
            "timeSeries",
            name=f"projects/{self.project}",
            filter=f'metric.type = "{CPU_METRIC}" AND resource.type = "gce_instance"',
            interval_startTime=start.strftime(stamp),
            interval_endTime=end.strftime(stamp),
            aggregation_alignmentPeriod="86400s",
            aggregation_perSeriesAligner="ALIGN_MEAN",
            view="FULL",
        )
        points: dict[str, list[tuple[datetime, float]]] = {}
        for ts in series:
            zone = (ts.get("resource") or {}).get("labels", {}).get("zone")
            name = (ts.get("metric") or {}).get("labels", {}).get("instance_name")
            key = f"projects/{self.project}/zones/{zone}/instances/{name}"
            for point in ts.get("points") or []:
                value = (point.get("value") or {}).get("doubleValue")
                if value is None:
                    continue
                day = parse_time(str(point["interval"]["endTime"])) - timedelta(days=1)
                points.setdefault(key, []).append((day, float(value) * 100))  # a 0..1 ratio
        for rec in instances:
            rec.attrs.update(cpu_attrs(points.get(rec.id, []), end))

    def collect_disks(self) -> list[Record]:
        return [normalize_disk(raw, self.project) for raw in self._aggregated("disks", "disks")]

    def collect_snapshots(self) -> list[Record]:
        client = self.ctx.gcp_compute("snapshots")
        return [
            normalize_snapshot(_proto_json(snap), self.project)
            for snap in client.list(request={"project": self.project, "max_results": PAGE})
        ]

    def collect_subnetworks(self) -> list[Record]:
        client = self.ctx.gcp_compute("subnetworks")
        out: list[Record] = []
        for _scope, scoped in client.aggregated_list(request={"project": self.project, "max_results": PAGE}):
            out.extend(normalize_subnetwork(_proto_json(m), self.project) for m in scoped.subnetworks)
        return out

    def collect_networks(self) -> list[Record]:
        """VPC networks, and the Cloud DNS server policies bound to them (whether each network's DNS queries
        are logged). A refused policy list costs the networks' DNS logging verdict only, and is reported."""
        client = self.ctx.gcp_compute("networks")
        raws = [_proto_json(n) for n in client.list(request={"project": self.project, "max_results": PAGE})]
        logged: set[str] | None = None
        try:
            policies = self.discovery("dns", "v1").policies()
            logged = dns_logged_networks(
                list(self.pages(policies, "list", "policies", project=self.project, maxResults=PAGE))
            )
        except _sdk_errors() as exc:
            self._part_failed("networks", "the Cloud DNS policies (DNS logging)", exc)
        return [normalize_network(raw, self.project, logged) for raw in raws]

    def collect_backend_services(self) -> list[Record]:
        return [
            normalize_backend_service(raw, self.project)
            for raw in self._aggregated("backend_services", "backend_services")
        ]

    def collect_service_accounts(self) -> list[Record]:
        accounts = self.discovery("iam", "v1").projects().serviceAccounts()
        policy: dict[str, Any] | None = None
        try:
            policy = self.project_policy()
        except _sdk_errors() as exc:  # the accounts and keys are still read; their roles are not
            self._part_failed("iam", "the service accounts' project roles (IAM policy)", exc)
        out = []
        for raw in self.pages(accounts, "list", "accounts", name=f"projects/{self.project}", pageSize=100):
            keys = accounts.keys().list(name=raw["name"], keyTypes="USER_MANAGED").execute(num_retries=3)
            out.append(normalize_service_account(raw, self.project, keys.get("keys") or [], policy))
        return out

    def collect_run_services(self) -> list[Record]:
        """Cloud Run services, region by region: v2's ``services.list`` refuses the ``-`` wildcard location
        (run.v2.json: "cannot be the '-' wildcard"), so the project's Cloud Run locations come from v1's
        ``projects.locations.list`` first."""
        v1 = self.discovery("run", "v1").projects().locations()
        regions = [
            str(loc["locationId"])
            for loc in self.pages(v1, "list", "locations", name=f"projects/{self.project}")
        ]
        services = self.discovery("run", "v2").projects().locations().services()
        out: list[Record] = []
        for region in regions:
            parent = f"projects/{self.project}/locations/{region}"
            for raw in self.pages(services, "list", "services", parent=parent, pageSize=PAGE):
                out.append(normalize_run_service(raw, self.project))
        return out

    def collect_kms_keys(self) -> list[Record]:
        """Cloud KMS keys: the locations, each one's key rings, each ring's keys, and each key's IAM policy (a
        policy that cannot be read costs that key's public-access verdict only, and is reported)."""
        locations = self.discovery("cloudkms", "v1").projects().locations()
        rings, keys = locations.keyRings(), locations.keyRings().cryptoKeys()
        names = [
            str(loc["name"])
            for loc in self.pages(
                locations, "list", "locations", name=f"projects/{self.project}", pageSize=PAGE
            )
        ]
        out: list[Record] = []
        refused: list[str] = []  # keys whose policy could not be read: one report for all of them
        first: BaseException | None = None
        for location in names:
            for ring in self.pages(rings, "list", "keyRings", parent=location, pageSize=PAGE):
                for raw in self.pages(keys, "list", "cryptoKeys", parent=ring["name"], pageSize=PAGE):
                    policy: dict[str, Any] | None = None
                    try:
                        policy = keys.getIamPolicy(
                            resource=raw["name"], options_requestedPolicyVersion=3
                        ).execute(num_retries=3)
                    except _sdk_errors() as exc:
                        refused.append(_last(raw["name"]))
                        first = first or exc
                    out.append(normalize_kms_key(raw, self.project, policy))
        if first is not None:
            shown = ", ".join(refused[:5]) + (f" and {len(refused) - 5} more" if len(refused) > 5 else "")
            noun = "key" if len(refused) == 1 else "keys"
            self._part_failed("kms", f"the IAM policy of {len(refused)} {noun} ({shown})", first)
        return out

    def collect_dns_zones(self) -> list[Record]:
        zones = self.discovery("dns", "v1").managedZones()
        return [
            normalize_dns_zone(raw, self.project)
            for raw in self.pages(zones, "list", "managedZones", project=self.project, maxResults=PAGE)
        ]

    def collect_api_keys(self) -> list[Record]:
        """API keys: all are global (``locations/global``); deleted ones are not listed."""
        keys = self.discovery("apikeys", "v2").projects().locations().keys()
        parent = f"projects/{self.project}/locations/global"
        return [
            normalize_api_key(raw, self.project)
            for raw in self.pages(keys, "list", "keys", parent=parent, pageSize=300)
        ]

    def collect_datasets(self) -> list[Record]:
        """BigQuery datasets: listed (ids only), then each read for its access list and default key; then each
        dataset's tables, listed and read for their key (a dataset whose tables cannot be read still counts)."""
        bigquery = self.discovery("bigquery", "v2")
        datasets, tables = bigquery.datasets(), bigquery.tables()
        out: list[Record] = []
        for item in self.pages(datasets, "list", "datasets", projectId=self.project, all=True):
            ref = item["datasetReference"]
            raw = datasets.get(projectId=ref["projectId"], datasetId=ref["datasetId"]).execute(num_retries=3)
            out.append(normalize_dataset(raw, self.project))
            try:
                for t in self.pages(tables, "list", "tables", projectId=ref["projectId"],
                                    datasetId=ref["datasetId"], maxResults=PAGE):  # fmt: skip
                    t_ref = t["tableReference"]
                    table = tables.get(
                        projectId=t_ref["projectId"], datasetId=t_ref["datasetId"], tableId=t_ref["tableId"]
                    ).execute(num_retries=3)
                    out.append(normalize_table(table, self.project))
            except _sdk_errors() as exc:
                self._part_failed("bigquery", f"the tables of dataset {ref['datasetId']}", exc)
        return out

    def collect_dataproc_clusters(self) -> list[Record]:
        """Dataproc clusters, region by region: ``clusters.list`` takes one region and has no wildcard, so every
        region Escher knows (:data:`escher.clouds.gcp.REGIONS`) is asked, and Dataproc's own ``global``."""
        from escher.clouds.gcp import REGIONS

        clusters = self.discovery("dataproc", "v1").projects().regions().clusters()
        return [
            normalize_dataproc_cluster(raw, self.project, region)
            for region in (GLOBAL, *sorted(REGIONS))
            for raw in self.pages(clusters, "list", "clusters", projectId=self.project, region=region)
        ]

    def collect_project(self) -> list[Record]:
        """The project's audit config, log sinks and common instance metadata; a part that fails leaves its
        attribute off (no verdict) and is reported, the others are still read."""
        policy: dict[str, Any] | None = None
        sinks: list[dict[str, Any]] | None = None
        compute_project: dict[str, Any] | None = None
        try:
            policy = self.project_policy()
        except _sdk_errors() as exc:
            self._part_failed("project", "the project's audit config (IAM policy)", exc)
        try:
            sinks_api = self.discovery("logging", "v2").projects().sinks()
            sinks = list(self.pages(sinks_api, "list", "sinks", parent=f"projects/{self.project}"))
        except _sdk_errors() as exc:
            self._part_failed("project", "log sinks", exc)
        try:
            compute_project = _proto_json(self.ctx.gcp_compute("projects").get(project=self.project))
        except _sdk_errors() as exc:
            self._part_failed("project", "the project's instance metadata", exc)
        log_alerts: tuple[list[dict[str, Any]], list[dict[str, Any]]] | None = None
        try:
            metrics_api = self.discovery("logging", "v2").projects().metrics()
            metrics = list(self.pages(metrics_api, "list", "metrics", parent=f"projects/{self.project}"))
            policies_api = self.discovery("monitoring", "v3").projects().alertPolicies()
            policies = list(
                self.pages(policies_api, "list", "alertPolicies", name=f"projects/{self.project}")
            )
            log_alerts = (metrics, policies)
        except _sdk_errors() as exc:
            self._part_failed("project", "log-based metrics and alert policies", exc)
        contacts: list[dict[str, Any]] | None = None
        try:  # compute: the contacts that apply here, the organization's and folders' included
            contacts_api = self.discovery("essentialcontacts", "v1").projects().contacts()
            contacts = list(
                self.pages(contacts_api, "compute", "contacts", parent=f"projects/{self.project}",
                           notificationCategories=["ALL", *ESSENTIAL_CATEGORIES])
            )  # fmt: skip
        except _sdk_errors() as exc:
            self._part_failed("project", "essential contacts", exc)
        asset_service: dict[str, Any] | None = None
        try:
            usage = self.discovery("serviceusage", "v1").services()
            name = f"projects/{self.project}/services/cloudasset.googleapis.com"
            asset_service = usage.get(name=name).execute(num_retries=3)
        except _sdk_errors() as exc:
            self._part_failed("project", "whether Cloud Asset Inventory is enabled", exc)
        return [
            normalize_project(
                self.project, policy, sinks, compute_project, log_alerts, contacts, asset_service
            )
        ]

    def collect_firewalls(self) -> list[Record]:
        client = self.ctx.gcp_compute("firewalls")
        return [
            normalize_firewall(_proto_json(fw), self.project)
            for fw in client.list(request={"project": self.project, "max_results": PAGE})
        ]

    def collect_sql(self) -> list[Record]:
        instances = self.ctx.gcp_sql().instances()
        request = instances.list(project=self.project, maxResults=PAGE)
        out: list[Record] = []
        while request is not None:
            page = request.execute(num_retries=3)
            out.extend(normalize_sql_instance(raw, self.project) for raw in page.get("items") or [])
            request = instances.list_next(request, page)
        return out

    def tasks(self) -> list[Task]:
        table: dict[str, Callable[[], list[Record]]] = {
            "storage": self.collect_buckets,
            "instances": self.collect_instances,
            "disks": self.collect_disks,
            "snapshots": self.collect_snapshots,
            "subnetworks": self.collect_subnetworks,
            "networks": self.collect_networks,
            "backend_services": self.collect_backend_services,
            "firewalls": self.collect_firewalls,
            "sql": self.collect_sql,
            "iam": self.collect_service_accounts,
            "run": self.collect_run_services,
            "kms": self.collect_kms_keys,
            "dns": self.collect_dns_zones,
            "apikeys": self.collect_api_keys,
            "bigquery": self.collect_datasets,
            "dataproc": self.collect_dataproc_clusters,
            "project": self.collect_project,
        }
        return [
            Task("gcp", name, GLOBAL, fn, PRODUCES[name])
            for name, fn in table.items()
            if self.services is None or name in self.services
        ]

    def _to_error(self, task: Task, exc: BaseException) -> CollectionError | None:
        return self._error(task.service, task.region, exc)

    def _error(self, service: str, region: str, exc: BaseException) -> CollectionError | None:
        from escher.clouds.gcp import translate
        from escher.errors import EscherError

        core = require("google.api_core.exceptions", "gcp")
        api = require("googleapiclient.errors", "gcp")
        auth = require("google.auth.exceptions", "gcp")
        requests_exc = require("requests.exceptions", "gcp")
        hint = (error.hint or "") if (error := translate(exc)) is not None else ""
        if isinstance(
            exc, requests_exc.RequestException
        ):  # the endpoint is not there (google-auth's transport)
            hint = "check the network (and a proxy) and any endpoint override"
        if isinstance(exc, core.GoogleAPICallError):
            message = exc.message or str(exc)
            return CollectionError("gcp", service, region, message, str(exc.code or ""), hint)
        if isinstance(exc, api.HttpError):
            message = exc.reason or str(exc)
            return CollectionError("gcp", service, region, message, str(exc.status_code), hint)
        if isinstance(exc, core.GoogleAPIError | auth.GoogleAuthError | requests_exc.RequestException):
            return CollectionError("gcp", service, region, str(exc), type(exc).__name__, hint)
        if isinstance(exc, EscherError):
            return CollectionError("gcp", service, region, exc.message, type(exc).__name__, exc.hint or "")
        return None

    def collect(self, progress: Progress | None = None) -> Inventory:
        inventory = run_tasks(
            self.tasks(), to_error=self._to_error, max_workers=self.max_workers, progress=progress
        )
        inventory.errors.extend(self.part_errors)
        link_os_login(inventory.records)
        return inventory
