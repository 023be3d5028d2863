"""Azure's read role and GCP's custom role cover every request the collectors make, and declare nothing more.

The scans run through the real SDK code against the replayed estates of ``tests/functional/scans`` (ARM,
Compute and Cloud SQL answered at the transports). Each request the router answered is mapped from its REST
method and path to the RBAC action / IAM permission it needs, here, independently of the tables it checks;
the data-plane calls that go to azurite / the GCS emulator instead of the router are named with the SDK call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from escher.emulators import AzuriteEmulator, GcsStorageEmulator
from escher.infra.permissions import operation_permissions
from escher.ops.context import CloudContext
from escher.scans.collect.permissions import (
    COLLECTOR_DATA_ACTIONS,
    COLLECTOR_GRAPH_PERMISSIONS,
    COLLECTOR_PERMISSIONS,
)
from tests.functional.scans.replay import Router

# data-plane calls answered by an emulator, not the router: (task) -> permissions, with the SDK call
EMULATED: dict[str, set[str]] = {
    # BlobServiceClient.list_containers: List Containers is authorized by this control-plane action
    "azure.blob": {"Microsoft.Storage/storageAccounts/blobServices/containers/read"},
    # storage.Client.list_buckets + Bucket.get_iam_policy (gcp-storage-emulator)
    "gcp.storage": {"storage.buckets.list", "storage.buckets.getIamPolicy"},
}


def arm_action(method: str, path: str) -> str:
    """The RBAC action of an ARM request: provider namespace + resource types, then read/write/delete/action."""
    rest = path.split("/providers/")[-1].strip("/").split("/")
    namespace, segments = rest[0], rest[1:]
    types = segments[0::2]
    if method == "POST" and len(segments) % 2 == 1:  # .../<type>/<name>/<action>
        return f"{namespace}/{'/'.join(types[:-1])}/{types[-1]}/action"
    verb = {"GET": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}[method]
    return f"{namespace}/{'/'.join(types)}/{verb}"


# the Key Vault data plane (https://<vault>.vault.azure.net/<path>): the RBAC data action of each read
_KEYVAULT_DATA = [
    (re.compile(r"^/keys$"), "Microsoft.KeyVault/vaults/keys/read"),
    (re.compile(r"^/keys/[^/]+/rotationpolicy$"), "Microsoft.KeyVault/vaults/keyrotationpolicies/read"),
    (re.compile(r"^/secrets$"), "Microsoft.KeyVault/vaults/secrets/readMetadata/action"),  # list: no values
    (re.compile(r"^/certificates(?:/[^/]+/policy)?$"), "Microsoft.KeyVault/vaults/certificates/read"),
]


# Microsoft Graph v1.0 (https://graph.microsoft.com/v1.0/<path>): the least-privileged application permission
# of each read, as its Graph API reference page lists it
_GRAPH = [
    (re.compile(r"^/v1\.0/policies/identitySecurityDefaultsEnforcementPolicy$"), "Policy.Read.All"),
    (re.compile(r"^/v1\.0/identity/conditionalAccess/policies$"), "Policy.Read.All"),
    (re.compile(r"^/v1\.0/reports/authenticationMethods/userRegistrationDetails$"), "AuditLog.Read.All"),
]


def azure_permission(method: str, path: str) -> str:
    """An ARM request's action, a Key Vault data-plane request's data action, or a Graph request's
    application permission."""
    if "/providers/" in path:
        return arm_action(method, path)
    for pattern, permission in _GRAPH if method == "GET" else []:
        if pattern.match(path):
            return permission
    for pattern, action in _KEYVAULT_DATA if method == "GET" else []:
        if pattern.match(path):
            return action
    raise AssertionError(f"no Azure permission mapped for {method} {path}: add it to _KEYVAULT_DATA")


_GCP = [
    (re.compile(r"^/compute/v1/projects/[^/]+/aggregated/(\w+)$"), "compute.{0}.list"),
    (re.compile(r"^/compute/v1/projects/[^/]+/global/(\w+)$"), "compute.{0}.list"),
    (
        re.compile(r"^/compute/v1/projects/[^/]+/(?:global|zones/[^/]+|regions/[^/]+)/(\w+)/[^/]+$"),
        "compute.{0}.get",
    ),
    (re.compile(r"^(?:/sql)?/v1(?:beta4)?/projects/[^/]+/(instances)$"), "cloudsql.{0}.list"),
    (re.compile(r"^(?:/sql)?/v1(?:beta4)?/projects/[^/]+/(instances)/[^/]+$"), "cloudsql.{0}.get"),
    (re.compile(r"^/compute/v1/projects/[^/]+$"), "compute.projects.get"),
    (re.compile(r"^/v3/projects/[^/]+/timeSeries$"), "monitoring.timeSeries.list"),
    (re.compile(r"^/v1/projects/[^/]+/serviceAccounts$"), "iam.serviceAccounts.list"),
    (re.compile(r"^/v1/projects/[^/]+/serviceAccounts/[^/]+/keys$"), "iam.serviceAccountKeys.list"),
    (re.compile(r"^/v2/projects/[^/]+/sinks$"), "logging.sinks.list"),
    (re.compile(r"^/v2/projects/[^/]+/metrics$"), "logging.logMetrics.list"),
    (re.compile(r"^/v3/projects/[^/]+/alertPolicies$"), "monitoring.alertPolicies.list"),
    (re.compile(r"^/v1/projects/[^/]+/locations$"), "run.locations.list"),  # Cloud Run v1
    (re.compile(r"^/v2/projects/[^/]+/locations/[^/]+/services$"), "run.services.list"),  # Cloud Run v2
    (re.compile(r"^/v1/projects/[^/]+/contacts:compute$"), "essentialcontacts.contacts.list"),
    (re.compile(r"^/v1/projects/[^/]+/services/[^/]+$"), "serviceusage.services.get"),
    (re.compile(r"^/v1/projects/[^/]+/locations/[^/]+/keyRings$"), "cloudkms.keyRings.list"),
    (
        re.compile(r"^/v1/projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys$"),
        "cloudkms.cryptoKeys.list",
    ),
    (re.compile(r"^/dns/v1/projects/[^/]+/managedZones$"), "dns.managedZones.list"),
    (re.compile(r"^/dns/v1/projects/[^/]+/policies$"), "dns.policies.list"),
    (  # Cloud KMS reads a key's IAM policy with a GET
        re.compile(r"^/v1/projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/:]+:getIamPolicy$"),
        "cloudkms.cryptoKeys.getIamPolicy",
    ),
    (re.compile(r"^/v2/projects/[^/]+/locations/global/keys$"), "apikeys.keys.list"),
    (re.compile(r"^/bigquery/v2/projects/[^/]+/datasets(?:/[^/]+)?$"), "bigquery.datasets.get"),
    (re.compile(r"^/bigquery/v2/projects/[^/]+/datasets/[^/]+/tables$"), "bigquery.tables.list"),
    (re.compile(r"^/bigquery/v2/projects/[^/]+/datasets/[^/]+/tables/[^/]+$"), "bigquery.tables.get"),
    (re.compile(r"^/v1/projects/[^/]+/regions/[^/]+/clusters$"), "dataproc.clusters.list"),
]
# Cloud KMS lists its locations at Cloud Run v1's path (another host): the replay tells them by KMS's pageSize
_GCP_BY_QUERY = [(re.compile(r"^/v1/projects/[^/]+/locations$"), "pageSize=", "cloudkms.locations.list")]
_GCP_POST = [  # Resource Manager's getIamPolicy is a POST that reads
    (re.compile(r"^/v1/projects/[^/:]+:getIamPolicy$"), "resourcemanager.projects.getIamPolicy"),
]


def gcp_permission(method: str, path: str, query: str = "") -> str:
    for pattern, marker, permission in _GCP_BY_QUERY if method == "GET" else []:
        if pattern.match(path) and marker in query:
            return permission
    for pattern, template in _GCP if method == "GET" else _GCP_POST if method == "POST" else []:
        if m := pattern.match(path):
            return template.format(*m.groups())
    raise AssertionError(f"no GCP permission mapped for {method} {path}: add it to _GCP")


def _hit(router: Router) -> list[tuple[str, str]]:
    return [(r.method, urlsplit(r.path).path) for r in router.routes if r.hits]


def _fresh_hits(router: Router, before: dict[int, int]) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in router.routes if r.hits > before.get(id(r), 0)]


# -- Azure -----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def azure_estate(own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Router, CloudContext]]:  # fmt: skip
    from azure.storage.blob import BlobServiceClient

    from tests.functional.ops.replay import FakeAzureCredential
    from tests.functional.scans import azure_estate as seeded
    from tests.functional.scans.replay import AzureRouterTransport

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    router = Router()
    seeded.seed(router, blob)
    ctx = CloudContext(
        azure_subscription_id=seeded.SUB,
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureRouterTransport(router),
        azure_client_options={"retry_total": 0},
    )
    yield router, ctx
    for container in blob.list_containers():
        blob.delete_container(container.name)


def test_each_azure_collector_task_declares_exactly_what_it_requests(azure_estate: tuple[Router, CloudContext]) -> None:  # fmt: skip
    from escher.clouds.azure.collect import AzureCollector
    from tests.functional.scans import azure_estate as seeded

    router, ctx = azure_estate
    tasks = [t.service for t in AzureCollector(seeded.SUB, ctx=ctx).tasks()]
    assert sorted(f"azure.{t}" for t in tasks) == sorted(
        k for k in COLLECTOR_PERMISSIONS if k.startswith("azure.")
    )
    called: set[str] = set()
    for task in tasks:
        before = {id(r): r.hits for r in router.routes}
        inventory = AzureCollector(seeded.SUB, ctx=ctx, services=[task]).collect()
        assert not inventory.errors, inventory.errors
        actions = {azure_permission(m, p) for m, p in _fresh_hits(router, before)} | EMULATED.get(
            f"azure.{task}", set()
        )
        data = set(COLLECTOR_DATA_ACTIONS.get(f"azure.{task}", ())) | set(
            COLLECTOR_GRAPH_PERMISSIONS.get(f"azure.{task}", ())
        )
        assert actions == set(COLLECTOR_PERMISSIONS[f"azure.{task}"]) | data, task
        called |= actions - data
    assert not router.unrouted
    # the generated read role holds them all (the data actions belong in a role's dataActions, not here)
    granted = set(operation_permissions("azure", ["azure.scan.daily_inventory"]))
    assert called <= granted and len(called) >= 8
    assert not set(COLLECTOR_DATA_ACTIONS["azure.keyvault"]) & granted
    assert not set(COLLECTOR_GRAPH_PERMISSIONS["azure.graph"]) & granted  # Graph app permissions, not a role


# -- GCP -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def gcp_estate(own_gcs: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Router, CloudContext]]:  # fmt: skip
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from tests.functional.scans import gcp_estate as seeded
    from tests.functional.scans.replay import HttplibRouter, RequestsRouterAdapter

    for key, value in own_gcs.env().items():
        monkeypatch.setenv(key, value)
    client = storage.Client(project=seeded.PROJECT)
    router = Router()
    seeded.seed(router, client)
    ctx = CloudContext(
        gcp_project=seeded.PROJECT,
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsRouterAdapter(router),
        gcp_discovery_http=HttplibRouter(router),
    )
    yield router, ctx
    for bucket in client.list_buckets():
        bucket.delete(force=True)


def test_each_gcp_collector_task_declares_exactly_what_it_requests(gcp_estate: tuple[Router, CloudContext]) -> None:  # fmt: skip
    from escher.clouds.gcp.collect import GcpCollector
    from tests.functional.scans import gcp_estate as seeded

    router, ctx = gcp_estate
    tasks = [t.service for t in GcpCollector(seeded.PROJECT, ctx=ctx).tasks()]
    assert sorted(f"gcp.{t}" for t in tasks) == sorted(
        k for k in COLLECTOR_PERMISSIONS if k.startswith("gcp.")
    )
    called: set[str] = set()
    for task in tasks:
        before = {id(r): r.hits for r in router.routes}
        inventory = GcpCollector(seeded.PROJECT, ctx=ctx, services=[task]).collect()
        assert not inventory.errors, inventory.errors
        fresh = [r for r in router.routes if r.hits > before.get(id(r), 0)]
        perms = {gcp_permission(r.method, r.path, r.query) for r in fresh} | EMULATED.get(
            f"gcp.{task}", set()
        )
        assert perms == set(COLLECTOR_PERMISSIONS[f"gcp.{task}"]), task
        called |= perms
    assert not router.unrouted
    granted = set(operation_permissions("gcp", ["gcp.scan.daily_inventory"]))
    assert called <= granted and len(called) >= 6


def test_the_request_mappings_name_the_documented_actions() -> None:
    sub = "/subscriptions/s/resourceGroups/g/providers"
    assert arm_action("GET", "/subscriptions/s/providers/Microsoft.Compute/virtualMachines") == (
        "Microsoft.Compute/virtualMachines/read"
    )
    assert arm_action("GET", f"{sub}/Microsoft.Sql/servers/a/auditingSettings/default") == (
        "Microsoft.Sql/servers/auditingSettings/read"
    )
    assert arm_action("POST", f"{sub}/Microsoft.Compute/virtualMachines/vm/deallocate") == (
        "Microsoft.Compute/virtualMachines/deallocate/action"
    )
    assert gcp_permission("GET", "/compute/v1/projects/p/zones/z/instances/i") == "compute.instances.get"
