"""Where scans, cost snapshots and reports are kept: :class:`ResultStore`, the whole interface the scans, the
report and the scheduler use.

:func:`open_store` returns the knowledge store's adapter (:mod:`escher.scans.persist_store`: estate inventory,
immutable reports, alerts & events) whenever the store extra is installed, which is the default. Only without
it are records JSON files under ``<data dir>/reports/<kind>/<key>.json``, written create-if-absent so a report,
once stored, cannot be changed (the immutable reports collection's rule).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from escher.errors import EscherError

__all__ = [
    "ImmutableRecordError",
    "JsonFileStore",
    "MemoryStore",
    "ResultStore",
    "close_store",
    "open_store",
    "recent_alerts",
    "store_available",
]

# kinds: "scan" (findings + inventory of one scan), "estate" (latest inventory), "cost" (daily snapshot),
# "report" (morning report), "template" (report template settings)
MUTABLE_KINDS = frozenset({"estate", "template"})


class ImmutableRecordError(EscherError):
    """A report with this key is already stored; reports are never overwritten."""


class ResultStore(Protocol):
    def put(self, kind: str, key: str, payload: dict[str, Any]) -> None: ...
    def get(self, kind: str, key: str) -> dict[str, Any] | None: ...
    def keys(self, kind: str) -> list[str]: ...
    def latest(self, kind: str) -> dict[str, Any] | None: ...


# Optional members: a store with an alerts & events collection has ``alerts_since(since)``; one holding a
# connection has ``close()``. Other ResultStores (the pipeline's object-storage one) need neither.
def recent_alerts(store: ResultStore, since: datetime) -> list[dict[str, Any]]:
    """Alerts recorded since ``since`` (severity, title, detail), or none when the store keeps no alerts."""
    read = getattr(store, "alerts_since", None)
    return list(read(since)) if callable(read) else []


def close_store(store: ResultStore) -> None:
    close = getattr(store, "close", None)
    if callable(close):
        close()


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], dict[str, Any]] = {}

    def put(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        if (kind, key) in self._data and kind not in MUTABLE_KINDS:
            raise ImmutableRecordError(f"{kind} {key} is already stored", hint="reports are immutable")
        self._data[(kind, key)] = json.loads(json.dumps(payload, default=str))

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        return self._data.get((kind, key))

    def keys(self, kind: str) -> list[str]:
        return sorted(k for c, k in self._data if c == kind)

    def latest(self, kind: str) -> dict[str, Any] | None:
        keys = self.keys(kind)
        return self.get(kind, keys[-1]) if keys else None


class JsonFileStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, kind: str, key: str) -> Path:
        safe = key.replace("/", "_").replace(":", "-")
        return self.root / kind / f"{safe}.json"

    def put(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        path = self._path(kind, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(payload, default=str, separators=(",", ":")).encode()
        if kind in MUTABLE_KINDS:
            tmp = path.with_suffix(
                f".{os.getpid()}-{threading.get_ident()}.tmp"
            )  # one per writer: scans overlap
            tmp.write_bytes(data)
            os.replace(tmp, path)
            return
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise ImmutableRecordError(
                f"{kind} {key} is already stored at {path}", hint="reports are immutable; use a new key"
            ) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)

    def get(self, kind: str, key: str) -> dict[str, Any] | None:
        path = self._path(kind, key)
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_bytes())
        return data

    def keys(self, kind: str) -> list[str]:
        folder = self.root / kind
        return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []

    def latest(self, kind: str) -> dict[str, Any] | None:
        keys = self.keys(kind)
        return self.get(kind, keys[-1]) if keys else None


def store_available() -> bool:
    """The knowledge store can be opened here: its driver is installed, and a server is configured
    (``ESCHER_DATABASE_URL`` / ``[store] database_url``) or the embedded one is installed."""
    from escher.lazy import is_installed

    if not (is_installed("psycopg") and is_installed("escher.store.store")):
        return False
    import os

    return bool(os.environ.get("ESCHER_DATABASE_URL")) or is_installed("pgserver") or _configured_url()


def _configured_url() -> bool:
    from escher.config import load_settings

    return bool(load_settings().store.database_url)


def open_store(data_dir: Path | None = None, *, prefer_store: bool = True) -> ResultStore:
    """The store for this installation: the knowledge store when it is available (close it when done), else
    JSON files under the data dir."""
    if prefer_store and store_available():
        from escher.scans.persist_store import StoreResults

        return StoreResults.open()
    if data_dir is None:
        from escher.config import resolve_paths

        data_dir = resolve_paths().data_dir
    return JsonFileStore(data_dir / "reports")
