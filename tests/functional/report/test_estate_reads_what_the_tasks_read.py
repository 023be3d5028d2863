"""The report's estate knows what a scan read by the collector tasks that ran, not by a guess from the type.

``Inventory.covered`` names collector tasks (``instances``, ``disks``, ``region_settings``, ``blob``), and many
record types are not named after theirs (``gcp.compute.instance`` comes from ``instances``, not "compute").
A finding from an older scan must leave the report once a newer scan read its resource and it is fixed, and
must stay (dated) when the newer scan did not read that part. Real scans: AWS on moto, Azure and GCP through
their SDKs against the replayed estates (plus azurite and gcp-storage-emulator); the report through the same
store and service the CLI uses, or :func:`merge_scans` on the stored scans.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from escher.clouds.aws.collect import AwsCollector
from escher.config import Settings
from escher.emulators import AzuriteEmulator, GcsStorageEmulator, MotoEmulator
from escher.ops.context import CloudContext
from escher.report.estate import merge_scans
from escher.report.model import MorningReport
from escher.report.service import get_or_build_report, registered_checks
from escher.scans.model import ScanResult
from escher.scans.persist import JsonFileStore
from escher.scans.runner import ScanOptions, run_scan
from tests.functional.ops.replay import FakeAzureCredential
from tests.functional.scans import azure_estate, gcp_estate
from tests.functional.scans.replay import (
    AzureRouterTransport,
    HttplibRouter,
    RequestsRouterAdapter,
    Route,
    Router,
)

REGION = "us-east-1"
REGION_SETTINGS = {"aws.ec2.ebs_default_encryption", "aws.config.recorder_enabled", "aws.guardduty.enabled"}


def _shown(rep: MorningReport) -> dict[tuple[str, str], str]:
    """(check id, resource id) -> its date when it comes from an earlier scan ("" when it is the latest's)."""
    return {(f["check_id"], f["resource_id"]): f.get("as_of", "") for f in rep.findings}


def _route(router: Router, path: str, query: str = "") -> Route:
    [route] = [r for r in router.routes if r.path == path and r.query == query]
    return route


def _refuse(route: Route, code: Any, message: str) -> None:
    route.status, route.body = 403, {"error": {"code": code, "message": message}}


@pytest.fixture
def store(escher_home: Path) -> JsonFileStore:
    return JsonFileStore(escher_home / "data" / "reports")


# -- AWS (moto): aws.ec2.region_settings comes from the task "region_settings", not "ec2" -------------------
def _aws_scan(store: JsonFileStore, services: list[str] | None = None) -> ScanResult:
    """A scan of every AWS check over what the collector tasks ``services`` read (all when None)."""
    inventory = AwsCollector([REGION], services=services, max_attempts=1).collect()
    return run_scan(Settings(), ScanOptions(clouds=["aws"]), store=store, inventory=inventory)


def test_aws_region_settings_follow_the_region_settings_task(
    aws_env: MotoEmulator, store: JsonFileStore
) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="ssh-world", Description="t", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    # GIVEN a full scan: EBS default encryption off, no Config recorder, no GuardDuty, SSH open to the world
    first = _aws_scan(store)
    settings_id = f"{first.inventory.records[0].account}/{REGION}"
    assert {(c, settings_id) for c in REGION_SETTINGS} <= {(f.check_id, f.resource_id) for f in first.failed}

    # WHEN a scan reads every task but region_settings (EC2 itself is read)
    others = [t.service for t in AwsCollector([REGION]).tasks() if t.service != "region_settings"]
    partial = _aws_scan(store, others)
    assert ("aws", "ec2", REGION) in partial.inventory.covered
    assert ("aws", "region_settings", REGION) not in partial.inventory.covered
    # THEN the region's settings it did not read are still in the report, with the first scan's date
    shown = _shown(get_or_build_report(store=store))
    for check in REGION_SETTINGS:
        assert shown.get((check, settings_id), "").endswith("(earlier today)"), check
    assert shown[("aws.ec2.sg_open_ssh", sg)] == ""  # read again: today's

    # WHEN EBS default encryption is turned on and a scan reads only the region's settings
    ec2.enable_ebs_encryption_by_default()
    _aws_scan(store, ["region_settings"])
    shown = _shown(get_or_build_report(store=store))
    # THEN the fixed setting is gone (that scan read it), the others are today's, open SSH is dated
    assert ("aws.ec2.ebs_default_encryption", settings_id) not in shown
    assert shown[("aws.config.recorder_enabled", settings_id)] == ""
    assert shown[("aws.guardduty.enabled", settings_id)] == ""
    assert shown[("aws.ec2.sg_open_ssh", sg)].endswith("(earlier today)")


# -- GCP (replayed Compute, SQL, IAM, Logging, Monitoring; buckets in gcp-storage-emulator) -------------------
@pytest.fixture(scope="module")
def own_gcs() -> Iterator[GcsStorageEmulator]:
    with GcsStorageEmulator() as server:
        yield server


@pytest.fixture
def gcp(
    own_gcs: GcsStorageEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Router, CloudContext]]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    for key, value in own_gcs.env().items():
        monkeypatch.setenv(key, value)
    client = storage.Client(project=gcp_estate.PROJECT)
    router = Router()
    gcp_estate.seed(router, client)
    ctx = CloudContext(
        gcp_project=gcp_estate.PROJECT,
        gcp_credentials=AnonymousCredentials(),
        gcp_session_adapter=RequestsRouterAdapter(router),
        gcp_discovery_http=HttplibRouter(router),
    )
    yield router, ctx
    for bucket in client.list_buckets():
        bucket.delete(force=True)


