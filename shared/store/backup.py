"""Backups of the local store to object storage, and restores from them (on this or another machine).

A backup (format 2) is two objects under ``backups/``: ``<id>.tar``, one archive of the database dump
(``pg_dump -Fc``) plus approvals, alerts state, schedules, templates, config, anchors and pinned public keys
(:mod:`escher.store.backup_archive`), streamed to and from the bucket (:mod:`escher.store.backup_transfer`),
and ``<id>.json``, its manifest (size, SHA-256 of the archive and of each file, schema version, store id, the
ledger's public keys and the signed checkpoints kept outside the database), written create-only last: a backup
exists once its manifest does. Restoring checks the archive's hash before opening it, loads the dump into a new
database and only then swaps it in: a failed restore leaves the current store untouched. Format 1 backups
(``<id>.dump``, the database only) still restore. The agent calls :func:`backup_if_due` every
``[backup] interval_minutes`` (default 60; Local Only mode).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from escher.config import Paths, load_settings
from escher.lazy import require
from escher.state import NotFoundError, ObjectStore
from escher.store.anchor import anchor_dir
from escher.store.backup_archive import extract, file_sha256, install, roots_of, write_archive
from escher.store.backup_transfer import download_file, upload_file
from escher.store.errors import StoreError
from escher.store.keys import pin_public, pinned_keys
from escher.store.ledger import checkpoint_file
from escher.store.server import DATABASE, EmbeddedServer

__all__ = ["BackupInfo", "backup_if_due", "backup_interval", "backup_now", "list_backups", "restore"]

PREFIX = "backups/"
HOURLY = timedelta(hours=1)


@dataclass(frozen=True)
class BackupInfo:
    backup_id: str
    created: str
    host: str
    size: int
    sha256: str
    schema_version: int
    store_id: str
    format: int = 1

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _bin(name: str) -> str:
    commands = require("pgserver._commands", "store")
    return str(commands.POSTGRES_BIN_PATH / name)


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        raise StoreError(f"{what} failed: {done.stderr.strip()[-1500:]}", hint="see the message above")


def backup_now(url: str, paths: Paths, state: ObjectStore, *, now: datetime | None = None) -> BackupInfo:
    """Dump the store at ``url`` and upload it with its manifest."""
    psycopg = require("psycopg", "store")
    now = now or datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        store_id = str(conn.execute("SELECT id FROM store_identity").fetchone()[0])
        schema = int(conn.execute("SELECT max(version) FROM escher_migrations").fetchone()[0])
    anchors = anchor_dir(paths, load_settings(paths).extensions)
    keys = pinned_keys(anchors)  # never the database's own list
    with tempfile.TemporaryDirectory(prefix="escher-backup-") as tmp:
        dump = Path(tmp) / "store.dump"
        _run(
            [_bin("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={url}"], "pg_dump"
        )
        archive = Path(tmp) / "backup.tar"
        with archive.open("wb") as out:  # streamed through the hash: never the whole archive in memory
            digest, size, entries = write_archive(
                out, dump, roots_of(paths.data_dir, paths.config_dir, anchors)
            )
        backup_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest[:12]}"
        upload_file(state, f"{PREFIX}{backup_id}.tar", archive)
    cp_file = checkpoint_file(paths.data_dir)
    info = BackupInfo(backup_id, now.isoformat(), socket.gethostname(), size, digest, schema, store_id, 2)
    manifest = {
        **info.to_dict(),
        "archive": f"{PREFIX}{backup_id}.tar",
        "files": [e.to_dict() for e in entries],
        "ledger_keys": keys,
        "checkpoints": cp_file.read_text(encoding="utf-8") if cp_file.exists() else "",
    }
    state.put_if_absent(f"{PREFIX}{backup_id}.json", json.dumps(manifest, sort_keys=True).encode())
    marker = paths.data_dir / "backups" / "last.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp_marker = marker.with_suffix(".tmp")
    tmp_marker.write_text(json.dumps(info.to_dict()))
    os.replace(tmp_marker, marker)
    return info


def list_backups(state: ObjectStore) -> list[BackupInfo]:
    found = []
    for obj in state.list(PREFIX):
        if obj.key.endswith(".json"):
            data = json.loads(state.get(obj.key).data)
            fields = {k: data[k] for k in BackupInfo.__dataclass_fields__ if k in data}  # format 1: no format
            found.append(BackupInfo(**fields))
    return sorted(found, key=lambda b: b.created)


def backup_if_due(
    url: str, paths: Paths, state: ObjectStore, *, now: datetime | None = None
) -> BackupInfo | None:
    """The agent's job: back up when the last backup from this machine is ``[backup] interval_minutes`` (60)
    old or more."""
    now = now or datetime.now(UTC)
    marker = paths.data_dir / "backups" / "last.json"
    if marker.exists():
        last = datetime.fromisoformat(json.loads(marker.read_text())["created"])
        if now - last < backup_interval(load_settings(paths).extensions):
            return None
    return backup_now(url, paths, state, now=now)


def restore(
    paths: Paths, state: ObjectStore, backup_id: str | None = None, *, url: str | None = None
) -> BackupInfo:
    """Restore a backup (the newest when no id is given) into the embedded store, or into an empty ``url``;
    then the archive's other files into the data, config and anchor dirs (existing files are kept)."""
    backups = list_backups(state)
    if not backups:
        raise StoreError(f"there are no backups in {state.url}", hint="run 'escher backup now' first")
    chosen = next((b for b in backups if b.backup_id == backup_id), None) if backup_id else backups[-1]
    if chosen is None:
        raise StoreError(f"no backup {backup_id!r} in {state.url}", hint="see 'escher backup list'")
    pins = anchor_dir(paths, load_settings(paths).extensions)
    with tempfile.TemporaryDirectory(prefix="escher-restore-") as tmp:
        manifest = _fetch(state, chosen, Path(tmp))
        _restore_database(paths, Path(tmp) / "store.dump", url)
        install(Path(tmp), {"data": paths.data_dir, "config": paths.config_dir, "anchors": pins})
    _merge_checkpoints(paths, manifest.get("checkpoints", ""))
    for key_id, public in manifest.get("ledger_keys", {}).items():  # the restored batches verify here
        pin_public(pins, str(key_id), str(public))
    return chosen


