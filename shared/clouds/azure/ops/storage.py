"""Azure Storage: container public access (data plane, Blob API) and account settings (ARM).

Targets: a container name for the data-plane operation (the account comes from the connection string), an ARM
storage account id for the account-level ones.
"""

from __future__ import annotations

from typing import Any

from escher.ops._common import missing_as_not_found, parse_arm_id
from escher.ops.model import Call, Risk, operation

ACCOUNT = ("storageAccounts",)


def _container(call: Call) -> Any:
    return call.ctx.azure_blob().get_container_client(call.target.resource_id)


def fetch_container(call: Call) -> dict[str, Any]:
    with missing_as_not_found(call, "blob container"):
        props = _container(call).get_container_properties()
    return {"public_access": props.public_access}


def _make_private(call: Call, state: dict[str, Any]) -> None:
    container = _container(call)
    # keep the stored access policies: only the anonymous access level changes
    identifiers = container.get_container_access_policy().get("signed_identifiers") or []
    container.set_container_access_policy(
        signed_identifiers={i.id: i.access_policy for i in identifiers}, public_access=None
    )


operation(
    id="azure.storage.make_container_private",
    description="Turn off anonymous read access on a blob container (stored access policies are kept).",
    risk=Risk.medium,
    permissions=(
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
    ),
    cli="az storage container set-permission --name {target} --public-access off",
    fetch=fetch_container,
    wanted=lambda call, state: {"public_access": None},
    apply=_make_private,
    reversible=True,
)


def _storage(call: Call) -> tuple[Any, Any]:
    arm = parse_arm_id(call.target.resource_id, *ACCOUNT)
    return call.ctx.azure("storage", arm.subscription), arm


def fetch_account(call: Call) -> dict[str, Any]:
    client, arm = _storage(call)
    with missing_as_not_found(call, "storage account"):
        acct = client.storage_accounts.get_properties(arm.resource_group, arm.name)
    return {
        "allow_blob_public_access": acct.allow_blob_public_access,
        "https_only": acct.enable_https_traffic_only,
        "minimum_tls_version": acct.minimum_tls_version,
    }


def _update_account(**changes: Any) -> Any:
    def apply(call: Call, state: dict[str, Any]) -> None:
        from escher.lazy import require

        models = require("azure.mgmt.storage.models", "azure")
        client, arm = _storage(call)
        client.storage_accounts.update(
            arm.resource_group, arm.name, models.StorageAccountUpdateParameters(**changes)
        )

    return apply


operation(
    id="azure.storage.disallow_blob_public_access",
    description="Disallow anonymous blob access on a whole storage account (overrides every container).",
    risk=Risk.medium,
    permissions=("Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/write"),
    cli="az storage account update --ids {target} --allow-blob-public-access false",
    fetch=fetch_account,
    wanted=lambda call, state: {"allow_blob_public_access": False},
    apply=_update_account(allow_blob_public_access=False),
    reversible=True,
)

operation(
    id="azure.storage.require_secure_transfer",
    description="Require HTTPS (secure transfer) and TLS 1.2 for a storage account.",
    risk=Risk.low,
    permissions=("Microsoft.Storage/storageAccounts/read", "Microsoft.Storage/storageAccounts/write"),
    cli="az storage account update --ids {target} --https-only true --min-tls-version TLS1_2",
    fetch=fetch_account,
    wanted=lambda call, state: {"https_only": True, "minimum_tls_version": "TLS1_2"},
    apply=_update_account(enable_https_traffic_only=True, minimum_tls_version="TLS1_2"),
    reversible=True,
)
