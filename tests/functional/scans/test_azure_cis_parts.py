"""The reads added for CIS Azure 2.1.7, 7.10-7.15 and 8.3.x, through the real SDK code on the replayed estate:
one that is refused costs only the attributes it gives (those checks give no verdict, the error says what was
not read), and the Key Vault data plane is asked with its own token scope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from escher.config import Settings
from escher.emulators import AzuriteEmulator
from escher.ops.context import CloudContext
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.scans import azure_estate
from tests.functional.scans.replay import AzureRouterTransport, Router

DENIED = {
    "error": {"code": "Forbidden", "message": "The user, group or application does not have permission"}
}


class ScopeRecorder:
    """A credential that hands out a fake token and remembers the scopes asked for."""

    def __init__(self) -> None:
        self.scopes: set[str] = set()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.update(scopes)
        return AccessToken("fake-token", 32503680000)


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def estate(own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Router, CloudContext, ScopeRecorder]]:  # fmt: skip
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    router = Router()
    azure_estate.seed(router, blob)
    credential = ScopeRecorder()
    ctx = CloudContext(
        azure_subscription_id=azure_estate.SUB,
        azure_credential=credential,
        azure_transport=AzureRouterTransport(router),
        azure_client_options={"retry_total": 0},
    )
    yield router, ctx, credential
    for container in blob.list_containers():
        blob.delete_container(container.name)


def test_the_vault_data_plane_is_read_with_the_key_vault_scope(
    estate: tuple[Router, CloudContext, ScopeRecorder],
) -> None:
    router, ctx, credential = estate
    from escher.clouds.azure.collect import AzureCollector

    # the keyvault task alone: only its scripted answers are kept (each scripted answer must be asked for)
    router.routes = [
        r
        for r in router.routes
        if "Microsoft.KeyVault" in r.path or ("/providers/" not in r.path and not r.path.startswith("/v1.0/"))
    ]
    inventory = AzureCollector(azure_estate.SUB, ctx=ctx, services=["keyvault"]).collect()
    assert not inventory.errors, inventory.errors
    assert "https://vault.azure.net/.default" in credential.scopes
    assert "https://management.azure.com/.default" in credential.scopes
    assert (
        router.hits("/keys") == 2 and router.hits("/keys", "$skiptoken=keys2") == 2
    )  # both vaults, both pages
    vaults = {r.name: r.attrs for r in inventory.records}
    assert vaults["kv-prod"]["keys_without_expiry"] == ["signing"]  # "retired" is disabled
    assert vaults["kv-prod"]["long_lived_certificates"] == ["legacy-sso (24 months)"]


def test_entra_id_is_read_from_microsoft_graph_with_its_scope(
    estate: tuple[Router, CloudContext, ScopeRecorder],
) -> None:
    router, ctx, credential = estate
    from escher.clouds.azure.collect import AzureCollector

    router.routes = [r for r in router.routes if r.path.startswith("/v1.0/")]  # the graph task alone
    inventory = AzureCollector(azure_estate.SUB, ctx=ctx, services=["graph"]).collect()
    assert not inventory.errors, inventory.errors
    assert credential.scopes == {"https://graph.microsoft.com/.default"}  # no ARM token asked for
    path = "/v1.0/reports/authenticationMethods/userRegistrationDetails"
    assert router.hits(path) == 1 and router.hits(path, "$skiptoken=users2") == 1  # both pages
    [tenant] = inventory.records
    assert tenant.attrs == {
        "security_defaults": False,
        "ca_policies": 1,  # the report-only policy is not enabled
        "ca_mfa_all_users": [],  # the enabled one covers no users ("None": roles only)
        "users_without_mfa": ["intern@acme.test"],
    }


def test_refused_extra_reads_cost_only_their_attributes(
    estate: tuple[Router, CloudContext, ScopeRecorder],
) -> None:
    router, ctx, _ = estate
    for route in router.routes:
        if route.path in ("/secrets",) or route.path.endswith(
            ("/ApplicationGatewayWebApplicationFirewallPolicies", "/workspaces/dbx-secure/providers/Microsoft.Insights/diagnosticSettings")
        ):  # fmt: skip
            route.status, route.body = 403, DENIED
    # with the secrets refused, a vault's certificates are not asked for: not scripted
    router.routes = [r for r in router.routes if not r.path.startswith("/certificates")]
    result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
    errors = sorted((e.service, e.message.split(":")[0]) for e in result.inventory.errors)
    assert errors == [
        ("appgateway", "Application Gateway WAF policies not read"),
        ("databricks", "Databricks diagnostic settings not read"),
        ("keyvault", "keys, secrets and certificates of 2 vaults (kv-legacy, kv-prod) not read"),
    ]
    [vault_error] = [e for e in result.inventory.errors if e.service == "keyvault"]
    assert vault_error.code == "Forbidden" and "Key Vault Reader" in vault_error.hint  # what to do about it
    by_name = {r.name: r for r in result.inventory.records}
    # the records are all there, without the attributes the refused reads give
    assert "waf" not in by_name["agw-legacy"].attrs and by_name["agw-legacy"].attrs["http2"] is False
    assert "keys_without_expiry" not in by_name["kv-prod"].attrs and by_name["kv-prod"].attrs["audit_logged"]
    assert "diagnostic_logs" not in by_name["dbx-analytics"].attrs
    failed = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]) for f in result.failed}
    assert ("azure.network.appgw_min_tls", "agw-legacy") in failed  # the gateway list itself was read
    assert ("azure.keyvault.audit_logging", "kv-legacy") in failed
    unjudged = {
        "azure.network.appgw_waf",
        "azure.network.appgw_request_body_check",
        "azure.network.appgw_bot_protection",
        "azure.databricks.diagnostic_logs",
        "azure.keyvault.key_expiry_rbac",
        "azure.keyvault.key_auto_rotation",
        "azure.keyvault.certificate_validity",
    }
    assert not {c for c, _ in failed} & unjudged
    assert not any(result.passed.get(c) for c in unjudged)
