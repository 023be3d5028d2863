"""Azure Blob Storage: ``overwrite=False`` (If-None-Match: *) to create, ``etag`` + ``MatchConditions`` to swap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from escher.state._base import (
    AlreadyExistsError,
    Blob,
    NotFoundError,
    ObjectInfo,
    StateError,
    VersionConflictError,
)

__all__ = ["AzureBlobStore"]


class AzureBlobStore:
    def __init__(
        self, container: str, prefix: str = "", *, service: Any = None, account_url: str | None = None
    ) -> None:
        from escher.clouds import azure

        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        service = service if service is not None else azure.blob_service(account_url=account_url)
        self._container = service.get_container_client(container)
        self.url = f"az://{container}/{self.prefix}"
        self._exc = azure.storage_errors()
        self._match = azure.match_conditions()

    def _name(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def _fail(self, exc: BaseException, key: str, verb: str) -> StateError:
        return StateError(
            f"Azure Blob {verb} of {self.url}{key} failed: {getattr(exc, 'message', exc)}",
            hint="check that the container exists and the connection string or identity may use it",
        )

    def get(self, key: str) -> Blob:
        try:
            downloader = self._container.download_blob(self._name(key))
            data = downloader.readall()
        except self._exc.ResourceNotFoundError:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None
        except self._exc.AzureError as exc:
            raise self._fail(exc, key, "read") from exc
        return Blob(key, data, str(downloader.properties.etag))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for item in self._container.list_blobs(name_starts_with=self._name(prefix)):
                yield ObjectInfo(item.name[len(self.prefix) :], str(item.etag), int(item.size))
        except self._exc.AzureError as exc:
            raise self._fail(exc, prefix, "list") from exc

    def put_if_absent(self, key: str, data: bytes) -> str:
        try:
            result = self._container.get_blob_client(self._name(key)).upload_blob(data, overwrite=False)
        except self._exc.ResourceExistsError:
            raise AlreadyExistsError(f"{key!r} already exists in {self.url}") from None
        except self._exc.AzureError as exc:
            raise self._fail(exc, key, "write") from exc
        return str(result["etag"])

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        try:
            result = self._container.get_blob_client(self._name(key)).upload_blob(
                data, overwrite=True, etag=expected_version,
                match_condition=self._match.IfNotModified,
            )  # fmt: skip
        except (self._exc.ResourceModifiedError, self._exc.ResourceNotFoundError):
            raise VersionConflictError(f"{key!r} changed in {self.url} since it was read") from None
        except self._exc.AzureError as exc:
            raise self._fail(exc, key, "write") from exc
        return str(result["etag"])
