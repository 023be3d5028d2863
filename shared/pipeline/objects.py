"""Object storage as the pipeline needs it: create-if-absent, compare-and-swap, read, list.

This is the small interface the markers, the audit objects, the alert records and the dead-letter blobs are
written through. NOTE for the ``escher.state`` owner: when ``escher.state`` lands with its S3 / Blob / GCS /
local backends, :func:`open_objects` should return an adapter over them and the four cloud classes here go away;
they exist so the pipeline runs (and is tested against moto, azurite and fake-gcs-server) in the meantime.

Conditional writes, as the clouds spell them:

- S3: ``PutObject`` with ``If-None-Match: *`` (create) and ``If-Match: <etag>`` (swap); 412 on conflict;
- Azure Blob: ``upload_blob(overwrite=False)`` / ``if_none_match="*"`` and ``etag`` + ``MatchConditions``;
- GCS: ``if_generation_match=0`` (create) and ``if_generation_match=<generation>`` (swap);
- a local directory: ``O_CREAT|O_EXCL`` and a per-key ``flock`` around read-compare-replace.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from escher.lazy import require
from escher.pipeline.errors import PipelineError, StateStoreError

__all__ = [
    "BlobObjects",
    "GcsObjects",
    "LocalObjects",
    "MemoryObjects",
    "ObjectStore",
    "S3Objects",
    "Versioned",
    "open_objects",
]


@dataclass(frozen=True, slots=True)
class Versioned:
    data: bytes
    version: str  # ETag / generation / content hash: what a compare-and-swap must match


class ObjectStore(Protocol):
    def put_if_absent(self, key: str, data: bytes) -> str | None:
        """Create ``key`` and return its version; None (and nothing written) when it already exists."""
        ...

    def get(self, key: str) -> Versioned | None: ...

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        """Overwrite ``key`` only if it is still at ``version``: the new version, or None when someone else
        changed it meanwhile."""
        ...

    def put(self, key: str, data: bytes) -> None:
        """Unconditional write (alert records: the newest state of an alert wins)."""
        ...

    def list(self, prefix: str) -> list[str]: ...


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class MemoryObjects:
    """In-memory, thread-safe: the fake for unit tests and the 1,000 x 3 concurrency test."""

    def __init__(self) -> None:
        self._items: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        with self._lock:
            if key in self._items:
                return None
            self._items[key] = bytes(data)
        return _digest(data)

    def get(self, key: str) -> Versioned | None:
        with self._lock:
            data = self._items.get(key)
        return None if data is None else Versioned(data, _digest(data))

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        with self._lock:
            current = self._items.get(key)
            if current is None or _digest(current) != version:
                return None
            self._items[key] = bytes(data)
        return _digest(data)

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._items[key] = bytes(data)

    def list(self, prefix: str) -> list[str]:
        with self._lock:
            return sorted(k for k in self._items if k.startswith(prefix))


class LocalObjects:
    """A directory: the laptop's state (Local Only) and ``escher demo``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise StateStoreError(f"object key {key!r} escapes the state directory", hint="use relative keys")
        return self.root / key

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)  # atomic create-if-absent with the whole content already in place
        except FileExistsError:
            return None
        finally:
            tmp.unlink(missing_ok=True)
        return _digest(data)

    def get(self, key: str) -> Versioned | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return Versioned(data, _digest(data))

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        import fcntl

        path = self._path(key)
        lock = path.with_name(f".{path.name}.lock")
        with lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            current = self.get(key)
            if current is None or current.version != version:
                return None
            self._write(path, data)
        return _digest(data)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._write(path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers see the old or the new content, never half of it

    def list(self, prefix: str) -> list[str]:
        if not self.root.exists():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith("."))


def _join(prefix: str, key: str) -> str:
    return f"{prefix.strip('/')}/{key}" if prefix.strip("/") else key


class S3Objects:
    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any = None, endpoint: str | None = None
    ) -> None:
        self.bucket, self.prefix = bucket, prefix
        self._client = client
        self.endpoint = endpoint

    @property
    def client(self) -> Any:
        if self._client is None:
            from escher.clouds import aws

            self._client = aws.client("s3", endpoint_url=self.endpoint)
        return self._client

    def _precondition_failed(self, exc: BaseException) -> bool:
        from escher.clouds.aws import error_code

        return error_code(exc) in ("PreconditionFailed", "ConditionalRequestConflict", "412")

    def _errors(self) -> tuple[type[BaseException], ...]:
        from escher.clouds import aws

        return aws.errors()

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        return self._put(key, data, IfNoneMatch="*")

    def _put(self, key: str, data: bytes, **condition: str) -> str | None:
        try:
            reply = self.client.put_object(
                Bucket=self.bucket, Key=_join(self.prefix, key), Body=data, **condition
            )
        except self._errors() as exc:
            if self._precondition_failed(exc):
                return None
            raise StateStoreError(f"cannot write s3://{self.bucket}/{key}: {exc}", hint=_S3_HINT) from exc
        return str(reply["ETag"])

    def get(self, key: str) -> Versioned | None:
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=_join(self.prefix, key))
        except self._errors() as exc:
            from escher.clouds.aws import error_code

            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise StateStoreError(f"cannot read s3://{self.bucket}/{key}: {exc}", hint=_S3_HINT) from exc
        return Versioned(reply["Body"].read(), reply["ETag"])

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        return self._put(key, data, IfMatch=version)

    def put(self, key: str, data: bytes) -> None:
        self._put(key, data)

    def list(self, prefix: str) -> list[str]:
        full = _join(self.prefix, prefix)
        cut = len(_join(self.prefix, ""))
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(item["Key"][cut:] for item in page.get("Contents", []))
        return sorted(keys)


