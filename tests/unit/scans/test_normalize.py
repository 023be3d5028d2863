"""Azure and GCP normalizers: REST shapes in, records the checks read out (no SDK, no network)."""

from __future__ import annotations

import pytest

from escher.clouds.azure import collect as azure
from escher.clouds.gcp import collect as gcp
from escher.config import Settings
from escher.scans.errors import CloudAccessError
from escher.scans.runner import ScanOptions, collect


def test_azure_port_specs() -> None:
    assert azure.port_ranges("*", None) == [(0, 65535)]
    assert azure.port_ranges(None, ["22", "1000-2000"]) == [(22, 22), (1000, 2000)]
    assert azure.port_ranges("", []) == []


def test_azure_nsg_rules_keep_default_rules_and_every_source() -> None:
    raw = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n",
        "name": "n",
        "location": "westeurope",
        "properties": {
            "securityRules": [{"name": "a", "properties": {"direction": "Inbound", "access": "Allow",
                               "sourceAddressPrefixes": ["1.2.3.4/32", "Internet"], "destinationPortRange": "3389"}}],
            "defaultSecurityRules": [{"name": "DenyAllInBound", "properties": {"direction": "Inbound",
                                      "access": "Deny", "sourceAddressPrefix": "*", "destinationPortRange": "*"}}],
        },
    }  # fmt: skip
    rec = azure.normalize_nsg(raw, "s")
    assert [r["sources"] for r in rec.attrs["rules"]] == [["1.2.3.4/32", "Internet"], ["*"]]
    assert rec.region == "westeurope" and rec.account == "s"


def test_azure_vm_without_a_status_view_has_no_power_state() -> None:
    raw = {"id": "/x/vm", "name": "vm", "properties": {"storageProfile": {"osDisk": {"vhd": {"uri": "u"}}}}}
    rec = azure.normalize_vm(raw, "s")
    assert rec.attrs["power_state"] is None and rec.attrs["managed_disks"] is False


def test_azure_storage_account_soft_delete_only_when_read() -> None:
    raw = {"id": "/a", "name": "a", "properties": {}}
    assert "blob_soft_delete" not in azure.normalize_storage_account(raw, "s").attrs  # not read: no verdict
    props = {"properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}}}
    assert azure.normalize_storage_account(raw, "s", props).attrs["blob_soft_delete"] is True


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        ([{"IPProtocol": "all"}], [(0, 65535)]),
        ([{"IPProtocol": "tcp", "ports": ["22", "8000-8080"]}], [(22, 22), (8000, 8080)]),
        ([{"IPProtocol": "icmp"}], []),
    ],
)
def test_gcp_firewall_ports(allowed: list[dict[str, object]], expected: list[tuple[int, int]]) -> None:
    rec = gcp.normalize_firewall({"name": "f", "allowed": allowed, "sourceRanges": ["0.0.0.0/0"]}, "p")
    assert rec.attrs["port_ranges"] == expected and rec.id == "projects/p/global/firewalls/f"


def test_gcp_sql_ssl_mode_counts_as_required() -> None:
    raw = {
        "name": "db",
        "region": "europe-west1",
        "settings": {"ipConfiguration": {"sslMode": "ENCRYPTED_ONLY"}},
    }
    rec = gcp.normalize_sql_instance(raw, "p")
    assert rec.attrs["ssl_required"] is True and rec.attrs["public_ip"] is False
    assert rec.id == "projects/p/instances/db"


def test_gcp_bucket_without_iam_read_has_no_members_attr() -> None:
    rec = gcp.normalize_bucket({"name": "b", "location": "EU"}, "p", None)
    assert "iam_members" not in rec.attrs and rec.region == "eu"
    assert rec.attrs["public_access_prevention"] == "inherited"


def test_scanning_azure_or_gcp_without_an_account_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(CloudAccessError, match="Azure subscription") as err:
        collect(Settings(), ScanOptions(clouds=["azure"]))
    assert "subscription_id" in (err.value.hint or "")
    with pytest.raises(CloudAccessError, match="GCP project"):
        collect(Settings(), ScanOptions(clouds=["gcp"]))
