"""Every Azure and GCP check gives a verdict on an estate built to exercise it, through the real SDKs.

The estates are the ground-truth ones (``azure_estate``, ``gcp_estate``): ARM, Compute, Cloud SQL, IAM,
Resource Manager, Logging and Monitoring answered at the SDK transports in the documented shapes, blob
containers in azurite and buckets in gcp-storage-emulator. Per cloud:

- each registered check passes or fails on at least one record (none is left with "nothing to check"), and
  every scripted request was made;
- each collector task returns exactly the attributes it declares (``PRODUCES``), no fewer and no more, so the
  unit coverage test (tests/unit/scans/test_coverage.py) reasons over true declarations;
- each check reads only the attributes it declares (``reads=``), traced on the real records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from escher.config import Settings
from escher.emulators import AzuriteEmulator, GcsStorageEmulator
from escher.ops.context import CloudContext
from escher.scans.checks.base import Check, CheckContext
from escher.scans.collect.base import Task
from escher.scans.engine import select_checks
from escher.scans.model import Record, ScanResult
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate, gcp_estate
from tests.functional.scans.replay import (
    AzureRouterTransport,
    HttplibRouter,
    RequestsRouterAdapter,
    Router,
)


# -- what every cloud's test asserts ---------------------------------------------------------------------------
def without_verdict(result: ScanResult, cloud: str) -> list[str]:
    failed = {f.check_id for f in result.failed}
    return [c.id for c in select_checks(clouds=[cloud]) if c.id not in failed and not result.passed.get(c.id)]


def produced_by_task(tasks: list[Task]) -> dict[str, dict[str, set[str]]]:
    """Run each task alone: task -> record type -> the union of the attrs its records carry."""
    out: dict[str, dict[str, set[str]]] = {}
    for task in tasks:
        by_type = out.setdefault(task.service, {})
        for rec in task.run():
            by_type.setdefault(rec.type, set()).update(rec.attrs)
    return out


def declared(tasks: list[Task]) -> dict[str, dict[str, set[str]]]:
    return {t.service: {type_: set(attrs) for type_, attrs in t.produces.items()} for t in tasks}


class Traced(dict[str, Any]):
    """A record's attrs that remember which keys were looked at."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.seen: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.seen.add(str(key))
        return super().__contains__(key)


def undeclared_reads(records: list[Record], checks: list[Check]) -> dict[str, set[str]]:
    """Check id -> attributes it looked at on the real records without declaring them in ``reads=``."""
    index: dict[str, list[Record]] = {}
    for rec in records:
        index.setdefault(rec.type, []).append(rec)
    ctx = CheckContext(index=index)
    out: dict[str, set[str]] = {}
    for chk in checks:
        own = {attr for type_, attr in chk.needs if type_ == chk.resource_type}
        for rec in index.get(chk.resource_type, []):
            traced = Traced(rec.attrs)
            chk.fn(Record(**{**rec.to_dict(), "attrs": traced}), ctx)
            if extra := traced.seen - own:
                out.setdefault(chk.id, set()).update(extra)
    return out


# -- Azure -------------------------------------------------------------------------------------------------------
AzureEstate = tuple[Router, azure_estate.AzureTruth, CloudContext]


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def azure(own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureEstate]:
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    router = Router()
    truth = azure_estate.seed(router, blob)
    ctx = CloudContext(
        azure_subscription_id=azure_estate.SUB,
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureRouterTransport(router),
        azure_client_options={"retry_total": 0},
    )
    yield router, truth, ctx
    for container in blob.list_containers():
        blob.delete_container(container.name)


def test_every_azure_check_gives_a_verdict(azure: AzureEstate) -> None:
    router, _truth, ctx = azure
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
    assert not result.inventory.errors, result.inventory.errors
    assert not router.unrouted, router.unrouted
    assert not router.unused(), "every scripted request was made"
    assert len(select_checks(clouds=["azure"])) >= 26
    assert without_verdict(result, "azure") == []
    assert not undeclared_reads(result.inventory.records, select_checks(clouds=["azure"]))


def test_azure_tasks_produce_exactly_what_they_declare(azure: AzureEstate) -> None:
    from escher.clouds.azure.collect import AzureCollector

    router, _truth, ctx = azure
    tasks = AzureCollector(azure_estate.SUB, ctx=ctx).tasks()
    assert produced_by_task(tasks) == declared(tasks)
    assert not router.unrouted