_S3_HINT = "check that the state bucket exists and the worker's role may s3:GetObject/s3:PutObject on it"


class GcsObjects:
    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any = None, endpoint: str | None = None
    ) -> None:
        self.bucket_name, self.prefix = bucket, prefix
        self._client = client
        self.endpoint = endpoint

    @property
    def bucket(self) -> Any:
        if self._client is None:
            from escher.clouds import gcp

            if self.endpoint:  # state on another endpoint than the operations (an emulator beside another)
                storage = require("google.cloud.storage", "gcp")
                credentials = require("google.auth.credentials", "gcp")
                self._client = storage.Client(
                    project=os.environ.get("GOOGLE_CLOUD_PROJECT", "escher-local"),
                    credentials=credentials.AnonymousCredentials(),
                    client_options={"api_endpoint": self.endpoint},
                )
            else:
                self._client = gcp.storage_client()
        return self._client.bucket(self.bucket_name)

    def _conditional(self, key: str, data: bytes, generation: int) -> str | None:
        exceptions = require("google.api_core.exceptions", "gcp")
        blob = self.bucket.blob(_join(self.prefix, key))
        try:
            blob.upload_from_string(data, if_generation_match=generation)
        except exceptions.PreconditionFailed:
            return None
        return str(blob.generation)

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        return self._conditional(key, data, 0)

    def get(self, key: str) -> Versioned | None:
        exceptions = require("google.api_core.exceptions", "gcp")
        blob = self.bucket.blob(_join(self.prefix, key))
        try:
            data = (
                blob.download_as_bytes()
            )  # one request: the response's x-goog-generation sets blob.generation
        except exceptions.NotFound:
            return None
        return Versioned(data, str(blob.generation))

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        return self._conditional(key, data, int(version))

    def put(self, key: str, data: bytes) -> None:
        self.bucket.blob(_join(self.prefix, key)).upload_from_string(data)

    def list(self, prefix: str) -> list[str]:
        cut = len(_join(self.prefix, ""))
        blobs = self.bucket.client.list_blobs(self.bucket_name, prefix=_join(self.prefix, prefix))
        return sorted(b.name[cut:] for b in blobs)


class BlobObjects:
    def __init__(self, container: str, prefix: str = "", *, service: Any = None) -> None:
        self.container_name, self.prefix = container, prefix
        self._service = service

    @property
    def container(self) -> Any:
        if self._service is None:
            from escher.clouds import azure

            self._service = azure.blob_service()
        return self._service.get_container_client(self.container_name)

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        exceptions = require("azure.core.exceptions", "azure")
        try:
            reply = self._blob(key).upload_blob(data, overwrite=False)
        except exceptions.ResourceExistsError:
            return None
        return str(reply["etag"])

    def _blob(self, key: str) -> Any:
        return self.container.get_blob_client(_join(self.prefix, key))

    def get(self, key: str) -> Versioned | None:
        exceptions = require("azure.core.exceptions", "azure")
        try:
            downloader = self.container.download_blob(_join(self.prefix, key))
        except exceptions.ResourceNotFoundError:
            return None
        return Versioned(downloader.readall(), downloader.properties.etag)

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        core = require("azure.core", "azure")
        exceptions = require("azure.core.exceptions", "azure")
        try:
            reply = self._blob(key).upload_blob(
                data,
                overwrite=True,
                etag=version,
                match_condition=core.MatchConditions.IfNotModified,
            )
        except (exceptions.ResourceModifiedError, exceptions.ResourceNotFoundError):
            return None
        return str(reply["etag"])

    def put(self, key: str, data: bytes) -> None:
        self.container.upload_blob(_join(self.prefix, key), data, overwrite=True)

    def list(self, prefix: str) -> list[str]:
        cut = len(_join(self.prefix, ""))
        names = self.container.list_blob_names(name_starts_with=_join(self.prefix, prefix))
        return sorted(n[cut:] for n in names)


def open_objects(url: str) -> ObjectStore:
    """``s3://bucket/prefix``, ``gs://bucket/prefix``, ``azblob://container/prefix``, ``file:///dir`` or a path.

    ``?endpoint=http://host:port`` points S3 or GCS state at another endpoint than the SDK's default.
    """
    parts = urlsplit(url)
    prefix = parts.path.lstrip("/")
    endpoint = parse_qs(parts.query).get("endpoint", [None])[0]
    if parts.scheme == "s3":
        return S3Objects(parts.netloc, prefix, endpoint=endpoint)
    if parts.scheme == "gs":
        return GcsObjects(parts.netloc, prefix, endpoint=endpoint)
    if parts.scheme == "azblob":
        return BlobObjects(parts.netloc, prefix)
    if parts.scheme in ("", "file"):
        return LocalObjects(Path(parts.path if parts.scheme else url).expanduser())
    if parts.scheme == "memory":
        return MemoryObjects()
    raise PipelineError(
        f"unknown state storage URL {url!r}",
        hint="use s3://bucket/prefix, gs://bucket/prefix, azblob://container/prefix or file:///path",
    )
