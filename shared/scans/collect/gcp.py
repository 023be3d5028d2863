"""GCP inventory: Cloud Storage buckets (with IAM), Compute Engine instances, disks and firewalls, Cloud SQL.

Clients come from :class:`escher.ops.context.CloudContext` like the operations': google-cloud-storage honours
``STORAGE_EMULATOR_HOST``; Compute runs over its REST transport (a ``requests`` adapter handed in there carries
every call); Cloud SQL Admin is the discovery client with an injectable ``http``. Instances and disks are read
with ``aggregatedList`` (every zone in one paged call, 500 per page).

Normalizers take the REST JSON shapes (``Message.to_json`` for the Compute protos), so they are pure and tested
without any SDK. Not read yet: instance CPU (Cloud Monitoring), snapshots, subnetworks, service accounts and
the project's audit/sink settings; their checks report nothing rather than a guess.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from escher.lazy import require
from escher.scans.collect.base import Progress, Task, run_tasks
from escher.scans.model import CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

__all__ = [
    "GcpCollector",
    "normalize_bucket",
    "normalize_disk",
    "normalize_firewall",
    "normalize_instance",
    "normalize_sql_instance",
]

GLOBAL = "global"
PAGE = 500  # Compute's maxResults ceiling
FULL_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_TRUE = ("true", "1", "yes", "on")


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
        tags={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
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
        tags={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
        attrs=attrs,
    )


def normalize_instance(raw: dict[str, Any], project: str) -> Record:
    zone = _last(raw.get("zone"))
    meta = _metadata(raw)
    nat_ips = [
        ac.get("natIP")
        for ni in raw.get("networkInterfaces") or []
        for ac in ni.get("accessConfigs") or []
        if ac.get("natIP")
    ]
    default_full = any(
        str(sa.get("email", "")).endswith("-compute@developer.gserviceaccount.com")
        and FULL_SCOPE in (sa.get("scopes") or [])
        for sa in raw.get("serviceAccounts") or []
    )
    attrs: dict[str, Any] = {
        "status": raw.get("status"),
        "machine_type": _last(raw.get("machineType")),
        "public_ip": nat_ips[0] if nat_ips else None,
        "default_sa_full_scope": default_full,
        "shielded_secure_boot": bool((raw.get("shieldedInstanceConfig") or {}).get("enableSecureBoot")),
        "serial_port_enabled": meta.get("serial-port-enable", "").lower() in _TRUE,
        "os_login": meta.get("enable-oslogin", "").lower() in _TRUE,
        "disks": [_last(d.get("source")) for d in raw.get("disks") or []],
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
    ) -> None:
        from escher.ops.context import CloudContext

        self.project = project
        self.ctx = ctx or CloudContext(gcp_project=project)
        self.services = set(services) if services else None
        self.max_workers = max_workers

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
        return [normalize_instance(raw, self.project) for raw in self._aggregated("instances", "instances")]

    def collect_disks(self) -> list[Record]:
        return [normalize_disk(raw, self.project) for raw in self._aggregated("disks", "disks")]

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
            "firewalls": self.collect_firewalls,
            "sql": self.collect_sql,
        }
        return [
            Task("gcp", name, GLOBAL, fn)
            for name, fn in table.items()
            if self.services is None or name in self.services
        ]

    def _to_error(self, task: Task, exc: BaseException) -> CollectionError | None:
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
            return CollectionError("gcp", task.service, task.region, message, str(exc.code or ""), hint)
        if isinstance(exc, api.HttpError):
            message = exc.reason or str(exc)
            return CollectionError("gcp", task.service, task.region, message, str(exc.status_code), hint)
        if isinstance(exc, core.GoogleAPIError | auth.GoogleAuthError | requests_exc.RequestException):
            return CollectionError("gcp", task.service, task.region, str(exc), type(exc).__name__, hint)
        if isinstance(exc, EscherError):
            return CollectionError(
                "gcp", task.service, task.region, exc.message, type(exc).__name__, exc.hint or ""
            )
        return None

    def collect(self, progress: Progress | None = None) -> Inventory:
        return run_tasks(
            self.tasks(), to_error=self._to_error, max_workers=self.max_workers, progress=progress
        )
