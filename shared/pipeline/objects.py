"""Object storage as the pipeline needs it: create-if-absent, compare-and-swap, read, overwrite, list.

The backends are ``escher.state``'s (S3 ``If-None-Match``/``If-Match``, Blob ETags, GCS generations, a local
directory); :class:`StateObjects` adapts them to the pipeline's narrow interface, where a lost race is an answer
(``None``), not an exception, and any other storage failure is a :class:`StateStoreError` (transient: the
platform retries the delivery). :class:`MemoryObjects` is the in-memory fake.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from escher.pipeline.errors import PipelineError, StateStoreError
from escher.state import ObjectStore

__all__ = ["LocalObjects", "MemoryObjects", "PipelineObjects", "StateObjects", "Versioned", "open_objects"]


@dataclass(frozen=True, slots=True)
class Versioned:
    data: bytes
    version: str  # ETag / generation / content hash: what a compare-and-swap must match


class PipelineObjects(Protocol):
    """The pipeline's view of object storage, over :class:`escher.state.ObjectStore` (the one storage
    protocol; :class:`StateObjects` adapts it): a lost race is ``None`` here, not an exception."""

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


class StateObjects:
    """An ``escher.state`` backend behind the pipeline's interface."""

    def __init__(self, state: ObjectStore) -> None:
        self.state = state

    def _failed(self, exc: BaseException, verb: str, key: str) -> StateStoreError:
        return StateStoreError(
            f"cannot {verb} {self.state.url}{key}: {getattr(exc, 'message', exc)}",
            hint=getattr(exc, "hint", None) or "check the state storage and the worker's access to it",
        )

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        from escher.state import AlreadyExistsError, StateError

        try:
            return str(self.state.put_if_absent(key, data))
        except AlreadyExistsError:
            return None
        except StateError as exc:
            raise self._failed(exc, "write", key) from exc

    def get(self, key: str) -> Versioned | None:
        from escher.state import NotFoundError, StateError

        try:
            blob = self.state.get(key)
        except NotFoundError:
            return None
        except StateError as exc:
            raise self._failed(exc, "read", key) from exc
        return Versioned(blob.data, blob.version)

    def replace(self, key: str, data: bytes, version: str) -> str | None:
        from escher.state import NotFoundError, StateError, VersionConflictError

        try:
            return str(self.state.compare_and_swap(key, data, version))
        except (VersionConflictError, NotFoundError):
            return None
        except StateError as exc:
            raise self._failed(exc, "write", key) from exc

    def put(self, key: str, data: bytes) -> None:
        """Last writer wins, built from create-if-absent and swap (the backends have no blind overwrite)."""
        if (
            self.put_if_absent(key, data) is not None
        ):  # the common case (a new alert, a dead letter): one call
            return
        for _ in range(50):
            current = self.get(key)
            done = (
                self.put_if_absent(key, data) if current is None else self.replace(key, data, current.version)
            )
            if done is not None:
                return
        raise StateStoreError(f"{key} kept changing while it was written", hint="retry the delivery")

    def list(self, prefix: str) -> list[str]:
        from escher.state import StateError

        try:
            return [info.key for info in self.state.list(prefix)]
        except StateError as exc:
            raise self._failed(exc, "list", prefix) from exc


class LocalObjects(StateObjects):
    """A directory (``escher.state.local.LocalStore``): the laptop's state and ``escher alerts``' default."""

    def __init__(self, root: Path) -> None:
        from escher.state.local import LocalStore

        super().__init__(LocalStore(root))


def open_objects(url: str) -> PipelineObjects:
    """``s3://bucket/prefix``, ``gs://bucket/prefix``, ``az://container/prefix`` (or ``azblob://``; with
    ``?account_url=https://<account>.blob.core.windows.net`` when there is no connection string),
    ``file:///dir`` or a plain path, ``memory://``.

    ``?endpoint=http://host:port`` points S3 or GCS state at another endpoint than the SDK's default (state on
    one emulator, the estate on another).
    """
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return MemoryObjects()
    if parts.scheme == "":
        return LocalObjects(Path(url).expanduser())
    endpoint = parse_qs(parts.query).get("endpoint", [None])[0]
    scheme = "az" if parts.scheme == "azblob" else parts.scheme
    if endpoint and scheme in ("s3", "gs"):
        return StateObjects(_with_endpoint(scheme, parts.netloc, parts.path.lstrip("/"), endpoint))
    # Blob state keeps ``?account_url=``: a deployed Function App has a managed identity, no connection string
    query = parts.query if scheme == "az" else ""
    return StateObjects(_state(parts._replace(scheme=scheme, query=query).geturl()))


def _state(url: str) -> Any:
    from escher.state import StateError, open_state

    try:
        return open_state(url)
    except StateError as exc:
        raise PipelineError(exc.message, hint=exc.hint) from exc


def _with_endpoint(scheme: str, bucket: str, prefix: str, endpoint: str) -> Any:
    if scheme == "s3":
        from escher.clouds import aws
        from escher.clouds.aws.state import S3Store

        return S3Store(bucket, prefix, client=aws.client("s3", endpoint_url=endpoint))
    from escher.clouds import gcp
    from escher.clouds.gcp.state import GcsStore

    return GcsStore(bucket, prefix, client=gcp.storage_client_at(endpoint))
