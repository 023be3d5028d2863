"""Extend mode: the bucket is the source of truth; each laptop store syncs with it in both directions.

Every record becomes one immutable object ``records/<collection>/<sha256>.json`` named by the hash of its
bytes and written with put-if-absent, so the bucket never holds a record twice and never loses one to a
concurrent writer. Pulling verifies each object against its name, then stores it the way it would be stored
locally: immutable records are appended to their chain once (by record id); mutable records keep the newest
version of each key (by time, then hash). ``sync_seen`` remembers what was exchanged, so a re-sync is cheap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from escher.state import AlreadyExistsError, ObjectStore
from escher.store.ledger import LedgerEntry
from escher.store.models import AnyRecord, ReportRecord, canonical_json, parse_record

if TYPE_CHECKING:
    from escher.store.store import Store

__all__ = ["PREFIX", "SyncResult", "sync"]

PREFIX = "records/"
_FOLDERS = ("inventory", "chat", "operations", "alerts", "audit", "cost", "compliance")


@dataclass
class SyncResult:
    pushed: int = 0
    pulled: int = 0
    already_there: int = 0
    rejected: list[str] = field(default_factory=list)  # objects whose content does not match their name

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _seen(store: Store) -> set[tuple[str, str]]:
    rows = store.connection.execute("SELECT collection, content_hash FROM sync_seen").fetchall()
    return {(str(r[0]), str(r[1])) for r in rows}


def _mark(store: Store, marks: list[tuple[str, str, str]]) -> None:
    if not marks:
        return
    with store.connection.transaction(), store.connection.cursor() as cur:
        cur.executemany(
            "INSERT INTO sync_seen (collection, content_hash, direction) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            marks,
        )


def _local_objects(store: Store) -> list[tuple[str, bytes]]:
    conn = store.connection
    out: list[tuple[str, bytes]] = []
    for collection, body in conn.execute("SELECT collection, body FROM records ORDER BY collection, key"):
        out.append((str(collection), canonical_json(body).encode()))
    for chain, payload in conn.execute("SELECT chain, payload FROM reports ORDER BY chain, seq"):
        out.append((str(chain), str(payload).encode()))
    return out


def sync(store: Store, state: ObjectStore) -> SyncResult:
    """Push what the bucket lacks, pull what this store lacks; safe to run from many laptops at once."""
    result = SyncResult()
    with store._lock:
        seen = _seen(store)
        marks: list[tuple[str, str, str]] = []
        for folder, data in _local_objects(store):
            digest = hashlib.sha256(data).hexdigest()
            if (folder, digest) in seen:
                continue
            try:
                state.put_if_absent(f"{PREFIX}{folder}/{digest}.json", data)
                result.pushed += 1
            except AlreadyExistsError:
                result.already_there += 1
            marks.append((folder, digest, "pushed"))
            seen.add((folder, digest))
        _mark(store, marks)

        marks = []
        mutable: list[AnyRecord] = []
        ledger: list[LedgerEntry] = []
        for info in state.list(PREFIX):
            parts = info.key[len(PREFIX) :].split("/")
            if len(parts) != 2 or parts[0] not in _FOLDERS or not parts[1].endswith(".json"):
                continue
            folder, digest = parts[0], parts[1][: -len(".json")]
            if (folder, digest) in seen:
                continue
            data = state.get(info.key).data
            if hashlib.sha256(data).hexdigest() != digest:
                result.rejected.append(info.key)
                continue
            record = parse_record("audit" if folder == "audit" else _collection(folder), json.loads(data))
            if isinstance(record, ReportRecord):
                ledger.append(LedgerEntry.from_report(record))
            elif folder == "audit":
                from escher.audit import AuditRecord

                assert isinstance(record, AuditRecord)
                ledger.append(LedgerEntry.from_audit(record))
            else:
                mutable.append(record)  # type: ignore[arg-type]
            marks.append((folder, digest, "pulled"))
        if ledger:
            store.ledger.append(ledger)  # idempotent by record id
        newer = _newer_only(store, mutable)
        if newer:
            store.put_many(newer)
        result.pulled = len(marks)
        _mark(store, marks)
    return result


def _collection(folder: str) -> str:
    return "reports" if folder in ("cost", "compliance") else folder


def _newer_only(store: Store, records: list[AnyRecord]) -> list[AnyRecord]:
    """Keep, per key, the newest version among the pulled ones and the local one (time, then hash)."""
    best: dict[tuple[str, str], AnyRecord] = {}
    for r in records:
        k = (str(r.collection), r.key)
        if k not in best or _order(r) > _order(best[k]):
            best[k] = r
    keep = []
    for (collection, key), record in best.items():
        row = store.connection.execute(
            "SELECT at, content_hash FROM records WHERE collection = %s AND key = %s", (collection, key)
        ).fetchone()
        if row is None or (record.at, _hash(record)) > (row[0], str(row[1])):
            keep.append(record)
    return keep


def _hash(record: AnyRecord) -> str:
    return hashlib.sha256(canonical_json(record.to_json()).encode()).hexdigest()


def _order(record: AnyRecord) -> tuple[Any, str]:
    return (record.at, _hash(record))
