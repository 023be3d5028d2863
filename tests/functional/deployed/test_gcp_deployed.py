"""The GCP worker as deployed: the source bundle unpacked (its requirements from the installed packages, as Cloud
Build would install them), functions-framework serving ``on_schedule`` from it in a clean interpreter, with the
environment the Pulumi program declares; state and estate on gcp-storage-emulator (it keeps IAM policies)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from typer.testing import CliRunner

from escher.emulators import GcsStorageEmulator
from tests.functional.deployed.harness import Unpacked, run_worker, unpacked_bundle
from tests.unit.pipeline.fakes import SAMPLES

pytest.importorskip("pulumi")

PROJECT = "escher-test"
PUSH = json.loads((SAMPLES / "gcp" / "storage_set_iam_all_users.json").read_text())
ESTATE_BUCKET = "shop-exports"
OPERATIONS = (
    "gcp.scan.daily_inventory",
    "gcp.storage.enforce_public_access_prevention",
    "gcp.storage.remove_public_bindings",
)
LAPTOP_CONFIG = f"""
[gcp]
project = "{PROJECT}"

[notify.routes]
CRITICAL = ["banner"]
HIGH = ["banner"]
"""


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    return unpacked_bundle("gcp", tmp_path_factory.mktemp("gcp-bundle"))


class Deployment:
    def __init__(self, emulator: GcsStorageEmulator, bundle: Unpacked) -> None:
        from escher.config import resolve_paths
        from escher.infra.driver import LocalState, save_outputs
        from tests.functional.infra.conftest import make_spec, run_under_mocks

        self.bundle = bundle
        self.emulator = emulator
        from escher.infra.permissions import operation_permissions

        spec = replace(
            make_spec("gcp", str(bundle.bundle.path), gcp_project=PROJECT, events=("api_calls",)),
            operations=OPERATIONS,
            permissions=operation_permissions("gcp", OPERATIONS),
        )
        deployed = run_under_mocks(spec)
        functions = deployed.of_type("gcp:cloudfunctionsv2/function:Function")
        [function] = [f for f in functions if f.name == "worker"]  # (the other: the organization scan's)
        self.env = dict(function.inputs["serviceConfig"]["environmentVariables"])
        [job] = deployed.of_type("gcp:cloudscheduler/job:Job")
        self.schedule_body = base64.b64decode(job.inputs["httpTarget"]["body"]).decode()
        self.client = storage.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": emulator.endpoint_url},
        )
        self.state_name = self.env["ESCHER_STATE_URL"].removeprefix("gs://")
        for name in (self.state_name, self.env["ESCHER_AUDIT_URL"].removeprefix("gs://")):
            bucket = self.client.lookup_bucket(name) or self.client.create_bucket(name)
            for blob in self.client.list_blobs(bucket):  # the emulator lives for the session: a fresh deploy
                blob.delete()
        self.paths = resolve_paths()
        self.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config_file.write_text(LAPTOP_CONFIG, encoding="utf-8")
        save_outputs(self.paths, "gcp", deployed.outputs)
        local = LocalState.load(self.paths)
        local.clouds["gcp"] = {"mode": "thin-client"}
        local.save()

    def platform_env(self) -> dict[str, str]:
        """The generated variables, plus what Cloud Run sets and the storage emulator standing in for GCS."""
        return {
            **self.env,
            "K_SERVICE": "escher-worker",
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "STORAGE_EMULATOR_HOST": self.emulator.endpoint_url,
            "NO_GCE_CHECK": "True",
        }

    def cli(self, *args: str) -> None:
        from escher.cli.main import app

        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output

    def keys(self, prefix: str) -> list[str]:
        return [b.name for b in self.client.list_blobs(self.state_name, prefix=prefix)]

    def read(self, key: str) -> Any:
        return json.loads(self.client.bucket(self.state_name).blob(key).download_as_bytes())

    def public_estate_bucket(self) -> Any:
        bucket = self.client.lookup_bucket(ESTATE_BUCKET) or self.client.create_bucket(ESTATE_BUCKET)
        policy = bucket.get_iam_policy(requested_policy_version=3)
        policy.bindings.append({"role": "roles/storage.objectViewer", "members": {"allUsers"}})
        bucket.set_iam_policy(policy)
        return bucket

    def run(self, payloads: list[str], tmp: Path) -> list[dict[str, Any]]:
        calls = [["on_schedule", "http", body, {"Content-Type": "application/json"}] for body in payloads]
        run = run_worker(self.bundle, self.platform_env(), calls, tmp)
        assert run.outside == [] and run.escher_file.startswith(str(self.bundle.root)), run.outside
        return [r["ok"] for r in run.results]


@pytest.fixture
def deployment(
    gcs_emulator: GcsStorageEmulator, escher_home: Path, bundle: Unpacked, monkeypatch: pytest.MonkeyPatch
) -> Deployment:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint_url)  # the laptop publishes there too
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    return Deployment(gcs_emulator, bundle)


def members(bucket: Any) -> set[str]:
    return {m for b in bucket.get_iam_policy(requested_policy_version=3).bindings for m in b["members"]}


def test_the_scheduler_body_runs_the_daily_job_and_the_laptop_switch_fixes_the_event(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.cli("remediation", "enable", "make_public_buckets_private")
    bucket = deployment.public_estate_bucket()
    daily, fixed = deployment.run([deployment.schedule_body, json.dumps(PUSH)], tmp_path)
    assert daily["status"] == 200, daily["body"][-3000:]
    result = json.loads(daily["body"])
    assert result["job"] == "daily_scan"
    parts = result["parts"]
    # the scan read the project the laptop published (its buckets: the emulator), and the report followed
    assert (
        parts["scan"]["ok"] and parts["report"]["ok"] and parts["digest"]["ok"] and parts["retention"]["ok"]
    )
    scan = deployment.read(deployment.keys("reports/scan/")[-1])
    assert any(r["id"] == ESTATE_BUCKET for r in scan["inventory"]["records"])
    assert deployment.keys("reports/report/") and deployment.keys(f"reports/daily/{result['day']}.json")
    # no billing export is configured on the laptop: the cost part says so and what to set, the rest ran
    assert not parts["cost"]["ok"] and "billing" in (parts["cost"]["error"] + parts["cost"]["hint"]).lower()
    assert fixed["status"] == 200, fixed["body"][-3000:]
    assert json.loads(fixed["body"])["outcome"] == "auto_resolved", fixed["body"]
    assert "allUsers" not in members(bucket)


def test_with_the_switch_off_on_the_laptop_the_event_is_held_for_approval(
    deployment: Deployment, tmp_path: Path
) -> None:
    deployment.cli("extend", "sync-settings")
    bucket = deployment.public_estate_bucket()
    [held] = deployment.run(
        [json.dumps({**PUSH, "message": {**PUSH["message"], "messageId": "m-held"}})], tmp_path
    )
    assert held["status"] == 200 and json.loads(held["body"])["outcome"] == "needs_approval", held["body"]
    assert "allUsers" in members(bucket)
