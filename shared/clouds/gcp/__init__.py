"""Google Cloud clients: Cloud Storage, Compute Engine (REST transport) and Cloud SQL Admin (discovery).

Endpoints: google-cloud-storage honours ``STORAGE_EMULATOR_HOST`` by itself; Compute honours gcloud's
``CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE`` here. Retries: google-api-core's default retry on each method
(Compute, Storage: 429/5xx with exponential backoff) and googleapiclient's ``num_retries`` for Cloud SQL.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from escher.clouds.errors import CloudError, Failure, check_names
from escher.lazy import require

__all__ = [
    "COMPUTE_CLIENTS",
    "OPERATIONS_CLIENTS",
    "REGIONS",
    "SCOPES",
    "api_errors",
    "auth_errors",
    "authorized_session",
    "aws_federated_credentials",
    "check_regions",
    "compute_client",
    "credentials",
    "default_project",
    "discovery_client",
    "errors",
    "publisher",
    "secret_manager",
    "service_account_credentials",
    "sqladmin",
    "storage_client",
    "storage_client_at",
    "transient_errors",
    "translate",
]

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]

COMPUTE_CLIENTS = {
    "instances": "InstancesClient",
    "snapshots": "SnapshotsClient",
    "disks": "DisksClient",
    "firewalls": "FirewallsClient",
    "subnetworks": "SubnetworksClient",  # read by the scan (flow logs)
    "projects": "ProjectsClient",  # read by the scan (common instance metadata)
    "networks": "NetworksClient",  # read by the scan (default and legacy networks, DNS logging)
    "backend_services": "BackendServicesClient",  # read by the scan (load balancer logging)
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
    creds, _project = google_auth.default(scopes=SCOPES)
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
    return discovery_client("sqladmin", "v1", credentials_=credentials_, http=http)


def default_project() -> tuple[bool, str | None]:
    """Whether Application Default Credentials are found, and their project: no token is requested."""
    google_auth = require("google.auth", "gcp")
    try:
        _creds, project = google_auth.default()
    except require("google.auth.exceptions", "gcp").DefaultCredentialsError:
        return False, None
    return True, project


def service_account_credentials(info: dict[str, Any], scopes: list[str] | None = None) -> Any:
    """Credentials from a service account key (its JSON as a dict); no call is made."""
    service_account = require("google.oauth2.service_account", "gcp")
    return service_account.Credentials.from_service_account_info(info, scopes=scopes or SCOPES)


def aws_federated_credentials(info: dict[str, Any], scopes: list[str] | None = None) -> Any:
    """Workload identity federation from AWS (an ``external_account`` config): google-auth signs
    GetCallerIdentity with the AWS role's keys and exchanges it at Google's STS on first use."""
    aws = require("google.auth.aws", "gcp")
    return aws.Credentials.from_info(info, scopes=scopes or SCOPES)


def authorized_session(credentials_: Any = None, *, session_adapter: Any = None) -> Any:
    """google-auth's ``AuthorizedSession`` (a ``requests.Session`` that signs each call) for REST APIs the
    SDK has no client for here (Cloud Logging entries, BigQuery jobs); ``session_adapter`` is mounted on it."""
    transport = require("google.auth.transport.requests", "gcp")
    session = transport.AuthorizedSession(credentials_ if credentials_ is not None else credentials())
    if session_adapter is not None:
        session.mount("https://", session_adapter)
    return session


def discovery_client(api: str, version: str, *, credentials_: Any = None, http: Any = None) -> Any:
    """A googleapiclient client from the discovery document shipped with the library (no fetch); ``http``
    (an ``httplib2.Http``-like object) replaces the credentials, for tests."""
    discovery = require("googleapiclient.discovery", "gcp")
    options: dict[str, Any] = {"static_discovery": True, "cache_discovery": False}
    if http is not None:
        options["http"] = http
    else:
        options["credentials"] = credentials_ if credentials_ is not None else credentials()
    return discovery.build(api, version, **options)


def publisher() -> Any:
    """A Pub/Sub ``PublisherClient`` (``PUBSUB_EMULATOR_HOST`` honoured by the SDK)."""
    return require("google.cloud.pubsub_v1", "gcp").PublisherClient()


def secret_manager(credentials_: Any = None, *, session_adapter: Any = None) -> Any:
    """A Secret Manager client over REST; ``session_adapter`` is mounted on its requests session."""
    secretmanager = require("google.cloud.secretmanager", "gcp")
    client = secretmanager.SecretManagerServiceClient(
        credentials=credentials_ if credentials_ is not None else credentials(), transport="rest"
    )
    if session_adapter is not None:  # the REST transport's requests session (tests, proxies)
        client._transport._session.mount("https://", session_adapter)
    return client


def storage_client_at(endpoint: str, project: str | None = None) -> Any:
    """A Cloud Storage client for another endpoint than the SDK's (state on one emulator, the estate on
    another), with anonymous credentials as emulators take."""
    storage = require("google.cloud.storage", "gcp")
    anonymous = require("google.auth.credentials", "gcp").AnonymousCredentials()
    return storage.Client(
        project=project or os.environ.get("GOOGLE_CLOUD_PROJECT", "escher-local"),
        credentials=anonymous,
        client_options={"api_endpoint": endpoint},
    )


def api_errors() -> Any:
    """``google.api_core.exceptions``: callers tell NotFound and PreconditionFailed apart."""
    return require("google.api_core.exceptions", "gcp")


def auth_errors() -> tuple[type[BaseException], ...]:
    """What google-auth raises when there are no credentials or they are refused."""
    return (require("google.auth.exceptions", "gcp").GoogleAuthError,)


def transient_errors() -> tuple[type[BaseException], ...]:
    """A call that may succeed later: the API's errors, google-auth's and httplib2's (discovery clients)."""
    return (*errors(), *auth_errors(), require("httplib2", "gcp").HttpLib2Error, OSError)


