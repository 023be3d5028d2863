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

__all__ = ["SecretReader", "SsmSecretReader", "read_secrets", "reader_for"]

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


def reader_for(worker: str, env: Mapping[str, str]) -> SecretReader | None:
    """The reader of this worker's cloud, from the variables the extension sets; None when it has none."""
    if worker == "aws" and env.get("ESCHER_CREDENTIALS_PATH"):
        return SsmSecretReader(env["ESCHER_CREDENTIALS_PATH"])
    return None


def read_secrets(
    worker: str, names: Iterable[str], env: Mapping[str, str], reader: SecretReader | None = None
) -> dict[str, str]:
    """``{secret_env_name(name): value}`` for the names this worker can read; the others are logged by name."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    reader = reader if reader is not None else reader_for(worker, env)
    if reader is None:
        log.warning("no secret store to read %s from on %s: those channels stay unconfigured", wanted, worker)
        return {}
    from escher.clouds.errors import translate

    try:
        found = reader.read(wanted)
    except Exception as exc:  # an SDK error: the channels stay unconfigured, the worker goes on
        error = translate(exc)
        if error is None:
            raise
        log.warning("cannot read the notification secrets %s: %s", wanted, error.message)
        return {}
    lost = [n for n in wanted if n not in found]
    if lost:
        log.warning("notification secrets not found in the secret store: %s", lost)
    return {secret_env_name(name): value for name, value in found.items()}
