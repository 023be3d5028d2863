"""A local directory as object storage: for Local Only, tests, and a mounted share.

Writes go to a temporary file and are published with ``os.link`` (create-if-absent, atomic) or ``os.replace``
(under an ``flock`` on a per-directory lock file, for compare-and-swap). The version of an object is its
content hash plus inode, so a rewrite with the same bytes still counts as a new version.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from escher.state._base import (
    AlreadyExistsError,
    Blob,
    NotFoundError,
    ObjectInfo,
    StateError,
    VersionConflictError,
)

__all__ = ["LocalStore"]

_LOCK = ".escher-state.lock"


class LocalStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = f"file://{self.root}"
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in (".", "..") or p.startswith(".escher-") for p in parts):
            raise StateError(f"invalid object key {key!r}", hint="keys are relative '/'-separated names")
        return self.root.joinpath(*parts)

    @staticmethod
    def _version(data: bytes, path: Path) -> str:
        return f"{hashlib.sha256(data).hexdigest()[:32]}-{path.stat().st_ino}"

    def get(self, key: str) -> Blob:
        path = self._path(key)
        try:
            with path.open("rb") as fh:
                data = fh.read()
                version = f"{hashlib.sha256(data).hexdigest()[:32]}-{os.fstat(fh.fileno()).st_ino}"
        except FileNotFoundError:
            raise NotFoundError(f"no object {key!r} in {self.url}") from None
        return Blob(key, data, version)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        found = []
        for path in self.root.rglob("*"):
            if not path.is_file() or path.name.startswith(".escher-") or path.name.endswith(".tmp"):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                found.append(key)
        for key in sorted(found):
            blob = self.get(key)
            yield ObjectInfo(key, blob.version, len(blob.data))

    def _tmp(self, path: Path, data: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def put_if_absent(self, key: str, data: bytes) -> str:
        path = self._path(key)
        tmp = self._tmp(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise AlreadyExistsError(f"{key!r} already exists in {self.url}") from None
        finally:
            tmp.unlink()
        return self._version(data, path)

    def compare_and_swap(self, key: str, data: bytes, expected_version: str) -> str:
        path = self._path(key)
        tmp = self._tmp(path, data)
        try:
            with (self.root / _LOCK).open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    current = self.get(key).version
                except NotFoundError:
                    raise VersionConflictError(f"{key!r} was deleted from {self.url}") from None
                if current != expected_version:
                    raise VersionConflictError(f"{key!r} changed in {self.url} since it was read")
                os.replace(tmp, path)
                return self._version(data, path)
        finally:
            tmp.unlink(missing_ok=True)
