"""One extension for all clouds: what the AWS worker needs to reach Azure and GCP, written by the laptop and
read by the worker at run time.

Where: the SSM SecureString parameter ``<credentials_path>/<cloud>`` of the AWS extension (the stack creates it
with a placeholder; ``escher extend credentials <cloud>`` writes the value with
:class:`escher.infra.credentials.SsmWriter`; the worker reads it with ``ssm:GetParameter``, which its role is
granted under that path). Names travel in the environment (``ESCHER_CREDENTIALS_PATH``,
``ESCHER_EXTRA_CLOUDS``), values only through the secret store.

What:

- **GCP, preferred: workload identity federation** from the AWS worker's own role. The stored value is an
  ``external_account`` credential configuration, which holds no secret: google-auth signs an STS
  ``GetCallerIdentity`` request with the Lambda's role credentials and exchanges it at
  ``sts.googleapis.com`` for a Google token (then impersonates the service account). Only with
  ``--key-file`` is a service-account key stored instead, with a warning: it is a long-lived secret.
- **Azure: a service principal** (tenant, client id, and a client secret or a PEM certificate with its key).
  Federation from AWS is not used: an Entra federated credential trusts an OIDC token, and a Lambda role has
  none by default (AWS signs requests with SigV4; it issues no OIDC token to a function without extra setup).

The values never reach a log, an output or an error: descriptions name the fields, never their contents.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from escher.clouds import CLOUDS
from escher.errors import EscherError

if TYPE_CHECKING:
    from escher.config import Settings
    from escher.ops.context import CloudContext

__all__ = [
    "EXTRA_CLOUDS",
    "HOSTS",
    "AzureServicePrincipal",
    "CloudCredentialError",
    "ExtraClouds",
    "GcpFederation",
    "StoredCredential",
    "azure_from_env",
    "extra_clouds",
    "gcp_federation",
    "gcp_key",
    "parse_stored",
    "project_number",
    "quiet_wire_logs",
]

log = logging.getLogger("escher.extend")

# the extensions whose worker reads the other clouds' credentials (the Azure and GCP workers scan their own only)
HOSTS = ("aws",)
EXTRA_CLOUDS = tuple(c for c in CLOUDS if c not in HOSTS)  # the clouds a host worker may also scan
SSM_STANDARD_LIMIT = 4096  # bytes: a standard-tier parameter (free) holds at most 4 KB
GCP_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
ARM_ENDPOINT_ENV = "ESCHER_AZURE_ARM_ENDPOINT"  # only tests (a local ARM) and sovereign clouds set it
PUBLIC_ARM = "https://management.azure.com"
KNOWN_AUTHORITIES = ("login.microsoftonline.com", "login.chinacloudapi.cn", "login.microsoftonline.us")


# loggers of the SDKs and HTTP stacks that can print a request or response body (botocore does at DEBUG)
WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3", "requests", "azure", "msal", "google", "httpx")


@contextlib.contextmanager
def quiet_wire_logs(level: int = logging.WARNING) -> Iterator[None]:
    """Raise the SDK wire loggers to ``level`` while a secret is in flight, then restore them.

    A level set on ``botocore`` also covers ``botocore.endpoint`` & co. unless a child has its own level,
    so children with a lower explicit level are raised too.
    """
    manager = logging.getLogger().manager
    names = [
        name
        for name, logger in list(manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.split(".")[0] in WIRE_LOGGERS
    ]
    saved: dict[str, int] = {}
    for name in {*WIRE_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if logger.level < level:  # NOTSET (0) included: it would inherit a DEBUG root
            saved[name] = logger.level
            logger.setLevel(level)
    try:
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


class CloudCredentialError(EscherError):
    """The credentials for another cloud cannot be built, stored or read."""


class AzureServicePrincipal(BaseModel):
    """A service principal the worker signs in with (``ClientSecretCredential`` / ``CertificateCredential``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["azure-service-principal"] = "azure-service-principal"
    tenant_id: str
    client_id: str
    client_secret: str | None = Field(default=None, repr=False)
    certificate_pem: str | None = Field(default=None, repr=False)  # the certificate and its private key, PEM
    subscription_id: str | None = None  # a name, not a secret: the published [azure] subscription_id wins

    @model_validator(mode="after")
    def _one_secret(self) -> AzureServicePrincipal:
        if (self.client_secret is None) == (self.certificate_pem is None):
            raise ValueError("give exactly one of client_secret and certificate_pem")
        return self

    @property
    def fields(self) -> list[str]:
        """The names of the fields stored (for --dry-run and the ledger): never their values."""
        return sorted(k for k, v in self.model_dump().items() if v is not None and k != "kind")


@dataclass(frozen=True)
class StoredCredential:
    """What goes into the secret store for one cloud, and how to talk about it without its value."""

    cloud: str
    kind: str  # azure-service-principal | external_account | service_account
    value: str = field(repr=False)
    fields: tuple[str, ...]
    secret: bool  # False: the value holds no secret (a federation config)
    warnings: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # what to run on the other cloud first (gcloud)

    def describe(self) -> dict[str, Any]:
        return {"cloud": self.cloud, "kind": self.kind, "fields": list(self.fields), "secret": self.secret,
                "bytes": len(self.value.encode())}  # fmt: skip


# -- the laptop: what to store ---------------------------------------------------------------------------------


def azure_from_env(env: Mapping[str, str], *, subscription_id: str | None = None) -> StoredCredential:
    """The service principal from azure-identity's own variables: ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID`` and
    ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH`` (a PEM with the certificate and its key)."""
    missing = [k for k in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID") if not env.get(k)]
    secret, cert_path = env.get("AZURE_CLIENT_SECRET"), env.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if not secret and not cert_path:
        missing.append("AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)")
    if missing:
        raise CloudCredentialError(
            f"no Azure service principal to store: {', '.join(missing)} not set",
            hint="create one for the worker (az ad sp create-for-rbac --name escher-worker --role Reader "
            "--scopes /subscriptions/<id>), set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, then "
            "run 'escher extend credentials azure' again",
        )
    pem: str | None = None
    if not secret and cert_path:
        path = Path(cert_path).expanduser()
        try:
            pem = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CloudCredentialError(
                f"cannot read the certificate {path}: {type(exc).__name__}",
                hint="AZURE_CLIENT_CERTIFICATE_PATH must name a PEM file with the certificate and its private key",
            ) from None
        if "PRIVATE KEY-----" not in pem or "CERTIFICATE-----" not in pem:
            raise CloudCredentialError(
                f"{path} is not a PEM with both a certificate and its private key",
                hint="concatenate them: cat cert.pem key.pem > escher-sp.pem",
            )
    sp = AzureServicePrincipal(
        tenant_id=env["AZURE_TENANT_ID"],
        client_id=env["AZURE_CLIENT_ID"],
        client_secret=secret or None,
        certificate_pem=pem,
        subscription_id=subscription_id,
    )
    return _checked(StoredCredential("azure", sp.kind, sp.model_dump_json(exclude_none=True), tuple(sp.fields),
                                     secret=True))  # fmt: skip


@dataclass(frozen=True)
class GcpFederation:
    """The pool, provider and service account the AWS worker's role federates into."""

    project: str
    project_number: str
    service_account: str
    aws_account: str
    role_name: str  # the worker's IAM role: its sessions are arn:aws:sts::<account>:assumed-role/<role>/<fn>
    pool: str = "escher"
    provider: str = "escher-aws"

    @property
    def audience(self) -> str:
        return (f"//iam.googleapis.com/projects/{self.project_number}/locations/global/workloadIdentityPools/"
                f"{self.pool}/providers/{self.provider}")  # fmt: skip

    @property
    def principal_set(self) -> str:
        return (f"principalSet://iam.googleapis.com/projects/{self.project_number}/locations/global/"
                f"workloadIdentityPools/{self.pool}/attribute.aws_role/"
                f"arn:aws:sts::{self.aws_account}:assumed-role/{self.role_name}")  # fmt: skip

    def config(self) -> dict[str, Any]:
        """google-auth's ``external_account`` configuration for AWS (what ``gcloud iam workload-identity-pools
        create-cred-config --aws`` writes): the region and the role's keys come from the Lambda environment."""
        return {
            "type": "external_account",
            "audience": self.audience,
            "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/"
            f"serviceAccounts/{self.service_account}:generateAccessToken",
            "credential_source": {
                "environment_id": "aws1",
                "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
                "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
                "regional_cred_verification_url": "https://sts.{region}.amazonaws.com"
                "?Action=GetCallerIdentity&Version=2011-06-15",
            },
        }

    def commands(self) -> list[str]:
        """The gcloud commands that create the pool, the provider and the binding (run once, as a GCP admin)."""
        p, role = self.project, f"arn:aws:sts::{self.aws_account}:assumed-role/{self.role_name}"
        made_here = self.service_account.endswith(f"@{p}.iam.gserviceaccount.com")
        create = (
            [f"gcloud iam service-accounts create {self.service_account.split('@')[0]} --project={p} "
             '--display-name="Escher worker (federated from AWS)"']
            if made_here
            else []
        )  # fmt: skip
        return [
            *create,
            f"gcloud iam workload-identity-pools create {self.pool} --project={p} --location=global "
            '--display-name="Escher worker"',
            f"gcloud iam workload-identity-pools providers create-aws {self.provider} --project={p} "
            f"--location=global --workload-identity-pool={self.pool} --account-id={self.aws_account} "
            # the default AWS mapping sets attribute.aws_role to the role's assumed-role ARN (no session name)
            f"--attribute-condition=\"attribute.aws_role=='{role}'\"",
            f"gcloud iam service-accounts add-iam-policy-binding {self.service_account} --project={p} "
            f'--role=roles/iam.workloadIdentityUser --member="{self.principal_set}"',
            f"gcloud projects add-iam-policy-binding {p} --role=roles/viewer "
            f'--member="serviceAccount:{self.service_account}"',
        ]


def project_number(project: str, *, http: Any = None) -> str | None:
    """The project's number from Cloud Resource Manager with this laptop's GCP login (``http``: an
    ``httplib2.Http``-like object, for tests); None when the login cannot read it (then it is asked for)."""
    from escher.clouds import gcp

    try:
        api = gcp.discovery_client("cloudresourcemanager", "v1", http=http)
        reply = api.projects().get(projectId=project).execute(num_retries=1)
    except (*gcp.auth_errors(), *gcp.errors()) as exc:
        log.info("project number of %s not looked up: %s", project, type(exc).__name__)
        return None
    number = str(reply.get("projectNumber") or "")
    return number if number.isdigit() else None


def gcp_federation(federation: GcpFederation) -> StoredCredential:
    value = json.dumps(federation.config(), sort_keys=True)
    fields = ("audience", "credential_source", "service_account_impersonation_url", "token_url")
    return _checked(StoredCredential("gcp", "external_account", value, fields, secret=False,
                                     commands=tuple(federation.commands())))  # fmt: skip


def gcp_key(key_file: Path) -> StoredCredential:
    """A service-account key file, stored as is: the fallback, with a warning (a long-lived secret)."""
    try:
        info = json.loads(key_file.expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CloudCredentialError(
            f"cannot read the key file {key_file}: {type(exc).__name__}",
            hint="pass the JSON key of a service account (gcloud iam service-accounts keys create ...)",
        ) from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "service_account" or not info.get("private_key") or not info.get("client_email"):
        raise CloudCredentialError(
            f"{key_file} is not a service-account key (type {kind!r})",
            hint="a user login (authorized_user) is not stored: create a key for a service account, or leave "
            "out --key-file to use workload identity federation (no key at all)",
        )
    warning = (f"a service-account key for {info['client_email']} is a long-lived secret: prefer workload "
               "identity federation (leave out --key-file), and delete the key in GCP when you move to it")  # fmt: skip
    return _checked(StoredCredential("gcp", "service_account", json.dumps(info), tuple(sorted(info)), secret=True,
                                     warnings=(warning,)))  # fmt: skip


def _checked(stored: StoredCredential) -> StoredCredential:
    size = len(stored.value.encode())
    if size > SSM_STANDARD_LIMIT:
        raise CloudCredentialError(
            f"the {stored.cloud} credentials are {size} bytes; a standard SSM parameter holds {SSM_STANDARD_LIMIT}",
            hint="use a client secret rather than a certificate chain, or a certificate without intermediates",
        )
    return stored


# -- the worker: read them and build the clients ---------------------------------------------------------------


def parse_stored(cloud: str, value: str) -> AzureServicePrincipal | dict[str, Any] | None:
    """The stored value as the worker uses it; None for the stack's placeholder (nothing stored yet).

    Azure also accepts what ``escher extend`` copied before this command existed: the ``AZURE_*`` variables.
    """
    try:
        data = json.loads(value)
    except ValueError:
        return None  # "unset: written by 'escher extend'"
    if not isinstance(data, dict):
        return None
    if cloud == "azure":
        if "AZURE_CLIENT_ID" in data:
            data = {"tenant_id": data.get("AZURE_TENANT_ID", ""), "client_id": data["AZURE_CLIENT_ID"],
                    "client_secret": data.get("AZURE_CLIENT_SECRET")}  # fmt: skip
        try:
            return AzureServicePrincipal.model_validate(data)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "(record)" for e in exc.errors())
            raise CloudCredentialError(
                f"the stored Azure credentials are not a service principal (check {fields})",
                hint="run 'escher extend credentials azure' again",
            ) from None
    if data.get("type") not in ("external_account", "service_account"):
        raise CloudCredentialError(
            f"the stored GCP credentials are of type {data.get('type')!r}",
            hint="run 'escher extend credentials gcp' again (workload identity federation, or --key-file)",
        )
    return data


def azure_credential(sp: AzureServicePrincipal, env: Mapping[str, str]) -> Any:
    """azure-identity's credential for the service principal; ``AZURE_AUTHORITY_HOST`` (azure-identity's own
    variable) names a sovereign cloud's login host. An authority Microsoft does not list is the user's own
    choice, so instance discovery (a call to login.microsoftonline.com) is skipped for it."""
    from escher.clouds import azure

    options: dict[str, Any] = {}
    authority = env.get("AZURE_AUTHORITY_HOST")
    if authority:
        options["authority"] = authority
        host = authority.split("://", 1)[-1].split("/", 1)[0]
        if host not in KNOWN_AUTHORITIES:
            options["disable_instance_discovery"] = True
    return azure.service_principal_credential(
        sp.tenant_id,
        sp.client_id,
        client_secret=sp.client_secret,
        certificate_pem=(sp.certificate_pem or "").encode(),
        **options,
    )


def arm_endpoint_policy(endpoint: str) -> Any:
    """An azure-core policy sending every Azure Resource Manager request to ``endpoint`` instead of the public
    ARM: the SDK clients' own URLs and the absolute ones the collector builds alike (a sovereign cloud's ARM,
    or a local stand-in in the deployed-shape tests)."""
    from escher.clouds import azure

    return azure.arm_endpoint_policy(endpoint, PUBLIC_ARM)


def gcp_credentials(info: Mapping[str, Any]) -> Any:
    """google-auth credentials from the stored config, built without a call (a token is fetched on first use):
    ``external_account`` from AWS (google-auth reads the role's keys and region from the Lambda environment,
    signs GetCallerIdentity and exchanges it at Google's STS) or a ``service_account`` key."""
    from escher.clouds import gcp

    if info.get("type") == "service_account":
        return gcp.service_account_credentials(dict(info), GCP_SCOPES)
    source = info.get("credential_source")
    if not isinstance(source, dict) or not str(source.get("environment_id", "")).startswith("aws"):
        raise CloudCredentialError(
            "the stored GCP federation config does not federate from AWS (credential_source.environment_id)",
            hint="run 'escher extend credentials gcp' again: it writes the config for the worker's AWS role",
        )
    return gcp.aws_federated_credentials(dict(info), GCP_SCOPES)


@dataclass
class ExtraClouds:
    """The other clouds this worker scans today, the clients' context, and a note per cloud it does not."""

    clouds: list[str] = field(default_factory=list)
    ctx: CloudContext | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"extra_clouds": self.clouds, **({"extra_clouds_skipped": self.notes} if self.notes else {})}


def wanted_clouds(worker: str, env: Mapping[str, str], settings: Settings) -> list[str]:
    """``ESCHER_EXTRA_CLOUDS`` (the clouds the stack keeps credentials for), less those the published settings
    turned off. Only a host extension's worker reads other clouds."""
    if worker not in HOSTS or not env.get("ESCHER_CREDENTIALS_PATH"):
        return []
    named = [c.strip() for c in env.get("ESCHER_EXTRA_CLOUDS", "").split(",") if c.strip()]
    from escher.clouds import provider

    return [c for c in named if c in EXTRA_CLOUDS and c != worker and provider(c).enabled(settings)]


def extra_clouds(
    worker: str, env: Mapping[str, str], settings: Settings, *, reader: Any = None
) -> ExtraClouds:
    """Read the stored credentials of each wanted cloud and build the clients' context with them.

    A cloud with nothing stored (the placeholder) or whose record cannot be used is skipped with a note (the
    worker's own scan goes on); a store that cannot be read at all is a note for each cloud too. Values stay in
    memory: the notes name the cloud and the reason only.
    """
    found = ExtraClouds()
    wanted = wanted_clouds(worker, env, settings)
    if not wanted:
        return found
    from escher.clouds.aws.secrets import SsmSecretReader
    from escher.clouds.errors import translate

    try:
        reader = reader if reader is not None else SsmSecretReader(env["ESCHER_CREDENTIALS_PATH"])
        with quiet_wire_logs():  # botocore logs response bodies at DEBUG: the values are in them
            stored: dict[str, str] = reader.read(wanted)
    except EscherError as exc:
        return _skip_all(found, wanted, exc.message)
    except Exception as exc:
        error = translate(exc)
        if error is None:
            raise
        return _skip_all(found, wanted, error.message)
    from escher.ops.context import CloudContext

    ctx = CloudContext.from_settings(settings)
    for cloud in wanted:
        try:
            record = parse_stored(cloud, stored[cloud]) if cloud in stored else None
            if record is None:
                found.notes[cloud] = f"no credentials stored: run 'escher extend credentials {cloud}'"
                continue
            if isinstance(record, AzureServicePrincipal):
                ctx.azure_credential = azure_credential(record, env)
                ctx.azure_subscription_id = settings.azure.subscription_id or record.subscription_id
                arm = env.get(ARM_ENDPOINT_ENV)
                if arm:
                    ctx.azure_client_options["per_call_policies"] = [arm_endpoint_policy(arm)]
            else:
                ctx.gcp_credentials = gcp_credentials(record)
        except EscherError as exc:
            found.notes[cloud] = exc.message
            continue
        except ValueError as exc:  # google-auth / azure-identity refusing the record's shape
            found.notes[cloud] = (
                f"the stored {cloud} credentials cannot be used: {str(exc).splitlines()[0][:200]}"
            )
            continue
        found.clouds.append(cloud)
    found.ctx = ctx if found.clouds else None
    for cloud, note in found.notes.items():
        log.warning("not scanning %s: %s", cloud, note)
    return found


def _skip_all(found: ExtraClouds, clouds: list[str], why: str) -> ExtraClouds:
    for cloud in clouds:
        found.notes[cloud] = f"the stored credentials could not be read: {why}"
        log.warning("not scanning %s: %s", cloud, found.notes[cloud])
    return found
