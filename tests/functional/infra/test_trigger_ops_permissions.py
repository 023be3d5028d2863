"""The Azure and GCP operations the remediation switches run are in the worker's generated permissions, and each
request they send (recorded from their replay tests, run here again) needs no permission they do not declare.

Each request is mapped from its REST method and path to the RBAC action / IAM permission it needs, here,
independently of the operations' own tables. Polls of a long-running operation's status URL are left out:
ARM and Google authorize them as part of the call that started the operation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from escher.audit import MemoryAuditSink
from escher.infra.permissions import default_operations, operation_permissions
from escher.ops import OPERATIONS
from tests.functional.ops import test_azure_db_and_swap_ops as azure_tests
from tests.functional.ops import test_gcp_db_and_rollback_ops as gcp_tests
from tests.functional.ops.replay import Replay

# (method, path regex) -> permission; None: an operation-status poll (see the module's docstring)
AZURE: list[tuple[str, str, str | None]] = [
    (
        "GET",
        r"/providers/Microsoft\.Sql/servers/[^/]+/databases/[^/]+$",
        "Microsoft.Sql/servers/databases/read",
    ),
    (
        "PATCH",
        r"/providers/Microsoft\.Sql/servers/[^/]+/databases/[^/]+$",
        "Microsoft.Sql/servers/databases/write",
    ),
    ("GET", r"/providers/Microsoft\.Sql/locations/[^/]+/databaseAzureAsyncOperation/", None),
    ("GET", r"/providers/Microsoft\.Web/sites/[^/]+$", "Microsoft.Web/sites/read"),
    ("POST", r"/providers/Microsoft\.Web/sites/[^/]+/slotsswap$", "Microsoft.Web/sites/slotsswap/action"),
    ("GET", r"/providers/Microsoft\.Web/locations/[^/]+/operationResults/", None),
]
GCP: list[tuple[str, str, str | None]] = [
    ("GET", r"^/v1/projects/[^/]+/instances/[^/]+$", "cloudsql.instances.get"),
    ("PATCH", r"^/v1/projects/[^/]+/instances/[^/]+$", "cloudsql.instances.update"),
    ("POST", r"^/v1/projects/[^/]+/instances/[^/]+/restart$", "cloudsql.instances.restart"),
    ("GET", r"^/v1/projects/[^/]+/operations/", None),
    ("GET", r"^/v2/projects/[^/]+/locations/[^/]+/services/[^/]+$", "run.services.get"),
    ("PATCH", r"^/v2/projects/[^/]+/locations/[^/]+/services/[^/]+$", "run.services.update"),
    ("GET", r"^/v2/projects/[^/]+/locations/[^/]+/services/[^/]+/revisions$", "run.revisions.list"),
    ("GET", r"^/v2/projects/[^/]+/locations/[^/]+/operations/", "run.operations.get"),
]

# operation -> the replay tests whose requests it sends
RUNS: dict[str, list[Callable[..., Any]]] = {
    "azure.sql.increase_max_size": [azure_tests.test_increase_max_size_patches_max_size_bytes_and_polls],
    "azure.sql.resize_database": [
        azure_tests.test_resize_to_a_dtu_objective_is_proved_by_the_objective_not_the_edition
    ],
    "azure.functions.swap_slot": [
        azure_tests.test_swap_slot_posts_the_slot_swap_follows_the_location_and_verifies
    ],
    "gcp.sql.restart_instance": [gcp_tests.test_restart_posts_restart_and_polls_the_operation],
    "gcp.sql.increase_storage": [gcp_tests.test_increase_storage_patches_the_disk_size_and_verifies_it],
    "gcp.sql.resize_instance": [gcp_tests.test_resize_patches_the_tier_retrying_a_throttled_patch],
    "gcp.run.rollback_revision": [
        gcp_tests.test_rollback_sends_all_traffic_to_the_last_ready_revision_and_polls
    ],
}


def needed(table: list[tuple[str, str, str | None]], method: str, path: str) -> str | None:
    for want_method, pattern, permission in table:
        if method == want_method and re.search(pattern, path):
            return permission
    raise AssertionError(f"no permission known for {method} {path}: add it to the table")


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[Replay]:
    replays: list[Replay] = []
    original = Replay.__init__

    def init(self: Replay, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        replays.append(self)

    monkeypatch.setattr(Replay, "__init__", init)
    import escher.clouds.azure.ops.functions
    import escher.clouds.gcp.ops.run
    import escher.clouds.gcp.ops.sql

    monkeypatch.setattr(escher.clouds.azure.ops.functions, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(escher.clouds.gcp.ops.sql, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(escher.clouds.gcp.ops.run, "FIRST_POLL", 0.0)
    return replays


@pytest.mark.parametrize("op_id", sorted(RUNS))
def test_each_request_needs_only_what_the_operation_declares_and_the_worker_is_granted(
    op_id: str, recorded: list[Replay]
) -> None:
    op = OPERATIONS.get(op_id)
    for test in RUNS[op_id]:
        test(MemoryAuditSink())
    sent = [(s.method, s.path) for replay in recorded for s in replay.sent]
    assert sent, op_id
    table = AZURE if op.cloud == "azure" else GCP
    used = {p for method, path in sent if (p := needed(table, method, path)) is not None}
    assert used <= set(op.permissions), (op_id, used - set(op.permissions))
    granted = set(operation_permissions(op.cloud, default_operations(op.cloud)))
    assert set(op.permissions) <= granted, (op_id, set(op.permissions) - granted)


def test_the_switches_name_the_new_operations_and_each_is_in_the_catalogue() -> None:
    from escher.pipeline.remediations import load_remediations
    from escher.policy.remediation import SWITCHES

    by_switch = {s.setting: set(s.operations) for s in SWITCHES}
    assert {"azure.sql.increase_max_size", "gcp.sql.increase_storage"} <= by_switch["scale_up_near_capacity"]
    assert {"azure.compute.restart_vm", "gcp.compute.reset_instance"} <= by_switch["restart_failed_services"]
    assert {"azure.functions.swap_slot", "gcp.run.rollback_revision"} <= by_switch[
        "rollback_failed_deployments"
    ]
    mapped = {r.operation for r in load_remediations()}
    for op_id in (
        "azure.sql.increase_max_size",
        "gcp.sql.increase_storage",
        "azure.compute.restart_vm",
        "gcp.compute.reset_instance",
        "azure.functions.swap_slot",
        "gcp.run.rollback_revision",
    ):
        assert op_id in mapped and OPERATIONS.find(op_id) is not None, op_id
