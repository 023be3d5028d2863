"""The Azure read role carries the data actions the scan's collectors declare (issue #19 item 4's small part):
the Key Vault collector lists a vault's keys, secrets and certificates (CIS Azure 8.3.x) only with RBAC data
actions, which a role's ``actions`` cannot grant. Under Pulumi mocks."""

from __future__ import annotations

import pytest

from escher.infra.permissions import azure_read_data_actions
from escher.scans.collect.permissions import COLLECTOR_DATA_ACTIONS, COLLECTOR_PERMISSIONS
from tests.functional.infra.conftest import make_spec, run_under_mocks

pytest.importorskip("pulumi")

ROLE = "azure-native:authorization:RoleDefinition"
KEYVAULT_DATA = set(COLLECTOR_DATA_ACTIONS["azure.keyvault"])


def test_the_read_role_of_the_daily_scan_carries_the_key_vault_data_actions(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle, operations=("azure.scan.daily_inventory",)))
    [permissions] = d.one(ROLE, "read-role")["permissions"]
    assert KEYVAULT_DATA and set(permissions["dataActions"]) == KEYVAULT_DATA
    assert not KEYVAULT_DATA & set(permissions["actions"])  # data actions are not control-plane actions
    assert "Microsoft.KeyVault/vaults/read" in permissions["actions"]


def test_the_operations_role_gets_no_data_actions(bundle: str) -> None:
    spec = make_spec(
        "azure", bundle, operations=("azure.scan.daily_inventory", "azure.compute.deallocate_vm")
    )
    d = run_under_mocks(spec)
    [permissions] = d.one(ROLE, "operations-role")["permissions"]
    assert not permissions.get("dataActions")


def test_data_actions_follow_the_collectors_control_plane_reads() -> None:
    reads = list(COLLECTOR_PERMISSIONS["azure.keyvault"])
    assert set(azure_read_data_actions(reads)) == KEYVAULT_DATA
    assert azure_read_data_actions(reads[:-1]) == []  # the vault collector not granted: no vault contents
    assert azure_read_data_actions([]) == []
