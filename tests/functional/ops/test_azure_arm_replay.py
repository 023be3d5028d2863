"""Azure ARM operations (compute, network, storage account, SQL) through the real azure-mgmt-* clients.

No ARM emulator exists: responses in the REST API's documented shapes are replayed at the azure-core transport;
the tests assert the exact requests (method, path, body) the SDK sent, including its LRO polling.
"""

from __future__ import annotations

from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.ops import CloudContext, Engine, Target
from tests.functional.ops.conftest import make_engine, run
from tests.functional.ops.replay import AzureReplayTransport, Exchange, FakeAzureCredential, Replay
from tests.harness.replay import ARM, arm_async_operation, arm_error, arm_not_found, arm_pages

SUB = "00000000-0000-0000-0000-000000000001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-app"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/web-1"
ASYNC = "https://management.azure.com/subscriptions/{}/providers/Microsoft.Compute/locations/eastus/operations/op-1"


def vm_body(
    power: str,
    size: str = "Standard_B2s",
    tags: dict[str, str] | None = None,
    provisioning: str = "Succeeded",
) -> dict[str, Any]:
    return {
        "name": "web-1",
        "id": VM,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "tags": tags or {"env": "dev"},
        "properties": {
            "vmId": "0f3a2b8c-0000-4000-8000-000000000001",
            "hardwareProfile": {"vmSize": size},
            "provisioningState": provisioning,
            "instanceView": {
                "statuses": [
                    {
                        "code": "ProvisioningState/succeeded",
                        "level": "Info",
                        "displayStatus": "Provisioning succeeded",
                    },
                    {"code": f"PowerState/{power}", "level": "Info", "displayStatus": f"VM {power}"},
                ]
            },
        },
    }


