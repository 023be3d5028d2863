"""The immutable ledger: hash-chained, append-only reports (audit log, cost snapshots, compliance reports).

Each chain (``audit``, ``cost``, ``compliance``) is a sequence 1, 2, 3, ... of rows whose
``hash = sha256(prev_hash + payload)``, ``payload`` being the record's canonical JSON.

Trust does not rest on the database (whose superuser can disable every trigger):

- each append transaction signs its last row per chain -- ``(chain, batch_from, seq, hash)`` -- with the local
  Ed25519 key whose public half is pinned outside the database, so a row that no signed batch covers was not
  written by Escher (a forged append), even when a later legitimate batch chains onto it;
- after each append the new head is *anchored* (signed and appended to the anchor file outside the data dir,
  :mod:`escher.store.anchor`); when the store closes, and every ``checkpoint_every`` records, the head is also
  written to ``ledger_checkpoints``, to ``<data dir>/ledger/checkpoints.jsonl`` (which backups carry) and, when
  a bucket is configured, to an object there.

Verification (:mod:`escher.store.verify`) then names an edited, deleted, reordered, forged, truncated, rolled
back or erased ledger.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from escher.audit import AuditRecord
from escher.store.keys import SigningKey
from escher.store.models import ReportRecord, canonical_json
from escher.store.search import doc_text, vector_literal

if TYPE_CHECKING:
    import psycopg

    from escher.embed import Embedder
    from escher.store.anchor import AnchorFile, BucketAnchors

__all__ = [
    "CHAINS",
    "GENESIS",
    "Chain",
    "Checkpoint",
    "Ledger",
    "LedgerEntry",
    "batch_message",
    "chain_hash",
    "checkpoint_file",
    "checkpoint_message",
]

Chain = Literal["audit", "cost", "compliance"]
CHAINS: tuple[Chain, ...] = ("audit", "cost", "compliance")
GENESIS = "0" * 64
CHECKPOINT_EVERY = 1000


def chain_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def checkpoint_file(data_dir: Path) -> Path:
    return data_dir / "ledger" / "checkpoints.jsonl"


def checkpoint_message(chain: str, seq: int, hash_: str, at: str, *, version: int = 2) -> bytes:
    """What a checkpoint or anchor signs. Version 1 is what checkpoints signed before batches were signed:
    only those vouch for unsigned (pre-0002) rows, so a head signed today never adopts a forged row."""
    if version == 1:
        return canonical_json({"chain": chain, "seq": seq, "hash": hash_, "at": at}).encode()
    return canonical_json({"v": version, "chain": chain, "seq": seq, "hash": hash_, "at": at}).encode()


def batch_message(chain: str, batch_from: int, seq: int, hash_: str) -> bytes:
    """What the last row of an append transaction signs: rows ``batch_from..seq`` were written by the key holder."""
    return canonical_json({"batch": [batch_from, seq], "chain": chain, "hash": hash_}).encode()


def purge_message(chain: str, through_seq: int, through_hash: str, removed: int, at: str) -> bytes:
    return canonical_json(
        {
            "chain": chain,
            "through_seq": through_seq,
            "through_hash": through_hash,
            "removed": removed,
            "at": at,
        }
    ).encode()


@dataclass(frozen=True)
class Checkpoint:
    chain: str
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key_id": self.key_id,
            "signature": self.signature,
        }


@dataclass(frozen=True)
class LedgerEntry:
    """What goes into a chain: the record's JSON and the metadata search and retention need."""

    chain: Chain
    record_id: str
    kind: str
    at: datetime
    payload: dict[str, Any]
    title: str
    text: str
    cloud: str | None = None
    account: str | None = None
    region: str | None = None
    resource_type: str | None = None

    @classmethod
    def from_audit(cls, record: AuditRecord) -> LedgerEntry:
        text = f"{record.actor} {record.action.replace('.', ' ').replace('_', ' ')} {record.target} "
        text += f"{record.reason} {record.outcome}"
        return cls(
            chain="audit",
            record_id=record.record_id,
            kind="audit",
            at=record.at,
            payload={"collection": "audit", **record.model_dump(mode="json")},
            title=f"audit {record.action} {record.outcome}",
            text=text.strip(),
            cloud=record.cloud,
        )

    @classmethod
    def from_report(cls, record: ReportRecord) -> LedgerEntry:
        return cls(
            chain="cost" if record.report_kind == "cost_snapshot" else "compliance",
            record_id=record.record_id,
            kind=record.report_kind,
            at=record.at,
            payload=record.to_json(),
            title=record.title(),
            text=record.text(),
            cloud=record.cloud,
            account=record.account,
            region=record.region,
            resource_type=record.resource_type,
        )


