"""The Azure steps after ``pulumi up`` on azure-core, replayed at its transport: the exact requests, in order.

OneDeploy of the package to the app's SCM host (read from ARM: Flex apps have generated host names), its status
read from the body until it succeeded or failed; the audit immutability policy locked with its ETag (left alone
when locked already); the synced function awaited in ARM. Every step's program output is one the driver knows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from escher.infra.azure_post_deploy import (
    LOCK_AUDIT,
    ONE_DEPLOY,
    RERUN_SYNCED,
    AzurePostDeploy,
    PostDeployError,
    step_kind,
)
from tests.functional.infra.conftest import make_spec, run_under_mocks
from tests.functional.infra.replay import Answer, AzureToken, AzureTransport, Replay

SUB = "00000000-0000-0000-0000-0000000000aa"
GROUP = "group4f2a1b"
APP = "worker9c3d2e"
SCM = f"{APP}-b7ckd3ejfkh0a1bc.scm.westeurope-01.azurewebsites.net"
SITE = f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Web/sites/{APP}"
POLICY = (
    f"/subscriptions/{SUB}/resourceGroups/{GROUP}/providers/Microsoft.Storage/storageAccounts/audit77aa/"
    "blobServices/default/containers/audit5e6f/immutabilityPolicies/default"
)
OUTPUTS = {
    "subscription_id": SUB,
    "resource_group": GROUP,
    "worker": APP,
    "audit_account": "audit77aa",
    "audit_container": "audit5e6f",
}


def _site() -> dict[str, Any]:
    return {
        "id": SITE,
        "name": APP,
        "kind": "functionapp,linux",
        "properties": {
            "state": "Running",
            "hostNameSslStates": [
                {"name": SCM.replace(".scm.", "."), "sslState": "Disabled", "hostType": "Standard"},
                {"name": SCM, "sslState": "Disabled", "hostType": "Repository"},
            ],
        },
    }


def _deployment(status: int, text: str = "") -> dict[str, Any]:
    return {"id": "b1f0c3d2-1111-2222-3333-444455556666", "status": status, "status_text": text,
            "complete": status in (3, 4), "provisioningState": {3: "Failed", 4: "Succeeded"}.get(status)}  # fmt: skip


def _policy(state: str, etag: str = '"8d9e0f1a2b3c4d5"') -> dict[str, Any]:
    return {
        "id": POLICY,
        "name": "default",
        "type": "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies",
        "etag": etag,
        "properties": {"immutabilityPeriodSinceCreationInDays": 400, "state": state,
                       "allowProtectedAppendWrites": True},
    }  # fmt: skip


def _steps(replay: Replay, sleeps: list[float] | None = None, **kw: Any) -> AzurePostDeploy:
    return AzurePostDeploy(
        credential=AzureToken(),
        transport=AzureTransport(replay),
        sleep=(sleeps if sleeps is not None else []).append,
        poll_seconds=2.0,
        **kw,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    zipped = tmp_path / "worker.zip"
    zipped.write_bytes(b"PK\x03\x04 the worker bundle")
    return zipped


def test_one_deploy_posts_the_package_to_the_scm_host_and_waits_for_success(package: Path) -> None:
    replay = Replay(
        Answer("GET", SITE, body=_site()),
        Answer("POST", "/api/publish", status=202, body="b1f0c3d2-1111-2222-3333-444455556666"),
        Answer("GET", "/api/deployments/latest", body=_deployment(2)),  # Flex: 200 while it runs
        Answer("GET", "/api/deployments/latest", body=_deployment(4)),
    )
    sleeps: list[float] = []
    done = _steps(replay, sleeps).one_deploy(OUTPUTS, package)
    replay.done()
    get_site, publish, *polls = replay.requests
    assert get_site.url == f"https://management.azure.com{SITE}?api-version=2024-04-01"
    assert publish.url == f"https://{SCM}/api/publish?RemoteBuild=false"
    assert publish.body == package.read_bytes() and publish.headers["content-type"] == "application/zip"
    assert all(r.headers["authorization"] == "Bearer kv-token" for r in replay.requests)
    assert [p.url for p in polls] == [f"https://{SCM}/api/deployments/latest"] * 2
    assert sleeps == [2.0]
    assert done == {"step": ONE_DEPLOY, "app": APP, "deployment": "b1f0c3d2-1111-2222-3333-444455556666",
                    "bytes": package.stat().st_size}  # fmt: skip


def test_a_failed_deployment_is_read_from_the_body_and_says_where_to_look(package: Path) -> None:
    replay = Replay(
        Answer("GET", SITE, body=_site()),
        Answer("POST", "/api/publish", status=202),
        Answer("GET", "/api/deployments/latest", body=_deployment(3, "ModuleNotFoundError: escher")),
    )
    with pytest.raises(PostDeployError) as err:
        _steps(replay).one_deploy(OUTPUTS, package)
    assert "ModuleNotFoundError: escher" in err.value.message
    assert f"az functionapp log deployment show --name {APP}" in (err.value.hint or "")


def test_a_running_deployment_and_a_denied_one_are_told_apart(package: Path) -> None:
    busy = Replay(Answer("GET", SITE, body=_site()), Answer("POST", "/api/publish", status=409))
    with pytest.raises(PostDeployError, match="409") as err:
        _steps(busy).one_deploy(OUTPUTS, package)
    assert "another deployment" in (err.value.hint or "")
    denied = Replay(
        Answer("GET", SITE, status=403, body={"error": {"code": "AuthorizationFailed",
                                                       "message": "does not have authorization"}}),
    )  # fmt: skip
    with pytest.raises(PostDeployError, match="403 \\(does not have authorization\\)") as err:
        _steps(denied).one_deploy(OUTPUTS, package)
    assert "Website Contributor" in (err.value.hint or "")


def test_a_deployment_that_never_ends_stops_at_the_timeout(package: Path) -> None:
    replay = Replay(
        Answer("GET", SITE, body=_site()),
        Answer("POST", "/api/publish", status=202),
        *[Answer("GET", "/api/deployments/latest", body=_deployment(1)) for _ in range(3)],
    )
    with pytest.raises(PostDeployError, match="still running"):
        _steps(replay, timeout_seconds=4.0).one_deploy(OUTPUTS, package)
    replay.done()


def test_the_audit_policy_is_locked_with_its_etag(package: Path) -> None:
    replay = Replay(
        Answer("GET", POLICY, body=_policy("Unlocked")),
        Answer("POST", f"{POLICY}/lock", body=_policy("Locked", '"8d9e0f1a2b3c4d6"')),
    )
    done = _steps(replay).lock_audit(OUTPUTS)
    replay.done()
    read, lock = replay.requests
    assert read.query == {"api-version": ["2023-05-01"]} and lock.query == {"api-version": ["2023-05-01"]}
    assert lock.headers["if-match"] == '"8d9e0f1a2b3c4d5"' and lock.body == b""
    assert done == {"step": LOCK_AUDIT, "container": "audit5e6f", "state": "Locked", "already": False}


def test_a_locked_policy_is_left_alone_and_a_changed_etag_says_run_again() -> None:
    locked = Replay(Answer("GET", POLICY, body=_policy("Locked")))
    assert _steps(locked).lock_audit(OUTPUTS)["already"] is True
    locked.done()
    raced = Replay(
        Answer("GET", POLICY, body=_policy("Unlocked")),
        Answer("POST", f"{POLICY}/lock", status=412,
               body={"error": {"code": "ConditionNotMet", "message": "The condition specified was not met"}}),
    )  # fmt: skip
    with pytest.raises(PostDeployError, match="412") as err:
        _steps(raced).lock_audit(OUTPUTS)
    assert "run 'escher extend azure' again" in (err.value.hint or "")


def test_the_synced_function_is_awaited_in_arm() -> None:
    function = f"{SITE}/functions/on_event_grid"
    replay = Replay(
        Answer("GET", function, status=404, body={"error": {"code": "NotFound", "message": "Not Found"}}),
        Answer("GET", function, body={"id": function, "name": f"{APP}/on_event_grid", "properties": {}}),
    )
    sleeps: list[float] = []
    _steps(replay, sleeps).wait_for_function(OUTPUTS, "on_event_grid")
    replay.done()
    assert sleeps == [2.0]
    never = Replay(*[Answer("GET", function, status=404) for _ in range(2)])
    with pytest.raises(PostDeployError, match="not synced"):
        _steps(never, timeout_seconds=2.0).wait_for_function(OUTPUTS, "on_event_grid")


def test_outputs_without_what_a_step_needs_say_so_before_any_request(package: Path) -> None:
    replay = Replay()
    with pytest.raises(PostDeployError, match="subscription_id"):
        _steps(replay).one_deploy({k: v for k, v in OUTPUTS.items() if k != "subscription_id"}, package)
    assert replay.requests == []


def test_every_step_the_program_names_is_one_the_driver_runs(bundle: str) -> None:
    first = run_under_mocks(make_spec("azure", bundle, audit_lock_mode="compliance")).outputs
    assert [step_kind(s) for s in first["post_deploy"]] == [ONE_DEPLOY, LOCK_AUDIT, RERUN_SYNCED]
    assert first["subscription_id"]  # what the steps address ARM with
    with pytest.raises(PostDeployError, match="does not know"):
        step_kind("az something-new")
