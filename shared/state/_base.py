"""The object-storage interface every backend implements, its errors, and the read-modify-write loop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from escher.errors import EscherError

__all__ = [
    "AlreadyExistsError",
    "Blob",
    "NotFoundError",
    "ObjectInfo",
    "ObjectStore",
    "StateError",
    "VersionConflictError",
    "update_json",
]


class StateError(EscherError):
    """Object storage refused or failed a request."""


class NotFoundError(StateError):
    """No object under this key."""


class AlreadyExistsError(StateError):
    """put_if_absent: an object is already there (someone else wrote it first)."""


class VersionConflictError(StateError):
    """compare_and_swap: the object changed since it was read."""


@dataclass(frozen=True)
class Blob:
    key: str
    data: bytes
    version: str  # S3/Blob ETag, GCS generation, local content+inode token


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    version: str
    size: int


@runtime_checkable
class ObjectStore(Protocol):
    """Keys are '/'-separated paths under the backend's own prefix."""

    url: str

    def get(self, key: str) -> Blob:
        """The object and its version; :class:`NotFoundError` if there is none."""

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, in key order."""

    def put_if_absent(self, key: str, data: bytes) -> str:
        """Create the object; :class:`AlreadyExistsError` if it exists. Returns the new version."""

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        """Replace the object only if its version is still ``expected_version``; the new version.

        :class:`VersionConflictError` when it changed (or vanished) in between.
        """


def update_json(
    store: ObjectStore,
    key: str,
    change: Callable[[Any], Any],
    *,
    default: Any = None,
    attempts: int = 200,
) -> Any:
    """Read, change and write back a JSON document without losing a concurrent writer's update.

    ``change`` gets the current value (``default`` if absent) and returns the new one; on a conflict the loop
    reads again and re-applies it, so ``change`` must be a pure function of its input.
    """
    delay = 0.005
    for _ in range(attempts):
        try:
            blob = store.get(key)
        except NotFoundError:
            value = change(json.loads(json.dumps(default)))
            try:
                store.put_if_absent(key, _dump(value))
                return value
            except AlreadyExistsError:
                continue
        value = change(json.loads(blob.data))
        try:
            store.compare_and_swap(key, _dump(value), blob.version)
            return value
        except VersionConflictError:
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
    raise VersionConflictError(
        f"{store.url}/{key} kept changing under {attempts} attempts to update it",
        hint="another writer is updating it in a tight loop; try again later",
    )


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
