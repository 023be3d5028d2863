"""Azure inventory: ARM (storage accounts, VMs, disks, NSGs, SQL servers) and the Blob data plane (containers).

Clients come from :class:`escher.ops.context.CloudContext`, the same object the operations use, so an
azure-core transport handed in there (tests replay recorded-shape ARM responses at it) carries every call;
the SDK's own paging follows ``nextLink``. The normalizers below are pure functions over the REST shapes
(``model.as_dict()`` gives them back), so they are tested without any SDK.

Not read yet, so the matching checks report nothing rather than a guess: VM CPU (Azure Monitor), VM backup
(Recovery Services), NSG flow logs (Network Watcher), SQL databases, Key Vault, the subscription's
diagnostic settings and Defender plans.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from escher.lazy import require
from escher.scans.collect.base import Progress, Task, run_tasks
from escher.scans.model import CollectionError, Inventory, Record

if TYPE_CHECKING:
    from escher.ops.context import CloudContext

__all__ = [
    "AzureCollector",
    "normalize_disk",
    "normalize_nsg",
    "normalize_sql_server",
    "normalize_storage_account",
    "normalize_vm",
    "port_ranges",
]

GLOBAL = "global"


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
def normalize_storage_account(
    raw: dict[str, Any], subscription: str, blob_service: dict[str, Any] | None = None
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
    }
    if blob_service is not None:
        retention = _props(blob_service).get("deleteRetentionPolicy") or {}
        attrs["blob_soft_delete"] = bool(retention.get("enabled"))
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
    attrs: dict[str, Any] = {
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
    return _record(raw, "azure.network.nsg", subscription, {"rules": rules})


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
    ) -> None:
        from escher.ops.context import CloudContext

        self.subscription = subscription_id
        self.ctx = ctx or CloudContext(azure_subscription_id=subscription_id)
        self.services = set(services) if services else None
        self.max_workers = max_workers
        self._accounts: list[dict[str, Any]] | None = None
        self._accounts_lock = threading.Lock()

    def client(self, kind: str) -> Any:
        return self.ctx.azure(kind, self.subscription)

    def storage_accounts(self) -> list[dict[str, Any]]:
        """Listed once, shared by the ARM task and the Blob task."""
        with self._accounts_lock:
            if self._accounts is None:
                self._accounts = [_rest(a) for a in self.client("storage").storage_accounts.list()]
            return self._accounts

    # -- tasks -------------------------------------------------------------------------------------------
    def collect_storage(self) -> list[Record]:
        ops = self.client("storage").blob_services
        out = []
        for raw in self.storage_accounts():
            props = _rest(ops.get_service_properties(resource_group(raw["id"]), raw["name"]))
            out.append(normalize_storage_account(raw, self.subscription, props))
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
        return [
            normalize_vm(raw, self.subscription, statuses.get(str(raw["id"]).lower()))
            for raw in map(_rest, vms.list_all())
        ]

    def collect_disks(self) -> list[Record]:
        return [normalize_disk(_rest(d), self.subscription) for d in self.client("compute").disks.list()]

    def collect_nsgs(self) -> list[Record]:
        groups = self.client("network").network_security_groups.list_all()
        return [normalize_nsg(_rest(g), self.subscription) for g in groups]

    def collect_sql(self) -> list[Record]:
        sql = self.client("sql")
        out = []
        for raw in map(_rest, sql.servers.list()):
            policy = _rest(sql.server_blob_auditing_policies.get(resource_group(raw["id"]), raw["name"]))
            out.append(normalize_sql_server(raw, self.subscription, policy))
        return out

    def tasks(self) -> list[Task]:
        table: dict[str, Callable[[], list[Record]]] = {
            "storage": self.collect_storage,
            "blob": self.collect_containers,
            "compute": self.collect_vms,
            "disks": self.collect_disks,
            "network": self.collect_nsgs,
            "sql": self.collect_sql,
        }
        return [
            Task("azure", name, GLOBAL, fn)
            for name, fn in table.items()
            if self.services is None or name in self.services
        ]

    def _to_error(self, task: Task, exc: BaseException) -> CollectionError | None:
        from escher.clouds.azure import translate
        from escher.errors import EscherError

        azure_exc = require("azure.core.exceptions", "azure")
        hint = (error.hint or "") if (error := translate(exc)) is not None else ""
        if isinstance(exc, azure_exc.HttpResponseError):
            code = str(getattr(getattr(exc, "error", None), "code", "") or exc.status_code or "")
            return CollectionError("azure", task.service, task.region, exc.message or str(exc), code, hint)
        if isinstance(exc, azure_exc.AzureError):
            return CollectionError("azure", task.service, task.region, str(exc), type(exc).__name__, hint)
        if isinstance(exc, EscherError):
            return CollectionError(
                "azure", task.service, task.region, exc.message, type(exc).__name__, exc.hint or ""
            )
        return None

    def collect(self, progress: Progress | None = None) -> Inventory:
        return run_tasks(
            self.tasks(), to_error=self._to_error, max_workers=self.max_workers, progress=progress
        )