def engine_for(replay: Replay, sink: MemoryAuditSink) -> Engine:
    ctx = CloudContext(
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    return make_engine(ctx, sink, concurrency=1)


def async_accepted() -> dict[str, str]:
    url = ASYNC.format(SUB)
    return {"Azure-AsyncOperation": url, "Retry-After": "0"}


def test_deallocate_vm_sends_the_post_and_polls_the_async_operation(sink: MemoryAuditSink) -> None:
    op_path = f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/op-1"
    replay = Replay(
        Exchange("GET", VM, vm_body("running"), query="$expand=instanceView"),  # plan
        Exchange("GET", VM, vm_body("running")),  # execute re-reads
        Exchange("POST", f"{VM}/deallocate", None, status=202, headers=async_accepted()),
        Exchange("GET", op_path, {"status": "Succeeded", "name": "op-1"}),
        Exchange("GET", VM, vm_body("deallocated")),  # verify
    )
    result = run(engine_for(replay, sink), "azure.compute.deallocate_vm", [Target("azure", VM)])
    assert result.ok, result.to_dict()
    replay.done()
    assert result.results[0].before == {"power_state": "running", "vm_size": "Standard_B2s", "tag:env": "dev"}
    assert result.results[0].after["power_state"] == "deallocated"  # type: ignore[index]
    assert all("api-version=" in s.query for s in replay.sent if s.path != op_path)


def test_start_vm_already_running_is_a_noop_without_any_post(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", VM, vm_body("running")), Exchange("GET", VM, vm_body("running")))
    result = run(engine_for(replay, sink), "azure.compute.start_vm", [Target("azure", VM)])
    assert result.counts() == {"noop": 1}
    replay.done()
    assert [s.method for s in replay.sent] == ["GET", "GET"]


def compute_operation(name: str) -> str:
    return f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/{name}"


def vm_update_accepted(
    name: str, body: dict[str, Any], *, error: dict[str, Any] | None = None
) -> list[Exchange]:
    """Virtual Machines - Update as ARM answers it: 200 with the VM ``Updating`` and an Azure-AsyncOperation to
    poll; the SDK then GETs the VM (unless the operation failed)."""
    updating = {**body, "properties": {**body["properties"], "provisioningState": "Updating"}}
    steps = arm_async_operation(
        "PATCH", VM, compute_operation(name), accepted=200, body=updating, error=error
    )
    return steps if error else [*steps, Exchange("GET", VM, body)]


def test_resize_vm_patches_only_the_size(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", VM, vm_body("running")),
        Exchange("GET", VM, vm_body("running")),
        vm_update_accepted("op-resize", vm_body("running", "Standard_D4s_v5")),
        Exchange("GET", VM, vm_body("running", "Standard_D4s_v5")),
    )
    result = run(
        engine_for(replay, sink),
        "azure.compute.resize_vm",
        [Target("azure", VM)],
        {"vm_size": "Standard_D4s_v5"},
    )
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [{"properties": {"hardwareProfile": {"vmSize": "Standard_D4s_v5"}}}]


def test_a_resize_whose_operation_fails_is_the_vm_s_failure_in_the_ledger(sink: MemoryAuditSink) -> None:
    no_capacity = arm_error(
        "AllocationFailed",
        "Allocation failed. We do not have sufficient capacity for the requested VM size in this region.",
    )
    replay = Replay(
        Exchange("GET", VM, vm_body("running")),
        Exchange("GET", VM, vm_body("running")),
        vm_update_accepted("op-resize", vm_body("running", "Standard_D4s_v5"), error=no_capacity),
    )
    result = run(
        engine_for(replay, sink),
        "azure.compute.resize_vm",
        [Target("azure", VM)],
        {"vm_size": "Standard_D4s_v5"},
    )
    (res,) = result.results
    assert res.outcome == "failed" and "AllocationFailed" in (res.error or ""), res.error
    assert [r.outcome for r in sink.records if r.action == "azure.compute.resize_vm"] == ["failed"]


def test_tag_vm_merges_with_existing_tags(sink: MemoryAuditSink) -> None:
    merged = {"env": "dev", "owner": "carol"}
    replay = Replay(
        Exchange("GET", VM, vm_body("running")),
        Exchange("GET", VM, vm_body("running")),
        vm_update_accepted("op-tag", vm_body("running", tags=merged)),
        Exchange("GET", VM, vm_body("running", tags=merged)),
    )
    result = run(
        engine_for(replay, sink), "azure.compute.tag_vm", [Target("azure", VM)], {"tags": {"owner": "carol"}}
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"tags": merged}]


def test_restart_of_a_deallocated_vm_is_refused_with_a_reason(sink: MemoryAuditSink) -> None:
    replay = Replay(Exchange("GET", VM, vm_body("deallocated")), Exchange("GET", VM, vm_body("deallocated")))
    result = run(engine_for(replay, sink), "azure.compute.restart_vm", [Target("azure", VM)])
    assert result.results[0].outcome == "failed"
    assert "start it with azure.compute.start_vm" in (result.results[0].error or "")
    assert [s.method for s in replay.sent] == ["GET", "GET"]


def test_missing_vm_is_reported_not_raised(sink: MemoryAuditSink) -> None:
    err = {
        "error": {
            "code": "ResourceNotFound",
            "message": "The Resource 'Microsoft.Compute/virtualMachines/web-1' was not found.",
        }
    }
    replay = Replay(Exchange("GET", VM, err, status=404))
    result = run(engine_for(replay, sink), "azure.compute.deallocate_vm", [Target("azure", VM)])
    assert result.results[0].outcome == "failed"
    assert "virtual machine" in (result.results[0].error or "") and "was not found" in (
        result.results[0].error or ""
    )


DISK = f"{RG}/providers/Microsoft.Compute/disks/web-1-os"


def test_disk_snapshot_uses_a_deterministic_name_and_copy_source(sink: MemoryAuditSink) -> None:
    disk = {"name": "web-1-os", "id": DISK, "location": "eastus", "properties": {"diskSizeGB": 30}}
    not_found = {"error": {"code": "ResourceNotFound", "message": "not found"}}
    snap_prefix = f"{RG}/providers/Microsoft.Compute/snapshots/web-1-os-escher-"
    target = Target("azure", DISK)
    from escher.ops.engine import Plan

    key = Plan.__new__(Plan)  # the key depends on the plan id only: compute it for a fixed id
    key.plan_id = "event-42"
    name = f"web-1-os-escher-{Plan.key_for(key, target)[:10]}"
    snap = {
        "name": name,
        "id": snap_prefix + name[len("web-1-os-escher-") :],
        "location": "eastus",
        "properties": {"provisioningState": "Succeeded", "incremental": True},
    }
    replay = Replay(
        Exchange("GET", DISK, disk),
        Exchange("GET", f"{RG}/providers/Microsoft.Compute/snapshots/{name}", not_found, status=404),
        Exchange("GET", DISK, disk),
        Exchange("GET", f"{RG}/providers/Microsoft.Compute/snapshots/{name}", not_found, status=404),
        Exchange("GET", DISK, disk),
        arm_async_operation(  # Snapshots - Create Or Update: 202, polled; the SDK then GETs the snapshot
            "PUT",
            f"{RG}/providers/Microsoft.Compute/snapshots/{name}",
            compute_operation("op-snap"),
            location=compute_operation("op-snap") + "?monitor=true",
        ),
        Exchange("GET", f"{RG}/providers/Microsoft.Compute/snapshots/{name}", snap),
        Exchange("GET", DISK, disk),
        Exchange("GET", f"{RG}/providers/Microsoft.Compute/snapshots/{name}", snap),
    )
    engine = engine_for(replay, sink)
    plan = engine.plan("azure.compute.create_disk_snapshot", [target], actor="user:alice", plan_id="event-42")
    result = engine.execute(plan)
    assert result.ok, result.to_dict()
    replay.done()
    (body,) = replay.bodies("PUT")
    assert body["properties"]["creationData"] == {"createOption": "Copy", "sourceResourceId": DISK}
    assert body["properties"]["incremental"] is True and body["location"] == "eastus"


def test_delete_snapshot(sink: MemoryAuditSink) -> None:
    snap = f"{RG}/providers/Microsoft.Compute/snapshots/old"
    body = {"name": "old", "id": snap, "location": "eastus", "properties": {"provisioningState": "Succeeded"}}
    replay = Replay(
        Exchange("GET", snap, body),
        Exchange("GET", snap, body),
        arm_async_operation(  # Snapshots - Delete: 202, polled; nothing to GET after a DELETE
            "DELETE",
            snap,
            compute_operation("op-del"),
            location=compute_operation("op-del") + "?monitor=true",
        ),
        arm_not_found(snap),
    )
    assert run(engine_for(replay, sink), "azure.compute.delete_snapshot", [Target("azure", snap)]).ok
    replay.done()


NSG_RULE = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/web-nsg/securityRules/ssh"


def rule_body(prefix: str | None, prefixes: list[str] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "protocol": "Tcp",
        "sourcePortRange": "*",
        "destinationPortRange": "22",
        "destinationAddressPrefix": "*",
        "access": "Allow",
        "priority": 100,
        "direction": "Inbound",
        "provisioningState": "Succeeded",
        "sourceAddressPrefixes": prefixes or [],
    }
    if prefix:
        props["sourceAddressPrefix"] = prefix
    return {
        "name": "ssh",
        "id": NSG_RULE,
        "etag": 'W/"1"',
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": props,
    }


def network_operation(name: str) -> str:
    return f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Network/locations/eastus/operations/{name}"


def updating(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "properties": {**body["properties"], "provisioningState": "Updating"}}


def test_restrict_nsg_rule_puts_the_rule_back_with_narrow_sources(sink: MemoryAuditSink) -> None:
    narrow = rule_body("203.0.113.0/24")
    replay = Replay(
        Exchange("GET", NSG_RULE, rule_body("*")),
        Exchange("GET", NSG_RULE, rule_body("*")),
        Exchange("GET", NSG_RULE, rule_body("*")),
        # Security Rules - Create Or Update: 200 with the rule Updating and an Azure-AsyncOperation to poll; the
        # SDK then GETs the rule
        arm_async_operation(
            "PUT", NSG_RULE, network_operation("op-put"), accepted=200, body=updating(narrow)
        ),
        Exchange("GET", NSG_RULE, narrow),
        Exchange("GET", NSG_RULE, narrow),  # verify
    )
    result = run(
        engine_for(replay, sink),
        "azure.network.restrict_nsg_rule",
        [Target("azure", NSG_RULE)],
        {"sources": ["203.0.113.0/24"]},
    )
    assert result.ok, result.to_dict()
    (put,) = replay.bodies("PUT")
    assert put["properties"]["sourceAddressPrefix"] == "203.0.113.0/24"
    assert put["properties"]["destinationPortRange"] == "22" and put["properties"]["access"] == "Allow"


def test_remove_nsg_rule(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", NSG_RULE, rule_body("*")),
        Exchange("GET", NSG_RULE, rule_body("*")),
        arm_async_operation(  # Security Rules - Delete: 202 with both headers, polled
            "DELETE",
            NSG_RULE,
            network_operation("op-del"),
            location=network_operation("op-del") + "?monitor=1",
        ),
        arm_not_found(NSG_RULE),
    )
    assert run(engine_for(replay, sink), "azure.network.remove_nsg_rule", [Target("azure", NSG_RULE)]).ok
    replay.done()


ACCOUNT = f"{RG}/providers/Microsoft.Storage/storageAccounts/appdata"


def account_body(public: bool, https: bool = True) -> dict[str, Any]:
    return {
        "name": "appdata",
        "id": ACCOUNT,
        "location": "eastus",
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "allowBlobPublicAccess": public,
            "supportsHttpsTrafficOnly": https,
            "minimumTlsVersion": "TLS1_2",
            "provisioningState": "Succeeded",
        },
    }


