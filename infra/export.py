"""Before ``escher destroy``: copy every object of the extension's state store into the local data dir.

Reading goes through :mod:`escher.state` (the same ``ObjectStore`` backends the workers write with), so one
code path reads state objects. The copy is checked before destroy may go on: each file is written to a
temporary name and renamed, its SHA-256 recorded in ``.escher-export.json``, and the store is listed again
afterwards: an object that appeared meanwhile (a worker still running) is fetched too, and every file on disk
is re-hashed against the manifest. Any failure raises :class:`StateExportError`, and nothing is destroyed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from escher.infra.program import InfraError

if TYPE_CHECKING:
    from escher.state import ObjectStore

__all__ = ["MANIFEST", "ExportedObject", "StateExportError", "StoreExporter", "state_store"]

MANIFEST = ".escher-export.json"
# the deployment package lives in the state bucket on AWS (see escher.infra.aws): code, not state
SKIPPED_PREFIXES = ("_deploy/",)


class StateExportError(InfraError):
    """The state could not be copied out completely: destroy stops here."""


@dataclass(frozen=True)
class ExportedObject:
    key: str
    version: str
    size: int
    sha256: str


def state_store(cloud: str, outputs: Mapping[str, Any]) -> ObjectStore:
    """The ``escher.state`` backend over the state bucket/container named in the stack's outputs (the cloud's
    deploy description knows which outputs name it)."""
    from escher.infra.deploy import deploy_of

    try:
        deploy = deploy_of(cloud)
    except InfraError as exc:
        raise StateExportError(exc.message, hint=exc.hint) from None
    try:
        return deploy.state_store(outputs)
    except KeyError as exc:
        raise StateExportError(
            f"the {cloud} stack's outputs name no state store ({exc.args[0]} is missing): nothing was "
            "exported, so nothing was destroyed",
            hint=f"check {cloud}-outputs.json in the data dir's extend/ folder, or run 'pulumi stack output' "
            "on the escher-extend project",
        ) from None


def _target(dest: Path, key: str) -> Path:
    path = (dest / key).resolve()
    if not path.is_relative_to(dest.resolve()) or path == dest.resolve() or key.startswith("/"):
        raise StateExportError(
            f"refusing to export object {key!r}: it would land outside {dest}; nothing was destroyed",
            hint="rename or remove that object in the state store, then run 'escher destroy' again",
        )
    return path


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


class StoreExporter:
    """A :class:`escher.infra.driver.StateExporter` over :mod:`escher.state` (``open_store`` is swappable)."""

    def __init__(
        self, open_store: Callable[[str, Mapping[str, Any]], ObjectStore] = state_store, passes: int = 3
    ) -> None:
        self._open = open_store
        self._passes = passes

    def export(self, cloud: str, outputs: Mapping[str, Any], dest: Path) -> int:
        from escher.state import StateError

        store = self._open(cloud, outputs)
        exported: dict[str, ExportedObject] = {}
        listed: dict[str, str] = {}  # key -> version as the listing gives it (formats differ from get's)
        started = time.monotonic()
        try:
            for _ in range(self._passes):
                fresh = [
                    info
                    for info in store.list("")
                    if not info.key.endswith("/")  # folder markers hold nothing
                    and not info.key.startswith(SKIPPED_PREFIXES)
                    and listed.get(info.key) != info.version
                ]
                if not fresh:
                    break
                for info in fresh:
                    blob = store.get(info.key)
                    _write(_target(dest, info.key), blob.data)
                    listed[info.key] = info.version
                    exported[info.key] = ExportedObject(
                        info.key, blob.version, len(blob.data), hashlib.sha256(blob.data).hexdigest()
                    )
            else:
                raise StateExportError(
                    f"{store.url} kept changing during {self._passes} export passes: nothing was destroyed",
                    hint="stop what writes to it (the worker: disable its schedule) and run 'escher destroy' "
                    "again",
                )
        except StateError as exc:
            raise StateExportError(
                f"exporting {store.url} stopped after {len(exported)} objects: {exc.message}; nothing was "
                "destroyed",
                hint=exc.hint or "fix the access to the state store and run 'escher destroy' again",
            ) from exc
        except OSError as exc:
            raise StateExportError(
                f"writing the export into {dest} failed: {exc}; nothing was destroyed",
                hint="free disk space or fix the data dir's permissions, then run 'escher destroy' again",
            ) from exc
        self._verify(dest, exported)
        manifest = {
            "source": store.url,
            "cloud": cloud,
            "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(time.monotonic() - started, 3),
            "objects": [asdict(o) for o in sorted(exported.values(), key=lambda o: o.key)],
        }
        dest.mkdir(parents=True, exist_ok=True)
        _write(dest / MANIFEST, json.dumps(manifest, indent=2).encode())
        return len(exported)

    @staticmethod
    def _verify(dest: Path, exported: Mapping[str, ExportedObject]) -> None:
        for obj in exported.values():
            path = dest / obj.key
            actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            if actual != obj.sha256:
                raise StateExportError(
                    f"the exported copy of {obj.key!r} in {dest} does not match what was read: nothing was "
                    "destroyed",
                    hint="check the disk, then run 'escher destroy' again",
                )
