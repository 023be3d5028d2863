"""Deploying on Azure: what differs from the other clouds (:class:`escher.infra.deploy.CloudDeploy`).

The stack takes ``azure:location``. The zip carries ``function_app.py`` and ``host.json`` at its root and the
packages under ``.python_packages/lib/site-packages``. State lives in the blob container the outputs name,
other clouds' credentials in the extension's Key Vault. After ``up``, the steps the program names in its
``post_deploy`` output run in order (:mod:`escher.infra.azure_post_deploy`): OneDeploy of the package (which
syncs the function triggers), the audit policy's lock, then the program again with the triggers synced; a
redeploy starts with them synced. The user schedules ran on the stack's own timer: nothing to remove.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.infra.deploy import (
    BundleLayout,
    CloudDeploy,
    Limit,
    PlanShape,
    PostDeployContext,
    PostDeployStep,
    UserSchedules,
    audit_location,
)

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.infra.credentials import CredentialWriter
    from escher.infra.preflight import PreflightReport
    from escher.infra.spec import ExtensionSpec, WorkerEntryPoints
    from escher.state import ObjectStore

__all__ = ["DEPLOY"]

TRIGGERS_SYNCED = "azure_triggers_synced"  # in the local record: the last deploy's package synced them


def _regions(settings: Settings) -> Sequence[str]:
    return settings.azure.locations


def _stack_config(spec: ExtensionSpec) -> dict[str, str]:
    return {"azure:location": spec.region}


def _shims(requirements: list[str], entry: WorkerEntryPoints) -> dict[str, bytes]:
    return {
        "function_app.py": f"from {entry.azure_script} import app  # noqa: F401\n".encode(),
        "host.json": b'{"version": "2.0", "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", '
        b'"version": "[4.*, 5.0.0)"}}\n',
    }


def _blob_service(account: str) -> Any:
    """The state account's Blob service: the connection string only if it is for that very account."""
    from escher.clouds import azure

    conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING", "")
    fields = dict(p.split("=", 1) for p in conn.split(";") if "=" in p)
    if fields.get("AccountName") == account:
        return azure.blob_service(connection_string=conn)
    return azure.blob_service(account_url=f"https://{account}.blob.core.windows.net")


def _state_store(outputs: Mapping[str, Any]) -> ObjectStore:
    from escher.clouds.azure.state import AzureBlobStore

    account = str(outputs["state_account"])
    return AzureBlobStore(str(outputs["state_container"]), service=_blob_service(account))


def _credential_writer(outputs: Mapping[str, Any], prefix: str) -> CredentialWriter:
    from escher.infra.credentials import KeyVaultWriter

    return KeyVaultWriter(str(outputs["key_vault"]), prefix)


def _preflight(spec: ExtensionSpec, clients: Mapping[str, Any]) -> PreflightReport:
    from escher.infra.preflight import check_azure

    return check_azure(spec, transport=clients.get("transport"), credential=clients.get("credential"))


def _local_credentials(env: Mapping[str, str]) -> str | None:
    """The service principal in azure-identity's ``AZURE_*`` variables, which the AWS worker scans with."""
    from escher.extend.cloud_credentials import CloudCredentialError, azure_from_env

    try:
        return azure_from_env(env).value
    except CloudCredentialError:  # none here: 'escher extend credentials azure' says what to do
        return None


def _prepare(spec: ExtensionSpec, record: Mapping[str, Any]) -> ExtensionSpec:
    # a redeploy keeps the Event Grid subscription: the last deploy's package synced the triggers
    return replace(spec, azure_triggers_synced=True) if record.get(TRIGGERS_SYNCED) else spec