P = f"projects/{gcp_estate.PROJECT}"
WEB = f"{P}/zones/us-central1-a/instances/web-dev"
WEB_FIXED = {  # what hardening web-dev fixes (its CPU is still idle)
    "gcp.compute.instance_public_ip",
    "gcp.compute.instance_default_sa",
    "gcp.compute.instance_shielded_vm",
    "gcp.compute.instance_serial_port",
    "gcp.compute.instance_os_login",
    "gcp.compute.instance_uses_default_sa",
    "gcp.compute.instance_project_ssh_keys",
    "gcp.compute.instance_ip_forwarding",
}
FIXED_ELSEWHERE = {  # one of each other Compute record type, fixed between the scans
    ("gcp.compute.disk_unattached", f"{P}/zones/us-central1-a/disks/orphan"),
    ("gcp.compute.firewall_open_ssh", f"{P}/global/firewalls/allow-ssh-world"),
    ("gcp.compute.snapshot_old", f"{P}/global/snapshots/pre-migration"),
    ("gcp.compute.vpc_flow_logs", f"{P}/regions/us-central1/subnetworks/default"),
}


def _fix_compute(router: Router) -> None:
    """Harden web-dev, delete the orphan disk, the world-open SSH rule and the old snapshot, log the subnet."""
    compute = f"/compute/v1/projects/{gcp_estate.PROJECT}"
    page = _route(router, f"{compute}/aggregated/instances").body["items"]["zones/us-central1-a"]
    page["instances"] = [gcp_estate._instance("web-dev", "us-central1-a", hardened=True)]
    disks = _route(router, f"{compute}/aggregated/disks").body["items"]["zones/us-central1-a"]
    disks["disks"] = [d for d in disks["disks"] if d["name"] != "orphan"]
    firewalls = _route(router, f"{compute}/global/firewalls").body
    firewalls["items"] = [r for r in firewalls["items"] if r["name"] != "allow-ssh-world"]
    snapshots = _route(router, f"{compute}/global/snapshots").body
    snapshots["items"] = [s for s in snapshots["items"] if s["name"] != "pre-migration"]
    subnets = _route(router, f"{compute}/aggregated/subnetworks").body["items"]["regions/us-central1"]
    subnets["subnetworks"] = [
        gcp_estate._subnetwork(s["name"], "us-central1", s["ipCidrRange"], flow_logs=True)
        for s in subnets["subnetworks"]
    ]


def test_gcp_findings_fixed_before_a_newer_full_scan_leave_the_report(
    gcp: tuple[Router, CloudContext], store: JsonFileStore
) -> None:
    router, ctx = gcp
    # GIVEN a full scan that found web-dev exposed, an orphan disk, SSH open, an old snapshot, no flow logs
    first = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx, store=store)
    fixed = {(c, WEB) for c in WEB_FIXED} | FIXED_ELSEWHERE
    assert fixed <= {(f.check_id, f.resource_id) for f in first.failed}
    # WHEN all of it is fixed and a full scan reads the project again
    _fix_compute(router)
    second = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx, store=store)
    assert not second.inventory.errors, second.inventory.errors
    # THEN the morning report shows none of it, and nothing in it is carried from the first scan
    rep = get_or_build_report(store=store)
    shown = _shown(rep)
    assert not fixed & set(shown), sorted(fixed & set(shown))
    assert ("gcp.compute.instance_idle", WEB) in shown  # still idle: the test has teeth
    assert not any(shown.values()) and not rep.scope_notes
    assert rep.resolved_findings == len(fixed)


