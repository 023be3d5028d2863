"""The normalizers behind the newly fed checks: the API's defaults and edge cases, without any SDK."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escher.clouds.azure import collect as azure
from escher.clouds.gcp import collect as gcp
from escher.scans.collect.metrics import cpu_attrs, window
from escher.scans.model import Record

SUB = "00000000-0000-0000-0000-0000000000aa"
VNET = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet"


def test_key_vault_soft_delete_absent_is_on_and_purge_protection_absent_is_off() -> None:
    raw = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/kv", "name": "kv",
           "location": "eastus", "properties": {"tenantId": "t", "sku": {"family": "A", "name": "standard"}}}  # fmt: skip
    rec = azure.normalize_vault(raw, SUB)
    assert (rec.attrs["soft_delete"], rec.attrs["purge_protection"]) == (True, False)
    raw["properties"].update(enableSoftDelete=False, enablePurgeProtection=True)
    rec = azure.normalize_vault(raw, SUB)
    assert (rec.attrs["soft_delete"], rec.attrs["purge_protection"]) == (False, True)


def test_a_vnet_flow_log_covers_the_nsgs_on_its_subnets() -> None:
    nsg = azure.normalize_nsg(
        {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n", "name": "n",
         "properties": {"securityRules": [], "subnets": [{"id": f"{VNET}/subnets/app"}]}}, SUB,
    )  # fmt: skip
    assert azure.flow_logged(nsg, {VNET.lower()})
    assert azure.flow_logged(nsg, {f"{VNET}/subnets/app".lower()})
    assert azure.flow_logged(nsg, {nsg.id.lower()})
    assert not azure.flow_logged(nsg, {f"{VNET}2".lower()})


def test_activity_log_is_exported_only_by_a_setting_with_a_destination_and_an_enabled_category() -> None:
    off = {
        "name": "a",
        "properties": {"workspaceId": "/w", "logs": [{"category": "Administrative", "enabled": False}]},
    }
    nowhere = {"name": "b", "properties": {"logs": [{"category": "Administrative", "enabled": True}]}}
    on = {
        "name": "c",
        "properties": {"storageAccountId": "/s", "logs": [{"category": "Security", "enabled": True}]},
    }
    pricing = [{"name": "VirtualMachines", "properties": {"pricingTier": "Standard"}},
               {"name": "Containers", "properties": {"pricingTier": "Free"}}]  # fmt: skip
    assert azure.normalize_subscription(SUB, [off, nowhere], pricing).attrs == {
        "diagnostic_settings": ["a", "b"], "activity_log_exported": False, "exported_categories": [],
        "defender_plans": ["VirtualMachines"],
    }  # fmt: skip
    assert azure.normalize_subscription(SUB, [off, on], None).attrs["activity_log_exported"] is True
    exported = azure.normalize_subscription(SUB, [off, on, nowhere], None).attrs["exported_categories"]
    assert exported == ["Security"]  # "nowhere" enables Administrative but sends it nowhere
    assert (
        "activity_log_exported" not in azure.normalize_subscription(SUB, None, []).attrs
    )  # not read: no verdict


def test_sql_database_attributes_are_left_off_when_their_policy_was_not_read() -> None:
    raw = {"id": f"/subscriptions/{SUB}/resourceGroups/g/providers/Microsoft.Sql/servers/s/databases/d", "name": "d",
           "sku": {"name": "GP_Gen5"}, "properties": {"status": "Online"}}  # fmt: skip
    rec = azure.normalize_sql_database(raw, SUB, {"properties": {"state": "Enabled"}}, None)
    assert rec.attrs["tde"] is True and "backup_retention_days" not in rec.attrs
    assert rec.attrs["server"].endswith("/servers/s")


def test_cpu_attributes_from_daily_points() -> None:
    start, end = window(datetime(2026, 12, 7, 15, 30, tzinfo=UTC))
    assert (start, end) == (datetime(2026, 11, 7, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))
    points = [(start + timedelta(days=n), 10.0 if n < 23 else 2.0) for n in range(30)]
    assert cpu_attrs(points, end) == {
        "cpu_days": 7,
        "cpu_max_daily_7d": 2.0,
        "cpu_days_30d": 30,
        "cpu_avg_30d": 8.13,
    }
    stale = [(end - timedelta(days=20), 3.0)]  # a VM that stopped reporting: no recent week
    assert cpu_attrs(stale, end)["cpu_days"] == 0 and cpu_attrs([], end)["cpu_avg_30d"] is None


def test_gcp_snapshot_source_disk_is_the_disk_record_id() -> None:
    rec = gcp.normalize_snapshot(
        {"name": "s", "creationTimestamp": "2025-01-01T00:00:00.000-08:00", "diskSizeGb": "10",
         "sourceDisk": "https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a/disks/d"}, "p",
    )  # fmt: skip
    assert rec.attrs["source_disk"] == "projects/p/zones/us-central1-a/disks/d" and rec.attrs["size_gb"] == 10
    assert gcp.normalize_snapshot({"name": "t"}, "p").attrs["source_disk"] is None


def test_service_account_admin_roles_and_user_managed_keys() -> None:
    email = "ci@p.iam.gserviceaccount.com"
    policy = {"bindings": [
        {"role": "roles/owner", "members": ["user:ann@acme.test"]},
        {"role": "roles/compute.instanceAdmin.v1", "members": [f"serviceAccount:{email}"]},
        {"role": "roles/iam.securityAdmin", "members": [f"serviceAccount:{email}"]},
        {"role": "roles/viewer", "members": [f"serviceAccount:{email}"]},
    ]}  # fmt: skip
    keys = [{"keyType": "USER_MANAGED"}, {"keyType": "SYSTEM_MANAGED"}]
    rec = gcp.normalize_service_account({"email": email}, "p", keys, policy)
    assert rec.attrs["admin_roles"] == ["roles/iam.securityAdmin"] and rec.attrs["user_managed_keys"] == 1
    assert "admin_roles" not in gcp.normalize_service_account({"email": email}, "p", [], None).attrs


def test_data_access_audit_logs_need_read_and_write_for_everyone_on_all_services() -> None:
    def audit(*configs: dict[str, object]) -> bool:
        return bool(
            gcp.normalize_project("p", {"auditConfigs": list(configs)}, None, None).attrs[
                "data_access_audit_logs"
            ]
        )

    both = [{"logType": "DATA_READ"}, {"logType": "DATA_WRITE"}]
    assert audit({"service": "allServices", "auditLogConfigs": both})
    assert not audit({"service": "storage.googleapis.com", "auditLogConfigs": both})
    assert not audit(
        {"service": "allServices", "auditLogConfigs": [both[0], {**both[1], "exemptedMembers": ["user:x"]}]}
    )
    assert not audit()


def test_an_instance_without_its_own_os_login_follows_the_project_metadata() -> None:
    inst = gcp.normalize_instance(
        {"name": "i", "zone": "zones/us-central1-a", "metadata": {"items": []}}, "p"
    )
    own = gcp.normalize_instance(
        {"name": "j", "zone": "zones/us-central1-a", "metadata": {"items": [{"key": "enable-oslogin", "value": "FALSE"}]}}, "p"
    )  # fmt: skip
    assert inst.attrs["os_login"] is None
    project = gcp.normalize_project("p", None, None, {"commonInstanceMetadata": {"items": [{"key": "enable-oslogin", "value": "TRUE"}]}})  # fmt: skip
    records: list[Record] = [inst, own, project]
    gcp.link_os_login(records)
    assert (inst.attrs["os_login"], own.attrs["os_login"]) == (True, False)
    lone = gcp.normalize_instance({"name": "k", "zone": "zones/us-central1-a"}, "p")
    gcp.link_os_login([lone])  # the project's metadata not read: off, as before
    assert lone.attrs["os_login"] is False
