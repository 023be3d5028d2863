"""Azure's secret store as a worker reads it: Key Vault secrets ``<prefix>-<name>`` in ``ESCHER_KEY_VAULT``
(:mod:`escher.extend.secrets` is the generic side)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["KeyVaultSecretReader"]


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