def test_storage_account_disallow_blob_public_access(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", ACCOUNT, account_body(True)),
        Exchange("GET", ACCOUNT, account_body(True)),
        Exchange("PATCH", ACCOUNT, account_body(False)),
        Exchange("GET", ACCOUNT, account_body(False)),
    )
    result = run(
        engine_for(replay, sink), "azure.storage.disallow_blob_public_access", [Target("azure", ACCOUNT)]
    )
    assert result.ok, result.to_dict()
    assert replay.bodies("PATCH") == [{"properties": {"allowBlobPublicAccess": False}}]


SQL_RULE = f"{RG}/providers/Microsoft.Sql/servers/sql-1/firewallRules/AllowAll"


def test_sql_remove_firewall_rule(sink: MemoryAuditSink) -> None:
    rule = {
        "name": "AllowAll",
        "id": SQL_RULE,
        "properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "255.255.255.255"},
    }
    gone = {"error": {"code": "ResourceNotFound", "message": "not found"}}
    replay = Replay(
        Exchange("GET", SQL_RULE, rule),
        Exchange("GET", SQL_RULE, rule),
        Exchange("DELETE", SQL_RULE, None, status=200),
        Exchange("GET", SQL_RULE, gone, status=404),
    )
    result = run(engine_for(replay, sink), "azure.sql.remove_firewall_rule", [Target("azure", SQL_RULE)])
    assert result.ok, result.to_dict()
    assert result.results[0].before == {"exists": True, "start_ip": "0.0.0.0", "end_ip": "255.255.255.255"}
    replay.done()


