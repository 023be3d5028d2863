"""Google Cloud Storage: ``if_generation_match=0`` to create, ``if_generation_match=<generation>`` to swap."""

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

__all__ = ["GcsStore"]


class GcsStore:
    def __init__(self, bucket: str, prefix: str = "", *, client: Any = None) -> None:
        from escher.clouds import gcp

        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"gs://{bucket}/{self.prefix}"
        client = client if client is not None else gcp.storage_client()
        self._bucket = client.bucket(bucket)
        self._exc = gcp.api_errors()

    def _name(self, key: str) -> str:
        return self.prefix + key.lstrip("/")

    def _fail(self, exc: BaseException, key: str, verb: str) -> StateError:
        return StateError(
            f"GCS {verb} of {self.url}{key} failed: {exc}",
            hint="check that the bucket exists and your credentials may read and write it",
        )

    def get(self, key: str) -> Blob:
        blob = self._bucket.blob(self._name(key))
        try:
            data = blob.download_as_bytes()
        except self._exc.NotFound:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None
        except self._exc.GoogleAPIError as exc:
            raise self._fail(exc, key, "read") from exc
        return Blob(key, data, str(blob.generation))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        try:
            for blob in self._bucket.list_blobs(prefix=self._name(prefix)):
                yield ObjectInfo(blob.name[len(self.prefix) :], str(blob.generation), int(blob.size or 0))
        except self._exc.GoogleAPIError as exc:
            raise self._fail(exc, prefix, "list") from exc

    def put_if_absent(self, key: str, data: bytes) -> str:
        blob = self._bucket.blob(self._name(key))
        try:
            blob.upload_from_string(data, if_generation_match=0)
        except self._exc.PreconditionFailed:
            raise AlreadyExistsError(f"{key!r} already exists in {self.url}") from None
        except self._exc.GoogleAPIError as exc:
            raise self._fail(exc, key, "write") from exc
        return str(blob.generation)

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        blob = self._bucket.blob(self._name(key))
        try:
            blob.upload_from_string(data, if_generation_match=int(expected_version))
        except (self._exc.PreconditionFailed, self._exc.NotFound):
            raise VersionConflictError(f"{key!r} changed in {self.url} since it was read") from None
        except self._exc.GoogleAPIError as exc:
            raise self._fail(exc, key, "write") from exc
        return str(blob.generation)
