"""Google Cloud clients: Cloud Storage, Compute Engine (REST transport) and Cloud SQL Admin (discovery).

Endpoints: google-cloud-storage honours ``STORAGE_EMULATOR_HOST`` by itself; Compute honours gcloud's
``CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE`` here. Retries: google-api-core's default retry on each method
(Compute, Storage: 429/5xx with exponential backoff) and googleapiclient's ``num_retries`` for Cloud SQL.
"""

from __future__ import annotations

import os
from typing import Any

from escher.lazy import require

__all__ = [
    "COMPUTE_CLIENTS",
    "OPERATIONS_CLIENTS",
    "compute_client",
    "credentials",
    "errors",
    "sqladmin",
    "storage_client",
]

COMPUTE_CLIENTS = {
    "instances": "InstancesClient",
    "snapshots": "SnapshotsClient",
    "disks": "DisksClient",
    "firewalls": "FirewallsClient",
}
# The clients that poll long-running operations (ExtendedOperation.result()), keyed as each transport caches them.
OPERATIONS_CLIENTS = {
    "zone_operations": "ZoneOperationsClient",
    "region_operations": "RegionOperationsClient",
    "global_operations": "GlobalOperationsClient",
}


def credentials() -> Any:
    """Application Default Credentials (``GOOGLE_APPLICATION_CREDENTIALS``, gcloud login, metadata server)."""
    google_auth = require("google.auth", "gcp")
    creds, _project = google_auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return creds


def storage_client(project: str | None = None, *, credentials_: Any = None) -> Any:
    storage = require("google.cloud.storage", "gcp")
    if os.environ.get("STORAGE_EMULATOR_HOST"):  # the emulator needs no credentials; the SDK knows the host
        return storage.Client(project=project or os.environ.get("GOOGLE_CLOUD_PROJECT", "escher-local"))
    return storage.Client(project=project, credentials=credentials_)


def compute_client(kind: str, *, credentials_: Any = None, session_adapter: Any = None) -> Any:
    """A google-cloud-compute client over its REST transport.

    ``session_adapter`` (a ``requests`` transport adapter) is mounted on the transport's ``AuthorizedSession``:
    tests replay recorded-shape responses there, a proxy can sit there; the SDK's own code runs unchanged.

    A mutating call returns an ``ExtendedOperation`` that polls through a *separate* operations client, which
    the transport builds on first use from the credentials alone: without the endpoint override and without
    the session adapter. So the operations clients are built here the same way as the client itself and put
    in the transport's cache of them (``_extended_operations_services``, where the transport looks first):
    polling goes where the call went.
    """
    creds = credentials_ if credentials_ is not None else credentials()
    client = _build_compute(COMPUTE_CLIENTS[kind], creds, session_adapter)
    transport = client._transport
    for key, class_name in OPERATIONS_CLIENTS.items():
        transport._extended_operations_services[key] = _build_compute(class_name, creds, session_adapter)
    return client


def _build_compute(class_name: str, creds: Any, session_adapter: Any) -> Any:
    compute = require("google.cloud.compute_v1", "gcp")
    options: dict[str, Any] = {}
    if endpoint := os.environ.get("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE"):
        options["api_endpoint"] = endpoint.rstrip("/").removesuffix("/compute/v1")
    client = getattr(compute, class_name)(credentials=creds, transport="rest", client_options=options or None)
    if session_adapter is not None:
        session = client._transport._session  # the transport's requests.Session (typed attribute)
        session.mount("https://", session_adapter)
        session.mount("http://", session_adapter)
    return client


def sqladmin(*, credentials_: Any = None, http: Any = None) -> Any:
    """Cloud SQL Admin v1 from the discovery document shipped with google-api-python-client (no fetch)."""
    discovery = require("googleapiclient.discovery", "gcp")
    if http is not None:
        return discovery.build("sqladmin", "v1", http=http, static_discovery=True, cache_discovery=False)
    return discovery.build(
        "sqladmin",
        "v1",
        credentials=credentials_ if credentials_ is not None else credentials(),
        static_discovery=True,
        cache_discovery=False,
    )


def errors() -> tuple[type[BaseException], ...]:
    """What a Google call raises once the client's retries gave up."""
    core = require("google.api_core.exceptions", "gcp")
    api = require("googleapiclient.errors", "gcp")
    return (core.GoogleAPIError, api.HttpError)


def is_not_found(error: BaseException) -> bool:
    code = getattr(error, "code", None)
    status = getattr(getattr(error, "resp", None), "status", None)
    return code == 404 or status == 404
