"""The GCP scan through the real google-cloud-storage, google-cloud-compute (REST) and Cloud SQL Admin
(discovery) code: buckets in gcp-storage-emulator, Compute and SQL replayed at their transports (paged with
``nextPageToken``). The findings equal the seeded truth exactly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google.auth.credentials import AnonymousCredentials

from escher.config import Settings
from escher.emulators import GcsStorageEmulator
from escher.ops.context import CloudContext
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.scans import gcp_estate
from tests.functional.scans.replay import HttplibRouter, RequestsRouterAdapter, Router

Estate = tuple[Router, gcp_estate.GcpTruth, CloudContext]


@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    """A private gcp-storage-emulator: it ignores the project when listing, and the session one holds other
    tests' buckets; "exactly" means exactly."""
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def estate(own_gcs: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Estate]:
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
    yield router, truth, ctx
    for bucket in client.list_buckets():
        bucket.delete(force=True)


def test_gcp_findings_equal_the_seeded_truth(estate: Estate) -> None:
    router, truth, ctx = estate
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)

    assert not result.inventory.errors, result.inventory.errors
    assert not router.unrouted
    assert not router.unused(), "every recorded page, the nextPageToken pages too, was read"
    assert {r.id for r in result.inventory.records} == truth.resources
    assert {(f.check_id, f.resource_id) for f in result.failed} == truth.failing
    # teeth (CIS: +2 project, +4 KMS, +3 DNS, +6 API keys, +3 BigQuery, +2 Dataproc, +3 networks, +1 load
    # balancer; +25 resources)
    assert len(truth.failing) == 86 and len(truth.resources) == 55


def test_gcp_records_carry_what_the_fixes_need(estate: Estate) -> None:
    _router, _truth, ctx = estate
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"], checks=["gcp.storage.*", "gcp.compute.firewall_*"]), ctx=ctx)  # fmt: skip
    public = next(f for f in result.failed if f.check_id == "gcp.storage.bucket_public")
    assert (public.fix_operation, public.fix_target) == ("gcp.storage.remove_public_bindings", "acme-public")
    assert "allUsers" in public.message and "ann@" not in public.message
    ssh = next(f for f in result.failed if f.resource_id.endswith("/allow-ssh-world"))
    assert ssh.fix_target == f"projects/{gcp_estate.PROJECT}/global/firewalls/allow-ssh-world"
    web = next(
        r for r in result.inventory.records if r.name == "web-dev" and r.type == "gcp.compute.instance"
    )
    assert (web.region, web.tags, web.attrs["machine_type"]) == ("us-central1", {"env": "dev"}, "e2-medium")


def test_a_failed_gcp_list_is_reported_not_counted_as_zero(estate: Estate) -> None:
    router, _truth, ctx = estate
    for route in router.routes:
        if route.path.endswith("/global/firewalls"):
            route.status, route.body = (
                403,
                {
                    "error": {
                        "code": 403,
                        "message": "Required 'compute.firewalls.list' permission",
                        "errors": [],
                    }
                },
            )
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert [(e.service, e.code) for e in result.inventory.errors] == [("firewalls", "403")]
    assert not any(r.type == "gcp.compute.firewall" for r in result.inventory.records)
    assert any(f.check_id == "gcp.sql.instance_open_networks" for f in result.failed)


def test_refused_extra_reads_cost_only_their_attributes(estate: Estate) -> None:
    """Essential contacts, Service Usage and one dataset's tables refused: the project and the datasets are still
    read, the refused parts are reported, and only their checks lose the verdict."""
    router, _truth, ctx = estate
    refused = (":compute", "/services/cloudasset.googleapis.com", "/datasets/marketing/tables")
    for route in router.routes:
        if route.path.endswith(refused):
            route.status = 403
            route.body = {
                "error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}
            }
    # a refused table list cannot lead to the tables behind it: they leave the script
    router.routes = [r for r in router.routes if "/datasets/marketing/tables/" not in r.path]
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert sorted((e.service, e.code, e.message.split(" not read")[0]) for e in result.inventory.errors) == [
        ("bigquery", "403", "the tables of dataset marketing"),
        ("project", "403", "essential contacts"),
        ("project", "403", "whether Cloud Asset Inventory is enabled"),
    ]
    project = next(r for r in result.inventory.records if r.type == "gcp.project.settings")
    assert "contact_categories" not in project.attrs and "asset_inventory" not in project.attrs
    assert "alerted_log_filters" in project.attrs  # the rest of the project was read
    failed = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]) for f in result.failed}
    assert not {c for c, _ in failed} & {"gcp.project.essential_contacts", "gcp.project.asset_inventory"}
    assert not result.passed.get("gcp.project.essential_contacts")
    assert ("gcp.bigquery.dataset_public", "marketing") in failed  # the dataset itself was read
    tables = {r.name for r in result.inventory.records if r.type == "gcp.bigquery.table"}
    assert tables == {"finance.ledger"}


def test_a_refused_dns_policy_list_or_key_policy_costs_only_those_verdicts(estate: Estate) -> None:
    """Cloud DNS refusing its policies and Cloud KMS one key's IAM policy: the networks and the keys are still
    read, both refusals are reported, and only DNS logging and that key's public-access verdict are lost."""
    router, _truth, ctx = estate
    denied = {"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}
    for route in router.routes:
        if route.path.endswith(("/policies", "/cryptoKeys/legacy:getIamPolicy")):
            route.status, route.body = 403, denied
    result = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx)
    assert sorted((e.service, e.code, e.message.split(" not read")[0]) for e in result.inventory.errors) == [
        ("kms", "403", "the IAM policy of 1 key (legacy)"),
        ("networks", "403", "the Cloud DNS policies (DNS logging)"),
    ]
    networks = [r for r in result.inventory.records if r.type == "gcp.compute.network"]
    assert len(networks) == 3 and all("dns_logging" not in r.attrs for r in networks)
    keys = {r.name: r for r in result.inventory.records if r.type == "gcp.kms.key"}
    assert "public_members" not in keys["legacy"].attrs and keys["signer"].attrs["public_members"]
    failed = {(f.check_id, f.resource_id.rsplit("/", 1)[-1]) for f in result.failed}
    assert not any(c == "gcp.dns.network_logging" for c, _ in failed)
    assert not result.passed.get("gcp.dns.network_logging")
    assert ("gcp.kms.key_public", "signer") in failed and ("gcp.kms.key_public", "legacy") not in failed
    assert ("gcp.compute.legacy_network", "legacy-net") in failed  # the networks themselves were read
    assert ("gcp.kms.key_rotation", "legacy") in failed  # and the key itself