@pytest.mark.parametrize("bad", ["/subscriptions/x/resourceGroups/y", VM + "/extensions/z"])
def test_a_malformed_arm_id_is_a_clear_error(sink: MemoryAuditSink, bad: str) -> None:
    result = run(engine_for(Replay(), sink), "azure.compute.deallocate_vm", [Target("azure", bad)])
    assert "is not an Azure resource id of the expected type" in (result.results[0].error or "")


# -- successful changes of the operations above that had only a no-op or a refusal ---------------------------
def location_accepted(name: str) -> dict[str, str]:
    """A 202 the way Compute and SQL answer long-running POSTs: poll the Location URL until it is not 202."""
    return {
        "Location": f"https://management.azure.com/subscriptions/{SUB}/providers/Microsoft.Compute"
        f"/locations/eastus/operations/{name}?monitor=true&api-version=2024-07-01",
        "Retry-After": "0",
    }


def op_path(name: str) -> str:
    return f"/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/{name}"


def test_start_vm_posts_start_and_follows_the_location_header(sink: MemoryAuditSink) -> None:
    replay = Replay(
        Exchange("GET", VM, vm_body("deallocated"), query="$expand=instanceView"),  # plan
        Exchange("GET", VM, vm_body("deallocated"), query="$expand=instanceView"),  # execute re-reads
        Exchange("POST", f"{VM}/start", None, status=202, headers=location_accepted("op-start")),
        Exchange("GET", op_path("op-start"), None, status=202, headers=location_accepted("op-start")),
        Exchange("GET", op_path("op-start"), None, status=200),
        Exchange("GET", VM, vm_body("running")),  # verify
    )
    result = run(engine_for(replay, sink), "azure.compute.start_vm", [Target("azure", VM)])
    assert result.ok, result.to_dict()
    replay.done()
    (res,) = result.results
    assert (res.before or {})["power_state"] == "deallocated"
    assert (res.after or {})["power_state"] == "running"
    post = next(s for s in replay.sent if s.method == "POST")
    assert post.body is None and "api-version=" in post.query
    assert [r.outcome for r in sink.records if r.action == "azure.compute.start_vm"][-2:] == [
        "succeeded",
        "verified",
    ]


