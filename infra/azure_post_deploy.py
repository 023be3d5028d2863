"""What ``escher extend azure`` does after ``pulumi up``: the steps no provider resource performs.

The program names them in its ``post_deploy`` output (:func:`escher.infra.azure.post_deploy_steps`), as commands
a person could run; the driver runs each in order through :class:`AzurePostDeploy`, on azure-core (the same
credential as the rest of Escher, a transport the tests replay):

1. OneDeploy: ``POST https://<scm host>/api/publish?RemoteBuild=false`` with the worker zip (the bundle carries
   its packages, so nothing is built remotely), then ``GET /api/deployments/latest`` until it has succeeded or
   failed. Flex Consumption takes code only this way; it syncs the function triggers. The SCM host is read from
   the app (``hostNameSslStates`` of type Repository): Flex apps have a generated host name.
2. The lock of the audit container's immutability policy (compliance mode): ``GET`` the policy for its ETag,
   ``POST .../lock`` with ``If-Match``. An already locked policy is left as it is (a second ``extend``).
3. Before the program runs again with the triggers synced: ``functions/<on_event_grid>`` must exist in ARM, or
   the Event Grid subscription fails with "Destination endpoint not found"; it is polled until it does.

Pitfalls: Flex answers 200 while a deployment runs and after it failed, so the status is read from the body
(Kudu's ``status``: 3 failed, 4 succeeded); a 409 on publish means another deployment is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from escher.infra.program import InfraError

__all__ = [
    "AzurePostDeploy",
    "PostDeployError",
    "PostDeployer",
    "StepKind",
    "step_kind",
]

ARM = "https://management.azure.com"
WEB_API = "2024-04-01"
STORAGE_API = "2023-05-01"  # the immutability policy (as infra/azure.py's commands use)
DEPLOY_FAILED, DEPLOY_SUCCEEDED = 3, 4  # Kudu's DeployStatus
StepKind = str
ONE_DEPLOY: StepKind = "one_deploy"
LOCK_AUDIT: StepKind = "lock_audit"
RERUN_SYNCED: StepKind = "rerun_with_triggers_synced"


class PostDeployError(InfraError):
    """A step after ``pulumi up`` failed: the resources exist; ``escher extend azure`` again resumes."""


def step_kind(step: str) -> StepKind:
    """Which step a ``post_deploy`` entry is (the program writes them as commands a person could run)."""
    if step.startswith("az functionapp deployment source config-zip "):
        return ONE_DEPLOY
    if "/immutabilityPolicies/default/lock?" in step:
        return LOCK_AUDIT
    if step.startswith("escher extend azure"):
        return RERUN_SYNCED
    raise PostDeployError(
        f"the Azure program asks for a step after the deploy that this driver does not know: {step[:200]}",
        hint="run it yourself, then 'escher extend azure' again; and report it (program and driver disagree)",
    )


class PostDeployer(Protocol):
    def one_deploy(self, outputs: Mapping[str, Any], bundle: Path) -> dict[str, Any]: ...

    def lock_audit(self, outputs: Mapping[str, Any]) -> dict[str, Any]: ...

    def wait_for_function(self, outputs: Mapping[str, Any], function: str) -> None: ...


def _required(outputs: Mapping[str, Any], *keys: str) -> list[str]:
    missing = [k for k in keys if not outputs.get(k)]
    if missing:
        raise PostDeployError(
            f"the azure stack's outputs lack {', '.join(missing)}: the post-deploy steps cannot be run",
            hint="run 'escher extend azure' again (it records the outputs of this version)",
        )
    return [str(outputs[k]) for k in keys]


class AzurePostDeploy:
    """The post-deploy steps on ARM and the app's SCM site, with the deploying identity's token."""

    def __init__(
        self,
        *,
        credential: Any = None,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 2.0,
        timeout_seconds: float = 900.0,
    ) -> None:
        from escher.lazy import require

        core = require("azure.core", "azure")
        policies = require("azure.core.pipeline.policies", "azure")
        self._rest = require("azure.core.rest", "azure")
        self._errors: tuple[type[BaseException], ...] = (
            require("azure.core.exceptions", "azure").AzureError,
        )
        if credential is None:
            from escher.clouds.azure import credential as default_credential

            credential = default_credential()
        # the SCM site takes an ARM token (as 'az functionapp deployment' sends)
        kwargs: dict[str, Any] = {"policies": [policies.HeadersPolicy(), policies.RetryPolicy(retry_total=2),
                                  policies.BearerTokenCredentialPolicy(credential, f"{ARM}/.default")]}  # fmt: skip
        if transport is not None:
            kwargs["transport"] = transport
        self._client = core.PipelineClient(ARM, **kwargs)
        self._sleep, self._poll, self._timeout = sleep, poll_seconds, timeout_seconds

    # -- the steps -------------------------------------------------------------------------------------------
    def one_deploy(self, outputs: Mapping[str, Any], bundle: Path) -> dict[str, Any]:
        sub, group, app = _required(outputs, "subscription_id", "resource_group", "worker")
        try:
            package = bundle.read_bytes()
        except OSError as exc:
            raise PostDeployError(
                f"cannot read the worker bundle {bundle}: {exc.strerror or exc}",
                hint="run 'escher extend azure' again: it builds the bundle",
            ) from exc
        site = self._json("GET", f"{_site(sub, group, app)}?api-version={WEB_API}", "read the function app")
        scm = next(
            (s.get("name") for s in site.get("properties", {}).get("hostNameSslStates", [])
             if s.get("hostType") == "Repository" and s.get("name")),
            None,
        )  # fmt: skip
        if not scm:
            raise PostDeployError(
                f"the function app {app} names no SCM (deployment) host",
                hint="check that it is a Flex Consumption app with basic publishing not required; then run "
                "'escher extend azure' again",
            )
        self._send(
            "POST",
            f"https://{scm}/api/publish?RemoteBuild=false",
            "deploy the worker package (OneDeploy)",
            content=package,
            headers={"Content-Type": "application/zip"},
            ok=(200, 202),
        )
        deadline = self._timeout
        while True:
            status = self._json("GET", f"https://{scm}/api/deployments/latest", "read the deployment status")
            code = status.get("status")
            if code == DEPLOY_SUCCEEDED:
                return {"step": ONE_DEPLOY, "app": app, "deployment": status.get("id"), "bytes": len(package)}
            if code == DEPLOY_FAILED:
                raise PostDeployError(
                    f"deploying the worker package to {app} failed: "
                    f"{status.get('status_text') or status.get('message') or 'no reason given'}",
                    hint=f"see 'az functionapp log deployment show --name {app} --resource-group {group}'; "
                    "then run 'escher extend azure' again",
                )
            if deadline <= 0:
                raise PostDeployError(
                    f"the deployment of the worker package to {app} is still running after "
                    f"{self._timeout:.0f} s",
                    hint=f"follow it with 'az functionapp log deployment show --name {app} --resource-group "
                    f"{group}'; once it succeeded, run 'escher extend azure' again",
                )
            self._sleep(self._poll)
            deadline -= self._poll

    def lock_audit(self, outputs: Mapping[str, Any]) -> dict[str, Any]:
        sub, group, account, container = _required(
            outputs, "subscription_id", "resource_group", "audit_account", "audit_container"
        )
        policy = (
            f"{ARM}/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/"
            f"{account}/blobServices/default/containers/{container}/immutabilityPolicies/default"
        )
        current = self._json(
            "GET", f"{policy}?api-version={STORAGE_API}", "read the audit immutability policy"
        )
        if str(current.get("properties", {}).get("state", "")).lower() == "locked":
            return {"step": LOCK_AUDIT, "container": container, "state": "Locked", "already": True}
        etag = current.get("etag")
        if not etag:
            raise PostDeployError(
                f"the immutability policy of {account}/{container} has no ETag to lock it with",
                hint="run 'escher extend azure' again",
            )
        locked = self._json(
            "POST",
            f"{policy}/lock?api-version={STORAGE_API}",
            "lock the audit immutability policy",
            headers={"If-Match": str(etag)},
        )
        state = str(locked.get("properties", {}).get("state", ""))
        if state.lower() != "locked":
            raise PostDeployError(
                f"Azure answered the lock of {account}/{container}'s immutability policy with state {state!r}",
                hint="check it in the portal (Containers > audit > Access policy); then 'escher extend azure'",
            )
        return {"step": LOCK_AUDIT, "container": container, "state": state, "already": False}

    def wait_for_function(self, outputs: Mapping[str, Any], function: str) -> None:
        sub, group, app = _required(outputs, "subscription_id", "resource_group", "worker")
        url = f"{_site(sub, group, app)}/functions/{function}?api-version={WEB_API}"
        deadline = self._timeout
        while True:
            response = self._send("GET", url, f"read the function {function}", ok=(200, 404))
            if response.status_code == 200:
                return
            if deadline <= 0:
                raise PostDeployError(
                    f"the function {function} of {app} is not in Azure Resource Manager {self._timeout:.0f} s "
                    "after the package was deployed (its triggers are not synced), so the Event Grid "
                    "subscription cannot name it",
                    hint=f"check that the package loads ('az functionapp function list --name {app} "
                    f"--resource-group {group}'); then run 'escher extend azure' again",
                )
            self._sleep(self._poll)
            deadline -= self._poll

    # -- plumbing --------------------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> Any:
        request = self._rest.HttpRequest(method, url, content=content, headers=dict(headers or {}))
        try:
            response = self._client.send_request(request)
        except self._errors as exc:
            from escher.clouds.azure import translate

            failure = translate(exc)
            raise PostDeployError(
                f"cannot {what}: {failure.message if failure else exc}",
                hint=(failure.hint if failure else None) or "run 'escher extend azure' again",
            ) from exc
        if response.status_code not in ok:
            raise _refused(what, response.status_code, _detail(response))
        return response

    def _json(self, method: str, url: str, what: str, *, headers: Mapping[str, str] | None = None) -> Any:
        response = self._send(method, url, what, headers=headers)
        try:
            return response.json()
        except ValueError as exc:
            raise PostDeployError(
                f"cannot {what}: Azure's answer is not JSON", hint="run 'escher extend azure' again"
            ) from exc


def _site(sub: str, group: str, app: str) -> str:
    return f"{ARM}/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Web/sites/{app}"


def _detail(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text() or "")[:300]
    error = body.get("error", body) if isinstance(body, dict) else {}
    return str(error.get("message") or error.get("Message") or error.get("code") or "")[:300]


def _refused(what: str, status: int, detail: str) -> PostDeployError:
    message = f"cannot {what}: Azure answered {status}" + (f" ({detail})" if detail else "")
    if status in (401, 403):
        hint = (
            "your identity needs 'Website Contributor' on the function app (deploy) and 'Storage Account "
            "Contributor' on the audit account (lock); grant them, wait a few minutes, then run 'escher extend "
            "azure' again"
        )
    elif status == 409:
        hint = "another deployment to the app is running: wait for it, then run 'escher extend azure' again"
    elif status == 412:
        hint = "the policy changed while it was being locked: run 'escher extend azure' again"
    elif status == 404:
        hint = "it is not there (deleted, or not created yet): run 'escher extend azure' again"
    else:
        hint = "see the message; then run 'escher extend azure' again"
    return PostDeployError(message, hint=hint)
