"""Backups of the local store to object storage, and restores from them (on this or another machine).

A backup is two objects under ``backups/``: ``<id>.dump`` (``pg_dump -Fc`` of the Escher database) and
``<id>.json`` (its manifest: size, SHA-256, schema version, store id, the ledger's public keys and the signed
checkpoints kept outside the database), both written create-only. Restoring checks the hash, loads the dump
into a new database and only then swaps it in: a failed restore leaves the current store untouched.
The agent calls :func:`backup_if_due` every hour (Local Only mode).
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
from escher.store.errors import StoreError
from escher.store.keys import pin_public, pinned_keys
from escher.store.ledger import checkpoint_file
from escher.store.server import DATABASE, EmbeddedServer

__all__ = ["BackupInfo", "backup_if_due", "backup_now", "list_backups", "restore"]

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
    keys = pinned_keys(anchor_dir(paths, load_settings(paths).extensions))  # never the database's own list
    with tempfile.TemporaryDirectory(prefix="escher-backup-") as tmp:
        dump = Path(tmp) / "store.dump"
        _run(
            [_bin("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", f"--dbname={url}"], "pg_dump"
        )
        data = dump.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    backup_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest[:12]}"
    cp_file = checkpoint_file(paths.data_dir)
    info = BackupInfo(backup_id, now.isoformat(), socket.gethostname(), len(data), digest, schema, store_id)
    manifest = {
        **info.to_dict(),
        "ledger_keys": keys,
        "checkpoints": cp_file.read_text(encoding="utf-8") if cp_file.exists() else "",
    }
    state.put_if_absent(f"{PREFIX}{backup_id}.dump", data)
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
            fields = {k: data[k] for k in BackupInfo.__dataclass_fields__}
            found.append(BackupInfo(**fields))
    return sorted(found, key=lambda b: b.created)


def backup_if_due(
    url: str, paths: Paths, state: ObjectStore, *, now: datetime | None = None
) -> BackupInfo | None:
    """The agent's hourly job: back up when the last backup from this machine is an hour old or more."""
    now = now or datetime.now(UTC)
    marker = paths.data_dir / "backups" / "last.json"
    if marker.exists():
        last = datetime.fromisoformat(json.loads(marker.read_text())["created"])
        if now - last < HOURLY:
            return None
    return backup_now(url, paths, state, now=now)


def restore(
    paths: Paths, state: ObjectStore, backup_id: str | None = None, *, url: str | None = None
) -> BackupInfo:
    """Restore a backup (the newest when no id is given) into the embedded store, or into an empty ``url``."""
    psycopg = require("psycopg", "store")
    backups = list_backups(state)
    if not backups:
        raise StoreError(f"there are no backups in {state.url}", hint="run 'escher backup now' first")
    chosen = next((b for b in backups if b.backup_id == backup_id), None) if backup_id else backups[-1]
    if chosen is None:
        raise StoreError(f"no backup {backup_id!r} in {state.url}", hint="see 'escher backup list'")
    try:
        data = state.get(f"{PREFIX}{chosen.backup_id}.dump").data
        manifest = json.loads(state.get(f"{PREFIX}{chosen.backup_id}.json").data)
    except NotFoundError as exc:
        raise StoreError(f"backup {chosen.backup_id} is incomplete: {exc.message}") from exc
    if hashlib.sha256(data).hexdigest() != chosen.sha256:
        raise StoreError(
            f"backup {chosen.backup_id} does not match its recorded SHA-256: it was altered or truncated",
            hint="restore an older backup",
        )
    server: EmbeddedServer | None = None
    if url is None:
        server = EmbeddedServer(paths.data_dir)
        server.start()
        admin_url, target = server.url("postgres"), DATABASE
    else:
        admin_url, target = url, ""
    try:
        with tempfile.TemporaryDirectory(prefix="escher-restore-") as tmp:
            dump = Path(tmp) / "store.dump"
            dump.write_bytes(data)
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
    _merge_checkpoints(paths, manifest.get("checkpoints", ""))
    pins = anchor_dir(paths, load_settings(paths).extensions)
    for key_id, public in manifest.get("ledger_keys", {}).items():  # the restored batches verify here
        pin_public(pins, str(key_id), str(public))
    return chosen


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
