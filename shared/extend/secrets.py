"""The secrets a published settings object names, read by a worker from its own cloud's secret store.

The laptop writes each one with the extension's credential writer (``escher.infra.credentials``: SSM
SecureString under ``ESCHER_CREDENTIALS_PATH``, Key Vault ``<prefix>-<name>``, Secret Manager
``<ESCHER_SECRET_PREFIX><name>``); the worker reads them once per cold start into environment-style names
(:func:`escher.extend.settings_doc.secret_env_name`) so the notifier finds a channel's URL as it does on the
laptop (``url_env``). A secret that cannot be read leaves its channel "not configured" (said in the delivery
result and the log); the value itself never reaches a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from escher.extend.settings_doc import secret_env_name

__all__ = [
    "KeyVaultSecretReader",
    "SecretManagerReader",
    "SecretReader",
    "SsmSecretReader",
    "read_secrets",
    "reader_for",
]

log = logging.getLogger("escher.extend")


class SecretReader(Protocol):
    def read(self, names: list[str]) -> dict[str, str]:
        """name -> value for every name found; the missing ones are left out."""
        ...


class SsmSecretReader:
    """SSM ``GetParameter`` (decrypted) per name under the extension's credentials path: the action the worker
    role is granted there (``ssm:GetParameter``; ``GetParameters`` is another IAM action)."""

    def __init__(self, path: str, *, client: Any = None) -> None:
        from escher.clouds import aws

        self.path = path.rstrip("/")
        self._client = client if client is not None else aws.client("ssm")

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, name_prefix: str, project: str | None
    ) -> SsmSecretReader | None:
        path = env.get("ESCHER_CREDENTIALS_PATH")
        return cls(path) if path else None

    def read(self, names: list[str]) -> dict[str, str]:
        from escher.clouds import aws

        found: dict[str, str] = {}
        for name in names:
            try:
                reply = self._client.get_parameter(Name=f"{self.path}/{name}", WithDecryption=True)
            except aws.errors() as exc:
                if aws.error_code(exc) == "ParameterNotFound":
                    continue
                raise
            value = reply.get("Parameter", {}).get("Value")
            if value:
                found[name] = str(value)
        return found


class KeyVaultSecretReader:
    """``GetSecret`` (latest version) of ``<prefix>-<name>`` in the extension's vault, with the app's identity
    (it needs the 'Key Vault Secrets User' role on the vault)."""

    def __init__(self, vault: str, prefix: str, *, credential: Any = None, transport: Any = None) -> None:
        from escher.clouds import azure

        self._client = azure.key_vault_secrets(vault, credential_=credential, transport=transport)
        self._missing = azure.storage_errors().ResourceNotFoundError
        self.prefix = prefix

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, name_prefix: str, project: str | None
    ) -> KeyVaultSecretReader | None:
        vault = env.get("ESCHER_KEY_VAULT")
        return cls(vault, name_prefix) if vault else None

    def read(self, names: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in names:
            try:
                value = self._client.get_secret(f"{self.prefix}-{name}").value
            except self._missing:
                continue
            if value:
                found[name] = str(value)
        return found


class SecretManagerReader:
    """``AccessSecretVersion`` (latest) of ``<ESCHER_SECRET_PREFIX><name>`` in the project, over REST."""

    def __init__(
        self, project: str, prefix: str, *, credentials: Any = None, session_adapter: Any = None
    ) -> None:
        from escher.clouds import gcp

        self._client = gcp.secret_manager(credentials, session_adapter=session_adapter)
        self._missing = gcp.api_errors().NotFound
        self.project, self.prefix = project, prefix

    @classmethod
    def from_env(
        cls, env: Mapping[str, str], *, name_prefix: str, project: str | None
    ) -> SecretManagerReader | None:
        project = project or env.get("GOOGLE_CLOUD_PROJECT")
        return cls(project, env.get("ESCHER_SECRET_PREFIX") or f"{name_prefix}-") if project else None

    def read(self, names: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in names:
            path = f"projects/{self.project}/secrets/{self.prefix}{name}/versions/latest"
            try:
                reply = self._client.access_secret_version(request={"name": path})
            except self._missing:
                continue
            value = reply.payload.data.decode("utf-8", "replace")
            if value:
                found[name] = value
        return found


def reader_for(
    worker: str, env: Mapping[str, str], *, name_prefix: str = "escher", project: str | None = None
) -> SecretReader | None:
    """The reader of this worker's cloud, from the variables the extension sets (and the published
    ``[extend] name_prefix`` / ``[gcp] project``); None when it has none."""
    from escher.clouds import PROVIDERS

    if worker not in PROVIDERS:
        return None
    # the provider names its secret store's reader class (SSM, Key Vault, Secret Manager)
    reader: SecretReader | None = (
        PROVIDERS[worker].load("secrets_backend").from_env(env, name_prefix=name_prefix, project=project)
    )
    return reader


def read_secrets(
    worker: str,
    names: Iterable[str],
    env: Mapping[str, str],
    reader: SecretReader | None = None,
    *,
    name_prefix: str = "escher",
    project: str | None = None,
) -> dict[str, str]:
    """``{secret_env_name(name): value}`` for the names this worker can read; the others are logged by name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    from escher.errors import EscherError

    try:
        reader = (
            reader
            if reader is not None
            else reader_for(worker, env, name_prefix=name_prefix, project=project)
        )
    except EscherError as exc:  # the SDK is not in this bundle: the channels stay unconfigured, said why
        log.warning("cannot read the notification secrets %s: %s", wanted, exc.message)
        return {}
    if reader is None:
        log.warning("no secret store to read %s from on %s: those channels stay unconfigured", wanted, worker)
        return {}
    from escher.clouds.errors import translate

    try:
        found = reader.read(wanted)
    except Exception as exc:  # an SDK error: the channels stay unconfigured, the worker goes on
        error = translate(exc) or _auth_error(exc)
        if error is None:
            raise
        log.warning("cannot read the notification secrets %s: %s", wanted, error.message)
        return {}
    lost = [n for n in wanted if n not in found]
    if lost:
        log.warning("notification secrets not found in the secret store: %s", lost)
    return {secret_env_name(name): value for name, value in found.items()}


def _auth_error(exc: BaseException) -> Any:
    """azure-identity's and google-auth's own "no credentials" errors, which the clouds' translators may not
    know: the same answer (channels unconfigured, said in the log)."""
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"ClientAuthenticationError", "CredentialUnavailableError", "DefaultCredentialsError"}:
        from escher.errors import EscherError

        return EscherError(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
    return None
