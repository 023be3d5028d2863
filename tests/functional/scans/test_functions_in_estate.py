"""The loop from scan to plan for serverless functions: the Azure and GCP scans of the replayed estates collect
the function apps and Cloud Run services (through azure-core's pipeline and googleapiclient's discovery client),
keep them in the estate, and ``escher ask`` (local planner, the estate as its context) plans the function
operation on exactly the scanned resource.

Before the collector tasks existed, the estate held no ``azure.web.function_app`` or ``gcp.run.service`` record
and the same questions planned nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from typer.testing import CliRunner

from escher.cli.main import app
from escher.config import Settings
from escher.emulators import AzuriteEmulator, GcsStorageEmulator
from escher.ops.context import CloudContext
from escher.scans.model import Record
from escher.scans.persist import JsonFileStore
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate, gcp_estate
from tests.functional.scans.replay import AzureRouterTransport, HttplibRouter, RequestsRouterAdapter, Router

APP = f"/subscriptions/{azure_estate.SUB}/resourceGroups/rg-fn/providers/Microsoft.Web/sites/billing-fn"
RUN = f"projects/{gcp_estate.PROJECT}/locations/us-central1/services/thumbs"


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def scanned(
    escher_home: Path,
    own_azurite: AzuriteEmulator,
    own_gcs: GcsStorageEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[list[Record]]:
    """Both estates scanned in one run, kept where ``escher ask`` reads the estate; yields the records."""
    from azure.storage.blob import BlobServiceClient
    from google.cloud import storage

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    for key, value in own_gcs.env().items():
        monkeypatch.setenv(key, value)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    gcs = storage.Client(project=gcp_estate.PROJECT)
    arm, google = Router(), Router()
    azure_estate.seed(arm, blob)
    gcp_estate.seed(google, gcs)
    ctx = CloudContext(
        azure_subscription_id=azure_estate.SUB,
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureRouterTransport(arm),
        azure_client_options={"retry_total": 0},
        gcp_project=gcp_estate.PROJECT,
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsRouterAdapter(google),
        gcp_discovery_http=HttplibRouter(google),
    )
    store = JsonFileStore(escher_home / "data" / "reports")
    try:
        result = run_scan(Settings(), ScanOptions(clouds=["azure", "gcp"]), ctx=ctx, store=store)
        assert not result.inventory.errors, result.inventory.errors
        assert not arm.unrouted and not google.unrouted
        assert not arm.unused() and not google.unused(), "every scripted request was made"
        yield result.inventory.records
    finally:
        for container in blob.list_containers():
            blob.delete_container(container.name)
        for bucket in gcs.list_buckets():
            bucket.delete(force=True)


def ask(query: str) -> dict[str, object]:
    result = CliRunner().invoke(app, ["-o", "json", "ask", query])
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_scan_keeps_function_apps_and_cloud_run_services(scanned: list[Record]) -> None:
    apps = {r.name: r for r in scanned if r.type == "azure.web.function_app"}
    assert sorted(apps) == ["billing-fn", "reports-fn"]  # the web app "www" on the same list is not one
    billing = apps["billing-fn"]
    assert billing.id == APP and billing.region == "eastus" and billing.tags == {"env": "dev"}
    assert billing.attrs == {"state": "Running", "kind": "functionapp"}
    assert apps["reports-fn"].attrs == {"state": "Stopped", "kind": "functionapp,linux"}

    services = {r.name: r for r in scanned if r.type == "gcp.run.service"}
    assert sorted(services) == ["reports", "thumbs"]  # us-central1's two pages; europe-west1 has none
    thumbs = services["thumbs"]
    assert thumbs.id == RUN and thumbs.region == "us-central1" and thumbs.account == gcp_estate.PROJECT
    assert thumbs.attrs["uri"] == "https://thumbs-5xq3fz2a4q-uc.a.run.app"
    assert thumbs.attrs["scaling"] == {
        "mode": "AUTOMATIC", "min_instances": None, "max_instances": 20, "manual_instances": None,
    }  # fmt: skip
    assert thumbs.attrs["conditions"][0] == {"type": "Ready", "state": "CONDITION_SUCCEEDED", "reason": None}
    assert services["reports"].attrs["scaling"]["mode"] == "MANUAL"
    assert services["reports"].attrs["scaling"]["manual_instances"] == 0


@pytest.mark.parametrize(
    ("query", "operation", "target"),
    [
        ("restart function app billing-fn", "azure.functions.restart_app", APP),
        ("restart the cloud run service thumbs", "gcp.run.restart_service", RUN),
    ],
)
def test_ask_plans_the_restart_on_exactly_the_scanned_resource(
    scanned: list[Record], query: str, operation: str, target: str
) -> None:
    data = ask(query)
    response = data["response"]
    assert isinstance(response, dict) and response["kind"] == "execution", response
    assert [(s["operation_id"], s["targets"]) for s in response["steps"]] == [(operation, [target])]


def test_without_the_scan_the_same_question_plans_nothing(escher_home: Path) -> None:
    """The test above can fail: an empty estate gives the planner no function app to restart."""
    JsonFileStore(escher_home / "data" / "reports").put("estate", "latest", {"records": []})
    response = ask("restart function app billing-fn")["response"]
    assert isinstance(response, dict) and response["kind"] == "information", response
    assert "no resource named 'billing-fn'" in str(response["summary"])
