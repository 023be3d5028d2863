"""Google Cloud's secret store as a worker reads it: Secret Manager ``<ESCHER_SECRET_PREFIX><name>`` in the
project (:mod:`escher.extend.secrets` is the generic side)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SecretManagerReader"]


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
