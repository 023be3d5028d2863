"""The secrets a published settings object names, read by a worker from its own cloud's secret store.

Each cloud's reader lives in its package (``escher.clouds.<cloud>.secrets``, named by the provider's
``secrets_backend``); this module finds it and reads. The laptop writes each one with the extension's credential
writer (``escher.infra.credentials``: SSM SecureString under ``ESCHER_CREDENTIALS_PATH``, Key Vault
``<prefix>-<name>``, Secret Manager ``<ESCHER_SECRET_PREFIX><name>``); the worker reads them once per cold start into environment-style names
(:func:`escher.extend.settings_doc.secret_env_name`) so the notifier finds a channel's URL as it does on the
laptop (``url_env``). A secret that cannot be read leaves its channel "not configured" (said in the delivery
result and the log); the value itself never reaches a log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from escher.extend.settings_doc import secret_env_name

__all__ = ["SecretReader", "read_secrets", "reader_for"]

log = logging.getLogger("escher.extend")


class SecretReader(Protocol):
    def read(self, names: list[str]) -> dict[str, str]:
        """name -> value for every name found; the missing ones are left out."""
        ...

    # each cloud's reader (escher.clouds.<cloud>.secrets, the provider's ``secrets_backend``) also has
    # from_env(env, *, name_prefix, project) -> reader | None: built from the variables its extension sets


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
