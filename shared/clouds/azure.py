"""Azure SDK clients: ARM management clients and the Blob service.

- Management clients take an azure-core ``transport`` (tests replay recorded-shape responses there, so the real
  client code runs) and use azure-core's retry policy (429 and 5xx, honouring ``Retry-After``).
- Blob: ``AZURE_STORAGE_CONNECTION_STRING`` (azurite's or a real account's) wins over an account URL, as the
  Azure CLI and SDK samples do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from escher.clouds.errors import CloudError, Failure, check_names
from escher.errors import EscherError
from escher.lazy import require

__all__ = [
    "LOCATIONS",
    "MGMT_CLIENTS",
    "AzureSetupError",
    "blob_service",
    "check_locations",
    "credential",
    "errors",
    "mgmt_client",
    "translate",
]

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


_CREDENTIALS_HINT = (
    "run 'az login' (or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET for a service principal), "
    "then retry"
)


def translate(exc: BaseException) -> CloudError | None:
    """What an azure-core / azure-identity failure means and what to do; None if ``exc`` is not Azure's."""
    mod = sys.modules.get("azure.core.exceptions")
    if mod is None or not isinstance(exc, mod.AzureError):
        return None
    name = type(exc).__name__
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc).strip().splitlines()[0] if str(exc).strip() else name
    if isinstance(exc, mod.ClientAuthenticationError) and status != 403:
        return CloudError(
            "azure",
            Failure.no_credentials,
            f"Azure credentials are missing or refused: {message}",
            hint=_CREDENTIALS_HINT,
            code=name,
        )
    if isinstance(
        exc, mod.ServiceRequestError
    ):  # the request never got an answer: DNS, connect, TLS, timeout
        return CloudError(
            "azure",
            Failure.unreachable,
            f"cannot reach Azure: {message}",
            hint="check the network (and a proxy) and any endpoint or connection string set",
            code=name,
        )
    if isinstance(exc, mod.ServiceResponseError | mod.DecodeError):
        return CloudError(
            "azure",
            Failure.bad_response,
            f"Azure's answer could not be read: {message}",
            hint="retry; if it persists, check any endpoint or proxy in between",
            code=name,
        )
    if status == 429:
        return CloudError(
            "azure",
            Failure.throttled,
            f"Azure throttled the call after retries: {message}",
            hint="try again in a few minutes",
            code="429",
        )
    if status == 403:
        return CloudError(
            "azure",
            Failure.denied,
            f"Azure denied the call: {message}",
            hint="give this identity the Reader role on the subscription (enough for a scan)",
            code="403",
        )
    return CloudError(
        "azure",
        Failure.refused,
        f"an Azure call failed: {message}",
        hint="see the message; rerun with ESCHER_DEBUG=1 for the details",
        code=str(status or name),
    )


# Azure's public regions (``az account list-locations``); a name missing here but of the right shape is accepted
LOCATIONS = frozenset(
    """australiacentral australiacentral2 australiaeast australiasoutheast austriaeast belgiumcentral brazilsouth
    brazilsoutheast canadacentral canadaeast centralindia centralus chilecentral eastasia eastus eastus2 francecentral
    francesouth germanynorth germanywestcentral indonesiacentral israelcentral italynorth japaneast japanwest
    jioindiacentral jioindiawest koreacentral koreasouth malaysiawest mexicocentral newzealandnorth northcentralus
    northeurope norwayeast norwaywest polandcentral qatarcentral southafricanorth southafricawest southcentralus
    southindia southeastasia spaincentral swedencentral swedensouth switzerlandnorth switzerlandwest uaecentral
    uaenorth uksouth ukwest westcentralus westeurope westindia westus westus2 westus3 usgovarizona usgovtexas
    usgovvirginia chinaeast chinaeast2 chinaeast3 chinanorth chinanorth2 chinanorth3""".split()  # noqa: SIM905 - a word list reads better than 70 quoted strings
)


def check_locations(locations: Iterable[str], where: str = "[azure] locations") -> None:
    """Refuse a location that is a likely typo of a known one (``eastsu``) or not shaped like one."""
    check_names("azure", "location", locations, LOCATIONS, pattern=r"[a-z]+[0-9]?", where=where)