def test_a_gcp_scan_that_could_not_read_instances_keeps_their_findings(
    gcp: tuple[Router, CloudContext], store: JsonFileStore
) -> None:
    router, ctx = gcp
    first = run_scan(Settings(), ScanOptions(clouds=["gcp"]), ctx=ctx, store=store)
    # WHEN the Compute checks run again, the instances list is refused, and the rest of Compute was fixed
    _fix_compute(router)
    path = f"/compute/v1/projects/{gcp_estate.PROJECT}/aggregated/instances"
    _refuse(_route(router, path), 403, "Required 'compute.instances.list' permission")
    latest = run_scan(Settings(), ScanOptions(clouds=["gcp"], checks=["gcp.compute.*"]), ctx=ctx, store=store)
    assert [e.service for e in latest.inventory.errors] == ["instances"]
    view = merge_scans(latest, [first], registered_checks())
    shown = {(f.check_id, f.resource_id): view.as_of.get(f.id, "") for f in view.scan.failed}
    # THEN web-dev's findings (not read) are kept with the first scan's date; what was read and fixed is gone
    for check in WEB_FIXED | {"gcp.compute.instance_idle"}:
        assert shown.get((check, WEB), "").endswith("(earlier today)"), check
    assert not FIXED_ELSEWHERE & set(shown), sorted(FIXED_ELSEWHERE & set(shown))
    # and the checks that did not run (Cloud SQL) come from the first scan too
    assert shown[("gcp.sql.instance_open_networks", f"{P}/instances/pg-open")].endswith("(earlier today)")


# -- Azure (ARM replayed; containers in azurite) -------------------------------------------------------------
@pytest.fixture(scope="module")
def own_azurite() -> Iterator[AzuriteEmulator]:
    with AzuriteEmulator() as server:
        yield server


@pytest.fixture
def azure(own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Router]:
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", own_azurite.connection_string)
    blob = BlobServiceClient.from_connection_string(own_azurite.connection_string)
    router = Router()
    azure_estate.seed(router, blob)
    yield router
    for container in blob.list_containers():
        blob.delete_container(container.name)


def _azure_ctx(router: Router) -> CloudContext:
    return CloudContext(
        azure_subscription_id=azure_estate.SUB,
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureRouterTransport(router),
        azure_client_options={"retry_total": 0},
    )


def test_an_azure_scan_that_could_not_read_disks_snapshots_or_containers_keeps_their_findings(
    azure: Router, own_azurite: AzuriteEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = azure
    # GIVEN a full scan
    first = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=_azure_ctx(router))
    types = {"azure.compute.disk", "azure.compute.snapshot", "azure.storage.container"}
    before = {(f.check_id, f.resource_id) for f in first.failed if f.resource_type in types}
    assert len(before) == 7  # 4 of disks, 1 of a snapshot, 2 of containers
    # WHEN a scan reads the VMs and the storage accounts but the disks, snapshots and containers are refused
    sub = f"/subscriptions/{azure_estate.SUB}/providers"
    _refuse(_route(router, f"{sub}/Microsoft.Compute/disks"), "AuthorizationFailed", "no read on disks")
    _refuse(
        _route(router, f"{sub}/Microsoft.Compute/snapshots"), "AuthorizationFailed", "no read on snapshots"
    )
    wrong_key = own_azurite.connection_string.replace("AccountKey=", "AccountKey=AAAA", 1)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", wrong_key)
    latest = run_scan(Settings(), ScanOptions(clouds=["azure"]), ctx=_azure_ctx(router))
    assert {e.service for e in latest.inventory.errors} == {"disks", "snapshots", "blob"}
    assert {("azure", "compute", "global"), ("azure", "storage", "global")} <= set(latest.inventory.covered)
    # THEN their findings stay in the report's estate, dated
    view = merge_scans(latest, [first], registered_checks())
    kept = {(f.check_id, f.resource_id) for f in view.scan.failed if f.id in view.as_of}
    assert kept == before
