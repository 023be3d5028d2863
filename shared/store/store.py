"""The knowledge store: one Postgres database (embedded or ``ESCHER_DATABASE_URL``) holding the five collections.

``Store.open()`` starts the embedded server when no URL is configured, applies the migrations and returns a
store that is also a context manager; closing it signs a checkpoint of every chain it appended to and lets the
embedded server stop with its last user. One connection per store, used under a lock: the CLI and the agent
are small writers, and the ledger's ordering needs one writer per chain at a time anyway (advisory locks).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from escher.audit import AuditRecord
from escher.config import Paths, Settings, load_settings, resolve_paths
from escher.embed import Embedder, get_embedder
from escher.lazy import require
from escher.store.anchor import AnchorFile, BucketAnchors, anchor_dir, bucket_anchors, ledger_name
from escher.store.errors import RecordError, StoreError, StoreUnavailableError
from escher.store.keys import key_path, load_or_create, pin, pin_file, pinned_keys
from escher.store.ledger import Checkpoint, Ledger, LedgerEntry
from escher.store.migrate import apply_migrations
from escher.store.models import (
    AnyRecord,
    Collection,
    ReportRecord,
    SearchFilter,
    SearchHit,
    content_hash,
    parse_record,
)
from escher.store.search import SearchMode, doc_text, filter_sql, search, vector_literal
from escher.store.server import EmbeddedServer
from escher.store.verify import VerifyReport, verify_ledger

if TYPE_CHECKING:
    import psycopg

__all__ = ["HNSW_INDEX_SQL", "AuditLog", "Store", "StoreStatus"]

# Must match migrations/0001_collections.sql.
HNSW_INDEX_SQL = (
    "CREATE INDEX IF NOT EXISTS search_docs_embedding ON search_docs USING hnsw (embedding vector_cosine_ops)"
    " WITH (m = 16, ef_construction = 64)"
)


@dataclass(frozen=True)
class StoreStatus:
    backend: str  # "embedded" or "external"
    location: str
    server_version: str
    pgvector_version: str
    schema_version: int
    embedder: str
    counts: dict[str, int]
    chains: dict[str, int]
    recovered_leftover: bool

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


class Store:
    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        data_dir: Path,
        embedder: Embedder,
        server: EmbeddedServer | None = None,
        url: str = "",
        synonyms: bool = True,
        checkpoint_every: int | None = None,
        anchors: Path | None = None,
        remote: BucketAnchors | None = None,
    ) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.data_dir = data_dir
        self.embedder = embedder
        self.synonyms = synonyms
        self.server = server
        self.url = url
        # outside the data dir and the database: the pinned public key and the anchored heads
        self.anchor_dir = anchors if anchors is not None else data_dir / "keys"
        fresh = not key_path(data_dir).exists()
        self.key = load_or_create(data_dir)
        pinned = pinned_keys(self.anchor_dir)
        if pinned and self.key.key_id not in pinned and not fresh:
            raise StoreError(
                f"the ledger signing key {key_path(data_dir)} ({self.key.key_id}) is not a pinned key "
                f"({pin_file(self.anchor_dir)}): it was replaced",
                hint="restore your own key file; if you replaced it on purpose, append its line "
                "('<key id> <public key base64>') to the pin file yourself",
            )
        pin(self.anchor_dir, self.key)  # a first key, or a new one after the data dir was lost
        if remote is not None and remote.pins is None:
            remote.pins = self.anchor_dir  # published in the bucket before its first head
        self.ledger_name = ledger_name(data_dir, None if server is not None else url)
        options = {"checkpoint_every": checkpoint_every} if checkpoint_every else {}
        self.ledger = Ledger(
            conn, self._lock, key=self.key, data_dir=data_dir, embedder=embedder, synonyms=synonyms,
            name=self.ledger_name, anchors=AnchorFile(self.anchor_dir) if anchors is not None else None,
            remote=remote, **options,
        )  # fmt: skip
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        paths: Paths | None = None,
        *,
        url: str | None = None,
        embedder: Embedder | str | None = None,
        synonyms: bool = True,
        checkpoint_every: int | None = None,
    ) -> Store:
        paths = paths or resolve_paths()
        settings = settings or load_settings(paths)
        if url is None:
            url = settings.store.database_url
        server: EmbeddedServer | None = None
        if not url:
            server = EmbeddedServer(paths.data_dir)
            url = server.start()
        try:
            conn = connect(url)
            apply_migrations(conn)
            emb = (
                embedder if embedder is not None and not isinstance(embedder, str) else get_embedder(embedder)
            )
            return cls(
                conn, data_dir=paths.data_dir, embedder=emb, server=server, url=url, synonyms=synonyms,
                checkpoint_every=checkpoint_every, anchors=anchor_dir(paths, settings.extensions),
                remote=bucket_anchors(settings.extensions),
            )  # fmt: skip
        except BaseException:
            if server is not None:
                server.stop()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if not self._conn.closed:
                self.ledger.checkpoint_if_dirty()
        finally:
            self._conn.close()
            if self.server is not None:
                self.server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    # -- mutable collections -----------------------------------------------------------------------
    def put(self, record: AnyRecord | AuditRecord) -> bool:
        """Store one record; True when something changed. Reports and audit records go to the ledger."""
        return self.put_many([record]) > 0

    def put_many(self, records: Iterable[AnyRecord | AuditRecord]) -> int:
        """Store records in one transaction; how many were new or changed."""
        mutable: list[AnyRecord] = []
        ledger: list[LedgerEntry] = []
        for record in records:
            if isinstance(record, AuditRecord):
                ledger.append(LedgerEntry.from_audit(record))
            elif isinstance(record, ReportRecord):
                ledger.append(LedgerEntry.from_report(record))
            else:
                mutable.append(record)
        changed = self._upsert(mutable) if mutable else 0
        if ledger:
            changed += len(self.ledger.append(ledger))
        return changed

    def _upsert(self, records: Sequence[AnyRecord]) -> int:
        latest: dict[tuple[str, str], AnyRecord] = {}
        for r in records:  # the last version of a key in one batch wins
            latest[(str(r.collection), r.key)] = r
        items = list(latest.values())
        vectors = self.embedder.embed([f"{r.title()} {r.text()}" for r in items])
        changed = 0
        with self._lock, self._conn.transaction():
            for record, vector in zip(items, vectors, strict=True):
                body = record.to_json()
                digest = content_hash(body)
                row = self._conn.execute(
                    "INSERT INTO records (collection, key, kind, cloud, account, region, resource_type, at,"
                    " body, content_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
                    " ON CONFLICT (collection, key) DO UPDATE SET kind = EXCLUDED.kind, cloud = EXCLUDED.cloud,"
                    " account = EXCLUDED.account, region = EXCLUDED.region,"
                    " resource_type = EXCLUDED.resource_type, at = EXCLUDED.at, body = EXCLUDED.body,"
                    " content_hash = EXCLUDED.content_hash, updated_at = now()"
                    " WHERE records.content_hash <> EXCLUDED.content_hash RETURNING 1",
                    (str(record.collection), record.key, record.kind, record.cloud, record.account,
                     record.region, record.resource_kind, record.at, _json(body), digest),
                ).fetchone()  # fmt: skip
                if row is None:
                    continue
                changed += 1
                title, text = record.title(), record.text()
                self._conn.execute(
                    "INSERT INTO search_docs (doc_id, collection, kind, cloud, account, region, resource_type,"
                    " at, title, body, search_text, embedder, embedding)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::vector)"
                    " ON CONFLICT (doc_id) DO UPDATE SET kind = EXCLUDED.kind, cloud = EXCLUDED.cloud,"
                    " account = EXCLUDED.account, region = EXCLUDED.region,"
                    " resource_type = EXCLUDED.resource_type, at = EXCLUDED.at, title = EXCLUDED.title,"
                    " body = EXCLUDED.body, search_text = EXCLUDED.search_text,"
                    " embedder = EXCLUDED.embedder, embedding = EXCLUDED.embedding",
                    (f"{record.collection}/{record.key}", str(record.collection), record.kind, record.cloud,
                     record.account, record.region, record.resource_kind, record.at, title, text,
                     doc_text(title, text, synonyms=self.synonyms), self.embedder.name,
                     vector_literal(vector)),
                )  # fmt: skip
        return changed

    def get(self, collection: Collection | str, key: str) -> AnyRecord | AuditRecord | None:
        collection = Collection(collection)
        with self._lock:
            if collection is Collection.reports:
                row = self._conn.execute(
                    "SELECT chain, payload FROM reports WHERE record_id = %s ORDER BY chain LIMIT 1", (key,)
                ).fetchone()
                return _parse_payload(row[0], row[1]) if row else None
            row = self._conn.execute(
                "SELECT body FROM records WHERE collection = %s AND key = %s", (str(collection), key)
            ).fetchone()
        return parse_record(str(collection), row[0]) if row else None

    def records(
        self, collection: Collection | str, flt: SearchFilter | None = None, *, limit: int = 100
    ) -> list[AnyRecord | AuditRecord]:
        """Newest first, selected by metadata alone."""
        collection = Collection(collection)
        where, params = filter_sql(flt.model_copy(update={"collections": None}) if flt else None)
        params["limit"] = limit
        with self._lock:
            if collection is Collection.reports:
                rows = self._conn.execute(
                    f"SELECT chain, payload FROM reports WHERE {where} ORDER BY at DESC, seq DESC"
                    " LIMIT %(limit)s",
                    params,
                ).fetchall()
                return [_parse_payload(r[0], r[1]) for r in rows]
            params["collection"] = str(collection)
            rows = self._conn.execute(
                f"SELECT body FROM records WHERE collection = %(collection)s AND {where}"
                " ORDER BY at DESC LIMIT %(limit)s",
                params,
            ).fetchall()
        return [parse_record(str(collection), r[0]) for r in rows]

    # -- retrieval ---------------------------------------------------------------------------------
    def search(
        self,
        query: str,
        flt: SearchFilter | None = None,
        *,
        limit: int = 10,
        mode: SearchMode = "hybrid",
    ) -> list[SearchHit]:
        if not query.strip():
            raise StoreError(
                "the search text is empty", hint='say what to look for: escher search "idle vms"'
            )
        vector = self.embedder.embed([query])[0] if mode != "text" else None
        with self._lock:
            self._check_index_embedder()
            return search(self._conn, query, vector, flt=flt, limit=limit, mode=mode, synonyms=self.synonyms)

    def _check_index_embedder(self) -> None:
        rows = self._conn.execute(
            "SELECT embedder FROM search_docs WHERE embedder <> %s LIMIT 1", (self.embedder.name,)
        ).fetchall()
        if rows:
            raise StoreError(
                f"the search index was built with embedder {rows[0][0]!r}, not {self.embedder.name!r}",
                hint="run 'escher store reindex' to rebuild it with the configured embedder",
            )

    def reindex(self, batch: int = 500) -> int:
        """Re-embed every search document with this store's embedder (after changing embedders)."""
        done = 0
        with self._lock:
            rows = self._conn.execute(
                "SELECT doc_id, title, body FROM search_docs ORDER BY doc_id"
            ).fetchall()
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                vectors = self.embedder.embed([f"{r[1]} {r[2]}" for r in chunk])
                with self._conn.transaction(), self._conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE search_docs SET embedder = %s, embedding = %s::vector,"
                        " search_text = %s WHERE doc_id = %s",
                        [(self.embedder.name, vector_literal(v), doc_text(r[1], r[2], synonyms=self.synonyms),
                          r[0]) for r, v in zip(chunk, vectors, strict=True)],
                    )  # fmt: skip
                done += len(chunk)
        return done

    @contextmanager
    def bulk_index(self, maintenance_work_mem: str = "1GB") -> Iterator[None]:
        """Load many records at once: the HNSW index is dropped and built again afterwards.

        Inserting into a live HNSW graph costs ~1-3 ms a row; building it once over the loaded rows is an
        order of magnitude faster. Searches meanwhile still answer (exactly, by scanning). For imports,
        restores and benchmarks, not for the everyday trickle of records.
        """
        with self._lock:
            self._conn.execute("DROP INDEX IF EXISTS search_docs_embedding")
            try:
                yield
            finally:
                with self._conn.transaction():
                    self._conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
                    self._conn.execute(HNSW_INDEX_SQL)

    # -- ledger ------------------------------------------------------------------------------------
    def audit_sink(self) -> AuditLog:
        return AuditLog(self)

    def verify(self, progress: Any = None) -> VerifyReport:
        anchors: list[tuple[Checkpoint, str]] = []
        if self.ledger.anchors is not None:
            source = str(self.ledger.anchors.path)
            anchors += [(cp, source) for cp in self.ledger.anchors.read(self.ledger_name)]
        bucket: tuple[str, dict[str, str]] | None = None
        if self.ledger.remote is not None:
            source = self.ledger.remote.url
            anchors += [(cp, source) for cp in self.ledger.remote.read(self.ledger_name)]
            bucket = (source, self.ledger.remote.read_keys())
        with self._lock:
            return verify_ledger(
                self._conn,
                data_dir=self.data_dir,
                keys=pinned_keys(self.anchor_dir),
                anchors=anchors,
                bucket=bucket,
                progress=progress,
            )

    # -- status ------------------------------------------------------------------------------------
    def status(self) -> StoreStatus:
        with self._lock:
            server_version = str(self._conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
            ext = self._conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()
            schema = self._conn.execute("SELECT max(version) FROM escher_migrations").fetchone()
            counts = {str(c): 0 for c in Collection}
            for name, n in self._conn.execute("SELECT collection, count(*) FROM records GROUP BY collection"):
                counts[str(name)] = int(n)
            chains = {
                str(c): int(n)
                for c, n in self._conn.execute("SELECT chain, count(*) FROM reports GROUP BY chain")
            }
        counts["reports"] = sum(chains.values())
        return StoreStatus(
            backend="embedded" if self.server is not None else "external",
            location=str(self.server.pgdata) if self.server is not None else _redact(self.url),
            server_version=server_version,
            pgvector_version=str(ext[0]) if ext else "missing",
            schema_version=int(schema[0]) if schema and schema[0] is not None else 0,
            embedder=self.embedder.name,
            counts=counts,
            chains=chains,
            recovered_leftover=bool(self.server and self.server.recovered),
        )


class AuditLog:
    """The durable :class:`escher.audit.AuditSink`: each record is committed (and chained) before returning."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, record: AuditRecord) -> None:
        self._store.ledger.append_audit(record)


def _json(data: Any) -> str:
    from escher.store.models import canonical_json

    return canonical_json(data)


def _parse_payload(chain: str, payload: str) -> AnyRecord | AuditRecord:
    import json

    data = json.loads(payload)
    try:
        return parse_record("audit" if chain == "audit" else "reports", data)
    except ValueError as exc:
        raise RecordError(f"a stored {chain} record cannot be read back: {exc}") from exc


def connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection (transactions are explicit) with pgvector's types registered."""
    driver = require("psycopg", "store")
    try:
        conn: psycopg.Connection[Any] = driver.connect(url, autocommit=True, connect_timeout=15)
    except driver.OperationalError as exc:
        raise StoreUnavailableError(
            f"cannot connect to the store at {_redact(url)}: {str(exc).strip()}",
            hint="check ESCHER_DATABASE_URL (or unset it to use the embedded server) and that the server is up",
        ) from exc
    return conn
