"""CIS Azure and CIS GCP over real scans of the replayed estates (the scans' own ground truth): a control fails
exactly when one of its checks fails a seeded resource, with exactly those resources; the other controls the
estate's checks decide pass; every recommendation is listed (manual and not implemented ones too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from escher.compliance.catalogue import framework
from escher.compliance.evaluate import ComplianceReport, Verdict, evaluate
from escher.config import Settings
from escher.emulators import AzuriteEmulator, GcsStorageEmulator
from escher.ops.context import CloudContext
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate, gcp_estate
from tests.functional.scans.replay import AzureRouterTransport, HttplibRouter, RequestsRouterAdapter, Router


def _held_to_truth(report: ComplianceReport, failing: set[tuple[str, str]], total: int) -> None:
    assert len(report.controls) == total
    decided = 0
    for res in report.controls:
        c = res.control
        if not c.automated:
            assert res.status is Verdict.MANUAL, c.id
            continue
        if not c.checks:
            assert res.status is Verdict.NOT_IMPLEMENTED, c.id
            continue
        expected = {(k, r) for k, r in failing if k in c.checks}
        assert {(r.check_id, r.resource_id) for r in res.failed} == expected, c.id
        if expected:
            assert res.status is Verdict.FAIL, c.id
        else:
            assert res.status in (Verdict.PASS, Verdict.NOT_READ), (c.id, res.not_read)
        decided += res.status in (Verdict.PASS, Verdict.FAIL)
    assert decided >= 5  # the estate decides controls, not only "not read"
    assert any(r.status is Verdict.FAIL for r in report.controls)
    assert any(r.passed for r in report.controls)  # compliant resources are named too (the estate fails
    # every check at least once, so a control passes only where its checks' failures are elsewhere)
    n = report.counts
    assert report.percent == round(100 * n["pass"] / (n["pass"] + n["fail"]), 1)


@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


def test_cis_azure_on_the_replayed_estate(
    own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    try:
        result = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=ctx)
        report = evaluate(framework("cis-azure"), result)
        _held_to_truth(report, truth.failing, 127)
        assert list(report.accounts) == [azure_estate.SUB]
    finally:
        for container in blob.list_containers():
            blob.delete_container(container.name)


@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


def test_cis_gcp_on_the_replayed_estate(own_gcs: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    from google.auth.credentials import AnonymousCredentials
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
    try:
        result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
        report = evaluate(framework("cis-gcp"), result)
        _held_to_truth(report, truth.failing, 93)
        assert list(report.accounts) == [gcp_estate.PROJECT]
        nist = evaluate(framework("nist-800-53"), result)  # multi-cloud framework, one cloud scanned
        assert {c.status for c in nist.controls if c.control.id == "SC-8"} == {Verdict.FAIL}
    finally:
        for bucket in client.list_buckets():
            bucket.delete(force=True)
