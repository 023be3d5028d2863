"""Azure SDK clients: ARM management clients and the Blob service.

- Management clients take an azure-core ``transport`` (tests replay recorded-shape responses there, so the real
  client code runs) and use azure-core's retry policy (429 and 5xx, honouring ``Retry-After``).
- Blob: ``AZURE_STORAGE_CONNECTION_STRING`` (azurite's or a real account's) wins over an account URL, as the
  Azure CLI and SDK samples do.
"""

from __future__ import annotations

import os
from typing import Any

from escher.errors import EscherError
from escher.lazy import require

__all__ = ["MGMT_CLIENTS", "AzureSetupError", "blob_service", "credential", "errors", "mgmt_client"]

MGMT_CLIENTS: dict[str, tuple[str, str]] = {
    "compute": ("azure.mgmt.compute", "ComputeManagementClient"),
    "network": ("azure.mgmt.network", "NetworkManagementClient"),
    "storage": ("azure.mgmt.storage", "StorageManagementClient"),
    "sql": ("azure.mgmt.sql", "SqlManagementClient"),
}


class AzureSetupError(EscherError):
    """Escher cannot build an Azure client from what is configured."""


def credential() -> Any:
    """``DefaultAzureCredential``: environment, managed identity, Azure CLI login, ... in the SDK's order."""
    identity = require("azure.identity", "azure")
    return identity.DefaultAzureCredential()


def mgmt_client(
    kind: str,
    subscription_id: str,
    *,
    credential_: Any = None,
    transport: Any = None,
    retry_total: int | None = None,
    **kwargs: Any,
) -> Any:
    """An ARM client (``compute``, ``network``, ``storage``, ``sql``) for one subscription."""
    try:
        module_name, class_name = MGMT_CLIENTS[kind]
    except KeyError:
        raise AzureSetupError(
            f"no Azure management client named {kind!r}", hint=f"use one of {', '.join(MGMT_CLIENTS)}"
        ) from None
    cls = getattr(require(module_name, "azure"), class_name)
    if transport is not None:
        kwargs["transport"] = transport
    if retry_total is not None:
        kwargs["retry_total"] = retry_total
    return cls(credential_ if credential_ is not None else credential(), subscription_id, **kwargs)


def blob_service(
    *, connection_string: str | None = None, account_url: str | None = None, credential_: Any = None
) -> Any:
    """A ``BlobServiceClient`` from a connection string (argument or env) or an account URL."""
    blob = require("azure.storage.blob", "azure")
    conn = connection_string or os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
    if conn:
        return blob.BlobServiceClient.from_connection_string(conn)
    if account_url:
        return blob.BlobServiceClient(account_url, credential=credential_ or credential())
    raise AzureSetupError(
        "no Azure Storage account is configured",
        hint="set AZURE_STORAGE_CONNECTION_STRING (azurite's works too) or pass the account URL",
    )


def errors() -> tuple[type[BaseException], ...]:
    """What an Azure call raises once azure-core's retry policy gave up."""
    exc = require("azure.core.exceptions", "azure")
    return (exc.AzureError,)


def is_not_found(error: BaseException) -> bool:
    return getattr(error, "status_code", None) == 404
