"""The cloud side of ``extend``/``destroy``: collect and write credentials, export the state store.

Each SDK is imported at the point of use. The extension on one cloud keeps credentials for the *other*
clouds (it manages all of them; its own cloud is reached through its role / managed identity).
``escher.state`` (the store engineer's package) will own export; until it exposes one, :class:`BucketExporter`
downloads every object of the state bucket/container into the data dir.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from escher.infra.program import InfraError

__all__ = ["BucketExporter", "collect_credentials", "writer_for"]


def collect_credentials(target: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The credentials found on this machine for the clouds other than ``target``, as JSON strings."""
    env = os.environ if env is None else env
    found: dict[str, str] = {}
    if target != "azure" and env.get("AZURE_CLIENT_ID") and env.get("AZURE_CLIENT_SECRET"):
        found["azure"] = json.dumps(
            {k: env[k] for k in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID") if env.get(k)},
            sort_keys=True,
        )
    key_file = env.get("GOOGLE_APPLICATION_CREDENTIALS")
    if target != "gcp" and key_file and Path(key_file).is_file():
        found["gcp"] = Path(key_file).read_text(encoding="utf-8")
    # only long-lived keys are worth storing: a session token expires within hours
    if (
        target != "aws"
        and env.get("AWS_ACCESS_KEY_ID")
        and env.get("AWS_SECRET_ACCESS_KEY")
        and not env.get("AWS_SESSION_TOKEN")
    ):
        found["aws"] = json.dumps(
            {
                "AWS_ACCESS_KEY_ID": env["AWS_ACCESS_KEY_ID"],
                "AWS_SECRET_ACCESS_KEY": env["AWS_SECRET_ACCESS_KEY"],
            },
            sort_keys=True,
        )
    return found


class _SsmWriter:
    def __init__(self, path: str, region: str) -> None:
        import boto3

        self._client = boto3.client("ssm", region_name=region)
        self._path = path

    def write(self, name: str, value: str) -> None:
        self._client.put_parameter(
            Name=f"{self._path}/{name}", Value=value, Type="SecureString", Overwrite=True, Tier="Standard"
        )


class _KeyVaultWriter:
    def __init__(self, vault: str, prefix: str) -> None:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient

        self._client = SecretClient(f"https://{vault}.vault.azure.net", DefaultAzureCredential())
        self._prefix = prefix

    def write(self, name: str, value: str) -> None:
        self._client.set_secret(f"{self._prefix}-{name}", value)


class _SecretManagerWriter:
    def __init__(self, project: str, prefix: str) -> None:
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        self._session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
        self._project, self._prefix = project, prefix

    def write(self, name: str, value: str) -> None:
        import base64

        url = (
            f"https://secretmanager.googleapis.com/v1/projects/{self._project}/secrets/"
            f"{self._prefix}-{name}:addVersion"
        )
        response = self._session.post(
            url, json={"payload": {"data": base64.b64encode(value.encode()).decode()}}
        )
        if response.status_code >= 300:
            raise InfraError(
                f"Secret Manager refused the {name} credentials: HTTP {response.status_code}",
                hint="check that your account may add secret versions in the project",
            )


def writer_for(cloud: str, outputs: Mapping[str, Any], prefix: str = "escher") -> Any:
    """The credential writer for the secret store the extension created."""
    if cloud == "aws":
        return _SsmWriter(str(outputs["credentials_path"]), str(outputs["region"]))
    if cloud == "azure":
        return _KeyVaultWriter(str(outputs["key_vault"]), prefix)
    return _SecretManagerWriter(str(outputs["project"]), prefix)


class BucketExporter:
    """Download every object of the state store into ``dest`` (keys become relative paths)."""

    def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
        dest.mkdir(parents=True, exist_ok=True)
        if cloud == "aws":
            return self._s3(str(outputs["state_bucket"]), str(outputs.get("region") or ""), dest)
        if cloud == "azure":
            return self._blob(str(outputs["state_account"]), str(outputs["state_container"]), dest)
        return self._gcs(str(outputs["state_bucket"]), dest)

    @staticmethod
    def _target(dest: Path, key: str) -> Path:
        path = (dest / key).resolve()
        if not path.is_relative_to(dest.resolve()):
            raise InfraError(f"refusing to export object {key!r} outside {dest}", hint="rename the object")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _s3(self, bucket: str, region: str, dest: Path) -> int:
        import boto3

        client = boto3.client("s3", region_name=region or None)
        count = 0
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                client.download_file(bucket, key, str(self._target(dest, key)))
                count += 1
        return count

    def _blob(self, account: str, container: str, dest: Path) -> int:
        from azure.identity import DefaultAzureCredential
        from azure.storage.blob import ContainerClient

        client = ContainerClient(
            f"https://{account}.blob.core.windows.net", container, DefaultAzureCredential()
        )
        count = 0
        for blob in client.list_blobs():
            self._target(dest, blob.name).write_bytes(client.download_blob(blob.name).readall())
            count += 1
        return count

    def _gcs(self, bucket: str, dest: Path) -> int:
        from google.cloud import storage

        count = 0
        for blob in storage.Client().list_blobs(bucket):
            if not blob.name.endswith("/"):
                blob.download_to_filename(str(self._target(dest, blob.name)))
                count += 1
        return count
