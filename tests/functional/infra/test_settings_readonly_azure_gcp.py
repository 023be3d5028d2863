"""Azure and GCP: the worker's identity reads the settings and grants the laptop publishes, never writes them.

Neither has a deny a customer can write at this scope, so the write grant on the state storage carries a
condition: on Azure an ABAC condition (version 2.0) on the state role assignment, on the blob path; on GCP an IAM
condition on the ``roles/storage.objectUser`` binding, on ``resource.name``, with reads through a second,
unconditional ``roles/storage.objectViewer`` binding. No emulator enforces either (azurite and fake GCS ignore
RBAC/IAM): these tests pin what is deployed and evaluate each expression with a small translator that knows only
the operators it uses (``ActionMatches``, ``StringNotStartsWith``, ``startsWith``, ``!``/``AND``/``OR``), so an
inverted or misspelt condition fails here; that Azure and Google evaluate them the same way is not shown here.
"""

from __future__ import annotations

import re

import pytest

from escher.infra.permissions import (
    AZURE_BLOB_CHANGES,
    GCP_STATE_BINDINGS,
    azure_state_data_actions,
    azure_state_write_condition,
    gcp_state_write_condition,
)
from tests.functional.infra.conftest import make_spec, run_under_mocks

pytest.importorskip("pulumi")

BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
LAPTOP_OWNED = ("settings/effective.json", "settings/versions/000007.json", "approvals/grants/req-1.json")
WORKER_WRITES = ("approvals/req-1.json", "markers/azure/ab/op.json", "reports/daily/2026-12-07.json",
                 "alerts/a-1.json", "events-log/2026/12/07/r.json", "settings.json", "approvals/grants.json")  # fmt: skip


def azure_allows(condition: str, action: str, path: str) -> bool:
    """Evaluate the condition's shape: true when the request may go ahead."""
    python = re.sub(r"ActionMatches\{'([^']+)'\}", lambda m: repr(action == m.group(1)), condition)
    python = re.sub(
        r"@Resource\[" + re.escape(BLOB) + r":path\] StringNotStartsWith '([^']+)'",
        lambda m: repr(not path.startswith(m.group(1))),
        python,
    )
    python = python.replace("!", " not ").replace(" AND ", " and ").replace(" OR ", " or ")
    assert re.fullmatch(r"[()\sTrueFalsnotadr]+", python), f"operators the translator does not know: {python}"
    return bool(eval(python))


def gcp_allows(expression: str, resource_name: str) -> bool:
    python = re.sub(
        r'resource\.name\.startsWith\("([^"]+)"\)',
        lambda m: repr(resource_name.startswith(m.group(1))),
        expression,
    )
    python = python.replace("!", " not ").replace("||", " or ").replace("&&", " and ")
    assert re.fullmatch(r"[()\sTrueFalsnotadr]+", python), f"operators the translator does not know: {python}"
    return bool(eval(python))


# -- Azure ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", LAPTOP_OWNED)
@pytest.mark.parametrize("action", AZURE_BLOB_CHANGES)
def test_azure_condition_refuses_writes_to_what_the_laptop_publishes(action: str, path: str) -> None:
    assert not azure_allows(azure_state_write_condition(), action, path)


@pytest.mark.parametrize("path", LAPTOP_OWNED + WORKER_WRITES)
def test_azure_condition_leaves_reads_alone(path: str) -> None:
    assert azure_allows(azure_state_write_condition(), f"{BLOB}/read", path)


@pytest.mark.parametrize("path", WORKER_WRITES)
@pytest.mark.parametrize("action", [f"{BLOB}/add/action", f"{BLOB}/write"])
def test_azure_condition_keeps_the_worker_s_own_writes(action: str, path: str) -> None:
    assert azure_allows(azure_state_write_condition(), action, path)


def test_the_state_role_assignment_carries_the_condition(bundle: str) -> None:
    d = run_under_mocks(make_spec("azure", bundle))
    assignments = {r.name: r.inputs for r in d.of_type("azure-native:authorization:RoleAssignment")}
    state = assignments["grant-state"]
    assert state["condition"] == azure_state_write_condition() and state["conditionVersion"] == "2.0"
    # every blob change the state role grants is one the condition names
    granted = {a for a in azure_state_data_actions() if a.startswith(BLOB) and not a.endswith("/read")}
    assert granted <= set(AZURE_BLOB_CHANGES)
    # the other assignments are unchanged: no condition
    assert all("condition" not in a for name, a in assignments.items() if name != "grant-state")


# -- GCP -----------------------------------------------------------------------------------------------------
def test_gcp_state_bindings_read_everything_and_write_outside_the_laptop_s_objects(bundle: str) -> None:
    d = run_under_mocks(make_spec("gcp", bundle))
    bindings = {r.name: r.inputs for r in d.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")}
    read, write = bindings["grant-state-read"], bindings["grant-state"]
    assert read["role"] == GCP_STATE_BINDINGS["state-read"] == "roles/storage.objectViewer"
    assert "condition" not in read
    assert write["role"] == GCP_STATE_BINDINGS["state"] == "roles/storage.objectUser"
    assert read["bucket"] == write["bucket"]
    expression = write["condition"]["expression"]
    assert expression == gcp_state_write_condition(write["bucket"])
    objects = f"projects/_/buckets/{write['bucket']}/objects/"
    for key in LAPTOP_OWNED:
        assert not gcp_allows(expression, objects + key), key
    for key in WORKER_WRITES:
        assert gcp_allows(expression, objects + key), key
    # bucket-level calls (list) name the bucket itself: the write binding still matches them
    assert gcp_allows(expression, f"projects/_/buckets/{write['bucket']}")
    # another bucket's settings are not this condition's business (the binding is on the state bucket only)
    assert gcp_allows(expression, "projects/_/buckets/other/objects/settings/effective.json")
