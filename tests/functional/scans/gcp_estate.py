"""A GCP estate with known ground truth: buckets in gcp-storage-emulator (IAM and public access prevention are
stored there), Compute Engine and Cloud SQL list responses in the documented REST shapes replayed at the
transports (paged with ``nextPageToken``). :func:`seed` returns the failing (check id, resource id) set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from escher.clouds.gcp import REGIONS
from escher.scans.collect.metrics import window
from tests.functional.scans.replay import Router

PROJECT = "acme-prod"
COMPUTE = "https://compute.googleapis.com/compute/v1"
DEFAULT_SA = "123456789012-compute@developer.gserviceaccount.com"


@dataclass
class GcpTruth:
    failing: set[tuple[str, str]] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)

    def fails(self, resource_id: str, *checks: str) -> None:
        self.resources.add(resource_id)
        self.failing |= {(c, resource_id) for c in checks}


def _zone(zone: str) -> str:
    return f"{COMPUTE}/projects/{PROJECT}/zones/{zone}"


def _instance(
    name: str, zone: str, *, hardened: bool, machine: str = "e2-medium", confidential: bool = False
) -> dict[str, Any]:
    nic: dict[str, Any] = {
        "kind": "compute#networkInterface",
        "name": "nic0",
        "network": f"{COMPUTE}/projects/{PROJECT}/global/networks/default",
        "networkIP": "10.128.0.7",
    }
    if not hardened:
        nic["accessConfigs"] = [{"kind": "compute#accessConfig", "name": "External NAT", "type": "ONE_TO_ONE_NAT", "natIP": "34.70.12.9", "networkTier": "PREMIUM"}]  # fmt: skip
    metadata = (
        [{"key": "enable-oslogin", "value": "TRUE"}, {"key": "block-project-ssh-keys", "value": "TRUE"}]
        if hardened
        else [
            {"key": "serial-port-enable", "value": "true"},
            {"key": "startup-script", "value": "#!/bin/sh\necho hi"},
        ]
    )
    sa = (
        {
            "email": f"web@{PROJECT}.iam.gserviceaccount.com",
            "scopes": ["https://www.googleapis.com/auth/logging.write"],
        }
        if hardened
        else {"email": DEFAULT_SA, "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}
    )
    forwarding: dict[str, Any] = {} if hardened else {"canIpForward": True}
    if confidential:  # AMD SEV (N2D), and its boot disk under a customer-supplied key
        forwarding["confidentialInstanceConfig"] = {"enableConfidentialCompute": True}
    return {
        "kind": "compute#instance",
        "id": str(4567890123456789000 + len(name)),
        **forwarding,
        "creationTimestamp": "2024-10-01T08:12:44.123-07:00",
        "name": name,
        "machineType": f"{_zone(zone)}/machineTypes/{machine}",
        "status": "RUNNING",
        "zone": _zone(zone),
        "networkInterfaces": [nic],
        "disks": [
            {
                "kind": "compute#attachedDisk",
                "type": "PERSISTENT",
                "mode": "READ_WRITE",
                "source": f"{_zone(zone)}/disks/{name}",
                "deviceName": name,
                "index": 0,
                "boot": True,
                "autoDelete": True,
                **(
                    {"diskEncryptionKey": {"sha256": "mUb1yZ1jQbZ5GvWcTEp8x3N2QhR0o8cN4dE7uL9fKkA="}}
                    if confidential
                    else {}
                ),
            }
        ],
        "metadata": {"kind": "compute#metadata", "fingerprint": "abc=", "items": metadata},
        "serviceAccounts": [sa],
        "shieldedInstanceConfig": {
            "enableSecureBoot": hardened,
            "enableVtpm": True,
            "enableIntegrityMonitoring": True,
        },
        "labels": {"env": "dev" if not hardened else "prod"},
        "selfLink": f"{_zone(zone)}/instances/{name}",
    }


def _disk(name: str, zone: str, users: list[str], kms: str | None) -> dict[str, Any]:
    disk: dict[str, Any] = {
        "kind": "compute#disk",
        "id": str(7000000000000000000 + len(name)),
        "creationTimestamp": "2024-10-01T08:12:40.000-07:00",
        "name": name,
        "sizeGb": "100",
        "zone": _zone(zone),
        "status": "READY",
        "type": f"{_zone(zone)}/diskTypes/pd-balanced",
        "selfLink": f"{_zone(zone)}/disks/{name}",
    }
    if users:
        disk["users"] = [f"{_zone(zone)}/instances/{u}" for u in users]
    if kms:
        disk["diskEncryptionKey"] = {"kmsKeyName": kms}
    return disk


def _firewall(name: str, ranges: list[str], allowed: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "kind": "compute#firewall",
        "id": str(8000000000000000000 + len(name)),
        "creationTimestamp": "2024-09-01T10:00:00.000-07:00",
        "name": name,
        "network": f"{COMPUTE}/projects/{PROJECT}/global/networks/default",
        "priority": 1000,
        "sourceRanges": ranges,
        "allowed": allowed,
        "direction": "INGRESS",
        "disabled": False,
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/global/firewalls/{name}",
        **extra,
    }


def _sql(
    name: str, *, hardened: bool, version: str = "POSTGRES_15", flags: dict[str, str] | None = None
) -> dict[str, Any]:
    ip: dict[str, Any] = (
        {
            "ipv4Enabled": False,
            "privateNetwork": f"projects/{PROJECT}/global/networks/default",
            "sslMode": "ENCRYPTED_ONLY",
            "authorizedNetworks": [],
        }
        if hardened
        else {
            "ipv4Enabled": True,
            "requireSsl": False,
            "sslMode": "ALLOW_UNENCRYPTED_AND_ENCRYPTED",
            "authorizedNetworks": [{"value": "0.0.0.0/0", "name": "anywhere", "kind": "sql#aclEntry"}],
        }
    )
    return {
        "kind": "sql#instance",
        "state": "RUNNABLE",
        "databaseVersion": version,
        "settings": {
            "kind": "sql#settings",
            "tier": "db-custom-2-7680",
            **({"databaseFlags": [{"name": k, "value": v} for k, v in flags.items()]} if flags else {}),
            "activationPolicy": "ALWAYS",
            "ipConfiguration": ip,
            "backupConfiguration": {
                "kind": "sql#backupConfiguration",
                "enabled": hardened,
                "startTime": "03:00",
            },
            "userLabels": {"env": "prod"},
        },
        "project": PROJECT,
        "region": "us-central1",
        "gceZone": "us-central1-a",
        "name": name,
        "connectionName": f"{PROJECT}:us-central1:{name}",
        "instanceType": "CLOUD_SQL_INSTANCE",
        "backendType": "SECOND_GEN",
        "selfLink": f"https://sqladmin.googleapis.com/v1/projects/{PROJECT}/instances/{name}",
    }


def seed(router: Router, storage_client: Any) -> GcpTruth:
    truth = GcpTruth()

    # -- buckets (gcp-storage-emulator) -------------------------------------------------------------------
    locked = storage_client.create_bucket("acme-locked")
    locked.iam_configuration.public_access_prevention = "enforced"
    locked.iam_configuration.uniform_bucket_level_access_enabled = True
    locked.versioning_enabled = True
    locked.enable_logging("acme-access-logs")
    locked.patch()
    truth.fails("acme-locked")
    public = storage_client.create_bucket("acme-public")
    public.iam_configuration.uniform_bucket_level_access_enabled = True
    public.versioning_enabled = True
    public.enable_logging("acme-access-logs")
    public.patch()
    policy = public.get_iam_policy(requested_policy_version=3)
    policy.bindings.append(
        {"role": "roles/storage.objectViewer", "members": {"allUsers", "user:ann@acme.test"}}
    )
    public.set_iam_policy(policy)
    truth.fails("acme-public", "gcp.storage.bucket_public", "gcp.storage.public_access_prevention")
    storage_client.create_bucket("acme-defaults")
    truth.fails(
        "acme-defaults",
        "gcp.storage.public_access_prevention",
        "gcp.storage.uniform_access",
        "gcp.storage.versioning",
        "gcp.storage.retention_logging",
    )

    # the all-logs sink's destination (below): retained 400 days, but the policy is not locked (CIS 2.4)
    archive = storage_client.create_bucket("acme-log-archive")
    archive.iam_configuration.public_access_prevention = "enforced"
    archive.iam_configuration.uniform_bucket_level_access_enabled = True
    archive.versioning_enabled = True
    archive.enable_logging("acme-access-logs")
    archive.retention_period = 400 * 86400
    archive.patch()
    truth.fails("acme-log-archive", "gcp.logging.sink_bucket_retention_locked")

    # -- instances: aggregated, two pages ------------------------------------------------------------------
    path = f"/compute/v1/projects/{PROJECT}/aggregated/instances"
    web = _instance("web-dev", "us-central1-a", hardened=False)
    app = _instance("app-prod", "europe-west1-b", hardened=True, confidential=True)
    batch = _instance("batch-prod", "europe-west1-b", hardened=True, machine="e2-standard-4")
    router.add("GET", path, {
        "kind": "compute#instanceAggregatedList", "id": f"projects/{PROJECT}/aggregated/instances",
        "items": {
            "zones/us-central1-a": {"instances": [web]},
            "zones/us-east1-b": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'zones/us-east1-b' on this page."}},
        },
        "nextPageToken": "inst-page-2", "selfLink": f"{COMPUTE}/projects/{PROJECT}/aggregated/instances",
    })  # fmt: skip
    router.add("GET", path, {
        "kind": "compute#instanceAggregatedList", "id": f"projects/{PROJECT}/aggregated/instances",
        "items": {"zones/europe-west1-b": {"instances": [app, batch]}},
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/aggregated/instances",
    }, query="pageToken=inst-page-2")  # fmt: skip
    truth.fails(
        f"projects/{PROJECT}/zones/us-central1-a/instances/web-dev",
        "gcp.compute.instance_public_ip",
        "gcp.compute.instance_default_sa",
        "gcp.compute.instance_shielded_vm",
        "gcp.compute.instance_serial_port",
        "gcp.compute.instance_os_login",
        "gcp.compute.instance_uses_default_sa",
        "gcp.compute.instance_project_ssh_keys",
        "gcp.compute.instance_ip_forwarding",
        "gcp.compute.instance_confidential_computing",
        "gcp.compute.instance_csek_disks",
    )
    truth.fails(f"projects/{PROJECT}/zones/europe-west1-b/instances/app-prod")
    # CPU (Cloud Monitoring, two pages): web-dev idle, app-prod busy, batch-prod light enough for a smaller type
    path = f"/v3/projects/{PROJECT}/timeSeries"
    router.add("GET", path, {"timeSeries": [_cpu_series(web, 0.012, 0.031), _cpu_series(app, 0.41, 0.63)],
                             "unit": "10^2.%", "nextPageToken": "ts-page-2"})  # fmt: skip
    router.add("GET", path, {"timeSeries": [_cpu_series(batch, 0.09, 0.21)], "unit": "10^2.%"}, query="pageToken=ts-page-2")  # fmt: skip
    truth.fails(f"projects/{PROJECT}/zones/us-central1-a/instances/web-dev", "gcp.compute.instance_idle")
    truth.fails(
        f"projects/{PROJECT}/zones/europe-west1-b/instances/batch-prod",
        "gcp.compute.instance_overprovisioned",
        "gcp.compute.instance_confidential_computing",  # E2 has no Confidential VM
        "gcp.compute.instance_csek_disks",
    )

    # -- disks ----------------------------------------------------------------------------------------------
    kms = f"projects/{PROJECT}/locations/us-central1/keyRings/disks/cryptoKeys/pd"
    router.add("GET", f"/compute/v1/projects/{PROJECT}/aggregated/disks", {
        "kind": "compute#diskAggregatedList",
        "items": {"zones/us-central1-a": {"disks": [
            _disk("web-dev", "us-central1-a", ["web-dev"], None),
            _disk("orphan", "us-central1-a", [], kms + "/cryptoKeyVersions/1"),
        ]}},
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}/zones/us-central1-a/disks/web-dev", "gcp.compute.disk_cmek")
    truth.fails(f"projects/{PROJECT}/zones/us-central1-a/disks/orphan", "gcp.compute.disk_unattached")

    # -- firewalls ------------------------------------------------------------------------------------------
    world = ["0.0.0.0/0"]
    rules = [
        _firewall("allow-ssh-world", world, [{"IPProtocol": "tcp", "ports": ["22"]}]),
        _firewall("allow-all-world", world, [{"IPProtocol": "all"}]),
        _firewall("rdp-disabled", world, [{"IPProtocol": "tcp", "ports": ["3389"]}], disabled=True),
        _firewall("internal", ["10.128.0.0/9"], [{"IPProtocol": "tcp", "ports": ["0-65535"]}]),
        _firewall("egress-db", [], [{"IPProtocol": "tcp", "ports": ["5432"]}], direction="EGRESS",
                  destinationRanges=world),
        _firewall("mysql-world", world, [{"IPProtocol": "tcp", "ports": ["3300-3310"]}, {"IPProtocol": "icmp"}]),
    ]  # fmt: skip
    router.add("GET", f"/compute/v1/projects/{PROJECT}/global/firewalls", {"kind": "compute#firewallList", "items": rules})  # fmt: skip
    fw = f"projects/{PROJECT}/global/firewalls/"
    truth.fails(fw + "allow-ssh-world", "gcp.compute.firewall_open_ssh")
    truth.fails(fw + "allow-all-world", "gcp.compute.firewall_open_ssh", "gcp.compute.firewall_open_rdp",
                "gcp.compute.firewall_open_database_ports")  # fmt: skip
    truth.fails(fw + "mysql-world", "gcp.compute.firewall_open_database_ports")
    for name in ("rdp-disabled", "internal", "egress-db"):
        truth.fails(fw + name)

    # -- Cloud SQL: two pages ----------------------------------------------------------------------------------
    path = f"/v1/projects/{PROJECT}/instances"
    # database flags (CIS 6.1-6.3): the open ones set every flag the benchmark tests the wrong way or leave it
    # at a default it rejects; the private ones set what it asks, or keep a default it accepts
    pg_loose = {"log_error_verbosity": "verbose", "log_min_messages": "debug1", "log_min_error_statement": "debug1",
                "log_min_duration_statement": "0", "log_statement": "none"}  # fmt: skip
    pg_strict = {"log_connections": "on", "log_disconnections": "on", "log_statement": "ddl",
                 "cloudsql.enable_pgaudit": "on", "log_min_messages": "error"}  # fmt: skip
    mssql_loose = {"external scripts enabled": "on", "cross db ownership chaining": "on", "user connections": "100",
                   "user options": "32", "contained database authentication": "on"}  # fmt: skip
    mssql_strict = {"remote access": "off", "3625": "on", "user connections": "0"}
    router.add("GET", path, {"items": [
        _sql("pg-open", hardened=False, flags=pg_loose),
        _sql("mysql-open", hardened=True, version="MYSQL_8_0", flags={"local_infile": "on"}),
        _sql("mssql-open", hardened=True, version="SQLSERVER_2022_STANDARD", flags=mssql_loose),
    ], "nextPageToken": "sql-page-2"})  # fmt: skip
    router.add("GET", path, {"items": [
        _sql("pg-private", hardened=True, flags=pg_strict),
        _sql("mysql-private", hardened=True, version="MYSQL_8_0", flags={"skip_show_database": "on", "local_infile": "off"}),
        _sql("mssql-private", hardened=True, version="SQLSERVER_2022_STANDARD", flags=mssql_strict),
    ]}, query="pageToken=sql-page-2")  # fmt: skip
    truth.fails(
        f"projects/{PROJECT}/instances/pg-open",
        "gcp.sql.instance_public_ip",
        "gcp.sql.instance_open_networks",
        "gcp.sql.instance_backups",
        "gcp.sql.instance_ssl",
        *(f"gcp.sql.pg_{f}" for f in ("log_error_verbosity", "log_connections", "log_disconnections",
                                       "log_statement", "log_min_messages", "log_min_error_statement",
                                       "log_min_duration_statement", "pgaudit")),
    )  # fmt: skip
    truth.fails(
        f"projects/{PROJECT}/instances/mysql-open",
        "gcp.sql.mysql_skip_show_database",
        "gcp.sql.mysql_local_infile",
    )
    truth.fails(
        f"projects/{PROJECT}/instances/mssql-open",
        *(f"gcp.sql.mssql_{f}" for f in ("external_scripts", "cross_db_ownership_chaining", "user_connections",
                                          "user_options", "remote_access", "trace_3625", "contained_db_auth")),
    )  # fmt: skip
    for name in ("pg-private", "mysql-private", "mssql-private"):
        truth.fails(f"projects/{PROJECT}/instances/{name}")

    # -- snapshots: one old whose disk is gone, one recent of a disk that exists -------------------------------
    now = datetime.now(UTC)
    router.add("GET", f"/compute/v1/projects/{PROJECT}/global/snapshots", {"kind": "compute#snapshotList", "items": [
        _snapshot("pre-migration", "us-central1-a", "legacy-db", now - timedelta(days=400)),
        _snapshot("web-dev-nightly", "us-central1-a", "web-dev", now - timedelta(days=1)),
    ]})  # fmt: skip
    truth.fails(f"projects/{PROJECT}/global/snapshots/pre-migration", "gcp.compute.snapshot_old")
    truth.fails(f"projects/{PROJECT}/global/snapshots/web-dev-nightly")

    # -- subnetworks: aggregated -------------------------------------------------------------------------------
    router.add("GET", f"/compute/v1/projects/{PROJECT}/aggregated/subnetworks", {
        "kind": "compute#subnetworkAggregatedList",
        "items": {
            "regions/us-central1": {"subnetworks": [
                _subnetwork("default", "us-central1", "10.128.0.0/20", flow_logs=False),
                _subnetwork("apps", "us-central1", "10.10.0.0/24", flow_logs=True),
            ]},
            "regions/asia-east1": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'regions/asia-east1' on this page."}},
        },
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/aggregated/subnetworks",
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}/regions/us-central1/subnetworks/default", "gcp.compute.vpc_flow_logs")
    truth.fails(f"projects/{PROJECT}/regions/us-central1/subnetworks/apps")

    # -- service accounts, their user-managed keys and the project's IAM policy (with its audit configs) --------
    web_sa, deployer = f"web@{PROJECT}.iam.gserviceaccount.com", f"deployer@{PROJECT}.iam.gserviceaccount.com"
    router.add("GET", f"/v1/projects/{PROJECT}/serviceAccounts", {"accounts": [_service_account(web_sa), _service_account(deployer)]})  # fmt: skip
    router.add(
        "GET", f"/v1/projects/{PROJECT}/serviceAccounts/{web_sa}/keys", {}, query="keyTypes=USER_MANAGED"
    )
    router.add("GET", f"/v1/projects/{PROJECT}/serviceAccounts/{deployer}/keys", {"keys": [_sa_key(deployer, "3f1c0a")]},
               query="keyTypes=USER_MANAGED")  # fmt: skip
    router.add("POST", f"/v1/projects/{PROJECT}:getIamPolicy", {
        "version": 3,
        "etag": "BwYh2tHGUzQ=",
        "bindings": [
            {"role": "roles/editor", "members": [f"serviceAccount:{deployer}", "user:ann@acme.test"]},
            {"role": "roles/logging.logWriter", "members": [f"serviceAccount:{web_sa}"]},
            {"role": "roles/owner", "members": ["user:ann@acme.test"]},
            {"role": "roles/iam.serviceAccountUser", "members": ["user:bob@acme.test", f"serviceAccount:{deployer}"]},
            {"role": "roles/cloudkms.admin", "members": ["group:security@acme.test"]},
        ],
        "auditConfigs": [
            {"service": "allServices", "auditLogConfigs": [{"logType": "ADMIN_READ"}, {"logType": "DATA_READ"}]},
            {"service": "storage.googleapis.com", "auditLogConfigs": [{"logType": "DATA_WRITE"}]},
        ],
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}/serviceAccounts/{web_sa}")
    truth.fails(f"projects/{PROJECT}/serviceAccounts/{deployer}", "gcp.iam.sa_user_keys", "gcp.iam.sa_admin",
                "gcp.iam.sa_key_rotation")  # fmt: skip

    # -- the project: log sinks (one exports everything) and common instance metadata ---------------------------
    router.add("GET", f"/v2/projects/{PROJECT}/sinks", {"sinks": [
        {"name": "_Required", "destination": f"logging.googleapis.com/projects/{PROJECT}/locations/global/buckets/_Required",
         "filter": 'LOG_ID("cloudaudit.googleapis.com/activity") OR LOG_ID("externalaudit.googleapis.com/activity")'},
        {"name": "_Default", "destination": f"logging.googleapis.com/projects/{PROJECT}/locations/global/buckets/_Default",
         "filter": 'NOT LOG_ID("cloudaudit.googleapis.com/activity") AND NOT LOG_ID("externalaudit.googleapis.com/activity")'},
        {"name": "all-to-archive", "destination": "storage.googleapis.com/acme-log-archive",
         "writerIdentity": "serviceAccount:service-123456789012@gcp-sa-logging.iam.gserviceaccount.com"},
    ]})  # fmt: skip
    router.add("GET", f"/compute/v1/projects/{PROJECT}", {
        "kind": "compute#project", "id": "123456789012", "name": PROJECT,
        "commonInstanceMetadata": {"kind": "compute#metadata", "fingerprint": "x3Yp0Q==", "items": [
            {"key": "enable-oslogin", "value": "FALSE"},
        ]},
        "defaultServiceAccount": DEFAULT_SA, "xpnProjectStatus": "UNSPECIFIED_XPN_PROJECT_STATUS",
        "selfLink": f"{COMPUTE}/projects/{PROJECT}",
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}", "gcp.logging.audit_logs", "gcp.iam.project_sa_impersonation")  # bob

    # -- log-based metrics (two pages) and the alert policies on them (CIS 2.5-2.12): ownership and custom role
    # changes are alerted; the firewall metric's policy is disabled, the SQL metric has none, the rest no metric
    owner = _log_metric("owner-changes", 'protoPayload.serviceName="cloudresourcemanager.googleapis.com" AND (ProjectOwnership OR projectOwnerInvitee) OR (protoPayload.serviceData.policyDelta.bindingDeltas.action="REMOVE" AND protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner") OR (protoPayload.serviceData.policyDelta.bindingDeltas.action="ADD" AND protoPayload.serviceData.policyDelta.bindingDeltas.role="roles/owner")')  # fmt: skip
    roles = _log_metric("custom-roles", "resource.type = 'iam_role' AND (protoPayload.methodName = 'google.iam.admin.v1.CreateRole' OR protoPayload.methodName = 'google.iam.admin.v1.DeleteRole' OR protoPayload.methodName = 'google.iam.admin.v1.UpdateRole')")  # fmt: skip
    firewall = _log_metric("firewall-changes", 'resource.type="gce_firewall_rule" AND (protoPayload.methodName:"compute.firewalls.patch" OR protoPayload.methodName:"compute.firewalls.insert" OR protoPayload.methodName:"compute.firewalls.delete")')  # fmt: skip
    sql = _log_metric("sql-changes", 'protoPayload.methodName="cloudsql.instances.update"')
    path = f"/v2/projects/{PROJECT}/metrics"
    router.add("GET", path, {"metrics": [owner, roles], "nextPageToken": "metrics-page-2"})
    router.add("GET", path, {"metrics": [firewall, sql]}, query="pageToken=metrics-page-2")
    router.add("GET", f"/v3/projects/{PROJECT}/alertPolicies", {"alertPolicies": [
        _alert_policy("IAM changes", ["owner-changes", "custom-roles"], enabled=True),
        _alert_policy("Firewall changes", ["firewall-changes"], enabled=False),
    ], "totalSize": 2})  # fmt: skip
    truth.fails(f"projects/{PROJECT}", "gcp.logging.alert_audit_config", "gcp.logging.alert_firewall_changes",
                "gcp.logging.alert_route_changes", "gcp.logging.alert_network_changes",
                "gcp.logging.alert_storage_iam", "gcp.logging.alert_sql_config")  # fmt: skip

    # -- Cloud Run: v1 lists the project's locations, v2 each location's services (us-central1: two pages,
    # europe-west1: none, answered as an empty object); no check reads them yet ---------------------------------
    router.add("GET", f"/v1/projects/{PROJECT}/locations", {"locations": [
        _run_location("us-central1"), _run_location("europe-west1"),
    ]})  # fmt: skip
    path = f"/v2/projects/{PROJECT}/locations/us-central1/services"
    thumbs = _run_service("thumbs", "us-central1", {"scalingMode": "AUTOMATIC", "maxInstanceCount": 20})
    paused = _run_service("reports", "us-central1", {"scalingMode": "MANUAL", "manualInstanceCount": 0})
    router.add("GET", path, {"services": [thumbs], "nextPageToken": "run-page-2"})
    router.add("GET", path, {"services": [paused]}, query="pageToken=run-page-2")
    router.add("GET", f"/v2/projects/{PROJECT}/locations/europe-west1/services", {})
    truth.fails(thumbs["name"])
    truth.fails(paused["name"])

    # -- essential contacts that apply to the project (the organization's included): security and legal only;
    # Cloud Asset Inventory never enabled (CIS 1.17, 2.14) ------------------------------------------------------
    router.add("GET", f"/v1/projects/{PROJECT}/contacts:compute", {"contacts": [
        _contact("secops@acme.test", ["SECURITY"], "organizations/4455/contacts/1"),
        _contact("counsel@acme.test", ["LEGAL", "BILLING"], f"projects/{PROJECT}/contacts/2"),
        _contact("old-ops@acme.test", ["ALL"], f"projects/{PROJECT}/contacts/3", valid=False),
    ]})  # fmt: skip
    router.add("GET", f"/v1/projects/{PROJECT}/services/cloudasset.googleapis.com", {
        "name": "projects/123456789012/services/cloudasset.googleapis.com",
        "parent": "projects/123456789012",
        "config": {"name": "cloudasset.googleapis.com", "title": "Cloud Asset API"},
        "state": "DISABLED",
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}", "gcp.project.essential_contacts", "gcp.project.asset_inventory")

    # -- Cloud KMS (CIS 1.11): the locations (pageSize tells this list from Cloud Run's, same path), a
    # ring in us-central1 (two pages of keys) and none in europe-west1; "legacy" never rotates,
    # "disks" rotates every 90 days, "tokens" yearly, "signer" is asymmetric (no automatic rotation) -----------
    router.add("GET", f"/v1/projects/{PROJECT}/locations", {"locations": [
        _kms_location("us-central1"), _kms_location("europe-west1"),
    ]}, query="pageSize=500")  # fmt: skip
    ring = f"projects/{PROJECT}/locations/us-central1/keyRings/app"
    router.add("GET", f"/v1/projects/{PROJECT}/locations/us-central1/keyRings", {"keyRings": [
        {"name": ring, "createTime": "2024-02-01T09:00:00.123456Z"},
    ], "totalSize": 1})  # fmt: skip
    router.add("GET", f"/v1/projects/{PROJECT}/locations/europe-west1/keyRings", {})
    keys = {
        "legacy": _kms_key(ring, "legacy", None),
        "disks": _kms_key(ring, "disks", "7776000s"),
        "tokens": _kms_key(ring, "tokens", "31536000s"),
        "signer": _kms_key(ring, "signer", None, purpose="ASYMMETRIC_SIGN"),
    }
    path = f"/v1/{ring}/cryptoKeys"
    router.add("GET", path, {"cryptoKeys": [keys["legacy"], keys["disks"]], "nextPageToken": "keys-page-2",
                             "totalSize": 4})  # fmt: skip
    router.add("GET", path, {"cryptoKeys": [keys["tokens"], keys["signer"]], "totalSize": 4}, query="pageToken=keys-page-2")  # fmt: skip
    # each key's IAM policy (CIS 1.10): "legacy" lets allUsers decrypt, "signer" shows its public key to
    # allAuthenticatedUsers, "disks" is granted to Compute's service agent only, "tokens" has no binding
    policies = {
        "legacy": [{"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "members": ["allUsers", "group:app@acme.test"]}],
        "signer": [{"role": "roles/cloudkms.publicKeyViewer", "members": ["allAuthenticatedUsers"]}],
        "disks": [{"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                   "members": ["serviceAccount:service-123456789012@compute-system.iam.gserviceaccount.com"]}],
        "tokens": [],
    }  # fmt: skip
    for name, bindings in policies.items():
        body: dict[str, Any] = {"version": 1, "etag": "BwYh2tHGUzQ="}
        if bindings:
            body["bindings"] = bindings
        router.add(
            "GET", f"/v1/{keys[name]['name']}:getIamPolicy", body, query="options.requestedPolicyVersion=3"
        )
    truth.fails(keys["legacy"]["name"], "gcp.kms.key_rotation", "gcp.kms.key_public")
    truth.fails(keys["disks"]["name"])
    truth.fails(keys["tokens"]["name"], "gcp.kms.key_rotation")
    truth.fails(keys["signer"]["name"], "gcp.kms.key_public")

    # -- Cloud DNS managed zones (CIS 3.3-3.5): "acme-test" unsigned, "legacy-acme" signed with RSASHA1 keys,
    # "acme-com" signed with ECDSA, "internal" private ----------------------------------------------------------
    router.add("GET", f"/dns/v1/projects/{PROJECT}/managedZones", {"kind": "dns#managedZonesListResponse", "managedZones": [
        _dns_zone("acme-test", "acme.test.", None),
        _dns_zone("legacy-acme", "legacy.acme.test.", "rsasha1"),
    ], "nextPageToken": "zones-page-2"})  # fmt: skip
    router.add("GET", f"/dns/v1/projects/{PROJECT}/managedZones", {"kind": "dns#managedZonesListResponse", "managedZones": [
        _dns_zone("acme-com", "acme.example.", "ecdsap256sha256"),
        _dns_zone("internal", "corp.internal.", None, private=True),
    ]}, query="pageToken=zones-page-2")  # fmt: skip
    zone = f"projects/{PROJECT}/managedZones/"
    truth.fails(zone + "acme-test", "gcp.dns.dnssec")
    truth.fails(zone + "legacy-acme", "gcp.dns.ksk_rsasha1", "gcp.dns.zsk_rsasha1")
    truth.fails(zone + "acme-com")
    truth.fails(zone + "internal")

    # -- API keys (CIS 1.13, 1.15, 1.16): every key fails 1.13; "maps-web" is restricted to one API and new,
    # "legacy-all" is unrestricted and two years old, "cloud-wide" is restricted to cloudapis.googleapis.com ----
    now_key = datetime.now(UTC)
    api_keys = [
        _api_key("maps-web", now_key - timedelta(days=10), ["maps-backend.googleapis.com"]),
        _api_key("legacy-all", now_key - timedelta(days=730), None),
        _api_key("cloud-wide", now_key - timedelta(days=30), ["cloudapis.googleapis.com"]),
    ]
    router.add("GET", f"/v2/projects/{PROJECT}/locations/global/keys", {"keys": api_keys})
    truth.fails(api_keys[0]["name"], "gcp.apikeys.key_exists")
    truth.fails(api_keys[1]["name"], "gcp.apikeys.key_exists", "gcp.apikeys.key_unrestricted_apis",
                "gcp.apikeys.key_rotation")  # fmt: skip
    truth.fails(api_keys[2]["name"], "gcp.apikeys.key_exists", "gcp.apikeys.key_unrestricted_apis")

    # -- BigQuery (CIS 7.1-7.3): datasets listed (ids only), then each read; "marketing" is shared with
    # allAuthenticatedUsers and has no default key, "finance" is private under a CMEK. Each dataset's tables
    # are listed and read: marketing's "clicks" has no key and "daily" is a view; finance's "ledger" has one --
    bq_key = f"projects/{PROJECT}/locations/us/keyRings/bq/cryptoKeys/finance"
    marketing = _dataset("marketing", [{"role": "READER", "specialGroup": "allAuthenticatedUsers"}], None)
    finance = _dataset("finance", [{"role": "READER", "groupByEmail": "analysts@acme.test"}], bq_key)
    path = f"/bigquery/v2/projects/{PROJECT}/datasets"
    router.add("GET", path, {"kind": "bigquery#datasetList", "etag": "x1", "datasets": [
        {"kind": "bigquery#dataset", "id": f"{PROJECT}:{d['datasetReference']['datasetId']}",
         "datasetReference": d["datasetReference"], "location": "US"} for d in (marketing, finance)
    ]})  # fmt: skip
    tables = {
        "marketing": [
            _table("marketing", "clicks", "TABLE", None),
            _table("marketing", "daily", "VIEW", None),
        ],
        "finance": [_table("finance", "ledger", "TABLE", bq_key)],
    }
    for dataset in (marketing, finance):
        name = dataset["datasetReference"]["datasetId"]
        router.add("GET", f"{path}/{name}", dataset)
        router.add("GET", f"{path}/{name}/tables", {"kind": "bigquery#tableList", "etag": f"{name}-t", "tables": [
            {"kind": "bigquery#table", "id": t["id"], "tableReference": t["tableReference"], "type": t["type"]}
            for t in tables[name]
        ], "totalItems": len(tables[name])})  # fmt: skip
        for table in tables[name]:
            router.add("GET", f"{path}/{name}/tables/{table['tableReference']['tableId']}", table)
    truth.fails(f"projects/{PROJECT}/datasets/marketing", "gcp.bigquery.dataset_public",
                "gcp.bigquery.dataset_default_cmek")  # fmt: skip
    truth.fails(f"projects/{PROJECT}/datasets/finance")
    truth.fails(f"projects/{PROJECT}/datasets/marketing/tables/clicks", "gcp.bigquery.table_cmek")
    truth.fails(f"projects/{PROJECT}/datasets/marketing/tables/daily")
    truth.fails(f"projects/{PROJECT}/datasets/finance/tables/ledger")

    # -- Dataproc (CIS 8.1): every known region and "global" is asked; us-central1 holds "etl" on Google's
    # keys and "secure-etl" under a CMEK, europe-west1 answers in two pages, the others hold none --------------
    for region in ("global", *sorted(REGIONS - {"us-central1", "europe-west1"})):
        router.add("GET", f"/v1/projects/{PROJECT}/regions/{region}/clusters", {})
    etl, secure = _dataproc("etl", "us-central1", None), _dataproc("secure-etl", "us-central1", kms)
    router.add("GET", f"/v1/projects/{PROJECT}/regions/us-central1/clusters", {"clusters": [etl, secure]})
    path = f"/v1/projects/{PROJECT}/regions/europe-west1/clusters"
    spark = _dataproc("spark", "europe-west1", None)
    router.add("GET", path, {"clusters": [], "nextPageToken": "dp-page-2"})
    router.add("GET", path, {"clusters": [spark]}, query="pageToken=dp-page-2")
    truth.fails(f"projects/{PROJECT}/regions/us-central1/clusters/etl", "gcp.dataproc.cluster_cmek")
    truth.fails(f"projects/{PROJECT}/regions/us-central1/clusters/secure-etl")
    truth.fails(f"projects/{PROJECT}/regions/europe-west1/clusters/spark", "gcp.dataproc.cluster_cmek")

    # -- VPC networks (CIS 3.1, 3.2, two pages) and the Cloud DNS policies bound to them (2.13): "default" (auto
    # mode) and "prod-vpc" (custom) under a policy that logs, "legacy-net" (legacy) under one that does not -----
    path = f"/compute/v1/projects/{PROJECT}/global/networks"
    router.add("GET", path, {"kind": "compute#networkList", "items": [
        _network("default", auto=True), _network("legacy-net", legacy=True),
    ], "nextPageToken": "net-page-2", "selfLink": f"{COMPUTE}{path.removeprefix('/compute/v1')}"})  # fmt: skip
    router.add("GET", path, {"kind": "compute#networkList", "items": [_network("prod-vpc")],
                             "selfLink": f"{COMPUTE}{path.removeprefix('/compute/v1')}"}, query="pageToken=net-page-2")  # fmt: skip
    router.add("GET", f"/dns/v1/projects/{PROJECT}/policies", {"kind": "dns#policiesListResponse", "policies": [
        _dns_policy("dns-logging", ["default", "prod-vpc"], logging=True),
        _dns_policy("legacy-forwarding", ["legacy-net"], logging=False),
    ]})  # fmt: skip
    net = f"projects/{PROJECT}/global/networks/"
    truth.fails(net + "default", "gcp.compute.default_network")
    truth.fails(net + "legacy-net", "gcp.compute.legacy_network", "gcp.dns.network_logging")
    truth.fails(net + "prod-vpc")

    # -- load balancer backend services (CIS 2.17), aggregated: a global HTTPS one that logs, a global HTTP one
    # that does not, a regional internal TCP one (not an HTTP(S) load balancer) ---------------------------------
    router.add("GET", f"/compute/v1/projects/{PROJECT}/aggregated/backendServices", {
        "kind": "compute#backendServiceAggregatedList", "id": f"projects/{PROJECT}/aggregated/backendServices",
        "items": {
            "global": {"backendServices": [
                _backend_service("web-https", None, "HTTPS", "EXTERNAL_MANAGED", logging=True),
                _backend_service("api-http", None, "HTTP", "EXTERNAL", logging=False),
            ]},
            "regions/us-central1": {"backendServices": [
                _backend_service("db-tcp", "us-central1", "TCP", "INTERNAL", logging=False),
            ]},
            "regions/asia-east1": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'regions/asia-east1' on this page."}},
        },
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/aggregated/backendServices",
    })  # fmt: skip
    truth.fails(f"projects/{PROJECT}/global/backendServices/web-https")
    truth.fails(f"projects/{PROJECT}/global/backendServices/api-http", "gcp.compute.backend_service_logging")
    truth.fails(f"projects/{PROJECT}/regions/us-central1/backendServices/db-tcp")
    return truth


def _network(name: str, *, auto: bool = False, legacy: bool = False) -> dict[str, Any]:
    """A network as ``networks.list`` returns it (compute v1 ``Network``): a legacy one has ``IPv4Range`` and
    ``gatewayIPv4`` and no subnetworks; an auto-mode one a subnetwork per region."""
    body: dict[str, Any] = {
        "kind": "compute#network",
        "id": str(3000000000000000000 + len(name)),
        "creationTimestamp": "2019-04-01T10:00:00.000-07:00",
        "name": name,
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/global/networks/{name}",
        "selfLinkWithId": f"{COMPUTE}/projects/{PROJECT}/global/networks/{3000000000000000000 + len(name)}",
    }
    if legacy:
        body.update({"IPv4Range": "10.240.0.0/16", "gatewayIPv4": "10.240.0.1"})
    else:
        regions = ("us-central1", "europe-west1") if auto else ("us-central1",)
        body.update({
            "autoCreateSubnetworks": auto,
            "subnetworks": [f"{COMPUTE}/projects/{PROJECT}/regions/{r}/subnetworks/{name}" for r in regions],
            "routingConfig": {"routingMode": "REGIONAL"},
            "mtu": 1460,
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
        })  # fmt: skip
    return body


def _dns_policy(name: str, networks: list[str], *, logging: bool) -> dict[str, Any]:
    """A DNS server policy as ``policies.list`` returns it (dns.v1.json ``Policy``)."""
    return {
        "kind": "dns#policy",
        "id": str(4000000000000000000 + len(name)),
        "name": name,
        "description": "",
        "enableInboundForwarding": False,
        "enableLogging": logging,
        "networks": [
            {"kind": "dns#policyNetwork", "networkUrl": f"{COMPUTE}/projects/{PROJECT}/global/networks/{n}"}
            for n in networks
        ],
    }


def _backend_service(
    name: str, region: str | None, protocol: str, scheme: str, *, logging: bool
) -> dict[str, Any]:
    """A backend service as ``backendServices.aggregatedList`` returns it (compute v1 ``BackendService``)."""
    scope = f"regions/{region}" if region else "global"
    body: dict[str, Any] = {
        "kind": "compute#backendService",
        "id": str(2000000000000000000 + len(name)),
        "creationTimestamp": "2025-01-10T10:00:00.000-08:00",
        "name": name,
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/{scope}/backendServices/{name}",
        "backends": [{"group": f"{_zone('us-central1-a')}/instanceGroups/{name}-ig", "balancingMode": "UTILIZATION" if protocol != "TCP" else "CONNECTION", "capacityScaler": 1}],
        "healthChecks": [f"{COMPUTE}/projects/{PROJECT}/{scope}/healthChecks/{name}-hc"],
        "timeoutSec": 30,
        "port": 80,
        "protocol": protocol,
        "fingerprint": "Yh5oKM1a0nU=",
        "sessionAffinity": "NONE",
        "loadBalancingScheme": scheme,
        "connectionDraining": {"drainingTimeoutSec": 300},
    }  # fmt: skip
    if region:
        body["region"] = f"{COMPUTE}/projects/{PROJECT}/regions/{region}"
    if protocol != "TCP":  # HTTP(S) load balancers carry a log config; enable defaults to false
        body["logConfig"] = {"enable": logging, **({"sampleRate": 1.0} if logging else {})}
    return body


def _dataproc(name: str, region: str, kms: str | None) -> dict[str, Any]:
    """A cluster as ``clusters.list`` returns it (dataproc.v1.json ``Cluster``), running."""
    config: dict[str, Any] = {
        "configBucket": f"dataproc-staging-{region}-123456789012-abcd",
        "tempBucket": f"dataproc-temp-{region}-123456789012-abcd",
        "gceClusterConfig": {
            "zoneUri": f"{_zone(region + '-b')}",
            "subnetworkUri": f"{COMPUTE}/projects/{PROJECT}/regions/{region}/subnetworks/default",
            "internalIpOnly": True,
            "serviceAccountScopes": ["https://www.googleapis.com/auth/cloud-platform"],
        },
        "masterConfig": {
            "numInstances": 1,
            "machineTypeUri": f"{_zone(region + '-b')}/machineTypes/n2-standard-4",
        },
        "workerConfig": {
            "numInstances": 2,
            "machineTypeUri": f"{_zone(region + '-b')}/machineTypes/n2-standard-4",
        },
        "softwareConfig": {"imageVersion": "2.2.40-debian12"},
    }
    if kms:
        config["encryptionConfig"] = {"gcePdKmsKeyName": kms}
    return {
        "projectId": PROJECT,
        "clusterName": name,
        "config": config,
        "labels": {"goog-dataproc-cluster-name": name, "goog-dataproc-location": region},
        "status": {"state": "RUNNING", "stateStartTime": "2026-12-01T08:00:00.000Z"},
        "clusterUuid": f"0a1b2c3d-{name}",
    }


def _contact(email: str, categories: list[str], name: str, *, valid: bool = True) -> dict[str, Any]:
    """An essential contact as ``contacts.compute`` returns it (GoogleCloudEssentialcontactsV1Contact)."""
    return {
        "name": name,
        "email": email,
        "notificationCategorySubscriptions": categories,
        "languageTag": "en-US",
        "validationState": "VALID" if valid else "INVALID",
        "validateTime": "2025-06-01T10:00:00Z",
    }


def _kms_location(region: str) -> dict[str, Any]:
    """A Cloud KMS location (cloudkms.v1.json ``Location``)."""
    return {
        "name": f"projects/{PROJECT}/locations/{region}",
        "locationId": region,
        "displayName": region,
        "labels": {"cloud.googleapis.com/region": region},
        "metadata": {"hsmAvailable": True, "ekmAvailable": False},
    }


def _kms_key(
    ring: str, name: str, rotation: str | None, *, purpose: str = "ENCRYPT_DECRYPT"
) -> dict[str, Any]:
    """A CryptoKey as ``cryptoKeys.list`` returns it, with its primary version (symmetric keys only)."""
    full = f"{ring}/cryptoKeys/{name}"
    algorithm = "GOOGLE_SYMMETRIC_ENCRYPTION" if purpose == "ENCRYPT_DECRYPT" else "EC_SIGN_P256_SHA256"
    key: dict[str, Any] = {
        "name": full,
        "purpose": purpose,
        "createTime": "2024-02-01T09:05:00.123456Z",
        "versionTemplate": {"protectionLevel": "SOFTWARE", "algorithm": algorithm},
        "destroyScheduledDuration": "2592000s",
        "labels": {"team": "platform"},
    }
    if purpose == "ENCRYPT_DECRYPT":
        key["primary"] = {
            "name": f"{full}/cryptoKeyVersions/1",
            "state": "ENABLED",
            "createTime": "2024-02-01T09:05:00.123456Z",
            "protectionLevel": "SOFTWARE",
            "algorithm": algorithm,
            "generateTime": "2024-02-01T09:05:00.123456Z",
        }
    if rotation:
        key["rotationPeriod"] = rotation
        key["nextRotationTime"] = "2027-01-01T00:00:00Z"
    return key


def _dns_zone(name: str, dns_name: str, algorithm: str | None, *, private: bool = False) -> dict[str, Any]:
    """A managed zone (dns.v1.json ``ManagedZone``): signed with ``algorithm`` for both keys, or unsigned."""
    zone: dict[str, Any] = {
        "kind": "dns#managedZone",
        "name": name,
        "dnsName": dns_name,
        "description": "",
        "id": str(5000000000000000000 + len(name)),
        "nameServers": [f"ns-cloud-a{i}.googledomains.com." for i in range(1, 5)],
        "creationTime": "2024-05-01T10:00:00.000Z",
        "visibility": "private" if private else "public",
        "cloudLoggingConfig": {"kind": "dns#managedZoneCloudLoggingConfig"},
    }
    if private:
        zone["privateVisibilityConfig"] = {"kind": "dns#managedZonePrivateVisibilityConfig", "networks": [
            {"kind": "dns#managedZonePrivateVisibilityConfigNetwork",
             "networkUrl": f"{COMPUTE}/projects/{PROJECT}/global/networks/default"},
        ]}  # fmt: skip
    elif algorithm:
        zone["dnssecConfig"] = {"kind": "dns#managedZoneDnsSecConfig", "state": "on", "nonExistence": "nsec3",
                                "defaultKeySpecs": [
            {"kind": "dns#dnsKeySpec", "keyType": "keySigning", "algorithm": algorithm, "keyLength": 2048},
            {"kind": "dns#dnsKeySpec", "keyType": "zoneSigning", "algorithm": algorithm, "keyLength": 1024},
        ]}  # fmt: skip
    return zone


def _api_key(name: str, created: datetime, services: list[str] | None) -> dict[str, Any]:
    """An API key as ``keys.list`` returns it (apikeys.v2.json ``V2Key``: the key string is not listed)."""
    stamp = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key: dict[str, Any] = {
        "name": f"projects/123456789012/locations/global/keys/{name}-0c1d",
        "uid": f"{name}-0c1d",
        "displayName": name,
        "createTime": stamp,
        "updateTime": stamp,
        "etag": f'W/"{name}-etag"',
    }
    if services:
        key["restrictions"] = {"apiTargets": [{"service": s} for s in services]}
    return key


def _table(dataset: str, name: str, kind: str, kms: str | None) -> dict[str, Any]:
    """A table as ``tables.get`` returns it (bigquery.v2.json ``Table``)."""
    table: dict[str, Any] = {
        "kind": "bigquery#table",
        "etag": f"{name}-etag",
        "id": f"{PROJECT}:{dataset}.{name}",
        "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{PROJECT}/datasets/{dataset}/tables/{name}",
        "tableReference": {"projectId": PROJECT, "datasetId": dataset, "tableId": name},
        "creationTime": "1717000000000",
        "lastModifiedTime": "1717000000000",
        "location": "US",
        "type": kind,
    }
    if kind == "VIEW":
        table["view"] = {"query": f"SELECT * FROM `{PROJECT}.{dataset}.clicks`", "useLegacySql": False}
    else:
        table["numBytes"] = "1048576"
        table["numRows"] = "1000"
    if kms:
        table["encryptionConfiguration"] = {"kmsKeyName": kms}
    return table


def _dataset(name: str, access: list[dict[str, str]], kms: str | None) -> dict[str, Any]:
    """A dataset as ``datasets.get`` returns it (the owners' entries first, as BigQuery adds them)."""
    owners = [{"role": "OWNER", "specialGroup": "projectOwners"}, {"role": "WRITER", "specialGroup": "projectWriters"},
              {"role": "READER", "specialGroup": "projectReaders"}]  # fmt: skip
    body: dict[str, Any] = {
        "kind": "bigquery#dataset",
        "etag": f"{name}-etag",
        "id": f"{PROJECT}:{name}",
        "selfLink": f"https://bigquery.googleapis.com/bigquery/v2/projects/{PROJECT}/datasets/{name}",
        "datasetReference": {"datasetId": name, "projectId": PROJECT},
        "access": owners + access,
        "creationTime": "1717000000000",
        "lastModifiedTime": "1717000000000",
        "location": "US",
        "type": "DEFAULT",
    }
    if kms:
        body["defaultEncryptionConfiguration"] = {"kmsKeyName": kms}
    return body


def _log_metric(name: str, filter_: str) -> dict[str, Any]:
    return {
        "name": name,
        "filter": filter_,
        "metricDescriptor": {
            "name": f"projects/{PROJECT}/metricDescriptors/logging.googleapis.com/user/{name}",
            "metricKind": "DELTA",
            "valueType": "INT64",
            "unit": "1",
            "type": f"logging.googleapis.com/user/{name}",
        },
        "createTime": "2025-03-02T10:11:12.345678Z",
        "updateTime": "2025-03-02T10:11:12.345678Z",
    }


def _alert_policy(display: str, metrics: list[str], *, enabled: bool) -> dict[str, Any]:
    """One threshold condition per metric (count > 0 over a minute), as the console creates them."""
    conditions = [
        {
            "name": f"projects/{PROJECT}/alertPolicies/{display.lower().replace(' ', '-')}/conditions/{i}",
            "displayName": f"logging/user/{m}",
            "conditionThreshold": {
                "filter": f'resource.type = "global" AND metric.type = "logging.googleapis.com/user/{m}"',
                "comparison": "COMPARISON_GT",
                "thresholdValue": 0,
                "duration": "0s",
                "aggregations": [{"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_COUNT"}],
                "trigger": {"count": 1},
            },
        }
        for i, m in enumerate(metrics)
    ]
    return {
        "name": f"projects/{PROJECT}/alertPolicies/{display.lower().replace(' ', '-')}",
        "displayName": display,
        "combiner": "OR",
        "enabled": enabled,
        "conditions": conditions,
        "notificationChannels": [f"projects/{PROJECT}/notificationChannels/8841"],
    }


def _run_location(region: str) -> dict[str, Any]:
    """A location as Cloud Run v1's ``projects.locations.list`` returns it."""
    return {
        "name": f"projects/{PROJECT}/locations/{region}",
        "locationId": region,
        "displayName": region,
        "labels": {"cloud.googleapis.com/region": region},
    }


def _run_service(name: str, region: str, scaling: dict[str, Any]) -> dict[str, Any]:
    """A Cloud Run v2 service (run.v2.json ``GoogleCloudRunV2Service``), ready, serving its latest revision."""
    full = f"projects/{PROJECT}/locations/{region}/services/{name}"
    ready = {"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": "2026-11-30T08:00:00Z"}
    return {
        "name": full,
        "uid": f"0f0e0d0c-{name}",
        "generation": "3",
        "labels": {"env": "dev"},
        "createTime": "2026-10-01T08:00:00Z",
        "updateTime": "2026-11-30T08:00:00Z",
        "creator": f"deployer@{PROJECT}.iam.gserviceaccount.com",
        "ingress": "INGRESS_TRAFFIC_ALL",
        "launchStage": "GA",
        "template": {"containers": [{"image": f"us-docker.pkg.dev/{PROJECT}/apps/{name}:v3"}]},
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}],
        "scaling": scaling,
        "observedGeneration": "3",
        "terminalCondition": ready,
        "conditions": [
            {"type": "RoutesReady", "state": "CONDITION_SUCCEEDED"},
            {"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED"},
        ],
        "latestReadyRevision": f"{full}/revisions/{name}-00003-abc",
        "latestCreatedRevision": f"{full}/revisions/{name}-00003-abc",
        "uri": f"https://{name}-5xq3fz2a4q-uc.a.run.app",
        "reconciling": False,
        "etag": f'"{name}-etag"',
    }