def test_restart_vm_runs_once_on_a_running_vm(sink: MemoryAuditSink) -> None:
    # an action: the VM is "running" before and after, yet the restart is sent (once), then verified
    replay = Replay(
        Exchange("GET", VM, vm_body("running")),
        Exchange("GET", VM, vm_body("running")),
        Exchange("POST", f"{VM}/restart", None, status=202, headers=async_accepted()),
        Exchange("GET", op_path("op-1"), {"status": "InProgress", "name": "op-1"}),
        Exchange("GET", op_path("op-1"), {"status": "Succeeded", "name": "op-1"}),
        Exchange("GET", VM, vm_body("running")),
    )
    result = run(engine_for(replay, sink), "azure.compute.restart_vm", [Target("azure", VM)])
    assert result.ok and result.counts() == {"verified": 1}, result.to_dict()
    replay.done()
    assert [s.method + " " + s.path for s in replay.sent if s.method == "POST"] == [f"POST {VM}/restart"]


def test_require_secure_transfer_patches_https_and_tls(sink: MemoryAuditSink) -> None:
    old = account_body(False, https=False)
    old["properties"]["minimumTlsVersion"] = "TLS1_0"
    new = account_body(False, https=True)
    replay = Replay(
        Exchange("GET", ACCOUNT, old),
        Exchange("GET", ACCOUNT, old),
        Exchange("PATCH", ACCOUNT, new),
        Exchange("GET", ACCOUNT, new),
    )
    result = run(
        engine_for(replay, sink), "azure.storage.require_secure_transfer", [Target("azure", ACCOUNT)]
    )
    assert result.ok, result.to_dict()
    replay.done()
    assert replay.bodies("PATCH") == [
        {"properties": {"supportsHttpsTrafficOnly": True, "minimumTlsVersion": "TLS1_2"}}
    ]
    (res,) = result.results
    assert res.before == {
        "allow_blob_public_access": False,
        "https_only": False,
        "minimum_tls_version": "TLS1_0",
    }
    assert res.after == {
        "allow_blob_public_access": False,
        "https_only": True,
        "minimum_tls_version": "TLS1_2",
    }


def test_tag_selects_vms_of_the_subscription_in_the_location(sink: MemoryAuditSink) -> None:
    other_rg = VM.replace("rg-app", "rg-other").replace("web-1", "web-2")
    west = {**vm_body("running"), "id": other_rg, "name": "web-2", "location": "westeurope"}
    prod = {**vm_body("running", tags={"env": "prod"}), "id": VM.replace("web-1", "db-1"), "name": "db-1"}
    web_3 = {**vm_body("running"), "id": VM.replace("web-1", "web-3"), "name": "web-3"}
    # two pages: the SDK follows nextLink (the VM on the second page is found too)
    replay = Replay(
        arm_pages(
            f"/subscriptions/{SUB}/providers/Microsoft.Compute/virtualMachines",
            [[vm_body("running"), west], [prod, web_3]],
            api_version="2024-11-01",
        )
    )
    ctx = CloudContext(
        azure_subscription_id=SUB,
        azure_credential=FakeAzureCredential(),
        azure_transport=AzureReplayTransport(replay),
        azure_client_options={"polling_interval": 0, "retry_total": 0},
    )
    from escher.ops import OPERATIONS

    engine = make_engine(ctx, sink)
    found = engine.resolve_targets(
        OPERATIONS.get("azure.compute.deallocate_vm"), tags={"env": "dev"}, regions=["eastus"]
    )
    replay.done()
    # not the prod VM, not the one in westeurope
    assert found == [Target("azure", VM, "eastus"), Target("azure", web_3["id"], "eastus")]
    assert "api-version=" in replay.sent[0].query and "skiptoken=page1" in replay.sent[1].query


def test_tag_selection_without_a_subscription_says_what_to_set(
    sink: MemoryAuditSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from escher.ops import OPERATIONS, OpError

    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)

    engine = make_engine(CloudContext(azure_credential=FakeAzureCredential()), sink)
    with pytest.raises(OpError, match="no Azure subscription") as err:
        engine.resolve_targets(OPERATIONS.get("azure.compute.start_vm"), tags={"env": "dev"})
    assert "subscription_id" in (err.value.hint or "")
