"""The Azure scan through the real azure-mgmt-* and azure-storage-blob code: ARM replayed at the azure-core
transport (paged with ``nextLink``), containers in azurite. The findings equal the seeded truth exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from escher.config import Settings
from escher.emulators import AzuriteEmulator
from escher.ops.context import CloudContext
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate
from tests.functional.scans.replay import AzureRouterTransport, Router


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    """A private azurite: the session one holds other tests' containers, and "exactly" means exactly."""
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def estate(own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Router, azure_estate.AzureTruth, CloudContext]]:  # fmt: skip
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


def test_azure_findings_equal_the_seeded_truth(
    estate: tuple[Router, azure_estate.AzureTruth, CloudContext],
) -> None:
    router, truth, ctx = estate
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)

    assert not result.inventory.errors, result.inventory.errors
    assert not router.unrouted
    assert not router.unused(), "every recorded page, the nextLink pages too, was read"
    assert {r.id for r in result.inventory.records} == truth.resources
    assert {(f.check_id, f.resource_id) for f in result.failed} == truth.failing
    assert len(truth.failing) == 98 and len(truth.resources) == 36  # teeth (+gateways, vault contents)
    assert {s for c, s, _ in result.inventory.covered if c == "azure"} == {
        "storage", "blob", "compute", "disks", "snapshots", "network", "sql", "keyvault", "functions", "databricks",
        "appgateway",
        "monitor",
    }  # fmt: skip


def test_azure_records_carry_what_the_fixes_need(
    estate: tuple[Router, azure_estate.AzureTruth, CloudContext],
) -> None:
    _router, _truth, ctx = estate
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
    by_check = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]): f for f in result.failed}
    container = by_check[("azure.storage.container_public", "public-listing")]
    assert container.fix_operation == "azure.storage.make_container_private"
    assert container.fix_target == "public-listing"  # the data-plane operation takes the container name
    account = by_check[("azure.storage.blob_public_access", azure_estate.ACCOUNT)]
    assert account.fix_target.startswith(f"/subscriptions/{azure_estate.SUB}/resourceGroups/rg-data/")
    vm = next(r for r in result.inventory.records if r.name == "web-1")
    assert vm.attrs["power_state"] == "running" and vm.attrs["vm_size"] == "Standard_D2s_v3"
    assert vm.tags == {"env": "dev"}


def test_a_failed_arm_list_is_reported_not_counted_as_zero(
    estate: tuple[Router, azure_estate.AzureTruth, CloudContext],
) -> None:
    router, _truth, ctx = estate
    path = f"/subscriptions/{azure_estate.SUB}/providers/Microsoft.Sql/servers"
    for route in router.routes:
        if route.path == path:
            route.status, route.body = (
                403,
                {
                    "error": {
                        "code": "AuthorizationFailed",
                        "message": "The client does not have authorization",
                    }
                },
            )
    # with the servers' list refused, nothing can ask for a server's own settings or databases: not scripted
    router.routes = [r for r in router.routes if "/providers/Microsoft.Sql/servers/" not in r.path]
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
    assert [(e.service, e.code) for e in result.inventory.errors] == [("sql", "AuthorizationFailed")]
    assert not any(r.type == "azure.sql.server" for r in result.inventory.records)
    assert ("azure", "sql", "global") not in result.inventory.covered
    assert any(f.check_id == "azure.network.nsg_open_ssh" for f in result.failed)  # the rest was read
