"""The other clouds' credentials: found on this machine, written into the secret store the extension created.

The extension on one cloud keeps credentials for the *other* clouds (its own cloud is reached through its
role / managed identity). Values go straight from this process to the secret store through the cloud SDK,
never through Pulumi (its state would keep them):

- AWS: an SSM ``SecureString`` parameter ``<credentials_path>/<cloud>`` (standard tier: free);
- Azure: a Key Vault secret ``<prefix>-<cloud>`` (``set_secret``: a new version);
- GCP: a new version of the Secret Manager secret ``<prefix>-<cloud>`` (``addVersion``, with its CRC32C).

A secret must never reach a log, an error message or an output. SDK wire loggers print request bodies at
DEBUG (botocore does), so every write runs under :func:`quiet_wire_logs`; errors name the secret, never
its value. Each writer takes its client's transport (a session adapter, an azure-core transport) so the
tests run the real SDK code against recorded-shape responses.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from escher.extend.cloud_credentials import quiet_wire_logs
from escher.infra.program import InfraError

__all__ = [
    "CredentialWriteError",
    "CredentialWriter",
    "KeyVaultWriter",
    "SecretManagerWriter",
    "SsmWriter",
    "collect_credentials",
    "quiet_wire_logs",
    "writer_for",
]

REDACTED = "[redacted]"


class CredentialWriteError(InfraError):
    """A credential could not be written into the cloud's secret store."""


class CredentialWriter(Protocol):
    def write(self, name: str, value: str) -> None: ...


def collect_credentials(target: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The credentials found on this machine that the ``target`` extension's worker reads, as stored values.

    Only what a worker uses is copied (:data:`escher.extend.cloud_credentials.HOSTS`): the AWS worker scans
    Azure with a service principal from azure-identity's ``AZURE_*`` variables. A GCP key is never copied
    silently (``escher extend credentials gcp`` sets up workload identity federation instead, or stores a key
    given with ``--key-file``); AWS keys are never copied (no Azure or GCP worker reads them).
    """
    from escher.extend.cloud_credentials import EXTRA_CLOUDS, HOSTS
    from escher.infra.deploy import deploy_of

    env = os.environ if env is None else env
    if target not in HOSTS:
        return {}
    found = {cloud: deploy_of(cloud).local_credentials(env) for cloud in EXTRA_CLOUDS if cloud != target}
    return {cloud: value for cloud, value in found.items() if value is not None}


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, REDACTED) if secret else text


def _refused(store: str, name: str, detail: str, value: str, hint: str) -> CredentialWriteError:
    return CredentialWriteError(
        f"{store} refused the {name} credentials: {_scrub(detail, value)[:300]}",
        hint=f"{hint}; then run 'escher extend' again to store them (nothing else needs redoing)",
    )


class SsmWriter:
    """``PutParameter`` (SecureString, standard tier, overwrite) under the extension's credentials path."""

    def __init__(self, path: str, region: str | None, *, client: Any = None) -> None:
        from escher.clouds import aws

        self._client = client if client is not None else aws.client("ssm", region)
        self._errors = aws.errors()
        self.path = path.rstrip("/")

    def write(self, name: str, value: str) -> None:
        from escher.clouds import aws

        parameter = f"{self.path}/{name}"
        with quiet_wire_logs():
            try:
                self._client.put_parameter(
                    Name=parameter, Value=value, Type="SecureString", Overwrite=True, Tier="Standard"
                )
            except self._errors as exc:
                raise _refused(
                    f"SSM ({parameter})",
                    name,
                    aws.error_code(exc) + ": " + str(exc),
                    value,
                    "check that your AWS identity may ssm:PutParameter on it (and kms:Encrypt with the AWS "
                    "managed key); standard parameters hold at most 4 KB",
                ) from None


class KeyVaultWriter:
    """``SetSecret`` in the extension's vault (RBAC: the deploying identity needs Key Vault Secrets Officer)."""

    def __init__(
        self,
        vault: str,
        prefix: str,
        *,
        credential: Any = None,
        transport: Any = None,
        vault_url: str | None = None,
    ) -> None:
        from escher.clouds import azure
        from escher.lazy import require

        secrets = require("azure.keyvault.secrets", "azure")
        options: dict[str, Any] = {"retry_total": 3}
        if transport is not None:
            options["transport"] = transport
        self.vault_url = vault_url or f"https://{vault}.vault.azure.net"
        self._client = secrets.SecretClient(
            self.vault_url, credential if credential is not None else azure.credential(), **options
        )
        self._errors = azure.errors()
        self._prefix = prefix

    def write(self, name: str, value: str) -> None:
        secret = f"{self._prefix}-{name}"
        with quiet_wire_logs():
            try:
                # the response echoes the value: drop it here, never return or log it
                self._client.set_secret(
                    secret, value, content_type="application/json", tags={"escher": "credentials"}
                )
            except self._errors as exc:
                raise _refused(
                    f"Key Vault {self.vault_url} ({secret})",
                    name,
                    f"{getattr(exc, 'status_code', '')} {getattr(exc, 'reason', '') or type(exc).__name__}",
                    value,
                    "the vault uses Azure RBAC: give your identity 'Key Vault Secrets Officer' on it (role "
                    "assignments take a few minutes to apply)",
                ) from None


class SecretManagerWriter:
    """``AddSecretVersion`` (payload + its CRC32C) on the secret the extension created, over REST."""

    def __init__(
        self, project: str, prefix: str, *, credentials: Any = None, session_adapter: Any = None
    ) -> None:
        from escher.clouds import gcp
        from escher.lazy import require

        secretmanager = require("google.cloud.secretmanager", "gcp")
        self._client = secretmanager.SecretManagerServiceClient(
            credentials=credentials if credentials is not None else gcp.credentials(), transport="rest"
        )
        if session_adapter is not None:  # the REST transport's requests session (tests, proxies)
            session = self._client._transport._session
            session.mount("https://", session_adapter)
        self._errors = gcp.errors()
        self._project, self._prefix = project, prefix

    def write(self, name: str, value: str) -> None:
        from escher.lazy import require

        crc32c = require("google_crc32c", "gcp")
        data = value.encode()
        parent = self._client.secret_path(self._project, f"{self._prefix}-{name}")
        with quiet_wire_logs():
            try:
                self._client.add_secret_version(
                    request={"parent": parent, "payload": {"data": data, "data_crc32c": crc32c.value(data)}}
                )
            except self._errors as exc:
                raise _refused(
                    f"Secret Manager ({parent})",
                    name,
                    f"{getattr(exc, 'code', '')} {getattr(exc, 'message', '') or type(exc).__name__}",
                    value,
                    "check that your account may add secret versions (roles/secretmanager.secretVersionAdder)",
                ) from None


WriterFactory = Callable[[Mapping[str, Any]], CredentialWriter]


def writer_for(cloud: str, prefix: str = "escher") -> WriterFactory:
    """The writer for the secret store the extension created, built from the stack's outputs (the cloud's deploy
    description knows which store and outputs)."""
    from escher.infra.deploy import deploy_of

    deploy = deploy_of(cloud)

    def build(outputs: Mapping[str, Any]) -> CredentialWriter:
        try:
            return deploy.credential_writer(outputs, prefix)
        except KeyError as exc:
            raise CredentialWriteError(
                f"the {cloud} stack's outputs name no secret store ({exc.args[0]} is missing)",
                hint=f"run 'escher extend {cloud}' again: it records the outputs",
            ) from None

    return build
