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
    assert (
        len(truth.failing) == 100 and len(truth.resources) == 37
    )  # teeth (+gateways, vault contents, Entra)
    assert {s for c, s, _ in result.inventory.covered if c == "azure"} == {
        "storage", "blob", "compute", "disks", "snapshots", "network", "sql", "keyvault", "functions", "databricks",
        "appgateway", "graph", "monitor",
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


def test_a_refused_graph_read_costs_only_the_entra_verdicts(
    estate: tuple[Router, azure_estate.AzureTruth, CloudContext],
) -> None:
    """The worker's app has no Graph application permission (Policy.Read.All refused) and the tenant has no
    Entra ID P1 (the registration report refused with the licence error): no tenant record (nothing of it was
    seen), each read is reported not read with what to do, and every other check still decides."""
    router, truth, ctx = estate
    denied = {
        "error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation.",
            "innerError": {"date": "2026-12-07T15:00:00", "request-id": "r1", "client-request-id": "c1"},
        }
    }
    no_premium = {"error": {"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                            "message": "Tenant does not have a SKU required for this operation.",
                            "innerError": {"date": "2026-12-07T15:00:00", "request-id": "r2"}}}  # fmt: skip
    for route in router.routes:
        if route.path.startswith("/v1.0/policies/") or route.path.startswith("/v1.0/identity/"):
            route.status, route.body = 403, denied
        elif route.path.startswith("/v1.0/reports/"):
            route.status, route.body = 403, no_premium
    router.routes = [r for r in router.routes if r.query != "$skiptoken=users2"]  # no first page, no second
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)

    errors = {e.message.split(" not read")[0]: e for e in result.inventory.errors}
    assert sorted(errors) == [
        "Conditional Access policies",
        "Entra ID security defaults",
        "users' MFA registration",
    ]
    assert {e.service for e in errors.values()} == {"graph"}
    assert "Policy.Read.All" in errors["Entra ID security defaults"].hint
    assert errors["users' MFA registration"].code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
    assert "P1 or P2" in errors["users' MFA registration"].hint
    assert not [r for r in result.inventory.records if r.type == "azure.entra.tenant"]
    assert ("azure", "graph", "global") in result.inventory.covered  # the task ran; its parts were refused
    entra = {"azure.entra.security_defaults", "azure.entra.mfa_all_users"}
    assert {(f.check_id, f.resource_id) for f in result.failed} == {
        c for c in truth.failing if c[0] not in entra
    }
