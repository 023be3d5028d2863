"""Azure subscriptions and GCP projects as the accounts of an organization, through the real azure-core and
googleapiclient code with ARM and Resource Manager v3 replayed at their transports (shapes from the REST specs:
``managementGroups/{id}/descendants`` 2020-05-01, ``/subscriptions`` 2022-12-01, v3 ``projects.list`` /
``folders.list`` / ``projects.search``): a management group's subscriptions at any depth, paged; a parent's
projects through its folders; `--all-accounts` scans each subscription and one that refuses is reported
while the others are read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from escher.config import Settings
from escher.ops.context import CloudContext
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate
from tests.functional.scans.replay import AzureRouterTransport, HttplibRouter, Router
from tests.harness import replay as wire

GROUP = "contoso-platform"
SUB_A = azure_estate.SUB
SUB_B = "00000000-0000-0000-0000-0000000000bb"
SUB_C = "00000000-0000-0000-0000-0000000000cc"
DESCENDANTS = f"/providers/Microsoft.Management/managementGroups/{GROUP}/descendants"


def _descendant(sub: str, name: str, parent: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub}",
        "type": "Microsoft.Management/managementGroups/subscriptions",
        "name": sub,
        "properties": {
            "displayName": name,
            "parent": {"id": f"/providers/Microsoft.Management/managementGroups/{parent}"},
        },
    }


def _management_group(router: Router) -> Router:
    """contoso-platform holds SUB_A and a child group that holds SUB_B; the second page comes by nextLink."""
    child = {
        "id": "/providers/Microsoft.Management/managementGroups/contoso-data",
        "type": "Microsoft.Management/managementGroups",
        "name": "contoso-data",
        "properties": {
            "displayName": "Data",
            "parent": {"id": f"/providers/Microsoft.Management/managementGroups/{GROUP}"},
        },
    }
    next_link = f"{wire.ARM}{DESCENDANTS}?api-version=2020-05-01&$skiptoken=page2"
    router.add(
        "GET",
        DESCENDANTS,
        {"value": [_descendant(SUB_A, "Production", GROUP), child], "nextLink": next_link},
        query="api-version=2020-05-01",
    )
    router.add(
        "GET",
        DESCENDANTS,
        {"value": [_descendant(SUB_B, "Data", "contoso-data")]},
        query="api-version=2020-05-01&$skiptoken=page2",
    )
    return router


def test_a_management_groups_subscriptions_at_any_depth_paged() -> None:
    from escher.clouds.azure.accounts import list_subscriptions

    router = _management_group(Router())
    found = list_subscriptions(
        management_group=GROUP, credential_=FakeAzureCredential(), transport=AzureRouterTransport(router)
    )

    assert [(s.id, s.name) for s in found] == [(SUB_A, "Production"), (SUB_B, "Data")]
    assert not router.unrouted and not router.unused()


def test_without_a_group_every_enabled_subscription_the_credential_sees() -> None:
    from escher.clouds.azure.accounts import list_subscriptions

    def sub(sid: str, name: str, state: str) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{sid}",
            "subscriptionId": sid,
            "tenantId": "31c75423-32d6-4322-88b7-c478bdde4858",
            "displayName": name,
            "state": state,
            "authorizationSource": "RoleBased",
        }

    router = Router().add(
        "GET",
        "/subscriptions",
        {"value": [sub(SUB_A, "Production", "Enabled"), sub(SUB_C, "Old", "Disabled")]},
        query="api-version=2022-12-01",
    )
    found = list_subscriptions(credential_=FakeAzureCredential(), transport=AzureRouterTransport(router))

    assert [(s.id, s.state) for s in found] == [(SUB_A, "Enabled")]  # the disabled one is not scanned
    assert list_subscriptions(subscriptions=[SUB_C, SUB_C]) == list_subscriptions(subscriptions=[SUB_C])


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[Any]:
    from escher.emulators import AzuriteEmulator

    with AzuriteEmulator() as server:
        yield server


def test_all_accounts_scans_each_subscription_and_reports_the_one_that_refuses(
    own_azurite: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.storage.blob import BlobServiceClient

    from escher.scans.runner import ScanOptions, all_accounts, run_scan

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    router = _management_group(Router())
    truth = azure_estate.seed(router, blob)
    refused: list[str] = []

    def answer(method: str, url: str, headers: Any, body: Any) -> wire.Reply:
        if f"/subscriptions/{SUB_B}" in url:  # no role for this identity in SUB_B
            refused.append(url)
            error = {"error": {"code": "AuthorizationFailed", "message": f"no read access to {SUB_B}"}}
            return 403, {}, json.dumps(error).encode()
        return router.reply(method, url, headers, body)

    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=wire.ReplayTransport(answer),
        azure_client_options={"retry_total": 0},
    )
    settings = Settings.model_validate({"azure": {"management_group": GROUP}})
    subs = all_accounts("azure", settings, ctx)
    assert subs == [SUB_A, SUB_B]
    try:
        result = run_scan(settings, ScanOptions(clouds=["azure"], accounts={"azure": subs}), ctx=ctx)
    finally:
        for container in blob.list_containers():
            blob.delete_container(container.name)

    in_a = [r for r in result.inventory.records if r.account == SUB_A]
    assert {r.id for r in in_a} == truth.resources  # SUB_A read whole
    assert {(f.check_id, f.resource_id) for f in result.failed if f.account == SUB_A} == truth.failing
    # of SUB_B only the subscription's own records, none of its resources
    assert {r.id for r in result.inventory.records if r.account == SUB_B} <= {
        f"/subscriptions/{SUB_B}",
        f"/subscriptions/{SUB_B}/entra-tenant",
    }
    assert refused and result.inventory.errors
    assert all(e.message.startswith(f"subscription {SUB_B}: ") for e in result.inventory.errors)
    assert {e.code for e in result.inventory.errors} == {"AuthorizationFailed"}


# -- GCP -----------------------------------------------------------------------------------------------------
def _project(pid: str, number: str, parent: str, state: str = "ACTIVE") -> dict[str, Any]:
    return {
        "name": f"projects/{number}",
        "parent": parent,
        "projectId": pid,
        "state": state,
        "displayName": pid,
    }


def test_a_parents_projects_through_its_folders_paged() -> None:
    from escher.clouds.gcp.accounts import list_projects

    org = "organizations/1234"
    router = (
        Router()
        .add(
            "GET",
            "/v3/projects",
            {
                "projects": [_project("acme-prod", "101", org)],
                "nextPageToken": "the-second-page-of-organizations-1234",
            },
            query=f"parent={org}",
        )
        .add(
            "GET",
            "/v3/projects",
            {"projects": [_project("acme-web", "102", org)]},
            query="pageToken=the-second-page-of-organizations-1234",
        )
        .add(
            "GET",
            "/v3/folders",
            {"folders": [{"name": "folders/55", "parent": org, "displayName": "data", "state": "ACTIVE"}]},
            query=f"parent={org}",
        )
        .add(
            "GET",
            "/v3/projects",
            {
                "projects": [
                    _project("acme-data", "103", "folders/55"),
                    _project("acme-gone", "104", "folders/55", "DELETE_REQUESTED"),
                ]
            },
            query="parent=folders/55",
        )
        .add("GET", "/v3/folders", {}, query="parent=folders/55")
    )
    found = list_projects(parent=org, http=HttplibRouter(router))

    assert [(p.id, p.number) for p in found] == [
        ("acme-data", "103"),
        ("acme-prod", "101"),
        ("acme-web", "102"),
    ]
    assert not router.unrouted and not router.unused()


def test_without_a_parent_every_active_project_the_credential_sees() -> None:
    from escher.clouds.gcp.accounts import list_projects

    router = Router().add(
        "GET", "/v3/projects:search", {"projects": [_project("acme-prod", "101", "organizations/1")]}
    )
    assert [p.id for p in list_projects(http=HttplibRouter(router))] == ["acme-prod"]
    assert not router.unused()


# -- the commands --------------------------------------------------------------------------------------------
@pytest.fixture
def home(escher_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")
    return escher_home


def test_accounts_list_names_the_configured_subscriptions_and_projects(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.cli.main import app

    monkeypatch.setenv("ESCHER_AZURE__SUBSCRIPTIONS", f"{SUB_A},{SUB_B}")
    monkeypatch.setenv("ESCHER_GCP__PROJECTS", "acme-prod")
    azure = CliRunner().invoke(app, ["-o", "json", "accounts", "list", "--cloud", "azure"])
    assert azure.exit_code == 0, azure.output
    assert [a["id"] for a in json.loads(azure.stdout)["accounts"]] == [SUB_A, SUB_B]
    gcp = CliRunner().invoke(app, ["accounts", "list", "--cloud", "gcp"])
    assert gcp.exit_code == 0 and "1 GCP projects" in gcp.output and "acme-prod" in gcp.output
    bad = CliRunner().invoke(app, ["accounts", "list", "--cloud", "oci"])
    assert bad.exit_code == 2 and "use aws, azure or gcp" in bad.output


def test_scan_account_ids_go_to_their_cloud_and_a_wrong_one_is_named(home: Path) -> None:
    import typer

    from escher.cli.commands.scan_cmd import account_cloud

    assert account_cloud(SUB_A, ["aws", "azure", "gcp"]) == "azure"
    assert account_cloud("111122223333", ["aws", "azure"]) == "aws"
    assert account_cloud("acme-prod", ["gcp"]) == "gcp"
    with pytest.raises(typer.BadParameter, match="not an AWS account id"):
        account_cloud("acme-prod", ["aws"])
