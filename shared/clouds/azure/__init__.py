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
    "arm_endpoint_policy",
    "arm_pipeline_client",
    "blob_service",
    "check_locations",
    "credential",
    "errors",
    "is_not_found",
    "key_vault_secrets",
    "match_conditions",
    "mgmt_client",
    "pipeline_client",
    "request",
    "service_principal_credential",
    "storage_errors",
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


def service_principal_credential(
    tenant_id: str,
    client_id: str,
    *,
    client_secret: str | None = None,
    certificate_pem: bytes = b"",
    **options: Any,
) -> Any:
    """A service principal's credential: its secret, else its certificate (PEM)."""
    identity = require("azure.identity", "azure")
    if client_secret is not None:
        return identity.ClientSecretCredential(tenant_id, client_id, client_secret, **options)
    return identity.CertificateCredential(tenant_id, client_id, certificate_data=certificate_pem, **options)


def pipeline_client(base_url: str, scope: str, *, credential_: Any = None, transport: Any = None) -> Any:
    """An azure-core ``PipelineClient`` for a REST API the SDK has no client for (Cost Management): bearer
    token for ``scope``, azure-core's retry policy."""
    core = require("azure.core", "azure")
    policies = require("azure.core.pipeline.policies", "azure")
    kwargs: dict[str, Any] = {
        "policies": [
            policies.HeadersPolicy(),
            policies.RetryPolicy(),
            policies.BearerTokenCredentialPolicy(
                credential_ if credential_ is not None else credential(), scope
            ),
            policies.NetworkTraceLoggingPolicy(),
        ]
    }
    if transport is not None:
        kwargs["transport"] = transport
    return core.PipelineClient(base_url, **kwargs)


def arm_pipeline_client(
    base_url: str, *, credential_: Any = None, transport: Any = None, retry_total: int = 3
) -> Any:
    """An ``ARMPipelineClient`` for Resource Manager REST calls (the Activity Log, say), with ARM's challenge
    authentication."""
    mgmt_core = require("azure.mgmt.core", "azure")
    mgmt_policies = require("azure.mgmt.core.policies", "azure")
    policies = require("azure.core.pipeline.policies", "azure")
    cred = credential_ if credential_ is not None else credential()
    kwargs: dict[str, Any] = {}
    if transport is not None:
        kwargs["transport"] = transport
    return mgmt_core.ARMPipelineClient(
        base_url=base_url,
        policies=[
            policies.RetryPolicy(retry_total=retry_total),
            mgmt_policies.ARMChallengeAuthenticationPolicy(cred, f"{base_url}/.default"),
        ],
        **kwargs,
    )


def request(method: str, url: str, **kwargs: Any) -> Any:
    """An azure-core ``HttpRequest`` for a pipeline client's ``send_request``."""
    return require("azure.core.rest", "azure").HttpRequest(method, url, **kwargs)


def arm_endpoint_policy(endpoint: str, public: str = "https://management.azure.com") -> Any:
    """An azure-core policy sending every request meant for ``public`` (the public ARM) to ``endpoint``: the
    SDK clients' own URLs and absolute ones alike (a sovereign cloud's ARM, or a local stand-in in tests)."""
    policies = require("azure.core.pipeline.policies", "azure")
    base = endpoint.rstrip("/")

    class ArmEndpoint(policies.SansIOHTTPPolicy):  # type: ignore[misc,name-defined]
        def on_request(self, request: Any) -> None:
            url = str(request.http_request.url)
            if url.startswith(public):
                request.http_request.url = base + url[len(public) :]

    return ArmEndpoint()


def key_vault_secrets(
    vault: str, *, credential_: Any = None, transport: Any = None, retry_total: int = 2
) -> Any:
    """A Key Vault ``SecretClient`` for ``https://<vault>.vault.azure.net``."""
    options: dict[str, Any] = {"retry_total": retry_total}
    if transport is not None:
        options["transport"] = transport
    return require("azure.keyvault.secrets", "azure").SecretClient(
        f"https://{vault}.vault.azure.net",
        credential_ if credential_ is not None else credential(),
        **options,
    )


def storage_errors() -> Any:
    """``azure.core.exceptions``: the storage backends tell not-found, exists and modified apart."""
    return require("azure.core.exceptions", "azure")


def match_conditions() -> Any:
    """azure-core's ``MatchConditions`` (conditional writes on an ETag)."""
    return require("azure.core", "azure").MatchConditions


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
