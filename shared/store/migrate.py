"""Apply the packaged SQL migrations (``migrations/NNNN_name.sql``) in order, once each, transactionally.

Each file runs in its own transaction together with its row in ``escher_migrations``, so a failed migration
leaves nothing behind. A session-level advisory lock keeps two processes from migrating at once. A file that
changed after it was applied is refused: migrations are history, new changes go in a new file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from escher.store.errors import MigrationError

if TYPE_CHECKING:
    import psycopg

__all__ = ["Migration", "apply_migrations", "packaged_migrations"]

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x65736368  # 'esch'


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def packaged_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("escher.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number: {versions}")
    return found


def apply_migrations(conn: psycopg.Connection[Any]) -> list[int]:
    """Bring the schema up to date; the versions applied now (empty when already current)."""
    import psycopg

    applied_now: list[int] = []
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        with conn.transaction():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS escher_migrations ("
                " version int PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        rows = conn.execute("SELECT version, name, checksum FROM escher_migrations").fetchall()
        done = {int(r[0]): (str(r[1]), str(r[2])) for r in rows}
        known = packaged_migrations()
        newest = max((m.version for m in known), default=0)
        if done and max(done) > newest:
            raise MigrationError(
                f"the database schema is at version {max(done)}, newer than this Escher ({newest})",
                hint="upgrade Escher ('pip install -U escher'), or point ESCHER_DATABASE_URL elsewhere",
            )
        for migration in known:
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{name} changed after it was applied",
                        hint="never edit an applied migration: add a new NNNN_*.sql file instead",
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO escher_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}",
                    hint="the database needs pgvector (CREATE EXTENSION vector) and a user that may create "
                    "tables; nothing of this migration was kept",
                ) from exc
            applied_now.append(migration.version)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