def _lock_key(chain: str) -> int:
    return int.from_bytes(hashlib.sha256(f"escher.ledger.{chain}".encode()).digest()[:8], "big", signed=True)


class Ledger:
    """Appends to the chains of one database; signs checkpoints with the local key."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        lock: threading.RLock,
        *,
        key: SigningKey,
        data_dir: Path,
        embedder: Embedder,
        synonyms: bool = True,
        checkpoint_every: int = CHECKPOINT_EVERY,
        name: str = "",
        anchors: AnchorFile | None = None,
        remote: BucketAnchors | None = None,
    ) -> None:
        self._conn = conn
        self._lock = lock
        self.key = key
        self.data_dir = data_dir
        self.embedder = embedder
        self.synonyms = synonyms
        self.checkpoint_every = checkpoint_every
        self._dirty: set[str] = set()
        self.name = name  # which ledger this is, for the anchors (never read from the database)
        self.anchors = anchors
        self.remote = remote
        with self._lock, conn.transaction():
            conn.execute(
                "INSERT INTO ledger_keys (key_id, public_key) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key.key_id, key.public_key_b64),
            )

    # -- appending ---------------------------------------------------------------------------------
    def head(self, chain: str) -> tuple[int, str]:
        """(seq, hash) of the chain's last record, or of its purge marker, or (0, GENESIS)."""
        row = self._conn.execute(
            "SELECT seq, hash FROM reports WHERE chain = %s ORDER BY seq DESC LIMIT 1", (chain,)
        ).fetchone()
        if row is not None:
            return int(row[0]), str(row[1])
        marker = self._conn.execute(
            "SELECT through_seq, through_hash FROM ledger_purges WHERE chain = %s "
            "ORDER BY through_seq DESC LIMIT 1",
            (chain,),
        ).fetchone()
        return (int(marker[0]), str(marker[1])) if marker else (0, GENESIS)

    def append(self, entries: Sequence[LedgerEntry]) -> list[tuple[str, int]]:
        """Append entries in one transaction (COPY in bulk); returns (chain, seq) of each, in order.

        A record id already in its chain is skipped (appending is idempotent), never written twice.
        """
        if not entries:
            return []
        vectors = self.embedder.embed([f"{e.title} {e.text}" for e in entries])
        placed: list[tuple[str, int]] = []
        with self._lock:
            rows = self._append_locked(entries, vectors, placed)
            # after the commit: an anchor never names a head that a failed commit took back
            spans: dict[str, tuple[int, int, str]] = {}  # chain -> (first seq, last seq, last hash)
            for r in rows:
                spans[r[0]] = (spans.get(r[0], (r[1], 0, ""))[0], r[1], r[11])
            every = self.checkpoint_every
            crossed = sorted(c for c, (a, b, _) in spans.items() if b // every > (a - 1) // every)
            if crossed:
                self.checkpoint(crossed)
            rest = [(c, b, h) for c, (_, b, h) in spans.items() if c not in crossed]
            if self.anchors is not None and rest:
                at = datetime.now(UTC).isoformat()
                self.anchors.append(self.name, [self._signed(c, b, h, at) for c, b, h in rest])
        return placed

    def _append_locked(
        self, entries: Sequence[LedgerEntry], vectors: Sequence[Any], placed: list[tuple[str, int]]
    ) -> list[list[Any]]:
        with self._conn.transaction():
            chains = sorted({e.chain for e in entries})
            for chain in chains:  # sorted: two writers always take the locks in the same order
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(chain),))
            heads = {c: self.head(c) for c in chains}
            ids = {
                (str(r[0]), str(r[1]))
                for r in self._conn.execute(
                    "SELECT chain, record_id FROM reports WHERE chain = ANY(%s) AND record_id = ANY(%s)",
                    (chains, [e.record_id for e in entries]),
                ).fetchall()
            }
            rows: list[list[Any]] = []
            docs: list[tuple[Any, ...]] = []
            for entry, vector in zip(entries, vectors, strict=True):
                if (entry.chain, entry.record_id) in ids:
                    continue
                ids.add((entry.chain, entry.record_id))
                seq, prev = heads[entry.chain]
                payload = canonical_json(entry.payload)
                digest = chain_hash(prev, payload)
                seq += 1
                heads[entry.chain] = (seq, digest)
                rows.append(
                    [entry.chain, seq, entry.record_id, entry.kind, entry.cloud, entry.account, entry.region,
                     entry.resource_type, entry.at, payload, prev, digest, None, None, None]
                )  # fmt: skip
                docs.append(
                    (f"reports/{entry.chain}/{entry.record_id}", "reports", entry.kind, entry.cloud,
                     entry.account, entry.region, entry.resource_type, entry.at, entry.title, entry.text,
                     doc_text(entry.title, entry.text, synonyms=self.synonyms), self.embedder.name,
                     vector_literal(vector))
                )  # fmt: skip
                placed.append((entry.chain, seq))
            self._sign_batches(rows)
            with self._conn.cursor() as cur:
                with cur.copy(
                    "COPY reports (chain, seq, record_id, kind, cloud, account, region, resource_type, at,"
                    " payload, prev_hash, hash, batch_from, key_id, signature) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
                with cur.copy(
                    "COPY search_docs (doc_id, collection, kind, cloud, account, region, resource_type, at,"
                    " title, body, search_text, embedder, embedding) FROM STDIN"
                ) as copy:
                    for doc in docs:
                        copy.write_row(doc)
            self._dirty.update(str(r[0]) for r in rows)
        return rows

    def _sign_batches(self, rows: list[list[Any]]) -> None:
        """The last row of each chain in this batch signs (chain, first seq of the batch, its seq, its hash)."""
        first: dict[str, int] = {}
        last: dict[str, list[Any]] = {}
        for row in rows:
            first.setdefault(row[0], row[1])
            last[row[0]] = row
        for chain, row in last.items():
            row[12], row[13] = first[chain], self.key.key_id
            row[14] = self.key.sign(batch_message(chain, first[chain], row[1], row[11]))

    def _signed(self, chain: str, seq: int, digest: str, at: str) -> Checkpoint:
        signature = self.key.sign(checkpoint_message(chain, seq, digest, at))
        return Checkpoint(chain, seq, digest, at, self.key.key_id, signature)

    def append_audit(self, record: AuditRecord) -> None:
        self.append([LedgerEntry.from_audit(record)])

    def append_report(self, record: ReportRecord) -> None:
        self.append([LedgerEntry.from_report(record)])

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint(self, chains: Sequence[str] | None = None) -> list[Checkpoint]:
        """Sign the head of each chain (all chains with records, by default) now."""
        made: list[Checkpoint] = []
        with self._lock, self._conn.transaction():
            for chain in chains or CHAINS:
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(chain),))
                cp = self._checkpoint_locked(chain)
                if cp is not None:
                    made.append(cp)
        if self.remote is not None and made:
            self.remote.append(
                self.name, made
            )  # after the commit: a slow bucket never holds the chain's lock
        return made

    def checkpoint_if_dirty(self) -> list[Checkpoint]:
        dirty, self._dirty = sorted(self._dirty), set()
        return self.checkpoint(dirty) if dirty else []

    def _checkpoint_locked(self, chain: str) -> Checkpoint | None:
        seq, digest = self.head(chain)
        if seq == 0:
            return None
        cp = self._signed(chain, seq, digest, datetime.now(UTC).isoformat())
        at, signature = cp.at, cp.signature
        self._conn.execute(
            "INSERT INTO ledger_checkpoints (chain, seq, hash, at, key_id, signature)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (chain, seq, digest, at, self.key.key_id, signature),
        )
        self._write_file(cp)
        if self.anchors is not None:
            self.anchors.append(self.name, [cp])
        self._dirty.discard(chain)
        return cp

    def _write_file(self, cp: Checkpoint) -> None:
        """In the data dir, for backups to carry; the anchor file (outside the data dir) is what verify trusts."""
        path = checkpoint_file(self.data_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({**cp.to_json(), "store_id": self.store_id()}, sort_keys=True) + "\n"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def store_id(self) -> str:
        row = self._conn.execute("SELECT id FROM store_identity").fetchone()
        return str(row[0]) if row else ""