def backup_interval(extensions: dict[str, Any]) -> timedelta:
    """``[backup] interval_minutes`` (default 60)."""
    section = extensions.get("backup")
    minutes = section.get("interval_minutes", 60) if isinstance(section, dict) else 60
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or minutes < 5:
        raise StoreError(
            f"[backup] interval_minutes must be a number of minutes, 5 or more (got {minutes!r})",
            hint="e.g. interval_minutes = 60",
        )
    return timedelta(minutes=minutes)


def _fetch(state: ObjectStore, chosen: BackupInfo, tmp: Path) -> dict[str, Any]:
    """Download the backup into ``tmp`` (``store.dump`` and, for an archive, its other files in place) after
    checking its hash; the manifest."""
    try:
        manifest: dict[str, Any] = json.loads(state.get(f"{PREFIX}{chosen.backup_id}.json").data)
    except NotFoundError as exc:
        raise StoreError(f"backup {chosen.backup_id} is incomplete: {exc.message}") from exc
    altered = StoreError(
        f"backup {chosen.backup_id} does not match its recorded SHA-256: it was altered or truncated",
        hint="restore an older backup",
    )
    if chosen.format < 2:
        try:
            data = state.get(f"{PREFIX}{chosen.backup_id}.dump").data
        except NotFoundError as exc:
            raise StoreError(f"backup {chosen.backup_id} is incomplete: {exc.message}") from exc
        if hashlib.sha256(data).hexdigest() != chosen.sha256:
            raise altered
        (tmp / "store.dump").write_bytes(data)
        return manifest
    key = str(manifest.get("archive") or f"{PREFIX}{chosen.backup_id}.tar")
    if not any(o.key == key for o in state.list(key)):
        raise StoreError(f"backup {chosen.backup_id} is incomplete: no {key} in {state.url}")
    archive = tmp / "backup.tar"
    download_file(state, key, archive)
    if file_sha256(archive) != chosen.sha256:
        raise altered
    extract(archive, list(manifest.get("files", [])), tmp)
    archive.unlink()
    return manifest


def _restore_database(paths: Paths, dump: Path, url: str | None) -> None:
    psycopg = require("psycopg", "store")
    server: EmbeddedServer | None = None
    if url is None:
        server = EmbeddedServer(paths.data_dir)
        server.start()
        admin_url, target = server.url("postgres"), DATABASE
    else:
        admin_url, target = url, ""
    try:
        if server is None:
            with psycopg.connect(url, autocommit=True) as conn:
                if conn.execute("SELECT to_regclass('escher_migrations')").fetchone()[0] is not None:
                    raise StoreError(
                        "the target database already holds an Escher store",
                        hint="restore into a new, empty database (CREATE DATABASE ...) and point "
                        "ESCHER_DATABASE_URL at it",
                    )
            _run(
                [_bin("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={url}", str(dump)],
                "pg_restore",
            )
        else:
            staging = f"{DATABASE}_restore"
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{staging}"')
                conn.execute(f'CREATE DATABASE "{staging}"')
            _run([_bin("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={server.url(staging)}",
                  str(dump)], "pg_restore")  # fmt: skip
            with psycopg.connect(admin_url, autocommit=True) as conn:
                old = f"{target}_before_restore_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
                conn.execute(f'ALTER DATABASE "{target}" RENAME TO "{old}"')
                conn.execute(f'ALTER DATABASE "{staging}" RENAME TO "{target}"')
                conn.execute(f'DROP DATABASE "{old}" WITH (FORCE)')
    finally:
        if server is not None:
            server.stop()


def _merge_checkpoints(paths: Paths, lines: str) -> None:
    """Bring the backed-up checkpoint file along, so ``audit verify`` still sees truncation here."""
    if not lines:
        return
    path = checkpoint_file(paths.data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = set(path.read_text(encoding="utf-8").splitlines()) if path.exists() else set()
    new = [line for line in lines.splitlines() if line and line not in existing]
    if new:
        with path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(new) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
