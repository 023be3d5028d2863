"""The Azure worker as deployed: the package unpacked (``function_app.py`` + ``.python_packages``), the v2 app
imported and indexed from it in a clean interpreter as the Functions host does, with the app settings the Pulumi
program declares; state on azurite (its connection string stands in for the managed identity's account URL).

ARM has no emulator: the daily scan reaches for the subscription the laptop published and fails there (the
host sees the failure, the other parts still ran and were stored); an event is held for approval or tried
according to the laptop's switch (the fix itself is proven with ARM replayed in tests/functional/workers)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from azure.storage.blob import BlobServiceClient
from typer.testing import CliRunner

from escher.emulators import AzuriteEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle
from tests.unit.pipeline.fakes import SAMPLES

pytest.importorskip("pulumi")

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
SAMPLE = json.loads((SAMPLES / "azure" / "resource_write_storage_account.json").read_text())
OPERATIONS = ("azure.scan.daily_inventory", "azure.storage.disallow_blob_public_access")
LAPTOP_CONFIG = f"""
[general]
timezone = "Europe/Paris"

[azure]
subscription_id = "{SUBSCRIPTION}"

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("azure", tmp_path_factory.mktemp("azure-bundle"))


class Deployment:
    def __init__(self, azurite: AzuriteEmulator, bundle: Unpacked) -> None:
        from escher.config import resolve_paths
        from escher.infra.driver import LocalState, save_outputs
        from escher.infra.permissions import operation_permissions
        from tests.functional.infra.conftest import make_spec, run_under_mocks

        self.bundle = bundle
        self.azurite = azurite
        # the firing the host starts now: the scan time is this minute in the user's zone
        now = datetime.now(ZoneInfo("Europe/Paris")).strftime("%H:%M")
        spec = replace(
            make_spec("azure", str(bundle.bundle.path), daily_scan_at=now, events=("api_calls",)),
            operations=OPERATIONS,
            permissions=operation_permissions("azure", OPERATIONS),
            azure_subscription_id=SUBSCRIPTION,
        )
        deployed = run_under_mocks(spec)
        [app] = [r for r in deployed.of_type("azure-native:web:WebApp") if r.name == "worker"]
        self.env = {s["name"]: s["value"] for s in app.inputs["siteConfig"]["appSettings"]}
        self.service = BlobServiceClient.from_connection_string(azurite.connection_string)
        self.state = self.container(self.env["ESCHER_STATE_URL"])
        for url in (
            self.env["ESCHER_STATE_URL"],
            self.env["ESCHER_AUDIT_URL"],
            self.env["ESCHER_DEAD_LETTER_URL"],
        ):
            name = self.container(url)
            if not self.service.get_container_client(name).exists():
                self.service.create_container(name)
            for blob in self.service.get_container_client(name).list_blob_names():  # a fresh deploy
                self.service.get_container_client(name).delete_blob(blob)
        self.paths = resolve_paths()
        self.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config_file.write_text(LAPTOP_CONFIG, encoding="utf-8")
        save_outputs(self.paths, "azure", deployed.outputs)
        local = LocalState.load(self.paths)
        local.clouds["azure"] = {"mode": "thin-client"}
        local.save()

    @staticmethod
    def container(url: str) -> str:
        return url.removeprefix("azblob://").split("?")[0].split("/")[0]

    def platform_env(self) -> dict[str, str]:
        """The app settings, plus azurite standing in for the storage accounts the identity would reach."""
        return {**self.env, "AZURE_STORAGE_CONNECTION_STRING": self.azurite.connection_string}

    def cli(self, *args: str) -> None:
        from escher.cli.main import app

        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output

    def read(self, key: str) -> Any:
        return json.loads(self.service.get_container_client(self.state).download_blob(key).readall())

    def keys(self, prefix: str) -> list[str]:
        return list(self.service.get_container_client(self.state).list_blob_names(name_starts_with=prefix))

    def run(self, payloads: list[Any], tmp: Path) -> list[dict[str, Any]]:
        run = run_worker(self.bundle, self.platform_env(), payloads, tmp)
        assert run.outside == [] and run.escher_file.startswith(str(self.bundle.root)), run.outside
        return run.results


@pytest.fixture
def deployment(azure_env: AzuriteEmulator, escher_home: Path, bundle: Unpacked) -> Deployment:
    return Deployment(azure_env, bundle)


def test_the_timer_runs_the_daily_job_on_the_published_subscription(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.cli("extend", "sync-settings")
    [daily] = deployment.run([["daily_scan", None]], tmp_path)
    assert daily == {"ok": None}, daily  # the v2 function returns nothing: what the job did is in the state
    [key] = deployment.keys("reports/daily/")
    record = deployment.read(key)
    parts = record["parts"]
    # the scan reached for the subscription the laptop published; without ARM every service is "not read"
    # (said in the scan and the report, never counted as 0 resources), and the report and digest followed
    assert parts["scan"]["ok"] and parts["scan"]["not_read"] and parts["scan"]["settings_version"] == 1
    assert "no Azure subscription" not in json.dumps(record)
    assert parts["report"]["ok"] and parts["digest"]["ok"] and parts["retention"]["ok"]
    assert not parts["cost"]["ok"] and "credentials" in parts["cost"]["error"].lower()
    assert deployment.keys("reports/scan/") and deployment.keys("reports/report/")
    assert deployment.keys("reports/digest/") and deployment.keys("reports/retention/")


def test_with_the_switch_off_on_the_laptop_the_event_is_held_for_approval(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.cli("extend", "sync-settings")
    [held] = deployment.run([["on_event_grid", SAMPLE]], tmp_path)
    assert held == {"ok": None}, held  # the v2 function returns nothing; what it did is in the state
    [alert] = [deployment.read(k) for k in deployment.keys("alerts/")]
    assert alert["status"] == "needs_approval", alert


def test_with_the_switch_on_the_fix_is_tried(deployment: Deployment, tmp_path: Path) -> None:
    deployment.cli("remediation", "enable", "make_public_buckets_private")
    [tried] = deployment.run([["on_event_grid", SAMPLE]], tmp_path)
    assert tried == {"ok": None}, tried
    # the fix reads the storage account through ARM first, with the worker's identity: that is where it stops
    # here (no ARM, no identity), after the approval gate let it through
    [alert] = [deployment.read(k) for k in deployment.keys("alerts/")]
    assert alert["status"] == "remediation_failed", alert
    assert "disallow_blob_public_access failed: ClientAuthenticationError" in alert["summary"]
    assert not deployment.keys("approvals/")