def _post_deploy(ctx: PostDeployContext) -> list[PostDeployStep]:
    """The program's ``post_deploy`` steps, in order; an unknown step raises before any runs."""
    from escher.infra.azure_post_deploy import LOCK_AUDIT, ONE_DEPLOY, AzurePostDeploy, step_kind

    kinds = [step_kind(str(step)) for step in ctx.outputs["post_deploy"]]
    steps = (ctx.deployer or AzurePostDeploy)()

    def one_deploy() -> dict[str, Any]:
        done: dict[str, Any] = steps.one_deploy(ctx.outputs, Path(ctx.spec.bundle_path))
        ctx.record[TRIGGERS_SYNCED] = True  # OneDeploy syncs the triggers
        return done

    def lock_audit() -> dict[str, Any]:
        done: dict[str, Any] = steps.lock_audit(ctx.outputs)
        return done

    def rerun(kind: str) -> dict[str, Any]:
        # the program again, now that functions/<on_event_grid> can be named
        steps.wait_for_function(ctx.outputs, ctx.spec.entry_points.azure_functions[0])
        ctx.outputs, changes = ctx.rerun(replace(ctx.spec, azure_triggers_synced=True))
        return {"step": kind, "changes": changes}

    def step(kind: str) -> PostDeployStep:
        if kind == ONE_DEPLOY:
            return kind, one_deploy
        if kind == LOCK_AUDIT:
            return kind, lock_audit
        return kind, lambda: rerun(kind)  # step_kind knows no other

    return [step(kind) for kind in kinds]


def _user_schedules(outputs: Mapping[str, Any], scheduler: Any) -> UserSchedules:
    # no cloud object per schedule: the stack's every-minute timer, in the function app, ran them
    return "the user schedules ran on the stack's timer, which went with the function app", [], ""


def _mock_outputs(typ: str, name: str, inputs: Mapping[str, Any], outputs: dict[str, Any]) -> None:
    if typ == "azure-native:web:WebApp":
        outputs.setdefault("defaultHostName", f"{name}-mock.azurewebsites.net")


PLAN = PlanShape(
    prices={
        "azure-native:storage:StorageAccount": (0.10, "Blob LRS: ~100 MB + ~10k transactions"),
        "azure-native:keyvault:Vault": (
            0.03,
            "Key Vault standard: $0.03 per 10k operations, no per-secret fee",
        ),
        "azure-native:web:AppServicePlan": (
            0.0,
            "Functions Flex Consumption (FC1): on demand, 100k GB-s and 250k executions free a month",
        ),
        "azure-native:operationalinsights:Workspace": (
            0.0,
            "Log Analytics: a few MB a month, first 5 GB free; capped at 0.1 GB a day",
        ),
        "azure-native:applicationinsights:Component": (
            0.0,
            "Application Insights: billed as the workspace's data",
        ),
        "azure-native:monitor:ActionGroup": (0.0, "action group: Azure Function receivers are free"),
        "azure-native:monitor:ActivityLogAlert": (0.0, "activity log alert rules: free"),
        "azure-native:web:WebApp": (
            0.20,
            "Functions host: storage transactions of its runtime (leases, logs)",
        ),
        "azure-native:eventgrid:SystemTopic": (0.0, "Event Grid: first 100k operations free"),
    },
    # app settings are {"name", "value"} pairs
    worker_function=("azure-native:web:WebApp", ("siteConfig", "appSettings")),
    calls={
        "azure-native:authorization:getClientConfig": {
            "clientId": "client-mock",
            "objectId": "object-mock",
            "subscriptionId": "00000000-0000-0000-0000-000000000000",
            "tenantId": "11111111-1111-1111-1111-111111111111",
        },
    },
    mock_outputs=_mock_outputs,
)

DEPLOY = CloudDeploy(
    cloud="azure",
    default_region="eastus",
    default_lock_mode="governance",
    regions=_regions,
    watches_regions=False,
    stack_config=_stack_config,
    bundle=BundleLayout(
        limit=Limit(None, 1000, "Functions Consumption run-from-package: ~1 GB of local storage for the app"),
        runtime="azure-functions",
        site=".python_packages/lib/site-packages/",
        shims=_shims,
        scan_packages=("azure-identity", "azure-storage-blob", "azure-mgmt-"),
    ),
    retained="the resource group with the audit storage account is kept: blobs under the immutability policy "
    "cannot be deleted before it expires",
    state_store=_state_store,
    credential_writer=_credential_writer,
    preflight=_preflight,
    audit_location=audit_location,
    user_schedules=_user_schedules,
    local_credentials=_local_credentials,
    prepare=_prepare,
    post_deploy=_post_deploy,
    plan=PLAN,
)
