"""A subscription whose every settings read is refused leaves no subscription record, and a tenant whose every
Graph read is refused no tenant record: a record of nothing would stand in the inventory for something Escher
could not see. The errors say, read by read, what was not read and why. Replayed at azure-core's transport
(the real SDK pipeline runs), 403 on every route."""

from __future__ import annotations

from typing import Any

from azure.core.credentials import AccessToken

from escher.ops.context import CloudContext
from tests.functional.scans.azure_estate import SUB
from tests.functional.scans.replay import AzureRouterTransport, Router

DENIED = {"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization"}}
_SUB = f"/subscriptions/{SUB}/providers"
MONITOR = {  # path -> what the error says was not read
    f"{_SUB}/Microsoft.Insights/diagnosticSettings": "Activity Log diagnostic settings",
    f"{_SUB}/Microsoft.Security/pricings": "Defender for Cloud plans",
    f"{_SUB}/Microsoft.Insights/activityLogAlerts": "Activity Log alerts",
    f"{_SUB}/Microsoft.Security/securityContacts": "Defender for Cloud security contacts",
    f"{_SUB}/Microsoft.Authorization/roleAssignments": "role assignments and custom roles",
    f"{_SUB}/Microsoft.Network/bastionHosts": "Azure Bastion hosts",
    f"{_SUB}/Microsoft.Insights/components": "Application Insights components",
    f"{_SUB}/Microsoft.Security/settings": "Defender for Cloud settings",
}
GRAPH = {
    "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy": "Entra ID security defaults",
    "/v1.0/identity/conditionalAccess/policies": "Conditional Access policies",
    "/v1.0/reports/authenticationMethods/userRegistrationDetails": "users' MFA registration",
}


class Token:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-token", 32503680000)


def _collect(router: Router, service: str) -> Any:
    from escher.clouds.azure.collect import AzureCollector

    ctx = CloudContext(
        azure_subscription_id=SUB,
        azure_credential=Token(),
        azure_transport=AzureRouterTransport(router),
        azure_client_options={"retry_total": 0},
    )
    return AzureCollector(SUB, ctx=ctx, services=[service]).collect()


def _refused(paths: dict[str, str]) -> Router:
    router = Router()
    for path in paths:
        router.add("GET", path, DENIED, status=403)
    return router


def test_every_subscription_read_refused_leaves_no_subscription_record() -> None:
    router = _refused(MONITOR)
    inventory = _collect(router, "monitor")
    assert not router.unrouted and not router.unused()  # every read was asked, and refused
    assert [r for r in inventory.records if r.type == "azure.monitor.subscription"] == []
    said = {e.message.split(" not read:")[0]: e for e in inventory.errors}
    assert set(said) == set(MONITOR.values())  # one error per refused read, naming it
    assert all(e.code == "AuthorizationFailed" and e.service == "monitor" for e in said.values())


def test_one_read_answered_keeps_the_record_with_only_what_was_read() -> None:
    router = _refused(MONITOR)
    [bastions] = [r for r in router.routes if r.path.endswith("/bastionHosts")]
    bastions.status, bastions.body = 200, {"value": []}
    inventory = _collect(router, "monitor")
    [record] = inventory.records
    assert record.type == "azure.monitor.subscription" and record.attrs == {"bastion_hosts": []}
    assert len(inventory.errors) == len(MONITOR) - 1


def test_every_graph_read_refused_leaves_no_tenant_record() -> None:
    router = _refused(GRAPH)
    inventory = _collect(router, "graph")
    assert not router.unrouted and not router.unused()
    assert inventory.records == []
    said = {e.message.split(" not read:")[0]: e for e in inventory.errors}
    assert set(said) == set(GRAPH.values())
    assert all(e.hint for e in said.values())  # what to grant