def errors() -> tuple[type[BaseException], ...]:
    """What a Google call raises once the client's retries gave up."""
    core = require("google.api_core.exceptions", "gcp")
    api = require("googleapiclient.errors", "gcp")
    return (core.GoogleAPIError, api.HttpError)


def is_not_found(error: BaseException) -> bool:
    code = getattr(error, "code", None)
    status = getattr(getattr(error, "resp", None), "status", None)
    return code == 404 or status == 404


_CREDENTIALS_HINT = "run 'gcloud auth application-default login' (or set GOOGLE_APPLICATION_CREDENTIALS to a key file), then retry"


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)  # google-api-core
    if isinstance(code, int):
        return code
    status = getattr(getattr(exc, "resp", None), "status", None)  # googleapiclient
    return int(status) if isinstance(status, int | str) and str(status).isdigit() else None


def translate(exc: BaseException) -> CloudError | None:
    """What a google-auth / google-api-core / googleapiclient failure means; None if ``exc`` is not Google's."""
    auth = sys.modules.get("google.auth.exceptions")
    core = sys.modules.get("google.api_core.exceptions")
    api = sys.modules.get("googleapiclient.errors")
    name = type(exc).__name__
    text = (str(getattr(exc, "message", None) or exc).strip().splitlines() or [name])[0]
    if auth is not None and isinstance(exc, auth.DefaultCredentialsError | auth.RefreshError):
        return CloudError(
            "gcp",
            Failure.no_credentials,
            f"Google Cloud credentials are missing or refused: {text}",
            hint=_CREDENTIALS_HINT,
            code=name,
        )
    if auth is not None and isinstance(exc, auth.TransportError):
        return CloudError(
            "gcp",
            Failure.unreachable,
            f"cannot reach Google's sign-in service: {text}",
            hint="check the network (and a proxy)",
            code=name,
        )
    if core is not None and isinstance(
        exc, core.RetryError | core.ServiceUnavailable | core.DeadlineExceeded
    ):
        return CloudError(
            "gcp",
            Failure.unreachable,
            f"Google Cloud did not answer in time: {text}",
            hint="check the network (and a proxy) and any endpoint override; then retry",
            code=name,
        )
    known = (core.GoogleAPIError,) if core is not None else ()
    known += (api.Error,) if api is not None else ()
    if auth is not None:
        known += (auth.GoogleAuthError,)
    if not known or not isinstance(exc, known):
        return None
    status = _status(exc)
    if status == 401:
        return CloudError(
            "gcp",
            Failure.no_credentials,
            f"Google Cloud refused the credentials: {text}",
            hint=_CREDENTIALS_HINT,
            code="401",
        )
    if status == 403:
        return CloudError(
            "gcp",
            Failure.denied,
            f"Google Cloud denied the call: {text}",
            hint="give this identity roles/viewer on the project (enough for a scan), or check "
            "that the API is enabled on it",
            code="403",
        )
    if status == 429:
        return CloudError(
            "gcp",
            Failure.throttled,
            f"Google Cloud throttled the call after retries: {text}",
            hint="try again in a few minutes",
            code="429",
        )
    return CloudError(
        "gcp",
        Failure.refused,
        f"a Google Cloud call failed: {text}",
        hint="see the message; rerun with ESCHER_DEBUG=1 for the details",
        code=str(status or name),
    )


# Compute Engine regions (``gcloud compute regions list``); a name missing here but of the right shape is accepted
REGIONS = frozenset(
    """africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2
    asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2 europe-central2 europe-north1
    europe-north2 europe-southwest1 europe-west1 europe-west2 europe-west3 europe-west4 europe-west6 europe-west8
    europe-west9 europe-west10 europe-west12 me-central1 me-central2 me-west1 northamerica-northeast1
    northamerica-northeast2 northamerica-south1 southamerica-east1 southamerica-west1 us-central1 us-east1
    us-east4 us-east5 us-south1 us-west1 us-west2 us-west3 us-west4""".split()  # noqa: SIM905 - a word list reads better than 40 quoted strings
)


def check_regions(regions: Iterable[str], where: str = "[gcp] regions") -> None:
    """Refuse a region that is a likely typo of a known one (``us-centrl1``) or not shaped like one."""
    check_names("gcp", "region", regions, REGIONS, pattern=r"[a-z]+-[a-z]+[0-9]{1,2}", where=where)