def _cpu_series(instance: dict[str, Any], low: float, high: float) -> dict[str, Any]:
    """projects.timeSeries.list, ALIGN_MEAN over 86400s on the collector's window: 30 daily points, newest
    first, the last week alternating between ``low`` and ``high`` (a 0..1 ratio), the 23 days before at their
    mean. Aligned GAUGE points carry startTime == endTime."""
    _start, end = window(datetime.now(UTC))
    points = []
    for k in range(30):  # k days before the end
        stamp = (end - timedelta(days=k)).strftime("%Y-%m-%dT%H:%M:%SZ")
        value = (high if k % 2 else low) if k < 7 else (low + high) / 2
        points.append({"interval": {"startTime": stamp, "endTime": stamp}, "value": {"doubleValue": value}})
    zone = instance["zone"].rsplit("/", 1)[-1]
    return {
        "metric": {"labels": {"instance_name": instance["name"]}, "type": "compute.googleapis.com/instance/cpu/utilization"},
        "resource": {"type": "gce_instance", "labels": {"project_id": PROJECT, "instance_id": instance["id"], "zone": zone}},
        "metricKind": "GAUGE",
        "valueType": "DOUBLE",
        "points": points,
    }  # fmt: skip


def _snapshot(name: str, zone: str, disk: str, created: datetime) -> dict[str, Any]:
    return {
        "kind": "compute#snapshot",
        "id": str(9000000000000000000 + len(name)),
        "creationTimestamp": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000-00:00"),
        "name": name,
        "status": "READY",
        "sourceDisk": f"{_zone(zone)}/disks/{disk}",
        "sourceDiskId": str(7000000000000000000 + len(disk)),
        "diskSizeGb": "100",
        "storageBytes": "2147483648",
        "storageBytesStatus": "UP_TO_DATE",
        "storageLocations": ["us"],
        "snapshotType": "STANDARD",
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/global/snapshots/{name}",
    }