def test_azure_parts_that_fail_cost_only_their_attributes(azure: AzureEstate) -> None:
    """Azure Monitor refusing one VM's metrics and Network Watcher refusing its flow logs: those checks give no
    verdict on those records, it is reported as not read, and everything else is still judged."""
    router, _truth, ctx = azure
    denied = {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}
    for route in router.routes:
        if route.path.endswith(
            "/virtualMachines/api-1/providers/Microsoft.Insights/metrics"
        ) or route.path.endswith("/providers/Microsoft.Network/networkWatchers"):
            route.status, route.body = 403, denied
    # with the watchers' list refused, no watcher's flow logs can be asked for: not scripted
    router.routes = [r for r in router.routes if not r.path.endswith("/flowLogs")]
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
    errors = sorted((e.service, e.code, e.message.split(":")[0]) for e in result.inventory.errors)
    assert errors == [
        ("flowlogs", "AuthorizationFailed", "NSG flow logs (Network Watcher) not read"),
        ("monitor", "AuthorizationFailed", "CPU of 1 VMs (api-1) not read"),
    ]
    vms = {r.name: r for r in result.inventory.records if r.type == "azure.compute.vm"}
    assert "cpu_avg_30d" not in vms["api-1"].attrs and vms["web-1"].attrs["cpu_days"] == 7
    assert vms["api-1"].attrs["backup_protected"] is False  # the backup part was read
    assert not any(
        f.check_id in ("azure.compute.vm_overprovisioned", "azure.network.nsg_flow_logs")
        for f in result.failed
    )
    assert any(f.check_id == "azure.compute.vm_idle" for f in result.failed)
    assert result.passed.get("azure.network.nsg_flow_logs", 0) == 0


# -- GCP ---------------------------------------------------------------------------------------------------------
GcpEstate = tuple[Router, gcp_estate.GcpTruth, CloudContext]


@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def gcp(own_gcs: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcpEstate]:
    from google.cloud import storage

    for key, value in own_gcs.env().items():
        monkeypatch.setenv(key, value)
    client = storage.Client(project=gcp_estate.PROJECT)
    router = Router()
    truth = gcp_estate.seed(router, client)
    ctx = CloudContext(
        gcp_project=gcp_estate.PROJECT,
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsRouterAdapter(router),
        gcp_discovery_http=HttplibRouter(router),
    )
    yield router, truth, ctx
    for bucket in client.list_buckets():
        bucket.delete(force=True)


def test_every_gcp_check_gives_a_verdict(gcp: GcpEstate) -> None:
    router, _truth, ctx = gcp
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert not result.inventory.errors, result.inventory.errors
    assert not router.unrouted, router.unrouted
    assert not router.unused(), "every scripted request was made"
    assert len(select_checks(clouds=["gcp"])) >= 27
    assert without_verdict(result, "gcp") == []
    assert not undeclared_reads(result.inventory.records, select_checks(clouds=["gcp"]))


def test_gcp_tasks_produce_exactly_what_they_declare(gcp: GcpEstate) -> None:
    from escher.clouds.gcp.collect import GcpCollector

    router, _truth, ctx = gcp
    tasks = GcpCollector(gcp_estate.PROJECT, ctx=ctx).tasks()
    assert produced_by_task(tasks) == declared(tasks)
    assert not router.unrouted


def test_gcp_cpu_that_cannot_be_read_costs_only_the_cpu_verdicts(gcp: GcpEstate) -> None:
    router, _truth, ctx = gcp
    for route in router.routes:
        if route.path.endswith("/timeSeries"):
            route.status = 403
            route.body = {"error": {"code": 403, "message": "Permission monitoring.timeSeries.list denied", "status": "PERMISSION_DENIED"}}  # fmt: skip
    # a refused first page has no next page to ask for: not scripted
    router.routes = [
        r for r in router.routes if not (r.path.endswith("/timeSeries") and "pageToken=" in r.query)
    ]
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert [(e.service, e.code) for e in result.inventory.errors] == [("monitoring", "403")]
    assert result.inventory.errors[0].message.startswith("CPU of 3 instances not read")
    instances = [r for r in result.inventory.records if r.type == "gcp.compute.instance"]
    assert instances and all("cpu_days" not in r.attrs for r in instances)
    assert not any(f.check_id.startswith("gcp.compute.instance_idle") for f in result.failed)
    assert any(f.check_id == "gcp.compute.instance_public_ip" for f in result.failed)


def test_a_refused_gcp_project_iam_policy_costs_only_the_role_and_audit_verdicts(gcp: GcpEstate) -> None:
    router, _truth, ctx = gcp
    for route in router.routes:  # the project's policy only: the KMS keys' policies are their own reads
        if route.path == f"/v1/projects/{gcp_estate.PROJECT}:getIamPolicy":
            route.status = 403
            route.body = {"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}  # fmt: skip
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert sorted((e.service, e.code, e.message.split(" not read")[0]) for e in result.inventory.errors) == [
        ("iam", "403", "the service accounts' project roles (IAM policy)"),
        ("project", "403", "the project's audit config (IAM policy)"),
    ]
    accounts = [r for r in result.inventory.records if r.type == "gcp.iam.service_account"]
    assert len(accounts) == 2 and all("admin_roles" not in r.attrs for r in accounts)
    failed = {f.check_id for f in result.failed}
    assert "gcp.iam.sa_user_keys" in failed  # the keys were read
    assert not failed & {"gcp.iam.sa_admin", "gcp.logging.audit_logs"}
    assert not result.passed.get("gcp.iam.sa_admin") and not result.passed.get("gcp.logging.audit_logs")
    assert result.passed.get("gcp.logging.sink_all") == 1  # the sinks were read
