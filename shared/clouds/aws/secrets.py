"""AWS's secret store as a worker reads it: SSM SecureString parameters under ``ESCHER_CREDENTIALS_PATH``
(:mod:`escher.extend.secrets` is the generic side)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SsmSecretReader"]


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