def _subnetwork(name: str, region: str, cidr: str, *, flow_logs: bool) -> dict[str, Any]:
    sub: dict[str, Any] = {
        "kind": "compute#subnetwork",
        "id": str(6000000000000000000 + len(name)),
        "creationTimestamp": "2024-09-01T10:00:00.000-07:00",
        "name": name,
        "network": f"{COMPUTE}/projects/{PROJECT}/global/networks/default",
        "ipCidrRange": cidr,
        "gatewayAddress": cidr.rsplit(".", 1)[0] + ".1",
        "region": f"{COMPUTE}/projects/{PROJECT}/regions/{region}",
        "privateIpGoogleAccess": flow_logs,
        "purpose": "PRIVATE",
        "stackType": "IPV4_ONLY",
        "fingerprint": "ExmVq-Ggw3U=",
        "selfLink": f"{COMPUTE}/projects/{PROJECT}/regions/{region}/subnetworks/{name}",
    }
    if flow_logs:
        sub["logConfig"] = {"enable": True, "aggregationInterval": "INTERVAL_5_SEC", "flowSampling": 0.5, "metadata": "INCLUDE_ALL_METADATA"}  # fmt: skip
    return sub


def _service_account(email: str) -> dict[str, Any]:
    return {
        "name": f"projects/{PROJECT}/serviceAccounts/{email}",
        "projectId": PROJECT,
        "uniqueId": str(100000000000000000000 + len(email)),
        "email": email,
        "displayName": email.split("@")[0],
        "etag": "MDEwMjE5MjA=",
        "oauth2ClientId": str(100000000000000000000 + len(email)),
    }


def _sa_key(email: str, key_id: str) -> dict[str, Any]:
    return {
        "name": f"projects/{PROJECT}/serviceAccounts/{email}/keys/{key_id}",
        "validAfterTime": "2025-03-04T10:00:00Z",
        "validBeforeTime": "9999-12-31T23:59:59Z",
        "keyAlgorithm": "KEY_ALG_RSA_2048",
        "keyOrigin": "GOOGLE_PROVIDED",
        "keyType": "USER_MANAGED",
    }
